//! What every HTTP source shares: a client with sane timeouts, and errors classified so the status
//! line can say what went wrong in a few words, and the poller knows how long to back off.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    Timeout,
    Connect(String),
    /// The connection broke mid-exchange (reset, truncated body).
    Transport(String),
    Status {
        code: u16,
        retry_after: Option<Duration>,
        detail: String,
    },
    /// The body was not what the API promises (malformed or truncated JSON).
    Decode(String),
    /// A request we refused to build (bad URL and the like).
    Request(String),
}

impl HttpError {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn from_reqwest(e: reqwest::Error) -> HttpError {
        if e.is_timeout() {
            HttpError::Timeout
        } else if e.is_connect() {
            HttpError::Connect(root_cause(&e))
        } else if e.is_decode() {
            HttpError::Decode(root_cause(&e))
        } else if e.is_builder() {
            HttpError::Request(root_cause(&e))
        } else {
            HttpError::Transport(root_cause(&e))
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::Connect(m) => write!(f, "cannot connect: {m}"),
            HttpError::Transport(m) => write!(f, "connection broke: {m}"),
            HttpError::Status {
                code,
                retry_after,
                detail,
            } => {
                let reason = StatusCode::from_u16(*code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                write!(f, "HTTP {code} {reason}")?;
                if !detail.is_empty() {
                    write!(f, ": {detail}")?;
                }
                if let Some(r) = retry_after {
                    write!(f, " (retry after {}s)", r.as_secs())?;
                }
                Ok(())
            }
            HttpError::Decode(m) => write!(f, "unreadable answer: {m}"),
            HttpError::Request(m) => write!(f, "bad request: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(3600)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(Duration::from_secs(delta.num_seconds().clamp(0, 3600) as u64))
}

/// Build a client: rustls, a connect and a total timeout, and a cookie store (Jenkins ties a crumb
/// to the session cookie it was issued with).
pub fn client(timeout: Duration, insecure_tls: bool) -> Result<reqwest::Client, HttpError> {
    reqwest::Client::builder()
        .user_agent(concat!("flightdeck/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .cookie_store(true)
        .tls_danger_accept_invalid_certs(insecure_tls)
        .build()
        .map_err(HttpError::from_reqwest)
}

/// A short excerpt of an error body, for the status line (HTML stripped to its text).
pub fn body_excerpt(body: &str) -> String {
    // An HTML error page says it best in its title; the rest is boilerplate.
    if let Some(start) = body.find("<title>")
        && let Some(len) = body[start + 7..].find("</title>")
    {
        return body[start + 7..start + 7 + len]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = words.join(" ");
    if out.chars().count() > 120 {
        out = out.chars().take(119).collect::<String>() + "…";
    }
    out
}
