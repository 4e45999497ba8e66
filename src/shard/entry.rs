//! The stored entry and its key: 40 bytes per key, small keys and values
//! inline.
//!
//! - [`Key`] is 16 bytes: up to [`KEY_INLINE_MAX`] (15) bytes inline, longer
//!   keys in one heap allocation behind a thin pointer (`ThinVec`, whose
//!   length and capacity live in the allocation).
//! - [`Entry`] = key (16) + [`Value`] (16: integers and strings up to 14
//!   bytes inline, see value/string.rs) + a 24-bit LRU/LFU clock (see
//!   lru.rs) in a u32 whose top 8 bits and the 4 bytes of padding after it
//!   are spare for later flags.
//!   The expiry is not in the entry: a table keeps a column of expiries only
//!   while it holds a key with a TTL (see db.rs), so persistent keys pay
//!   nothing for it.
//!
//! The key is private: an entry is found by its key's hash, so changing the
//! key in place would lose it. Values may change in place (through the
//! shard's `EntryMut`, which accounts the size change).

use super::value::Value;
use thin_vec::ThinVec;

/// The longest key stored inline.
pub const KEY_INLINE_MAX: usize = 15;

/// A stored key (binary safe).
#[derive(Clone, PartialEq, Eq)]
pub enum Key {
    /// 0 to 14 bytes: length and bytes (unused bytes zero).
    Short { len: u8, buf: [u8; 14] },
    /// Exactly 15 bytes (the enum tag says the length).
    Full([u8; 15]),
    /// 16 bytes or more.
    Heap(ThinVec<u8>),
}

const _: () = assert!(std::mem::size_of::<Key>() == 16);
const _: () = assert!(std::mem::size_of::<Entry>() == 40);

impl Key {
    /// Heap bytes the key holds (0 when inline).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Key::Heap(v) if v.capacity() > 0 => 2 * std::mem::size_of::<usize>() + v.capacity(),
            _ => 0,
        }
    }

    /// Bytes of data proper: the key's length inline, or its heap bytes.
    pub fn payload_bytes(&self) -> usize {
        match self {
            Key::Heap(_) => self.heap_bytes(),
            _ => self.len(),
        }
    }
}

impl From<&[u8]> for Key {
    fn from(k: &[u8]) -> Key {
        if let Ok(full) = <[u8; 15]>::try_from(k) {
            return Key::Full(full);
        }
        if k.len() < KEY_INLINE_MAX {
            let mut buf = [0u8; 14];
            buf[..k.len()].copy_from_slice(k);
            return Key::Short {
                len: k.len() as u8,
                buf,
            };
        }
        let mut v = ThinVec::with_capacity(k.len());
        v.extend_from_slice(k);
        Key::Heap(v)
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Key::Short { len, buf } => &buf[..*len as usize],
            Key::Full(buf) => buf,
            Key::Heap(v) => v,
        }
    }
}

impl Key {
    /// Where the bytes of a heap key start (for a prefetch hint); None inline.
    #[inline]
    pub fn heap_ptr(&self) -> Option<*const u8> {
        match self {
            Key::Heap(v) => Some(v.as_ptr()),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// A key, its value and its access clock.
#[derive(Debug)]
pub struct Entry {
    key: Key,
    pub value: Value,
    /// LRU seconds or LFU minutes+counter, 24 bits (see lru.rs).
    clock: u32,
}

impl Entry {
    pub fn new(key: &[u8], value: Value, clock: u32) -> Entry {
        Entry {
            key: Key::from(key),
            value,
            clock,
        }
    }

    #[inline]
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The 24-bit access clock.
    pub fn clock(&self) -> u32 {
        self.clock
    }

    pub fn set_clock(&mut self, clock: u32) {
        self.clock = clock & super::lru::CLOCK_MAX;
    }

    /// Heap bytes of the key and value (the entry's own 40 are counted by
    /// its table).
    pub fn heap_bytes(&self) -> usize {
        self.key.heap_bytes() + self.value.mem_usage()
    }

    /// Key and value bytes proper (see [`Key::payload_bytes`] and
    /// [`Value::payload_bytes`]).
    pub fn payload_bytes(&self) -> usize {
        self.key.payload_bytes() + self.value.payload_bytes()
    }

    /// Splits the entry into its key and value.
    pub fn into_parts(self) -> (Key, Value) {
        (self.key, self.value)
    }
}

/// A borrowed entry with its expiry (absolute Unix ms, 0 = none).
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    entry: &'a Entry,
    expire_at: u64,
}

impl<'a> EntryRef<'a> {
    pub fn new(entry: &'a Entry, expire_at: u64) -> Self {
        EntryRef { entry, expire_at }
    }

    pub fn expire_at(&self) -> u64 {
        self.expire_at
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }

    /// The entry, for the whole of its borrow.
    pub fn entry(&self) -> &'a Entry {
        self.entry
    }

    /// The key, for the whole of the entry's borrow.
    pub fn key_ref(&self) -> &'a Key {
        &self.entry.key
    }

    /// The value, for the whole of the entry's borrow.
    pub fn value_ref(&self) -> &'a Value {
        &self.entry.value
    }
}

impl std::ops::Deref for EntryRef<'_> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        self.entry
    }
}

/// An entry taken out of its table (DEL-and-reinsert moves: RENAME, MOVE).
#[derive(Debug)]
pub struct Detached {
    pub key: Key,
    pub value: Value,
    expire_at: u64,
}

impl Detached {
    pub fn new(entry: Entry, expire_at: u64) -> Self {
        let (key, value) = entry.into_parts();
        Detached {
            key,
            value,
            expire_at,
        }
    }

    pub fn expire_at(&self) -> u64 {
        self.expire_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_at_every_length() {
        for n in 0..40 {
            let k: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            let key = Key::from(&k[..]);
            assert_eq!(&*key, &k[..]);
            assert_eq!(key.heap_bytes() > 0, n > KEY_INLINE_MAX, "len {n}");
        }
        assert!(matches!(
            Key::from(&b"key:0000000001"[..]),
            Key::Short { .. }
        ));
    }
}
