//! The append-only file through the real binary (`--appendonly yes`): the per-shard
//! layout under `<dir>/<appenddirname>/` (manifest, `.base.rdb` and `.incr.aof`
//! files); replay after `kill -9` of every kind of write (string commands, expiry,
//! cross-shard MSET / RENAME / COPY, MULTI/EXEC, FLUSHDB, FLUSHALL, SWAPDB, several
//! dbs), also into another `--threads`; crash trials with `appendfsync always` (every
//! acknowledged write survives a SIGKILL at a random moment, nothing unsent appears,
//! a cross-shard MSET or RENAME is never half there; `RINGKV_CRASH_TRIALS` sets the
//! count, `RINGKV_CRASH_SEED` the seed) and with `everysec` (only the latest writes
//! may be lost); a torn last record is trimmed with a warning while corruption in the
//! middle stops start-up naming file and offset; BGREWRITEAOF while writers run, and
//! the automatic rewrite after growth.
//!
//! ringkv only: `RINGKV_TEST_TARGET=redis` skips these. Every server gets its own
//! temporary `--dir` (kept on failure for inspection); servers are killed on drop.
//! `scripts/crash-trials.sh` runs many more crash trials.

mod common;

use common::persist::*;

use common::{resp, show, target_is_redis, TestServer};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- helpers

/// ringkv with `appendfsync always`.
fn start_always(dir: &Path, threads: usize) -> TestServer {
    aof_ringkv(dir, threads, &["--appendfsync", "always"]).start()
}

/// SIGTERM and a clean exit (the AOF is flushed; no snapshot: `--save ""`).
fn stop_cleanly(server: &mut TestServer) {
    server.signal(libc::SIGTERM);
    let status = server
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("still running 60 s after SIGTERM\n{}", server.log()));
    assert!(status.success(), "exit {status}\n{}", server.log());
}

/// One `file` line of the AOF manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct AofFile {
    name: String,
    seq: u64,
    /// 'b' (base, RDB) or 'i' (incremental, RESP).
    kind: char,
    shard: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct AofManifest {
    shards: usize,
    files: Vec<AofFile>,
}

impl AofManifest {
    fn names(&self) -> BTreeSet<String> {
        self.files.iter().map(|f| f.name.clone()).collect()
    }

    fn of_kind(&self, kind: char) -> impl Iterator<Item = &AofFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }
}

