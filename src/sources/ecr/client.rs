//! The ECR API through the AWS SDK: image listings, scan findings, and retagging by putting the
//! identical manifest under a new tag. SDK errors become [`HttpError`]s the health line can say.

use std::error::Error as StdError;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ecr::Client;
use aws_sdk_ecr::config::timeout::TimeoutConfig;
use aws_sdk_ecr::config::{Credentials, Region};
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::operation::put_image::{PutImageError, PutImageOutput};
use aws_sdk_ecr::types::{DescribeImagesFilter, ImageIdentifier, TagStatus};

use super::api::ImageDetailJson;
use super::map;
use crate::config::EcrSourceConfig;
use crate::model::{ImageTag, ScanReport};
use crate::sources::http::HttpError;
use crate::sources::retag::RetagOutcome;

/// Pages of `DescribeImages` (1000 images each) read before a listing counts as incomplete.
const MAX_IMAGE_PAGES: usize = 20;
/// Pages of `DescribeImageScanFindings` (1000 findings each) read at most.
const MAX_FINDING_PAGES: usize = 10;

/// A repository's listing, with what the poller needs besides the tags.
#[derive(Clone, Debug, PartialEq)]
pub struct EcrListing {
    /// Newest push first.
    pub tags: Vec<ImageTag>,
    /// Every page was read and no image was left out for the `max` limit.
    pub complete: bool,
    /// The account that owns the repository, as the answer said.
    pub registry_id: Option<String>,
}

pub struct EcrClient {
    client: Client,
    registry_id: Option<String>,
    region: Option<String>,
    /// A stand-in or VPC endpoint: no console links.
    custom_endpoint: bool,
}

