//! One streaming pass over a log: the bytes go through once, in blocks, and what is kept is small
//! (hit offsets up to a cap, counts, a sparse line index). This is how a 1 GB console is searched
//! without holding it.
//!
//! Each block is searched as a whole for *candidate* lines with a multi-line regex (fast: it runs
//! over the block, not line by line); only candidate lines, and lines carrying escape sequences
//! (whose visible text the raw bytes hide), are judged one by one on their visible text.

use memchr::{memchr, memchr_iter, memrchr};
use regex::bytes::{Regex, RegexBuilder};

use super::rules::ErrorRules;
use super::text;

/// Where a recognised line is: its byte offset, its line number (0-based) and what it is (a rule's
/// index for errors; 0 for search matches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub offset: u64,
    pub line: u64,
    pub kind: u16,
}

/// Lines longer than this are cut into pieces of this size: a log without newlines must not make
/// the scanner hold all of it.
pub const MAX_LINE: usize = 1 << 20;
/// Work is done per block of about this size.
const BLOCK: usize = 1 << 20;
/// A line index checkpoint every this many lines.
pub const STRIDE: u64 = 4096;

/// Judges lines: finds candidates in a block, and says whether a visible line really matches.
pub trait LineMatcher: Send {
    /// The first candidate match in `block` at or after `from`.
    fn candidate(&self, block: &[u8], from: usize) -> Option<(usize, usize)>;
    /// The kind of a line, from its visible text.
    fn judge(&self, visible: &[u8]) -> Option<u16>;
}

/// The error rules as a matcher.
#[derive(Clone)]
pub struct ErrorMatcher {
    rules: ErrorRules,
    any: Regex,
}

impl ErrorMatcher {
    pub fn new(rules: ErrorRules) -> ErrorMatcher {
        let joined = (0..rules.len())
            .map(|i| format!("(?:{})", rules.pattern(i).as_str()))
            .collect::<Vec<_>>()
            .join("|");
        let any = RegexBuilder::new(&joined)
            .multi_line(true)
            .build()
            .unwrap_or_else(|_| Regex::new("[^\\s\\S]").expect("the empty language compiles"));
        ErrorMatcher { rules, any }
    }

    pub fn rules(&self) -> &ErrorRules {
        &self.rules
    }
}

impl LineMatcher for ErrorMatcher {
    fn candidate(&self, block: &[u8], from: usize) -> Option<(usize, usize)> {
        self.any.find_at(block, from).map(|m| (m.start(), m.end()))
    }

    fn judge(&self, visible: &[u8]) -> Option<u16> {
        self.rules.classify_bytes(visible).map(|i| i as u16)
    }
}

/// An operator's search as a matcher. Smart case: all lower case means case-insensitive.
#[derive(Clone, Debug)]
pub struct SearchMatcher {
    pub pattern: String,
    /// Matches within a line (also what the screen highlights).
    pub line: Regex,
    block: Regex,
}

impl SearchMatcher {
    pub fn new(pattern: &str) -> Result<SearchMatcher, String> {
        let insensitive = !pattern.chars().any(char::is_uppercase);
        let build = |multi: bool| {
            RegexBuilder::new(pattern)
                .case_insensitive(insensitive)
                .multi_line(multi)
                .size_limit(1 << 22)
                .build()
                .map_err(|e| {
                    e.to_string()
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("bad pattern")
                        .trim()
                        .to_string()
                })
        };
        Ok(SearchMatcher {
            pattern: pattern.to_string(),
            line: build(false)?,
            block: build(true)?,
        })
    }
}

impl LineMatcher for SearchMatcher {
    fn candidate(&self, block: &[u8], from: usize) -> Option<(usize, usize)> {
        self.block.find_at(block, from).map(|m| (m.start(), m.end()))
    }

    fn judge(&self, visible: &[u8]) -> Option<u16> {
        self.line.is_match(visible).then_some(0)
    }
}

/// Sparse line index: the offset of every `STRIDE`th line, filled as the scan passes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineIndex {
    /// `checkpoints[k]` is the offset of line `k * STRIDE`.
    pub checkpoints: Vec<u64>,
}

impl LineIndex {
    /// The nearest indexed line at or before `line`: (line, offset).
    pub fn before_line(&self, line: u64) -> (u64, u64) {
        let k = ((line / STRIDE) as usize).min(self.checkpoints.len().saturating_sub(1));
        match self.checkpoints.get(k) {
            Some(&off) => (k as u64 * STRIDE, off),
            None => (0, 0),
        }
    }

    /// The nearest indexed line at or before `offset`: (line, offset).
    pub fn before_offset(&self, offset: u64) -> (u64, u64) {
        let k = self.checkpoints.partition_point(|&o| o <= offset);
        match k.checked_sub(1) {
            Some(k) => (k as u64 * STRIDE, self.checkpoints[k]),
            None => (0, 0),
        }
    }
}

