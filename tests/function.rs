//! Functions through the real binary against redis-server, byte for byte,
//! RESP2 and RESP3, at one and two shards: FUNCTION LOAD (metadata,
//! registration in both forms, every error Redis gives, the load-time API),
//! FCALL and FCALL_RO (keys and arguments, errors with their `script:
//! <name>, on @user_function:N.` tails, flags), FUNCTION LIST / STATS /
//! DELETE / FLUSH / DUMP / RESTORE / HELP / KILL. Payloads of FUNCTION DUMP
//! restore across the two servers both ways; libraries survive an AOF
//! restart under another `--threads`, a snapshot restart, and load from a
//! Redis `dump.rdb`; FUNCTION KILL stops a timed-out function.

mod common;

use common::persist::{aof_ringkv, kill9, TempDir};
use common::{
    conn_on, show, tags_on_different_shards, target_is_redis, RawConn, RedisServer, TestServer,
};
use std::time::{Duration, Instant};

/// A library of one function per registration form, flags and API use.
const LIB_A: &str = "#!lua name=liba
redis.register_function('getk', function(keys, args) return redis.call('get', keys[1]) end)";
const LIB_B: &str = "#!lua name=libb
redis.register_function{function_name='echo2', callback=function(keys, args) return {keys, args} end, flags={'no-writes'}, description='echoes'}";
const LIB_C: &str = "#!lua name=libc
local function helper(x) return x * 2 end
redis.register_function('double', function(keys, args) return helper(tonumber(args[1])) end)
redis.register_function('boom', function(keys, args) error('boom') end)
redis.register_function('setglobal', function(keys, args) x = 1 end)
redis.register_function('readglobal', function(keys, args) return y end)
redis.register_function('nosuch', function(keys, args) return redis.call('nosuch') end)
redis.register_function('writes', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='ro_writes', callback=function(keys, args) return redis.call('set', keys[1], 'x') end, flags={'no-writes', 'allow-oom'}}
redis.register_function('resp3', function(keys, args) redis.setresp(3); return redis.call('hgetall', keys[1]) end)
redis.register_function('status', function() return redis.status_reply('FINE') end)
redis.register_function('pcall', function(keys) return redis.pcall('incr', keys[1]) end)
redis.register_function('libs', function() return {cjson ~= nil, type(string.len), type(bit.band), KEYS == nil} end)
redis.log(redis.LOG_NOTICE, 'loading libc')";

/// Libraries FUNCTION LOAD refuses, each for another reason.
const BAD: &[&str] = &[
    "return 1",
    "#!lua",
    "#!lua name=x",
    "#!lua name=x\nreturn 1",
    "#!lua name=bad-name\nredis.register_function('f', function() end)",
    "#!lua name=x foo=bar\nredis.register_function('f', function() end)",
    "#!lua name=x name=y\nredis.register_function('f', function() end)",
    "#!js name=x\nredis.register_function('f', function() end)",
    "#!LUA name=upper\nredis.register_function('fupper', function() return 'up' end)",
    "#!lua name=x\nlocal n = string.len('a')",
    "#!lua name=x\nredis.call('set', 'a', 'b')",
    "#!lua name=x\nredis.register_function('f')",
    "#!lua name=x\nredis.register_function('f', 'g')",
    "#!lua name=x\nredis.register_function({}, function() end)",
    "#!lua name=x\nredis.register_function(1, 2, 3)",
    "#!lua name=x\nredis.register_function()",
    "#!lua name=x\nredis.register_function('a-b', function() end)",
    "#!lua name=x\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)",
    "#!lua name=x\nredis.register_function{callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='f'}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags='no-writes'}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, other=1}",
    "#!lua name=x\nredis.register_function{function_name={}, callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='f', callback='cb'}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, description={}}",
    "#!lua name=x\nredis.register_function('getk', function() end)",
    "#!lua name=x\nglobal_write = 1",
    "#!lua name=x\nreturn (",
    "#!lua name=x\nerror('at load')",
    "#!lua name=x\nerror({err='MYERR at load'})",
    "#!lua name=liba\nredis.register_function('other', function() end)",
    "#!lua name=slow1\nlocal n = 0\nwhile true do n = n + 1 end",
    "#!lua name=slow2\nredis.register_function('f', function() end)\nwhile true do pcall(function() while true do end end) end",
];

