//! The runtime through the real binary: executors that share a CPU run as
//! SCHED_BATCH (no wake-up preemption between them), the others keep the normal
//! policy. ringkv only (`RINGKV_TEST_TARGET=redis` skips it).

mod common;

use common::{target_is_redis, TestServer};

const SCHED_BATCH: u32 = 3;

/// The scheduling policy of every thread of process `pid` (field 41 of
/// /proc/<pid>/task/<tid>/stat, counted after the parenthesised name).
fn thread_policies(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("list threads");
    tasks
        .map(|t| {
            let stat =
                std::fs::read_to_string(t.expect("thread").path().join("stat")).expect("read stat");
            let after_name = &stat[stat.rfind(')').expect("name") + 2..];
            // after_name starts at field 3 (state); policy is field 41.
            after_name
                .split(' ')
                .nth(41 - 3)
                .expect("policy field")
                .parse()
                .expect("policy")
        })
        .collect()
}

fn batch_threads(threads: usize) -> usize {
    let server = TestServer::start(threads);
    thread_policies(server.pid())
        .into_iter()
        .filter(|&p| p == SCHED_BATCH)
        .count()
}

#[test]
fn executors_sharing_a_cpu_run_as_sched_batch() {
    if target_is_redis() {
        return;
    }
    // Executors are pinned round-robin over the CPUs this process may use.
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(batch_threads(cpus), 0, "one executor per CPU");
    // One more executor than CPUs: executors 0 and `cpus` share the first CPU
    // (threads they start later inherit the policy, hence at least).
    let shared = batch_threads(cpus + 1);
    assert!(
        shared >= 2,
        "two executors on one CPU: {shared} SCHED_BATCH threads"
    );
}
