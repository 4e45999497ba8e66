//! Crash trials for the append-only file through the real binary: with
//! `appendfsync always` every acknowledged write survives a SIGKILL at a
//! random moment, nothing unsent appears, and a cross-shard MSET or RENAME is
//! never half there (`RINGKV_CRASH_TRIALS` sets the count, `RINGKV_CRASH_SEED`
//! the seed); with `everysec` only the latest writes may be lost; BGREWRITEAOF
//! while writers run keeps every acknowledged write.
//!
//! ringkv only: `RINGKV_TEST_TARGET=redis` skips these. `scripts/crash-trials.sh`
//! runs many more crash trials.

mod common;

use common::aof::*;
use common::persist::*;
use common::{resp, show, target_is_redis};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A small xorshift generator; tests print their seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn seed() -> u64 {
    std::env::var("RINGKV_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| now_ms() ^ (std::process::id() as u64) << 32)
        | 1
}

// ------------------------------------------------- writers with acknowledged-write logs

/// Op `n` of a writer is a cross-shard MSET pair every 4th time, else a single SET.
fn is_pair(n: u64) -> bool {
    n % 4 == 3
}

fn single_key(w: usize, n: u64) -> String {
    format!("w{w}:{n}")
}

/// The two keys of a pair op: with 2 shards `{a}` and `{b}` live on different ones.
fn pair_keys(w: usize, n: u64) -> [String; 2] {
    [format!("{{a}}w{w}:{n}"), format!("{{b}}w{w}:{n}")]
}

fn value(w: usize, n: u64) -> String {
    format!("v{w}.{n}.{}", "x".repeat((n % 23) as usize))
}

fn op_bytes(w: usize, n: u64) -> Vec<u8> {
    let v = value(w, n);
    if is_pair(n) {
        let [a, b] = pair_keys(w, n);
        resp(&["MSET", &a, &v, &b, &v])
    } else {
        resp(&["SET", &single_key(w, n), &v])
    }
}

/// What one writer did: ops `0..sent` were sent (in order), `0..acked` answered +OK.
#[derive(Debug, Default, Clone)]
struct WriterLog {
    sent: u64,
    acked: u64,
    /// An unexpected reply or a stalled server (a closed connection is not an error).
    error: Option<String>,
}

/// Sends writer `w`'s ops in pipelined batches of `depth`, `pause` apart, until
/// `stop` or the connection breaks.
fn run_writer(port: u16, w: usize, depth: u64, pause: Duration, stop: &AtomicBool) -> WriterLog {
    let mut log = WriterLog::default();
    let stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(_) => return log, // the server is already gone
    };
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut replies = BufReader::new(stream);
    let mut line = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        let batch = depth;
        let bytes: Vec<u8> = (log.sent..log.sent + batch)
            .flat_map(|n| op_bytes(w, n))
            .collect();
        log.sent += batch;
        if out.write_all(&bytes).is_err() {
            return log;
        }
        for _ in 0..batch {
            line.clear();
            match replies.read_until(b'\n', &mut line) {
                Ok(_) if line == b"+OK\r\n" => log.acked += 1,
                Ok(_) if !line.ends_with(b"\n") => return log, // closed
                Ok(_) => {
                    log.error = Some(format!("reply {}", show(&line)));
                    return log;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    log.error = Some("no reply within 20 s".to_string());
                    return log;
                }
                Err(_) => return log, // reset
            }
        }
    }
    log
}

