//! A small HTTP/1.1 server for `sipreg exporter` and `watch --metrics-listen`: GET only, without
//! request bodies. It stays reachable under connection floods (every connection accepted, the oldest
//! waiting for its head closed when too many wait or descriptors run out, a head deadline of a few
//! seconds, a buffer that grows only with what arrived) and counts what it refused.

mod admit;
mod conn;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use self::admit::Waiting;
pub use self::admit::{HttpFigures, HttpStats};
pub use self::conn::{HEAD_DEADLINE, MAX_HEAD};

/// Descriptors kept free of waiting connections: probes need sockets of their own.
const RESERVED_FDS: u64 = 256;
/// Connections waiting for their head at most, whatever the descriptor limit.
const MAX_WAITING: u64 = 20_000;

/// A GET request: its path, decoded query parameters and the headers that matter here.
#[derive(Debug, Clone, Default)]
pub struct Get {
    /// The path, such as `/probe`.
    pub path: String,
    /// The query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// `X-Prometheus-Scrape-Timeout-Seconds`, when sent.
    pub scrape_timeout: Option<String>,
    /// False for methods other than GET and HEAD.
    pub is_get: bool,
}

impl Get {
    /// The first value of a query parameter.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The Content-Type header.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

/// The Prometheus text format's content type (version 0.0.4).
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Plain text.
pub const TEXT: &str = "text/plain; charset=utf-8";

impl Reply {
    /// A 200 with a body of this type.
    #[must_use]
    pub fn ok(content_type: &'static str, body: String) -> Reply {
        Reply {
            status: 200,
            content_type,
            body,
        }
    }

    /// An error status with a one-line reason.
    #[must_use]
    pub fn error(status: u16, reason: &str) -> Reply {
        Reply {
            status,
            content_type: TEXT,
            body: format!("{reason}\n"),
        }
    }
}

/// Binds `addr` for [`serve`].
///
/// # Errors
/// When the address cannot be bound, with the address in the message.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let fail = |e: std::io::Error| anyhow::anyhow!("cannot listen on {addr}: {e}");
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    socket.bind(addr).map_err(fail)?;
    // A deep backlog: a flood of connections waits there for the accept loop, not in SYN retries.
    socket.listen(4096).map_err(fail)
}

/// What every connection of a server shares.
struct Server {
    stats: Arc<HttpStats>,
    waiting: Waiting,
}

/// Connections that may wait for their head at once: the open-file limit less [`RESERVED_FDS`],
/// at most [`MAX_WAITING`].
fn waiting_limit() -> usize {
    let soft = rlimit::Resource::NOFILE
        .get()
        .map_or(1024, |(soft, _)| soft);
    usize::try_from(soft.saturating_sub(RESERVED_FDS).clamp(16, MAX_WAITING)).unwrap_or(16)
}

/// An accept error that more room would cure: EMFILE, ENFILE, ENOBUFS, ENOMEM.
fn out_of_room(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// Serves GET requests on `listener` with `handler` until the task is dropped, counting in `stats`.
pub async fn serve<H, F>(listener: TcpListener, stats: Arc<HttpStats>, handler: H)
where
    H: Fn(Get) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let server = Arc::new(Server {
        stats,
        waiting: Waiting::new(waiting_limit()),
    });
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) if out_of_room(&e) => {
                // Out of descriptors or memory: make room by closing the oldest connection still
                // waiting (for its head, or for its client to read), or wait a little rather than spin.
                if !server.waiting.evict_oldest() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                tokio::task::yield_now().await;
                continue;
            }
            // A connection that went away before it was accepted, and the like.
            Err(_) => continue,
        };
        let handler = handler.clone();
        let server = server.clone();
        tokio::spawn(async move { conn::serve(stream, &server, handler).await });
    }
}

/// Splits and percent-decodes `a=1&b=x%3Ay` (`+` is a space, as in forms).
#[must_use]
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && hex_pair(bytes[i + 1], bytes[i + 2]).is_some() => {
                out.extend(hex_pair(bytes[i + 1], bytes[i + 2]));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(hi: u8, lo: u8) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some(u8::try_from(digit(hi)? * 16 + digit(lo)?).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_split_and_decoded() {
        let q = parse_query("target=127.0.0.1%3A5060&module=udp+only&debug=true&&x&bad=%zz%4");
        assert_eq!(
            q,
            vec![
                ("target".into(), "127.0.0.1:5060".into()),
                ("module".into(), "udp only".into()),
                ("debug".into(), "true".into()),
                ("x".into(), String::new()),
                ("bad".into(), "%zz%4".into()),
            ]
        );
        assert_eq!(decode("%5B%3a%3A1%5D"), "[::1]");
    }
}
