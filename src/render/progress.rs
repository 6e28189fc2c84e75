//! The progress line of apply: `[n/N] requests sent` on stderr, redrawn in place, only
//! when stderr is a terminal. Result lines go to stdout between redraws; the line is
//! cleared before each so that they never share a line. Off a terminal it writes nothing
//! (logs get the result lines only).

use std::io::{self, Write};

/// Erase the current terminal line and go back to its start.
const CLEAR_LINE: &str = "\r\x1b[2K";

#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
    done: usize,
    total: usize,
}

impl Progress {
    /// `enabled` when stderr is a terminal.
    pub fn new(total: usize, enabled: bool) -> Progress {
        Progress {
            enabled,
            done: 0,
            total,
        }
    }

    /// Show the line as it stands.
    pub fn draw(&self, err: &mut impl Write) -> io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        write!(
            err,
            "{CLEAR_LINE}[{}/{}] {} sent, {} to go…",
            self.done,
            self.total,
            plural(self.done),
            self.total - self.done.min(self.total)
        )?;
        err.flush()
    }

    /// Take the line away, before a result line is printed or at the end.
    pub fn clear(&self, err: &mut impl Write) -> io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        write!(err, "{CLEAR_LINE}")?;
        err.flush()
    }

    /// One more request answered.
    pub fn advance(&mut self) {
        self.done += 1;
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        "request"
    } else {
        "requests"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_and_clears_on_a_terminal() {
        let mut progress = Progress::new(3, true);
        let mut err = Vec::new();
        progress.draw(&mut err).unwrap();
        progress.advance();
        progress.clear(&mut err).unwrap();
        progress.draw(&mut err).unwrap();
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "\r\x1b[2K[0/3] requests sent, 3 to go…\r\x1b[2K\r\x1b[2K[1/3] request sent, 2 to go…"
        );
    }

    #[test]
    fn writes_nothing_off_a_terminal() {
        let mut progress = Progress::new(3, false);
        let mut err = Vec::new();
        progress.draw(&mut err).unwrap();
        progress.advance();
        progress.clear(&mut err).unwrap();
        assert!(err.is_empty());
    }
}