/// Starts `n` writers with random pipeline depths 1..=4.
fn spawn_writers(
    port: u16,
    n: usize,
    rng: &mut Rng,
    pause: Duration,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<WriterLog>> {
    (0..n)
        .map(|w| {
            let depth = 1 + rng.below(4);
            let stop = stop.clone();
            std::thread::spawn(move || run_writer(port, w, depth, pause, &stop))
        })
        .collect()
}

fn join_writers(handles: Vec<std::thread::JoinHandle<WriterLog>>) -> Vec<WriterLog> {
    handles
        .into_iter()
        .map(|h| h.join().expect("writer thread"))
        .collect()
}

/// One writer's ops after a restart.
struct Outcome {
    /// Ops whose keys are there (ascending).
    here: Vec<u64>,
    /// Acknowledged ops whose keys are not (ascending).
    missing: Vec<u64>,
}

/// Checks db 0 of a restarted server against the writers' logs: every key is a
/// writer's key holding exactly the value sent, from an op that was sent, with no
/// expiry; no MSET pair is half there. Keys in `extra` must match it exactly.
/// Returns, per writer, the ops present and the acknowledged ops that are missing.
fn check_writes(got: &Dump, logs: &[WriterLog], extra: &Dump) -> Vec<Outcome> {
    for ((db, key), entry) in got {
        if let Some(want) = extra.get(&(*db, key.clone())) {
            assert_eq!(entry, want, "key {}", short(key));
            continue;
        }
        let k =
            String::from_utf8(key.clone()).unwrap_or_else(|_| panic!("garbage key {}", short(key)));
        let (pair, rest) = match k.strip_prefix("{a}").or_else(|| k.strip_prefix("{b}")) {
            Some(rest) => (true, rest),
            None => (false, k.as_str()),
        };
        let parsed = rest
            .strip_prefix('w')
            .and_then(|r| r.split_once(':'))
            .and_then(|(w, n)| Some((w.parse::<usize>().ok()?, n.parse::<u64>().ok()?)));
        let Some((w, n)) = parsed else {
            panic!("db {db}: unexpected key {}", short(key))
        };
        assert_eq!(*db, 0, "writer key {k} in db {db}");
        assert!(w < logs.len(), "key {k} of no writer");
        assert!(
            n < logs[w].sent,
            "key {k} present but writer {w} sent only {} ops",
            logs[w].sent
        );
        assert_eq!(pair, is_pair(n), "key {k} of the wrong op kind");
        assert!(
            entry.0 == value(w, n).as_bytes(),
            "key {k}: value {} was never sent",
            short(&entry.0)
        );
        assert_eq!(entry.1, -1, "key {k} has an expiry");
    }
    let present = |k: &str| got.contains_key(&(0, k.as_bytes().to_vec()));
    logs.iter()
        .enumerate()
        .map(|(w, log)| {
            let (mut here, mut missing) = (Vec::new(), Vec::new());
            for n in 0..log.sent {
                let is_here = if is_pair(n) {
                    let [a, b] = pair_keys(w, n);
                    assert_eq!(
                        present(&a),
                        present(&b),
                        "half an MSET: {a} and {b} (writer {w}: sent {}, acked {})",
                        log.sent,
                        log.acked
                    );
                    present(&a)
                } else {
                    present(&single_key(w, n))
                };
                if is_here {
                    here.push(n);
                } else if n < log.acked {
                    missing.push(n);
                }
            }
            Outcome { here, missing }
        })
        .collect()
}

/// The key a renamer moves between the shards: `{a}mv` after an even number of
/// renames, `{b}mv` after an odd number.
const MOVING: [&str; 2] = ["{a}mv", "{b}mv"];

/// Renames the moving key back and forth, one RENAME at a time (so `sent` is
/// `acked` or `acked + 1`), until `stop` or the connection breaks.
fn run_renamer(port: u16, stop: &AtomicBool) -> WriterLog {
    let mut log = WriterLog::default();
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return log;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut replies = BufReader::new(stream);
    let mut line = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let from = (log.sent % 2) as usize;
        log.sent += 1;
        if out
            .write_all(&resp(&["RENAME", MOVING[from], MOVING[1 - from]]))
            .is_err()
        {
            return log;
        }
        line.clear();
        match replies.read_until(b'\n', &mut line) {
            Ok(_) if line == b"+OK\r\n" => log.acked += 1,
            Ok(_) if !line.ends_with(b"\n") => return log,
            Ok(_) => {
                log.error = Some(format!("RENAME reply {}", show(&line)));
                return log;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                log.error = Some("no RENAME reply within 20 s".to_string());
                return log;
            }
            Err(_) => return log,
        }
    }
    log
}

/// Takes the moving key out of `got` and checks it: exactly one of its two names,
/// its value intact, on the side `renames` acknowledged renames put it (or one
/// further while a RENAME was in flight, or anywhere if `exact` is false).
fn check_moving_key(got: &mut Dump, renames: &WriterLog, exact: bool, trial: u64) {
    let at: Vec<usize> = (0..2)
        .filter(|&i| {
            got.remove(&(0, MOVING[i].as_bytes().to_vec()))
                .is_some_and(|e| {
                    assert_eq!(e, (b"moving".to_vec(), -1), "trial {trial}: {}", MOVING[i]);
                    true
                })
        })
        .collect();
    assert_eq!(
        at.len(),
        1,
        "trial {trial}: the renamed key is at {at:?} after {renames:?}: a cross-shard \
         RENAME was half replayed"
    );
    if exact {
        let sides: Vec<usize> = (renames.acked..=renames.sent)
            .map(|n| (n % 2) as usize)
            .collect();
        assert!(
            sides.contains(&at[0]),
            "trial {trial}: the renamed key is at {} after {renames:?}",
            MOVING[at[0]]
        );
    }
}

