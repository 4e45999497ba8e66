//! The hash type: a field → value map in one of Redis 7.0's two encodings.
//!
//! - `listpack` ([`listpack::Listpack`]): real Redis listpack bytes while the
//!   hash is small, so RDB/DUMP write it as one copy, byte for byte Redis's.
//! - `hashtable` ([`table::Table`]): a chained table of one thin allocation
//!   per field and value once the hash outgrows the limits.
//!
//! Conversion is Redis 7.0's and one way: to `hashtable` when a field or
//! value longer than `hash-max-listpack-value` is about to be stored, or
//! when the field count exceeds `hash-max-listpack-entries` after an
//! insert (or the listpack would pass 1 GiB, `lpSafeToAdd`); never back,
//! except when an RDB/DUMP payload is loaded, where Redis's loader rules
//! choose the encoding afresh (see `rdb.rs`).
//!
//! Memory ([`Hash::heap_bytes`]) is O(1) and exact: the boxed enum, plus
//! the listpack's bytes or the table's buckets and nodes.

pub mod listpack;
mod rdb;
pub mod table;
#[cfg(test)]
mod tests;

use super::EncodingLimits;
pub use crate::persist::rdb::listpack::Entry;
use listpack::Listpack;
use table::Table;

/// Redis's `LISTPACK_MAX_SAFETY_SIZE`: a listpack never grows past 1 GiB.
const LISTPACK_MAX_SAFE: usize = 1 << 30;

/// A hash value (see the module comment).
#[derive(Clone)]
pub enum Hash {
    Listpack(Listpack),
    Table(Table),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Listpack::default())
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        self.for_each(|k, v| {
            m.entry(
                &k.to_vec().escape_ascii().to_string(),
                &v.to_vec().escape_ascii().to_string(),
            );
        });
        m.finish()
    }
}

/// Equal as maps (the encoding and the listpack order do not matter).
impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut same = true;
        self.for_each(|f, v| {
            if same {
                same = f
                    .with_bytes(|f| other.get(f))
                    .is_some_and(|o| o.with_bytes(|a| v.with_bytes(|b| a == b)));
            }
        });
        same
    }
}

impl Eq for Hash {}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(l) => l.len(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, Hash::Listpack(_))
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<Entry<'_>> {
        match self {
            Hash::Listpack(l) => l.get(field),
            Hash::Table(t) => t.get(field).map(Entry::Str),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to `hashtable` (no-op when already there).
    pub fn convert_to_table(&mut self) {
        if let Hash::Listpack(l) = self {
            let mut t = Table::with_capacity(l.len());
            for (f, v) in l.iter() {
                f.with_bytes(|f| v.with_bytes(|v| t.insert(f, v)));
            }
            *self = Hash::Table(t);
        }
    }

    /// Redis's `hashTypeTryConversion`, before a write of strings of these
    /// lengths: any longer than `hash-max-listpack-value`, or a listpack
    /// that would pass its safe size, converts.
    pub fn prepare_for(&mut self, lens: impl IntoIterator<Item = usize>, limits: &EncodingLimits) {
        let Hash::Listpack(l) = self else {
            return;
        };
        let mut sum = 0usize;
        for n in lens {
            if n > limits.hash_max_listpack_value {
                return self.convert_to_table();
            }
            sum += n;
        }
        if l.bytes().len() + sum > LISTPACK_MAX_SAFE {
            self.convert_to_table();
        }
    }

    /// Redis's `hashTypeSet`: sets `field` to `value`, converting first when
    /// either is too long and after when the hash has too many fields.
    /// True when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        let max = limits.hash_max_listpack_value;
        if field.len() > max || value.len() > max {
            self.convert_to_table();
        }
        match self {
            Hash::Listpack(l) => {
                let new = l.set(field, value);
                if l.len() > limits.hash_max_listpack_entries {
                    self.convert_to_table();
                }
                new
            }
            Hash::Table(t) => t.insert(field, value),
        }
    }

    /// Deletes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(l) => l.remove(field),
            Hash::Table(t) => t.remove(field),
        }
    }

    /// Calls `f` for every (field, value): listpack order, or table order.
    pub fn for_each<'a>(&'a self, mut f: impl FnMut(Entry<'a>, Entry<'a>)) {
        match self {
            Hash::Listpack(l) => l.iter().for_each(|(k, v)| f(k, v)),
            Hash::Table(t) => t.iter().for_each(|(k, v)| f(Entry::Str(k), Entry::Str(v))),
        }
    }

    /// The pairs in iteration order (as [`Hash::for_each`]).
    pub fn pairs(&self) -> Box<dyn Iterator<Item = (Entry<'_>, Entry<'_>)> + '_> {
        match self {
            Hash::Listpack(l) => Box::new(l.iter()),
            Hash::Table(t) => Box::new(t.iter().map(|(k, v)| (Entry::Str(k), Entry::Str(v)))),
        }
    }

    /// One step of HSCAN from `cursor` with Redis's COUNT hint: a listpack
    /// answers everything at once (cursor 0); a table visits buckets until
    /// `count` pairs are collected or `10 * count` buckets were visited.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(Entry<'a>, Entry<'a>),
    ) -> u64 {
        match self {
            Hash::Listpack(_) => {
                self.for_each(f);
                0
            }
            Hash::Table(t) => {
                let (mut cursor, mut got) = (cursor, 0usize);
                let mut steps = count.saturating_mul(10);
                loop {
                    cursor = t.scan(cursor, &mut |k, v| {
                        got += 1;
                        f(Entry::Str(k), Entry::Str(v));
                    });
                    // Redis: `while (cursor && maxiterations-- && len < count)`.
                    if cursor == 0 || steps == 0 {
                        break;
                    }
                    steps -= 1;
                    if got >= count {
                        break;
                    }
                }
                cursor
            }
        }
    }

    /// A random (field, value) (`None` when empty).
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(Entry<'_>, Entry<'_>)> {
        match self {
            Hash::Listpack(l) => {
                let i = rng.gen_range(0..l.len().max(1));
                l.iter().nth(i)
            }
            Hash::Table(t) => t.random(rng).map(|(k, v)| (Entry::Str(k), Entry::Str(v))),
        }
    }

    /// Heap bytes held (the box included): exact, O(1).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Hash>() + self.payload_bytes()
    }

    /// The listpack's bytes, or the table's buckets and nodes.
    pub fn payload_bytes(&self) -> usize {
        match self {
            Hash::Listpack(l) => l.heap_bytes(),
            Hash::Table(t) => t.heap_bytes(),
        }
    }
}
