//! The big set encoding (`hashtable`): a chained hash table whose buckets
//! are thin pointers, each member one allocation `[next][len][bytes]`.
//!
//! Per member this costs one 8-byte bucket slot (the table keeps a load of
//! at most 1, at least 1/8 once past its minimum) plus one allocation of
//! `8 + 1 + len` bytes (`8 + 5 + len` past 254 bytes): 32 bytes for a 9-byte
//! member at a load of 1, where Redis's dict spends a 24-byte entry, the sds
//! and the bucket slot.
//!
//! Chaining (not open addressing) is what makes [`MemberTable::scan`] a
//! Redis-style reverse-binary cursor: a member lives in bucket
//! `hash & mask` whatever the table's size, so a cursor stays valid across
//! growth and shrinking and never misses a member present for the whole scan.
//!
//! The table is generic over `EXTRA`, a fixed number of bytes each node
//! carries between its link and its length (`[next][extra][len][bytes]`):
//! 0 for sets (`MemberTable`, the default), 8 for sorted sets, whose nodes
//! hold their score there (zset/skiplist.rs). The node handles
//! ([`MemberTable::find_node`] and friends) exist for that use: a node's
//! address is stable for its whole life, rehashing only relinks it.
//!
//! Invariants: `buckets.len()` is 0 or a power of two; `len` counts the
//! nodes; `node_bytes` is the sum of their allocation sizes; every node is
//! owned by exactly one chain and freed exactly once (on removal or drop).

use hashbrown::DefaultHashBuilder;
use rand::Rng;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::hash::BuildHasher;
use std::ptr::NonNull;
use std::sync::OnceLock;

/// Bytes of a node's `next` pointer.
const NEXT: usize = std::mem::size_of::<usize>();
/// Lengths up to this take a one-byte prefix; longer ones `0xFF` + u32.
const SHORT_MAX: usize = 254;
/// The smallest non-empty table.
const MIN_BUCKETS: usize = 4;

type Link = Option<NonNull<u8>>;

/// Heap bytes of a set's node for a member of `len` bytes.
pub fn node_size(len: usize) -> usize {
    node_size_with(0, len)
}

/// Heap bytes of a node with `extra` bytes for a member of `len` bytes.
pub const fn node_size_with(extra: usize, len: usize) -> usize {
    NEXT + extra + if len <= SHORT_MAX { 1 } else { 5 } + len
}

fn layout(size: usize) -> Layout {
    // `size` is at most NEXT + 5 + a member's length, far below isize::MAX.
    Layout::from_size_align(size, NEXT).unwrap_or(Layout::new::<usize>())
}

/// A new node holding `m` (its extra bytes zeroed), not linked.
fn node_new<const EXTRA: usize>(m: &[u8], next: Link) -> NonNull<u8> {
    let size = node_size_with(EXTRA, m.len());
    let lay = layout(size);
    // SAFETY: the layout has a non-zero size (at least NEXT + 1).
    let p = unsafe { alloc(lay) };
    let Some(p) = NonNull::new(p) else {
        handle_alloc_error(lay)
    };
    // SAFETY: `p` points at `size` writable bytes, aligned for a pointer;
    // the writes below stay inside them (NEXT + EXTRA + prefix + m.len()
    // == size).
    unsafe {
        (p.as_ptr() as *mut *mut u8).write(next.map_or(std::ptr::null_mut(), |n| n.as_ptr()));
        std::ptr::write_bytes(p.as_ptr().add(NEXT), 0, EXTRA);
        let mut at = p.as_ptr().add(NEXT + EXTRA);
        if m.len() <= SHORT_MAX {
            at.write(m.len() as u8);
            at = at.add(1);
        } else {
            at.write(0xFF);
            std::ptr::copy_nonoverlapping((m.len() as u32).to_le_bytes().as_ptr(), at.add(1), 4);
            at = at.add(5);
        }
        std::ptr::copy_nonoverlapping(m.as_ptr(), at, m.len());
    }
    p
}

/// The member bytes of a live node of a `MemberTable<EXTRA>`.
///
/// # Safety
/// `p` is a live node built by that table, and the returned slice is not
/// used after the node is freed.
pub unsafe fn node_bytes<'a, const EXTRA: usize>(p: NonNull<u8>) -> &'a [u8] {
    let at = p.as_ptr().add(NEXT + EXTRA);
    let first = *at;
    if first as usize <= SHORT_MAX {
        std::slice::from_raw_parts(at.add(1), first as usize)
    } else {
        let mut len = [0u8; 4];
        std::ptr::copy_nonoverlapping(at.add(1), len.as_mut_ptr(), 4);
        std::slice::from_raw_parts(at.add(5), u32::from_le_bytes(len) as usize)
    }
}

