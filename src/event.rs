//! What the user agent tells the world: typed, timestamped events, and the `Sink` trait that the
//! report, the progress line and the `-v` narration implement.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::model::{Binding, Failure, Outcome, Retry, Transport, Verdict};
use crate::net::TlsParams;
use crate::net::resolve::Candidate;

/// Which request of the registration a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A REGISTER that creates or refreshes the binding.
    Register,
    /// The REGISTER with Expires 0 that removes it.
    Unregister,
    /// The OPTIONS of `--check-inbound`, to our own AOR through the registrar.
    Inbound,
}

/// A phase of an attempt with a time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// TCP connect.
    Connect,
    /// TLS handshake.
    Tls,
    /// Waiting for the answer to a request.
    Answer,
}

/// How an attempt ended, with the facts a hint needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    /// The outcome.
    pub outcome: Outcome,
    /// The final status, when the server answered.
    pub status: Option<u16>,
    /// Why, in plain words.
    pub reason: String,
    /// The transport failure, when the transport could not carry the request.
    pub failure: Option<Failure>,
    /// The `Server` header of the last answer.
    pub server_header: Option<String>,
    /// The address the server saw, from `received`/`rport` in the top Via.
    pub seen_as: Option<String>,
    /// The lifetime granted to our binding.
    pub expires: Option<u32>,
    /// Our binding as the 2xx listed it.
    pub binding: Option<Binding>,
    /// Retry-After of the answer, in seconds.
    pub retry_after: Option<u32>,
    /// Min-Expires of a 423.
    pub min_expires: Option<u32>,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A run begins.
    RunStarted {
        /// SERVER, normalised.
        server: String,
        /// The address of record.
        aor: String,
        /// Transports in the order they are tried.
        order: Vec<Transport>,
        /// `--insecure`.
        insecure: bool,
    },
    /// SERVER is a name: the DNS lookups begin.
    Resolving {
        /// The host name.
        host: String,
    },
    /// The candidates are known (RFC 3263).
    Resolved(Vec<Candidate>),
    /// An attempt begins: one candidate in one cycle.
    AttemptStarted {
        /// 1-based cycle.
        cycle: u32,
        /// The candidate tried.
        candidate: Candidate,
        /// What comes next if it fails.
        then: String,
    },
    /// A timed phase begins.
    PhaseStarted {
        /// Which.
        phase: Phase,
        /// What we wait for, in words (a fixed text for the answer phase: no allocation per
        /// transaction).
        what: std::borrow::Cow<'static, str>,
        /// Its limit.
        limit: Duration,
        /// What comes after it if it fails.
        then: String,
    },
    /// A timed phase ended (well or not).
    PhaseEnded {
        /// Which.
        phase: Phase,
        /// How long it took.
        elapsed: Duration,
        /// It succeeded.
        ok: bool,
    },
    /// The flow is open.
    Connected {
        /// Our address on it.
        local: SocketAddr,
        /// TLS version and cipher.
        tls: Option<TlsParams>,
    },
    /// The server closed the connection after an answer; a new one carries the next request.
    Reconnected {
        /// How the old connection ended.
        reason: String,
        /// Our address on the new one.
        local: SocketAddr,
        /// TLS version and cipher of the new one.
        tls: Option<TlsParams>,
    },
    /// A request (or its retransmission) went out.
    RequestSent {
        /// Register or unregister.
        purpose: Purpose,
        /// Transport.
        transport: Transport,
        /// CSeq number.
        cseq: u32,
        /// Expires asked for.
        expires: u32,
        /// A Timer E retransmission, with the interval waited before it.
        retransmission: Option<Duration>,
        /// The bytes sent (narration redacts credentials).
        bytes: Vec<u8>,
    },
    /// A response to our request arrived.
    ResponseReceived {
        /// Register or unregister.
        purpose: Purpose,
        /// Transport.
        transport: Transport,
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Time since the request was first sent.
        after: Duration,
        /// The address it came from, when it was not the one the request went to.
        from: Option<SocketAddr>,
        /// The bytes received.
        bytes: Vec<u8>,
    },
    /// The server sent a request on our flow (OPTIONS, NOTIFY, INVITE, …).
    RequestReceived {
        /// Its method.
        method: String,
        /// The status we answered with (watch), if we answered.
        answered: Option<u16>,
        /// Transport.
        transport: Transport,
        /// The bytes received.
        bytes: Vec<u8>,
        /// Our answer as sent (empty when none).
        answer: Vec<u8>,
    },
    /// A keep-alive arrived on a stream (RFC 5626 §3.5.1).
    KeepAlive {
        /// CRLFCRLF (the server asks for a pong) rather than CRLF (a pong).
        ping: bool,
    },
    /// A message that does not answer our request was ignored.
    Ignored {
        /// Why.
        why: String,
        /// The message, when it could be read as a response.
        bytes: Option<Vec<u8>>,
    },
    /// The registration sends another request in the same round.
    Retrying(Retry),
    /// An attempt ended.
    AttemptEnded(Box<Ended>),
    /// The registrar accepted our binding.
    Registered {
        /// Over which transport.
        transport: Transport,
        /// Our address on the flow.
        local: SocketAddr,
        /// The registrar's address.
        remote: SocketAddr,
        /// The lifetime it granted.
        expires: Option<u32>,
        /// A refresh of a binding we held (watch), not a new registration.
        refresh: bool,
    },
    /// A refresh failed (watch): the reason says how.
    RefreshFailed {
        /// Why.
        reason: String,
    },
    /// The inbound check ended (`--check-inbound`).
    InboundChecked {
        /// The OPTIONS reached us through the registrar.
        arrived: bool,
        /// Over which transport it reached us.
        transport: Option<Transport>,
        /// It came on the flow that holds our binding (not from another address).
        same_flow: Option<bool>,
        /// From sending the OPTIONS to its arrival.
        rtt: Option<Duration>,
        /// The registrar's final answer to the OPTIONS.
        status: Option<u16>,
        /// That answer, or why there was none.
        reason: String,
    },
    /// The inbound check found that the registrar has no binding for us (watch, a 404).
    BindingLost {
        /// Why.
        reason: String,
    },
    /// The inbound check did not reach us (watch): calls would not arrive.
    InboundFailed {
        /// Why.
        reason: String,
    },
    /// A keep-alive went out (watch).
    KeepAliveSent,
    /// The pong to our ping arrived (watch, TCP/TLS).
    KeepAliveAnswered {
        /// Round-trip time.
        rtt: Duration,
    },
    /// No pong within 10 s (RFC 5626 §4.4.1) on a flow that owed one.
    KeepAliveMissed,
    /// The registrar did not answer the first ping and never agreed to outbound: it does not
    /// answer keep-alives (said once per watch; the flow is still held).
    KeepAliveUnanswered,
    /// The flow failed (watch): closed, reset, missed pong.
    FlowLost {
        /// Why.
        reason: String,
    },
    /// The registration is gone (watch): flow lost, refresh failed or lifetime over.
    RegistrationLost {
        /// Why.
        reason: String,
    },
    /// We remove our binding.
    Unregistering,
    /// The removal ended.
    Unregistered {
        /// The registrar confirmed it.
        done: bool,
        /// Its status.
        status: Option<u16>,
        /// What happened.
        reason: String,
        /// Our Contacts the registrar may still hold (empty when the removal was confirmed).
        left: Vec<String>,
    },
    /// A wait between cycles begins.
    WaitStarted {
        /// How long.
        wait: Duration,
        /// The transport tried after it.
        then: String,
    },
    /// The wait is over.
    WaitEnded,
    /// The run is over.
    Finished(Verdict),
}

