//! SLOWLOG, LATENCY and MONITOR as the router runs them: parse, ask every
//! core through the mesh, merge, reply (the replies are written by
//! [`crate::cmd::observability`]).

use crate::cmd::client::ClientState;
use crate::cmd::command_docs::{check_subcommand, reply_help};
use crate::cmd::observability as obs;
use crate::cmd::table::Global;
use crate::cmd::{eq_ic, CmdError};
use crate::protocol::{Args, ReplyWriter};
use crate::runtime::core::Core;
use crate::runtime::gather::{every_core, MetricsJob, MetricsOutput};
use std::cell::RefCell;
use std::rc::Rc;

/// Runs SLOWLOG, LATENCY or MONITOR; `Err` is the error reply to send.
pub async fn run(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    which: Global,
    args: &Args<'_>,
    out: &mut Vec<u8>,
) -> Result<(), CmdError> {
    let resp3 = client.borrow().resp3;
    match which {
        Global::Monitor => {
            // The connection switches to streaming after this reply.
            crate::metrics::monitor::register(client.borrow().id);
            ReplyWriter::new(out, resp3).ok();
            Ok(())
        }
        Global::Slowlog => slowlog(core, args, &mut ReplyWriter::new(out, resp3)).await,
        Global::Latency => latency(core, args, &mut ReplyWriter::new(out, resp3)).await,
        _ => Err(CmdError::Static("ERR not an observability command")),
    }
}

fn outputs(all: Vec<Option<MetricsOutput>>) -> impl Iterator<Item = MetricsOutput> {
    all.into_iter().flatten()
}

async fn slowlog(
    core: &Rc<Core>,
    args: &Args<'_>,
    reply: &mut ReplyWriter<'_>,
) -> Result<(), CmdError> {
    let max_len = crate::metrics::with(|m| m.slowlog_max_len());
    match check_subcommand(args, obs::SLOWLOG_SUBCOMMANDS)? {
        "get" => {
            let mut count = 10usize;
            if args.len() == 3 {
                let n = crate::cmd::arg_i64(args.get(2))
                    .map_err(|_| CmdError::Static("ERR value is out of range, must be positive"))?;
                if n < -1 {
                    return Err(CmdError::Static(
                        "ERR count should be greater than or equal to -1",
                    ));
                }
                count = if n == -1 { usize::MAX } else { n as usize };
            }
            let count = count.min(max_len);
            let lists = outputs(every_core(core, || MetricsJob::SlowlogGet(count), None).await)
                .filter_map(|o| match o {
                    MetricsOutput::Slowlog(l) => Some(l),
                    _ => None,
                })
                .collect();
            obs::write_slowlog(reply, &crate::metrics::slowlog::merge(lists, count));
        }
        "len" => {
            let total: usize = outputs(every_core(core, || MetricsJob::SlowlogLen, None).await)
                .map(|o| {
                    if let MetricsOutput::Count(n) = o {
                        n
                    } else {
                        0
                    }
                })
                .sum();
            reply.int(total.min(max_len) as i64);
        }
        "reset" => {
            every_core(core, || MetricsJob::SlowlogReset, None).await;
            reply.ok();
        }
        _ => reply_help(reply, args, obs::SLOWLOG_HELP),
    }
    Ok(())
}

async fn latency(
    core: &Rc<Core>,
    args: &Args<'_>,
    reply: &mut ReplyWriter<'_>,
) -> Result<(), CmdError> {
    match check_subcommand(args, obs::LATENCY_SUBCOMMANDS)? {
        "latest" | "history" => {
            let lists = outputs(every_core(core, || MetricsJob::Latency, None).await)
                .filter_map(|o| match o {
                    MetricsOutput::Latency(l) => Some(l),
                    _ => None,
                })
                .collect();
            let events = crate::metrics::latency::merge(lists);
            if eq_ic(args.get(1), "latest") {
                obs::write_latency_latest(reply, &events);
            } else {
                let name = args.get(2);
                let series = events.iter().find(|(n, _)| eq_ic(name, n)).map(|(_, s)| s);
                obs::write_latency_history(reply, series);
            }
        }
        "reset" => {
            let names: Vec<String> = args
                .iter_from(2)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            // An event exists on several cores: count distinct names reset.
            let before: Vec<String> = outputs(every_core(core, || MetricsJob::Latency, None).await)
                .filter_map(|o| match o {
                    MetricsOutput::Latency(l) => Some(l),
                    _ => None,
                })
                .flatten()
                .map(|(n, _)| n)
                .filter(|n| names.is_empty() || names.iter().any(|x| x.eq_ignore_ascii_case(n)))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            every_core(core, || MetricsJob::LatencyReset(names.clone()), None).await;
            reply.int(before.len() as i64);
        }
        _ => reply_help(reply, args, obs::LATENCY_HELP),
    }
    Ok(())
}
