//! One open log: a task that owns the pager, runs the error pass (which also follows a running
//! build), the searches and the file writes, and keeps a [`LogDoc`] the screen reads. The screen
//! sends [`Command`]s; nothing it does waits on the network.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use super::doc::{LogDoc, Origin, SearchState, ShownLine};
use super::open::{LogRequest, node_tail};
use super::pager::Pager;
use super::rules::ErrorRules;
use super::scan::{ErrorMatcher, Hit, LineMatcher, MAX_LINE, Scanner, SearchMatcher};
use super::source::{LogSource, Opened};
use super::text;
use crate::sources::http::HttpError;

/// Hits kept per pass; beyond it they are counted, and `n`/`N` stream to find the next.
pub const HIT_CAP: usize = 50_000;
/// How often a pass shows its progress.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// A find backwards from the cursor reads blocks of this size.
const BACK_BLOCK: u64 = 1 << 20;
/// How often a running build's console is asked for more.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// The number of lines the screen shows.
    Resize(usize),
    /// Move the current line (positive: down).
    Move(i64),
    /// Move by screens.
    Page(i64),
    Top,
    Bottom,
    /// The next search match, or with no search the next error.
    Next,
    Prev,
    Search(String),
    ClearSearch,
    /// Write the whole log, as plain text, to the request's save path.
    Write,
    /// Leave the node log's tail for the build's whole console.
    FullConsole,
}

/// The screen's handle on an open log. Dropping it stops every request it made.
pub struct LogSession {
    pub doc: Arc<Mutex<LogDoc>>,
    pub changed: watch::Receiver<u64>,
    commands: mpsc::UnboundedSender<Command>,
    task: AbortHandle,
}

impl LogSession {
    /// Open a log; the first text shows as soon as one page arrives.
    pub fn open(req: LogRequest) -> LogSession {
        let doc = Arc::new(Mutex::new(LogDoc::new(req.title.clone(), req.rules.kinds().to_vec())));
        let (changed_tx, changed) = watch::channel(0u64);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(req, doc.clone(), changed_tx);
        let task = tokio::spawn(driver.run(commands_rx)).abort_handle();
        LogSession {
            doc,
            changed,
            commands,
            task,
        }
    }

    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// A copy of what the screen shows (the lock is held only for the copy).
    pub fn snapshot(&self) -> LogDoc {
        self.doc
            .lock()
            .map(|d| d.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
}

impl Drop for LogSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for LogSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogSession")
    }
}

/// What `n`/`N` can tell from the hits a pass has kept.
struct StepView {
    target: Option<Hit>,
    last: Option<Hit>,
    /// The cursor is past the last kept hit and more were counted.
    beyond_kept: bool,
    empty: bool,
    done: bool,
    /// How far the pass has judged.
    scanned: u64,
    what: &'static str,
}

/// What the background passes tell the driver.
enum Event {
    /// The error pass moved on.
    Errors { size: u64, complete: bool, done: bool },
    /// A search pass moved on.
    Search { generation: u64, done: bool },
    /// A directed find (beyond the kept hits, or near the cursor) ended. `numbered`: the hit's
    /// line number is known (a find near the cursor starts where no line is counted).
    Found {
        finding: u64,
        /// The hit, none, or why the find could not tell.
        hit: Result<Option<Hit>, String>,
        numbered: bool,
        forward: bool,
    },
}

/// Tasks that die with the driver.
#[derive(Default)]
struct Children(Vec<AbortHandle>);

impl Children {
    /// Keep a task's handle, forgetting those that have ended (every search and `w` adds one).
    fn push(&mut self, handle: AbortHandle) {
        self.0.retain(|h| !h.is_finished());
        self.0.push(handle);
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in &self.0 {
            c.abort();
        }
    }
}

struct Driver {
    req: LogRequest,
    rules: ErrorRules,
    doc: Arc<Mutex<LogDoc>>,
    changed: watch::Sender<u64>,
    pager: Pager,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    height: usize,
    top: u64,
    /// 0-based line numbers, when known.
    top_line: Option<u64>,
    cursor: u64,
    cursor_line: Option<u64>,
    /// The operator has moved: the first error found later must not yank the view.
    moved: bool,
    /// The operator is at the end: growth scrolls into view. Kept here, not derived from the
    /// last window, so a line that lands between two reads cannot drop the view out of it.
    follow: bool,
    search: Option<SearchMatcher>,
    generation: u64,
    /// The `n`/`N` find in flight (each key press or move supersedes the last).
    finding: u64,
    find_task: Option<AbortHandle>,
    /// A search just started: land on its first match at or after the cursor when it comes.
    search_jump: bool,
    scan: Option<AbortHandle>,
    search_task: Option<AbortHandle>,
    children: Children,
}

