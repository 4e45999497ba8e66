//! Each executor's Lua 5.1 state, set up as Redis 7.0 sets up its own: the
//! base, table, string, math and debug libraries without `print`,
//! `loadfile` and `dofile`; the `redis` table; globals that cannot be
//! created or read when missing (`Script attempted to access nonexistent
//! global variable`), library tables that cannot be changed; an error
//! handler that records where the error happened (`on @user_script:N`).
//!
//! A script is compiled once per core into a function named by its SHA-1
//! (from the shared bodies of cache.rs) and run by [`Host::run`], which
//! hands `redis.call`/`redis.pcall` a Rust function that borrows the
//! command's shard for that run only.

use super::cache::{self, Sha};
use crate::cmd::error::CmdError;
use hashbrown::HashMap;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use std::cell::RefCell;

/// The Lua side of the set-up: the error handler, `redis.call` and
/// `redis.pcall` over the run's hook, the protections. Chunk `=ringkv`, so
/// the error handler can skip its frames.
const PRELUDE: &str = r#"
local dbg = debug
local hooks, raising_call = ...
local function where(level)
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '=ringkv') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  return i
end
local function handler(err)
  local i = where(3)
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
hooks.run = function(f) return xpcall(f, handler) end
hooks.run_with = function(f, keys, args)
  return xpcall(function() return f(keys, args) end, handler)
end
redis = {}
redis.call = raising_call
redis.pcall = function(...)
  return (hooks.call(...))
end
redis.error_reply = function(e)
  if type(e) ~= 'string' then error('wrong number or type of arguments', 0) end
  return {err = e}
end
redis.status_reply = function(s)
  if type(s) ~= 'string' then error('wrong number or type of arguments', 0) end
  return {ok = s}
end
redis.sha1hex = function(s)
  if s == nil then error('wrong number of arguments', 0) end
  return hooks.sha1hex(tostring(s))
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.log = function(level, ...)
  if select('#', ...) < 1 then error('redis.log() requires two arguments or more.', 0) end
  if type(level) ~= 'number' then error('First argument must be a number (log level).', 0) end
  if level < 0 or level > 3 then error('Invalid debug level.', 0) end
  local parts = {}
  for i = 1, select('#', ...) do parts[i] = tostring((select(i, ...))) end
  hooks.log(level, table.concat(parts, ' '))
end
redis.setresp = function(v)
  if v == nil then error('redis.setresp() requires one argument.', 0) end
  if v ~= 2 and v ~= 3 then error('RESP version must be 2 or 3.', 0) end
  hooks.resp = v
end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.set_repl = function(flags)
  if flags == nil then error('redis.set_repl() requires two arguments.', 0) end
  if type(flags) ~= 'number' or flags < 0 or flags > 3 then
    error('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.', 0)
  end
end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.REDIS_VERSION = '7.0.15'
redis.REDIS_VERSION_NUM = 458767
print, loadfile, dofile = nil, nil, nil

-- Redis's math.random: its own drand48 sequence (hooks.rand), one per
-- server, unaffected by anything but math.randomseed.
local rand, floor, ceil = hooks.rand, math.floor, math.ceil
local function int_arg(v, n)
  if type(v) ~= 'number' then
    error("bad argument #" .. n .. " to 'random' (number expected, got " .. type(v) .. ")", 3)
  end
  if v < 0 then return ceil(v) end
  return floor(v)
end
math.random = function(...)
  local r = rand()
  local n = select('#', ...)
  if n == 0 then return r end
  if n == 1 then
    local u = int_arg((...), 1)
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  end
  if n == 2 then
    local l, u = int_arg((select(1, ...)), 1), int_arg((select(2, ...)), 2)
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 2)
end
math.randomseed = function(seed)
  hooks.seed(int_arg(seed, 1))
end

-- Library tables become read-only proxies.
local function readonly(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end
for _, name in ipairs({'string', 'table', 'math', 'debug', 'redis', 'coroutine', 'bit', 'cjson', 'struct', 'cmsgpack'}) do
  if rawget(_G, name) then rawset(_G, name, readonly(rawget(_G, name))) end
end
setmetatable(_G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})
"#;

/// drand48's multiplier, increment and modulus mask, and the state Redis's
/// generator starts from (`rand.c`: X2 X1 X0 = 0x1234 0xABCD 0x330E).
const RAND48_A: u64 = 0x5DEE_CE66D;
const RAND48_C: u64 = 0xB;
const RAND48_MASK: u64 = (1 << 48) - 1;
const RAND48_DEFAULT: u64 = 0x1234_ABCD_330E;

/// Where the hooks table is in the registry (for [`raising_call`]).
const HOOKS_KEY: &str = "ringkv.script.hooks";

