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
            CmdError::Static(s) => f.write_str(s),
            CmdError::Msg(s) => f.write_str(s),
        }
    }
}

pub type CmdResult = Result<(), CmdError>;
