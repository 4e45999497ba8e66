//! The sparse encoding: after the header, a run-length code of the 16384
//! registers in three opcodes (Redis's):
//!
//! - `00xxxxxx` ZERO: 1..64 registers at 0;
//! - `01xxxxxx yyyyyyyy` XZERO: 1..16384 registers at 0 (14 bits);
//! - `1vvvvvxx` VAL: 1..4 registers at value 1..32.
//!
//! A valid body covers exactly 16384 registers. Bodies come from clients
//! (SET), so every reader here walks any bytes without panicking and with
//! Redis's own leniency, which differs per reader: the histogram counts
//! every opcode (valid when the total is 16384); decoding to registers
//! fails at an opcode that would pass the end; an update only needs the
//! opcode covering its register. An
//! XZERO cut short by the end reads its second byte as 0 (Redis reads the
//! string's terminator there).

use super::repr::{self, HllBuf, HDR, REGISTERS};

/// The most registers one ZERO covers, and the highest VAL value.
const ZERO_MAX: usize = 64;
const XZERO_MAX: usize = REGISTERS;
pub const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;

/// One decoded opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Zero(usize),
    XZero(usize),
    Val { value: u8, len: usize },
}

impl Op {
    /// Registers the opcode covers.
    pub fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) => n,
            Op::Val { len, .. } => len,
        }
    }
}

/// The opcode at `ops[p]` (`p` in range) and its length in bytes.
#[inline]
pub fn op_at(ops: &[u8], p: usize) -> (Op, usize) {
    let b = ops[p];
    if b & 0x80 != 0 {
        let op = Op::Val {
            value: ((b >> 2) & 0x1f) + 1,
            len: (b & 0x3) as usize + 1,
        };
        (op, 1)
    } else if b & 0x40 != 0 {
        let lo = ops.get(p + 1).copied().unwrap_or(0) as usize;
        (Op::XZero((((b & 0x3f) as usize) << 8 | lo) + 1), 2)
    } else {
        (Op::Zero((b & 0x3f) as usize + 1), 1)
    }
}

/// Every opcode of `ops`, in order, as the debug decoder lists them.
pub fn ops(ops: &[u8]) -> impl Iterator<Item = Op> + '_ {
    let mut p = 0;
    std::iter::from_fn(move || {
        (p < ops.len()).then(|| {
            let (op, len) = op_at(ops, p);
            p += len;
            op
        })
    })
}

fn val_byte(value: u8, len: usize) -> u8 {
    0x80 | (value - 1) << 2 | (len - 1) as u8
}

/// Appends the ZERO or XZERO for `n` (1..=16384) zero registers.
fn push_zeros(seq: &mut Vec<u8>, n: usize) {
    if n > ZERO_MAX {
        seq.push(0x40 | ((n - 1) >> 8) as u8);
        seq.push(((n - 1) & 0xff) as u8);
    } else {
        seq.push((n - 1) as u8);
    }
}

/// A new, empty sparse HyperLogLog: the header and XZEROs for every register.
pub fn empty() -> Vec<u8> {
    let mut v = repr::header(repr::ENC_SPARSE).to_vec();
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX);
        push_zeros(&mut v, n);
        left -= n;
    }
    v
}

/// The register histogram of a sparse body and whether it covers exactly
/// 16384 registers (see the module comment for this reader's leniency).
pub fn histogram(body: &[u8]) -> ([u32; 64], bool) {
    let mut hist = [0u32; 64];
    let mut idx = 0usize;
    for op in ops(body) {
        let n = op.span();
        idx += n;
        let slot = match op {
            Op::Val { value, .. } => value as usize,
            _ => 0,
        };
        hist[slot] = hist[slot].wrapping_add(n as u32);
    }
    (hist, idx == REGISTERS)
}

