//! GEODIST, GEOHASH and GEOPOS: read members' scores and answer them as
//! distances, geohash strings and positions (Redis's `geodistCommand`,
//! `geohashCommand`, `geoposCommand`). A missing key answers as if every
//! member were missing; a key of another type is `WRONGTYPE`.

use super::distance::{self, parse_unit};
use super::{hash, read_zset, reply_position, text};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ExecCtx;
use crate::protocol::Args;

/// GEODIST key m1 m2 [unit]: the unit (and a fifth argument's syntax
/// error) is checked before the key.
pub fn geodist(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => parse_unit(args.get(4))?.to_meters(),
        _ => return Err(CmdError::Syntax),
    };
    let Some(z) = read_zset(ctx.shard, ctx.db, args.get(1), ctx.now_ms)? else {
        ctx.reply.null();
        return Ok(());
    };
    match (z.score(args.get(2)), z.score(args.get(3))) {
        (Some(a), Some(b)) => {
            let (lon1, lat1) = hash::decode_score(a);
            let (lon2, lat2) = hash::decode_score(b);
            let d = distance::distance(lon1, lat1, lon2, lat2) / to_meters;
            ctx.reply.bulk(text::distance(d).as_bytes());
        }
        _ => ctx.reply.null(),
    }
    Ok(())
}

/// GEOHASH key member...: an 11-character standard geohash per member, a
/// null for each one missing.
pub fn geohash(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let z = read_zset(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    ctx.reply.array(args.len() - 2);
    for m in args.iter_from(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.reply.bulk(&hash::geohash_string(s)),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// GEOPOS key member...: `[lon, lat]` per member, a null array for each
/// one missing.
pub fn geopos(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let z = read_zset(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    ctx.reply.array(args.len() - 2);
    for m in args.iter_from(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => {
                let (lon, lat) = hash::decode_score(s);
                reply_position(&mut ctx.reply, lon, lat);
            }
            None => ctx.reply.null_array(),
        }
    }
    Ok(())
}
