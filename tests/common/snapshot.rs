//! Helpers shared by the snapshot tests (`tests/persistence.rs`,
//! `tests/snapshot_interop.rs`): starting ringkv with a `--dir`, INFO
//! persistence figures, SAVE/BGSAVE/SHUTDOWN, the snapshot manifest, sample
//! data, and a ringkv started without the test harness.

use super::persist::*;
use super::{resp, show, Builder, TestServer};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// ringkv on `dir` with `threads` executors; snapshots only when a test asks
/// (`--save ""` unless `args` set another schedule).
pub fn ringkv(dir: &Path, threads: usize, args: &[&str]) -> Builder {
    let mut b = TestServer::builder()
        .threads(threads)
        .arg("--dir")
        .arg(dir.to_str().expect("utf-8 temp dir"));
    if !args.contains(&"--save") {
        b = b.arg("--save").arg("");
    }
    for a in args {
        b = b.arg(*a);
    }
    b
}

pub fn start(dir: &Path, threads: usize) -> TestServer {
    ringkv(dir, threads, &[]).start()
}

/// INFO persistence as a field -> value map.
pub fn info_persistence(con: &mut redis::Connection) -> HashMap<String, String> {
    let text: String = redis::cmd("INFO")
        .arg("persistence")
        .query(con)
        .expect("INFO");
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

pub fn info_num(con: &mut redis::Connection, field: &str) -> u64 {
    let v = info_field(con, field);
    v.parse()
        .unwrap_or_else(|_| panic!("{field}:{v} is not a number"))
}

pub fn lastsave(con: &mut redis::Connection) -> u64 {
    redis::cmd("LASTSAVE").query(con).expect("LASTSAVE")
}

pub fn save(con: &mut redis::Connection) {
    let r: String = redis::cmd("SAVE").query(con).expect("SAVE");
    assert_eq!(r, "OK");
}

pub fn dbsize(con: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(con).expect("DBSIZE")
}

/// Waits until no BGSAVE runs any more.
pub fn wait_bgsave_done(con: &mut redis::Connection) {
    wait_for(Duration::from_secs(60), "BGSAVE to finish", || {
        info_field(con, "rdb_bgsave_in_progress") == "0"
    });
}

/// Sends `SHUTDOWN <how>` (no reply comes) and asserts a clean exit.
pub fn shutdown(server: &mut TestServer, how: &str) {
    let mut c = server.raw();
    c.send(&resp(&["SHUTDOWN", how]));
    assert_clean_exit(server, &format!("SHUTDOWN {how}"));
}

pub fn assert_clean_exit(server: &mut TestServer, what: &str) {
    let status = server
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("still running 60 s after {what}\n{}", server.log()));
    assert!(
        status.success(),
        "{what}: exit {status}\n--- log ---\n{}",
        server.log()
    );
}

/// Starts ringkv on `dir`, expecting it to refuse: exit code 1 within the limit.
/// Returns its output.
pub fn expect_start_failure(dir: &Path, threads: usize) -> String {
    expect_refusal(ringkv(dir, threads, &[]))
}

/// A parsed `<dbfilename>.manifest`.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub gen: u64,
    /// (file name, shard), in manifest order.
    pub files: Vec<(String, usize)>,
}

pub fn read_manifest(dir: &Path, dbfilename: &str) -> Option<Manifest> {
    let text = std::fs::read_to_string(dir.join(format!("{dbfilename}.manifest"))).ok()?;
    let bad = || -> ! { panic!("malformed snapshot manifest:\n{text}") };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    if lines.next() != Some("ringkv-snapshot 1") {
        bad();
    }
    let mut field = |name: &str| -> u64 {
        let l = lines.next().unwrap_or_else(|| bad());
        match l.split_once(' ') {
            Some((n, v)) if n == name => v.trim().parse().unwrap_or_else(|_| bad()),
            _ => bad(),
        }
    };
    let gen = field("gen");
    let shards = field("shards") as usize;
    let mut files = Vec::new();
    for l in lines {
        match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["file", name, "shard", i] => {
                files.push((name.to_string(), i.parse().unwrap_or_else(|_| bad())))
            }
            _ => bad(),
        }
    }
    assert_eq!(files.len(), shards, "one file per shard:\n{text}");
    let mut seen: Vec<usize> = files.iter().map(|f| f.1).collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..shards).collect::<Vec<_>>(),
        "shards 0..n:\n{text}"
    );
    for (name, shard) in &files {
        assert_eq!(
            name,
            &format!("{dbfilename}.{gen}.s{shard}.rdb"),
            "shard file name:\n{text}"
        );
    }
    Some(Manifest { gen, files })
}

