//! armlet as a separate process (for kill -9 and restart tests).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::eventually;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `armlet serve` on `port` with its state in `dir`.
pub fn spawn_armlet(dir: &Path, port: u16) -> Child {
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
        .unwrap()
}

/// Waits for the CA (written on first start) and then for the API to answer; returns a
/// client that trusts the CA and is signed in (the token stays valid across restarts on the
/// same data dir, whose signing key it was issued with).
pub async fn wait_ready(dir: &Path, base: &str) -> reqwest::Client {
    let ca = dir.join("tls/ca.pem");
    eventually(Duration::from_secs(20), || async {
        ca.exists().then_some(())
    })
    .await;
    let plain = super::client_for(&ca);
    eventually(Duration::from_secs(20), || async {
        plain
            .get(format!("{base}/metadata/endpoints?api-version=2022-09-01"))
            .send()
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    super::signed_in_client(&ca, base).await
}

/// An armlet child process that is stopped (SIGTERM, then SIGKILL after 10 s) when dropped,
/// so a failing test leaves no armlet and no instance behind.
pub struct ArmletProcess(pub Option<Child>);

impl ArmletProcess {
    pub fn pid(&self) -> i32 {
        self.0.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// SIGTERM and wait: whether armlet exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.0.take() else {
            return false;
        };
        let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("child pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// SIGKILL and reap.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ArmletProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}
