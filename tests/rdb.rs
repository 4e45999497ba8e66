//! RDB files against the real Redis 7.0 tools: ringkv's writer must produce files
//! `redis-check-rdb` accepts and `redis-server` loads with every key, value and
//! TTL intact; the reader must load exactly what `redis-server` saves (LZF and
//! integer encodings included); corrupt or truncated files fail with an offset.
//!
//! Each test uses its own temporary directory and free port; servers are
//! killed on drop.

mod common;

use common::persist::Redis;

use ringkv::persist::rdb::{AuxInfo, RdbEntry, RdbErrorKind, RdbReader, RdbWriter};
use ringkv::shard::value::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// (db, key) -> (value, expire_at_ms).
type Data = BTreeMap<(u32, Vec<u8>), (Value, u64)>;

/// A scratch directory under the target dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("rdb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn bytes_of(v: &Value) -> Vec<u8> {
    v.as_str()
        .map(|mut s| s.with(|b| b.to_vec()))
        .unwrap_or_default()
}

/// Thousands of keys over four dbs: integers of every width, binary keys,
/// empty and 1 MB values, TTLs an hour or more ahead.
fn sample_data() -> Data {
    let base = now_ms() + 3_600_000;
    let mut data = Data::new();
    let ints = [0, -1, 127, -128, 300, -40_000, 1 << 31, i64::MIN, i64::MAX];
    for (i, db) in [0u32, 1, 7, 15].into_iter().enumerate() {
        for k in 0..2500u64 {
            let key = match k % 4 {
                0 => format!("key:{k}").into_bytes(),
                1 => [&b"bin\0\r\n"[..], k.to_string().as_bytes(), b"\x00\xff"].concat(),
                2 => k.to_string().into_bytes(),
                _ => vec![(k % 256) as u8, 0, b'\r', b'\n', (k / 256) as u8],
            };
            let value = match k % 5 {
                0 => Value::int(ints[(k / 5) as usize % ints.len()] ^ k as i64),
                1 => Value::string(b""),
                2 => Value::string(
                    format!("value-{k}-\0\r\n-{}", "x".repeat(k as usize % 100)).as_bytes(),
                ),
                3 => Value::string(b"007"),
                _ => Value::string(&vec![k as u8; k as usize % 300]),
            };
            // Canonical form, as the keyspace stores it ("555" is an Int).
            let value = Value::string(&bytes_of(&value));
            let expire = if k % 3 == 0 {
                base + k * 7 + i as u64
            } else {
                0
            };
            data.insert((db, key), (value, expire));
        }
    }
    data.insert((7, b"huge".to_vec()), (Value::string(&[0xab; 1 << 20]), 0));
    let mixed: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    data.insert((15, b"huge\0\r\n".to_vec()), (Value::string(&mixed), base));
    data
}

fn write_rdb(data: &Data) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), AuxInfo::now(0));
    let mut dbs: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for ((db, _), (_, exp)) in data {
        let c = dbs.entry(*db).or_default();
        c.0 += 1;
        c.1 += (*exp != 0) as u64;
    }
    for (db, (keys, expires)) in dbs {
        w.select_db(db, keys, expires).unwrap();
        for ((_, key), (value, exp)) in data.range((db, Vec::new())..(db + 1, Vec::new())) {
            w.entry(key, value, *exp).unwrap();
        }
    }
    w.finish().unwrap()
}

fn read_rdb(file: &[u8]) -> Data {
    let mut data = Data::new();
    for e in RdbReader::new(file)
        .expect("header")
        .entries::<Value>(Default::default())
    {
        let RdbEntry {
            db,
            key,
            value,
            expire_at_ms,
        } = e.expect("entry");
        assert!(
            data.insert((db, key), (value, expire_at_ms)).is_none(),
            "duplicate key"
        );
    }
    data
}

