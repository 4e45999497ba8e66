//! The list type against a `VecDeque` model, node shapes, and its RDB
//! payloads (type 18 written and read; 14, 10 and 1 read).

use super::*;
use crate::persist::rdb::read::read_dump;
use crate::persist::rdb::write::encode_dump;
use proptest::prelude::*;

fn limits(fill: i64) -> EncodingLimits {
    EncodingLimits {
        list_max_listpack_size: fill,
        ..Default::default()
    }
}

fn elements(l: &List) -> Vec<Vec<u8>> {
    l.iter().map(|e| e.to_vec()).collect()
}

/// Checks the invariants the module comment states.
fn check(l: &List) {
    assert_eq!(l.len, l.nodes.iter().map(|n| n.count).sum::<usize>());
    let allocated: usize = l.nodes.iter().map(|n| n.lp.capacity()).sum();
    let used: usize = l.nodes.iter().map(|n| n.lp.len()).sum();
    assert_eq!((l.allocated, l.used), (allocated, used), "byte counts");
    for n in &l.nodes {
        assert!(n.count > 0);
        assert_eq!(lp::validate(&n.lp), Ok(n.count));
    }
}

#[derive(Clone, Debug)]
enum Op {
    PushBack(Vec<u8>),
    PushFront(Vec<u8>),
    PopBack,
    PopFront,
    Set(usize, Vec<u8>),
    InsertAfter(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>, i64),
    Keep(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let elem = prop_oneof![
        (0i64..100_000).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..80),
        Just(vec![b'x'; 5000]),
    ];
    let small = (0i64..6).prop_map(|n| n.to_string().into_bytes());
    prop_oneof![
        4 => elem.clone().prop_map(Op::PushBack),
        4 => elem.clone().prop_map(Op::PushFront),
        2 => Just(Op::PopBack),
        2 => Just(Op::PopFront),
        1 => (0usize..50, elem).prop_map(|(i, e)| Op::Set(i, e)),
        1 => (small.clone(), small.clone()).prop_map(|(p, e)| Op::InsertAfter(p, e)),
        1 => (small, -2i64..3).prop_map(|(e, c)| Op::Remove(e, c)),
        1 => (0usize..30, 0usize..60).prop_map(|(a, b)| Op::Keep(a, b)),
    ]
}

proptest! {
    #[test]
    fn behaves_like_a_deque(ops in proptest::collection::vec(op(), 0..400), fill in prop_oneof![Just(-2i64), Just(-1), Just(3), Just(1)]) {
        let (mut l, mut model) = (List::new(), std::collections::VecDeque::new());
        let limits = limits(fill);
        for op in ops {
            match op {
                Op::PushBack(e) => { l.push_back(&e, &limits); model.push_back(e); }
                Op::PushFront(e) => { l.push_front(&e, &limits); model.push_front(e); }
                Op::PopBack => prop_assert_eq!(l.pop_back(), model.pop_back()),
                Op::PopFront => prop_assert_eq!(l.pop_front(), model.pop_front()),
                Op::Set(i, e) => if i < model.len() {
                    l.set(i, &e, &limits);
                    model[i] = e;
                },
                Op::InsertAfter(p, e) => {
                    let at = model.iter().position(|x| *x == p);
                    prop_assert_eq!(l.insert_at_pivot(&p, &e, true, &limits), at.is_some());
                    if let Some(at) = at {
                        model.insert(at + 1, e);
                    }
                }
                Op::Remove(e, count) => {
                    let mut want = 0;
                    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                    let mut kept: Vec<Vec<u8>> = model.iter().cloned().collect();
                    if count < 0 {
                        kept.reverse();
                    }
                    kept.retain(|x| !(*x == e && want < limit && { want += 1; true }));
                    if count < 0 {
                        kept.reverse();
                    }
                    prop_assert_eq!(l.remove_matching(&e, count, &limits), want);
                    model = kept.into_iter().collect();
                }
                Op::Keep(a, b) => if a <= b && b < model.len() {
                    l.keep_range(a, b, &limits);
                    model = model.iter().skip(a).take(b - a + 1).cloned().collect();
                },
            }
            check(&l);
        }
        prop_assert_eq!(elements(&l), model.iter().cloned().collect::<Vec<_>>());
        prop_assert_eq!(l.len(), model.len());
        if fill > 0 {
            prop_assert!(l.nodes.iter().all(|n| n.count <= fill as usize));
        }
        // What it writes, it reads back the same (RDB 18 via DUMP).
        if !l.is_empty() {
            let v = Value::List(Box::new(l.clone()));
            let mut payload = Vec::new();
            encode_dump(&mut payload, &v);
            let back: Value = read_dump(&payload, limits).unwrap();
            prop_assert_eq!(back, v);
        }
    }
}

