//! The user agent: pure state machines that decide, and the one async agent that acts on flows.

pub mod agent;
mod attempt;
pub mod binding;
pub mod fallback;
mod held;
pub(crate) mod hold;
mod inbound;
pub mod registration;
pub mod transaction;
pub mod watch;
mod words;
