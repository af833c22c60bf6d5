//! The instance runtime with real processes: the built-in app (`armlet instance-app`),
//! custom-data scripts and cloud-configs, graceful and forced stops, crash reporting and the
//! cleanup of orphans a killed armlet left. Each test binds its own loopback address
//! (127.77.<test>.<n>) and waits on conditions with bounded polling.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use armlet::runtime::instance::orphans;
use armlet::runtime::instance::{
    InstanceSpec, InstanceStatus, PortKind, PortSpec, Program, Supervisor, from_custom_data,
};
use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(5);

fn supervisor(dir: &Path) -> Supervisor {
    Supervisor::new(dir.join("instances"), env!("CARGO_BIN_EXE_armlet").into())
}

/// A port that is free on `ip` right now.
fn free_port(ip: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spec(ip: Ipv4Addr, id: &str, kinds: &[PortKind], program: Program) -> InstanceSpec {
    let ports = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| PortSpec {
            port: [80, 443, 22][i % 3],
            bound: free_port(ip),
            kind: *kind,
        })
        .collect();
    InstanceSpec {
        key: format!(
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/web/{id}"
        ),
        scale_set: "web".into(),
        instance_id: id.into(),
        instance_name: format!("web_{id}"),
        private_ip: Ipv4Addr::new(10, 0, 0, 4),
        bind_address: ip,
        ports,
        program,
        model_version: "1".into(),
        extra_env: vec![("ARMLET_TEST_EXTRA".into(), "extra".into())],
    }
}

fn script(text: &str) -> Program {
    from_custom_data(Some(
        &base64::engine::general_purpose::STANDARD.encode(text),
    ))
    .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Polls `check` until it returns `Some`, for at most [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get(url: String) -> Option<(u16, String)> {
    let res = client().get(url).send().await.ok()?;
    Some((res.status().as_u16(), res.text().await.ok()?))
}

fn pid_of(status: Option<InstanceStatus>) -> i32 {
    match status {
        Some(InstanceStatus::Running { pid, .. }) => pid as i32,
        other => panic!("not running: {other:?}"),
    }
}

fn alive(pid: i32) -> bool {
    orphans::proc_stat(pid).is_some_and(|s| s.state != 'Z')
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

#[tokio::test]
async fn built_in_app_serves_identity_health_tls_and_banner_then_stops_gracefully() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = supervisor(tmp.path());
    let ip = Ipv4Addr::new(127, 77, 1, 1);
    let kinds = [PortKind::Http, PortKind::Https, PortKind::Banner];
    let s = spec(ip, "0", &kinds, Program::BuiltIn);
    let (http, https, banner) = (s.ports[0].bound, s.ports[1].bound, s.ports[2].bound);
    sup.start(s.clone()).await.unwrap();
    sup.start(s.clone()).await.unwrap(); // idempotent
    let pid = pid_of(sup.status(&s.key));

    let (status, body) = eventually("GET /", || get(format!("http://{ip}:{http}/"))).await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["name"], "web_0");
    assert_eq!(json["instanceId"], "0");
    assert_eq!(json["privateIp"], "10.0.0.4");
    assert_eq!(json["port"], 80);
    let health = get(format!("http://{ip}:{http}/health")).await.unwrap();
    assert_eq!(health, (200, "healthy\n".to_string()));
    let (status, body) =
        eventually("GET / over TLS", || get(format!("https://{ip}:{https}/"))).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"scheme\":\"https\""), "{body}");

    let mut conn = tokio::net::TcpStream::connect((ip, banner)).await.unwrap();
    let mut line = vec![0u8; "SSH-2.0-armlet web_0 (10.0.0.4)\r\n".len()];
    conn.read_exact(&mut line).await.unwrap();
    assert_eq!(line, b"SSH-2.0-armlet web_0 (10.0.0.4)\r\n");
    conn.write_all(b"hello\n").await.unwrap();
    let mut echo = [0u8; 6];
    conn.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"hello\n");

    let other = spec(ip, "0", &[PortKind::Http], Program::BuiltIn);
    assert!(
        sup.start(other).await.is_err(),
        "a changed spec needs a stop first"
    );

    let started = Instant::now();
    sup.stop(&s.key, GRACE).await.unwrap();
    assert!(started.elapsed() < GRACE, "SIGTERM alone stopped it");
    assert!(matches!(
        sup.status(&s.key),
        Some(InstanceStatus::Stopped { .. })
    ));
    assert!(!alive(pid));
    let dir = sup.instance_dir(&s.key);
    assert!(log(&dir, "stdout.log").contains("instance app stopped"));
    sup.stop(&s.key, GRACE).await.unwrap(); // idempotent
    sup.stop("unknown", GRACE).await.unwrap();
    sup.remove(&s.key, GRACE).await.unwrap();
    assert!(!dir.exists());
    assert!(sup.status(&s.key).is_none());
}

