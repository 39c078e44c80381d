//! The AWX / Ansible Tower client: Bearer (personal access token) or Basic auth, API v2 below the
//! configured base URL (which may carry a path prefix, e.g. behind a reverse proxy), paged lists
//! followed through `next`, and the reads the poller and the actions share.

use std::collections::HashSet;

use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::api::{ApprovalJson, JobJson, MeJson, PageJson, StdoutJson, SurveySpecJson, TemplateJson};
use super::map;
use crate::config::{AwxAuth, AwxSourceConfig};
use crate::model::{AwxJob, AwxKind};
use crate::sources::http::{self, HttpError, body_excerpt};

/// AWX's largest page (`MAX_PAGE_SIZE`).
pub const PAGE_SIZE: usize = 200;
/// A list is never followed past this many pages (a server whose `next` loops cannot hang a poll).
const MAX_PAGES: usize = 50;
/// Of a job's output, only this many trailing bytes are kept while reading.
const TAIL_BYTES: usize = 256 * 1024;

/// A response read to the end: status, headers, body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

pub struct AwxClient {
    http: reqwest::Client,
    name: String,
    /// The server's base URL, ending in `/` (the API is `{base}api/v2/`).
    base: Url,
    auth: AwxAuth,
    identity: String,
}

/// Query values: form-encoded.
pub fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl AwxClient {
    pub fn new(cfg: &AwxSourceConfig) -> Result<AwxClient, HttpError> {
        let mut base = cfg.url.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        base.set_query(None);
        base.set_fragment(None);
        let identity = cfg
            .identity
            .clone()
            .or_else(|| match &cfg.auth {
                AwxAuth::Basic { user, .. } => Some(user.clone()),
                AwxAuth::Token(_) => None,
            })
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("USERNAME").ok())
            .unwrap_or_else(|| "unknown".to_string());
        Ok(AwxClient {
            http: http::client(cfg.timeout, cfg.insecure_tls)?,
            name: cfg.name.clone(),
            base,
            auth: cfg.auth.clone(),
            identity,
        })
    }

    /// The source's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's base URL (ends in `/`).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The operator's AWX username, for four-eyes checks (config `identity`, else the Basic
    /// user, else the OS user).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// `{base}api/v2/{path}`; `path` is relative to the API root, query already encoded.
    pub fn api_url(&self, path: &str) -> String {
        format!("{}api/v2/{}", self.base, path.trim_start_matches('/'))
    }

    /// A server-relative link (`next`, `Location`, `related.*`) as a URL on this server. AWX
    /// writes them from the server root; behind a path prefix they may or may not carry it.
    /// Only the path and query are kept, so credentials never follow a link to another host.
    pub fn resolve(&self, link: &str) -> Option<String> {
        let link = link.trim();
        if link.is_empty() {
            return None;
        }
        let path_and_query = match Url::parse(link) {
            Ok(abs) => match abs.query() {
                Some(query) => format!("{}?{query}", abs.path()),
                None => abs.path().to_string(),
            },
            Err(_) if link.starts_with('/') => link.to_string(),
            Err(_) => return self.base.join(link).ok().map(|u| u.to_string()),
        };
        let prefix = self.base.path().trim_end_matches('/');
        let path = if prefix.is_empty() || path_and_query.starts_with(&format!("{prefix}/")) {
            path_and_query
        } else {
            format!("{prefix}{path_and_query}")
        };
        self.base.join(&path).ok().map(|u| u.to_string())
    }

    pub(super) fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, url);
        match &self.auth {
            AwxAuth::Token(t) => req.bearer_auth(t.expose()),
            AwxAuth::Basic { user, password } => req.basic_auth(user, Some(password.expose())),
        }
    }

    /// Sends and reads the whole answer; only transport failures are errors here.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<Answer, HttpError> {
        let response = req.send().await.map_err(HttpError::from_reqwest)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(HttpError::from_reqwest)?;
        Ok(Answer { status, headers, body })
    }

    /// A POST with a JSON body, answered in full (any status).
    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Answer, HttpError> {
        let req = self
            .request(Method::POST, url)
            .header(ACCEPT, "application/json")
            .json(body);
        self.send(req).await
    }

    /// The error a non-2xx answer means, with AWX's own message when it sent one.
    pub fn status_error(answer: &Answer) -> HttpError {
        let detail =
            map::error_message(&answer.body).unwrap_or_else(|| body_excerpt(&String::from_utf8_lossy(&answer.body)));
        HttpError::Status {
            code: answer.status.as_u16(),
            retry_after: http::parse_retry_after(&answer.headers),
            detail,
        }
    }

    /// GET a JSON document by full URL.
    pub async fn get_url<T: DeserializeOwned>(&self, url: &str) -> Result<T, HttpError> {
        let answer = self
            .send(self.request(Method::GET, url).header(ACCEPT, "application/json"))
            .await?;
        if !answer.status.is_success() {
            return Err(Self::status_error(&answer));
        }
        serde_json::from_slice(&answer.body).map_err(|e| HttpError::Decode(format!("AWX {}: {e}", short(url))))
    }

    /// GET `api/v2/{path}`.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, HttpError> {
        self.get_url(&self.api_url(path)).await
    }

    /// Every item of a paged list (at most `limit`), following `next`.
    pub async fn list<T: DeserializeOwned>(&self, path: &str, limit: usize) -> Result<Vec<T>, HttpError> {
        let mut url = self.api_url(path);
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            seen.insert(url.clone());
            let page: PageJson<T> = self.get_url(&url).await?;
            items.extend(page.results);
            if items.len() >= limit {
                items.truncate(limit);
                break;
            }
            match page.next.as_deref().and_then(|n| self.resolve(n)) {
                Some(next) if !seen.contains(&next) => url = next,
                _ => break,
            }
        }
        Ok(items)
    }

    /// The job template (or workflow job template) of this exact name, if AWX lists it.
    pub async fn find_template(&self, name: &str, kind: AwxKind) -> Result<Option<TemplateJson>, HttpError> {
        let page: PageJson<TemplateJson> = self
            .get_json(&format!("{}/?name={}&page_size=5", templates_path(kind), q(name)))
            .await?;
        Ok(page.results.into_iter().find(|t| t.name == name))
    }

    pub async fn template(&self, id: u64, kind: AwxKind) -> Result<TemplateJson, HttpError> {
        self.get_json(&format!("{}/{id}/", templates_path(kind))).await
    }

    /// The variables a template's survey asks for (none without a survey).
    pub async fn survey_variables(&self, id: u64, kind: AwxKind) -> Result<Vec<String>, HttpError> {
        match self
            .get_json::<SurveySpecJson>(&format!("{}/{id}/survey_spec/", templates_path(kind)))
            .await
        {
            Ok(spec) => Ok(spec
                .spec
                .into_iter()
                .map(|q| q.variable)
                .filter(|v| !v.is_empty())
                .collect()),
            // No survey, or a license without surveys.
            Err(e) if matches!(e.status(), Some(404 | 402)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// A template's newest jobs (or workflow jobs), newest first.
    pub async fn recent_jobs(&self, template_id: u64, kind: AwxKind, n: usize) -> Result<Vec<JobJson>, HttpError> {
        let n = n.clamp(1, PAGE_SIZE);
        let jobs = match kind {
            AwxKind::Job => "jobs",
            AwxKind::Workflow => "workflow_jobs",
        };
        let page: PageJson<JobJson> = self
            .get_json(&format!(
                "{}/{template_id}/{jobs}/?order_by=-id&page_size={n}",
                templates_path(kind)
            ))
            .await?;
        Ok(page.results)
    }

    pub async fn job_json(&self, id: u64, kind: AwxKind) -> Result<JobJson, HttpError> {
        let path = match kind {
            AwxKind::Job => format!("jobs/{id}/"),
            AwxKind::Workflow => format!("workflow_jobs/{id}/"),
        };
        self.get_json(&path).await
    }

    /// A playbook job, with the tail of its output when it failed.
    pub async fn job(&self, id: u64) -> Result<AwxJob, HttpError> {
        let json = self.job_json(id, AwxKind::Job).await?;
        let mut job = map::job(&json, self.base.as_str(), AwxKind::Job);
        if job.status.is_failure() {
            job.stdout_tail = Some(self.stdout_tail(id, map::TAIL_LINES).await?);
        }
        Ok(job)
    }

    /// A workflow job (workflow jobs have no output of their own).
    pub async fn workflow_job(&self, id: u64) -> Result<AwxJob, HttpError> {
        let json = self.job_json(id, AwxKind::Workflow).await?;
        Ok(map::job(&json, self.base.as_str(), AwxKind::Workflow))
    }

    /// The last `lines` lines of a playbook job's output. AWX slices the output by line in its
    /// json form (`start_line`, negative from the end, as a Python slice), so a running job's
    /// poll costs its last lines, not everything it has printed. Output too large for that form
    /// is read from the download form instead, keeping only its end.
    pub async fn stdout_tail(&self, id: u64, lines: usize) -> Result<Vec<String>, HttpError> {
        // A few more than shown: trailing blank lines are dropped.
        let from_end = lines + 8;
        let sliced: StdoutJson = self
            .get_json(&format!("jobs/{id}/stdout/?format=json&start_line=-{from_end}"))
            .await?;
        let text = if sliced
            .content
            .trim_start()
            .starts_with("Standard Output too large to display")
        {
            self.text_tail(&self.api_url(&format!("jobs/{id}/stdout/?format=txt_download")))
                .await?
        } else {
            sliced.content
        };
        Ok(map::tail(&text, lines))
    }

    /// GET a text document, keeping only its last [`TAIL_BYTES`] (cut at a line start).
    async fn text_tail(&self, url: &str) -> Result<String, HttpError> {
        let mut response = self
            .request(Method::GET, url)
            .header(ACCEPT, "text/plain")
            .send()
            .await
            .map_err(HttpError::from_reqwest)?;
        if !response.status().is_success() {
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(HttpError::from_reqwest)?;
            return Err(Self::status_error(&Answer { status, headers, body }));
        }
        let mut kept: Vec<u8> = Vec::new();
        let mut cut = false;
        while let Some(chunk) = response.chunk().await.map_err(HttpError::from_reqwest)? {
            kept.extend_from_slice(&chunk);
            if kept.len() > 2 * TAIL_BYTES {
                kept.drain(..kept.len() - TAIL_BYTES);
                cut = true;
            }
        }
        let mut text = String::from_utf8_lossy(&kept).into_owned();
        if cut && let Some(nl) = text.find('\n') {
            // The first line was cut somewhere in its middle.
            text.drain(..=nl);
        }
        Ok(text)
    }

    /// Workflow approvals waiting for a decision, oldest first.
    pub async fn pending_approvals(&self) -> Result<Vec<ApprovalJson>, HttpError> {
        let mut all: Vec<ApprovalJson> = self
            .list(
                &format!("workflow_approvals/?status=pending&order_by=id&page_size={PAGE_SIZE}"),
                1000,
            )
            .await?;
        // A server that ignores the filter must not make decided approvals look pending, and a
        // list that moved while it was paged may repeat an item.
        let mut seen = HashSet::new();
        all.retain(|a| a.status == "pending" && seen.insert(a.id));
        Ok(all)
    }

    /// The user the credentials belong to (`/api/v2/me/`).
    pub async fn whoami(&self) -> Result<String, HttpError> {
        let page: PageJson<MeJson> = self.get_json("me/").await?;
        page.results
            .into_iter()
            .next()
            .map(|m| m.username)
            .ok_or_else(|| HttpError::Decode("AWX me/: no user in the answer".to_string()))
    }
}

/// The API collection of a kind of template.
pub fn templates_path(kind: AwxKind) -> &'static str {
    match kind {
        AwxKind::Job => "job_templates",
        AwxKind::Workflow => "workflow_job_templates",
    }
}

/// The path of a URL, for error messages (no host, no query).
fn short(url: &str) -> String {
    Url::parse(url).map_or_else(|_| url.to_string(), |u| u.path().to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Secret;

    fn client(url: &str) -> AwxClient {
        AwxClient::new(&AwxSourceConfig {
            name: "awx".into(),
            url: url.parse().unwrap(),
            auth: AwxAuth::Token(Secret::new("t")),
            identity: Some("ops".into()),
            poll_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            jobs_per_template: 5,
            insecure_tls: false,
        })
        .unwrap()
    }

    #[test]
    fn links_resolve_with_and_without_a_prefix() {
        let c = client("https://tower.example.com/awx");
        assert_eq!(c.api_url("jobs/1/"), "https://tower.example.com/awx/api/v2/jobs/1/");
        assert_eq!(
            c.resolve("/awx/api/v2/jobs/?page=2").as_deref(),
            Some("https://tower.example.com/awx/api/v2/jobs/?page=2")
        );
        assert_eq!(
            c.resolve("/api/v2/jobs/?page=2").as_deref(),
            Some("https://tower.example.com/awx/api/v2/jobs/?page=2")
        );
        // An absolute link to another host keeps only its path: credentials stay home.
        assert_eq!(
            c.resolve("http://evil.example/api/v2/jobs/?page=3").as_deref(),
            Some("https://tower.example.com/awx/api/v2/jobs/?page=3")
        );
        let root = client("https://tower.example.com");
        assert_eq!(
            root.resolve("/api/v2/jobs/?page=2").as_deref(),
            Some("https://tower.example.com/api/v2/jobs/?page=2")
        );
        assert_eq!(root.resolve(""), None);
        assert_eq!(c.identity(), "ops");
    }
}
