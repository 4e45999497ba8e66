//! Configuration through the real binary: precedence (file < flag < env),
//! every start-up rejection (message names the key, the file and the line;
//! exit status 1), CONFIG GET/SET/RESETSTAT/REWRITE across cores, SIGHUP
//! reload, logging (banner, log file rotation).

mod common;

use common::{ringkv_bin, TestServer};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn s(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A fresh scratch directory under cargo's target tmpdir.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `CONFIG GET name` on `c`, as the value only.
fn get(c: &mut common::RawConn, name: &str) -> String {
    let r = s(c.cmd(&["CONFIG", "GET", name]));
    let lines: Vec<&str> = r.split("\r\n").collect();
    assert_eq!(lines[0], "*2", "CONFIG GET {name}: {r}");
    lines[4].to_string()
}

/// Runs the binary with `args` and `env`, expecting it to refuse to start.
fn rejected(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(ringkv_bin());
    cmd.args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run ringkv");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    stderr
}

#[test]
fn precedence_file_flag_env() {
    if common::target_is_redis() {
        return;
    }
    let dir = scratch("precedence");
    let file = write(
        &dir,
        "p.toml",
        "maxclients = 100\nslowlog-max-len = 11\ntimeout = 5\n",
    );
    // File only.
    let server = TestServer::builder().arg("--config").arg(&file).start();
    let mut c = server.raw();
    assert_eq!(get(&mut c, "maxclients"), "100");
    assert_eq!(get(&mut c, "timeout"), "5");
    drop(server);
    // Flag over file.
    let server = TestServer::builder()
        .arg("--config")
        .arg(&file)
        .arg("--maxclients")
        .arg("200")
        .arg("--slowlog-max-len")
        .arg("22")
        .start();
    let mut c = server.raw();
    assert_eq!(get(&mut c, "maxclients"), "200");
    assert_eq!(get(&mut c, "slowlog-max-len"), "22");
    assert_eq!(get(&mut c, "timeout"), "5");
    drop(server);
    // Env over flag over file; redis-server style multi-word flag values.
    let server = TestServer::builder()
        .arg("--config")
        .arg(&file)
        .arg("--maxclients")
        .arg("200")
        .arg("--save")
        .arg("900")
        .arg("1")
        .arg("--appendonly")
        .arg("yes")
        .env("RINGKV_MAXCLIENTS", "300")
        .env("RINGKV_TIMEOUT", "7")
        .start();
    let mut c = server.raw();
    assert_eq!(get(&mut c, "maxclients"), "300");
    assert_eq!(get(&mut c, "timeout"), "7");
    assert_eq!(get(&mut c, "slowlog-max-len"), "11");
    assert_eq!(get(&mut c, "save"), "900 1");
    assert_eq!(get(&mut c, "appendonly"), "yes");
    let info = s(c.cmd(&["INFO", "server"]));
    assert!(info.contains(&format!("config_file:{file}\r\n")), "{info}");
    // The banner names version, threads, CPUs, address and file.
    let log = server.log();
    assert!(
        log.contains(&format!("ringkv {} starting", env!("CARGO_PKG_VERSION"))),
        "{log}"
    );
    assert!(
        log.contains("threads on CPUs") && log.contains(&format!("config file {file}")),
        "{log}"
    );
}

#[test]
fn rejected_configs_name_key_file_and_line() {
    let dir = scratch("rejected");
    let cases: &[(&str, &str)] = &[
        ("port = 1\n\nprot = 2\n", ":3: unknown setting 'prot'"),
        ("# c\nport = \"abc\"\n", ":2: bad value for 'port': argument couldn't be parsed into an integer"),
        ("maxclients = 0\n", ":1: bad value for 'maxclients': argument must be between 1 and 4294967295 inclusive"),
        ("loglevel = \"loud\"\n", ":1: bad value for 'loglevel': argument(s) must be one of the following: debug, verbose, notice, warning"),
        ("appendfsync = \"sometimes\"\n", ":1: bad value for 'appendfsync': argument(s) must be one of the following: everysec, always, no"),
        ("appendonly = \"maybe\"\n", ":1: bad value for 'appendonly': argument must be 'yes' or 'no'"),
        ("save = \"60\"\n", ":1: bad value for 'save': Invalid save parameters"),
        ("cpus = \"3-1\"\n", ":1: bad value for 'cpus': '3-1' is not a CPU number or range like 0-3"),
        ("timeout = 1.5\n", ":1: bad value for 'timeout': expected an integer or a string, not a float"),
        ("port = 1\nport 2\n", ":2: invalid TOML"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let file = write(&dir, &format!("bad{i}.toml"), text);
        let err = rejected(&["--config", &file], &[]);
        assert!(err.contains(&format!("{file}{want}")), "{text:?}: {err}");
    }
    let missing = dir.join("missing.toml").display().to_string();
    assert!(rejected(&["--config", &missing], &[])
        .contains(&format!("{missing}: cannot read the config file")));
    let cli: &[(&[&str], &str)] = &[
        (&["--prot", "1"], "command line: unknown setting '--prot' (see --help)"),
        (&["--port"], "command line: --port needs a value"),
        (&["--port", "x"], "--port: bad value for 'port': argument couldn't be parsed into an integer"),
        (&["--maxclients", "-1"], "--maxclients: bad value for 'maxclients': argument must be between 1 and 4294967295 inclusive"),
    ];
    for (args, want) in cli {
        let err = rejected(args, &[]);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let err = rejected(&[], &[("RINGKV_PORT", "http")]);
    assert!(
        err.contains(
            "RINGKV_PORT: bad value for 'port': argument couldn't be parsed into an integer"
        ),
        "{err}"
    );
    let err = rejected(&["--logfile", "/nonexistent-dir/x.log"], &[]);
    assert!(
        err.contains("Can't open the log file /nonexistent-dir/x.log"),
        "{err}"
    );
}

#[test]
fn help_and_version() {
    let out = Command::new(ringkv_bin()).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("--slowlog-max-len"),
        "{text}"
    );
    let out = Command::new(ringkv_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ringkv v="));
}

/// One connection on each core (client ids encode the core: id - 1 ≡ core mod
/// cores).
fn one_conn_per_core(server: &TestServer, cores: u64) -> Vec<common::RawConn> {
    let mut slots: Vec<Option<common::RawConn>> = (0..cores).map(|_| None).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while slots.iter().any(Option::is_none) {
        assert!(Instant::now() < deadline, "could not reach every core");
        let mut c = server.raw();
        let id: u64 = s(c.cmd(&["CLIENT", "ID"]))[1..].trim().parse().unwrap();
        let core = ((id - 1) % cores) as usize;
        if slots[core].is_none() {
            slots[core] = Some(c);
        }
    }
    slots.into_iter().flatten().collect()
}

#[test]
fn config_set_reaches_every_core() {
    if common::target_is_redis() {
        return;
    }
    let server = TestServer::start(3);
    let mut conns = one_conn_per_core(&server, 3);
    assert_eq!(
        s(conns[1].cmd(&[
            "CONFIG",
            "SET",
            "maxclients",
            "123",
            "slowlog-max-len",
            "9",
            "appendfsync",
            "ALWAYS"
        ])),
        "+OK\r\n"
    );
    for c in &mut conns {
        assert_eq!(get(c, "maxclients"), "123");
        assert_eq!(get(c, "slowlog-max-len"), "9");
        assert_eq!(get(c, "appendfsync"), "always");
    }
    let cases: &[(&[&str], &str)] = &[
        (&["CONFIG", "SET", "port", "1"], "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"),
        (&["CONFIG", "SET", "timeout", "5", "save", "1"], "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"),
        (&["CONFIG", "SET", "maxclients", "1", "MAXCLIENTS", "2"], "-ERR CONFIG SET failed (possibly related to argument 'MAXCLIENTS') - duplicate parameter\r\n"),
        (&["CONFIG", "SET", "bogus", "1"], "-ERR Unknown option or number of arguments for CONFIG SET - 'bogus'\r\n"),
        (&["CONFIG", "SET", "loglevel", "loud"], "-ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning\r\n"),
        (&["CONFIG", "SET", "timeout"], "-ERR wrong number of arguments for 'config|set' command\r\n"),
    ];
    for (cmd, want) in cases {
        assert_eq!(s(conns[2].cmd(cmd)), *want, "{cmd:?}");
    }
    // A failed SET changed nothing anywhere.
    for c in &mut conns {
        assert_eq!(get(c, "timeout"), "0");
    }
    // INFO reads the live value too.
    let info = s(conns[0].cmd(&["INFO", "clients"]));
    assert!(info.contains("maxclients:123\r\n"), "{info}");
}

#[test]
fn config_set_maxclients_applies() {
    if common::target_is_redis() {
        return;
    }
    let server = TestServer::start(1);
    let mut admin = server.raw();
    assert_eq!(
        s(admin.cmd(&["CONFIG", "SET", "maxclients", "2"])),
        "+OK\r\n"
    );
    // The start-up probe's connection is closed, but the server may not have
    // seen its end yet: wait until only `admin` is counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s(admin.cmd(&["INFO", "clients"])).contains("connected_clients:1\r\n") {
        assert!(Instant::now() < deadline, "probe connection never closed");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut second = server.raw();
    assert_eq!(s(second.cmd(&["PING"])), "+PONG\r\n");
    let mut third = server.raw();
    third.send(b"PING\r\n");
    let r = s(third.read_up_to(usize::MAX, Duration::from_secs(2)));
    assert!(r.starts_with("-ERR max number of clients reached"), "{r}");
}

#[test]
fn resetstat_clears_every_core() {
    if common::target_is_redis() {
        return;
    }
    let server = TestServer::start(2);
    let mut conns = one_conn_per_core(&server, 2);
    for c in &mut conns {
        for _ in 0..20 {
            c.cmd(&["SET", "k", "v"]);
        }
        c.cmd(&["NOSUCHCOMMAND"]);
    }
    let stat = |c: &mut common::RawConn, field: &str| -> u64 {
        let info = s(c.cmd(&["INFO", "stats"]));
        let line = info
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("{field} in {info}"));
        line[field.len() + 1..].trim().parse().unwrap()
    };
    assert!(stat(&mut conns[0], "total_commands_processed") >= 40);
    assert!(stat(&mut conns[0], "total_error_replies") >= 2);
    assert_eq!(s(conns[1].cmd(&["CONFIG", "RESETSTAT"])), "+OK\r\n");
    assert!(stat(&mut conns[0], "total_commands_processed") <= 2);
    assert_eq!(stat(&mut conns[0], "total_error_replies"), 0);
    // The connections one_conn_per_core dropped are closed; their ends are
    // seen asynchronously.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let clients = s(conns[0].cmd(&["INFO", "clients"]));
        if clients.contains("connected_clients:2\r\n") {
            break;
        }
        assert!(Instant::now() < deadline, "{clients}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn rewrite_keeps_comments_and_writes_changes() {
    if common::target_is_redis() {
        return;
    }
    let dir = scratch("rewrite");
    let file = write(
        &dir,
        "r.toml",
        "# my server\nmaxclients = 100 # clients\n\n# level\nloglevel = \"notice\"\n",
    );
    // The harness passes `--save ""`; put back the default so the rewrite
    // only has this test's changes to write.
    let server = TestServer::builder()
        .threads(2)
        .arg("--config")
        .arg(&file)
        .arg("--save")
        .arg("3600 1 300 100 60 10000")
        .start();
    let mut c = server.raw();
    c.cmd(&[
        "CONFIG",
        "SET",
        "maxclients",
        "77",
        "slowlog-max-len",
        "5",
        "loglevel",
        "warning",
    ]);
    assert_eq!(s(c.cmd(&["CONFIG", "REWRITE"])), "+OK\r\n");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        "# my server\nmaxclients = 77 # clients\n\n# level\nloglevel = \"warning\"\nslowlog-max-len = 5\n"
    );
    // Without a file: Redis's error (also checked in tests/server.rs).
    let plain = TestServer::start(1);
    assert_eq!(
        s(plain.raw().cmd(&["CONFIG", "REWRITE"])),
        "-ERR The server is running without a config file\r\n"
    );
}

/// Polls `CONFIG GET name` on `c` until it reads `want` (10 s at most).
fn wait_for(c: &mut common::RawConn, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(c, name);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{name} is {got}, want {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sighup_reloads_runtime_settings_on_every_core() {
    if common::target_is_redis() {
        return;
    }
    let dir = scratch("sighup");
    let file = write(&dir, "h.toml", "maxclients = 100\ntimeout = 0\n");
    let server = TestServer::builder()
        .threads(2)
        .arg("--config")
        .arg(&file)
        .arg("--slowlog-max-len")
        .arg("9")
        .start();
    let mut conns = one_conn_per_core(&server, 2);
    write(
        &dir,
        "h.toml",
        "maxclients = 50\ntimeout = 30\nslowlog-max-len = 1\nappendfsync = \"no\"\nport = 1\n",
    );
    server.signal(libc::SIGHUP);
    for c in &mut conns {
        wait_for(c, "maxclients", "50");
        assert_eq!(get(c, "timeout"), "30");
        assert_eq!(get(c, "appendfsync"), "no");
        // A flag still beats the file; settings fixed at start stay.
        assert_eq!(get(c, "slowlog-max-len"), "9");
        assert_eq!(get(c, "port"), server.port().to_string());
    }
    // A broken file keeps the running settings and says why.
    write(&dir, "h.toml", "maxclients = \"many\"\n");
    server.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains("SIGHUP: keeping current settings") {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(server
        .log()
        .contains("h.toml:1: bad value for 'maxclients'"));
    assert_eq!(get(&mut conns[0], "maxclients"), "50");
    assert_eq!(s(conns[0].cmd(&["PING"])), "+PONG\r\n");
}

#[test]
fn logfile_rotates_by_size_keeping_n_files() {
    if common::target_is_redis() {
        return;
    }
    let dir = scratch("logs");
    let log = dir.join("ringkv.log");
    let server = TestServer::builder()
        .threads(2)
        .arg("--logfile")
        .arg(log.display().to_string())
        .arg("--logfile-max-size")
        .arg("2kb")
        .arg("--logfile-keep")
        .arg("2")
        .start();
    let mut c = server.raw();
    for i in 0..100 {
        assert_eq!(
            s(c.cmd(&["CONFIG", "SET", "slowlog-max-len", &i.to_string()])),
            "+OK\r\n"
        );
    }
    let numbered = |n: usize| PathBuf::from(format!("{}.{n}", log.display()));
    for p in [log.clone(), numbered(1), numbered(2)] {
        let len = std::fs::metadata(&p)
            .map(|m| m.len())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(len <= 2048, "{} is {len} bytes", p.display());
    }
    assert!(!numbered(3).exists());
    let newest = std::fs::read_to_string(&log).unwrap();
    let line = newest.lines().last().unwrap();
    // `<time> INFO  [shard N] CONFIG SET slowlog-max-len="99"`
    assert!(
        line.contains(" INFO  [shard ") && line.ends_with("CONFIG SET slowlog-max-len=\"99\""),
        "{line}"
    );
    // Nothing went to stderr once the file took over.
    assert!(!server.log().contains("CONFIG SET"), "{}", server.log());
}

#[test]
fn shipped_config_file_starts_the_server() {
    if common::target_is_redis() {
        return;
    }
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/ringkv.toml");
    let server = TestServer::builder()
        .threads(2)
        .arg("--config")
        .arg(file)
        .arg("--metrics-addr")
        .arg("")
        .start();
    let mut c = server.raw();
    assert_eq!(get(&mut c, "loglevel"), "notice");
    assert_eq!(get(&mut c, "proto-max-bulk-len"), "536870912");
}
