//! Key → slot → shard, exactly as Redis Cluster: `CRC16(hashtag(key)) mod 16384`.
//!
//! The hashtag is the bytes between the first `{` and the first `}` after it, when
//! that is non-empty; otherwise the whole key. The slot→shard table is contiguous
//! ranges by default and is read-only once the executors start.

use std::sync::Arc;

pub const SLOTS: usize = 16384;

const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

/// The part of `key` that is hashed.
pub fn hashtag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// Redis Cluster hash slot of `key`.
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hashtag(key)) & (SLOTS as u16 - 1)
}

/// Maps every slot to the shard that owns it.
#[derive(Clone, Debug)]
pub struct SlotTable {
    owner: Arc<[u16]>,
    shards: usize,
}

impl SlotTable {
    /// `shards` contiguous, near-equal slot ranges.
    pub fn contiguous(shards: usize) -> Self {
        let shards = shards.max(1);
        let owner: Vec<u16> = (0..SLOTS).map(|s| (s * shards / SLOTS) as u16).collect();
        SlotTable {
            owner: owner.into(),
            shards,
        }
    }

    #[inline]
    pub fn shard_of_slot(&self, slot: u16) -> usize {
        self.owner[slot as usize] as usize
    }

    #[inline]
    pub fn shard_of(&self, key: &[u8]) -> usize {
        if self.shards == 1 {
            return 0;
        }
        self.shard_of_slot(key_slot(key))
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The slots owned by `shard`, in ascending order.
    pub fn slots_of(&self, shard: usize) -> Vec<u16> {
        (0..SLOTS as u16)
            .filter(|&s| self.shard_of_slot(s) == shard)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_cluster_keyslot() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.0.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hashtag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hashtag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hashtag(b"foo{bar}{zap}"), b"bar");
    }

    #[test]
    fn contiguous_table_covers_all_shards() {
        let t = SlotTable::contiguous(3);
        assert_eq!(t.shard_of_slot(0), 0);
        assert_eq!(t.shard_of_slot(16383), 2);
        let total: usize = (0..3).map(|s| t.slots_of(s).len()).sum();
        assert_eq!(total, SLOTS);
    }
}
