//! Progress of the demo on stderr: a bar redrawn in place on a terminal,
//! plain lines otherwise (a pipe, a log file, a test).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const WIDTH: usize = 28;
/// How often the bar is redrawn, at most.
const REDRAW: Duration = Duration::from_millis(80);

pub struct Progress {
    terminal: bool,
    total: u64,
    done: u64,
    label: String,
    drawn: Option<Instant>,
}

impl Progress {
    /// Progress over `total` steps: a bar when stderr is a terminal.
    pub fn new(total: u64) -> Progress {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            total: total.max(1),
            done: 0,
            label: String::new(),
            drawn: None,
        }
    }

    /// `done` of the steps are done; `label` says where the work is.
    pub fn set(&mut self, done: u64, label: impl Into<String>) {
        self.done = done.min(self.total);
        self.label = label.into();
        if self.terminal && self.drawn.is_none_or(|t| t.elapsed() >= REDRAW) {
            self.draw();
        }
    }

    /// A line worth keeping: printed above the bar on a terminal, as it
    /// is otherwise.
    pub fn line(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{text}\n");
            drop(err);
            self.draw();
        } else {
            let _ = writeln!(err, "{text}");
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if self.terminal {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }

    fn draw(&mut self) {
        let filled = (self.done as usize * WIDTH) / self.total as usize;
        let bar: String = "█".repeat(filled) + &"░".repeat(WIDTH - filled);
        let percent = self.done * 100 / self.total;
        let _ = write!(
            std::io::stderr().lock(),
            "\r\x1b[2K{bar} {percent:>3}%  {}",
            self.label
        );
        self.drawn = Some(Instant::now());
    }
}
