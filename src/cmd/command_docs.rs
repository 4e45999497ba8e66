//! What `COMMAND` reports, generated from the command table: `COMMAND`,
//! `COMMAND INFO/COUNT/LIST/DOCS/GETKEYS/GETKEYSANDFLAGS/HELP`, plus the
//! subcommand machinery shared by the container commands (CLIENT, COMMAND,
//! CONFIG): lookup by `container|sub` name, dispatch with Redis's arity and
//! unknown-subcommand errors, and Redis-style HELP replies.
//!
//! Nothing here is hard-coded per command: every reply is derived from
//! [`table::all`] and the subcommand tables returned by [`subcommands_of`].
//! Where the table lacks a Redis field (command tips, exact key-spec flags,
//! argument docs) the reply says less than Redis, never something different.

use super::error::{CmdError, CmdResult};
use super::table::{self, flag, CommandSpec, Exec};
use super::{eq_ic, ConnCtx};
use crate::cmd::glob::glob_match;
use crate::protocol::{Args, ReplyWriter};

/// The subcommands of a container command (empty for plain commands), as
/// its table entry declares them.
pub fn subcommands_of(spec: &CommandSpec) -> &'static [CommandSpec] {
    spec.subcommands
}

/// The subcommand of `subs` named `name` (case-insensitive, without the
/// `container|` prefix).
pub fn find_subcommand(subs: &'static [CommandSpec], name: &[u8]) -> Option<&'static CommandSpec> {
    subs.iter().find(|s| {
        let short = s.name.split_once('|').map_or(s.name, |(_, sub)| sub);
        eq_ic(name, short)
    })
}

/// The subcommand `args[1]` names, checked as Redis checks it (unknown
/// subcommand, then its arity); returns its short name (`usage`).
pub fn check_subcommand(
    args: &Args<'_>,
    subs: &'static [CommandSpec],
) -> Result<&'static str, CmdError> {
    let Some(sub) = find_subcommand(subs, args.get(1)) else {
        return Err(unknown_subcommand(args));
    };
    if !sub.arity_ok(args.len()) {
        return Err(CmdError::WrongArity(sub.name.into()));
    }
    Ok(sub.name.split_once('|').map_or(sub.name, |(_, s)| s))
}

/// Looks a command up by its full name (`get`, `client|list`), as
/// `COMMAND INFO` and `COMMAND DOCS` accept it.
pub fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        None => table::lookup(name),
        Some(at) => {
            let container = table::lookup(&name[..at])?;
            find_subcommand(subcommands_of(container), &name[at + 1..])
        }
    }
}

/// The command an invocation runs: the subcommand for containers (when it
/// exists), else the command itself. Its `name` is what CLIENT LIST's `cmd=`
/// and per-command statistics show.
pub fn resolve(spec: &'static CommandSpec, args: &Args) -> &'static CommandSpec {
    let subs = subcommands_of(spec);
    if subs.is_empty() || args.len() < 2 {
        return spec;
    }
    find_subcommand(subs, args.get(1)).unwrap_or(spec)
}

/// Runs the subcommand named by `args[1]` with Redis's checks: an unknown
/// subcommand is `ERR unknown subcommand 'x'. Try CLIENT HELP.` and a wrong
/// count is `ERR wrong number of arguments for 'client|setname' command`.
pub fn dispatch(ctx: &mut ConnCtx, args: &Args, subs: &'static [CommandSpec]) -> CmdResult {
    let Some(sub) = find_subcommand(subs, args.get(1)) else {
        return Err(unknown_subcommand(args));
    };
    if !sub.arity_ok(args.len()) {
        return Err(CmdError::WrongArity(sub.name.into()));
    }
    ctx.client.last_cmd = sub.name;
    match sub.exec {
        Exec::Conn(handler) => handler(ctx, args),
        _ => Err(CmdError::SubcommandElsewhere),
    }
}

/// Redis's error for an unknown subcommand (name cut at 128 bytes, container
/// upper-cased as typed).
pub fn unknown_subcommand(args: &Args) -> CmdError {
    let sub = args.get(1);
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]);
    let container = String::from_utf8_lossy(args.get(0)).to_ascii_uppercase();
    CmdError::UnknownSubcommand {
        sub: sub.into_owned(),
        container,
    }
}

