//! Which profile of a setting applies at a moment.
//!
//! Azure's rule (autoscale-understanding-settings, "Which profile will autoscale use?"):
//! fixed-date profiles first, then recurring profiles, then the default profile; the first
//! suitable one is used.
//! - A fixed-date profile is suitable while `now` lies in `[start, end)`, both read as wall
//!   clock in its `timeZone` (UTC when absent).
//! - A recurring profile has no end: "the end of date and time for a recurring profile is set
//!   by the start time of the following profile". So the recurring profile whose most recent
//!   start (any of its days × hours × minutes, in its time zone) is latest is the one running.
//! - The default profile is the one with neither `fixedDate` nor `recurrence`; once any
//!   recurring profile exists, one of them is always running (which is why the portal and
//!   az add a recurring "default" profile to end each recurring one).

use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::autoscale::{AutoscaleSetting, FixedDate, Profile, ProfileSchedule, Recurrence};

/// The profile in force and since when (for fixed-date and recurring profiles).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActiveProfile<'a> {
    pub profile: &'a Profile,
    /// Position in `setting.profiles`.
    pub index: usize,
    pub schedule: ProfileSchedule,
    /// When this profile took over: the fixed date's start or the recurrence's latest start.
    pub since: Option<DateTime<Utc>>,
}

/// The profile Azure would run at `now`; `None` only when no profile applies (fixed-date
/// profiles only, none of them in their window).
pub fn active_profile(setting: &AutoscaleSetting, now: DateTime<Utc>) -> Option<ActiveProfile<'_>> {
    let profiles = setting.profiles.iter().enumerate();
    let fixed = profiles.clone().find_map(|(index, profile)| {
        let window = fixed_window(profile.fixed_date.as_ref()?);
        (window.0 <= now && now < window.1).then_some(ActiveProfile {
            profile,
            index,
            schedule: ProfileSchedule::FixedDate,
            since: Some(window.0),
        })
    });
    if fixed.is_some() {
        return fixed;
    }
    let mut recurring: Option<ActiveProfile> = None;
    for (index, profile) in profiles.clone() {
        let Some(recurrence) = &profile.recurrence else {
            continue;
        };
        if profile.fixed_date.is_some() {
            continue;
        }
        let Some(start) = latest_start(recurrence, now) else {
            continue;
        };
        // Ties keep the earlier profile in the list.
        if recurring.is_none_or(|r| r.since.is_some_and(|s| start > s)) {
            recurring = Some(ActiveProfile {
                profile,
                index,
                schedule: ProfileSchedule::Recurrence,
                since: Some(start),
            });
        }
    }
    if recurring.is_some() {
        return recurring;
    }
    profiles
        .filter(|(_, p)| p.schedule() == ProfileSchedule::Default)
        .map(|(index, profile)| ActiveProfile {
            profile,
            index,
            schedule: ProfileSchedule::Default,
            since: None,
        })
        .next()
}

/// A fixed date's `[start, end)` as instants.
pub fn fixed_window(fixed: &FixedDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let tz = fixed.time_zone.as_ref().map_or(Tz::UTC, |z| z.tz);
    (local_instant(tz, fixed.start), local_instant(tz, fixed.end))
}

/// The latest start of a weekly recurrence at or before `now`.
pub fn latest_start(recurrence: &Recurrence, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tz = recurrence.time_zone.tz;
    let today = now.with_timezone(&tz).date_naive();
    // Eight days back covers "same weekday, but later today" (found a week ago).
    (0..=7)
        .filter_map(|back| today.checked_sub_days(chrono::Days::new(back)))
        .filter(|date| recurrence.days.contains(&date.weekday()))
        .flat_map(|date| {
            recurrence.hours.iter().flat_map(move |h| {
                recurrence
                    .minutes
                    .iter()
                    .filter_map(move |m| date.and_hms_opt(*h, *m, 0))
            })
        })
        .map(|local| local_instant(tz, local))
        .filter(|start| *start <= now)
        .max()
}

/// A wall-clock time in `tz` as an instant. In a DST fold the earlier instant is used; a
/// time skipped by DST (02:30 on spring-forward day) happens when the clocks jump past it.
fn local_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            // Find the first wall-clock minute after the gap and take its instant.
            (1..=180)
                .find_map(|m| {
                    tz.from_local_datetime(&(local + chrono::Duration::minutes(m)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&local))
        }
    }
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
