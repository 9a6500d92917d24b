//! sipreg: a SIP registration tester that plays a desk phone's UDP/TCP/TLS fallback against a registrar.
#![forbid(unsafe_code)]

pub mod capture;
pub mod config;
pub mod event;
pub mod exit;
pub mod exporter;
pub mod http;
pub mod model;
pub mod net;
pub mod observe;
pub mod registrar;
pub mod render;
pub mod session;
pub mod sip;
pub mod storm;
pub mod threshold;
pub mod ua;
pub mod units;

pub use config::Config;
pub use observe::report::Report;
pub use session::oneshot::run;
