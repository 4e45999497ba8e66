//! The `cjson` library Redis's Lua has (lua-cjson 2.1.0 as Redis bundles
//! it): `encode`, `decode` (cjson/decode.rs), `null`, the configuration
//! functions (`encode_sparse_array`, `encode_max_depth`, `decode_max_depth`,
//! `encode_number_precision`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`), `new`, `_NAME` and
//! `_VERSION`, with its number format (`%.14g`), escapes (`\/` included),
//! sparse-array rule, nesting limits (Lua's stack limit as well) and error
//! texts. Tables are walked in `next` order, as Redis walks them.
//!
//! Encoding and decoding are iterative (the tables being walked held in a
//! Lua table), so deep documents cost neither Rust stack nor mlua
//! references.
//!
//! Differs from Redis: a table key under 2^-52 in magnitude (not zero)
//! encodes as `0` (mlua reads such keys as the integer 0); the encode
//! buffer is never kept (`encode_keep_buffer` is only a setting); the
//! library tables are read-only proxies here (host.rs), so encoding one
//! of them (`cjson.encode(struct)`) gives `{}` where Redis walks it.

mod decode;
mod strtod;

use super::libcall::{
    self, exact, fmt_g, lua_fail, next_pair, number_of, type_name, Args, Fail, Held, Key, Ret,
    MAX_CSTACK,
};
use mlua::{Function, LightUserData, Lua, Table, Value};
use std::cell::Cell;
use std::rc::Rc;

/// One module table's settings (each `cjson.new()` has its own).
pub struct Config {
    sparse_convert: Cell<i32>,
    sparse_ratio: Cell<i32>,
    sparse_safe: Cell<i32>,
    encode_max_depth: Cell<i32>,
    decode_max_depth: Cell<i32>,
    /// 0 off, 1 on, 2 as `null`.
    encode_invalid_numbers: Cell<i32>,
    decode_invalid_numbers: Cell<i32>,
    encode_keep_buffer: Cell<i32>,
    precision: Cell<i32>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: Cell::new(0),
            sparse_ratio: Cell::new(2),
            sparse_safe: Cell::new(10),
            encode_max_depth: Cell::new(1000),
            decode_max_depth: Cell::new(1000),
            encode_invalid_numbers: Cell::new(0),
            decode_invalid_numbers: Cell::new(1),
            encode_keep_buffer: Cell::new(1),
            precision: Cell::new(14),
        }
    }
}

/// cjson.null: a NULL light userdata.
pub fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// Builds a `cjson` table with settings of its own.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let cfg = Rc::new(Config::default());
    let next: Function = lua.globals().raw_get("next")?;
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.raw_set(
        "encode",
        libcall::function(lua, move |lua, a| encode_fn(lua, &next, &c, a))?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        libcall::function(lua, move |lua, a| decode::decode_fn(lua, &c, a))?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        libcall::function(lua, move |lua, a| {
            arg_init(a, 3)?;
            let convert = enum_option(lua, a, 1, &c.sparse_convert, BOOL_OPTIONS)?;
            let ratio = integer_option(lua, a, 2, &c.sparse_ratio, 0, i32::MAX)?;
            let safe = integer_option(lua, a, 3, &c.sparse_safe, 0, i32::MAX)?;
            Ok(vec![convert, ratio, safe])
        })?,
    )?;
    type Field = fn(&Config) -> &Cell<i32>;
    let ints: [(&str, Field, i32, i32); 3] = [
        ("encode_max_depth", |c| &c.encode_max_depth, 1, i32::MAX),
        ("decode_max_depth", |c| &c.decode_max_depth, 1, i32::MAX),
        ("encode_number_precision", |c| &c.precision, 1, 14),
    ];
    for (name, field, min, max) in ints {
        let c = cfg.clone();
        let f = libcall::function(lua, move |lua, a| {
            arg_init(a, 1)?;
            Ok(vec![integer_option(lua, a, 1, field(&c), min, max)?])
        })?;
        t.raw_set(name, f)?;
    }
    let enums: [(&str, Field, &'static [&'static str]); 3] = [
        (
            "encode_keep_buffer",
            |c| &c.encode_keep_buffer,
            BOOL_OPTIONS,
        ),
        (
            "encode_invalid_numbers",
            |c| &c.encode_invalid_numbers,
            &["off", "on", "null"],
        ),
        (
            "decode_invalid_numbers",
            |c| &c.decode_invalid_numbers,
            BOOL_OPTIONS,
        ),
    ];
    for (name, field, options) in enums {
        let c = cfg.clone();
        let f = libcall::function(lua, move |lua, a| {
            arg_init(a, 1)?;
            Ok(vec![enum_option(lua, a, 1, field(&c), options)?])
        })?;
        t.raw_set(name, f)?;
    }
    t.raw_set(
        "new",
        libcall::function(lua, |lua, _| {
            library(lua)
                .map(|t| vec![Value::Table(t)])
                .map_err(|e| Fail::msg(e.to_string()))
        })?,
    )?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// At most `n` arguments (`found too many arguments`).
