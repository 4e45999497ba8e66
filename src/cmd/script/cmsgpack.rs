//! The `cmsgpack` library Redis's Lua has (lua-cmsgpack 0.4.0 as in Redis's
//! lua_cmsgpack.c): `pack(...)` (each argument packed, concatenated),
//! `unpack`, `unpack_one`, `unpack_limit`. Its table rule (keys exactly
//! 1..n: an array, else a map), its number rule (an integral number in the
//! int64 range as the smallest integer encoding, else float32 when that
//! loses nothing, else float64), tables nested 16 deep encoded as nil,
//! no bin or ext types, unsigned 64-bit values read back through a signed
//! cast, Lua's stack limit on results and nesting (emulated), error texts.
//! Decoding is iterative, so deep input costs no Rust stack.
//!
//! Differs from Redis: a table key under 2^-52 in magnitude (not zero)
//! packs as 0 (mlua reads such keys as the integer 0); a library table
//! (a read-only proxy here, host.rs) packs as an empty array.

use super::libcall::{
    self, c_i64, exact, lua_fail, next_pair, number_of, Args, Fail, Held, Key, ManyRet, Ret,
    MAX_CSTACK,
};
use mlua::{Function, Lua, Table, Value};

/// Tables nested deeper than this encode as nil (LUACMSGPACK_MAX_NESTING).
const MAX_NESTING: usize = 16;