/// Calls `f(register, value)` for every register a VAL sets, stopping at
/// the first opcode that would pass the last register; false unless the
/// opcodes cover exactly 16384 registers (Redis's `hllSparseToDense` and
/// `hllMerge`, as patched for CVE-2025-32023: an opcode past the end,
/// even after a complete body, makes the body corrupt).
pub fn for_each_value(body: &[u8], mut f: impl FnMut(usize, u8)) -> bool {
    let mut idx = 0usize;
    for op in ops(body) {
        let n = op.span();
        if idx + n > REGISTERS {
            return false;
        }
        if let Op::Val { value, len } = op {
            (idx..idx + len).for_each(|i| f(i, value));
        }
        idx += n;
    }
    idx == REGISTERS
}

/// Rewrites a sparse HyperLogLog as dense: the header kept (its encoding
/// byte changed), the registers decoded. False, and `buf` untouched, when
/// the body is invalid. A dense HyperLogLog is left as it is.
pub fn to_dense(buf: &mut impl HllBuf) -> bool {
    if repr::encoding(buf) == repr::Encoding::Dense {
        return true;
    }
    let mut regs = vec![0u8; repr::DENSE_SIZE - HDR];
    if !for_each_value(&buf[HDR..], |i, v| repr::set_register(&mut regs, i, v)) {
        return false;
    }
    buf.set_len(repr::DENSE_SIZE);
    buf[4] = repr::ENC_DENSE;
    buf[HDR..].copy_from_slice(&regs);
    true
}

/// What raising one sparse register did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Raised {
    /// The register already held as much.
    Unchanged,
    /// Raised (the HyperLogLog may now be dense).
    Raised,
    /// The body is corrupt.
    Invalid,
}