/// Asserts two data sets are equal, reporting the first difference briefly.
fn assert_same(got: &Data, want: &Data) {
    let show = |d: &Data, k: &(u32, Vec<u8>)| {
        d.get(k).map(|(v, e)| {
            let b = bytes_of(v);
            format!(
                "{:?} len {} expire {e}",
                &b[..b.len().min(40)].escape_ascii().to_string(),
                b.len()
            )
        })
    };
    for k in got.keys().chain(want.keys()) {
        if got.get(k) != want.get(k) {
            panic!(
                "db {} key {:?}: got {:?}, want {:?} ({} vs {} keys)",
                k.0,
                k.1.escape_ascii().to_string(),
                show(got, k),
                show(want, k),
                got.len(),
                want.len()
            );
        }
    }
}

fn check_rdb(path: &Path) {
    let out = Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("run redis-check-rdb");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb failed:\n{text}"
    );
}

/// Compares every db, key, value and absolute expiry of a live server to `data`.
fn assert_server_holds(redis: &Redis, data: &Data) {
    for db in 0..16u32 {
        let mut con = redis.conn(db);
        let keys: Vec<(&Vec<u8>, &(Value, u64))> = data
            .range((db, Vec::new())..(db + 1, Vec::new()))
            .map(|((_, k), v)| (k, v))
            .collect();
        let size: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert_eq!(size, keys.len(), "DBSIZE of db {db}");
        if keys.is_empty() {
            continue;
        }
        let mut gets = redis::pipe();
        let mut ttls = redis::pipe();
        for (k, _) in &keys {
            gets.cmd("GET").arg(&k[..]);
            ttls.cmd("PEXPIRETIME").arg(&k[..]);
        }
        let values: Vec<Vec<u8>> = gets.query(&mut con).unwrap();
        let expires: Vec<i64> = ttls.query(&mut con).unwrap();
        for (((key, (value, exp)), got), got_exp) in keys.iter().zip(values).zip(expires) {
            assert!(
                got == bytes_of(value),
                "db {db} key {:?}: wrong value",
                key.escape_ascii().to_string()
            );
            let want_exp = if *exp == 0 { -1 } else { *exp as i64 };
            assert_eq!(
                got_exp,
                want_exp,
                "db {db} key {:?}: expiry",
                key.escape_ascii().to_string()
            );
        }
    }
}

#[test]
fn writer_output_passes_redis_check_rdb() {
    let dir = TempDir::new("check");
    let data = sample_data();
    assert!(data.len() >= 10_000);
    let path = dir.0.join("ringkv.rdb");
    std::fs::write(&path, write_rdb(&data)).unwrap();
    check_rdb(&path);
}

#[test]
fn redis_server_loads_writer_output_and_saves_it_back() {
    let dir = TempDir::new("load");
    let data = sample_data();
    std::fs::write(dir.0.join("ringkv.rdb"), write_rdb(&data)).unwrap();
    let redis = Redis::start(&dir.0, "ringkv.rdb");
    assert_server_holds(&redis, &data);

    // And back: what redis-server saves from it reads as the same data.
    let _: () = redis::cmd("SAVE").query(&mut redis.conn(0)).unwrap();
    let saved = std::fs::read(dir.0.join("ringkv.rdb")).unwrap();
    assert_same(&read_rdb(&saved), &data);
}

