//! One client connection: read, parse every complete command, execute them in
//! order (through the router), write all replies with one write, repeat.
//!
//! Invariants: replies leave in request order; a protocol error is answered
//! after the replies of the commands before it and then the connection closes,
//! as in Redis; the query buffer never exceeds `client-query-buffer-limit`.

use super::limits::ClientLimits;
use crate::cmd::client::ClientState;
use crate::protocol::{parse_command, ParseOutcome, ProtocolError, Span};
use crate::route::pipeline::{execute_batch, Batch};
use crate::runtime::core::{Core, Counters};
use bytes::{Buf, BytesMut};
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

/// Serves one client until it leaves, over any byte stream: the loop is
/// generic (monomorphised per stream type), so TCP pays nothing for Unix
/// sockets being served by the same code.
pub async fn handle_connection<S>(
    core: Rc<Core>,
    limits: Rc<ClientLimits>,
    mut stream: S,
    peer: Peer,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(_slot) = limits.admit(core.maxclients()) else {
        Counters::add(&core.counters.rejected_connections, 1);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        let _ = stream.close().await;
        return;
    };
    let id = next_client_id(&core);
    let client = Rc::new(RefCell::new(ClientState::new(
        id, peer.addr, peer.laddr, peer.fd,
    )));
    core.clients.borrow_mut().insert(id, client.clone());
    Counters::add(&core.counters.connected_clients, 1);

    if let Err(e) = serve_client(&core, &client, &mut stream).await {
        log::debug!("shard {}: client {id} closed: {e}", core.id);
    }
    // Drop its WATCHes (they live in the shards that own the keys).
    crate::route::txn::on_disconnect(&core, &client).await;
    // Leave the client table before the fd is closed, so shutdown and the
    // idle sweep never act on a descriptor number that was reused.
    core.clients.borrow_mut().remove(&id);
    core.counters
        .connected_clients
        .set(core.counters.connected_clients.get() - 1);
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
    n * core.cores as u64 + core.id as u64 + 1
}

async fn serve_client<S>(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    stream: &mut S,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(MIN_READ);
    let mut read_size = MIN_READ;
    let mut inline: Vec<u8> = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut cmds: Vec<(u32, u32)> = Vec::new();
    let mut out: Vec<u8> = Vec::with_capacity(MIN_READ);
    loop {
        // Read more bytes (the buffer is zero-filled only where we read).
        let len = buf.len();
        buf.resize(len + read_size, 0);
        let n = match stream.read(&mut buf[len..]).await {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(len);
                return Err(e);
            }
        };
        buf.truncate(len + n);
        if n == 0 {
            return Ok(());
        }
        // `timeout` and CLIENT LIST's idle= count from the last read or write.
        client.borrow_mut().last_interaction = Instant::now();
        Counters::add(&core.counters.net_input_bytes, n as u64);
        read_size = if n == read_size {
            (read_size * 2).min(MAX_READ)
        } else {
            MIN_READ
        };

        // Parse every complete command.
        let (mut pos, mut protocol_error) = (0usize, None::<ProtocolError>);
        inline.clear();
        spans.clear();
        cmds.clear();
        loop {
            match parse_command(&buf, pos, &mut inline, &mut spans, &core.limits) {
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
            buf.advance(pos);
            if buf.len() > core.query_buffer_limit {
                log::warn!(
                    "shard {}: closing client: query buffer limit reached",
                    core.id
                );
                return Ok(());
            }
            continue;
        }
        let data = buf.split_to(pos).freeze();
        let inline_bytes = bytes::Bytes::copy_from_slice(&inline);
        let batch = Batch {
            data: &data,
            inline: &inline_bytes,
            spans: &spans,
            cmds: &cmds,
        };
        let mark = core.journal_mark();
        execute_batch(core, client, &batch, &mut out).await;
        let close = client.borrow().close_after_reply;
        if let Some(e) = &protocol_error {
            crate::route::pipeline::write_error(
                core,
                &mut out,
                format!("ERR Protocol error: {e}").as_bytes(),
            );
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
            Counters::add(&core.counters.net_output_bytes, out.len() as u64);
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
