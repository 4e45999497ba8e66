//! What each write journals (shard/journal.rs), through the manual-clock
//! harness: the command received, or its deterministic rewrite, or nothing
//! when it changed nothing; records over one slot each; every removal by
//! expiry a `DEL`. Also: replaying the journal through the table rebuilds
//! the same data, with the clock long past every expiry it saw.

use super::harness::Harness;
use crate::persist::aof::{parse, Record};
use crate::server::replay;
use crate::shard::Shard;
use crate::slot::{key_slot, SlotTable};

const NOW: u64 = 1_700_000_000_000;

fn journaled() -> Harness {
    let mut h = Harness::new(NOW);
    h.shard.enable_journal();
    h
}

/// The records journaled since the last call, as space-joined words
/// (a MULTI/EXEC group's commands inside brackets).
fn records(h: &mut Harness) -> Vec<String> {
    let (bytes, _) = h.shard.journal_mut().unwrap().take();
    // Names as typed are journaled as typed; shown upper-case here.
    let words = |c: &crate::persist::aof::Command| {
        let mut w: Vec<String> = c
            .args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        w[0] = w[0].to_uppercase();
        w.join(" ")
    };
    parse(&bytes)
        .expect("valid AOF")
        .records
        .iter()
        .map(|r| match r {
            Record::Cmd(c) => words(c),
            Record::Tx { cmds, .. } => {
                let inner: Vec<String> = cmds.iter().map(words).collect();
                format!("[{}]", inner.join("; "))
            }
        })
        .filter(|r| !r.starts_with("SELECT"))
        .collect()
}

#[test]
fn writes_journal_their_command_or_its_rewrite() {
    let mut h = journaled();
    let at = |ms: u64| (NOW + ms).to_string();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("set k v", vec!["SET k v".into()]),
        ("set k v nx", vec![]),
        ("set k v2 xx get", vec!["SET k v2 xx get".into()]),
        (
            "set e v ex 10",
            vec![format!("SET e v PXAT {}", at(10_000))],
        ),
        ("set e v px 10 nx", vec![]),
        ("set p v px 20", vec![format!("SET p v PXAT {}", at(20))]),
        ("set q v pxat 1", vec![]),
        ("set p v pxat 1", vec!["DEL p".into()]),
        ("setex s 5 v", vec![format!("SET s v PXAT {}", at(5_000))]),
        ("psetex s 5 v", vec![format!("SET s v PXAT {}", at(5))]),
        ("setnx k x", vec![]),
        ("append k abc", vec!["APPEND k abc".into()]),
        ("setrange k 1 zz", vec!["SETRANGE k 1 zz".into()]),
        ("setrange nokey 3 ", vec![]),
        ("incr n", vec!["INCR n".into()]),
        ("incrby n x", vec![]),
        ("incrbyfloat f 1.5", vec!["SET f 1.5 KEEPTTL".into()]),
        ("getdel nokey", vec![]),
        ("getdel f", vec!["DEL f".into()]),
        ("getex k", vec![]),
        ("getex k ex 7", vec![format!("PEXPIREAT k {}", at(7_000))]),
        ("getex k persist", vec!["PERSIST k".into()]),
        ("getex k persist", vec![]),
        ("expire k 3", vec![format!("PEXPIREAT k {}", at(3_000))]),
        ("expire k 9 nx", vec![]),
        ("pexpire k 9 gt", vec![]),
        ("persist k", vec!["PERSIST k".into()]),
        ("expire k 0", vec!["DEL k".into()]),
        ("expire nokey 5", vec![]),
        ("del nokey", vec![]),
        ("move nokey 1", vec![]),
        ("set m v", vec!["SET m v".into()]),
        ("move m 2", vec!["MOVE m 2".into()]),
    ];
    for (line, want) in cases {
        h.cmd(line);
        assert_eq!(records(&mut h), want, "{line}");
    }
}