pub fn manifest(dir: &Path) -> Manifest {
    read_manifest(dir, "dump.rdb").expect("dump.rdb.manifest exists")
}

pub fn snapshot_files(dir: &Path) -> BTreeSet<String> {
    file_names(dir)
        .into_iter()
        .filter(|n| n.starts_with("dump.rdb"))
        .collect()
}

/// Bytes that LZF cannot shrink, from a seed.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A varied data set over dbs 0, 3 and 15: integers, raw and binary strings, an
/// empty key and value, 1 MB values (compressible and not), absolute and relative
/// TTLs far ahead. Thousands of keys, so every shard gets some.
pub fn write_sample(port: u16) {
    let mut con = connect(port);
    let far = (now_ms() + DAY_MS) as i64;
    let mut p = redis::pipe();
    let ints: [&[u8]; 8] = [
        b"0",
        b"-1",
        b"127",
        b"-40000",
        b"2147483648",
        b"-9223372036854775808",
        b"9223372036854775807",
        b"12345",
    ];
    for (i, v) in ints.iter().enumerate() {
        p.cmd("SET").arg(format!("int:{i}")).arg(*v).ignore();
    }
    for (k, v) in [
        (&b""[..], &b"the empty key"[..]),
        (b"empty-value", b""),
        (b"leading-zero", b"007"),
        (b"float", b"3.14"),
        (b"bin\0\r\nkey\xff", b"\0\r\n\xff\x00*3\r\n"),
        (b"\r\n", b"crlf key"),
        (b"big", &noise(1, 1 << 20)),
        (b"big-compressible", &b"abcdefghij".repeat(1 << 17)),
    ] {
        p.cmd("SET").arg(k).arg(v).ignore();
    }
    p.cmd("PEXPIREAT")
        .arg(&b"bin\0\r\nkey\xff"[..])
        .arg(far)
        .ignore();
    p.cmd("PEXPIRE").arg("big").arg(DAY_MS).ignore();
    for i in 0..3000u64 {
        let key = format!("key:{i}");
        let value = match i % 4 {
            0 => i.to_string().into_bytes(),
            1 => format!("value-{i}-{}", "x".repeat(i as usize % 50)).into_bytes(),
            2 => noise(i, i as usize % 200),
            _ => format!("{i}\0{i}").into_bytes(),
        };
        p.cmd("SET").arg(&key).arg(value).ignore();
        if i % 3 == 0 {
            p.cmd("PEXPIREAT").arg(&key).arg(far + i as i64).ignore();
        }
    }
    p.query::<()>(&mut con).expect("db 0 sample");
    for db in [3u32, 15] {
        select(&mut con, db);
        let mut p = redis::pipe();
        for i in 0..500u64 {
            p.cmd("SET")
                .arg(format!("db{db}:{i}"))
                .arg(format!("in db {db}: {i}"))
                .ignore();
            if i % 2 == 0 {
                p.cmd("PEXPIREAT")
                    .arg(format!("db{db}:{i}"))
                    .arg(far + 7 * i as i64)
                    .ignore();
            }
        }
        p.cmd("SET").arg("int:0").arg(db).ignore();
        p.query::<()>(&mut con).expect("db sample");
    }
}

/// Loads `n` keys `fill:<i>` with pipelined SETs.
pub fn fill(server: &TestServer, n: usize) {
    let mut c = server.raw();
    for start in (0..n).step_by(5000) {
        let end = (start + 5000).min(n);
        let mut buf = Vec::new();
        for i in start..end {
            buf.extend(resp(&[
                "SET".to_string(),
                format!("fill:{i}"),
                format!("value-{i}-0123456789abcdef"),
            ]));
        }
        c.send(&buf);
        for _ in start..end {
            let r = c.reply();
            assert_eq!(r, b"+OK\r\n", "{}", show(&r));
        }
    }
}

/// ringkv started with nothing but port, bind, `--threads 1` and `--dir`, so that its
/// own defaults apply (the harness adds `--save ""`).
pub struct PlainRingkv {
    pub child: Child,
    pub port: u16,
}

impl PlainRingkv {
    pub fn start(dir: &Path) -> PlainRingkv {
        let port = super::free_port();
        let child = Command::new(super::ringkv_bin())
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--threads", "1", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ringkv");
        let mut server = PlainRingkv { child, port };
        wait_for(Duration::from_secs(10), "ringkv to answer PING", || {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("ringkv exited: {status}");
            }
            redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
        });
        server
    }
}

impl Drop for PlainRingkv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
