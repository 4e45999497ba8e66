//! One client connection: read, parse every complete command, execute them in
//! order (through the router), write all replies with one write, repeat.
//!
//! Invariants: replies leave in request order; a protocol error is answered
//! after the replies of the commands before it and then the connection closes,
//! as in Redis; the query buffer never exceeds `client-query-buffer-limit`.

use super::bigarg::BigArg;
use super::limits::ClientLimits;
use super::readsize::ReadSize;
use crate::cmd::client::ClientState;
use crate::protocol::args::{BIG_BIT, INLINE_BIT, MAX_DATA_OFFSET};
use crate::protocol::{ParseOutcome, ProtocolError, Span, StreamParser};
use crate::route::pipeline::{execute_batch, Batch};
use crate::runtime::core::{Core, Counters};
use bytes::{Buf, Bytes, BytesMut};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Instant;

/// Smallest read; doubles while reads fill the buffer, up to `MAX_READ`.
const MIN_READ: usize = 4 * 1024;
const MAX_READ: usize = 1024 * 1024;

/// What the listener learnt about a new client (CLIENT LIST's `fd`, `addr`,
/// `laddr`). The fd is what shutdown and the idle sweep act on.
pub struct Peer {
    pub fd: RawFd,
    pub addr: String,
    pub laddr: String,
}

/// A stream that can wait until a read would not wait, without being handed
/// a buffer (the vendored glommio's `readable`), so an idle connection holds
/// no read buffer.
pub trait Readable {
    fn readable(&mut self) -> impl std::future::Future<Output = std::io::Result<()>>;
}

impl Readable for glommio::net::TcpStream {
    async fn readable(&mut self) -> std::io::Result<()> {
        glommio::net::TcpStream::readable(self)
            .await
            .map_err(std::io::Error::from)
    }
}

impl Readable for glommio::net::UnixStream {
    async fn readable(&mut self) -> std::io::Result<()> {
        glommio::net::UnixStream::readable(self)
            .await
            .map_err(std::io::Error::from)
    }
}

/// Serves one client until it leaves, over any byte stream: the loop is
/// generic (monomorphised per stream type), so TCP pays nothing for Unix
/// sockets being served by the same code.
pub async fn handle_connection<S>(
    core: Rc<Core>,
    limits: Rc<ClientLimits>,
    mut stream: S,
    peer: Peer,
) where
    S: AsyncRead + AsyncWrite + Readable + Unpin,
{
    let Some(_slot) = limits.admit(core.maxclients()) else {
        Counters::add(&core.counters().rejected_connections, 1);
        let refusal = format!("-{}\r\n", crate::cmd::CmdError::MaxClients);
        let _ = stream.write_all(refusal.as_bytes()).await;
        let _ = stream.close().await;
        return;
    };
    let id = next_client_id(&core);
    let client = Rc::new(RefCell::new(ClientState::new(
        id, peer.addr, peer.laddr, peer.fd,
    )));
    core.clients().borrow_mut().insert(id, client.clone());
    Counters::add(&core.counters().connected_clients, 1);

    if let Err(e) = serve_client(&core, &client, &mut stream).await {
        log::debug!("shard {}: client {id} closed: {e}", core.id());
    }
    // Drop its WATCHes (they live in the shards that own the keys).
    crate::route::txn::on_disconnect(&core, &client).await;
    // Leave the client table before the fd is closed, so shutdown and the
    // idle sweep never act on a descriptor number that was reused.
    core.clients().borrow_mut().remove(&id);
    core.counters()
        .connected_clients
        .set(core.counters().connected_clients.get() - 1);
    let _ = stream.close().await;
}

