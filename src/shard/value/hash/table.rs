//! The `hashtable` encoding of a hash: a chained table of power-of-two
//! buckets, one thin allocation per field and value.
//!
//! A node is one allocation laid out as
//! `[next: 8 bytes][flen varint][field][vlen varint][value]`; a bucket is
//! the 8-byte pointer to its first node. For 9-byte fields and values that
//! is 28 bytes (a 32-byte size class) plus 8 to 16 bytes of bucket per
//! field, against Redis's 24-byte dictEntry, two sds and its buckets.
//!
//! Why chaining rather than an open-addressing table: a node's bucket is a
//! function of its hash and the table size alone, so HSCAN can use Redis's
//! reverse-binary cursor, which visits every field present for the whole
//! scan exactly as Redis's `dictScan` does, across any resize in between.
//!
//! Growth and shrinking follow Redis's dict (without incremental rehash):
//! before an insert that would make `len > buckets` the table doubles (to
//! the next power of two above `len`, at least 4); after a delete that
//! leaves it under 10% full it shrinks to the next power of two of `len`.
//!
//! Invariants: every node is owned by exactly one chain; `node_bytes` is
//! the sum of the node allocations' sizes, so [`Table::heap_bytes`] is O(1)
//! and exact.

use std::alloc::{self, Layout};
use std::hash::BuildHasher;
use std::ptr::NonNull;
use std::sync::OnceLock;

/// Bytes of a node's link to the next node of its chain.
const NEXT: usize = std::mem::size_of::<usize>();
/// The smallest table (Redis's `DICT_HT_INITIAL_SIZE`).
const MIN_BUCKETS: usize = 4;
/// Below this fill (percent) a delete shrinks the table (`HASHTABLE_MIN_FILL`).
const MIN_FILL: usize = 10;

/// The hasher of every table in the process (seeded once, at random).
fn hasher() -> &'static hashbrown::DefaultHashBuilder {
    static H: OnceLock<hashbrown::DefaultHashBuilder> = OnceLock::new();
    H.get_or_init(hashbrown::DefaultHashBuilder::default)
}

fn hash_of(field: &[u8]) -> u64 {
    hasher().hash_one(field)
}

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

fn put_varint(out: &mut [u8], mut n: usize) -> usize {
    let mut i = 0;
    while n >= 0x80 {
        out[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
    i + 1
}

/// One field and value (see the module comment for the layout).
#[repr(transparent)]
struct Node(NonNull<u8>);

impl Node {
    fn size_for(field: &[u8], value: &[u8]) -> usize {
        NEXT + varint_len(field.len()) + field.len() + varint_len(value.len()) + value.len()
    }

    fn layout(size: usize) -> Layout {
        // Sizes are bounded by the argument lengths (far below isize::MAX).
        Layout::from_size_align(size, NEXT).unwrap_or(Layout::new::<usize>())
    }

    fn new(field: &[u8], value: &[u8], next: Option<Node>) -> Node {
        let size = Node::size_for(field, value);
        let layout = Node::layout(size);
        // SAFETY: the layout has a non-zero size (at least NEXT bytes).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `ptr` points to `size` freshly allocated bytes, which
        // nothing else references.
        let buf = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), size) };
        buf[..NEXT].copy_from_slice(&next.map_or(0, Node::into_addr).to_ne_bytes());
        let mut at = NEXT + put_varint(&mut buf[NEXT..], field.len());
        buf[at..at + field.len()].copy_from_slice(field);
        at += field.len();
        at += put_varint(&mut buf[at..], value.len());
        buf[at..].copy_from_slice(value);
        Node(ptr)
    }

    fn into_addr(self) -> usize {
        let addr = self.0.as_ptr() as usize;
        std::mem::forget(self);
        addr
    }

    /// Reads a varint at `at` bytes into the node: (value, bytes used).
    fn varint_at(&self, at: usize) -> (usize, usize) {
        let (mut n, mut shift, mut i) = (0usize, 0, 0);
        loop {
            // SAFETY: the varint was written inside the allocation by
            // `Node::new`; reading stops at its last byte.
            let b = unsafe { *self.0.as_ptr().add(at + i) };
            n |= ((b & 0x7F) as usize) << shift;
            i += 1;
            if b & 0x80 == 0 {
                return (n, i);
            }
            shift += 7;
        }
    }

    /// (field start, field len, value start, value len).
    fn spans(&self) -> (usize, usize, usize, usize) {
        let (flen, a) = self.varint_at(NEXT);
        let fstart = NEXT + a;
        let (vlen, b) = self.varint_at(fstart + flen);
        (fstart, flen, fstart + flen + b, vlen)
    }

    fn size(&self) -> usize {
        let (_, _, vstart, vlen) = self.spans();
        vstart + vlen
    }

    fn slice(&self, start: usize, len: usize) -> &[u8] {
        // SAFETY: spans lie inside the node's allocation, which lives as
        // long as `self` and is never written while borrowed.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().add(start), len) }
    }

    fn field(&self) -> &[u8] {
        let (f, fl, _, _) = self.spans();
        self.slice(f, fl)
    }

    fn value(&self) -> &[u8] {
        let (_, _, v, vl) = self.spans();
        self.slice(v, vl)
    }

    /// Detaches the rest of the chain from this node.
    fn take_next(&mut self) -> Option<Node> {
        // SAFETY: the first NEXT bytes of the allocation (aligned to NEXT)
        // hold the next node's address or 0.
        let slot = unsafe { &mut *self.0.as_ptr().cast::<usize>() };
        NonNull::new(std::mem::take(slot) as *mut u8).map(Node)
    }

    fn set_next(&mut self, next: Option<Node>) {
        // SAFETY: as in `take_next`; the previous link was taken or empty.
        unsafe { *self.0.as_ptr().cast::<usize>() = next.map_or(0, Node::into_addr) };
    }

    fn next(&self) -> Option<&Node> {
        // SAFETY: `Node` is a transparent-sized pointer: the link word
        // holds a node address (or 0, which `Option` reads as None via
        // the NonNull niche), valid while `self` is borrowed.
        unsafe { &*self.0.as_ptr().cast::<Option<Node>>() }.as_ref()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let mut next = self.take_next();
        let layout = Node::layout(self.size());
        // SAFETY: allocated by `Node::new` with this layout (the size is
        // recomputed from the same header), freed once.
        unsafe { alloc::dealloc(self.0.as_ptr(), layout) };
        // Free the chain iteratively (no recursion on long chains).
        while let Some(mut n) = next {
            next = n.take_next();
            drop(n);
        }
    }
}

