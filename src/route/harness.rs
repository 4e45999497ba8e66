//! The in-process test harness: three shards laid out as `--threads 3` lays
//! them out, a manual clock, and no executors. A command goes to the shard
//! owning its keys through the one batch runner (cmd/batch.rs), exactly as a
//! connection's segment or a peer's batch would; a multi-key command spanning
//! shards is cut as its spec declares (cmd/split.rs), its parts run on their
//! shards and their replies merged by that declaration. [`Locks`] gives the
//! coordinator (route/coordinator.rs) three in-process lock tables, so its
//! ordering rule is unit-tested (route/coordinator_tests.rs). What needs the
//! mesh (lock-then-run messages, forwarding) is tested through the real
//! binary.

use super::coordinator::Locker;
use crate::cmd::batch::{run_batch, BatchCmds, BatchCtx, Cursor};
use crate::cmd::client::ClientWho;
use crate::cmd::ops::OpResult;
use crate::cmd::split::{by_shard, Guarded, PartCtx, PartFn, Split, SplitParts};
use crate::cmd::table::{self, CommandSpec, Exec};
use crate::protocol::{Args, Span};
use crate::runtime::locks::{LockId, LockTable, LockWait, TxId};
use crate::runtime::notify::Notify;
use crate::shard::Shard;
use crate::slot::SlotTable;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Shards in the harness (the smallest layout with a middle shard).
pub const SHARDS: usize = 3;

/// One command's arguments laid out as a read buffer and its spans.
pub struct Request {
    pub data: Vec<u8>,
    pub spans: Vec<Span>,
}

impl Request {
    pub fn new<A: AsRef<[u8]>>(parts: &[A]) -> Request {
        let (mut data, mut spans) = (Vec::new(), Vec::new());
        for p in parts {
            let p = p.as_ref();
            spans.push(Span {
                start: data.len() as u32,
                len: p.len() as u32,
            });
            data.extend_from_slice(p);
        }
        Request { data, spans }
    }

    pub fn args(&self) -> Args<'_> {
        self.view(&self.spans)
    }

    /// Arguments over other spans of the same buffer (a part's).
    pub fn view<'a>(&'a self, spans: &'a [Span]) -> Args<'a> {
        Args::new(&self.data, &[], spans)
    }
}

/// Commands for one shard, as the batch runner reads them.
pub struct Cmds<'a> {
    pub list: Vec<(&'static CommandSpec, Args<'a>, bool)>,
}

impl BatchCmds for Cmds<'_> {
    fn count(&self) -> usize {
        self.list.len()
    }

    fn entry(&self, i: usize) -> Option<(&'static CommandSpec, Args<'_>, bool)> {
        self.list.get(i).copied()
    }
}

/// The parts declaration of a multi-key command, by name.
pub fn parts_of(name: &str) -> &'static SplitParts {
    match table::lookup(name.as_bytes()).and_then(|s| s.split()) {
        Some(Split::Parts(p)) => p,
        _ => panic!("{name} does not split into parts"),
    }
}

/// Three shards' lock tables, for the coordinator's unit tests: each
/// coordinator reaches them through [`Locks::at`] its own core. Every lock
/// request is logged, and each grant yields once, so two coordinators
/// interleave between their shards (what makes a wrong order deadlock).
#[derive(Default)]
pub struct Locks {
    pub tables: [RefCell<LockTable<Rc<Notify>, ()>>; SHARDS],
    next: Cell<u64>,
    /// (txid, shard) of every lock request, in order.
    pub log: RefCell<Vec<(TxId, usize)>>,
}

impl Locks {
    /// The coordinator of core `me`.
    pub fn at(&self, me: usize) -> At<'_> {
        At { locks: self, me }
    }

    /// True when no shard holds or waits for anything.
    pub fn idle(&self) -> bool {
        self.tables.iter().all(|t| t.borrow().is_idle())
    }
}

/// [`Locks`] seen from core `me`.
pub struct At<'a> {
    pub locks: &'a Locks,
    pub me: usize,
}

