//! `sipreg demo`: the in-process registrar and the phone's default flags.

use std::process::ExitCode;

use sipreg::exit;
use sipreg::render::{self, Detail};

use super::cli::ColorChoice;
use super::{eprint_line, palette, print};

/// `sipreg demo`: the in-process registrar and the phone's default flags.
pub fn demo(rt: &tokio::runtime::Runtime, json: bool, color: ColorChoice) -> ExitCode {
    match rt.block_on(sipreg::session::demo::run()) {
        Ok(report) if json => {
            print(&render::json(&report));
            ExitCode::from(report.exit_code)
        }
        Ok(report) => {
            print(&render::human(&report, Detail::Normal, &palette(color)));
            ExitCode::from(report.exit_code)
        }
        Err(e) => {
            eprint_line(&format!("sipreg: error: demo failed: {e:#}"));
            ExitCode::from(exit::INTERNAL)
        }
    }
}
