use chrono::Weekday::*;

use super::*;
use crate::runtime::autoscale::fixtures::*;

fn name_at(setting: &AutoscaleSetting, now: &str) -> Option<String> {
    active_profile(setting, at(now)).map(|a| a.profile.name.clone())
}

#[test]
fn the_default_profile_runs_when_nothing_else_applies() {
    let s = setting(vec![profile("default", 2, 10, 3)]);
    let a = active_profile(&s, at("2024-05-01T12:00:00Z")).unwrap();
    assert_eq!(
        (a.index, a.schedule, a.since),
        (0, ProfileSchedule::Default, None)
    );
}

#[test]
fn a_fixed_date_profile_runs_inside_its_window_in_its_time_zone() {
    // Christmas in Pacific time: 2024-12-24 00:00 PST is 08:00 UTC.
    let s = setting(vec![
        profile("default", 2, 10, 3),
        fixed(
            profile("christmas", 5, 5, 5),
            Some("Pacific Standard Time"),
            "2024-12-24T00:00:00",
            "2024-12-26T00:00:00",
        ),
    ]);
    assert_eq!(
        name_at(&s, "2024-12-24T07:59:59Z").as_deref(),
        Some("default")
    );
    assert_eq!(
        name_at(&s, "2024-12-24T08:00:00Z").as_deref(),
        Some("christmas")
    );
    assert_eq!(
        name_at(&s, "2024-12-26T07:59:59Z").as_deref(),
        Some("christmas")
    );
    assert_eq!(
        name_at(&s, "2024-12-26T08:00:00Z").as_deref(),
        Some("default")
    );
    let a = active_profile(&s, at("2024-12-25T00:00:00Z")).unwrap();
    assert_eq!(a.since, Some(at("2024-12-24T08:00:00Z")));
}

#[test]
fn a_fixed_date_without_time_zone_is_utc() {
    let s = setting(vec![
        profile("default", 2, 10, 3),
        fixed(
            profile("event", 4, 4, 4),
            None,
            "2024-06-01T10:00:00",
            "2024-06-01T12:00:00",
        ),
    ]);
    assert_eq!(
        name_at(&s, "2024-06-01T09:59:00Z").as_deref(),
        Some("default")
    );
    assert_eq!(
        name_at(&s, "2024-06-01T10:00:00Z").as_deref(),
        Some("event")
    );
}

#[test]
fn fixed_dates_win_over_recurrences() {
    let s = setting(vec![
        weekly(profile("weekend", 1, 4, 1), "UTC", &[Sat, Sun], 0, 0),
        fixed(
            profile("launch", 8, 8, 8),
            None,
            "2024-06-01T00:00:00",
            "2024-06-02T00:00:00",
        ),
    ]);
    // 2024-06-01 is a Saturday.
    assert_eq!(
        name_at(&s, "2024-06-01T12:00:00Z").as_deref(),
        Some("launch")
    );
    assert_eq!(
        name_at(&s, "2024-06-02T12:00:00Z").as_deref(),
        Some("weekend")
    );
}

