//! `cjson.decode`: lua-cjson's tokenizer and parser, iterative (no Rust
//! recursion however deep the document), with its error texts and
//! positions, `strtod`'s number syntax (hex, `inf`, `nan`, a leading `+`
//! while `decode_invalid_numbers` is on) and the depth and Lua-stack
//! limits. A NUL byte ends the document, as in C.

use super::{null, Config};
use crate::cmd::script::libcall::{Args, Fail, Ret, MAX_CSTACK};
use mlua::{Lua, Table, Value};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str => "T_STRING",
            Kind::Num => "T_NUMBER",
            Kind::Bool => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error => "T_ERROR",
        }
    }
}

struct Token {
    kind: Kind,
    index: usize,
    text: Vec<u8>,
    number: f64,
    truth: bool,
    /// The error's text (T_ERROR).
    error: &'static str,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    invalid_numbers: bool,
}

impl Parser<'_> {
    /// The byte at `i`; 0 past the end, as C's terminated string reads.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn token(&self, kind: Kind) -> Token {
        Token {
            kind,
            index: self.pos,
            text: Vec::new(),
            number: 0.0,
            truth: false,
            error: "",
        }
    }

    fn error(&self, mut t: Token, what: &'static str) -> Token {
        t.kind = Kind::Error;
        t.index = self.pos;
        t.error = what;
        t
    }

    fn next(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let c = self.at(self.pos);
        let single = match c {
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            _ => None,
        };
        let t = self.token(Kind::End);
        if c == 0 {
            return t;
        }
        if let Some(kind) = single {
            self.pos += 1;
            return Token { kind, ..t };
        }
        let rest = &self.data[self.pos..];
        match c {
            b'"' => self.string(t),
            b'-' | b'0'..=b'9' => {
                if !self.invalid_numbers && self.is_invalid_number() {
                    return self.error(t, "invalid number");
                }
                self.number(t)
            }
            _ if rest.starts_with(b"true") => {
                self.pos += 4;
                Token {
                    kind: Kind::Bool,
                    truth: true,
                    ..t
                }
            }
            _ if rest.starts_with(b"false") => {
                self.pos += 5;
                Token {
                    kind: Kind::Bool,
                    ..t
                }
            }
            _ if rest.starts_with(b"null") => {
                self.pos += 4;
                Token {
                    kind: Kind::Null,
                    ..t
                }
            }
            b'i' | b'I' | b'n' | b'N' | b'+'
                if self.invalid_numbers && self.is_invalid_number() =>
            {
                self.number(t)
            }
            _ => self.error(t, "invalid token"),
        }
    }

    /// lua-cjson's test for what strict JSON refuses but `strtod` takes.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..3).all(|i| self.at(p + i).to_ascii_lowercase() == w[i]);
        word(b"inf") || word(b"nan")
    }

    fn number(&mut self, t: Token) -> Token {
        match strtod(self.data, self.pos) {
            Some((n, end)) => {
                self.pos = end;
                Token {
                    kind: Kind::Num,
                    number: n,
                    ..t
                }
            }
            None => self.error(t, "invalid number"),
        }
    }

    fn string(&mut self, t: Token) -> Token {
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            let c = self.at(self.pos);
            if c == b'"' {
                break;
            }
            if c == 0 {
                return self.error(t, "unexpected end of string");
            }
            if c == b'\\' {
                let e = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 12,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode(&mut s) {
                            continue;
                        }
                        return self.error(t, "invalid unicode escape code");
                    }
                    _ => return self.error(t, "invalid escape code"),
                };
                s.push(e);
                self.pos += 2;
                continue;
            }
            s.push(c);
            self.pos += 1;
        }
        self.pos += 1;
        Token {
            kind: Kind::Str,
            text: s,
            ..t
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let d = (self.at(at + i) as char).to_digit(16)?;
            Some(acc << 4 | d)
        })
    }

    /// `\uXXXX` (a surrogate pair as one code point) as UTF-8.
    fn unicode(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 || self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        match char::from_u32(cp) {
            Some(ch) => {
                let mut b = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
            }
            // A lone low surrogate's code unit, as C's encoder writes it.
            None => out.extend_from_slice(&[
                (cp >> 12) as u8 | 0xE0,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]),
        }
        self.pos += len;
        true
    }
}

/// glibc's `strtod` at `start`: the value and where it stopped, or None
/// when no number starts there.
fn strtod(s: &[u8], start: usize) -> Option<(f64, usize)> {
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
    let v = mant as f64 * 2f64.powi(exp.clamp(-2000, 2000) as i32);
    (if neg { -v } else { v }, i)
}