/// SAFETY (callers): `p` is a live node.
unsafe fn node_next(p: NonNull<u8>) -> Link {
    NonNull::new((p.as_ptr() as *const *mut u8).read())
}

/// SAFETY (callers): `p` is a live node.
unsafe fn node_set_next(p: NonNull<u8>, next: Link) {
    (p.as_ptr() as *mut *mut u8).write(next.map_or(std::ptr::null_mut(), |n| n.as_ptr()));
}

/// The address of a live node's extra bytes (8-byte aligned).
///
/// # Safety
/// `p` is a live node of a `MemberTable<EXTRA>` with `EXTRA > 0`; the
/// pointer is used only while the node lives.
pub unsafe fn node_extra(p: NonNull<u8>) -> *mut u8 {
    p.as_ptr().add(NEXT)
}

/// Frees a node that no chain links any more; returns its size.
///
/// SAFETY (callers): `p` is a live node, unlinked, never used again.
unsafe fn node_free<const EXTRA: usize>(p: NonNull<u8>) -> usize {
    let size = node_size_with(EXTRA, node_bytes::<EXTRA>(p).len());
    dealloc(p.as_ptr(), layout(size));
    size
}

/// The members' hash: one process-wide randomly seeded hasher, so clones
/// and values moved between shards keep their buckets.
pub fn hash(m: &[u8]) -> u64 {
    static HASHER: OnceLock<DefaultHashBuilder> = OnceLock::new();
    HASHER.get_or_init(DefaultHashBuilder::default).hash_one(m)
}

/// A set of byte strings (see the module comment).
pub struct MemberTable<const EXTRA: usize = 0> {
    buckets: Box<[Link]>,
    len: usize,
    node_bytes: usize,
}

// SAFETY: the table owns its nodes exclusively (no sharing, no interior
// mutability); moving it to another thread moves that ownership, and shared
// references only read.
unsafe impl<const EXTRA: usize> Send for MemberTable<EXTRA> {}
// SAFETY: see above: `&MemberTable` only reads the nodes.
unsafe impl<const EXTRA: usize> Sync for MemberTable<EXTRA> {}

impl<const EXTRA: usize> Default for MemberTable<EXTRA> {
    fn default() -> Self {
        MemberTable::empty()
    }
}

impl MemberTable {
    pub fn new() -> Self {
        MemberTable::empty()
    }

    /// A table sized for `n` members.
    pub fn with_capacity(n: usize) -> Self {
        MemberTable::sized(n)
    }
}

impl<const EXTRA: usize> MemberTable<EXTRA> {
    /// An empty table (no buckets).
    pub fn empty() -> Self {
        MemberTable {
            buckets: Box::new([]),
            len: 0,
            node_bytes: 0,
        }
    }

