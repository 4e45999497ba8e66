//! The list type against a `VecDeque` model (at compress depths 0, 1 and
//! 2), node shapes and compression, and its RDB payloads (type 18 written
//! and read, compressed nodes as LZF strings; 14, 10 and 1 read).

use super::compress::STAYS_RAW;
use super::*;
use crate::persist::rdb::read::read_dump;
use crate::persist::rdb::write::encode_dump;
use proptest::prelude::*;
use std::ops::ControlFlow;

fn limits(fill: i64) -> EncodingLimits {
    limits_at(fill, 0)
}

fn limits_at(fill: i64, depth: u16) -> EncodingLimits {
    EncodingLimits {
        list_max_listpack_size: fill,
        list_compress_depth: depth,
        ..Default::default()
    }
}

fn elements(l: &List) -> Vec<Vec<u8>> {
    l.to_vecs().collect()
}

/// Every element through the other read paths: `walk_rev` reversed,
/// `with_element` by index, and `range` of the whole list.
fn elements_read_other_ways(l: &List) -> [Vec<Vec<u8>>; 3] {
    let mut rev = Vec::new();
    l.walk_rev(|e| {
        rev.push(e.to_vec());
        ControlFlow::Continue(())
    });
    rev.reverse();
    let by_index = (0..l.len())
        .map(|i| l.with_element(i, |e| e.to_vec()).unwrap())
        .collect();
    let mut range = Vec::new();
    if !l.is_empty() {
        l.range(0, l.len() - 1, |e| range.push(e.to_vec()));
    }
    [rev, by_index, range]
}

/// Whether a raw listpack compresses by the module comment's rule.
fn compresses(bytes: &[u8]) -> bool {
    let mut n = Node {
        lp: bytes.to_vec(),
        count: 1,
        state: RAW,
    };
    n.compress();
    n.is_compressed()
}

