//! One HTTP/1.1 connection: read a request head into a buffer that grows only with what arrived
//! (an idle connection costs a few hundred bytes), answer it, and go on with the next one
//! (keep-alive, pipelining) until the client closes, asks to close, or breaks a limit.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
/// After a refusal, what the client still sends is read and dropped this long at most.
const LINGER: Duration = Duration::from_secs(1);

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
        let Some(len) = next_head(&mut stream, server, &mut buf, answered).await else {
            return;
        };
        let request = match parse(&buf[..len]) {
            Ok(r) => r,
            Err((why, reply)) => {
                server.stats.refused(why);
                // Boxed, as every rare path: a waiting connection's future stays small.
                return Box::pin(close_with(&mut stream, &reply, false)).await;
            }
        };
        buf.drain(..len);
        if buf.is_empty() {
            // An idle connection holds no buffer.
            buf = Vec::new();
        }
        // Boxed: a connection waiting for its head holds a pointer, not a whole probe's state.
        let answer = Box::pin(handler(request.get));
        let reply = if buf.is_empty() {
            // A client that goes away meanwhile ends the handler (a probe stops, unless it must
            // still remove a binding). Not with pipelined requests waiting: they are answered.
            tokio::select! {
                reply = answer => reply,
                () = gone(&stream) => return,
            }
        } else {
            answer.await
        };
        server.stats.answered();
        answered = true;
        let bytes = response(&reply, request.head_only, request.connection);
        if !write_answer(&mut stream, server, &bytes).await {
            return;
        }
        if request.connection == Connection::Close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// The next whole head in `buf`: already there (pipelined), or read within the head deadline while
/// the connection waits in the eviction queue. `None` when the connection is done.
async fn next_head(
    stream: &mut TcpStream,
    server: &Server,
    buf: &mut Vec<u8>,
    answered: bool,
) -> Option<usize> {
    if let Some(end) = head_end(buf, 0) {
        return Some(end);
    }
    let mut ticket = server.waiting.enter();
    let head = tokio::select! {
        h = tokio::time::timeout(HEAD_DEADLINE, read_head(stream, buf)) => h,
        _ = &mut ticket.evicted => {
            server.stats.refused(Refused::Evicted);
            return None;
        }
    };
    drop(ticket);
    match head {
        // A kept-alive connection that stays silent after its answers just ends.
        Err(_) if buf.is_empty() && answered => None,
        Err(_) => {
            server.stats.refused(Refused::HeadTimeout);
            None
        }
        Ok(Head::Closed) => None,
        Ok(Head::TooLarge) => {
            server.stats.refused(Refused::HeadTooLarge);
            let reply = Reply::error(431, "the request head is too large");
            Box::pin(close_with(stream, &reply, false)).await;
            None
        }
        Ok(Head::Whole(len)) => Some(len),
    }
}

/// Writes an answer within the write deadline. A client that does not read waits in the eviction
/// queue like one that does not write: it cannot hold descriptors the others need.
async fn write_answer(stream: &mut TcpStream, server: &Server, bytes: &[u8]) -> bool {
    let mut ticket = server.waiting.enter();
    tokio::select! {
        written = tokio::time::timeout(WRITE_DEADLINE, stream.write_all(bytes)) => match written {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                server.stats.refused(Refused::WriteTimeout);
                false
            }
        },
        _ = &mut ticket.evicted => {
            server.stats.refused(Refused::Evicted);
            false
        }
    }
}

/// Returns when the client has closed the connection; never while it is there.
async fn gone(stream: &TcpStream) {
    let mut byte = [0u8; 1];
    if let Ok(1..) = stream.peek(&mut byte).await {
        std::future::pending::<()>().await;
    }
}