fn arg_init(a: &Args, n: usize) -> Result<(), Fail> {
    if a.len() > n {
        return Err(Fail::arg(n as i32 + 1, "found too many arguments"));
    }
    Ok(())
}

/// An integer setting: set from argument `i` when given (checked against
/// `min..=max`, the error naming argument 1 as lua-cjson's does); answers
/// the setting.
fn integer_option(
    lua: &Lua,
    a: &Args,
    i: usize,
    setting: &Cell<i32>,
    min: i32,
    max: i32,
) -> Result<Value, Fail> {
    if !matches!(a.get(i), Value::Nil) {
        let v = a.integer(lua, i)? as i32;
        if !(min <= v && v <= max) {
            return Err(Fail::arg(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        setting.set(v);
    }
    Ok(Value::Number(setting.get() as f64))
}

/// An enumerated setting (a boolean is off/on); answers a boolean for
/// off/on, else the option's name.
fn enum_option(
    lua: &Lua,
    a: &Args,
    i: usize,
    setting: &Cell<i32>,
    options: &[&str],
) -> Result<Value, Fail> {
    match a.get(i) {
        Value::Nil => {}
        Value::Boolean(b) => setting.set(b as i32),
        _ => {
            let name = a.bytes(i)?;
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(p) => setting.set(p as i32),
                None => {
                    let mut m = b"invalid option '".to_vec();
                    m.extend_from_slice(&name);
                    m.push(b'\'');
                    return Err(Fail::Arg(i as i32, m));
                }
            }
        }
    }
    let v = setting.get();
    if v == 0 || v == 1 {
        return Ok(Value::Boolean(v == 1));
    }
    let s = lua
        .create_string(options[v as usize])
        .map_err(|e| Fail::msg(e.to_string()))?;
    Ok(Value::String(s))
}

fn encode_fn(lua: &Lua, next: &Function, cfg: &Config, a: &Args) -> Ret {
    if a.len() != 1 {
        return Err(Fail::arg(1, "expected 1 argument"));
    }
    let out = encode(lua, next, cfg, a.get(1))?;
    Ok(vec![Value::String(
        lua.create_string(out).map_err(lua_fail)?,
    )])
}

/// A table being written: an array's next index and length, or an
/// object and the key written last (None before the first).
enum Frame {
    Array { next: usize, len: usize },
    Object { key: Option<Key> },
}

impl Frame {
    /// The Lua stack slots lua-cjson holds while writing its elements.
    fn slots(&self) -> usize {
        match self {
            Frame::Array { .. } => 1,
            Frame::Object { .. } => 2,
        }
    }
}

/// `cjson.encode(v)` with these settings, tables walked with `next`.
pub fn encode(lua: &Lua, next: &Function, cfg: &Config, v: Value) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // The tables being written, at their depths.
    let held = Held::new(lua)?;
    let mut used = 1;
    let mut pending = Some(v);
    loop {
        if let Some(v) = pending.take() {
            if let Some((frame, t)) = value(cfg, &mut out, v, stack.len() + 1, used)? {
                used += frame.slots();
                stack.push(frame);
                held.set(stack.len(), Value::Table(t))?;
            }
        }
        let depth = stack.len();
        let Some(top) = stack.last_mut() else {
            return Ok(out);
        };
        let t = &held.table(depth)?;
        match top {
            Frame::Array { next, len } => {
                if *next < *len {
                    if *next > 0 {
                        out.push(b',');
                    }
                    *next += 1;
                    let raw = t.raw_get::<Value>(*next).map_err(lua_fail)?;
                    pending = Some(exact(t, Value::Integer(*next as i64), raw));
                    continue;
                }
                out.push(b']');
            }
            Frame::Object { key } => {
                let first = key.is_none();
                let prev = match key {
                    Some(k) => k.value(lua).map_err(lua_fail)?,
                    None => Value::Nil,
                };
                if let Some((k, v)) = next_pair(next, t, prev).map_err(lua_fail)? {
                    if !first {
                        out.push(b',');
                    }
                    match &k {
                        Value::String(s) => {
                            string(&mut out, &s.as_bytes());
                            out.push(b':');
                        }
                        _ => match number_of(&k) {
                            Some(n) => {
                                out.push(b'"');
                                number(cfg, &mut out, n)?;
                                out.extend_from_slice(b"\":");
                            }
                            None => {
                                return Err(Fail::msg(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    type_name(&k)
                                )))
                            }
                        },
                    }
                    *key = Some(Key::of(k));
                    pending = Some(v);
                    continue;
                }
                out.push(b'}');
            }
        }
        if let Some(done) = stack.pop() {
            used -= done.slots();
            held.set(depth, Value::Nil)?;
        }
    }
}

