//! `armlet-bench`: the data-plane proxy side by side with a direct connection and HAProxy
//! (TCP mode), in one run, on loopback only.
//!
//! Backends (a raw TCP sink and a tiny HTTP/1.1 server) run in this process; armlet's proxy
//! runs in-process on its own worker threads; HAProxy runs as a child process if `haproxy`
//! is on PATH. The client is a plain blocking socket on the main thread, so every figure is
//! one connection (or one connection at a time) and every run is bounded in time.
//!
//! Metrics ([`metrics`]): the proxy also carries a fleet of 100 instances behind 20 rules;
//! the bench measures one collector pass over it, then runs every figure a second time on
//! the same proxy with the collector passing every `--collect-ms` (target `armlet+m`).
//!
//! Usage: `cargo run --release --bin armlet-bench -- [--secs 2 | --ms 2000] [--rounds 5] [--workers N]
//! [--figures stream,keepalive,newconn] [--collect-ms 1000]`; `--control-plane` measures the
//! ARM API instead ([`control`]).

mod control;
mod load;
mod metrics;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use armlet::runtime::clock::Clock;
use armlet::runtime::probe::{HealthTable, HealthView};
use armlet::runtime::proxy::{Backend, Distribution, FrontendRule, NoHealthy, Proxy};
use armlet::runtime::proxy::{RoutingTable, Transport};
use armlet::store::Store;
use load::{keepalive, newconn, spawn_http_backend, spawn_sink_backend, stream};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    stream_gbps: f64,
    keepalive_rps: f64,
    newconn_rps: f64,
    p50_us: f64,
    p99_us: f64,
}

