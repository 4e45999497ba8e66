//! RDB decoding over an in-memory byte slice (a whole file read or mapped).
//!
//! [`RdbReader`] checks the header, then yields one [`RdbEntry`] per key in file
//! order, consuming AUX, SELECTDB, RESIZEDB, IDLE and FREQ records on the way;
//! after EOF it verifies the CRC64 (a stored zero means "not computed", as in
//! Redis) and stops. Bytes after the checksum are ignored (an AOF may follow an
//! RDB preamble); [`RdbReader::offset`] tells where they start.
//!
//! Invariants: every failure is an [`RdbError`] with the byte offset of the
//! record or field that could not be read; no input makes it panic, read past
//! the slice or allocate more than the input can justify. Expired keys are
//! returned like the others: whether to drop them is the caller's decision.

use super::{lzf, op, RdbError, RdbErrorKind, RDB_MAX_READ_VERSION};

/// A value type's payload decoder, implemented by the layer that owns the
/// values (`shard::value`): this module reads only framing and primitives.
pub trait RdbDecode: Sized {
    /// What decoding depends on beyond the bytes (for values: the encoding
    /// limits that choose a compact or a big layout), passed by the caller.
    type Settings: Copy;

    /// Reads a payload of `rdb_type` after its key; `None` for a type the
    /// implementer does not hold.
    fn read_rdb(
        rdb_type: u8,
        r: &mut RdbReader<'_>,
        settings: Self::Settings,
    ) -> Option<Result<Self>>;
}

/// One key read from a file, its value decoded by `V`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdbEntry<V> {
    pub db: u32,
    pub key: Vec<u8>,
    pub value: V,
    /// Absolute expiry in Unix milliseconds, 0 for none. A stored expiry at or
    /// before the epoch is reported as 1 so that it still reads as expired.
    pub expire_at_ms: u64,
}

/// A string as stored: integer-encoded, plain (borrowed from the input) or
/// LZF-expanded.
pub enum RawString<'a> {
    Int(i64),
    Slice(&'a [u8]),
    Owned(Vec<u8>),
}

impl RawString<'_> {
    /// The string's bytes (an integer in decimal), owned.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            RawString::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            RawString::Slice(b) => b.to_vec(),
            RawString::Owned(b) => b,
        }
    }
}

/// A length field or, for strings, a special encoding marker.
enum Len {
    Plain(u64),
    Encoded(u8),
}

pub struct RdbReader<'a> {
    buf: &'a [u8],
    pos: usize,
    version: u32,
    db: u32,
    aux: Vec<(Vec<u8>, Vec<u8>)>,
    done: bool,
    /// Keys of empty collections passed over (Redis's "empty keys skipped").
    empty_keys_skipped: u64,
    /// The function libraries' code met so far (`FUNCTION2` opcodes).
    functions: Vec<Vec<u8>>,
}

type Result<T> = std::result::Result<T, RdbError>;

impl<'a> RdbReader<'a> {
    /// Keys of empty collections skipped so far.
    pub fn empty_keys_skipped(&self) -> u64 {
        self.empty_keys_skipped
    }

    /// Checks the magic and version (1..=10).
    pub fn new(buf: &'a [u8]) -> Result<Self> {
        let mut r = RdbReader {
            buf,
            pos: 0,
            version: 0,
            db: 0,
            aux: Vec::new(),
            done: false,
            empty_keys_skipped: 0,
            functions: Vec::new(),
        };
        if r.bytes(5)? != b"REDIS" {
            return Err(r.err_at(0, RdbErrorKind::BadMagic));
        }
        let digits = r.bytes(4)?;
        let version = std::str::from_utf8(digits)
            .ok()
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
            .ok_or_else(|| r.err_at(5, RdbErrorKind::UnsupportedVersion(0)))?;
        if version == 0 || version > RDB_MAX_READ_VERSION {
            return Err(r.err_at(5, RdbErrorKind::UnsupportedVersion(version)));
        }
        r.version = version;
        Ok(r)
    }