#[test]
fn reader_loads_redis_server_dump() {
    let dir = TempDir::new("dump");
    let redis = Redis::start(&dir.0, "dump.rdb");
    let far = (now_ms() + 86_400_000) as i64;
    let mut want = Data::new();
    let mut set = |db: u32, key: &[u8], value: &[u8], expire_at: i64| {
        let mut con = redis.conn(db);
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query(&mut con)
            .unwrap();
        if expire_at != 0 {
            let _: i64 = redis::cmd("PEXPIREAT")
                .arg(key)
                .arg(expire_at)
                .query(&mut con)
                .unwrap();
        }
        want.insert((db, key.to_vec()), (Value::string(value), expire_at as u64));
    };
    let compressible = b"abcdefghij".repeat(100_000);
    set(0, b"long", &compressible, 0);
    set(0, b"long-ttl", &b"0123456789".repeat(5), far);
    set(0, b"int8", b"-100", 0);
    set(0, b"int16", b"30000", far + 1);
    set(0, b"int32", b"-2000000000", 0);
    set(0, b"int64", b"9223372036854775807", 0);
    set(0, b"not-int", b"0042", 0);
    set(0, b"12345", b"key is an int", 0);
    set(2, b"bin\0\r\nkey", b"\0\r\n\xff", far + 2);
    set(2, b"", b"", 0);
    set(
        9,
        b"random",
        &(0..5000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
        0,
    );
    for i in 0..1000 {
        let value = format!(
            "value number {i} padded to be compressible {}",
            "z".repeat(40)
        );
        set(
            5,
            format!("k{i}").as_bytes(),
            value.as_bytes(),
            if i % 2 == 0 { far + i } else { 0 },
        );
    }
    // A relative TTL, read back as the absolute time Redis computed.
    let mut con = redis.conn(9);
    let _: i64 = redis::cmd("PEXPIRE")
        .arg("random")
        .arg(500_000)
        .query(&mut con)
        .unwrap();
    let exp: i64 = redis::cmd("PEXPIRETIME")
        .arg("random")
        .query(&mut con)
        .unwrap();
    want.get_mut(&(9, b"random".to_vec())).unwrap().1 = exp as u64;

    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let path = dir.0.join("dump.rdb");
    let file = std::fs::read(&path).unwrap();
    assert!(
        file.len() < compressible.len() / 2,
        "redis-server did not compress"
    );
    assert_same(&read_rdb(&file), &want);

    // A type ringkv does not hold yet is refused, naming the key.
    let _: String = redis::cmd("XADD")
        .arg("a stream")
        .arg("*")
        .arg("f")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let file = std::fs::read(&path).unwrap();
    let err = RdbReader::new(&file)
        .unwrap()
        .entries::<Value>(Default::default())
        .find_map(Result::err)
        .expect("an error");
    assert!(
        matches!(err.kind, RdbErrorKind::UnsupportedType { rdb_type: 19, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("for key \"a stream\" at offset"),
        "{err}"
    );
}

#[test]
fn corrupt_and_truncated_files_name_the_offset() {
    let data = sample_data();
    let file = write_rdb(&data);

    for cut in [3, 9, 50, file.len() / 2, file.len() - 9, file.len() - 1] {
        let err = RdbReader::new(&file[..cut]).and_then(|r| {
            r.entries::<Value>(Default::default())
                .collect::<Result<Vec<_>, _>>()
        });
        let err = err.expect_err("truncated file must fail");
        assert_eq!(err.kind, RdbErrorKind::Truncated, "cut at {cut}: {err}");
        assert!(err.offset <= cut, "cut at {cut}: {err}");
        assert!(err
            .to_string()
            .contains(&format!("at offset {}", err.offset)));
    }

    // A flipped byte inside a value is caught by the checksum.
    let mut bad = file.clone();
    let huge = bad
        .windows(1024)
        .position(|w| w.iter().all(|&b| b == 0xab))
        .unwrap();
    bad[huge + 10] ^= 0x40;
    let err = RdbReader::new(&bad)
        .unwrap()
        .entries::<Value>(Default::default())
        .find_map(Result::err)
        .expect("an error");
    assert!(
        matches!(err.kind, RdbErrorKind::ChecksumMismatch { .. }),
        "{err}"
    );
    assert_eq!(err.offset, file.len() - 8);

    // redis-check-rdb agrees the file is broken.
    let dir = TempDir::new("corrupt");
    let path = dir.0.join("bad.rdb");
    std::fs::write(&path, &file[..file.len() / 2]).unwrap();
    let out = Command::new("redis-check-rdb").arg(&path).output().unwrap();
    assert!(!out.status.success());
}
