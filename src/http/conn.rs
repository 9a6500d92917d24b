//! One HTTP/1.1 connection: read a request head into a buffer that grows only with what arrived
//! (an idle connection costs a few hundred bytes), answer it, and go on with the next one
//! (keep-alive, pipelining) until the client closes, asks to close, or breaks a limit.

use std::future::Future;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::admit::{Open, Refused};
use super::{Get, Reply, Server, parse_query};

/// The longest request head read; a longer one is answered 431 and the connection closed.
pub const MAX_HEAD: usize = 8 * 1024;
/// Headers parsed at most; more is a 431.
const MAX_HEADERS: usize = 64;
/// A client that has not sent a whole request head by then (from its connection, or from the end
/// of the previous answer) is closed.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(5);
/// A client that has not taken its answer by then is closed.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Bytes read per step.
const STEP: usize = 512;

/// How reading a head ended.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// A whole head of this many bytes is at the start of the buffer.
    Whole(usize),
    /// The client closed (or reset) the connection.
    Closed,
    /// Over [`MAX_HEAD`] bytes without an end.
    TooLarge,
}

/// Serves one connection.
pub(super) async fn serve<H, F>(mut stream: TcpStream, server: &Server, handler: H)
where
    H: Fn(Get) -> F,
    F: Future<Output = Reply>,
{
    let _open = Open::new(&server.stats);
    let mut buf = Vec::new();
    let mut answered = false;
    loop {
        let mut ticket = server.waiting.enter();
        let head = tokio::select! {
            h = tokio::time::timeout(HEAD_DEADLINE, read_head(&stream, &mut buf)) => h,
            _ = &mut ticket.evicted => return server.stats.refused(Refused::Evicted),
        };
        drop(ticket);
        let len = match head {
            // A kept-alive connection that stays silent after its answers just ends.
            Err(_) if buf.is_empty() && answered => return,
            Err(_) => return server.stats.refused(Refused::HeadTimeout),
            Ok(Head::Closed) => return,
            Ok(Head::TooLarge) => {
                server.stats.refused(Refused::HeadTooLarge);
                let reply = Reply::error(431, "the request head is too large");
                return close_with(&mut stream, &reply, false).await;
            }
            Ok(Head::Whole(len)) => len,
        };
        let request = match parse(&buf[..len]) {
            Ok(r) => r,
            Err((why, reply)) => {
                server.stats.refused(why);
                return close_with(&mut stream, &reply, false).await;
            }
        };
        buf.drain(..len);
        // Boxed: a connection waiting for its head holds a pointer, not a whole probe's state.
        // A client that goes away meanwhile ends the handler (a probe stops, unless it must still
        // remove a binding).
        let reply = tokio::select! {
            reply = Box::pin(handler(request.get)) => reply,
            () = gone(&stream) => return,
        };
        server.stats.answered();
        answered = true;
        let bytes = response(&reply, request.head_only, request.close);
        match tokio::time::timeout(WRITE_DEADLINE, stream.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => return server.stats.refused(Refused::WriteTimeout),
        }
        if request.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Returns when the client has closed its side; never while it is there (or sent more: a pipelined
/// request waits in the socket).
async fn gone(stream: &TcpStream) {
    let mut byte = [0u8; 1];
    if let Ok(1..) = stream.peek(&mut byte).await {
        std::future::pending::<()>().await;
    }
}

/// Answers and closes (after a refusal: nothing more is read).
async fn close_with(stream: &mut TcpStream, reply: &Reply, head_only: bool) {
    let bytes = response(reply, head_only, true);
    let _ = tokio::time::timeout(WRITE_DEADLINE, async {
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Reads until `buf` holds a whole head (ending in an empty line), in steps of [`STEP`] bytes.
async fn read_head(stream: &TcpStream, buf: &mut Vec<u8>) -> Head {
    let mut searched = 0;
    loop {
        if let Some(end) = head_end(buf, searched) {
            return Head::Whole(end);
        }
        if buf.len() >= MAX_HEAD {
            return Head::TooLarge;
        }
        searched = buf.len().saturating_sub(3);
        if stream.readable().await.is_err() {
            return Head::Closed;
        }
        // Read into the stack, then keep only what arrived: an idle connection holds no buffer.
        let mut chunk = [0u8; STEP];
        let room = STEP.min(MAX_HEAD - buf.len());
        match stream.try_read(&mut chunk[..room]) {
            Ok(0) => return Head::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return Head::Closed,
        }
    }
}

/// The length of the head in `buf` (through its empty line), looking from `from` on.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| from + p + 4)
}

/// A parsed request and how its connection goes on.
#[derive(Debug)]
struct Request {
    get: Get,
    /// HEAD: the answer without its body.
    head_only: bool,
    /// The connection closes after the answer (`Connection: close`, or HTTP/1.0 without keep-alive).
    close: bool,
}

/// Parses a whole head (RFC 9112 §2-3): a refusal comes with its reason and answer.
fn parse(head: &[u8]) -> Result<Request, (Refused, Reply)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => {
            let reply = Reply::error(431, "too many request headers");
            return Err((Refused::HeadTooLarge, reply));
        }
        Ok(httparse::Status::Partial) | Err(_) => {
            return Err((
                Refused::BadRequest,
                Reply::error(400, "not an HTTP/1 request"),
            ));
        }
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    // RFC 9112 §6.3: a body is announced by Transfer-Encoding or a Content-Length over 0.
    let body = header("transfer-encoding").is_some()
        || header("content-length").is_some_and(|v| v.trim() != "0");
    if body {
        let reply = Reply::error(400, "a request body is not served here");
        return Err((Refused::Body, reply));
    }
    let connection = header("connection").unwrap_or("").to_ascii_lowercase();
    let keep_alive = if req.version == Some(0) {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Request {
        get: Get {
            path: path.to_string(),
            query: parse_query(query),
            scrape_timeout: header("x-prometheus-scrape-timeout-seconds").map(str::to_string),
            is_get: method == "GET" || method == "HEAD",
        },
        head_only: method == "HEAD",
        close: !keep_alive,
    })
}

/// The answer's bytes: status line, Content-Type, Content-Length, `Connection: close` when closing.
fn response(reply: &Reply, head_only: bool, close: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(reply.body.as_bytes());
    }
    out
}

/// The reason phrase of the statuses served here (RFC 9110 §15).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_ends_at_its_empty_line_even_across_reads() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nGET", 0), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n", 0), None);
        let buf = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(
            head_end(buf, 14),
            Some(18),
            "found from 3 bytes before the new ones"
        );
        assert_eq!(head_end(buf, 15), None);
        assert_eq!(head_end(b"", 5), None);
    }

    #[test]
    fn requests_are_parsed_with_their_query_and_connection() {
        let r = parse(b"GET /probe?target=h%3A5&module=m HTTP/1.1\r\nX-Prometheus-Scrape-Timeout-Seconds: 4\r\n\r\n").unwrap();
        assert_eq!(r.get.path, "/probe");
        assert_eq!(r.get.param("target"), Some("h:5"));
        assert_eq!(r.get.scrape_timeout.as_deref(), Some("4"));
        assert!(r.get.is_get && !r.close && !r.head_only);
        let r = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(r.close, "HTTP/1.0 closes unless keep-alive");
        let r = parse(b"HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert!(r.close && r.head_only && r.get.is_get);
        let r = parse(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(!r.get.is_get);
    }

    #[test]
    fn bad_heads_and_bodies_are_refused_with_their_status() {
        let refused = |b: &[u8]| parse(b).unwrap_err();
        let (why, reply) = refused(b"\x16\x03\x01\x00\xa5\x01\r\n\r\n");
        assert_eq!((why, reply.status), (Refused::BadRequest, 400));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..100 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let (why, reply) = refused(&many);
        assert_eq!((why, reply.status), (Refused::HeadTooLarge, 431));
        let (why, _) = refused(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(why, Refused::Body);
        let (why, _) = refused(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(why, Refused::Body);
    }

    #[test]
    fn answers_carry_length_and_close() {
        let reply = Reply::ok(super::super::TEXT, "hi\n".into());
        let text = String::from_utf8(response(&reply, false, true)).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("Content-Length: 3\r\nConnection: close\r\n\r\nhi\n"),
            "{text}"
        );
        let head = String::from_utf8(response(&reply, true, false)).unwrap();
        assert!(head.ends_with("Content-Length: 3\r\n\r\n"), "{head}");
    }
}
