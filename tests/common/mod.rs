//! Test harness shared by the integration tests: start a real server on a free port,
//! talk to it with raw bytes or the `redis` crate, and read RESP replies byte-exactly.
//!
//! `TestServer` spawns the `ringkv` binary (`--port P --bind 127.0.0.1 --threads N`),
//! waits until it answers `PING` (polling, 10 s limit) and kills it on drop.
//! `RedisServer` does the same for a real `redis-server` (differential tests).
//!
//! Escape hatch: `RINGKV_TEST_TARGET=redis` makes `TestServer` start `redis-server`
//! instead, so every expectation in these tests can be checked against Redis 7.0 itself.
//! `RINGKV_BIN=/path/to/ringkv` tests another build of the binary.
#![allow(dead_code)]

pub mod aof;
pub mod blocking;
pub mod persist;
pub mod reply;
pub mod snapshot;

use std::fs::File;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to become ready, and the default reply timeout.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// True when `RINGKV_TEST_TARGET=redis`: tests then run against redis-server.
pub fn target_is_redis() -> bool {
    std::env::var("RINGKV_TEST_TARGET").is_ok_and(|v| v == "redis")
}

/// A free TCP port on 127.0.0.1 (bound to port 0, read back, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Which program a server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ringkv,
    Redis,
}

/// Builder for [`TestServer`]: thread count and extra ringkv arguments.
pub struct Builder {
    kind: Kind,
    threads: usize,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Builder {
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// An extra command-line argument (ringkv only; ignored for redis-server).
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// An environment variable for the server process.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Spawn the server on a free port without waiting for it (for tests of
    /// start-up itself); [`TestServer::wait_until_ready`] waits later.
    pub fn spawn(self) -> TestServer {
        self.spawn_on(free_port())
    }

    /// [`Builder::spawn`] on a given port (for restarts on the same port).
    pub fn spawn_on(self, port: u16) -> TestServer {
        let mut cmd = self.command(port);
        let log = log_path(self.kind, port);
        let log_file = File::create(&log).expect("create server log");
        cmd.stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log fd"))
            .stderr(log_file);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.kind));
        TestServer {
            kind: self.kind,
            port,
            child,
            log,
        }
    }

    /// Spawn the server and wait until it answers PING. A port lost to a race with
    /// another process is retried on a fresh port.
    pub fn start(self) -> TestServer {
        for _attempt in 0..5 {
            let port = free_port();
            let mut cmd = self.command(port);
            let log = log_path(self.kind, port);
            let log_file = File::create(&log).expect("create server log");
            cmd.stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("clone log fd"))
                .stderr(log_file);
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.kind));
            let mut server = TestServer {
                kind: self.kind,
                port,
                child,
                log,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(msg) if msg.contains("in use") => continue,
                Err(msg) => panic!("{msg}"),
            }
        }
        panic!(
            "could not start {:?} on a free port after 5 attempts",
            self.kind
        )
    }

    fn command(&self, port: u16) -> Command {
        match self.kind {
            Kind::Ringkv => {
                let mut c = Command::new(ringkv_bin());
                // As the redis-server side: no save schedule, and files (if a
                // test saves) in a scratch directory, never the crate's.
                let dir = scratch_dir(port);
                c.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--threads", &self.threads.to_string()])
                    .args(["--save", ""])
                    .arg("--dir")
                    .arg(&dir)
                    .args(&self.args)
                    .envs(self.envs.iter().map(|(k, v)| (k, v)));
                c
            }
            Kind::Redis => redis_command(port),
        }
    }
}

/// The ringkv binary: cargo's build of this crate, or `RINGKV_BIN` when set (to test
/// another build without recompiling the tests).
pub fn ringkv_bin() -> PathBuf {
    std::env::var_os("RINGKV_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ringkv")))
}

/// The argument list that starts redis-server on `port` without persistence.
pub fn redis_command(port: u16) -> Command {
    let mut c = Command::new("redis-server");
    c.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"]);
    c
}

