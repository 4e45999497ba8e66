//! PFDEBUG (GETREG, DECODE, ENCODING, TODENSE) and PFSELFTEST, with Redis
//! 7.0's replies and error texts.
//!
//! GETREG and TODENSE turn a sparse HLL dense in place: a write, journaled
//! as the PFDEBUG itself (Redis forces its propagation the same way).
//! PFSELFTEST checks the dense register packing and the estimator's error
//! over ten million elements, as Redis's does; it holds its core for the
//! second or so that takes, as Redis holds its one thread.

use super::repr::{self, Encoding, HDR, REGISTERS, REGISTER_MAX};
use super::{estimate, hll_of, murmur, sparse, INVALID};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::{ConnCtx, ExecCtx};
use crate::protocol::Args;

/// `PFDEBUG <subcommand> <key>`. The key is looked up first: a missing key
/// or a non-HLL answers before an unknown subcommand does, as in Redis.
pub fn pfdebug(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(2));
    let sub = args.get(1).to_ascii_lowercase();
    let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
        return Err(CmdError::Static("ERR The specified key does not exist"));
    };
    let (bytes, enc) = hll_of(&e.value)?;
    match sub.as_slice() {
        b"getreg" | b"todense" => {
            let converted = enc == Encoding::Sparse;
            if converted {
                let mut dense = bytes.to_vec();
                if !sparse::to_dense(&mut dense) {
                    return Err(INVALID);
                }
                let buf = e.value.make_raw().ok_or(CmdError::WrongType)?;
                buf.clear();
                buf.extend_from_slice(&dense);
            }
            if sub == b"todense" {
                ctx.reply.int(i64::from(converted));
                return Ok(());
            }
            let regs: Vec<u8> = {
                let (bytes, _) = hll_of(&e.value)?;
                (0..REGISTERS)
                    .map(|i| repr::get_register(&bytes[HDR..], i))
                    .collect()
            };
            drop(e);
            ctx.reply.array(REGISTERS);
            regs.into_iter().for_each(|r| ctx.reply.int(r as i64));
        }
        b"decode" => {
            if enc != Encoding::Sparse {
                return Err(CmdError::Static("ERR HLL encoding is not sparse"));
            }
            let text = decode(&bytes[HDR..]);
            drop(e);
            ctx.reply.bulk(text.as_bytes());
        }
        b"encoding" => {
            drop(e);
            ctx.reply.simple(match enc {
                Encoding::Dense => "dense",
                Encoding::Sparse => "sparse",
            });
        }
        _ => {
            let name = String::from_utf8_lossy(args.get(1)).into_owned();
            return Err(CmdError::Msg(format!(
                "ERR Unknown PFDEBUG subcommand '{name}'"
            )));
        }
    }
    Ok(())
}

/// A sparse body as PFDEBUG DECODE lists it: `z:<n>`, `Z:<n>` and
/// `v:<value>,<n>`, space-separated.
fn decode(body: &[u8]) -> String {
    let words: Vec<String> = sparse::ops(body)
        .map(|op| match op {
            sparse::Op::Zero(n) => format!("z:{n}"),
            sparse::Op::XZero(n) => format!("Z:{n}"),
            sparse::Op::Val { value, len } => format!("v:{value},{len}"),
        })
        .collect();
    words.join(" ")
}

/// `PFSELFTEST`: `+OK`, or a `TESTFAILED` error naming what went wrong.
pub fn pfselftest(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    let max_bytes = ctx.shard.encoding_limits().hll_sparse_max_bytes;
    selftest(max_bytes).map_err(CmdError::Msg)?;
    ctx.reply.ok();
    Ok(())
}

/// The self-test proper (an error text on failure).
fn selftest(max_bytes: usize) -> Result<(), String> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    // 1: registers keep their values and leave their neighbours alone.
    let mut dense = repr::header(repr::ENC_DENSE).to_vec();
    dense.resize(repr::DENSE_SIZE, 0);
    let mut want = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, w) in want.iter_mut().enumerate() {
            *w = rng.gen::<u8>() & REGISTER_MAX;
            repr::set_register(&mut dense[HDR..], i, *w);
        }
        for (i, &w) in want.iter().enumerate() {
            let got = repr::get_register(&dense[HDR..], i);
            if got != w {
                return Err(format!(
                    "TESTFAILED Register {i} should be {w} but is {got}"
                ));
            }
        }
    }
    // 2: the estimate stays within bounds, dense and sparse agreeing.
    dense[HDR..].fill(0);
    let mut sparse_hll = sparse::empty();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed: u64 = rng.gen();
    let mut checkpoint: u64 = 1;
    let count = |b: &[u8]| {
        let hist = match repr::encoding(b) {
            Encoding::Dense => repr::dense_histogram(&b[HDR..]),
            Encoding::Sparse => sparse::histogram(&b[HDR..]).0,
        };
        estimate::estimate(&hist)
    };
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let (i, c) = murmur::pattern(&ele);
        repr::raise_register(&mut dense[HDR..], i, c);
        match repr::encoding(&sparse_hll) {
            Encoding::Dense => {
                repr::raise_register(&mut sparse_hll[HDR..], i, c);
            }
            Encoding::Sparse => {
                sparse::raise(&mut sparse_hll, i, c, max_bytes);
            }
        }
        if j != checkpoint {
            continue;
        }
        if j < (max_bytes / 2) as u64 && repr::encoding(&sparse_hll) != Encoding::Sparse {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense);
        if card != count(&sparse_hll) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_lists_opcodes() {
        let e = sparse::empty();
        assert_eq!(decode(&e[HDR..]), "Z:16384");
        assert_eq!(decode(&[0x00, 0x84, 0x7f]), "z:1 v:2,1 Z:16129");
        assert_eq!(decode(&[]), "");
    }
}
