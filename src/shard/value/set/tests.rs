//! The set type against a model (std's BTreeSet): members, encoding rule,
//! order of intsets, and the exactness of its memory count.

use super::*;
use crate::persist::rdb::read::RdbReader;
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Heap bytes recounted from the members, independently of the type's
/// incremental count.
fn recount(s: &Set) -> usize {
    std::mem::size_of::<Set>()
        + match &s.0 {
            Repr::Ints(b) => intset::HEADER + intset::len(b) * intset::width(b),
            Repr::Table(t) => {
                t.iter().map(|m| table::node_size(m.len())).sum::<usize>()
                    + t.bucket_count() * std::mem::size_of::<usize>()
            }
        }
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (-300i64..300).prop_map(|v| v.to_string().into_bytes()),
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        Just(i64::MIN.to_string().into_bytes()),
        Just(b"-0".to_vec()),
        Just(b"01".to_vec()),
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..12),
        proptest::collection::vec(any::<u8>(), 250..300),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Add(Vec<u8>),
    Remove(Vec<u8>),
    Pop,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => member().prop_map(Op::Add),
        3 => member().prop_map(Op::Remove),
        1 => Just(Op::Pop),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn set_matches_model(ops in proptest::collection::vec(op(), 0..200), max in 0usize..20) {
        let limits = EncodingLimits { set_max_intset_entries: max, ..EncodingLimits::default() };
        let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut s: Option<Set> = None;
        // The encoding rule: an intset only while every member ever added
        // was an integer and the count never passed the limit.
        let mut table_forever = false;
        let mut rng = rand::thread_rng();
        for op in ops {
            match op {
                Op::Add(m) => {
                    let set = s.get_or_insert_with(|| Set::for_member(&m));
                    prop_assert_eq!(set.add(&m, &limits), model.insert(m.clone()));
                    if as_int(&m).is_none() || model.len() > max {
                        table_forever = true;
                    }
                }
                Op::Remove(m) => {
                    if let Some(set) = s.as_mut() {
                        prop_assert_eq!(set.remove(&m), model.remove(&m));
                    }
                }
                Op::Pop => {
                    if let Some(set) = s.as_mut() {
                        let got = set.pop_random(&mut rng);
                        prop_assert_eq!(got.is_some(), !model.is_empty());
                        if let Some(m) = got {
                            prop_assert!(model.remove(&m));
                        }
                    }
                }
            }
            if model.is_empty() {
                s = None;
                table_forever = false;
                continue;
            }
            let set = s.as_ref().unwrap();
            prop_assert_eq!(set.len(), model.len());
            prop_assert_eq!(set.is_intset(), !table_forever);
            prop_assert_eq!(set.mem_usage(), recount(set));
            let got: BTreeSet<Vec<u8>> = set.iter().map(|m| m.to_vec()).collect();
            prop_assert_eq!(&got, &model);
            if set.is_intset() {
                let ints: Vec<i64> = set.iter().map(|m| match m {
                    MemberRef::Int(v) => v,
                    MemberRef::Bytes(_) => i64::MAX,
                }).collect();
                let mut sorted = ints.clone();
                sorted.sort_unstable();
                prop_assert_eq!(ints, sorted);
            }
            for m in &model {
                prop_assert!(set.contains(m));
            }
            // RDB round trip keeps members and (with the same limit) encoding.
            let mut buf = Vec::new();
            set.write_rdb(&mut buf);
            let back = read_payload(set.rdb_type(), &buf).unwrap();
            prop_assert_eq!(back.len(), set.len());
            prop_assert!(set.iter().all(|m| m.with(|b| back.contains(b))));
        }
    }
}

/// Decodes one value payload of `rdb_type` through a DUMP-shaped buffer.
fn read_payload(rdb_type: u8, payload: &[u8]) -> Result<Set, crate::persist::rdb::DumpError> {
    let mut dump = vec![rdb_type];
    dump.extend_from_slice(payload);
    dump.extend_from_slice(&10u16.to_le_bytes());
    let crc = crate::persist::rdb::crc64::crc64(&dump);
    dump.extend_from_slice(&crc.to_le_bytes());
    let v: Value = crate::persist::rdb::read_dump(&dump, EncodingLimits::default())?;
    match v {
        Value::Set(s) => Ok(*s),
        _ => Err(crate::persist::rdb::DumpError::BadFormat),
    }
}

#[test]
fn conversion_and_encodings() {
    let limits = EncodingLimits::default();
    let mut s = Set::for_member(b"1");
    assert!(s.is_intset());
    for i in 0..512 {
        s.add(i.to_string().as_bytes(), &limits);
    }
    assert_eq!(s.encoding(), "intset");
    s.add(b"512", &limits);
    assert_eq!(s.encoding(), "hashtable");
    s.remove(b"512");
    assert_eq!(s.encoding(), "hashtable");
    let mut t = Set::for_member(b"-0");
    assert_eq!(t.encoding(), "hashtable");
    t.add(b"5", &limits);
    assert!(!t.is_intset());
    let u = Set::build([b"3".as_slice(), b"1", b"2"], &limits);
    let order: Vec<Vec<u8>> = u.iter().map(|m| m.to_vec()).collect();
    assert_eq!(order, [b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    assert_eq!(u.rdb_type(), 11);
    assert_eq!(Set::build([b"a".as_slice()], &limits).rdb_type(), 2);
}

#[test]
fn malformed_payloads_are_errors() {
    // Bad intset encoding, zero length, unsorted, duplicate.
    for bad in [
        &b"\x0a\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00"[..],
        b"\x08\x02\x00\x00\x00\x00\x00\x00\x00",
        b"\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00",
        b"\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x01\x00",
        b"\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00",
        b"\xc0\x05",
    ] {
        assert!(read_payload(11, bad).is_err(), "{bad:?}");
    }
    // Type 2: duplicates, empty, truncated.
    for bad in [
        &b"\x02\x01a\x01a"[..],
        b"\x00",
        b"\x03\x01a\x01b",
        b"\x02\xc0\x01\x011",
    ] {
        assert!(read_payload(2, bad).is_err(), "{bad:?}");
    }
    let ok = read_payload(2, b"\x02\xc0\x01\x01b").unwrap();
    assert_eq!(ok.encoding(), "hashtable");
    let ints = read_payload(2, b"\x02\xc0\x07\x012").unwrap();
    assert_eq!(ints.encoding(), "intset");
    assert_eq!(
        ints.intset_bytes().unwrap(),
        b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x07\x00"
    );
    let _ = RdbReader::new(b"REDIS0010");
}

#[test]
fn rewrite_chunks_and_expiry() {
    let limits = EncodingLimits::default();
    let members: Vec<Vec<u8>> = (0..130).map(|i| format!("m{i}").into_bytes()).collect();
    let s = Set::build(members.iter().map(Vec::as_slice), &limits);
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    s.rewrite(b"k", 77, &mut |argv| {
        cmds.push(argv.iter().map(|a| a.to_vec()).collect())
    });
    assert_eq!(cmds.len(), 5);
    assert_eq!(cmds[0], [b"DEL".to_vec(), b"k".to_vec()]);
    assert_eq!(cmds[1].len(), 2 + 64);
    assert_eq!(cmds[3].len(), 2 + 2);
    assert_eq!(
        cmds[4],
        [b"PEXPIREAT".to_vec(), b"k".to_vec(), b"77".to_vec()]
    );
    let total: usize = cmds[1..4].iter().map(|c| c.len() - 2).sum();
    assert_eq!(total, 130);
}