/// A per-server scratch directory under the target dir (the default `--dir`).
fn scratch_dir(port: u16) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ringkv-dir-{port}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn log_path(kind: Kind, port: u16) -> PathBuf {
    let name = format!("{kind:?}-{port}-{}.log", std::process::id()).to_lowercase();
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// A running server process; killed (SIGKILL) when dropped.
pub struct TestServer {
    kind: Kind,
    port: u16,
    child: Child,
    log: PathBuf,
}

impl TestServer {
    /// ringkv with `threads` executors (or redis-server under `RINGKV_TEST_TARGET=redis`).
    pub fn start(threads: usize) -> TestServer {
        Self::builder().threads(threads).start()
    }

    pub fn builder() -> Builder {
        let kind = if target_is_redis() {
            Kind::Redis
        } else {
            Kind::Ringkv
        };
        Builder {
            kind,
            threads: 1,
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A fresh raw connection.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// A fresh `redis` crate connection.
    pub fn connection(&self) -> redis::Connection {
        let client =
            redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("redis client");
        client.get_connection().expect("redis connection")
    }

    /// Everything the server wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Send `signal` (libc::SIGTERM, ...) to the server process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.child.id());
    }

    /// SIGKILL the server and reap it (returns once the process is gone).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait until the server answers PING (after [`Builder::spawn`]).
    pub fn wait_until_ready(&mut self) -> Result<(), String> {
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                let log = self.log();
                let in_use = if log.contains("in use") {
                    " (in use)"
                } else {
                    ""
                };
                return Err(format!(
                    "{:?} exited before ready{in_use}: {status}\n--- log ---\n{log}",
                    self.kind
                ));
            }
            if ping_ok(self.port) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{:?} not ready on port {} after {READY_TIMEOUT:?}\n--- log ---\n{}",
                    self.kind,
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ping_ok(port: u16) -> bool {
    let addr = ([127, 0, 0, 1], port).into();
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A real redis-server (never ringkv), for differential tests.
pub struct RedisServer(TestServer);

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer(
            Builder {
                kind: Kind::Redis,
                threads: 1,
                args: Vec::new(),
                envs: Vec::new(),
            }
            .start(),
        )
    }
}

impl Deref for RedisServer {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.0
    }
}

impl std::ops::DerefMut for RedisServer {
    fn deref_mut(&mut self) -> &mut TestServer {
        &mut self.0
    }
}

/// Run `f` against a server for each thread count (once under `RINGKV_TEST_TARGET=redis`,
/// where the thread count means nothing).
pub fn for_each_threads(threads: &[usize], f: impl Fn(&TestServer)) {
    let counts = if target_is_redis() {
        &threads[..1]
    } else {
        threads
    };
    for &n in counts {
        eprintln!("-- threads = {n}");
        f(&TestServer::start(n));
    }
}

/// Write `bytes` on a fresh connection and read until `expected_len` bytes arrived,
/// the server closed, or `REPLY_TIMEOUT` passed.
pub fn raw(port: u16, bytes: &[u8], expected_len: usize) -> Vec<u8> {
    let mut c = RawConn::connect(port);
    c.send(bytes);
    c.read_up_to(expected_len, REPLY_TIMEOUT)
}

/// Encode a command as a RESP multibulk.
pub fn resp<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Bytes shown readably in assertion messages.
pub fn show(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'\'' | b'"' => (b as char).to_string(),
            _ => b.escape_ascii().to_string(),
        })
        .collect()
}

/// A raw TCP connection with a buffered RESP reply reader.
pub struct RawConn {
    reader: BufReader<TcpStream>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        s.set_read_timeout(Some(REPLY_TIMEOUT)).expect("timeout");
        RawConn {
            reader: BufReader::with_capacity(1 << 16, s),
        }
    }

    /// A second handle on the socket (for writing from another thread, or shutdown).
    pub fn stream(&self) -> TcpStream {
        self.reader.get_ref().try_clone().expect("clone socket")
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// Send a command as RESP and return its one reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(&resp(args));
        self.reply()
    }

    /// One complete RESP reply, as raw bytes.
    pub fn reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        read_reply(&mut self.reader, &mut out)
            .unwrap_or_else(|e| panic!("reading reply: {e}; got so far {:?}", show(&out)));
        out
    }

    /// One complete reply if it starts arriving within `wait` (None: nothing
    /// came); the connection stays usable either way.
    pub fn reply_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let first = self.reader.fill_buf().map(|b| b.len());
        self.reader
            .get_ref()
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .unwrap();
        match first {
            Ok(0) => panic!("server closed the connection"),
            Ok(_) => Some(self.reply()),
            Err(e) if is_timeout(&e) => None,
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Read until `n` bytes, close, or `timeout`.
    pub fn read_up_to(&mut self, n: usize, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.reader.get_ref().set_read_timeout(Some(left)).unwrap();
            match self.reader.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => out.extend_from_slice(&buf[..k]),
                Err(e) if is_timeout(&e) => break,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        self.reader
            .get_ref()
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .unwrap();
        out
    }

    /// Assert the server closes the connection (EOF or reset) with no further bytes.
    pub fn expect_closed(&mut self) {
        let rest = self.read_up_to(usize::MAX, REPLY_TIMEOUT);
        assert!(rest.is_empty(), "unexpected bytes: {:?}", show(&rest));
        let mut b = [0u8; 1];
        match self.reader.read(&mut b) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("connection still open: {other:?}"),
        }
    }

    /// Assert nothing arrives within `wait` and the connection stays open.
    pub fn expect_silence(&mut self, wait: Duration) {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let mut b = [0u8; 1];
        match self.reader.read(&mut b) {
            Err(e) if is_timeout(&e) => {}
            Ok(0) => panic!("server closed the connection"),
            Ok(_) => panic!("unexpected byte {:?}", show(&b)),
            Err(e) => panic!("read: {e}"),
        }
        self.reader
            .get_ref()
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .unwrap();
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Read exactly one RESP2/RESP3 reply from `r`, appending its raw bytes to `out`.
pub fn read_reply<R: BufRead>(r: &mut R, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    let n = r.read_until(b'\n', out)?;
    if n == 0 {
        return Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if !out.ends_with(b"\r\n") {
        return Err(io::Error::new(ErrorKind::InvalidData, "line without CRLF"));
    }
    let line = &out[start..out.len() - 2];
    let Some((&kind, rest)) = line.split_first() else {
        return Err(io::Error::new(ErrorKind::InvalidData, "empty line"));
    };
    let num = || -> io::Result<i64> {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, "bad length"))
    };
    match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(()),
        b'$' | b'!' | b'=' => {
            let len = num()?;
            if len >= 0 {
                let at = out.len();
                out.resize(at + len as usize + 2, 0);
                r.read_exact(&mut out[at..])?;
            }
            Ok(())
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num()?;
            let items = if matches!(kind, b'%' | b'|') {
                2 * n
            } else {
                n
            };
            for _ in 0..items.max(0) {
                read_reply(r, out)?;
            }
            if kind == b'|' {
                read_reply(r, out)?; // an attribute precedes the real reply
            }
            Ok(())
        }
        _ => Err(io::Error::new(ErrorKind::InvalidData, "unknown reply type")),
    }
}

