//! Where a log's bytes come from: a Jenkins console through `logText/progressiveText?start=B`, or
//! text already in hand (a node log's tail). Reads are by byte offset and streamed; nothing here
//! holds more than the chunk in flight.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::sources::http::HttpError;
use crate::sources::jenkins::JenkinsClient;

#[derive(Clone)]
pub enum LogSource {
    /// A build's whole console. `url` is the build's `logText/progressiveText`, without a query.
    Console { client: Arc<JenkinsClient>, url: String },
    /// Text already fetched.
    Memory(Bytes),
}

impl std::fmt::Debug for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogSource::Console { url, .. } => write!(f, "Console({url})"),
            LogSource::Memory(b) => write!(f, "Memory({} bytes)", b.len()),
        }
    }
}

/// An answer being read: what the server said of the log, and its body.
pub struct Opened {
    /// `X-Text-Size`: the offset after the last byte of this answer.
    pub text_size: u64,
    /// `X-More-Data`: the log is still growing.
    pub more: bool,
    body: Body,
}

enum Body {
    Http {
        response: reqwest::Response,
        stall: Duration,
    },
    Memory(Option<Bytes>),
}

impl Opened {
    /// The next piece of the body, or None at its end. A server that stops sending for longer than
    /// the source's timeout is an error, not a hang.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, HttpError> {
        match &mut self.body {
            Body::Memory(b) => Ok(b.take()),
            Body::Http { response, stall } => match tokio::time::timeout(*stall, response.chunk()).await {
                Err(_) => Err(HttpError::Timeout),
                Ok(r) => r.map_err(HttpError::from_reqwest),
            },
        }
    }
}

impl LogSource {
    /// Start reading at byte `start` (a line start or any byte).
    pub async fn open(&self, start: u64) -> Result<Opened, HttpError> {
        match self {
            LogSource::Memory(bytes) => {
                let from = (start as usize).min(bytes.len());
                Ok(Opened {
                    text_size: bytes.len() as u64,
                    more: false,
                    body: Body::Memory(Some(bytes.slice(from..))),
                })
            }
            LogSource::Console { client, url } => {
                let stall = client.timeout();
                let response = client.get_streaming(&format!("{url}?start={start}"), stall).await?;
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::trim)
                        .map(str::to_string)
                };
                let text_size = match header("x-text-size").and_then(|v| v.parse::<u64>().ok()) {
                    Some(n) => n,
                    None => {
                        return Err(HttpError::Decode("progressiveText answered without X-Text-Size".into()));
                    }
                };
                let more = header("x-more-data").is_some_and(|v| v.eq_ignore_ascii_case("true"));
                // A start past the end makes Jenkins start over at 0: the log was replaced.
                if text_size < start {
                    return Err(HttpError::Decode(format!(
                        "the log is shorter than before ({text_size} < {start} bytes): it was replaced"
                    )));
                }
                Ok(Opened {
                    text_size,
                    more,
                    body: Body::Http { response, stall },
                })
            }
        }
    }

    /// Up to `max` bytes from `start`, and what the server said of the whole. Stops reading (and
    /// drops the connection) once it has enough: a page of a 1 GB log costs a page.
    pub async fn read(&self, start: u64, max: usize) -> Result<(Vec<u8>, u64, bool), HttpError> {
        let mut opened = self.open(start).await?;
        let mut out = Vec::with_capacity(max.min(1 << 20));
        while out.len() < max {
            match opened.chunk().await? {
                Some(c) => {
                    let take = (max - out.len()).min(c.len());
                    out.extend_from_slice(&c[..take]);
                }
                None => break,
            }
        }
        Ok((out, opened.text_size, opened.more))
    }

    pub fn is_console(&self) -> bool {
        matches!(self, LogSource::Console { .. })
    }
}
