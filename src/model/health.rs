use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a source is doing, shown in the status line. The last good data stays on screen while a
/// source is degraded; this says how old it is and why it is not fresher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub name: String,
    pub kind: String,
    pub url: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    /// When the next poll is due after a failure (backoff or Retry-After).
    pub retry_at: Option<DateTime<Utc>>,
    pub rate_limit_remaining: Option<u64>,
    #[serde(default)]
    pub rate_limit_limit: Option<u64>,
    pub rate_limit_reset: Option<DateTime<Utc>>,
    pub poll_interval_secs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthLevel {
    /// No answer yet.
    Waiting,
    Healthy,
    /// Answered before, failing now: the data on screen is stale.
    Degraded,
    /// Never answered.
    Down,
}

impl SourceHealth {
    pub fn new(name: &str, kind: &str, url: &str, poll_interval_secs: u64) -> Self {
        SourceHealth {
            name: name.to_string(),
            kind: kind.to_string(),
            url: url.to_string(),
            last_success: None,
            last_error: None,
            last_error_at: None,
            consecutive_failures: 0,
            retry_at: None,
            rate_limit_remaining: None,
            rate_limit_limit: None,
            rate_limit_reset: None,
            poll_interval_secs,
        }
    }

    pub fn level(&self) -> HealthLevel {
        match (self.last_success, self.consecutive_failures) {
            (None, 0) => HealthLevel::Waiting,
            (None, _) => HealthLevel::Down,
            (Some(_), 0) => HealthLevel::Healthy,
            (Some(_), _) => HealthLevel::Degraded,
        }
    }

    /// Has this source answered (successfully or not) at least once?
    pub fn has_answered(&self) -> bool {
        self.last_success.is_some() || self.last_error_at.is_some()
    }

    /// Data older than a few poll intervals is stale even without an error (a hung poll).
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        match self.last_success {
            Some(t) => (now - t).num_seconds() > (self.poll_interval_secs.max(1) * 5) as i64 + 10,
            None => false,
        }
    }
}
