//! The chaos suite: armlet killed with `kill -9` during writes, a deployment and a
//! scale-out; instance processes killed and frozen under concurrent flows; the store's disk
//! filling up. Loopback only, seeded, bounded; each test prints its figures and asserts the
//! ones that must be zero. Small by default (CI); large with
//! `ARMLET_CHAOS_ITERATIONS=30 ARMLET_CHAOS_FLOWS=20000 ARMLET_CHAOS_CONCURRENCY=1000
//! ARMLET_CHAOS_EVENTS=30 cargo test --release --test chaos -- --nocapture`
//! (`ARMLET_CHAOS_SEED` replays a run). RELIABILITY.md records both.

mod common;

#[path = "support/chaos_disk.rs"]
mod chaos_disk;
#[path = "support/chaos_flows.rs"]
mod chaos_flows;
#[path = "support/chaos_kill.rs"]
mod chaos_kill;

use armlet::config::ServeConfig;
use common::rng::setting;
use common::*;

/// The scenarios share the machine's two cores: one at a time keeps their timing honest.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn seed() -> u64 {
    setting("ARMLET_CHAOS_SEED", 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_writes_deployments_and_scale_outs_loses_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let iterations = setting("ARMLET_CHAOS_ITERATIONS", 3);
    let f = chaos_kill::run(iterations, seed()).await;
    println!(
        "chaos kill -9: seed {}, iterations {}, writes acknowledged {}, writes lost {}, half-written {}, instances != model {}, orphans {}",
        seed(),
        f.iterations,
        f.acknowledged,
        f.lost.len(),
        f.half_written.len(),
        f.model_mismatches,
        f.orphans
    );
    assert_eq!(f.iterations, iterations);
    assert!(f.acknowledged > iterations * 5, "the writers made progress");
    assert!(f.lost.is_empty(), "acknowledged writes lost: {:?}", f.lost);
    assert!(
        f.half_written.is_empty(),
        "half-written: {:?}",
        f.half_written
    );
    assert_eq!(
        f.model_mismatches, 0,
        "running instances differ from the stored model"
    );
    assert_eq!(f.orphans, 0, "processes outlived their armlet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_instances_fail_only_their_own_flows() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path().to_path_buf());
    config.time_scale = chaos_flows::TIME_SCALE;
    let t = TestArmlet::start_with(config, dir).await;
    let flows = setting("ARMLET_CHAOS_FLOWS", 600);
    let concurrency = setting("ARMLET_CHAOS_CONCURRENCY", 50) as usize;
    let events = setting("ARMLET_CHAOS_EVENTS", 4);
    let f = chaos_flows::run(&t, flows, concurrency, events, seed()).await;
    println!(
        "chaos flows: seed {}, flows {}, concurrency {concurrency}, chaos events {}, failed {} (all within a detection window: {}), misrouted {}",
        seed(),
        f.flows,
        f.events,
        f.failed,
        f.unexplained == 0,
        f.misrouted
    );
    t.stop().await;
    assert_eq!(f.flows, flows);
    assert!(f.events >= 1, "the chaos ran");
    assert_eq!(
        f.unexplained, 0,
        "flows failed outside any detection window"
    );
    assert_eq!(
        f.misrouted, 0,
        "flows answered by another load balancer's instances"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_retryably_and_recovers() {
    let _one = ONE_AT_A_TIME.lock().await;
    let f = chaos_disk::run(setting("ARMLET_CHAOS_DISK_WRITES", 10)).await;
    println!(
        "chaos disk full ({}): writes acknowledged {}, refused while full {}, 5xx {}, lost {}, recovered {}",
        f.how, f.acknowledged, f.refused_while_full, f.server_errors, f.lost, f.recovered
    );
    assert!(f.refused_while_full > 0, "the full disk refused writes");
    assert_eq!(f.server_errors, 0, "no 5xx while the disk is full");
    assert_eq!(f.lost, 0, "acknowledged writes lost");
    assert!(f.recovered, "writes succeed again once space returns");
}
