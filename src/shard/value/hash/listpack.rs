//! The `listpack` encoding of a hash: field, value, field, value… in one
//! Redis 7.0 listpack (`persist::rdb::listpack`), in insertion order with
//! updates in place, exactly as Redis's `hashTypeSet`/`hashTypeDelete` edit
//! theirs, so the bytes (and RDB/DUMP payloads) equal Redis's.
//!
//! Invariant: `bytes` is a valid listpack of `2 * pairs` elements and its
//! allocation is exactly its length (so the heap bytes are `bytes.len()`).

use crate::persist::rdb::listpack::{self as lp, Entry, Needle};

#[derive(Clone, Debug)]
pub struct Listpack {
    bytes: Vec<u8>,
    pairs: usize,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack {
            bytes: lp::empty(),
            pairs: 0,
        }
    }
}

/// Where a pair lies: field start, value start, value end.
struct Found {
    field: usize,
    value: usize,
    end: usize,
}

impl Listpack {
    /// Wraps validated listpack bytes of `elements` elements (even).
    pub fn from_validated(mut bytes: Vec<u8>, elements: usize) -> Listpack {
        bytes.shrink_to_fit();
        Listpack {
            bytes,
            pairs: elements / 2,
        }
    }

    pub fn len(&self) -> usize {
        self.pairs
    }

    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    fn find(&self, field: &[u8]) -> Option<Found> {
        let needle = Needle::new(field);
        let mut it = lp::iter(&self.bytes);
        loop {
            let start = it.pos();
            let f = it.next()?;
            let value = it.pos();
            it.next()?;
            if needle.matches(&f) {
                return Some(Found {
                    field: start,
                    value,
                    end: it.pos(),
                });
            }
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<Entry<'_>> {
        let at = self.find(field)?;
        lp::entry_at(&self.bytes, at.value).map(|(e, _)| e)
    }

    /// Sets `field` to `value` (replacing in place or appending); true
    /// when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut enc = Vec::with_capacity(lp::entry_size(field) + lp::entry_size(value));
        let new = match self.find(field) {
            Some(at) => {
                lp::encode_entry(&mut enc, value);
                lp::splice(&mut self.bytes, at.value, at.end, &enc);
                false
            }
            None => {
                lp::encode_entry(&mut enc, field);
                lp::encode_entry(&mut enc, value);
                let end = self.bytes.len() - 1;
                lp::splice(&mut self.bytes, end, end, &enc);
                self.pairs += 1;
                true
            }
        };
        lp::set_header(&mut self.bytes, self.pairs * 2);
        new
    }

    /// Deletes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let Some(at) = self.find(field) else {
            return false;
        };
        lp::splice(&mut self.bytes, at.field, at.end, &[]);
        self.pairs -= 1;
        lp::set_header(&mut self.bytes, self.pairs * 2);
        true
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (Entry<'_>, Entry<'_>)> + '_ {
        let mut it = lp::iter(&self.bytes);
        std::iter::from_fn(move || Some((it.next()?, it.next()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_order_and_a_valid_listpack() {
        let mut h = Listpack::default();
        assert!(h.set(b"a", b"1"));
        assert!(h.set(b"b", b"xx"));
        assert!(h.set(b"c", b"-77777"));
        assert!(!h.set(b"a", b"a much longer value than before"));
        assert_eq!(lp::validate(h.bytes()), Ok(6));
        assert_eq!(h.heap_bytes(), h.bytes().len());
        let got: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(
            got,
            [
                (b"a".to_vec(), b"a much longer value than before".to_vec()),
                (b"b".to_vec(), b"xx".to_vec()),
                (b"c".to_vec(), b"-77777".to_vec())
            ]
        );
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.get(b"c"), Some(Entry::Int(-77777)));
        assert_eq!(lp::validate(h.bytes()), Ok(4));
        assert!(h.remove(b"a") && h.remove(b"c"));
        assert_eq!(h.bytes(), &lp::empty()[..]);
    }
}
