//! Deployment: systemd readiness through a fake `NOTIFY_SOCKET`, exit codes of
//! SHUTDOWN / SIGTERM / SIGINT, `systemd-analyze verify` on the unit, the
//! install script (staged with DESTDIR), and the Docker files' essentials.

mod common;

use common::{TestServer, REPLY_TIMEOUT};
use std::io::ErrorKind;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringkv-d-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fake systemd notification socket.
struct Notify {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Notify {
    fn new(dir: &Path) -> Notify {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        Notify { sock, path }
    }

    /// The next datagram, or None after `wait`.
    fn next(&self, wait: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4096];
        match self.sock.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("recv: {e}"),
        }
    }
}

#[test]
fn ready_after_every_listener_is_bound_and_stopping_on_sigterm() {
    let dir = temp_dir("notify");
    let notify = Notify::new(&dir);
    let unix = dir.join("ringkv.sock");
    let mut server = TestServer::builder()
        .threads(3)
        .arg("--unixsocket")
        .arg(unix.to_str().unwrap())
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .spawn();

    let msg = notify.next(REPLY_TIMEOUT).expect("READY=1 within 10 s");
    assert!(
        msg.lines().any(|l| l == "READY=1"),
        "first notification: {msg:?}"
    );
    // At READY every listener accepts: the Unix socket and, on every core's
    // SO_REUSEPORT socket, TCP (many connections reach all of them).
    UnixStream::connect(&unix).expect("unix socket bound before READY");
    for _ in 0..24 {
        let mut c = server.raw();
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }

    server.signal(libc::SIGTERM);
    let msg = notify
        .next(REPLY_TIMEOUT)
        .expect("STOPPING=1 after SIGTERM");
    assert!(msg.lines().any(|l| l == "STOPPING=1"), "{msg:?}");
    let status = server.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(notify.next(Duration::from_millis(100)).is_none());
}

#[test]
fn no_ready_when_a_listener_cannot_bind() {
    let dir = temp_dir("noready");
    let notify = Notify::new(&dir);
    let mut server = TestServer::builder()
        .arg("--unixsocket")
        .arg(dir.join("missing-dir/ringkv.sock").to_str().unwrap())
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .spawn();
    let status = server.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(1), "{}", server.log());
    assert_eq!(notify.next(Duration::from_millis(200)), None);
}

#[test]
fn shutdown_command_exits_zero() {
    let mut server = TestServer::builder().threads(2).start();
    let mut c = server.raw();
    c.send(b"SHUTDOWN\r\n");
    let status = server.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(status.code(), Some(0), "{}", server.log());
}

#[test]
fn sigterm_and_sigint_exit_zero() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut server = TestServer::builder().threads(2).start();
        let mut c = server.raw();
        assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
        server.signal(sig);
        let status = server.wait_exit(Duration::from_secs(20)).expect("exits");
        assert_eq!(status.code(), Some(0), "signal {sig}: {}", server.log());
    }
}

/// `systemd-analyze` is needed; it is skipped where missing unless CI asks
/// for it (`RINGKV_REQUIRE_SYSTEMD_ANALYZE=1`).
fn systemd_analyze() -> Option<&'static str> {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("systemd-analyze");
    }
    if std::env::var("RINGKV_REQUIRE_SYSTEMD_ANALYZE").is_ok_and(|v| v == "1") {
        panic!("systemd-analyze is required (apt-get install systemd)");
    }
    eprintln!("skipped: systemd-analyze not installed");
    None
}

/// The unit with ExecStart pointing at this build: `verify` insists that the
/// binary exists, which /usr/local/bin/ringkv does not on a build machine.
fn unit_for_this_build(dir: &Path) -> PathBuf {
    let unit = std::fs::read_to_string(repo().join("deploy/ringkv.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/ringkv "));
    let bin = common::ringkv_bin();
    let unit = unit.replace("/usr/local/bin/ringkv", bin.to_str().unwrap());
    let path = dir.join("ringkv.service");
    std::fs::write(&path, unit).unwrap();
    path
}

#[test]
fn systemd_unit_verifies() {
    let Some(tool) = systemd_analyze() else {
        return;
    };
    let dir = temp_dir("unit");
    let unit = unit_for_this_build(&dir);
    let out = Command::new(tool)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "verify failed:\n{text}");
    // verify only warns about unknown or misspelt keys: treat that as failure.
    assert!(text.trim().is_empty(), "verify warnings:\n{text}");

    // The sandbox stays tight (systemd's exposure score, 0 best .. 10 worst).
    let out = Command::new(tool)
        .args(["security", "--offline=yes", "--threshold=25", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exposure above 2.5:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn systemd_unit_keeps_what_ringkv_needs() {
    let unit = std::fs::read_to_string(repo().join("deploy/ringkv.service")).unwrap();
    for line in [
        "Type=notify",
        "User=ringkv",
        "StateDirectory=ringkv",
        "LimitMEMLOCK=infinity",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "SystemCallFilter=io_uring_setup io_uring_enter io_uring_register",
    ] {
        assert!(unit.lines().any(|l| l == line), "unit lacks {line}");
    }
    assert!(unit.lines().any(|l| l.starts_with("LimitNOFILE=")));
    // No deny-list may take io_uring away.
    for l in unit.lines().filter(|l| l.starts_with("SystemCallFilter=~")) {
        assert!(!l.contains("@aio") && !l.contains("io_uring"), "{l}");
    }
}

#[test]
fn install_script_stages_binary_config_and_unit() {
    let root = temp_dir("destdir");
    let out = Command::new(repo().join("scripts/install.sh"))
        .arg("--binary")
        .arg(common::ringkv_bin())
        .env("DESTDIR", &root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install.sh: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = root.join("usr/local/bin/ringkv");
    let meta = std::fs::metadata(&bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    assert_eq!(
        std::fs::read(root.join("etc/systemd/system/ringkv.service")).unwrap(),
        std::fs::read(repo().join("deploy/ringkv.service")).unwrap()
    );
    let config = root.join("etc/ringkv/ringkv.toml");
    assert!(config.exists());
    if repo().join("configs/ringkv.toml").exists() {
        assert_eq!(
            std::fs::read(&config).unwrap(),
            std::fs::read(repo().join("configs/ringkv.toml")).unwrap()
        );
    }

    // A second install keeps the operator's config.
    std::fs::write(&config, "# edited\n").unwrap();
    let out = Command::new(repo().join("scripts/install.sh"))
        .arg("--binary")
        .arg(common::ringkv_bin())
        .env("DESTDIR", &root)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# edited\n");
}

#[test]
fn docker_image_is_multi_stage_non_root_with_healthcheck() {
    let docker = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let stages = docker.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "multi-stage build");
    assert!(docker
        .lines()
        .any(|l| l.starts_with("FROM debian:") && l.contains("-slim")));
    assert!(docker.lines().any(|l| l.starts_with("USER ringkv")));
    assert!(docker.contains("HEALTHCHECK") && docker.contains("redis-cli"));

    let profile = std::fs::read_to_string(repo().join("deploy/seccomp-io_uring.json")).unwrap();
    for call in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
        assert!(
            profile.contains(&format!("\"{call}\"")),
            "profile lacks {call}"
        );
    }
    assert!(profile.contains("\"defaultAction\": \"SCMP_ACT_ERRNO\""));
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(readme.contains("seccomp-io_uring.json") && readme.contains("memlock"));
}
