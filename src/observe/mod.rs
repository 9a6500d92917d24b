//! Consumers of the event stream: the report fold, its hints, and the `-v` narration.

pub mod collect;
pub mod hint;
pub mod narration;
pub mod report;
pub mod sample;
pub mod storm;
mod storm_summary;
pub mod tally;
