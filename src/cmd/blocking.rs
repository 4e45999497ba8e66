//! How a blocking command is declared (`Exec::Blocking(&BlockSpec)` in its
//! group file): which keys it waits on, its timeout, and the function that
//! serves it from a ready key (shard/blocking.rs runs it). The router
//! (route/blocking.rs) reads only these declarations: BZPOPMIN or XREAD
//! BLOCK add a spec and a serve function, no arm in route/.

use super::error::CmdError;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::blocking::ServeFn;

/// A blocking command's declaration.
pub struct BlockSpec {
    /// Checks the arguments in Redis's order and says how to block.
    pub parse: fn(&Args) -> Result<BlockReq, CmdError>,
    /// The reply when the timeout passes (Redis's null array for every
    /// list command, BLMOVE's included).
    pub timed_out: fn(&mut ReplyWriter),
    /// The reply inside MULTI, where nothing blocks, when nothing serves
    /// it at once: BLPOP's null array, BLMOVE's null.
    pub not_blocking: fn(&mut ReplyWriter),
    /// How the command runs when the keys it writes ([`BlockReq::writes`])
    /// live on another shard than those it waits on: as this non-blocking
    /// command's split (BLMOVE as LMOVE), through the coordinator.
    pub across: Option<super::split::Split>,
}

/// One invocation's wait, from [`BlockSpec::parse`].
pub struct BlockReq {
    /// How long to wait; None: forever (a timeout of 0).
    pub timeout_ms: Option<u64>,
    /// Argument indexes of the keys waited on, in the order tried.
    pub keys: Vec<usize>,
    /// Argument indexes of other keys the serve writes (BLMOVE's
    /// destination): locked with the keys when the command first runs.
    pub writes: Vec<usize>,
    pub serve: ServeFn,
    /// What the serve function reads besides the key (ends, count, ...).
    pub words: Vec<Vec<u8>>,
}

/// Redis's `getTimeoutFromObjectOrReply` in seconds: a `long double`
/// (as `strtold` reads it, hex and `inf` included), times 1000 rounded up
/// to whole milliseconds; negative (or past the `long long` range, as the
/// C conversion makes it) is refused; 0 waits forever.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<u64>, CmdError> {
    const NOT_FLOAT: CmdError = CmdError::Static("ERR timeout is not a float or out of range");
    const NEGATIVE: CmdError = CmdError::Static("ERR timeout is negative");
    let x = super::string::long_double::parse(arg).ok_or(NOT_FLOAT)?;
    let ms = (super::string::long_double::to_f64(x) * 1000.0).ceil();
    if !(0.0..9.223_372_036_854_775e18).contains(&ms) {
        return Err(NEGATIVE);
    }
    Ok(match ms as u64 {
        0 => None,
        ms => Some(ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_as_redis_reads_them() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(parse_timeout(b"-0").unwrap(), None);
        assert_eq!(parse_timeout(b"0.1").unwrap(), Some(100));
        assert_eq!(parse_timeout(b"1e-10").unwrap(), Some(1));
        assert_eq!(parse_timeout(b"0x1").unwrap(), Some(1000));
        assert_eq!(parse_timeout(b"1.5").unwrap(), Some(1500));
        for neg in ["-1", "inf", "1e400", "9223372036854775807"] {
            let e = parse_timeout(neg.as_bytes()).unwrap_err();
            assert_eq!(e.to_string(), "ERR timeout is negative", "{neg}");
        }
        for bad in ["x", "", " 1", "nan"] {
            let e = parse_timeout(bad.as_bytes()).unwrap_err();
            assert_eq!(e.to_string(), "ERR timeout is not a float or out of range");
        }
    }
}
