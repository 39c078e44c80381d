//! Logs as the Jenkins endpoints serve them: a build's console (or a flow
//! node's log) is its text, with the generated region of the big console
//! spliced in where its step printed it. Small logs answer with one body;
//! a log with a generated region is streamed in blocks, so no endpoint ever
//! holds it whole (`consoleText`, `progressiveText` from any offset, the
//! node logs).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::bigconsole::BigLog;
use super::jenkins::Build;

/// Bytes emitted per frame when a text piece is long.
const TEXT_CHUNK: usize = 256 * 1024;

#[derive(Clone, Debug)]
enum Piece {
    /// Log text.
    Text(Bytes),
    /// Markup around an HTML rendering, never escaped.
    Markup(Bytes),
    /// The generated region.
    Gen(Arc<BigLog>),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Text(b) | Piece::Markup(b) => b.len() as u64,
            Piece::Gen(g) => g.len(),
        }
    }
}

/// A log: pieces of text and at most a few generated regions.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogText {
    pieces: Vec<Piece>,
}

impl LogText {
    pub(crate) fn plain(text: &str) -> LogText {
        LogText {
            pieces: vec![Piece::Text(Bytes::copy_from_slice(text.as_bytes()))],
        }
    }

    /// `text` with the region inserted at byte `at`.
    pub(crate) fn spliced(text: &str, at: usize, big: &Arc<BigLog>) -> LogText {
        let at = at.min(text.len());
        LogText {
            pieces: vec![
                Piece::Text(Bytes::copy_from_slice(&text.as_bytes()[..at])),
                Piece::Gen(big.clone()),
                Piece::Text(Bytes::copy_from_slice(&text.as_bytes()[at..])),
            ],
        }
    }

    pub(crate) fn push(&mut self, other: LogText) {
        self.pieces.extend(other.pieces);
    }

    /// Wraps the log in HTML markup (kept as is when the body is escaped).
    pub(crate) fn wrapped(self, before: &str, after: &str) -> LogText {
        let mut pieces = vec![Piece::Markup(Bytes::copy_from_slice(before.as_bytes()))];
        pieces.extend(self.pieces);
        pieces.push(Piece::Markup(Bytes::copy_from_slice(after.as_bytes())));
        LogText { pieces }
    }

    pub(crate) fn len(&self) -> u64 {
        self.pieces.iter().map(Piece::len).sum()
    }

    /// True when a generated region is part of it: answer with a stream.
    pub(crate) fn is_generated(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Gen(_)))
    }

    /// Bytes `start..end` (clamped); for small ranges.
    pub(crate) fn read(&self, start: u64, end: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut base = 0u64;
        for p in &self.pieces {
            let len = p.len();
            let (from, to) = (start.max(base), end.min(base + len));
            if from < to {
                let (a, b) = (from - base, to - base);
                match p {
                    Piece::Text(t) | Piece::Markup(t) => out.extend_from_slice(&t[a as usize..b as usize]),
                    Piece::Gen(g) => out.extend_from_slice(&g.read(a, b)),
                }
            }
            base += len;
        }
        out
    }

    /// A body streaming bytes from `start` to the end; `html` escapes the
    /// log text (not the markup).
    pub(crate) fn stream(self, start: u64, html: bool) -> LogStream {
        let end = self.len();
        LogStream {
            text: self,
            pos: start.min(end),
            end,
            html,
        }
    }
}

/// A build's console as served (with the big region where its step printed it).
pub(crate) fn console_of(b: &Build) -> LogText {
    match (&b.ctx.big, b.big_at()) {
        (Some(big), Some((at, _))) => LogText::spliced(&b.console, at, big),
        _ => LogText::plain(&b.console),
    }
}

/// A flow node's plain log: a step's own output, or for a stage the output of all its steps.
pub(crate) fn node_of(b: &Build, id: u32) -> Option<LogText> {
    let step_text = |s: &super::jenkins::Step| match (&b.ctx.big, s.big_at) {
        (Some(big), Some((_, at))) => LogText::spliced(&s.log, at, big),
        _ => LogText::plain(&s.log),
    };
    if let Some(stage) = b.stage_by_node(id) {
        let mut out = LogText::default();
        for s in &stage.steps {
            out.push(step_text(s));
        }
        return Some(out);
    }
    b.step_by_node(id).map(|(_, s)| step_text(s))
}

/// `&`, `<` and `>` escaped, byte by byte (so a chunk boundary never matters).
pub(crate) fn escape_html_bytes(b: &[u8]) -> Bytes {
    if !b.iter().any(|c| matches!(c, b'&' | b'<' | b'>')) {
        return Bytes::copy_from_slice(b);
    }
    let mut out = Vec::with_capacity(b.len() + b.len() / 16);
    for &c in b {
        match c {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            c => out.push(c),
        }
    }
    Bytes::from(out)
}

