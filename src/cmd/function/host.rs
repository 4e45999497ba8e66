//! Each core's Lua state for functions, apart from the scripts' one (as
//! Redis keeps one for each engine): set up as the scripts' state
//! (cmd/script/host.rs), plus the environment libraries run in.
//!
//! A library's code runs with a global table of its own that reads through
//! to one of two tables: while FUNCTION LOAD runs the code, a table holding
//! only `redis` with `register_function`, `log`, the `LOG_*` levels and the
//! version (anything else is Redis's "nonexistent global variable" error);
//! afterwards, the full globals, so the functions it registered see the
//! whole API when they run. Writing a global is an error either way.
//!
//! The libraries are compiled here when one of their functions is first
//! called (and checked here when loaded); the state starts anew when the
//! registry's generation moves on (registry.rs).

use super::library::{self, Collected};
use super::registry;
use crate::cmd::error::CmdError;
use crate::cmd::script::host::Host;
use hashbrown::HashMap;
use mlua::{Function, Table, Value};
use std::cell::RefCell;

/// Builds a library's environment: returns it and the loader, which runs a
/// compiled library with the load-time API and returns `pcall`'s results.
const ENV_PRELUDE: &str = r#"
local register = ...
local G = _G
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local function readonly() error('Attempt to modify a readonly table', 2) end
local function protected(t)
  return setmetatable(t, {__index = missing, __newindex = readonly, __metatable = false})
end
local load_redis = protected({
  register_function = function(...)
    local err = register(select('#', ...), ...)
    if err then error({err = err}) end
  end,
  log = redis.log,
  LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE,
  LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
  REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
})
local load_api = protected({redis = load_redis})
local meta = {__index = G, __newindex = readonly, __metatable = false}
local env = setmetatable({}, meta)
local function load(f)
  meta.__index = load_api
  local ok, err = pcall(f)
  meta.__index = G
  return ok, err
end
return env, load
"#;

/// One core's function state.
pub struct FunctionHost {
    host: Host,
    env: Table,
    loader: Function,
    generation: u64,
    /// Compiled libraries: library name → function name → function.
    libraries: HashMap<String, HashMap<String, Function>>,
}

thread_local! {
    static FUNCTION_HOST: RefCell<Option<FunctionHost>> = const { RefCell::new(None) };
}

impl FunctionHost {
    fn new() -> mlua::Result<FunctionHost> {
        let host = Host::new()?;
        let lua = host.lua().clone();
        let register = lua.create_function(library::register_function)?;
        let (env, loader): (Table, Function) =
            lua.load(ENV_PRELUDE).set_name("=ringkv").call(register)?;
        Ok(FunctionHost {
            host,
            env,
            loader,
            generation: registry::generation(),
            libraries: HashMap::new(),
        })
    }

    /// Runs `f` with this core's function state, made anew when the
    /// registry changed since it was made.
    pub fn with<R>(
        f: impl FnOnce(&mut FunctionHost) -> Result<R, CmdError>,
    ) -> Result<R, CmdError> {
        FUNCTION_HOST.with(|cell| {
            let stale = |h: &FunctionHost| h.generation != registry::generation();
            crate::cmd::script::host::with_current(cell, stale, FunctionHost::new, f)
        })
    }

    /// Bytes this core's function Lua state holds (0 before its first use).
    pub fn used_memory() -> usize {
        FUNCTION_HOST
            .with(|cell| {
                cell.try_borrow()
                    .ok()
                    .and_then(|h| h.as_ref().map(|h| h.host.lua().used_memory()))
            })
            .unwrap_or(0)
    }

    pub fn host(&mut self) -> &mut Host {
        &mut self.host
    }

    /// Runs a library's code (after its `#!` line) as FUNCTION LOAD does:
    /// compiled as `@user_function`, run with the load-time API; what it
    /// registered, or Redis's error text (without `ERR `).
    pub fn load(&mut self, code: &[u8]) -> Result<Vec<Collected>, String> {
        let f = self
            .host
            .lua()
            .load(code)
            .set_name("@user_function")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                format!("Error compiling function: {msg}")
            })?;
        let (result, collected) = library::collecting(|| {
            crate::cmd::script::busy::with_load_limit(|| self.loader.call::<(bool, Value)>(f))
        });
        match result {
            Ok((true, _)) => Ok(collected),
            Ok((false, e)) => Err(format!(
                "Error registering functions: {}",
                library::load_error_text(&e)
            )),
            Err(e) => Err(format!("Error registering functions: ERR {e}")),
        }
    }

    /// The compiled function `name` of library `lib` (compiled here on
    /// first use).
    pub fn function(&mut self, lib: &registry::Library, name: &str) -> Result<Function, CmdError> {
        if !self.libraries.contains_key(&lib.name) {
            let body = library::body_of(&lib.code);
            let collected = self
                .load(body)
                .map_err(|e| CmdError::Msg(format!("ERR {e}")))?;
            let compiled = collected
                .into_iter()
                .map(|c| (c.info.name, c.callback))
                .collect();
            self.libraries.insert(lib.name.clone(), compiled);
        }
        self.libraries
            .get(&lib.name)
            .and_then(|fs| fs.get(name))
            .cloned()
            .ok_or(CmdError::Internal)
    }
}
