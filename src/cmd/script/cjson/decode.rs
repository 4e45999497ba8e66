//! `cjson.decode`: lua-cjson's tokenizer and parser, iterative (no Rust
//! recursion however deep the document), with its error texts and
//! positions, `strtod`'s number syntax (strtod.rs: hex, `inf`, `nan`, a
//! leading `+` while `decode_invalid_numbers` is on) and the depth and
//! Lua-stack limits. A NUL byte ends the document, as in C.

use super::strtod::strtod;
use super::{null, Config};
use crate::cmd::script::libcall::{Args, Fail, Held, Ret, MAX_CSTACK};
use mlua::{Lua, Value};

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
        // Never a surrogate (refused above), never past U+10FFFF.
        let Some(ch) = char::from_u32(cp) else {
            return false;
        };
        let mut b = [0; 4];
        out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
        self.pos += len;
        true
    }
}

/// A table being filled (held at its depth): an object and its key for
/// the value to come, or an array and the next index.
enum Frame {
    Object(Option<Vec<u8>>),
    Array(i64),
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
    let held = Held::new(lua)?;
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
                    stack.push(Frame::Object(Some(next.text)));
                    held.set(stack.len(), Value::Table(t))?;
                    used += 2;
                    tok = p.next();
                    continue;
                } else {
                    stack.push(Frame::Array(1));
                    held.set(stack.len(), Value::Table(t))?;
                    used += 1;
                    tok = next;
                    continue;
                }
            }
            _ => return Err(throw("value", &tok)),
        };
        // Store it in its table; close the tables it completes.
        loop {
            let depth = stack.len();
            match stack.last_mut() {
                None => {
                    let end = p.next();
                    if end.kind != Kind::End {
                        return Err(throw("the end", &end));
                    }
                    return Ok(vec![v]);
                }
                Some(Frame::Object(key)) => {
                    let t = held.table(depth)?;
                    let k = lua
                        .create_string(key.take().unwrap_or_default())
                        .map_err(lua_fail)?;
                    t.raw_set(k, v).map_err(lua_fail)?;
                    let next = p.next();
                    if next.kind == Kind::ObjEnd {
                        v = Value::Table(t);
                        held.set(depth, Value::Nil)?;
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
                Some(Frame::Array(i)) => {
                    let t = held.table(depth)?;
                    t.raw_set(*i, v).map_err(lua_fail)?;
                    *i += 1;
                    let next = p.next();
                    if next.kind == Kind::ArrEnd {
                        v = Value::Table(t);
                        held.set(depth, Value::Nil)?;
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
