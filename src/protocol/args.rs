//! Zero-copy argument lists.
//!
//! A parsed command is a list of [`Span`]s into one of two byte buffers: the read
//! buffer the bytes arrived in (RESP bulk strings are referenced where they lie) or
//! a small side buffer holding arguments that had to be rewritten (inline commands
//! with quotes and escapes). The high bit of `Span::start` picks the side buffer.
//! A big bulk argument (see `net::bigarg`) arrives in its own allocation; its
//! span has [`BIG_BIT`] set and indexes the command's list of such buffers.
//! Executing a command therefore needs neither allocation nor copying.

use bytes::Bytes;

/// Marks a span that points into the inline side buffer.
pub const INLINE_BIT: u32 = 1 << 31;
/// Marks a span that is a whole buffer of the big-argument list (`start` is its index).
pub const BIG_BIT: u32 = 1 << 30;
/// Offsets into the read buffer stay below this (the two flag bits are spare).
pub const MAX_DATA_OFFSET: usize = BIG_BIT as usize;

/// One argument: `len` bytes from `start` (see [`INLINE_BIT`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

/// A borrowed view of one command's arguments (argument 0 is the command name).
#[derive(Clone, Copy)]
pub struct Args<'a> {
    data: &'a [u8],
    inline: &'a [u8],
    big: &'a [Bytes],
    spans: &'a [Span],
}

impl<'a> Args<'a> {
    pub fn new(data: &'a [u8], inline: &'a [u8], spans: &'a [Span]) -> Self {
        Args {
            data,
            inline,
            big: &[],
            spans,
        }
    }

    /// Arguments that may include big ones held in `big`.
    pub fn with_big(data: &'a [u8], inline: &'a [u8], big: &'a [Bytes], spans: &'a [Span]) -> Self {
        Args {
            data,
            inline,
            big,
            spans,
        }
    }

    /// Number of arguments including the command name.
    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i`; panics if out of range (arity is checked before handlers run).
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let s = self.spans[i];
        if s.start & (INLINE_BIT | BIG_BIT) != 0 {
            self.side(s)
        } else {
            &self.data[s.start as usize..s.start as usize + s.len as usize]
        }
    }

    #[cold]
    fn side(&self, s: Span) -> &'a [u8] {
        if s.start & INLINE_BIT != 0 {
            let at = (s.start & !INLINE_BIT) as usize;
            &self.inline[at..at + s.len as usize]
        } else {
            &self.big[(s.start & !BIG_BIT) as usize]
        }
    }

    /// Argument `i` as its own shared buffer when it arrived as a big bulk
    /// (so a stored value can keep it without a copy).
    #[inline]
    pub fn shared(&self, i: usize) -> Option<&'a Bytes> {
        let s = self.spans[i];
        if s.start & (INLINE_BIT | BIG_BIT) == BIG_BIT {
            self.big.get((s.start & !BIG_BIT) as usize)
        } else {
            None
        }
    }

    /// The buffers of big arguments these spans may index.
    pub fn big(&self) -> &'a [Bytes] {
        self.big
    }

    /// The arguments from index `from` on, as a command of their own
    /// (`COMMAND GETKEYS cmd arg…` reads `cmd arg…` so).
    pub fn tail(&self, from: usize) -> Args<'a> {
        Args {
            spans: &self.spans[from.min(self.spans.len())..],
            ..*self
        }
    }

    /// Arguments from index `from` on.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &'a [u8]> + '_ {
        (from..self.len()).map(move |i| self.get(i))
    }

    /// The spans of this command (for re-sending a subset elsewhere).
    pub fn spans(&self) -> &'a [Span] {
        self.spans
    }
}

/// Owned argument list, used for commands synthesized by the router (e.g. the
/// per-shard part of an MGET) and in tests.
#[derive(Default, Clone, Debug)]
pub struct OwnedArgs {
    data: Vec<u8>,
    spans: Vec<Span>,
}

impl OwnedArgs {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_parts<I, A>(parts: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let mut owned = Self::new();
        for part in parts {
            owned.push(part.as_ref());
        }
        owned
    }

    pub fn push(&mut self, arg: &[u8]) {
        self.spans.push(Span {
            start: self.data.len() as u32,
            len: arg.len() as u32,
        });
        self.data.extend_from_slice(arg);
    }

    pub fn args(&self) -> Args<'_> {
        Args::new(&self.data, &[], &self.spans)
    }
}
