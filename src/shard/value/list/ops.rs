//! What list commands do to a [`List`] beyond pushing and popping at its
//! ends: reads by index and range (whole nodes skipped by their counts),
//! LSET and LINSERT in place (a node that grows past its fill is split),
//! and LREM/LTRIM, which rebuild the list from what stays (both O(N) in
//! Redis too).

use super::{prev_start, List, Node};
use crate::persist::rdb::listpack::{self as lp, Entry, Needle};
use crate::shard::value::EncodingLimits;

impl List {
    /// Resolves a Redis index (negative from the tail) to 0..len.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// The node holding element `i` (< len) and its first element's index.
    fn locate(&self, i: usize) -> (usize, usize) {
        let mut start = 0;
        for (n, node) in self.nodes.iter().enumerate() {
            if i < start + node.count {
                return (n, start);
            }
            start += node.count;
        }
        (self.nodes.len().saturating_sub(1), start)
    }

    /// Byte offset of entry `k` in `node`.
    fn offset(node: &Node, k: usize) -> usize {
        let mut it = node.iter();
        for _ in 0..k {
            it.next();
        }
        it.pos()
    }

    /// Element `i` (0..len).
    pub fn get(&self, i: usize) -> Option<Entry<'_>> {
        if i >= self.len {
            return None;
        }
        let (n, start) = self.locate(i);
        self.nodes[n].iter().nth(i - start)
    }

    /// The elements `from..=to` (0-based, to < len), head to tail.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = Entry<'_>> + '_ {
        let (n, start) = if from < self.len {
            self.locate(from)
        } else {
            (self.nodes.len(), from)
        };
        let take = if from <= to && to < self.len {
            to - from + 1
        } else {
            0
        };
        self.nodes
            .iter()
            .skip(n)
            .flat_map(Node::iter)
            .skip(from.saturating_sub(start))
            .take(take)
    }

    /// Every element, tail to head.
    pub fn iter_rev(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.nodes.iter().rev().flat_map(|node| {
            let mut pos = node.end();
            std::iter::from_fn(move || {
                let start = prev_start(&node.lp, pos)?;
                pos = start;
                lp::entry_at(&node.lp, start).map(|(e, _)| e)
            })
        })
    }

    /// Replaces element `i` (0..len) with `s` (LSET).
    pub fn set(&mut self, i: usize, s: &[u8], limits: &EncodingLimits) {
        if i >= self.len {
            return;
        }
        let (n, start) = self.locate(i);
        let at = List::offset(&self.nodes[n], i - start);
        let Some((_, end)) = lp::entry_at(&self.nodes[n].lp, at) else {
            return;
        };
        let mut enc = Vec::with_capacity(lp::entry_size(s));
        lp::encode_entry(&mut enc, s);
        self.edit_node(n, |node| {
            lp::splice(&mut node.lp, at, end, &enc);
            lp::set_header(&mut node.lp, node.count);
        });
        self.split_if_full(n, limits);
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
        for n in 0..self.nodes.len() {
            let node = &self.nodes[n];
            let mut it = node.iter();
            loop {
                let at = it.pos();
                let Some(e) = it.next() else { break };
                if needle.matches(&e) {
                    let where_ = if after { it.pos() } else { at };
                    self.edit_node(n, |node| node.insert_at(where_, s));
                    self.len += 1;
                    self.split_if_full(n, limits);
                    return true;
                }
            }
        }
        false
    }

    /// Splits node `n` in two when it holds more than its fill allows (and
    /// more than one element).
    fn split_if_full(&mut self, n: usize, limits: &EncodingLimits) {
        let node = &self.nodes[n];
        if node.count < 2 || Node::within(node.lp.len(), node.count, limits.list_max_listpack_size)
        {
            return;
        }
        let half = node.count / 2;
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
        if count < 0 {
            for (k, e) in self.iter_rev().enumerate() {
                if removed < limit && needle.matches(&e) {
                    drop[len - 1 - k] = true;
                    removed += 1;
                }
            }
        } else {
            for (k, e) in self.iter().enumerate() {
                if removed < limit && needle.matches(&e) {
                    drop[k] = true;
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            let mut kept = List::new();
            for (e, gone) in self.iter().zip(&drop) {
                if !gone {
                    e.with_bytes(|b| kept.push_back(b, limits));
                }
            }
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
        let mut kept = List::new();
        for e in self.range(from, to) {
            e.with_bytes(|b| kept.push_back(b, limits));
        }
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
