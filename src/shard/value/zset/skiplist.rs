//! The big sorted-set encoding (`skiplist`, the name Redis reports; the
//! structure is ours): each member is one allocation
//! `[next][score f64][len][bytes]` chained in a [`MemberTable`] (member →
//! node in O(1), Redis-style SCAN cursor), and an order-statistic B+tree
//! ([`Tree`], tree.rs) holds the node pointers in (score, member) order for
//! the O(log n) ranks and O(log n + m) range walks.
//!
//! Memory for a 9-byte member: a 26-byte node (the 32-byte size class),
//! 8 to 16 bytes of bucket and 8 to 12 bytes of leaf slot, against Redis's
//! skiplist node, dict entry, sds and bucket (109.7 bytes measured).
//!
//! Invariants: the table and the tree hold exactly the same nodes; a node
//! is freed only after it has left the tree (the tree compares by reading
//! nodes); a node's score changes only while it is out of the tree; scores
//! are never NaN.

use super::tree::Tree;
use super::{cmp_entry, ZMember};
use crate::shard::value::set::table::{node_bytes, node_extra, MemberTable};
use std::cmp::Ordering;
use std::ptr::NonNull;

/// Bytes each node carries before its member: the score.
const SCORE: usize = 8;

/// A member node of the table (see the module comment).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ZNode(NonNull<u8>);

impl Default for ZNode {
    /// A filler for unused tree slots; never read.
    fn default() -> Self {
        ZNode(NonNull::dangling())
    }
}

impl ZNode {
    /// The score. Callers hold the node's set borrowed, so it is live.
    fn score(self) -> f64 {
        // SAFETY: a live node of a `MemberTable<SCORE>`: its extra bytes
        // are 8, 8-byte aligned, and hold the score.
        unsafe { (node_extra(self.0) as *const f64).read() }
    }

    fn set_score(self, s: f64) {
        // SAFETY: as in `score`; the set is borrowed mutably.
        unsafe { (node_extra(self.0) as *mut f64).write(s) }
    }

    fn member<'a>(self) -> &'a [u8] {
        // SAFETY: a live node; callers tie `'a` to a borrow of the set.
        unsafe { node_bytes::<SCORE>(self.0) }
    }

    fn key<'a>(self) -> (f64, &'a [u8]) {
        (self.score(), self.member())
    }
}

pub struct Skiplist {
    table: MemberTable<SCORE>,
    tree: Tree<ZNode>,
}

// SAFETY: the set owns every node its tree points at (no sharing, no
// interior mutability); moving it moves that ownership, `&Skiplist` reads.
unsafe impl Send for Skiplist {}
// SAFETY: see above.
unsafe impl Sync for Skiplist {}

/// `y` orders before `key`.
fn less(key: (f64, &[u8])) -> impl Fn(ZNode) -> bool + '_ {
    move |y: ZNode| cmp_entry(y.key(), key) == Ordering::Less
}

/// `y` orders before `key` or is it.
fn not_after(key: (f64, &[u8])) -> impl Fn(ZNode) -> bool + '_ {
    move |y: ZNode| cmp_entry(y.key(), key) != Ordering::Greater
}

impl Skiplist {
    /// A set of `entries` in any order; `None` on a repeated member when
    /// `strict` (RDB load), else the first score of a member is kept.
    pub fn from_pairs<M: AsRef<[u8]>>(
        entries: impl Iterator<Item = (M, f64)>,
        hint: usize,
        strict: bool,
    ) -> Option<Skiplist> {
        let mut table = MemberTable::sized(hint);
        let mut nodes = Vec::with_capacity(hint);
        for (m, s) in entries {
            let m = m.as_ref();
            if table.find_node(m).is_some() {
                if strict {
                    // The nodes are freed with the table; none is in a tree.
                    return None;
                }
                continue;
            }
            let p = ZNode(table.insert_new_node(m));
            p.set_score(s);
            nodes.push(p);
        }
        if !nodes.is_sorted_by(|a, b| cmp_entry(a.key(), b.key()) == Ordering::Less) {
            nodes.sort_unstable_by(|a, b| cmp_entry(a.key(), b.key()));
        }
        let tree = Tree::from_sorted(&nodes);
        Some(Skiplist { table, tree })
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Heap bytes requested: buckets, member nodes, tree nodes.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes() + self.tree.heap_bytes()
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.table.find_node(m).map(|p| ZNode(p).score())
    }