/// A HELP reply as Redis's `addReplyHelp` writes it: a header line, `lines`,
/// then the HELP entry, all as simple strings.
pub fn reply_help(reply: &mut ReplyWriter, args: &Args, lines: &[&str]) {
    let container = String::from_utf8_lossy(args.get(0)).to_ascii_uppercase();
    reply.array(lines.len() + 3);
    reply.simple(&format!(
        "{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        reply.simple(l);
    }
    reply.simple("HELP");
    reply.simple("    Prints this help.");
}

/// Key-spec flags derived from the table: reads are `RO access`; writes that
/// delete (DEL/UNLINK) are `RM delete`; MSET-style writes overwrite (`OW
/// update`), as their split declares (cmd/split.rs); other writes `RW
/// access update`. Redis declares these per
/// command; a table field would make them exact (SET is `RW access update
/// variable_flags` there, APPEND `RW insert`, EXISTS plain `RO`).
pub fn key_flags(spec: &CommandSpec) -> &'static [&'static str] {
    if !spec.is_write() {
        return &["RO", "access"];
    }
    if let super::Exec::Blocking(_) = spec.exec {
        // Every blocking command pops what it waits for.
        return &["RW", "access", "delete"];
    }
    spec.split()
        .and_then(|split| split.key_flags())
        .unwrap_or(&["RW", "access", "update"])
}

/// Command tips (`nondeterministic_output`, `request_policy:...`). The table
/// has no tips yet, so every command reports none.
pub fn tips(_spec: &CommandSpec) -> &'static [&'static str] {
    &[]
}

