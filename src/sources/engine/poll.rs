//! The polling task of a Docker engine (the build host's): its version, its images with labels,
//! and for each base image the services build on, the digest the host holds against the one its
//! registry serves now.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::ListImagesOptionsBuilder;
use chrono::Utc;
use tokio::sync::Notify;

use super::connect::{self, engine_error};
use super::map;
use crate::config::EngineSourceConfig;
use crate::model::{BaseImageCheck, EngineState, LocalImage, Service, Update};
use crate::sources::UpdateSender;
use crate::sources::http::HttpError;

pub struct EnginePoller {
    cfg: EngineSourceConfig,
    services: Vec<Service>,
    docker_config: Option<PathBuf>,
    /// The client and the host it reaches, made on the first poll.
    docker: Option<(Docker, String)>,
    interval: Duration,
    tx: UpdateSender,
    refresh: Arc<Notify>,
}

impl EnginePoller {
    /// `services`: those with an image (the others are ignored); `docker_config`: where registry
    /// credentials for the base-image lookups are (default: `$DOCKER_CONFIG` or `~/.docker`).
    pub fn new(
        cfg: EngineSourceConfig,
        services: Vec<Service>,
        docker_config: Option<PathBuf>,
        tx: UpdateSender,
        refresh: Arc<Notify>,
    ) -> EnginePoller {
        EnginePoller {
            interval: cfg.poll_interval,
            services: services.into_iter().filter(|s| s.image.is_some()).collect(),
            cfg,
            docker_config,
            docker: None,
            tx,
            refresh,
        }
    }

    fn docker(&mut self) -> Result<(Docker, String), HttpError> {
        if let Some(d) = &self.docker {
            return Ok(d.clone());
        }
        let d = connect::connect(&self.cfg)?;
        self.docker = Some(d.clone());
        Ok(d)
    }

    /// Version, images and base checks, or the first error reaching the engine.
    pub async fn observe(&mut self) -> Result<EngineState, HttpError> {
        let (docker, host) = self.docker()?;
        let version = match docker.version().await {
            Ok(v) => map::version_line(&v),
            Err(e) => {
                // A socket that appeared after a failed connect: try afresh next time.
                self.docker = None;
                return Err(engine_error(e, &host));
            }
        };
        let summaries = docker
            .list_images(Some(ListImagesOptionsBuilder::default().all(false).build()))
            .await
            .map_err(|e| engine_error(e, &host))?;
        let mut images: Vec<LocalImage> = summaries.iter().map(map::local_image).collect();
        images.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        let bases = self.check_bases(&images).await;
        Ok(EngineState {
            host,
            version,
            images,
            bases,
            observed_at: Utc::now(),
        })
    }

    async fn check_bases(&self, images: &[LocalImage]) -> Vec<BaseImageCheck> {
        let references = map::base_references(&self.services, images);
        let timeout = self.cfg.timeout;
        let docker_config = self.docker_config.as_deref();
        let lookups = references.iter().map(|(reference, _)| async move {
            crate::sources::registry::remote_digest(reference, docker_config, timeout).await
        });
        let remotes = futures::future::join_all(lookups).await;
        references
            .into_iter()
            .zip(remotes)
            .map(|((reference, used_by), remote)| {
                let mut problems = Vec::new();
                let candidates = map::local_digests(images, &reference).unwrap_or_else(|p| {
                    problems.push(p);
                    Vec::new()
                });
                let remote_digest = match remote {
                    Ok(Some(d)) => Some(d),
                    Ok(None) => {
                        problems.push("the registry has no such tag".to_string());
                        None
                    }
                    Err(e) => {
                        problems.push(format!("registry: {e}"));
                        None
                    }
                };
                BaseImageCheck {
                    local_digest: map::pick_local(&candidates, remote_digest.as_deref()),
                    reference,
                    used_by,
                    remote_digest,
                    problem: (!problems.is_empty()).then(|| problems.join("; ")),
                    checked_at: Utc::now(),
                }
            })
            .collect()
    }

    pub async fn poll_once(&mut self) -> Result<(), HttpError> {
        match self.observe().await {
            Ok(engine) => {
                let _ = self.tx.send(Update::Engine {
                    source: self.cfg.name.clone(),
                    engine,
                });
                crate::sources::poller::report(&self.tx, &self.cfg.name, None, 0, "engines")
            }
            Err(e) => {
                tracing::warn!(source = %self.cfg.name, "Docker engine poll failed: {e}");
                crate::sources::poller::report(&self.tx, &self.cfg.name, Some(e), 1, "engines")
            }
        }
    }
}

crate::impl_poller!(EnginePoller, |p| &p.cfg.name);
