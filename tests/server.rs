//! Server commands through the real binary: TIME, COMMAND (bare, COUNT, INFO,
//! DOCS, LIST, GETKEYS, HELP), CONFIG, INFO (sections, fields, RESP3) and the
//! tools that read them (redis-cli INFO, `redis-cli --stat`), plus ringkv's
//! VERSION, STATUS and HELP. `RINGKV_TEST_TARGET=redis` runs the shared
//! expectations against redis-server 7.0.

mod common;

use common::{for_each_threads, target_is_redis, RawConn, TestServer};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn s(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The payload of a bulk (`$`) or verbatim (`=`, `txt:` stripped) reply.
fn text(reply: &str) -> &str {
    let (head, body) = reply.split_once("\r\n").expect("header line");
    assert!(head.starts_with('$') || head.starts_with('='), "{reply}");
    let body = body.strip_suffix("\r\n").expect("CRLF");
    if head.starts_with('=') {
        body.strip_prefix("txt:").expect("txt:")
    } else {
        body
    }
}

#[test]
fn time_is_now() {
    let server = TestServer::start(1);
    let mut c = server.raw();
    let r = s(c.cmd(&["TIME"]));
    let parts: Vec<&str> = r.split("\r\n").collect();
    assert_eq!(parts[0], "*2", "{r}");
    let secs: u64 = parts[2].parse().unwrap();
    let micros: u64 = parts[4].parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2 && micros < 1_000_000, "{r}");
    assert_eq!(
        s(c.cmd(&["TIME", "x"])),
        "-ERR wrong number of arguments for 'time' command\r\n"
    );
}

/// Redis 7.0.15's `COMMAND INFO get` reply, byte for byte.
const GET_INFO: &str = "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";

#[test]
fn command_info_and_count() {
    let server = TestServer::start(2);
    let mut c = server.raw();
    assert_eq!(s(c.cmd(&["COMMAND", "INFO", "get"])), GET_INFO);
    assert_eq!(s(c.cmd(&["command", "info", "GET"])), GET_INFO);
    // Shared prefix of the entries whose tips/key-spec flags ringkv cannot
    // state yet: name, arity, flags, keys, ACL categories.
    let mget = s(c.cmd(&["COMMAND", "INFO", "mget"]));
    assert!(mget.starts_with("*1\r\n*10\r\n$4\r\nmget\r\n:-2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:-1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n"), "{mget}");
    let set = s(c.cmd(&["COMMAND", "INFO", "set"]));
    assert!(set.starts_with("*1\r\n*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@string\r\n+@slow\r\n"), "{set}");
    let del = s(c.cmd(&["COMMAND", "INFO", "del"]));
    assert!(del.starts_with("*1\r\n*10\r\n$3\r\ndel\r\n:-2\r\n*1\r\n+write\r\n:1\r\n:-1\r\n:1\r\n*3\r\n+@keyspace\r\n+@write\r\n+@slow\r\n"), "{del}");
    // Subcommands by full name, containers with their subcommands.
    assert_eq!(
        s(c.cmd(&["COMMAND", "INFO", "client|id"])),
        "*1\r\n*10\r\n$9\r\nclient|id\r\n:2\r\n*3\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@slow\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n"
    );
    let config = s(c.cmd(&["COMMAND", "INFO", "config"]));
    assert!(config.starts_with("*1\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*5\r\n*10\r\n"), "{config}");
    assert!(config.contains(
        "$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n"
    ));
    assert_eq!(s(c.cmd(&["COMMAND", "INFO", "nope"])), "*1\r\n$-1\r\n");
    // COUNT = entries of bare COMMAND = entries of COMMAND INFO.
    let count = s(c.cmd(&["COMMAND", "COUNT"]));
    let n: usize = count.trim_start_matches(':').trim_end().parse().unwrap();
    assert!(s(c.cmd(&["COMMAND"])).starts_with(&format!("*{n}\r\n*10\r\n")));
    assert!(s(c.cmd(&["COMMAND", "INFO"])).starts_with(&format!("*{n}\r\n*10\r\n")));
    assert_eq!(
        s(c.cmd(&["COMMAND", "COUNT", "x"])),
        "-ERR wrong number of arguments for 'command|count' command\r\n"
    );
    assert_eq!(
        s(c.cmd(&["COMMAND", "foo"])),
        "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n"
    );
    // RESP3: flags, categories, tips and key specs are sets, nulls are `_`.
    c.cmd(&["HELLO", "3"]);
    let get3 = s(c.cmd(&["COMMAND", "INFO", "get", "nope"]));
    assert!(get3.starts_with("*2\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n"), "{get3}");
    assert!(get3.ends_with("$5\r\nlimit\r\n:0\r\n~0\r\n_\r\n"), "{get3}");
}

