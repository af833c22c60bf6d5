//! Time formats of the lifecycle documents: Compute's timestamps, RFC 1123 for IMDS, and
//! serde helpers (chrono is built without its serde feature here).

use chrono::{DateTime, SecondsFormat, Utc};

/// A timestamp as the Compute RP writes it: `2024-01-12T20:20:04.1863772+00:00`.
pub fn compute(t: DateTime<Utc>) -> String {
    let s = t.to_rfc3339_opts(SecondsFormat::Nanos, false);
    // Nanoseconds have nine digits; Compute writes seven (ticks of 100 ns).
    match s.split_once('.') {
        Some((head, rest)) => format!("{head}.{}+00:00", &rest[..7]),
        None => s,
    }
}

/// RFC 1123, as IMDS writes `NotBefore`: `Mon, 19 Sep 2016 18:29:47 GMT`.
pub fn rfc1123(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// `DateTime<Utc>` as an RFC 3339 string.
pub mod rfc3339 {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(D::Error::custom)
    }
}

/// `Option<DateTime<Utc>>` as an RFC 3339 string or null.
pub mod rfc3339_opt {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(D::Error::custom)
            })
            .transpose()
    }
}

/// `std::time::Duration` as an ISO 8601 duration (`PT2S`).
pub mod iso_duration {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use std::time::Duration;

    use crate::model::duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&duration::format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        duration::parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn compute_timestamps_have_seven_fraction_digits_and_an_offset() {
        let t = Utc.with_ymd_and_hms(2024, 1, 12, 20, 20, 4).unwrap()
            + chrono::Duration::nanoseconds(186_377_299);
        assert_eq!(compute(t), "2024-01-12T20:20:04.1863772+00:00");
        assert_eq!(
            compute(Utc.with_ymd_and_hms(2024, 1, 12, 20, 20, 4).unwrap()),
            "2024-01-12T20:20:04.0000000+00:00"
        );
    }

    #[test]
    fn imds_times_are_rfc_1123() {
        let t = Utc.with_ymd_and_hms(2016, 9, 19, 18, 29, 47).unwrap();
        assert_eq!(rfc1123(t), "Mon, 19 Sep 2016 18:29:47 GMT");
    }
}
