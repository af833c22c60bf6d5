//! The Application Health extension (`ApplicationHealthLinux` / `ApplicationHealthWindows`)
//! as it probes from inside an instance: its settings, one probe attempt ([`probe`]), its
//! state machine ([`observe`], pure) and the task that runs it for one instance.
//!
//! Azure's rules (docs "Using Application Health extension with Virtual Machine Scale Sets"):
//! - settings: `protocol` http / https / tcp, `port` (optional for http(s)), `requestPath`,
//!   `intervalInSeconds` (default 5), `numberOfProbes` (default 1: consecutive equal signals
//!   needed to change state), `gracePeriod` (Rich Health States: default interval ×
//!   numberOfProbes, at most 7200 s). `typeHandlerVersion` 2.x is Rich Health States.
//! - Binary Health States: a 200 answer (or a TCP handshake) is Healthy, anything else
//!   Unhealthy.
//! - Rich Health States: a 2xx answer whose body is `{"ApplicationHealthState": "Healthy"}`
//!   or `"Unhealthy"` says so; a non-2xx status, a timeout, an unreachable endpoint or a
//!   missing or invalid state is Unknown (TCP: Healthy or Unhealthy only). The instance
//!   starts Initializing and leaves it after numberOfProbes equal signals, or when the grace
//!   period expires (to Unknown over http(s), Unhealthy over tcp).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::check::insecure_connector;
use super::table::{HealthBoard, HealthEntry};
use super::{Health, ProbeKey, ProbeProtocol, ProbeTarget};
use crate::runtime::clock::Clock;

/// The extension's own settings beyond what every probe has (protocol, port, path,
/// interval and numberOfProbes are in the [`ProbeTarget`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppHealthSettings {
    /// typeHandlerVersion 2.x.
    pub rich: bool,
    /// Azure time an instance may stay Initializing (Rich Health States).
    pub grace: Duration,
}

/// The most Azure allows for `gracePeriod`.
pub const MAX_GRACE: Duration = Duration::from_secs(7200);

/// The extension's health state of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppHealthState {
    Initializing,
    Healthy,
    Unhealthy,
    /// Rich Health States over http(s): no valid answer.
    Unknown,
}

impl AppHealthState {
    /// What the load-balancer side of the health table makes of it.
    pub fn as_health(self) -> Health {
        match self {
            AppHealthState::Healthy => Health::Up,
            AppHealthState::Unhealthy => Health::Down,
            AppHealthState::Initializing | AppHealthState::Unknown => Health::Unknown,
        }
    }
}

/// What one probe attempt said, as the state it points to.
pub type Signal = AppHealthState;

/// The state machine: current state, the run of equal signals, and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    pub state: AppHealthState,
    /// The signal repeated `run` times in a row.
    pub last: Option<Signal>,
    pub run: u32,
    /// Clock elapsed time when the extension started (grace runs from here).
    pub started: Duration,
}

impl Machine {
    pub fn new(started: Duration) -> Self {
        Machine {
            state: AppHealthState::Initializing,
            last: None,
            run: 0,
            started,
        }
    }
}

/// The machine after `signal` at clock time `now`; `tcp` makes an expired grace Unhealthy
/// rather than Unknown.
pub fn observe(
    m: Machine,
    signal: Signal,
    threshold: u32,
    settings: &AppHealthSettings,
    tcp: bool,
    now: Duration,
) -> Machine {
    let run = if m.last == Some(signal) { m.run + 1 } else { 1 };
    let mut next = Machine {
        last: Some(signal),
        run,
        ..m
    };
    if run >= threshold.max(1) {
        // Initializing ends only on a definite verdict (Healthy or Unhealthy).
        let definite = matches!(signal, AppHealthState::Healthy | AppHealthState::Unhealthy);
        if m.state != AppHealthState::Initializing || definite || !settings.rich {
            next.state = signal;
        }
    }
    if next.state == AppHealthState::Initializing
        && settings.rich
        && now >= m.started + settings.grace
    {
        next.state = if tcp {
            AppHealthState::Unhealthy
        } else {
            AppHealthState::Unknown
        };
    }
    next
}