/// A chained hash table of fields and values.
pub struct Table {
    buckets: Box<[Option<Node>]>,
    len: usize,
    node_bytes: usize,
}

// SAFETY: a Table owns its nodes exclusively (no shared pointers, no
// interior mutability), so moving or sharing it across threads is as safe
// as for a `Vec<Box<[u8]>>`.
unsafe impl Send for Table {}
// SAFETY: as above: `&Table` only reads.
unsafe impl Sync for Table {}

const _: () = assert!(std::mem::size_of::<Option<Node>>() == NEXT);

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

impl Table {
    pub fn new() -> Table {
        Table {
            buckets: Box::new([]),
            len: 0,
            node_bytes: 0,
        }
    }

    /// An empty table sized for `n` fields.
    pub fn with_capacity(n: usize) -> Table {
        let mut t = Table::new();
        if n > 0 {
            t.resize(n.next_power_of_two().max(MIN_BUCKETS));
        }
        t
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Buckets in the array (a power of two, or 0 before the first insert).
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Heap bytes held: the bucket array and every node.
    pub fn heap_bytes(&self) -> usize {
        self.buckets.len() * NEXT + self.node_bytes
    }

    fn bucket_of(&self, h: u64) -> usize {
        (h as usize) & (self.buckets.len() - 1)
    }

    fn find_node(&self, field: &[u8]) -> Option<&Node> {
        if self.len == 0 {
            return None;
        }
        let mut cur = self.buckets[self.bucket_of(hash_of(field))].as_ref();
        while let Some(n) = cur {
            if n.field() == field {
                return Some(n);
            }
            cur = n.next();
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find_node(field).map(Node::value)
    }

    /// Moves every node into a table of `size` buckets (a power of two).
    fn resize(&mut self, size: usize) {
        let mut buckets: Box<[Option<Node>]> = (0..size).map(|_| None).collect();
        let old = std::mem::replace(&mut self.buckets, Box::new([]));
        for mut head in old.into_vec() {
            while let Some(mut n) = head {
                head = n.take_next();
                let b = (hash_of(n.field()) as usize) & (size - 1);
                n.set_next(buckets[b].take());
                buckets[b] = Some(n);
            }
        }
        self.buckets = buckets;
    }

    /// Removes the node of `field` from its chain and returns it.
    fn unlink(&mut self, field: &[u8]) -> Option<Node> {
        if self.len == 0 {
            return None;
        }
        let b = self.bucket_of(hash_of(field));
        let mut link: *mut Option<Node> = &mut self.buckets[b];
        loop {
            // SAFETY: `link` is either a bucket of `self` or the link word of
            // a node of this chain (an `Option<Node>`, see `Node::next`);
            // `&mut self` makes this the only reference to it.
            let l = unsafe { &mut *link };
            match l {
                None => return None,
                Some(n) if n.field() == field => {
                    let mut found = l.take()?;
                    *l = found.take_next();
                    return Some(found);
                }
                Some(n) => link = n.0.as_ptr().cast::<Option<Node>>(),
            }
        }
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let old = self.unlink(field);
        let new = old.is_none();
        if let Some(o) = old {
            self.node_bytes -= o.size();
            self.len -= 1;
            drop(o);
        } else if self.len >= self.buckets.len() {
            self.resize((self.len + 1).next_power_of_two().max(MIN_BUCKETS));
        }
        let b = self.bucket_of(hash_of(field));
        let node = Node::new(field, value, self.buckets[b].take());
        self.node_bytes += node.size();
        self.buckets[b] = Some(node);
        self.len += 1;
        new
    }

    /// Deletes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let Some(n) = self.unlink(field) else {
            return false;
        };
        self.node_bytes -= n.size();
        self.len -= 1;
        drop(n);
        let size = self.buckets.len();
        if size > MIN_BUCKETS && self.len * 100 / size < MIN_FILL {
            self.resize(self.len.next_power_of_two().max(MIN_BUCKETS));
        }
        true
    }

