//! `CONFIG` and its subcommands over the settings table
//! ([`crate::config::PARAMS`]) and this core's live copy of the settings
//! ([`CoreInfo::settings`](super::CoreInfo)):
//!
//! - `GET pattern...`: Redis 7.0's multi-pattern semantics;
//! - `SET name value [name value ...]`: checked as Redis checks it (unknown
//!   name, immutable, duplicate, then each value), all-or-nothing. The router
//!   (`route::config`) applies the result on every core through the mesh;
//!   the connection-level handler here applies it to this core only;
//! - `RESETSTAT`: the router resets every core's counters; here it is only OK;
//! - `REWRITE`: the file the server started with ([`crate::config::rewrite`]);
//! - `HELP`.
//!
//! Error texts are Redis 7.0's.

use super::command_docs::{dispatch, reply_help};
use super::error::{CmdError, CmdResult};
use super::glob::glob_match;
use super::ConnCtx;
use crate::config::{params, Config, PARAMS};
use crate::protocol::Args;

/// Settings to change: (name, already validated value).
pub type Changes = Vec<(&'static str, String)>;

/// `CONFIG <subcommand>`.
pub fn config(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    dispatch(ctx, args, super::server::CONFIG_SUBCOMMANDS)
}

/// The (reply name, value) pairs `CONFIG GET pattern...` returns: an exact
/// name (no `*?[`) matches case-insensitively and is echoed as given; a glob
/// matches every setting name case-insensitively. Each setting appears once.
pub fn config_matches<'a>(
    cfg: &Config,
    patterns: impl Iterator<Item = &'a [u8]>,
) -> Vec<(Vec<u8>, String)> {
    let mut seen: Vec<&'static str> = Vec::new();
    let mut out = Vec::new();
    for pattern in patterns {
        let is_glob = pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        for p in PARAMS {
            let hit = if is_glob {
                glob_match(pattern, p.name.as_bytes(), true)
            } else {
                pattern.eq_ignore_ascii_case(p.name.as_bytes())
            };
            if hit && !seen.contains(&p.name) {
                seen.push(p.name);
                let shown = if is_glob {
                    p.name.as_bytes().to_vec()
                } else {
                    pattern.to_vec()
                };
                out.push((shown, (p.get)(cfg)));
            }
        }
        // An alias is a name of its own to CONFIG GET, as in Redis.
        for &(alias, canonical) in params::ALIASES {
            let hit = if is_glob {
                glob_match(pattern, alias.as_bytes(), true)
            } else {
                pattern.eq_ignore_ascii_case(alias.as_bytes())
            };
            if let Some(p) = params::find(canonical).filter(|_| hit && !seen.contains(&alias)) {
                seen.push(alias);
                out.push((alias.as_bytes().to_vec(), (p.get)(cfg)));
            }
        }
    }
    out
}

/// `CONFIG GET parameter [parameter ...]`: a map of name → value.
pub fn config_get(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let found = config_matches(&ctx.core.settings.borrow(), args.iter_from(2));
    ctx.reply.map(found.len());
    for (name, value) in found {
        ctx.reply.bulk(&name);
        ctx.reply.bulk(value.as_bytes());
    }
    Ok(())
}

