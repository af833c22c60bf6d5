//! Tests of [`super`]: `/proc` parsing, the normalisation, and real process groups.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::*;
use crate::model::vm_size::{self, VmSize};

const STAT: &str = "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 1 0 12345 1000000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

#[test]
fn stat_lines_give_pid_group_and_cpu_ticks() {
    let s = parse_stat(STAT).unwrap();
    assert_eq!((s.pid, s.pgrp), (4242, 4242));
    assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (250, 50, 30, 20));
    assert_eq!(s.ticks(), 350);
    assert!(parse_stat("4242 (truncated) S 1 2").is_none());
    assert!(parse_stat("garbage").is_none());
}

#[test]
fn negative_child_times_read_as_zero() {
    let line = STAT.replace(" 30 20 20 0 1", " -5 -1 20 0 1");
    let s = parse_stat(&line).unwrap();
    assert_eq!((s.cutime, s.cstime), (0, 0));
}

#[test]
fn status_gives_rss_in_bytes() {
    let status = "Name:\tapp\nVmPeak:\t  10000 kB\nVmRSS:\t    2048 kB\nThreads:\t1\n";
    assert_eq!(parse_status_rss(status), Some(2048 * 1024));
    assert_eq!(
        parse_status_rss("Name:\tzombie\nState:\tZ (zombie)\n"),
        None
    );
}

#[test]
fn io_gives_storage_bytes() {
    let io = "rchar: 5000\nwchar: 6000\nsyscr: 10\nsyscw: 12\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
    assert_eq!(
        parse_io(io),
        Some(DiskBytes {
            read: 4096,
            write: 8192
        })
    );
    assert_eq!(parse_io("rchar: 5\n"), None);
}

fn write_proc(root: &Path, pid: i32, pgrp: i32, utime: u64, rss_kb: u64, io: Option<(u64, u64)>) {
    let dir = root.join(pid.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let stat = format!("{pid} (p) S 1 {pgrp} {pgrp} 0 -1 0 0 0 0 0 {utime} 0 0 0 20 0 1 0 1 0 0");
    std::fs::write(dir.join("stat"), stat).unwrap();
    std::fs::write(dir.join("status"), format!("VmRSS:\t{rss_kb} kB\n")).unwrap();
    if let Some((r, w)) = io {
        std::fs::write(
            dir.join("io"),
            format!("read_bytes: {r}\nwrite_bytes: {w}\n"),
        )
        .unwrap();
    }
}

#[test]
fn groups_sum_their_members_in_one_pass() {
    let root = tempfile::tempdir().unwrap();
    write_proc(root.path(), 10, 10, 100, 1000, Some((1, 2)));
    write_proc(root.path(), 11, 10, 50, 24, Some((10, 20)));
    write_proc(root.path(), 20, 20, 7, 1, None); // io unreadable
    write_proc(root.path(), 30, 30, 999, 1, Some((0, 0))); // another group
    std::fs::create_dir_all(root.path().join("self")).unwrap();
    let got = sample_groups_in(root.path(), &[10, 20, 40]).unwrap();
    let ten = got[&10];
    assert_eq!(
        (ten.cpu_seconds, ten.rss_bytes, ten.processes),
        (1.5, 1024 * 1024, 2)
    );
    assert_eq!(
        ten.disk,
        Some(DiskBytes {
            read: 11,
            write: 22
        })
    );
    assert_eq!(got[&20].disk, None);
    assert!(!got.contains_key(&30) && !got.contains_key(&40));
}

fn reading(cpu_seconds: f64, rss_bytes: u64, disk: Option<(u64, u64)>) -> GroupUsage {
    GroupUsage {
        cpu_seconds,
        rss_bytes,
        disk: disk.map(|(read, write)| DiskBytes { read, write }),
        processes: 1,
    }
}

#[test]
fn cpu_is_a_share_of_the_sizes_vcpus() {
    let b2s = vm_size::lookup("Standard_B2s").unwrap();
    let u = vm_usage(
        &reading(10.0, 0, None),
        &reading(11.0, 0, None),
        1.0,
        b2s,
        8,
    )
    .unwrap();
    assert_eq!(u.percentage_cpu, 50.0); // one of two vCPUs busy
    let u = vm_usage(
        &reading(10.0, 0, None),
        &reading(12.0, 0, None),
        1.0,
        b2s,
        8,
    )
    .unwrap();
    assert_eq!(u.percentage_cpu, 100.0);
}

#[test]
fn a_host_with_fewer_cores_than_the_size_caps_the_divisor() {
    let d8 = vm_size::lookup("Standard_D8s_v3").unwrap();
    // Both host cores busy for 2 s: the instance used everything it could.
    let u = vm_usage(&reading(0.0, 0, None), &reading(4.0, 0, None), 2.0, d8, 2).unwrap();
    assert_eq!(u.percentage_cpu, 100.0);
    let u = vm_usage(&reading(0.0, 0, None), &reading(1.0, 0, None), 2.0, d8, 2).unwrap();
    assert_eq!(u.percentage_cpu, 25.0);
}

#[test]
fn memory_disk_and_odd_readings() {
    let size = VmSize {
        name: "t",
        vcpus: 1,
        memory_gib: 1.0,
    };
    let u = vm_usage(
        &reading(5.0, 0, Some((100, 100))),
        &reading(4.0, 1 << 20, Some((612, 100))),
        1.0,
        &size,
        4,
    )
    .unwrap();
    assert_eq!(u.percentage_cpu, 0.0); // the group's total shrank: no CPU, not negative
    assert_eq!(u.available_memory_bytes, ((1u64 << 30) - (1 << 20)) as f64);
    assert_eq!(
        (u.disk_read_bytes, u.disk_write_bytes),
        (Some(512.0), Some(0.0))
    );
    let over = vm_usage(
        &reading(0.0, 0, None),
        &reading(0.0, 2 << 30, Some((1, 1))),
        1.0,
        &size,
        4,
    )
    .unwrap();
    assert_eq!(
        (over.available_memory_bytes, over.disk_read_bytes),
        (0.0, None)
    );
    assert!(
        vm_usage(
            &reading(0.0, 0, None),
            &reading(1.0, 0, None),
            0.0,
            &size,
            4
        )
        .is_none()
    );
}

/// A shell in its own process group, killed (by its own pid and group) when dropped.
struct Group(Child);

impl Group {
    fn spawn(script: &str) -> Group {
        Group(
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .process_group(0)
                .spawn()
                .unwrap(),
        )
    }

    fn pgid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process_group(
            rustix::process::Pid::from_raw(self.pgid()).unwrap(),
            rustix::process::Signal::KILL,
        );
        let _ = self.0.wait();
    }
}

