//! The loop every source runs: poll, then wait the interval (with jitter) when healthy, back off
//! after failures, never sooner than a server's `Retry-After`, and wake early on a refresh.
//! Also the health report a poll ends with, said the same way by every source.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;

use super::UpdateSender;
use super::backoff;
use super::http::HttpError;
use crate::model::Update;

pub trait Poller: Send {
    /// The source's name, as in its health line.
    fn source(&self) -> &str;
    fn interval(&self) -> Duration;
    fn sender(&self) -> &UpdateSender;
    fn refresh(&self) -> Arc<Notify>;
    /// One poll of everything the source watches; it reports its own health.
    fn poll_once(&mut self) -> impl Future<Output = Result<(), HttpError>> + Send;
}

/// Implement [`Poller`] for a source's poller struct from its fields `interval`, `tx`, `refresh`
/// and the expression naming the source, delegating to its own `poll_once`.
#[macro_export]
macro_rules! impl_poller {
    ($ty:ty, |$p:ident| $source:expr) => {
        impl $crate::sources::poller::Poller for $ty {
            fn source(&self) -> &str {
                let $p = self;
                $source
            }

            fn interval(&self) -> std::time::Duration {
                self.interval
            }

            fn sender(&self) -> &$crate::sources::UpdateSender {
                &self.tx
            }

            fn refresh(&self) -> std::sync::Arc<tokio::sync::Notify> {
                self.refresh.clone()
            }

            fn poll_once(
                &mut self,
            ) -> impl std::future::Future<Output = Result<(), $crate::sources::http::HttpError>> + Send {
                <$ty>::poll_once(self)
            }
        }
    };
}

/// Poll until the update channel closes.
pub async fn run<P: Poller>(mut poller: P) {
    let mut failures = 0u32;
    let refresh = poller.refresh();
    loop {
        let retry_after = match poller.poll_once().await {
            Ok(()) => {
                failures = 0;
                None
            }
            Err(e) => {
                failures += 1;
                e.retry_after()
            }
        };
        let delay = backoff::next_delay(poller.interval(), failures, retry_after);
        if failures > 0 {
            // Tell the status line when the next attempt is; the failure itself was sent already.
            let _ = poller.sender().send(Update::SourceRetryAt {
                source: poller.source().to_string(),
                retry_at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = refresh.notified() => {}
        }
        if poller.sender().is_closed() {
            return;
        }
    }
}

/// End a poll: healthy, or failed with the first error (and how many items failed with it).
pub fn report(
    tx: &UpdateSender,
    source: &str,
    first_error: Option<HttpError>,
    failed: usize,
    what: &str,
) -> Result<(), HttpError> {
    match first_error {
        None => {
            let _ = tx.send(Update::SourceOk {
                source: source.to_string(),
                at: Utc::now(),
            });
            Ok(())
        }
        Some(e) => {
            let mut error = e.to_string();
            if failed > 1 {
                error.push_str(&format!(" (and {} more {what} failed)", failed - 1));
            }
            tracing::warn!(%source, "poll failed: {error}");
            let _ = tx.send(Update::SourceFailed {
                source: source.to_string(),
                at: Utc::now(),
                error,
                retry_at: e
                    .retry_after()
                    .map(|d| Utc::now() + chrono::Duration::from_std(d).unwrap_or_default()),
            });
            Err(e)
        }
    }
}
