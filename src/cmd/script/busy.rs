//! Long scripts: `busy-reply-threshold` (alias `lua-time-limit`), `-BUSY`,
//! SCRIPT KILL and FUNCTION KILL, as Redis 7.0 has them.
//!
//! A run (an EVAL script, or a function: [`Kind`]) is bracketed by
//! [`start`] and the [`Running`] guard it returns. Lua's count hook (set
//! by [`install_hook`] on each core's Lua state, every 100,000
//! instructions as in Redis) calls [`tick`]: the first tick of a run
//! starts its clock; once the run has lasted longer than the threshold it
//! is *timed out*, published here in its core's slot. From then on every
//! other client, on every core, gets `-BUSY Redis is busy running a
//! script. ...` for any command without the ALLOW_BUSY flag (the router
//! asks [`refusal`] where it dispatches each command, route/pipeline.rs
//! and route/txn.rs); SCRIPT KILL or FUNCTION KILL from any core
//! ([`kill`]) asks the run to stop, which the hook does at its next tick
//! by raising `ERR Script killed by user with SCRIPT KILL...` (then on
//! every line, so `pcall` cannot hold it off). A run that has executed a
//! write command ([`note_write`]) cannot be killed (`-UNKILLABLE`): only
//! SHUTDOWN NOSAVE, which ends the process (route/global.rs).
//!
//! For functions: FCALL brackets its run with `start(Kind::Function,
//! shard id)`; the `redis.call`s it runs through `call_command` (mod.rs)
//! note their writes already (another call path must call
//! [`note_write`] before each write command and raise [`KILLED`] when it
//! says no); FUNCTION KILL answers `kill(Kind::Function)` (`Ok`: `+OK`),
//! and FUNCTION KILL and FUNCTION STATS carry ALLOW_BUSY, as in Redis.
//!
//! The state is atomics only: one word per core (timed out, wrote,
//! function, kill asked) and a count of timed-out runs, which is all the
//! dispatch path reads while nothing is busy (one relaxed load). What a run
//! does before it times out stays in its core's thread-local state.
//!
//! Divergences from Redis, whose one thread answers other clients from
//! inside the hook:
//! - the core running the script cannot answer its own other clients while
//!   the script runs (the executor is inside Lua; glommio runs no other
//!   task), nor the requests other cores had already forwarded to it, nor
//!   the new connections the kernel hands to its listener, nor the
//!   ALLOW_BUSY commands that reach its shard (WATCH of its keys, and
//!   UNWATCH, DISCARD or RESET that forget such watches): they are served
//!   when the script ends or is killed. Clients of the
//!   other cores get `-BUSY` for what they send after the time-out;
//!   commands they sent before it and that wait on the script (its
//!   shard's keys, or the locks of a script that locked every shard) wait
//!   for its end;
//! - several cores may each run a long script at once (scripts on keys of
//!   different shards); each times out alone, and one SCRIPT KILL asks
//!   every killable one to stop (OK if it asked at least one);
//! - the clock starts at the run's first hook, so the time of its first
//!   100,000 instructions (and of the commands it called before them) is
//!   not counted: the hot EVALSHA path reads no clock.

use crate::cmd::error::CmdError;
use crate::cmd::table::{flag, CommandSpec};
use crate::protocol::Args;
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// What a run is: Redis names the command that may kill it by this.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// EVAL, EVALSHA and their `_RO` forms (SCRIPT KILL).
    #[default]
    Eval,
    /// FCALL and FCALL_RO (FUNCTION KILL).
    Function,
}

/// Redis's `-BUSY` reply while an EVAL script is timed out.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// Redis's `-BUSY` reply while a function is timed out.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
/// SCRIPT KILL or FUNCTION KILL with no timed-out run.
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
/// SCRIPT KILL or FUNCTION KILL of a run that wrote.
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
/// The error a killed run raises (its reply gets the `script: ...` tail).
pub const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// The `-BUSY` text for a timed-out run of `kind`.
pub fn busy_text(kind: Kind) -> &'static str {
    match kind {
        Kind::Eval => BUSY_EVAL,
        Kind::Function => BUSY_FUNCTION,
    }
}

/// Slots: one per core (the `threads` setting's bound).
const MAX_CORES: usize = 1024;
const TIMED_OUT: u32 = 1;
const WROTE: u32 = 2;
const FUNCTION: u32 = 4;
const KILL: u32 = 8;