    /// Every (field, value), bucket by bucket.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.iter_buckets(0, usize::MAX)
    }

    /// The (field, value) pairs of buckets `from..from + count` (fewer at
    /// the end), bucket by bucket: a slice of [`Self::iter`] that costs only
    /// what it yields.
    pub fn iter_buckets(
        &self,
        from: usize,
        count: usize,
    ) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let from = from.min(self.buckets.len());
        let to = from.saturating_add(count).min(self.buckets.len());
        self.buckets[from..to].iter().flat_map(|head| {
            std::iter::successors(head.as_ref(), |n| n.next()).map(|n| (n.field(), n.value()))
        })
    }

    /// Visits the chain of the bucket `cursor` designates and returns the
    /// next cursor (0 when done): Redis's reverse-binary `dictScan` for one
    /// table, so a field present for the whole scan is visited at least once
    /// whatever resizes happen between calls.
    pub fn scan<'a>(&'a self, cursor: u64, f: &mut dyn FnMut(&'a [u8], &'a [u8])) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut cur = self.buckets[(cursor & mask) as usize].as_ref();
        while let Some(n) = cur {
            f(n.field(), n.value());
            cur = n.next();
        }
        let mut v = cursor | !mask;
        v = v.reverse_bits().wrapping_add(1).reverse_bits();
        v
    }

    /// A field and value picked at random (`None` when empty): a random
    /// non-empty bucket, then a random node of its chain.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&[u8], &[u8])> {
        if self.len == 0 {
            return None;
        }
        loop {
            let b = rng.gen_range(0..self.buckets.len());
            let Some(head) = self.buckets[b].as_ref() else {
                continue;
            };
            let chain = std::iter::successors(Some(head), |n| n.next());
            let k = rng.gen_range(0..chain.clone().count());
            let n = chain.clone().nth(k)?;
            return Some((n.field(), n.value()));
        }
    }
}

impl Clone for Table {
    fn clone(&self) -> Self {
        let mut t = Table::with_capacity(self.len);
        for (f, v) in self.iter() {
            t.insert(f, v);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn recount(t: &Table) -> usize {
        t.buckets.len() * NEXT + t.iter().map(|(f, v)| Node::size_for(f, v)).sum::<usize>()
    }

    #[test]
    fn insert_get_remove_and_exact_bytes() {
        let mut t = Table::new();
        let mut model = HashMap::new();
        for i in 0..2000u32 {
            let f = format!("f{}", i % 700).into_bytes();
            let v = vec![b'v'; (i % 300) as usize];
            assert_eq!(t.insert(&f, &v), model.insert(f.clone(), v).is_none());
            assert_eq!(t.heap_bytes(), recount(&t));
        }
        for i in (0..700).step_by(3) {
            let f = format!("f{i}").into_bytes();
            assert_eq!(t.remove(&f), model.remove(&f).is_some());
            assert!(!t.remove(&f));
            assert_eq!(t.heap_bytes(), recount(&t));
        }
        assert_eq!(t.len(), model.len());
        for (f, v) in &model {
            assert_eq!(t.get(f), Some(&v[..]));
        }
        let c = t.clone();
        assert_eq!(c.len(), t.len());
        assert_eq!(c.heap_bytes(), recount(&c));
        while let Some(f) = model.keys().next().cloned() {
            model.remove(&f);
            assert!(t.remove(&f));
        }
        assert!(t.is_empty());
        assert_eq!(t.buckets.len(), MIN_BUCKETS);
    }

    #[test]
    fn scan_sees_every_stable_field_across_resizes() {
        let mut t = Table::new();
        for i in 0..1000 {
            t.insert(format!("stable{i}").as_bytes(), b"v");
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = t.scan(cursor, &mut |f, _| {
                seen.insert(f.to_vec());
            });
            // Grow and shrink the table in between calls.
            round += 1;
            if round % 7 == 0 {
                for j in 0..3000 {
                    t.insert(format!("tmp{round}-{j}").as_bytes(), b"x");
                }
            } else if round % 7 == 3 {
                let tmp: Vec<Vec<u8>> = t
                    .iter()
                    .filter(|(f, _)| f.starts_with(b"tmp"))
                    .map(|(f, _)| f.to_vec())
                    .collect();
                for f in tmp {
                    t.remove(&f);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("stable{i}").as_bytes()), "{i}");
        }
    }

    #[test]
    fn long_and_empty_fields() {
        let mut t = Table::new();
        let big = vec![7u8; 100_000];
        t.insert(b"", b"");
        t.insert(&big, &big);
        assert_eq!(t.get(b""), Some(&b""[..]));
        assert_eq!(t.get(&big), Some(&big[..]));
        assert_eq!(t.heap_bytes(), recount(&t));
        let mut rng = rand::thread_rng();
        assert!(t.random(&mut rng).is_some());
    }
}
