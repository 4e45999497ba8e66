//! Scores and ranges as Redis 7.0 reads them: `string2d` for ZADD-like
//! scores (the whole argument, no leading space, no overflow or underflow
//! to zero, no NaN), `strtod` for score bounds (`(` exclusive, leading
//! space allowed, overflow allowed), and `[`/`(`/`-`/`+` lex bounds; and
//! how a bound becomes a rank in a [`ZSet`].

use crate::cmd::error::CmdError;
use crate::shard::value::zset::ZSet;

/// `ERR min or max is not a float`
pub const BAD_SCORE_RANGE: CmdError = CmdError::Static("ERR min or max is not a float");
/// `ERR min or max not valid string range item`
pub const BAD_LEX_RANGE: CmdError = CmdError::Static("ERR min or max not valid string range item");
/// `ERR resulting score is not a number (NaN)`
pub const NAN_SCORE: CmdError = CmdError::Static("ERR resulting score is not a number (NaN)");

/// C's `isspace`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What `strtod` made of a whole string: the value and whether it set
/// `ERANGE` (overflow to infinity, or underflow to zero). None when the
/// string is not entirely one number (after optional leading space).
fn strtod_whole(s: &[u8]) -> Option<(f64, bool)> {
    let start = s.iter().position(|&b| !is_space(b))?;
    let t = &s[start..];
    let (neg, body) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    let special = match lower.as_slice() {
        b"inf" | b"infinity" => Some(f64::INFINITY),
        b"nan" => Some(f64::NAN),
        l if l.starts_with(b"nan(") && l.ends_with(b")") => {
            let inner = &l[4..l.len() - 1];
            inner
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .then_some(f64::NAN)
        }
        _ => None,
    };
    if let Some(v) = special {
        return Some((if neg { -v } else { v }, false));
    }
    if lower.starts_with(b"0x") {
        // Hex floats: as strtold reads them, then to double.
        let v = crate::cmd::string::long_double::parse(t)?;
        let d = crate::cmd::string::long_double::to_f64(v);
        return Some((d, d.is_infinite()));
    }
    // Decimal: digits [. digits] [e [sign] digits], one mantissa digit at least.
    let mut i = 0;
    let digits = |i: &mut usize| {
        let from = *i;
        while body.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    let mut mantissa = digits(&mut i);
    let mut nonzero = body[..i].iter().any(|&b| b != b'0');
    if body.get(i) == Some(&b'.') {
        i += 1;
        let from = i;
        mantissa += digits(&mut i);
        nonzero |= body[from..i].iter().any(|&b| b != b'0');
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(body.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(body.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if digits(&mut j) > 0 {
            i = j;
        }
    }
    if i != body.len() {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let v: f64 = text.parse().ok()?;
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    Some((if neg { -v } else { v }, erange))
}

/// What `strtod` reads from a whole string (leading space allowed) when it
/// does not set `ERANGE`; NaN included (SORT's weights).
pub fn c_strtod(s: &[u8]) -> Option<f64> {
    match strtod_whole(s) {
        Some((v, false)) => Some(v),
        _ => None,
    }
}

/// A score argument as Redis's `getDoubleFromObject` (`string2d`) reads it.
pub fn parse_score(s: &[u8]) -> Option<f64> {
    if s.first().is_none_or(|&b| is_space(b)) {
        return None;
    }
    match strtod_whole(s) {
        Some((v, false)) if !v.is_nan() => Some(v),
        _ => None,
    }
}

/// A score or `ERR value is not a valid float`.
pub fn score_arg(s: &[u8]) -> Result<f64, CmdError> {
    parse_score(s).ok_or(CmdError::NotFloat)
}

/// One end of a score range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

/// A score bound as `zslParseRange` reads it: `(` for exclusive, then
/// what `strtod` takes (an empty rest reads as 0, as in C).
fn parse_score_bound(s: &[u8]) -> Option<ScoreBound> {
    let (exclusive, rest) = match s.first() {
        Some(b'(') => (true, &s[1..]),
        _ => (false, s),
    };
    let value = if rest.is_empty() {
        0.0
    } else {
        strtod_whole(rest)?.0
    };
    (!value.is_nan()).then_some(ScoreBound { value, exclusive })
}

/// A `min max` score range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: ScoreBound,
    pub max: ScoreBound,
}

impl ScoreRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        match (parse_score_bound(min), parse_score_bound(max)) {
            (Some(min), Some(max)) => Ok(ScoreRange { min, max }),
            _ => Err(BAD_SCORE_RANGE),
        }
    }

    /// The ranks `start..end` of the members inside the range.
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let (min, max) = (self.min, self.max);
        if min.value > max.value || (min.value == max.value && (min.exclusive || max.exclusive)) {
            return (0, 0);
        }
        let start = z.score_rank(min.value, min.exclusive);
        let end = z.score_rank(max.value, !max.exclusive);
        (start, end.max(start))
    }
}