struct Target {
    name: &'static str,
    http: SocketAddr,
    sink: SocketAddr,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--control-plane") {
        return control::run(&args);
    }
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let secs = Duration::from_millis(arg("--ms", arg("--secs", 2) * 1000));
    let figures = args
        .iter()
        .position(|a| a == "--figures")
        .and_then(|i| args.get(i + 1))
        .map_or("stream,keepalive,newconn", |v| v.as_str());
    let wants = |f: &str| figures.split(',').any(|x| x == f);
    let rounds = arg("--rounds", 5).max(1);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = arg("--workers", cores as u64) as usize;

    let http = spawn_http_backend()?;
    let sink = spawn_sink_backend()?;
    let mut targets = vec![Target {
        name: "direct",
        http,
        sink,
    }];

    // armlet's proxy, in-process, one worker per core.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _guard = rt.enter();
    let shutdown = CancellationToken::new();
    let health = HealthView::fixed(HealthTable::default());
    let proxy = Arc::new(Proxy::with_workers(
        Clock::new(1.0),
        health,
        &shutdown,
        workers,
    )?);
    let fe_http = free_port("127.0.0.2")?;
    let fe_sink = free_port("127.0.0.2")?;
    let bench_rules = vec![rule("http", fe_http, http), rule("sink", fe_sink, sink)];
    let fleet = Arc::new(metrics::fleet(100, 20, &bench_rules)?);
    let mut frontends = bench_rules;
    frontends.extend(metrics::routing(&fleet));
    proxy.publish(Arc::new(RoutingTable { frontends }));
    anyhow::ensure!(proxy.bind_errors().is_empty(), "{:?}", proxy.bind_errors());
    for name in ["armlet", "armlet+m"] {
        targets.push(Target {
            name,
            http: fe_http,
            sink: fe_sink,
        });
    }

    // The collector over 100 instances and 20 rules, into an on-disk store.
    let store_dir = tempfile::tempdir()?;
    let store = rt.block_on(Store::open(&store_dir.path().join("metrics.db")))?;
    let c = metrics::measure_passes(&rt, &proxy, &fleet, &store, 20)?;
    println!(
        "collector pass over 100 instances and 20 rules: {:.1} ms CPU ({:.1} ms of it reading /proc, {} processes on the host), {:.1} ms wall, {} points",
        c.cpu_ms, c.proc_cpu_ms, c.host_processes, c.wall_ms, c.points
    );
    let collect = Duration::from_millis(arg("--collect-ms", 1000));
    let background = metrics::Background::start(proxy.clone(), fleet.clone(), store, collect);
    // Collection runs only while the `armlet+m` target is measured.
    let collecting = |t: &Target| Collecting::new(&background, t.name == "armlet+m");

    let haproxy = start_haproxy(http, sink)?;
    if let Some((_, h, s)) = &haproxy {
        targets.push(Target {
            name: "haproxy",
            http: *h,
            sink: *s,
        });
    }

    println!(
        "armlet-bench: {cores} cores, {workers} proxy workers, {} ms per run, {rounds} rounds, {figures}",
        secs.as_millis()
    );
    // Each figure is measured for every target back to back (so they share the machine's
    // mood), rounds repeat the whole, and the report shows the best and the median round.
    let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); targets.len()];
    for round in 0..rounds {
        let mut this: Vec<Figures> = vec![Figures::default(); targets.len()];
        for (i, t) in targets.iter().enumerate().filter(|_| wants("stream")) {
            let _on = collecting(t);
            let cpu = proxy_cpu_secs();
            this[i].stream_gbps = stream(t.sink, secs)?;
            if t.name == "armlet" {
                let gbytes = this[i].stream_gbps * secs.as_secs_f64() / 8.0;
                eprintln!(
                    "round {round}   armlet proxy threads: {:.2} CPU-s per GB streamed",
                    (proxy_cpu_secs() - cpu) / gbytes
                );
            }
        }
        for (i, t) in targets.iter().enumerate().filter(|_| wants("keepalive")) {
            let _on = collecting(t);
            (this[i].keepalive_rps, this[i].p50_us, this[i].p99_us) = keepalive(t.http, secs)?;
        }
        for (i, t) in targets.iter().enumerate().filter(|_| wants("newconn")) {
            let _on = collecting(t);
            this[i].newconn_rps = newconn(t.http, secs)?;
        }
        for (i, t) in targets.iter().enumerate() {
            eprintln!("round {round} {:>8}: {:?}", t.name, this[i]);
            runs[i].push(this[i]);
        }
    }
    let best: Vec<Figures> = runs.iter().map(|r| summarize(r, true)).collect();
    let median: Vec<Figures> = runs.iter().map(|r| summarize(r, false)).collect();
    println!("\n== best round per figure ==");
    report(&targets, &best);
    println!("\n== median round per figure ==");
    report(&targets, &median);
    if haproxy.is_none() {
        println!(
            "\nhaproxy not found on PATH: install it to compare (apt-get install -y haproxy)."
        );
    }
    if let Some((mut child, _, _)) = haproxy {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(background);
    drop(fleet);
    drop(proxy);
    Ok(())
}

/// Switches the background collector on for as long as it lives (if `on`).
struct Collecting<'a>(&'a metrics::Background, bool);

impl<'a> Collecting<'a> {
    fn new(b: &'a metrics::Background, on: bool) -> Self {
        b.on.store(on, std::sync::atomic::Ordering::Relaxed);
        Collecting(b, on)
    }
}

impl Drop for Collecting<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.on.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn rule(key: &str, bind: SocketAddr, backend: SocketAddr) -> FrontendRule {
    FrontendRule {
        key: key.into(),
        bind,
        protocol: Transport::Tcp,
        backends: vec![Backend {
            key: format!("{key}-backend"),
            addr: backend,
            probe: None,
            draining: false,
            fault: Default::default(),
        }],
        distribution: Distribution::Default,
        idle_timeout: Duration::from_secs(4 * 60),
        tcp_reset: true,
        no_healthy: NoHealthy::AllProbedDown,
    }
}

fn free_port(ip: &str) -> std::io::Result<SocketAddr> {
    TcpListener::bind((ip, 0))?.local_addr()
}

/// CPU time (user + system) used so far by this process's proxy worker threads.
fn proxy_cpu_secs() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("armlet-proxy") {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the ")" that closes the command: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        ticks += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    ticks as f64 / 100.0 // USER_HZ
}

