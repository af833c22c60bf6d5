//! Tests of [`super`].

use super::*;
use chrono::TimeZone;

fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap()
}

fn span(raw: &str) -> ArmResult<TimeRange> {
    parse_timespan(Some(raw), t(12, 0, 0), DEFAULT_RETENTION)
}

#[test]
fn absent_timespan_is_the_last_hour() {
    let r = parse_timespan(None, t(12, 0, 0), DEFAULT_RETENTION).unwrap();
    assert_eq!((r.start, r.end), (t(11, 0, 0), t(12, 0, 0)));
}

#[test]
fn timespans_take_every_iso_interval_form() {
    let both = span("2024-05-01T10:00:00Z/2024-05-01T11:30:00Z").unwrap();
    assert_eq!((both.start, both.end), (t(10, 0, 0), t(11, 30, 0)));
    let after = span("2024-05-01T10:00:00Z/PT30M").unwrap();
    assert_eq!(after.end, t(10, 30, 0));
    let before = span("PT2H/2024-05-01T11:00:00Z").unwrap();
    assert_eq!(before.start, t(9, 0, 0));
    let last = span("pt15m").unwrap();
    assert_eq!((last.start, last.end), (t(11, 45, 0), t(12, 0, 0)));
    let offset = span("2024-05-01T12:00:00+02:00/2024-05-01T11:00:00.5Z").unwrap();
    assert_eq!(offset.start, t(10, 0, 0));
    let date = span("2024-05-01/PT1H").unwrap();
    assert_eq!(date.start, t(0, 0, 0));
}

#[test]
fn the_cli_double_encoded_naive_timespan_is_accepted() {
    // az: quote_plus("2024-05-01T10:00:00.123456/2024-05-01T11:00:00.123456"), then the
    // HTTP layer decodes one level.
    let r = span("2024-05-01T10%3A00%3A00.123456%2F2024-05-01T11%3A00%3A00.123456").unwrap();
    assert_eq!(
        format_timespan(&r),
        "2024-05-01T10:00:00Z/2024-05-01T11:00:00Z"
    );
    let tz = span("2024-05-01T10%3A00%3A00%2B00%3A00%2F2024-05-01T11%3A00%3A00%2B00%3A00");
    assert_eq!(tz.unwrap().start, t(10, 0, 0));
}

#[test]
fn malformed_timespans_get_azures_message() {
    for bad in [
        "yesterday",
        "2024-05-01T10:00:00Z/soon",
        "P/PT1H",
        "2024-05-01T10:00:00 01:00/PT1H",
        "PT0M",
    ] {
        let e = span(bad).unwrap_err();
        assert_eq!(e.code, "BadRequest", "{bad}");
        assert!(
            e.message
                .starts_with(&format!("Detected invalid time interval input: {bad},")),
            "{}",
            e.message
        );
    }
}

#[test]
fn reversed_and_empty_timespans_are_rejected() {
    let e = span("2024-05-01T11:00:00Z/2024-05-01T10:00:00Z").unwrap_err();
    assert!(
        e.message
            .contains("must be earlier than the end time 2024-05-01T10:00:00Z"),
        "{}",
        e.message
    );
    assert!(span("2024-05-01T11:00:00Z/2024-05-01T11:00:00Z").is_err());
}

#[test]
fn timespans_beyond_or_longer_than_retention_are_rejected() {
    let e = span("2024-01-01T00:00:00Z/2024-01-02T00:00:00Z").unwrap_err();
    assert_eq!(
        e.message,
        "Query endTime: 1/2/2024 12:00:00 AM is out of the Max metrics retention period: 93.00:00:00"
    );
    let e = span("2024-01-20T00:00:00Z/2024-05-01T00:00:00Z").unwrap_err();
    assert!(
        e.message
            .contains("longer than the Max metrics retention period: 93.00:00:00")
    );
    assert!(span("2024-02-01T00:00:00Z/2024-05-01T00:00:00Z").is_ok());
}

#[test]
fn intervals_are_azures_grains_or_full() {
    assert_eq!(
        parse_interval(None).unwrap(),
        Interval::Grain(TimeDelta::minutes(1))
    );
    assert_eq!(
        parse_interval(Some("pt5m")).unwrap(),
        Interval::Grain(TimeDelta::minutes(5))
    );
    assert_eq!(
        parse_interval(Some("PT60M")).unwrap(),
        Interval::Grain(TimeDelta::hours(1))
    );
    assert_eq!(
        parse_interval(Some("P1D")).unwrap(),
        Interval::Grain(TimeDelta::days(1))
    );
    assert_eq!(parse_interval(Some("full")).unwrap(), Interval::Full);
    for bad in ["PT3M", "PT2H", "P2D", "PT30S", "1m", "often"] {
        let e = parse_interval(Some(bad)).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "Invalid time grain duration: {bad}, supported ones are: 00:01:00,00:05:00,00:15:00,00:30:00,01:00:00,06:00:00,12:00:00,1.00:00:00"
            )
        );
    }
}

#[test]
fn buckets_align_to_the_grain_and_cover_the_timespan() {
    let r = TimeRange {
        start: t(10, 3, 27),
        end: t(10, 13, 0),
    };
    let five = buckets(&r, Interval::Grain(TimeDelta::minutes(5)));
    let starts: Vec<_> = five.iter().map(|b| b.start).collect();
    assert_eq!(starts, [t(10, 0, 0), t(10, 5, 0), t(10, 10, 0)]);
    assert_eq!(five[2].end, t(10, 15, 0));
    assert_eq!(
        buckets(&r, Interval::Grain(TimeDelta::minutes(1))).len(),
        10
    );
    let day = buckets(&r, Interval::Grain(TimeDelta::days(1)));
    assert_eq!(day[0].start, t(0, 0, 0));
    let full = buckets(&r, Interval::Full);
    assert_eq!(
        full,
        [Bucket {
            start: r.start,
            end: r.end
        }]
    );
}

#[test]
fn response_strings_look_like_azures() {
    let r = TimeRange {
        start: t(8, 0, 0),
        end: t(12, 0, 0),
    };
    assert_eq!(Interval::Full.to_iso(&r), "PT4H");
    assert_eq!(Interval::Grain(TimeDelta::days(1)).to_iso(&r), "P1D");
    assert_eq!(Interval::Grain(TimeDelta::minutes(1)).to_iso(&r), "PT1M");
    assert_eq!(iso_duration(TimeDelta::hours(36)), "P1DT12H");
    assert_eq!(iso_duration(TimeDelta::days(93)), "P93D");
    assert_eq!(dotnet_timespan(TimeDelta::minutes(5)), "00:05:00");
}
