//! The cardinality estimate Redis 7.0 computes from a register histogram:
//! Otmar Ertl's improved estimator ("New cardinality estimation algorithms
//! for HyperLogLog sketches", arXiv:1702.01284) with its `sigma` and `tau`
//! series, evaluated in the same f64 operations in the same order as
//! Redis's `hllCount`, so both give the same integer for the same
//! registers.

use super::repr::{P, REGISTERS};

/// `0.5 / ln 2`, the estimator's limit constant.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1), summed until it stops
/// changing; infinite at 1.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

/// Ertl's tau(x), summed until it stops changing; 0 at 0 and 1.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        // Redis writes pow(1 - x, 2), which its compiler makes this product.
        let d = 1.0 - x;
        z -= d * d * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// The estimate from `hist[v]` = registers holding v. Values past
/// `64 - P + 1` (only corrupt dense strings have them) count toward the
/// register total alone, as in Redis.
pub fn estimate(hist: &[u32; 64]) -> u64 {
    const Q: usize = 64 - P as usize;
    let m = REGISTERS as f64;
    let mut z = m * tau((m - hist[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += hist[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(hist[0] as f64 / m);
    to_count(ALPHA_INF * m * m / z)
}

/// The estimate as Redis's x86-64 build turns it into an integer: rounded
/// half away from zero; what no i64 holds (an infinite estimate from a
/// corrupt string) becomes i64::MIN, read back as 2^63.
fn to_count(e: f64) -> u64 {
    let r = e.round();
    if r.is_finite() && r >= -(2f64.powi(63)) && r < 2f64.powi(63) {
        r as i64 as u64
    } else {
        1 << 63
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_edges() {
        let mut hist = [0u32; 64];
        hist[0] = REGISTERS as u32;
        assert_eq!(estimate(&hist), 0);
        let mut all_max = [0u32; 64];
        all_max[63] = REGISTERS as u32;
        assert_eq!(estimate(&all_max), 1 << 63);
    }
}
