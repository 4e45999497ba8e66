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
    /// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`
    StringTooLong,
    /// `ERR offset is out of range` (SETRANGE)
    OffsetOutOfRange,
    /// `ERR decrement would overflow` (DECRBY of i64::MIN)
    DecrementOverflow,
    /// `ERR increment would produce NaN or Infinity`
    NanOrInfinity,
    /// `ERR value is out of range, value must between -2147483648 and 2147483647`
    NotInt32,
    /// `ERR value is out of range, must be positive` (SPOP count)
    MustBePositive,
    /// `ERR value is out of range, value must between -9223372036854775807
    /// and 9223372036854775807` (SRANDMEMBER count)
    CountOutOfRange,
    /// `ERR numkeys should be greater than 0` (SINTERCARD)
    NumkeysNotPositive,
    /// `ERR Number of keys can't be greater than number of args`
    NumkeysTooMany,
    /// `ERR LIMIT can't be negative` (SINTERCARD)
    LimitNegative,
    /// `ERR source and destination objects are the same`
    SameObject,
    /// `ERR invalid cursor` (SCAN)
    InvalidCursor,
    /// `ERR Unsupported option <opt>` (EXPIRE family)
    UnsupportedOption(String),
    /// `ERR NX and XX, GT or LT options at the same time are not compatible`
    NxWithXxGtLt,
    /// `ERR GT and LT options at the same time are not compatible`
    GtWithLt,
    /// `ERR subcommand cannot run on this connection`
    SubcommandElsewhere,
    /// `ERR unknown subcommand '<sub>'. Try <CONTAINER> HELP.`
    UnknownSubcommand {
        sub: String,
        container: String,
    },
    /// `ERR unknown subcommand or wrong number of arguments for '<sub>'.
    /// Try <CONTAINER> HELP.` (a known subcommand with too many arguments)
    SubcommandSyntax {
        sub: String,
        container: String,
    },
    /// `ERR Invalid command specified` (COMMAND GETKEYS)
    InvalidCommand,
    /// `ERR The command has no key arguments`
    NoKeyArguments,
    /// `ERR Invalid arguments specified for command` (COMMAND GETKEYS: the
    /// key count names no key)
    InvalidGetKeysArguments,
    /// `ERR Invalid number of arguments specified for command`
    InvalidArgCount,
    /// `ERR CONFIG SET failed (possibly related to argument '<name>') - <why>`
    ConfigSetFailed {
        name: String,
        why: String,
    },
    /// `ERR Unknown option or number of arguments for CONFIG SET - '<name>'`
    ConfigSetUnknown(String),
    /// `ERR <why>`: a failure described by its cause (CONFIG REWRITE).
    Failed(String),
    /// AUTH without a configured password.
    AuthWithoutPassword,
    /// `ERR Protocol version is not an integer or out of range`
    ProtocolVersion,
    /// `ERR Syntax error in HELLO option '<opt>'`
    HelloOption(String),
    /// `ERR Unknown client type '<type>'`
    UnknownClientType(String),
    /// `ERR Invalid client ID`
    InvalidClientId,
    /// `ERR Client names cannot contain spaces, newlines or special characters.`
    BadClientName,
    /// `ERR Unrecognized option '<attr>'` (CLIENT SETINFO)
    UnrecognizedOption(String),
    /// `ERR <attr> cannot contain spaces, newlines or special characters.`
    BadClientAttr(String),
    /// `ERR max number of clients reached` (answered at accept)
    MaxClients,
    /// `WRONGPASS invalid username-password pair or user is disabled.`
    WrongPass,
    /// `NOPROTO unsupported protocol version`
    NoProto,
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
            CmdError::StringTooLong => {
                f.write_str("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            }
            CmdError::OffsetOutOfRange => f.write_str("ERR offset is out of range"),
            CmdError::DecrementOverflow => f.write_str("ERR decrement would overflow"),
            CmdError::NanOrInfinity => f.write_str("ERR increment would produce NaN or Infinity"),
            CmdError::MustBePositive => f.write_str("ERR value is out of range, must be positive"),
            CmdError::CountOutOfRange => f.write_str(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ),
            CmdError::NumkeysNotPositive => f.write_str("ERR numkeys should be greater than 0"),
            CmdError::NumkeysTooMany => {
                f.write_str("ERR Number of keys can't be greater than number of args")
            }
            CmdError::LimitNegative => f.write_str("ERR LIMIT can't be negative"),
            CmdError::NotInt32 => f.write_str(
                "ERR value is out of range, value must between -2147483648 and 2147483647",
            ),
            CmdError::SameObject => f.write_str("ERR source and destination objects are the same"),
            CmdError::InvalidCursor => f.write_str("ERR invalid cursor"),
            CmdError::UnsupportedOption(opt) => write!(f, "ERR Unsupported option {opt}"),
            CmdError::NxWithXxGtLt => f.write_str(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ),
            CmdError::GtWithLt => {
                f.write_str("ERR GT and LT options at the same time are not compatible")
            }
            CmdError::SubcommandElsewhere => {
                f.write_str("ERR subcommand cannot run on this connection")
            }
            CmdError::UnknownSubcommand { sub, container } => {
                write!(f, "ERR unknown subcommand '{sub}'. Try {container} HELP.")
            }
            CmdError::SubcommandSyntax { sub, container } => write!(
                f,
                "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {container} HELP."
            ),
            CmdError::InvalidCommand => f.write_str("ERR Invalid command specified"),
            CmdError::NoKeyArguments => f.write_str("ERR The command has no key arguments"),
            CmdError::InvalidGetKeysArguments => {
                f.write_str("ERR Invalid arguments specified for command")
            }
            CmdError::InvalidArgCount => {
                f.write_str("ERR Invalid number of arguments specified for command")
            }
            CmdError::ConfigSetFailed { name, why } => write!(
                f,
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ),
            CmdError::ConfigSetUnknown(name) => write!(
                f,
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ),
            CmdError::Failed(why) => write!(f, "ERR {why}"),
            CmdError::AuthWithoutPassword => f.write_str(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ),
            CmdError::ProtocolVersion => {
                f.write_str("ERR Protocol version is not an integer or out of range")
            }
            CmdError::HelloOption(opt) => write!(f, "ERR Syntax error in HELLO option '{opt}'"),
            CmdError::UnknownClientType(t) => write!(f, "ERR Unknown client type '{t}'"),
            CmdError::InvalidClientId => f.write_str("ERR Invalid client ID"),
            CmdError::BadClientName => f.write_str(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ),
            CmdError::UnrecognizedOption(attr) => write!(f, "ERR Unrecognized option '{attr}'"),
            CmdError::BadClientAttr(attr) => write!(
                f,
                "ERR {attr} cannot contain spaces, newlines or special characters."
            ),
            CmdError::MaxClients => f.write_str("ERR max number of clients reached"),
            CmdError::WrongPass => {
                f.write_str("WRONGPASS invalid username-password pair or user is disabled.")
            }
            CmdError::NoProto => f.write_str("NOPROTO unsupported protocol version"),
            CmdError::Static(s) => f.write_str(s),
            CmdError::Msg(s) => f.write_str(s),
        }
    }
}

pub type CmdResult = Result<(), CmdError>;
