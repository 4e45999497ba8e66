//! The exact texts GEO replies and errors carry: coordinates, distances,
//! hashes and the invalid-position error.
//!
//! Redis prints a coordinate with `addReplyHumanLongDouble`: the double is
//! widened (exactly) to the x87 `long double` and printed `%.17Lf` with
//! trailing zeros trimmed, which [`long_double::format_human`] already
//! emulates. In RESP2 the text goes in a bulk string, in RESP3 in a double
//! (`,`) reply; the digits are the same. A distance is `fixedpoint_d2string`
//! with 4 decimals: rounded to an integer of ten-thousandths by `llrint`
//! (ties to even), not printf's rounding of the exact binary value.

use crate::cmd::string::long_double::{self, Ext};
use crate::cmd::CmdError;

/// 2^63: the `i64` range is `[-TWO_63, TWO_63)`; NaN is in no range.
const TWO_63: f64 = (1u64 << 63) as f64;

/// The exact x87 extended value of a finite double (`None` for NaN and the
/// infinities).
fn widen(x: f64) -> Option<Ext> {
    if !x.is_finite() {
        return None;
    }
    let bits = x.to_bits();
    let neg = bits >> 63 == 1;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (m, e) = if exp == 0 {
        (frac, -1074) // zero or subnormal
    } else {
        (frac | (1 << 52), exp - 1075)
    };
    Some(Ext::Finite { neg, m, e })
}

/// A coordinate as GEOPOS and WITHCOORD print it, e.g. `13.36138933897018433`
/// or `180`. Coordinates are always finite; a non-finite input gives what
/// glibc prints for it (`inf`, `-inf`, `nan` or `-nan`).
pub fn coord(x: f64) -> String {
    match widen(x).and_then(long_double::format_human) {
        Some(s) => s,
        None if x.is_nan() => if x.is_sign_negative() { "-nan" } else { "nan" }.to_string(),
        None => if x < 0.0 { "-inf" } else { "inf" }.to_string(),
    }
}

/// C's `llrint` on x86-64: round half to even; NaN and what does not fit an
/// `i64` give `i64::MIN` (the instruction's "integer indefinite").
fn llrint(x: f64) -> i64 {
    let r = x.round_ties_even();
    if !(-TWO_63..TWO_63).contains(&r) {
        i64::MIN
    } else {
        r as i64
    }
}

/// A distance as GEODIST and WITHDIST print it: 4 decimals, e.g. `166274.1516`
/// or `0.0000` (Redis `addReplyDoubleDistance`). A NaN distance (possible for
/// nearly antipodal points) prints as Redis prints it: `-922337203685477.5808`.
pub fn distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".to_string();
    }
    let v = llrint(d * 10000.0);
    let digits = v.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 3);
    if v < 0 {
        out.push('-');
    }
    if digits.len() <= 4 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', 4 - digits.len()));
        out.push_str(&digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - 4);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// WITHHASH's integer: the member's score as C's `(long long)` conversion
/// gives it (truncation; out of range gives `i64::MIN`).
pub fn hash_integer(score: f64) -> i64 {
    if !(-TWO_63..TWO_63).contains(&score) {
        i64::MIN
    } else {
        score as i64
    }
}

/// GEOADD's (and FROMLONLAT's) error for a position outside the limits:
/// `ERR invalid longitude,latitude pair <lon>,<lat>`, each `%f` (6 decimals;
/// Rust's exact formatting rounds ties to even as glibc does).
pub fn invalid_pair(lon: f64, lat: f64) -> CmdError {
    CmdError::Msg(format!(
        "ERR invalid longitude,latitude pair {},{}",
        printf_f(lon),
        printf_f(lat)
    ))
}

/// `%f`: finite values with 6 decimals, the infinities as `inf`/`-inf`.
fn printf_f(x: f64) -> String {
    if x.is_nan() {
        if x.is_sign_negative() { "-nan" } else { "nan" }.to_string()
    } else {
        format!("{x:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn coordinates() {
        assert_eq!(coord(180.0), "180");
        assert_eq!(coord(-0.0), "0");
        assert_eq!(coord(0.0), "0");
        assert_eq!(coord(85.05112878), "85.0511287799999991");
        assert_eq!(coord(0.00000126736058093), "0.00000126736058093");
        assert_eq!(coord(5e-324), "0");
        assert_eq!(coord(f64::INFINITY), "inf");
    }

    #[test]
    fn distances() {
        assert_eq!(distance(0.0), "0.0000");
        assert_eq!(distance(0.0001), "0.0001");
        assert_eq!(distance(6.064_295_159_839_17e-5), "0.0001");
        assert_eq!(distance(0.01), "0.0100");
        assert_eq!(distance(-0.01), "-0.0100");
        assert_eq!(distance(0.00004), "0.0000");
        assert_eq!(distance(20020733.62019), "20020733.6202");
        assert_eq!(distance(0.00025), "0.0002"); // 2.5 to even
        assert_eq!(distance(f64::NAN), "-922337203685477.5808");
        assert_eq!(distance(1e300), "-922337203685477.5808");
    }

    #[test]
    fn hashes() {
        assert_eq!(hash_integer(3471579339700058.0), 3471579339700058);
        assert_eq!(hash_integer(-1.5), -1);
        assert_eq!(hash_integer(1e30), i64::MIN);
    }

    #[test]
    fn invalid_pairs_like_redis() {
        let fx = fixture::load();
        assert!(fx.errors.len() >= 10);
        for e in &fx.errors {
            let lon: f64 = fixture::parse_strtod(&e.lon_arg);
            let lat: f64 = fixture::parse_strtod(&e.lat_arg);
            assert!(super::super::hash::encode(lon, lat).is_none());
            assert_eq!(invalid_pair(lon, lat).to_string(), e.reply);
        }
    }
}
