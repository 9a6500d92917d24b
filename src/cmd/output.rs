//! What every front end shares: logging set-up, the runtime, printing on stdout and stderr, usage
//! errors as one line (or a Nagios UNKNOWN, or JSON), and the colour palette.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use sipreg::exit;
use sipreg::render::{self, Palette};

use super::cli::ColorChoice;

/// Logging on stderr for `-v`/`-vv` or RUST_LOG.
pub fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    // sipreg logs only at info and debug: without -v or RUST_LOG there is nothing to set up.
    if verbose == 0 && std::env::var_os("RUST_LOG").is_none() {
        return;
    }
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "sipreg=info",
        (false, _) => "sipreg=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .without_time()
        .try_init();
}

/// A single-threaded runtime: one registration needs no more.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Writes `text` on stdout.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`sipreg ... | head -1`) is not an error of ours.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes `bytes` on stdout: exit 0.
pub fn print_bytes(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
    ExitCode::from(exit::OK)
}

/// One line on stderr; a closed stderr is not worth a panic.
pub fn eprint_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// A usage error: one line on stderr, a JSON error with `--json`, UNKNOWN with `--nagios`.
pub fn usage_error(message: &str, json: bool) -> ExitCode {
    // A Nagios plugin's usage error is UNKNOWN (3), on stdout, where the monitoring reads it.
    if std::env::args_os().any(|a| a == "--nagios") {
        print(&render::nagios::unknown(message));
        return ExitCode::from(exit::NAGIOS_UNKNOWN);
    }
    if json {
        print(&render::json_error(message, exit::USAGE));
    } else {
        eprint_line(&format!("sipreg: error: {message}"));
    }
    ExitCode::from(exit::USAGE)
}

/// Clap's error as one line: its first paragraph, without the `error:` prefix.
pub fn one_line(rendered: &str) -> String {
    let first: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = first.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

/// Colour for the human output: `--color`, then NO_COLOR, TERM=dumb and whether stdout is a terminal.
pub fn palette(choice: ColorChoice) -> Palette {
    let on = match choice {
        ColorChoice::Never => false,
        ColorChoice::Always => true,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    };
    if on {
        Palette::colored()
    } else {
        Palette::plain()
    }
}
