//! Lua scripting through the real binary against redis-server, byte for
//! byte, RESP2 and RESP3, at one and two shards (declared keys share a hash
//! tag, so each script runs on one shard): the `redis` API, conversions both
//! ways (RESP3 replies after `redis.setresp(3)`), errors with their
//! `script: <sha>, on @user_script:N.` tails, the sandbox (protected
//! globals, read-only library tables, no `print`/`os`), shebang flags,
//! EVAL_RO, EVALSHA and SCRIPT. A script's writes survive an AOF restart
//! as the commands it ran. At four executors, scripts moving amounts
//! between keys of different shards (declared or not) are never seen
//! half-done.

mod common;

use common::persist::{aof_ringkv, kill9, TempDir};
use common::reply::{elements, parsed, R};
use common::{show, target_is_redis, RawConn, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Scripts and their KEYS/ARGV: (body, keys, args).
const CASES: &[(&str, &[&str], &[&str])] = &[
    ("return 1", &[], &[]),
    ("return -3.9", &[], &[]),
    ("return 'a\\0b'", &[], &[]),
    ("return {1, 2, 'a', nil, 5}", &[], &[]),
    ("return {1, {2, {3, {}}}, 'x', true, false}", &[], &[]),
    ("return true", &[], &[]),
    ("return false", &[], &[]),
    ("return nil", &[], &[]),
    ("return {ok = 'fine'}", &[], &[]),
    ("return {ok = 'two\\r\\nlines'}", &[], &[]),
    ("return {err = 'MYERR custom'}", &[], &[]),
    ("return {err = 'no code'}", &[], &[]),
    ("return {1, {err = 'inner'}, 3}", &[], &[]),
    ("return redis.error_reply('My err')", &[], &[]),
    ("return redis.status_reply('FINE')", &[], &[]),
    ("return redis.sha1hex('abc')", &[], &[]),
    ("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", &["{t}a", "{t}b"], &["x", "y"]),
    ("return redis.call('set', KEYS[1], ARGV[1])", &["{t}k"], &["v"]),
    ("return redis.call('get', KEYS[1])", &["{t}k"], &[]),
    ("return redis.call('get', KEYS[1])", &["{t}missing"], &[]),
    ("return redis.call('incrby', KEYS[1], 5)", &["{t}n"], &[]),
    ("return redis.call('set', KEYS[1], 1.5)", &["{t}f"], &[]),
    ("return redis.call('set', KEYS[1], 1e20)", &["{t}f"], &[]),
    ("return redis.call('get', KEYS[1])", &["{t}f"], &[]),
    ("redis.call('rpush', KEYS[1], 'a', 'b', 'c'); return redis.call('lrange', KEYS[1], 0, -1)", &["{t}l"], &[]),
    ("redis.call('hset', KEYS[1], 'f', 'v', 'g', 'w'); return redis.call('hgetall', KEYS[1])", &["{t}h"], &[]),
    ("redis.call('zadd', KEYS[1], 1.5, 'a', 2, 'b'); return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", &["{t}z"], &[]),
    ("redis.setresp(3); return redis.call('hgetall', KEYS[1])", &["{t}h"], &[]),
    ("redis.setresp(3); return redis.call('smembers', KEYS[1])", &["{t}noset"], &[]),
    ("redis.setresp(3); return redis.call('zscore', KEYS[1], 'a')", &["{t}z"], &[]),
    ("redis.setresp(3); return redis.call('get', KEYS[1])", &["{t}missing"], &[]),
    ("redis.setresp(3); return {redis.call('zscore', KEYS[1], 'a')}", &["{t}z"], &[]),
    ("redis.setresp(3); return true", &[], &[]),
    ("redis.setresp(3); return false", &[], &[]),
    ("redis.setresp(3); return {double = 3.5}", &[], &[]),
    ("redis.setresp(3); return {map = {a = 1}}", &[], &[]),
    ("redis.setresp(3); return {set = {x = true}}", &[], &[]),
    ("redis.setresp(3); return {big_number = '123456789012345678901234567890'}", &[], &[]),
    ("local t = redis.call('hgetall', KEYS[1]); return type(t)", &["{t}h"], &[]),
    ("return redis.call('get', KEYS[1])", &["{t}l"], &[]),
    ("return redis.pcall('get', KEYS[1])", &["{t}l"], &[]),
    ("local r = redis.pcall('incr', KEYS[1]); return r['err']", &["{t}k"], &[]),
    ("return redis.call('incr', KEYS[1])", &["{t}k"], &[]),
    ("return redis.call('nosuch')", &[], &[]),
    ("return redis.pcall('nosuch')", &[], &[]),
    ("return redis.call('get')", &[], &[]),
    ("return redis.call()", &[], &[]),
    ("return redis.call({})", &[], &[]),
    ("return redis.call('multi')", &[], &[]),
    ("return redis.call('eval', 'return 1', '0')", &[], &[]),
    ("return x", &[], &[]),
    ("x = 1", &[], &[]),
    ("string.x = 1", &[], &[]),
    ("redis.call = nil", &[], &[]),
    ("error('boom')", &[], &[]),
    ("error({err = 'CODE with table'})", &[], &[]),
    ("\nlocal a = 1\nerror('on line three')", &[], &[]),
    ("return (", &[], &[]),
    ("return tostring(print)", &[], &[]),
    ("return tostring(os)", &[], &[]),
    ("return tostring(loadfile)", &[], &[]),
    ("return type(loadstring)", &[], &[]),
    ("return redis.REDIS_VERSION", &[], &[]),
    ("return redis.REDIS_VERSION_NUM", &[], &[]),
    ("return {redis.LOG_DEBUG, redis.LOG_WARNING, redis.REPL_ALL}", &[], &[]),
    ("redis.log(redis.LOG_WARNING, 'from a script'); return 1", &[], &[]),
    ("redis.log(9, 'x')", &[], &[]),
    ("redis.setresp(4)", &[], &[]),
    ("return redis.set_repl(redis.REPL_ALL)", &[], &[]),
    ("return redis.replicate_commands()", &[], &[]),
    ("return string.format('%d-%s', 5, 'x')", &[], &[]),
    ("return table.concat({1, 2, 3}, ',')", &[], &[]),
    ("return math.floor(7.9)", &[], &[]),
    ("local s = 0; for i = 1, 100 do s = s + i end; return s", &[], &[]),
    ("math.randomseed(7); return {tostring(math.random()), math.random(10), math.random(3, 9)}", &[], &[]),
    ("math.randomseed(-123456); return tostring(math.random())", &[], &[]),
    ("return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.bnot(0), bit.lshift(1, 31)}", &[], &[]),
    ("return {bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8)}", &[], &[]),
    ("return {bit.bswap(0x12345678), bit.tobit(0xffffffff), bit.tobit(2.5), bit.tohex(255), bit.tohex(-1, -4)}", &[], &[]),
    ("bit.band = nil", &[], &[]),
    ("#!lua\nreturn redis.call('set', KEYS[1], 'x')", &["{t}s"], &[]),
    ("#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'x')", &["{t}s"], &[]),
    ("#!lua flags=no-writes,allow-oom\nreturn redis.call('get', KEYS[1])", &["{t}s"], &[]),
    ("#!lua flags=bogus\nreturn 1", &[], &[]),
    ("#!js\nreturn 1", &[], &[]),
    ("#!lua name=x\nreturn 1", &[], &[]),
];

fn eval_argv(cmd: &str, body: &str, keys: &[&str], args: &[&str]) -> Vec<String> {
    let mut v = vec![cmd.to_string(), body.to_string(), keys.len().to_string()];
    v.extend(keys.iter().map(|s| s.to_string()));
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

/// The SHA of a `SCRIPT LOAD` reply (`$40\r\n<sha>\r\n`).
fn sha_of_reply(r: &[u8]) -> String {
    String::from_utf8_lossy(&r[5..45]).into_owned()
}

#[test]
fn scripts_match_redis() {
    for threads in [1, 2] {
        for resp3 in [false, true] {
            let (_servers, mut a, mut b) = common::Pair::start(threads, resp3);
            for (body, keys, args) in CASES {
                for cmd in ["EVAL", "EVAL_RO"] {
                    let argv = eval_argv(cmd, body, keys, args);
                    let (ours, theirs) = (a.cmd(&argv), b.cmd(&argv));
                    assert_eq!(
                        show(&ours),
                        show(&theirs),
                        "threads {threads} resp3 {resp3}: {argv:?}"
                    );
                }
            }
            // EVALSHA of every script EVAL cached, then of unknown ones.
            for (body, keys, args) in CASES.iter().take(20) {
                let sha = sha_of_reply(&b.cmd(&["SCRIPT", "LOAD", body]));
                let sha = sha.as_str();
                for cmd in ["EVALSHA", "EVALSHA_RO"] {
                    let argv = eval_argv(cmd, sha, keys, args);
                    assert_eq!(show(&a.cmd(&argv)), show(&b.cmd(&argv)), "{argv:?}");
                    let upper = eval_argv(cmd, &sha.to_uppercase(), keys, args);
                    assert_eq!(show(&a.cmd(&upper)), show(&b.cmd(&upper)), "{upper:?}");
                }
            }
            for argv in [
                &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"][..],
                &["EVALSHA", "short", "0"],
                &["EVAL", "return 1", "-1"],
                &["EVAL", "return 1", "2", "a"],
                &["EVAL", "return 1", "x"],
                &["EVAL", "return 1"],
                &["SCRIPT", "LOAD", "return 'loaded'"],
                &["SCRIPT", "LOAD", "return ("],
                &[
                    "SCRIPT",
                    "EXISTS",
                    "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
                    "nope",
                ],
                &["SCRIPT", "KILL"],
                &["SCRIPT", "FLUSH", "BOGUS"],
                &["SCRIPT", "BOGUS"],
                &["SCRIPT", "LOAD"],
                &["SCRIPT", "FLUSH", "SYNC"],
                &[
                    "SCRIPT",
                    "EXISTS",
                    "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
                ],
                &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
            ] {
                assert_eq!(show(&a.cmd(argv)), show(&b.cmd(argv)), "{argv:?}");
            }
            // The data the scripts wrote.
            for k in ["{t}k", "{t}n", "{t}f", "{t}l", "{t}h", "{t}z", "{t}s"] {
                let probe = ["DUMP", k];
                assert_eq!(show(&a.cmd(&probe)), show(&b.cmd(&probe)), "{k}");
            }
        }
    }
}

/// A script loaded (or run) through one connection is found by EVALSHA on
/// every core, and SCRIPT FLUSH forgets it everywhere.
#[test]
fn the_script_cache_is_shared_by_every_core() {
    let server = TestServer::start(2);
    let mut conns: Vec<RawConn> = (0..8).map(|_| server.raw()).collect();
    let r = conns[0].cmd(&["SCRIPT", "LOAD", "return 'from cache'"]);
    let sha = sha_of_reply(&r);
    assert_eq!(
        conns[1].cmd(&["EVAL", "return 'evaluated'", "0"]),
        b"$9\r\nevaluated\r\n"
    );
    let evaluated = sha_of_reply(&conns[1].cmd(&["SCRIPT", "LOAD", "return 'evaluated'"]));
    for c in conns.iter_mut() {
        assert_eq!(c.cmd(&["EVALSHA", &sha, "0"]), b"$10\r\nfrom cache\r\n");
        assert_eq!(
            c.cmd(&["EVALSHA", &evaluated, "1", "x"]),
            b"$9\r\nevaluated\r\n"
        );
        // Keys on each shard: the script runs on the key's core.
        for k in ["a", "b", "c", "d"] {
            assert_eq!(c.cmd(&["EVALSHA", &sha, "1", k]), b"$10\r\nfrom cache\r\n");
        }
    }
    assert_eq!(conns[3].cmd(&["SCRIPT", "FLUSH"]), b"+OK\r\n");
    for c in conns.iter_mut() {
        for k in ["a", "b", "c", "d"] {
            let r = c.cmd(&["EVALSHA", &sha, "1", k]);
            assert!(r.starts_with(b"-NOSCRIPT"), "{}", show(&r));
        }
    }
}

/// A script's writes are journaled as the commands it ran, as one
/// transaction; a restart from the AOF (another `--threads`) has them.
#[test]
fn a_scripts_writes_survive_the_aof() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("script-aof");
    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", "always"]).start();
    let mut k = RawConn::connect(server.port());
    let body = "redis.call('set', KEYS[1], ARGV[1], 'px', 100000000); \
                redis.call('rpush', KEYS[2], ARGV[1], ARGV[1]); \
                redis.call('incrbyfloat', KEYS[3], '1.5'); \
                return redis.call('del', KEYS[4])";
    let r = k.cmd(&["EVAL", body, "4", "{s}a", "{s}b", "{s}c", "{s}d", "v"]);
    assert_eq!(r, b":0\r\n");
    let want: Vec<String> = ["{s}a", "{s}b", "{s}c"]
        .iter()
        .map(|key| show(&k.cmd(&["DUMP", key])))
        .collect();
    kill9(&mut server);
    let server = aof_ringkv(dir.path(), 3, &[]).start();
    let mut k = RawConn::connect(server.port());
    let got: Vec<String> = ["{s}a", "{s}b", "{s}c"]
        .iter()
        .map(|key| show(&k.cmd(&["DUMP", key])))
        .collect();
    assert_eq!(got, want);
    let ttl = k.cmd(&["PTTL", "{s}a"]);
    assert!(ttl.starts_with(b":9"), "{}", show(&ttl));
}

/// Scripts and functions move amounts between keys of different shards
/// (declared keys on two shards, and undeclared keys from ARGV) while
/// observers sum every key (MGET, and a script or function); at four
/// executors the sum never changes.
#[test]
fn cross_shard_scripts_are_atomic() {
    const KEYS: usize = 8;
    const START: i64 = 100;
    let server = TestServer::start(4);
    let keys: Vec<String> = (0..KEYS).map(|i| format!("acct{i}")).collect();
    {
        let mut c = server.raw();
        for k in &keys {
            c.cmd(&["SET", k, &START.to_string()]);
        }
    }
    let mover = "local n = tonumber(ARGV[1]) \
                 local from, to = KEYS[1] or ARGV[2], KEYS[2] or ARGV[3] \
                 local have = tonumber(redis.call('get', from)) \
                 if have < n then return 0 end \
                 redis.call('decrby', from, n) \
                 redis.call('incrby', to, n) \
                 return 1";
    let summer = "local s = 0 for _, k in ipairs(ARGV) do s = s + tonumber(redis.call('get', k)) end return s";
    // The same two as functions (FCALL runs as EVAL does).
    let library = format!(
        "#!lua name=moves\n\
         redis.register_function('mover', function(KEYS, ARGV) {mover} end)\n\
         redis.register_function('summer', function(KEYS, ARGV) {summer} end)"
    );
    assert_eq!(
        server.raw().cmd(&["FUNCTION", "LOAD", &library]),
        b"$5\r\nmoves\r\n"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (torn, seen, moved) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    std::thread::scope(|s| {
        for w in 0..4u64 {
            let (keys, stop, moved) = (&keys, stop.clone(), moved.clone());
            let mut c = server.raw();
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(w);
                while !stop.load(Ordering::Relaxed) {
                    let (i, j) = (rng.gen_range(0..KEYS), rng.gen_range(0..KEYS));
                    let n = rng.gen_range(1..30).to_string();
                    // Declared keys or not; a script or a function.
                    let (cmd, body) = if w < 2 {
                        ("EVAL", mover)
                    } else {
                        ("FCALL", "mover")
                    };
                    let r = if w % 2 == 0 {
                        c.cmd(&[cmd, body, "2", &keys[i], &keys[j], &n])
                    } else {
                        c.cmd(&[cmd, body, "0", &n, &keys[i], &keys[j]])
                    };
                    assert!(r == b":1\r\n" || r == b":0\r\n", "{}", show(&r));
                    moved.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for o in 0..2 {
            let (keys, stop, torn, seen) = (&keys, stop.clone(), torn.clone(), seen.clone());
            let mut c = server.raw();
            s.spawn(move || {
                let want = format!(":{}\r\n", START * KEYS as i64);
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let sum = if o == 0 {
                        let mut argv = match round % 2 {
                            0 => vec!["EVAL", summer, "0"],
                            _ => vec!["FCALL", "summer", "0"],
                        };
                        argv.extend(keys.iter().map(|k| k.as_str()));
                        c.cmd(&argv)
                    } else {
                        let mut argv = vec!["MGET"];
                        argv.extend(keys.iter().map(|k| k.as_str()));
                        let r = c.cmd(&argv);
                        let total: i64 = elements(&parsed(&r))
                            .iter()
                            .map(|v| match v {
                                R::Bulk(Some(b)) => {
                                    String::from_utf8_lossy(b).parse::<i64>().unwrap()
                                }
                                other => panic!("{other:?}"),
                            })
                            .sum();
                        format!(":{total}\r\n").into_bytes()
                    };
                    seen.fetch_add(1, Ordering::Relaxed);
                    if sum != want.as_bytes() {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
    });
    assert!(seen.load(Ordering::Relaxed) > 100, "too few observations");
    assert!(moved.load(Ordering::Relaxed) > 100, "too few moves");
    assert_eq!(
        torn.load(Ordering::Relaxed),
        0,
        "a script was seen half-done"
    );
    let mut c = server.raw();
    let mut argv = vec!["EVAL", summer, "0"];
    argv.extend(keys.iter().map(|k| k.as_str()));
    assert_eq!(
        c.cmd(&argv),
        format!(":{}\r\n", START * KEYS as i64).as_bytes()
    );
}

/// A script writing keys of several shards is journaled as one
/// transaction on each; a restart under other `--threads` has all of it.
#[test]
fn a_cross_shard_scripts_writes_survive_the_aof() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("script-aof-cross");
    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", "always"]).start();
    let mut k = RawConn::connect(server.port());
    let body =
        "for i = 1, 8 do redis.call('rpush', 'l' .. i, i, 'x') end return redis.call('incr', 'n')";
    assert_eq!(k.cmd(&["EVAL", body, "0"]), b":1\r\n");
    let body2 = "redis.call('set', KEYS[1], 'a') redis.call('set', KEYS[2], 'b') return 1";
    assert_eq!(k.cmd(&["EVAL", body2, "2", "p", "q"]), b":1\r\n");
    let names: Vec<String> = (1..=8)
        .map(|i| format!("l{i}"))
        .chain(["n", "p", "q"].map(String::from))
        .collect();
    let want: Vec<String> = names
        .iter()
        .map(|key| show(&k.cmd(&["DUMP", key])))
        .collect();
    kill9(&mut server);
    let server = aof_ringkv(dir.path(), 3, &[]).start();
    let mut k = RawConn::connect(server.port());
    let got: Vec<String> = names
        .iter()
        .map(|key| show(&k.cmd(&["DUMP", key])))
        .collect();
    assert_eq!(got, want);
}
