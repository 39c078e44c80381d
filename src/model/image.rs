//! What the registries and the build host's Docker engine hold for the services: image tags with
//! their digests, which tag each environment runs, and the base images the services build on.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::scan::ScanReport;

/// The OCI labels that tie an image to its source.
pub const LABEL_REVISION: &str = "org.opencontainers.image.revision";
pub const LABEL_VERSION: &str = "org.opencontainers.image.version";
pub const LABEL_BASE_NAME: &str = "org.opencontainers.image.base.name";
pub const LABEL_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// Where a service's images live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RegistryKind {
    /// Any OCI / Docker registry v2 (Docker Hub included).
    Oci,
    /// Amazon ECR, through its API.
    Ecr,
}

/// How a service's release moves to the next environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionStrategy {
    /// Point the environment's tag at the candidate's digest in the registry.
    #[default]
    Retag,
    /// Run the service's Jenkins deploy job with the version and digest.
    Jenkins,
    /// Retag, then run the deploy job.
    Both,
    /// Retag, then patch the Deployment's container to the digest-pinned image and follow the
    /// rollout.
    Kubernetes,
    /// Retag, then launch the environment's AWX job template with the version and digest.
    Awx,
}

impl PromotionStrategy {
    pub fn retags(self) -> bool {
        // Every strategy but a bare Jenkins deploy records the promotion as the env tag first.
        !matches!(self, PromotionStrategy::Jenkins)
    }

    pub fn deploys(self) -> bool {
        matches!(self, PromotionStrategy::Jenkins | PromotionStrategy::Both)
    }
}

/// Where a service's images are, as configured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageRef {
    /// The registry source's name (`[[sources.registry]]` or `[sources.ecr]`).
    pub source: String,
    pub registry: RegistryKind,
    /// The repository inside the registry (`shop/payments-api`).
    pub repository: String,
    /// Environment → the tag that environment runs, in environment order.
    pub env_tags: BTreeMap<String, String>,
    /// The base image the service builds on, when the config names it (else read from labels).
    pub base_image: Option<String>,
    pub promotion: PromotionStrategy,
}

/// One tag of an image repository.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageTag {
    pub tag: String,
    /// `sha256:…` of the exact manifest bytes (an index's own digest for multi-arch images).
    pub digest: String,
    pub media_type: String,
    pub pushed_at: Option<DateTime<Utc>>,
    /// Bytes: the manifest's config and layers (for an index: its largest platform).
    pub size: Option<u64>,
    /// `linux/amd64`… for an index; empty for a single-platform manifest.
    pub platforms: Vec<String>,
    /// `org.opencontainers.image.revision`: the commit the image was built from.
    pub revision: Option<String>,
    /// `org.opencontainers.image.version`.
    pub version: Option<String>,
    /// `org.opencontainers.image.base.name` and `.base.digest`, when the build recorded them.
    pub base_name: Option<String>,
    pub base_digest: Option<String>,
    /// The registry's scan of this digest (ECR), when there is one.
    pub scan: Option<ScanReport>,
}

/// A service's image repository as its registry lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageRepoState {
    pub registry: RegistryKind,
    /// The registry source's name in the config.
    pub source: String,
    /// `registry-host/name` as one would `docker pull` it.
    pub reference: String,
    /// The repository name inside the registry.
    pub repository: String,
    /// Newest push first where the registry says when; otherwise by tag.
    pub tags: Vec<ImageTag>,
    /// Environment → the tag it runs (from the service's tag convention).
    pub env_tags: BTreeMap<String, String>,
    /// Did the listing reach its end? If not, a missing tag may still exist.
    pub complete: bool,
    pub observed_at: DateTime<Utc>,
}

impl ImageRepoState {
    pub fn tag(&self, tag: &str) -> Option<&ImageTag> {
        self.tags.iter().find(|t| t.tag == tag)
    }

    /// Every tag pointing at `digest`.
    pub fn tags_of<'a>(&'a self, digest: &'a str) -> impl Iterator<Item = &'a ImageTag> {
        self.tags.iter().filter(move |t| t.digest == digest)
    }

    /// The digest an environment's tag points at now.
    pub fn env_digest(&self, env: &str) -> Option<&str> {
        let tag = self.env_tags.get(env)?;
        self.tag(tag).map(|t| t.digest.as_str())
    }