/// One `COMMAND INFO` entry in Redis 7.0's 10-element format.
pub fn write_info(reply: &mut ReplyWriter, spec: &CommandSpec) {
    reply.array(10);
    reply.bulk(spec.name.as_bytes());
    reply.int(spec.arity as i64);
    let flags: Vec<&str> = flag::NAMES
        .iter()
        .filter(|(bit, _)| spec.flags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    reply.set(flags.len());
    for f in flags {
        reply.simple(f);
    }
    reply.int(spec.first_key as i64);
    reply.int(spec.last_key as i64);
    reply.int(spec.step as i64);
    reply.set(spec.acl.len());
    for cat in spec.acl {
        reply.simple(&format!("@{cat}"));
    }
    let tips = tips(spec);
    reply.set(tips.len());
    for t in tips {
        reply.bulk(t.as_bytes());
    }
    write_key_specs(reply, spec);
    let subs = subcommands_of(spec);
    if subs.is_empty() {
        reply.set(0);
    } else {
        reply.array(subs.len());
        for s in subs {
            write_info(reply, s);
        }
    }
}

/// The key specifications: an `index` + `range` spec derived from
/// (first, last, step), as Redis reports for simple key patterns, then an
/// `index` + `keynum` spec for a key count, then a `keyword` + `range`
/// spec per keyword that names a key. A command whose written key follows
/// a keyword only reads its positional key (`RO access`).
fn write_key_specs(reply: &mut ReplyWriter, spec: &CommandSpec) {
    let ranged = spec.first_key > 0;
    let counted = spec.numkeys_at > 0;
    let keywords = spec.keyword_key.map_or(&[][..], |k| k.keywords);
    let unknown = spec.keyword_key.map_or(&[][..], |k| k.unknown_specs);
    let searched = if unknown.is_empty() {
        keywords.len()
    } else {
        unknown.len()
    };
    reply.set(usize::from(ranged) + usize::from(counted) + searched);
    let flags = key_flags(spec);
    if ranged {
        let read: &[&str] = &["RO", "access"];
        let first = if keywords.is_empty() { flags } else { read };
        begin_key_spec(reply, first, spec.first_key as i64);
        write_range_spec(reply, spec);
    }
    if counted {
        begin_key_spec(reply, flags, spec.numkeys_at as i64);
        reply.map(2);
        reply.bulk(b"type");
        reply.bulk(b"keynum");
        reply.bulk(b"spec");
        reply.map(3);
        reply.bulk(b"keynumidx");
        reply.int(0);
        reply.bulk(b"firstkey");
        reply.int(1);
        reply.bulk(b"keystep");
        reply.int(1);
    }
    for (notes, flags) in unknown {
        write_unknown_spec(reply, notes, flags);
    }
    for (k, word) in spec
        .keyword_key
        .iter()
        .filter(|k| k.unknown_specs.is_empty())
        .flat_map(|k| k.keywords.iter().map(move |w| (k, w)))
    {
        write_flags(reply, flags);
        reply.bulk(b"begin_search");
        reply.map(2);
        reply.bulk(b"type");
        reply.bulk(b"keyword");
        reply.bulk(b"spec");
        reply.map(2);
        reply.bulk(b"keyword");
        reply.bulk(word.as_bytes());
        reply.bulk(b"startfrom");
        reply.int(k.startfrom as i64);
        reply.bulk(b"find_keys");
        write_single_range(reply, 0, 1);
    }
}

/// A key spec of Redis's `unknown` kind: its notes, its flags, and no
/// search or find rules.
fn write_unknown_spec(reply: &mut ReplyWriter, notes: &str, flags: &[&str]) {
    reply.map(4);
    reply.bulk(b"notes");
    reply.bulk(notes.as_bytes());
    write_flags_field(reply, flags);
    for step in [&b"begin_search"[..], b"find_keys"] {
        reply.bulk(step);
        reply.map(2);
        reply.bulk(b"type");
        reply.bulk(b"unknown");
        reply.bulk(b"spec");
        reply.map(0);
    }
}

/// A key spec's map header and its flags.
fn write_flags(reply: &mut ReplyWriter, flags: &[&str]) {
    reply.map(3);
    write_flags_field(reply, flags);
}

fn write_flags_field(reply: &mut ReplyWriter, flags: &[&str]) {
    reply.bulk(b"flags");
    reply.set(flags.len());
    for f in flags {
        reply.simple(f);
    }
}

/// A key spec's flags and its `begin_search` at argument `index`, up to
/// its `find_keys` value.
fn begin_key_spec(reply: &mut ReplyWriter, flags: &[&str], index: i64) {
    write_flags(reply, flags);
    reply.bulk(b"begin_search");
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(b"index");
    reply.bulk(b"spec");
    reply.map(1);
    reply.bulk(b"index");
    reply.int(index);
    reply.bulk(b"find_keys");
}

/// The `range` spec of (first, last, step), after its `begin_search`.
fn write_range_spec(reply: &mut ReplyWriter, spec: &CommandSpec) {
    let last = if spec.last_key < 0 {
        spec.last_key
    } else {
        spec.last_key - spec.first_key
    };
    write_single_range(reply, last as i64, spec.step as i64);
}

/// A `range` `find_keys` value: `lastkey`, `keystep`, no limit.
fn write_single_range(reply: &mut ReplyWriter, last: i64, step: i64) {
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(b"range");
    reply.bulk(b"spec");
    reply.map(3);
    reply.bulk(b"lastkey");
    reply.int(last);
    reply.bulk(b"keystep");
    reply.int(step);
    reply.bulk(b"limit");
    reply.int(0);
}

/// One `COMMAND DOCS` value: summary, since, group and, for containers, the
/// subcommands' docs. (Redis also has complexity, history and arguments.)
pub fn write_docs(reply: &mut ReplyWriter, spec: &CommandSpec) {
    let subs = subcommands_of(spec);
    reply.map(if subs.is_empty() { 3 } else { 4 });
    reply.bulk(b"summary");
    reply.bulk(spec.summary.as_bytes());
    reply.bulk(b"since");
    reply.bulk(spec.since.as_bytes());
    reply.bulk(b"group");
    reply.bulk(spec.group.as_bytes());
    if !subs.is_empty() {
        reply.bulk(b"subcommands");
        reply.map(subs.len());
        for s in subs {
            reply.bulk(s.name.as_bytes());
            write_docs(reply, s);
        }
    }
}

/// Every command and subcommand, containers before their subcommands.
fn all_with_subcommands() -> impl Iterator<Item = &'static CommandSpec> {
    table::all().flat_map(|c| std::iter::once(c).chain(subcommands_of(c).iter()))
}