/// Two hashtags whose keys land on different shards (first and last) of a
/// server with `threads` shards.
pub fn tags_on_different_shards(threads: usize) -> (String, String) {
    let table = ringkv::slot::SlotTable::contiguous(threads);
    let find = |shard: usize| {
        (0..10_000)
            .map(|i| format!("t{i}"))
            .find(|t| table.shard_of_slot(ringkv::slot::key_slot(t.as_bytes())) == shard)
            .expect("a tag for every shard")
    };
    (find(0), find(threads - 1))
}

/// Asserts that `COMMAND INFO` of each command gives the same name, arity,
/// flags, key positions and ACL categories on ringkv and redis-server.
pub fn assert_command_info_like_redis(commands: &[&str]) {
    let (ringkv, redis) = (TestServer::start(1), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    for c in commands {
        // name, arity, flags, first, last, step, ACL categories.
        let head = |r: &[u8]| match reply::parsed(r) {
            reply::R::Agg(_, v) => reply::elements(&v[0])
                .into_iter()
                .take(7)
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        let (ours, theirs) = (
            a.cmd(&["COMMAND", "INFO", c]),
            b.cmd(&["COMMAND", "INFO", c]),
        );
        assert_eq!(head(&ours), head(&theirs), "{c}");
    }
}

/// The CLIENT ID of connection `c`.
pub fn client_id(c: &mut RawConn) -> u64 {
    let r = c.cmd(&["CLIENT", "ID"]);
    std::str::from_utf8(&r)
        .ok()
        .and_then(|s| s.strip_prefix(':'))
        .and_then(|s| s.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("CLIENT ID: {}", show(&r)))
}

/// A connection on executor `core` of a server with `cores` executors (any
/// connection when there is one): CLIENT IDs encode their core.
pub fn conn_on(server: &TestServer, cores: usize, core: usize) -> RawConn {
    for _ in 0..200 {
        let mut c = server.raw();
        if cores == 1 || (client_id(&mut c) - 1) % cores as u64 == core as u64 {
            return c;
        }
    }
    panic!("no connection landed on core {core} in 200 tries");
}

/// A fresh ringkv (`threads` executors) and redis-server side by side for
/// a differential run, with a connection to each (in RESP3 after `HELLO 3`
/// when `resp3`). The servers live as long as the returned values.
pub struct Pair {
    pub ringkv: TestServer,
    pub redis: RedisServer,
}

impl Pair {
    pub fn start(threads: usize, resp3: bool) -> (Pair, RawConn, RawConn) {
        let pair = Pair {
            ringkv: TestServer::start(threads),
            redis: RedisServer::start(),
        };
        let (mut a, mut b) = (pair.ringkv.raw(), pair.redis.raw());
        if resp3 {
            for c in [&mut a, &mut b] {
                c.cmd(&["HELLO", "3"]);
            }
        }
        (pair, a, b)
    }
}