/// `redis.call`: `hooks.call(...)`, raising its error table when it failed.
/// A C function, as Redis's is, so a script's `return redis.call(...)` is
/// no tail call and the error handler still finds the script's line.
unsafe extern "C-unwind" fn raising_call(state: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    let n = ffi::lua_gettop(state);
    ffi::lua_getfield(
        state,
        ffi::LUA_REGISTRYINDEX,
        c"ringkv.script.hooks".as_ptr(),
    );
    ffi::lua_getfield(state, -1, c"call".as_ptr());
    ffi::lua_remove(state, -2);
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, n, 2);
    if ffi::lua_toboolean(state, -1) != 0 {
        ffi::lua_pop(state, 1);
        ffi::lua_error(state);
    }
    ffi::lua_pop(state, 1);
    1
}

/// What one `redis.call` answered: the reply as Lua sees it, and whether
/// it is an error `redis.call` raises.
pub type CallOutcome = (Value, bool);

/// One core's Lua state and the scripts compiled in it.
pub struct Host {
    lua: Lua,
    hooks: Table,
    /// The prelude's `xpcall` runners: of a script, and of a function
    /// given its keys and arguments.
    runner: Function,
    runner_with: Function,
    runs: u64,
    generation: u64,
    compiled: HashMap<Sha, (Function, ScriptFlags)>,
}

/// How a run ended: the script's value (and whether it set RESP 3), or its
/// error text (without `-`).
pub enum Outcome {
    Value(Value, bool),
    Error(String),
}

/// What answers a run's `redis.call`s (see [`Host::run`]).
type CallFn<'a> = dyn FnMut(&Lua, MultiValue, bool) -> mlua::Result<CallOutcome> + 'a;

thread_local! {
    static HOST: RefCell<Option<Host>> = const { RefCell::new(None) };
    /// The run in progress's `redis.call` answerer (None between runs).
    static CURRENT_CALL: std::cell::Cell<Option<*mut CallFn<'static>>> = const { std::cell::Cell::new(None) };
}