fn fcall(cmd: &str, name: &str, keys: &[&str], args: &[&str]) -> Vec<String> {
    let mut v = vec![cmd.to_string(), name.to_string(), keys.len().to_string()];
    v.extend(keys.iter().map(|s| s.to_string()));
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

/// The steps of the differential run (keys share a hash tag: one shard).
fn steps() -> Vec<Vec<String>> {
    let s = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut v = vec![
        s(&["FUNCTION", "LIST"]),
        s(&["FUNCTION", "STATS"]),
        s(&["FUNCTION", "LOAD", LIB_A]),
        s(&["FUNCTION", "LOAD", LIB_B]),
        s(&["FUNCTION", "LOAD", LIB_C]),
        s(&["FUNCTION", "LOAD", LIB_A]),
        s(&["FUNCTION", "LOAD", "REPLACE", LIB_A]),
        s(&["FUNCTION", "LOAD", "BOGUS", LIB_A]),
        s(&["FUNCTION", "LOAD"]),
        s(&["FUNCTION", "STATS"]),
        s(&["FUNCTION", "LIST", "LIBRARYNAME", "liba"]),
        s(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "LIBB"]),
        s(&["FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"]),
        s(&["FUNCTION", "LIST", "LIBRARYNAME"]),
        s(&["FUNCTION", "LIST", "BOGUS"]),
        s(&["SET", "{t}k", "hello"]),
        s(&["HSET", "{t}h", "f", "v"]),
        fcall("FCALL", "getk", &["{t}k"], &[]),
        fcall("FCALL_RO", "getk", &["{t}k"], &[]),
        fcall("FCALL", "echo2", &["{t}a", "{t}b"], &["x", "y"]),
        fcall("FCALL_RO", "echo2", &["{t}a"], &["x"]),
        fcall("FCALL", "double", &[], &["21"]),
        fcall("FCALL", "boom", &[], &[]),
        fcall("FCALL", "setglobal", &[], &[]),
        fcall("FCALL", "readglobal", &[], &[]),
        fcall("FCALL", "nosuch", &[], &[]),
        fcall("FCALL", "writes", &["{t}w"], &["v"]),
        fcall("FCALL_RO", "writes", &["{t}w"], &["v"]),
        fcall("FCALL", "ro_writes", &["{t}w"], &[]),
        fcall("FCALL", "resp3", &["{t}h"], &[]),
        fcall("FCALL", "status", &[], &[]),
        fcall("FCALL", "pcall", &["{t}k"], &[]),
        fcall("FCALL", "libs", &[], &[]),
        fcall("FCALL", "missing", &[], &[]),
        s(&["FCALL", "getk", "x"]),
        s(&["FCALL", "getk", "-1"]),
        s(&["FCALL", "getk", "2", "{t}k"]),
        s(&["FCALL", "getk"]),
        s(&["GET", "{t}w"]),
        s(&["FUNCTION", "DELETE", "nope"]),
        s(&["FUNCTION", "DELETE", "libb"]),
        fcall("FCALL", "echo2", &[], &[]),
        s(&["FUNCTION", "DELETE"]),
        s(&["FUNCTION", "STATS"]),
        s(&["FUNCTION", "FLUSH", "BOGUS"]),
        s(&["FUNCTION", "FLUSH", "SYNC", "extra"]),
        s(&["FUNCTION", "KILL"]),
        s(&["FUNCTION", "HELP"]),
        s(&["FUNCTION", "HELP", "extra"]),
        s(&["FUNCTION", "BOGUS"]),
        s(&["FUNCTION", "RESTORE", "garbage"]),
        s(&["FUNCTION", "RESTORE", "garbage", "BOGUS"]),
        s(&["FUNCTION", "RESTORE", "a", "b", "c"]),
        s(&["FUNCTION", "FLUSH", "ASYNC"]),
        s(&["FUNCTION", "LIST"]),
        fcall("FCALL", "getk", &["{t}k"], &[]),
    ];
    for bad in BAD {
        v.push(s(&["FUNCTION", "LOAD", bad]));
    }
    v.push(s(&["FUNCTION", "FLUSH"]));
    v
}

#[test]
fn functions_match_redis() {
    for threads in [1, 2] {
        for resp3 in [false, true] {
            let (_servers, mut a, mut b) = common::Pair::start(threads, resp3);
            for argv in steps() {
                let (ours, theirs) = (a.cmd(&argv), b.cmd(&argv));
                assert_eq!(
                    show(&ours),
                    show(&theirs),
                    "threads {threads} resp3 {resp3}: {argv:?}"
                );
            }
        }
    }
}

