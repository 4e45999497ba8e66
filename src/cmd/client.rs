//! Per-connection state (`CLIENT` fields, selected DB, protocol) and the
//! read-only facts about the core and server that connection handlers report.
//!
//! A `ClientState` lives on its connection's core only; `CLIENT LIST` gathers
//! clones of every core's states. `CoreInfo` is built once at start-up and
//! cloned per core; only its `settings` change afterwards (CONFIG SET, SIGHUP).

use crate::protocol::{Args, Span};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// Who sent a command, as SLOWLOG records it: what a batch run on another
/// core's shard carries (the `ClientState` itself never leaves its core).
#[derive(Debug, PartialEq, Eq)]
pub struct ClientIdent {
    pub addr: String,
    pub name: Vec<u8>,
}

/// State of one client connection. Lives on the connection's core only.
#[derive(Debug, Clone)]
pub struct ClientState {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub db: usize,
    pub resp3: bool,
    pub created: Instant,
    pub last_interaction: Instant,
    /// Full lower-case name of the last command run (CLIENT LIST `cmd=`), with
    /// its subcommand as Redis prints it (`client|list`); `NULL` before any.
    pub last_cmd: &'static str,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Set by QUIT (and protocol errors): close once the replies are written.
    pub close_after_reply: bool,
    /// Set by RESET so the connection clears any connection-level extras
    /// (MULTI state, WATCHed keys, subscriptions) that this struct does not hold.
    pub reset_requested: bool,
    /// MULTI queue and WATCHed keys.
    pub tx: TxState,
    /// Waiting in a blocking command (CLIENT LIST flag `b`).
    pub blocked: bool,
    /// [`ClientState::ident`]'s cache, rebuilt when the name changed.
    ident: Option<Arc<ClientIdent>>,
}

/// A client's transaction state: the MULTI queue (None outside MULTI) and the
/// keys it WATCHes with the versions seen.
#[derive(Debug, Clone, Default)]
pub struct TxState {
    pub queued: Option<Queued>,
    /// A command was rejected while queueing: EXEC must abort.
    pub errored: bool,
    pub watched: Vec<WatchedKey>,
}

/// The commands queued by MULTI. Their arguments are copied once, into one
/// buffer laid out as a pipeline batch (`cmds[i]` = first span and count), so
/// EXEC runs the queue as a batch without copying it again.
#[derive(Debug, Clone, Default)]
pub struct Queued {
    pub specs: Vec<&'static super::CommandSpec>,
    pub data: Vec<u8>,
    pub spans: Vec<Span>,
    pub cmds: Vec<(u32, u32)>,
}

impl Queued {
    pub fn push(&mut self, spec: &'static super::CommandSpec, args: &Args<'_>) {
        self.specs.push(spec);
        self.cmds.push((self.spans.len() as u32, args.len() as u32));
        for arg in args.iter_from(0) {
            self.spans.push(Span {
                start: self.data.len() as u32,
                len: arg.len() as u32,
            });
            self.data.extend_from_slice(arg);
        }
    }