/// Per core: 0 while its run (if any) is not timed out; else TIMED_OUT
/// with WROTE, FUNCTION and KILL as they stand. The core sets and clears
/// it; any core may add KILL (a compare-and-swap, so a kill and a write
/// never cross: see [`kill`] and [`note_write`]).
static SLOTS: [AtomicU32; MAX_CORES] = [const { AtomicU32::new(0) }; MAX_CORES];
/// Timed-out runs (the dispatch path's one load).
static TIMED_OUT_RUNS: AtomicU32 = AtomicU32::new(0);
/// `busy-reply-threshold` in ms (0: never time out).
static THRESHOLD_MS: AtomicU64 = AtomicU64::new(5000);

/// Follows `busy-reply-threshold` (at start, CONFIG SET and reload).
pub fn set_threshold(ms: u64) {
    THRESHOLD_MS.store(ms, Ordering::Relaxed);
}

/// This core's run in progress.
#[derive(Clone, Copy)]
struct Run {
    /// Runs entered and not left (0: none; more than 1 never happens, but
    /// only the outermost counts).
    depth: u32,
    core: usize,
    kind: Kind,
    /// Set at the run's first hook.
    started: Option<Instant>,
    wrote: bool,
    timed_out: bool,
    killed: bool,
}

/// No run in progress.
const IDLE: Run = Run {
    depth: 0,
    core: 0,
    kind: Kind::Eval,
    started: None,
    wrote: false,
    timed_out: false,
    killed: false,
};

thread_local! {
    static RUN: Cell<Run> = const { Cell::new(IDLE) };
    /// While a library's load-time code runs (FUNCTION LOAD): when it must
    /// have ended.
    static LOAD_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How long FUNCTION LOAD lets a library's load-time code run (Redis's).
pub const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// FUNCTION LOAD's error when the load-time code ran past [`LOAD_TIMEOUT`].
pub const LOAD_TIMED_OUT: &str = "ERR FUNCTION LOAD timeout";

/// Runs `f` (a library's load-time code) with [`LOAD_TIMEOUT`] as its
/// limit: past it, the hook raises [`LOAD_TIMED_OUT`].
pub fn with_load_limit<R>(f: impl FnOnce() -> R) -> R {
    let outer = LOAD_DEADLINE.with(|d| d.replace(Some(Instant::now() + LOAD_TIMEOUT)));
    let r = f();
    LOAD_DEADLINE.with(|d| d.set(outer));
    r
}

/// Whether a load-time run is past its deadline.
fn load_timed_out() -> bool {
    LOAD_DEADLINE
        .with(|d| d.get())
        .is_some_and(|at| Instant::now() >= at)
}

/// Marks the start of a run of `kind` on `core` (the executor's shard
/// number); it ends when the guard goes. Costs two thread-local writes.
pub fn start(kind: Kind, core: usize) -> Running {
    RUN.with(|r| {
        let mut s = r.get();
        if s.depth == 0 {
            s = Run {
                depth: 1,
                core,
                kind,
                ..IDLE
            };
        } else {
            s.depth += 1;
        }
        r.set(s);
    });
    Running(())
}

/// A run in progress (see [`start`]); dropping it ends the run.
#[must_use]
pub struct Running(());

impl Drop for Running {
    fn drop(&mut self) {
        RUN.with(|r| {
            let mut s = r.get();
            if s.depth > 1 {
                s.depth -= 1;
                r.set(s);
                return;
            }
            if s.timed_out && s.core < MAX_CORES {
                SLOTS[s.core].store(0, Ordering::Release);
                TIMED_OUT_RUNS.fetch_sub(1, Ordering::Release);
                log::info!("Slow script finished: clients are served again");
            }
            r.set(IDLE);
        });
    }
}

/// Instructions between two calls of the hook (Redis's count).
const HOOK_EVERY: std::os::raw::c_int = 100_000;

/// Sets the hook on `lua` (host.rs, once per Lua state, for every run).
pub fn install_hook(lua: &mlua::Lua) -> mlua::Result<()> {
    // SAFETY: `busy_hook` keeps no Rust value with a destructor on its
    // frame when it raises; it is set on the state every run uses.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            mlua::ffi::lua_sethook(state, Some(busy_hook), mlua::ffi::LUA_MASKCOUNT, HOOK_EVERY);
        })
    }
}

