//! The parser: the subset's operators and expressions, and what it refuses.

use chrono::TimeDelta;

use super::KqlError;
use super::ast::{BinaryOp, Direction, Expr, Named, Operator};
use super::parse::parse;
use crate::model::log_analytics::value::Value;

fn col(n: &str) -> Expr {
    Expr::Column(n.into())
}

#[test]
fn the_issue_query_parses_into_its_operators() {
    let q = parse(
        "AzureMetrics | where MetricName == 'ByteCount' and TimeGenerated > ago(1h) \
         | project TimeGenerated, MetricName, Average \
         | summarize avg(Average) by bin(TimeGenerated, 1m), MetricName \
         | order by TimeGenerated asc | take 10",
    )
    .unwrap();
    assert_eq!(q.table, "AzureMetrics");
    let names: Vec<&str> = q.operators.iter().map(Operator::name).collect();
    assert_eq!(names, ["where", "project", "summarize", "order by", "take"]);
    let Operator::Summarize { aggregates, by } = &q.operators[2] else {
        panic!()
    };
    assert_eq!(
        aggregates[0].expr,
        Expr::Call("avg".into(), vec![col("Average")])
    );
    assert_eq!(
        by[0].expr,
        Expr::Call(
            "bin".into(),
            vec![
                col("TimeGenerated"),
                Expr::Literal(Value::TimeSpan(TimeDelta::minutes(1)))
            ]
        )
    );
    assert_eq!(
        q.operators[3],
        Operator::Sort(vec![(col("TimeGenerated"), Direction::Asc)])
    );
    assert_eq!(q.operators[4], Operator::Take(10));
}

#[test]
fn and_binds_tighter_than_or_and_arithmetic_tighter_than_comparison() {
    let q = parse("T | where a == 1 or b == 2 and c + 1 * 2 > 3").unwrap();
    let Operator::Where(Expr::Binary(_, BinaryOp::Or, right)) = &q.operators[0] else {
        panic!("{:?}", q.operators[0])
    };
    let Expr::Binary(_, BinaryOp::And, cmp) = right.as_ref() else {
        panic!()
    };
    let Expr::Binary(sum, BinaryOp::Gt, _) = cmp.as_ref() else {
        panic!()
    };
    assert!(matches!(sum.as_ref(), Expr::Binary(_, BinaryOp::Add, _)));
}

#[test]
fn literals_names_and_string_operators() {
    let q = parse(
        "T | where Name !contains \"x\" and Kind in~ ('A', 'b') and T2 >= datetime(2024-05-01T10:00:00Z) \
         | extend Half = Total / 2.5, Span = 90s | project-away Kind // a comment",
    )
    .unwrap();
    assert_eq!(q.operators.len(), 3);
    let Operator::Extend(items) = &q.operators[1] else {
        panic!()
    };
    assert_eq!(
        items[1],
        Named {
            name: Some("Span".into()),
            expr: Expr::Literal(Value::TimeSpan(TimeDelta::seconds(90)))
        }
    );
    assert_eq!(q.operators[2], Operator::ProjectAway(vec!["Kind".into()]));
    let Operator::Where(w) = &q.operators[0] else {
        panic!()
    };
    let text = format!("{w:?}");
    assert!(
        text.contains("NotContains") && text.contains("case_insensitive: true"),
        "{text}"
    );
}

#[test]
fn order_defaults_to_descending_and_top_takes_a_key() {
    let q = parse("T | sort by X | top 3 by Y asc | limit 2 | count").unwrap();
    assert_eq!(
        q.operators[0],
        Operator::Sort(vec![(col("X"), Direction::Desc)])
    );
    assert_eq!(
        q.operators[1],
        Operator::Top {
            count: 3,
            by: col("Y"),
            direction: Direction::Asc
        }
    );
    assert_eq!(q.operators[2], Operator::Take(2));
    assert_eq!(q.operators[3], Operator::Count);
}

#[test]
fn operators_outside_the_subset_are_named_in_the_error() {
    for (query, named) in [
        ("T | join (U) on X", "'join'"),
        ("T | render timechart", "'render'"),
        ("T | mv-expand X", "'mv-expand'"),
        ("let x = 1; T", "'let'"),
        ("union T, U", "'union'"),
        ("T | where X between (1 .. 2)", "'between'"),
        ("T | sort by X asc nulls last", "nulls last"),
    ] {
        match parse(query) {
            Err(KqlError::Unsupported(m)) => assert!(m.contains(named), "{query}: {m}"),
            other => panic!("{query}: {other:?}"),
        }
    }
}

#[test]
fn malformed_text_is_a_syntax_error() {
    for query in [
        "",
        "T |",
        "T | where",
        "T | take x",
        "T | where (a == 1",
        "T | where a == 'open",
        "T | order X",
        "T | summarize",
        "T | where a == 1 extra",
        "T | where a = = 1",
        "T | extend x = 5q",
        "T | where t > datetime(yesterday)",
    ] {
        assert!(
            matches!(parse(query), Err(KqlError::Syntax(_))),
            "{query}: {:?}",
            parse(query)
        );
    }
}