    /// A reader over a bare value payload of RDB `version` (no header, no
    /// EOF): what DUMP produces before its footer.
    fn over_payload(buf: &'a [u8], version: u32) -> Self {
        RdbReader {
            buf,
            pos: 0,
            version,
            db: 0,
            aux: Vec::new(),
            done: true,
            empty_keys_skipped: 0,
            functions: Vec::new(),
        }
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// The AUX fields read so far (all of them once the first entry is read).
    pub fn aux(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.aux
    }

    /// Bytes consumed so far; after the last entry, the length of the RDB part.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// The next key, `Ok(None)` after a verified EOF.
    pub fn next_entry<V: RdbDecode>(
        &mut self,
        settings: V::Settings,
    ) -> Result<Option<RdbEntry<V>>> {
        let mut expire_at_ms = 0;
        while !self.done {
            let at = self.pos;
            let code = self.u8()?;
            match code {
                op::EOF => self.finish(at)?,
                op::SELECTDB => {
                    let db = self.plain_len()?;
                    self.db = u32::try_from(db)
                        .map_err(|_| self.err_at(at + 1, RdbErrorKind::BadLength(db)))?;
                }
                op::RESIZEDB => {
                    self.plain_len()?;
                    self.plain_len()?;
                }
                op::AUX => {
                    let key = self.string_bytes()?;
                    let value = self.string_bytes()?;
                    self.aux.push((key, value));
                }
                op::EXPIRETIME_MS => {
                    let ms = i64::from_le_bytes(self.array()?);
                    expire_at_ms = ms.max(1) as u64;
                }
                op::EXPIRETIME => {
                    let s = i32::from_le_bytes(self.array()?) as i64;
                    expire_at_ms = s.saturating_mul(1000).max(1) as u64;
                }
                op::IDLE => {
                    self.plain_len()?;
                }
                op::FREQ => {
                    self.u8()?;
                }
                op::MODULE_AUX => return Err(self.unsupported(at, code, "module aux data")),
                op::FUNCTION2 => {
                    let code = self.string_bytes()?;
                    self.functions.push(code);
                }
                op::FUNCTION_PRE_GA => {
                    return Err(self.unsupported(
                        at,
                        code,
                        "function library of a 7.0 release candidate",
                    ))
                }
                // A value type: its module reads the payload after the key.
                0..=21 => {
                    let key = self.string_bytes()?;
                    let Some(value) = V::read_rdb(code, self, settings) else {
                        // A type ringkv does not hold yet; the key names the culprit.
                        let kind = RdbErrorKind::UnsupportedType {
                            rdb_type: code,
                            key,
                        };
                        return Err(self.err_at(at, kind));
                    };
                    let value = match value {
                        // As Redis 7.0: an empty collection's key is skipped.
                        Err(e) if e.kind == RdbErrorKind::EmptyKey => {
                            log::warn!("rdb: skipping empty key {}", String::from_utf8_lossy(&key));
                            self.empty_keys_skipped += 1;
                            expire_at_ms = 0;
                            continue;
                        }
                        v => v?,
                    };
                    let db = self.db;
                    return Ok(Some(RdbEntry {
                        db,
                        key,
                        value,
                        expire_at_ms,
                    }));
                }
                _ => return Err(self.unsupported(at, code, "opcode or value type")),
            }
        }
        Ok(None)
    }

    /// Reads the checksum after the EOF opcode at `eof_at` and verifies it.
    fn finish(&mut self, eof_at: usize) -> Result<()> {
        if self.version >= 5 {
            let stored = u64::from_le_bytes(self.array()?);
            let computed = super::crc64::crc64(&self.buf[..eof_at + 1]);
            if stored != 0 && stored != computed {
                let kind = RdbErrorKind::ChecksumMismatch { stored, computed };
                return Err(self.err_at(eof_at + 1, kind));
            }
        }
        self.done = true;
        Ok(())
    }

    fn err_at(&self, offset: usize, kind: RdbErrorKind) -> RdbError {
        RdbError { offset, kind }
    }

    fn unsupported(&self, at: usize, opcode: u8, what: &'static str) -> RdbError {
        self.err_at(at, RdbErrorKind::UnsupportedOpcode { opcode, what })
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| self.err_at(self.pos, RdbErrorKind::Truncated))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn length(&mut self) -> Result<Len> {
        let at = self.pos;
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Len::Plain((first & 0x3f) as u64),
            1 => Len::Plain((((first & 0x3f) as u64) << 8) | self.u8()? as u64),
            3 => Len::Encoded(first & 0x3f),
            _ if first == op::LEN_32BIT => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
            _ if first == op::LEN_64BIT => Len::Plain(u64::from_be_bytes(self.array()?)),
            _ => return Err(self.err_at(at, RdbErrorKind::BadStringEncoding(first))),
        })
    }

    fn plain_len(&mut self) -> Result<u64> {
        let at = self.pos;
        match self.length()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(e) => Err(self.err_at(at, RdbErrorKind::BadStringEncoding(e))),
        }
    }

    /// A length used to size something in memory: must fit `usize`.
    fn usize_len(&mut self) -> Result<usize> {
        let at = self.pos;
        let n = self.plain_len()?;
        usize::try_from(n).map_err(|_| self.err_at(at, RdbErrorKind::BadLength(n)))
    }

    /// A length field (element counts of collection payloads).
    pub fn read_len(&mut self) -> Result<u64> {
        self.plain_len()
    }

    /// One raw byte (the length byte of RDB's text scores).
    pub fn read_u8(&mut self) -> Result<u8> {
        self.u8()
    }

    /// `n` raw bytes.
    pub fn read_bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        self.bytes(n)
    }

    /// An 8-byte little-endian IEEE double (RDB's binary scores).
    pub fn read_binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// The error for a value payload that is well framed but wrong (a bad
    /// listpack or intset, a duplicate member; `why` says how), at the
    /// current offset.
    pub fn corrupt(&self, why: &'static str) -> RdbError {
        self.err_at(self.pos, RdbErrorKind::BadValue(why))
    }

    /// The error for a collection payload with no elements (see
    /// [`RdbErrorKind::EmptyKey`]): a file's loader skips the key.
    pub fn empty_key(&self) -> RdbError {
        self.err_at(self.pos, RdbErrorKind::EmptyKey)
    }

    /// A string in any encoding (integers stay integers): the primitive
    /// value modules read their payloads with.
    pub fn read_string(&mut self) -> Result<RawString<'a>> {
        let at = self.pos;
        match self.length()? {
            Len::Plain(n) => {
                let n =
                    usize::try_from(n).map_err(|_| self.err_at(at, RdbErrorKind::BadLength(n)))?;
                Ok(RawString::Slice(self.bytes(n)?))
            }
            Len::Encoded(op::ENC_INT8) => Ok(RawString::Int(self.u8()? as i8 as i64)),
            Len::Encoded(op::ENC_INT16) => {
                Ok(RawString::Int(i16::from_le_bytes(self.array()?) as i64))
            }
            Len::Encoded(op::ENC_INT32) => {
                Ok(RawString::Int(i32::from_le_bytes(self.array()?) as i64))
            }
            Len::Encoded(op::ENC_LZF) => {
                let clen = self.usize_len()?;
                let ulen = self.usize_len()?;
                let data_at = self.pos;
                let data = self.bytes(clen)?;
                let out = lzf::decompress(data, ulen)
                    .map_err(|e| self.err_at(data_at, RdbErrorKind::Lzf(e)))?;
                Ok(RawString::Owned(out))
            }
            Len::Encoded(e) => Err(self.err_at(at, RdbErrorKind::BadStringEncoding(e))),
        }
    }

    /// A string in any encoding, as bytes (for keys and AUX fields).
    fn string_bytes(&mut self) -> Result<Vec<u8>> {
        Ok(self.read_string()?.into_bytes())
    }
}

