//! GEOADD key [NX|XX] [CH] lon lat member [lon lat member ...]: each
//! position becomes its geohash score and the members go in through ZADD,
//! as Redis's `geoaddCommand` does (so the reply, WRONGTYPE and the
//! journal are ZADD's; GEOADD is journaled as received, it replays the
//! same). Options and every position are checked before the key is read.

use super::hash;
use super::text::invalid_pair;
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::zset::score::score_arg;
use crate::cmd::{eq_ic, ExecCtx};
use crate::protocol::args::OwnedArgs;
use crate::protocol::Args;

/// A longitude/latitude pair as `extractLongLatOrReply` reads it: two
/// floats within the Web Mercator limits.
pub fn position(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let (lon, lat) = (score_arg(lon)?, score_arg(lat)?);
    if !(hash::LON_MIN..=hash::LON_MAX).contains(&lon)
        || !(hash::LAT_MIN..=hash::LAT_MAX).contains(&lat)
    {
        return Err(invalid_pair(lon, lat));
    }
    Ok((lon, lat))
}

pub fn geoadd(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (mut nx, mut xx, mut at) = (false, false, 2);
    while at < args.len() {
        let opt = args.get(at);
        if eq_ic(opt, "nx") {
            nx = true;
        } else if eq_ic(opt, "xx") {
            xx = true;
        } else if !eq_ic(opt, "ch") {
            break;
        }
        at += 1;
    }
    // Redis answers a syntax error for both of these (ZADD's own NX/XX
    // message never shows).
    if !(args.len() - at).is_multiple_of(3) || (nx && xx) {
        return Err(CmdError::Syntax);
    }
    let mut zadd = OwnedArgs::from_parts(args.iter_from(0).take(at));
    for i in (at..args.len()).step_by(3) {
        let (lon, lat) = position(args.get(i), args.get(i + 1))?;
        let score = hash::encode(lon, lat).ok_or_else(|| invalid_pair(lon, lat))?;
        zadd.push(score.to_string().as_bytes());
        zadd.push(args.get(i + 2));
    }
    crate::cmd::zset::zadd(ctx, &zadd.args())
}