/// Reads and checks `<aof_dir>/<appendfilename>.manifest`.
fn read_aof_manifest(aof_dir: &Path, appendfilename: &str) -> AofManifest {
    let path = aof_dir.join(format!("{appendfilename}.manifest"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let bad = |why: &str| -> ! { panic!("AOF manifest: {why}:\n{text}") };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let shards = match lines
        .next()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
    {
        Some(v) if v.len() == 2 && v[0] == "shards" => {
            v[1].parse().unwrap_or_else(|_| bad("shards"))
        }
        _ => bad("first line is not `shards <n>`"),
    };
    let mut files = Vec::new();
    for l in lines {
        let f = match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["file", name, "seq", seq, "type", kind, "shard", shard]
                if kind == "b" || kind == "i" =>
            {
                AofFile {
                    name: name.to_string(),
                    seq: seq.parse().unwrap_or_else(|_| bad("seq")),
                    kind: kind.chars().next().unwrap(),
                    shard: shard.parse().unwrap_or_else(|_| bad("shard")),
                }
            }
            _ => bad("malformed file line"),
        };
        let want_name = match f.kind {
            'b' => format!("{appendfilename}.{}.s{}.base.rdb", f.seq, f.shard),
            _ => format!("{appendfilename}.{}.s{}.incr.aof", f.seq, f.shard),
        };
        assert_eq!(f.name, want_name, "file name in the AOF manifest:\n{text}");
        assert!(f.shard < shards, "shard out of range:\n{text}");
        files.push(f);
    }
    for s in 0..shards {
        let bases = files
            .iter()
            .filter(|f| f.shard == s && f.kind == 'b')
            .count();
        assert!(bases <= 1, "shard {s} has {bases} base files:\n{text}");
    }
    AofManifest { shards, files }
}

fn aof_manifest(dir: &TempDir) -> AofManifest {
    read_aof_manifest(&dir.aof_dir(), "appendonly.aof")
}

/// Asserts that the AOF dir holds exactly the manifest and the files it names,
/// waiting up to 5 s (files replaced by a rewrite may be removed in the background).
fn assert_only_manifest_files(aof_dir: &Path, appendfilename: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut want = read_aof_manifest(aof_dir, appendfilename).names();
        want.insert(format!("{appendfilename}.manifest"));
        let got = file_names(aof_dir);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: files the manifest does not name: {:?}; named but missing: {:?}",
            aof_dir.display(),
            got.difference(&want).collect::<Vec<_>>(),
            want.difference(&got).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

/// Total size of the incr files the manifest names.
fn incr_bytes(dir: &TempDir, m: &AofManifest) -> u64 {
    m.of_kind('i')
        .map(|f| file_size(&dir.aof_dir().join(&f.name)))
        .sum()
}

/// The incr file holding the most bytes.
fn largest_incr(dir: &TempDir) -> (String, PathBuf) {
    let m = aof_manifest(dir);
    let f = m
        .of_kind('i')
        .max_by_key(|f| file_size(&dir.aof_dir().join(&f.name)))
        .expect("an incr file");
    (f.name.clone(), dir.aof_dir().join(&f.name))
}

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
fn aof_files_follow_the_manifest_layout() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("layout");
    let server = aof_ringkv(
        dir.path(),
        2,
        &["--appenddirname", "aofs", "--appendfilename", "log.aof"],
    )
    .start();
    let mut con = server.connection();
    assert_eq!(info_field(&mut con, "aof_enabled"), "1");
    for i in 0..500 {
        run(&mut con, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    let aof_dir = dir.path().join("aofs");
    let m = read_aof_manifest(&aof_dir, "log.aof");
    assert_eq!(m.shards, 2, "{m:?}");
    for s in 0..2 {
        assert!(
            m.files.iter().any(|f| f.shard == s && f.kind == 'i'),
            "shard {s} has no incr file: {m:?}"
        );
    }

    let r: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    assert_eq!(r, "Background append only file rewriting started");
    wait_for(Duration::from_secs(30), "the rewrite", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(info_field(&mut con, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info_field(&mut con, "aof_last_write_status"), "ok");
    let m = read_aof_manifest(&aof_dir, "log.aof");
    assert_eq!(m.of_kind('b').count(), 2, "one base per shard: {m:?}");
    for f in m.of_kind('b') {
        check_rdb(&aof_dir.join(&f.name));
    }

    // A write after the rewrite shows up as RESP in an incr file.
    run(
        &mut con,
        &["SET", "after-rewrite-key", "after-rewrite-value"],
    );
    wait_for(Duration::from_secs(5), "the write in an incr file", || {
        let m = read_aof_manifest(&aof_dir, "log.aof");
        let found = m.of_kind('i').any(|f| {
            let bytes = std::fs::read(aof_dir.join(&f.name)).unwrap_or_default();
            bytes.windows(17).any(|w| w == b"after-rewrite-key")
        });
        found
    });
    assert_only_manifest_files(&aof_dir, "log.aof");
    assert!(
        !dir.path().join("appendonlydir").exists(),
        "--appenddirname ignored"
    );
}

#[test]
fn always_replays_every_write_kind_after_kill_9() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("kinds");
    let mut server = start_always(dir.path(), 2);
    let mut con = server.connection();
    let far = (now_ms() + DAY_MS).to_string();
    run(&mut con, &["SET", "junk", "x"]);
    select(&mut con, 7);
    run(&mut con, &["SET", "junk7", "x"]);
    run(&mut con, &["FLUSHALL"]);
    select(&mut con, 0);
    for args in [
        &["SET", "s", "hello"][..],
        &["APPEND", "s", " world"],
        &["APPEND", "appended", "abc"],
        &["SET", "n", "10"],
        &["INCR", "n"],
        &["INCRBY", "n", "5"],
        &["DECR", "n"],
        &["DECRBY", "n", "3"],
        &["INCR", "fresh-counter"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["INCRBYFLOAT", "f", "0.1"],
        &["INCRBYFLOAT", "f", "1e3"],
        &["SET", "r", "Hello World"],
        &["SETRANGE", "r", "6", "Redis"],
        &["SETRANGE", "padded", "5", "x"],
        &["SET", "d1", "x"],
        &["DEL", "d1"],
        &["SET", "d2", "x"],
        &["SET", "{a}d3", "x"],
        &["DEL", "d2", "{a}d3", "{b}never"],
        &["SET", "{a}g", "x"],
        &["GETDEL", "{a}g"],
        &["SET", "u", "x"],
        &["UNLINK", "u"],
        &["GETSET", "gs", "new"],
        &["SETNX", "nx", "1"],
        &["SETNX", "nx", "2"],
        &["SET", "e-ex", "v", "EX", "1000"],
        &["SET", "e-px", "v", "PX", "2000000"],
        &["SETEX", "e-setex", "500", "v"],
        &["PSETEX", "e-psetex", "900000", "v"],
        &["SET", "e-expire", "v"],
        &["EXPIRE", "e-expire", "700"],
        &["SET", "e-persist", "v"],
        &["EXPIRE", "e-persist", "100"],
        &["PERSIST", "e-persist"],
        &["SET", "e-at", "v"],
        &["PEXPIREAT", "e-at", &far],
        &["SET", "e-getex", "v"],
        &["GETEX", "e-getex", "EX", "300"],
        &["SET", "e-getex-persist", "v", "EX", "100"],
        &["GETEX", "e-getex-persist", "PERSIST"],
        &["SET", "e-keepttl", "v", "EX", "100"],
        &["SET", "e-keepttl", "v2", "KEEPTTL"],
        &["SET", "e-short", "v", "PX", "150"],
        &["SET", "e-float", "1.5", "EX", "1000"],
        &["INCRBYFLOAT", "e-float", "1"],
        &["MSET", "{a}m", "1", "{b}m", "2", "plain-m", "3"],
        &["MSETNX", "{a}mx", "1", "{b}mx", "2"],
        &["SET", "{a}src", "moved", "EX", "5000"],
        &["RENAME", "{a}src", "{b}dst"],
        &["SET", "{a}rn", "1"],
        &["RENAMENX", "{a}rn", "{b}rn2"],
        &["SET", "{b}c1", "copied"],
        &["COPY", "{b}c1", "{a}c2"],
        &["COPY", "{b}c1", "c3", "DB", "4"],
    ] {
        run(&mut con, args);
    }
    select(&mut con, 1);
    run(&mut con, &["SET", "a", "1"]);
    run(&mut con, &["SET", "{b}b", "2"]);
    run(&mut con, &["FLUSHDB"]);
    run(&mut con, &["SET", "after-flushdb", "yes"]);
    select(&mut con, 0);
    run(&mut con, &["MULTI"]);
    run(&mut con, &["SET", "tx1", "1"]);
    run(&mut con, &["INCR", "tx1"]);
    run(&mut con, &["SET", "{b}tx2", "2"]);
    run(&mut con, &["DEL", "{a}m"]);
    run(&mut con, &["EXEC"]);
    select(&mut con, 5);
    run(&mut con, &["MULTI"]);
    run(&mut con, &["SET", "{a}t5", "x", "PXAT", &far]);
    run(&mut con, &["SET", "{b}t5", "y"]);
    run(&mut con, &["EXEC"]);
    select(&mut con, 0);
    wait_for(Duration::from_secs(5), "e-short to expire", || {
        let v: Option<String> = redis::cmd("GET").arg("e-short").query(&mut con).unwrap();
        v.is_none()
    });

    let want = dump(server.port());
    // Spot checks that the writes did what they should before comparing replays.
    let get = |db: u32, k: &str| want.get(&(db, k.as_bytes().to_vec())).map(|e| e.0.clone());
    assert_eq!(get(0, "s").as_deref(), Some(&b"hello world"[..]));
    assert_eq!(get(0, "n").as_deref(), Some(&b"12"[..]));
    assert!(get(0, "f").unwrap().starts_with(b"1001.")); // 1001.59999999999999998
    assert_eq!(get(0, "e-float").as_deref(), Some(&b"2.5"[..]));
    assert!(
        want[&(0, b"e-float".to_vec())].1 > 0,
        "INCRBYFLOAT kept the TTL"
    );
    assert_eq!(get(0, "padded").as_deref(), Some(&b"\0\0\0\0\0x"[..]));
    assert_eq!(get(0, "{b}dst").as_deref(), Some(&b"moved"[..]));
    assert_eq!(get(4, "c3").as_deref(), Some(&b"copied"[..]));
    assert_eq!(get(1, "after-flushdb").as_deref(), Some(&b"yes"[..]));
    assert_eq!(get(0, "e-short"), None);
    assert_eq!(get(0, "junk"), None);
    assert!(
        want[&(0, b"e-keepttl".to_vec())].1 > 0,
        "KEEPTTL kept the TTL"
    );
    assert_eq!(want.keys().filter(|k| k.0 == 1).count(), 1);

    drop(con);
    kill9(&mut server);
    let mut server = start_always(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "replay after kill -9");

    // The replayed AOF takes further writes.
    let mut con = server.connection();
    run(&mut con, &["SET", "after-restart", "1"]);
    run(&mut con, &["DEL", "n"]);
    drop(con);
    kill9(&mut server);
    let server = start_always(dir.path(), 2);
    let mut want2 = want.clone();
    want2.insert((0, b"after-restart".to_vec()), (b"1".to_vec(), -1));
    want2.remove(&(0, b"n".to_vec()));
    assert_same(&dump(server.port()), &want2, "second replay");
}

#[test]
fn swapdb_is_replayed() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("swapdb");
    let mut server = start_always(dir.path(), 2);
    let mut con = server.connection();
    select(&mut con, 2);
    run(&mut con, &["SET", "in2", "two"]);
    run(&mut con, &["SET", "{a}in2", "two-a"]);
    select(&mut con, 3);
    run(&mut con, &["SET", "in3", "three"]);
    run(&mut con, &["SWAPDB", "2", "3"]);
    run(&mut con, &["SET", "after-swap", "in db 3"]);
    let want = dump(server.port());
    assert!(want.contains_key(&(3, b"in2".to_vec())), "{want:?}");
    assert!(want.contains_key(&(2, b"in3".to_vec())), "{want:?}");
    drop(con);
    kill9(&mut server);
    let server = start_always(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "SWAPDB replayed");
}

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
fn a_transaction_missing_a_part_is_not_replayed_at_all() {
    // What a power loss can leave under everysec: one shard's file lost its
    // tail (its part of a cross-shard MSET and its commit record) while the
    // other shard's file kept both. Replay must drop the whole transaction.
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("lost-part");
    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", "everysec"]).start();
    let mut con = server.connection();
    run(&mut con, &["SET", "{a}x", "old"]);
    run(&mut con, &["SET", "{b}x", "old"]);
    run(&mut con, &["MSET", "{a}x", "new", "{b}x", "new"]);
    drop(con);
    stop_cleanly(&mut server);
    // Cut the tail of the incr file holding {b}x's new value at its group.
    let m = aof_manifest(&dir);
    let mut cut = 0;
    for f in m.of_kind('i') {
        let path = dir.aof_dir().join(&f.name);
        let bytes = std::fs::read(&path).unwrap();
        let holds_b = bytes.windows(4).any(|w| w == b"{b}x");
        let group = bytes.windows(4).rposition(|w| w == b"#TX ");
        if let (true, Some(at)) = (holds_b, group) {
            std::fs::write(&path, &bytes[..at]).unwrap();
            cut += 1;
        }
    }
    assert_eq!(cut, 1, "exactly one file holds {{b}}x's part");
    let server = aof_ringkv(dir.path(), 2, &[]).start();
    let mut con = server.connection();
    let got: (String, String) = redis::cmd("MGET")
        .arg("{a}x")
        .arg("{b}x")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        got,
        ("old".to_string(), "old".to_string()),
        "half an MSET replayed"
    );
}

#[test]
fn torn_tail_is_trimmed_and_mid_file_corruption_stops_startup() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("torn");
    let mut server = start_always(dir.path(), 2);
    let mut con = server.connection();
    for i in 0..300 {
        run(&mut con, &["SET", &format!("k:{i}"), &format!("value-{i}")]);
        if i % 10 == 0 {
            run(
                &mut con,
                &[
                    "MSET",
                    &format!("{{a}}p{i}"),
                    "pa",
                    &format!("{{b}}p{i}"),
                    "pb",
                ],
            );
        }
    }
    let want = dump(server.port());
    drop(con);
    stop_cleanly(&mut server);

    // A record cut short, as a crash in the middle of a write leaves it.
    let (name, path) = largest_incr(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk");
    std::fs::write(&path, &bytes).unwrap();
    let mut server = start_always(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "after trimming the torn tail");
    let log = server.log();
    assert!(
        log.to_lowercase().contains("trim"),
        "no warning about trimming {name}:\n{log}"
    );
    // Writes after the trim land after the last good record.
    let mut con = server.connection();
    run(&mut con, &["SET", "after-trim", "1"]);
    drop(con);
    kill9(&mut server);
    let mut server = start_always(dir.path(), 2);
    let mut want2 = want.clone();
    want2.insert((0, b"after-trim".to_vec()), (b"1".to_vec(), -1));
    assert_same(&dump(server.port()), &want2, "writes after the trim");
    stop_cleanly(&mut server);

    // Garbage over the start of a record in the middle of a file.
    let (name, path) = largest_incr(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    let at = bytes
        .windows(3)
        .enumerate()
        .filter(|(_, w)| w == b"\r\n*")
        .map(|(i, _)| i + 2)
        .min_by_key(|&i| i.abs_diff(middle))
        .expect("a record start");
    assert!(at + 100 < bytes.len(), "record at {at} of {}", bytes.len());
    bytes[at..at + 4].copy_from_slice(b"!!!!");
    std::fs::write(&path, &bytes).unwrap();
    let log = expect_aof_start_failure(dir.path(), 2);
    assert!(
        log.contains(name.as_str()) && log.contains("offset"),
        "the error must name {name} and an offset:\n{log}"
    );
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

#[test]
fn automatic_rewrite_after_growth() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("auto-rewrite");
    let args = [
        "--auto-aof-rewrite-min-size",
        "1048576",
        "--auto-aof-rewrite-percentage",
        "100",
    ];
    let mut server = aof_ringkv(dir.path(), 2, &args).start();
    let first = aof_manifest(&dir);
    let mut con = server.connection();
    let mut want = Dump::new();
    for round in 0..400 {
        let mut p = redis::pipe();
        for i in 0..100 {
            let v = format!("round-{round}-{i}-{}", "q".repeat(100));
            p.cmd("SET").arg(format!("k{i}")).arg(&v).ignore();
            want.insert((0, format!("k{i}").into_bytes()), (v.into_bytes(), -1));
        }
        p.query::<()>(&mut con).unwrap();
    }
    let first_bases: BTreeSet<_> = first.of_kind('b').map(|f| f.name.clone()).collect();
    wait_for(Duration::from_secs(30), "an automatic rewrite", || {
        aof_manifest(&dir)
            .of_kind('b')
            .any(|f| !first_bases.contains(&f.name))
    });
    wait_for(Duration::from_secs(30), "the rewrite to finish", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
    });
    drop(con);
    stop_cleanly(&mut server);
    let server = aof_ringkv(dir.path(), 2, &args).start();
    assert_same(&dump(server.port()), &want, "after the automatic rewrite");
}

#[test]
fn restart_with_other_thread_counts_replays_aof() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("threads");
    let far = now_ms() + DAY_MS;
    let write = |server: &TestServer, tag: &str| {
        let mut con = server.connection();
        let mut p = redis::pipe();
        for i in 0..2000u64 {
            let k = format!("{tag}:{i}");
            p.cmd("SET").arg(&k).arg(format!("{tag}-{i}")).ignore();
            if i % 3 == 0 {
                p.cmd("PEXPIREAT").arg(&k).arg(far + i).ignore();
            }
        }
        p.query::<()>(&mut con).unwrap();
        run(
            &mut con,
            &[
                "MSET",
                &format!("{{a}}{tag}"),
                "1",
                &format!("{{b}}{tag}"),
                "2",
            ],
        );
        run(&mut con, &["DEL", &format!("{tag}:1"), &format!("{tag}:2")]);
        select(&mut con, 3);
        run(&mut con, &["SET", &format!("db3-{tag}"), tag]);
        run(&mut con, &["MULTI"]);
        run(&mut con, &["INCR", "db3-counter"]);
        run(&mut con, &["SET", &format!("{{a}}tx-{tag}"), tag]);
        run(&mut con, &["EXEC"]);
    };

    let mut server = start_always(dir.path(), 2);
    write(&server, "two");
    let mut want = dump(server.port());
    kill9(&mut server);
    for (threads, tag) in [(1, "one"), (4, "four"), (3, "three")] {
        let mut server = start_always(dir.path(), threads);
        assert_same(
            &dump(server.port()),
            &want,
            &format!("replay into --threads {threads}"),
        );
        write(&server, tag);
        want = dump(server.port());
        kill9(&mut server);
    }
    // A rewrite by 3 shards, replayed by 2.
    let mut server = start_always(dir.path(), 3);
    let mut con = server.connection();
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    wait_for(Duration::from_secs(30), "the rewrite", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(aof_manifest(&dir).shards, 3);
    drop(con);
    kill9(&mut server);
    let server = start_always(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "rewritten by 3, replayed by 2");
}
