//! Chaos in the store: armlet's data directory on a small tmpfs that fills up.
//!
//! Without root, the tmpfs is mounted in a user + mount namespace (`unshare -rm`, the
//! current user mapped to root in a namespace of its own); armlet runs inside it, and this
//! test reaches the files through `/proc/<armlet pid>/root`. Where unprivileged namespaces are
//! off, the same run uses a file-size limit instead (`prlimit` RLIMIT_FSIZE on the armlet
//! process, whose writes past it then fail with EFBIG; armlet ignores SIGXFSZ for that).
//!
//! While the disk is full, writes must fail with a retryable ARM error (no 5xx), reads must
//! keep working; once space returns, writes succeed again, and every write acknowledged
//! before, during and after is there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::common::process::{ArmletProcess, free_port, wait_ready};
use crate::common::{SUB, send};

#[derive(Debug, Default)]
pub struct DiskFigures {
    pub how: &'static str,
    pub acknowledged: u64,
    pub refused_while_full: u64,
    pub server_errors: u64,
    pub lost: u64,
    pub recovered: bool,
}

/// Eight 250-character tags: about 2 KB per write, so the disk fills in a few writes.
fn payload() -> serde_json::Value {
    (0..8)
        .map(|i| (format!("t{i}"), json!("x".repeat(250))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn unshare_works() -> bool {
    Command::new("unshare")
        .args(["-rm", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts armlet on a `size`-byte tmpfs at `dir` (inside its namespace); the data dir as
/// this process sees it.
fn spawn_on_tmpfs(dir: &Path, port: u16, size: &str) -> (ArmletProcess, PathBuf) {
    let child = Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs -o size=\"$2\" tmpfs \"$0\" && exec \"$1\" serve --listen 127.0.0.1:\"$3\" --data-dir \"$0\""])
        .arg(dir)
        .arg(env!("CARGO_BIN_EXE_armlet"))
        .arg(size)
        .arg(port.to_string())
        .env("ARMLET_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create("/tmp/chaos-disk.log").unwrap())
        .spawn()
        .unwrap();
    let seen = PathBuf::from(format!("/proc/{}/root{}", child.id(), dir.display()));
    (ArmletProcess(Some(child)), seen)
}

fn spawn_plain(dir: &Path, port: u16) -> ArmletProcess {
    ArmletProcess(Some(
        Command::new(env!("CARGO_BIN_EXE_armlet"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir)
            .env("ARMLET_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ))
}

/// Fills the file system holding `dir` (writes until ENOSPC); the filler's path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.write_all(&[0u8; 1024]);
    while f.write_all(&[0u8; 64]).is_ok() {}
    let _ = f.sync_all();
    path
}

fn set_fsize(pid: i32, limit: Option<u64>) {
    use rustix::process::{Pid, Resource, Rlimit, prlimit};
    let pid = Pid::from_raw(pid).unwrap();
    let current = prlimit(
        Some(pid),
        Resource::Fsize,
        Rlimit {
            current: None,
            maximum: None,
        },
    )
    .unwrap();
    prlimit(
        Some(pid),
        Resource::Fsize,
        Rlimit {
            current: limit,
            maximum: current.maximum,
        },
    )
    .unwrap();
}

pub async fn run(writes: u64) -> DiskFigures {
    let host = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://localhost:{port}");
    let tmpfs = unshare_works();
    let (mut armlet, dir) = if tmpfs {
        spawn_on_tmpfs(host.path(), port, "6m")
    } else {
        (spawn_plain(host.path(), port), host.path().to_path_buf())
    };
    let mut f = DiskFigures {
        how: if tmpfs {
            "6 MiB tmpfs in a user namespace, filled up"
        } else {
            "RLIMIT_FSIZE 0 on the armlet process"
        },
        ..Default::default()
    };
    let client = wait_ready(&dir, &base).await;
    let mut acked = Vec::new();
    let mut put = async |name: String, f: &mut DiskFigures| -> u16 {
        let url =
            format!("{base}/subscriptions/{SUB}/resourcegroups/{name}?api-version=2024-11-01");
        let (s, body) = send(
            client
                .put(url)
                .json(&json!({"location": "eastus", "tags": payload()})),
        )
        .await;
        if (200..300).contains(&s) {
            acked.push(name);
        } else if s >= 500 {
            f.server_errors += 1;
            eprintln!("5xx while the disk is full: {s} {body}");
        } else {
            assert_eq!(
                (s, body["error"]["code"].as_str()),
                (429, Some("RetryableError")),
                "{body}"
            );
        }
        s
    };
    for i in 0..writes {
        assert_eq!(put(format!("before-{i}"), &mut f).await, 201);
    }
    let filler = if tmpfs {
        Some(fill(&dir))
    } else {
        set_fsize(armlet.pid(), Some(0));
        None
    };
    for i in 0..writes * 4 {
        if put(format!("full-{i}"), &mut f).await == 429 {
            f.refused_while_full += 1;
        }
        let (s, _) = send(client.get(format!(
            "{base}/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01"
        )))
        .await;
        assert_eq!(s, 200, "reads work while the disk is full");
    }
    match filler {
        Some(path) => std::fs::remove_file(path).unwrap(),
        None => set_fsize(armlet.pid(), None),
    }
    // Space is back: writes go through again (after at most a few retries).
    for i in 0..writes {
        let mut ok = false;
        for _ in 0..50 {
            if put(format!("after-{i}"), &mut f).await == 201 {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        f.recovered = ok;
    }
    let (_, list) = send(client.get(format!(
        "{base}/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01&$top=100000"
    )))
    .await;
    let stored: Vec<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    f.lost = acked.iter().filter(|n| !stored.contains(n)).count() as u64;
    f.acknowledged = acked.len() as u64;
    armlet.terminate();
    f
}
