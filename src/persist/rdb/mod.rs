//! The Redis RDB snapshot format, version 10 (Redis 7.0), for the value types
//! ringkv has: strings (integer or raw) with an optional expiry.
//!
//! File layout (all multi-byte integers little-endian unless noted):
//!
//! ```text
//! "REDIS0010"                                magic + 4-digit version
//! { AUX(0xFA) <string key> <string value> }  redis-ver, redis-bits, ctime, ...
//! { SELECTDB(0xFE) <len db>
//!   RESIZEDB(0xFB) <len keys> <len expires>
//!   { [EXPIRETIME_MS(0xFC) <u64 ms>] <u8 type> <string key> <value> } }
//! EOF(0xFF) <u64 crc64>                       CRC of every byte before it
//! ```
//!
//! A *length* is `00xxxxxx` (6 bits), `01xxxxxx xxxxxxxx` (14 bits, big-endian),
//! `0x80` + 4 bytes or `0x81` + 8 bytes (big-endian). A first byte `11xxxxxx`
//! announces a special *string* encoding instead: `0xC0/0xC1/0xC2` an 8/16/32-bit
//! signed integer, `0xC3` an LZF-compressed string (`<len clen> <len ulen> data`).
//! A *string* is either such a special encoding or `<len> <bytes>`.
//!
//! Invariants kept by [`mod@write`]: integer encodings only for canonical decimal
//! strings (so bytes round-trip exactly), RESIZEDB counts equal the entries that
//! follow, the CRC covers everything up to and including EOF. [`read`] accepts
//! files of versions 1..=10 from redis-server or ringkv, reports every failure as
//! an [`RdbError`] carrying the byte offset, and never panics on corrupt input.

pub mod crc64;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod read;
pub mod write;
pub mod ziplist;
pub mod zipmap;

pub use read::{load, read_dump, DumpError, RdbDecode, RdbEntry, RdbReader};
pub use write::{encode_dump, AuxInfo, RdbPayload, RdbWriter};

use std::fmt;

/// The version this module writes.
pub const RDB_VERSION: u32 = 10;
/// The newest version the reader accepts.
pub const RDB_MAX_READ_VERSION: u32 = 10;
/// The `redis-ver` AUX field written, so tools see a Redis 7.0 file.
pub const REDIS_VER: &str = "7.0.15";

/// Opcodes and value types, as `rdb.h` numbers them.
pub mod op {
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const FUNCTION2: u8 = 245;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;

    /// `RDB_TYPE_STRING` (read and written by `shard::value::string`).
    pub const TYPE_STRING: u8 = 0;
    /// Hash types (read and written by `shard::value::hash`).
    pub const TYPE_HASH: u8 = 4;
    pub const TYPE_HASH_ZIPMAP: u8 = 9;
    pub const TYPE_HASH_ZIPLIST: u8 = 13;
    pub const TYPE_HASH_LISTPACK: u8 = 16;
    /// `RDB_TYPE_SET`: a count, then the members (`shard::value::set`).
    pub const TYPE_SET: u8 = 2;
    /// `RDB_TYPE_SET_INTSET`: the intset's bytes as one string.
    pub const TYPE_SET_INTSET: u8 = 11;
    /// List types (read by `shard::value::list`, which writes quicklist 2).
    pub const TYPE_LIST: u8 = 1;
    pub const TYPE_LIST_ZIPLIST: u8 = 10;
    pub const TYPE_LIST_QUICKLIST: u8 = 14;
    pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
    /// Sorted-set types (read by `shard::value::zset`, which writes 17 or 5):
    /// scores as strings (3), binary doubles (5), a ziplist (12), a listpack (17).
    pub const TYPE_ZSET: u8 = 3;
    pub const TYPE_ZSET_2: u8 = 5;
    pub const TYPE_ZSET_ZIPLIST: u8 = 12;
    pub const TYPE_ZSET_LISTPACK: u8 = 17;

    /// Length-prefix markers and special string encodings.
    pub const LEN_6BIT: u8 = 0;
    pub const LEN_14BIT: u8 = 1;
    pub const LEN_32BIT: u8 = 0x80;
    pub const LEN_64BIT: u8 = 0x81;
    pub const ENCVAL: u8 = 3;
    pub const ENC_INT8: u8 = 0;
    pub const ENC_INT16: u8 = 1;
    pub const ENC_INT32: u8 = 2;
    pub const ENC_LZF: u8 = 3;
}

/// A failure to read an RDB file, at `offset` bytes from its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    pub offset: usize,
    pub kind: RdbErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdbErrorKind {
    /// The file does not start with `REDIS`.
    BadMagic,
    /// The 4-digit version is not a number or is newer than we understand.
    UnsupportedVersion(u32),
    /// The input ended in the middle of a record (or before EOF).
    Truncated,
    /// A byte that is neither an opcode nor a value type we know.
    UnsupportedOpcode { opcode: u8, what: &'static str },
    /// A value type ringkv does not hold yet (list, set, zset, hash, stream...).
    UnsupportedType { rdb_type: u8, key: Vec<u8> },
    /// A special string encoding other than INT8/16/32/LZF.
    BadStringEncoding(u8),
    /// A length that does not fit this machine or the remaining input.
    BadLength(u64),
    /// A compressed string that does not expand correctly.
    Lzf(lzf::LzfError),
    /// The stored checksum differs from the computed one.
    ChecksumMismatch { stored: u64, computed: u64 },
    /// A value whose payload is inconsistent (a bad listpack or intset, a
    /// duplicate field or member, ...).
    BadValue(&'static str),
    /// A collection with no elements: Redis 7.0's loader skips such a key
    /// in a file (and counts it), and refuses it in a RESTORE payload.
    EmptyKey,
}

impl fmt::Display for RdbErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdbErrorKind::BadMagic => write!(f, "not an RDB file (bad magic)"),
            RdbErrorKind::UnsupportedVersion(v) => write!(f, "unsupported RDB version {v}"),
            RdbErrorKind::Truncated => write!(f, "unexpected end of file"),
            RdbErrorKind::UnsupportedOpcode { opcode, what } => {
                write!(f, "unsupported {what} (opcode {opcode})")
            }
            RdbErrorKind::UnsupportedType { rdb_type, key } => {
                let shown: Vec<u8> = key.iter().take(64).copied().collect();
                write!(
                    f,
                    "unsupported value type {rdb_type} for key \"{}\"",
                    shown.escape_ascii()
                )
            }
            RdbErrorKind::BadStringEncoding(e) => write!(f, "unknown string encoding {e}"),
            RdbErrorKind::BadLength(n) => write!(f, "invalid length {n}"),
            RdbErrorKind::Lzf(e) => write!(f, "{e}"),
            RdbErrorKind::BadValue(why) => write!(f, "corrupt value: {why}"),
            RdbErrorKind::EmptyKey => write!(f, "empty collection"),
            RdbErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
            ),
        }
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rdb: {} at offset {}", self.kind, self.offset)
    }
}

impl std::error::Error for RdbError {}
