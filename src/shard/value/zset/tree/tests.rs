//! The tree's property tests: every structural invariant after every step.
use super::*;
use proptest::prelude::*;

/// Checks every invariant of the module comment; returns the items.
fn check(t: &Tree<u32>) -> Vec<u32> {
    fn walk(
        n: &Node<u32>,
        root: bool,
        depth: usize,
        depths: &mut Vec<usize>,
        out: &mut Vec<u32>,
    ) -> (usize, usize, usize) {
        match n {
            Node::Leaf(l) => {
                assert!(root || l.len >= 1);
                out.extend_from_slice(&l.items[..l.len]);
                depths.push(depth);
                (l.len, 1, 0)
            }
            Node::Inner(i) => {
                assert!(i.len >= if root { 2 } else { 1 });
                let (mut c, mut leaves, mut inners) = (0, 0, 1);
                for k in 0..i.len {
                    let first = out.len();
                    let (n, l, ii) = walk(i.kid(k), false, depth + 1, depths, out);
                    assert_eq!(i.counts[k], n);
                    assert_eq!(i.mins[k], out[first]);
                    c += n;
                    leaves += l;
                    inners += ii;
                }
                (c, leaves, inners)
            }
        }
    }
    let mut out = Vec::new();
    let mut depths = Vec::new();
    if let Some(r) = &t.root {
        let (n, l, i) = walk(r, true, 0, &mut depths, &mut out);
        assert_eq!(n, t.len);
        assert_eq!((l, i), t.node_counts());
    } else {
        assert_eq!(t.len, 0);
        assert_eq!(t.node_counts(), (0, 0));
    }
    depths.dedup();
    assert!(depths.len() <= 1);
    // Only edge nodes may be thin: a bound on the leaves.
    let (leaves, _) = t.node_counts();
    assert!(leaves <= t.len / LEAF_MIN + 2 * (depths.first().copied().unwrap_or(0) + 1));
    out
}

#[test]
fn ascending_inserts_fill_leaves() {
    let mut t = Tree::default();
    for i in 0..10_000u32 {
        t.insert(i, |y| y < i);
    }
    let items = check(&t);
    assert_eq!(items, (0..10_000).collect::<Vec<_>>());
    let (leaves, _) = t.node_counts();
    assert!(leaves <= 10_000 / LEAF_CAP + 2, "{leaves}");
    let mut d = Tree::default();
    for i in (0..10_000u32).rev() {
        d.insert(i, |y| y < i);
    }
    assert_eq!(check(&d), items);
    assert!(d.node_counts().0 <= 10_000 / LEAF_CAP + 2);
    let b = Tree::from_sorted(&items);
    assert_eq!(check(&b), items);
    assert_eq!(b.count(|y| y < 5000), 5000);
    assert_eq!(b.at(777), Some(777));
    let back: Vec<u32> = b.range(10, 5000, true).collect();
    assert_eq!(back, (10..5000).rev().collect::<Vec<_>>());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn tree_matches_a_sorted_vec(ops in proptest::collection::vec((0u8..4, 0u32..3000), 1..3000)) {
        let mut t: Tree<u32> = Tree::default();
        let mut model: Vec<u32> = Vec::new();
        for (k, v) in ops {
            match k {
                0 | 1 => {
                    if let Err(at) = model.binary_search(&v) {
                        model.insert(at, v);
                        t.insert(v, |y| y < v);
                    }
                }
                2 => {
                    let there = model.binary_search(&v).map(|i| model.remove(i)).is_ok();
                    prop_assert_eq!(t.remove(v, |y| y <= v), there);
                }
                _ => {
                    if !model.is_empty() {
                        let r = v as usize % model.len();
                        prop_assert_eq!(t.remove_at(r), Some(model.remove(r)));
                    }
                }
            }
        }
        prop_assert_eq!(check(&t), model.clone());
        let n = model.len();
        for r in [0, n / 3, n / 2, n.saturating_sub(1)] {
            prop_assert_eq!(t.at(r), model.get(r).copied());
            let s = r.min(n);
            let fwd: Vec<u32> = t.range(s, n, false).collect();
            prop_assert_eq!(&fwd[..], &model[s..]);
            let rev: Vec<u32> = t.range(0, s, true).collect();
            let mut want = model[..s].to_vec();
            want.reverse();
            prop_assert_eq!(rev, want);
        }
        prop_assert_eq!(t.count(|y| y < 1500), model.partition_point(|&y| y < 1500));
        while let Some(x) = t.remove_at(0) {
            prop_assert_eq!(x, model.remove(0));
        }
        check(&t);
    }
}
