//! Per-connection state (`CLIENT` fields, selected DB, protocol) and the
//! read-only facts about the core and server that connection handlers report.

use std::time::Instant;

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
    /// Lower-case name of the last command run (CLIENT LIST `cmd=`).
    pub last_cmd: &'static str,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Set by QUIT (and protocol errors): close once the replies are written.
    pub close_after_reply: bool,
    /// Set by RESET so the connection clears any connection-level extras.
    pub reset_requested: bool,
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
        }
    }

    /// One `CLIENT LIST` / `CLIENT INFO` line (without the trailing newline).
    pub fn info_line(&self) -> String {
        let now = Instant::now();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags=N db={} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&self.name),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_interaction).as_secs(),
            self.db,
            self.last_cmd,
            if self.resp3 { 3 } else { 2 },
            String::from_utf8_lossy(&self.lib_name),
            String::from_utf8_lossy(&self.lib_ver),
        )
    }
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
    /// `CONFIG GET` view: (name, value) for every setting that exists.
    pub config: Vec<(&'static str, String)>,
}
