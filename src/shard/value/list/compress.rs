//! What `list-compress-depth` does to a list's nodes (the rule and the
//! invariant are in the list module's comment): a node's compressed form
//! and its expansion, and where each node of a list should be. A list
//! with depth 0 never calls into the LZF code: each hook here first tests
//! the depth.

use super::{List, Node};
use crate::persist::rdb::lzf;
use std::borrow::Cow;

/// Redis's smallest listpack worth compressing (`MIN_COMPRESS_BYTES`).
const MIN_COMPRESS_BYTES: usize = 48;
/// What compression must save, more than (`MIN_COMPRESS_IMPROVE`).
const MIN_COMPRESS_IMPROVE: usize = 8;

/// A node's `state`: `lp` is the listpack, not tried for compression.
pub(super) const RAW: u32 = 0;
/// `lp` is the listpack, and these bytes do not compress well enough.
pub(super) const STAYS_RAW: u32 = 1;
// Any other state (>= MIN_COMPRESS_BYTES): `lp` is the LZF form of a
// listpack of that many bytes.

impl Node {
    pub(super) fn is_compressed(&self) -> bool {
        self.state > STAYS_RAW
    }

    /// The listpack: the node's own bytes, or expanded from its LZF form
    /// into a buffer of the caller's.
    pub(super) fn listpack(&self) -> Cow<'_, [u8]> {
        if !self.is_compressed() {
            return Cow::Borrowed(&self.lp);
        }
        // The bytes are this node's own compression of a valid listpack.
        Cow::Owned(lzf::decompress(&self.lp, self.state as usize).expect("a list node's LZF form"))
    }

    /// Compresses a raw node when that pays (the list module's rule);
    /// a node that does not compress is marked so, and not tried again
    /// until it changes.
    pub(super) fn compress(&mut self) {
        if self.state != RAW {
            return;
        }
        let len = self.lp.len();
        self.state = STAYS_RAW;
        if !(MIN_COMPRESS_BYTES..=u32::MAX as usize).contains(&len) {
            return;
        }
        // Accepted only when compressed + MIN_COMPRESS_IMPROVE < len.
        let limit = len - MIN_COMPRESS_IMPROVE - 1;
        let mut out = Vec::with_capacity(limit);
        if lzf::compress(&self.lp, limit, &mut out) {
            out.shrink_to_fit();
            self.lp = out;
            self.state = len as u32;
        }
    }

    /// Expands a compressed node back to its listpack.
    pub(super) fn decompress(&mut self) {
        if self.is_compressed() {
            self.lp = self.listpack().into_owned();
            self.state = RAW;
        }
    }
}

impl List {
    /// Whether node `i` lies inside the depth (held compressed).
    pub(super) fn inside(&self, i: usize) -> bool {
        let d = self.depth as usize;
        d > 0 && i >= d && i + d < self.nodes.len()
    }

    /// Compresses or expands node `i` as its position asks.
    fn place(&mut self, i: usize) {
        if self.inside(i) {
            self.edit_node(i, Node::compress);
        } else {
            self.edit_node(i, Node::decompress);
        }
    }

    /// Places every node (after an edit that may move nodes in or out).
    pub(super) fn settle(&mut self) {
        if self.depth > 0 {
            (0..self.nodes.len()).for_each(|i| self.place(i));
        }
    }

    /// After a node was added at the head: node d, the head's last raw
    /// one until now, is inside.
    #[inline]
    pub(super) fn added_at_head(&mut self) {
        let d = self.depth as usize;
        if d > 0 && self.nodes.len() > 2 * d {
            self.place(d);
        }
    }

    /// After a node was added at the tail: node n - 1 - d is inside.
    #[inline]
    pub(super) fn added_at_tail(&mut self) {
        let (n, d) = (self.nodes.len(), self.depth as usize);
        if d > 0 && n > 2 * d {
            self.place(n - 1 - d);
        }
    }

    /// After the head node was removed: node d - 1 (node d until now) is
    /// a raw one.
    #[inline]
    pub(super) fn removed_at_head(&mut self) {
        let d = self.depth as usize;
        if d > 0 && self.nodes.len() >= 2 * d {
            self.place(d - 1);
        }
    }

    /// After the tail node was removed: node n - d is a raw one.
    #[inline]
    pub(super) fn removed_at_tail(&mut self) {
        let (n, d) = (self.nodes.len(), self.depth as usize);
        if d > 0 && n >= 2 * d {
            self.place(n - d);
        }
    }
}