impl Driver {
    fn new(req: LogRequest, doc: Arc<Mutex<LogDoc>>, changed: watch::Sender<u64>) -> Driver {
        let (events_tx, events) = mpsc::unbounded_channel();
        let rules = req.rules.clone();
        let pager = Pager::new(LogSource::Memory(bytes::Bytes::new()), 0, true);
        Driver {
            req,
            rules,
            doc,
            changed,
            pager,
            events_tx,
            events,
            height: 20,
            top: 0,
            top_line: Some(0),
            cursor: 0,
            cursor_line: Some(0),
            moved: false,
            follow: false,
            search: None,
            generation: 0,
            finding: 0,
            find_task: None,
            search_jump: false,
            scan: None,
            search_task: None,
            children: Children::default(),
        }
    }

    fn edit(&self, f: impl FnOnce(&mut LogDoc)) {
        edit(&self.doc, &self.changed, f);
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let rules = self.rules.clone();
        let opened = if self.req.stage.is_some() {
            node_tail(&self.req, &rules).await
        } else {
            Ok(None)
        };
        match opened {
            Ok(Some((text, origin))) => {
                self.edit(|d| d.origin = origin);
                self.start(LogSource::Memory(text)).await;
            }
            Ok(None) => self.open_console().await,
            Err(e) => {
                // No node log (a freestyle job, an old plugin): the console says it all.
                tracing::debug!("node log unavailable: {e}");
                self.open_console().await;
            }
        }
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    if let Err(e) = self.command(command).await {
                        self.degraded(&e);
                    }
                }
                Some(event) = self.events.recv() => {
                    if let Err(e) = self.event(event).await {
                        self.degraded(&e);
                    }
                }
            }
        }
    }

    async fn open_console(&mut self) {
        self.edit(|d| d.origin = Origin::Console);
        self.start(self.req.console()).await;
    }

    /// Show the top of a source at once and start its error pass.
    async fn start(&mut self, source: LogSource) {
        if let Some(s) = self.scan.take() {
            s.abort();
        }
        if let Some(s) = self.search_task.take() {
            s.abort();
        }
        self.pager = Pager::new(source.clone(), 0, false);
        self.top = 0;
        self.top_line = Some(0);
        self.cursor = 0;
        self.cursor_line = Some(0);
        self.moved = false;
        self.edit(|d| {
            d.errors = Default::default();
            d.errors_done = false;
            d.index = Default::default();
            d.lines.clear();
            d.loading = true;
        });
        if let Err(e) = self.refresh().await {
            self.degraded(&e);
        }
        let handle = tokio::spawn(error_pass(
            source,
            ErrorMatcher::new(self.rules.clone()),
            self.doc.clone(),
            self.changed.clone(),
            self.events_tx.clone(),
        ))
        .abort_handle();
        self.children.push(handle.clone());
        self.scan = Some(handle);
        if let Some(m) = self.search.clone() {
            self.start_search(m);
        }
    }

    fn degraded(&self, e: &HttpError) {
        let text = e.to_string();
        self.edit(|d| {
            d.problem = Some(text);
            d.loading = false;
        });
    }

    async fn command(&mut self, command: Command) -> Result<(), HttpError> {
        self.edit(|d| d.notice = None);
        if !matches!(command, Command::Resize(_) | Command::Write) {
            // A find still running must not move the view after the operator has.
            self.cancel_find();
        }
        match command {
            Command::Resize(h) => {
                self.height = h.max(1);
            }
            Command::Move(n) => {
                self.moved = true;
                self.follow &= n > 0;
                self.move_cursor(n).await?;
            }
            Command::Page(n) => {
                self.moved = true;
                self.follow &= n > 0;
                self.page(n).await?;
            }
            Command::Top => {
                self.moved = true;
                self.follow = false;
                self.top = 0;
                self.top_line = Some(0);
                self.cursor = 0;
                self.cursor_line = Some(0);
            }
            Command::Bottom => {
                self.moved = true;
                self.bottom().await?;
            }
            Command::Next | Command::Prev => {
                self.moved = true;
                self.follow = false;
                self.step(command == Command::Next).await?;
            }
            Command::Search(pattern) => match SearchMatcher::new(&pattern) {
                Ok(m) => {
                    self.moved = true;
                    self.search = Some(m.clone());
                    self.search_jump = true;
                    self.start_search(m);
                }
                Err(e) => self.edit(|d| d.notice = Some(format!("not a regex: {e}"))),
            },
            Command::ClearSearch => {
                self.search = None;
                self.generation += 1;
                if let Some(s) = self.search_task.take() {
                    s.abort();
                }
                self.edit(|d| d.search = None);
            }
            Command::Write => self.write(),
            Command::FullConsole => {
                let tail = matches!(self.snapshot_origin(), Origin::NodeTail { .. });
                if tail {
                    self.open_console().await;
                } else {
                    self.edit(|d| d.notice = Some("this is the whole console already".into()));
                }
                return Ok(());
            }
        }
        self.refresh().await
    }

    fn snapshot_origin(&self) -> Origin {
        self.doc.lock().map(|d| d.origin.clone()).unwrap_or(Origin::Console)
    }

    async fn event(&mut self, event: Event) -> Result<(), HttpError> {
        match event {
            Event::Errors { size, complete, done } => {
                let grew = size != self.pager.size || complete != self.pager.complete;
                self.pager.grew(size, complete);
                let first = self.doc.lock().ok().and_then(|d| d.errors.hits.first().copied());
                if !self.moved
                    && let Some(hit) = first
                {
                    // Open on the first error, once it is known, unless the operator has moved.
                    self.moved = true;
                    self.jump(hit.offset, Some(hit.line)).await?;
                    return self.refresh().await;
                }
                if grew && self.follow {
                    self.bottom().await?;
                }
                if grew || done || self.top_line.is_none() {
                    self.refresh().await?;
                }
            }
            Event::Search { generation, done } => {
                if generation != self.generation || !self.search_jump {
                    return Ok(());
                }
                let (hit, first, total) = {
                    let d = self
                        .doc
                        .lock()
                        .map_err(|_| HttpError::Request("log state poisoned".into()))?;
                    let hits = d.search.as_ref().map(|s| s.found.hits.as_slice()).unwrap_or(&[]);
                    (
                        hits.iter().find(|h| h.offset >= self.cursor).copied(),
                        hits.first().copied(),
                        d.search.as_ref().map_or(0, |s| s.found.total),
                    )
                };
                if let Some(hit) = hit {
                    self.search_jump = false;
                    self.jump(hit.offset, Some(hit.line)).await?;
                    self.refresh().await?;
                } else if done {
                    self.search_jump = false;
                    match first {
                        Some(hit) => {
                            self.jump(hit.offset, Some(hit.line)).await?;
                            self.edit(|d| d.notice = Some("search wrapped to the top".into()));
                            self.refresh().await?;
                        }
                        None if total == 0 => {
                            let p = self.search.as_ref().map(|s| s.pattern.clone()).unwrap_or_default();
                            self.edit(|d| d.notice = Some(format!("no match for /{p}/")));
                        }
                        None => {}
                    }
                }
            }
            Event::Found {
                finding,
                hit,
                numbered,
                forward,
            } => {
                if finding != self.finding {
                    return Ok(());
                }
                self.find_task = None;
                self.edit(|d| d.notice = None);
                match hit {
                    Err(e) => {
                        // Not a fallback to the kept hits: they would skip what lies unread.
                        self.edit(|d| d.notice = Some(format!("could not look further: {e}")));
                    }
                    Ok(Some(hit)) => {
                        self.jump(hit.offset, numbered.then_some(hit.line)).await?;
                        self.refresh().await?;
                    }
                    Ok(None) if numbered || forward => {
                        let what = if self.search.is_some() { "match" } else { "error" };
                        let way = if forward { "further" } else { "earlier" };
                        self.edit(|d| d.notice = Some(format!("no {way} {what}")));
                    }
                    Ok(None) => {
                        // Nothing between the pass and the cursor: the kept hits answer.
                        let view = self.step_view(false)?;
                        self.step_kept(view, false).await?;
                        self.refresh().await?;
                    }
                }
            }
        }
        Ok(())
    }

    fn start_search(&mut self, matcher: SearchMatcher) {
        self.generation += 1;
        if let Some(s) = self.search_task.take() {
            s.abort();
        }
        let pattern = matcher.pattern.clone();
        self.edit(|d| {
            d.search = Some(SearchState {
                pattern,
                ..SearchState::default()
            })
        });
        let handle = tokio::spawn(search_pass(
            self.pager.source().clone(),
            matcher,
            self.generation,
            self.doc.clone(),
            self.changed.clone(),
            self.events_tx.clone(),
        ))
        .abort_handle();
        self.children.push(handle.clone());
        self.search_task = Some(handle);
    }

    /// `n` / `N`: the next or previous search match, or error.
    async fn step(&mut self, forward: bool) -> Result<(), HttpError> {
        let view = self.step_view(forward)?;
        if !view.done && view.scanned < self.cursor {
            // The pass has not reached the cursor yet (`G` then `N` on a big log): what lies
            // between is unknown, so look from the cursor itself instead of waiting for the pass.
            self.find_near(forward, view.what);
            return Ok(());
        }
        self.step_kept(view, forward).await
    }

    /// What the kept hits say about `n`/`N`, decided under the lock: they can be 50,000 long,
    /// not worth a copy per key.
    fn step_view(&self, forward: bool) -> Result<StepView, HttpError> {
        let d = self
            .doc
            .lock()
            .map_err(|_| HttpError::Request("log state poisoned".into()))?;
        let (found, done, what) = match &d.search {
            Some(s) => (&s.found, s.done, "match"),
            None => (&d.errors, d.errors_done, "error"),
        };
        let hits = &found.hits;
        let target = if forward {
            hits.iter().find(|h| h.offset > self.cursor).copied()
        } else {
            hits.iter().rev().find(|h| h.offset < self.cursor).copied()
        };
        let last = hits.last().copied();
        Ok(StepView {
            target,
            last,
            beyond_kept: (hits.len() as u64) < found.total && last.is_some_and(|h| h.offset <= self.cursor),
            empty: hits.is_empty(),
            done,
            scanned: found.scanned,
            what,
        })
    }

    async fn step_kept(&mut self, view: StepView, forward: bool) -> Result<(), HttpError> {
        let what = view.what;
        match view.target {
            Some(hit) if !view.beyond_kept || forward => self.jump(hit.offset, Some(hit.line)).await,
            _ if view.beyond_kept => {
                // Past the hits kept in memory: stream from the last one to find the way on.
                let last = view.last.expect("beyond_kept has a last hit");
                self.find_beyond(last, forward, what);
                Ok(())
            }
            _ => {
                let note = if view.empty && !view.done {
                    format!("no {what} yet; still reading the log")
                } else if view.empty {
                    format!("no {what} in this log")
                } else if !view.done && forward {
                    format!("no further {what} yet; still reading the log")
                } else {
                    format!("no {} {what}", if forward { "further" } else { "earlier" })
                };
                self.edit(|d| d.notice = Some(note));
                Ok(())
            }
        }
    }

    /// Forget the find in flight: its answer would move a view the operator has moved since.
    fn cancel_find(&mut self) {
        self.finding += 1;
        // A search's first match must not land after the operator has moved on either.
        self.search_jump = false;
        if let Some(t) = self.find_task.take() {
            t.abort();
        }
    }

    fn spawn_find(&mut self, forward: bool, what: &str, find: impl Future<Output = Event> + Send + 'static) {
        let handle = tokio::spawn({
            let events = self.events_tx.clone();
            async move {
                let _ = events.send(find.await);
            }
        })
        .abort_handle();
        self.children.push(handle.clone());
        self.find_task = Some(handle);
        let way = if forward { "next" } else { "previous" };
        self.edit(|d| d.notice = Some(format!("looking for the {way} {what}…")));
    }

    /// Stream from `last` (a kept hit) to the next hit after the cursor, or the last before it.
    fn find_beyond(&mut self, last: Hit, forward: bool, what: &str) {
        self.cancel_find();
        let finding = self.finding;
        let cursor = self.cursor;
        let source = self.pager.source().clone();
        let search = self.search.clone();
        let rules = self.rules.clone();
        self.spawn_find(forward, what, async move {
            let hit = match search {
                Some(m) => find_from(&source, m, last, cursor, forward).await,
                None => find_from(&source, ErrorMatcher::new(rules), last, cursor, forward).await,
            };
            Event::Found {
                finding,
                hit: hit.map_err(|e| e.to_string()),
                numbered: true,
                forward,
            }
        });
    }

    /// Look for the next hit after the cursor, or the previous one back to where the pass has
    /// read, from the cursor itself. The hit's line number is learnt when the pass gets there.
    fn find_near(&mut self, forward: bool, what: &str) {
        self.cancel_find();
        let finding = self.finding;
        let cursor = self.cursor;
        let source = self.pager.source().clone();
        let search = self.search.clone();
        let rules = self.rules.clone();
        let doc = self.doc.clone();
        let searching = search.is_some();
        // Where the pass is now: below it, the kept hits know.
        let floor = move || {
            doc.lock()
                .ok()
                .map(|d| match (&d.search, searching) {
                    (Some(s), true) => s.found.scanned,
                    _ => d.errors.scanned,
                })
                .unwrap_or(0)
        };
        self.spawn_find(forward, what, async move {
            let from = Hit {
                offset: cursor,
                line: 0,
                kind: 0,
            };
            let hit = match (search, forward) {
                (Some(m), true) => find_from(&source, m, from, cursor, true).await,
                (None, true) => find_from(&source, ErrorMatcher::new(rules), from, cursor, true).await,
                (Some(m), false) => find_before(&source, &m, cursor, floor, BACK_BLOCK).await,
                (None, false) => find_before(&source, &ErrorMatcher::new(rules), cursor, floor, BACK_BLOCK).await,
            };
            Event::Found {
                finding,
                hit: hit.map_err(|e| e.to_string()),
                numbered: false,
                forward,
            }
        });
    }

    /// Put a line on the cursor, a third down the screen. Its number may be unknown yet.
    async fn jump(&mut self, offset: u64, line: Option<u64>) -> Result<(), HttpError> {
        self.follow = false;
        self.cursor = offset;
        self.cursor_line = line;
        let (top, steps) = self.back_counted(offset, self.height / 3).await?;
        self.top = top;
        self.top_line = line.and_then(|l| l.checked_sub(steps));
        Ok(())
    }

    async fn back_counted(&mut self, from: u64, n: usize) -> Result<(u64, u64), HttpError> {
        let mut at = from;
        let mut steps = 0;
        while steps < n as u64 && at > 0 {
            at = self.pager.previous_line(at).await?;
            steps += 1;
        }
        Ok((at, steps))
    }

    async fn move_cursor(&mut self, n: i64) -> Result<(), HttpError> {
        if n > 0 {
            let lines = self.pager.lines(self.cursor, n as usize + 1).await?;
            if let Some(last) = lines.last() {
                let steps = lines.len() as u64 - 1;
                self.cursor = last.offset;
                self.cursor_line = self.cursor_line.map(|l| l + steps);
            }
        } else {
            let (at, steps) = self.back_counted(self.cursor, n.unsigned_abs() as usize).await?;
            self.cursor = at;
            self.cursor_line = self.cursor_line.and_then(|l| l.checked_sub(steps));
        }
        self.keep_cursor_visible().await
    }

    async fn page(&mut self, n: i64) -> Result<(), HttpError> {
        let step = self.height.saturating_sub(1).max(1) as i64;
        if n > 0 {
            let lines = self.pager.lines(self.top, self.height).await?;
            if lines.len() == self.height
                && let Some(last) = lines.last()
            {
                self.top = last.offset;
                self.top_line = self.top_line.map(|l| l + self.height as u64 - 1);
            }
        } else {
            let (top, steps) = self.back_counted(self.top, step as usize).await?;
            self.top = top;
            self.top_line = self.top_line.and_then(|l| l.checked_sub(steps));
        }
        self.move_cursor(n * step).await
    }

    async fn bottom(&mut self) -> Result<(), HttpError> {
        let last = self.pager.last_line().await?;
        self.cursor = last;
        let (done, lines) = self
            .doc
            .lock()
            .map(|d| (d.errors_done, d.errors.lines))
            .unwrap_or((false, 0));
        self.cursor_line = if done { lines.checked_sub(1) } else { None };
        let (top, steps) = self.back_counted(last, self.height.saturating_sub(1)).await?;
        self.top = top;
        self.top_line = self.cursor_line.and_then(|l| l.checked_sub(steps));
        Ok(())
    }

    async fn keep_cursor_visible(&mut self) -> Result<(), HttpError> {
        if self.cursor < self.top {
            self.top = self.cursor;
            self.top_line = self.cursor_line;
            return Ok(());
        }
        let lines = self.pager.lines(self.top, self.height).await?;
        if lines.iter().any(|l| l.offset == self.cursor) {
            return Ok(());
        }
        let (top, steps) = self.back_counted(self.cursor, self.height.saturating_sub(1)).await?;
        self.top = top;
        self.top_line = self.cursor_line.and_then(|l| l.checked_sub(steps));
        Ok(())
    }

    /// Learn the top line's number from the line index, once the error pass has passed it.
    async fn resolve_top_line(&mut self) -> Result<(), HttpError> {
        if self.top_line.is_some() {
            return Ok(());
        }
        let (scanned, base) = match self.doc.lock() {
            Ok(d) => (d.errors.scanned, d.index.before_offset(self.top)),
            Err(_) => return Ok(()),
        };
        if scanned <= self.top {
            return Ok(());
        }
        let (line, offset) = base;
        let between = self.pager.count_lines(offset, self.top).await?;
        self.top_line = Some(line + between);
        Ok(())
    }

    /// Read the window from the pager and publish it.
    async fn refresh(&mut self) -> Result<(), HttpError> {
        self.resolve_top_line().await?;
        let raw = self.pager.lines(self.top, self.height).await?;
        if raw.is_empty() && self.top > 0 {
            // The log was replaced by a shorter one, or the top ran past the end.
            self.top = 0;
            self.top_line = Some(0);
            self.cursor = 0;
            self.cursor_line = Some(0);
            return Box::pin(self.refresh()).await;
        }
        let position = raw.iter().position(|l| l.offset == self.cursor);
        let position = match position {
            Some(p) => p,
            None => {
                // Keep the cursor on screen.
                let p = if self.cursor < self.top {
                    0
                } else {
                    raw.len().saturating_sub(1)
                };
                if let Some(l) = raw.get(p) {
                    self.cursor = l.offset;
                }
                p
            }
        };
        self.cursor_line = self.top_line.map(|t| t + position as u64);
        let search = self.search.as_ref();
        let lines: Vec<ShownLine> = raw
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let text = text::clean(&l.bytes);
                let matches = search
                    .map(|m| {
                        m.line
                            .find_iter(text.text.as_bytes())
                            .filter(|x| x.end() > x.start())
                            .map(|x| (x.start(), x.end()))
                            .collect()
                    })
                    .unwrap_or_default();
                ShownLine {
                    offset: l.offset,
                    number: self.top_line.map(|t| t + i as u64 + 1),
                    error: self.rules.classify_bytes(&text::visible(&l.bytes)).map(|k| k as u16),
                    text,
                    matches,
                }
            })
            .collect();
        let at_end = raw.last().is_none_or(|l| l.next >= self.pager.size);
        // Reaching the last line starts following; only moving away (below) stops it.
        if at_end && position + 1 >= raw.len() && self.find_task.is_none() {
            self.follow = true;
        }
        let following = self.follow && !self.pager.complete;
        let (size, complete, cursor) = (self.pager.size, self.pager.complete, self.cursor);
        self.edit(|d| {
            d.lines = lines;
            d.cursor = cursor;
            d.following = following;
            d.size = d.size.max(size);
            d.complete = complete;
            d.loading = false;
            d.problem = None;
        });
        Ok(())
    }

    /// `w`: stream the whole console (not only a tail) to the save path, as plain text.
    fn write(&mut self) {
        let source = self.req.console();
        let path = self.req.save_path.clone();
        let doc = self.doc.clone();
        let changed = self.changed.clone();
        let handle = tokio::spawn(async move {
            let note = match write_log(&source, &path, &doc, &changed).await {
                Ok(bytes) => format!("wrote {} to {}", crate::model::human_size(bytes), path.display()),
                Err(e) => format!("could not write {}: {e}", path.display()),
            };
            edit(&doc, &changed, |d| d.notice = Some(note));
        })
        .abort_handle();
        self.children.push(handle);
    }
}

