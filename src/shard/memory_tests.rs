//! Model tests of the shard's memory accounting: after random sequences of
//! inserts, replaces, in-place appends, removals, expiries and flushes, every
//! db's running byte count equals a count from scratch, and the keys match a
//! plain model map.

use super::value::Value;
use super::Shard;
use crate::slot::SlotTable;
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Clone, Debug)]
enum Op {
    Set {
        db: usize,
        key: u8,
        len: usize,
        ttl: u64,
    },
    Int {
        db: usize,
        key: u8,
        n: i64,
    },
    Append {
        db: usize,
        key: u8,
        len: usize,
    },
    Remove {
        db: usize,
        key: u8,
    },
    Expire {
        db: usize,
        key: u8,
        ttl: u64,
    },
    Advance(u64),
    Sweep,
    Flush {
        db: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let db = 0..3usize;
    prop_oneof![
        4 => (db.clone(), any::<u8>(), 0..80usize, prop_oneof![Just(0u64), 1..50u64])
            .prop_map(|(db, key, len, ttl)| Op::Set { db, key, len, ttl }),
        2 => (db.clone(), any::<u8>(), any::<i64>()).prop_map(|(db, key, n)| Op::Int { db, key, n }),
        2 => (db.clone(), any::<u8>(), 0..40usize).prop_map(|(db, key, len)| Op::Append { db, key, len }),
        2 => (db.clone(), any::<u8>()).prop_map(|(db, key)| Op::Remove { db, key }),
        1 => (db.clone(), any::<u8>(), 0..50u64).prop_map(|(db, key, ttl)| Op::Expire { db, key, ttl }),
        1 => (1..30u64).prop_map(Op::Advance),
        1 => Just(Op::Sweep),
        1 => db.prop_map(|db| Op::Flush { db }),
    ]
}

/// Keys of varied lengths (inline and heap), many per slot.
fn key(k: u8) -> Vec<u8> {
    let mut v = format!("k{k}").into_bytes();
    v.resize(1 + usize::from(k % 40), b'x');
    v
}

fn check(s: &Shard, model: &[HashMap<Vec<u8>, Vec<u8>>], now: u64) {
    let mut total = 0;
    for (db, m) in model.iter().enumerate() {
        let d = s.db(db);
        assert_eq!(d.memory(), d.recount_memory(), "db {db}");
        total += d.memory().total;
        let live: HashMap<Vec<u8>, Vec<u8>> = d
            .iter()
            .filter(|e| !e.is_expired(now))
            .map(|e| {
                let v = e.value.as_str().unwrap().with(|b| b.to_vec());
                (e.key().to_vec(), v)
            })
            .collect();
        assert_eq!(&live, m, "db {db}");
    }
    assert_eq!(s.used_memory(), total);
    assert!(s.dataset_bytes() <= s.used_memory());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn memory_count_matches_a_recount(ops in proptest::collection::vec(op(), 1..300)) {
        let mut s = Shard::new(0, SlotTable::contiguous(1), 3);
        let mut model: Vec<HashMap<Vec<u8>, Vec<u8>>> = vec![HashMap::new(); 3];
        // (db, key) -> absolute expiry, for the model.
        let mut ttl: HashMap<(usize, Vec<u8>), u64> = HashMap::new();
        let mut now = 1_000u64;
        for op in ops {
            match op {
                Op::Set { db, key: k, len, ttl: t } => {
                    let (k, v) = (key(k), vec![b'v'; len]);
                    let at = if t == 0 { 0 } else { now + t };
                    s.set(db, &k, Value::string(&v), at);
                    model[db].insert(k.clone(), v);
                    ttl.insert((db, k), at);
                }
                Op::Int { db, key: k, n } => {
                    let k = key(k);
                    s.set(db, &k, Value::int(n), 0);
                    model[db].insert(k.clone(), n.to_string().into_bytes());
                    ttl.insert((db, k), 0);
                }
                Op::Append { db, key: k, len } => {
                    let k = key(k);
                    let found = s.get_mut(db, &k, now).map(|mut e| {
                        if let Some(buf) = e.value.make_raw() {
                            buf.extend_from_slice(&vec![b'a'; len]);
                        }
                    });
                    if let (Some(()), Some(m)) = (found, model[db].get_mut(&k)) {
                        m.extend(vec![b'a'; len]);
                    }
                }
                Op::Remove { db, key: k } => {
                    let k = key(k);
                    s.remove(db, &k, now);
                    model[db].remove(&k);
                }
                Op::Expire { db, key: k, ttl: t } => {
                    let k = key(k);
                    let at = if t == 0 { 0 } else { now + t };
                    if s.get(db, &k, now).is_some() {
                        s.set_expire(db, &k, at);
                        ttl.insert((db, k), at);
                    }
                }
                Op::Advance(ms) => now += ms,
                Op::Sweep => {
                    s.active_expire(now, 1_000, || false);
                }
                Op::Flush { db } => {
                    s.flush_db(db);
                    model[db].clear();
                }
            }
            for (db, m) in model.iter_mut().enumerate() {
                m.retain(|k, _| {
                    let at = ttl.get(&(db, k.clone())).copied().unwrap_or(0);
                    at == 0 || at > now
                });
            }
            check(&s, &model, now);
        }
        s.flush_all();
        // What is left is the slot tables' fixed cost (db 0's from start-up).
        let fixed: usize = s.dbs.iter().map(|d| d.fixed_bytes()).sum();
        prop_assert_eq!(s.used_memory(), fixed);
        prop_assert!(s.dbs.iter().all(|d| d.is_empty() && d.memory().payload == 0));
    }
}

#[test]
fn key_memory_and_overhead() {
    let mut s = Shard::new(0, SlotTable::contiguous(1), 2);
    assert_eq!(s.key_memory(0, b"k", crate::clock::unix_ms()), None);
    s.set(0, b"k", Value::int(5), 0);
    let small = s.key_memory(0, b"k", crate::clock::unix_ms()).unwrap();
    assert!(small >= std::mem::size_of::<super::entry::Entry>());
    s.set(0, b"k", Value::string(&[b'x'; 100]), 0);
    assert!(s.key_memory(0, b"k", crate::clock::unix_ms()).unwrap() >= small + 100);
    assert!(s.db_overhead(0) > 0 && s.db_overhead(1) == 0);
    assert_eq!(
        s.dataset_bytes() + s.db_overhead(0) + s.db_overhead(1),
        s.used_memory()
    );
    s.set(0, b"gone", Value::int(1), 1);
    assert_eq!(
        s.key_memory(0, b"gone", crate::clock::unix_ms()),
        None,
        "expired keys are absent"
    );
}

/// Bytes per key of the test `scripts/memtable.sh` runs, as the shard counts
/// them (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn report_bytes_per_key() {
    for kind in ["str", "int"] {
        let mut s = Shard::new(0, SlotTable::contiguous(1), 16);
        let n = 1_000_000;
        for i in 0..n {
            let k = format!("key:{i:010}");
            let v = if kind == "int" {
                format!("{}", 1_000_000 + i)
            } else {
                format!("v{i:015}")
            };
            s.set(0, k.as_bytes(), Value::string(v.as_bytes()), 0);
        }
        println!(
            "{kind}: used_memory {:.1} B/key, overhead {:.1} B/key",
            s.used_memory() as f64 / n as f64,
            s.db_overhead(0) as f64 / n as f64
        );
    }
}
