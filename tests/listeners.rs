//! Listeners and client limits, against the real binary: the Unix-domain
//! socket (connect from every core, permissions, stale file, cleanup),
//! `maxclients` across cores and listeners, the `timeout` idle disconnect and
//! TCP keepalive on accepted sockets.

mod common;

use common::{read_reply, resp, show, RawConn, TestServer, REPLY_TIMEOUT};
use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fresh socket path under the system temp dir (short enough for
/// sun_path's 108 bytes).
fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringkv-t-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.sock"));
    let _ = std::fs::remove_file(&p);
    p
}

/// A RESP connection over the Unix socket.
struct UnixConn {
    reader: BufReader<UnixStream>,
}

impl UnixConn {
    fn connect(path: &Path) -> UnixConn {
        let s = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {path:?}: {e}"));
        s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        UnixConn {
            reader: BufReader::new(s),
        }
    }

    fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.reader.get_mut().write_all(&resp(args)).unwrap();
        let mut out = Vec::new();
        read_reply(&mut self.reader, &mut out).unwrap_or_else(|e| panic!("reply: {e}"));
        out
    }
}

/// The core a client id belongs to (ids are `n * cores + core + 1`).
fn core_of(client_id_reply: &[u8], cores: u64) -> u64 {
    let id: u64 = std::str::from_utf8(&client_id_reply[1..client_id_reply.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    (id - 1) % cores
}

fn unix_server(threads: usize, path: &Path, extra: &[&str]) -> TestServer {
    let mut b = TestServer::builder()
        .threads(threads)
        .arg("--unixsocket")
        .arg(path.to_str().unwrap());
    for a in extra {
        b = b.arg(*a);
    }
    b.start()
}

#[test]
fn unix_socket_serves_clients_on_every_core() {
    let path = socket_path("every-core");
    let server = unix_server(3, &path, &["--unixsocketperm", "700"]);

    let meta = std::fs::metadata(&path).expect("socket file exists");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);

    let mut conns: Vec<UnixConn> = (0..6).map(|_| UnixConn::connect(&path)).collect();
    let mut cores = HashSet::new();
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
        let key = format!("unix:{i}");
        assert_eq!(c.cmd(&["SET", key.as_str(), "v"]), b"+OK\r\n");
        cores.insert(core_of(&c.cmd(&["CLIENT", "ID"]), 3));
    }
    assert_eq!(cores.len(), 3, "round-robin reaches every core: {cores:?}");

    // Same keyspace over TCP, and Unix clients look as in Redis.
    let mut tcp = server.raw();
    assert_eq!(tcp.cmd(&["GET", "unix:5"]), b"$1\r\nv\r\n");
    let info = conns[0].cmd(&["CLIENT", "INFO"]);
    let want = format!("addr={}:0 laddr={}:0", path.display(), path.display());
    assert!(
        show(&info).contains(&want),
        "CLIENT INFO {:?} lacks {want}",
        show(&info)
    );
}

#[test]
fn stale_socket_file_is_replaced_and_removed_at_exit() {
    let path = socket_path("stale");
    // A socket file nobody accepts on, as a crashed server leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());

    let mut server = unix_server(2, &path, &[]);
    assert_eq!(UnixConn::connect(&path).cmd(&["PING"]), b"+PONG\r\n");

    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(!path.exists(), "socket file removed at clean exit");
}

#[test]
fn unix_socket_path_in_use_or_not_a_socket_fails_start() {
    let path = socket_path("taken");
    let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut server = TestServer::builder()
        .arg("--unixsocket")
        .arg(path.to_str().unwrap())
        .spawn();
    let status = server.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(1));
    assert!(
        server.log().contains("Failed opening Unix socket"),
        "{}",
        server.log()
    );
    assert!(path.exists(), "a live socket is never removed");
    drop(live);

    let file = socket_path("regular");
    std::fs::write(&file, b"data").unwrap();
    let mut server = TestServer::builder()
        .arg("--unixsocket")
        .arg(file.to_str().unwrap())
        .spawn();
    let status = server.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(1));
    assert!(server.log().contains("not a socket"), "{}", server.log());
    assert_eq!(std::fs::read(&file).unwrap(), b"data", "file untouched");
}