/// Office hours as az writes them: the profile, and a recurring "default" that ends it.
fn office_hours(zone: &str) -> AutoscaleSetting {
    let days = [Mon, Tue, Wed, Thu, Fri];
    setting(vec![
        profile("default", 2, 10, 2),
        weekly(profile("weekday", 4, 10, 4), zone, &days, 9, 0),
        weekly(
            profile(r#"{"name": "default", "for": "weekday"}"#, 2, 10, 2),
            zone,
            &days,
            17,
            0,
        ),
    ])
}

#[test]
fn a_recurrence_runs_from_its_latest_start_until_the_next_profile_starts() {
    let s = office_hours("Pacific Standard Time"); // PDT (UTC-7) in June
    let end = r#"{"name": "default", "for": "weekday"}"#;
    // Wednesday 2024-06-05 10:00 PDT = 17:00 UTC.
    assert_eq!(
        name_at(&s, "2024-06-05T17:00:00Z").as_deref(),
        Some("weekday")
    );
    // Wednesday 18:00 PDT: the 17:00 end profile started last.
    assert_eq!(name_at(&s, "2024-06-06T01:00:00Z").as_deref(), Some(end));
    // Saturday noon: the latest start is Friday 17:00.
    let a = active_profile(&s, at("2024-06-08T19:00:00Z")).unwrap();
    assert_eq!(a.profile.name, end);
    assert_eq!(a.since, Some(at("2024-06-08T00:00:00Z")));
    // Monday 08:59 PDT is still the weekend's end profile, 09:00 starts the weekday.
    assert_eq!(name_at(&s, "2024-06-10T15:59:00Z").as_deref(), Some(end));
    assert_eq!(
        name_at(&s, "2024-06-10T16:00:00Z").as_deref(),
        Some("weekday")
    );
}

#[test]
fn a_recurrence_on_the_same_weekday_later_today_uses_last_weeks_start() {
    let s = setting(vec![
        weekly(profile("monday", 3, 3, 3), "UTC", &[Mon], 12, 0),
        weekly(profile("tuesday", 5, 5, 5), "UTC", &[Tue], 12, 0),
    ]);
    // Monday 2024-06-10 11:00: Monday's start is not yet; last Tuesday's was later than last Monday's.
    let a = active_profile(&s, at("2024-06-10T11:00:00Z")).unwrap();
    assert_eq!(a.profile.name, "tuesday");
    assert_eq!(a.since, Some(at("2024-06-04T12:00:00Z")));
    assert_eq!(
        name_at(&s, "2024-06-10T12:00:00Z").as_deref(),
        Some("monday")
    );
}

#[test]
fn the_same_instant_picks_different_profiles_in_different_time_zones() {
    // 2024-06-05 15:30 UTC is 08:30 in Pacific time but 17:30 in Berlin.
    let now = "2024-06-05T15:30:00Z";
    let pacific = office_hours("Pacific Standard Time");
    assert_ne!(name_at(&pacific, now).as_deref(), Some("weekday"));
    let berlin = office_hours("W. Europe Standard Time");
    assert_ne!(name_at(&berlin, now).as_deref(), Some("weekday"));
    let tokyo = office_hours("Tokyo Standard Time"); // 00:30 Thursday in Tokyo
    assert_ne!(name_at(&tokyo, now).as_deref(), Some("weekday"));
    let new_york = office_hours("Eastern Standard Time"); // 11:30 EDT
    assert_eq!(name_at(&new_york, now).as_deref(), Some("weekday"));
}

#[test]
fn recurrences_follow_daylight_saving_time() {
    let s = setting(vec![
        weekly(
            profile("weekend", 1, 2, 1),
            "W. Europe Standard Time",
            &[Sat, Sun],
            6,
            0,
        ),
        weekly(
            profile("weekdays", 3, 6, 3),
            "W. Europe Standard Time",
            &[Mon, Tue, Wed, Thu, Fri],
            6,
            0,
        ),
    ]);
    // Winter (CET, UTC+1): Saturday 06:00 local is 05:00 UTC.
    assert_eq!(
        name_at(&s, "2024-01-06T04:59:00Z").as_deref(),
        Some("weekdays")
    );
    assert_eq!(
        name_at(&s, "2024-01-06T05:00:00Z").as_deref(),
        Some("weekend")
    );
    // Summer (CEST, UTC+2): Saturday 06:00 local is 04:00 UTC.
    assert_eq!(
        name_at(&s, "2024-07-06T03:59:00Z").as_deref(),
        Some("weekdays")
    );
    assert_eq!(
        name_at(&s, "2024-07-06T04:00:00Z").as_deref(),
        Some("weekend")
    );
    // Monday after the spring-forward Sunday 2024-03-31: 06:00 CEST = 04:00 UTC.
    assert_eq!(
        name_at(&s, "2024-04-01T03:59:00Z").as_deref(),
        Some("weekend")
    );
    assert_eq!(
        name_at(&s, "2024-04-01T04:00:00Z").as_deref(),
        Some("weekdays")
    );
}

#[test]
fn a_start_skipped_by_daylight_saving_happens_when_the_clocks_jump() {
    let s = setting(vec![
        profile("default", 1, 2, 1),
        weekly(
            profile("night", 2, 2, 2),
            "W. Europe Standard Time",
            &[Sat],
            0,
            0,
        ),
        weekly(
            profile("early", 3, 3, 3),
            "W. Europe Standard Time",
            &[Sun],
            2,
            30,
        ),
    ]);
    // Sunday 2024-03-31: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 never happens.
    assert_eq!(
        name_at(&s, "2024-03-31T00:59:00Z").as_deref(),
        Some("night")
    );
    let a = active_profile(&s, at("2024-03-31T01:00:00Z")).unwrap();
    assert_eq!(a.profile.name, "early");
    assert_eq!(a.since, Some(at("2024-03-31T01:00:00Z")));
}

#[test]
fn only_fixed_profiles_out_of_their_window_means_no_profile() {
    let s = setting(vec![fixed(
        profile("event", 4, 4, 4),
        None,
        "2024-06-01T10:00:00",
        "2024-06-01T12:00:00",
    )]);
    assert!(active_profile(&s, at("2024-06-02T00:00:00Z")).is_none());
}

#[test]
fn equal_starts_keep_the_first_profile() {
    let s = setting(vec![
        weekly(profile("first", 1, 1, 1), "UTC", &[Mon], 8, 0),
        weekly(profile("second", 2, 2, 2), "UTC", &[Mon], 8, 0),
    ]);
    assert_eq!(
        name_at(&s, "2024-06-10T09:00:00Z").as_deref(),
        Some("first")
    );
}
