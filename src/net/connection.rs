//! One client connection: read, parse every complete command, execute them in
//! order (through the router), write all replies with one write, repeat.
//!
//! Invariants: replies leave in request order; a protocol error is answered
//! after the replies of the commands before it and then the connection closes,
//! as in Redis; the query buffer never exceeds `client-query-buffer-limit`.

use crate::cmd::client::ClientState;
use crate::protocol::{parse_command, ParseOutcome, ProtocolError, Span};
use crate::route::pipeline::{execute_batch, Batch};
use crate::runtime::core::{Core, Counters};
use bytes::{Buf, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::cell::RefCell;
use std::rc::Rc;

/// Smallest read; doubles while reads fill the buffer, up to `MAX_READ`.
const MIN_READ: usize = 4 * 1024;
const MAX_READ: usize = 1024 * 1024;

pub async fn handle_connection(core: Rc<Core>, mut stream: TcpStream) {
    let per_core_limit = core.maxclients.div_ceil(core.cores);
    if core.clients.borrow().len() >= per_core_limit {
        Counters::add(&core.counters.rejected_connections, 1);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let _ = stream.set_nodelay(true);
    let id = next_client_id(&core);
    let addr = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let fd = super::listener::fd_of(&stream);
    let client = Rc::new(RefCell::new(ClientState::new(id, addr, laddr, fd)));
    core.clients.borrow_mut().insert(id, client.clone());
    Counters::add(&core.counters.connected_clients, 1);

    if let Err(e) = serve_client(&core, &client, &mut stream).await {
        log::debug!("shard {}: client {id} closed: {e}", core.id);
    }
    let _ = stream.close().await;
    core.clients.borrow_mut().remove(&id);
    core.counters
        .connected_clients
        .set(core.counters.connected_clients.get() - 1);
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

async fn serve_client(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    stream: &mut TcpStream,
) -> std::io::Result<()> {
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
            stream.write_all(&out).await?;
            Counters::add(&core.counters.net_output_bytes, out.len() as u64);
            out.clear();
            if out.capacity() > MAX_READ {
                out.shrink_to(MIN_READ);
            }
        }
        if close || protocol_error.is_some() {
            return Ok(());
        }
    }
}
