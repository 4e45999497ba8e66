//! BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH: their arguments (checked in
//! Redis 7.0's order), and how a list serves a waiter, first when the
//! command runs and again whenever a key it waits on is ready
//! (shard/blocking.rs). A served pop is journaled as the LPOP/RPOP it did
//! (with its count for BLMPOP), a served move as the LMOVE (RPOPLPUSH) it
//! did, or its pop and push when the keys are in different slots.

use super::moves::{parse_mpop, reply_key_elements};
use super::{pop_elements, push_elements, End};
use crate::cmd::blocking::{parse_timeout, BlockReq, BlockSpec};
use crate::cmd::error::CmdError;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::blocking::{ServeCtx, ServeMode, Served, Taken};
use crate::shard::Shard;
use bytes::Bytes;

pub static BLPOP: BlockSpec = BlockSpec {
    parse: |args| pop_req(args, End::Head),
    timed_out: |w| w.null_array(),
    not_blocking: |w| w.null_array(),
    across: None,
};

pub static BRPOP: BlockSpec = BlockSpec {
    parse: |args| pop_req(args, End::Tail),
    timed_out: |w| w.null_array(),
    not_blocking: |w| w.null_array(),
    across: None,
};

pub static BLMPOP: BlockSpec = BlockSpec {
    parse: blmpop_req,
    timed_out: |w| w.null_array(),
    not_blocking: |w| w.null_array(),
    across: None,
};

pub static BLMOVE: BlockSpec = BlockSpec {
    parse: |args| {
        let (from, to) = (End::parse(args.get(3))?, End::parse(args.get(4))?);
        move_req(args, args.get(5), from, to, b"LMOVE")
    },
    timed_out: |w| w.null_array(),
    not_blocking: |w| w.null(),
    across: Some(super::moves::LMOVE_SPLIT),
};

pub static BRPOPLPUSH: BlockSpec = BlockSpec {
    parse: |args| move_req(args, args.get(3), End::Tail, End::Head, b"RPOPLPUSH"),
    timed_out: |w| w.null_array(),
    not_blocking: |w| w.null(),
    across: Some(super::moves::RPOPLPUSH_SPLIT),
};

/// BLPOP/BRPOP key… timeout.
fn pop_req(args: &Args, end: End) -> Result<BlockReq, CmdError> {
    let timeout_ms = parse_timeout(args.get(args.len() - 1))?;
    Ok(BlockReq {
        timeout_ms,
        keys: (1..args.len() - 1).collect(),
        writes: Vec::new(),
        serve: serve_pop,
        words: vec![end.word().to_vec()],
    })
}

/// BLMPOP timeout numkeys key… LEFT|RIGHT [COUNT n]: as Redis, the
/// options are checked before the timeout.
fn blmpop_req(args: &Args) -> Result<BlockReq, CmdError> {
    let m = parse_mpop(args, 2)?;
    let timeout_ms = parse_timeout(args.get(1))?;
    Ok(BlockReq {
        timeout_ms,
        keys: m.keys.collect(),
        writes: Vec::new(),
        serve: serve_pop,
        words: vec![m.end.word().to_vec(), m.count.to_string().into_bytes()],
    })
}

fn move_req(
    args: &Args,
    timeout: &[u8],
    from: End,
    to: End,
    name: &[u8],
) -> Result<BlockReq, CmdError> {
    let timeout_ms = parse_timeout(timeout)?;
    Ok(BlockReq {
        timeout_ms,
        keys: vec![1],
        writes: vec![2],
        serve: serve_move,
        words: vec![
            from.word().to_vec(),
            to.word().to_vec(),
            args.get(2).to_vec(),
            name.to_vec(),
        ],
    })
}

/// How a key serves a waiter: whether it holds a list (WRONGTYPE as the
/// reply on the first attempt, no service when ready).
fn list_state(shard: &mut Shard, c: &ServeCtx) -> Result<bool, Served> {
    match shard.get(c.db, c.key, c.now_ms) {
        None => Ok(false),
        Some(e) if e.value.as_list().is_some() => Ok(true),
        Some(_) if c.mode == ServeMode::Ready => Ok(false),
        Some(_) => Err(error_reply(c.resp3, &CmdError::WrongType)),
    }
}

fn error_reply(resp3: bool, e: &CmdError) -> Served {
    let mut reply = Vec::new();
    ReplyWriter::new(&mut reply, resp3).error(&e.to_string());
    Served::Reply { reply, taken: None }
}

