//! `sipreg completions SHELL` and `sipreg man`: generated from the clap definition.

use std::process::ExitCode;

use clap::CommandFactory;
use sipreg::exit;

use super::cli::{Cli, Command};
use super::{eprint_line, print_bytes};

/// The completions or the man page, when `command` asks for one; `None` for the other commands.
pub fn generate(command: &Command) -> Option<ExitCode> {
    match command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "sipreg", &mut buf);
            Some(print_bytes(&buf))
        }
        Command::Man => {
            let mut buf = Vec::new();
            // The package version only: the committed man page must not change with every commit.
            let command = Cli::command().version(env!("CARGO_PKG_VERSION"));
            if let Err(e) = clap_mangen::Man::new(command).render(&mut buf) {
                eprint_line(&format!("sipreg: error: cannot render the man page: {e}"));
                return Some(ExitCode::from(exit::INTERNAL));
            }
            Some(print_bytes(&buf))
        }
        Command::Demo { .. }
        | Command::Resolve(_)
        | Command::Watch(_)
        | Command::Exporter(_)
        | Command::Storm(_) => None,
    }
}
