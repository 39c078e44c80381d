//! The polling task of one OCI registry: per service, the repository's tags, a HEAD of each of
//! the environment tags and the newest-looking versions (at most `tags`), and a full description
//! only of digests not seen before: a manifest never changes, so its description is cached by
//! digest and a steady registry costs one listing and a few HEADs per service.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use tokio::sync::Notify;

use super::client::RegistryClient;
use super::map;
use crate::config::RegistrySourceConfig;
use crate::model::{ImageRef, ImageRepoState, ImageTag, RegistryKind, Service, Update};
use crate::sources::UpdateSender;
use crate::sources::http::HttpError;

/// Requests in flight at once for one repository.
const CONCURRENCY: usize = 4;

pub struct RegistryPoller {
    client: Arc<RegistryClient>,
    name: String,
    host: String,
    /// Service name and where its images are.
    watched: Vec<(String, ImageRef)>,
    max_tags: usize,
    /// What each digest holds, once read.
    described: HashMap<String, ImageTag>,
    interval: Duration,
    tx: UpdateSender,
    refresh: Arc<Notify>,
}

impl RegistryPoller {
    /// One poller per `[[sources.registry]]`; services whose image lives elsewhere are ignored.
    pub fn new(
        cfg: RegistrySourceConfig,
        services: Vec<Service>,
        tx: UpdateSender,
        refresh: Arc<Notify>,
    ) -> Result<RegistryPoller, String> {
        let client = RegistryClient::new(&cfg)?;
        if let Some(problem) = &client.credentials().problem {
            tracing::warn!(source = %cfg.name, "registry credentials: {problem}; polling anonymously");
        }
        let watched = services
            .into_iter()
            .filter_map(|s| {
                let image = s.image?;
                (image.source == cfg.name && image.registry == RegistryKind::Oci).then_some((s.name, image))
            })
            .collect();
        Ok(RegistryPoller {
            host: client.host().to_string(),
            client: Arc::new(client),
            name: cfg.name,
            watched,
            max_tags: cfg.tags.max(1),
            described: HashMap::new(),
            interval: cfg.poll_interval,
            tx,
            refresh,
        })
    }

    /// The client, to share with whoever retags in this registry.
    pub fn client(&self) -> Arc<RegistryClient> {
        self.client.clone()
    }

    pub async fn poll_once(&mut self) -> Result<(), HttpError> {
        let mut first_error = None;
        let mut failed = 0;
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let watched = self.watched.clone();
        for (service, image) in &watched {
            let (state, error) = self.repository(image, &mut seen).await;
            if let Some(images) = state {
                let _ = self.tx.send(Update::Images {
                    service: service.clone(),
                    images,
                });
            }
            if let Some(e) = error {
                failed += 1;
                tracing::warn!(%service, repository = %image.repository, "registry poll failed: {e}");
                first_error.get_or_insert(e);
            }
        }
        // Forget digests no tag points at any more, unless a failure hid some of them.
        if failed == 0 {
            self.described.retain(|d, _| seen.contains(d));
        }
        crate::sources::poller::report(&self.tx, &self.name, first_error, failed, "repositories")
    }

    /// One repository: what could be read, and the first thing that went wrong.
    async fn repository(
        &mut self,
        image: &ImageRef,
        seen: &mut BTreeSet<String>,
    ) -> (Option<ImageRepoState>, Option<HttpError>) {
        let client = self.client.clone();
        let repo = image.repository.as_str();
        let listing = match client.tag_listing(repo).await {
            Ok(l) => l,
            Err(e) => return (None, Some(e)),
        };
        let chosen = map::choose_tags(
            &listing.tags,
            image.env_tags.values().map(String::as_str),
            self.max_tags,
        );
        // Owned inputs: a stream of futures borrowing per item is not `Send` enough for a task.
        let heads: Vec<(String, Result<Option<super::ManifestHead>, HttpError>)> = stream::iter(chosen.clone())
            .map(|tag| {
                let client = client.clone();
                let repo = repo.to_string();
                async move {
                    let head = client.head(&repo, &tag).await;
                    (tag, head)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;

        let mut first_error = None;
        let mut found: Vec<(String, super::ManifestHead)> = Vec::new();
        for (tag, head) in heads {
            match head {
                Ok(Some(h)) => found.push((tag, h)),
                // Deleted between the listing and the HEAD: it is simply gone.
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }

        let unknown: BTreeSet<String> = found
            .iter()
            .map(|(_, h)| h.digest.clone())
            .filter(|d| !self.described.contains_key(d))
            .collect();
        let described: Vec<(String, Result<Option<ImageTag>, HttpError>)> = stream::iter(unknown)
            .map(|digest| {
                let client = client.clone();
                let repo = repo.to_string();
                async move {
                    let d = client.describe(&repo, &digest).await;
                    (digest, d)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (digest, d) in described {
            match d {
                Ok(Some(t)) => {
                    self.described.insert(digest, t);
                }
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }

        let mut tags: Vec<ImageTag> = found
            .into_iter()
            .map(|(tag, head)| {
                seen.insert(head.digest.clone());
                let mut t = self.described.get(&head.digest).cloned().unwrap_or_else(|| {
                    // Not described (it failed): the digest is still worth showing.
                    map::image_tag(
                        &tag,
                        &head.digest,
                        head.media_type.as_deref().unwrap_or_default(),
                        Vec::new(),
                        head.size,
                        None,
                    )
                });
                t.tag = tag;
                t
            })
            .collect();
        map::sort_tags(&mut tags);
        let complete = listing.complete && first_error.is_none() && chosen.len() == listing.tags.len();
        let state = ImageRepoState {
            registry: RegistryKind::Oci,
            source: self.name.clone(),
            reference: format!("{}/{}", self.host, image.repository),
            repository: image.repository.clone(),
            tags,
            env_tags: image.env_tags.clone(),
            complete,
            observed_at: Utc::now(),
        };
        (Some(state), first_error)
    }
}

crate::impl_poller!(RegistryPoller, |p| &p.name);
