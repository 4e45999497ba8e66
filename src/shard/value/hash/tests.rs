//! Model test: random operations on a [`Hash`] against a
//! `std::collections::HashMap`, with small and default limits (so both
//! encodings and the conversion are exercised), checking contents, the
//! encoding rule, RDB round trips and that `heap_bytes` equals a recount.

use super::*;
use crate::persist::rdb::listpack as lp;
use crate::persist::rdb::read::RdbReader;
use crate::shard::value::{Value, ValueType};
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Clone, Debug)]
enum Op {
    Set(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0u8..40).prop_map(|n| format!("f{n}").into_bytes()),
        (-300i64..300).prop_map(|n| n.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..12),
        Just(vec![b'x'; 70]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (bytes(), bytes()).prop_map(|(f, v)| Op::Set(f, v)),
        1 => bytes().prop_map(Op::Remove),
    ]
}

/// The bytes a hash holds, counted from scratch.
fn recount(h: &Hash) -> usize {
    std::mem::size_of::<Hash>()
        + match h {
            Hash::Listpack(l) => l.bytes().len(),
            Hash::Table(t) => {
                let nodes: usize = t
                    .iter()
                    .map(|(f, v)| {
                        let varint = |n: usize| {
                            (usize::BITS - n.max(1).leading_zeros()).div_ceil(7) as usize
                        };
                        8 + varint(f.len()) + f.len() + varint(v.len()) + v.len()
                    })
                    .sum();
                t.bucket_count() * 8 + nodes
            }
        }
}

fn check(h: &Hash, model: &HashMap<Vec<u8>, Vec<u8>>) {
    assert_eq!(h.len(), model.len());
    for (f, v) in model {
        assert_eq!(h.get(f).map(|e| e.to_vec()), Some(v.clone()));
    }
    let mut n = 0;
    h.for_each(|f, v| {
        n += 1;
        assert_eq!(model.get(&f.to_vec()), Some(&v.to_vec()));
    });
    assert_eq!(n, model.len());
    assert_eq!(h.heap_bytes(), recount(h));
    if let Hash::Listpack(l) = h {
        assert_eq!(lp::validate(l.bytes()), Ok(2 * model.len()));
    }
}

/// A hash written as RDB and read back equals the original.
fn round_trip(h: &Hash) {
    if h.is_empty() {
        return;
    }
    let mut payload = Vec::new();
    h.write_rdb(&mut payload);
    let mut file = b"REDIS0010".to_vec();
    file.push(h.rdb_type());
    file.push(1);
    file.push(b'k');
    file.extend_from_slice(&payload);
    file.push(0xFF);
    file.extend_from_slice(&0u64.to_le_bytes());
    let mut r = RdbReader::new(&file).unwrap();
    let e = r.next_entry::<Value>(Default::default()).unwrap().unwrap();
    assert_eq!(e.value.as_hash(), Some(h));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn hash_matches_a_hashmap(ops in prop::collection::vec(op(), 1..300), small in any::<bool>()) {
        let limits = if small {
            EncodingLimits { hash_max_listpack_entries: 8, hash_max_listpack_value: 16, set_max_intset_entries: 512, list_max_listpack_size: -2, list_compress_depth: 0 }
        } else {
            EncodingLimits::default()
        };
        let mut h = Hash::new();
        let mut model = HashMap::new();
        let mut was_table = false;
        for op in ops {
            match op {
                Op::Set(f, v) => {
                    h.prepare_for([f.len(), v.len()], &limits);
                    prop_assert_eq!(h.set(&f, &v, &limits), model.insert(f.clone(), v.clone()).is_none());
                    if f.len() > limits.hash_max_listpack_value || v.len() > limits.hash_max_listpack_value {
                        prop_assert!(!h.is_listpack());
                    }
                }
                Op::Remove(f) => {
                    prop_assert_eq!(h.remove(&f), model.remove(&f).is_some());
                }
            }
            if model.len() > limits.hash_max_listpack_entries {
                prop_assert!(!h.is_listpack());
            }
            // Never back to listpack.
            prop_assert!(!(was_table && h.is_listpack()));
            was_table = !h.is_listpack();
            check(&h, &model);
        }
        round_trip(&h);
    }
}