#[test]
fn nodes_fill_to_eight_kib_by_default() {
    let mut l = List::new();
    for i in 0..10_000 {
        l.push_back(format!("element:{i:08}").as_bytes(), &Default::default());
    }
    check(&l);
    assert!(l.nodes.iter().all(|n| n.lp.len() <= 8192));
    // 18-byte entries: 8186 / 18 = 454 per node.
    assert_eq!(l.node_count(), 10_000usize.div_ceil(454));
    assert_eq!(l.encoding(), "quicklist");
    assert_eq!(
        l.ends().map(|(a, b)| (a.to_vec(), b.to_vec())),
        Some((b"element:00000000".to_vec(), b"element:00009999".to_vec()))
    );
}

#[test]
fn slices_end_at_node_boundaries_and_join_to_the_whole() {
    let mut l = List::new();
    for i in 0..3000 {
        l.push_back(format!("e{i}").as_bytes(), &limits(100));
    }
    let mut whole = Vec::new();
    l.write_rdb(&mut whole);
    let (mut parts, mut from, mut slices) = (Vec::new(), 0, 0);
    loop {
        slices += 1;
        match l.write_rdb_part(&mut parts, from, 250) {
            Some(next) => {
                assert_eq!(next % 100, 0);
                assert!(next > from);
                from = next;
            }
            None => break,
        }
    }
    assert_eq!(parts, whole);
    // 30 nodes of 100, at most 250 elements a slice: two nodes each.
    assert_eq!(slices, 15);
}

/// A DUMP payload of `rdb_type` with `body` (RDB version 10, CRC64).
fn dump_of(rdb_type: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![rdb_type];
    p.extend_from_slice(body);
    p.extend_from_slice(&10u16.to_le_bytes());
    let crc = crate::persist::rdb::crc64::crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn read(rdb_type: u8, body: &[u8]) -> Result<Vec<Vec<u8>>, ()> {
    match read_dump::<Value>(&dump_of(rdb_type, body), Default::default()) {
        Ok(Value::List(l)) => {
            check(&l);
            Ok(elements(&l))
        }
        _ => Err(()),
    }
}

fn strings(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn reads_the_older_list_types() {
    // Type 1: count, then strings.
    let mut body = Vec::new();
    encode_len(&mut body, 3);
    for s in ["a", "12", "bc"] {
        encode_string(&mut body, s.as_bytes());
    }
    assert_eq!(read(op::TYPE_LIST, &body), Ok(strings(&["a", "12", "bc"])));
    // Type 18 with a plain node between two packed ones.
    let mut body = Vec::new();
    encode_len(&mut body, 3);
    encode_len(&mut body, CONTAINER_PACKED);
    encode_string(&mut body, &listpack_of(&[Entry::Str(b"x"), Entry::Int(7)]));
    encode_len(&mut body, CONTAINER_PLAIN);
    encode_string(&mut body, b"plain");
    encode_len(&mut body, CONTAINER_PACKED);
    encode_string(&mut body, &listpack_of(&[Entry::Str(b"y")]));
    assert_eq!(
        read(op::TYPE_LIST_QUICKLIST_2, &body),
        Ok(strings(&["x", "7", "plain", "y"]))
    );
    // A bad container or a corrupt node is refused.
    let mut bad = Vec::new();
    encode_len(&mut bad, 1);
    encode_len(&mut bad, 3);
    encode_string(&mut bad, b"z");
    assert_eq!(read(op::TYPE_LIST_QUICKLIST_2, &bad), Err(()));
    let mut bad = Vec::new();
    encode_len(&mut bad, 1);
    encode_len(&mut bad, CONTAINER_PACKED);
    encode_string(&mut bad, b"\x07\x00\x00\x00\x01\x00\xff");
    assert_eq!(read(op::TYPE_LIST_QUICKLIST_2, &bad), Err(()));
    // An empty list is refused in a payload.
    let mut empty = Vec::new();
    encode_len(&mut empty, 0);
    assert_eq!(read(op::TYPE_LIST, &empty), Err(()));
}

#[test]
fn rewrite_is_rpush_in_chunks() {
    let mut l = List::new();
    for i in 0..130 {
        l.push_back(i.to_string().as_bytes(), &Default::default());
    }
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    l.rewrite(b"k", 42, &mut |argv| {
        cmds.push(argv.iter().map(|a| a.to_vec()).collect())
    });
    let lens: Vec<usize> = cmds.iter().map(Vec::len).collect();
    assert_eq!(lens, vec![2, 66, 66, 4, 3]);
    assert_eq!(cmds[1][0], b"RPUSH");
    assert_eq!(cmds[3][2..], strings(&["128", "129"])[..]);
    assert_eq!(cmds[4], strings(&["PEXPIREAT", "k", "42"]));
}

#[test]
fn prev_start_reads_backlens_of_every_width() {
    for len in [0usize, 1, 60, 126, 127, 200, 4000, 20_000] {
        let big = vec![b'q'; len];
        let mut n = Node::new();
        n.insert_at(n.end(), b"first");
        n.insert_at(n.end(), &big);
        let (last, start) = n.last().unwrap();
        assert!(last.to_vec() == big, "len {len}");
        assert_eq!(prev_start(&n.lp, start), Some(lp::HEADER));
        assert_eq!(prev_start(&n.lp, lp::HEADER), None);
    }
}