/// What a pass has found so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// The first hits, up to the cap, in log order.
    pub hits: Vec<Hit>,
    /// All hits, kept or not.
    pub total: u64,
    /// Hits per kind.
    pub counts: Vec<u64>,
    /// Bytes judged so far (complete lines).
    pub scanned: u64,
    /// Complete lines so far.
    pub lines: u64,
}

/// A streaming pass: feed it bytes in order, from offset 0 or from a line start.
pub struct Scanner<M: LineMatcher> {
    matcher: M,
    buf: Vec<u8>,
    /// Offset of `buf[0]` in the log.
    base: u64,
    cap: usize,
    pub found: Findings,
    /// Built only by a pass that starts at offset 0.
    pub index: Option<LineIndex>,
}

impl<M: LineMatcher> Scanner<M> {
    /// `start` must be a line start, `first_line` its number; `cap` bounds the hits kept.
    pub fn new(matcher: M, start: u64, first_line: u64, cap: usize, build_index: bool) -> Scanner<M> {
        Scanner {
            matcher,
            buf: Vec::with_capacity(BLOCK + 64 * 1024),
            base: start,
            cap,
            found: Findings {
                scanned: start,
                lines: first_line,
                ..Findings::default()
            },
            index: (build_index && start == 0).then(|| LineIndex { checkpoints: vec![0] }),
        }
    }

    pub fn matcher(&self) -> &M {
        &self.matcher
    }

    /// The offset up to which bytes have been fed.
    pub fn fed(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Feed the next bytes. Complete lines are judged once a block has gathered.
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = (BLOCK + 64 * 1024).saturating_sub(self.buf.len()).max(1);
            let take = room.min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() >= BLOCK {
                self.judge_complete_lines();
            }
        }
    }

    /// Judge every complete line fed so far (a follow pass calls this after each answer, so new
    /// lines count at once); a partial last line waits for its end.
    pub fn judge_complete_lines(&mut self) {
        let end = match memrchr(b'\n', &self.buf) {
            Some(p) => p + 1,
            None if self.buf.len() >= MAX_LINE => self.buf.len(),
            None => return,
        };
        self.process(end);
    }

    /// The log is complete: the last line counts even without its newline.
    pub fn finish(&mut self) {
        self.judge_complete_lines();
        if !self.buf.is_empty() {
            let end = self.buf.len();
            self.process(end);
        }
    }

    /// Judge `buf[..end]` (whole lines) and drop it from the buffer.
    fn process(&mut self, end: usize) {
        let block = &self.buf[..end];
        let base = self.base;
        let lines_before = self.found.lines;

        // Line count and checkpoints. A block may end mid-line only when a line is overlong;
        // the piece after the cut starts a new "line" then, as the pager also cuts it.
        let mut newlines = 0u64;
        for p in memchr_iter(b'\n', block) {
            newlines += 1;
            let next = lines_before + newlines;
            if let Some(index) = &mut self.index
                && next.is_multiple_of(STRIDE)
            {
                index.checkpoints.push(base + p as u64 + 1);
            }
        }
        let cut_line = block.last() != Some(&b'\n');
        if cut_line {
            newlines += 1;
            let next = lines_before + newlines;
            if let Some(index) = &mut self.index
                && next.is_multiple_of(STRIDE)
            {
                index.checkpoints.push(base + end as u64);
            }
        }

        // Candidate lines, then lines whose escapes may hide a match: both ascending.
        let mut judged: Vec<(usize, u16)> = Vec::new();
        let mut from = 0;
        while from < block.len() {
            let Some((s, _)) = self.matcher.candidate(block, from) else {
                break;
            };
            let (ls, le) = line_bounds(block, s);
            if let Some(kind) = self.matcher.judge(&text::visible(&block[ls..le])) {
                judged.push((ls, kind));
            }
            from = le + 1;
        }
        if memchr(0x1b, block).is_some() {
            let mut escaped: Vec<(usize, u16)> = Vec::new();
            let mut next_line = 0;
            for p in memchr_iter(0x1b, block) {
                if p < next_line {
                    continue;
                }
                let (ls, le) = line_bounds(block, p);
                next_line = le + 1;
                if judged.binary_search_by_key(&ls, |j| j.0).is_ok() {
                    continue;
                }
                if let Some(kind) = self.matcher.judge(&text::visible(&block[ls..le])) {
                    escaped.push((ls, kind));
                }
            }
            if !escaped.is_empty() {
                judged.extend(escaped);
                judged.sort_unstable_by_key(|j| j.0);
            }
        }

        // Line numbers of the hits, counting newlines between them.
        let mut counted_to = 0usize;
        let mut line = lines_before;
        for (ls, kind) in judged {
            line += memchr_iter(b'\n', &block[counted_to..ls]).count() as u64;
            counted_to = ls;
            self.found.total += 1;
            let k = kind as usize;
            if self.found.counts.len() <= k {
                self.found.counts.resize(k + 1, 0);
            }
            self.found.counts[k] += 1;
            if self.found.hits.len() < self.cap {
                self.found.hits.push(Hit {
                    offset: base + ls as u64,
                    line,
                    kind,
                });
            }
        }

        self.found.lines = lines_before + newlines;
        self.found.scanned = base + end as u64;
        self.base += end as u64;
        self.buf.drain(..end);
    }
}

