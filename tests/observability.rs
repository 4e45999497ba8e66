//! Observability through the real binary: the Prometheus endpoint
//! (`/metrics` parsed with a Prometheus text parser, `/healthz`), INFO
//! commandstats / errorstats / latencystats, SLOWLOG, LATENCY and MONITOR
//! across cores.

mod common;

use common::{free_port, RawConn, TestServer};
use redis::Value;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A ringkv with its metrics endpoint on a free port (returned).
fn server_with_metrics(threads: usize) -> (TestServer, u16) {
    let port = free_port();
    let server = TestServer::builder()
        .threads(threads)
        .arg("--metrics-addr")
        .arg(format!("127.0.0.1:{port}"))
        .start();
    (server, port)
}

/// One HTTP GET; (status code, body). Retries the connect while the endpoint
/// comes up.
fn http_get(port: u16, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("connect to metrics port {port}: {e}"),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("Content-Length");
    assert_eq!(body.len(), len, "body length");
    (status, body.to_string())
}

fn scrape(port: u16) -> prometheus_parse::Scrape {
    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, 200, "{body}");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("parse")
}

/// The value of the sample `metric` whose labels include `labels`.
fn sample(s: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .filter(|x| x.metric == metric)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .find_map(|x| match &x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(*v),
            _ => None,
        })
}

#[test]
fn metrics_change_after_commands() {
    let (server, port) = server_with_metrics(2);
    let mut con = server.connection();
    let before = scrape(port);
    let sets = |s: &prometheus_parse::Scrape| {
        sample(s, "ringkv_commands_processed_total", &[("cmd", "set")]).unwrap_or(0.0)
    };
    assert_eq!(sample(&before, "ringkv_shards", &[]), Some(2.0));
    for i in 0..25 {
        let _: () = redis::cmd("SET")
            .arg(format!("key{i}"))
            .arg("v")
            .query(&mut con)
            .unwrap();
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("key{i}"))
            .query(&mut con)
            .unwrap();
    }
    let _: () = redis::cmd("EXPIRE")
        .arg("key0")
        .arg(100)
        .query(&mut con)
        .unwrap();
    let bad: redis::RedisResult<()> = redis::cmd("INCR").arg("key1").query(&mut con);
    assert!(bad.is_err());
    let after = scrape(port);
    assert_eq!(sets(&after) - sets(&before), 25.0);
    let gets = sample(&after, "ringkv_commands_processed_total", &[("cmd", "get")]).unwrap();
    assert!(gets >= 25.0, "get calls {gets}");
    assert_eq!(
        sample(&after, "ringkv_commands_failed_total", &[("cmd", "incr")]),
        Some(1.0)
    );
    assert!(sample(&after, "ringkv_errors_total", &[("code", "ERR")]).unwrap() >= 1.0);
    assert_eq!(
        sample(&after, "ringkv_db_keys", &[("db", "db0")]),
        Some(25.0)
    );
    assert_eq!(
        sample(&after, "ringkv_db_keys_expiring", &[("db", "db0")]),
        Some(1.0)
    );
    assert!(sample(&after, "ringkv_connected_clients", &[]).unwrap() >= 1.0);
    assert!(
        sample(&after, "ringkv_net_input_bytes_total", &[]).unwrap()
            > sample(&before, "ringkv_net_input_bytes_total", &[]).unwrap_or(0.0)
    );
    assert!(sample(&after, "ringkv_memory_used_bytes", &[]).unwrap() > 0.0);
    for shard in ["0", "1"] {
        assert!(sample(&after, "ringkv_shard_queue_depth", &[("shard", shard)]).is_some());
        assert!(sample(
            &after,
            "ringkv_cross_shard_batches_total",
            &[("shard", shard)]
        )
        .is_some());
    }
    // The latency histogram of SET counts every call.
    let hist = after
        .samples
        .iter()
        .find(|x| {
            x.metric == "ringkv_command_duration_seconds" && x.labels.get("cmd") == Some("set")
        })
        .expect("set histogram");
    let prometheus_parse::Value::Histogram(buckets) = &hist.value else {
        panic!("not a histogram: {:?}", hist.value);
    };
    let inf = buckets
        .iter()
        .find(|b| b.less_than.is_infinite())
        .expect("+Inf bucket");
    assert!(inf.count >= 25.0);
    assert!(
        buckets.windows(2).all(|w| w[0].count <= w[1].count),
        "cumulative"
    );
}