#[test]
fn command_docs_list_getkeys() {
    let server = TestServer::start(1);
    let mut c = server.raw();
    // Redis adds complexity/arguments; summary, since and group are shared.
    let docs = s(c.cmd(&["COMMAND", "DOCS", "config|get", "nope"]));
    assert!(docs.starts_with("*2\r\n$10\r\nconfig|get\r\n*"), "{docs}");
    assert!(docs.contains("$7\r\nsummary\r\n$42\r\nGet the values of configuration parameters\r\n$5\r\nsince\r\n$5\r\n2.0.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n"), "{docs}");
    assert_eq!(s(c.cmd(&["COMMAND", "DOCS", "nope"])), "*0\r\n");
    let client = s(c.cmd(&["COMMAND", "DOCS", "client"]));
    assert!(
        client.contains("$11\r\nsubcommands\r\n") && client.contains("$14\r\nclient|setname\r\n"),
        "{client}"
    );

    let list = s(c.cmd(&["COMMAND", "LIST"]));
    for name in [
        "get",
        "client",
        "client|list",
        "config|get",
        "command|docs",
        "ping",
    ] {
        assert!(
            list.contains(&format!("\r\n${}\r\n{name}\r\n", name.len())),
            "{name} missing"
        );
    }
    let cfg = s(c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "CONFIG|*"]));
    assert!(cfg.starts_with("*5\r\n"), "{cfg}");
    let conn = s(c.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"]));
    assert!(conn.contains("\r\n$4\r\nping\r\n") && conn.contains("\r\n$9\r\nclient|id\r\n"));
    assert!(!conn.contains("\r\n$6\r\nclient\r\n") && !conn.contains("\r\n$3\r\nget\r\n"));
    assert_eq!(
        s(c.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nope"])),
        "*0\r\n"
    );
    assert_eq!(
        s(c.cmd(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"])),
        "*0\r\n"
    );
    assert_eq!(
        s(c.cmd(&["COMMAND", "LIST", "FILTERBY", "foo", "x"])),
        "-ERR syntax error\r\n"
    );
    assert_eq!(s(c.cmd(&["COMMAND", "LIST", "x"])), "-ERR syntax error\r\n");

    let cases: &[(&[&str], &str)] = &[
        (&["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        (&["COMMAND", "GETKEYS", "GET", "k"], "*1\r\n$1\r\nk\r\n"),
        (&["COMMAND", "GETKEYS", "get"], "-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
        (&["COMMAND", "GETKEYS", "nope", "a"], "-ERR Invalid command specified\r\n"),
        (&["COMMAND", "GETKEYS", "mset", "a"], "-ERR Invalid number of arguments specified for command\r\n"),
        (&["COMMAND", "GETKEYS", "get", "a", "b"], "-ERR Invalid number of arguments specified for command\r\n"),
        (&["COMMAND", "GETKEYS", "client", "id"], "-ERR The command has no key arguments\r\n"),
        (&["COMMAND", "GETKEYSANDFLAGS", "get", "a"], "*1\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n"),
        (&["COMMAND", "GETKEYSANDFLAGS", "mset", "a", "b", "c", "d"], "*2\r\n*2\r\n$1\r\na\r\n*2\r\n+OW\r\n+update\r\n*2\r\n$1\r\nc\r\n*2\r\n+OW\r\n+update\r\n"),
    ];
    for (cmd, want) in cases {
        assert_eq!(s(c.cmd(cmd)), *want, "{cmd:?}");
    }
    let help = s(c.cmd(&["COMMAND", "HELP"]));
    assert!(help.starts_with("*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+(no subcommand)\r\n"), "{help}");
}

#[test]
fn config_get_and_refusals() {
    let server = TestServer::start(2);
    let mut c = server.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["CONFIG", "GET", "save"], "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"),
        (&["CONFIG", "GET", "appendonly"], "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"),
        (&["CONFIG", "GET", "databases"], "*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"),
        (&["CONFIG", "GET", "SAVE"], "*2\r\n$4\r\nSAVE\r\n$0\r\n\r\n"),
        (&["CONFIG", "GET", "nope"], "*0\r\n"),
        (&["CONFIG", "GET", "maxmemory-pol*"], "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"),
        (&["CONFIG", "GET"], "-ERR wrong number of arguments for 'config|get' command\r\n"),
        (&["CONFIG"], "-ERR wrong number of arguments for 'config' command\r\n"),
        (&["CONFIG", "foo"], "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n"),
        (&["CONFIG", "SET", "foo", "1"], "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"),
        (&["CONFIG", "SET", "maxmemory"], "-ERR wrong number of arguments for 'config|set' command\r\n"),
        (&["CONFIG", "SET", "maxmemory", "1", "x"], "-ERR syntax error\r\n"),
        (&["CONFIG", "SET", "databases", "4"], "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n"),
        (&["CONFIG", "RESETSTAT", "x"], "-ERR wrong number of arguments for 'config|resetstat' command\r\n"),
        (&["CONFIG", "REWRITE"], "-ERR The server is running without a config file\r\n"),
    ];
    for (cmd, want) in cases {
        assert_eq!(s(c.cmd(cmd)), *want, "{cmd:?}");
    }
    // Several patterns, each setting once (Redis's order is a hash order).
    let multi = s(c.cmd(&["CONFIG", "GET", "data*", "save", "databases"]));
    assert!(multi.starts_with("*4\r\n"), "{multi}");
    assert!(
        multi.contains("$9\r\ndatabases\r\n$2\r\n16\r\n")
            && multi.contains("$4\r\nsave\r\n$0\r\n\r\n")
    );
    c.cmd(&["HELLO", "3"]);
    assert_eq!(
        s(c.cmd(&["CONFIG", "GET", "appendonly"])),
        "%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    );
    let help = s(c.cmd(&["CONFIG", "HELP"]));
    assert!(help.starts_with("*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n"), "{help}");
}

fn headers(info: &str) -> Vec<&str> {
    info.split("\r\n").filter(|l| l.starts_with("# ")).collect()
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
}

#[test]
fn info_sections_and_fields() {
    for_each_threads(&[1, 3], |server| {
        let mut c = server.raw();
        for i in 0..10 {
            c.cmd(&["SET", &format!("key{i}"), "v"]);
        }
        c.cmd(&["EXPIRE", "key0", "1000"]);
        c.cmd(&["SELECT", "2"]);
        c.cmd(&["SET", "other", "v"]);
        let mut second = server.raw();
        assert_eq!(s(second.cmd(&["PING"])), "+PONG\r\n");

        let default = s(c.cmd(&["INFO"]));
        let body = text(&default);
        assert_eq!(
            headers(body),
            [
                "# Server",
                "# Clients",
                "# Memory",
                "# Persistence",
                "# Stats",
                "# Replication",
                "# CPU",
                "# Modules",
                "# Errorstats",
                "# Cluster",
                "# Keyspace"
            ]
        );
        assert!(!body.replace("\r\n", "").contains('\n'), "bare LF in INFO");
        assert!(body.ends_with("\r\n") && !body.ends_with("\r\n\r\n"));
        assert!(body.contains("\r\n\r\n# Clients\r\n"));
        for (name, value) in [
            ("redis_mode", "standalone"),
            ("arch_bits", "64"),
            ("role", "master"),
            ("connected_slaves", "0"),
            ("loading", "0"),
            ("aof_enabled", "0"),
            ("cluster_enabled", "0"),
            ("maxmemory", "0"),
        ] {
            assert_eq!(field(body, name), Some(value), "{name}");
        }
        assert!(field(body, "redis_version").unwrap().starts_with("7."));
        assert_eq!(
            field(body, "tcp_port"),
            Some(server.port().to_string().as_str())
        );
        for name in [
            "os",
            "process_id",
            "run_id",
            "uptime_in_seconds",
            "uptime_in_days",
            "executable",
            "config_file",
            "used_memory",
            "used_memory_human",
            "rdb_changes_since_last_save",
            "total_connections_received",
            "total_commands_processed",
            "instantaneous_ops_per_sec",
            "total_net_input_bytes",
            "expired_keys",
            "evicted_keys",
            "keyspace_hits",
            "keyspace_misses",
            "used_cpu_sys",
            "used_cpu_user",
            "blocked_clients",
        ] {
            assert!(field(body, name).is_some(), "missing {name}");
        }
        assert_eq!(field(body, "run_id").unwrap().len(), 40);
        assert!(
            field(body, "connected_clients")
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 2
        );
        assert!(
            field(body, "total_commands_processed")
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 12
        );
        assert!(field(body, "db0")
            .unwrap()
            .starts_with("keys=10,expires=1,avg_ttl="));
        assert!(field(body, "db2")
            .unwrap()
            .starts_with("keys=1,expires=0,avg_ttl="));
        assert!(field(body, "db1").is_none());

        let all = s(c.cmd(&["INFO", "all"]));
        let all_headers = headers(text(&all));
        assert!(all_headers.contains(&"# Commandstats") && all_headers.contains(&"# Latencystats"));
        assert_eq!(
            headers(text(&s(c.cmd(&["INFO", "everything"])))),
            all_headers
        );
        assert_eq!(
            headers(text(&s(c.cmd(&["INFO", "default"])))),
            headers(body)
        );
        let two = s(c.cmd(&["INFO", "clients", "SERVER"]));
        assert_eq!(headers(text(&two)), ["# Server", "# Clients"]);
        assert_eq!(s(c.cmd(&["INFO", "nope"])), "$0\r\n\r\n");
        assert_eq!(
            s(c.cmd(&["INFO", "cluster"])),
            "$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n"
        );
        c.cmd(&["HELLO", "3"]);
        assert_eq!(
            s(c.cmd(&["INFO", "cluster"])),
            "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"
        );
    });
}

#[test]
fn redis_cli_reads_info_and_stat() {
    let server = TestServer::start(2);
    let mut c = server.raw();
    c.cmd(&["SET", "a", "1"]);
    let port = server.port().to_string();
    let out = Command::new("redis-cli")
        .args(["-p", &port, "INFO", "server"])
        .output()
        .expect("run redis-cli");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("redis_version:7."),
        "{stdout}"
    );

    // `redis-cli --stat` polls INFO; it must print its header and data rows.
    // stdbuf: redis-cli's stdout is block-buffered on a pipe and it is killed.
    let mut stat = Command::new("stdbuf")
        .args(["-oL", "redis-cli", "-p", &port, "--stat", "-i", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli --stat");
    std::thread::sleep(Duration::from_millis(1200));
    stat.kill().ok();
    let out = stat.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("------- data ------"), "{stdout}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(|ch: char| ch.is_ascii_digit()))
        .collect();
    assert!(rows.len() >= 2, "{stdout}");
    // keys, mem, clients, blocked, requests, connections
    let cols: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(cols[0], "1", "{stdout}");
    assert!(!stdout.contains("ERR"), "{stdout}");
}

#[test]
fn ringkv_version_status_help() {
    if target_is_redis() {
        return;
    }
    let server = TestServer::start(3);
    let mut c = server.raw();
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(s(c.cmd(&["VERSION"])), format!("${}\r\n{v}\r\n", v.len()));
    let status = s(c.cmd(&["STATUS"]));
    assert!(
        status.starts_with(&format!("*12\r\n$7\r\nversion\r\n${}\r\n{v}\r\n", v.len())),
        "{status}"
    );
    assert!(status.contains("$5\r\ncores\r\n:3\r\n"), "{status}");
    c.cmd(&["HELLO", "3"]);
    assert!(s(c.cmd(&["STATUS"])).starts_with("%6\r\n"));
    let help = s(c.cmd(&["HELP"]));
    let count = s(c.cmd(&["COMMAND", "COUNT"]));
    let n = count.trim_start_matches(':').trim_end();
    assert!(help.starts_with(&format!("*{n}\r\n+")), "{help}");
    assert!(
        help.contains("\r\n+GET 2 ") && help.contains("\r\n+CLIENT -2 "),
        "{help}"
    );
    let mut other = RawConn::connect(server.port());
    assert_eq!(
        s(other.cmd(&["VERSION", "x"])),
        "-ERR wrong number of arguments for 'version' command\r\n"
    );
}
