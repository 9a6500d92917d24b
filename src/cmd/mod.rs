//! The front ends: one file per subcommand, and the output, palette, logging and signal parts they
//! share. Only here is clap: the library takes a [`sipreg::Config`].

pub mod cli;
pub mod demo;
pub mod exporter;
pub mod flags;
pub mod generate;
mod output;
pub mod register;
pub mod resolve;
pub mod signals;
pub mod storm;
mod storm_plan;
pub mod watch;

pub use output::*;
