//! The `numkeys key… WHERE [COUNT n]` arguments LMPOP, BLMPOP, ZMPOP and
//! BZMPOP share, checked in Redis 7.0's order: the key count, the word
//! after the keys (LEFT|RIGHT, MIN|MAX: the caller's parser), then COUNT.

use crate::cmd::error::CmdError;
use crate::cmd::{arg_i64, eq_ic};
use crate::protocol::Args;

/// The parsed options: the keys' argument indexes, the end to pop from
/// and the count (1 without COUNT).
pub struct MpopArgs<E> {
    pub keys: std::ops::Range<usize>,
    pub end: E,
    pub count: usize,
    /// Where the end word and the COUNT value stand.
    pub end_at: usize,
    pub count_at: Option<usize>,
}

/// Parses the options after the key count at `numkeys_at`; `end` reads
/// the word after the keys.
pub fn parse_mpop<E>(
    args: &Args,
    numkeys_at: usize,
    end: fn(&[u8]) -> Result<E, CmdError>,
) -> Result<MpopArgs<E>, CmdError> {
    const NUMKEYS: CmdError = CmdError::Static("ERR numkeys should be greater than 0");
    const COUNT: CmdError = CmdError::Static("ERR count should be greater than 0");
    let numkeys = match arg_i64(args.get(numkeys_at)) {
        Ok(n) if n > 0 => n as usize,
        _ => return Err(NUMKEYS),
    };
    let end_at = numkeys_at
        .checked_add(numkeys)
        .and_then(|n| n.checked_add(1))
        .filter(|&n| n < args.len())
        .ok_or(CmdError::Syntax)?;
    let end = end(args.get(end_at))?;
    let mut count_at = None;
    let mut j = end_at + 1;
    while j < args.len() {
        if eq_ic(args.get(j), "count") && count_at.is_none() && j + 1 < args.len() {
            match arg_i64(args.get(j + 1)) {
                Ok(n) if n > 0 => {}
                _ => return Err(COUNT),
            }
            count_at = Some(j + 1);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let count = count_at.map_or(1, |at| arg_i64(args.get(at)).unwrap_or(1) as usize);
    Ok(MpopArgs {
        keys: numkeys_at + 1..end_at,
        end,
        count,
        end_at,
        count_at,
    })
}