#[test]
fn healthz_and_unknown_paths() {
    let (_server, port) = server_with_metrics(2);
    let (status, body) = http_get(port, "/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ok"), "{body}");
    assert_eq!(http_get(port, "/nope").0, 404);
}

fn info(con: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(con).unwrap()
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
}

#[test]
fn info_commandstats_errorstats_latencystats() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    for i in 0..10 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let _: redis::RedisResult<()> = redis::cmd("GET").query(&mut con); // arity: rejected
    let _: redis::RedisResult<()> = redis::cmd("NOSUCHCMD").query(&mut con);
    let _: redis::RedisResult<()> = redis::cmd("LPUSH").arg("k1").arg("x").query(&mut con);
    let _: redis::RedisResult<()> = redis::cmd("INCR").arg("k1").arg("x").query(&mut con);
    let _: Value = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let stats = info(&mut con, "commandstats");
    let set = field(&stats, "cmdstat_set").expect("cmdstat_set");
    assert!(set.starts_with("calls=10,usec="), "{set}");
    assert!(set.contains(",usec_per_call=") && set.ends_with(",rejected_calls=0,failed_calls=0"));
    let get = field(&stats, "cmdstat_get").expect("cmdstat_get");
    assert!(
        get.starts_with("calls=0,") && get.contains("rejected_calls=1"),
        "{get}"
    );
    assert!(field(&stats, "cmdstat_client|id").is_some(), "{stats}");
    let errors = info(&mut con, "errorstats");
    let err = field(&errors, "errorstat_ERR").expect("errorstat_ERR");
    assert!(
        err.starts_with("count=") && err[6..].parse::<u64>().unwrap() >= 2,
        "{err}"
    );
    let latency = info(&mut con, "latencystats");
    let p = field(&latency, "latency_percentiles_usec_set").expect("set percentiles");
    assert!(
        p.starts_with("p50=") && p.contains(",p99=") && p.contains(",p99.9="),
        "{p}"
    );
    // CONFIG RESETSTAT clears them.
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    let stats = info(&mut con, "commandstats");
    assert!(field(&stats, "cmdstat_set").is_none(), "{stats}");
}

fn slowlog_get(con: &mut redis::Connection, count: Option<i64>) -> Vec<Vec<Value>> {
    let mut c = redis::cmd("SLOWLOG");
    c.arg("GET");
    if let Some(n) = count {
        c.arg(n);
    }
    let Value::Array(entries) = c.query::<Value>(con).unwrap() else {
        panic!("SLOWLOG GET reply");
    };
    entries
        .into_iter()
        .map(|e| match e {
            Value::Array(fields) => fields,
            other => panic!("entry {other:?}"),
        })
        .collect()
}

fn bulks(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("arg {other:?}"),
            })
            .collect(),
        other => panic!("args {other:?}"),
    }
}

fn bulk(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("bulk {other:?}"),
    }
}