impl Locker for At<'_> {
    fn me(&self) -> usize {
        self.me
    }

    fn new_txid(&self) -> TxId {
        let n = self.locks.next.get() + 1;
        self.locks.next.set(n);
        (n << 10) | self.me as u64
    }

    async fn lock(&self, shard: usize, txid: TxId, keys: Vec<LockId>, whole: bool) {
        self.locks.log.borrow_mut().push((txid, shard));
        let granted = Rc::new(Notify::default());
        let wait = LockWait {
            txid,
            keys,
            whole,
            grantee: granted.clone(),
        };
        let now = self.locks.tables[shard].borrow_mut().lock_or_wait(wait);
        if now.is_none() {
            granted.wait().await;
        }
        futures_lite::future::yield_now().await;
    }

    fn release(&self, shard: usize, txid: TxId) {
        let granted = self.locks.tables[shard].borrow_mut().release(txid);
        for g in granted {
            g.notify();
        }
    }

    async fn wait_free(&self, ids: &[LockId]) {
        let table = &self.locks.tables[self.me];
        while ids.iter().any(|&id| table.borrow().is_locked_id(id, None)) {
            futures_lite::future::yield_now().await;
        }
    }
}

/// Polls `fut` to completion on this thread; panics when it stops making
/// progress (a deadlock: every task waits for a lock no one will release).
pub fn run_to_end<T>(fut: impl std::future::Future<Output = T>) -> T {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..10_000 {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("no progress: deadlock");
}

pub struct Cluster {
    pub shards: Vec<Shard>,
    pub slots: SlotTable,
    pub db: usize,
    /// The manual clock (Unix ms) every command sees.
    pub now_ms: u64,
}

impl Cluster {
    pub fn new(now_ms: u64) -> Cluster {
        let slots = SlotTable::contiguous(SHARDS);
        Cluster {
            shards: (0..SHARDS).map(|i| Shard::new(i, slots, 16)).collect(),
            slots,
            db: 0,
            now_ms,
        }
    }

    pub fn ctx(&self) -> BatchCtx<'static> {
        BatchCtx {
            db: self.db,
            now_ms: self.now_ms,
            resp3: false,
            txid: None,
            client: ClientWho::Nobody,
        }
    }

    /// Runs `cmds` on shard `s` to the end; (replies, where each ends).
    pub fn run_on(&mut self, s: usize, cmds: &Cmds) -> (Vec<u8>, Vec<u32>) {
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        let ctx = self.ctx();
        let done = run_batch(
            &mut self.shards[s],
            cmds,
            &ctx,
            &mut Cursor::default(),
            &mut out,
            Some(&mut ends),
            |_, _| false,
        );
        assert!(done);
        (out, ends)
    }

    /// Runs one command where the router would; returns its reply.
    pub fn run<A: AsRef<[u8]>>(&mut self, parts: &[A]) -> String {
        let req = Request::new(parts);
        let args = req.args();
        let spec = table::lookup(args.get(0)).expect("known command");
        assert!(spec.arity_ok(args.len()), "arity");
        let mut owners: Vec<usize> = spec
            .key_indexes(&args)
            .map(|k| self.slots.shard_of(args.get(k)))
            .collect();
        owners.dedup();
        let reply = match (owners.as_slice(), spec.exec) {
            ([], _) => {
                self.run_on(
                    0,
                    &Cmds {
                        list: vec![(spec, args, false)],
                    },
                )
                .0
            }
            ([s], _) => {
                self.run_on(
                    *s,
                    &Cmds {
                        list: vec![(spec, args, false)],
                    },
                )
                .0
            }
            (_, Exec::MultiKey(_, Split::Parts(p))) => {
                let parts = match (p.split)(self.slots, &args) {
                    Ok(parts) => parts,
                    Err(e) => return format!("-{e}\r\n"),
                };
                let replies: Vec<Vec<u8>> = parts
                    .iter()
                    .map(|(s, spans)| {
                        let cmds = Cmds {
                            list: vec![(spec, req.view(spans), true)],
                        };
                        self.run_on(*s, &cmds).0
                    })
                    .collect();
                let replies: Vec<&[u8]> = replies.iter().map(|r| r.as_slice()).collect();
                let mut out = Vec::new();
                (p.merge)(self.slots, &args, &replies, &mut out).expect("merges");
                out
            }
            (_, Exec::MultiKey(_, Split::Guarded(g))) => self.run_guarded(g, &req),
            _ => b"-CROSSSLOT\r\n".to_vec(),
        };
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// A [`Guarded`] command as route/multikey.rs runs it: the check on
    /// every shard of its keys, then the write on each when allowed.
    fn run_guarded(&mut self, g: &Guarded, req: &Request) -> Vec<u8> {
        let args = req.args();
        let mut out = Vec::new();
        if let Err(e) = (g.check_args)(&args) {
            return format!("-{e}\r\n").into_bytes();
        }
        let parts: Vec<(usize, Vec<bytes::Bytes>)> = by_shard(self.slots, &args, g.per_key)
            .into_iter()
            .map(|(s, spans)| {
                let view = req.view(&spans[1..]);
                let words = view.iter_from(0).map(bytes::Bytes::copy_from_slice);
                (s, words.collect())
            })
            .collect();
        let (db, now_ms) = (self.db, self.now_ms);
        let mut step = |f: PartFn| -> Vec<OpResult> {
            parts
                .iter()
                .map(|(s, words)| {
                    f(
                        &mut self.shards[*s],
                        &PartCtx {
                            db,
                            now_ms,
                            args: words,
                        },
                    )
                })
                .collect()
        };
        let proceed = (g.proceed)(&step(g.check));
        if proceed {
            step(g.apply);
        }
        (g.reply)(
            proceed,
            &mut crate::protocol::ReplyWriter::new(&mut out, false),
        );
        out
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.run(&line.split_whitespace().collect::<Vec<_>>())
    }

    /// A key owned by shard `s` (`{tag}` keys hash as their tag).
    pub fn key_on(&self, s: usize, prefix: &str) -> String {
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .find(|k| self.slots.shard_of(k.as_bytes()) == s)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn keys_live_only_on_their_shard() {
        let mut c = Cluster::new(T0);
        let keys: Vec<String> = (0..SHARDS).map(|s| c.key_on(s, "k")).collect();
        for (s, k) in keys.iter().enumerate() {
            assert_eq!(c.cmd(&format!("SET {k} v{s}")), "+OK\r\n");
        }
        for (s, k) in keys.iter().enumerate() {
            assert_eq!(c.cmd(&format!("GET {k}")), format!("$2\r\nv{s}\r\n"));
            assert!(
                c.shards[s].get(0, k.as_bytes(), T0).is_some(),
                "{k} on shard {s}"
            );
        }
        // One key each: none was stored on another shard too. (Asking a
        // shard for a key it does not own is a routing bug it asserts on.)
        for (s, shard) in c.shards.iter().enumerate() {
            assert_eq!(shard.db(0).len(), 1, "keys on shard {s}");
        }
    }

    #[test]
    fn split_commands_merge_across_three_shards() {
        let mut c = Cluster::new(T0);
        let [a, b, d] = [0, 1, 2].map(|s| c.key_on(s, "m"));
        // Keys in an order that is not the shards' order.
        assert_eq!(c.cmd(&format!("MSET {d} 3 {a} 1 {b} 2")), "+OK\r\n");
        let req = Request::new(&["MGET", b.as_str(), "nokey", d.as_str(), a.as_str()]);
        let parts = (parts_of("mget").split)(c.slots, &req.args()).unwrap();
        let mut shards: Vec<usize> = parts.iter().map(|p| p.0).collect();
        // Shards in order of first appearance, each once.
        let first = [1, c.slots.shard_of(b"nokey"), 2, 0];
        let mut want: Vec<usize> = Vec::new();
        for s in first {
            if !want.contains(&s) {
                want.push(s);
            }
        }
        assert_eq!(shards, want);
        shards.sort_unstable();
        shards.dedup();
        assert_eq!(shards.len(), SHARDS);
        assert_eq!(
            c.run(&["MGET", b.as_str(), "nokey", d.as_str(), a.as_str()]),
            "*4\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n$1\r\n1\r\n"
        );
        assert_eq!(c.cmd(&format!("EXISTS {a} {b} {d} {a} nokey")), ":4\r\n");
        assert_eq!(c.cmd(&format!("DEL {a} {d} nokey")), ":2\r\n");
        assert_eq!(c.cmd(&format!("EXISTS {a} {b} {d}")), ":1\r\n");
    }

    #[test]
    fn merge_takes_the_first_part_error_and_rejects_a_bad_part() {
        let slots = SlotTable::contiguous(SHARDS);
        let req = Request::new(&["MGET", "a", "b"]);
        let mut out = Vec::new();
        let err: &[u8] = b"-WRONGTYPE x\r\n";
        let mget = parts_of("mget").merge;
        let r = mget(slots, &req.args(), &[b"*1\r\n$1\r\nv\r\n", err], &mut out);
        assert_eq!((r, out.as_slice()), (Some(false), err));
        // A part with fewer elements than its keys: nothing written.
        let (sa, sb) = (slots.shard_of(b"a"), slots.shard_of(b"b"));
        let parts: &[&[u8]] = if sa == sb {
            &[b"*1\r\n$1\r\nv\r\n"]
        } else {
            &[b"*1\r\n$1\r\nv\r\n", b"*0\r\n"]
        };
        let mut out = Vec::new();
        assert_eq!(mget(slots, &req.args(), parts, &mut out), None);
        assert!(out.is_empty());
        let mut out = Vec::new();
        let sums: &[&[u8]] = &[b":2\r\n", b":0\r\n", b":5\r\n"];
        let r = (parts_of("del").merge)(slots, &req.args(), sums, &mut out);
        assert_eq!((r, out.as_slice()), (Some(true), &b":7\r\n"[..]));
    }

    #[test]
    fn mset_with_a_missing_value_is_not_split() {
        let req = Request::new(&["MSET", "a", "1", "b"]);
        let slots = SlotTable::contiguous(SHARDS);
        let arity = crate::cmd::CmdError::WrongArity("mset".into());
        assert_eq!((parts_of("mset").split)(slots, &req.args()), Err(arity));
    }

    /// The batch runner stops before a command on a locked key (replies so
    /// far kept, ends recorded), and resumes from there once it is released.
    #[test]
    fn batch_stops_at_a_locked_key_and_resumes() {
        let mut c = Cluster::new(T0);
        let [x, y] = [c.key_on(1, "x"), c.key_on(1, "y")];
        let reqs: Vec<Request> = [
            vec!["SET", x.as_str(), "1"],
            vec!["INCR", y.as_str()],
            vec!["GET", x.as_str()],
            vec!["INCR", x.as_str()],
        ]
        .iter()
        .map(|p| Request::new(p))
        .collect();
        let cmds = Cmds {
            list: reqs
                .iter()
                .map(|r| (table::lookup(r.args().get(0)).unwrap(), r.args(), false))
                .collect(),
        };
        let locked = Cell::new(true);
        let ctx = c.ctx();
        let (mut cursor, mut out, mut ends) = (Cursor::default(), Vec::new(), Vec::new());
        let is_locked = |_db: usize, key: &[u8]| locked.get() && key == y.as_bytes();
        let shard = &mut c.shards[1];
        assert!(!run_batch(
            shard,
            &cmds,
            &ctx,
            &mut cursor,
            &mut out,
            Some(&mut ends),
            is_locked
        ));
        assert_eq!(
            (cursor.next, out.as_slice(), ends.as_slice()),
            (1, &b"+OK\r\n"[..], &[5][..])
        );
        // Still locked: nothing runs.
        assert!(!run_batch(
            shard,
            &cmds,
            &ctx,
            &mut cursor,
            &mut out,
            Some(&mut ends),
            is_locked
        ));
        assert_eq!(cursor.next, 1);
        locked.set(false);
        assert!(run_batch(
            shard,
            &cmds,
            &ctx,
            &mut cursor,
            &mut out,
            Some(&mut ends),
            is_locked
        ));
        assert_eq!(out, b"+OK\r\n:1\r\n$1\r\n1\r\n:2\r\n");
        assert_eq!(ends, [5, 9, 16, 20]);
        assert_eq!(cursor.errors, 0);
    }

    /// Entries of other shards are skipped (a segment's local items); an
    /// error reply is counted.
    #[test]
    fn batch_skips_other_shards_entries_and_counts_errors() {
        struct Mine<'a>(Cmds<'a>, Vec<bool>);
        impl BatchCmds for Mine<'_> {
            fn count(&self) -> usize {
                self.0.count()
            }
            fn entry(&self, i: usize) -> Option<(&'static CommandSpec, Args<'_>, bool)> {
                self.1[i].then(|| self.0.list[i])
            }
        }
        let mut c = Cluster::new(T0);
        let k = c.key_on(2, "s");
        let reqs = [
            Request::new(&["SET", k.as_str(), "a"]),
            Request::new(&["SET", "elsewhere", "b"]),
            Request::new(&["INCR", k.as_str()]),
        ];
        let list = reqs
            .iter()
            .map(|r| (table::lookup(r.args().get(0)).unwrap(), r.args(), false))
            .collect();
        let mine = Mine(Cmds { list }, vec![true, false, true]);
        let ctx = c.ctx();
        let (mut cursor, mut out) = (Cursor::default(), Vec::new());
        assert!(run_batch(
            &mut c.shards[2],
            &mine,
            &ctx,
            &mut cursor,
            &mut out,
            None,
            |_, _| false
        ));
        assert_eq!(
            out,
            b"+OK\r\n-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!((cursor.next, cursor.errors), (3, 1));
    }

    /// TTLs by the manual clock, on every shard: a key lives until its
    /// deadline, not a millisecond after.
    #[test]
    fn ttl_follows_the_manual_clock_on_every_shard() {
        let mut c = Cluster::new(T0);
        let keys: Vec<String> = (0..SHARDS).map(|s| c.key_on(s, "t")).collect();
        for (s, k) in keys.iter().enumerate() {
            let ms = 100 * (s as u64 + 1);
            assert_eq!(c.cmd(&format!("SET {k} v PX {ms}")), "+OK\r\n");
        }
        c.now_ms = T0 + 99;
        assert_eq!(c.cmd(&format!("PTTL {}", keys[0])), ":1\r\n");
        assert_eq!(c.cmd(&format!("GET {}", keys[0])), "$1\r\nv\r\n");
        c.now_ms = T0 + 100;
        assert_eq!(c.cmd(&format!("GET {}", keys[0])), "$-1\r\n");
        assert_eq!(c.cmd(&format!("PTTL {}", keys[1])), ":100\r\n");
        let all = format!("EXISTS {} {} {}", keys[0], keys[1], keys[2]);
        assert_eq!(c.cmd(&all), ":2\r\n");
        c.now_ms = T0 + 250;
        assert_eq!(c.cmd(&all), ":1\r\n");
        // TTL rounds to the nearest second, as Redis does.
        assert_eq!(c.cmd(&format!("PTTL {}", keys[2])), ":50\r\n");
        assert_eq!(c.cmd(&format!("TTL {}", keys[2])), ":0\r\n");
        c.now_ms = T0 + 300;
        assert_eq!(c.cmd(&all), ":0\r\n");
        // PERSIST stops the clock mattering.
        assert_eq!(c.cmd(&format!("SET {} w EX 1", keys[1])), "+OK\r\n");
        assert_eq!(c.cmd(&format!("PERSIST {}", keys[1])), ":1\r\n");
        c.now_ms += 10_000;
        assert_eq!(c.cmd(&format!("GET {}", keys[1])), "$1\r\nw\r\n");
        assert_eq!(c.cmd(&format!("TTL {}", keys[1])), ":-1\r\n");
    }
}