/// Why a `DUMP` payload was refused (Redis's two RESTORE errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpError {
    /// Shorter than its footer, a newer RDB version, or a checksum mismatch.
    VersionOrChecksum,
    /// The value inside does not decode (or is a type `V` does not hold).
    BadFormat,
}

/// A DUMP-style payload's body and RDB version, once its footer checks
/// out (version at most ours, CRC64 of everything before the checksum).
fn dump_body(payload: &[u8]) -> Option<(&[u8], u32)> {
    let body_len = payload.len().checked_sub(10)?;
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]) as u32;
    let stored = u64::from_le_bytes(footer[2..10].try_into().ok()?);
    if version > RDB_MAX_READ_VERSION || stored != super::crc64::crc64(&payload[..body_len + 2]) {
        return None;
    }
    Some((&payload[..body_len], version))
}

/// Decodes a `DUMP` payload: checks the footer (RDB version at most ours,
/// CRC64 of everything before the checksum), then reads the type byte and
/// the value. Bytes after the value, before the footer, are ignored as Redis
/// ignores them.
pub fn read_dump<V: RdbDecode>(
    payload: &[u8],
    settings: V::Settings,
) -> std::result::Result<V, DumpError> {
    let (body, version) = dump_body(payload).ok_or(DumpError::VersionOrChecksum)?;
    let mut r = RdbReader::over_payload(body, version);
    let rdb_type = r.u8().map_err(|_| DumpError::BadFormat)?;
    match V::read_rdb(rdb_type, &mut r, settings) {
        Some(Ok(v)) => Ok(v),
        _ => Err(DumpError::BadFormat),
    }
}

