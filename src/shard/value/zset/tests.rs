//! The sorted set against a model (a BTreeMap ordered by (score, member)
//! plus a HashMap member → score), the encoding rules, the exactness of its
//! memory count, its RDB payloads against redis-server 7.0's
//! (tests/fixtures/zset, made by scripts/zset-fixtures.sh), and its size.

use super::*;
use crate::persist::rdb::{crc64, read_dump, DumpError};
use crate::shard::value::{Value, ValueType};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A score with a total order (the model's key); never NaN.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Score(f64);
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Score {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.partial_cmp(&o.0).unwrap_or(Ordering::Equal)
    }
}

#[derive(Default)]
struct Model {
    order: BTreeMap<(Score, Vec<u8>), ()>,
    scores: HashMap<Vec<u8>, f64>,
}

impl Model {
    fn insert(&mut self, m: &[u8], s: f64) -> Option<f64> {
        let old = self.scores.get(m).copied();
        if old.is_some_and(|o| o == s) {
            return old;
        }
        self.remove(m);
        self.scores.insert(m.to_vec(), s);
        self.order.insert((Score(s), m.to_vec()), ());
        old
    }
    fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let s = self.scores.remove(m)?;
        self.order.remove(&(Score(s), m.to_vec()));
        Some(s)
    }
    fn list(&self) -> Vec<(Vec<u8>, f64)> {
        self.order.keys().map(|(s, m)| (m.clone(), s.0)).collect()
    }
}

fn entries(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
    z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
}

/// Heap bytes recounted from the contents, independently of the counters.
fn recount(z: &ZSet) -> usize {
    match &z.0 {
        Repr::Packed(l) => l.bytes().len(),
        Repr::Big(b) => b.recount(|n| n),
    }
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0u8..40).prop_map(|v| vec![b'a' + v % 26, v]),
        (-50i64..50).prop_map(|v| v.to_string().into_bytes()),
        Just(Vec::new()),
        Just(b"-0".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..6),
        (0u8..4).prop_map(|v| vec![v; 20]),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-5i32..5).prop_map(f64::from),
        (-20i32..20).prop_map(|v| f64::from(v) / 4.0),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(1e300),
        Just(3.0000000000000004),
        any::<f64>().prop_filter("no NaN", |v| !v.is_nan()),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, f64),
    Remove(Vec<u8>),
    Pop(usize, bool),
    RemoveRange(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (member(), score()).prop_map(|(m, s)| Op::Insert(m, s)),
        3 => member().prop_map(Op::Remove),
        1 => (0usize..4, any::<bool>()).prop_map(|(n, max)| Op::Pop(n, max)),
        1 => (0usize..40, 0usize..6).prop_map(|(a, n)| Op::RemoveRange(a, n)),
    ]
}

/// Decodes a DUMP-shaped payload of `rdb_type`.
fn read_payload(rdb_type: u8, payload: &[u8], limits: EncodingLimits) -> Result<ZSet, DumpError> {
    let mut dump = vec![rdb_type];
    dump.extend_from_slice(payload);
    dump.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64::crc64(&dump);
    dump.extend_from_slice(&crc.to_le_bytes());
    match read_dump::<Value>(&dump, limits)? {
        Value::ZSet(z) => Ok(*z),
        _ => Err(DumpError::BadFormat),
    }
}

