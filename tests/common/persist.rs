//! Helpers shared by the persistence tests (`tests/persistence.rs`,
//! `tests/aof.rs`): scratch directories, a whole-keyspace dump to compare
//! servers before and after a restart, polling, `kill -9`, redis-check-rdb.

use super::{show, Builder, TestServer};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// (db, key) -> (value, absolute expiry in unix ms, or -1): a server's whole keyspace.
pub type Dump = BTreeMap<(u32, Vec<u8>), (Vec<u8>, i64)>;

pub const DAY_MS: u64 = 86_400_000;

/// A scratch directory under the target dir; removed on drop unless the test failed.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("persist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn aof_dir(&self) -> PathBuf {
        self.0.join("appendonlydir")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("redis client")
        .get_connection()
        .expect("redis connection")
}

/// Runs one command, panicking (with the command) on an error reply.
pub fn run(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

pub fn select(con: &mut redis::Connection, db: u32) {
    let _: () = redis::cmd("SELECT").arg(db).query(con).expect("SELECT");
}

/// Every key, value and absolute expiry of all 16 dbs of the server on `port`.
pub fn dump(port: u16) -> Dump {
    let mut con = connect(port);
    let mut out = Dump::new();
    for db in 0..16u32 {
        select(&mut con, db);
        let mut keys = BTreeSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query(&mut con)
                .expect("SCAN");
            keys.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let keys: Vec<Vec<u8>> = keys.into_iter().collect();
        for chunk in keys.chunks(1000) {
            let mut gets = redis::pipe();
            let mut expiries = redis::pipe();
            for k in chunk {
                gets.cmd("GET").arg(&k[..]);
                expiries.cmd("PEXPIRETIME").arg(&k[..]);
            }
            let values: Vec<Option<Vec<u8>>> = gets.query(&mut con).expect("GETs");
            let expiries: Vec<i64> = expiries.query(&mut con).expect("PEXPIRETIMEs");
            for ((k, v), e) in chunk.iter().zip(values).zip(expiries) {
                if let Some(v) = v {
                    out.insert((db, k.clone()), (v, e));
                }
            }
        }
    }
    out
}

pub fn short(b: &[u8]) -> String {
    format!("{:?} (len {})", show(&b[..b.len().min(40)]), b.len())
}

/// Asserts two dumps are equal, naming the first differing key.
pub fn assert_same(got: &Dump, want: &Dump, context: &str) {
    for k in want.keys().chain(got.keys()) {
        let (g, w) = (got.get(k), want.get(k));
        if g != w {
            let fmt = |e: Option<&(Vec<u8>, i64)>| {
                e.map_or("absent".to_string(), |(v, x)| {
                    format!("{} expire {x}", short(v))
                })
            };
            panic!(
                "{context}: db {} key {}: got {}, want {} ({} vs {} keys)",
                k.0,
                short(&k.1),
                fmt(g),
                fmt(w),
                got.len(),
                want.len()
            );
        }
    }
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `limit`.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// ringkv on `dir` with the AOF on (`--appendonly yes`, no snapshots) plus `args`.
pub fn aof_ringkv(dir: &Path, threads: usize, args: &[&str]) -> Builder {
    let mut b = TestServer::builder()
        .threads(threads)
        .arg("--dir")
        .arg(dir.to_str().expect("utf-8 temp dir"))
        .arg("--appendonly")
        .arg("yes")
        .arg("--save")
        .arg("");
    for a in args {
        b = b.arg(*a);
    }
    b
}

/// Starts ringkv with the AOF on `dir`, expecting exit code 1; returns its output.
pub fn expect_aof_start_failure(dir: &Path, threads: usize) -> String {
    expect_refusal(aof_ringkv(dir, threads, &[]))
}

/// Starts the server `b` describes, expecting it to refuse: exit code 1
/// within 30 s. Returns its output.
pub fn expect_refusal(b: Builder) -> String {
    let mut server = b.spawn();
    let status = server
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("server kept running\n{}", server.log()));
    let log = server.log();
    assert_eq!(status.code(), Some(1), "exit status {status}\n{log}");
    log
}

pub fn kill9(server: &mut TestServer) {
    server.signal(libc::SIGKILL);
    server
        .wait_exit(Duration::from_secs(10))
        .expect("exit after SIGKILL");
}

/// Names of the files in `dir` (not recursive).
pub fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

pub fn check_rdb(path: &Path) {
    let out = Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("run redis-check-rdb");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb {}:\n{text}",
        path.display()
    );
}

pub fn info_field(con: &mut redis::Connection, field: &str) -> String {
    let text: String = redis::cmd("INFO")
        .arg("persistence")
        .query(con)
        .expect("INFO");
    let info: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k, v.trim()))
        .collect();
    info.get(field)
        .unwrap_or_else(|| panic!("INFO persistence lacks {field}:\n{text}"))
        .to_string()
}

/// A redis-server persisting to `dir/file` (loads it at start if present).
pub struct Redis {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Redis {
    pub fn start(dir: &Path, file: &str) -> Redis {
        let port = super::free_port();
        let log = dir.join(format!("redis-{port}.log"));
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args(["--dbfilename", file, "--save", "", "--appendonly", "no"])
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut r = Redis { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = r.child.try_wait().expect("try_wait") {
                panic!("redis-server exited ({status}):\n{}", r.log());
            }
            let pong = r
                .try_conn(0)
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if pong.is_ok() {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server not ready:\n{}",
                r.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn try_conn(&self, db: u32) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/{db}", self.port))?.get_connection()
    }

    pub fn conn(&self, db: u32) -> redis::Connection {
        self.try_conn(db).expect("connect to redis-server")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