/// One probe attempt against `addr`: the signal it gives and a detail for the table.
pub async fn probe(
    target: &ProbeTarget,
    settings: &AppHealthSettings,
    timeout: Duration,
) -> (Signal, String) {
    let failed = if settings.rich && target.protocol != ProbeProtocol::Tcp {
        AppHealthState::Unknown
    } else {
        AppHealthState::Unhealthy
    };
    let attempt = async {
        let tcp = TcpStream::connect(target.addr).await?;
        if target.protocol == ProbeProtocol::Tcp {
            return Ok::<_, std::io::Error>((AppHealthState::Healthy, "connected".to_string()));
        }
        tcp.set_nodelay(true)?;
        let path = target.request_path.as_deref().unwrap_or("/");
        let (status, body) = match target.protocol {
            ProbeProtocol::Https => {
                let tls = insecure_connector().map_err(std::io::Error::other)?;
                let name = rustls::pki_types::ServerName::IpAddress(target.addr.ip().into());
                let stream = tls.connect(name, tcp).await?;
                get(stream, target.addr, path).await?
            }
            _ => get(tcp, target.addr, path).await?,
        };
        Ok((
            verdict(status, &body, settings.rich),
            format!("status {status}"),
        ))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => (failed, format!("connection failed: {e}")),
        Err(_) => (failed, "timed out".into()),
    }
}

/// The signal of an HTTP answer.
pub fn verdict(status: u16, body: &[u8], rich: bool) -> Signal {
    if !rich {
        return if status == 200 {
            AppHealthState::Healthy
        } else {
            AppHealthState::Unhealthy
        };
    }
    if !(200..300).contains(&status) {
        return AppHealthState::Unknown;
    }
    let state = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["ApplicationHealthState"].as_str().map(str::to_string));
    match state.as_deref() {
        Some(s) if s.eq_ignore_ascii_case("Healthy") => AppHealthState::Healthy,
        Some(s) if s.eq_ignore_ascii_case("Unhealthy") => AppHealthState::Unhealthy,
        _ => AppHealthState::Unknown,
    }
}

/// `GET path` with `Connection: close`; the status and the (de-chunked) body, at most 64 KiB.
async fn get<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    path: &str,
) -> std::io::Result<(u16, Vec<u8>)> {
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ApplicationHealthExtension\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut raw = Vec::new();
    (&mut stream).take(64 * 1024).read_to_end(&mut raw).await?;
    parse_response(&raw).ok_or_else(|| std::io::Error::other("malformed HTTP answer"))
}

/// Status and body of a complete HTTP/1.x response.
pub fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    Some((
        status,
        if chunked {
            dechunk(body)?
        } else {
            body.to_vec()
        },
    ))
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// Probes one instance every interval and publishes its state under `target.key`.
pub async fn run(
    clock: Clock,
    board: Arc<HealthBoard>,
    target: ProbeTarget,
    settings: AppHealthSettings,
    cancel: CancellationToken,
) {
    let timeout = super::prober::probe_timeout(&clock, target.interval);
    let mut ticker = clock.interval(target.interval);
    let tcp = target.protocol == ProbeProtocol::Tcp;
    // Continue from the published state when only the interval or thresholds changed.
    let mut machine = board
        .view()
        .load()
        .get(&target.key)
        .and_then(|e| e.app_health)
        .unwrap_or_else(|| Machine::new(clock.elapsed()));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let (signal, detail) = tokio::select! {
            _ = cancel.cancelled() => return,
            r = probe(&target, &settings, timeout) => r,
        };
        let before = machine.state;
        machine = observe(
            machine,
            signal,
            target.threshold,
            &settings,
            tcp,
            clock.elapsed(),
        );
        if machine.state != before {
            tracing::info!(backend = %target.key.backend, state = ?machine.state, %detail,
                "application health changed");
        }
        publish(
            &board,
            &clock,
            &target.key,
            machine,
            signal,
            detail,
            &cancel,
        );
    }
}