    /// A table sized for `n` members.
    pub fn sized(n: usize) -> Self {
        let mut t = MemberTable::empty();
        if n > 0 {
            t.buckets = vec![None; n.next_power_of_two().max(MIN_BUCKETS)].into_boxed_slice();
        }
        t
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Buckets in the table (0 or a power of two).
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Heap bytes requested: the bucket array and every node.
    pub fn heap_bytes(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<Link>() + self.node_bytes
    }

    fn bucket_of(&self, h: u64) -> usize {
        (h as usize) & (self.buckets.len() - 1)
    }

    fn chain(&self, bucket: usize) -> Chain<'_, EXTRA> {
        Chain {
            next: self.buckets.get(bucket).copied().flatten(),
            _table: std::marker::PhantomData,
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.find_node(m).is_some()
    }

    /// The node holding `m`.
    pub fn find_node(&self, m: &[u8]) -> Option<NonNull<u8>> {
        if self.len == 0 {
            return None;
        }
        let b = self.bucket_of(hash(m));
        let mut cur = self.buckets[b];
        while let Some(p) = cur {
            // SAFETY: `p` is a live node of chain `b`.
            unsafe {
                if node_bytes::<EXTRA>(p) == m {
                    return Some(p);
                }
                cur = node_next(p);
            }
        }
        None
    }

    /// Adds `m`; false when it was present.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        if self.contains(m) {
            return false;
        }
        self.insert_new(m);
        true
    }

    /// Adds a member known to be absent.
    pub fn insert_new(&mut self, m: &[u8]) {
        self.insert_new_node(m);
    }

    /// Adds a member known to be absent; returns its node (extra bytes
    /// zeroed), whose address stays valid until the member is removed.
    pub fn insert_new_node(&mut self, m: &[u8]) -> NonNull<u8> {
        if self.len >= self.buckets.len() {
            self.rehash((self.buckets.len() * 2).max(MIN_BUCKETS));
        }
        let b = self.bucket_of(hash(m));
        let p = node_new::<EXTRA>(m, self.buckets[b]);
        self.buckets[b] = Some(p);
        self.len += 1;
        self.node_bytes += node_size_with(EXTRA, m.len());
        p
    }

    /// Removes `m`; false when it was absent.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        self.remove_with(m, |_| ())
    }

    /// Removes `m`, first showing its node to `before_free` (still live,
    /// already unlinked); false when it was absent.
    pub fn remove_with(&mut self, m: &[u8], before_free: impl FnOnce(NonNull<u8>)) -> bool {
        if self.len == 0 {
            return false;
        }
        let b = self.bucket_of(hash(m));
        let mut prev: Link = None;
        let mut cur = self.buckets[b];
        while let Some(p) = cur {
            // SAFETY: `p` is a live node of chain `b`; it is unlinked before
            // it is freed and not touched after.
            unsafe {
                let next = node_next(p);
                if node_bytes::<EXTRA>(p) == m {
                    match prev {
                        Some(q) => node_set_next(q, next),
                        None => self.buckets[b] = next,
                    }
                    before_free(p);
                    self.node_bytes -= node_free::<EXTRA>(p);
                    self.len -= 1;
                    self.shrink_if_sparse();
                    return true;
                }
                prev = cur;
                cur = next;
            }
        }
        false
    }

    fn shrink_if_sparse(&mut self) {
        let n = self.buckets.len();
        if self.len == 0 {
            self.buckets = Box::new([]);
        } else if n > MIN_BUCKETS && self.len * 8 < n {
            self.rehash(self.len.next_power_of_two().max(MIN_BUCKETS));
        }
    }

    /// Moves every node into a table of `n` buckets (a power of two).
    fn rehash(&mut self, n: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![None; n].into_boxed_slice());
        for mut cur in old.iter().copied() {
            while let Some(p) = cur {
                // SAFETY: `p` is a live node of the old table, relinked into
                // exactly one new chain.
                unsafe {
                    cur = node_next(p);
                    let b = self.bucket_of(hash(node_bytes::<EXTRA>(p)));
                    node_set_next(p, self.buckets[b]);
                    self.buckets[b] = Some(p);
                }
            }
        }
    }

    pub fn iter(&self) -> Iter<'_, EXTRA> {
        self.iter_buckets(0, usize::MAX)
    }

    /// The members of buckets `from..from + count` (fewer at the end),
    /// bucket by bucket: a slice of [`Self::iter`] that costs only what it
    /// yields.
    pub fn iter_buckets(&self, from: usize, count: usize) -> Iter<'_, EXTRA> {
        let from = from.min(self.buckets.len());
        let to = from.saturating_add(count).min(self.buckets.len());
        Iter {
            buckets: &self.buckets[..to],
            at: from,
            chain: Chain {
                next: None,
                _table: std::marker::PhantomData,
            },
        }
    }

    /// A random member: a random non-empty bucket, then a random member of
    /// its chain (as Redis's `dictGetFairRandomKey` approximates).
    pub fn random(&self, rng: &mut impl Rng) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        loop {
            let b = rng.gen_range(0..self.buckets.len());
            let n = self.chain(b).count();
            if n > 0 {
                return self.chain(b).nth(rng.gen_range(0..n));
            }
        }
    }

    /// Visits the bucket `cursor` names and returns the next cursor (0 when
    /// the scan is over). The cursor's bits are reversed before each
    /// increment, so the buckets of any smaller or larger table that share
    /// a visited bucket's low bits are all behind it.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8])) -> u64 {
        // SAFETY: the node is live while `self` is borrowed.
        self.scan_nodes(cursor, |p| f(unsafe { node_bytes::<EXTRA>(p) }))
    }

    /// [`Self::scan`], showing each visited member's node.
    pub fn scan_nodes(&self, cursor: u64, mut f: impl FnMut(NonNull<u8>)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut cur = self.buckets[(cursor & mask) as usize];
        while let Some(p) = cur {
            f(p);
            // SAFETY: `p` is a live node of the table borrowed here.
            cur = unsafe { node_next(p) };
        }
        let v = (cursor | !mask).reverse_bits().wrapping_add(1);
        v.reverse_bits()
    }
}

