//! Commands' stat indexes: the position of a command of the table (its
//! subcommands included) in the per-core statistics of [`crate::metrics`],
//! and the calls that record a command there by its spec.
//!
//! The index is found by binary search over the specs' addresses in a table
//! built once, so recording costs no hashing and no allocation.

use super::command_docs::subcommands_of;
use super::table::{self, flag, CommandSpec};
use crate::metrics::{self, Call};
use crate::protocol::Args;
use std::sync::OnceLock;

/// Every command the statistics know, in table order, and the sorted
/// addresses used to find a spec's index.
struct StatTable {
    specs: Vec<&'static CommandSpec>,
    /// (address, index) sorted by address.
    by_addr: Vec<(usize, u16)>,
}

fn stat_table() -> &'static StatTable {
    static TABLE: OnceLock<StatTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut specs: Vec<&'static CommandSpec> = Vec::new();
        for c in table::all() {
            specs.push(c);
            specs.extend(subcommands_of(c).iter());
        }
        let mut by_addr: Vec<(usize, u16)> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (*s as *const CommandSpec as usize, i as u16))
            .collect();
        by_addr.sort_unstable();
        StatTable { specs, by_addr }
    })
}

/// Number of command slots (the table's commands and subcommands).
pub fn stat_count() -> usize {
    stat_table().specs.len()
}

/// The command at a stat index.
pub fn stat_spec(index: usize) -> &'static CommandSpec {
    stat_table().specs[index]
}

/// The name of the command at a stat index.
pub fn stat_name(index: usize) -> &'static str {
    stat_spec(index).name
}

/// The stat index of a command of the table (None for a spec not in it).
pub fn stat_index(spec: &CommandSpec) -> Option<usize> {
    let t = stat_table();
    let addr = spec as *const CommandSpec as usize;
    t.by_addr
        .binary_search_by_key(&addr, |e| e.0)
        .ok()
        .map(|i| t.by_addr[i].1 as usize)
}

/// What the recorders need to know of `spec`.
#[inline]
fn call_of(spec: &CommandSpec) -> Call {
    Call {
        stat: stat_index(spec),
        fast: spec.flags & flag::FAST != 0,
        slowlog: spec.flags & flag::SKIP_SLOWLOG == 0,
    }
}

/// A command ran on this core: calls, µs, failures, slowlog, latency monitor.
#[inline]
pub fn record_command(spec: &CommandSpec, args: &Args, started: quanta::Instant, ok: bool) {
    record_command_us(spec, args, started.elapsed().as_micros() as u64, ok);
}

/// Like [`record_command`], with the duration already measured.
#[inline]
pub fn record_command_us(spec: &CommandSpec, args: &Args, usec: u64, ok: bool) {
    metrics::record_call(call_of(spec), args, usec, ok);
}

/// A command was refused before running (`rejected_calls`).
pub fn record_rejected(spec: &CommandSpec) {
    metrics::record_rejected(stat_index(spec));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_covers_commands_and_subcommands() {
        let get = table::lookup(b"get").unwrap();
        let client = table::lookup(b"client").unwrap();
        let list = super::super::command_docs::find_subcommand(subcommands_of(client), b"list");
        let (g, l) = (stat_index(get).unwrap(), stat_index(list.unwrap()).unwrap());
        assert_ne!(g, l);
        assert_eq!(stat_spec(g).name, "get");
        assert_eq!(stat_spec(l).name, "client|list");
        assert!(stat_count() > l);
    }
}
