//! HTTP to one Jenkins: Basic auth with a user's API token, JSON reads, and POSTs that fetch a CSRF
//! crumb (tied to the session cookie it came with) when the server asks for one.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use url::Url;

use super::api::CrumbJson;
use crate::config::{JenkinsSourceConfig, Secret};
use crate::sources::http::{self, HttpError};

/// Characters escaped in a job name path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

#[derive(Debug, Clone, PartialEq)]
enum Crumb {
    Unknown,
    /// crumbIssuer answered 404: CSRF protection is off.
    Disabled,
    Have {
        field: String,
        value: String,
    },
}

pub struct JenkinsClient {
    pub name: String,
    base: Url,
    http: reqwest::Client,
    user: Option<String>,
    token: Option<Secret>,
    crumb: Mutex<Crumb>,
    timeout: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostAnswer {
    pub status: u16,
    pub location: Option<String>,
}

impl JenkinsClient {
    pub fn new(cfg: &JenkinsSourceConfig) -> Result<Self, HttpError> {
        let mut base = cfg.url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(JenkinsClient {
            name: cfg.name.clone(),
            base,
            http: http::client(cfg.timeout, cfg.insecure_tls)?,
            user: cfg.user.clone(),
            token: cfg.token.clone(),
            crumb: Mutex::new(Crumb::Unknown),
            timeout: cfg.timeout,
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `folder/job` → `<base>job/folder/job/job/`.
    pub fn job_url(&self, full_name: &str) -> String {
        let mut out = self.base.to_string();
        for segment in full_name.split('/').filter(|s| !s.is_empty()) {
            out.push_str("job/");
            out.push_str(&utf8_percent_encode(segment, SEGMENT).to_string());
            out.push('/');
        }
        out
    }

    pub fn build_url(&self, full_name: &str, number: u64) -> String {
        format!("{}{number}/", self.job_url(full_name))
    }

    /// A path relative to the Jenkins root (`api/json`, `queue/item/3/`).
    pub fn root_url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    /// Escape one path segment (an input id, for instance).
    pub fn segment(text: &str) -> String {
        utf8_percent_encode(text, SEGMENT).to_string()
    }

    fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, url);
        match (&self.user, &self.token) {
            (Some(user), Some(token)) => rb.basic_auth(user, Some(token.expose())),
            (Some(user), None) => rb.basic_auth(user, None::<&str>),
            _ => rb,
        }
    }

    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, HttpError> {
        let (body, _) = self.get_bytes(url).await?;
        serde_json::from_slice(&body).map_err(|e| HttpError::Decode(format!("{e} in {}", short_path(url))))
    }

    pub async fn get_bytes(&self, url: &str) -> Result<(bytes::Bytes, HeaderMap), HttpError> {
        let resp = self
            .request(Method::GET, url)
            .send()
            .await
            .map_err(HttpError::from_reqwest)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(HttpError::from_reqwest)?;
        if !status.is_success() {
            return Err(status_error(status, &headers, &body, url));
        }
        Ok((body, headers))
    }

    /// Start a GET whose body the caller reads as it arrives (a console log can be gigabytes).
    /// The client's total timeout would cut a long read short, so this request waits at most
    /// `stall` for the headers; the caller bounds each read of the body itself.
    pub async fn get_streaming(&self, url: &str, stall: std::time::Duration) -> Result<reqwest::Response, HttpError> {
        let resp = self
            .request(Method::GET, url)
            .timeout(std::time::Duration::from_secs(24 * 3600))
            .send();
        let resp = tokio::time::timeout(stall, resp)
            .await
            .map_err(|_| HttpError::Timeout)?
            .map_err(HttpError::from_reqwest)?;
        let status = resp.status();
        if !status.is_success() {
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            return Err(status_error(status, &headers, &body, url));
        }
        Ok(resp)
    }

    /// The timeout this client was configured with (a log read uses it per chunk).
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// POST a form. Fetches a crumb first if the server issues them, and on 403 fetches a fresh one
    /// and retries once (a crumb dies with its session).
    pub async fn post(&self, url: &str, form: &[(String, String)]) -> Result<PostAnswer, HttpError> {
        let crumb = self.ensure_crumb(false).await?;
        let answer = self.post_once(url, form, &crumb).await?;
        if answer.status == 403 && crumb != Crumb::Disabled {
            let fresh = self.ensure_crumb(true).await?;
            let retry = self.post_once(url, form, &fresh).await?;
            return finish_post(retry, url);
        }
        finish_post(answer, url)
    }

    async fn post_once(&self, url: &str, form: &[(String, String)], crumb: &Crumb) -> Result<RawAnswer, HttpError> {
        let mut rb = self.request(Method::POST, url).form(form);
        if let Crumb::Have { field, value } = crumb {
            rb = rb.header(field.as_str(), value.as_str());
        }
        let resp = rb.send().await.map_err(HttpError::from_reqwest)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap_or_default();
        Ok(RawAnswer { status, headers, body })
    }

    async fn ensure_crumb(&self, refresh: bool) -> Result<Crumb, HttpError> {
        let mut crumb = self.crumb.lock().await;
        if *crumb != Crumb::Unknown && !refresh {
            return Ok(crumb.clone());
        }
        let url = self.root_url("crumbIssuer/api/json");
        match self.get_json::<CrumbJson>(&url).await {
            Ok(c) => {
                *crumb = Crumb::Have {
                    field: c.crumb_request_field,
                    value: c.crumb,
                }
            }
            Err(e) if e.status() == Some(404) => *crumb = Crumb::Disabled,
            Err(e) => return Err(e),
        }
        Ok(crumb.clone())
    }
}

struct RawAnswer {
    status: StatusCode,
    headers: HeaderMap,
    body: bytes::Bytes,
}

fn finish_post(answer: RawAnswer, url: &str) -> Result<PostAnswer, HttpError> {
    // Jenkins answers actions with 200, 201 (+ Location of the queue item) or a 302 to the build.
    if answer.status.is_success() || answer.status.is_redirection() {
        let location = answer
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        return Ok(PostAnswer {
            status: answer.status.as_u16(),
            location,
        });
    }
    Err(status_error(answer.status, &answer.headers, &answer.body, url))
}

fn status_error(status: StatusCode, headers: &HeaderMap, body: &[u8], url: &str) -> HttpError {
    let mut detail = http::body_excerpt(&String::from_utf8_lossy(&body[..body.len().min(4096)]));
    // "Error 503 Service Unavailable" after "HTTP 503 Service Unavailable" says nothing new.
    if let Some(reason) = status.canonical_reason()
        && detail.contains(reason)
    {
        detail.clear();
    }
    if status == StatusCode::NOT_FOUND {
        detail = format!("{} not found", short_path(url));
    } else if status == StatusCode::UNAUTHORIZED {
        detail = "check the user and API token".into();
    }
    HttpError::Status {
        code: status.as_u16(),
        retry_after: http::parse_retry_after(headers),
        detail,
    }
}

/// The path of a URL without the query, for messages.
fn short_path(url: &str) -> String {
    let no_query = url.split('?').next().unwrap_or(url);
    match Url::parse(no_query) {
        Ok(u) => u.path().to_string(),
        Err(_) => no_query.to_string(),
    }
}
