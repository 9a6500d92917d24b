//! The `sipreg` binary: parse the flags, dispatch to the subcommand's front end (`cmd/`), exit with
//! the documented code.

use std::process::ExitCode;

use clap::Parser;
use sipreg::exit;

mod cmd;

use cmd::cli::{Cli, Command};
use cmd::{eprint_line, init_logging, one_line, usage_error};

fn main() -> ExitCode {
    // `--version` alone is answered before clap builds the whole command line: the smallest run.
    let mut args = std::env::args_os().skip(1);
    if let (Some(flag), None) = (args.next(), args.next()) {
        if flag == "--version" || flag == "-V" {
            cmd::print(&format!("sipreg {}\n", cmd::cli::VERSION));
            return ExitCode::from(exit::OK);
        }
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::from(exit::OK);
        }
        Err(e) => {
            let json = std::env::args_os().any(|a| a == "--json");
            return usage_error(&one_line(&e.render().to_string()), json);
        }
    };
    if let Some(code) = cli.command.as_ref().and_then(cmd::generate::generate) {
        return code;
    }
    let args = match &cli.command {
        Some(Command::Resolve(sub)) => sub.as_ref(),
        Some(Command::Watch(w)) => &w.register,
        Some(Command::Storm(s)) => &s.register,
        _ => &cli.register,
    };
    match &cli.command {
        Some(Command::Exporter(e)) => init_logging(e.verbose, false),
        _ => init_logging(args.verbose, args.quiet),
    }
    let rt = match cmd::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprint_line(&format!("sipreg: error: cannot start the runtime: {e}"));
            return ExitCode::from(exit::INTERNAL);
        }
    };
    match cli.command {
        Some(Command::Resolve(_)) => cmd::resolve::resolve(&rt, args),
        Some(Command::Demo { json }) => cmd::demo::demo(&rt, json, args.color),
        Some(Command::Watch(w)) => cmd::watch::watch(&rt, &w),
        Some(Command::Exporter(e)) => cmd::exporter::exporter(&rt, &e),
        Some(Command::Storm(s)) => cmd::storm::storm(&s),
        _ => cmd::register::register(&rt, args),
    }
}
