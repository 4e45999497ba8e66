//! What list commands do to a [`List`] beyond pushing and popping at its
//! ends: reads by index and range (whole nodes skipped by their counts),
//! LSET and LINSERT in place (a node that grows past its fill is split),
//! and LREM/LTRIM, which rebuild the list from what stays (both O(N) in
//! Redis too). A read expands a compressed node into a buffer of its own;
//! an edit expands its node in place, and the list's nodes are placed
//! again by the compress depth after it.

use super::{List, Node};
use crate::persist::rdb::listpack::{self as lp, Entry, Needle};
use crate::shard::value::EncodingLimits;
use std::ops::ControlFlow;

impl List {
    /// Resolves a Redis index (negative from the tail) to 0..len.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// The node holding element `i` (< len) and its first element's index.
    pub(super) fn locate(&self, i: usize) -> (usize, usize) {
        let mut start = 0;
        for (n, node) in self.nodes.iter().enumerate() {
            if i < start + node.count() {
                return (n, start);
            }
            start += node.count();
        }
        (self.nodes.len().saturating_sub(1), start)
    }

    /// Byte offset of entry `k` in a raw `node`.
    fn offset(node: &Node, k: usize) -> usize {
        let mut it = node.iter();
        for _ in 0..k {
            it.next();
        }
        it.pos()
    }

    /// Runs `f` on element `i` (0..len); None past the end.
    pub fn with_element<R>(&self, i: usize, f: impl FnOnce(Entry<'_>) -> R) -> Option<R> {
        if i >= self.len {
            return None;
        }
        let (n, start) = self.locate(i);
        let bytes = self.nodes[n].listpack();
        lp::iter(&bytes).nth(i - start).map(f)
    }

    /// Whether an element equals `s`.
    pub fn contains(&self, s: &[u8]) -> bool {
        let needle = Needle::new(s);
        let mut found = false;
        self.walk(0, |e| {
            found = needle.matches(&e);
            if found {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        found
    }

    /// Runs `f` over the elements `from..=to` (0-based, to < len), head to
    /// tail.
    pub fn range(&self, from: usize, to: usize, mut f: impl FnMut(Entry<'_>)) {
        if from > to || to >= self.len {
            return;
        }
        let mut left = to - from + 1;
        self.walk(from, |e| {
            f(e);
            left -= 1;
            if left == 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
    }

    /// Replaces element `i` (0..len) with `s` (LSET).
    pub fn set(&mut self, i: usize, s: &[u8], limits: &EncodingLimits) {
        if i >= self.len {
            return;
        }
        let (n, start) = self.locate(i);
        self.edit_node(n, Node::decompress);
        let at = List::offset(&self.nodes[n], i - start);
        let Some((_, end)) = lp::entry_at(&self.nodes[n].lp, at) else {
            return;
        };
        let mut enc = Vec::with_capacity(lp::entry_size(s));
        lp::encode_entry(&mut enc, s);
        self.edit_node(n, |node| {
            node.state = super::RAW;
            lp::splice(&mut node.lp, at, end, &enc);
            let count = node.count();
            lp::set_header(&mut node.lp, count);
        });
        self.split_if_full(n, limits);
        self.settle();
    }

    /// Inserts `s` before or after the first element equal to `pivot`;
    /// false when there is none (LINSERT).
    pub fn insert_at_pivot(
        &mut self,
        pivot: &[u8],
        s: &[u8],
        after: bool,
        limits: &EncodingLimits,
    ) -> bool {
        let needle = Needle::new(pivot);
        let found = self.nodes.iter().enumerate().find_map(|(n, node)| {
            let bytes = node.listpack();
            let mut it = lp::iter(&bytes);
            loop {
                let at = it.pos();
                let e = it.next()?;
                if needle.matches(&e) {
                    return Some((n, if after { it.pos() } else { at }));
                }
            }
        });
        let Some((n, at)) = found else {
            return false;
        };
        self.edit_node(n, |node| {
            node.decompress();
            node.insert_at(at, s);
        });
        self.len += 1;
        self.split_if_full(n, limits);
        self.settle();
        true
    }

    /// Splits raw node `n` in two when it holds more than its fill allows
    /// (and more than one element).
    fn split_if_full(&mut self, n: usize, limits: &EncodingLimits) {
        let node = &self.nodes[n];
        let count = node.count();
        if count < 2 || Node::within(node.lp.len(), count, limits.list_max_listpack_size) {
            return;
        }
        let half = count / 2;
        let elems: Vec<Vec<u8>> = node.iter().map(|e| e.to_vec()).collect();
        let (a, b) = elems.split_at(half);
        let rebuild = |part: &[Vec<u8>]| {
            let mut node = Node::new();
            for e in part {
                let end = node.end();
                node.insert_at(end, e);
            }
            node.lp.shrink_to_fit();
            node
        };
        self.remove_node(n);
        self.insert_node(n, rebuild(a));
        self.insert_node(n + 1, rebuild(b));
    }

    /// Removes up to `count` elements equal to `s` (0: all), from the head
    /// for a positive count, from the tail for a negative one; how many
    /// (LREM). The list is rebuilt when anything goes.
    pub fn remove_matching(&mut self, s: &[u8], count: i64, limits: &EncodingLimits) -> usize {
        let needle = Needle::new(s);
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let len = self.len;
        let mut drop = vec![false; len];
        let mut removed = 0;
        let mut k = 0;
        let mut mark = |e: Entry<'_>| {
            let at = if count < 0 { len - 1 - k } else { k };
            if needle.matches(&e) {
                drop[at] = true;
                removed += 1;
            }
            k += 1;
            if removed < limit {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        };
        if count < 0 {
            self.walk_rev(&mut mark);
        } else {
            self.walk(0, &mut mark);
        }
        if removed > 0 {
            let mut kept = List::with_depth(self.depth);
            let mut k = 0;
            self.walk(0, |e| {
                if !drop[k] {
                    e.with_bytes(|b| kept.push_back(b, limits));
                }
                k += 1;
                ControlFlow::Continue(())
            });
            *self = kept;
        }
        removed
    }

    /// Keeps only the elements `from..=to` (0-based, resolved by the
    /// caller; an empty range empties the list) (LTRIM).
    pub fn keep_range(&mut self, from: usize, to: usize, limits: &EncodingLimits) {
        if from == 0 && to + 1 >= self.len {
            return;
        }
        let mut kept = List::with_depth(self.depth);
        self.range(from, to, |e| e.with_bytes(|b| kept.push_back(b, limits)));
        *self = kept;
    }
}

impl Node {
    /// Whether a node of `bytes` and `count` elements is within `fill`.
    pub(super) fn within(bytes: usize, count: usize, fill: i64) -> bool {
        match fill {
            f if f >= 0 => count as i64 <= f.max(1) && bytes <= super::SAFETY_BYTES,
            f => bytes <= 4096usize << (f.unsigned_abs().clamp(1, 5) - 1),
        }
    }
}