/// Lua's count hook: [`tick`]. Killed, it raises [`KILLED`] and from then
/// on hooks every line, so a script's `pcall` cannot hold the kill off (as
/// Redis), except in host.rs's own prelude (chunk `=ringkv`: the error
/// handler); the next run's first line puts the count hook back. A
/// library's load-time code past [`LOAD_TIMEOUT`] is stopped the same way,
/// with [`LOAD_TIMED_OUT`].
unsafe extern "C-unwind" fn busy_hook(
    state: *mut mlua::ffi::lua_State,
    ar: *mut mlua::ffi::lua_Debug,
) {
    use mlua::ffi;
    let loading = RUN.with(|r| r.get().depth == 0) && load_timed_out();
    if !loading && !tick() {
        if (*ar).event == ffi::LUA_HOOKLINE {
            ffi::lua_sethook(state, Some(busy_hook), ffi::LUA_MASKCOUNT, HOOK_EVERY);
        }
        return;
    }
    ffi::lua_sethook(state, Some(busy_hook), ffi::LUA_MASKLINE, 0);
    if ffi::lua_getinfo(state, c"S".as_ptr(), ar) != 0
        && !(*ar).source.is_null()
        && std::ffi::CStr::from_ptr((*ar).source).to_bytes() == b"=ringkv"
    {
        return;
    }
    let text = if loading { LOAD_TIMED_OUT } else { KILLED };
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_pushlstring(state, text.as_ptr().cast(), text.len());
    ffi::lua_setfield(state, -2, c"err".as_ptr());
    ffi::lua_error(state);
}

/// The count hook's check: true when the run must stop now (killed).
pub fn tick() -> bool {
    RUN.with(|r| {
        let mut s = r.get();
        if s.depth == 0 {
            return false;
        }
        if s.killed {
            return true;
        }
        if !s.timed_out {
            let now = Instant::now();
            let Some(started) = s.started else {
                s.started = Some(now);
                r.set(s);
                return false;
            };
            let threshold = THRESHOLD_MS.load(Ordering::Relaxed);
            let elapsed = now.duration_since(started).as_millis() as u64;
            if threshold == 0 || elapsed < threshold {
                return false;
            }
            s.timed_out = true;
            r.set(s);
            if s.core < MAX_CORES {
                let mut word = TIMED_OUT;
                if s.wrote {
                    word |= WROTE;
                }
                if s.kind == Kind::Function {
                    word |= FUNCTION;
                }
                SLOTS[s.core].store(word, Ordering::Release);
                TIMED_OUT_RUNS.fetch_add(1, Ordering::Release);
            }
            log::warn!(
                "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {} command.",
                match s.kind {
                    Kind::Eval => "SCRIPT KILL",
                    Kind::Function => "FUNCTION KILL",
                }
            );
            return false;
        }
        if s.core < MAX_CORES && SLOTS[s.core].load(Ordering::Acquire) & KILL != 0 {
            s.killed = true;
            r.set(s);
            log::warn!("Lua script killed by user with SCRIPT KILL.");
            return true;
        }
        false
    })
}

/// Records that the run is about to execute a write command (Redis's
/// "write dirty"): false when it was killed meanwhile, and the write must
/// not happen (the caller raises [`KILLED`]).
pub fn note_write() -> bool {
    RUN.with(|r| {
        let mut s = r.get();
        if s.depth == 0 {
            return true;
        }
        if s.killed {
            return false;
        }
        if !s.wrote {
            s.wrote = true;
            r.set(s);
        }
        if s.timed_out && s.core < MAX_CORES {
            let before = SLOTS[s.core].fetch_or(WROTE, Ordering::AcqRel);
            if before & KILL != 0 {
                s.killed = true;
                r.set(s);
                return false;
            }
        }
        true
    })
}

/// Whether some core's run is timed out (one relaxed load).
#[inline]
pub fn any_timed_out() -> bool {
    TIMED_OUT_RUNS.load(Ordering::Relaxed) != 0
}

/// The `-BUSY` text while a run is timed out (the first one's kind), None
/// when none is.
pub fn busy_reply() -> Option<&'static str> {
    if !any_timed_out() {
        return None;
    }
    SLOTS.iter().find_map(|slot| {
        let word = slot.load(Ordering::Acquire);
        (word & TIMED_OUT != 0).then(|| busy_text(kind_of(word)))
    })
}

