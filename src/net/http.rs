//! The HTTP endpoint: `GET /metrics` (Prometheus/OpenMetrics text) and
//! `GET /healthz` (200 when every shard answers within a second, else 503).
//!
//! A deliberately small HTTP/1.1 responder rather than a full server: two
//! read-only GET resources, one request per connection (`Connection: close`),
//! request head capped at 8 KiB and read with a deadline. It runs as tasks on
//! core 0's executor (glommio sockets, io_uring); a scrape asks every core
//! through the mesh like INFO does, so no executor ever blocks on it.

use crate::runtime::core::Core;
use crate::runtime::gather::{every_core, snapshots, MetricsJob};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

/// Largest request head accepted.
const MAX_HEAD: usize = 8 * 1024;
/// Time allowed to send the request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time every shard has to answer `/healthz`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// Accepts HTTP connections on `addr` until the core stops.
pub async fn serve(core: Rc<Core>, addr: String) {
    // glommio listeners use SO_REUSEPORT: probe first so that a port held by
    // another process fails loudly instead of splitting scrapes with it.
    if let Err(e) = std::net::TcpListener::bind(&addr) {
        log::error!(
            "shard {}: metrics endpoint cannot listen on {addr}: {e}",
            core.id()
        );
        return;
    }
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            log::error!(
                "shard {}: metrics endpoint cannot listen on {addr}: {e}",
                core.id()
            );
            return;
        }
    };
    log::info!("shard {}: metrics on http://{addr}/metrics", core.id());
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            core.stop().wait().await;
            None
        })
        .await;
        match accepted {
            None => return,
            Some(Ok(stream)) => {
                glommio::spawn_local(handle(core.clone(), stream)).detach();
            }
            Some(Err(e)) => {
                log::warn!("shard {}: metrics accept failed: {e}", core.id());
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// The parts of a request line this endpoint cares about.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
}

/// Parses the request line of a complete head (`None`: malformed).
pub fn parse_head(head: &[u8]) -> Option<Request<'_>> {
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target);
    Some(Request { method, path })
}

/// Reads until the end of the head (`\r\n\r\n`); None on EOF, overflow,
/// error or timeout.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Ok(Some(()));
            }
            if buf.len() > MAX_HEAD {
                return Ok(None);
            }
        }
    };
    match glommio::timer::timeout(READ_TIMEOUT, async {
        read.await.map_err(glommio::GlommioError::<()>::from)
    })
    .await
    {
        Ok(Some(())) => Some(buf),
        _ => None,
    }
}

/// Answers 400 to a request that could not be read or parsed.
async fn bad_request(stream: &mut TcpStream) {
    let _ = respond(
        stream,
        "400 Bad Request",
        "text/plain",
        b"bad request\n",
        false,
    )
    .await;
}

async fn handle(core: Rc<Core>, mut stream: TcpStream) {
    let Some(head) = read_head(&mut stream).await else {
        return bad_request(&mut stream).await;
    };
    let Some(req) = parse_head(&head) else {
        return bad_request(&mut stream).await;
    };
    let head_only = req.method == "HEAD";
    if req.method != "GET" && !head_only {
        let _ = respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"method not allowed\n",
            false,
        )
        .await;
        return;
    }
    let _ = match req.path {
        "/metrics" => {
            let cores = snapshots(&core).await;
            let memory = crate::cmd::info::resident_memory();
            match super::prom::encode(cores, memory) {
                Ok(text) => {
                    respond(
                        &mut stream,
                        "200 OK",
                        super::prom::CONTENT_TYPE,
                        text.as_bytes(),
                        head_only,
                    )
                    .await
                }
                Err(_) => {
                    respond(
                        &mut stream,
                        "500 Internal Server Error",
                        "text/plain",
                        b"encoding failed\n",
                        head_only,
                    )
                    .await
                }
            }
        }
        "/healthz" | "/health" => {
            let answers = every_core(&core, || MetricsJob::Ping, Some(HEALTH_TIMEOUT)).await;
            let missing: Vec<usize> = answers
                .iter()
                .enumerate()
                .filter(|(_, a)| a.is_none())
                .map(|(i, _)| i)
                .collect();
            if missing.is_empty() {
                let body = format!("ok: {} shards\n", answers.len());
                respond(
                    &mut stream,
                    "200 OK",
                    "text/plain",
                    body.as_bytes(),
                    head_only,
                )
                .await
            } else {
                let body = format!("shards not answering: {missing:?}\n");
                respond(
                    &mut stream,
                    "503 Service Unavailable",
                    "text/plain",
                    body.as_bytes(),
                    head_only,
                )
                .await
            }
        }
        _ => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                b"not found\n",
                head_only,
            )
            .await
        }
    };
    let _ = stream.close().await;
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    stream.write_all(&out).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line() {
        assert_eq!(
            parse_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(Request {
                method: "GET",
                path: "/metrics"
            })
        );
        assert_eq!(parse_head(b"GET /metrics\r\n\r\n"), None);
        assert_eq!(parse_head(b"GET / HTTP/2 x\r\n\r\n"), None);
        assert_eq!(parse_head(b"garbage"), None);
    }
}
