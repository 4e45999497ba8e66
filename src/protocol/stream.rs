//! Parsing one connection's byte stream across reads.
//!
//! [`StreamParser`] wraps [`parse_command`] with the state Redis keeps in its
//! client between reads (`multibulklen`, `bulklen`): a multibulk request whose
//! arguments have not all arrived is resumed where the last read stopped, so a
//! request arriving in many pieces costs one parse in total (a DEL of 800,000
//! keys fed in 4 KB pieces used to be parsed again from its start on every
//! read: quadratic).
//!
//! Invariants: while a request is pending, its spans so far sit at the end of
//! the caller's span list from `mark` on, and its bytes start at `start` in the
//! caller's buffer; the caller only ever drops bytes before `start` (and then
//! calls [`StreamParser::rebase`]). A big argument may be taken out of band
//! ([`StreamParser::big_bulk`], [`StreamParser::push_out_of_band`]): the caller
//! reads it into its own buffer and the parser resumes after it.

use super::args::{Span, BIG_BIT, INLINE_BIT};
use super::parser::{parse_args, parse_command, Limits, ParseOutcome, ProtocolError};

/// Arguments at least this long are read into their own allocation (Redis's
/// `PROTO_MBULK_BIG_ARG`).
pub const BIG_ARG: usize = 32 * 1024;

/// A multibulk request part-way through.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Offset of its `*` in the caller's buffer.
    start: usize,
    /// Index of its first span in the caller's span list.
    mark: usize,
    progress: super::parser::Progress,
}

/// Resumable request parser for one connection.
#[derive(Default, Debug)]
pub struct StreamParser {
    pending: Option<Pending>,
}

