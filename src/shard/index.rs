//! A slot table's index: a hashbrown table of positions into its dense
//! entry vector, keyed by the entries' key hashes.
//!
//! Positions are `u16` while the table holds at most [`SMALL_MAX`] entries
//! (3 bytes a bucket with its control byte) and `u32` above (5 bytes): slot
//! tables are small (about 61 keys each at a million keys), so nearly every
//! table uses the small form. The index only stores positions: `eq` and
//! `rehash` closures look the entries up (the caller's vector).

use hashbrown::HashTable;

/// The most entries a table may have with `u16` positions.
pub const SMALL_MAX: usize = u16::MAX as usize;

pub enum Index {
    Small(HashTable<u16>),
    Large(HashTable<u32>),
}

impl Default for Index {
    fn default() -> Self {
        Index::Small(HashTable::new())
    }
}

impl Index {
    /// Bytes of the index's allocation.
    pub fn allocation_size(&self) -> usize {
        match self {
            Index::Small(t) => t.allocation_size(),
            Index::Large(t) => t.allocation_size(),
        }
    }

    /// The position whose entry `eq` accepts, among those hashed `hash`.
    #[inline]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        match self {
            Index::Small(t) => t.find(hash, |&i| eq(i.into())).map(|&i| i.into()),
            Index::Large(t) => t.find(hash, |&i| eq(i as usize)).map(|&i| i as usize),
        }
    }

    /// Removes and returns the position `eq` accepts.
    pub fn remove(&mut self, hash: u64, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        match self {
            Index::Small(t) => t
                .find_entry(hash, |&i| eq(i.into()))
                .ok()
                .map(|e| e.remove().0.into()),
            Index::Large(t) => t
                .find_entry(hash, |&i| eq(i as usize))
                .ok()
                .map(|e| e.remove().0 as usize),
        }
    }

    /// Changes position `from` (hashed `hash`) to `to`.
    pub fn repoint(&mut self, hash: u64, from: usize, to: usize) {
        match self {
            Index::Small(t) => {
                if let Some(slot) = t.find_mut(hash, |&i| usize::from(i) == from) {
                    *slot = to as u16;
                }
            }
            Index::Large(t) => {
                if let Some(slot) = t.find_mut(hash, |&i| i as usize == from) {
                    *slot = to as u32;
                }
            }
        }
    }

    /// Adds position `pos` (a new entry) hashed `hash`; `len` is the number
    /// of entries including it. Switches to `u32` positions when `pos` no
    /// longer fits in 16 bits (rebuilding from `rehash` of every position).
    pub fn insert(&mut self, hash: u64, pos: usize, rehash: impl Fn(usize) -> u64) {
        if let Index::Small(t) = self {
            if pos > SMALL_MAX {
                let mut large = HashTable::with_capacity(pos + 1);
                for &i in t.iter() {
                    large.insert_unique(rehash(i.into()), u32::from(i), |&j| rehash(j as usize));
                }
                *self = Index::Large(large);
            }
        }
        match self {
            Index::Small(t) => {
                t.insert_unique(hash, pos as u16, |&i| rehash(i.into()));
            }
            Index::Large(t) => {
                t.insert_unique(hash, pos as u32, |&i| rehash(i as usize));
            }
        }
    }

    /// Shrinks the allocation to fit `len` positions.
    pub fn shrink_to(&mut self, len: usize, rehash: impl Fn(usize) -> u64) {
        match self {
            Index::Small(t) => t.shrink_to(len, |&i| rehash(i.into())),
            Index::Large(t) => t.shrink_to(len, |&i| rehash(i as usize)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_past_sixteen_bits() {
        let hash = |i: usize| (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut ix = Index::default();
        let n = SMALL_MAX + 10;
        for i in 0..n {
            ix.insert(hash(i), i, hash);
        }
        assert!(matches!(ix, Index::Large(_)));
        for i in (0..n).step_by(997) {
            assert_eq!(ix.find(hash(i), |p| p == i), Some(i));
        }
        assert_eq!(ix.remove(hash(5), |p| p == 5), Some(5));
        assert_eq!(ix.find(hash(5), |p| p == 5), None);
    }
}