impl EcrClient {
    /// The standard AWS chain (environment, profiles, SSO, instance roles), narrowed by the config:
    /// its profile, region, endpoint and explicit keys; every operation bounded by its timeout.
    pub async fn new(cfg: &EcrSourceConfig) -> EcrClient {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(cfg.timeout)
                .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
                .build(),
        );
        if let Some(profile) = &cfg.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &cfg.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url.as_str().trim_end_matches('/'));
        }
        if let Some((id, secret)) = &cfg.static_credentials {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.expose().to_string(),
                None,
                None,
                "flightdeck-config",
            ));
        }
        let sdk_config = loader.load().await;
        let region = sdk_config.region().map(|r| r.to_string());
        EcrClient {
            client: Client::new(&sdk_config),
            registry_id: cfg.registry_id.clone(),
            region,
            custom_endpoint: cfg.endpoint_url.is_some(),
        }
    }

    /// The SDK client, for what this type does not wrap.
    pub fn sdk(&self) -> &Client {
        &self.client
    }

    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    fn scan_url(&self, registry_id: Option<&str>, repository: &str, digest: &str) -> Option<String> {
        if self.custom_endpoint {
            return None;
        }
        let registry_id = self.registry_id.as_deref().or(registry_id)?;
        Some(map::console_url(
            self.region.as_deref()?,
            registry_id,
            repository,
            digest,
        ))
    }

    /// `host/repository` as one would pull it: the repository's URI, else built from the account
    /// and region.
    pub async fn repository_reference(
        &self,
        repository: &str,
        registry_id: Option<&str>,
    ) -> Result<Option<String>, HttpError> {
        let answer = self
            .client
            .describe_repositories()
            .set_registry_id(self.registry_id.clone())
            .repository_names(repository)
            .send()
            .await
            .map_err(sdk_error)?;
        let found = answer
            .repositories()
            .iter()
            .map(map::repository)
            .find(|r| r.repository_name.as_deref() == Some(repository));
        if let Some(uri) = found.as_ref().and_then(|r| r.repository_uri.clone()) {
            return Ok(Some(uri));
        }
        let registry_id = self
            .registry_id
            .as_deref()
            .or(registry_id)
            .or(found.as_ref().and_then(|r| r.registry_id.as_deref()));
        Ok(match (registry_id, self.region.as_deref()) {
            (Some(id), Some(region)) => Some(map::repository_reference(id, region, repository)),
            _ => None,
        })
    }

    /// The tags of the newest `max` images, newest push first; untagged images are skipped.
    pub async fn list_images(&self, repository: &str, max: usize) -> Result<Vec<ImageTag>, HttpError> {
        Ok(self.listing(repository, max, &[]).await?.tags)
    }

    /// Like [`EcrClient::list_images`], and images carrying one of `keep_tags` (the environments'
    /// tags) are kept even when older than the newest `max`.
    pub async fn listing(&self, repository: &str, max: usize, keep_tags: &[String]) -> Result<EcrListing, HttpError> {
        let mut details: Vec<ImageDetailJson> = Vec::new();
        let mut pages = self
            .client
            .describe_images()
            .set_registry_id(self.registry_id.clone())
            .repository_name(repository)
            .filter(DescribeImagesFilter::builder().tag_status(TagStatus::Tagged).build())
            .max_results(1000)
            .into_paginator()
            .send();
        let mut complete = false;
        for _ in 0..MAX_IMAGE_PAGES {
            match pages.next().await {
                None => {
                    complete = true;
                    break;
                }
                Some(page) => {
                    let page = page.map_err(sdk_error)?;
                    details.extend(page.image_details().iter().map(map::image_detail));
                }
            }
        }
        if !complete && pages.next().await.is_none() {
            complete = true;
        }
        details.retain(|d| !d.image_tags.is_empty());
        map::sort_newest_first(&mut details);
        let registry_id = self
            .registry_id
            .clone()
            .or_else(|| details.iter().find_map(|d| d.registry_id.clone()));
        let mut kept = 0;
        let mut tags = Vec::new();
        for d in &details {
            let wanted = kept < max || d.image_tags.iter().any(|t| keep_tags.contains(t));
            if !wanted {
                complete = false;
                continue;
            }
            kept += 1;
            let url = d
                .image_digest
                .as_deref()
                .and_then(|digest| self.scan_url(registry_id.as_deref(), repository, digest));
            tags.extend(map::image_tags(d, url));
        }
        Ok(EcrListing {
            tags,
            complete,
            registry_id,
        })
    }

    /// The full scan report of a digest (every page of findings); `None` when it was never scanned.
    pub async fn scan_findings(&self, repository: &str, digest: &str) -> Result<Option<ScanReport>, HttpError> {
        let mut pages = self
            .client
            .describe_image_scan_findings()
            .set_registry_id(self.registry_id.clone())
            .repository_name(repository)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .max_results(1000)
            .into_paginator()
            .send();
        let mut read = Vec::new();
        while read.len() < MAX_FINDING_PAGES {
            match pages.next().await {
                None => break,
                Some(Ok(page)) => read.push(map::scan_findings_page(&page)),
                Some(Err(e)) => {
                    if e.as_service_error().is_some_and(|s| s.is_scan_not_found_exception()) {
                        return Ok(None);
                    }
                    return Err(sdk_error(e));
                }
            }
        }
        let registry_id = read.iter().find_map(|p| p.registry_id.clone());
        let url = self.scan_url(registry_id.as_deref(), repository, digest);
        Ok(Some(map::scan_report(&read, url)))
    }

    /// The digest a tag points at; `None` when there is no such tag.
    pub async fn tag_digest(&self, repository: &str, tag: &str) -> Result<Option<String>, HttpError> {
        let answer = self
            .client
            .describe_images()
            .set_registry_id(self.registry_id.clone())
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await;
        match answer {
            Ok(a) => Ok(a.image_details().iter().find_map(|d| d.image_digest.clone())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_image_not_found_exception()) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Point `new_tag` at `digest`: nothing when it already does; else the digest's manifest,
    /// exactly as stored, put again under the new tag.
    pub async fn retag(&self, repository: &str, digest: &str, new_tag: &str) -> Result<RetagOutcome, HttpError> {
        let previous = self.tag_digest(repository, new_tag).await?;
        if previous.as_deref() == Some(digest) {
            return Ok(RetagOutcome::AlreadyThere);
        }
        let got = self
            .client
            .batch_get_image()
            .set_registry_id(self.registry_id.clone())
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_digest(digest).build())
            .set_accepted_media_types(Some(
                map::ACCEPTED_MANIFEST_TYPES.iter().map(|t| t.to_string()).collect(),
            ))
            .send()
            .await
            .map_err(sdk_error)?;
        let image = got.images().iter().map(map::image).find(|i| i.image_manifest.is_some());
        let Some(image) = image else {
            let failure = got.failures().iter().map(map::image_failure).next();
            let detail = match failure {
                Some(f) => format!(
                    "{}: {}",
                    f.failure_code.unwrap_or_else(|| "ImageNotFound".into()),
                    f.failure_reason.unwrap_or_else(|| format!("no manifest for {digest}"))
                ),
                None => format!("ImageNotFound: no manifest for {digest} in {repository}"),
            };
            return Err(HttpError::Status {
                code: 404,
                retry_after: None,
                detail,
            });
        };
        let media_type = map::manifest_media_type(&image);
        let result = self
            .client
            .put_image()
            .set_registry_id(self.registry_id.clone())
            .repository_name(repository)
            .image_manifest(image.image_manifest.unwrap_or_default())
            .set_image_manifest_media_type(media_type)
            .image_tag(new_tag)
            .image_digest(digest)
            .send()
            .await;
        let outcome = put_image_outcome(result, repository, previous.clone())?;
        if outcome != RetagOutcome::AlreadyThere {
            return Ok(outcome);
        }
        // "Already exists" although the tag pointed elsewhere a moment ago: believe it only if the
        // tag now points at the digest (someone else moved it). Stand-ins such as moto answer
        // this way for an immutable tag, where ECR says ImageTagAlreadyExists.
        let now = self.tag_digest(repository, new_tag).await?;
        if now.as_deref() == Some(digest) {
            return Ok(RetagOutcome::AlreadyThere);
        }
        let immutable = self
            .tag_mutability(repository)
            .await
            .is_some_and(|m| m.starts_with("IMMUTABLE"));
        let detail = if immutable {
            format!("tags are immutable in {repository}")
        } else {
            format!(
                "ImageAlreadyExistsException, yet {new_tag} points at {}",
                now.as_deref().unwrap_or("nothing")
            )
        };
        Err(HttpError::Status {
            code: 400,
            retry_after: None,
            detail,
        })
    }

    /// `MUTABLE`, `IMMUTABLE`, `…_WITH_EXCLUSION`, when the repository says.
    pub async fn tag_mutability(&self, repository: &str) -> Option<String> {
        let answer = self
            .client
            .describe_repositories()
            .set_registry_id(self.registry_id.clone())
            .repository_names(repository)
            .send()
            .await
            .ok()?;
        answer
            .repositories()
            .iter()
            .map(map::repository)
            .find(|r| r.repository_name.as_deref() == Some(repository))?
            .image_tag_mutability
    }
}