/// The line of `block` around position `p`: [start, end) without the newline.
fn line_bounds(block: &[u8], p: usize) -> (usize, usize) {
    let p = p.min(block.len());
    let start = memrchr(b'\n', &block[..p]).map_or(0, |i| i + 1);
    let end = memchr(b'\n', &block[p..]).map_or(block.len(), |i| p + i);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all<M: LineMatcher>(m: M, log: &[u8], piece: usize) -> Scanner<M> {
        let mut s = Scanner::new(m, 0, 0, 1000, true);
        for chunk in log.chunks(piece) {
            s.feed(chunk);
        }
        s.finish();
        s
    }

    #[test]
    fn finds_errors_with_line_numbers_whatever_the_chunking() {
        let log = b"[INFO] Building\n[INFO] Tests run: 3, Failures: 0, Errors: 0\n\
[\x1b[1;31mERROR\x1b[m] Tests run: 3, Failures: 1, Errors: 0\n\tat x.Y.z(Y.java:1)\n\
[ERROR] BUILD FAILURE\nlast line without newline: script returned exit code 2";
        let rules = ErrorRules::defaults();
        let want: Vec<(u64, &str)> = vec![(2, "test-failures"), (4, "build-failure"), (5, "exit-code")];
        for piece in [1, 7, 64, 4096] {
            let s = scan_all(ErrorMatcher::new(rules.clone()), log, piece);
            let got: Vec<(u64, &str)> = s
                .found
                .hits
                .iter()
                .map(|h| (h.line, rules.kind(h.kind as usize)))
                .collect();
            assert_eq!(got, want, "piece {piece}");
            assert_eq!(s.found.lines, 6);
            let h = s.found.hits[1];
            assert_eq!(&log[h.offset as usize..h.offset as usize + 7], b"[ERROR]");
        }
    }

    #[test]
    fn search_is_line_local_and_smart_case() {
        let log = b"alpha\nBeta gamma\nbeta\n\nALPHA beta\n";
        let s = scan_all(SearchMatcher::new("beta").unwrap(), log, 3);
        let lines: Vec<u64> = s.found.hits.iter().map(|h| h.line).collect();
        assert_eq!(lines, vec![1, 2, 4]);
        let s = scan_all(SearchMatcher::new("Beta").unwrap(), log, 3);
        assert_eq!(s.found.total, 1);
        // A pattern that could span lines only matches within one.
        let s = scan_all(SearchMatcher::new(r"gamma\s+beta").unwrap(), log, 100);
        assert_eq!(s.found.total, 0);
    }

    #[test]
    fn the_cap_bounds_what_is_kept_not_what_is_counted() {
        let log = "[ERROR] x\n".repeat(50);
        let mut s = Scanner::new(ErrorMatcher::new(ErrorRules::defaults()), 0, 0, 10, false);
        s.feed(log.as_bytes());
        s.finish();
        assert_eq!(s.found.hits.len(), 10);
        assert_eq!(s.found.total, 50);
    }

    #[test]
    fn checkpoints_every_stride_lines() {
        let log = "x\n".repeat(STRIDE as usize * 3 + 5);
        let s = scan_all(SearchMatcher::new("nothing").unwrap(), log.as_bytes(), 5000);
        let index = s.index.unwrap();
        assert_eq!(index.checkpoints, vec![0, STRIDE * 2, STRIDE * 4, STRIDE * 6]);
        assert_eq!(index.before_line(STRIDE * 2 + 7), (STRIDE * 2, STRIDE * 4));
        assert_eq!(index.before_offset(STRIDE * 4 + 1), (STRIDE * 2, STRIDE * 4));
    }

    #[test]
    fn an_endless_line_is_cut_not_hoarded() {
        let mut s = Scanner::new(SearchMatcher::new("zz").unwrap(), 0, 0, 10, false);
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..40 {
            s.feed(&chunk);
        }
        assert!(s.buf.len() <= BLOCK + 64 * 1024);
        s.finish();
        assert_eq!(s.found.scanned, 40 * 64 * 1024);
    }
}
