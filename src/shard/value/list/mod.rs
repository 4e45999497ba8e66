//! The list type as Redis 7.0's quicklist: a deque of nodes, each a Redis
//! listpack (`persist::rdb::listpack`) of consecutive elements, so RDB type
//! 18 and DUMP write every node as one copy and `OBJECT ENCODING` answers
//! `quicklist`, as Redis 7.0 does for every list.
//!
//! A node takes elements while it stays within `list-max-listpack-size`
//! (negative: -1..-5 cap its bytes at 4, 8, 16, 32 or 64 KiB; positive: its
//! element count, and 8 KiB of bytes as Redis's safety limit); an element
//! too big for any node gets a node of its own. Nodes loaded from a file
//! keep the shape they had there, as Redis's loader keeps them.
//!
//! Compression (`list-compress-depth` d, Redis's quicklist rule; the code
//! is in `compress.rs`): with
//! d > 0 the d nodes at each end are held raw and every node between is
//! held LZF-compressed when that pays: a listpack of at least 48 bytes
//! (`MIN_COMPRESS_BYTES`) whose LZF form is more than 8 bytes
//! (`MIN_COMPRESS_IMPROVE`) shorter. A list takes its depth when it is made
//! (an empty list, a rebuild keeps it) and keeps it, as a Redis quicklist
//! stores `compress` at creation: CONFIG SET reaches new lists only. A
//! node is compressed when it moves inside the depth boundary (a node
//! added at an end pushes one in) and expanded when it moves out (a node
//! removed at an end); an edit inside expands its node, edits it and
//! compresses it again. Reads expand a compressed node into a buffer of
//! their own, one node at a time; the node stays compressed. RDB and DUMP
//! write a compressed node's bytes as an LZF string, as Redis does; a node
//! read from a file is compressed by the loading list's depth. Depth 0
//! costs the push and pop paths one test of `depth`.
//!
//! Invariants: no node is empty; `len` is the sum of the nodes' counts;
//! every node's allocation is exactly its length (so the heap bytes are
//! the held bytes, compressed or not, plus the node array). With depth d,
//! node i of n is compressed exactly when d > 0, d <= i < n - d, and its
//! listpack compresses per the rule above; a raw node marked as tried
//! does not compress. The end nodes are never compressed. A stored list is
//! never empty (the commands that empty one delete its key).

use super::{rewrite_in_chunks, EncodingLimits, Value, ValueType};
use crate::persist::rdb::listpack::{self as lp, Entry};
use crate::persist::rdb::read::RdbReader;
use crate::persist::rdb::write::{encode_len, encode_lzf_string, encode_string};
use crate::persist::rdb::{op, ziplist, RdbError};
use compress::RAW;
use std::collections::VecDeque;
use std::ops::ControlFlow;

/// Elements per RPUSH of an AOF rewrite (Redis's AOF_REWRITE_ITEMS_PER_CMD).
const REWRITE_CHUNK: usize = 64;

mod compress;
mod ops;

/// Redis's cap on a node's bytes when the fill is a count
/// (`SIZE_SAFETY_LIMIT`).
const SAFETY_BYTES: usize = 8192;
/// RDB quicklist 2 node containers.
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;
/// One node: a listpack (maybe compressed) and how many elements it holds.
/// 32 bytes, as the node array is part of a list's memory.
#[derive(Clone, Debug)]
struct Node {
    lp: Vec<u8>,
    count: u32,
    state: u32,
}

const _: () = assert!(std::mem::size_of::<Node>() == 32);

impl PartialEq for Node {
    /// The same elements, compressed or not.
    fn eq(&self, other: &Node) -> bool {
        self.count == other.count && self.listpack() == other.listpack()
    }
}

impl Eq for Node {}

impl Node {
    fn new() -> Node {
        Node {
            lp: lp::empty(),
            count: 0,
            state: RAW,
        }
    }

    /// Elements in the node.
    fn count(&self) -> usize {
        self.count as usize
    }

    /// Whether one more element of `entry` bytes keeps the node within `fill`.
    fn has_room(&self, entry: usize, fill: i64) -> bool {
        Node::within(self.lp.len() + entry, self.count() + 1, fill)
    }

    /// Inserts `s` at byte offset `at` (an entry start, or the EOF byte):
    /// encoded in place of the EOF byte, then rotated into position, so no
    /// temporary buffer; the allocation stays exact.
    fn insert_at(&mut self, at: usize, s: &[u8]) {
        debug_assert!(!self.is_compressed());
        self.state = RAW;
        let eof = self.end();
        self.lp.reserve_exact(lp::entry_size(s));
        self.lp.truncate(eof);
        lp::encode_entry(&mut self.lp, s);
        let size = self.lp.len() - eof;
        self.lp[at..].rotate_right(size);
        self.lp.push(lp::EOF);
        self.count += 1;
        lp::set_header(&mut self.lp, self.count as usize);
    }

