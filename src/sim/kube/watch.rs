//! A watch as a chunked stream of newline-separated
//! `{"type":…,"object":…}` events: first what the watch starts from (every
//! matching object as `ADDED`, or the changes after the resource version it
//! resumes from, or an `ERROR` 410 Expired if that version is older than
//! the history kept), then every new matching change, `BOOKMARK`s when
//! asked for, until `timeoutSeconds` of wall time pass, the client goes
//! away, or the estate stops.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use tokio::sync::{broadcast, mpsc};

use super::super::Shared;
use super::routes::{WatchPlan, status_json};
use super::store::{bookmark_line, error_line};

/// How a watch misbehaves on purpose (a fault on its path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Breakage {
    None,
    /// A line that is not JSON, then the end.
    Malformed,
    /// Half of the first line, then the end.
    Truncated,
}

/// Counts the open watches of a cluster for as long as it lives.
struct OpenWatch {
    shared: Arc<Shared>,
    index: usize,
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.shared.kube.clusters[self.index].counters.watch_closed();
    }
}

/// The response body of a watch; the stream runs on its own task.
pub(crate) fn body(
    shared: Arc<Shared>,
    index: usize,
    plan: Box<WatchPlan>,
    breakage: Breakage,
) -> UnsyncBoxBody<Bytes, Infallible> {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    shared.kube.clusters[index].counters.watch_opened();
    let guard = OpenWatch {
        shared: shared.clone(),
        index,
    };
    tokio::spawn(run(guard, plan, breakage, tx));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    StreamBody::new(stream).boxed_unsync()
}

async fn run(guard: OpenWatch, plan: Box<WatchPlan>, breakage: Breakage, tx: mpsc::Sender<Bytes>) {
    let handle = &guard.shared.kube.clusters[guard.index];
    let send = |line: Bytes| {
        let tx = tx.clone();
        async move {
            let n = line.len() as u64;
            let ok = tx.send(line).await.is_ok();
            if ok {
                handle.counters.add_event(n);
            }
            ok
        }
    };
    let kind = plan.filter.kind;
    let start = match plan.start {
        Ok(s) => s,
        Err(too_old) => {
            let message = format!("too old resource version: {} ({})", too_old.requested, too_old.oldest);
            let _ = send(error_line(&status_json(410, "Expired", &message, None))).await;
            return;
        }
    };
    match breakage {
        Breakage::None => {}
        Breakage::Malformed => {
            let _ = send(Bytes::from_static(b"{\"type\":\"ADDED\",\"object\":{\"kind\": \n")).await;
            return;
        }
        Breakage::Truncated => {
            let line = start
                .lines
                .first()
                .cloned()
                .unwrap_or_else(|| bookmark_line(kind, start.seen, false));
            let _ = send(line.slice(..line.len() / 2)).await;
            return;
        }
    }
    let mut seen = start.seen;
    for line in start.lines {
        if !send(line).await {
            return;
        }
    }
    if plan.initial_events_end && !send(bookmark_line(kind, seen, true)).await {
        return;
    }
    let mut feed = start.feed;
    let mut stop = guard.shared.kube.shutdown.subscribe();
    let deadline = tokio::time::sleep(plan.timeout);
    tokio::pin!(deadline);
    let every = guard.shared.kube.bookmark_interval.max(Duration::from_millis(100));
    let mut bookmarks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = &mut deadline => {
                if plan.bookmarks {
                    let _ = send(bookmark_line(kind, seen, false)).await;
                }
                return;
            }
            change = feed.recv() => match change {
                Ok(c) => {
                    seen = c.rv;
                    if plan.filter.admits_change(&c) && !send(c.line.clone()).await {
                        return;
                    }
                }
                // Too slow or the cluster is gone: end it; the client
                // resumes from the last version it saw.
                Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
            },
            _ = bookmarks.tick(), if plan.bookmarks => {
                if !send(bookmark_line(kind, seen, false)).await {
                    return;
                }
            }
            _ = tx.closed() => return,
            _ = stop.changed() => return,
        }
    }
}