/// A table being filled: an object and its key for the value to come, or
/// an array and the next index.
enum Frame {
    Object(Table, Option<Vec<u8>>),
    Array(Table, i64),
}

/// `cjson.decode(s)` with these settings.
pub fn decode_fn(lua: &Lua, cfg: &Config, a: &Args) -> Ret {
    if a.len() != 1 {
        return Err(Fail::arg(1, "expected 1 argument"));
    }
    let data = a.bytes(1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Fail::msg("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut p = Parser {
        data: &data,
        pos: 0,
        invalid_numbers: cfg.decode_invalid_numbers.get() != 0,
    };
    let lua_fail = |e: mlua::Error| Fail::msg(e.to_string());
    let throw = |expected: &str, t: &Token| {
        let found = if t.kind == Kind::Error {
            t.error
        } else {
            t.kind.name()
        };
        Fail::msg(format!(
            "Expected {expected} but found {found} at character {}",
            t.index + 1
        ))
    };
    let max_depth = cfg.decode_max_depth.get() as i64;
    let mut stack: Vec<Frame> = Vec::new();
    let mut used = 1usize;
    let mut tok = p.next();
    loop {
        // A value starts at `tok`.
        let mut v = match tok.kind {
            Kind::Str => Value::String(lua.create_string(&tok.text).map_err(lua_fail)?),
            Kind::Num => Value::Number(tok.number),
            Kind::Bool => Value::Boolean(tok.truth),
            Kind::Null => null(),
            Kind::ObjBegin | Kind::ArrBegin => {
                let object = tok.kind == Kind::ObjBegin;
                let depth = stack.len() as i64 + 1;
                let slots = if object { 3 } else { 2 };
                if depth > max_depth || used + slots > MAX_CSTACK {
                    return Err(Fail::msg(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        p.pos
                    )));
                }
                let t = lua.create_table().map_err(lua_fail)?;
                let next = p.next();
                let close = if object { Kind::ObjEnd } else { Kind::ArrEnd };
                if next.kind == close {
                    Value::Table(t)
                } else if object {
                    if next.kind != Kind::Str {
                        return Err(throw("object key string", &next));
                    }
                    let colon = p.next();
                    if colon.kind != Kind::Colon {
                        return Err(throw("colon", &colon));
                    }
                    stack.push(Frame::Object(t, Some(next.text)));
                    used += 2;
                    tok = p.next();
                    continue;
                } else {
                    stack.push(Frame::Array(t, 1));
                    used += 1;
                    tok = next;
                    continue;
                }
            }
            _ => return Err(throw("value", &tok)),
        };
        // Store it in its table; close the tables it completes.
        loop {
            match stack.last_mut() {
                None => {
                    let end = p.next();
                    if end.kind != Kind::End {
                        return Err(throw("the end", &end));
                    }
                    return Ok(vec![v]);
                }
                Some(Frame::Object(t, key)) => {
                    let k = lua
                        .create_string(key.take().unwrap_or_default())
                        .map_err(lua_fail)?;
                    t.raw_set(k, v).map_err(lua_fail)?;
                    let next = p.next();
                    if next.kind == Kind::ObjEnd {
                        v = Value::Table(t.clone());
                        stack.pop();
                        used -= 2;
                        continue;
                    }
                    if next.kind != Kind::Comma {
                        return Err(throw("comma or object end", &next));
                    }
                    let k = p.next();
                    if k.kind != Kind::Str {
                        return Err(throw("object key string", &k));
                    }
                    let colon = p.next();
                    if colon.kind != Kind::Colon {
                        return Err(throw("colon", &colon));
                    }
                    *key = Some(k.text);
                    tok = p.next();
                    break;
                }
                Some(Frame::Array(t, i)) => {
                    t.raw_set(*i, v).map_err(lua_fail)?;
                    *i += 1;
                    let next = p.next();
                    if next.kind == Kind::ArrEnd {
                        v = Value::Table(t.clone());
                        stack.pop();
                        used -= 1;
                        continue;
                    }
                    if next.kind != Kind::Comma {
                        return Err(throw("comma or array end", &next));
                    }
                    tok = p.next();
                    break;
                }
            }
        }
    }
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
        ];
        for &(s, v, end) in cases {
            assert_eq!(strtod(s.as_bytes(), 0), Some((v, end)), "{s}");
        }
        assert!(strtod(b"-", 0).is_none());
        assert!(strtod(b"nan(x)", 0).is_some_and(|(v, e)| v.is_nan() && e == 6));
    }
}