/// Answers and closes (after a refusal). What the client still sends is read and dropped for a
/// moment (at most 64 KiB or 1 s), so that the close does not reset the connection before the
/// client has read the answer.
async fn close_with(stream: &mut TcpStream, reply: &Reply, head_only: bool) {
    let bytes = response(reply, head_only, Connection::Close);
    let _ = tokio::time::timeout(WRITE_DEADLINE, async {
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    })
    .await;
    let _ = tokio::time::timeout(LINGER, async {
        // On the heap: a stack array here would be part of every connection's future.
        let mut sink = vec![0u8; 4096];
        let mut left: usize = 64 * 1024;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
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

/// How a connection goes on after an answer, and what the answer says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    /// HTTP/1.1's default: kept, nothing said.
    Kept,
    /// An HTTP/1.0 client asked for keep-alive: kept, and `Connection: keep-alive` says so.
    KeptAsAsked,
    /// `Connection: close`, or HTTP/1.0 without keep-alive: closed after the answer.
    Close,
}

/// A parsed request and how its connection goes on.
#[derive(Debug)]
struct Request {
    get: Get,
    /// HEAD: the answer without its body.
    head_only: bool,
    connection: Connection,
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
    // Every line of a header, as text (a value that is not UTF-8 counts as present and empty).
    let all = |name: &str| -> Vec<&str> {
        req.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| std::str::from_utf8(h.value).unwrap_or(""))
            .collect()
    };
    // RFC 9112 §6.3: a body is announced by Transfer-Encoding or a Content-Length over 0; every
    // Content-Length line counts (differing ones are an error there, a body here).
    let body = !all("transfer-encoding").is_empty()
        || all("content-length").iter().any(|v| v.trim() != "0");
    if body {
        let reply = Reply::error(400, "a request body is not served here");
        return Err((Refused::Body, reply));
    }
    let options = all("connection").join(",").to_ascii_lowercase();
    let connection = match (
        req.version,
        options.contains("close"),
        options.contains("keep-alive"),
    ) {
        (_, true, _) | (Some(0), false, false) => Connection::Close,
        (Some(0), false, true) => Connection::KeptAsAsked,
        _ => Connection::Kept,
    };
    let method = req.method.unwrap_or("");
    let (path, query) = split_target(req.path.unwrap_or("/"));
    Ok(Request {
        get: Get {
            path: path.to_string(),
            query: parse_query(query),
            scrape_timeout: all("x-prometheus-scrape-timeout-seconds")
                .first()
                .map(|v| (*v).to_string()),
            is_get: method == "GET" || method == "HEAD",
        },
        head_only: method == "HEAD",
        connection,
    })
}

/// The path and query of a request target, in origin form (`/probe?x`) or absolute form
/// (`http://host/probe?x`, RFC 9112 §3.2.2).
fn split_target(target: &str) -> (&str, &str) {
    let origin = match target.split_once("://") {
        Some((_, rest)) if !target.starts_with('/') => rest.find('/').map_or("/", |i| &rest[i..]),
        _ => target,
    };
    origin.split_once('?').unwrap_or((origin, ""))
}

/// The answer's bytes: status line, Content-Type, Content-Length, and what becomes of the connection.
fn response(reply: &Reply, head_only: bool, connection: Connection) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len(),
        match connection {
            Connection::Kept => "",
            Connection::KeptAsAsked => "Connection: keep-alive\r\n",
            Connection::Close => "Connection: close\r\n",
        }
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
        assert!(r.get.is_get && r.connection == Connection::Kept && !r.head_only);
        let r = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(
            r.connection,
            Connection::Close,
            "HTTP/1.0 closes unless keep-alive"
        );
        let r = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert_eq!(r.connection, Connection::KeptAsAsked);
        let r = parse(b"HEAD / HTTP/1.1\r\nX: y\r\nConnection: close\r\n\r\n").unwrap();
        assert!(r.connection == Connection::Close && r.head_only && r.get.is_get);
        let r = parse(b"GET http://exporter:9116/probe?target=h HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(
            (r.get.path.as_str(), r.get.param("target")),
            ("/probe", Some("h"))
        );
        let r = parse(b"GET http://exporter HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(r.get.path, "/");
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
        let smuggled = b"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(
            refused(smuggled).0,
            Refused::Body,
            "every Content-Length counts"
        );
    }

    #[test]
    fn answers_carry_length_and_close() {
        let reply = Reply::ok(super::super::TEXT, "hi\n".into());
        let text = String::from_utf8(response(&reply, false, Connection::Close)).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("Content-Length: 3\r\nConnection: close\r\n\r\nhi\n"),
            "{text}"
        );
        let head = String::from_utf8(response(&reply, true, Connection::Kept)).unwrap();
        assert!(head.ends_with("Content-Length: 3\r\n\r\n"), "{head}");
        let old = String::from_utf8(response(&reply, true, Connection::KeptAsAsked)).unwrap();
        assert!(old.contains("Connection: keep-alive\r\n"), "{old}");
    }
}