/// Checks the invariants the module comment states.
fn check(l: &List) {
    assert_eq!(l.len, l.nodes.iter().map(Node::count).sum::<usize>());
    let allocated: usize = l.nodes.iter().map(|n| n.lp.capacity()).sum();
    let used: usize = l.nodes.iter().map(|n| n.lp.len()).sum();
    assert_eq!((l.allocated, l.used), (allocated, used), "byte counts");
    let (n, d) = (l.nodes.len(), l.depth as usize);
    for (i, node) in l.nodes.iter().enumerate() {
        assert!(node.count > 0);
        assert_eq!(node.lp.capacity(), node.lp.len(), "exact allocation");
        let bytes = node.listpack();
        assert_eq!(lp::validate(&bytes), Ok(node.count()));
        let inside = d > 0 && i >= d && i + d < n;
        assert_eq!(inside, l.inside(i));
        if node.is_compressed() {
            assert!(inside, "node {i} of {n} compressed at depth {d}");
            assert_eq!(node.state as usize, bytes.len());
        } else {
            assert!(
                !inside || !compresses(&bytes),
                "node {i} of {n} raw at depth {d}"
            );
        }
        if node.state == STAYS_RAW {
            assert!(!compresses(&bytes), "marked as not compressing");
        }
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
        (0u32..10_000).prop_map(|n| format!("element-{n:04}").into_bytes()),
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
    fn behaves_like_a_deque(
        ops in proptest::collection::vec(op(), 0..400),
        fill in prop_oneof![Just(-2i64), Just(-1), Just(4), Just(3), Just(1)],
        depth in 0u16..3,
    ) {
        let limits = limits_at(fill, depth);
        let (mut l, mut model) = (List::new(&limits), std::collections::VecDeque::new());
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
        let want = model.iter().cloned().collect::<Vec<_>>();
        prop_assert_eq!(elements(&l), want.clone());
        for got in elements_read_other_ways(&l) {
            prop_assert_eq!(&got, &want);
        }
        prop_assert_eq!(l.len(), model.len());
        if fill > 0 {
            prop_assert!(l.nodes.iter().all(|n| n.count() <= fill as usize));
        }
        // What it writes, it reads back the same (RDB 18 via DUMP).
        if !l.is_empty() {
            let v = Value::List(Box::new(l.clone()));
            let mut payload = Vec::new();
            encode_dump(&mut payload, &v);
            let back: Value = read_dump(&payload, limits).unwrap();
            if let Value::List(b) = &back {
                check(b);
            }
            prop_assert_eq!(back, v);
        }
    }
}

#[test]
fn nodes_fill_to_eight_kib_by_default() {
    let mut l = List::new(&Default::default());
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
    let mut l = List::new(&Default::default());
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
    let mut l = List::new(&Default::default());
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

/// A list of `n` `element-NNNN` strings made at `depth`, with `fill`.
fn numbered(n: usize, fill: i64, depth: u16) -> List {
    let limits = limits_at(fill, depth);
    let mut l = List::new(&limits);
    for i in 0..n {
        l.push_back(format!("element-{i:04}").as_bytes(), &limits);
    }
    check(&l);
    l
}

fn compressed_nodes(l: &List) -> usize {
    l.nodes.iter().filter(|n| n.is_compressed()).count()
}

#[test]
fn interior_nodes_compress_and_the_ends_stay_raw() {
    let plain = numbered(10_000, -2, 0);
    assert_eq!(compressed_nodes(&plain), 0);
    let mut last = 0;
    for depth in [1u16, 2, 3] {
        let l = numbered(10_000, -2, depth);
        assert_eq!(l.node_count(), plain.node_count());
        assert_eq!(
            compressed_nodes(&l),
            l.node_count() - 2 * depth as usize,
            "depth {depth}"
        );
        assert_eq!(elements(&l), elements(&plain));
        // Each raw node costs about 8 KiB, a compressed one under 3 KiB.
        assert!(l.mem_usage() > last && l.mem_usage() < plain.mem_usage() * 3 / 5);
        last = l.mem_usage();
    }
    // A depth at least half the nodes compresses none.
    let few = numbered(100, 10, 5);
    assert_eq!((few.node_count(), compressed_nodes(&few)), (10, 0));
    let few = numbered(110, 10, 5);
    assert_eq!((few.node_count(), compressed_nodes(&few)), (11, 1));
}

#[test]
fn small_or_incompressible_nodes_stay_raw() {
    // Nodes of 3 short numbers are under MIN_COMPRESS_BYTES.
    let limits = limits_at(3, 1);
    let mut l = List::new(&limits);
    for i in 0..30 {
        l.push_back(i.to_string().as_bytes(), &limits);
    }
    check(&l);
    assert_eq!(compressed_nodes(&l), 0);
    assert!(l.nodes.iter().skip(1).take(8).all(|n| n.state == STAYS_RAW));
    // Bytes without repeats do not save MIN_COMPRESS_IMPROVE.
    let limits = limits_at(1, 1);
    let mut l = List::new(&limits);
    let mut x = 0x9e37_79b9u32;
    for _ in 0..5 {
        let e: Vec<u8> = (0..100)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        l.push_back(&e, &limits);
    }
    check(&l);
    assert_eq!(compressed_nodes(&l), 0);
}

#[test]
fn a_list_keeps_the_depth_it_was_made_with() {
    let (at_one, at_zero) = (limits_at(-2, 1), limits_at(-2, 0));
    let mut l = List::new(&at_one);
    let mut m = List::new(&at_zero);
    for i in 0..5000 {
        let e = format!("element-{i:04}");
        l.push_back(e.as_bytes(), &at_zero);
        m.push_back(e.as_bytes(), &at_one);
    }
    check(&l);
    check(&m);
    assert_eq!(compressed_nodes(&l), l.node_count() - 2);
    assert_eq!(compressed_nodes(&m), 0);
    // A rebuild (LTRIM, LREM) keeps it too.
    l.keep_range(1, 4000, &at_zero);
    check(&l);
    assert_eq!(compressed_nodes(&l), l.node_count() - 2);
    l.remove_matching(b"element-0007", 0, &at_zero);
    check(&l);
    assert_eq!(compressed_nodes(&l), l.node_count() - 2);
}

#[test]
fn pops_expand_the_nodes_that_reach_the_ends() {
    let mut l = numbered(400, 4, 2);
    assert_eq!(compressed_nodes(&l), 96);
    let mut front = true;
    while !l.is_empty() {
        if front {
            l.pop_front();
        } else {
            l.pop_back();
        }
        front = !front;
        check(&l);
    }
    let mut l = numbered(400, 4, 1);
    for i in 0..200 {
        l.push_front(format!("element-{i:04}").as_bytes(), &limits(4));
        check(&l);
    }
    assert_eq!(compressed_nodes(&l), l.node_count() - 2);
}

#[test]
fn edits_inside_recompress_their_node() {
    let fill = limits(16);
    let mut l = numbered(1000, 16, 1);
    let before = l.mem_usage();
    l.set(500, b"changed", &fill);
    check(&l);
    assert_eq!(
        l.with_element(500, |e| e.to_vec()),
        Some(b"changed".to_vec())
    );
    assert!(l.insert_at_pivot(b"element-0300", b"new", true, &fill));
    check(&l);
    assert_eq!(l.with_element(301, |e| e.to_vec()), Some(b"new".to_vec()));
    // A split node's halves are compressed too.
    for _ in 0..20 {
        assert!(l.insert_at_pivot(b"element-0600", b"element-0600", false, &fill));
    }
    check(&l);
    assert_eq!(compressed_nodes(&l), l.node_count() - 2);
    let mut same = List::new(&fill);
    l.walk(0, |e| {
        e.with_bytes(|b| same.push_back(b, &fill));
        ControlFlow::Continue(())
    });
    assert!(l.mem_usage() < same.mem_usage() && before < l.mem_usage());
    assert!(l.contains(b"element-0999") && !l.contains(b"element-1000"));
}

#[test]
fn compressed_nodes_dump_as_lzf_and_load_by_the_loading_depth() {
    let l = numbered(3000, -2, 1);
    let raw = numbered(3000, -2, 0);
    let (mut payload, mut raw_payload) = (Vec::new(), Vec::new());
    encode_dump(&mut payload, &Value::List(Box::new(l.clone())));
    encode_dump(&mut raw_payload, &Value::List(Box::new(raw.clone())));
    assert!(payload.len() < raw_payload.len() / 2);
    // The first node is raw; the second is written as an LZF string.
    let mut body = Vec::new();
    encode_len(&mut body, l.node_count() as u64);
    encode_len(&mut body, CONTAINER_PACKED);
    encode_string(&mut body, &l.nodes[0].lp);
    encode_len(&mut body, CONTAINER_PACKED);
    assert_eq!(payload[1..1 + body.len()], body[..]);
    assert_eq!(payload[1 + body.len()], 0xC3);
    for (depth, want) in [(0u16, 0), (1, l.node_count() - 2), (2, l.node_count() - 4)] {
        for p in [&payload, &raw_payload] {
            let Value::List(back) = read_dump::<Value>(p, limits_at(-2, depth)).unwrap() else {
                panic!("not a list");
            };
            check(&back);
            assert_eq!(elements(&back), elements(&raw));
            assert_eq!(compressed_nodes(&back), want, "depth {depth}");
        }
    }
}
