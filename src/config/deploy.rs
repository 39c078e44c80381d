//! The deploy side of the config, resolved: Kubernetes clusters (one kubeconfig context each) and
//! AWX / Ansible Tower servers. The raw TOML forms live in `schema.rs`; `load.rs` validates them
//! into these.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::Secret;

/// One kubeconfig context, watched as one source.
#[derive(Debug, Clone)]
pub struct KubeSourceConfig {
    /// The name services use in `[services.deploy.ENV.kubernetes] cluster`.
    pub name: String,
    /// The kubeconfig context, e.g. `kubernetes-admin@kubernetes` (kubeadm) or the EKS cluster ARN.
    pub context: String,
    /// The kubeconfig file; `None`: `KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The operator's identity on this cluster, for four-eyes (default: the OS user).
    pub identity: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum AwxAuth {
    /// An OAuth2 personal access token, sent as `Authorization: Bearer`.
    Token(Secret),
    Basic {
        user: String,
        password: Secret,
    },
}

/// One AWX / Ansible Tower server.
#[derive(Debug, Clone)]
pub struct AwxSourceConfig {
    pub name: String,
    /// The server's base URL; the API is `{url}/api/v2/`.
    pub url: Url,
    pub auth: AwxAuth,
    /// The operator's AWX username, for four-eyes (default: the Basic user, else the OS user).
    pub identity: Option<String>,
    pub poll_interval: Duration,
    pub timeout: Duration,
    /// How many recent jobs per job template to read.
    pub jobs_per_template: usize,
    /// Skip TLS certificate verification (self-signed lab servers only).
    pub insecure_tls: bool,
}

// ---------------------------------------------------------------------------------------------
// Raw forms, as written in TOML.

use serde::Deserialize;
use toml::Spanned;

/// `[[sources.kubernetes]]`: one kubeconfig context.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// The name services use in `[services.deploy.ENV.kubernetes] cluster`.
    pub name: Spanned<String>,
    /// The kubeconfig context: `kubernetes-admin@kubernetes` for kubeadm's admin.conf, the cluster
    /// ARN for a context written by `aws eks update-kubeconfig`.
    pub context: Spanned<String>,
    /// Default: `KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// Who the operator is on this cluster (four-eyes); default: the OS user.
    pub identity: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// `[[sources.awx]]`: an AWX or Ansible Tower server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwxConfig {
    #[serde(default = "default_awx_name")]
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    /// An OAuth2 personal access token (Bearer), from a variable or a command.
    pub token_env: Option<Spanned<String>>,
    pub token_command: Option<Spanned<Vec<String>>>,
    /// Or Basic auth: a user with `password_env` / `password_command`.
    pub user: Option<String>,
    pub password_env: Option<Spanned<String>>,
    pub password_command: Option<Spanned<Vec<String>>>,
    /// The operator's AWX username (four-eyes); default: `user`, else the OS user.
    pub identity: Option<String>,
    #[serde(default = "default_awx_poll")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_jobs")]
    pub jobs_per_template: usize,
    #[serde(default)]
    pub insecure_tls: bool,
}

/// `[approvals]`: rules for approving what waits for a human.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsConfig {
    /// On a protected environment, whoever started a run may not approve it (default true).
    #[serde(default = "yes")]
    pub four_eyes: bool,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig { four_eyes: true }
    }
}

/// `[services.deploy.ENV]`: where the service runs in one environment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDeployConfig {
    pub kubernetes: Option<WorkloadConfig>,
    pub awx: Option<AwxTemplateConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// A `[[sources.kubernetes]]` name.
    pub cluster: Spanned<String>,
    pub namespace: Spanned<String>,
    /// Default: the service name.
    pub deployment: Option<String>,
    /// Default: the Deployment's name.
    pub container: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwxTemplateConfig {
    /// A `[[sources.awx]]` name; default: the first one.
    pub source: Option<Spanned<String>>,
    /// The job template's name, as AWX lists it.
    pub template: Spanned<String>,
    /// A workflow job template rather than a job template.
    #[serde(default)]
    pub workflow: bool,
}

fn default_timeout() -> u64 {
    10
}
fn default_awx_name() -> Spanned<String> {
    Spanned::new(0..0, "awx".to_string())
}
fn default_awx_poll() -> u64 {
    10
}
fn default_jobs() -> usize {
    5
}
fn yes() -> bool {
    true
}

/// A Kubernetes object name (RFC 1123 subdomain, as Deployments and namespaces need).
pub fn valid_kube_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// The OS user, the default identity for four-eyes.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}