    /// (allocated, used) bytes of the listpack.
    fn bytes(&self) -> (usize, usize) {
        (self.lp.capacity(), self.lp.len())
    }

    /// Offset of the EOF byte (where an appended entry goes).
    fn end(&self) -> usize {
        self.lp.len() - 1
    }

    /// The first element (of a raw node: an end node).
    fn first(&self) -> Option<Entry<'_>> {
        debug_assert!(!self.is_compressed());
        lp::entry_at(&self.lp, lp::HEADER).map(|(e, _)| e)
    }

    /// The last element and where it starts (of a raw node: an end node).
    fn last(&self) -> Option<(Entry<'_>, usize)> {
        debug_assert!(!self.is_compressed());
        let start = prev_start(&self.lp, self.end())?;
        lp::entry_at(&self.lp, start).map(|(e, _)| (e, start))
    }

    /// Removes the entry spanning `start..end`.
    fn remove_span(&mut self, start: usize, end: usize) {
        debug_assert!(!self.is_compressed());
        self.state = RAW;
        lp::splice(&mut self.lp, start, end, &[]);
        self.count -= 1;
        lp::set_header(&mut self.lp, self.count as usize);
    }

    /// The elements of a raw node.
    fn iter(&self) -> lp::Iter<'_> {
        debug_assert!(!self.is_compressed());
        lp::iter(&self.lp)
    }
}

/// Where the entry ending just before `pos` starts (read from its backlen,
/// right to left, as Redis's `lpPrev`); None at the first entry.
fn prev_start(buf: &[u8], pos: usize) -> Option<usize> {
    if pos <= lp::HEADER {
        return None;
    }
    let (mut l, mut shift, mut at, mut width) = (0usize, 0u32, pos - 1, 0usize);
    loop {
        let b = *buf.get(at)?;
        l |= ((b & 127) as usize) << shift;
        width += 1;
        if b & 128 == 0 || width == 5 {
            break;
        }
        shift += 7;
        at = at.checked_sub(1)?;
    }
    pos.checked_sub(width + l).filter(|&s| s >= lp::HEADER)
}

/// A list (see the module comment).
#[derive(Clone, Debug, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    /// The nodes' listpack bytes, allocated and used, kept up to date by
    /// every edit (so memory accounting costs O(1), not O(nodes)).
    allocated: usize,
    used: usize,
    /// The compress depth it was made with (see the module comment).
    depth: u16,
}

impl PartialEq for List {
    /// The same elements in the same nodes.
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.nodes == other.nodes
    }
}

impl Eq for List {}

impl List {
    /// An empty list with the compress depth of `limits`, for good.
    pub fn new(limits: &EncodingLimits) -> List {
        List::with_depth(limits.list_compress_depth)
    }

    fn with_depth(depth: u16) -> List {
        List {
            depth,
            ..List::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nodes in the quicklist.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends `s` at the tail (RPUSH), in a new node when the last one is full.
    pub fn push_back(&mut self, s: &[u8], limits: &EncodingLimits) {
        let size = lp::entry_size(s);
        let fill = limits.list_max_listpack_size;
        if !self.nodes.back().is_some_and(|n| n.has_room(size, fill)) {
            self.push_node_back(Node::new());
        }
        let last = self.nodes.len() - 1;
        self.edit_node(last, |n| n.insert_at(n.end(), s));
        self.len += 1;
    }

    /// Prepends `s` at the head (LPUSH), in a new node when the first is full.
    pub fn push_front(&mut self, s: &[u8], limits: &EncodingLimits) {
        let size = lp::entry_size(s);
        let fill = limits.list_max_listpack_size;
        if !self.nodes.front().is_some_and(|n| n.has_room(size, fill)) {
            self.insert_node(0, Node::new());
            self.added_at_head();
        }
        self.edit_node(0, |n| n.insert_at(lp::HEADER, s));
        self.len += 1;
    }

    /// Runs `f` on node `i`, keeping the byte counts true.
    fn edit_node<R>(&mut self, i: usize, f: impl FnOnce(&mut Node) -> R) -> R {
        let node = &mut self.nodes[i];
        let (a, u) = node.bytes();
        let r = f(node);
        let (a2, u2) = node.bytes();
        self.allocated = self.allocated + a2 - a;
        self.used = self.used + u2 - u;
        r
    }

    /// Appends `node` at the tail.
    fn push_node_back(&mut self, node: Node) {
        self.insert_node(self.nodes.len(), node);
        self.added_at_tail();
    }

    /// Puts `node` at position `i` (the node array doubles from one slot:
    /// a deque's default first allocation of four would cost a short list
    /// 96 bytes for nothing).
    fn insert_node(&mut self, i: usize, node: Node) {
        if self.nodes.len() == self.nodes.capacity() {
            self.nodes.reserve_exact(self.nodes.len().max(1));
        }
        let (a, u) = node.bytes();
        self.allocated += a;
        self.used += u;
        self.nodes.insert(i, node);
    }

    /// Drops node `i` (emptied).
    fn remove_node(&mut self, i: usize) {
        if let Some(node) = self.nodes.remove(i) {
            let (a, u) = node.bytes();
            self.allocated -= a;
            self.used -= u;
        }
    }

    /// Removes and returns the head element (LPOP).
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let n = self.nodes.front()?;
        let (e, end) = lp::entry_at(&n.lp, lp::HEADER)?;
        let v = e.to_vec();
        if self.edit_node(0, |n| {
            n.remove_span(lp::HEADER, end);
            n.count == 0
        }) {
            self.remove_node(0);
            self.removed_at_head();
        }
        self.len -= 1;
        Some(v)
    }

    /// Removes and returns the tail element (RPOP).
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let n = self.nodes.back()?;
        let (e, start) = n.last()?;
        let v = e.to_vec();
        let last = self.nodes.len() - 1;
        if self.edit_node(last, |n| {
            let end = n.end();
            n.remove_span(start, end);
            n.count == 0
        }) {
            self.remove_node(last);
            self.removed_at_tail();
        }
        self.len -= 1;
        Some(v)
    }

