//! RDB encoding: pure byte producers plus a streaming [`RdbWriter`].
//!
//! The `encode_*` functions append one record to a `Vec<u8>` and do no I/O, so
//! a shard can encode a batch of keys between awaits and hand the buffer to any
//! file API (glommio's io_uring files later), keeping a running [`Crc64`] over
//! the bytes. [`RdbWriter`] is that loop for `std::io::Write`.
//!
//! Invariants: a string is written with an integer encoding only when its bytes
//! are the canonical decimal form of an i32 (as Redis's `rdbTryIntegerEncoding`),
//! otherwise length-prefixed and uncompressed; a file is header, then per
//! non-empty db SELECTDB + RESIZEDB + its entries, then EOF + CRC64 (LE).

use super::crc64::Crc64;
use super::{op, RDB_VERSION, REDIS_VER};
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Values of the informational AUX fields that vary between saves.
#[derive(Clone, Copy, Debug)]
pub struct AuxInfo {
    /// `ctime`: creation time, Unix seconds.
    pub ctime_s: u64,
    /// `used-mem`: bytes of memory in use when the snapshot started.
    pub used_mem: u64,
}

impl AuxInfo {
    pub fn now(used_mem: u64) -> Self {
        let ctime_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        AuxInfo { ctime_s, used_mem }
    }
}

