//! The image side of the config: OCI registries, ECR, the build host's Docker engine, the scan
//! policy, and each service's image repository with its tag convention and promotion strategy.
//! Raw (as written) and resolved (validated) forms side by side.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::Secret;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// The name services use in `[services.image] source`; default `registry`.
    #[serde(default = "default_registry_name")]
    pub name: Spanned<String>,
    /// Registry API base: `https://registry-1.docker.io` for Docker Hub, `https://ghcr.io`…
    pub url: Spanned<String>,
    /// Credentials: a user with `password_env` / `password_command`; otherwise the Docker config's
    /// `auths` and credential helpers; otherwise anonymous.
    pub user: Option<String>,
    pub password_env: Option<Spanned<String>>,
    pub password_command: Option<Spanned<Vec<String>>>,
    /// The Docker config to read credentials from; default `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
    #[serde(default = "default_image_poll")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How many tags per repository to read manifests of (newest versions first).
    #[serde(default = "default_tags")]
    pub tags: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcrConfig {
    #[serde(default = "default_ecr_name")]
    pub name: Spanned<String>,
    /// Default: the AWS profile's or environment's region.
    pub region: Option<String>,
    /// Only for a stand-in (LocalStack, moto) or a VPC endpoint.
    pub endpoint_url: Option<Spanned<String>>,
    /// A named profile of ~/.aws/config; default: the standard credential chain.
    pub profile: Option<String>,
    /// The account that owns the repositories, when not the caller's.
    pub registry_id: Option<String>,
    /// Explicit keys from these environment variables (CI, stand-ins); default: the standard chain.
    pub access_key_id_env: Option<Spanned<String>>,
    pub secret_access_key_env: Option<Spanned<String>>,
    #[serde(default = "default_image_poll")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How many images per repository to read (newest pushes first).
    #[serde(default = "default_tags")]
    pub images: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerEngineConfig {
    #[serde(default = "default_docker_name")]
    pub name: Spanned<String>,
    /// `unix:///var/run/docker.sock`, `tcp://builder:2375` or `tcp://builder:2376` (with TLS);
    /// default: `DOCKER_HOST`, else the local socket.
    pub host: Option<Spanned<String>>,
    /// A directory with `ca.pem`, `cert.pem` and `key.pem` for tcp+TLS; default `DOCKER_CERT_PATH`
    /// when `DOCKER_TLS_VERIFY` is set.
    pub tls_cert_path: Option<PathBuf>,
    #[serde(default = "default_image_poll")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// The scan policy; every field optional so a service can override only what differs.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ScanPolicyConfig {
    /// Most critical findings allowed (default 0).
    pub critical: Option<Spanned<i64>>,
    /// Most high findings allowed (default 0).
    pub high: Option<Spanned<i64>>,
    /// Most medium findings allowed (default: no limit).
    pub medium: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceImageConfig {
    /// A `[[sources.registry]]` name or the `[sources.ecr]` name; default: the only one there is.
    pub source: Option<Spanned<String>>,
    /// The repository inside the registry: `shop/payments-api`.
    pub repository: Spanned<String>,
    /// Environment → the tag it runs; default: each environment's own name.
    #[serde(default = "no_env_tags")]
    pub env_tags: Spanned<BTreeMap<String, String>>,
    /// The base image it builds on (`tomcat:9.0-jdk17`); default: the image's
    /// `org.opencontainers.image.base.name` label.
    pub base_image: Option<String>,
    /// Archive path of the Trivy or Grype JSON report in the build; default: any archived
    /// `trivy*.json` or `grype*.json`.
    pub scan_report: Option<String>,
    /// `retag` (default), `jenkins` (the deploy job) or `both`.
    pub promotion: Option<Spanned<String>>,
}

fn no_env_tags() -> Spanned<BTreeMap<String, String>> {
    Spanned::new(0..0, BTreeMap::new())
}
fn default_registry_name() -> Spanned<String> {
    Spanned::new(0..0, "registry".to_string())
}
fn default_ecr_name() -> Spanned<String> {
    Spanned::new(0..0, "ecr".to_string())
}
fn default_docker_name() -> Spanned<String> {
    Spanned::new(0..0, "docker".to_string())
}
fn default_image_poll() -> u64 {
    60
}
fn default_timeout() -> u64 {
    10
}
fn default_tags() -> usize {
    30
}

/// An OCI registry, resolved.
#[derive(Debug, Clone)]
pub struct RegistrySourceConfig {
    pub name: String,
    pub url: Url,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub password_origin: Option<String>,
    pub docker_config: Option<PathBuf>,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub tags: usize,
}

impl RegistrySourceConfig {
    /// `host[:port]` as image references spell the registry (`registry-1.docker.io` → `docker.io`).
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        let host = match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        match host.as_str() {
            "registry-1.docker.io" | "index.docker.io" => "docker.io".to_string(),
            _ => host,
        }
    }
}

/// ECR, resolved.
#[derive(Debug, Clone)]
pub struct EcrSourceConfig {
    pub name: String,
    pub region: Option<String>,
    pub endpoint_url: Option<Url>,
    pub profile: Option<String>,
    pub registry_id: Option<String>,
    /// Access key id and secret, when the config names their variables.
    pub static_credentials: Option<(String, Secret)>,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub images: usize,
}

/// A Docker engine, resolved (the host may still come from `DOCKER_HOST` at connect time).
#[derive(Debug, Clone)]
pub struct EngineSourceConfig {
    pub name: String,
    pub host: Option<String>,
    pub tls_cert_path: Option<PathBuf>,
    pub poll_interval: Duration,
    pub timeout: Duration,
}

/// Hosts a Docker engine may be reached at.
pub fn check_engine_host(host: &str) -> Result<(), String> {
    let ok = ["unix://", "tcp://", "http://", "https://"]
        .iter()
        .any(|p| host.starts_with(p) && host.len() > p.len());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{host}` is not a Docker host (use unix:///path/docker.sock or tcp://host:port)"
        ))
    }
}
