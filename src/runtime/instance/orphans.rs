//! Finding and killing instance processes that outlived the armlet that started them (after
//! a kill -9), and the process bookkeeping that needs: pid files, `/proc` parsing and
//! signalling process groups.
//!
//! A process belongs to an instance when its environment holds that instance's
//! `ARMLET_INSTANCE_DIR=<dir>` (inherited by everything it starts, even processes that left
//! its group), or when it is the group leader recorded in the pid file with the same start
//! time. Matching on the directory rather than the key keeps two armlets with different data
//! directories (e.g. parallel test runs) from ever touching each other's processes.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};

/// The pid file of a running instance, in its directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidFile {
    pub key: String,
    pub pid: i32,
    /// Always equal to `pid` (each instance leads its own group), kept for clarity.
    pub pgid: i32,
    /// The leader's start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: Option<u64>,
    pub supervisor_pid: u32,
}

pub fn pid_file_path(dir: &Path) -> PathBuf {
    dir.join("instance.pid")
}

/// Writes the pid file atomically (temporary file, then rename).
pub fn write_pid_file(dir: &Path, record: &PidFile) -> io::Result<()> {
    let tmp = dir.join("instance.pid.tmp");
    std::fs::write(&tmp, serde_json::to_vec(record).map_err(io::Error::other)?)?;
    std::fs::rename(tmp, pid_file_path(dir))
}

pub fn read_pid_file(dir: &Path) -> Option<PidFile> {
    let bytes = std::fs::read(pid_file_path(dir)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn remove_pid_file(dir: &Path) {
    let _ = std::fs::remove_file(pid_file_path(dir));
}

/// The fields of `/proc/<pid>/stat` the runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    /// `R`, `S`, `Z` (zombie: dead but not reaped), ...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// User and system CPU time in clock ticks.
    pub utime: u64,
    pub stime: u64,
    pub start_time: u64,
}

/// Parses a `/proc/<pid>/stat` line; the command name may contain spaces and parentheses,
/// so fields are counted from the last `)`.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let (head, rest) = line.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); field N is f[N - 3].
    Some(ProcStat {
        pid,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
        start_time: f.get(19)?.parse().ok()?,
    })
}

pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every live (not zombie) process visible in `/proc`.
pub fn live_processes() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_stat)
        .filter(|s| s.state != 'Z' && s.state != 'X')
        .collect()
}

/// The value of `ARMLET_INSTANCE_DIR` in a process's initial environment.
pub fn instance_dir_of(pid: i32) -> Option<PathBuf> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ
        .split(|b| *b == 0)
        .find_map(|entry| entry.strip_prefix(b"ARMLET_INSTANCE_DIR="))
        .map(|v| PathBuf::from(String::from_utf8_lossy(v).into_owned()))
}

/// Which processes belong to which of `dirs` (pure, given the process table, the pid files
/// and a way to read a process's instance dir).
pub fn attribute(
    processes: &[ProcStat],
    pid_files: &HashMap<PathBuf, PidFile>,
    dir_of: impl Fn(i32) -> Option<PathBuf>,
) -> HashMap<PathBuf, Vec<i32>> {
    let mut owned: HashMap<PathBuf, Vec<i32>> = HashMap::new();
    for p in processes {
        let by_env = dir_of(p.pid).filter(|d| pid_files.contains_key(d));
        let by_pid_file = pid_files.iter().find_map(|(dir, rec)| {
            (rec.pid == p.pid && rec.start_time == Some(p.start_time)).then(|| dir.clone())
        });
        if let Some(dir) = by_env.or(by_pid_file) {
            owned.entry(dir).or_default().push(p.pid);
        }
    }
    owned
}