fn publish(
    board: &HealthBoard,
    clock: &Clock,
    key: &ProbeKey,
    machine: Machine,
    signal: Signal,
    detail: String,
    cancel: &CancellationToken,
) {
    board.update(|m| {
        if cancel.is_cancelled() {
            return false;
        }
        let entry = m
            .entry(key.clone())
            .or_insert_with(|| HealthEntry::new(clock.elapsed()));
        let state_before = entry.app_health.map(|a| a.state);
        let ok = signal == AppHealthState::Healthy;
        let changed = state_before != Some(machine.state)
            || entry.last_ok != Some(ok)
            || entry.detail != detail;
        if state_before != Some(machine.state) {
            entry.since = clock.elapsed();
        }
        entry.health = machine.state.as_health();
        entry.app_health = Some(machine);
        entry.last_ok = Some(ok);
        entry.detail = detail;
        changed
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use AppHealthState::*;

    const RICH: AppHealthSettings = AppHealthSettings {
        rich: true,
        grace: Duration::from_secs(60),
    };
    const BINARY: AppHealthSettings = AppHealthSettings {
        rich: false,
        grace: Duration::ZERO,
    };

    fn run(
        signals: &[(Signal, u64)],
        threshold: u32,
        s: &AppHealthSettings,
        tcp: bool,
    ) -> Vec<AppHealthState> {
        let mut m = Machine::new(Duration::ZERO);
        signals
            .iter()
            .map(|&(sig, at)| {
                m = observe(m, sig, threshold, s, tcp, Duration::from_secs(at));
                m.state
            })
            .collect()
    }

    #[test]
    fn rich_states_leave_initializing_after_equal_signals() {
        assert_eq!(
            run(
                &[
                    (Healthy, 5),
                    (Unhealthy, 10),
                    (Unhealthy, 15),
                    (Unhealthy, 20)
                ],
                3,
                &RICH,
                false
            ),
            [Initializing, Initializing, Initializing, Unhealthy]
        );
        assert_eq!(
            run(
                &[(Healthy, 5), (Unknown, 10), (Unknown, 15)],
                1,
                &RICH,
                false
            ),
            [Healthy, Unknown, Unknown],
            "after Initializing, Unknown is a state like the others"
        );
        // Unknown signals do not end Initializing; the grace period does.
        assert_eq!(
            run(
                &[(Unknown, 5), (Unknown, 30), (Unknown, 60)],
                1,
                &RICH,
                false
            ),
            [Initializing, Initializing, Unknown]
        );
        assert_eq!(
            run(&[(Unhealthy, 5), (Healthy, 60)], 2, &RICH, true),
            [Initializing, Unhealthy],
            "over tcp an expired grace is Unhealthy"
        );
    }

    #[test]
    fn binary_states_follow_the_number_of_probes() {
        assert_eq!(
            run(
                &[
                    (Healthy, 5),
                    (Unhealthy, 10),
                    (Unhealthy, 15),
                    (Healthy, 20)
                ],
                2,
                &BINARY,
                false
            ),
            [Initializing, Initializing, Unhealthy, Unhealthy]
        );
        assert_eq!(run(&[(Healthy, 5)], 1, &BINARY, false), [Healthy]);
    }

    #[test]
    fn answers_are_judged_as_the_extension_does() {
        let healthy = br#"{"ApplicationHealthState": "Healthy"}"#;
        assert_eq!(verdict(200, healthy, true), Healthy);
        assert_eq!(
            verdict(204, br#"{"ApplicationHealthState":"unhealthy"}"#, true),
            Unhealthy
        );
        assert_eq!(verdict(200, b"ok", true), Unknown);
        assert_eq!(verdict(503, healthy, true), Unknown);
        assert_eq!(verdict(200, b"anything", false), Healthy);
        assert_eq!(
            verdict(201, b"", false),
            Unhealthy,
            "binary wants exactly 200"
        );
    }

    #[test]
    fn responses_parse_with_and_without_chunks() {
        let plain = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
        assert_eq!(parse_response(plain), Some((200, b"{\"a\":1}".to_vec())));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((200, b"{\"a\":1}".to_vec())));
        assert_eq!(parse_response(b"garbage"), None);
    }
}
