//! The wire protocol: RESP2/RESP3/inline request parsing with Redis's limits
//! ([`parser`], resumable across reads in [`stream`]) and reply encoding for both protocol versions ([`reply`]).
//!
//! Nothing here knows about sockets, shards or commands.

pub mod args;
pub mod parser;
pub mod reply;
pub mod stream;

pub use args::{Args, Span};
pub use parser::{parse_command, Limits, ParseOutcome, ProtocolError};
pub use reply::ReplyWriter;
pub use stream::StreamParser;