/// Per figure, the best (max rate, min latency) or the median of the rounds.
fn summarize(runs: &[Figures], best: bool) -> Figures {
    let pick = |f: fn(&Figures) -> f64, higher_is_better: bool| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        match (best, higher_is_better) {
            (true, true) => v[v.len() - 1],
            (true, false) => v[0],
            (false, _) => v[v.len() / 2],
        }
    };
    Figures {
        stream_gbps: pick(|f| f.stream_gbps, true),
        keepalive_rps: pick(|f| f.keepalive_rps, true),
        newconn_rps: pick(|f| f.newconn_rps, true),
        p50_us: pick(|f| f.p50_us, false),
        p99_us: pick(|f| f.p99_us, false),
    }
}

/// HAProxy in TCP mode in front of the same backends, if installed.
fn start_haproxy(
    http: SocketAddr,
    sink: SocketAddr,
) -> anyhow::Result<Option<(Child, SocketAddr, SocketAddr)>> {
    if Command::new("haproxy").arg("-v").output().is_err() {
        return Ok(None);
    }
    let fe_http = free_port("127.0.0.3")?;
    let fe_sink = free_port("127.0.0.3")?;
    let config = format!(
        "global\n  maxconn 8000\n\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\n\
         listen http\n  bind {fe_http}\n  server s1 {http}\n\n\
         listen sink\n  bind {fe_sink}\n  server s1 {sink}\n"
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config)?;
    let child = Command::new("haproxy")
        .arg("-f")
        .arg(&path)
        .arg("-db")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(fe_sink).is_err() || TcpStream::connect(fe_http).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "haproxy did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The sink saw two probe connections above; harmless.
    std::mem::forget(dir); // keep the config for the child's lifetime
    Ok(Some((child, fe_http, fe_sink)))
}

fn report(targets: &[Target], best: &[Figures]) {
    let direct = best[0];
    let haproxy = targets
        .iter()
        .position(|t| t.name == "haproxy")
        .map(|i| best[i]);
    println!(
        "\n{:<8} {:>14} {:>14} {:>14} {:>10} {:>10}",
        "target", "stream Gbit/s", "keepalive r/s", "newconn r/s", "p50 µs", "p99 µs"
    );
    for (t, f) in targets.iter().zip(best) {
        println!(
            "{:<8} {:>14.2} {:>14.0} {:>14.0} {:>10.1} {:>10.1}",
            t.name, f.stream_gbps, f.keepalive_rps, f.newconn_rps, f.p50_us, f.p99_us
        );
    }
    println!("\nratios (×direct; p50/p99 as µs added over direct; vs HAProxy)");
    for (t, f) in targets.iter().zip(best).skip(1) {
        println!(
            "{:<8} stream {:.2}×  keepalive {:.2}×  newconn {:.2}×  p50 {:+.1} µs  p99 {:+.1} µs",
            t.name,
            f.stream_gbps / direct.stream_gbps,
            f.keepalive_rps / direct.keepalive_rps,
            f.newconn_rps / direct.newconn_rps,
            f.p50_us - direct.p50_us,
            f.p99_us - direct.p99_us
        );
        if t.name == "armlet+m"
            && let Some(off) = targets
                .iter()
                .position(|t| t.name == "armlet")
                .map(|i| best[i])
        {
            let pct = |on: f64, off: f64| (on / off - 1.0) * 100.0;
            println!(
                "metrics on vs off: stream {:+.1} %  keepalive {:+.1} %  newconn {:+.1} %  p50 {:+.1} %  p99 {:+.1} %",
                pct(f.stream_gbps, off.stream_gbps),
                pct(f.keepalive_rps, off.keepalive_rps),
                pct(f.newconn_rps, off.newconn_rps),
                pct(f.p50_us, off.p50_us),
                pct(f.p99_us, off.p99_us)
            );
        }
        if let (Some(h), "armlet") = (haproxy, t.name) {
            println!(
                "armlet vs haproxy: stream {:.2}×  keepalive {:.2}×  newconn {:.2}×  p50 {:+.1} µs  p99 {:+.1} µs",
                f.stream_gbps / h.stream_gbps,
                f.keepalive_rps / h.keepalive_rps,
                f.newconn_rps / h.newconn_rps,
                f.p50_us - h.p50_us,
                f.p99_us - h.p99_us
            );
        }
    }
}