    /// Sets `m`'s score, adding it when absent; the old score. An equal
    /// score (`-0 == 0` included) leaves the node as it was, as Redis does.
    pub fn insert(&mut self, m: &[u8], score: f64) -> Option<f64> {
        if let Some(p) = self.table.find_node(m).map(ZNode) {
            let old = p.score();
            if old != score {
                self.tree.remove(p, not_after(p.key()));
                p.set_score(score);
                self.tree.insert(p, less(p.key()));
            }
            return Some(old);
        }
        let p = ZNode(self.table.insert_new_node(m));
        p.set_score(score);
        self.tree.insert(p, less(p.key()));
        None
    }

    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let tree = &mut self.tree;
        let mut old = None;
        self.table.remove_with(m, |p| {
            let p = ZNode(p);
            tree.remove(p, not_after(p.key()));
            old = Some(p.score());
        });
        old
    }

    /// Ascending rank and score of `m`.
    pub fn rank(&self, m: &[u8]) -> Option<(usize, f64)> {
        let p = ZNode(self.table.find_node(m)?);
        let r = self.tree.count(not_after(p.key()));
        Some((r.saturating_sub(1), p.score()))
    }

    /// Members with a score below `s` (or at most `s` when `after_equal`).
    pub fn score_rank(&self, s: f64, after_equal: bool) -> usize {
        if after_equal {
            self.tree.count(|y| y.score() <= s)
        } else {
            self.tree.count(|y| y.score() < s)
        }
    }

    /// Members whose bytes are below `m` (or at most `m`).
    pub fn lex_rank(&self, m: &[u8], after_equal: bool) -> usize {
        if after_equal {
            self.tree.count(|y| y.member() <= m)
        } else {
            self.tree.count(|y| y.member() < m)
        }
    }

    pub fn at_rank(&self, r: usize) -> Option<(ZMember<'_>, f64)> {
        self.tree
            .at(r)
            .map(|p| (ZMember::Bytes(p.member()), p.score()))
    }

    pub fn range(
        &self,
        start: usize,
        end: usize,
        reverse: bool,
    ) -> impl Iterator<Item = (ZMember<'_>, f64)> + '_ {
        self.tree
            .range(start, end, reverse)
            .map(|p| (ZMember::Bytes(p.member()), p.score()))
    }

    /// Removes ranks `start..end`: one by one when few, else by rebuilding
    /// the tree from the members that stay (O(n), cheaper past n / log n).
    pub fn remove_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        let (n, m) = (self.len(), end - start);
        let log = (usize::BITS - n.leading_zeros()) as usize;
        if m.saturating_mul(log) < n {
            for _ in start..end {
                if let Some(p) = self.tree.remove_at(start) {
                    self.table.remove(p.member());
                }
            }
            return;
        }
        let gone: Vec<ZNode> = self.tree.range(start, end, false).collect();
        let kept: Vec<ZNode> = self
            .tree
            .range(0, start, false)
            .chain(self.tree.range(end, n, false))
            .collect();
        self.tree = Tree::from_sorted(&kept);
        for p in gone {
            self.table.remove(p.member());
        }
    }

    /// Removes and returns the entry of the lowest (or highest) rank.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let r = if max { self.len().checked_sub(1)? } else { 0 };
        let p = self.tree.remove_at(r)?;
        let out = (p.member().to_vec(), p.score());
        self.table.remove(&out.0);
        Some(out)
    }

    /// One ZSCAN step (see `ZSet::scan`).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(ZMember<'_>, f64)) -> u64 {
        let (mut cursor, mut seen) = (cursor, 0usize);
        // Redis bounds the buckets visited to count * 10.
        let mut budget = count.saturating_mul(10).max(1);
        loop {
            cursor = self.table.scan_nodes(cursor, |p| {
                let p = ZNode(p);
                seen += 1;
                f(ZMember::Bytes(p.member()), p.score());
            });
            budget -= 1;
            if cursor == 0 || seen >= count || budget == 0 {
                return cursor;
            }
        }
    }
}

impl Clone for Skiplist {
    fn clone(&self) -> Self {
        let entries = self.tree.iter().map(|p| (p.member(), p.score()));
        Skiplist::from_pairs(entries, self.len(), false).unwrap_or_else(|| Skiplist {
            table: MemberTable::empty(),
            tree: Tree::default(),
        })
    }
}

#[cfg(test)]
impl Skiplist {
    /// Heap bytes recounted node by node, with each allocation rounded up
    /// by `class` (identity: the exact count).
    pub fn recount(&self, class: impl Fn(usize) -> usize) -> usize {
        use crate::shard::value::set::table::node_size_with;
        let (leaves, inners) = self.tree.node_counts();
        self.tree
            .iter()
            .map(|p| class(node_size_with(SCORE, p.member().len())))
            .sum::<usize>()
            + self.table.bucket_count() * 8
            + leaves * class(std::mem::size_of::<super::tree::Leaf<ZNode>>())
            + inners * class(std::mem::size_of::<super::tree::Inner<ZNode>>())
    }

    pub fn table_len(&self) -> usize {
        self.table.len()
    }
}