// ---- COMMAND and its subcommands -------------------------------------------

/// `COMMAND [subcommand ...]`: bare, every command's info; else a subcommand.
pub fn command(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    if args.len() == 1 {
        ctx.reply.array(table::count());
        for spec in table::all() {
            write_info(&mut ctx.reply, spec);
        }
        return Ok(());
    }
    dispatch(ctx, args, super::server::COMMAND_SUBCOMMANDS)
}

pub fn command_count(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    ctx.reply.int(table::count() as i64);
    Ok(())
}

/// `COMMAND INFO [name ...]`: every command when none is named; a null bulk
/// (`$-1`, as Redis) for each unknown name.
pub fn command_info(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        ctx.reply.array(table::count());
        for spec in table::all() {
            write_info(&mut ctx.reply, spec);
        }
        return Ok(());
    }
    ctx.reply.array(args.len() - 2);
    for name in args.iter_from(2) {
        match find_command(name) {
            Some(spec) => write_info(&mut ctx.reply, spec),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// `COMMAND DOCS [name ...]`: a map of name → docs; unknown names are left out.
pub fn command_docs(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        ctx.reply.map(table::count());
        for spec in table::all() {
            ctx.reply.bulk(spec.name.as_bytes());
            write_docs(&mut ctx.reply, spec);
        }
        return Ok(());
    }
    let found: Vec<&CommandSpec> = args.iter_from(2).filter_map(find_command).collect();
    ctx.reply.map(found.len());
    for spec in found {
        ctx.reply.bulk(spec.name.as_bytes());
        write_docs(&mut ctx.reply, spec);
    }
    Ok(())
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT cat | PATTERN glob]`.
pub fn command_list(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    enum Filter<'a> {
        None,
        Module,
        AclCat(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let filter = match args.len() {
        2 => Filter::None,
        5 if eq_ic(args.get(2), "filterby") => {
            let (kind, value) = (args.get(3), args.get(4));
            if eq_ic(kind, "module") {
                Filter::Module
            } else if eq_ic(kind, "aclcat") {
                Filter::AclCat(value)
            } else if eq_ic(kind, "pattern") {
                Filter::Pattern(value)
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let names: Vec<&str> = all_with_subcommands()
        .filter(|c| match filter {
            Filter::None => true,
            Filter::Module => false,
            Filter::AclCat(cat) => c.acl.iter().any(|a| eq_ic(cat, a)),
            Filter::Pattern(p) => glob_match(p, c.name.as_bytes(), true),
        })
        .map(|c| c.name)
        .collect();
    ctx.reply.array(names.len());
    for n in names {
        ctx.reply.bulk(n.as_bytes());
    }
    Ok(())
}

/// The key positions of the command in `args[2..]`, with Redis's errors.
fn keys_of(args: &Args) -> Result<(&'static CommandSpec, Vec<usize>), CmdError> {
    let mut spec = table::lookup(args.get(2)).ok_or(CmdError::InvalidCommand)?;
    let subs = subcommands_of(spec);
    if !subs.is_empty() {
        if args.len() < 4 {
            return Err(CmdError::InvalidCommand);
        }
        spec = find_subcommand(subs, args.get(3)).ok_or(CmdError::InvalidCommand)?;
    }
    if spec.first_key <= 0 && spec.numkeys_at == 0 {
        return Err(CmdError::NoKeyArguments);
    }
    let cmd = args.tail(2);
    if !spec.arity_ok(cmd.len()) {
        return Err(CmdError::InvalidArgCount);
    }
    let keys: Vec<usize> = spec.key_indexes(&cmd).collect();
    if keys.is_empty() {
        return Err(CmdError::InvalidGetKeysArguments);
    }
    Ok((spec, keys))
}

/// `COMMAND GETKEYS cmd arg...`: the key arguments of a full command.
pub fn command_getkeys(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let (_, keys) = keys_of(args)?;
    ctx.reply.array(keys.len());
    for i in keys {
        ctx.reply.bulk(args.get(i + 2));
    }
    Ok(())
}

/// `COMMAND GETKEYSANDFLAGS cmd arg...`: each key with its key-spec flags.
pub fn command_getkeysandflags(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let (spec, keys) = keys_of(args)?;
    let flags = key_flags(spec);
    ctx.reply.array(keys.len());
    for i in keys {
        ctx.reply.array(2);
        ctx.reply.bulk(args.get(i + 2));
        ctx.reply.set(flags.len());
        for f in flags {
            ctx.reply.simple(f);
        }
    }
    Ok(())
}

pub fn command_help(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    reply_help(
        &mut ctx.reply,
        args,
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::args::OwnedArgs;

    fn info_bytes(name: &str, resp3: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let spec = find_command(name.as_bytes()).unwrap();
        write_info(&mut ReplyWriter::new(&mut out, resp3), spec);
        out
    }

    #[test]
    fn get_info_matches_redis_bytes() {
        // Byte for byte what Redis 7.0.15 sends for `COMMAND INFO get` (the entry).
        let redis = b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
        assert_eq!(
            String::from_utf8_lossy(&info_bytes("get", false)),
            String::from_utf8_lossy(redis)
        );
        let resp3 = info_bytes("get", true);
        assert!(resp3.starts_with(b"*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n"));
        assert!(resp3.ends_with(b"$5\r\nlimit\r\n:0\r\n~0\r\n"));
    }

    #[test]
    fn containers_and_subcommands() {
        assert_eq!(find_command(b"CLIENT|ID").unwrap().name, "client|id");
        assert_eq!(find_command(b"config|get").unwrap().name, "config|get");
        assert!(find_command(b"client|nope").is_none());
        assert!(find_command(b"get|x").is_none());
        let client = table::lookup(b"client").unwrap();
        let args = OwnedArgs::from_parts(["client", "SetName", "x"]);
        assert_eq!(resolve(client, &args.args()).name, "client|setname");
        let args = OwnedArgs::from_parts(["client", "nope"]);
        assert_eq!(resolve(client, &args.args()).name, "client");
        let info = info_bytes("config", false);
        assert!(info.starts_with(b"*10\r\n$6\r\nconfig\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*5\r\n*10\r\n"));
        let args = OwnedArgs::from_parts(["client", "foo"]);
        assert_eq!(
            unknown_subcommand(&args.args()).to_string(),
            "ERR unknown subcommand 'foo'. Try CLIENT HELP."
        );
    }

    #[test]
    fn every_subcommand_is_well_formed() {
        for c in table::all() {
            for s in subcommands_of(c) {
                let (container, _) = s.name.split_once('|').expect("container|sub");
                assert_eq!(container, c.name);
                assert!(s.arity >= 2 || s.arity <= -2, "{}", s.name);
                // Conn: run by `dispatch`; Global: by the router (SLOWLOG,
                // LATENCY); Shard: by their container's shard handler
                // (OBJECT); FanOut: by their container's fan-out (FUNCTION).
                assert!(
                    matches!(
                        (s.exec, c.exec),
                        (Exec::Conn(_) | Exec::Global(_), _)
                            | (Exec::Shard(_), Exec::Shard(_))
                            | (Exec::FanOut(_), Exec::FanOut(_))
                    ),
                    "{}",
                    s.name
                );
                assert_eq!(s.group, c.group, "{}", s.name);
            }
        }
    }

    #[test]
    fn key_flags_from_table() {
        assert_eq!(key_flags(table::lookup(b"get").unwrap()), &["RO", "access"]);
        assert_eq!(
            key_flags(table::lookup(b"mset").unwrap()),
            &["OW", "update"]
        );
    }
}
