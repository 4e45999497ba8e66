//! Conversions between Redis replies and Lua values, as Redis 7.0's
//! `redisProtocolToLuaType` and `luaReplyToRedisReply` make them.
//!
//! A command's reply reaches Lua as: integer → number, bulk → string, nil
//! bulk or array → false, status → `{ok=...}`, error → `{err=...}`, array →
//! table; and after `redis.setresp(3)`: map → `{map={...}}`, set →
//! `{set={...}}` (members → true), null → nil, boolean → boolean, double →
//! `{double=n}`, big number → `{big_number=s}`, verbatim string →
//! `{verbatim_string={format=..., string=...}}`.
//!
//! A script's return value becomes: string → bulk, number → integer
//! (truncated), boolean → 1 / nil (script in RESP2) or a boolean (RESP3),
//! `{err=}` → error, `{ok=}` → status, tables → arrays up to the first nil;
//! with RESP3 tables `{map=}`, `{set=}`, `{double=}`, `{big_number=}`,
//! `{verbatim_string=}`.

use crate::protocol::ReplyWriter;
use mlua::{Lua, Table, Value};

/// Parses the reply at the start of `b` into a Lua value; returns it and
/// the bytes it took. None when `b` is not one whole reply.
pub fn reply_to_lua(lua: &Lua, b: &[u8]) -> mlua::Result<(Value, usize)> {
    let line_end = b
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
    let line = &b[1..line_end];
    let after = line_end + 2;
    let num = |s: &[u8]| -> i64 {
        std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let status_table = |key: &str, text: &[u8]| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(key, lua.create_string(text)?)?;
        Ok(Value::Table(t))
    };
    Ok(match b[0] {
        b'+' => (status_table("ok", line)?, after),
        b'-' => (status_table("err", line)?, after),
        b':' => (Value::Number(num(line) as f64), after),
        b'$' | b'=' => {
            let n = num(line);
            if n < 0 {
                return Ok((Value::Boolean(false), after));
            }
            let body = b
                .get(after..after + n as usize)
                .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
            let v = if b[0] == b'=' {
                let t = lua.create_table()?;
                let (format, text) = body.split_at(body.len().min(3));
                t.raw_set("format", lua.create_string(format)?)?;
                t.raw_set(
                    "string",
                    lua.create_string(text.get(1..).unwrap_or_default())?,
                )?;
                let outer = lua.create_table()?;
                outer.raw_set("verbatim_string", t)?;
                Value::Table(outer)
            } else {
                Value::String(lua.create_string(body)?)
            };
            (v, after + n as usize + 2)
        }
        b'*' | b'~' | b'%' | b'>' => {
            let n = num(line);
            if n < 0 {
                return Ok((Value::Boolean(false), after));
            }
            let items = if b[0] == b'%' { n * 2 } else { n };
            let t = lua.create_table()?;
            let mut at = after;
            let mut last_key = Value::Nil;
            for i in 0..items {
                let (v, used) = reply_to_lua(lua, &b[at..])?;
                at += used;
                match b[0] {
                    b'%' if i % 2 == 0 => last_key = v,
                    b'%' => t.raw_set(std::mem::replace(&mut last_key, Value::Nil), v)?,
                    b'~' => t.raw_set(v, true)?,
                    _ => t.raw_set(i + 1, v)?,
                }
            }
            let v = match b[0] {
                b'%' | b'~' => {
                    let outer = lua.create_table()?;
                    outer.raw_set(if b[0] == b'%' { "map" } else { "set" }, t)?;
                    outer
                }
                _ => t,
            };
            (Value::Table(v), at)
        }
        b'_' => (Value::Nil, after),
        b'#' => (Value::Boolean(line == b"t"), after),
        b',' => {
            let t = lua.create_table()?;
            let d = std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0);
            t.raw_set("double", d)?;
            (Value::Table(t), after)
        }
        b'(' => (status_table("big_number", line)?, after),
        _ => return Err(mlua::Error::runtime("unknown reply type")),
    })
}

/// CR and LF become spaces, as Redis writes a status or error from Lua.
fn one_line(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

/// A status reply of `text` (any bytes but CR/LF).
fn status(reply: &mut ReplyWriter, text: &[u8]) {
    let mut line = Vec::with_capacity(text.len() + 3);
    line.push(b'+');
    line.extend(one_line(text));
    line.extend_from_slice(b"\r\n");
    reply.raw(&line);
}

/// The error text of a script's `{err=...}` value (without the `-`).
pub fn error_text(s: &[u8]) -> String {
    String::from_utf8_lossy(&one_line(s)).into_owned()
}

/// Writes a script's return value `v` as a reply. `script_resp3`: the
/// script called `redis.setresp(3)`. Errors inside nested tables are
/// written as error replies in place, as Redis does.
pub fn lua_to_reply(v: &Value, script_resp3: bool, reply: &mut ReplyWriter) {
    match v {
        Value::String(s) => reply.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                reply.boolean(*b)
            } else if *b {
                reply.int(1)
            } else {
                reply.null()
            }
        }
        Value::Integer(n) => reply.int(*n),
        Value::Number(n) => reply.int(*n as i64),
        Value::Table(t) => table_to_reply(t, script_resp3, reply),
        _ => reply.null(),
    }
}

fn table_to_reply(t: &Table, script_resp3: bool, reply: &mut ReplyWriter) {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(e) = field("err") {
        let text = error_text(&e.as_bytes());
        let mut line = Vec::with_capacity(text.len() + 3);
        line.push(b'-');
        line.extend_from_slice(text.as_bytes());
        line.extend_from_slice(b"\r\n");
        reply.raw(&line);
        return;
    }
    if let Value::String(s) = field("ok") {
        return status(reply, &s.as_bytes());
    }
    if let Value::Number(d) = field("double") {
        return reply.double(d);
    }
    if let Value::Integer(d) = field("double") {
        return reply.double(d as f64);
    }
    if let Value::String(s) = field("big_number") {
        let digits = one_line(&s.as_bytes());
        if !reply.resp3 {
            return reply.bulk(&digits);
        }
        let mut line = b"(".to_vec();
        line.extend(digits);
        line.extend_from_slice(b"\r\n");
        return reply.raw(&line);
    }
    if let Value::Table(m) = field("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().flatten().collect();
        reply.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply(k, script_resp3, reply);
            lua_to_reply(v, script_resp3, reply);
        }
        return;
    }
    if let Value::Table(s) = field("set") {
        let members: Vec<Value> = s
            .pairs::<Value, Value>()
            .flatten()
            .map(|(k, _)| k)
            .collect();
        reply.set(members.len());
        for m in &members {
            lua_to_reply(m, script_resp3, reply);
        }
        return;
    }
    if let Value::Table(v) = field("verbatim_string") {
        if let Ok(s) = v.raw_get::<mlua::String>("string") {
            return reply.verbatim(&s.as_bytes());
        }
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    reply.array(items.len());
    for v in &items {
        lua_to_reply(v, script_resp3, reply);
    }
}