/// One crash trial: writers and a renamer against `--threads 2 --appendfsync <fsync>`,
/// SIGKILL after 50-400 ms, restart, check. Then one more write, SIGKILL (SIGTERM
/// unless `always`), restart: the replayed files take appends. Returns (acknowledged
/// ops, per-writer results).
fn crash_trial(trial: u64, rng: &mut Rng, fsync: &str) -> (u64, Vec<Outcome>) {
    let dir = TempDir::new(&format!("crash-{fsync}-{trial}"));
    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", fsync]).start();
    run(&mut server.connection(), &["SET", MOVING[0], "moving"]);
    // On disk before the renames start, under any appendfsync.
    wait_for(
        Duration::from_secs(5),
        "the moving key's SET on disk",
        || {
            aof_manifest(&dir).of_kind('i').any(|f| {
                let bytes = std::fs::read(dir.aof_dir().join(&f.name)).unwrap_or_default();
                bytes.windows(5).any(|w| w == MOVING[0].as_bytes())
            })
        },
    );
    let writers = 2 + rng.below(3) as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let handles = spawn_writers(server.port(), writers, rng, Duration::ZERO, &stop);
    let renamer = {
        let (port, stop) = (server.port(), stop.clone());
        std::thread::spawn(move || run_renamer(port, &stop))
    };
    std::thread::sleep(Duration::from_millis(50 + rng.below(351)));
    kill9(&mut server);
    stop.store(true, Ordering::Relaxed);
    let logs = join_writers(handles);
    let renames = renamer.join().expect("renamer");
    for (w, log) in logs.iter().enumerate() {
        assert!(log.error.is_none(), "trial {trial} writer {w}: {log:?}");
    }
    assert!(
        renames.error.is_none(),
        "trial {trial} renamer: {renames:?}"
    );

    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", fsync]).start();
    let got = dump(server.port());
    let mut writes = got.clone();
    check_moving_key(&mut writes, &renames, fsync == "always", trial);
    eprintln!("trial {trial}: {} renames acknowledged", renames.acked);
    let results = check_writes(&writes, &logs, &Dump::new());

    let mut con = server.connection();
    run(&mut con, &["SET", "after-restart", "1"]);
    drop(con);
    if fsync == "always" {
        kill9(&mut server);
    } else {
        stop_cleanly(&mut server); // only `always` promises the last write survives SIGKILL
    }
    let server = aof_ringkv(dir.path(), 2, &["--appendfsync", fsync]).start();
    let mut want = got.clone();
    want.insert((0, b"after-restart".to_vec()), (b"1".to_vec(), -1));
    assert_same(
        &dump(server.port()),
        &want,
        &format!("trial {trial}: second restart"),
    );
    let acked = logs.iter().map(|l| l.acked).sum();
    (acked, results)
}

fn crash_trial_count() -> u64 {
    std::env::var("RINGKV_CRASH_TRIALS")
        .ok()
        .map(|s| s.parse().expect("RINGKV_CRASH_TRIALS must be a number"))
        .unwrap_or(20)
}

// ---------------------------------------------------------------- tests

