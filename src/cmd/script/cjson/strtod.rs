//! glibc's `strtod` as lua-cjson's decoder calls it: decimal (correctly
//! rounded), hexadecimal (`0x1.8p3`), `inf`/`infinity`, `nan`/`nan(...)`,
//! an optional sign.

/// glibc's `strtod` at `start`: the value and where it stopped, or None
/// when no number starts there.
pub fn strtod(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let ci = |i: usize, w: &[u8]| {
        w.iter()
            .enumerate()
            .all(|(j, &c)| at(i + j).to_ascii_lowercase() == c)
    };
    let mut i = start;
    let neg = match at(i) {
        b'-' => {
            i += 1;
            true
        }
        b'+' => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |x: f64| if neg { -x } else { x };
    if ci(i, b"inf") {
        i += if ci(i + 3, b"inity") { 8 } else { 3 };
        return Some((sign(f64::INFINITY), i));
    }
    if ci(i, b"nan") {
        i += 3;
        if at(i) == b'(' {
            let mut j = i + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                i = j + 1;
            }
        }
        return Some((sign(f64::NAN), i));
    }
    let hex = |c: u8| (c as char).is_ascii_hexdigit();
    if at(i) == b'0'
        && at(i + 1) | 0x20 == b'x'
        && (hex(at(i + 2)) || (at(i + 2) == b'.' && hex(at(i + 3))))
    {
        return Some(hex_float(s, i + 2, neg));
    }
    let digits_from = i;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let text = std::str::from_utf8(&s[digits_from..i]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((sign(v), i))
}

/// A hexadecimal float's digits from `i` (after `0x`).
fn hex_float(s: &[u8], mut i: usize, neg: bool) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let (mut mant, mut exp, mut sticky) = (0u128, 0i64, false);
    let mut add = |d: u32, exp: &mut i64, frac: bool| {
        if mant >> 120 == 0 {
            mant = mant << 4 | d as u128;
            if frac {
                *exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !frac {
                *exp += 4;
            }
        }
    };
    while let Some(d) = (at(i) as char).to_digit(16) {
        add(d, &mut exp, false);
        i += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while let Some(d) = (at(i) as char).to_digit(16) {
            add(d, &mut exp, true);
            i += 1;
        }
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let eneg = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut e = 0i64;
            while at(j).is_ascii_digit() {
                e = (e * 10 + (at(j) - b'0') as i64).min(1 << 20);
                j += 1;
            }
            exp += if eneg { -e } else { e };
            i = j;
        }
    }
    if sticky {
        mant |= 1;
    }
    let mut v = mant as f64;
    let mut exp = exp.clamp(-3000, 3000);
    while !(-900..=900).contains(&exp) {
        let step = exp.clamp(-900, 900);
        v *= 2f64.powi(step as i32);
        exp -= step;
    }
    v *= 2f64.powi(exp as i32);
    (if neg { -v } else { v }, i)
}

#[cfg(test)]
mod tests {
    use super::strtod;

    #[test]
    fn strtod_reads_what_glibc_reads() {
        let cases: &[(&str, f64, usize)] = &[
            ("1.5e3x", 1500.0, 5),
            ("-0x10", -16.0, 5),
            ("0x1p3", 8.0, 5),
            ("0x", 0.0, 1),
            ("1e", 1.0, 1),
            ("+7", 7.0, 2),
            ("Infinity", f64::INFINITY, 8),
            ("-inf", f64::NEG_INFINITY, 4),
            ("007", 7.0, 3),
            ("0x1p-1074", 5e-324, 9),
        ];
        for &(s, v, end) in cases {
            assert_eq!(strtod(s.as_bytes(), 0), Some((v, end)), "{s}");
        }
        assert!(strtod(b"-", 0).is_none());
        assert!(strtod(b"nan(x)", 0).is_some_and(|(v, e)| v.is_nan() && e == 6));
    }
}