/// What a `PutImage` of an existing manifest under a tag amounts to: `ImageAlreadyExists` means
/// the tag was there already (success); `ImageTagAlreadyExists` means the repository's tags are
/// immutable.
pub fn put_image_outcome(
    result: Result<PutImageOutput, SdkError<PutImageError>>,
    repository: &str,
    previous: Option<String>,
) -> Result<RetagOutcome, HttpError> {
    match result {
        Ok(_) => Ok(RetagOutcome::Moved { previous }),
        Err(e) => match e.as_service_error() {
            Some(s) if s.is_image_already_exists_exception() => Ok(RetagOutcome::AlreadyThere),
            Some(s) if s.is_image_tag_already_exists_exception() => Err(HttpError::Status {
                code: e.raw_response().map(|r| r.status().as_u16()).unwrap_or(400),
                retry_after: None,
                detail: format!("tags are immutable in {repository}"),
            }),
            _ => Err(sdk_error(e)),
        },
    }
}

/// An SDK error in the words of the health line: a service error is its HTTP status with
/// `Code: message`; timeouts, connection failures and unreadable answers their own classes.
pub fn sdk_error<E>(e: SdkError<E>) -> HttpError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match &e {
        SdkError::ServiceError(s) => {
            let code = s.raw().status().as_u16();
            let err = s.err();
            let detail = match (err.code(), err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                (None, Some(m)) => m.to_string(),
                (None, None) => root_cause(err),
            };
            let retry_after =
                (code == 429 || err.code().is_some_and(|c| c.contains("Throttl"))).then_some(Duration::from_secs(5));
            HttpError::Status {
                code,
                retry_after,
                detail,
            }
        }
        SdkError::TimeoutError(_) => HttpError::Timeout,
        SdkError::DispatchFailure(d) => {
            if d.is_timeout() {
                HttpError::Timeout
            } else if d.is_io() {
                HttpError::Connect(root_cause(&e))
            } else {
                // Credentials, endpoint resolution, signing: nothing was sent.
                HttpError::Request(root_cause(&e))
            }
        }
        SdkError::ResponseError(_) => HttpError::Decode(root_cause(&e)),
        SdkError::ConstructionFailure(_) => HttpError::Request(root_cause(&e)),
        _ => HttpError::Transport(root_cause(&e)),
    }
}

/// The innermost cause's words, which say the most in the fewest.
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() {
            msg = text;
        }
        source = s.source();
    }
    msg
}
