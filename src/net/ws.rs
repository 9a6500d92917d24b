//! SIP over WebSocket (RFC 7118): the HTTP upgrade that offers the `sip` subprotocol (§4.1), one SIP
//! message per WebSocket message, text or binary (§5), and ping and pong frames as the keep-alive.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error, Message};

use super::{Frame, TlsParams};
use crate::model::{Failure, Outcome, Transport};
use crate::sip::MAX_MESSAGE;

/// Where the upgrade goes: the host for the `Host` header and the request path (`--ws-path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsTarget {
    /// SERVER's host (a name or an address, IPv6 without brackets).
    pub host: String,
    /// The request path, starting with `/`.
    pub path: String,
}

/// The keep-alive the user agent sends on streams (RFC 5626 §3.5.1): a WebSocket ping here.
const PING: &[u8] = b"\r\n\r\n";

/// An upgraded WebSocket carrying SIP.
pub struct WsFlow<S> {
    ws: WebSocketStream<S>,
    transport: Transport,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) tls: Option<TlsParams>,
}

/// Runs the HTTP upgrade on `io` (connected, and for WSS secured) within `timeout`.
///
/// # Errors
/// `Refused` with the HTTP status when the server answered other than 101, or switched without the
/// `sip` subprotocol; `Closed` or `Timeout`-like failures when the exchange broke off.
pub async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    transport: Transport,
    target: &WsTarget,
    (local, remote): (SocketAddr, SocketAddr),
    tls: Option<TlsParams>,
    timeout: Duration,
) -> Result<WsFlow<S>, Failure> {
    let scheme = if transport == Transport::Wss {
        "wss"
    } else {
        "ws"
    };
    let host = crate::sip::message::bracket_host(&target.host);
    let url = format!("{scheme}://{host}:{}{}", remote.port(), target.path);
    let mut request = url.as_str().into_client_request().map_err(|e| {
        Failure::new(
            Outcome::Refused,
            format!("cannot make a WebSocket request for {url}: {e}"),
        )
    })?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    // Buffers sized for SIP, not tungstenite's 128 KiB each: a storm holds thousands of these
    // connections (263 MiB for 2,000 accounts with the defaults). A write buffer of 0 writes each
    // message at once.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let handshake = tokio_tungstenite::client_async_with_config(request, io, Some(config));
    let (ws, _response) = match tokio::time::timeout(timeout, handshake).await {
        Err(_) => {
            return Err(Failure::new(
                Outcome::Closed,
                format!(
                    "the WebSocket upgrade at {url} got no answer within {}",
                    humantime::format_duration(timeout)
                ),
            ));
        }
        Ok(Err(e)) => return Err(upgrade_failure(&e, &url)),
        Ok(Ok(done)) => done,
    };
    Ok(WsFlow {
        ws,
        transport,
        local,
        remote,
        tls,
    })
}

/// The failure for an upgrade that did not switch to a SIP WebSocket.
fn upgrade_failure(e: &Error, url: &str) -> Failure {
    match e {
        Error::Http(response) => {
            let status = response.status();
            Failure {
                upgrade: Some(status.as_u16()),
                ..Failure::new(
                    Outcome::Refused,
                    format!(
                        "the server answered the WebSocket upgrade at {url} with HTTP {} {}",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or("")
                    )
                    .trim_end()
                    .to_string(),
                )
            }
        }
        Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(sub)) => Failure {
            upgrade: Some(101),
            ..Failure::new(
                Outcome::Refused,
                match sub {
                    SubProtocolError::NoSubProtocol => format!(
                        "the server at {url} switched to WebSocket without the sip subprotocol (RFC 7118 §4.1)"
                    ),
                    other => format!(
                        "the server at {url} switched to WebSocket with a subprotocol other than sip: {other}"
                    ),
                },
            )
        },
        Error::Io(io) => Failure::new(
            Outcome::Closed,
            format!("the connection broke during the WebSocket upgrade at {url}: {io}"),
        ),
        other => Failure::new(
            Outcome::Closed,
            format!("the WebSocket upgrade at {url} failed: {other}"),
        ),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> WsFlow<S> {
    /// The transport, WS or WSS.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Sends one SIP message as one text message (binary if it is not UTF-8); the keep-alive
    /// CRLFCRLF as a ping frame.
    ///
    /// # Errors
    /// `Closed` when the WebSocket is gone.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let message = if bytes == PING {
            Message::Ping(Vec::new().into())
        } else {
            match std::str::from_utf8(bytes) {
                Ok(text) => Message::Text(text.into()),
                Err(_) => Message::Binary(bytes.to_vec().into()),
            }
        };
        self.ws.send(message).await.map_err(|e| self.broken(&e))
    }

    /// The next SIP message, or a pong. Pings from the server are answered by the WebSocket layer.
    ///
    /// # Errors
    /// `Closed` with the close code and reason when the server closed the WebSocket.
    pub async fn recv(&mut self) -> Result<Frame, Failure> {
        loop {
            let message = match self.ws.next().await {
                None => {
                    return Err(Failure::new(
                        Outcome::Closed,
                        format!("{} closed the connection", self.remote),
                    ));
                }
                Some(Err(e)) => return Err(self.broken(&e)),
                Some(Ok(m)) => m,
            };
            match message {
                Message::Text(text) => return Ok(Frame::Message(text.as_bytes().to_vec())),
                Message::Binary(bytes) => return Ok(Frame::Message(bytes.to_vec())),
                Message::Pong(_) => return Ok(Frame::Pong),
                Message::Close(frame) => {
                    let why = frame.map_or_else(
                        || "without a close code".to_string(),
                        |f| {
                            let reason = f.reason.to_string();
                            let code = u16::from(f.code);
                            if reason.is_empty() {
                                format!("with close code {code}")
                            } else {
                                format!("with close code {code} ({reason})")
                            }
                        },
                    );
                    return Err(Failure::new(
                        Outcome::Closed,
                        format!("{} closed the WebSocket {why}", self.remote),
                    ));
                }
                // A ping is answered when the socket is next written or flushed.
                Message::Ping(_) => {
                    let _ = self.ws.flush().await;
                }
                Message::Frame(_) => {}
            }
        }
    }

    fn broken(&self, e: &Error) -> Failure {
        Failure::new(
            Outcome::Closed,
            format!(
                "the {} connection to {} broke: {e}",
                self.transport, self.remote
            ),
        )
    }
}