impl<'a> RdbReader<'a> {
    /// Yields entries, then at most one error, then nothing.
    pub fn entries<V: RdbDecode>(
        mut self,
        settings: V::Settings,
    ) -> impl Iterator<Item = Result<RdbEntry<V>>> + 'a
    where
        V::Settings: 'a,
    {
        std::iter::from_fn(move || match self.next_entry(settings) {
            Ok(e) => e.map(Ok),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        })
    }
}

/// What a whole file held besides its entries.
#[derive(Debug, Default)]
pub struct Loaded {
    pub version: u32,
    /// The function libraries' code, in file order.
    pub functions: Vec<Vec<u8>>,
}

/// Reads a whole file, calling `f` for every entry.
pub fn load<V: RdbDecode>(
    buf: &[u8],
    settings: V::Settings,
    mut f: impl FnMut(RdbEntry<V>),
) -> Result<Loaded> {
    let mut r = RdbReader::new(buf)?;
    while let Some(e) = r.next_entry(settings)? {
        f(e);
    }
    Ok(Loaded {
        version: r.version(),
        functions: std::mem::take(&mut r.functions),
    })
}

/// Why a FUNCTION RESTORE payload was refused (Redis's texts, without `ERR `).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionsPayloadError {
    VersionOrChecksum,
    NoType,
    NotAFunction,
    BadLibrary,
}

impl std::fmt::Display for FunctionsPayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FunctionsPayloadError::VersionOrChecksum => {
                "DUMP payload version or checksum are wrong"
            }
            FunctionsPayloadError::NoType => "can not read data type",
            FunctionsPayloadError::NotAFunction => "given type is not a function",
            FunctionsPayloadError::BadLibrary => "failed loading the given functions payload",
        })
    }
}

/// Decodes a FUNCTION DUMP payload: the footer checked as a DUMP's, then
/// `FUNCTION2` opcodes, each with a library's code, up to the footer.
pub fn read_functions_payload(
    payload: &[u8],
) -> std::result::Result<Vec<Vec<u8>>, FunctionsPayloadError> {
    let (body, version) = dump_body(payload).ok_or(FunctionsPayloadError::VersionOrChecksum)?;
    let mut r = RdbReader::over_payload(body, version);
    let mut codes = Vec::new();
    while r.pos < body.len() {
        let t = r.u8().map_err(|_| FunctionsPayloadError::NoType)?;
        if t != op::FUNCTION2 {
            return Err(FunctionsPayloadError::NotAFunction);
        }
        codes.push(
            r.string_bytes()
                .map_err(|_| FunctionsPayloadError::BadLibrary)?,
        );
    }
    Ok(codes)
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