    /// The head and tail elements.
    pub fn ends(&self) -> Option<(Entry<'_>, Entry<'_>)> {
        let first = self.nodes.front()?.first()?;
        let (last, _) = self.nodes.back()?.last()?;
        Some((first, last))
    }

    /// Runs `f` over the elements from index `from` to the tail until it
    /// breaks (a compressed node is expanded while it is read).
    pub fn walk(&self, from: usize, mut f: impl FnMut(Entry<'_>) -> ControlFlow<()>) {
        if from >= self.len {
            return;
        }
        let (n, start) = self.locate(from);
        let mut skip = from - start;
        for node in self.nodes.range(n..) {
            let bytes = node.listpack();
            for e in lp::iter(&bytes).skip(skip) {
                if f(e).is_break() {
                    return;
                }
            }
            skip = 0;
        }
    }

    /// Runs `f` over the elements from the tail to the head until it breaks.
    pub fn walk_rev(&self, mut f: impl FnMut(Entry<'_>) -> ControlFlow<()>) {
        for node in self.nodes.iter().rev() {
            let bytes = node.listpack();
            let mut pos = bytes.len() - 1;
            while let Some(start) = prev_start(&bytes, pos) {
                pos = start;
                let Some((e, _)) = lp::entry_at(&bytes, start) else {
                    break;
                };
                if f(e).is_break() {
                    return;
                }
            }
        }
    }

    /// Every element as its bytes, head to tail (a node at a time).
    pub fn to_vecs(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.nodes.iter().flat_map(|node| {
            let bytes = node.listpack();
            lp::iter(&bytes).map(|e| e.to_vec()).collect::<Vec<_>>()
        })
    }

    /// Heap bytes: the node array and every listpack.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.allocated
    }

    /// Bytes of element data (the nodes' held bytes, compressed or not).
    pub fn payload_bytes(&self) -> usize {
        self.used
    }

    /// Appends a validated listpack of `count` (> 0) elements as one node,
    /// compressed by the list's depth as it moves inside.
    fn append_node(&mut self, mut bytes: Vec<u8>, count: u32) {
        bytes.shrink_to_fit();
        self.len += count as usize;
        self.push_node_back(Node {
            lp: bytes,
            count,
            state: RAW,
        });
    }

    /// Appends a node read from a file: a validated, non-empty listpack
    /// (its LZF form, if it had one, already expanded by the reader).
    fn read_node(&mut self, r: &RdbReader<'_>, bytes: Vec<u8>) -> Result<(), RdbError> {
        let count = lp::validate(&bytes).map_err(|_| r.corrupt("list listpack integrity"))?;
        if count == 0 {
            return Err(r.corrupt("empty list node"));
        }
        let count = u32::try_from(count).map_err(|_| r.corrupt("list node too long"))?;
        self.append_node(bytes, count);
        Ok(())
    }

    /// RDB type 18: a node count, then per node its container (1 plain:
    /// one element as a string; 2 packed: a listpack) and its bytes.
    fn read_quicklist2(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<List, RdbError> {
        let nodes = r.read_len()?;
        let mut list = List::new(limits);
        for _ in 0..nodes {
            let container = r.read_len()?;
            let bytes = r.read_string()?.into_bytes();
            match container {
                CONTAINER_PLAIN => list.push_back(&bytes, limits),
                CONTAINER_PACKED => list.read_node(r, bytes)?,
                _ => return Err(r.corrupt("unknown quicklist container")),
            }
        }
        Ok(list)
    }

    /// RDB type 14: a node count, then per node a ziplist.
    fn read_quicklist(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<List, RdbError> {
        let nodes = r.read_len()?;
        let mut list = List::new(limits);
        for _ in 0..nodes {
            let zl = r.read_string()?.into_bytes();
            let elems = ziplist::elements(&zl).map_err(|why| r.corrupt(why))?;
            if elems.is_empty() {
                // Redis 7.0 skips an empty ziplist node.
                continue;
            }
            let count = u32::try_from(elems.len()).map_err(|_| r.corrupt("list node too long"))?;
            list.append_node(listpack_of(&elems), count);
        }
        Ok(list)
    }

    /// RDB type 10: one ziplist holding the whole list.
    fn read_ziplist(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<List, RdbError> {
        let zl = r.read_string()?.into_bytes();
        let elems = ziplist::elements(&zl).map_err(|why| r.corrupt(why))?;
        let mut list = List::new(limits);
        for e in elems {
            e.with_bytes(|b| list.push_back(b, limits));
        }
        Ok(list)
    }

    /// RDB type 1: a count, then the elements.
    fn read_elements(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<List, RdbError> {
        let n = r.read_len()?;
        let mut list = List::new(limits);
        for _ in 0..n {
            let s = r.read_string()?.into_bytes();
            list.push_back(&s, limits);
        }
        Ok(list)
    }
}

/// A listpack of `elems` (decoded ziplist elements), encoded as Redis's
/// conversion writes it.
fn listpack_of(elems: &[Entry<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for e in elems {
        e.with_bytes(|b| lp::encode_entry(&mut body, b));
    }
    let mut out = lp::empty();
    let end = out.len() - 1;
    lp::splice(&mut out, end, end, &body);
    lp::set_header(&mut out, elems.len());
    out
}

impl ValueType for List {
    const NAME: &'static str = "list";

    fn encoding(&self) -> &'static str {
        "quicklist"
    }

    fn mem_usage(&self) -> usize {
        std::mem::size_of::<List>() + self.heap_bytes()
    }

    fn rdb_type(&self) -> u8 {
        op::TYPE_LIST_QUICKLIST_2
    }

    fn write_rdb(&self, out: &mut Vec<u8>) {
        let _ = self.write_rdb_part(out, 0, usize::MAX);
    }

    /// A list's parts are its elements; whole nodes are written, so a
    /// slice ends at a node boundary.
    fn rdb_parts(&self) -> usize {
        self.len.max(1)
    }

    /// Type 18: the node count, then each node as a packed listpack, a
    /// compressed one as its LZF string (Redis's `rdbSaveLzfBlob`).
    fn write_rdb_part(&self, out: &mut Vec<u8>, from: usize, max: usize) -> Option<usize> {
        if from == 0 {
            encode_len(out, self.nodes.len() as u64);
        }
        let mut start = 0;
        let mut written = 0;
        for n in &self.nodes {
            if start >= from {
                if written > 0 && written + n.count() > max {
                    return Some(start);
                }
                encode_len(out, CONTAINER_PACKED);
                if n.is_compressed() {
                    encode_lzf_string(out, &n.lp, n.state as usize);
                } else {
                    encode_string(out, &n.lp);
                }
                written += n.count();
            }
            start += n.count();
        }
        None
    }

    fn read_rdb(
        rdb_type: u8,
        r: &mut RdbReader<'_>,
        limits: &EncodingLimits,
    ) -> Option<Result<Value, RdbError>> {
        let list = match rdb_type {
            op::TYPE_LIST_QUICKLIST_2 => List::read_quicklist2(r, limits),
            op::TYPE_LIST_QUICKLIST => List::read_quicklist(r, limits),
            op::TYPE_LIST_ZIPLIST => List::read_ziplist(r, limits),
            op::TYPE_LIST => List::read_elements(r, limits),
            _ => return None,
        };
        Some(list.and_then(|l| {
            if l.is_empty() {
                Err(r.empty_key())
            } else {
                Ok(Value::List(Box::new(l)))
            }
        }))
    }

    /// `DEL key`, `RPUSH key e…` in chunks of 64 (as Redis), then
    /// `PEXPIREAT`.
    fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]])) {
        rewrite_in_chunks(
            b"RPUSH",
            key,
            self.to_vecs(),
            REWRITE_CHUNK,
            expire_at_ms,
            emit,
        );
    }
}

#[cfg(test)]
mod tests;