#[tokio::test]
async fn in_flight_request_completes_during_graceful_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = supervisor(tmp.path());
    let ip = Ipv4Addr::new(127, 77, 2, 1);
    let s = spec(ip, "1", &[PortKind::Http], Program::BuiltIn);
    let port = s.ports[0].bound;
    sup.start(s.clone()).await.unwrap();
    eventually("GET /", || get(format!("http://{ip}:{port}/"))).await;

    let slow = tokio::spawn(get(format!("http://{ip}:{port}/slow?ms=500")));
    eventually("the slow request to be in flight", || async {
        let (_, body) = get(format!("http://{ip}:{port}/")).await?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        (json["inFlight"].as_u64()? >= 1).then_some(())
    })
    .await;
    sup.stop(&s.key, GRACE).await.unwrap();
    assert_eq!(
        slow.await.unwrap(),
        Some((200, "slept 500 ms\n".to_string()))
    );
    assert!(
        get(format!("http://{ip}:{port}/")).await.is_none(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn script_custom_data_runs_with_the_instance_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = supervisor(tmp.path());
    let ip = Ipv4Addr::new(127, 77, 3, 1);
    let program = script(
        "#!/bin/sh\nsystemctl enable nginx\necho \"$ARMLET_INSTANCE_ID|$ARMLET_INSTANCE_NAME|$ARMLET_VMSS_NAME|$ARMLET_PRIVATE_IP|$ARMLET_BIND_ADDRESS|$ARMLET_PORTS|$PORT|$ARMLET_MODEL_VERSION|$ARMLET_TEST_EXTRA|$(pwd)\" > env.txt\nexec sleep 60\n",
    );
    assert!(matches!(program, Program::Script { .. }));
    let s = spec(ip, "2", &[PortKind::Http, PortKind::Https], program);
    sup.start(s.clone()).await.unwrap();
    let dir = sup.instance_dir(&s.key);
    let env = eventually("env.txt", || async {
        let text = std::fs::read_to_string(dir.join("env.txt")).ok()?;
        text.ends_with('\n').then_some(text)
    })
    .await;
    let (http, https) = (s.ports[0].bound, s.ports[1].bound);
    let expected = format!(
        "2|web_2|web|10.0.0.4|{ip}|80={http}/http,443={https}/https|{http}|1|extra|{}\n",
        dir.display()
    );
    assert_eq!(env, expected);
    assert!(log(&dir, "stdout.log").contains("armlet: skipped 'systemctl enable nginx'"));
    let started = Instant::now();
    sup.stop(&s.key, GRACE).await.unwrap();
    assert!(started.elapsed() < GRACE);
    assert!(matches!(
        sup.status(&s.key),
        Some(InstanceStatus::Stopped { .. })
    ));
}

#[tokio::test]
async fn a_crashed_process_is_reported_and_not_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = supervisor(tmp.path());
    let ip = Ipv4Addr::new(127, 77, 4, 1);
    let s = spec(
        ip,
        "3",
        &[],
        script("#!/bin/sh\necho booting\necho boom >&2\nexit 3\n"),
    );
    sup.start(s.clone()).await.unwrap();
    let code = eventually("the exit", || async {
        match sup.status(&s.key) {
            Some(InstanceStatus::Exited { code, .. }) => Some(code),
            _ => None,
        }
    })
    .await;
    assert_eq!(code, Some(3));
    let diag = sup.boot_diagnostics(&s.key, 64).unwrap();
    assert!(diag.stdout.contains("booting"), "{diag:?}");
    assert!(diag.stderr.contains("boom"), "{diag:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(
        sup.status(&s.key),
        Some(InstanceStatus::Exited { .. })
    ));
    let diag = sup.boot_diagnostics(&s.key, 64).unwrap();
    assert_eq!(diag.stdout.matches("=== armlet").count(), 1, "started once");

    // Killed from outside: reported with the signal.
    let app = spec(ip, "4", &[PortKind::Http], Program::BuiltIn);
    sup.start(app.clone()).await.unwrap();
    let pid = pid_of(sup.status(&app.key));
    orphans::signal_process(pid, rustix::process::Signal::KILL).unwrap();
    let signal = eventually("the crash", || async {
        match sup.status(&app.key) {
            Some(InstanceStatus::Exited { signal, .. }) => Some(signal),
            _ => None,
        }
    })
    .await;
    assert_eq!(signal, Some(9));
    // Restarting is the caller's decision.
    sup.start(app.clone()).await.unwrap();
    assert_ne!(pid_of(sup.status(&app.key)), pid);
    sup.stop_all(GRACE).await;
    assert!(
        sup.list()
            .iter()
            .all(|(_, s)| !matches!(s, InstanceStatus::Running { .. }))
    );
}