impl Host {
    /// A Lua state set up as Redis's (used as is for scripts, and by
    /// cmd/function for functions, in a state of their own).
    pub(crate) fn new() -> mlua::Result<Host> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is loaded as Redis loads it; scripts
        // get no other unsafe library (no io, os, package or ffi).
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let hooks = lua.create_table()?;
        hooks.raw_set(
            "sha1hex",
            lua.create_function(|lua, s: mlua::String| {
                lua.create_string(cache::sha_of(&s.as_bytes()))
            })?,
        )?;
        hooks.raw_set(
            "log",
            lua.create_function(|_, (level, text): (u8, String)| {
                match level {
                    3 => log::warn!("{text}"),
                    2 => log::info!("{text}"),
                    _ => log::debug!("{text}"),
                }
                Ok(())
            })?,
        )?;
        let state = std::rc::Rc::new(std::cell::Cell::new(RAND48_DEFAULT));
        let st = state.clone();
        hooks.raw_set(
            "rand",
            lua.create_function(move |_, ()| {
                let x = st.get().wrapping_mul(RAND48_A).wrapping_add(RAND48_C) & RAND48_MASK;
                st.set(x);
                let v = (x >> 17) as i64;
                let max = i32::MAX as i64;
                Ok((v % max) as f64 / max as f64)
            })?,
        )?;
        hooks.raw_set(
            "seed",
            lua.create_function(move |_, seed: f64| {
                let seed = seed as i64 as i32 as u32 as u64;
                state.set(((seed >> 16) << 32) | ((seed & 0xffff) << 16) | 0x330E);
                Ok(())
            })?,
        )?;
        lua.globals().raw_set("bit", super::bit::library(&lua)?)?;
        lua.globals()
            .raw_set("cjson", super::cjson::library(&lua)?)?;
        lua.globals()
            .raw_set("struct", super::structlib::library(&lua)?)?;
        lua.globals()
            .raw_set("cmsgpack", super::cmsgpack::library(&lua)?)?;
        let hooks_for_call = hooks.clone();
        hooks.raw_set(
            "call",
            lua.create_function(move |lua, args: MultiValue| {
                let resp3 = hooks_for_call.raw_get::<i64>("resp").unwrap_or(2) == 3;
                match CURRENT_CALL.with(|c| c.get()) {
                    // SAFETY: set by `Host::run` for the run in progress only.
                    Some(call) => unsafe { (*call)(lua, args, resp3) },
                    None => Err(mlua::Error::runtime(
                        "redis.call/pcall can only be called inside a script invocation",
                    )),
                }
            })?,
        )?;
        lua.set_named_registry_value(HOOKS_KEY, hooks.clone())?;
        // SAFETY: `raising_call` keeps no Rust value with a destructor on
        // its frame across the Lua calls that may unwind through it.
        let raising = unsafe { lua.create_c_function(raising_call)? };
        lua.load(PRELUDE)
            .set_name("=ringkv")
            .call::<()>((hooks.clone(), raising))?;
        let runner: Function = hooks.raw_get("run")?;
        let runner_with: Function = hooks.raw_get("run_with")?;
        super::busy::install_hook(&lua)?;
        Ok(Host {
            lua,
            runner,
            runner_with,
            runs: 0,
            hooks,
            generation: cache::generation(),
            compiled: HashMap::new(),
        })
    }

    /// Bytes this core's scripting Lua state holds (0 before its first script).
    pub fn used_memory() -> usize {
        HOST.with(|cell| {
            cell.try_borrow()
                .ok()
                .and_then(|h| h.as_ref().map(|h| h.lua.used_memory()))
        })
        .unwrap_or(0)
    }

    /// Runs `f` with this core's host (made on first use, and made anew
    /// after a SCRIPT FLUSH, as Redis resets its Lua state).
    pub fn with<R>(f: impl FnOnce(&mut Host) -> Result<R, CmdError>) -> Result<R, CmdError> {
        HOST.with(|cell| with_current(cell, |h| h.generation != cache::generation(), Host::new, f))
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Compiles `body` as script `sha` here (once); the error is Redis's.
    pub fn compile(&mut self, sha: Sha, body: &[u8]) -> Result<(), CmdError> {
        if self.compiled.contains_key(&sha) {
            return Ok(());
        }
        let flags = flags_of(body)?;
        let code = shebang_stripped(body)?;
        let f = self
            .lua
            .load(&code[..])
            .set_name("@user_script")
            .into_function()
            .map_err(|e| {
                let msg = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                CmdError::Msg(format!("ERR Error compiling script (new function): {msg}"))
            })?;
        self.compiled.insert(sha, (f, flags));
        Ok(())
    }

    /// The shebang flags of compiled script `sha`.
    pub fn flags(&self, sha: &Sha) -> ScriptFlags {
        self.compiled.get(sha).map(|c| c.1).unwrap_or_default()
    }

    /// Whether script `sha` is compiled here, compiling it from the shared
    /// bodies when another core loaded it.
    pub fn knows(&mut self, sha: &Sha) -> Result<bool, CmdError> {
        if self.compiled.contains_key(sha) {
            return Ok(true);
        }
        match cache::get(sha) {
            Some(body) => self.compile(*sha, &body).map(|()| true),
            None => Ok(false),
        }
    }

    /// Runs compiled script `sha` with `keys` and `argv` as KEYS and ARGV;
    /// `call` answers its `redis.call`s.
    pub fn run(
        &mut self,
        sha: &Sha,
        keys: &[&[u8]],
        argv: &[&[u8]],
        call: impl FnMut(&Lua, MultiValue, bool) -> mlua::Result<CallOutcome>,
    ) -> Result<Outcome, CmdError> {
        let f = self
            .compiled
            .get(sha)
            .map(|c| c.0.clone())
            .ok_or(CmdError::Internal)?;
        let lua = &self.lua;
        let globals = lua.globals();
        globals
            .raw_set("KEYS", array(lua, keys).map_err(internal)?)
            .map_err(internal)?;
        globals
            .raw_set("ARGV", array(lua, argv).map_err(internal)?)
            .map_err(internal)?;
        self.invoke(f, None, sha, call)
    }

    /// Runs function `f` of a library as `f(keys, args)`; its errors name
    /// it `name` (`script: <name>, on @user_function:N.`).
    pub fn run_function(
        &mut self,
        f: Function,
        name: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        call: impl FnMut(&Lua, MultiValue, bool) -> mlua::Result<CallOutcome>,
    ) -> Result<Outcome, CmdError> {
        let lua = &self.lua;
        let keys = array(lua, keys).map_err(internal)?;
        let args = array(lua, args).map_err(internal)?;
        self.invoke(f, Some((keys, args)), name, call)
    }

    /// Runs `f` (with `keys, args` when given) under the error handler,
    /// `call` answering its `redis.call`s.
    fn invoke(
        &mut self,
        f: Function,
        params: Option<(Table, Table)>,
        name: &[u8],
        call: impl FnMut(&Lua, MultiValue, bool) -> mlua::Result<CallOutcome>,
    ) -> Result<Outcome, CmdError> {
        let lua = &self.lua;
        self.hooks.raw_set("resp", 2).map_err(internal)?;
        let mut call = call;
        let call: &mut CallFn<'_> = &mut call;
        // SAFETY: the pointer is only used by `hooks.call` while the runner
        // below runs, during which `call` is alive and borrowed by no one
        // else; it is cleared before `call` goes.
        let erased: *mut CallFn<'static> = unsafe { std::mem::transmute(call as *mut CallFn<'_>) };
        CURRENT_CALL.with(|c| c.set(Some(erased)));
        /// Clears the pointer however the run ends (a panic included).
        struct Clear;
        impl Drop for Clear {
            fn drop(&mut self) {
                CURRENT_CALL.with(|c| c.set(None));
            }
        }
        let clear = Clear;
        let result = match params {
            None => self.runner.call::<(bool, Value)>(f),
            Some((keys, args)) => self.runner_with.call::<(bool, Value)>((f, keys, args)),
        };
        drop(clear);
        let script_resp3 = self.hooks.raw_get::<i64>("resp").unwrap_or(2) == 3;
        // As Redis: a little garbage collection every 50 runs.
        self.runs += 1;
        if self.runs.is_multiple_of(50) {
            let _ = lua.gc_step_kbytes(50);
        }
        match result {
            Ok((true, v)) => Ok(Outcome::Value(v, script_resp3)),
            Ok((false, e)) => Ok(Outcome::Error(error_message(name, &e))),
            Err(e) => Ok(Outcome::Error(format!("ERR Error running script {e}"))),
        }
    }
}

