//! SIGINT and SIGTERM counted for `watch`, `storm` and the exporter: the first ends the run, the
//! second skips the removal of bindings.

/// Counts SIGINT and SIGTERM: the first ends the watch, the second skips the removal. The handlers
/// are installed when this is called (inside the runtime), before the watch sends anything.
#[cfg(unix)]
pub fn signals(
    tx: tokio::sync::watch::Sender<u32>,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        let mut count = 0u32;
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            count += 1;
            if tx.send(count).is_err() {
                return;
            }
        }
    })
}

/// Counts Ctrl-C where there are no Unix signals.
#[cfg(not(unix))]
pub fn signals(
    tx: tokio::sync::watch::Sender<u32>,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async move {
        let mut count = 0u32;
        while tokio::signal::ctrl_c().await.is_ok() {
            count += 1;
            if tx.send(count).is_err() {
                return;
            }
        }
    })
}
