//! The GitHub client: octocrab for transport and auth, plus what a poller polling all day needs:
//! conditional requests (ETag / If-None-Match, so an unchanged answer costs no rate limit), the
//! rate limit read from every answer, and rate-limit refusals turned into a wait until the reset.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use http::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue, IF_NONE_MATCH};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;

use crate::config::GithubSourceConfig;
use crate::sources::http::{HttpError, body_excerpt};

/// What the last answer said about the rate limit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset: Option<DateTime<Utc>>,
}

/// Counters of this client's requests since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub requests: u64,
    pub not_modified: u64,
}

/// A body and whether it is new since the last time this URL was asked for.
pub struct Answer<T> {
    pub value: T,
    pub fresh: bool,
}

pub struct GithubClient {
    octo: Octocrab,
    api_url: url::Url,
    timeout: Duration,
    /// Path → (ETag, body) of the last 200 answer.
    cache: Mutex<HashMap<String, (HeaderValue, Bytes)>>,
    rate: Mutex<RateLimit>,
    counts: Mutex<RequestCounts>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl GithubClient {
    pub fn new(cfg: &GithubSourceConfig) -> Result<GithubClient, HttpError> {
        let base = cfg.api_url.as_str().trim_end_matches('/').to_string();
        let mut builder = Octocrab::builder()
            .base_uri(base.as_str())
            .map_err(|e| HttpError::Request(format!("GitHub API URL {base}: {e}")))?
            .add_header(ACCEPT, "application/vnd.github+json".to_string())
            .add_header(
                HeaderName::from_static("x-github-api-version"),
                "2022-11-28".to_string(),
            )
            .set_connect_timeout(Some(cfg.timeout.min(Duration::from_secs(5))))
            .set_read_timeout(Some(cfg.timeout));
        if let Some(token) = &cfg.token {
            builder = builder.personal_token(token.expose().to_string());
        }
        let octo = builder
            .build()
            .map_err(|e| HttpError::Request(format!("GitHub client: {e}")))?;
        Ok(GithubClient {
            octo,
            api_url: cfg.api_url.clone(),
            timeout: cfg.timeout,
            cache: Mutex::new(HashMap::new()),
            rate: Mutex::new(RateLimit::default()),
            counts: Mutex::new(RequestCounts::default()),
        })
    }

    pub fn api_url(&self) -> &url::Url {
        &self.api_url
    }

    pub fn rate_limit(&self) -> RateLimit {
        *lock(&self.rate)
    }

    pub fn counts(&self) -> RequestCounts {
        *lock(&self.counts)
    }

    /// The web address of a repository, for evidence links (GitHub Enterprise included).
    pub fn web_url(&self, path: &str) -> String {
        let mut web = self.api_url.clone();
        let host = web.host_str().unwrap_or("github.com").to_string();
        if host == "api.github.com" {
            let _ = web.set_host(Some("github.com"));
            web.set_path("");
        } else {
            let p = web.path().trim_end_matches('/').trim_end_matches("/api/v3").to_string();
            web.set_path(&p);
        }
        format!(
            "{}/{}",
            web.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    /// GET a path of the API (e.g. `/repos/o/r/pulls?state=open`) as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<Answer<T>, HttpError> {
        let answer = self.get(path).await?;
        let value = serde_json::from_slice(&answer.value).map_err(|e| {
            // A cached body that no longer parses must not stick.
            lock(&self.cache).remove(path);
            HttpError::Decode(format!("{path}: {e}"))
        })?;
        Ok(Answer {
            value,
            fresh: answer.fresh,
        })
    }

    /// GET with `If-None-Match` when there is a cached answer; a 304 returns the cached body.
    pub async fn get(&self, path: &str) -> Result<Answer<Bytes>, HttpError> {
        let cached = lock(&self.cache).get(path).cloned();
        let mut headers = HeaderMap::new();
        if let Some((etag, _)) = &cached {
            headers.insert(IF_NONE_MATCH, etag.clone());
        }
        lock(&self.counts).requests += 1;
        let request = self.octo._get_with_headers(path, Some(headers));
        let response = tokio::time::timeout(self.timeout, request)
            .await
            .map_err(|_| HttpError::Timeout)?
            .map_err(octocrab_error)?;
        let status = response.status();
        let head = response.headers().clone();
        self.note_rate_limit(&head);
        if status == http::StatusCode::NOT_MODIFIED
            && let Some((_, body)) = cached
        {
            lock(&self.counts).not_modified += 1;
            return Ok(Answer {
                value: body,
                fresh: false,
            });
        }
        let body = tokio::time::timeout(self.timeout, response.into_body().collect())
            .await
            .map_err(|_| HttpError::Timeout)?
            .map_err(|e| HttpError::Transport(e.to_string()))?
            .to_bytes();
        if status.is_success() {
            if let Some(etag) = head.get(http::header::ETAG) {
                lock(&self.cache).insert(path.to_string(), (etag.clone(), body.clone()));
            }
            return Ok(Answer {
                value: body,
                fresh: true,
            });
        }
        Err(self.refusal(status.as_u16(), &head, &body))
    }

    fn note_rate_limit(&self, head: &HeaderMap) {
        let num = |name: &str| head.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        let mut rate = lock(&self.rate);
        if let Some(r) = num("x-ratelimit-remaining") {
            rate.remaining = Some(r);
        }
        if let Some(l) = num("x-ratelimit-limit") {
            rate.limit = Some(l);
        }
        if let Some(t) = num("x-ratelimit-reset") {
            rate.reset = Utc.timestamp_opt(t as i64, 0).single();
        }
    }

    /// Classify an error answer. An exhausted primary limit waits until the reset; a secondary
    /// limit waits for its `Retry-After` (a minute when it gives none, as GitHub advises).
    fn refusal(&self, code: u16, head: &HeaderMap, body: &[u8]) -> HttpError {
        let text = String::from_utf8_lossy(body);
        let message = serde_json::from_slice::<super::api::ErrorJson>(body)
            .map(|e| e.message)
            .ok()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| body_excerpt(&text));
        let retry_after = crate::sources::http::parse_retry_after(head);
        let rate = self.rate_limit();
        let exhausted = head
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "0");
        if (code == 403 || code == 429) && exhausted {
            let wait = rate
                .reset
                .map(|r| (r - Utc::now()).num_seconds().max(1) as u64)
                .unwrap_or(60);
            let until = rate
                .reset
                .map(|r| format!(" until {}", r.with_timezone(&chrono::Local).format("%H:%M:%S")))
                .unwrap_or_default();
            return HttpError::Status {
                code,
                retry_after: Some(Duration::from_secs(wait.min(3600))),
                detail: format!("rate limit exhausted; waiting{until}"),
            };
        }
        let secondary = (code == 403 || code == 429) && (retry_after.is_some() || message.contains("secondary rate"));
        HttpError::Status {
            code,
            retry_after: if secondary {
                Some(retry_after.unwrap_or(Duration::from_secs(60)))
            } else {
                retry_after
            },
            detail: message,
        }
    }
}

fn octocrab_error(e: octocrab::Error) -> HttpError {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    let lower = msg.to_ascii_lowercase();
    if lower.contains("connection refused") || lower.contains("dns") || lower.contains("connect") {
        HttpError::Connect(msg)
    } else if lower.contains("timed out") || lower.contains("timeout") {
        HttpError::Timeout
    } else {
        HttpError::Transport(msg)
    }
}