fn kind_of(word: u32) -> Kind {
    if word & FUNCTION != 0 {
        Kind::Function
    } else {
        Kind::Eval
    }
}

/// The `-BUSY` refusal of command `spec` (the table's entry, before its
/// subcommand is resolved) with `args`, while a run is timed out: None for
/// a command flagged ALLOW_BUSY, and for an unknown subcommand or a wrong
/// count of a subcommand's arguments, whose own errors come first in Redis.
#[inline]
pub fn refusal(spec: &'static CommandSpec, args: &Args) -> Option<&'static str> {
    if !any_timed_out() {
        return None;
    }
    refusal_slow(spec, args)
}

#[cold]
fn refusal_slow(spec: &'static CommandSpec, args: &Args) -> Option<&'static str> {
    let sub = crate::cmd::command_docs::resolve(spec, args);
    let unknown_sub = args.len() >= 2 && std::ptr::eq(sub, spec) && !spec.subcommands.is_empty();
    if sub.flags & flag::ALLOW_BUSY != 0 || unknown_sub || !sub.arity_ok(args.len()) {
        return None;
    }
    busy_reply()
}

/// SCRIPT KILL (`Kind::Eval`) or FUNCTION KILL (`Kind::Function`): asks
/// every timed-out run of that kind that has not written to stop. Ok (the
/// caller replies `+OK`) when it asked one; else Redis's refusal: NOTBUSY
/// when no run is timed out, UNKILLABLE when it wrote, the `-BUSY` text of
/// the other kind when the run is of that kind (SCRIPT KILL of a function,
/// FUNCTION KILL of a script).
pub fn kill(kind: Kind) -> Result<(), CmdError> {
    if !any_timed_out() {
        return Err(CmdError::Static(NOTBUSY));
    }
    let mut asked = false;
    let mut refusal = None;
    for slot in SLOTS.iter() {
        let mut word = slot.load(Ordering::Acquire);
        while word & TIMED_OUT != 0 {
            let running = kind_of(word);
            if word & KILL != 0 && running == kind {
                asked = true;
                break;
            }
            if word & WROTE != 0 {
                refusal.get_or_insert(UNKILLABLE);
                break;
            }
            if running != kind {
                refusal.get_or_insert(busy_text(running));
                break;
            }
            match slot.compare_exchange(word, word | KILL, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    asked = true;
                    break;
                }
                Err(now) => word = now,
            }
        }
    }
    if asked {
        Ok(())
    } else {
        Err(CmdError::Static(refusal.unwrap_or(NOTBUSY)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test: the slots are process-wide (core 1000 is this test's).
    #[test]
    fn time_out_kill_and_write() {
        const CORE: usize = 1000;
        set_threshold(0);
        {
            let _run = start(Kind::Eval, CORE);
            assert!(!tick() && !tick());
            assert!(!any_timed_out(), "threshold 0: never");
        }
        set_threshold(1);
        assert_eq!(kill(Kind::Eval).unwrap_err().to_string(), NOTBUSY);
        {
            let _run = start(Kind::Eval, CORE);
            assert!(!tick());
            std::thread::sleep(std::time::Duration::from_millis(5));
            assert!(!tick());
            assert!(any_timed_out());
            assert_eq!(busy_reply(), Some(BUSY_EVAL));
            assert_eq!(kill(Kind::Function).unwrap_err().to_string(), BUSY_EVAL);
            assert!(kill(Kind::Eval).is_ok());
            assert!(!note_write(), "a write after the kill must not happen");
            assert!(tick());
            assert!(tick(), "stays killed");
        }
        assert!(!any_timed_out());
        assert_eq!(busy_reply(), None);
        {
            let _run = start(Kind::Function, CORE);
            assert!(note_write());
            assert!(!tick());
            std::thread::sleep(std::time::Duration::from_millis(5));
            assert!(!tick());
            assert_eq!(busy_reply(), Some(BUSY_FUNCTION));
            assert_eq!(kill(Kind::Function).unwrap_err().to_string(), UNKILLABLE);
            assert_eq!(kill(Kind::Eval).unwrap_err().to_string(), UNKILLABLE);
            assert!(!tick() && note_write());
        }
        assert!(!any_timed_out());
        set_threshold(5000);
    }
}