/// Appends a length in the shortest of the 6/14/32/64-bit forms.
pub fn encode_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push((op::LEN_14BIT << 6) | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(op::LEN_32BIT);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(op::LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends an integer in the smallest INT8/16/32 encoding, or returns false
/// when it does not fit 32 bits.
pub fn encode_int(out: &mut Vec<u8>, n: i64) -> bool {
    let enc = |e: u8| (op::ENCVAL << 6) | e;
    if let Ok(v) = i8::try_from(n) {
        out.extend_from_slice(&[enc(op::ENC_INT8), v as u8]);
    } else if let Ok(v) = i16::try_from(n) {
        out.push(enc(op::ENC_INT16));
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(n) {
        out.push(enc(op::ENC_INT32));
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// The integer whose canonical decimal form is exactly `s`, if any.
fn canonical_int(s: &[u8]) -> Option<i64> {
    // Longest i32 is "-2147483648" (11 bytes), as Redis's `len <= 11` guard.
    if s.is_empty() || s.len() > 11 {
        return None;
    }
    let n: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (itoa::Buffer::new().format(n).as_bytes() == s).then_some(n)
}

/// Appends a string, integer-encoded when that round-trips to the same bytes.
pub fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    if let Some(n) = canonical_int(s) {
        if encode_int(out, n) {
            return;
        }
    }
    encode_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a string already in LZF form (`compressed` expands to `len`
/// bytes), as Redis's `rdbSaveLzfBlob` writes a compressed list node.
pub fn encode_lzf_string(out: &mut Vec<u8>, compressed: &[u8], len: usize) {
    out.push((op::ENCVAL << 6) | op::ENC_LZF);
    encode_len(out, compressed.len() as u64);
    encode_len(out, len as u64);
    out.extend_from_slice(compressed);
}

fn encode_aux(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.push(op::AUX);
    encode_string(out, key.as_bytes());
    encode_string(out, value);
}

/// Appends the magic and the AUX fields redis-server 7.0 writes for a plain
/// save (`redis-ver`, `redis-bits`, `ctime`, `used-mem`, `aof-base`).
pub fn encode_header(out: &mut Vec<u8>, aux: AuxInfo) {
    out.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    let mut num = itoa::Buffer::new();
    encode_aux(out, "redis-ver", REDIS_VER.as_bytes());
    encode_aux(out, "redis-bits", num.format(usize::BITS).as_bytes());
    encode_aux(out, "ctime", num.format(aux.ctime_s).as_bytes());
    encode_aux(out, "used-mem", num.format(aux.used_mem).as_bytes());
    encode_aux(out, "aof-base", b"0");
}

/// Appends one function library (`FUNCTION2` and its code), as Redis 7.0
/// writes each library after the AUX fields.
pub fn encode_function(out: &mut Vec<u8>, code: &[u8]) {
    out.push(op::FUNCTION2);
    encode_string(out, code);
}

/// A FUNCTION DUMP payload of `codes`: each library as in a file, then the
/// RDB version and the CRC64, as a DUMP's footer.
pub fn encode_functions_payload(out: &mut Vec<u8>, codes: &[&[u8]]) {
    let start = out.len();
    for code in codes {
        encode_function(out, code);
    }
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = super::crc64::crc64(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Appends SELECTDB and RESIZEDB for a database with `keys` entries of which
/// `expires` carry a TTL. Only call it for non-empty databases.
pub fn encode_select_db(out: &mut Vec<u8>, db: u32, keys: u64, expires: u64) {
    out.push(op::SELECTDB);
    encode_len(out, db as u64);
    out.push(op::RESIZEDB);
    encode_len(out, keys);
    encode_len(out, expires);
}

/// A value as RDB stores it, implemented by the layer that owns the values
/// (`shard::value`): this module writes only framing and primitives.
pub trait RdbPayload {
    /// The type byte written before the key.
    fn rdb_type(&self) -> u8;
    /// Appends the payload that follows the type byte and the key.
    fn write_rdb(&self, out: &mut Vec<u8>);
}

/// Appends one key: EXPIRETIME_MS when `expire_at_ms != 0`, the type, the key
/// and the value's payload (written by its type's module).
pub fn encode_entry(out: &mut Vec<u8>, key: &[u8], value: &impl RdbPayload, expire_at_ms: u64) {
    encode_entry_head(out, key, value.rdb_type(), expire_at_ms);
    value.write_rdb(out);
}

/// Appends what precedes a key's payload: EXPIRETIME_MS when
/// `expire_at_ms != 0`, the type byte and the key.
pub fn encode_entry_head(out: &mut Vec<u8>, key: &[u8], rdb_type: u8, expire_at_ms: u64) {
    if expire_at_ms != 0 {
        out.push(op::EXPIRETIME_MS);
        out.extend_from_slice(&expire_at_ms.to_le_bytes());
    }
    out.push(rdb_type);
    encode_string(out, key);
}

/// Appends a `DUMP` payload: the type byte and the value's RDB payload, then
/// the RDB version (2 bytes) and the CRC64 of everything before (8 bytes),
/// both little-endian, as Redis's DUMP writes it.
pub fn encode_dump(out: &mut Vec<u8>, value: &impl RdbPayload) {
    let start = out.len();
    out.push(value.rdb_type());
    value.write_rdb(out);
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = super::crc64::crc64(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Appends the EOF opcode, feeds it to `crc`, then appends the checksum.
pub fn encode_eof(out: &mut Vec<u8>, crc: &mut Crc64) {
    out.push(op::EOF);
    crc.update(&[op::EOF]);
    out.extend_from_slice(&crc.value().to_le_bytes());
}

/// Bytes buffered before they are handed to the inner writer.
const FLUSH_AT: usize = 64 * 1024;

/// Streams an RDB file into any `Write`, computing the checksum on the way.
///
/// Call [`select_db`](Self::select_db) before each database's entries and
/// [`finish`](Self::finish) once; dropping it unfinished leaves a file without
/// EOF, which every reader rejects as truncated.
pub struct RdbWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    crc: Crc64,
}

impl<W: Write> RdbWriter<W> {
    /// Starts a file: writes (buffers) the magic and AUX fields.
    pub fn new(inner: W, aux: AuxInfo) -> Self {
        let mut buf = Vec::with_capacity(FLUSH_AT + 1024);
        encode_header(&mut buf, aux);
        RdbWriter {
            inner,
            buf,
            crc: Crc64::new(),
        }
    }

    /// Adds a function library (right after the header, before any db).
    pub fn function(&mut self, code: &[u8]) {
        encode_function(&mut self.buf, code);
    }

    pub fn select_db(&mut self, db: u32, keys: u64, expires: u64) -> io::Result<()> {
        encode_select_db(&mut self.buf, db, keys, expires);
        self.maybe_flush()
    }

    pub fn entry(
        &mut self,
        key: &[u8],
        value: &impl RdbPayload,
        expire_at_ms: u64,
    ) -> io::Result<()> {
        encode_entry(&mut self.buf, key, value, expire_at_ms);
        self.maybe_flush()
    }

    /// Writes EOF and the checksum, flushes, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.crc.update(&self.buf);
        let mut tail = std::mem::take(&mut self.buf);
        encode_eof(&mut tail, &mut self.crc);
        self.inner.write_all(&tail)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.crc.update(&self.buf);
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::value::Value;

    fn len(n: u64) -> Vec<u8> {
        let mut v = Vec::new();
        encode_len(&mut v, n);
        v
    }

    fn string(s: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        encode_string(&mut v, s);
        v
    }

    #[test]
    fn length_forms() {
        assert_eq!(len(0), [0]);
        assert_eq!(len(63), [63]);
        assert_eq!(len(64), [0x40, 64]);
        assert_eq!(len(16383), [0x7f, 0xff]);
        assert_eq!(len(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(len(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn integer_encodings_only_when_canonical() {
        assert_eq!(string(b"64"), [0xc0, 64]);
        assert_eq!(string(b"-1"), [0xc0, 0xff]);
        assert_eq!(string(b"1000"), [0xc1, 0xe8, 0x03]);
        assert_eq!(string(b"-2147483648"), [0xc2, 0, 0, 0, 0x80]);
        assert_eq!(
            string(b"2147483648"),
            [10, b'2', b'1', b'4', b'7', b'4', b'8', b'3', b'6', b'4', b'8']
        );
        assert_eq!(string(b"007"), [3, b'0', b'0', b'7']);
        assert_eq!(string(b"+7"), [2, b'+', b'7']);
        assert_eq!(string(b"-0"), [2, b'-', b'0']);
        assert_eq!(string(b""), [0]);
    }

    #[test]
    fn header_matches_redis_layout() {
        let mut v = Vec::new();
        encode_header(
            &mut v,
            AuxInfo {
                ctime_s: 1_700_000_000,
                used_mem: 942_152,
            },
        );
        assert!(v.starts_with(b"REDIS0010\xfa\x09redis-ver\x067.0.15\xfa\x0aredis-bits\xc0\x40"));
        assert!(v.ends_with(b"\xfa\x08aof-base\xc0\x00"));
    }

    #[test]
    fn entries_with_expiry_and_big_ints() {
        let mut v = Vec::new();
        encode_entry(&mut v, b"k", &Value::string(b"1099511627776"), 0x0102);
        let mut want = vec![op::EXPIRETIME_MS, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1, b'k', 13];
        want.extend_from_slice(b"1099511627776");
        assert_eq!(v, want);
    }

    #[test]
    fn writer_streams_same_bytes_as_encoders() {
        let aux = AuxInfo {
            ctime_s: 1,
            used_mem: 2,
        };
        let mut w = RdbWriter::new(Vec::new(), aux);
        w.select_db(0, 2000, 0).unwrap();
        let big = Value::string(&[7; 100]);
        for i in 0..2000u32 {
            w.entry(&i.to_be_bytes(), &big, 0).unwrap();
        }
        let file = w.finish().unwrap();
        let mut want = Vec::new();
        encode_header(&mut want, aux);
        encode_select_db(&mut want, 0, 2000, 0);
        for i in 0..2000u32 {
            encode_entry(&mut want, &i.to_be_bytes(), &big, 0);
        }
        encode_eof(&mut want, &mut Crc64::new());
        let n = want.len();
        let crc = super::super::crc64::crc64(&want[..n - 8]);
        want[n - 8..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(file, want);
    }
}
