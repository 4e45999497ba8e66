//! Observability commands: SLOWLOG, LATENCY and MONITOR. They need every
//! core (logs are per core, monitors anywhere), so they are `Global`: the
//! router hands them to `route::observe`, which gathers and
//! calls the reply writers here. Arity, flags and ACL categories are Redis
//! 7.0's as `COMMAND INFO` shows them.

use super::table::{flag::*, spec, CommandSpec, Exec, Global, NO_KEYS};
use crate::metrics::latency::EventSeries;
use crate::metrics::slowlog::SlowEntry;
use crate::protocol::ReplyWriter;

const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous"];
const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const SLOWLOG: Exec = Exec::Global(Global::Slowlog);
const LATENCY: Exec = Exec::Global(Global::Latency);

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("server", "slowlog", -2, 0, NO_KEYS, &["slow"], "A container for slow log commands", "2.2.12", SLOWLOG).with_subcommands(SLOWLOG_SUBCOMMANDS),
    spec("server", "latency", -2, 0, NO_KEYS, &["slow"], "A container for latency diagnostics commands", "2.8.13", LATENCY).with_subcommands(LATENCY_SUBCOMMANDS),
    spec("server", "monitor", 1, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Listen for all requests received by the server in real time", "1.0.0", Exec::Global(Global::Monitor)),
];

#[rustfmt::skip]
pub static SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    spec("server", "slowlog|get", -2, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Get the slow log's entries", "2.2.12", SLOWLOG),
    spec("server", "slowlog|len", 2, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Get the slow log's length", "2.2.12", SLOWLOG),
    spec("server", "slowlog|reset", 2, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Clear all entries from the slow log", "2.2.12", SLOWLOG),
    spec("server", "slowlog|help", 2, LOADING | STALE, NO_KEYS, &["slow"], "Show helpful text about the different subcommands", "6.2.0", SLOWLOG),
];

#[rustfmt::skip]
pub static LATENCY_SUBCOMMANDS: &[CommandSpec] = &[
    spec("server", "latency|latest", 2, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Return the latest latency samples for all events", "2.8.13", LATENCY),
    spec("server", "latency|history", 3, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Return timestamp-latency samples for the event", "2.8.13", LATENCY),
    spec("server", "latency|reset", -2, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Reset latency data for one or more events", "2.8.13", LATENCY),
    spec("server", "latency|help", 2, LOADING | STALE, NO_KEYS, &["slow"], "Show helpful text about the different subcommands", "2.8.13", LATENCY),
];

/// SLOWLOG HELP's lines (Redis 7.0's).
pub const SLOWLOG_HELP: &[&str] = &[
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
];

/// LATENCY HELP's lines (the subcommands ringkv implements).
pub const LATENCY_HELP: &[&str] = &[
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
];

/// `SLOWLOG GET`'s reply.
pub fn write_slowlog(reply: &mut ReplyWriter, entries: &[SlowEntry]) {
    reply.array(entries.len());
    for e in entries {
        reply.array(6);
        reply.int(e.id as i64);
        reply.int(e.time as i64);
        reply.int(e.duration_us as i64);
        reply.array(e.args.len());
        for a in &e.args {
            reply.bulk(a);
        }
        reply.bulk(e.addr.as_bytes());
        reply.bulk(&e.name);
    }
}

/// `LATENCY LATEST`'s reply: [event, time of latest, latest ms, max ms].
pub fn write_latency_latest(reply: &mut ReplyWriter, events: &[(String, EventSeries)]) {
    let events: Vec<_> = events
        .iter()
        .filter_map(|(n, s)| s.samples.last().map(|last| (n, last, s.max)))
        .collect();
    reply.array(events.len());
    for (name, (time, ms), max) in events {
        reply.array(4);
        reply.bulk(name.as_bytes());
        reply.int(*time as i64);
        reply.int(*ms as i64);
        reply.int(max as i64);
    }
}

/// `LATENCY HISTORY event`'s reply: [time, ms] pairs, oldest first.
pub fn write_latency_history(reply: &mut ReplyWriter, series: Option<&EventSeries>) {
    let samples = series.map(|s| s.samples.as_slice()).unwrap_or(&[]);
    reply.array(samples.len());
    for (time, ms) in samples {
        reply.array(2);
        reply.int(*time as i64);
        reply.int(*ms as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowlog_entry_encoding() {
        let mut out = Vec::new();
        let e = SlowEntry {
            id: 7,
            time: 1_700_000_000,
            time_us: 0,
            duration_us: 12,
            args: vec![b"get".to_vec(), b"k".to_vec()],
            addr: "127.0.0.1:5000".into(),
            name: b"app".to_vec(),
        };
        write_slowlog(&mut ReplyWriter::new(&mut out, false), &[e]);
        assert_eq!(
            out,
            b"*1\r\n*6\r\n:7\r\n:1700000000\r\n:12\r\n*2\r\n$3\r\nget\r\n$1\r\nk\r\n$14\r\n127.0.0.1:5000\r\n$3\r\napp\r\n"
        );
    }

    #[test]
    fn latency_replies() {
        let s = EventSeries {
            samples: vec![(10, 5), (12, 7)],
            max: 9,
        };
        let mut out = Vec::new();
        write_latency_latest(
            &mut ReplyWriter::new(&mut out, false),
            &[("command".into(), s.clone())],
        );
        assert_eq!(out, b"*1\r\n*4\r\n$7\r\ncommand\r\n:12\r\n:7\r\n:9\r\n");
        out.clear();
        write_latency_history(&mut ReplyWriter::new(&mut out, false), Some(&s));
        assert_eq!(out, b"*2\r\n*2\r\n:10\r\n:5\r\n*2\r\n:12\r\n:7\r\n");
    }
}