/// The kernel's own count of a process's time on a CPU (`/proc/<pid>/schedstat`, in ns),
/// independent of the tick counters the sampler reads.
fn schedstat_seconds(pid: i32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap();
    text.split_whitespace()
        .next()
        .unwrap()
        .parse::<f64>()
        .unwrap()
        / 1e9
}

#[test]
fn the_sampler_measures_a_busy_process() {
    let busy = Group::spawn("while :; do :; done");
    let pid = busy.pgid();
    let (before, on_cpu_before, started) = (
        sample_group(pid).unwrap(),
        schedstat_seconds(pid),
        Instant::now(),
    );
    // The machine is shared: wait for half a CPU-second rather than for a fixed time.
    let deadline = started + Duration::from_secs(60);
    let after = loop {
        std::thread::sleep(Duration::from_millis(100));
        let u = sample_group(pid).unwrap();
        if u.cpu_seconds - before.cpu_seconds >= 0.5 {
            break u;
        }
        assert!(
            Instant::now() < deadline,
            "a spinning shell got no CPU: {u:?}"
        );
    };
    let (on_cpu, elapsed) = (
        schedstat_seconds(pid) - on_cpu_before,
        started.elapsed().as_secs_f64(),
    );
    let used = after.cpu_seconds - before.cpu_seconds;
    // Ticks are 10 ms; the two reads are a moment apart.
    assert!(
        (used - on_cpu).abs() < 0.1,
        "sampler {used} s, kernel {on_cpu} s"
    );
    assert!(after.rss_bytes > 0);
    let b1s = vm_size::lookup("Standard_B1s").unwrap();
    let u = vm_usage(&before, &after, elapsed, b1s, 2).unwrap();
    let expected = 100.0 * used / elapsed;
    assert!(
        (u.percentage_cpu - expected).abs() < 1e-9 && u.percentage_cpu > 0.0,
        "{u:?}"
    );
    assert!(u.available_memory_bytes < b1s.memory_bytes() as f64);
}

#[test]
fn time_of_children_reaped_in_the_group_is_kept() {
    // The child burns CPU and exits; the leader reaps it, then only sleeps.
    let group =
        Group::spawn("sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'; exec sleep 30");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let u = sample_group(group.pgid()).unwrap();
        if u.processes == 1 && u.cpu_seconds >= 0.1 {
            break; // one process left (the sleep), still carrying the child's time
        }
        assert!(
            Instant::now() < deadline,
            "child time never showed up: {u:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_group_without_processes_is_not_found() {
    let mut gone = Command::new("true").process_group(0).spawn().unwrap();
    let pgid = gone.id() as i32;
    gone.wait().unwrap();
    assert_eq!(
        sample_group(pgid).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}
