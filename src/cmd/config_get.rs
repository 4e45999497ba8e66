//! `CONFIG` and its subcommands over the settings the server exposes
//! ([`CoreInfo::config`](super::CoreInfo)): GET with Redis 7.0's multi-pattern
//! semantics, and SET/RESETSTAT/REWRITE, which ringkv cannot do at run time
//! yet and refuse with Redis's own texts where Redis has one:
//!
//! - `CONFIG SET unknown v` → `ERR Unknown option or number of arguments for
//!   CONFIG SET - 'unknown'` (as Redis);
//! - `CONFIG SET known v` → `ERR CONFIG SET failed (possibly related to
//!   argument 'known') - can't set immutable config` (Redis's text for a
//!   setting that cannot change while running, which every ringkv setting is
//!   today);
//! - `CONFIG RESETSTAT` → `ERR CONFIG RESETSTAT is not supported yet` (the
//!   counters belong to every core; Redis would reply OK);
//! - `CONFIG REWRITE` → Redis's `ERR The server is running without a config
//!   file` when there is none, else `ERR CONFIG REWRITE is not supported yet`.

use super::command_docs::{dispatch, reply_help};
use super::error::{CmdError, CmdResult};
use super::glob::glob_match;
use super::ConnCtx;
use crate::protocol::Args;

/// `CONFIG <subcommand>`.
pub fn config(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    dispatch(ctx, args, super::server::CONFIG_SUBCOMMANDS)
}

/// The (reply name, value) pairs `CONFIG GET pattern...` returns: an exact
/// name (no `*?[`) matches case-insensitively and is echoed as given; a glob
/// matches every setting name case-insensitively. Each setting appears once.
pub fn config_matches<'a>(
    config: &'a [(&'static str, String)],
    patterns: impl Iterator<Item = &'a [u8]>,
) -> Vec<(Vec<u8>, &'a str)> {
    let mut seen: Vec<&'static str> = Vec::new();
    let mut out = Vec::new();
    for pattern in patterns {
        let is_glob = pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        for (name, value) in config {
            let hit = if is_glob {
                glob_match(pattern, name.as_bytes(), true)
            } else {
                pattern.eq_ignore_ascii_case(name.as_bytes())
            };
            if hit && !seen.contains(name) {
                seen.push(name);
                let shown = if is_glob {
                    name.as_bytes().to_vec()
                } else {
                    pattern.to_vec()
                };
                out.push((shown, value.as_str()));
            }
        }
    }
    out
}

/// `CONFIG GET parameter [parameter ...]`: a map of name → value.
pub fn config_get(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let found = config_matches(&ctx.core.config, args.iter_from(2));
    ctx.reply.map(found.len());
    for (name, value) in found {
        ctx.reply.bulk(&name);
        ctx.reply.bulk(value.as_bytes());
    }
    Ok(())
}

/// `CONFIG SET parameter value [parameter value ...]`: always refused (see the
/// module docs), with Redis's checks in Redis's order.
pub fn config_set(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    if args.len() % 2 == 1 {
        return Err(CmdError::Syntax);
    }
    let mut unknown: Option<&[u8]> = None;
    let mut failure: Option<(&[u8], &str)> = None;
    let mut seen: Vec<&str> = Vec::new();
    for i in (2..args.len()).step_by(2) {
        let given = args.get(i);
        let Some((name, _)) = ctx
            .core
            .config
            .iter()
            .find(|(n, _)| given.eq_ignore_ascii_case(n.as_bytes()))
        else {
            unknown.get_or_insert(given);
            continue;
        };
        failure = Some((given, "can't set immutable config"));
        if seen.contains(name) {
            failure = Some((given, "duplicate parameter"));
        }
        seen.push(name);
    }
    if let Some(name) = unknown {
        return Err(CmdError::Msg(format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
            String::from_utf8_lossy(name)
        )));
    }
    let (name, why) = failure.unwrap_or((b"", "can't set immutable config"));
    Err(CmdError::Msg(format!(
        "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
        String::from_utf8_lossy(name)
    )))
}

pub fn config_resetstat(_ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    Err(CmdError::Static(
        "ERR CONFIG RESETSTAT is not supported yet",
    ))
}

pub fn config_rewrite(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    if ctx.core.config_file.is_empty() {
        Err(CmdError::Static(
            "ERR The server is running without a config file",
        ))
    } else {
        Err(CmdError::Static("ERR CONFIG REWRITE is not supported yet"))
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
    use crate::cmd::client::CoreInfo;
    use crate::cmd::server::tests::run_with;

    fn run(parts: &[&str]) -> String {
        run_with(&CoreInfo::for_tests(), false, parts)
    }

    #[test]
    fn get_patterns() {
        assert_eq!(
            run(&["config", "get", "SAVE"]),
            "*2\r\n$4\r\nSAVE\r\n$0\r\n\r\n"
        );
        assert_eq!(run(&["config", "get", "nope"]), "*0\r\n");
        assert_eq!(
            run(&["config", "get", "data*", "save", "databases"]),
            "*4\r\n$9\r\ndatabases\r\n$2\r\n16\r\n$4\r\nsave\r\n$0\r\n\r\n"
        );
        assert_eq!(
            run_with(
                &CoreInfo::for_tests(),
                true,
                &["config", "get", "appendonly"]
            ),
            "%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
        );
        let all = run(&["config", "get", "*"]);
        assert!(all.starts_with(&format!("*{}\r\n", 2 * CoreInfo::for_tests().config.len())));
        assert_eq!(
            run(&["config", "get"]),
            "-ERR wrong number of arguments for 'config|get' command\r\n"
        );
    }

    #[test]
    fn set_and_friends_refuse() {
        assert_eq!(
            run(&["config", "set", "foo", "1"]),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"
        );
        assert_eq!(
            run(&["config", "set", "port", "1"]),
            "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"
        );
        assert_eq!(
            run(&["config", "set", "maxmemory", "1", "MAXMEMORY", "2"]),
            "-ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter\r\n"
        );
        assert_eq!(
            run(&["config", "set", "maxmemory", "1", "x"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&["config", "set", "maxmemory"]),
            "-ERR wrong number of arguments for 'config|set' command\r\n"
        );
        assert_eq!(
            run(&["config", "rewrite"]),
            "-ERR The server is running without a config file\r\n"
        );
        assert_eq!(
            run(&["config", "resetstat"]),
            "-ERR CONFIG RESETSTAT is not supported yet\r\n"
        );
        assert_eq!(
            run(&["config", "resetstat", "x"]),
            "-ERR wrong number of arguments for 'config|resetstat' command\r\n"
        );
        assert_eq!(
            run(&["config", "foo"]),
            "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n"
        );
        let help = run(&["config", "help"]);
        assert!(help.starts_with("*11\r\n+CONFIG <subcommand>"));
    }
}
