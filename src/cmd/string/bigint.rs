//! Unsigned big integers, just enough for exact conversions between decimal
//! text and the x87 extended format in [`super::long_double`]: the values
//! there reach about 2^33000, so simple schoolbook algorithms are fast enough.
//!
//! Invariant: no leading (most significant) zero limbs; zero is the empty vector.

use std::cmp::Ordering;

/// A minimal unsigned big integer (little-endian 32-bit limbs, no leading zeros).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Big(pub Vec<u32>);

impl Big {
    pub fn from_u128(mut n: u128) -> Big {
        let mut v = Vec::new();
        while n != 0 {
            v.push(n as u32);
            n >>= 32;
        }
        Big(v)
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    pub fn bits(&self) -> i64 {
        match self.0.last() {
            None => 0,
            Some(top) => 32 * self.0.len() as i64 - top.leading_zeros() as i64,
        }
    }

    pub fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// self = self * m + a
    pub fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = a as u64;
        for limb in &mut self.0 {
            let t = *limb as u64 * m as u64 + carry;
            *limb = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    /// self /= d, returning the remainder.
    pub fn div_rem_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let cur = (rem << 32) | *limb as u64;
            *limb = (cur / d as u64) as u32;
            rem = cur % d as u64;
        }
        self.trim();
        rem as u32
    }

    pub fn shl(&self, n: i64) -> Big {
        if self.is_zero() {
            return Big(Vec::new());
        }
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        let mut v = vec![0u32; limbs];
        v.reserve(self.0.len() + 1);
        let mut carry = 0u32;
        for &l in &self.0 {
            if bits == 0 {
                v.push(l);
            } else {
                v.push((l << bits) | carry);
                carry = l >> (32 - bits);
            }
        }
        if carry != 0 {
            v.push(carry);
        }
        Big(v)
    }

    pub fn cmp(&self, o: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    pub fn add(&self, o: &Big) -> Big {
        let (a, b) = if self.0.len() >= o.0.len() {
            (self, o)
        } else {
            (o, self)
        };
        let mut v = Vec::with_capacity(a.0.len() + 1);
        let mut carry = 0u64;
        for (i, &x) in a.0.iter().enumerate() {
            let t = x as u64 + *b.0.get(i).unwrap_or(&0) as u64 + carry;
            v.push(t as u32);
            carry = t >> 32;
        }
        if carry != 0 {
            v.push(carry as u32);
        }
        Big(v)
    }

    /// self -= o, where self >= o.
    pub fn sub_assign(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let t = *limb as i64 - *o.0.get(i).unwrap_or(&0) as i64 - borrow;
            *limb = t.rem_euclid(1 << 32) as u32;
            borrow = (t < 0) as i64;
        }
        self.trim();
    }

    /// self /= d, returning the remainder.
    pub fn div_rem_u64(&mut self, d: u64) -> u64 {
        let mut rem = 0u128;
        for limb in self.0.iter_mut().rev() {
            let cur = (rem << 32) | *limb as u128;
            *limb = (cur / d as u128) as u32;
            rem = cur % d as u128;
        }
        self.trim();
        rem as u64
    }

    /// The low 128 bits.
    pub fn low_u128(&self) -> u128 {
        self.0
            .iter()
            .take(4)
            .rev()
            .fold(0u128, |acc, &l| (acc << 32) | l as u128)
    }

    /// The low 128 bits of `self >> n`.
    pub fn shr_low_u128(&self, n: i64) -> u128 {
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        let limb = |i: usize| *self.0.get(limbs + i).unwrap_or(&0) as u128;
        let mut v = 0u128;
        for i in (0..4).rev() {
            v = (v << 32) | limb(i);
        }
        let top = limb(4);
        (v >> bits) | if bits == 0 { 0 } else { top << (128 - bits) }
    }

    pub fn bit(&self, i: i64) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    /// True if any bit below bit `i` is set.
    pub fn any_below(&self, i: i64) -> bool {
        let (limbs, bits) = ((i / 32) as usize, (i % 32) as u32);
        self.0.iter().take(limbs).any(|&l| l != 0)
            || self
                .0
                .get(limbs)
                .is_some_and(|&l| bits > 0 && l & ((1u32 << bits) - 1) != 0)
    }

    /// 5^n
    pub fn pow5(n: u32) -> Big {
        let mut b = Big::from_u128(1);
        let mut left = n;
        while left > 0 {
            let k = left.min(13); // 5^13 < 2^32
            b.mul_add_small(5u32.pow(k), 0);
            left -= k;
        }
        b
    }

    pub fn to_decimal(&self) -> String {
        let mut chunks = Vec::new();
        let mut n = self.clone();
        while !n.is_zero() {
            chunks.push(n.div_rem_small(1_000_000_000));
        }
        let mut s = chunks
            .pop()
            .map_or_else(|| "0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

impl Big {
    /// a * b
    pub fn mul(a: &Big, b: &Big) -> Big {
        let mut v = vec![0u32; a.0.len() + b.0.len()];
        for (i, &x) in a.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &y) in b.0.iter().enumerate() {
                let t = v[i + j] as u64 + x as u64 * y as u64 + carry;
                v[i + j] = t as u32;
                carry = t >> 32;
            }
            v[i + b.0.len()] = carry as u32;
        }
        let mut r = Big(v);
        r.trim();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_bits() {
        let two_100 = Big::from_u128(1).shl(100);
        assert_eq!(two_100.to_decimal(), "1267650600228229401496703205376");
        assert_eq!(two_100.bits(), 101);
        assert!(two_100.bit(100) && !two_100.bit(99) && !two_100.any_below(100));
        assert_eq!(two_100.shr_low_u128(37), 1 << 63);
        let mut x = Big::mul(&Big::pow5(30), &Big::from_u128(3));
        assert_eq!(x.to_decimal(), "2793967723846435546875");
        assert_eq!(
            x.div_rem_u64(1 << 40),
            2793967723846435546875u128 as u64 % (1 << 40)
        );
        let mut y = two_100.add(&Big::from_u128(5));
        y.sub_assign(&two_100);
        assert_eq!(y, Big::from_u128(5));
        assert_eq!(Big::from_u128(0).to_decimal(), "0");
        assert_eq!(Big::from_u128(7).cmp(&Big::from_u128(9)), Ordering::Less);
    }
}