/// Builds the `cmsgpack` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let next: Function = lua.globals().raw_get("next")?;
    t.raw_set(
        "pack",
        libcall::function(lua, move |lua, a| pack(lua, &next, a))?,
    )?;
    t.raw_set(
        "unpack",
        libcall::function_many(lua, |lua, a| {
            let s = a.bytes(1)?;
            unpack(lua, &s, 0, 0, a.len())
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        libcall::function_many(lua, |lua, a| {
            let offset = a.opt_integer(lua, 2, 0)?;
            let s = a.bytes(1)?;
            unpack(lua, &s, 1, offset, 1)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        libcall::function_many(lua, |lua, a| {
            let limit = a.integer(lua, 2)?;
            let offset = a.opt_integer(lua, 3, 0)?;
            let s = a.bytes(1)?;
            unpack(lua, &s, limit, offset, 1)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

fn pack(lua: &Lua, next: &Function, a: &Args) -> Ret {
    if a.len() == 0 {
        return Err(Fail::arg(0, "MessagePack pack needs input."));
    }
    // lua_checkstack(nargs) with the arguments on the stack.
    if 2 * a.len() > MAX_CSTACK {
        return Err(Fail::arg(0, "Too many arguments for MessagePack pack."));
    }
    let mut out = Vec::new();
    for i in 1..=a.len() {
        encode(lua, &mut out, next, a.get(i), 0)?;
    }
    Ok(vec![Value::String(
        lua.create_string(out).map_err(lua_fail)?,
    )])
}

/// Whether a double is exactly an int64 (lua-cmsgpack's test).
fn is_int64(n: f64) -> bool {
    !n.is_infinite() && c_i64(n) as f64 == n
}

/// Appends `v` at nesting `level`.
pub fn encode(
    lua: &Lua,
    out: &mut Vec<u8>,
    next: &Function,
    v: Value,
    level: usize,
) -> Result<(), Fail> {
    match v {
        Value::String(s) => bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => int(out, i),
        Value::Number(n) if is_int64(n) => int(out, n as i64),
        Value::Number(n) => {
            let f = n as f32;
            if f as f64 == n {
                out.push(0xca);
                out.extend_from_slice(&f.to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::Table(t) if level < MAX_NESTING => table(lua, out, next, t, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn table(
    lua: &Lua,
    out: &mut Vec<u8>,
    next: &Function,
    t: Table,
    level: usize,
) -> Result<(), Fail> {
    let lua_fail = |e: mlua::Error| Fail::msg(e.to_string());
    let (mut max, mut count, mut array) = (0f64, 0usize, true);
    t.for_each::<Value, Value>(|k, _| {
        count += 1;
        match number_of(&k) {
            Some(n) if n > 0.0 && n.fract() == 0.0 && n <= i32::MAX as f64 => max = max.max(n),
            _ => array = false,
        }
        Ok(())
    })
    .map_err(lua_fail)?;
    if array && max == count as f64 {
        let len = t.raw_len();
        header(out, len, 0x90, 0xdc, 0xdd);
        let plain = t.metatable().is_none();
        for j in 1..=len {
            let v = if plain {
                exact(
                    &t,
                    Value::Integer(j as i64),
                    t.raw_get(j).map_err(lua_fail)?,
                )
            } else {
                t.get::<Value>(j).map_err(lua_fail)?
            };
            encode(lua, out, next, v, level + 1)?;
        }
    } else {
        header(out, count, 0x80, 0xde, 0xdf);
        let mut key = Value::Nil;
        while let Some((k, v)) = next_pair(next, &t, key).map_err(lua_fail)? {
            let owned = Key::of(k.clone());
            encode(lua, out, next, k, level + 1)?;
            encode(lua, out, next, v, level + 1)?;
            key = owned.value(lua).map_err(lua_fail)?;
        }
    }
    Ok(())
}

/// An array or map header: fix (`fix | n` to 15), 16-bit, 32-bit.
fn header(out: &mut Vec<u8>, n: usize, fix: u8, m16: u8, m32: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(m16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn bytes(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2147483648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Why decoding stopped.
enum Stop {
    Eof,
    BadFormat,
    Fail(Fail),
}

impl From<Fail> for Stop {
    fn from(f: Fail) -> Stop {
        Stop::Fail(f)
    }
}

/// `luaL_checkstack` at `used` slots: room for `n` more.
fn check_stack(used: usize, n: usize, what: &str) -> Result<(), Stop> {
    if used + n > MAX_CSTACK {
        return Err(Stop::Fail(Fail::msg(format!("stack overflow ({what})"))));
    }
    Ok(())
}

/// A table being filled (held at its depth): elements left, and the next
/// index (array) or whether its key is read (map; held next to it).
enum Frame {
    Array(usize, i64),
    Map(usize, bool),
}

/// Decodes one value at `*p`; `used` counts the Lua stack slots the C
/// decoder would hold (the value left on it counted on return).
fn decode(lua: &Lua, s: &[u8], p: &mut usize, used: &mut usize) -> Result<Value, Stop> {
    let mut stack: Vec<Frame> = Vec::new();
    // Depth d's table at 2d - 1, a map's key read at 2d.
    let held = Held::new(lua)?;
    loop {
        let mut v = match scalar_or_open(lua, s, p, used)? {
            Ok(v) => v,
            Err((frame, t)) => {
                stack.push(frame);
                held.set(2 * stack.len() - 1, Value::Table(t))?;
                continue;
            }
        };
        // `v` is complete: store it in its table, closing full ones.
        loop {
            let depth = stack.len();
            let (left, t) = match stack.last_mut() {
                None => return Ok(v),
                Some(Frame::Map(_, read @ false)) => {
                    *read = true;
                    held.set(2 * depth, v)?;
                    break;
                }
                Some(Frame::Map(left, read)) => {
                    *read = false;
                    let k = held.get(2 * depth)?;
                    held.set(2 * depth, Value::Nil)?;
                    match &k {
                        Value::Nil => return Err(Fail::Raw(b"table index is nil".to_vec()).into()),
                        k if number_of(k).is_some_and(f64::is_nan) => {
                            return Err(Fail::Raw(b"table index is NaN".to_vec()).into())
                        }
                        _ => {}
                    }
                    let t = held.table(2 * depth - 1)?;
                    t.raw_set(k, v).map_err(lua_fail)?;
                    (left, t)
                }
                Some(Frame::Array(left, i)) => {
                    let t = held.table(2 * depth - 1)?;
                    t.raw_set(*i, v).map_err(lua_fail)?;
                    *i += 1;
                    (left, t)
                }
            };
            *used -= 2;
            *left -= 1;
            if *left == 0 {
                v = Value::Table(t);
                held.set(2 * depth - 1, Value::Nil)?;
                stack.pop();
                continue;
            }
            if matches!(stack.last(), Some(Frame::Array(..))) {
                *used += 1;
            }
            break;
        }
    }
}

/// Reads one item's header: a complete value, or a non-empty table's frame
/// (with the slots it holds counted).
fn scalar_or_open(
    lua: &Lua,
    s: &[u8],
    p: &mut usize,
    used: &mut usize,
) -> Result<Result<Value, (Frame, Table)>, Stop> {
    let left = s.len() - *p;
    let need = |n: usize| if left < n { Err(Stop::Eof) } else { Ok(()) };
    need(1)?;
    check_stack(
        *used,
        1,
        "too many return values at once; use unpack_one or unpack_limit instead.",
    )?;
    let at = |i: usize| s[*p + i];
    let be = |from: usize, n: usize| (0..n).fold(0u64, |acc, i| acc << 8 | s[*p + from + i] as u64);
    let c = at(0);
    let (v, len): (Value, usize) = match c {
        0xcc => (need(2).map(|_| Value::Number(at(1) as f64))?, 2),
        0xd0 => (need(2).map(|_| Value::Number(at(1) as i8 as f64))?, 2),
        0xcd => (need(3).map(|_| Value::Number(be(1, 2) as f64))?, 3),
        0xd1 => (
            need(3).map(|_| Value::Number(be(1, 2) as u16 as i16 as f64))?,
            3,
        ),
        0xce => (need(5).map(|_| Value::Number(be(1, 4) as f64))?, 5),
        0xd2 => (
            need(5).map(|_| Value::Number(be(1, 4) as u32 as i32 as f64))?,
            5,
        ),
        0xcf | 0xd3 => (need(9).map(|_| Value::Number(be(1, 8) as i64 as f64))?, 9),
        0xc0 => (Value::Nil, 1),
        0xc3 => (Value::Boolean(true), 1),
        0xc2 => (Value::Boolean(false), 1),
        0xca => (
            need(5).map(|_| Value::Number(f32::from_bits(be(1, 4) as u32) as f64))?,
            5,
        ),
        0xcb => (need(9).map(|_| Value::Number(f64::from_bits(be(1, 8))))?, 9),
        0xd9 | 0xda | 0xdb | 0xa0..=0xbf => {
            let (hdr, n) = match c {
                0xd9 => (2, need(2).map(|_| be(1, 1))?),
                0xda => (3, need(3).map(|_| be(1, 2))?),
                0xdb => (5, need(5).map(|_| be(1, 4))?),
                _ => (1, (c & 0x1f) as u64),
            };
            need(hdr + n as usize)?;
            let text = &s[*p + hdr..*p + hdr + n as usize];
            (
                Value::String(lua.create_string(text).map_err(lua_fail)?),
                hdr + n as usize,
            )
        }
        0xdc..=0xdf | 0x80..=0x9f => {
            let (hdr, n) = match c {
                0xdc | 0xde => (3, need(3).map(|_| be(1, 2))?),
                0xdd | 0xdf => (5, need(5).map(|_| be(1, 4))?),
                _ => (1, (c & 0xf) as u64),
            };
            let array = matches!(c, 0xdc | 0xdd | 0x90..=0x9f);
            *p += hdr;
            let t = lua.create_table().map_err(lua_fail)?;
            *used += 1;
            if array {
                check_stack(*used, 1, "in function mp_decode_to_lua_array")?;
            }
            if n == 0 {
                return Ok(Ok(Value::Table(t)));
            }
            if array {
                *used += 1;
                return Ok(Err((Frame::Array(n as usize, 1), t)));
            }
            return Ok(Err((Frame::Map(n as usize, false), t)));
        }
        0x00..=0x7f => (Value::Number(c as f64), 1),
        0xe0..=0xff => (Value::Number(c as i8 as f64), 1),
        _ => return Err(Stop::BadFormat),
    };
    *p += len;
    *used += 1;
    Ok(Ok(v))
}

/// lua-cmsgpack's `mp_unpack_full`: `limit` values (0 with offset 0: all,
/// and no offset answered) from byte `offset`; `used` is the arguments'
/// stack slots.
fn unpack(lua: &Lua, s: &[u8], limit: i64, offset: i64, used: usize) -> ManyRet {
    let len = s.len();
    let all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(Fail::msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(Fail::msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let limit = if all { i32::MAX as i64 } else { limit };
    let mut used = used;
    let mut p = offset as usize;
    let out = lua.create_table().map_err(lua_fail)?;
    // The offset goes first (unpack_one, unpack_limit).
    let first = if all { 0 } else { 1 };
    let mut count = first;
    while p < len && ((count - first) as i64) < limit {
        match decode(lua, s, &mut p, &mut used) {
            Ok(v) => {
                count += 1;
                out.raw_set(count, v).map_err(lua_fail)?;
            }
            Err(Stop::Eof) => return Err(Fail::msg("Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(Fail::msg("Bad data format in input.")),
            Err(Stop::Fail(f)) => return Err(f),
        }
    }
    if !all {
        if used + 1 > MAX_CSTACK {
            return Err(Fail::msg("stack overflow (in function mp_unpack_full)"));
        }
        let next = if p == len { -1 } else { p as i64 };
        out.raw_set(1, next).map_err(lua_fail)?;
    }
    Ok((out, count))
}