/// Writes a scalar, or opens a table (answering its frame).
fn value(
    cfg: &Config,
    out: &mut Vec<u8>,
    v: Value,
    depth: usize,
    used: usize,
) -> Result<Option<(Frame, Table)>, Fail> {
    match v {
        Value::String(s) => string(out, &s.as_bytes()),
        Value::Integer(i) => number(cfg, out, i as f64)?,
        Value::Number(n) => number(cfg, out, n)?,
        Value::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            if depth > cfg.encode_max_depth.get() as usize || used + 3 > MAX_CSTACK {
                return Err(Fail::msg(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            return match array_length(cfg, &t)? {
                len if len > 0 => {
                    out.push(b'[');
                    let frame = Frame::Array {
                        next: 0,
                        len: len as usize,
                    };
                    Ok(Some((frame, t)))
                }
                _ => {
                    out.push(b'{');
                    Ok(Some((Frame::Object { key: None }, t)))
                }
            };
        }
        other => {
            return Err(Fail::msg(format!(
                "Cannot serialise {}: type not supported",
                type_name(&other)
            )))
        }
    }
    Ok(None)
}

/// lua-cjson's array test: the highest index (an int, as C converts it)
/// when every key is an integer >= 1 and the array is not excessively
/// sparse; -1 for an object.
fn array_length(cfg: &Config, t: &Table) -> Result<i32, Fail> {
    let (mut max, mut items, mut object) = (0i32, 0i32, false);
    t.for_each::<Value, Value>(|k, _| {
        if object {
            return Ok(());
        }
        match number_of(&k) {
            Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                if k > max as f64 {
                    max = if k < 2147483648.0 { k as i32 } else { i32::MIN };
                }
                items = items.wrapping_add(1);
            }
            _ => object = true,
        }
        Ok(())
    })
    .map_err(lua_fail)?;
    if object {
        return Ok(-1);
    }
    let ratio = cfg.sparse_ratio.get();
    if ratio > 0 && max > items.wrapping_mul(ratio) && max > cfg.sparse_safe.get() {
        if cfg.sparse_convert.get() == 0 {
            return Err(Fail::msg(
                "Cannot serialise table: excessively sparse array",
            ));
        }
        return Ok(-1);
    }
    Ok(max)
}

/// A number as lua-cjson writes it (`%.14g` at the set precision).
fn number(cfg: &Config, out: &mut Vec<u8>, n: f64) -> Result<(), Fail> {
    match cfg.encode_invalid_numbers.get() {
        0 if !n.is_finite() => {
            return Err(Fail::msg("Cannot serialise number: must not be NaN or Inf"))
        }
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !n.is_finite() => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    out.extend_from_slice(fmt_g(n, cfg.precision.get() as usize).as_bytes());
    Ok(())
}

/// A JSON string: `"`, `\`, `/`, control characters and DEL escaped.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}
