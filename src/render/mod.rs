//! Renderers: the report as plain-words text (optionally coloured) or as JSON, one file per format.
//! The only code that prints reports; [`progress`] draws the live status line.

use anstyle::{AnsiColor, Style};

use crate::model::{Outcome, Transport};

pub mod candidates;
pub mod events;
pub mod human;
pub mod json;
pub mod nagios;
pub mod progress;
pub mod prometheus;
pub mod status;
pub mod storm;
mod ticker;

pub use candidates::{candidates_json, candidates_text};
pub use human::{human, run_line, summary_line, verdict_line};
pub use json::{json, json_error, json_line, json_summary};

/// Human output level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The header, one line per attempt, the verdict.
    Normal,
    /// Only the verdict line (`-q`).
    Quiet,
}

/// The styles of the human output; all plain when colour is off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Palette {
    good: Style,
    bad: Style,
    warn: Style,
    note: Style,
}

impl Palette {
    /// No colour.
    #[must_use]
    pub fn plain() -> Self {
        Self::default()
    }

    /// ANSI colours for a terminal.
    #[must_use]
    pub fn colored() -> Self {
        Self {
            good: AnsiColor::Green.on_default().bold(),
            bad: AnsiColor::Red.on_default().bold(),
            warn: AnsiColor::Yellow.on_default(),
            note: AnsiColor::Cyan.on_default(),
        }
    }

    fn paint(style: Style, text: &str) -> String {
        if style == Style::new() {
            text.to_string()
        } else {
            format!("{style}{text}{style:#}")
        }
    }

    fn outcome(&self, o: Outcome) -> Style {
        match o {
            Outcome::Registered => self.good,
            Outcome::Rejected | Outcome::Unauthorized => self.warn,
            _ => self.bad,
        }
    }
}

pub use crate::units::human_ms;

/// The transports as `TLS, then TCP, then UDP`.
#[must_use]
pub fn order(transports: &[Transport]) -> String {
    transports
        .iter()
        .map(|t| t.via_name())
        .collect::<Vec<_>>()
        .join(", then ")
}