/// Words: the end, then (BLMPOP) the count. Replies `[key, element]`, or
/// BLMPOP's `[key, [elements…]]`; journaled as `LPOP|RPOP key [count]`.
fn serve_pop(shard: &mut Shard, c: &ServeCtx) -> Served {
    let (end, count) = match c.words {
        [end, rest @ ..] => (
            End::parse(end).unwrap_or(End::Head),
            rest.first()
                .and_then(|n| crate::cmd::arg_i64(n).ok())
                .map(|n| n.max(1) as usize),
        ),
        [] => (End::Head, None),
    };
    match list_state(shard, c) {
        Ok(true) => {}
        Ok(false) => return Served::NotReady,
        Err(reply) => return reply,
    }
    let popped = shard.journaled(c.now_ms, |s| {
        let popped = pop_elements(s, c.db, c.key, end, count.unwrap_or(1), c.now_ms)?;
        let n = popped.len().to_string();
        match count {
            Some(_) => s.propagate(c.db, &[end.pop_name(), c.key, n.as_bytes()]),
            None => s.propagate(c.db, &[end.pop_name(), c.key]),
        }
        Some(popped)
    });
    let Some(popped) = popped.filter(|p| !p.is_empty()) else {
        return Served::NotReady;
    };
    let mut reply = Vec::new();
    let mut w = ReplyWriter::new(&mut reply, c.resp3);
    match count {
        Some(_) => reply_key_elements(&mut w, c.key, &popped),
        None => {
            w.array(2);
            w.bulk(c.key);
            w.bulk(&popped[0]);
        }
    }
    Served::Reply {
        reply,
        taken: Some(Taken {
            db: c.db,
            key: Bytes::copy_from_slice(c.key),
            head: end == End::Head,
            elements: popped,
            restore: put_back,
        }),
    }
}

/// Words: source end, destination end, destination key, the command to
/// journal (LMOVE or RPOPLPUSH). A destination on another shard sends the
/// waiter home to run the move through the coordinator.
fn serve_move(shard: &mut Shard, c: &ServeCtx) -> Served {
    let [from, to, dst, name] = c.words else {
        return error_reply(c.resp3, &CmdError::Internal);
    };
    let (Ok(from), Ok(to)) = (End::parse(from), End::parse(to)) else {
        return error_reply(c.resp3, &CmdError::Internal);
    };
    match list_state(shard, c) {
        Ok(true) => {}
        Ok(false) => return Served::NotReady,
        Err(reply) => return reply,
    }
    if shard.slots().shard_of(dst) != shard.id() {
        return Served::WakeHome;
    }
    // As Redis: a destination of another type is the waiter's error, and
    // nothing is popped.
    if shard
        .get(c.db, dst, c.now_ms)
        .is_some_and(|e| e.value.as_list().is_none())
    {
        return error_reply(c.resp3, &CmdError::WrongType);
    }
    let element = shard.journaled(c.now_ms, |s| {
        let e = pop_elements(s, c.db, c.key, from, 1, c.now_ms)?.pop()?;
        push_elements(s, c.db, dst, to, [&e[..]], c.now_ms);
        if crate::slot::key_slot(c.key) == crate::slot::key_slot(dst) {
            if name.as_ref() == b"RPOPLPUSH" {
                s.propagate(c.db, &[b"RPOPLPUSH", c.key, dst]);
            } else {
                s.propagate(c.db, &[b"LMOVE", c.key, dst, from.word(), to.word()]);
            }
        } else {
            s.propagate(c.db, &[from.pop_name(), c.key]);
            s.propagate(c.db, &[to.push_name(), dst, &e]);
        }
        Some(e)
    });
    let Some(element) = element else {
        return Served::NotReady;
    };
    let mut reply = Vec::new();
    ReplyWriter::new(&mut reply, c.resp3).bulk(&element);
    Served::Reply { reply, taken: None }
}

/// Puts back what a pop took for a waiter that left before its reply
/// reached it: at the end it was taken from, in its order, journaled as
/// the push. False when the key now holds another type (then nothing is
/// pushed: the caller logs the loss).
pub fn put_back(shard: &mut Shard, t: &Taken, now_ms: u64) -> bool {
    if shard
        .get(t.db, &t.key, now_ms)
        .is_some_and(|e| e.value.as_list().is_none())
    {
        return false;
    }
    let end = if t.head { End::Head } else { End::Tail };
    shard.journaled(now_ms, |s| {
        let back = t.elements.iter().rev().map(|e| &e[..]);
        push_elements(s, t.db, &t.key, end, back.clone(), now_ms);
        let mut argv: Vec<&[u8]> = vec![end.push_name(), &t.key];
        argv.extend(back);
        s.propagate(t.db, &argv);
    });
    true
}