/// An event and when it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamped {
    /// When.
    pub at: Instant,
    /// What.
    pub event: Event,
}

/// A consumer of events: the report, the progress line, the narration, metrics.
pub trait Sink: Send {
    /// Takes one event.
    fn event(&mut self, e: &Stamped);

    /// Whether the sink reads the events' texts and copies: trace bytes, reasons, the server's
    /// header, the address it saw, the candidates. A sink that folds counts and times only (a
    /// storm's account) says no, and the agent leaves them empty rather than build them for
    /// tens of thousands of accounts a second.
    fn detail(&self) -> bool {
        true
    }
}

/// Several sinks fed in order.
pub struct Fanout<'a>(pub Vec<&'a mut (dyn Sink + 'a)>);

/// Two sinks owned together: each event goes to the first, then the second.
impl<A: Sink, B: Sink> Sink for (A, B) {
    fn event(&mut self, e: &Stamped) {
        self.0.event(e);
        self.1.event(e);
    }

    fn detail(&self) -> bool {
        self.0.detail() || self.1.detail()
    }
}

impl Sink for Fanout<'_> {
    fn event(&mut self, e: &Stamped) {
        for s in &mut self.0 {
            s.event(e);
        }
    }

    fn detail(&self) -> bool {
        self.0.iter().any(|s| s.detail())
    }
}

/// Collects every event (tests, and a timeline).
#[derive(Debug, Default)]
pub struct Recorder(pub Vec<Stamped>);

impl Sink for Recorder {
    fn event(&mut self, e: &Stamped) {
        self.0.push(e.clone());
    }
}
