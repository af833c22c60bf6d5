//! The metric data one evaluation reads: the resources a rule watches (its scopes, with
//! resource-group and subscription scopes expanded to the resources of `targetResourceType` in
//! `targetResourceRegion`) and, per criterion, their minute aggregates from the store, split by
//! dimension values into the series the pure evaluation takes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::metrics::catalog;
use crate::model::metric_alert::criteria::{Criteria, Criterion};
use crate::model::metric_alert::{MetricAlertProperties, Scope};
use crate::runtime::alert::evaluate::{CriterionData, lookback};
use crate::runtime::alert::series::{MinutePoint, Series};
use crate::store::{ResourceQuery, Store};

/// A resource a rule watches.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The id as stored (canonical casing).
    pub id: String,
    pub type_name: String,
}

/// `targetResourceRegion` `global` (what az sends for several resources without a region)
/// selects every region.
fn in_region(props: &MetricAlertProperties, location: Option<&str>) -> bool {
    match &props.target_resource_region {
        Some(r) if !r.eq_ignore_ascii_case("global") => {
            let norm = |s: &str| s.replace(' ', "").to_ascii_lowercase();
            location.is_some_and(|l| norm(l) == norm(r))
        }
        _ => true,
    }
}

/// The resources the rule's scopes name today (a deleted one is simply not watched).
pub async fn targets(
    store: &Store,
    props: &MetricAlertProperties,
) -> Result<Vec<Target>, sqlx::Error> {
    let mut out: Vec<Target> = Vec::new();
    for scope in props.scopes.iter().filter_map(|s| Scope::parse(s).ok()) {
        let found = match scope {
            Scope::Resource(id) => store.get(&id.key()).await?.into_iter().collect(),
            Scope::ResourceGroup { subscription, name } => {
                container(store, props, subscription, Some(name)).await?
            }
            Scope::Subscription(subscription) => {
                container(store, props, subscription, None).await?
            }
        };
        for r in found {
            if !out.iter().any(|t| t.id.eq_ignore_ascii_case(&r.id)) {
                out.push(Target {
                    id: r.id,
                    type_name: r.type_name,
                });
            }
        }
    }
    Ok(out)
}

async fn container(
    store: &Store,
    props: &MetricAlertProperties,
    subscription: String,
    resource_group: Option<String>,
) -> Result<Vec<crate::store::Resource>, sqlx::Error> {
    let Some(type_name) = props.target_resource_type.clone() else {
        return Ok(Vec::new());
    };
    let all = store
        .list(&ResourceQuery {
            subscription,
            resource_group,
            type_name: Some(type_name),
        })
        .await?;
    Ok(all
        .into_iter()
        .filter(|r| in_region(props, r.body["location"].as_str()))
        .collect())
}

/// The metric a criterion names on a resource type: Azure's name, found by name or alias.
pub fn metric(type_name: &str, c: &Criterion) -> Option<&'static catalog::MetricDefinition> {
    catalog::for_resource_type(type_name)?.resolve(&c.metric_name)
}

/// The data of each criterion (in `allOf` order) over the rule's lookback before `now`:
/// `None` when no watched resource defines the metric.
pub async fn fetch(
    store: &Store,
    props: &MetricAlertProperties,
    targets: &[Target],
    now: DateTime<Utc>,
) -> Result<Vec<CriterionData>, sqlx::Error> {
    if let Criteria::WebtestLocationAvailability { .. } = props.criteria {
        // Availability tests are Application Insights', which armlet does not run.
        return Ok(vec![None]);
    }
    let from = now - lookback(props);
    let mut out = Vec::new();
    for c in props.criteria.all_of() {
        let mut data: Option<Vec<Series>> = None;
        for t in targets {
            let Some(def) = metric(&t.type_name, c) else {
                continue;
            };
            let points = store.metric_minutes(&t.id, def.name, from, now).await?;
            let mut by_dims: BTreeMap<BTreeMap<String, String>, Vec<MinutePoint>> = BTreeMap::new();
            for p in points {
                by_dims.entry(p.dimensions).or_default().push(MinutePoint {
                    time: p.minute,
                    total: p.value.total,
                    count: p.value.count as f64,
                    minimum: p.value.minimum,
                    maximum: p.value.maximum,
                });
            }
            data.get_or_insert_with(Vec::new)
                .extend(by_dims.into_iter().map(|(dimensions, points)| Series {
                    resource_id: t.id.clone(),
                    dimensions,
                    points,
                }));
        }
        out.push(data);
    }
    Ok(out)
}

/// The unit of the first criterion's metric on the first target that defines it (for the
/// activity-log record), `Count` when none does.
pub fn unit(props: &MetricAlertProperties, targets: &[Target]) -> &'static str {
    props
        .criteria
        .all_of()
        .first()
        .and_then(|c| targets.iter().find_map(|t| metric(&t.type_name, c)))
        .map_or("Count", |d| d.unit.as_str())
}