fn check_against(z: &ZSet, model: &Model, limits: &EncodingLimits) -> Result<(), TestCaseError> {
    let want = model.list();
    let n = want.len();
    prop_assert_eq!(z.len(), n);
    prop_assert_eq!(&entries(z), &want);
    prop_assert_eq!(z.heap_bytes(), recount(z));
    if let Repr::Big(b) = &z.0 {
        prop_assert_eq!(b.table_len(), n);
    }
    for (i, (m, s)) in want.iter().enumerate() {
        prop_assert_eq!(z.score(m), Some(*s));
        prop_assert_eq!(z.rank(m, false), Some((i, *s)));
        prop_assert_eq!(z.rank(m, true), Some((n - 1 - i, *s)));
        let (am, as_) = z.at_rank(i).unwrap();
        prop_assert_eq!((am.to_vec(), as_), (m.clone(), *s));
        for eq in [false, true] {
            let sr = want
                .iter()
                .filter(|(_, x)| if eq { *x <= *s } else { *x < *s })
                .count();
            prop_assert_eq!(z.score_rank(*s, eq), sr);
        }
    }
    prop_assert_eq!(z.at_rank(n), None);
    // Lex ranks on the whole set only mean something with equal scores;
    // check them on the members with score 0 in a set of their own.
    let zero: Vec<(Vec<u8>, f64)> = want.iter().filter(|(_, s)| *s == 0.0).cloned().collect();
    let zs = ZSet::build(zero.iter().map(|(m, _)| (m.clone(), 0.0)).collect(), limits);
    for (m, _) in zero.iter().chain(want.iter().take(3)) {
        for eq in [false, true] {
            let lr = zero
                .iter()
                .filter(|(x, _)| if eq { x <= m } else { x < m })
                .count();
            prop_assert_eq!(zs.lex_rank(m, eq), lr);
        }
    }
    // Ranges both ways.
    for (a, b) in [(0, n), (n / 3, n / 2 + 1), (n.saturating_sub(2), n)] {
        let (a, b) = (a.min(b), b);
        let fwd: Vec<_> = z.range(a, b, false).map(|(m, s)| (m.to_vec(), s)).collect();
        prop_assert_eq!(&fwd[..], &want[a..b]);
        let mut rev: Vec<_> = z.range(a, b, true).map(|(m, s)| (m.to_vec(), s)).collect();
        rev.reverse();
        prop_assert_eq!(&rev[..], &want[a..b]);
    }
    // SCAN in small steps sees every member, with its score.
    let mut seen = HashMap::new();
    let mut cursor = 0;
    loop {
        cursor = z.scan(cursor, 3, |m, s| {
            seen.insert(m.to_vec(), s);
        });
        if cursor == 0 {
            break;
        }
    }
    prop_assert_eq!(seen, model.scores.clone());
    // RDB round trip: same entries, same encoding with the same limits.
    let mut buf = Vec::new();
    z.write_rdb(&mut buf);
    // Loading re-chooses the encoding: 17 stays packed (within the entry
    // limit), 5 becomes packed when it fits both limits.
    let back = read_payload(z.rdb_type(), &buf, *limits).unwrap();
    prop_assert_eq!(entries(&back), want);
    let maxlen = model.scores.keys().map(Vec::len).max().unwrap_or(0);
    prop_assert_eq!(back.is_packed(), z.is_packed() || fits(n, maxlen, limits));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn zset_matches_model(ops in proptest::collection::vec(op(), 1..250), entries_max in 0usize..24, value_max in 2usize..25) {
        let limits = EncodingLimits {
            zset_max_listpack_entries: entries_max,
            zset_max_listpack_value: value_max,
            ..EncodingLimits::default()
        };
        let mut model = Model::default();
        let mut z: Option<ZSet> = None;
        // The encoding rule: packed until a new member would pass a limit.
        let mut big_forever = false;
        for op in ops {
            match op {
                Op::Insert(m, s) => {
                    let set = z.get_or_insert_with(|| {
                        big_forever = !(entries_max > 0 && m.len() <= value_max);
                        ZSet::new_for(m.len(), &limits)
                    });
                    if !model.scores.contains_key(&m)
                        && (model.scores.len() >= entries_max || m.len() > value_max)
                    {
                        big_forever = true;
                    }
                    prop_assert_eq!(set.insert(&m, s, &limits), model.insert(&m, s));
                }
                Op::Remove(m) => {
                    if let Some(set) = z.as_mut() {
                        prop_assert_eq!(set.remove(&m), model.remove(&m));
                    }
                }
                Op::Pop(n, max) => {
                    if let Some(set) = z.as_mut() {
                        let got = set.pop(n, max);
                        let mut want = model.list();
                        if max {
                            want.reverse();
                        }
                        want.truncate(n);
                        prop_assert_eq!(&got, &want);
                        for (m, _) in want {
                            model.remove(&m);
                        }
                    }
                }
                Op::RemoveRange(a, len) => {
                    if let Some(set) = z.as_mut() {
                        let n = model.scores.len();
                        let (a, b) = (a.min(n), (a + len).min(n));
                        set.remove_range(a, b);
                        for (m, _) in &model.list()[a..b] {
                            model.remove(m);
                        }
                    }
                }
            }
            if model.scores.is_empty() {
                z = None;
                continue;
            }
            let set = z.as_ref().unwrap();
            prop_assert_eq!(set.is_packed(), !big_forever);
            check_against(set, &model, &limits)?;
        }
        if let Some(set) = &z {
            // `build` from the final contents picks by size alone.
            let b = ZSet::build(model.list(), &limits);
            let maxlen = model.scores.keys().map(Vec::len).max().unwrap_or(0);
            prop_assert_eq!(b.is_packed(), fits(model.scores.len(), maxlen, &limits));
            prop_assert_eq!(entries(&b), entries(set));
            prop_assert_eq!(set.clone(), set.clone());
        }
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/zset/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let hex = std::fs::read_to_string(path).unwrap();
    let hex = hex.trim();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Our DUMP of `z` (rdbcompression off: no LZF).
fn dump(z: &ZSet) -> Vec<u8> {
    let mut d = vec![z.rdb_type()];
    z.write_rdb(&mut d);
    d.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64::crc64(&d);
    d.extend_from_slice(&crc.to_le_bytes());
    d
}

fn zadd(z: &mut Option<ZSet>, s: f64, m: &[u8]) {
    let limits = EncodingLimits::default();
    z.get_or_insert_with(|| ZSet::new_for(m.len(), &limits))
        .insert(m, s, &limits);
}

/// The same commands as scripts/zset-fixtures.sh, through the type.
fn redis_sets() -> Vec<(&'static str, ZSet)> {
    let mut packed = None;
    for (s, m) in [
        (1.0, &b"a"[..]),
        (1.5, b"b"),
        (-0.0, b"c"),
        (1e300, b"d"),
        (f64::INFINITY, b"e"),
        (3.0000000000000004, b"f"),
        (f64::NEG_INFINITY, b"g"),
        (1e17, b"h"),
        (4611686018427387904.0, b"i"),
        (4611686018427387905.0, b"j"),
        (0.1, b"k"),
        (-2.5, b"123"),
        (7.0, b"-77777"),
        (2.0, b"a"),
    ] {
        zadd(&mut packed, s, m);
    }
    packed.as_mut().unwrap().remove(b"k");
    let mut ties = None;
    let x64 = vec![b'x'; 64];
    for m in [&b"b"[..], b"a", b"ab", b"", &x64] {
        zadd(&mut ties, 5.0, m);
    }
    let mut big = None;
    for i in 0..=128u32 {
        zadd(
            &mut big,
            f64::from(i * 7 % 129) + 0.25,
            format!("m{i}").as_bytes(),
        );
    }
    let mut long = None;
    zadd(&mut long, 1.0, &[b'y'; 65]);
    vec![
        ("packed", packed.unwrap()),
        ("ties", ties.unwrap()),
        ("big", big.unwrap()),
        ("long", long.unwrap()),
    ]
}

#[test]
fn dumps_equal_redis_byte_for_byte() {
    for (name, z) in redis_sets() {
        let theirs = fixture(name);
        assert_eq!(dump(&z), theirs, "{name} ({})", z.encoding());
        let back = read_dump::<Value>(&theirs, EncodingLimits::default()).unwrap();
        assert_eq!(back, Value::ZSet(Box::new(z)), "{name}");
    }
    let big = &redis_sets()[2].1;
    assert_eq!(big.encoding(), "skiplist");
    assert_eq!(big.rdb_type(), 5);
}

#[test]
fn reads_redis_compressed_listpack() {
    let z = match read_dump::<Value>(&fixture("lzf"), EncodingLimits::default()).unwrap() {
        Value::ZSet(z) => *z,
        v => panic!("{v:?}"),
    };
    assert_eq!(z.encoding(), "listpack");
    assert_eq!(z.len(), 100);
    let mut ours = None;
    for i in 0..100 {
        zadd(&mut ours, f64::from(i), format!("member:{i}").as_bytes());
    }
    assert_eq!(z.listpack_bytes(), ours.unwrap().listpack_bytes());
    // Loaded with a lower entry limit it converts.
    let small = EncodingLimits {
        zset_max_listpack_entries: 10,
        ..EncodingLimits::default()
    };
    match read_dump::<Value>(&fixture("lzf"), small).unwrap() {
        Value::ZSet(z) => assert_eq!((z.encoding(), z.len()), ("skiplist", 100)),
        v => panic!("{v:?}"),
    }
}

#[test]
fn reads_redis_ziplist_rdb() {
    // Redis's tests/assets/zset-ziplist.rdb (6.2): key "zset", one 1, two 2.
    let zl: Vec<u8> = [
        0x19, 0, 0, 0, 0x16, 0, 0, 0, 4, 0, 0, 3, b'o', b'n', b'e', 5, 0xf2, 2, 3, b't', b'w',
        b'o', 5, 0xf3, 0xff,
    ]
    .to_vec();
    let mut payload = vec![zl.len() as u8];
    payload.extend_from_slice(&zl);
    let z = read_payload(12, &payload, EncodingLimits::default()).unwrap();
    assert_eq!(z.encoding(), "listpack");
    assert_eq!(
        entries(&z),
        [(b"one".to_vec(), 1.0), (b"two".to_vec(), 2.0)]
    );
    let one = EncodingLimits {
        zset_max_listpack_entries: 1,
        ..EncodingLimits::default()
    };
    assert_eq!(
        read_payload(12, &payload, one).unwrap().encoding(),
        "skiplist"
    );
    // Out of order, or a member twice: corrupt.
    let mut swapped = zl.clone();
    swapped[16] = 0xf4; // one's score 3
    let mut p = vec![swapped.len() as u8];
    p.extend_from_slice(&swapped);
    assert!(read_payload(12, &p, EncodingLimits::default()).is_err());
}

/// A listpack payload of raw elements, unchecked.
fn lp_payload(items: &[&[u8]]) -> Vec<u8> {
    use crate::persist::rdb::listpack as lp;
    let mut b = lp::empty();
    b.pop();
    for i in items {
        lp::encode_entry(&mut b, i);
    }
    b.push(lp::EOF);
    lp::set_header(&mut b, items.len());
    let mut out = Vec::new();
    crate::persist::rdb::write::encode_string(&mut out, &b);
    out
}

#[test]
fn malformed_payloads_are_errors() {
    let d = EncodingLimits::default();
    let good = lp_payload(&[b"a", b"1", b"b", b"2.5"]);
    assert_eq!(read_payload(17, &good, d).unwrap().len(), 2);
    for bad in [
        lp_payload(&[]),
        lp_payload(&[b"a", b"1", b"b"]),
        lp_payload(&[b"a", b"nan", b"b", b"2"]),
        lp_payload(&[b"a", b"x", b"b", b"2"]),
        lp_payload(&[b"b", b"1", b"a", b"1"]),
        lp_payload(&[b"a", b"2", b"b", b"1"]),
        lp_payload(&[b"a", b"1", b"a", b"2"]),
        lp_payload(&[b"a", b"1", b"a", b"1"]),
        vec![3, 1, 2, 3],
    ] {
        assert!(read_payload(17, &bad, d).is_err(), "{bad:?}");
    }
    // Type 5: empty, NaN, duplicate, truncated.
    let nan = f64::NAN.to_le_bytes();
    let one = 1f64.to_le_bytes();
    let cat = |parts: &[&[u8]]| parts.concat();
    for bad in [
        vec![0u8],
        cat(&[&[1, 1, b'a'], &nan]),
        cat(&[&[2, 1, b'a'], &one, &[1, b'a'], &one]),
        cat(&[&[2, 1, b'a'], &one]),
        cat(&[&[1, 1, b'a'], &one[..4]]),
    ] {
        assert!(read_payload(5, &bad, d).is_err(), "{bad:?}");
    }
    // Type 3: text scores, with the special lengths.
    let z = read_payload(3, b"\x03\x01a\xfe\x01b\xff\x01c\x031.5", d).unwrap();
    assert_eq!(
        entries(&z),
        [
            (b"b".to_vec(), f64::NEG_INFINITY),
            (b"c".to_vec(), 1.5),
            (b"a".to_vec(), f64::INFINITY)
        ]
    );
    assert_eq!(z.encoding(), "listpack");
    assert!(read_payload(3, b"\x01\x01a\xfd", d).is_err());
    assert!(read_payload(3, b"\x01\x01a\x02zz", d).is_err());
    // Any byte of a good payload flipped: an error or a consistent set.
    let good = dump(&redis_sets()[0].1);
    for i in 1..good.len() - 10 {
        for v in [0u8, 1, 0x7f, 0x80, 0xc0, 0xf4, 0xff] {
            let mut bad = good.clone();
            bad[i] = v;
            let n = bad.len() - 8;
            let crc = crc64::crc64(&bad[..n]);
            bad[n..].copy_from_slice(&crc.to_le_bytes());
            if let Ok(Value::ZSet(z)) = read_dump::<Value>(&bad, d) {
                let e = entries(&z);
                assert!(e
                    .windows(2)
                    .all(|w| cmp_entry((w[0].1, &w[0].0), (w[1].1, &w[1].0)).is_lt()));
            }
        }
    }
}

#[test]
fn snapshot_parts_concatenate_to_the_whole() {
    let d = EncodingLimits::default();
    let z = ZSet::build(
        (0..1000)
            .map(|i| (format!("m{i}").into_bytes(), f64::from(i % 37)))
            .collect(),
        &d,
    );
    assert_eq!(z.rdb_parts(), 1000);
    let mut whole = Vec::new();
    z.write_rdb(&mut whole);
    let mut parts = Vec::new();
    let mut from = 0;
    while let Some(next) = z.write_rdb_part(&mut parts, from, 7) {
        from = next;
    }
    assert_eq!(parts, whole);
    let back = read_payload(5, &whole, d).unwrap();
    assert_eq!(back, z);
    // Highest score first.
    let first = read_payload(
        5,
        &whole,
        EncodingLimits {
            zset_max_listpack_entries: 0,
            ..d
        },
    )
    .unwrap();
    assert_eq!(first.at_rank(999).unwrap().1, 36.0);
}

#[test]
fn rewrite_chunks_and_formats_scores() {
    let d = EncodingLimits::default();
    let mut z = ZSet::build(
        (0..130)
            .map(|i| (format!("m{i}").into_bytes(), f64::from(i) + 0.5))
            .collect(),
        &d,
    );
    z.insert(b"5", 0.1, &d);
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    z.rewrite(b"k", 77, &mut |argv| {
        cmds.push(argv.iter().map(|a| a.to_vec()).collect())
    });
    assert_eq!(cmds.len(), 5);
    assert_eq!(cmds[0], [b"DEL".to_vec(), b"k".to_vec()]);
    assert_eq!(
        cmds[1][..4],
        [
            b"ZADD".to_vec(),
            b"k".to_vec(),
            b"0.10000000000000001".to_vec(),
            b"5".to_vec()
        ]
    );
    assert_eq!(cmds[1].len(), 2 + 128);
    assert_eq!(cmds[3].len(), 2 + 6);
    assert_eq!(
        cmds[4],
        [b"PEXPIREAT".to_vec(), b"k".to_vec(), b"77".to_vec()]
    );
}

#[test]
fn scan_survives_resizes() {
    let d = EncodingLimits::default();
    let mut z = ZSet::build(
        (0..500)
            .map(|i| (format!("k{i}").into_bytes(), f64::from(i)))
            .collect(),
        &d,
    );
    let mut seen = HashSet::new();
    let (mut cursor, mut step) = (0u64, 0);
    loop {
        cursor = z.scan(cursor, 2, |m, _| {
            seen.insert(m.to_vec());
        });
        step += 1;
        if step == 20 {
            for i in 500..3000 {
                z.insert(format!("k{i}").as_bytes(), 1.0, &d);
            }
        }
        if step == 300 {
            for i in 250..3000 {
                z.remove(format!("k{i}").as_bytes());
            }
        }
        if cursor == 0 {
            break;
        }
    }
    for i in 0..250 {
        assert!(seen.contains(format!("k{i}").as_bytes()), "k{i}");
    }
}

/// mimalloc's size class for a small allocation (8-byte steps to 64, then
/// four classes per doubling).
fn mi_class(n: usize) -> usize {
    if n <= 64 {
        return n.div_ceil(8) * 8;
    }
    let w = n.next_power_of_two() / 8;
    n.div_ceil(w) * w
}

#[test]
fn packed_memory_against_redis() {
    // The set scripts/zset-fixtures.sh measured with MEMORY USAGE.
    let mut z = None;
    for i in 0..128u32 {
        let s: f64 = format!("{}.{}", i * 37 % 101, i % 10).parse().unwrap();
        zadd(&mut z, s, format!("m{i:08}").as_bytes());
    }
    let z = z.unwrap();
    let redis = std::fs::read_to_string(format!(
        "{}/tests/fixtures/zset/mem128.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let redis: usize = redis.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(z.encoding(), "listpack");
    println!(
        "128 packed members: ringkv mem_usage {} B, redis MEMORY USAGE {redis} B",
        z.mem_usage()
    );
    assert!(z.mem_usage() <= redis);
}

#[test]
#[cfg_attr(debug_assertions, ignore = "a million members: run with --release")]
fn a_million_members_fit_65_bytes_each() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let limits = EncodingLimits::default();
    let n = 1_000_000u32;
    let mut z = ZSet::new_for(9, &limits);
    for i in 0..n {
        z.insert(
            format!("m{i:08}").as_bytes(),
            rng.gen::<f64>() * 1e6,
            &limits,
        );
    }
    let Repr::Big(b) = &z.0 else { panic!("packed") };
    let exact = z.heap_bytes() as f64 / f64::from(n);
    let classed = b.recount(mi_class) as f64 / f64::from(n);
    println!("1M random inserts: {exact:.1} B/member requested, {classed:.1} with size classes");
    assert!(classed <= 65.0, "{classed}");
    let built = ZSet::build(z.iter().map(|(m, s)| (m.to_vec(), s)).collect(), &limits);
    let Repr::Big(bb) = &built.0 else {
        panic!("packed")
    };
    println!(
        "1M loaded (RDB/STORE): {:.1} B/member with size classes",
        bb.recount(mi_class) as f64 / f64::from(n)
    );
    assert_eq!(z.rank(b"m00000007", false), built.rank(b"m00000007", false));
}

#[test]
fn size_classes_are_mimallocs() {
    assert_eq!(
        [8, 26, 64, 65, 81, 100, 488, 512, 513].map(mi_class),
        [8, 32, 64, 80, 96, 112, 512, 512, 640]
    );
}