/// One end of a lex range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    fn parse(s: &[u8]) -> Option<LexBound> {
        match s {
            b"-" => Some(LexBound::Min),
            b"+" => Some(LexBound::Max),
            [b'[', rest @ ..] => Some(LexBound::Incl(rest.to_vec())),
            [b'(', rest @ ..] => Some(LexBound::Excl(rest.to_vec())),
            _ => None,
        }
    }

    /// Orders bounds as Redis's `sdscmplex`, and says whether it excludes
    /// its own value (`-` and `+` count as exclusive, as Redis parses them).
    fn key(&self) -> (u8, &[u8], bool) {
        match self {
            LexBound::Min => (0, &[], true),
            LexBound::Incl(v) => (1, v, false),
            LexBound::Excl(v) => (1, v, true),
            LexBound::Max => (2, &[], true),
        }
    }
}

/// A `min max` lex range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
        match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(BAD_LEX_RANGE),
        }
    }

    /// The ranks `start..end` of the members inside the range (scores all
    /// equal, as the lex commands require).
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let ((a, av, aex), (b, bv, bex)) = (self.min.key(), self.max.key());
        match (a, av).cmp(&(b, bv)) {
            std::cmp::Ordering::Greater => return (0, 0),
            std::cmp::Ordering::Equal if aex || bex => return (0, 0),
            _ => {}
        }
        let start = match &self.min {
            LexBound::Min => 0,
            LexBound::Max => z.len(),
            LexBound::Incl(v) => z.lex_rank(v, false),
            LexBound::Excl(v) => z.lex_rank(v, true),
        };
        let end = match &self.max {
            LexBound::Min => 0,
            LexBound::Max => z.len(),
            LexBound::Incl(v) => z.lex_rank(v, true),
            LexBound::Excl(v) => z.lex_rank(v, false),
        };
        (start, end.max(start))
    }
}

/// Redis's rank range (`start stop`, negative from the end) over `len`
/// members as half-open ranks; empty when nothing is inside.
pub fn rank_range(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let len_i = len as i64;
    let mut start = if start < 0 {
        start.saturating_add(len_i)
    } else {
        start
    };
    let mut stop = if stop < 0 {
        stop.saturating_add(len_i)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len_i {
        return (0, 0);
    }
    if stop >= len_i {
        stop = len_i - 1;
    }
    (start as usize, stop as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_as_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"1e5"), Some(1e5));
        assert_eq!(parse_score(b".5"), Some(0.5));
        assert_eq!(parse_score(b"5."), Some(5.0));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e",
            b"abc",
            b"1e400",
            b"1e-400",
            b"--1",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_score(b"0e-400"), Some(0.0));
    }

    #[test]
    fn bounds_parse_as_strtod() {
        let r = ScoreRange::parse(b"(1", b" 2").unwrap();
        assert!(r.min.exclusive && r.min.value == 1.0 && r.max.value == 2.0);
        assert_eq!(ScoreRange::parse(b"", b"(").unwrap().max.value, 0.0);
        assert_eq!(
            ScoreRange::parse(b"1e400", b"2").unwrap().min.value,
            f64::INFINITY
        );
        assert!(ScoreRange::parse(b"nan", b"1").is_err());
        assert!(ScoreRange::parse(b"1x", b"1").is_err());
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"--", b"+").is_err());
        assert_eq!(rank_range(-2, -1, 5), (3, 5));
        assert_eq!(rank_range(3, 1, 5), (0, 0));
        assert_eq!(rank_range(0, 100, 5), (0, 5));
        assert_eq!(rank_range(i64::MIN, i64::MAX, 5), (0, 5));
    }
}
