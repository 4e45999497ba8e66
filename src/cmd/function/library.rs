//! A library's code, read as Redis 7.0 reads it: the `#!<engine>
//! name=<name>` line (split as Redis splits arguments), the checks on the
//! names, and `redis.register_function` in both of its forms, with Redis's
//! error texts in Redis's order.

use super::host::FunctionHost;
use super::registry::{FunctionInfo, Library, FLAG_NAMES};
use mlua::{Function, Lua, Value, Variadic};
use std::cell::RefCell;
use std::sync::Arc;

/// A function registered while a library loads.
pub struct Collected {
    pub info: FunctionInfo,
    pub callback: Function,
}

thread_local! {
    /// The functions registered by the library loading now (None: no load
    /// is running, so `redis.register_function` is refused).
    static COLLECTING: RefCell<Option<Vec<Collected>>> = const { RefCell::new(None) };
}

/// Runs `f` (a library's load) collecting what it registers.
pub fn collecting<R>(f: impl FnOnce() -> R) -> (R, Vec<Collected>) {
    let outer = COLLECTING.with(|c| c.replace(Some(Vec::new())));
    let r = f();
    let collected = COLLECTING.with(|c| c.replace(outer)).unwrap_or_default();
    (r, collected)
}

/// The text of a load's error: an error table's `err`, or `ERR` and the
/// message (Redis runs the load with no error handler).
pub fn load_error_text(e: &Value) -> String {
    match e {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => s.to_string_lossy().to_string(),
            _ => "ERR unknown error".to_string(),
        },
        Value::String(s) => format!("ERR {}", s.to_string_lossy()),
        other => format!("ERR {}", other.to_string().unwrap_or_default()),
    }
}

/// Whether `name` is a valid library or function name: letters, digits
/// and `_`, at least one.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// `redis.register_function(...)` (called by the environment's Lua side
/// with the argument count first): None when registered, else the error
/// text the Lua side raises as `{err = text}`.
pub fn register_function(
    lua: &Lua,
    (argc, args): (usize, Variadic<Value>),
) -> mlua::Result<Option<String>> {
    if COLLECTING.with(|c| c.borrow().is_none()) {
        return Ok(Some(
            "ERR redis.register_function can only be called on FUNCTION LOAD command".into(),
        ));
    }
    let read = match argc {
        1 => named_args(lua, &args[0]),
        2 => positional_args(lua, &args[0], &args[1]),
        _ => Err("wrong number of arguments to redis.register_function"),
    };
    let (name, description, callback, flags) = match read {
        Ok(r) => r,
        Err(e) => return Ok(Some(format!("ERR {e}"))),
    };
    if !valid_name(&name) {
        return Ok(Some(format!("ERR {BAD_NAME}")));
    }
    let name = String::from_utf8_lossy(&name).into_owned();
    let duplicate = COLLECTING.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|v| v.iter().any(|f| f.info.name == name))
    });
    if duplicate {
        return Ok(Some("ERR Function already exists in the library".into()));
    }
    COLLECTING.with(|c| {
        if let Some(v) = c.borrow_mut().as_mut() {
            v.push(Collected {
                info: FunctionInfo {
                    name,
                    description,
                    flags,
                },
                callback,
            });
        }
    });
    Ok(None)
}

type Registration = (Vec<u8>, Option<Vec<u8>>, Function, u32);

/// A value Lua's `lua_isstring` accepts (a string or a number), as bytes
/// (a number as Lua prints it).
fn string_of(lua: &Lua, v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec()),
        _ => None,
    }
}

fn positional_args(
    lua: &Lua,
    name: &Value,
    callback: &Value,
) -> Result<Registration, &'static str> {
    let name =
        string_of(lua, name).ok_or("first argument to redis.register_function must be a string")?;
    let Value::Function(f) = callback else {
        return Err("second argument to redis.register_function must be a function");
    };
    Ok((name, None, f.clone(), 0))
}