#[test]
fn slowlog_records_every_command_at_zero() {
    let server = TestServer::builder()
        .threads(1)
        .arg("--slowlog-log-slower-than")
        .arg("0")
        .start();
    let mut con = server.connection();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("obs")
        .query(&mut con)
        .unwrap();
    let long = "x".repeat(200);
    let _: () = redis::cmd("SET")
        .arg("foo")
        .arg(&long)
        .query(&mut con)
        .unwrap();
    let mut del = redis::cmd("DEL");
    for i in 0..40 {
        del.arg(format!("k{i}"));
    }
    let _: i64 = del.query(&mut con).unwrap();
    let entries = slowlog_get(&mut con, None);
    assert!(entries.len() >= 3, "{entries:?}");
    // Newest first: DEL, SET, CLIENT SETNAME.
    let del_args = bulks(&entries[0][3]);
    assert_eq!(del_args.len(), 32);
    assert_eq!(del_args[0], "DEL");
    assert_eq!(del_args[31], "... (10 more arguments)");
    let set_args = bulks(&entries[1][3]);
    assert_eq!(set_args[..2], ["SET", "foo"]);
    assert_eq!(
        set_args[2],
        format!("{}... (72 more bytes)", "x".repeat(128))
    );
    assert!(matches!(entries[0][0], Value::Int(_)) && matches!(entries[0][2], Value::Int(_)));
    let Value::Int(ts) = entries[0][1] else {
        panic!()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - ts).abs() < 60);
    assert!(bulk(&entries[0][4]).starts_with("127.0.0.1:"));
    assert_eq!(bulk(&entries[0][5]), "obs");
    assert_eq!(slowlog_get(&mut con, Some(1)).len(), 1);
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert!(len >= 4);
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    // Only the RESET itself is logged afterwards, as in Redis.
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 1);
    let bad: redis::RedisResult<Value> = redis::cmd("SLOWLOG").arg("FOO").query(&mut con);
    let msg = bad.unwrap_err().to_string();
    assert!(
        msg.contains("unknown subcommand 'FOO'. Try SLOWLOG HELP."),
        "{msg}"
    );
    let help: Vec<String> = redis::cmd("SLOWLOG").arg("HELP").query(&mut con).unwrap();
    assert!(help[0].starts_with("SLOWLOG <subcommand>"), "{help:?}");
}

#[test]
fn slowlog_default_threshold_and_across_cores() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    for i in 0..20 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    // Fast commands stay under 10 ms: nothing logged.
    assert!(slowlog_get(&mut con, None).is_empty());
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg("0")
        .query(&mut con)
        .unwrap();
    for i in 0..20 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    // Entries from both cores, merged newest first.
    let entries = slowlog_get(&mut con, Some(-1));
    let sets: Vec<String> = entries
        .iter()
        .map(|e| bulks(&e[3]))
        .filter(|a| a[0] == "SET")
        .map(|a| a[1].clone())
        .collect();
    assert_eq!(sets.len(), 20, "{sets:?}");
    assert_eq!(sets[0], "k19");
    assert_eq!(sets[19], "k0");
    let ids: HashSet<String> = entries.iter().map(|e| format!("{:?}", e[0])).collect();
    assert_eq!(ids.len(), entries.len(), "ids are unique");
}

/// Every SLOWLOG entry names its client (address and CLIENT SETNAME), wherever
/// the command ran: on the connection's core, on the other shard (the keys
/// spread over both), split across shards (MSET) or on the connection itself.
#[test]
fn slowlog_names_the_client_on_every_shard() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg("0")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("obs")
        .query(&mut con)
        .unwrap();
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    let addr = info
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .expect("addr=")
        .to_string();
    for i in 0..20 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let mut mset = redis::cmd("MSET");
    for i in 0..8 {
        mset.arg(format!("m{i}")).arg(i);
    }
    let _: () = mset.query(&mut con).unwrap();
    let _: Value = redis::cmd("DBSIZE").query(&mut con).unwrap();
    let entries = slowlog_get(&mut con, Some(-1));
    let mut seen = Vec::new();
    // Newest first, down to CLIENT SETNAME (the client library's own
    // commands before it ran unnamed).
    for e in &entries {
        let args = bulks(&e[3]);
        assert_eq!(bulk(&e[4]), addr, "{args:?}");
        assert_eq!(bulk(&e[5]), "obs", "{args:?}");
        seen.push(args[0].to_ascii_uppercase());
        if args.len() > 1 && args[..2] == ["CLIENT", "SETNAME"] {
            break;
        }
    }
    for name in ["SET", "MSET", "DBSIZE", "CLIENT"] {
        assert!(seen.iter().any(|s| s == name), "{name} in {seen:?}");
    }
    assert_eq!(seen.iter().filter(|s| *s == "SET").count(), 20, "{seen:?}");
}