/// FUNCTION DUMP's payload restores on the other server, each way, with
/// each policy; the functions then answer the same.
#[test]
fn dump_payloads_cross_between_ringkv_and_redis() {
    let (ringkv, redis) = (TestServer::start(2), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    restore_across(&mut b, &mut a);
    restore_across(&mut a, &mut b);
}

/// Loads two libraries on `from`, restores its FUNCTION DUMP on `to`.
fn restore_across(from: &mut RawConn, to: &mut RawConn) {
    {
        from.cmd(&["FUNCTION", "FLUSH"]);
        to.cmd(&["FUNCTION", "FLUSH"]);
        assert_eq!(from.cmd(&["FUNCTION", "LOAD", LIB_A]), b"$4\r\nliba\r\n");
        assert_eq!(from.cmd(&["FUNCTION", "LOAD", LIB_C]), b"$4\r\nlibc\r\n");
        let dump = from.cmd(&["FUNCTION", "DUMP"]);
        let payload = bulk_body(&dump);
        assert_eq!(to.cmd(&[&b"FUNCTION"[..], b"RESTORE", payload]), b"+OK\r\n");
        // Which library Redis names first follows its hash table's order.
        let again = show(&to.cmd(&[&b"FUNCTION"[..], b"RESTORE", payload]));
        assert!(
            again == show(b"-ERR Library liba already exists\r\n")
                || again == show(b"-ERR Library libc already exists\r\n"),
            "{again}"
        );
        assert_eq!(
            to.cmd(&[&b"FUNCTION"[..], b"RESTORE", payload, b"REPLACE"]),
            b"+OK\r\n"
        );
        to.cmd(&["FUNCTION", "LOAD", LIB_B]);
        assert_eq!(
            to.cmd(&[&b"FUNCTION"[..], b"RESTORE", payload, b"FLUSH"]),
            b"+OK\r\n"
        );
        let gone = to.cmd(&fcall("FCALL", "echo2", &[], &[]));
        assert_eq!(show(&gone), show(b"-ERR Function not found\r\n"));
        assert_eq!(to.cmd(&fcall("FCALL", "double", &[], &["4"])), b":8\r\n");
        let stats = to.cmd(&["FUNCTION", "STATS"]);
        let stats = show(&stats);
        assert!(
            stats.contains(&show(
                b"libraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:12\r\n"
            )),
            "{stats}"
        );
        // A corrupted payload is refused.
        let mut bad = payload.to_vec();
        let at = bad.len() / 2;
        bad[at] ^= 0xff;
        let r = to.cmd(&[&b"FUNCTION"[..], b"RESTORE", &bad]);
        assert_eq!(
            show(&r),
            show(b"-ERR DUMP payload version or checksum are wrong\r\n")
        );
    }
}

/// The body of a `$n\r\n...\r\n` reply.
fn bulk_body(r: &[u8]) -> &[u8] {
    let nl = r.iter().position(|&c| c == b'\n').expect("bulk header");
    &r[nl + 1..r.len() - 2]
}

/// FUNCTION's changes are journaled once (by shard 0): after kill -9 a
/// restart under another `--threads` has exactly the libraries left, and
/// a rewrite keeps them in shard 0's base.
#[test]
fn libraries_survive_an_aof_restart() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("function-aof");
    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", "always"]).start();
    let mut k = RawConn::connect(server.port());
    for lib in [LIB_A, LIB_B, LIB_C] {
        assert!(k.cmd(&["FUNCTION", "LOAD", lib]).starts_with(b"$4"));
    }
    assert_eq!(k.cmd(&["FUNCTION", "DELETE", "libb"]), b"+OK\r\n");
    k.cmd(&["SET", "{t}k", "v1"]);
    let want = show(&k.cmd(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "liba"]));
    kill9(&mut server);
    let mut server = aof_ringkv(dir.path(), 3, &["--appendfsync", "always"]).start();
    let mut k = RawConn::connect(server.port());
    let got = show(&k.cmd(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "liba"]));
    assert_eq!(got, want);
    assert_eq!(
        k.cmd(&fcall("FCALL", "getk", &["{t}k"], &[])),
        b"$2\r\nv1\r\n"
    );
    let gone = k.cmd(&fcall("FCALL", "echo2", &[], &[]));
    assert_eq!(show(&gone), show(b"-ERR Function not found\r\n"));
    assert_eq!(
        k.cmd(&["BGREWRITEAOF"]),
        b"+Background append only file rewriting started\r\n"
    );
    wait_for(&mut k, "aof_rewrite_in_progress:0");
    assert_eq!(k.cmd(&["FUNCTION", "LOAD", LIB_B]), b"$4\r\nlibb\r\n");
    kill9(&mut server);
    let server = aof_ringkv(dir.path(), 1, &[]).start();
    let mut k = RawConn::connect(server.port());
    let stats = show(&k.cmd(&["FUNCTION", "STATS"]));
    assert!(
        stats.contains(&show(b"libraries_count\r\n:3\r\n")),
        "{stats}"
    );
    assert_eq!(k.cmd(&fcall("FCALL", "double", &[], &["5"])), b":10\r\n");
}

