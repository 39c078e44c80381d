//! The SonarQube client. Token auth is `Authorization: Bearer` (SonarQube 10.0 and later); an
//! older server answers that with 401, and then the token goes as a Basic login with an empty
//! password, which every version accepts. The first answer decides, and is remembered.

use std::sync::atomic::{AtomicU8, Ordering};

use serde::de::DeserializeOwned;
use url::Url;

use crate::config::{Secret, SonarSourceConfig};
use crate::sources::http::{self, HttpError, body_excerpt};

const AUTH_BEARER: u8 = 0;
const AUTH_BASIC: u8 = 1;

pub struct SonarClient {
    http: reqwest::Client,
    base: Url,
    token: Option<Secret>,
    auth: AtomicU8,
}

impl SonarClient {
    pub fn new(cfg: &SonarSourceConfig) -> Result<SonarClient, HttpError> {
        let mut base = cfg.url.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        Ok(SonarClient {
            http: http::client(cfg.timeout, false)?,
            base,
            token: cfg.token.clone(),
            auth: AtomicU8::new(AUTH_BEARER),
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `api/…` relative to the server, query already encoded.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query.trim_start_matches('/'))
    }

    /// Does this client send the token as Basic (an older server)?
    pub fn uses_basic_auth(&self) -> bool {
        self.auth.load(Ordering::Relaxed) == AUTH_BASIC
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, HttpError> {
        let url = self.url(path_and_query);
        let mut response = self.send(&url).await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED && self.token.is_some() && !self.uses_basic_auth() {
            self.auth.store(AUTH_BASIC, Ordering::Relaxed);
            response = self.send(&url).await?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED {
                self.auth.store(AUTH_BEARER, Ordering::Relaxed);
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(HttpError::from_reqwest)?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<super::api::ErrorsJson>(&body)
                .ok()
                .and_then(|e| e.errors.first().map(|m| m.msg.clone()))
                .unwrap_or_else(|| body_excerpt(&String::from_utf8_lossy(&body)));
            return Err(HttpError::Status {
                code: status.as_u16(),
                retry_after: http::parse_retry_after(&headers),
                detail,
            });
        }
        serde_json::from_slice(&body).map_err(|e| HttpError::Decode(format!("{path_and_query}: {e}")))
    }

    async fn send(&self, url: &str) -> Result<reqwest::Response, HttpError> {
        let mut req = self.http.get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(t) = &self.token {
            req = if self.uses_basic_auth() {
                req.basic_auth(t.expose(), Some(""))
            } else {
                req.bearer_auth(t.expose())
            };
        }
        req.send().await.map_err(HttpError::from_reqwest)
    }
}
