//! The [`Supervisor`]: starts, stops and watches instance processes.
//!
//! Each instance runs in its own process group and directory (see the [module
//! docs](super)). A watcher task per process records its exit; an exit that nobody asked for
//! is reported as [`InstanceStatus::Exited`] and is not restarted — the control plane
//! decides what to do. Stopping signals the whole group: SIGTERM, the grace period, SIGKILL.
//!
//! The supervisor does not stop its processes when dropped: the owner calls
//! [`Supervisor::stop_all`] on shutdown, and [`Supervisor::cleanup_orphans`] at start (it
//! finds what a killed armlet left behind).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustix::process::Signal;
use tokio::sync::watch;

use super::InstanceError;
use super::launcher;
use super::logs::{self, BootDiagnostics};
use super::orphans;
use super::spec::{self, InstanceSpec};

/// What an instance's process is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceStatus {
    Running {
        pid: u32,
        since: DateTime<Utc>,
    },
    /// It exited (or crashed) by itself; it is not restarted.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
        at: DateTime<Utc>,
    },
    /// Stopped on request.
    Stopped {
        at: DateTime<Utc>,
    },
}

/// Starts, stops and watches instance processes. Cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    /// `<data dir>/instances`, absolute: instance directories are named from it, and their
    /// path is the mark that tells our orphans from anyone else's.
    runtime_dir: PathBuf,
    /// The armlet binary: the built-in app is `armlet instance-app`.
    self_exe: PathBuf,
    /// Every instance started by this supervisor; locked briefly, never across an await.
    instances: Mutex<HashMap<String, Entry>>,
    /// One lock per key, so start/stop/remove of one instance never overlap.
    op_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

struct Entry {
    spec: InstanceSpec,
    status: InstanceStatus,
    /// The process group (= the leader's pid); it may outlive the leader.
    pgid: i32,
    /// Set when a stop was requested, so the exit is reported as `Stopped`.
    stopping: bool,
    /// Becomes true once the leader has exited and been reaped.
    exited: watch::Receiver<bool>,
    /// Which start this entry belongs to, so a late watcher never updates a newer run.
    run: u64,
}

/// When the last handle goes without `stop_all` (a panicking test, an aborted start), the
/// instances must not outlive armlet: they would keep their addresses and ports, and the next
/// armlet on another data directory would not know them as its orphans.
impl Drop for Inner {
    fn drop(&mut self) {
        let instances = self.instances.get_mut().unwrap_or_else(|e| e.into_inner());
        for entry in instances.values() {
            if entry.pgid > 0 && orphans::group_alive(entry.pgid) {
                let _ = orphans::signal_group(entry.pgid, Signal::KILL);
            }
        }
    }
}

