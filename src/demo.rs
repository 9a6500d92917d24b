//! `sipreg demo`: a registrar on loopback where TCP is refused and UDP answers, and the phone's
//! default UDP + TCP run against it, so the fallback can be seen with nothing else installed.

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::observe::report::Report;
use crate::registrar::Registrar;
use clap::Parser;

/// Starts the demo registrar, registers at it with the default flags, and returns the report.
///
/// # Errors
/// When the registrar cannot bind a loopback port.
pub async fn run() -> anyhow::Result<Report> {
    let registrar = Registrar::start().await?;
    let server = registrar.sip_addr.to_string();
    let cli = Cli::try_parse_from(["sipreg", "--user", "demo", server.as_str()])?;
    if let Some(Command::Demo { .. }) = cli.command {
        anyhow::bail!("unexpected subcommand");
    }
    let config = Config::from_args(&cli.register, None)?;
    let report = crate::oneshot::run(&config).await;
    drop(registrar);
    Ok(report)
}