#[tokio::test]
async fn stop_escalates_to_sigkill_after_the_grace_period() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = supervisor(tmp.path());
    let ip = Ipv4Addr::new(127, 77, 5, 1);
    let stubborn = "#!/bin/sh\ntrap '' TERM\necho ready > ready\nwhile true; do sleep 0.05; done\n";
    let s = spec(ip, "5", &[], script(stubborn));
    sup.start(s.clone()).await.unwrap();
    let dir = sup.instance_dir(&s.key);
    eventually("ready", || async {
        dir.join("ready").exists().then_some(())
    })
    .await;
    let pid = pid_of(sup.status(&s.key));
    let started = Instant::now();
    sup.stop(&s.key, Duration::from_millis(300)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < WAIT);
    assert!(!alive(pid));
    assert!(matches!(
        sup.status(&s.key),
        Some(InstanceStatus::Stopped { .. })
    ));
}

#[tokio::test]
async fn instances_die_with_their_supervisor_when_it_is_dropped_unstopped() {
    // What a panicking test or an aborted start leaves: the supervisor goes without
    // `stop_all`. Its instances must not keep their addresses for the next armlet.
    let tmp = tempfile::tempdir().unwrap();
    let sup = supervisor(tmp.path());
    let ip = Ipv4Addr::new(127, 77, 5, 2);
    let stubborn = "#!/bin/sh\ntrap '' TERM\necho ready > ready\nwhile true; do sleep 0.05; done\n";
    let s = spec(ip, "6", &[], script(stubborn));
    sup.start(s.clone()).await.unwrap();
    let dir = sup.instance_dir(&s.key);
    eventually("ready", || async {
        dir.join("ready").exists().then_some(())
    })
    .await;
    let pid = pid_of(sup.status(&s.key));
    drop(sup);
    eventually("the instance killed", || async {
        (!alive(pid)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn cloud_config_boots_then_the_built_in_app_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = supervisor(tmp.path());
    let ip = Ipv4Addr::new(127, 77, 6, 1);
    let config = "\n#cloud-config\npackage_upgrade: true\npackages:\n  - nginx\nwrite_files:\n  - path: /var/www/html/health.html\n    content: |\n      healthy\n    owner: www-data:www-data\n    permissions: '0644'\nruncmd:\n  - systemctl enable nginx\n  - service nginx restart\n  - false\n  - echo \"$ARMLET_INSTANCE_NAME\" > booted\n";
    let s = spec(ip, "6", &[PortKind::Http], script(config));
    assert!(matches!(s.program, Program::CloudConfig(_)));
    let port = s.ports[0].bound;
    sup.start(s.clone()).await.unwrap();
    let page = eventually("health.html", || {
        get(format!("http://{ip}:{port}/health.html"))
    })
    .await;
    assert_eq!(page, (200, "healthy\n".to_string()));
    let (_, identity) = get(format!("http://{ip}:{port}/")).await.unwrap();
    assert!(identity.contains("web_6"));
    let dir = sup.instance_dir(&s.key);
    assert_eq!(
        std::fs::read_to_string(dir.join("booted")).unwrap(),
        "web_6\n"
    );
    let out = log(&dir, "stdout.log");
    assert!(out.contains("skipped 'service nginx restart'"), "{out}");
    assert!(out.contains("cloud-config boot finished"), "{out}");
    sup.stop_all(GRACE).await;
}

#[tokio::test]
async fn orphans_of_a_killed_armlet_are_cleaned_up_and_nobody_elses() {
    let tmp = tempfile::tempdir().unwrap();
    let ip = Ipv4Addr::new(127, 77, 7, 1);
    // "Previous run": a script with a background child, and the built-in app.
    let first = supervisor(tmp.path());
    let bg = spec(
        ip,
        "7",
        &[],
        script("#!/bin/sh\nsleep 120 &\necho $! > child.pid\nexec sleep 120\n"),
    );
    let app = spec(ip, "8", &[PortKind::Http], Program::BuiltIn);
    first.start(bg.clone()).await.unwrap();
    first.start(app.clone()).await.unwrap();
    let dir = first.instance_dir(&bg.key);
    let child: i32 = eventually("child.pid", || async {
        std::fs::read_to_string(dir.join("child.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    })
    .await;
    let pids = [
        pid_of(first.status(&bg.key)),
        child,
        pid_of(first.status(&app.key)),
    ];

    // Another armlet (other data dir) runs an instance with the same key.
    let other_tmp = tempfile::tempdir().unwrap();
    let other = supervisor(other_tmp.path());
    let twin = spec(
        Ipv4Addr::new(127, 77, 7, 2),
        "7",
        &[],
        script("#!/bin/sh\nexec sleep 120\n"),
    );
    other.start(twin.clone()).await.unwrap();
    let twin_pid = pid_of(other.status(&twin.key));

    // Like kill -9: nothing runs on the way out (dropping the supervisor would kill them).
    std::mem::forget(first);
    assert!(pids.iter().all(|p| alive(*p)));
    let second = supervisor(tmp.path());
    assert_eq!(second.cleanup_orphans().await.unwrap(), 2);
    for pid in pids {
        assert!(!alive(pid), "{pid} survived");
    }
    assert!(alive(twin_pid), "another data dir's instance was touched");
    assert_eq!(second.cleanup_orphans().await.unwrap(), 0);
    // The same key can run again.
    second.start(app.clone()).await.unwrap();
    let port = app.ports[0].bound;
    eventually("GET / after restart", || {
        get(format!("http://{ip}:{port}/"))
    })
    .await;
    second.stop_all(GRACE).await;
    other.stop_all(GRACE).await;
    assert!(!alive(twin_pid));
}

#[tokio::test]
async fn image_command_runs_argv_with_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = supervisor(tmp.path());
    let ip = Ipv4Addr::new(127, 77, 8, 1);
    let argv = ["sh", "-c", "echo \"$PORT\" > port.txt; exec sleep 60"];
    let program = Program::Command {
        argv: argv.iter().map(|s| s.to_string()).collect(),
    };
    let s = spec(ip, "9", &[PortKind::Http], program);
    sup.start(s.clone()).await.unwrap();
    let dir = sup.instance_dir(&s.key);
    let port = eventually("port.txt", || async {
        let text = std::fs::read_to_string(dir.join("port.txt")).ok()?;
        text.ends_with('\n').then_some(text)
    })
    .await;
    assert_eq!(port.trim(), s.ports[0].bound.to_string());
    sup.remove(&s.key, GRACE).await.unwrap();
    assert!(!dir.exists());
}
