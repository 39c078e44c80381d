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
    Basic { user: String, password: Secret },
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