#[test]
fn crash_trials_always_fsync_keeps_acknowledged_writes() {
    if target_is_redis() {
        return;
    }
    let trials = crash_trial_count();
    let seed = seed();
    eprintln!("{trials} crash trials, RINGKV_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let mut total_acked = 0;
    for trial in 0..trials {
        let (acked, results) = crash_trial(trial, &mut rng, "always");
        for (w, Outcome { missing, .. }) in results.iter().enumerate() {
            assert!(
                missing.is_empty(),
                "trial {trial} (seed {seed}) writer {w}: acknowledged ops lost with \
                 appendfsync always: {missing:?}"
            );
        }
        let present: usize = results.iter().map(|r| r.here.len()).sum();
        eprintln!("trial {trial}: {acked} acknowledged ops, {present} ops present");
        total_acked += acked;
    }
    assert!(total_acked > 0, "no write was ever acknowledged");
}

#[test]
fn everysec_loses_nothing_acknowledged_to_kill_9() {
    // Under everysec, as in Redis, a reply still waits until its write (and a
    // cross-shard transaction's commit record) reached the kernel; only the
    // fdatasync is deferred. So killing the process loses no acknowledged
    // write (a power loss could lose about a second: not testable here).
    if target_is_redis() {
        return;
    }
    let seed = seed();
    let mut rng = Rng(seed);
    let mut acked_total = 0;
    for trial in 0..3 {
        let (acked, results) = crash_trial(trial, &mut rng, "everysec");
        for (w, Outcome { missing, .. }) in results.iter().enumerate() {
            assert!(
                missing.is_empty(),
                "trial {trial} (seed {seed}) writer {w}: acknowledged writes lost after kill -9 \
                 under everysec: {missing:?}"
            );
        }
        acked_total += acked;
    }
    eprintln!("appendfsync everysec: 0 of {acked_total} acknowledged writes lost after kill -9 (seed {seed})");
}

#[test]
fn bgrewriteaof_while_writing_keeps_every_acknowledged_write() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("rewrite");
    let mut server = aof_ringkv(dir.path(), 2, &[]).start();
    let mut con = server.connection();
    // 1000 keys overwritten 20 times: the log holds 20x what a rewrite needs.
    let mut extra = Dump::new();
    for round in 0..20 {
        let mut p = redis::pipe();
        for i in 0..1000 {
            let v = format!("round-{round}-key-{i}-{}", "p".repeat(60));
            p.cmd("SET").arg(format!("over:{i}")).arg(&v).ignore();
            extra.insert((0, format!("over:{i}").into_bytes()), (v.into_bytes(), -1));
        }
        p.query::<()>(&mut con).unwrap();
    }
    let before = aof_manifest(&dir);
    let aof_dir = dir.aof_dir();
    wait_for(Duration::from_secs(5), "the overwrites on disk", || {
        incr_bytes(&dir, &before) > 20 * 1000 * 80
    });
    let size_before = incr_bytes(&dir, &before);

    let stop_writers = Arc::new(AtomicBool::new(false));
    let mut rng = Rng(seed());
    // Throttled, so that what they write during the rewrite stays small.
    let pause = Duration::from_millis(2);
    let handles = spawn_writers(server.port(), 2, &mut rng, pause, &stop_writers);
    std::thread::sleep(Duration::from_millis(50));
    let r: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    assert_eq!(r, "Background append only file rewriting started");
    wait_for(Duration::from_secs(60), "the rewrite to finish", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(info_field(&mut con, "aof_last_bgrewrite_status"), "ok");
    std::thread::sleep(Duration::from_millis(100));
    stop_writers.store(true, Ordering::Relaxed);
    let logs = join_writers(handles);
    for (w, log) in logs.iter().enumerate() {
        assert!(
            log.error.is_none() && log.acked == log.sent,
            "writer {w}: {log:?}"
        );
    }

    let after = aof_manifest(&dir);
    let old_bases: BTreeSet<_> = before.of_kind('b').map(|f| f.name.clone()).collect();
    assert_eq!(
        after.of_kind('b').count(),
        2,
        "one base per shard: {after:?}"
    );
    for f in after.of_kind('b') {
        assert!(
            !old_bases.contains(&f.name),
            "base {} not rewritten",
            f.name
        );
        check_rdb(&aof_dir.join(&f.name));
        let newest = before.files.iter().map(|f| f.seq).max().unwrap_or(0);
        assert!(f.seq > newest, "new base seq {} <= {newest}", f.seq);
    }
    // The old files are gone, and nothing else is there.
    assert_only_manifest_files(&aof_dir, "appendonly.aof");
    let size_after = incr_bytes(&dir, &after);
    eprintln!(
        "incr files: {size_before} bytes before the rewrite, {size_after} after; writers \
         acknowledged {:?}",
        logs.iter().map(|l| l.acked).collect::<Vec<_>>()
    );
    assert!(
        size_after < size_before / 2,
        "incr files did not shrink: {size_before} -> {size_after}"
    );

    drop(con);
    stop_cleanly(&mut server);
    let server = aof_ringkv(dir.path(), 2, &[]).start();
    let got = dump(server.port());
    let results = check_writes(&got, &logs, &extra);
    for (w, Outcome { missing, .. }) in results.iter().enumerate() {
        assert!(missing.is_empty(), "writer {w} lost {missing:?}");
    }
    for k in extra.keys() {
        assert!(got.contains_key(k), "{} lost", short(&k.1));
    }
}
