//! Commands: the declarative table ([`table`]), the error texts ([`error`]),
//! how a multi-key command splits across shards ([`split`]) and how a
//! keyspace-wide one fans out ([`fanout`]) — both declared by the command's
//! group — and one file per Redis command group holding its table entries
//! and handlers.
//!
//! Shard handlers ([`ExecCtx`]) run synchronously on the shard that owns the
//! command's keys and never see the network. Connection handlers ([`ConnCtx`])
//! run on the connection's own core and touch only connection and server state.

pub mod batch;
pub mod bitmap;
pub mod blocking;
pub mod client;
pub mod command_docs;
pub mod config_cmd;
pub mod connection;
pub mod error;
pub mod fanout;
pub mod function;
pub mod generic;
pub mod geo;
pub mod glob;
pub mod hash;
pub mod hll;
pub mod info;
pub mod keygen;
pub mod list;
pub mod memory;
pub mod mpop;
pub mod observability;
pub mod ops;
pub mod script;
pub mod server;
pub mod set;
pub mod sort;
pub mod split;
pub mod stat_index;
pub mod string;
pub mod table;
pub mod transactions;
pub mod zset;

use crate::protocol::{Args, ReplyWriter};
use crate::shard::Shard;
pub use client::{ClientState, CoreInfo};
pub use error::{CmdError, CmdResult};
pub use table::{CommandSpec, Exec};

/// What a shard handler sees: the shard, the client's selected DB, the time the
/// batch started (all commands of a batch see the same clock, like Redis's
/// cached time) and where to write the reply.
pub struct ExecCtx<'a> {
    pub shard: &'a mut Shard,
    pub db: usize,
    pub now_ms: u64,
    pub reply: ReplyWriter<'a>,
}

impl ExecCtx<'_> {
    /// Journals `args` for this command instead of the arguments received
    /// (only where those would not replay to the same data; see
    /// shard/journal.rs). Each call is one record, in this command's db.
    pub fn propagate(&mut self, args: &[&[u8]]) {
        self.shard.propagate(self.db, args);
    }
}

/// What a connection handler sees.
pub struct ConnCtx<'a> {
    pub client: &'a mut ClientState,
    pub core: &'a CoreInfo,
    pub shard: &'a mut Shard,
    pub txkeys: &'a keygen::TxKeyGen,
    pub now_ms: u64,
    pub reply: ReplyWriter<'a>,
}

/// Runs a shard command and encodes its reply (or its error) into `out`; `clock`
/// times it (its mark is the command's start). A `part` of a command split
/// across shards is not recorded: the router records the whole command.
#[allow(clippy::too_many_arguments)]
pub fn run_on_shard(
    shard: &mut Shard,
    spec: &CommandSpec,
    args: &Args,
    db: usize,
    resp3: bool,
    clock: &mut CommandClock,
    part: bool,
    out: &mut Vec<u8>,
) -> bool {
    let handler = match spec.exec {
        Exec::Shard(h) | Exec::MultiKey(h, _) => h,
        // The router only sends keyed commands here; answer rather than panic.
        _ => {
            ReplyWriter::new(out, resp3).error(&CmdError::Internal.to_string());
            return false;
        }
    };
    shard.begin_command(clock.now_ms);
    let mut ctx = ExecCtx {
        shard,
        db,
        now_ms: clock.now_ms,
        reply: ReplyWriter::new(out, resp3),
    };
    let ok = match handler(&mut ctx, args) {
        Ok(()) => true,
        Err(e) => {
            let msg = e.to_string();
            ctx.reply.error(&msg);
            crate::metrics::record_error(msg.as_bytes());
            false
        }
    };
    ctx.shard.settle(db, args);
    if part {
        clock.mark();
    } else {
        clock.record(spec, args, ok);
    }
    ok
}

/// The clocks a run of commands executes by: the Unix time in milliseconds they
/// all see (expiry; read once per batch, as Redis caches it per event-loop turn),
/// and a monotonic mark that times them with one clock read per command, each
/// command ending where the next one starts. Restart it after anything that is
/// not command execution (an await, a lock wait) so that time is not charged to
/// the next command.
///
/// The mark is a `quanta::Instant`: the CPU's invariant TSC scaled to
/// nanoseconds (quanta falls back to the OS clock where the TSC is not
/// reliable), about 9 ns a read against 22 for `clock_gettime` on the
/// development VM, read once per command.
pub struct CommandClock {
    pub now_ms: u64,
    mark: quanta::Instant,
}

impl CommandClock {
    pub fn start(now_ms: u64) -> Self {
        CommandClock {
            now_ms,
            mark: quanta::Instant::now(),
        }
    }

    /// Marks now: what ran since the previous mark is not recorded.
    #[inline]
    fn mark(&mut self) {
        self.mark = quanta::Instant::now();
    }

    /// Records the command that ran since the previous mark, and marks now.
    #[inline]
    fn record(&mut self, spec: &CommandSpec, args: &Args, ok: bool) {
        let now = quanta::Instant::now();
        let usec = now.saturating_duration_since(self.mark).as_micros() as u64;
        self.mark = now;
        stat_index::record_command_us(spec, args, usec, ok);
    }
}

pub use crate::clock::unix_ms;

/// Parses an argument as Redis's `getLongLongFromObject` would.
pub fn arg_i64(arg: &[u8]) -> Result<i64, CmdError> {
    crate::protocol::parser::parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// ASCII case-insensitive comparison of an argument with an option name.
pub fn eq_ic(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}