    /// Whether `args` still fit: spans address the buffer with 30 bits (the top
    /// two bits mark inline and big arguments, protocol/args.rs).
    pub fn fits(&self, args: &Args<'_>) -> bool {
        let bytes: usize = args.iter_from(0).map(<[u8]>::len).sum();
        self.data.len() + bytes < crate::protocol::args::MAX_DATA_OFFSET
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// True when a queued command writes (EXEC is then a write command).
    pub fn writes(&self) -> bool {
        self.specs
            .iter()
            .any(|s| s.flags & crate::cmd::table::flag::WRITE != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Each queued command with its arguments.
    pub fn iter(&self) -> impl Iterator<Item = (&'static super::CommandSpec, Args<'_>)> {
        self.specs
            .iter()
            .zip(&self.cmds)
            .map(|(&spec, &(first, argc))| {
                let spans = &self.spans[first as usize..(first + argc) as usize];
                (spec, Args::new(&self.data, &[], spans))
            })
    }
}

/// A WATCHed key: where it lives and the version WATCH saw.
#[derive(Debug, Clone)]
pub struct WatchedKey {
    pub shard: usize,
    pub db: usize,
    pub key: bytes::Bytes,
    pub version: u64,
    pub existed: bool,
}

impl ClientState {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32) -> Self {
        let now = Instant::now();
        ClientState {
            id,
            addr,
            laddr,
            fd,
            name: Vec::new(),
            lib_name: Vec::new(),
            lib_ver: Vec::new(),
            db: 0,
            resp3: false,
            created: now,
            last_interaction: now,
            last_cmd: "NULL",
            no_evict: false,
            no_touch: false,
            close_after_reply: false,
            reset_requested: false,
            tx: TxState::default(),
            blocked: false,
            ident: None,
        }
    }

    /// The client's address and name to send with a batch for another
    /// core's shard: a shared copy, rebuilt only after the name changed (so
    /// a remote batch costs a reference count, not an allocation).
    pub fn ident(&mut self) -> Arc<ClientIdent> {
        match &self.ident {
            Some(i) if i.name == self.name => i.clone(),
            _ => {
                let i = Arc::new(ClientIdent {
                    addr: self.addr.clone(),
                    name: self.name.clone(),
                });
                self.ident = Some(i.clone());
                i
            }
        }
    }

    /// `CLIENT LIST TYPE` class of this client. Replicas, masters and pub/sub
    /// clients do not exist yet, so every client is `normal`.
    pub fn client_type(&self) -> ClientType {
        ClientType::Normal
    }

    /// The `flags=` field: `x` in MULTI, `b` blocked, `e` no-evict, `T` no-touch, `N` when
    /// none is set (Redis's order).
    fn flags(&self) -> String {
        let mut f = String::new();
        if self.tx.queued.is_some() {
            f.push('x');
        }
        if self.blocked {
            f.push('b');
        }
        if self.no_evict {
            f.push('e');
        }
        if self.no_touch {
            f.push('T');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One `CLIENT LIST` / `CLIENT INFO` line (without the trailing newline), in
    /// Redis 7.2's field order (7.0's plus `lib-name`/`lib-ver` at the end).
    /// Buffer sizes that ringkv does not track per client read 0.
    pub fn info_line(&self) -> String {
        let now = Instant::now();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&self.name),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_interaction).as_secs(),
            self.flags(),
            self.db,
            self.tx.queued.as_ref().map_or(-1, |q| q.len() as i64),
            self.last_cmd,
            if self.resp3 { 3 } else { 2 },
            String::from_utf8_lossy(&self.lib_name),
            String::from_utf8_lossy(&self.lib_ver),
        )
    }

    /// Back to a fresh connection's state, as Redis 7.0's RESET does: DB 0,
    /// RESP2, no name. No-touch (a Redis 7.2 flag) is cleared as 7.2 does;
    /// no-evict stays, as in 7.0 (7.2 clears it too). The library name and
    /// version stay (they still describe the library behind the connection).
    pub fn reset(&mut self) {
        self.db = 0;
        self.resp3 = false;
        self.name.clear();
        self.no_touch = false;
        self.reset_requested = true;
    }
}

/// Client classes accepted by `CLIENT LIST TYPE` / `CLIENT KILL TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

impl ClientType {
    /// Redis's `getClientTypeByName` (case-insensitive; `slave` = `replica`).
    pub fn parse(name: &[u8]) -> Option<ClientType> {
        let n = name.to_ascii_lowercase();
        match n.as_slice() {
            b"normal" => Some(ClientType::Normal),
            b"slave" | b"replica" => Some(ClientType::Replica),
            b"pubsub" => Some(ClientType::PubSub),
            b"master" => Some(ClientType::Master),
            _ => None,
        }
    }
}

/// Redis's rule for client names and library attributes: printable ASCII
/// without spaces (`!`..=`~`), so CLIENT LIST can be split on spaces.
pub fn valid_client_attr(value: &[u8]) -> bool {
    value.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// Facts about this core and the server, readable by connection handlers.
#[derive(Debug, Clone)]
pub struct CoreInfo {
    pub core: usize,
    pub cores: usize,
    pub databases: usize,
    pub port: u16,
    pub bind: String,
    pub started: Instant,
    pub started_unix: u64,
    pub run_id: String,
    pub config_file: String,
    pub executable: String,
    /// Where the metrics endpoint listens (`host:port`; empty: none), as
    /// main.rs resolved `metrics-addr` at start.
    pub metrics_addr: String,
    /// This core's own copy of the live settings: CONFIG GET reads it, CONFIG
    /// SET and SIGHUP update it on every core (through the mesh), so it is
    /// never shared between threads.
    pub settings: std::cell::RefCell<crate::config::Config>,
}

impl CoreInfo {
    /// The live value of a setting by its `CONFIG GET` name.
    pub fn config_value(&self, name: &str) -> Option<String> {
        self.settings.borrow().get(name)
    }

    /// A single-core server with defaults, for tests.
    pub fn for_tests() -> CoreInfo {
        CoreInfo {
            core: 0,
            cores: 1,
            databases: 16,
            port: 6379,
            bind: "127.0.0.1".into(),
            started: Instant::now(),
            started_unix: 1_700_000_000,
            run_id: "0123456789abcdef0123456789abcdef01234567".into(),
            config_file: String::new(),
            executable: "/usr/bin/ringkv".into(),
            metrics_addr: String::new(),
            settings: std::cell::RefCell::new(crate::config::Config::defaults()),
        }
    }
}

impl crate::metrics::SlowlogClient for std::cell::RefCell<ClientState> {
    fn addr_and_name(&self) -> (String, Vec<u8>) {
        let c = self.borrow();
        (c.addr.clone(), c.name.clone())
    }
}

impl crate::metrics::SlowlogClient for ClientIdent {
    fn addr_and_name(&self) -> (String, Vec<u8>) {
        (self.addr.clone(), self.name.clone())
    }
}

/// The client a batch runs for: on its own core, its live state; on a peer's,
/// the identity its batch carried.
#[derive(Clone, Copy)]
pub enum ClientWho<'a> {
    Local(&'a Rc<RefCell<ClientState>>),
    Remote(&'a Arc<ClientIdent>),
    /// Not run for a client (AOF replay, internal batches).
    Nobody,
}

impl ClientWho<'_> {
    /// Names this client in slow-log entries until the guard drops.
    pub fn scope(self) -> crate::metrics::ClientScope {
        use crate::metrics::{ClientScope, Current};
        ClientScope::enter(match self {
            ClientWho::Local(c) => Some(Current::Local(c.clone())),
            ClientWho::Remote(i) => Some(Current::Remote(i.clone())),
            ClientWho::Nobody => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_line_flags_and_fields() {
        let mut c = ClientState::new(7, "127.0.0.1:5000".into(), "127.0.0.1:6379".into(), 9);
        let line = c.info_line();
        assert!(line.starts_with(
            "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name= age=0 idle=0 flags=N db=0 "
        ));
        assert!(line.ends_with(" cmd=NULL user=default redir=-1 resp=2 lib-name= lib-ver="));
        c.no_evict = true;
        c.no_touch = true;
        assert!(c.info_line().contains(" flags=eT "));
        c.name = b"app".to_vec();
        c.db = 3;
        c.resp3 = true;
        c.reset();
        assert!(c.name.is_empty() && c.db == 0 && !c.resp3 && c.no_evict && !c.no_touch);
        assert!(c.reset_requested);
    }

    #[test]
    fn attr_validation_and_types() {
        assert!(valid_client_attr(b"abc-1_2"));
        assert!(valid_client_attr(b""));
        assert!(!valid_client_attr(b"a b"));
        assert!(!valid_client_attr(b"a\nb"));
        assert!(!valid_client_attr("é".as_bytes()));
        assert_eq!(ClientType::parse(b"SLAVE"), Some(ClientType::Replica));
        assert_eq!(ClientType::parse(b"Normal"), Some(ClientType::Normal));
        assert_eq!(ClientType::parse(b"foo"), None);
    }
}
