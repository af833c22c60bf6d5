//! Windows time-zone names, as autoscale profiles carry them ("Pacific Standard Time",
//! "W. Europe Standard Time", "UTC"), resolved to IANA zones for evaluation.
//!
//! The Windows ids and their IANA zones come from Unicode CLDR's `windowsZones.xml` through
//! the `windows-timezones` crate. Two kinds of names are added on top:
//! - legacy Windows ids that the autoscale spec (2022-10-01 `timeZone` description) still
//!   lists but CLDR has since dropped ("Mid-Atlantic Standard Time", "Kamchatka Standard Time");
//! - the spellings that `az monitor autoscale profile list-timezones` offers and validates
//!   `--timezone` against (azure-cli `_autoscale_util.AUTOSCALE_TIMEZONES`) where they differ
//!   from the Windows id, e.g. "Coordinated Universal Time" for "UTC".
//!
//! Names match case-insensitively, as Windows' `FindSystemTimeZoneById` does.

use chrono_tz::Tz;
use windows_timezones::WindowsTimezone;

/// Legacy ids and az CLI spellings → the zone they mean.
const EXTRA_NAMES: &[(&str, Tz)] = &[
    ("Mid-Atlantic Standard Time", Tz::Etc__GMTPlus2),
    ("Kamchatka Standard Time", Tz::Asia__Kamchatka),
    ("Coordinated Universal Time", Tz::UTC),
    ("Cabo Verde Standard Time", Tz::Atlantic__Cape_Verde),
    ("Jerusalem Standard Time", Tz::Asia__Jerusalem),
    ("Malay Peninsula Standard Time", Tz::Asia__Singapore),
    ("West Bank Gaza Standard Time", Tz::Asia__Hebron),
    ("Russia TZ 1 Standard Time", Tz::Europe__Kaliningrad),
    ("Russia TZ 2 Standard Time", Tz::Europe__Moscow),
    ("Russia TZ 3 Standard Time", Tz::Europe__Samara),
    ("Russia TZ 4 Standard Time", Tz::Asia__Yekaterinburg),
    ("Russia TZ 6 Standard Time", Tz::Asia__Krasnoyarsk),
    ("Russia TZ 7 Standard Time", Tz::Asia__Irkutsk),
    ("Russia TZ 8 Standard Time", Tz::Asia__Yakutsk),
    ("Russia TZ 9 Standard Time", Tz::Asia__Vladivostok),
    ("Russia TZ 10 Standard Time", Tz::Asia__Srednekolymsk),
    ("Russia TZ 11 Standard Time", Tz::Asia__Kamchatka),
];

/// A time zone as the setting names it, with the IANA zone it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone {
    /// The name as the client sent it; echoed back unchanged.
    pub name: String,
    pub tz: Tz,
}

impl TimeZone {
    /// Resolves a Windows time-zone name; `None` when Azure would not know it.
    pub fn resolve(name: &str) -> Option<TimeZone> {
        let tz = windows_id(name).or_else(|| {
            EXTRA_NAMES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, tz)| *tz)
        })?;
        Some(TimeZone {
            name: name.to_string(),
            tz,
        })
    }

    /// UTC, the zone of a `fixedDate` without `timeZone`.
    pub fn utc() -> TimeZone {
        TimeZone {
            name: "UTC".to_string(),
            tz: Tz::UTC,
        }
    }
}

fn windows_id(name: &str) -> Option<Tz> {
    if let Ok(zone) = name.parse::<WindowsTimezone>() {
        return Some(zone.into());
    }
    // The crate matches exact spelling only; fall back to a case-insensitive scan.
    windows_timezones_all()
        .find(|z| z.name().eq_ignore_ascii_case(name))
        .map(Into::into)
}

/// Every CLDR Windows zone, found by round-tripping each IANA zone chrono-tz knows.
fn windows_timezones_all() -> impl Iterator<Item = WindowsTimezone> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .filter_map(|tz| WindowsTimezone::try_from(*tz).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_ids_resolve_to_their_cldr_zone() {
        let zone = |n: &str| TimeZone::resolve(n).map(|z| z.tz);
        assert_eq!(
            zone("Pacific Standard Time"),
            Some(Tz::America__Los_Angeles)
        );
        assert_eq!(zone("W. Europe Standard Time"), Some(Tz::Europe__Berlin));
        assert_eq!(zone("UTC"), Some(Tz::Etc__UTC));
        assert_eq!(zone("E. Europe Standard Time"), Some(Tz::Europe__Chisinau));
        assert_eq!(zone("India Standard Time"), Some(Tz::Asia__Calcutta));
    }

    #[test]
    fn names_match_case_insensitively_and_keep_the_given_spelling() {
        let z = TimeZone::resolve("pacific standard time").unwrap();
        assert_eq!(z.tz, Tz::America__Los_Angeles);
        assert_eq!(z.name, "pacific standard time");
    }

    #[test]
    fn legacy_ids_and_az_spellings_resolve() {
        let zone = |n: &str| TimeZone::resolve(n).map(|z| z.tz);
        assert_eq!(zone("Mid-Atlantic Standard Time"), Some(Tz::Etc__GMTPlus2));
        assert_eq!(zone("Coordinated Universal Time"), Some(Tz::UTC));
        assert_eq!(zone("Russia TZ 3 Standard Time"), Some(Tz::Europe__Samara));
    }

    #[test]
    fn every_zone_the_spec_lists_resolves() {
        // The examples in the 2022-10-01 spec's `timeZone` description.
        let spec = include_str!("spec_time_zones.txt");
        let unknown: Vec<&str> = spec
            .lines()
            .filter(|n| !n.is_empty() && TimeZone::resolve(n).is_none())
            .collect();
        assert!(unknown.is_empty(), "unresolved: {unknown:?}");
    }

    #[test]
    fn unknown_names_and_iana_names_do_not_resolve() {
        assert!(TimeZone::resolve("Mars Standard Time").is_none());
        assert!(TimeZone::resolve("Europe/Berlin").is_none());
        assert!(TimeZone::resolve("").is_none());
    }
}
