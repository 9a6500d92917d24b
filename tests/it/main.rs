//! The integration tests, as one test binary (the helpers in `common/` compile once): each module
//! runs the real `sipreg` binary over real sockets against the scripted server, Kamailio, baresip,
//! Prometheus or SIPp. Run one module with `cargo test --test it watch::`.

mod common;

mod auth;
mod capture;
mod cli;
mod dns;
mod exporter;
mod frontend;
mod generated;
mod hostile;
mod inbound;
mod kamailio;
mod nagios;
mod nat;
mod prometheus;
mod properties;
mod realworld;
mod register;
mod shipping;
mod siege;
mod storm;
mod tls;
mod tls_legacy;
mod watch;
mod websocket;
