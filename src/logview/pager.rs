//! Random access to a log by byte offset through a small cache of pages, and the line arithmetic
//! the view needs (the line at an offset, n lines on, n lines back). Memory is the cache's size,
//! whatever the log's.

use super::scan::MAX_LINE;
use super::source::LogSource;
use crate::sources::http::HttpError;

pub const PAGE: u64 = 64 * 1024;
/// Pages fetched per request: one round trip fills a screen and its neighbours.
const READ_AHEAD: u64 = 4;
/// Pages kept: 4 MiB.
pub const CACHE_PAGES: usize = 64;

struct Page {
    number: u64,
    bytes: Vec<u8>,
    used: u64,
}

pub struct Pager {
    source: LogSource,
    pages: Vec<Page>,
    tick: u64,
    /// What the log's size was last seen to be.
    pub size: u64,
    /// No more data will come.
    pub complete: bool,
    /// Requests made (for the benchmark and the tests).
    pub fetches: u64,
}

/// One line: where it starts, and its raw bytes without the newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawLine {
    pub offset: u64,
    pub bytes: Vec<u8>,
    /// The offset of the next line.
    pub next: u64,
}

impl Pager {
    pub fn new(source: LogSource, size: u64, complete: bool) -> Pager {
        Pager {
            source,
            pages: Vec::new(),
            tick: 0,
            size,
            complete,
            fetches: 0,
        }
    }

    pub fn source(&self) -> &LogSource {
        &self.source
    }

    /// The log grew (or was found complete): a page that was short is stale.
    pub fn grew(&mut self, size: u64, complete: bool) {
        if size != self.size {
            self.pages.retain(|p| p.bytes.len() as u64 == PAGE);
        }
        self.size = self.size.max(size);
        self.complete = complete;
    }

