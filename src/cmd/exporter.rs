//! `sipreg exporter` and `watch --metrics-listen`: the HTTP front ends of the binary.

use std::process::ExitCode;

use super::cli::ExporterArgs;
use sipreg::exit;
use sipreg::render;

use super::signals::signals;
use super::{eprint_line, print, usage_error};

/// Waits for the first SIGINT or SIGTERM (forever when they cannot be caught).
pub(crate) async fn first_signal() {
    let (tx, mut rx) = tokio::sync::watch::channel(0u32);
    match signals(tx) {
        Ok(counting) => {
            tokio::spawn(counting);
        }
        Err(e) => eprint_line(&format!("sipreg: warning: no signal handling: {e}")),
    }
    let _ = rx.changed().await;
}

/// `sipreg exporter`: serve probes until a signal. Exit 0 after a signal, 2 on a bad config or an
/// address that cannot be bound.
pub(crate) fn exporter(rt: &tokio::runtime::Runtime, e: &ExporterArgs) -> ExitCode {
    use sipreg::exporter::{Exporter, config};
    let modules = match config::load(&e.config) {
        Ok(m) => m,
        Err(err) => return usage_error(&format!("{err:#}"), false),
    };
    if e.check_config {
        let rows: Vec<render::prometheus::ModuleRow<'_>> = modules
            .values()
            .map(|m| (m.name.as_str(), m.targets.as_deref(), m.has_credentials))
            .collect();
        print(&render::prometheus::modules(&rows));
        return ExitCode::from(exit::OK);
    }
    let count = modules.len();
    // Every connection is accepted and held until its head deadline: room for a flood of them.
    if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
        let _ = rlimit::increase_nofile_limit(hard);
    }
    let capture = match e
        .hep
        .target()
        .map(|t| sipreg::capture::Capture::create(None, None, Some(t)))
    {
        Some(Err(err)) => return usage_error(&err, false),
        Some(Ok(c)) => Some(c),
        None => None,
    };
    let exporter = std::sync::Arc::new(Exporter::with_capture(
        modules,
        usize::from(e.max_concurrent),
        e.timeout_offset,
        e.verbose >= 2,
        capture,
    ));
    rt.block_on(async {
        let listener = match sipreg::http::bind(e.listen).await {
            Ok(l) => l,
            Err(err) => return usage_error(&format!("{err:#}"), false),
        };
        let at = listener.local_addr().map_or(e.listen, |a| a);
        eprint_line(&format!(
            "sipreg exporter: listening on http://{at}/ ({count} modules)"
        ));
        tokio::select! {
            () = sipreg::exporter::serve(listener, exporter) => {}
            () = first_signal() => {}
        }
        ExitCode::from(exit::OK)
    })
}

/// `watch --metrics-listen`: binds the address and serves the tally's metrics in the background.
pub(crate) async fn metrics_server(
    addr: std::net::SocketAddr,
    shared: sipreg::observe::tally::Shared,
) -> anyhow::Result<()> {
    let listener = sipreg::http::bind(addr).await?;
    let at = listener.local_addr().map_or(addr, |a| a);
    eprint_line(&format!("sipreg watch: metrics on http://{at}/metrics"));
    let stats = std::sync::Arc::default();
    tokio::spawn(sipreg::http::serve(listener, stats, move |get| {
        let shared = shared.clone();
        async move { sipreg::session::watch::metrics_page(&get, &shared) }
    }));
    Ok(())
}
