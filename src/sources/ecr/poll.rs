//! The polling task of ECR: per service, the newest images of its repository with their scan
//! summaries; the full findings of each completed scan, read once per digest and scan.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::client::EcrClient;
use super::map;
use crate::config::EcrSourceConfig;
use crate::model::{ImageRepoState, RegistryKind, ScanReport, ScanState, Service, Update};
use crate::sources::UpdateSender;
use crate::sources::http::HttpError;

/// A digest's full report (`None`: never scanned), keyed by when `DescribeImages` said its scan
/// completed.
struct CachedScan {
    completed_at: Option<DateTime<Utc>>,
    report: Option<ScanReport>,
}

pub struct EcrPoller {
    cfg: EcrSourceConfig,
    client: Option<Arc<EcrClient>>,
    services: Vec<Service>,
    /// digest → its last full report.
    scans: HashMap<String, CachedScan>,
    /// repository → `host/repository`.
    references: HashMap<String, String>,
    interval: Duration,
    tx: UpdateSender,
    refresh: Arc<Notify>,
}

impl EcrPoller {
    /// Watches the services whose image lives in this ECR source (others are ignored). The client
    /// is made on the first poll.
    pub fn new(cfg: EcrSourceConfig, services: Vec<Service>, tx: UpdateSender, refresh: Arc<Notify>) -> EcrPoller {
        let services = services
            .into_iter()
            .filter(|s| {
                s.image
                    .as_ref()
                    .is_some_and(|i| i.registry == RegistryKind::Ecr && i.source == cfg.name)
            })
            .collect();
        EcrPoller {
            interval: cfg.poll_interval,
            cfg,
            client: None,
            services,
            scans: HashMap::new(),
            references: HashMap::new(),
            tx,
            refresh,
        }
    }

    /// The same, sharing a client made elsewhere (the one retags go through).
    pub fn with_client(
        cfg: EcrSourceConfig,
        client: Arc<EcrClient>,
        services: Vec<Service>,
        tx: UpdateSender,
        refresh: Arc<Notify>,
    ) -> EcrPoller {
        let mut p = EcrPoller::new(cfg, services, tx, refresh);
        p.client = Some(client);
        p
    }

    /// The services this poller watches.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    async fn client(&mut self) -> Arc<EcrClient> {
        if let Some(c) = &self.client {
            return c.clone();
        }
        let c = Arc::new(EcrClient::new(&self.cfg).await);
        self.client = Some(c.clone());
        c
    }

    async fn reference(&mut self, client: &EcrClient, repository: &str, registry_id: Option<&str>) -> String {
        if let Some(r) = self.references.get(repository) {
            return r.clone();
        }
        let found = match client.repository_reference(repository, registry_id).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(%repository, "ECR DescribeRepositories failed: {e}");
                let id = self.cfg.registry_id.as_deref().or(registry_id);
                match (id, client.region()) {
                    (Some(id), Some(region)) => Some(map::repository_reference(id, region, repository)),
                    _ => None,
                }
            }
        };
        match found {
            Some(r) => {
                self.references.insert(repository.to_string(), r.clone());
                r
            }
            None => repository.to_string(),
        }
    }

    pub async fn poll_once(&mut self) -> Result<(), HttpError> {
        let client = self.client().await;
        let mut first_error: Option<HttpError> = None;
        let mut failed = 0;
        let mut seen: HashSet<String> = HashSet::new();
        let services = self.services.clone();
        for service in &services {
            let Some(image) = &service.image else { continue };
            let keep: Vec<String> = image.env_tags.values().cloned().collect();
            let listing = match client.listing(&image.repository, self.cfg.images, &keep).await {
                Ok(l) => l,
                Err(e) => {
                    failed += 1;
                    tracing::warn!(service = %service.name, repository = %image.repository, "ECR poll failed: {e}");
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let mut tags = listing.tags;
            // Full findings of each completed scan not read yet; a digest without a scan summary
            // is asked once too (some registries and stand-ins summarise nothing).
            let mut digests: Vec<(String, Option<DateTime<Utc>>)> = Vec::new();
            for t in &tags {
                let wanted = t.scan.as_ref().is_none_or(|s| s.state == ScanState::Complete);
                if wanted && !digests.iter().any(|(d, _)| d == &t.digest) {
                    digests.push((t.digest.clone(), t.scan.as_ref().and_then(|s| s.completed_at)));
                }
            }
            for (digest, completed_at) in digests {
                seen.insert(digest.clone());
                let cached = self.scans.get(&digest).is_some_and(|c| c.completed_at == completed_at);
                if cached {
                    continue;
                }
                match client.scan_findings(&image.repository, &digest).await {
                    Ok(report) => {
                        self.scans.insert(digest, CachedScan { completed_at, report });
                    }
                    Err(e) => {
                        failed += 1;
                        tracing::warn!(%digest, repository = %image.repository, "ECR scan findings failed: {e}");
                        first_error.get_or_insert(e);
                    }
                }
            }
            for t in &mut tags {
                let summary_at = t.scan.as_ref().and_then(|s| s.completed_at);
                let complete_or_none = t.scan.as_ref().is_none_or(|s| s.state == ScanState::Complete);
                if let Some(CachedScan {
                    completed_at,
                    report: Some(report),
                }) = self.scans.get(&t.digest)
                    && complete_or_none
                    && *completed_at == summary_at
                {
                    t.scan = Some(report.clone());
                }
            }
            let reference = self
                .reference(&client, &image.repository, listing.registry_id.as_deref())
                .await;
            let _ = self.tx.send(Update::Images {
                service: service.name.clone(),
                images: ImageRepoState {
                    registry: RegistryKind::Ecr,
                    source: self.cfg.name.clone(),
                    reference,
                    repository: image.repository.clone(),
                    tags,
                    env_tags: image.env_tags.clone(),
                    complete: listing.complete,
                    observed_at: Utc::now(),
                },
            });
        }
        if first_error.is_none() {
            self.scans.retain(|d, _| seen.contains(d));
        }
        crate::sources::poller::report(&self.tx, &self.cfg.name, first_error, failed, "repositories")
    }
}

crate::impl_poller!(EcrPoller, |p| &p.cfg.name);
