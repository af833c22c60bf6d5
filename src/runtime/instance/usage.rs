//! What an instance's process group uses, read from `/proc`, and the VM metrics computed
//! from two readings: `Percentage CPU`, `Available Memory Bytes`, `Disk Read/Write Bytes`.
//!
//! A reading sums over every process whose process group is the instance's (zombies too):
//!
//! - **CPU**: `utime + stime + cutime + cstime` of `/proc/<pid>/stat`, in clock ticks
//!   (`USER_HZ`, fixed at 100 by the kernel ABI). A child that exits and is reaped inside the
//!   group moves its time into its reaper's `cutime`/`cstime`, so the group total keeps
//!   growing across short-lived children (a shell loop running commands). Time of a process
//!   reaped *outside* the group (an orphan adopted by init) or of one that left the group
//!   (`setsid`) is not counted; a total that shrinks for that reason reads as no CPU.
//! - **Memory**: `VmRSS` of `/proc/<pid>/status` (shared pages count once per process).
//! - **Disk**: `read_bytes`/`write_bytes` of `/proc/<pid>/io`: bytes that reached the storage
//!   layer (page-cache hits are not reads), exited children included as for CPU. The file
//!   needs ptrace rights over the process; when a member's is unreadable the reading has no
//!   disk figures at all rather than a wrong sum.
//!
//! Normalisation: Azure reports `Percentage CPU` as the share of the VM's vCPUs in use, so
//! 100 % is every vCPU busy. An instance runs on this host's cores, so it can use at most
//! `min(vCPUs of its size, host cores)` of them: armlet divides by that, so a saturated
//! instance reads 100 % even when the host has fewer cores than the size claims (a
//! `Standard_D8s_v3` on a 2-core machine with both cores busy shows 100 %, not 25 %).
//! CPU seconds and elapsed seconds are both real time, so the clock's time scale cancels out.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use crate::model::vm_size::VmSize;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`).
pub const USER_HZ: f64 = 100.0;

/// The CPU fields of `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatCpu {
    pub pid: i32,
    pub pgrp: i32,
    /// The process's own user and system time, in ticks.
    pub utime: u64,
    pub stime: u64,
    /// User and system time of its exited, reaped children, in ticks.
    pub cutime: u64,
    pub cstime: u64,
}

impl StatCpu {
    pub fn ticks(&self) -> u64 {
        self.utime + self.stime + self.cutime + self.cstime
    }
}

/// Parses a `/proc/<pid>/stat` line; fields are counted from the last `)` because the
/// command name may hold spaces and parentheses.
pub fn parse_stat(line: &str) -> Option<StatCpu> {
    let (head, rest) = line.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); field N is f[N - 3]. cutime/cstime are signed in the ABI.
    let signed = |i: usize| -> Option<u64> { Some(f.get(i)?.parse::<i64>().ok()?.max(0) as u64) };
    Some(StatCpu {
        pid,
        pgrp: f.get(2)?.parse().ok()?,
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
        cutime: signed(13)?,
        cstime: signed(14)?,
    })
}

/// `VmRSS` of `/proc/<pid>/status`, in bytes; `None` where there is none (zombies).
pub fn parse_status_rss(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value * 1024),
        _ => None,
    }
}

/// Storage bytes of `/proc/<pid>/io`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskBytes {
    pub read: u64,
    pub write: u64,
}

/// Parses `/proc/<pid>/io` (`read_bytes: N` and `write_bytes: N` lines).
pub fn parse_io(text: &str) -> Option<DiskBytes> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some(DiskBytes {
        read: field("read_bytes")?,
        write: field("write_bytes")?,
    })
}

/// One reading of a process group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupUsage {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    /// `None` when some member's `/proc/<pid>/io` could not be read.
    pub disk: Option<DiskBytes>,
    pub processes: usize,
}

/// Reads every group of `pgids` in one pass over `proc_root` (normally `/proc`). Groups with
/// no process are absent from the answer. Processes that exit during the pass are skipped.
pub fn sample_groups_in(proc_root: &Path, pgids: &[i32]) -> io::Result<HashMap<i32, GroupUsage>> {
    let mut out: HashMap<i32, GroupUsage> = HashMap::new();
    for entry in std::fs::read_dir(proc_root)? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let dir = proc_root.join(pid.to_string());
        let Some(stat) = std::fs::read_to_string(dir.join("stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        else {
            continue;
        };
        if !pgids.contains(&stat.pgrp) {
            continue;
        }
        let rss = std::fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|s| parse_status_rss(&s))
            .unwrap_or(0);
        // Unreadable (no ptrace rights, no I/O accounting in the kernel, or the process
        // exited just now): this reading has no disk figures.
        let disk = std::fs::read_to_string(dir.join("io"))
            .ok()
            .and_then(|s| parse_io(&s));
        let g = out.entry(stat.pgrp).or_insert(GroupUsage {
            cpu_seconds: 0.0,
            rss_bytes: 0,
            disk: Some(DiskBytes::default()),
            processes: 0,
        });
        g.cpu_seconds += stat.ticks() as f64 / USER_HZ;
        g.rss_bytes += rss;
        g.disk = match (g.disk, disk) {
            (Some(a), Some(b)) => Some(DiskBytes {
                read: a.read + b.read,
                write: a.write + b.write,
            }),
            _ => None,
        };
        g.processes += 1;
    }
    Ok(out)
}

/// Reads one process group from `/proc`; `NotFound` when it has no process.
pub fn sample_group(pgid: i32) -> io::Result<GroupUsage> {
    sample_groups_in(Path::new("/proc"), &[pgid])?
        .remove(&pgid)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no process in group {pgid}"),
            )
        })
}

/// The VM metrics of one interval between two readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmUsage {
    /// `Percentage CPU`, 0–100 (see the module docs for the normalisation).
    pub percentage_cpu: f64,
    /// `Available Memory Bytes`: the size's memory minus the group's RSS, at least 0.
    pub available_memory_bytes: f64,
    /// `Disk Read Bytes` / `Disk Write Bytes` of the interval, when both readings have them.
    pub disk_read_bytes: Option<f64>,
    pub disk_write_bytes: Option<f64>,
}

/// Turns two readings `elapsed_real_secs` apart into the interval's VM metrics, for an
/// instance of `size` on a host with `host_cores` cores. `None` if no time passed.
pub fn vm_usage(
    before: &GroupUsage,
    after: &GroupUsage,
    elapsed_real_secs: f64,
    size: &VmSize,
    host_cores: usize,
) -> Option<VmUsage> {
    // Also refuses NaN.
    if elapsed_real_secs.is_nan() || elapsed_real_secs <= 0.0 {
        return None;
    }
    let cores = size.vcpus.min(host_cores.max(1) as u32).max(1) as f64;
    let cpu = (after.cpu_seconds - before.cpu_seconds).max(0.0);
    let percentage_cpu = (100.0 * cpu / (elapsed_real_secs * cores)).clamp(0.0, 100.0);
    let available = size.memory_bytes().saturating_sub(after.rss_bytes) as f64;
    let disk = match (before.disk, after.disk) {
        (Some(b), Some(a)) => Some((
            a.read.saturating_sub(b.read) as f64,
            a.write.saturating_sub(b.write) as f64,
        )),
        _ => None,
    };
    Some(VmUsage {
        percentage_cpu,
        available_memory_bytes: available,
        disk_read_bytes: disk.map(|d| d.0),
        disk_write_bytes: disk.map(|d| d.1),
    })
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
