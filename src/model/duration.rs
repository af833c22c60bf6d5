//! ISO 8601 durations as ARM uses them (`PT2S`, `PT5M`, `PT1H`).

use std::time::Duration;

/// Parses an ISO 8601 duration such as `PT2S` (through the `iso8601` crate).
pub fn parse(s: &str) -> Result<Duration, String> {
    let d: iso8601::Duration = s
        .parse()
        .map_err(|e| format!("'{s}' is not an ISO 8601 duration: {e}"))?;
    Ok(d.into())
}

/// `Duration` → `PT2S` / `PT5M` / `PT1H30M`.
pub fn format(d: Duration) -> String {
    let mut secs = d.as_secs();
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    secs %= 60;
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if secs > 0 || (h == 0 && m == 0) {
        out.push_str(&format!("{secs}S"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_common_durations() {
        assert_eq!(parse("PT2S").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("PT5M").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("PT1H30M").unwrap(), Duration::from_secs(5400));
        assert!(parse("2 seconds").is_err());
        assert_eq!(format(Duration::from_secs(5400)), "PT1H30M");
        assert_eq!(format(Duration::ZERO), "PT0S");
    }
}