fn edit(doc: &Arc<Mutex<LogDoc>>, changed: &watch::Sender<u64>, f: impl FnOnce(&mut LogDoc)) {
    match doc.lock() {
        Ok(mut d) => f(&mut d),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
    changed.send_modify(|v| *v = v.wrapping_add(1));
}

/// The error pass: reads the log once from the start, and keeps reading while it grows.
async fn error_pass(
    source: LogSource,
    matcher: ErrorMatcher,
    doc: Arc<Mutex<LogDoc>>,
    changed: watch::Sender<u64>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut scanner = Scanner::new(matcher, 0, 0, HIT_CAP, true);
    let mut published = (0usize, 1usize);
    let mut failures = 0u32;
    loop {
        let from = scanner.fed();
        let mut opened = match source.open(from).await {
            Ok(o) => o,
            Err(e) => {
                failures += 1;
                let text = format!("{e} (retrying)");
                edit(&doc, &changed, |d| d.problem = Some(text));
                tokio::time::sleep(Duration::from_secs((1u64 << failures.min(5)).min(30))).await;
                continue;
            }
        };
        let (size, more) = (opened.text_size, opened.more);
        let streamed = stream(&mut opened, &mut scanner, |scanner| {
            // Whether more will come is the server's word (X-More-Data), not the pass's: a
            // finished build is not "still running" while it is read.
            publish_errors(scanner, &mut published, size, !more, false, &doc, &changed);
            let _ = events.send(Event::Errors {
                size,
                complete: !more,
                done: false,
            });
        })
        .await;
        if let Err(e) = streamed {
            failures += 1;
            let text = format!("{e} (resuming at byte {})", scanner.fed());
            edit(&doc, &changed, |d| d.problem = Some(text));
            tokio::time::sleep(Duration::from_secs((1u64 << failures.min(5)).min(30))).await;
            continue;
        }
        failures = 0;
        if more {
            scanner.judge_complete_lines();
        } else {
            scanner.finish();
        }
        publish_errors(&scanner, &mut published, size, !more, !more, &doc, &changed);
        if !more {
            edit(&doc, &changed, |d| d.problem = None);
        }
        let _ = events.send(Event::Errors {
            size,
            complete: !more,
            done: !more,
        });
        if !more {
            return;
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// Copy what is new since the last publish (hits and checkpoints only grow).
fn publish_errors(
    scanner: &Scanner<ErrorMatcher>,
    published: &mut (usize, usize),
    size: u64,
    complete: bool,
    done: bool,
    doc: &Arc<Mutex<LogDoc>>,
    changed: &watch::Sender<u64>,
) {
    let found = &scanner.found;
    let checkpoints = scanner.index.as_ref().map(|i| i.checkpoints.as_slice()).unwrap_or(&[]);
    edit(doc, changed, |d| {
        d.errors
            .hits
            .extend_from_slice(&found.hits[published.0.min(found.hits.len())..]);
        d.errors.total = found.total;
        d.errors.counts.clone_from(&found.counts);
        d.errors.scanned = found.scanned;
        d.errors.lines = found.lines;
        if d.index.checkpoints.is_empty() {
            d.index.checkpoints.push(0);
        }
        d.index
            .checkpoints
            .extend_from_slice(&checkpoints[published.1.min(checkpoints.len())..]);
        d.size = d.size.max(size).max(found.scanned);
        if complete {
            d.complete = true;
        }
        d.errors_done = done;
    });
    *published = (found.hits.len(), checkpoints.len());
}

/// A search pass over the log as it is now.
async fn search_pass(
    source: LogSource,
    matcher: SearchMatcher,
    generation: u64,
    doc: Arc<Mutex<LogDoc>>,
    changed: watch::Sender<u64>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut scanner = Scanner::new(matcher, 0, 0, HIT_CAP, false);
    let mut published = 0usize;
    let publish = |scanner: &Scanner<SearchMatcher>, published: &mut usize, done: bool| {
        let found = &scanner.found;
        edit(&doc, &changed, |d| {
            if let Some(s) = &mut d.search {
                s.found
                    .hits
                    .extend_from_slice(&found.hits[(*published).min(found.hits.len())..]);
                s.found.total = found.total;
                s.found.counts.clone_from(&found.counts);
                s.found.scanned = found.scanned;
                s.found.lines = found.lines;
                s.done = done;
            }
        });
        *published = found.hits.len();
        let _ = events.send(Event::Search { generation, done });
    };
    let mut opened = match source.open(0).await {
        Ok(o) => o,
        Err(e) => {
            let text = format!("search stopped: {e}");
            edit(&doc, &changed, |d| d.notice = Some(text));
            return;
        }
    };
    let streamed = stream(&mut opened, &mut scanner, |scanner| {
        scanner.judge_complete_lines();
        publish(scanner, &mut published, false);
    })
    .await;
    if let Err(e) = streamed {
        let text = format!("search stopped at byte {}: {e}", scanner.fed());
        edit(&doc, &changed, |d| d.notice = Some(text));
    }
    scanner.finish();
    publish(&scanner, &mut published, true);
}

/// Feed an answer's body to a scanner, letting `progress` show it at most every
/// `PUBLISH_EVERY`. Ends at the body's end, or at the error that cut it (the scanner keeps what
/// it was fed, so a retry resumes from `scanner.fed()`).
async fn stream<M: LineMatcher>(
    opened: &mut Opened,
    scanner: &mut Scanner<M>,
    mut progress: impl FnMut(&mut Scanner<M>),
) -> Result<(), HttpError> {
    let mut last = Instant::now();
    while let Some(chunk) = opened.chunk().await? {
        scanner.feed(&chunk);
        if last.elapsed() >= PUBLISH_EVERY {
            last = Instant::now();
            progress(scanner);
        }
    }
    Ok(())
}

/// From a kept hit, stream on to the first hit after `cursor` (forward) or the last one before it.
async fn find_from<M: LineMatcher>(
    source: &LogSource,
    matcher: M,
    from: Hit,
    cursor: u64,
    forward: bool,
) -> Result<Option<Hit>, HttpError> {
    let mut scanner = Scanner::new(matcher, from.offset, from.line, usize::MAX, false);
    let mut opened = source.open(from.offset).await?;
    let mut best: Option<Hit> = None;
    let mut seen = 0usize;
    loop {
        let chunk = opened.chunk().await?;
        match &chunk {
            Some(c) => scanner.feed(c),
            None => scanner.finish(),
        }
        for hit in &scanner.found.hits[seen..] {
            if forward && hit.offset > cursor {
                return Ok(Some(*hit));
            }
            if !forward {
                if hit.offset >= cursor {
                    return Ok(best);
                }
                best = Some(*hit);
            }
        }
        seen = scanner.found.hits.len();
        if chunk.is_none() {
            return Ok(if forward { None } else { best });
        }
    }
}

/// The last hit before `cursor` (a line start), reading backwards a block at a time, down to
/// `floor()`: where the pass is, a line start below which its kept hits know the answer. The hit
/// carries no line number.
async fn find_before<M: LineMatcher + Clone>(
    source: &LogSource,
    matcher: &M,
    cursor: u64,
    floor: impl Fn() -> u64,
    block: u64,
) -> Result<Option<Hit>, HttpError> {
    let mut end = cursor;
    // The bytes from `end` to the first line start after it: the tail of a line that began in a
    // block not read yet.
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let floor = floor();
        // At the floor itself a held-back line head still needs judging (its line starts there).
        if end < floor || (end == floor && pending.is_empty()) {
            return Ok(None);
        }
        let start = end.saturating_sub(block).max(floor);
        let (mut bytes, _, _) = source.read(start, (end - start) as usize).await?;
        if bytes.len() as u64 != end - start {
            // The log shrank under us (it was replaced): nothing sensible to find.
            return Ok(None);
        }
        bytes.extend_from_slice(&pending);
        // The first line is whole only at the floor; elsewhere it waits for the block before.
        let skip = if start == floor {
            0
        } else {
            memchr::memchr(b'\n', &bytes).map_or(bytes.len(), |p| p + 1)
        };
        let mut scanner = Scanner::new(matcher.clone(), start + skip as u64, 0, usize::MAX, false);
        scanner.feed(&bytes[skip..]);
        scanner.finish();
        if let Some(hit) = scanner.found.hits.iter().rev().find(|h| h.offset < cursor) {
            return Ok(Some(*hit));
        }
        // A line longer than the scanner judges whole is cut there too: its head is not kept.
        bytes.truncate(if skip <= MAX_LINE { skip } else { 0 });
        pending = bytes;
        end = start;
    }
}

async fn write_log(
    source: &LogSource,
    path: &std::path::Path,
    doc: &Arc<Mutex<LogDoc>>,
    changed: &watch::Sender<u64>,
) -> std::io::Result<u64> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let file = tokio::fs::File::create(path).await?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut opened = source.open(0).await.map_err(std::io::Error::other)?;
    let total = opened.text_size.max(1);
    let mut carry: Vec<u8> = Vec::new();
    let mut written = 0u64;
    let mut read = 0u64;
    let mut last = Instant::now();
    while let Some(chunk) = opened.chunk().await.map_err(std::io::Error::other)? {
        read += chunk.len() as u64;
        if carry.is_empty() && !text::needs_cleaning(&chunk) {
            out.write_all(&chunk).await?;
            written += chunk.len() as u64;
        } else {
            carry.extend_from_slice(&chunk);
            if let Some(end) = memchr::memrchr(b'\n', &carry) {
                let mut plain = Vec::with_capacity(end + 1);
                for line in carry[..end].split(|b| *b == b'\n') {
                    plain.extend_from_slice(&text::visible(line));
                    plain.push(b'\n');
                }
                out.write_all(&plain).await?;
                written += plain.len() as u64;
                carry.drain(..=end);
            }
        }
        if last.elapsed() >= PUBLISH_EVERY {
            last = Instant::now();
            let note = format!("writing {}% to {}", (read * 100 / total).min(100), path.display());
            edit(doc, changed, |d| d.notice = Some(note));
        }
    }
    if !carry.is_empty() {
        let plain = text::visible(&carry).into_owned();
        out.write_all(&plain).await?;
        written += plain.len() as u64;
    }
    out.flush().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line starts of the lines the rules call errors, the slow obvious way.
    fn error_starts(log: &str) -> Vec<u64> {
        let rules = ErrorRules::defaults();
        let mut at = 0u64;
        let mut out = Vec::new();
        for line in log.split_inclusive('\n') {
            if rules.classify(line.trim_end_matches('\n')).is_some() {
                out.push(at);
            }
            at += line.len() as u64;
        }
        out
    }

    #[tokio::test]
    async fn finding_backwards_from_any_line_agrees_with_a_plain_scan() {
        let mut log = String::new();
        for i in 0..200 {
            match i % 37 {
                5 => log.push_str("[ERROR] BUILD FAILURE\n"),
                11 => log.push_str(&format!("{}\n", "x".repeat(300))),
                20 => log.push_str("Caused by: java.net.SocketTimeoutException: Read timed out\n"),
                _ => log.push_str(&format!("[INFO] line {i}\n")),
            }
        }
        let errors = error_starts(&log);
        assert!(errors.len() > 5);
        let source = LogSource::Memory(bytes::Bytes::from(log.clone()));
        let matcher = ErrorMatcher::new(ErrorRules::defaults());
        let starts: Vec<u64> = std::iter::once(0)
            .chain(log.match_indices('\n').map(|(i, _)| i as u64 + 1))
            .filter(|&o| o < log.len() as u64)
            .collect();
        for block in [16u64, 64, 1 << 20] {
            for &cursor in &starts {
                let want = errors.iter().rev().find(|&&e| e < cursor).copied();
                let got = find_before(&source, &matcher, cursor, || 0, block)
                    .await
                    .unwrap()
                    .map(|h| h.offset);
                assert_eq!(got, want, "cursor {cursor}, block {block}");
            }
        }
    }

    #[tokio::test]
    async fn a_line_held_back_is_judged_when_the_pass_catches_up_at_its_start() {
        // The block read first starts exactly on the error line, so that line is held back as
        // a possible piece; then the pass reaches that very offset. The line must still count.
        let mut log = "[INFO] ab\n".repeat(10);
        log.push_str("[ERROR] BUILD FAILURE\n[INFO] cd\n[INFO] ef\n");
        let source = LogSource::Memory(bytes::Bytes::from(log.clone()));
        let matcher = ErrorMatcher::new(ErrorRules::defaults());
        let cursor = log.rfind("[INFO] ef").unwrap() as u64;
        let calls = std::cell::Cell::new(0);
        let floor = || {
            calls.set(calls.get() + 1);
            if calls.get() == 1 { 0 } else { 100 }
        };
        let got = find_before(&source, &matcher, cursor, floor, cursor - 100)
            .await
            .unwrap();
        assert_eq!(got.map(|h| h.offset), Some(100));
    }

    #[tokio::test]
    async fn finding_backwards_stops_where_the_pass_has_read() {
        let log = "[ERROR] BUILD FAILURE\n[INFO] a\n[INFO] b\n[INFO] c\n";
        let source = LogSource::Memory(bytes::Bytes::from(log));
        let matcher = ErrorMatcher::new(ErrorRules::defaults());
        let cursor = log.rfind("[INFO] c").unwrap() as u64;
        let floor = log.find("[INFO] a").unwrap() as u64;
        let got = find_before(&source, &matcher, cursor, || floor, 8).await.unwrap();
        assert_eq!(got, None, "below the floor, the kept hits answer");
        let got = find_before(&source, &matcher, cursor, || 0, 8).await.unwrap();
        assert_eq!(got.map(|h| h.offset), Some(0));
    }
}
