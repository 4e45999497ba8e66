//! Command errors and the one place they become Redis error texts.

use std::fmt;

/// Why a command failed. `Display` gives the exact Redis 7.0 text (without `-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    Syntax,
    WrongType,
    NotInteger,
    NotFloat,
    Overflow,
    NoSuchKey,
    /// A router invariant broke (never expected; answered, not panicked).
    Internal,
    /// `ERR invalid expire time in '<cmd>' command`
    InvalidExpire(&'static str),
    /// `ERR wrong number of arguments for '<cmd>' command`
    WrongArity(String),
    /// SELECT, MOVE, SWAPDB, COPY DB: outside 0..databases.
    DbOutOfRange,
    /// `ERR invalid first DB index`
    InvalidFirstDb,
    /// `ERR invalid second DB index`
    InvalidSecondDb,
    /// `ERR No shutdown in progress.`
    NoShutdownInProgress,
    /// `ERR Background save already in progress`
    BgSaveInProgress,
    /// SAVE failed (Redis answers a bare `ERR`).
    SaveFailed,
    /// `ERR BGREWRITEAOF needs appendonly yes in ringkv (use BGSAVE for a snapshot)`
    AofRewriteNeedsAppendonly,
    /// `ERR MULTI calls can not be nested`
    NestedMulti,
    /// `ERR DISCARD without MULTI`
    DiscardWithoutMulti,
    /// `ERR EXEC without MULTI`
    ExecWithoutMulti,
    /// `ERR WATCH inside MULTI is not allowed`
    WatchInMulti,
    /// `ERR Command not allowed inside a transaction`
    NotInTransaction,
    /// `ERR MULTI queue too large`
    MultiQueueTooLarge,
    /// `EXECABORT Transaction discarded because of previous errors.`
    ExecAbortPrevious,
    /// `CROSSSLOT Keys in request don't hash to the same slot`
    CrossSlot,
    /// `EXECABORT Transaction discarded because of: <why>` (why without `ERR `).
    ExecAbort(String),
    /// A complete error text, e.g. `ERR DB index is out of range`.
    Static(&'static str),
    /// A complete error text built at run time.
    Msg(String),
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::Syntax => f.write_str("ERR syntax error"),
            CmdError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CmdError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CmdError::NotFloat => f.write_str("ERR value is not a valid float"),
            CmdError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CmdError::NoSuchKey => f.write_str("ERR no such key"),
            CmdError::Internal => f.write_str("ERR internal routing error"),
            CmdError::InvalidExpire(cmd) => write!(f, "ERR invalid expire time in '{cmd}' command"),
            CmdError::WrongArity(cmd) => {
                write!(f, "ERR wrong number of arguments for '{cmd}' command")
            }
            CmdError::DbOutOfRange => f.write_str("ERR DB index is out of range"),
            CmdError::InvalidFirstDb => f.write_str("ERR invalid first DB index"),
            CmdError::InvalidSecondDb => f.write_str("ERR invalid second DB index"),
            CmdError::NoShutdownInProgress => f.write_str("ERR No shutdown in progress."),
            CmdError::BgSaveInProgress => f.write_str("ERR Background save already in progress"),
            CmdError::SaveFailed => f.write_str("ERR"),
            CmdError::AofRewriteNeedsAppendonly => f.write_str(
                "ERR BGREWRITEAOF needs appendonly yes in ringkv (use BGSAVE for a snapshot)",
            ),
            CmdError::NestedMulti => f.write_str("ERR MULTI calls can not be nested"),
            CmdError::DiscardWithoutMulti => f.write_str("ERR DISCARD without MULTI"),
            CmdError::ExecWithoutMulti => f.write_str("ERR EXEC without MULTI"),
            CmdError::WatchInMulti => f.write_str("ERR WATCH inside MULTI is not allowed"),
            CmdError::NotInTransaction => {
                f.write_str("ERR Command not allowed inside a transaction")
            }
            CmdError::MultiQueueTooLarge => f.write_str("ERR MULTI queue too large"),
            CmdError::ExecAbortPrevious => {
                f.write_str("EXECABORT Transaction discarded because of previous errors.")
            }
            CmdError::CrossSlot => {
                f.write_str("CROSSSLOT Keys in request don't hash to the same slot")
            }
            CmdError::ExecAbort(why) => {
                write!(f, "EXECABORT Transaction discarded because of: {why}")
            }
            CmdError::Static(s) => f.write_str(s),
            CmdError::Msg(s) => f.write_str(s),
        }
    }
}

pub type CmdResult = Result<(), CmdError>;