/// The members of one chain.
struct Chain<'a, const EXTRA: usize> {
    next: Link,
    _table: std::marker::PhantomData<&'a MemberTable<EXTRA>>,
}

impl<'a, const EXTRA: usize> Iterator for Chain<'a, EXTRA> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let p = self.next?;
        // SAFETY: `p` is a live node of a table borrowed for 'a.
        unsafe {
            self.next = node_next(p);
            Some(node_bytes::<EXTRA>(p))
        }
    }
}

/// Every member, bucket by bucket.
pub struct Iter<'a, const EXTRA: usize = 0> {
    buckets: &'a [Link],
    at: usize,
    chain: Chain<'a, EXTRA>,
}

impl<'a, const EXTRA: usize> Iterator for Iter<'a, EXTRA> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if let Some(m) = self.chain.next() {
                return Some(m);
            }
            let head = *self.buckets.get(self.at)?;
            self.at += 1;
            self.chain.next = head;
        }
    }
}

impl Clone for MemberTable {
    fn clone(&self) -> Self {
        let mut t = MemberTable::new();
        t.buckets = vec![None; self.buckets.len()].into_boxed_slice();
        for m in self.iter() {
            t.insert_new(m);
        }
        t
    }
}

impl<const EXTRA: usize> Drop for MemberTable<EXTRA> {
    fn drop(&mut self) {
        for mut cur in self.buckets.iter().copied() {
            while let Some(p) = cur {
                // SAFETY: every node is freed once, after its successor is read.
                unsafe {
                    cur = node_next(p);
                    node_free::<EXTRA>(p);
                }
            }
        }
    }
}

impl<const EXTRA: usize> std::fmt::Debug for MemberTable<EXTRA> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|m| m.escape_ascii().to_string()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn insert_remove_grow_shrink() {
        let mut t = MemberTable::new();
        for i in 0..1000u32 {
            assert!(t.insert(format!("m{i}").as_bytes()));
        }
        assert!(!t.insert(b"m5"));
        assert_eq!(t.len(), 1000);
        assert_eq!(t.buckets.len(), 1024);
        let long = vec![7u8; 300];
        assert!(t.insert(&long));
        assert!(t.contains(&long));
        assert!(t.remove(&long));
        for i in 0..990u32 {
            assert!(t.remove(format!("m{i}").as_bytes()));
        }
        assert!(!t.remove(b"m0"));
        assert_eq!(t.len(), 10);
        assert!(t.buckets.len() <= 80);
        let expect: usize = (990..1000).map(|i| node_size(format!("m{i}").len())).sum();
        assert_eq!(t.heap_bytes(), t.buckets.len() * 8 + expect);
        let c = t.clone();
        assert_eq!(c.iter().count(), 10);
        assert_eq!(c.heap_bytes(), t.heap_bytes());
    }

    #[test]
    fn scan_survives_resizes() {
        let mut t = MemberTable::new();
        for i in 0..500u32 {
            t.insert(format!("k{i}").as_bytes());
        }
        let mut seen = HashSet::new();
        let (mut cursor, mut step) = (0u64, 0u32);
        loop {
            cursor = t.scan(cursor, |m| {
                seen.insert(m.to_vec());
            });
            step += 1;
            // Grow and shrink the table while the scan runs: the first 250
            // members stay throughout.
            if step == 20 {
                for i in 500..3000u32 {
                    t.insert(format!("k{i}").as_bytes());
                }
            }
            if step == 400 {
                for i in 250..3000u32 {
                    t.remove(format!("k{i}").as_bytes());
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..250u32 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "k{i}");
        }
    }

    #[test]
    fn random_members_are_members() {
        let mut t = MemberTable::new();
        assert!(t.random(&mut rand::thread_rng()).is_none());
        for i in 0..20u32 {
            t.insert(&i.to_le_bytes());
        }
        for _ in 0..100 {
            let m = t.random(&mut rand::thread_rng()).unwrap().to_vec();
            assert!(t.contains(&m));
        }
    }
}
