//! Unit tests of the shard: lookups, lazy and active expiry.

use super::*;

fn shard() -> Shard {
    Shard::new(0, SlotTable::contiguous(1), 16)
}

#[test]
fn set_get_and_lazy_expiry() {
    let mut s = shard();
    s.set(0, b"k", Value::string(b"v"), 1000);
    assert!(s.get(0, b"k", 999).is_some());
    assert_eq!(s.db(0).volatile(), 1);
    assert!(s.get(0, b"k", 1000).is_none());
    assert_eq!(s.db(0).len(), 0);
    assert_eq!(s.db(0).volatile(), 0);
    assert_eq!(s.stats.expired_keys, 1);
}

#[test]
fn active_expiry_sweeps_everything_eventually() {
    let mut s = shard();
    for i in 0..1000 {
        let key = format!("key:{i}");
        s.set(
            0,
            key.as_bytes(),
            Value::int(i),
            if i % 2 == 0 { 10 } else { 0 },
        );
    }
    let mut removed = 0;
    for _ in 0..100 {
        removed += s.active_expire(20, 1000, || false);
    }
    assert_eq!(removed, 500);
    assert_eq!(s.db(0).len(), 500);
    assert_eq!(s.db(0).volatile(), 0);
}

#[test]
fn active_expiry_finds_sparse_volatile_keys_in_one_call() {
    let mut s = Shard::new(0, SlotTable::contiguous(1), 1);
    for i in 0..10_000 {
        s.set(0, format!("p:{i}").as_bytes(), Value::int(i), 0);
    }
    for k in ["a", "b", "c"] {
        s.set(0, k.as_bytes(), Value::int(1), 10);
    }
    assert_eq!(s.active_expire(20, 256, || false), 3);
    assert_eq!(s.db(0).len(), 10_000);
    assert_eq!(s.db(0).next_volatile_table(0), None);
}
