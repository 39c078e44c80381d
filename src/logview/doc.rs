//! What the log view shows, as plain data: the session task writes it, the screen reads it.

use super::scan::{Findings, Hit, LineIndex};
use super::text::CleanLine;

/// Which text the view holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Still choosing between the node log and the console.
    Opening,
    /// The failed step's node log from the Pipeline REST API: at most its last 10 KiB.
    NodeTail {
        step: String,
        /// The step log's full length, as Jenkins reports it.
        length: u64,
        /// Jenkins cut it: this is a tail.
        truncated: bool,
    },
    /// The build's whole console, read by byte offsets.
    Console,
}

/// One line on screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownLine {
    pub offset: u64,
    /// 1-based, when known (a scan passed it or a jump named it).
    pub number: Option<u64>,
    pub text: CleanLine,
    /// The rule index, when this line is an error.
    pub error: Option<u16>,
    /// Byte ranges of `text.text` the active search matches (highlighted).
    pub matches: Vec<(usize, usize)>,
}

/// A running or finished `/` search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchState {
    pub pattern: String,
    pub found: Findings,
    pub done: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogDoc {
    pub title: String,
    pub origin: Origin,
    /// Rule kinds by index (the summary names them).
    pub kinds: Vec<String>,
    /// Bytes the log has, as far as known.
    pub size: u64,
    /// The log will not grow (the build ended).
    pub complete: bool,
    /// The error pass: hits, counts per kind, bytes and lines scanned.
    pub errors: Findings,
    pub errors_done: bool,
    pub index: LineIndex,
    pub search: Option<SearchState>,
    /// The window: the lines on screen, from the top.
    pub lines: Vec<ShownLine>,
    /// The current line's offset (the one `y` copies, the one jumps land on).
    pub cursor: u64,
    /// The current line is the last and the log grows: new text scrolls into view.
    pub following: bool,
    /// Waiting for text to show.
    pub loading: bool,
    /// Why the source is degraded, when it is.
    pub problem: Option<String>,
    /// A short note to the operator (no further match, where a file was written).
    pub notice: Option<String>,
}

impl LogDoc {
    pub fn new(title: String, kinds: Vec<String>) -> LogDoc {
        LogDoc {
            title,
            origin: Origin::Opening,
            kinds,
            size: 0,
            complete: false,
            errors: Findings::default(),
            errors_done: false,
            index: LineIndex::default(),
            search: None,
            lines: Vec::new(),
            cursor: 0,
            following: false,
            loading: true,
            problem: None,
            notice: None,
        }
    }

    pub fn kind_name(&self, kind: u16) -> &str {
        self.kinds.get(kind as usize).map_or("error", String::as_str)
    }

    /// Counts per kind, in rule order, leaving out kinds not seen.
    pub fn summary(&self) -> Vec<(&str, u64)> {
        self.errors
            .counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (self.kind_name(k as u16), *n))
            .collect()
    }

    pub fn current(&self) -> Option<&ShownLine> {
        self.lines.iter().find(|l| l.offset == self.cursor)
    }

    /// The hits `n`/`N` move between: the search's when one is active, else the errors.
    pub fn targets(&self) -> &[Hit] {
        match &self.search {
            Some(s) => &s.found.hits,
            None => &self.errors.hits,
        }
    }

    /// What `y` copies: the current line, or when it is an error, the error with the lines that
    /// belong to it (stack frames, `Caused by:`, indented detail), as far as the window shows.
    pub fn copy_text(&self) -> Option<(String, usize)> {
        let at = self.lines.iter().position(|l| l.offset == self.cursor)?;
        let first = &self.lines[at];
        if first.error.is_none() {
            return Some((first.text.text.clone(), 1));
        }
        let mut out = vec![first.text.text.as_str()];
        for line in &self.lines[at + 1..] {
            let t = line.text.text.as_str();
            let trimmed = t.trim_start();
            let belongs = t.starts_with([' ', '\t'])
                || trimmed.starts_with("at ")
                || trimmed.starts_with("Caused by:")
                || trimmed.starts_with("...")
                || (line.error.is_some() && line.error == first.error);
            if !belongs || out.len() >= 200 {
                break;
            }
            out.push(t);
        }
        let n = out.len();
        Some((out.join("\n"), n))
    }

    /// How far the error pass has read, in percent.
    pub fn scanned_percent(&self) -> u64 {
        if self.size == 0 {
            return if self.errors_done { 100 } else { 0 };
        }
        (self.errors.scanned.min(self.size) * 100 / self.size).min(100)
    }
}