/// Opens a TCP connection that the server admitted (PING answered). The
/// harness's readiness probe may still hold a slot for a moment, so a
/// rejection is retried for a while.
fn admitted(server: &TestServer) -> RawConn {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        let mut c = server.raw();
        c.send(b"PING\r\n");
        let r = c.reply();
        if r == b"+PONG\r\n" {
            return c;
        }
        assert_eq!(r, b"-ERR max number of clients reached\r\n");
        assert!(Instant::now() < deadline, "never admitted");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn maxclients_counts_every_core_and_listener() {
    let path = socket_path("maxclients");
    let server = unix_server(2, &path, &["--maxclients", "3"]);
    let mut kept = vec![admitted(&server), admitted(&server)];
    let mut unix = UnixConn::connect(&path);
    assert_eq!(unix.cmd(&["PING"]), b"+PONG\r\n");

    // The fourth client, whichever core the kernel gives it to, is refused.
    for _ in 0..4 {
        let mut c = server.raw();
        let got = c.read_up_to(64, REPLY_TIMEOUT);
        assert_eq!(show(&got), "-ERR max number of clients reached\\r\\n");
        c.expect_closed();
    }
    let mut u = UnixStream::connect(&path).unwrap();
    u.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut got = Vec::new();
    u.read_to_end(&mut got).unwrap();
    assert_eq!(show(&got), "-ERR max number of clients reached\\r\\n");

    // A client leaving frees its place.
    drop(kept.pop());
    let mut again = admitted(&server);
    assert_eq!(again.cmd(&["PING"]), b"+PONG\r\n");
    let mut stats = kept.pop().unwrap();
    let info = show(&stats.cmd(&["INFO", "stats"]));
    assert!(info.contains("rejected_connections:"), "{info}");
    assert!(!info.contains("rejected_connections:0\\r"), "{info}");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = TestServer::builder()
        .threads(2)
        .arg("--timeout")
        .arg("1")
        .start();
    let mut idle = server.raw();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    let mut busy = server.raw();
    let start = Instant::now();

    // A client that keeps talking stays.
    while start.elapsed() < Duration::from_millis(2500) {
        assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The idle one is gone, without a reply (as in Redis).
    idle.expect_closed();
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn timeout_zero_never_closes() {
    let server = TestServer::builder().arg("--timeout").arg("0").start();
    let mut c = server.raw();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    c.expect_silence(Duration::from_millis(1500));
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

/// The keepalive timer `ss` shows for the server side of our connection.
fn server_side_timer(port: u16) -> String {
    let out = std::process::Command::new("ss")
        .args(["-tnoH", "state", "established"])
        .arg(format!("( sport = :{port} )"))
        .output()
        .expect("run ss (iproute2)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tcp_keepalive_is_set_on_accepted_sockets() {
    let server = TestServer::builder()
        .arg("--tcp-keepalive")
        .arg("60")
        .start();
    let mut c = server.raw();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let ss = server_side_timer(server.port());
    assert!(ss.contains("keepalive"), "no keepalive timer: {ss}");

    let off = TestServer::builder()
        .arg("--tcp-keepalive")
        .arg("0")
        .start();
    let mut c = off.raw();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let ss = server_side_timer(off.port());
    assert!(!ss.is_empty() && !ss.contains("keepalive"), "{ss}");
}

#[test]
fn unix_clients_read_partial_commands() {
    // The generic connection loop frames RESP the same way over Unix sockets.
    let path = socket_path("partial");
    let _server = unix_server(1, &path, &[]);
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    for chunk in [&b"*1\r\n$4\r"[..], b"\nPI", b"NG\r\n", b"PING\r\n"] {
        s.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut buf = [0u8; 14];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n+PONG\r\n");
}

/// Clients of every kind, connected and answered, to make a killed server's
/// teardown slower (each is a socket its io_uring must cancel).
fn connect_clients(port: u16, path: &Path, n: usize) -> (Vec<RawConn>, Vec<UnixConn>) {
    let mut tcp: Vec<RawConn> = (0..n).map(|_| RawConn::connect(port)).collect();
    let mut unix: Vec<UnixConn> = (0..n).map(|_| UnixConn::connect(path)).collect();
    for c in tcp.iter_mut() {
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }
    for c in unix.iter_mut() {
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }
    (tcp, unix)
}

#[test]
fn restart_right_after_kill9_comes_up_on_the_same_port_and_path() {
    let path = socket_path("kill9");
    let start = |port: u16| {
        let mut s = TestServer::builder()
            .threads(2)
            .arg("--unixsocket")
            .arg(path.to_str().unwrap())
            .spawn_on(port);
        if let Err(e) = s.wait_until_ready() {
            panic!("restart on port {port} failed: {e}");
        }
        s
    };
    let mut server = TestServer::builder()
        .threads(2)
        .arg("--unixsocket")
        .arg(path.to_str().unwrap())
        .start();
    let port = server.port();
    for round in 0..6 {
        let clients = connect_clients(port, &path, 100);
        server.kill9();
        // At once, on the same port and path: every restart comes up.
        server = start(port);
        drop(clients);
        let mut u = UnixConn::connect(&path);
        assert_eq!(u.cmd(&["PING"]), b"+PONG\r\n", "round {round}");
    }
    // The log says when the start-up probe had to wait (it may not have).
    let log = server.log();
    assert!(!log.contains("Could not create"), "{log}");
}

/// Send-Q of every listening socket `ss` shows in `args` whose line contains
/// `local` (for listeners it is the backlog).
fn listen_backlogs(args: &[&str], local: &str) -> Vec<u32> {
    let out = std::process::Command::new("ss")
        .args(args)
        .output()
        .expect("run ss (iproute2)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == local))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // [Netid] State Recv-Q Send-Q Local Peer
            let at = cols.iter().position(|c| *c == "LISTEN").expect("LISTEN") + 2;
            cols[at].parse().expect("Send-Q")
        })
        .collect()
}

fn somaxconn() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

#[test]
fn tcp_backlog_sets_both_listeners_backlog() {
    let path = socket_path("backlog");
    let server = unix_server(2, &path, &["--tcp-backlog", "300"]);
    let want = 300.min(somaxconn());
    let local = format!("127.0.0.1:{}", server.port());
    assert_eq!(
        listen_backlogs(&["-ltnH"], &local),
        vec![want, want],
        "one TCP listener per executor"
    );
    assert_eq!(
        listen_backlogs(&["-lxH"], path.to_str().unwrap()),
        vec![want]
    );
    let mut c = server.raw();
    assert_eq!(
        show(&c.cmd(&["CONFIG", "GET", "tcp-backlog"])),
        "*2\\r\\n$11\\r\\ntcp-backlog\\r\\n$3\\r\\n300\\r\\n"
    );

    // Redis's default, 511, without the flag.
    let default = TestServer::start(1);
    let local = format!("127.0.0.1:{}", default.port());
    assert_eq!(
        listen_backlogs(&["-ltnH"], &local),
        vec![511.min(somaxconn())]
    );
    assert_eq!(
        show(&default.raw().cmd(&["CONFIG", "GET", "tcp-backlog"])),
        "*2\\r\\n$11\\r\\ntcp-backlog\\r\\n$3\\r\\n511\\r\\n"
    );
}