/// The latency monitor: empty replies, errors, then events for slow
/// commands. The threshold comes from the environment
/// (`RINGKV_LATENCY_MONITOR_THRESHOLD`, read by the metrics module until
/// `latency-monitor-threshold` is a config flag); setting it here also reaches
/// servers other tests start meanwhile, which is harmless to them.
#[test]
fn latency_monitor() {
    std::env::set_var("RINGKV_LATENCY_MONITOR_THRESHOLD", "1");
    let server = TestServer::start(1);
    let mut con = server.connection();
    let latest: Vec<Value> = redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
    assert!(latest.is_empty(), "{latest:?}");
    let history: Vec<Value> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut con)
        .unwrap();
    assert!(history.is_empty());
    let help: Vec<String> = redis::cmd("LATENCY").arg("HELP").query(&mut con).unwrap();
    assert!(help[0].starts_with("LATENCY <subcommand>"), "{help:?}");
    let bad: redis::RedisResult<Value> = redis::cmd("LATENCY").arg("HISTORY").query(&mut con);
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("wrong number of arguments for 'latency|history' command"));
    // KEYS over many keys takes well over a millisecond.
    for chunk in 0..100 {
        let mut mset = redis::cmd("MSET");
        for i in 0..1000 {
            mset.arg(format!("key:{chunk}:{i}")).arg("v");
        }
        let _: () = mset.query(&mut con).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let latest = loop {
        let _: Vec<String> = redis::cmd("KEYS").arg("*:*:1?7").query(&mut con).unwrap();
        let latest: Vec<Vec<Value>> = redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
        if !latest.is_empty() || Instant::now() > deadline {
            break latest;
        }
    };
    assert!(!latest.is_empty(), "no latency event recorded");
    assert_eq!(bulk(&latest[0][0]), "command");
    let Value::Int(max) = latest[0][3] else {
        panic!()
    };
    assert!(max >= 1);
    let history: Vec<Vec<i64>> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut con)
        .unwrap();
    assert!(!history.is_empty() && history[0][1] >= 1);
    let reset: i64 = redis::cmd("LATENCY").arg("RESET").query(&mut con).unwrap();
    assert!(reset >= 1);
}

/// Reads MONITOR lines until `n` arrived (or the timeout).
fn monitor_lines(mon: &mut RawConn, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.len() < n && Instant::now() < deadline {
        let reply = String::from_utf8(mon.reply()).unwrap();
        lines.push(reply.trim_end().to_string());
    }
    lines
}

#[test]
fn monitor_streams_commands_from_every_core() {
    let server = TestServer::start(2);
    let mut mon = server.raw();
    assert_eq!(mon.cmd(&["MONITOR"]), b"+OK\r\n");
    // Several connections (the kernel spreads them over both cores), keys on
    // both shards.
    let mut expected = HashSet::new();
    let mut conns: Vec<RawConn> = (0..6).map(|_| server.raw()).collect();
    for (c, conn) in conns.iter_mut().enumerate() {
        for i in 0..10 {
            let key = format!("key:{c}:{i}");
            assert_eq!(conn.cmd(&["SET", &key, "v\"1"]), b"+OK\r\n");
            expected.insert(format!("\"SET\" \"{key}\" \"v\\\"1\""));
        }
    }
    let _ = conns[0].cmd(&["CONFIG", "GET", "port"]); // admin: not shown
    let _ = conns[0].cmd(&["SELECT", "3"]);
    let _ = conns[0].cmd(&["GET", "x"]);
    let lines = monitor_lines(&mut mon, expected.len() + 2);
    let mut seen = HashSet::new();
    for l in &lines {
        // +1700000000.123456 [0 127.0.0.1:50000] "set" "foo" "bar"
        let rest = l.strip_prefix('+').expect("status line");
        let (ts, rest) = rest.split_once(" [").expect("timestamp");
        let (secs, micros) = ts.split_once('.').expect("seconds.micros");
        assert!(
            secs.parse::<u64>().unwrap() > 1_600_000_000 && micros.len() == 6,
            "{l}"
        );
        let (who, cmd) = rest.split_once("] ").expect("client");
        let (db, addr) = who.split_once(' ').unwrap();
        assert!(addr.starts_with("127.0.0.1:"), "{l}");
        if cmd.starts_with("\"SET\"") {
            assert_eq!(db, "0");
        }
        seen.insert(cmd.to_string());
    }
    for e in &expected {
        assert!(seen.contains(e), "missing {e}; got {lines:?}");
    }
    assert!(seen.contains("\"SELECT\" \"3\""), "{lines:?}");
    assert!(seen.contains("\"GET\" \"x\""), "{lines:?}");
    assert!(
        !seen.iter().any(|c| c.starts_with("\"CONFIG\"")),
        "{lines:?}"
    );
    // The GET ran in db 3.
    assert!(lines
        .iter()
        .any(|l| l.contains(" [3 ") && l.ends_with("\"GET\" \"x\"")));
}