/// Checks `CONFIG SET`'s arguments against `cfg` in Redis's order and
/// returns the changes to apply everywhere, or Redis's error.
pub fn plan_set(cfg: &Config, args: &Args) -> Result<Changes, CmdError> {
    if args.len() % 2 == 1 {
        return Err(CmdError::Syntax);
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let failed = |name: &str, why: &str| CmdError::ConfigSetFailed {
        name: name.to_string(),
        why: why.to_string(),
    };
    // Pass 1 (Redis's configSetCommand): names. The first unknown name wins;
    // otherwise the last immutable/duplicate problem is reported.
    let mut chosen: Vec<(&'static params::Param, String)> = Vec::new();
    let mut unknown: Option<String> = None;
    let mut problem: Option<(String, &str)> = None;
    for i in (2..args.len()).step_by(2) {
        let given = text(args.get(i));
        let Some(param) = params::find(&given) else {
            if unknown.is_none() && problem.is_none() {
                unknown = Some(given);
            }
            continue;
        };
        if unknown.is_some() || problem.is_some() {
            continue;
        }
        if !param.mutable {
            problem = Some((given, "can't set immutable config"));
            continue;
        }
        if chosen.iter().any(|(p, _)| p.name == param.name) {
            problem = Some((given, "duplicate parameter"));
            continue;
        }
        chosen.push((param, text(args.get(i + 1))));
    }
    if let Some(name) = unknown {
        return Err(CmdError::ConfigSetUnknown(name.to_string()));
    }
    if let Some((name, why)) = problem {
        return Err(failed(&name, why));
    }
    // Pass 2: values, on a scratch copy so a failure changes nothing.
    let mut scratch = cfg.clone();
    let mut changes = Changes::new();
    for (param, value) in chosen {
        (param.set)(&mut scratch, &value).map_err(|why| failed(param.name, &why))?;
        changes.push((param.name, (param.get)(&scratch)));
    }
    Ok(changes)
}

/// Applies validated changes to one core's settings (and the process's log
/// level when it changed).
pub fn apply_changes(cfg: &mut Config, changes: &Changes) {
    for (name, value) in changes {
        if let Some(p) = params::find(name) {
            if (p.set)(cfg, value).is_ok() && *name == "loglevel" {
                crate::config::logging::apply_level(&cfg.loglevel);
            }
        }
    }
}

/// `CONFIG SET` on this core only (the router broadcasts to the others).
pub fn config_set(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let changes = plan_set(&ctx.core.settings.borrow(), args)?;
    apply_changes(&mut ctx.core.settings.borrow_mut(), &changes);
    ctx.reply.ok();
    Ok(())
}

/// `CONFIG RESETSTAT`: the router resets every core's counters.
pub fn config_resetstat(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    ctx.reply.ok();
    Ok(())
}

/// `CONFIG REWRITE`.
pub fn config_rewrite(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    match crate::config::rewrite::rewrite(&ctx.core.settings.borrow()) {
        Ok(()) => {
            log::info!("CONFIG REWRITE executed with success.");
            ctx.reply.ok();
            Ok(())
        }
        Err(e) => Err(CmdError::Failed(e.to_string())),
    }
}

pub fn config_help(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    reply_help(
        &mut ctx.reply,
        args,
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cmd::client::{ClientState, CoreInfo};
    use crate::cmd::keygen::TxKeyGen;
    use crate::cmd::ConnCtx;
    use crate::protocol::args::OwnedArgs;
    use crate::protocol::ReplyWriter;
    use crate::shard::Shard;
    use crate::slot::SlotTable;

    /// Runs `CONFIG ...` through the container handler on `core`.
    fn run_on(core: &CoreInfo, resp3: bool, parts: &[&str]) -> String {
        let owned = OwnedArgs::from_parts(parts);
        let args = owned.args();
        let mut client = ClientState::new(1, "a:1".into(), "l:1".into(), 5);
        let mut shard = Shard::new(0, SlotTable::contiguous(1), 16);
        let mut out = Vec::new();
        let mut ctx = ConnCtx {
            client: &mut client,
            core,
            shard: &mut shard,
            txkeys: &TxKeyGen::default(),
            now_ms: 0,
            reply: ReplyWriter::new(&mut out, resp3),
        };
        if let Err(e) = super::config(&mut ctx, &args) {
            ctx.reply.error(&e.to_string());
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn run(parts: &[&str]) -> String {
        run_on(&CoreInfo::for_tests(), false, parts)
    }

    #[test]
    fn get_patterns() {
        assert_eq!(
            run(&["config", "get", "SAVE"]),
            "*2\r\n$4\r\nSAVE\r\n$23\r\n3600 1 300 100 60 10000\r\n"
        );
        assert_eq!(run(&["config", "get", "nope"]), "*0\r\n");
        assert_eq!(
            run(&["config", "get", "data*", "save", "databases"]),
            "*4\r\n$9\r\ndatabases\r\n$2\r\n16\r\n$4\r\nsave\r\n$23\r\n3600 1 300 100 60 10000\r\n"
        );
        assert_eq!(
            run_on(
                &CoreInfo::for_tests(),
                true,
                &["config", "get", "appendonly"]
            ),
            "%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
        );
        let all = run(&["config", "get", "*"]);
        let names = crate::config::PARAMS.len() + crate::config::params::ALIASES.len();
        assert!(all.starts_with(&format!("*{}\r\n", 2 * names)));
        assert_eq!(
            run(&["config", "get", "hash-max-ziplist-*"]),
            "*4\r\n$24\r\nhash-max-ziplist-entries\r\n$3\r\n512\r\n$22\r\nhash-max-ziplist-value\r\n$2\r\n64\r\n"
        );
        assert_eq!(
            run(&["config", "get"]),
            "-ERR wrong number of arguments for 'config|get' command\r\n"
        );
    }

    #[test]
    fn set_checks_in_redis_order() {
        let cases: &[(&[&str], &str)] = &[
            (&["config", "set", "foo", "1"], "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"),
            (&["config", "set", "port", "1"], "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"),
            (&["config", "set", "port", "1", "foo", "2"], "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"),
            (&["config", "set", "maxclients", "1", "MAXCLIENTS", "2"], "-ERR CONFIG SET failed (possibly related to argument 'MAXCLIENTS') - duplicate parameter\r\n"),
            (&["config", "set", "loglevel", "warning", "maxclients", "abc"], "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer\r\n"),
            (&["config", "set", "maxmemory", "1", "x"], "-ERR syntax error\r\n"),
            (&["config", "set", "maxmemory"], "-ERR wrong number of arguments for 'config|set' command\r\n"),
            (&["config", "rewrite"], "-ERR The server is running without a config file\r\n"),
            (&["config", "resetstat"], "+OK\r\n"),
            (&["config", "resetstat", "x"], "-ERR wrong number of arguments for 'config|resetstat' command\r\n"),
            (&["config", "foo"], "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n"),
        ];
        for (cmd, want) in cases {
            assert_eq!(run(cmd), *want, "{cmd:?}");
        }
        assert!(run(&["config", "help"]).starts_with("*11\r\n+CONFIG <subcommand>"));
    }

    #[test]
    fn set_is_all_or_nothing() {
        let core = CoreInfo::for_tests();
        assert_eq!(
            run_on(&core, false, &["config", "set", "timeout", "5", "save", "1"]),
            "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"
        );
        assert_eq!(core.settings.borrow().timeout, 0);
        assert_eq!(
            run_on(
                &core,
                false,
                &[
                    "config",
                    "set",
                    "timeout",
                    "5",
                    "Save",
                    "60 1",
                    "appendfsync",
                    "NO"
                ]
            ),
            "+OK\r\n"
        );
        assert_eq!(
            run_on(&core, false, &["config", "get", "timeout", "save", "appendfsync"]),
            "*6\r\n$7\r\ntimeout\r\n$1\r\n5\r\n$4\r\nsave\r\n$4\r\n60 1\r\n$11\r\nappendfsync\r\n$2\r\nno\r\n"
        );
    }
}
