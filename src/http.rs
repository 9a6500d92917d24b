//! A small HTTP/1.1 server for `sipreg exporter` and `watch --metrics-listen`: GET only, on hyper,
//! with a bounded number of connections and a deadline for the request head.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 256;
/// A client that has not sent its request head by then is dropped.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

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
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Serves GET requests on `listener` with `handler` until the task is dropped.
pub async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(Get) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors and the like: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(respond(handler(request(&req)).await)) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

fn request(req: &hyper::Request<Incoming>) -> Get {
    let method = req.method();
    Get {
        path: req.uri().path().to_string(),
        query: req.uri().query().map(parse_query).unwrap_or_default(),
        scrape_timeout: req
            .headers()
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        is_get: method == hyper::Method::GET || method == hyper::Method::HEAD,
    }
}

fn respond(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        hyper::StatusCode::from_u16(reply.status).unwrap_or(hyper::StatusCode::OK);
    if let Ok(value) = hyper::header::HeaderValue::from_str(reply.content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
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