/// `field` of INFO server (empty when shown empty).
fn info_server_field(c: &mut RawConn, field: &str) -> String {
    let reply = c.cmd(&["INFO", "server"]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("INFO server lacks {field}: {text}"))
        .trim()
        .to_string()
}

/// A free port P whose `metrics-addr auto` port, P + 2742, is free too.
fn port_pair() -> (u16, u16) {
    loop {
        let p = free_port();
        let Some(m) = p.checked_add(2742) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", m)).is_ok() {
            return (p, m);
        }
    }
}

#[test]
fn default_metrics_addr_follows_the_port_so_two_servers_both_serve_metrics() {
    if common::target_is_redis() {
        return;
    }
    let mut servers = Vec::new();
    for _ in 0..2 {
        let (port, metrics) = port_pair();
        let mut s = TestServer::builder().threads(2).spawn_on(port);
        s.wait_until_ready().expect("starts");
        servers.push((s, metrics));
    }
    for (s, metrics) in &servers {
        let mut c = s.raw();
        assert_eq!(
            info_server_field(&mut c, "metrics_addr"),
            format!("127.0.0.1:{metrics}")
        );
        let (status, body) = http_get(*metrics, "/metrics");
        assert_eq!(status, 200);
        assert!(body.contains("ringkv_"), "{body}");
        // CONFIG GET shows the setting as given.
        assert_eq!(
            c.cmd(&["CONFIG", "GET", "metrics-addr"]),
            b"*2\r\n$12\r\nmetrics-addr\r\n$4\r\nauto\r\n"
        );
    }
}

#[test]
fn default_metrics_addr_taken_runs_without_metrics_and_says_so() {
    if common::target_is_redis() {
        return;
    }
    let (port, metrics) = port_pair();
    let _taken = std::net::TcpListener::bind(("127.0.0.1", metrics)).unwrap();
    let mut s = TestServer::builder().spawn_on(port);
    s.wait_until_ready().expect("starts without metrics");
    let mut c = s.raw();
    assert_eq!(info_server_field(&mut c, "metrics_addr"), "");
    let log = s.log();
    assert!(
        log.contains("metrics endpoint disabled") && log.contains(&format!("127.0.0.1:{metrics}")),
        "{log}"
    );
}

#[test]
fn explicit_metrics_addr_in_use_exits_1_from_flag_file_or_env() {
    if common::target_is_redis() {
        return;
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let file = std::env::temp_dir().join(format!("ringkv-metrics-{}.toml", std::process::id()));
    std::fs::write(&file, format!("metrics-addr = \"{addr}\"\n")).unwrap();
    let ways = [
        TestServer::builder()
            .arg("--metrics-addr")
            .arg(addr.clone()),
        TestServer::builder()
            .arg("--config")
            .arg(file.to_str().unwrap()),
        TestServer::builder().env("RINGKV_METRICS_ADDR", addr.clone()),
    ];
    for (i, way) in ways.into_iter().enumerate() {
        let started = Instant::now();
        let mut s = way.spawn();
        let status = s.wait_exit(Duration::from_secs(10)).expect("exits");
        assert_eq!(status.code(), Some(1), "way {i}: {}", s.log());
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "way {i} took {:?}",
            started.elapsed()
        );
        let log = s.log();
        assert!(
            log.contains("Could not create metrics listening socket") && log.contains(&addr),
            "way {i}: {log}"
        );
    }
    let _ = std::fs::remove_file(&file);
}