impl Supervisor {
    pub fn new(runtime_dir: PathBuf, self_exe: PathBuf) -> Self {
        let _ = std::fs::create_dir_all(&runtime_dir);
        let runtime_dir = runtime_dir
            .canonicalize()
            .or_else(|_| std::path::absolute(&runtime_dir))
            .unwrap_or(runtime_dir);
        Supervisor {
            inner: Arc::new(Inner {
                runtime_dir,
                self_exe,
                instances: Mutex::new(HashMap::new()),
                op_locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The working directory of the instance `key` (whether or not it exists).
    pub fn instance_dir(&self, key: &str) -> PathBuf {
        self.inner.runtime_dir.join(spec::dir_name(key))
    }

    /// Kills the processes of every instance directory this supervisor does not manage
    /// (left by a previous armlet that was killed); returns how many instances had some.
    pub async fn cleanup_orphans(&self) -> Result<usize, InstanceError> {
        let managed: Vec<PathBuf> = self.keys().iter().map(|k| self.instance_dir(k)).collect();
        let dir = &self.inner.runtime_dir;
        let entries = std::fs::read_dir(dir)
            .map_err(|e| InstanceError::io(format!("reading {}", dir.display()), e))?;
        let candidates: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .filter(|p| !managed.contains(p))
            .collect();
        let killed = orphans::kill_instances(&candidates, Duration::ZERO)
            .await
            .map_err(|e| InstanceError::io("killing orphaned instance processes", e))?;
        for dir in &killed {
            tracing::warn!(dir = %dir.display(), "killed processes left by a previous armlet");
        }
        Ok(killed.len())
    }

    /// Starts the instance; a no-op if it already runs with the same spec.
    pub async fn start(&self, spec: InstanceSpec) -> Result<(), InstanceError> {
        let lock = self.op_lock(&spec.key);
        let _guard = lock.lock().await;
        let previous = self.with_entry(&spec.key, |e| (e.status.clone(), e.spec == spec));
        let run = match previous {
            Some((InstanceStatus::Running { .. }, true)) => return Ok(()),
            Some((InstanceStatus::Running { .. }, false)) => {
                return Err(InstanceError::SpecChanged { key: spec.key });
            }
            Some(_) => {
                // Whatever the previous run left behind goes first.
                self.kill_leftovers(&spec.key, Duration::ZERO).await?;
                self.with_entry(&spec.key, |e| e.run + 1).unwrap_or(1)
            }
            None => 1,
        };
        let dir = self.instance_dir(&spec.key);
        let (child, pid) = launcher::spawn(&spec, &dir, &self.inner.self_exe)?;
        let (tx, rx) = watch::channel(false);
        let entry = Entry {
            spec: spec.clone(),
            status: InstanceStatus::Running {
                pid,
                since: Utc::now(),
            },
            pgid: pid as i32,
            stopping: false,
            exited: rx,
            run,
        };
        self.lock().insert(spec.key.clone(), entry);
        tracing::info!(key = %spec.key, name = %spec.instance_name, pid, "instance started");
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(watch_exit(weak, spec.key, run, child, tx));
        Ok(())
    }

    /// Stops the instance: SIGTERM to its group, up to `grace`, then SIGKILL. Idempotent.
    pub async fn stop(&self, key: &str, grace: Duration) -> Result<(), InstanceError> {
        let lock = self.op_lock(key);
        let _guard = lock.lock().await;
        let Some((pgid, exited)) = self.with_entry(key, |e| {
            e.stopping = true;
            (e.pgid, e.exited.clone())
        }) else {
            return Ok(());
        };
        if *exited.borrow() {
            // The leader is gone: its group id may be reused, so only processes that carry
            // the instance's mark are signalled.
            self.kill_leftovers(key, grace).await?;
        } else {
            self.terminate_group(pgid, exited, grace).await?;
            self.kill_leftovers(key, Duration::ZERO).await?;
        }
        self.with_entry(key, |e| {
            if !matches!(e.status, InstanceStatus::Stopped { .. }) {
                e.status = InstanceStatus::Stopped { at: Utc::now() };
            }
        });
        Ok(())
    }

    /// Signals the group of a running leader: SIGTERM (unless `grace` is zero), wait until
    /// the leader is reaped and the group is empty, SIGKILL after `grace`, wait (bounded).
    async fn terminate_group(
        &self,
        pgid: i32,
        exited: watch::Receiver<bool>,
        grace: Duration,
    ) -> Result<(), InstanceError> {
        let gone = || *exited.borrow() && !orphans::group_alive(pgid);
        let signal = |sig| {
            orphans::signal_group(pgid, sig)
                .map_err(|source| InstanceError::Signal { pgid, source })
        };
        if !grace.is_zero() {
            signal(Signal::TERM)?;
            if orphans::wait_until(grace, gone).await {
                return Ok(());
            }
            tracing::info!(
                pgid,
                "instance did not stop within its grace period: SIGKILL"
            );
        }
        signal(Signal::KILL)?;
        if !orphans::wait_until(Duration::from_secs(10), gone).await {
            tracing::warn!(pgid, "instance process group survived SIGKILL for 10 s");
        }
        Ok(())
    }

    /// Stops any process still marked as the instance's (children that outlived the
    /// leader or left its group) and removes the pid file.
    async fn kill_leftovers(&self, key: &str, grace: Duration) -> Result<(), InstanceError> {
        orphans::kill_instances(&[self.instance_dir(key)], grace)
            .await
            .map(|_| ())
            .map_err(|e| InstanceError::io("stopping what the instance left", e))
    }

    /// Stops the instance and deletes its directory.
    pub async fn remove(&self, key: &str, grace: Duration) -> Result<(), InstanceError> {
        self.stop(key, grace).await?;
        let dir = self.instance_dir(key);
        self.lock().remove(key);
        self.inner.op_locks.lock().expect("op locks").remove(key);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(InstanceError::io(format!("deleting {}", dir.display()), e))
            }
            _ => Ok(()),
        }
    }

    /// Sends `signal` to the process group of a running instance (fault injection: SIGSTOP,
    /// SIGCONT, SIGKILL); returns whether there was a running process to signal. A SIGKILL
    /// sent this way is reported as an exit by itself, as a crash would be.
    pub fn signal(&self, key: &str, signal: Signal) -> Result<bool, InstanceError> {
        let pgid = self.with_entry(key, |e| {
            matches!(e.status, InstanceStatus::Running { .. }).then_some(e.pgid)
        });
        let Some(Some(pgid)) = pgid else {
            return Ok(false);
        };
        orphans::signal_group(pgid, signal).map_err(|source| InstanceError::Signal { pgid, source })
    }

    pub fn status(&self, key: &str) -> Option<InstanceStatus> {
        self.lock().get(key).map(|e| e.status.clone())
    }

    /// The spec the instance was last started with.
    pub fn spec(&self, key: &str) -> Option<InstanceSpec> {
        self.lock().get(key).map(|e| e.spec.clone())
    }

    /// Every known instance and its status, by key.
    pub fn list(&self) -> Vec<(String, InstanceStatus)> {
        let mut all: Vec<_> = self
            .lock()
            .iter()
            .map(|(k, e)| (k.clone(), e.status.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Stops every instance concurrently (shutdown).
    pub async fn stop_all(&self, grace: Duration) {
        let mut stops = tokio::task::JoinSet::new();
        for key in self.keys() {
            let this = self.clone();
            stops.spawn(async move {
                if let Err(e) = this.stop(&key, grace).await {
                    tracing::warn!(%key, error = %e, "stopping instance");
                }
            });
        }
        while stops.join_next().await.is_some() {}
    }

    /// The end of the instance's stdout and stderr (the last `max_kib` KiB of each).
    pub fn boot_diagnostics(
        &self,
        key: &str,
        max_kib: u64,
    ) -> Result<BootDiagnostics, InstanceError> {
        let dir = self.instance_dir(key);
        logs::boot_diagnostics(&dir, max_kib)
            .map_err(|e| InstanceError::io(format!("reading logs in {}", dir.display()), e))
    }

    fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.instances.lock().expect("instances lock")
    }

    fn with_entry<T>(&self, key: &str, f: impl FnOnce(&mut Entry) -> T) -> Option<T> {
        self.lock().get_mut(key).map(f)
    }

    fn op_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.op_locks.lock().expect("op locks");
        locks.entry(key.to_string()).or_default().clone()
    }
}

/// Waits for the process to exit, records how, then tells stoppers it is gone.
async fn watch_exit(
    inner: Weak<Inner>,
    key: String,
    run: u64,
    mut child: tokio::process::Child,
    exited: watch::Sender<bool>,
) {
    let status = child.wait().await;
    if let Some(inner) = inner.upgrade() {
        let mut instances = inner.instances.lock().expect("instances lock");
        if let Some(entry) = instances.get_mut(&key).filter(|e| e.run == run) {
            entry.status = exit_status(entry.stopping, status.ok());
            if !entry.stopping {
                tracing::warn!(%key, status = ?entry.status, "instance process exited by itself");
            }
        }
    }
    let _ = exited.send(true);
}

/// How an exit is reported: `Stopped` when it was asked for, else `Exited` with the code or
/// signal.
pub fn exit_status(requested: bool, status: Option<ExitStatus>) -> InstanceStatus {
    use std::os::unix::process::ExitStatusExt;
    let at = Utc::now();
    if requested {
        return InstanceStatus::Stopped { at };
    }
    InstanceStatus::Exited {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exits_are_reported_as_asked_or_not() {
        let crashed = exit_status(false, Some(ExitStatus::from_raw(9)));
        assert!(matches!(
            crashed,
            InstanceStatus::Exited {
                code: None,
                signal: Some(9),
                ..
            }
        ));
        let failed = exit_status(false, Some(ExitStatus::from_raw(3 << 8)));
        assert!(matches!(
            failed,
            InstanceStatus::Exited {
                code: Some(3),
                signal: None,
                ..
            }
        ));
        assert!(matches!(
            exit_status(true, None),
            InstanceStatus::Stopped { .. }
        ));
    }
}
