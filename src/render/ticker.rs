//! One live line on stderr, redrawn on a timer while a run goes on, and cleared before anything
//! else is written to the terminal: the ticker both live lines (the one-shot's wait, the watch's
//! status) are drawn by.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the line is drawn from, and whether it is on the screen now.
struct Shown<S> {
    state: S,
    drawn: bool,
}

/// A handle on the live line; a disabled one does nothing.
pub struct Ticker<S> {
    shared: Option<Arc<Mutex<Shown<S>>>>,
}

impl<S> Clone for Ticker<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<S> Default for Ticker<S> {
    fn default() -> Self {
        Self { shared: None }
    }
}

impl<S: Send + 'static> Ticker<S> {
    /// A line on stderr drawn from `state` by `text` every `every` (nothing drawn when `text`
    /// gives nothing); must be created inside the tokio runtime, which runs the timer.
    pub fn stderr(
        state: S,
        every: Duration,
        text: impl Fn(&S) -> Option<String> + Send + 'static,
    ) -> Self {
        let shared = Arc::new(Mutex::new(Shown {
            state,
            drawn: false,
        }));
        let ticking = shared.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            loop {
                interval.tick().await;
                let Ok(mut shown) = ticking.lock() else {
                    return;
                };
                if let Some(line) = text(&shown.state) {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2K{line}").and_then(|()| err.flush());
                    shown.drawn = true;
                }
            }
        });
        Self {
            shared: Some(shared),
        }
    }

    /// Clears the line if it is drawn (other output follows), then changes its state with `change`.
    pub fn update(&self, change: impl FnOnce(&mut S)) {
        let Some(shared) = &self.shared else { return };
        let Ok(mut shown) = shared.lock() else { return };
        if shown.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K").and_then(|()| err.flush());
            shown.drawn = false;
        }
        change(&mut shown.state);
    }
}
