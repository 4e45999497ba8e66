//! BITFIELD's integers, without the command: a field type (`i1`..`i64`,
//! `u1`..`u63`), reading and writing a field at any bit offset of a byte
//! string, and SET/INCRBY under the three overflow modes.
//!
//! A field is big-endian at bit granularity: its most significant bit is
//! the bit at `offset`. Bits beyond the string read as zero and are not
//! written (the command grows the string first).
//!
//! Overflow follows Redis 7.0 exactly: WRAP keeps the low bits (sign
//! extended for signed fields), SAT clamps to the type's range, FAIL
//! leaves the field alone and answers null. An unsigned SET of a negative
//! value counts as an overflow upward (SAT stores the maximum), as Redis
//! compares it as a 64-bit unsigned number.

use crate::cmd::error::CmdError;

/// A field's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldType {
    pub signed: bool,
    /// 1..=64 when signed, 1..=63 when not.
    pub bits: u32,
}

/// What happens when a SET or INCRBY leaves the type's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// A write to a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    Set(i64),
    IncrBy(i64),
}

impl FieldType {
    /// Parses `i<bits>` / `u<bits>` (the digits read up to a NUL byte, as
    /// Redis's C string does).
    pub fn parse(arg: &[u8]) -> Result<FieldType, CmdError> {
        const ERR: CmdError = CmdError::Static(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        );
        let (signed, rest) = match arg.split_first() {
            Some((b'i', rest)) => (true, rest),
            Some((b'u', rest)) => (false, rest),
            _ => return Err(ERR),
        };
        let digits = rest.split(|&b| b == 0).next().unwrap_or_default();
        match crate::protocol::parser::parse_i64(digits) {
            Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok(FieldType {
                signed,
                bits: n as u32,
            }),
            _ => Err(ERR),
        }
    }

    /// The mask of the field's bits in a u64.
    fn mask(self) -> u64 {
        u64::MAX >> (64 - self.bits)
    }

    /// The low `bits` of `v`, sign-extended when signed: the stored value
    /// read back.
    fn narrow(self, v: u64) -> i64 {
        let shift = 64 - self.bits;
        if self.signed {
            ((v << shift) as i64) >> shift
        } else {
            (v & self.mask()) as i64
        }
    }

    fn max(self) -> i64 {
        if self.signed {
            (self.mask() >> 1) as i64
        } else {
            self.mask() as i64
        }
    }

    fn min(self) -> i64 {
        if self.signed {
            -self.max() - 1
        } else {
            0
        }
    }
}

/// The 9 bytes from `p[byte..]` a field at `byte`'s bit can span, zero
/// beyond `p`, in the top of a u128.
fn window(p: &[u8], byte: usize) -> u128 {
    let mut buf = [0u8; 16];
    if let Some(src) = p.get(byte..) {
        let n = src.len().min(9);
        buf[..n].copy_from_slice(&src[..n]);
    }
    u128::from_be_bytes(buf)
}

/// The raw bits of a `bits`-wide field at bit `offset`.
fn get_raw(p: &[u8], offset: u64, bits: u32) -> u64 {
    let w = window(p, (offset >> 3) as usize) << (offset & 7);
    (w >> (128 - bits)) as u64
}

/// A field's value.
pub fn get(p: &[u8], offset: u64, ty: FieldType) -> i64 {
    ty.narrow(get_raw(p, offset, ty.bits))
}

/// Stores the low `ty.bits` of `v` at bit `offset`; bits beyond `p` are
/// dropped.
pub fn set(p: &mut [u8], offset: u64, ty: FieldType, v: i64) {
    let byte = (offset >> 3) as usize;
    let shift = 128 - ty.bits - (offset & 7) as u32;
    let field = (u128::from(ty.mask())) << shift;
    let w = (window(p, byte) & !field) | ((u128::from(v as u64 & ty.mask())) << shift);
    let bytes = w.to_be_bytes();
    if let Some(dst) = p.get_mut(byte..) {
        let n = dst.len().min(9);
        dst[..n].copy_from_slice(&bytes[..n]);
    }
}

/// Whether a value left the range: above it (+1) or below it (-1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Out {
    Above,
    Below,
}

/// A signed or unsigned value `old + d` (or `v` for a SET), as the field
/// would hold it when it fits: Ok(value), else which side it left and
/// its wrapped form.
fn add(ty: FieldType, old: i64, w: Write) -> Result<i64, (Out, i64)> {
    let (base, d) = match w {
        Write::Set(v) => (v, 0),
        Write::IncrBy(d) => (old, d),
    };
    let wrapped = ty.narrow((base as u64).wrapping_add(d as u64));
    let out = if ty.signed {
        match base.checked_add(d) {
            None if d > 0 => Some(Out::Above),
            None => Some(Out::Below),
            Some(s) if s > ty.max() => Some(Out::Above),
            Some(s) if s < ty.min() => Some(Out::Below),
            Some(_) => None,
        }
    } else if base < 0 {
        // Only a SET can bring a negative: as u64 it is above any field.
        Some(Out::Above)
    } else if d >= 0 {
        // base <= u63 max and d < 2^63: the sum fits in a u64.
        ((base as u64 + d as u64) > ty.max() as u64).then_some(Out::Above)
    } else {
        (d.unsigned_abs() > base as u64).then_some(Out::Below)
    };
    match out {
        None => Ok(wrapped),
        Some(side) => Err((side, wrapped)),
    }
}

