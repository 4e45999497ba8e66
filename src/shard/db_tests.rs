//! Unit tests of the slot tables (db.rs).
use super::*;

fn loc(db: &Db, slot: usize, key: &[u8]) -> Loc {
    Loc {
        table: slot,
        hash: db.hasher.hash_one(key),
    }
}

#[test]
fn swap_remove_keeps_every_key_findable() {
    let mut db = Db::new(2, DefaultHashBuilder::default());
    let keys: Vec<Vec<u8>> = (0..500).map(|i| format!("k{i}").into_bytes()).collect();
    for (n, k) in keys.iter().enumerate() {
        let l = loc(&db, n % 2, k);
        db.insert(
            l,
            k,
            Value::int(n as i64),
            if n % 3 == 0 { 99 } else { 0 },
            0,
        );
    }
    db.debug_check_memory();
    for (n, k) in keys.iter().enumerate().filter(|(n, _)| n % 5 == 0) {
        let l = loc(&db, n % 2, k);
        let gone = db.remove(l, k).expect("present");
        assert_eq!(gone.expire_at(), if n % 3 == 0 { 99 } else { 0 });
    }
    db.debug_check_memory();
    for (n, k) in keys.iter().enumerate() {
        let found = db.find(loc(&db, n % 2, k), k);
        assert_eq!(found.is_some(), n % 5 != 0, "key {n}");
        if let Some(e) = found {
            assert_eq!(e.value.as_int(), Some(n as i64));
            assert_eq!(e.expire_at(), if n % 3 == 0 { 99 } else { 0 });
        }
    }
    let volatile = db.volatile();
    assert!(volatile > 0);
    assert_eq!(db.expire_table(0, 100) + db.expire_table(1, 100), volatile);
    assert_eq!(db.volatile(), 0);
    assert!(!db.table_has_expiry_column(0));
    assert_eq!(db.next_volatile_table(0), None);
    db.debug_check_memory();
    db.clear();
    // Emptied, it keeps only its slot tables' fixed cost.
    assert_eq!(db.len(), 0);
    assert_eq!(
        db.memory(),
        MemCount {
            total: db.fixed_bytes(),
            payload: 0
        }
    );
    db.debug_check_memory();
}

#[test]
fn growth_follows_size_classes() {
    assert_eq!(grown(0, 40), 1); // a lone key's table holds one entry
    assert_eq!(grown(3, 40), 4);
    assert_eq!(grown(64, 40), 76); // 2600 B -> the 3072 class
    assert_eq!(grown(76, 40), 89); // -> 3584
    let mut cap = 0;
    for _ in 0..40 {
        let next = grown(cap, 40);
        assert!(next > cap && next * 40 <= (cap + 1).max(4) * 40 * 5 / 4 + 16 * 40);
        cap = next;
    }
}

#[test]
fn volatile_index_finds_tables_across_words() {
    let mut db = Db::new(300, DefaultHashBuilder::default());
    for t in [3usize, 64, 130, 299] {
        let l = loc(&db, t, b"x");
        db.insert(l, b"x", Value::int(1), 5, 0);
    }
    let found: Vec<usize> = std::iter::successors(db.next_volatile_table(0), |&t| {
        db.next_volatile_table(t + 1)
    })
    .collect();
    assert_eq!(found, [3, 64, 130, 299]);
    assert_eq!(db.next_volatile_table(300), None);
}
