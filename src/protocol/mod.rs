//! The wire protocol: RESP2/RESP3/inline request parsing with Redis's limits
//! ([`parser`]) and reply encoding for both protocol versions ([`reply`]).
//!
//! Nothing here knows about sockets, shards or commands.

pub mod args;
pub mod parser;
pub mod reply;

pub use args::{Args, Span};
pub use parser::{parse_command, Limits, ParseOutcome, ProtocolError};
pub use reply::ReplyWriter;