/// A SET or INCRBY on a field holding `old`: Some((stored, reply)) — SET
/// answers the old value, INCRBY the new one — or None when it overflows
/// under FAIL (nothing stored).
pub fn apply(ty: FieldType, overflow: Overflow, old: i64, w: Write) -> Option<(i64, i64)> {
    let new = match (add(ty, old, w), overflow) {
        (Ok(v), _) => v,
        (Err((_, wrapped)), Overflow::Wrap) => wrapped,
        (Err((Out::Above, _)), Overflow::Sat) => ty.max(),
        (Err((Out::Below, _)), Overflow::Sat) => ty.min(),
        (Err(_), Overflow::Fail) => return None,
    };
    let reply = match w {
        Write::Set(_) => old,
        Write::IncrBy(_) => new,
    };
    Some((new, reply))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The i128 model: the exact result, then the mode's rule.
    fn model(ty: FieldType, overflow: Overflow, old: i64, w: Write) -> Option<(i64, i64)> {
        let bits = ty.bits;
        let (min, max): (i128, i128) = if ty.signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        };
        let exact: i128 = match w {
            // Redis compares an unsigned SET's value as a u64.
            Write::Set(v) if !ty.signed => i128::from(v as u64),
            Write::Set(v) => i128::from(v),
            Write::IncrBy(d) => i128::from(old) + i128::from(d),
        };
        let modulus = 1i128 << bits;
        let mut wrapped = exact.rem_euclid(modulus);
        if ty.signed && wrapped > max {
            wrapped -= modulus;
        }
        let new = if exact > max {
            match overflow {
                Overflow::Wrap => wrapped,
                Overflow::Sat => max,
                Overflow::Fail => return None,
            }
        } else if exact < min {
            match overflow {
                Overflow::Wrap => wrapped,
                Overflow::Sat => min,
                Overflow::Fail => return None,
            }
        } else {
            exact
        };
        let new = new as i64;
        Some(match w {
            Write::Set(_) => (new, old),
            Write::IncrBy(_) => (new, new),
        })
    }

    fn interesting(rng: &mut impl Rng, ty: FieldType) -> i64 {
        let edge = [
            0,
            1,
            -1,
            ty.max(),
            ty.min(),
            ty.max().wrapping_add(1),
            ty.min().wrapping_sub(1),
            i64::MAX,
            i64::MIN,
        ];
        match rng.gen_range(0..4) {
            0 => edge[rng.gen_range(0..edge.len())],
            1 => rng.gen_range(-300..300),
            _ => rng.gen(),
        }
    }

    #[test]
    fn overflow_modes_match_the_i128_model() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(20);
        for _ in 0..200_000 {
            let signed = rng.gen_bool(0.5);
            let bits = rng.gen_range(1..=if signed { 64 } else { 63 });
            let ty = FieldType { signed, bits };
            // A value the field can hold.
            let old = ty.narrow(rng.gen::<u64>());
            let v = interesting(&mut rng, ty);
            let w = if rng.gen_bool(0.5) {
                Write::Set(v)
            } else {
                Write::IncrBy(v)
            };
            for overflow in [Overflow::Wrap, Overflow::Sat, Overflow::Fail] {
                assert_eq!(
                    apply(ty, overflow, old, w),
                    model(ty, overflow, old, w),
                    "{ty:?} {overflow:?} old={old} {w:?}"
                );
            }
        }
    }

    #[test]
    fn fields_round_trip_at_any_offset() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..20_000 {
            let signed = rng.gen_bool(0.5);
            let bits = rng.gen_range(1..=if signed { 64 } else { 63 });
            let ty = FieldType { signed, bits };
            let len = rng.gen_range(9..24);
            let mut p: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let before = p.clone();
            let offset = rng.gen_range(0..(len as u64 * 8 - bits as u64));
            let v = ty.narrow(rng.gen());
            set(&mut p, offset, ty, v);
            assert_eq!(get(&p, offset, ty), v);
            // Bits outside the field are untouched.
            for i in 0..len as u64 * 8 {
                if i < offset || i >= offset + bits as u64 {
                    let m = 0x80 >> (i & 7);
                    assert_eq!(p[i as usize / 8] & m, before[i as usize / 8] & m);
                }
            }
        }
        // Redis's example: u5 23 at offset 7 of zeros is 00000001|01110000.
        let mut p = [0u8; 2];
        let u5 = FieldType {
            signed: false,
            bits: 5,
        };
        set(&mut p, 7, u5, 23);
        assert_eq!(p, [0b0000_0001, 0b0111_0000]);
        // Beyond the string: reads zeros, writes nothing.
        assert_eq!(get(&p, 100, u5), 0);
        set(&mut p, 14, u5, 31);
        assert_eq!(p, [0b0000_0001, 0b0111_0011]);
    }

    #[test]
    fn types_parse_as_redis() {
        let ok = |s: &str| FieldType::parse(s.as_bytes()).ok();
        assert_eq!(
            ok("i64"),
            Some(FieldType {
                signed: true,
                bits: 64
            })
        );
        assert_eq!(ok("u63").map(|t| t.bits), Some(63));
        for bad in ["u64", "i65", "i0", "u", "x8", "", "i08", "I8", "i-1", "i+8"] {
            assert_eq!(ok(bad), None, "{bad}");
        }
        assert_eq!(FieldType::parse(b"u8\0junk").map(|t| t.bits), Ok(8));
    }
}