/// Sends `signal` to process group `pgid`; `Ok(false)` if the group no longer exists.
pub fn signal_group(pgid: i32, signal: Signal) -> io::Result<bool> {
    let Some(pid) = Pid::from_raw(pgid).filter(|_| pgid > 1) else {
        return Ok(false);
    };
    match rustix::process::kill_process_group(pid, signal) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Sends `signal` to one process; `Ok(false)` if it no longer exists.
pub fn signal_process(pid: i32, signal: Signal) -> io::Result<bool> {
    let Some(p) = Pid::from_raw(pid).filter(|_| pid > 1) else {
        return Ok(false);
    };
    match rustix::process::kill_process(p, signal) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether a live (not zombie) process of group `pgid` remains.
pub fn group_alive(pgid: i32) -> bool {
    if !matches!(signal_group_probe(pgid), Ok(true)) {
        return false;
    }
    live_processes().iter().any(|p| p.pgrp == pgid)
}

fn signal_group_probe(pgid: i32) -> io::Result<bool> {
    let Some(pid) = Pid::from_raw(pgid).filter(|_| pgid > 1) else {
        return Ok(false);
    };
    match rustix::process::test_kill_process_group(pid) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Polls until `done` holds or `timeout` passes; returns whether it held.
pub async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stops every process belonging to one of `dirs` — their recorded groups and any process
/// carrying their `ARMLET_INSTANCE_DIR`: SIGTERM and up to `grace` (skipped when zero), then
/// SIGKILL and a bounded wait. Removes their pid files and returns the directories that had
/// processes.
pub async fn kill_instances(dirs: &[PathBuf], grace: Duration) -> io::Result<Vec<PathBuf>> {
    let pid_files: HashMap<PathBuf, PidFile> = dirs
        .iter()
        .map(|d| (d.clone(), read_pid_file(d).unwrap_or_else(placeholder)))
        .collect();
    let owned = attribute(&live_processes(), &pid_files, instance_dir_of);
    let victims: HashSet<i32> = owned.values().flatten().copied().collect();
    let all_dead = || live_processes().iter().all(|p| !victims.contains(&p.pid));
    let send = |signal: Signal| -> io::Result<()> {
        for (dir, pids) in &owned {
            let leader = pid_files[dir].pid;
            if pids.contains(&leader) {
                signal_group(leader, signal)?;
            }
            for pid in pids {
                signal_process(*pid, signal)?;
            }
        }
        Ok(())
    };
    if !victims.is_empty() {
        let mut done = false;
        if !grace.is_zero() {
            send(Signal::TERM)?;
            done = wait_until(grace, all_dead).await;
        }
        if !done {
            send(Signal::KILL)?;
            wait_until(Duration::from_secs(5), all_dead).await;
        }
    }
    for dir in dirs {
        remove_pid_file(dir);
    }
    Ok(owned.into_keys().collect())
}

/// A pid file that matches no process (for directories without one).
fn placeholder() -> PidFile {
    PidFile {
        key: String::new(),
        pid: 0,
        pgid: 0,
        start_time: None,
        supervisor_pid: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: i32, pgrp: i32, start: u64) -> ProcStat {
        ProcStat {
            pid,
            state: 'S',
            ppid: 1,
            pgrp,
            utime: 0,
            stime: 0,
            start_time: start,
        }
    }

    #[test]
    fn parses_stat_lines_with_odd_names() {
        let line = "4242 (my (weird) app) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 98765 1000 10 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!((s.pid, s.state, s.ppid, s.pgrp), (4242, 'S', 1, 4242));
        assert_eq!((s.utime, s.stime, s.start_time), (7, 3, 98765));
        assert!(parse_stat("garbage").is_none());
        let me = proc_stat(std::process::id() as i32).unwrap();
        assert_eq!(me.pid, std::process::id() as i32);
    }

    #[test]
    fn attribution_by_environment_or_recorded_leader() {
        let a = PathBuf::from("/rt/a");
        let b = PathBuf::from("/rt/b");
        let rec = |pid, start| PidFile {
            key: "k".into(),
            pid,
            pgid: pid,
            start_time: Some(start),
            supervisor_pid: 1,
        };
        let pid_files = HashMap::from([(a.clone(), rec(10, 500)), (b.clone(), rec(20, 600))]);
        let procs = [
            stat(10, 10, 500), // a's leader (start time matches)
            stat(20, 20, 999), // pid reused: not b's leader
            stat(30, 30, 1),   // a child that left the group but kept the env
            stat(40, 40, 1),   // another armlet's instance
        ];
        let owned = attribute(&procs, &pid_files, |pid| match pid {
            30 => Some(a.clone()),
            40 => Some(PathBuf::from("/other/a")),
            _ => None,
        });
        assert_eq!(owned.get(&a), Some(&vec![10, 30]));
        assert_eq!(owned.get(&b), None);
        assert_eq!(owned.len(), 1);
    }

    #[test]
    fn pid_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_pid_file(dir.path()).is_none());
        let rec = PidFile {
            key: "k".into(),
            pid: 5,
            pgid: 5,
            start_time: Some(7),
            supervisor_pid: 1,
        };
        write_pid_file(dir.path(), &rec).unwrap();
        assert_eq!(read_pid_file(dir.path()), Some(rec));
        remove_pid_file(dir.path());
        assert!(read_pid_file(dir.path()).is_none());
    }

    #[test]
    fn signalling_nothing_is_not_an_error() {
        assert!(!signal_group(0, Signal::TERM).unwrap());
        assert!(!signal_group(1, Signal::TERM).unwrap());
        assert!(!group_alive(i32::MAX - 1));
    }
}
