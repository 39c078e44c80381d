//! The TOML schema as the user writes it. Unknown keys are errors: a typo must not silently
//! disable a setting. Values that later checks must locate are `Spanned`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Theme name: a built-in (dark, light, mono) or a file in the themes directory.
    pub theme: Option<Spanned<String>>,
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub sources: SourcesConfig,
    #[serde(default)]
    pub environments: Vec<EnvironmentConfig>,
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// Action name → keys, e.g. `trigger_build = ["b"]`.
    #[serde(default)]
    pub keymap: BTreeMap<Spanned<String>, Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize, Serialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// Capture the mouse (off by default: it breaks text selection over SSH).
    #[serde(default)]
    pub mouse: bool,
    /// Show the clock in the header.
    #[serde(default = "yes")]
    pub clock: bool,
    /// The environment in focus at start.
    #[serde(default)]
    pub environment: Option<String>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            mouse: false,
            clock: true,
            environment: None,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Where the audit JSON lines go; default: the data directory's `audit.jsonl`.
    pub path: Option<std::path::PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    #[serde(default)]
    pub jenkins: Vec<JenkinsConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JenkinsConfig {
    #[serde(default = "default_jenkins_name")]
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    pub user: Option<String>,
    /// Name of the environment variable holding the API token.
    pub token_env: Option<Spanned<String>>,
    /// Command whose first line of output is the API token, e.g. `["pass", "show", "ci/jenkins"]`.
    pub token_command: Option<Spanned<Vec<String>>>,
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How many recent builds per job to read.
    #[serde(default = "default_builds")]
    pub builds_per_job: usize,
    /// Skip TLS certificate verification (self-signed lab servers only).
    #[serde(default)]
    pub insecure_tls: bool,
}

fn default_jenkins_name() -> Spanned<String> {
    Spanned::new(0..0, "jenkins".to_string())
}
fn default_poll() -> u64 {
    10
}
fn default_timeout() -> u64 {
    10
}
fn default_builds() -> usize {
    5
}

#[derive(Debug, Deserialize, Serialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    pub name: String,
    /// Actions on a protected environment need the service name typed to confirm.
    #[serde(default)]
    pub protected: bool,
    /// No actions at all on this environment.
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: Spanned<String>,
    pub repo: Option<String>,
    #[serde(default)]
    pub jenkins: ServiceJenkinsConfig,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceJenkinsConfig {
    /// Which `[[sources.jenkins]]` these jobs live on; default: the first one.
    pub source: Option<Spanned<String>>,
    /// Full job name (`folder/job`) of the pipeline that builds the service.
    pub build: Option<String>,
    /// The job that deploys it (parameterised with VERSION, ENVIRONMENT…).
    pub deploy: Option<String>,
    /// Further test jobs (functional, penetration, regression, load).
    #[serde(default)]
    pub tests: Vec<String>,
}
