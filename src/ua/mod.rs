//! The user agent: pure state machines that decide, and the one async agent that acts on flows.

pub mod agent;
pub mod binding;
pub mod fallback;
mod inbound;
pub mod registration;
pub mod transaction;
pub mod watch;
mod words;
