//! The bytes of a HyperLogLog string, as Redis 7.0 lays them out: a
//! 16-byte header, then the registers in one of two encodings.
//!
//! Header: `HYLL`, the encoding byte (0 dense, 1 sparse), three unused
//! bytes (copied along, never checked), and the cached cardinality as a
//! little-endian u64 whose top bit marks it stale.
//!
//! Dense: 16384 registers of 6 bits packed from each byte's low bits up
//! (register `i` starts at bit `6 * i` of the little-endian bit stream),
//! 12288 bytes. The sparse encoding is in [`super::sparse`].
//!
//! Everything here takes bytes a client may have SET: no function indexes
//! past the end of its input or panics on any content.

/// Register index bits (Redis's `HLL_P`).
pub const P: u32 = 14;
/// Registers per HyperLogLog.
pub const REGISTERS: usize = 1 << P;
/// Bits per dense register, and the largest value one holds.
const BITS: usize = 6;
pub const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Header bytes.
pub const HDR: usize = 16;
/// A dense HyperLogLog's exact length.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);

pub const ENC_DENSE: u8 = 0;
pub const ENC_SPARSE: u8 = 1;

/// The bit of the cached cardinality's last byte that marks it stale.
const STALE: u8 = 0x80;

/// A growable byte buffer the encodings edit in place: the store's string
/// buffer (`ThinVec`) or a scratch `Vec`.
pub trait HllBuf: std::ops::DerefMut<Target = [u8]> {
    /// Grows (zero-filled) or truncates to `len` bytes.
    fn set_len(&mut self, len: usize);
}

impl HllBuf for Vec<u8> {
    fn set_len(&mut self, len: usize) {
        self.resize(len, 0);
    }
}

impl HllBuf for thin_vec::ThinVec<u8> {
    fn set_len(&mut self, len: usize) {
        self.resize(len, 0);
    }
}

/// An HyperLogLog's encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

/// Redis's test of a string as a HyperLogLog (`isHLLObjectOrReply`): at
/// least a header, the magic, a known encoding, and a dense one exactly
/// [`DENSE_SIZE`] long. A sparse body is not checked here: its readers
/// find out (and answer `INVALIDOBJ`).
pub fn encoding_of(bytes: &[u8]) -> Option<Encoding> {
    if bytes.len() < HDR || &bytes[..4] != b"HYLL" {
        return None;
    }
    match bytes[4] {
        ENC_DENSE if bytes.len() == DENSE_SIZE => Some(Encoding::Dense),
        ENC_SPARSE => Some(Encoding::Sparse),
        _ => None,
    }
}

/// The encoding byte of a checked HyperLogLog (dense for anything else).
pub fn encoding(bytes: &[u8]) -> Encoding {
    match bytes.get(4) {
        Some(&ENC_SPARSE) => Encoding::Sparse,
        _ => Encoding::Dense,
    }
}

/// A new header: magic, `enc`, zeros (a valid cached cardinality of 0).
pub fn header(enc: u8) -> [u8; HDR] {
    let mut h = [0u8; HDR];
    h[..4].copy_from_slice(b"HYLL");
    h[4] = enc;
    h
}

/// The cached cardinality, when it is not stale.
pub fn cached(bytes: &[u8]) -> Option<u64> {
    let card: [u8; 8] = bytes.get(8..16)?.try_into().ok()?;
    (card[7] & STALE == 0).then(|| u64::from_le_bytes(card))
}

/// Stores `card` as the cached cardinality (its top bit, if set, leaves
/// the cache stale, as in Redis).
pub fn set_cached(bytes: &mut [u8], card: u64) {
    if let Some(c) = bytes.get_mut(8..16) {
        c.copy_from_slice(&card.to_le_bytes());
    }
}

/// Marks the cached cardinality stale.
pub fn invalidate(bytes: &mut [u8]) {
    if let Some(b) = bytes.get_mut(15) {
        *b |= STALE;
    }
}

/// Dense register `i` of `regs` (the bytes after the header). The last
/// register's second byte is past the end and contributes nothing.
#[inline]
pub fn get_register(regs: &[u8], i: usize) -> u8 {
    let (byte, shift) = (i * BITS / 8, (i * BITS) & 7);
    let lo = regs.get(byte).copied().unwrap_or(0) as u16;
    let hi = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((lo | hi << 8) >> shift) as u8) & REGISTER_MAX
}

/// Sets dense register `i` of `regs` to `v` (at most [`REGISTER_MAX`]).
#[inline]
pub fn set_register(regs: &mut [u8], i: usize, v: u8) {
    let (byte, shift) = (i * BITS / 8, (i * BITS) & 7);
    let mask = (REGISTER_MAX as u16) << shift;
    let v = ((v & REGISTER_MAX) as u16) << shift;
    if let Some(b) = regs.get_mut(byte) {
        *b = (*b & !(mask as u8)) | v as u8;
    }
    if let Some(b) = regs.get_mut(byte + 1) {
        *b = (*b & !((mask >> 8) as u8)) | (v >> 8) as u8;
    }
}

/// Raises dense register `i` to `count` if it is lower; true if it was.
#[inline]
pub fn raise_register(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > get_register(regs, i) {
        set_register(regs, i, count);
        true
    } else {
        false
    }
}

/// How many dense registers hold each value (any 6-bit value counts).
pub fn dense_histogram(regs: &[u8]) -> [u32; 64] {
    let mut hist = [0u32; 64];
    // Three bytes hold four registers exactly.
    for chunk in regs[..REGISTERS * BITS / 8].chunks_exact(3) {
        let w = chunk[0] as u32 | (chunk[1] as u32) << 8 | (chunk[2] as u32) << 16;
        for k in 0..4 {
            hist[((w >> (6 * k)) & 63) as usize] += 1;
        }
    }
    hist
}

/// Dense registers laid out from one byte per register.
pub fn pack_dense(raw: &[u8; REGISTERS], regs: &mut [u8]) {
    for (i, &v) in raw.iter().enumerate() {
        if v != 0 {
            set_register(regs, i, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_do_not_disturb_neighbours() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        let mut want = vec![0u8; REGISTERS];
        let mut x = 12345u32;
        for round in 0..3 {
            for (i, w) in want.iter_mut().enumerate() {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let v = ((x >> 16) as u8) & REGISTER_MAX;
                if round < 2 || i % 3 == 0 {
                    *w = v;
                    set_register(&mut regs, i, v);
                }
            }
            for (i, &w) in want.iter().enumerate() {
                assert_eq!(get_register(&regs, i), w, "register {i}");
            }
            let hist = dense_histogram(&regs);
            assert_eq!(hist.iter().sum::<u32>(), REGISTERS as u32);
        }
    }

    #[test]
    fn header_checks() {
        let mut d = header(ENC_DENSE).to_vec();
        d.resize(DENSE_SIZE, 0);
        assert_eq!(encoding_of(&d), Some(Encoding::Dense));
        assert_eq!(encoding_of(&d[..DENSE_SIZE - 1]), None);
        assert_eq!(encoding_of(&header(ENC_SPARSE)), Some(Encoding::Sparse));
        assert_eq!(encoding_of(&header(2)), None);
        assert_eq!(encoding_of(b"HYL"), None);
        assert_eq!(cached(&d), Some(0));
        invalidate(&mut d);
        assert_eq!(cached(&d), None);
        set_cached(&mut d, 42);
        assert_eq!(cached(&d), Some(42));
    }
}