/// Runs `f` with the state in `cell`, made by `make` when there is none
/// or `stale` says the one there is out of date (scripts' and functions'
/// Lua states alike).
pub(crate) fn with_current<T, R>(
    cell: &RefCell<Option<T>>,
    stale: impl Fn(&T) -> bool,
    make: impl FnOnce() -> mlua::Result<T>,
    f: impl FnOnce(&mut T) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    let mut slot = cell.borrow_mut();
    if slot.as_ref().is_none_or(stale) {
        *slot = Some(make().map_err(internal)?);
    }
    match slot.as_mut() {
        Some(h) => f(h),
        None => Err(CmdError::Internal),
    }
}

fn internal(e: mlua::Error) -> CmdError {
    CmdError::Msg(format!("ERR Lua: {e}"))
}

/// A Lua array of `items`.
fn array(lua: &Lua, items: &[&[u8]]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(t)
}

/// A failed run's error reply text, as Redis writes it: the error table's
/// `err`, then ` script: <name>, on <source>:<line>.` when the handler
/// found where it happened (`name`: the script's SHA or the function's name).
fn error_message(sha: &[u8], e: &Value) -> String {
    let Value::Table(t) = e else {
        let text = match e {
            Value::String(s) => s.to_string_lossy().to_string(),
            _ => "execution failure".to_string(),
        };
        return format!(
            "ERR Error running script {}, {text:.100}",
            String::from_utf8_lossy(sha)
        );
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => super::convert::error_text(&s.as_bytes()),
        _ => String::new(),
    };
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    match (source, line) {
        (Some(source), Some(line)) => format!(
            "{msg} script: {}, on {source}:{line}.",
            String::from_utf8_lossy(sha)
        ),
        _ => msg,
    }
}

/// The body to compile: a `#!lua [flags=...]` first line becomes a
/// comment (line numbers stay); the flags are checked ([`flags_of`]).
fn shebang_stripped(body: &[u8]) -> Result<Vec<u8>, CmdError> {
    let mut code = body.to_vec();
    if code.starts_with(b"#!") {
        code[0] = b'-';
        code[1] = b'-';
    }
    Ok(code)
}

/// A script's shebang flags (Redis 7.0): whether it declared `no-writes`.
/// No shebang: a script of the old kind, which may write.
pub fn flags_of(body: &[u8]) -> Result<ScriptFlags, CmdError> {
    if !body.starts_with(b"#!") {
        return Ok(ScriptFlags::default());
    }
    let line_end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..line_end]).into_owned();
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let engine = words.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(CmdError::Msg(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut flags = ScriptFlags {
        shebang: true,
        ..ScriptFlags::default()
    };
    for w in words {
        let Some(list) = w.strip_prefix("flags=") else {
            return Err(CmdError::Msg(format!(
                "ERR Unknown lua shebang option: {w}"
            )));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => {
                    return Err(CmdError::Msg(format!(
                        "ERR Unexpected flag in script shebang: {other}"
                    )))
                }
            }
        }
    }
    Ok(flags)
}

/// What a script's shebang declares.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ScriptFlags {
    /// It has a shebang (a script of Redis 7's kind).
    pub shebang: bool,
    pub no_writes: bool,
}