    /// Page `n`, from the cache or fetched with its read-ahead.
    async fn page(&mut self, n: u64) -> Result<&[u8], HttpError> {
        self.tick += 1;
        let tick = self.tick;
        if let Some(i) = self.pages.iter().position(|p| p.number == n) {
            self.pages[i].used = tick;
            return Ok(&self.pages[i].bytes);
        }
        let start = n * PAGE;
        let (bytes, size, more) = self.source.read(start, (PAGE * READ_AHEAD) as usize).await?;
        self.fetches += 1;
        self.grew(size, !more);
        for (k, chunk) in bytes.chunks(PAGE as usize).enumerate() {
            let number = n + k as u64;
            if self.pages.iter().any(|p| p.number == number) {
                continue;
            }
            if self.pages.len() >= CACHE_PAGES
                && let Some(oldest) = self
                    .pages
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, p)| p.used)
                    .map(|(i, _)| i)
            {
                self.pages.swap_remove(oldest);
            }
            self.pages.push(Page {
                number,
                bytes: chunk.to_vec(),
                used: tick,
            });
        }
        if bytes.is_empty() {
            self.pages.push(Page {
                number: n,
                bytes: Vec::new(),
                used: tick,
            });
        }
        let i = self
            .pages
            .iter()
            .position(|p| p.number == n)
            .unwrap_or(self.pages.len() - 1);
        Ok(&self.pages[i].bytes)
    }

    /// The byte at `offset`, if the log has it.
    async fn byte(&mut self, offset: u64) -> Result<Option<u8>, HttpError> {
        let page = self.page(offset / PAGE).await?;
        Ok(page.get((offset % PAGE) as usize).copied())
    }

    /// The line starting at `offset` (which must be a line start). None at the end of the log.
    pub async fn line(&mut self, offset: u64) -> Result<Option<RawLine>, HttpError> {
        let mut bytes = Vec::new();
        let mut at = offset;
        loop {
            let page = self.page(at / PAGE).await?;
            let from = (at % PAGE) as usize;
            if from >= page.len() {
                // The end of what the log has.
                if bytes.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(RawLine {
                    offset,
                    next: at,
                    bytes,
                }));
            }
            let rest = &page[from..];
            let room = MAX_LINE - bytes.len();
            match memchr::memchr(b'\n', &rest[..rest.len().min(room)]) {
                Some(i) => {
                    bytes.extend_from_slice(&rest[..i]);
                    return Ok(Some(RawLine {
                        offset,
                        next: at + i as u64 + 1,
                        bytes,
                    }));
                }
                None => {
                    let take = rest.len().min(room);
                    bytes.extend_from_slice(&rest[..take]);
                    at += take as u64;
                    if bytes.len() >= MAX_LINE {
                        return Ok(Some(RawLine {
                            offset,
                            next: at,
                            bytes,
                        }));
                    }
                    let full = page.len() as u64 == PAGE;
                    if !full {
                        return Ok(Some(RawLine {
                            offset,
                            next: at,
                            bytes,
                        }));
                    }
                }
            }
        }
    }

    /// Up to `n` lines from `offset`.
    pub async fn lines(&mut self, offset: u64, n: usize) -> Result<Vec<RawLine>, HttpError> {
        let mut out = Vec::with_capacity(n);
        let mut at = offset;
        while out.len() < n {
            match self.line(at).await? {
                Some(l) => {
                    at = l.next;
                    out.push(l);
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// The start of the line that ends right before `offset` (a line start): one line back.
    /// Returns `offset` at the top of the log.
    pub async fn previous_line(&mut self, offset: u64) -> Result<u64, HttpError> {
        if offset == 0 {
            return Ok(0);
        }
        // Skip the newline that ends the previous line, then look back for the one before it.
        let mut at = offset - 1;
        let floor = offset.saturating_sub(MAX_LINE as u64 + 1);
        loop {
            if at == 0 {
                return Ok(0);
            }
            let page_start = (at - 1) / PAGE * PAGE;
            let lo = page_start.max(floor);
            let page = self.page((at - 1) / PAGE).await?;
            let slice_from = (lo - page_start) as usize;
            let slice_to = ((at - page_start) as usize).min(page.len());
            if slice_from < slice_to
                && let Some(i) = memchr::memrchr(b'\n', &page[slice_from..slice_to])
            {
                return Ok(lo + i as u64 + 1);
            }
            if lo <= floor {
                // An overlong line: step back by the cut size, as the forward reading cuts it.
                return Ok(floor.max(offset.saturating_sub(MAX_LINE as u64)));
            }
            at = lo;
        }
    }

    /// `n` lines back from `offset`.
    pub async fn back(&mut self, offset: u64, n: usize) -> Result<u64, HttpError> {
        let mut at = offset;
        for _ in 0..n {
            if at == 0 {
                break;
            }
            at = self.previous_line(at).await?;
        }
        Ok(at)
    }

    /// The start of the line that contains `offset`.
    pub async fn line_start(&mut self, offset: u64) -> Result<u64, HttpError> {
        if offset == 0 {
            return Ok(0);
        }
        if self.byte(offset - 1).await? == Some(b'\n') {
            return Ok(offset);
        }
        self.previous_line(offset).await
    }

    /// The start of the last line of the log as far as it is known.
    pub async fn last_line(&mut self) -> Result<u64, HttpError> {
        if self.size == 0 {
            // Learn the size first.
            let _ = self.page(0).await?;
        }
        let size = self.size;
        if size == 0 {
            return Ok(0);
        }
        // Whether or not the log ends with a newline, the last line is the one before `size`.
        self.previous_line(size).await
    }

    /// Count the newlines in [from, to): how many lines lie between two line starts.
    pub async fn count_lines(&mut self, from: u64, to: u64) -> Result<u64, HttpError> {
        let mut count = 0;
        let mut at = from;
        while at < to {
            let page = self.page(at / PAGE).await?;
            let lo = (at % PAGE) as usize;
            let hi = (((to - at / PAGE * PAGE) as usize).min(page.len())).max(lo);
            if lo >= page.len() {
                break;
            }
            count += memchr::memchr_iter(b'\n', &page[lo..hi]).count() as u64;
            at = at / PAGE * PAGE + hi as u64;
            if hi == lo {
                break;
            }
        }
        Ok(count)
    }

    /// Bytes the cache holds now.
    pub fn cached_bytes(&self) -> usize {
        self.pages.iter().map(|p| p.bytes.capacity()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn pager(text: &str) -> Pager {
        Pager::new(LogSource::Memory(Bytes::from(text.to_string())), 0, false)
    }

    #[tokio::test]
    async fn walks_lines_both_ways_across_pages() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("line {i} {}\n", "x".repeat(i % 50)));
        }
        let mut p = pager(&text);
        let lines = p.lines(0, 3).await.unwrap();
        assert_eq!(lines[2].bytes, b"line 2 xx");
        let starts: Vec<u64> = text
            .match_indices('\n')
            .map(|(i, _)| i as u64 + 1)
            .take(19_999)
            .collect();
        let target = starts[15_000];
        let back = p.back(target, 3).await.unwrap();
        assert_eq!(back, starts[14_997]);
        assert_eq!(p.line_start(target + 3).await.unwrap(), target);
        let last = p.last_line().await.unwrap();
        assert_eq!(
            p.line(last).await.unwrap().unwrap().bytes,
            format!("line 19999 {}", "x".repeat(49)).as_bytes()
        );
        assert_eq!(p.count_lines(0, target).await.unwrap(), 15_001);
        assert!(p.cached_bytes() <= CACHE_PAGES * PAGE as usize);
    }

    #[tokio::test]
    async fn a_log_without_a_final_newline_still_has_its_last_line() {
        let mut p = pager("a\nb\nlast");
        let last = p.last_line().await.unwrap();
        assert_eq!(last, 4);
        assert_eq!(p.line(last).await.unwrap().unwrap().bytes, b"last");
        assert_eq!(p.line(8).await.unwrap(), None);
        assert_eq!(p.previous_line(4).await.unwrap(), 2);
    }
}