    /// The image built for a candidate: the tag labelled with its commit, else the tag named after
    /// its version. Environment tags are skipped, so the answer is the build's own tag.
    pub fn image_for(&self, version: Option<&str>, commit: Option<&str>) -> Option<&ImageTag> {
        let env_tag = |t: &ImageTag| self.env_tags.values().any(|e| e == &t.tag);
        if let Some(sha) = commit.filter(|s| s.len() >= 7)
            && let Some(t) = self.tags.iter().find(|t| {
                !env_tag(t)
                    && t.revision
                        .as_deref()
                        .is_some_and(|r| r.starts_with(sha) || sha.starts_with(r))
            })
        {
            return Some(t);
        }
        let version = version?;
        self.tags
            .iter()
            .find(|t| !env_tag(t) && (t.tag == version || t.tag.strip_prefix('v') == Some(version)))
    }
}

/// An image on the build host's Docker engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalImage {
    pub id: String,
    pub repo_tags: Vec<String>,
    /// `name@sha256:…`: the registry digests this image was pulled as or pushed as.
    pub repo_digests: Vec<String>,
    pub created: Option<DateTime<Utc>>,
    pub size: Option<u64>,
    pub labels: BTreeMap<String, String>,
}

impl LocalImage {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Is a base image the build host holds still what its registry serves for the same tag?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaseImageCheck {
    /// `tomcat:9.0-jdk17`, `quay.io/wildfly/wildfly:26.1.3.Final`…
    pub reference: String,
    /// The services that build on it.
    pub used_by: Vec<String>,
    /// The digest the build host has for the tag (from RepoDigests), if it has it at all.
    pub local_digest: Option<String>,
    /// What the registry serves for the tag now.
    pub remote_digest: Option<String>,
    /// Why a digest is missing (registry unreachable, image not pulled…).
    pub problem: Option<String>,
    pub checked_at: DateTime<Utc>,
}

impl BaseImageCheck {
    /// `Some(true)` when both digests are known and differ; `None` when either is unknown.
    pub fn stale(&self) -> Option<bool> {
        match (&self.local_digest, &self.remote_digest) {
            (Some(l), Some(r)) => Some(l != r),
            _ => None,
        }
    }
}

/// The build host's Docker engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineState {
    /// Where the engine was reached (`unix:///var/run/docker.sock`, `tcp://builder:2376`).
    pub host: String,
    /// Engine name and version as it reports them (`Docker Engine 27.3.1`, `Podman Engine 5.4`).
    pub version: Option<String>,
    pub images: Vec<LocalImage>,
    pub bases: Vec<BaseImageCheck>,
    pub observed_at: DateTime<Utc>,
}

impl EngineState {
    pub fn base(&self, reference: &str) -> Option<&BaseImageCheck> {
        self.bases.iter().find(|b| same_reference(&b.reference, reference))
    }
}

/// `tomcat:9` and `docker.io/library/tomcat:9` name the same image.
pub fn same_reference(a: &str, b: &str) -> bool {
    normalise_reference(a) == normalise_reference(b)
}

/// The fully qualified form of an image reference, Docker's way: no registry means Docker Hub, a
/// single-component name there is under `library/`, and no tag means `latest`.
pub fn normalise_reference(reference: &str) -> String {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let (registry, path) = match name.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
        "docker.io".to_string()
    } else {
        registry
    };
    let path = if registry == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    let last = path.rsplit('/').next().unwrap_or("");
    let path = if digest.is_none() && !last.contains(':') {
        format!("{path}:latest")
    } else {
        path
    };
    match digest {
        Some(d) => format!("{registry}/{path}@{d}"),
        None => format!("{registry}/{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_as_docker_does() {
        assert_eq!(normalise_reference("tomcat:9"), "docker.io/library/tomcat:9");
        assert_eq!(normalise_reference("tomcat"), "docker.io/library/tomcat:latest");
        assert_eq!(
            normalise_reference("quay.io/wildfly/wildfly:26.1.3.Final"),
            "quay.io/wildfly/wildfly:26.1.3.Final"
        );
        assert_eq!(
            normalise_reference("localhost:5000/shop/app"),
            "localhost:5000/shop/app:latest"
        );
        assert!(same_reference("index.docker.io/library/tomcat:9", "tomcat:9"));
        assert!(!same_reference("tomcat:9", "tomcat:10"));
    }
}
