//! `sipreg demo`: a registrar on loopback where TCP is refused and UDP answers, and the phone's
//! default UDP + TCP run against it, so the fallback can be seen with nothing else installed.

use crate::config::Config;
use crate::observe::report::Report;
use crate::registrar::Registrar;

/// Starts the demo registrar, registers at it with the default flags, and returns the report.
///
/// # Errors
/// When the registrar cannot bind a loopback port.
pub async fn run() -> anyhow::Result<Report> {
    let registrar = Registrar::start().await?;
    let server = registrar.sip_addr.to_string();
    let config = Config::builder(server).user("demo").build()?;
    let report = super::oneshot::run(&config).await;
    drop(registrar);
    Ok(report)
}
