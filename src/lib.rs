//! sipreg: a SIP registration tester that plays a desk phone's UDP/TCP/TLS fallback against a registrar.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod demo;
pub mod driver;
pub mod engine;
pub mod hint;
pub mod registrar;
pub mod render;
pub mod report;
pub mod resolve;
pub mod sip;
pub mod transport;

pub use config::Config;
pub use driver::run;
pub use report::Report;
