//! The runtime clock: `GET /_armlet/clock` reads it, `POST /_armlet/clock/advance` moves it
//! forward at once (`{"duration": "PT10M"}` or `{"seconds": 600}`), so probes, idle
//! timeouts, autoscale and alert windows and rolling-upgrade pauses all see the jump
//! ([`crate::runtime::clock::Clock::advance`] wakes every sleeper and ticker). Time never
//! goes backwards.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json_body;
use crate::api::ApiState;
use crate::arm::ArmError;
use crate::runtime::clock::Clock;

/// The largest single jump: ten years, far beyond any Azure window, and small enough that
/// date arithmetic cannot overflow.
const MAX_ADVANCE: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    /// ISO 8601, e.g. `PT10M`.
    duration: Option<String>,
    seconds: Option<f64>,
}

fn invalid(message: impl Into<String>) -> ArmError {
    ArmError::bad_request("InvalidClockAdvance", message)
}

/// The Azure duration a request asks for (pure, so the rules are unit-tested).
fn requested(a: &Advance) -> Result<Duration, ArmError> {
    let d = match (&a.duration, a.seconds) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid(
                "Give exactly one of 'duration' (ISO 8601, e.g. \"PT10M\") or 'seconds' (a number).",
            ));
        }
        (Some(text), None) => {
            if text.trim_start().starts_with('-') {
                return Err(invalid(format!(
                    "'{text}' is negative: armlet's clock only moves forward."
                )));
            }
            crate::model::duration::parse(text).map_err(invalid)?
        }
        (None, Some(s)) => {
            if !s.is_finite() || s < 0.0 {
                return Err(invalid(format!(
                    "{s} seconds: armlet's clock only moves forward, by a finite number of seconds."
                )));
            }
            Duration::try_from_secs_f64(s).map_err(|e| invalid(e.to_string()))?
        }
    };
    if d > MAX_ADVANCE {
        return Err(invalid(format!(
            "The clock moves at most {} seconds at once.",
            MAX_ADVANCE.as_secs()
        )));
    }
    Ok(d)
}

fn reading(clock: &Clock) -> Value {
    json!({
        "now": clock.now_utc().to_rfc3339_opts(SecondsFormat::Millis, true),
        "timeScale": clock.scale(),
        "advancedSeconds": clock.advanced().as_secs_f64(),
    })
}

pub async fn get(State(app): State<ApiState>) -> Json<Value> {
    Json(reading(&app.runtime.clock))
}

pub async fn advance(State(app): State<ApiState>, body: Bytes) -> Response {
    let by = match json_body::<Advance>(&body).and_then(|a| requested(&a)) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let clock = app.runtime.clock;
    clock.advance(by);
    // Controllers that sleep in real time between passes (reconciler, rolling upgrades,
    // terminate notifications, repairs) wake on a change and re-read the clock.
    app.arm.notify_change();
    tracing::info!(seconds = by.as_secs_f64(), "clock advanced");
    let mut body = reading(&clock);
    body["advancedBy"] = json!(crate::model::duration::format(by));
    body["advancedBySeconds"] = json!(by.as_secs_f64());
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(duration: Option<&str>, seconds: Option<f64>) -> Result<Duration, String> {
        requested(&Advance {
            duration: duration.map(str::to_string),
            seconds,
        })
        .map_err(|e| e.code)
    }

    #[test]
    fn forward_durations_in_either_form() {
        assert_eq!(ask(Some("PT10M"), None), Ok(Duration::from_secs(600)));
        assert_eq!(ask(None, Some(90.5)), Ok(Duration::from_millis(90_500)));
        assert_eq!(ask(None, Some(0.0)), Ok(Duration::ZERO));
    }

    #[test]
    fn backwards_ambiguous_or_absurd_is_refused() {
        for (d, s) in [
            (Some("-PT5M"), None),
            (None, Some(-1.0)),
            (None, Some(f64::NAN)),
            (Some("ten minutes"), None),
            (Some("PT1M"), Some(60.0)),
            (None, None),
            (None, Some(1e12)),
        ] {
            assert_eq!(ask(d, s), Err("InvalidClockAdvance".into()), "{d:?} {s:?}");
        }
    }
}
