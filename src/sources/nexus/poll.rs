//! The polling task of Nexus: per service, the assets of its Maven coordinates in the hosted
//! repository, newest versions first, following continuation tokens up to a page limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use url::Url;

use super::api::{AssetJson, PageJson};
use super::map;
use crate::config::{NexusSourceConfig, Secret};
use crate::model::{ArtifactState, Asset, NexusRef, Update};
use crate::sources::UpdateSender;
use crate::sources::http::{self, HttpError, body_excerpt};

#[derive(Clone, Debug)]
pub struct WatchedArtifact {
    pub service: String,
    pub nexus: NexusRef,
}

pub struct NexusClient {
    http: reqwest::Client,
    base: Url,
    user: Option<String>,
    password: Option<Secret>,
}

impl NexusClient {
    pub fn new(cfg: &NexusSourceConfig) -> Result<NexusClient, HttpError> {
        let mut base = cfg.url.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        Ok(NexusClient {
            http: http::client(cfg.timeout, false)?,
            base,
            user: cfg.user.clone(),
            password: cfg.password.clone(),
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The search URL of a service's assets (also the evidence for a missing artifact).
    pub fn search_url(&self, n: &NexusRef, token: Option<&str>) -> String {
        let mut url = self
            .base
            .join("service/rest/v1/search/assets")
            .expect("a fixed relative path");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("repository", &n.repository)
                .append_pair("maven.groupId", &n.group_id)
                .append_pair("maven.artifactId", &n.artifact_id)
                .append_pair("sort", "version")
                .append_pair("direction", "desc");
            if let Some(t) = token {
                q.append_pair("continuationToken", t);
            }
        }
        url.to_string()
    }

    pub async fn page(&self, url: &str) -> Result<PageJson<AssetJson>, HttpError> {
        let mut req = self.http.get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(user) = &self.user {
            req = req.basic_auth(user, self.password.as_ref().map(|p| p.expose()));
        }
        let response = req.send().await.map_err(HttpError::from_reqwest)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(HttpError::from_reqwest)?;
        if !status.is_success() {
            return Err(HttpError::Status {
                code: status.as_u16(),
                retry_after: http::parse_retry_after(&headers),
                detail: body_excerpt(&String::from_utf8_lossy(&body)),
            });
        }
        serde_json::from_slice(&body).map_err(|e| HttpError::Decode(format!("Nexus search: {e}")))
    }

    /// Every asset of a service's coordinates, newest versions first, at most `max_pages` pages.
    pub async fn artifacts(&self, n: &NexusRef, max_pages: usize) -> Result<ArtifactState, HttpError> {
        let mut versions: BTreeMap<String, Vec<Asset>> = BTreeMap::new();
        let mut token: Option<String> = None;
        let mut complete = false;
        for _ in 0..max_pages {
            let page = self.page(&self.search_url(n, token.as_deref())).await?;
            for a in page.items.iter().filter_map(|a| map::asset(a, &n.artifact_id)) {
                if let Some(base) = a.base_version.clone().filter(|b| b != &a.version) {
                    versions.entry(base).or_default().push(a.clone());
                }
                versions.entry(a.version.clone()).or_default().push(a);
            }
            match page.continuation_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => {
                    complete = true;
                    break;
                }
            }
        }
        Ok(ArtifactState {
            repository: n.repository.clone(),
            group_id: n.group_id.clone(),
            artifact_id: n.artifact_id.clone(),
            packaging: n.packaging.clone(),
            versions,
            complete,
            search_url: self.search_url(n, None),
            observed_at: Utc::now(),
        })
    }
}

pub struct NexusPoller {
    client: Arc<NexusClient>,
    name: String,
    artifacts: Vec<WatchedArtifact>,
    max_pages: usize,
    interval: Duration,
    tx: UpdateSender,
    refresh: Arc<Notify>,
}

impl NexusPoller {
    pub fn new(
        client: Arc<NexusClient>,
        name: &str,
        artifacts: Vec<WatchedArtifact>,
        max_pages: usize,
        interval: Duration,
        tx: UpdateSender,
        refresh: Arc<Notify>,
    ) -> Self {
        NexusPoller {
            client,
            name: name.to_string(),
            artifacts,
            max_pages,
            interval,
            tx,
            refresh,
        }
    }

    pub async fn poll_once(&mut self) -> Result<(), HttpError> {
        let mut first_error = None;
        let mut failed = 0;
        for w in &self.artifacts {
            match self.client.artifacts(&w.nexus, self.max_pages).await {
                Ok(artifacts) => {
                    let _ = self.tx.send(Update::Artifacts {
                        service: w.service.clone(),
                        artifacts,
                    });
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(artifact = %w.nexus.artifact_id, "Nexus poll failed: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        crate::sources::poller::report(&self.tx, &self.name, first_error, failed, "artifacts")
    }
}

crate::impl_poller!(NexusPoller, |p| &p.name);