fn named_args(lua: &Lua, table: &Value) -> Result<Registration, &'static str> {
    let Value::Table(t) = table else {
        return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    };
    let (mut name, mut description, mut callback, mut flags) = (None, None, None, 0);
    for pair in t.clone().pairs::<Value, Value>() {
        let Ok((k, v)) = pair else {
            return Err("unknown argument given to redis.register_function");
        };
        let key = string_of(lua, &k)
            .ok_or("named argument key given to redis.register_function is not a string")?;
        let key = String::from_utf8_lossy(&key).to_ascii_lowercase();
        match key.as_str() {
            "function_name" => {
                name = Some(string_of(lua, &v).ok_or(
                    "function_name argument given to redis.register_function must be a string",
                )?)
            }
            "description" => {
                description = Some(string_of(lua, &v).ok_or(
                    "description argument given to redis.register_function must be a string",
                )?)
            }
            "callback" => match v {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return Err(
                        "callback argument given to redis.register_function must be a function",
                    )
                }
            },
            "flags" => {
                let Value::Table(list) = v else {
                    return Err("flags argument to redis.register_function must be a table representing function flags");
                };
                flags = read_flags(lua, &list).ok_or("unknown flag given")?;
            }
            _ => return Err("unknown argument given to redis.register_function"),
        }
    }
    let name = name.ok_or("redis.register_function must get a function name argument")?;
    let callback = callback.ok_or("redis.register_function must get a callback argument")?;
    Ok((name, description, callback, flags))
}

/// The flags of a `flags` table (its array part, up to the first nil);
/// None for one Redis does not know.
fn read_flags(lua: &Lua, list: &mlua::Table) -> Option<u32> {
    let mut flags = 0;
    for i in 1.. {
        let v: Value = list.get(i).ok()?;
        if v.is_nil() {
            break;
        }
        let text = string_of(lua, &v)?;
        let at = FLAG_NAMES
            .iter()
            .position(|f| f.as_bytes().eq_ignore_ascii_case(&text))?;
        flags |= 1 << at;
    }
    Some(flags)
}

/// What a library's first line declares.
struct Metadata {
    engine: Vec<u8>,
    name: Vec<u8>,
}

/// Reads the `#!<engine> name=<name>` line; Redis's error texts.
fn metadata(code: &[u8]) -> Result<Metadata, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    // Like C's strchr on the code, a NUL before the newline ends the line.
    let line = &code[..end];
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let mut buf = Vec::new();
    let mut spans = Vec::new();
    if crate::protocol::parser::split_args(line, &mut buf, &mut spans).is_err() || spans.is_empty()
    {
        return Err("Invalid library metadata".into());
    }
    let parts: Vec<&[u8]> = spans
        .iter()
        .map(|s| {
            let at = (s.start & !crate::protocol::args::INLINE_BIT) as usize;
            &buf[at..at + s.len as usize]
        })
        .collect();
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let name = name.ok_or("Library name was not given")?;
    Ok(Metadata { engine, name })
}

/// The code after the `#!` line, from its newline on (so line numbers
/// stay those of the whole code).
pub fn body_of(code: &[u8]) -> &[u8] {
    let end = code.iter().position(|&b| b == b'\n').unwrap_or(code.len());
    &code[end..]
}

/// Checks and runs `code` as FUNCTION LOAD does, on this core's function
/// state: the library it defines, or Redis's error text (without `ERR `).
/// With `refuse_loaded`, a library of that name already loaded is refused
/// before its code runs, as Redis checks it; whether its functions clash
/// with loaded ones is the registry's to say (registry.rs `join`).
pub fn load(code: &[u8], refuse_loaded: bool) -> Result<Library, String> {
    let md = metadata(code)?;
    if !valid_name(&md.name) {
        return Err(BAD_NAME.into());
    }
    if !md.engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "Engine '{}' not found",
            String::from_utf8_lossy(&md.engine)
        ));
    }
    let name = String::from_utf8_lossy(&md.name).into_owned();
    if refuse_loaded && super::registry::current().libraries.contains_key(&name) {
        return Err(format!("Library '{name}' already exists"));
    }
    let collected =
        FunctionHost::with(|h| Ok(h.load(body_of(code)))).map_err(|e| e.to_string())??;
    if collected.is_empty() {
        return Err("No functions registered".into());
    }
    Ok(Library {
        name,
        code: Arc::from(code),
        functions: collected.into_iter().map(|c| c.info).collect(),
    })
}