fn next_client_id(core: &Core) -> u64 {
    thread_local! {
        static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let n = NEXT.with(|c| {
        let v = c.get();
        c.set(v + 1);
        v
    });
    n * core.cores() as u64 + core.id() as u64 + 1
}

/// What one read step brought.
enum Read {
    /// Bytes arrived (possibly followed by end of stream, seen next time).
    Data,
    /// The peer closed the stream.
    Eof,
    /// The connection must close without a reply (a limit was crossed).
    Close,
}

/// The connection's input side: the read buffer, the resumable parser and
/// the big arguments of the request in progress.
struct Input {
    buf: BytesMut,
    parser: StreamParser,
    big: Vec<Bytes>,
    sizes: ReadSize,
    /// Adaptive size of one read call (doubles while reads fill it).
    read_size: usize,
    /// The stream ended after the bytes now buffered.
    eof: bool,
    /// Bytes arrived while a command was blocked: parse them before reading.
    buffered: bool,
}

impl Input {
    fn new() -> Input {
        Input {
            buf: BytesMut::new(),
            parser: StreamParser::new(),
            big: Vec::new(),
            sizes: ReadSize::default(),
            read_size: MIN_READ,
            eof: false,
            buffered: false,
        }
    }

    /// Bytes not consumed by parsing: what `client-query-buffer-limit` bounds.
    fn unparsed(&self) -> usize {
        self.buf.len() - self.parser.unparsed_from(0)
    }

    /// Reads what Redis would read in one `read` (several calls when the
    /// socket has more than one call's window, never waiting for more), or
    /// the pending big argument into its own buffer.
    async fn read<S: AsyncRead + Readable + Unpin>(
        &mut self,
        core: &Core,
        client: &RefCell<ClientState>,
        stream: &mut S,
        spans: &mut Vec<Span>,
    ) -> std::io::Result<Read> {
        if self.eof {
            return Ok(Read::Eof);
        }
        if std::mem::take(&mut self.buffered) {
            return Ok(Read::Data);
        }
        if let Some((at, len)) = self.parser.big_bulk() {
            return self.read_big(core, client, stream, spans, at, len).await;
        }
        let want = self.sizes.next(self.unparsed());
        let mut got = 0;
        while got < want {
            let window = self.read_size.min(want - got);
            let len = self.buf.len();
            self.buf.resize(len + window, 0);
            let read = if got == 0 && len == 0 && self.parser.pending_start().is_none() {
                // Nothing buffered: read what is there; if nothing is, wait
                // without a buffer (an idle connection then costs no read
                // buffer; Redis frees an idle client's query buffer too).
                match futures_lite::future::poll_once(stream.read(&mut self.buf[..])).await {
                    Some(r) => Some(r),
                    None => {
                        self.buf = BytesMut::new();
                        stream.readable().await?;
                        self.buf.resize(window, 0);
                        Some(stream.read(&mut self.buf[..]).await)
                    }
                }
            } else if got == 0 {
                Some(stream.read(&mut self.buf[len..]).await)
            } else {
                // More only if it is already there: never wait with
                // complete requests unanswered.
                futures_lite::future::poll_once(stream.read(&mut self.buf[len..])).await
            };
            let n = match read {
                Some(Ok(n)) => n,
                Some(Err(e)) if got == 0 => {
                    self.buf.truncate(len);
                    return Err(e);
                }
                Some(Err(_)) | None => 0,
            };
            self.buf.truncate(len + n);
            if n == 0 {
                if read.is_some() {
                    self.eof = true;
                }
                break;
            }
            got += n;
            self.read_size = if n == window {
                (self.read_size * 2).min(MAX_READ)
            } else {
                MIN_READ
            };
            if n < window {
                break;
            }
        }
        if got == 0 {
            return Ok(Read::Eof);
        }
        self.note_read(core, client, got);
        if self.unparsed() > core.query_buffer_limit() {
            log::warn!(
                "shard {}: closing client: query buffer limit reached",
                core.id()
            );
            return Ok(Read::Close);
        }
        if self.buf.len() >= MAX_DATA_OFFSET {
            log::warn!(
                "shard {}: closing client: request over 1 GiB of small arguments",
                core.id()
            );
            return Ok(Read::Close);
        }
        Ok(Read::Data)
    }

    /// Receives the pending bulk of `len` bytes whose payload starts at
    /// `buf[at]` into its own allocation.
    async fn read_big<S: AsyncRead + Unpin>(
        &mut self,
        core: &Core,
        client: &RefCell<ClientState>,
        stream: &mut S,
        spans: &mut Vec<Span>,
        at: usize,
        len: usize,
    ) -> std::io::Result<Read> {
        let Some(mut arg) = BigArg::new(len, &self.buf[at..]) else {
            log::warn!(
                "shard {}: closing client: cannot map {len} bytes for an argument",
                core.id()
            );
            return Ok(Read::Close);
        };
        self.buf.truncate(at);
        while !arg.is_full() {
            // As Redis, whose query buffer is the argument meanwhile.
            if arg.filled() > core.query_buffer_limit() {
                log::warn!(
                    "shard {}: closing client: query buffer limit reached",
                    core.id()
                );
                return Ok(Read::Close);
            }
            let n = stream.read(arg.window()).await?;
            if n == 0 {
                return Ok(Read::Eof);
            }
            arg.advance(n);
            self.note_read(core, client, n);
            // Reads succeed at once while the bytes keep coming: let the
            // shard's other clients run (as Redis, one read per event loop turn).
            glommio::yield_if_needed().await;
        }
        let index = self.big.len() as u32;
        self.big.push(arg.into_bytes());
        let span = Span {
            start: BIG_BIT | index,
            len: len as u32,
        };
        self.parser.push_out_of_band(span, spans);
        self.sizes.after_big_arg(len);
        Ok(Read::Data)
    }

    /// While a command of this client is blocked: keeps reading what the
    /// client sends (into the query buffer, parsed once it is unblocked, as
    /// Redis) and resolves when the client is gone (end of stream, an error,
    /// or the query buffer limit crossed). A request whose big argument is
    /// still arriving is not read meanwhile.
    async fn until_gone<S: AsyncRead + Readable + Unpin>(
        &mut self,
        core: &Core,
        client: &RefCell<ClientState>,
        stream: &mut S,
    ) {
        loop {
            if self.parser.big_bulk().is_some() {
                return std::future::pending().await;
            }
            if stream.readable().await.is_err() {
                return;
            }
            let len = self.buf.len();
            self.buf.resize(len + MIN_READ, 0);
            // Readable: the read completes (with bytes, or 0 at the end).
            match stream.read(&mut self.buf[len..]).await {
                Ok(0) | Err(_) => {
                    self.buf.truncate(len);
                    self.eof = true;
                    return;
                }
                Ok(n) => {
                    self.buf.truncate(len + n);
                    self.note_read(core, client, n);
                    self.buffered = true;
                }
            }
            if self.unparsed() > core.query_buffer_limit() {
                log::warn!(
                    "shard {}: closing blocked client: query buffer limit reached",
                    core.id()
                );
                return;
            }
        }
    }

    fn note_read(&self, core: &Core, client: &RefCell<ClientState>, n: usize) {
        // `timeout` and CLIENT LIST's idle= count from the last read or write.
        client.borrow_mut().last_interaction = Instant::now();
        Counters::add(&core.counters().net_input_bytes, n as u64);
    }
}

async fn serve_client<S>(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    stream: &mut S,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Readable + Unpin,
{
    let mut input = Input::new();
    let mut inline: Vec<u8> = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut cmds: Vec<(u32, u32)> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    loop {
        match input.read(core, client, stream, &mut spans).await? {
            Read::Data => {}
            Read::Eof | Read::Close => return Ok(()),
        }

        // Parse every complete command.
        let (mut pos, mut protocol_error) = (0usize, None::<ProtocolError>);
        inline.clear();
        cmds.clear();
        if let Some((consumed, argc)) = input.parser.take_complete() {
            cmds.push(((spans.len() - argc) as u32, argc as u32));
            pos = consumed;
        }
        loop {
            match input
                .parser
                .parse(&input.buf, pos, &mut inline, &mut spans, &core.limits())
            {
                Ok(ParseOutcome::Incomplete) => break,
                Ok(ParseOutcome::Empty { consumed }) => pos += consumed,
                Ok(ParseOutcome::Command { consumed, argc }) => {
                    cmds.push(((spans.len() - argc) as u32, argc as u32));
                    pos += consumed;
                }
                Err(e) => {
                    protocol_error = Some(e);
                    break;
                }
            }
        }
        if cmds.is_empty() && protocol_error.is_none() {
            input.buf.advance(pos);
            input.parser.rebase(pos, 0, &mut spans);
            continue;
        }
        let data = input.buf.split_to(pos).freeze();
        let inline_bytes = bytes::Bytes::copy_from_slice(&inline);
        let big = std::mem::take(&mut input.big);
        let batch = Batch {
            data: &data,
            inline: &inline_bytes,
            big: &big,
            spans: &spans,
            cmds: &cmds,
        };
        let mark = core.journal_mark();
        let mut from = 0;
        while let Some((blocked_at, parked)) =
            execute_batch(core, client, &batch, from, &mut out).await
        {
            // The replies before a blocked command leave now.
            if !out.is_empty() {
                core.journal_barrier(mark).await;
                stream.write_all(&out).await?;
                Counters::add(&core.counters().net_output_bytes, out.len() as u64);
                out.clear();
            }
            let left = input.until_gone(core, client, stream);
            match crate::route::blocking::park(core, client, parked, left).await {
                Some(reply) => out.extend_from_slice(&reply),
                None => return Ok(()),
            }
            from = blocked_at + 1;
        }
        input.big = big;
        drop(data);
        // The request still arriving keeps its spans and big arguments.
        let pending_big = match input.parser.pending_start() {
            Some(_) => spans[spans.len() - pending_spans(&cmds, &spans)..]
                .iter()
                .filter(|s| s.start & BIG_BIT != 0 && s.start & INLINE_BIT == 0)
                .count(),
            None => 0,
        };
        let done_big = input.big.len() - pending_big;
        input.big.drain(..done_big);
        input.parser.rebase(pos, done_big, &mut spans);
        let close = client.borrow().close_after_reply;
        if close {
            // Redis parses nothing after QUIT: a protocol error behind it is
            // never seen.
            protocol_error = None;
        }
        if let Some(e) = &protocol_error {
            crate::route::pipeline::write_error(core, &mut out, &e.reply_text());
        }
        if !out.is_empty() {
            // A pipelined batch lets every other connection that is ready in this
            // tick run first, so those replies leave in one burst, as Redis writes
            // all of a turn's replies before it sleeps: the client, woken by the
            // first, is still awake for the next ones, where a reply sent on its own
            // often has to wake it again (an IPI, costly under a hypervisor): at
            // -P 16 that cut the server's CPU per request by about 12%. A single
            // command does not: at -P 1 the extra task switch cost more (+15%).
            if cmds.len() > 1 {
                futures_lite::future::yield_now().await;
            }
            // Nothing leaves before the AOF covers what it reports.
            core.journal_barrier(mark).await;
            stream.write_all(&out).await?;
            client.borrow_mut().last_interaction = Instant::now();
            Counters::add(&core.counters().net_output_bytes, out.len() as u64);
            out.clear();
            if out.capacity() > MAX_READ {
                out.shrink_to(MIN_READ);
            }
        }
        if close || protocol_error.is_some() {
            return Ok(());
        }
        let id = client.borrow().id;
        if crate::metrics::monitor::is_monitor(id) {
            // MONITOR: from now on this connection only receives the stream.
            return crate::metrics::monitor::serve(id, stream).await;
        }
    }
}

/// How many spans at the end of `spans` belong to the request still arriving
/// (those after the last complete command's).
fn pending_spans(cmds: &[(u32, u32)], spans: &[Span]) -> usize {
    let done = cmds
        .last()
        .map_or(0, |&(first, argc)| (first + argc) as usize);
    spans.len() - done
}