impl StreamParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the next request at `buf[pos..]`, as [`parse_command`], except that
    /// an incomplete multibulk is remembered (its spans so far stay pushed) and
    /// the next call, with the same `pos` and more bytes, resumes it.
    pub fn parse(
        &mut self,
        buf: &[u8],
        pos: usize,
        inline: &mut Vec<u8>,
        spans: &mut Vec<Span>,
        limits: &Limits,
    ) -> Result<ParseOutcome, ProtocolError> {
        if let Some(mut pd) = self.pending {
            debug_assert_eq!(pd.start, pos);
            return match parse_args(buf, &mut pd.progress, spans, limits) {
                Ok(true) => {
                    self.pending = None;
                    Ok(ParseOutcome::Command {
                        consumed: pd.progress.next - pd.start,
                        argc: pd.progress.argc,
                    })
                }
                Ok(false) => {
                    self.pending = Some(pd);
                    Ok(ParseOutcome::Incomplete)
                }
                Err(e) => {
                    spans.truncate(pd.mark);
                    self.pending = None;
                    Err(e)
                }
            };
        }
        let mark = spans.len();
        match parse_command(buf, pos, inline, spans, limits)? {
            ParseOutcome::Incomplete if buf.get(pos) == Some(&b'*') => {
                // Complete frames never get here: only now is the work kept.
                self.start_pending(buf, pos, mark, spans, limits)?;
                Ok(ParseOutcome::Incomplete)
            }
            other => Ok(other),
        }
    }

    /// Re-reads the count line and the complete arguments of an incomplete
    /// multibulk (once per request, when it first turns out incomplete) and
    /// keeps the progress.
    fn start_pending(
        &mut self,
        buf: &[u8],
        pos: usize,
        mark: usize,
        spans: &mut Vec<Span>,
        limits: &Limits,
    ) -> Result<(), ProtocolError> {
        let Some(mut progress) = super::parser::multibulk_progress(buf, pos)? else {
            return Ok(());
        };
        // Cannot complete (parse_command just said so) nor fail (it would have).
        if parse_args(buf, &mut progress, spans, limits)? {
            spans.truncate(mark);
            return Ok(());
        }
        self.pending = Some(Pending {
            start: pos,
            mark,
            progress,
        });
        Ok(())
    }

    /// Where the pending request starts in the buffer, if one is pending.
    pub fn pending_start(&self) -> Option<usize> {
        self.pending.map(|pd| pd.start)
    }

    /// The first byte not consumed by parsing, given that requests before `pos`
    /// are done: what Redis counts against `client-query-buffer-limit`.
    pub fn unparsed_from(&self, pos: usize) -> usize {
        self.pending.map_or(pos, |pd| pd.progress.next)
    }

    /// When the pending request waits for a bulk of at least [`BIG_ARG`] bytes
    /// whose `$` line was read: (offset of its payload, its length).
    pub fn big_bulk(&self) -> Option<(usize, usize)> {
        let pd = self.pending?;
        match pd.progress.bulk {
            Some(len) if len >= BIG_ARG => Some((pd.progress.next, len)),
            _ => None,
        }
    }

    /// The pending bulk was read out of band (the caller truncated its buffer
    /// at the payload's start): record `span` for it and go on after it.
    pub fn push_out_of_band(&mut self, span: Span, spans: &mut Vec<Span>) {
        if let Some(pd) = &mut self.pending {
            spans.push(span);
            pd.progress.parsed += 1;
            pd.progress.bulk = None;
        }
    }

    /// The pending request's arguments are all in (after [`Self::push_out_of_band`]).
    pub fn take_complete(&mut self) -> Option<(usize, usize)> {
        let pd = self.pending?;
        if !pd.progress.is_complete() {
            return None;
        }
        self.pending = None;
        Some((pd.progress.next - pd.start, pd.progress.argc))
    }

    /// The caller dropped the first `bytes` bytes of its buffer, the spans
    /// before the pending request's, and the first `big` big-argument buffers:
    /// shift the pending request's spans and offsets to match.
    pub fn rebase(&mut self, bytes: usize, big: usize, spans: &mut Vec<Span>) {
        let Some(pd) = &mut self.pending else {
            spans.clear();
            return;
        };
        spans.drain(..pd.mark);
        pd.mark = 0;
        if bytes == 0 && big == 0 {
            return; // nothing moved: keep this O(1) while a long request arrives
        }
        for s in spans.iter_mut() {
            if s.start & BIG_BIT != 0 {
                s.start -= big as u32;
            } else if s.start & INLINE_BIT == 0 {
                s.start -= bytes as u32;
            }
        }
        pd.start -= bytes;
        pd.progress.next -= bytes;
    }

    /// Forgets any pending request.
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&[u8]]) -> (Vec<Span>, Vec<ParseOutcome>) {
        let (mut p, mut inline, mut spans, mut buf) =
            (StreamParser::new(), Vec::new(), Vec::new(), Vec::new());
        let mut outcomes = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            let r = p.parse(&buf, 0, &mut inline, &mut spans, &Limits::default());
            outcomes.push(r.unwrap());
        }
        (spans, outcomes)
    }

    #[test]
    fn resumes_where_the_last_read_stopped() {
        let full = b"*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n";
        for cut in 1..full.len() {
            let (spans, out) = feed(&[&full[..cut], &full[cut..]]);
            assert_eq!(out[0], ParseOutcome::Incomplete, "cut {cut}");
            assert_eq!(
                out[1],
                ParseOutcome::Command {
                    consumed: full.len(),
                    argc: 3
                },
                "cut {cut}"
            );
            let starts: Vec<u32> = spans.iter().map(|s| s.start).collect();
            assert_eq!(starts, vec![8, 17, 26], "cut {cut}");
        }
    }

    #[test]
    fn big_bulk_is_offered_out_of_band() {
        let mut buf = b"*2\r\n$3\r\nSET\r\n$40000\r\nab".to_vec();
        let (mut p, mut inline, mut spans) = (StreamParser::new(), Vec::new(), Vec::new());
        let r = p.parse(&buf, 0, &mut inline, &mut spans, &Limits::default());
        assert_eq!(r, Ok(ParseOutcome::Incomplete));
        let (at, len) = p.big_bulk().unwrap();
        assert_eq!((at, len), (21, 40000));
        assert_eq!(p.unparsed_from(0), 21);
        buf.truncate(at);
        p.push_out_of_band(
            Span {
                start: BIG_BIT,
                len: 40000,
            },
            &mut spans,
        );
        assert_eq!(p.take_complete(), Some((21, 2)));
        assert_eq!(spans.len(), 2);
    }

    #[test]
    fn rebase_shifts_the_pending_request() {
        let buf = b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nh";
        let (mut p, mut inline, mut spans) = (StreamParser::new(), Vec::new(), Vec::new());
        let lim = Limits::default();
        let first = p.parse(buf, 0, &mut inline, &mut spans, &lim).unwrap();
        assert_eq!(
            first,
            ParseOutcome::Command {
                consumed: 14,
                argc: 1
            }
        );
        let second = p.parse(buf, 14, &mut inline, &mut spans, &lim).unwrap();
        assert_eq!(second, ParseOutcome::Incomplete);
        p.rebase(14, 0, &mut spans);
        assert_eq!(spans, vec![Span { start: 8, len: 4 }]);
        let mut rest = buf[14..].to_vec();
        rest.extend_from_slice(b"i\r\n");
        let done = p.parse(&rest, 0, &mut inline, &mut spans, &lim).unwrap();
        assert_eq!(
            done,
            ParseOutcome::Command {
                consumed: 22,
                argc: 2
            }
        );
        assert_eq!(&rest[spans[1].start as usize..][..2], b"hi");
    }

    #[test]
    fn errors_in_a_pending_request_drop_its_spans() {
        let mut buf = b"*3\r\n$1\r\na\r\n".to_vec();
        let (mut p, mut inline, mut spans) = (StreamParser::new(), Vec::new(), Vec::new());
        let lim = Limits::default();
        assert_eq!(
            p.parse(&buf, 0, &mut inline, &mut spans, &lim),
            Ok(ParseOutcome::Incomplete)
        );
        assert_eq!(spans.len(), 1);
        buf.extend_from_slice(b"x\r\n");
        assert_eq!(
            p.parse(&buf, 0, &mut inline, &mut spans, &lim),
            Err(ProtocolError::ExpectedDollar(b'x'))
        );
        assert!(spans.is_empty());
        assert_eq!(p.pending_start(), None);
    }
}