/// Raises register `index` to `count` in a sparse HyperLogLog, in place,
/// as Redis's `hllSparseSet` does byte for byte: the covering opcode is
/// split, adjacent equal VALs are merged, and the whole turns dense when
/// `count` is past what VAL holds or the string would pass `max_bytes`.
/// The cached cardinality is marked stale on a sparse update (the caller
/// does it after a promotion).
pub fn raise(buf: &mut impl HllBuf, index: usize, count: u8, max_bytes: usize) -> Raised {
    if count == 0 {
        return Raised::Unchanged;
    }
    if count > VAL_MAX_VALUE {
        return promote(buf, index, count);
    }
    // Find the opcode covering `index`, and the one before it.
    let len = buf.len();
    let (mut p, mut first, mut prev) = (HDR, 0usize, None);
    let mut found = None;
    while p < len {
        let (op, oplen) = op_at(buf, p);
        if index < first + op.span() {
            found = Some((op, oplen));
            break;
        }
        prev = Some(p);
        p += oplen;
        first += op.span();
    }
    let Some((op, oplen)) = found else {
        return Raised::Invalid;
    };
    let last = first + op.span() - 1;
    match op {
        Op::Val { value, .. } if value >= count => return Raised::Unchanged,
        Op::Val { len: 1, .. } | Op::Zero(1) => {
            buf[p] = val_byte(count, 1);
            merge_vals(buf, prev.unwrap_or(HDR));
            return Raised::Raised;
        }
        _ => {}
    }
    // Split the opcode: what precedes the register, the register, what follows.
    let mut seq = Vec::with_capacity(5);
    match op {
        Op::Val { value, .. } => {
            if index != first {
                seq.push(val_byte(value, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(value, last - index));
            }
        }
        Op::Zero(_) | Op::XZero(_) => {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        }
    }
    let delta = seq.len() as isize - oplen as isize;
    if delta > 0 && len + delta as usize > max_bytes {
        return promote(buf, index, count);
    }
    let new_len = (len as isize + delta) as usize;
    let next = p + oplen;
    // The opcode may be an XZERO cut short by the end: nothing follows it,
    // and its last new byte falls past the new end (as Redis's does).
    if delta > 0 {
        buf.set_len(new_len);
        if next < len {
            buf.copy_within(next..len, next + delta as usize);
        }
    } else if delta < 0 {
        if next < len {
            buf.copy_within(next..len, next - delta.unsigned_abs());
        }
        buf.set_len(new_len);
    }
    for (k, &b) in seq.iter().enumerate() {
        if let Some(slot) = buf.get_mut(p + k) {
            *slot = b;
        }
    }
    merge_vals(buf, prev.unwrap_or(HDR));
    Raised::Raised
}

/// Joins adjacent VALs of one value (up to 4 registers), looking at five
/// opcodes from `p`, then marks the cached cardinality stale.
fn merge_vals(buf: &mut impl HllBuf, mut p: usize) {
    let mut budget = 5;
    while p < buf.len() && budget > 0 {
        budget -= 1;
        let (op, oplen) = op_at(buf, p);
        let Op::Val { value, len } = op else {
            p += oplen;
            continue;
        };
        if p + 1 < buf.len() {
            if let (Op::Val { value: v2, len: l2 }, _) = op_at(buf, p + 1) {
                if v2 == value && len + l2 <= VAL_MAX_LEN {
                    buf[p + 1] = val_byte(value, len + l2);
                    let end = buf.len();
                    buf.copy_within(p + 1..end, p);
                    buf.set_len(end - 1);
                    continue;
                }
            }
        }
        p += 1;
    }
    repr::invalidate(buf);
}

/// The promotion: dense, then the register raised there.
fn promote(buf: &mut impl HllBuf, index: usize, count: u8) -> Raised {
    if !to_dense(buf) {
        return Raised::Invalid;
    }
    repr::raise_register(&mut buf[HDR..], index, count);
    Raised::Raised
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One byte per register, from a sparse body (None when invalid).
    fn decode(buf: &[u8]) -> Option<Vec<u8>> {
        let mut raw = vec![0u8; REGISTERS];
        for_each_value(&buf[HDR..], |i, v| raw[i] = v).then_some(raw)
    }

    #[test]
    fn empty_is_two_xzeros_worth() {
        let e = empty();
        assert_eq!(e.len(), HDR + 2);
        assert_eq!(&e[HDR..], &[0x7f, 0xff]);
        assert_eq!(ops(&e[HDR..]).collect::<Vec<_>>(), [Op::XZero(16384)]);
        assert!(histogram(&e[HDR..]).1);
    }

    #[test]
    fn truncated_xzero_reads_a_zero_byte() {
        assert_eq!(op_at(&[0x7f], 0), (Op::XZero(0x3f00 + 1), 2));
        let (_, ok) = histogram(&[0x7f]);
        assert!(!ok);
    }

    proptest! {
        /// Random register sets written through `raise` decode to the same
        /// registers, sparse or (after promotion) dense.
        #[test]
        fn sparse_and_dense_agree(
            sets in proptest::collection::vec((0..REGISTERS, 1u8..=40), 0..600),
            max_bytes in prop_oneof![Just(3000usize), 20usize..400],
        ) {
            let mut buf = empty();
            let mut want = vec![0u8; REGISTERS];
            for &(i, c) in &sets {
                let raised = match repr::encoding(&buf) {
                    repr::Encoding::Sparse => {
                        let r = raise(&mut buf, i, c, max_bytes);
                        prop_assert_ne!(r, Raised::Invalid);
                        r == Raised::Raised
                    }
                    repr::Encoding::Dense => repr::raise_register(&mut buf[HDR..], i, c.min(63)),
                };
                prop_assert_eq!(raised, c > want[i]);
                want[i] = want[i].max(c);
            }
            let got: Vec<u8> = match repr::encoding(&buf) {
                repr::Encoding::Sparse => {
                    prop_assert!(buf.len() <= max_bytes.max(HDR + 2));
                    prop_assert!(histogram(&buf[HDR..]).1);
                    decode(&buf).unwrap()
                }
                repr::Encoding::Dense => {
                    prop_assert_eq!(buf.len(), repr::DENSE_SIZE);
                    (0..REGISTERS).map(|i| repr::get_register(&buf[HDR..], i)).collect()
                }
            };
            prop_assert!(got == want, "registers differ");
            // A sparse result converts to the same dense registers.
            let mut dense = buf.clone();
            prop_assert!(to_dense(&mut dense));
            let regs: Vec<u8> = (0..REGISTERS).map(|i| repr::get_register(&dense[HDR..], i)).collect();
            prop_assert!(regs == want, "dense registers differ");
        }
    }
}