/// A response body that renders its log as it is sent.
#[derive(Debug)]
pub(crate) struct LogStream {
    text: LogText,
    pos: u64,
    end: u64,
    html: bool,
}

impl LogStream {
    /// Stops after half of what is left (the "truncated body" fault).
    pub(crate) fn cut_in_half(&mut self) {
        self.end = self.pos + (self.end - self.pos) / 2;
    }

    /// Bytes still to send (exact unless the body is HTML-escaped).
    pub(crate) fn remaining(&self) -> u64 {
        self.end - self.pos
    }

    /// The next chunk, or None at the end.
    pub(crate) fn next_chunk(&mut self) -> Option<Bytes> {
        while self.pos < self.end {
            let mut base = 0u64;
            let mut found = None;
            for p in &self.text.pieces {
                let len = p.len();
                if self.pos < base + len {
                    found = Some((p, base));
                    break;
                }
                base += len;
            }
            let (piece, base) = found?;
            let from = self.pos - base;
            let until = (self.end - base).min(piece.len());
            let (chunk, escape) = match piece {
                Piece::Text(t) | Piece::Markup(t) => {
                    let to = until.min(from + TEXT_CHUNK as u64);
                    (t.slice(from as usize..to as usize), matches!(piece, Piece::Text(_)))
                }
                Piece::Gen(g) => (g.chunk(from, until), true),
            };
            self.pos += chunk.len() as u64;
            if chunk.is_empty() {
                continue;
            }
            return Some(if self.html && escape {
                escape_html_bytes(&chunk)
            } else {
                chunk
            });
        }
        None
    }
}

/// The simulator's response body: all at once, or a log stream.
#[derive(Debug)]
pub(crate) enum SimBody {
    Full(Option<Bytes>),
    Log(Box<LogStream>),
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let next = match this {
            SimBody::Full(b) => b.take().filter(|b| !b.is_empty()),
            SimBody::Log(s) => s.next_chunk(),
        };
        Poll::Ready(next.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            SimBody::Full(b) => b.as_ref().is_none_or(Bytes::is_empty),
            SimBody::Log(s) => s.remaining() == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SimBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            SimBody::Log(s) if !s.html => SizeHint::with_exact(s.remaining()),
            SimBody::Log(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big() -> Arc<BigLog> {
        Arc::new(BigLog::new(7, 1024 * 1024, 1_764_000_000_000, 20_000))
    }

    fn drain(mut s: LogStream) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(c) = s.next_chunk() {
            assert!(!c.is_empty());
            out.extend_from_slice(&c);
        }
        out
    }

    #[test]
    fn a_stream_from_any_offset_is_the_same_bytes_as_a_read() {
        let big = big();
        let text = LogText::spliced("head\nline two\n", 5, &big);
        assert_eq!(text.len(), 14 + big.len());
        let all = text.read(0, text.len());
        assert!(all.starts_with(b"head\n[INFO] Running "));
        assert!(all.ends_with(b"\n\nline two\n"));
        for start in [0, 3, 5, 6, 70_000, text.len() - 4, text.len()] {
            let s = text.clone().stream(start, false);
            assert_eq!(s.remaining(), text.len() - start);
            assert_eq!(drain(s), all[start as usize..], "from {start}");
        }
        let mut half = text.clone().stream(100, false);
        half.cut_in_half();
        assert_eq!(drain(half).len() as u64, (text.len() - 100) / 2);
    }

    #[test]
    fn chunks_are_at_most_a_block() {
        let text = LogText::spliced("a\n", 2, &big());
        let mut s = text.stream(0, false);
        let mut n = 0;
        while let Some(c) = s.next_chunk() {
            assert!(c.len() <= crate::sim::bigconsole::BLOCK);
            n += 1;
        }
        assert!(n >= 16);
    }

    #[test]
    fn html_escapes_the_log_not_the_markup() {
        let text = LogText::plain("a <b> & c\n").wrapped("<pre>", "</pre>");
        assert_eq!(drain(text.stream(0, true)), b"<pre>a &lt;b&gt; &amp; c\n</pre>");
        assert_eq!(&escape_html_bytes(b"x\xe9<")[..], b"x\xe9&lt;");
    }

    #[test]
    fn a_plain_log_has_no_stream() {
        let text = LogText::plain("x\n");
        assert!(!text.is_generated());
        assert_eq!(text.read(1, 99), b"\n");
    }
}