#[test]
fn multi_key_writes_journal_one_slot_per_record() {
    let mut h = journaled();
    h.cmd("mset {a}1 x {a}2 y");
    assert_eq!(records(&mut h), ["MSET {a}1 x {a}2 y"]);
    h.cmd("mset {b}1 1 {a}1 2 {b}1 3");
    let (a, b) = (key_slot(b"{a}"), key_slot(b"{b}"));
    let want = if a < b {
        "[MSET {a}1 2; MSET {b}1 1 {b}1 3]"
    } else {
        "[MSET {b}1 1 {b}1 3; MSET {a}1 2]"
    };
    assert_eq!(records(&mut h), [want]);
    h.cmd("msetnx {c}1 1 {d}1 2");
    assert_eq!(records(&mut h).len(), 1);
    h.cmd("msetnx {c}1 1 {e}1 2");
    assert!(records(&mut h).is_empty());
    h.cmd("del {a}1 {a}2 {a}3");
    assert_eq!(records(&mut h), ["DEL {a}1 {a}2 {a}3"]);
    h.cmd("del {b}1 nokey {c}1");
    assert_eq!(records(&mut h), ["[DEL {b}1; DEL {c}1]"]);
    h.cmd("set {a}s v");
    h.cmd("rename {a}s {a}t");
    assert_eq!(records(&mut h), ["SET {a}s v", "RENAME {a}s {a}t"]);
    h.cmd("pexpire {a}t 50");
    records(&mut h);
    h.cmd("rename {a}t {b}t");
    let moved = format!("[DEL {{a}}t; SET {{b}}t v PXAT {}]", NOW + 50);
    assert_eq!(records(&mut h), [moved]);
    h.cmd("copy {b}t {c}t db 3");
    let copied = format!("SET {{c}}t v PXAT {}", NOW + 50);
    assert_eq!(records(&mut h), [copied]);
    h.cmd("copy {b}t {b}u");
    assert_eq!(records(&mut h), ["COPY {b}t {b}u"]);
    assert!(records(&mut h).is_empty());
}

#[test]
fn expiry_removals_journal_a_del() {
    let mut h = journaled();
    h.cmd("set a v px 10");
    h.cmd("set b v px 10");
    h.cmd("set c v px 10");
    records(&mut h);
    h.now_ms += 10;
    // Lazily, before the command that found the key expired.
    h.cmd("setnx a new");
    assert_eq!(records(&mut h), ["[DEL a; SETNX a new]"]);
    h.cmd("get b");
    assert_eq!(records(&mut h), ["DEL b"]);
    // By the active sweep.
    let removed = h.shard.active_expire(h.now_ms, usize::MAX, || false);
    assert_eq!(removed, 1);
    assert_eq!(records(&mut h), ["DEL c"]);
}

#[test]
fn the_journal_replays_to_the_same_data_long_after() {
    let mut h = journaled();
    for line in [
        "set a 1 px 100",
        "persist a",
        "set b 2 px 100",
        "rename b {x}b",
        "persist {x}b",
        "set c 3 ex 100000",
        "incrbyfloat c 0.5",
        "append c xyz",
        "set d 4 px 10",
        "mset e 1 {y}e 2",
        "move e 4",
        "expire {y}e 100",
    ] {
        h.cmd(line);
    }
    h.now_ms += 10;
    h.cmd("setnx d again");
    let (bytes, _) = h.shard.journal_mut().unwrap().take();
    let file = parse(&bytes).unwrap();
    let mut s = Shard::new(0, SlotTable::contiguous(1), 16);
    replay::apply(&mut s, &file, &|_| true).unwrap();
    s.remove_expired(NOW + 3_600_000);
    let state = |s: &mut Shard| {
        let mut v: Vec<(usize, String, u64)> = s
            .entries()
            .map(|(db, e)| {
                let mut text = String::new();
                e.value.as_str().unwrap().with(|b| {
                    text = String::from_utf8_lossy(b).into_owned();
                });
                (
                    db,
                    format!("{}={text}", String::from_utf8_lossy(e.key())),
                    e.expire_at(),
                )
            })
            .collect();
        v.sort();
        v
    };
    h.shard.remove_expired(NOW + 3_600_000);
    let want = state(&mut h.shard);
    assert_eq!(state(&mut s), want);
    let keys: Vec<&str> = want.iter().map(|w| w.1.as_str()).collect();
    assert_eq!(keys, ["a=1", "c=3.5xyz", "d=again", "{x}b=2", "e=1"]);
}

/// RESTORE with a relative TTL is journaled with the absolute time and
/// ABSTTL; one whose TTL is already past journals only the DEL its REPLACE
/// did, and nothing when there was no key.
#[test]
fn restore_journals_an_absolute_ttl() {
    let mut h = journaled();
    h.cmd("set src hello");
    let payload = h.run_bytes(&["dump", "src"]);
    let payload =
        &payload[payload.iter().position(|&b| b == b'\n').unwrap() + 1..payload.len() - 2];
    records(&mut h);
    let at = (NOW + 5000).to_string();
    h.run(&[b"restore".as_slice(), b"k", b"5000", payload]);
    let got = records(&mut h);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("RESTORE k ") && got[0].contains(&at) && got[0].ends_with(" ABSTTL"),
        "{got:?}"
    );
    let past = (NOW - 1).to_string();
    h.run(&[
        b"restore".as_slice(),
        b"k",
        past.as_bytes(),
        payload,
        b"REPLACE",
        b"ABSTTL",
    ]);
    assert_eq!(records(&mut h), vec!["DEL k".to_string()]);
    h.run(&[
        b"restore".as_slice(),
        b"k",
        past.as_bytes(),
        payload,
        b"ABSTTL",
    ]);
    assert_eq!(records(&mut h), Vec::<String>::new());
}