/// Polls INFO persistence until it shows `line` (at most 10 s).
fn wait_for(k: &mut RawConn, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = show(&k.cmd(&["INFO", "persistence"]));
        if info.contains(line) {
            return;
        }
        assert!(Instant::now() < deadline, "no {line} in 10 s: {info}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A snapshot holds the libraries (in shard 0's file), and a Redis
/// `dump.rdb` with libraries loads: FCALL answers as in Redis.
#[test]
fn libraries_load_from_snapshots_and_from_redis() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("function-rdb");
    let dirs = dir.path().to_string_lossy().to_string();
    let server = TestServer::builder()
        .threads(2)
        .arg("--dir")
        .arg(dirs.clone())
        .start();
    let mut k = server.raw();
    k.cmd(&["FUNCTION", "LOAD", LIB_C]);
    k.cmd(&["SET", "{t}k", "7"]);
    assert_eq!(k.cmd(&["SAVE"]), b"+OK\r\n");
    drop(server);
    let server = TestServer::builder()
        .threads(3)
        .arg("--dir")
        .arg(dirs)
        .start();
    let mut k = server.raw();
    assert_eq!(k.cmd(&fcall("FCALL", "double", &[], &["6"])), b":12\r\n");
    assert_eq!(k.cmd(&fcall("FCALL", "pcall", &["{t}k"], &[])), b":8\r\n");

    // Redis writes its dump.rdb; ringkv loads it.
    let redis = RedisServer::start();
    let mut r = redis.raw();
    r.cmd(&["FUNCTION", "LOAD", LIB_A]);
    r.cmd(&["SET", "{t}k", "from redis"]);
    // The RDB Redis sends a replica (what it saves), fetched by redis-cli,
    // so no file lands in the redis-server's working directory.
    let to = dir.path().join("r");
    std::fs::create_dir_all(&to).unwrap();
    let status = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "--rdb"])
        .arg(to.join("dump.rdb"))
        .output()
        .expect("redis-cli --rdb");
    assert!(status.status.success(), "{status:?}");
    let server = TestServer::builder()
        .threads(2)
        .arg("--dir")
        .arg(to.to_string_lossy().to_string())
        .start();
    let mut k = server.raw();
    assert_eq!(
        k.cmd(&fcall("FCALL", "getk", &["{t}k"], &[])),
        b"$10\r\nfrom redis\r\n"
    );
}

/// A function run past `busy-reply-threshold`: the other core answers
/// `-BUSY` with FUNCTION KILL's text, SCRIPT KILL is refused, FUNCTION
/// STATS still answers, FUNCTION KILL stops it, and its caller gets the
/// killed error; as in Redis.
#[test]
fn function_kill_stops_a_timed_out_function() {
    let threads = 2;
    let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
    let (tag0, _) = tags_on_different_shards(threads);
    let key = format!("{{{tag0}}}k");
    let mut logs = Vec::new();
    for (server, cores) in [(&ringkv, threads), (&*redis, 1)] {
        let mut runner = conn_on(server, cores, 0);
        let mut other = conn_on(server, cores, cores - 1);
        let mut log = Vec::new();
        log.push(other.cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"]));
        log.push(other.cmd(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
        ]));
        runner.send(&common::resp(&["FCALL", "spin", "1", &key]));
        let deadline = Instant::now() + Duration::from_secs(5);
        let busy = loop {
            let r = other.cmd(&["PING"]);
            if r != b"+PONG\r\n" {
                break r;
            }
            assert!(Instant::now() < deadline, "no -BUSY after 5 s");
            std::thread::sleep(Duration::from_millis(20));
        };
        log.push(busy);
        log.push(other.cmd(&["SCRIPT", "KILL"]));
        log.push(other.cmd(&["FUNCTION", "KILL"]));
        let killed = runner
            .reply_within(Duration::from_secs(5))
            .expect("killed reply");
        log.push(killed);
        log.push(other.cmd(&["PING"]));
        log.push(other.cmd(&["FUNCTION", "KILL"]));
        logs.push(log.iter().map(|r| show(r)).collect::<Vec<_>>());
    }
    assert_eq!(logs[0], logs[1]);
}
