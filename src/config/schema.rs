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
    /// The shop's quality policy, applied to every service unless it overrides a value.
    #[serde(default)]
    pub quality: QualityPolicyConfig,
    /// Load-test thresholds, for every service unless it overrides them.
    #[serde(default)]
    pub load_test: LoadPolicyConfig,
    /// The scan policy: most findings of each severity an image may carry.
    #[serde(default)]
    pub scan: super::images::ScanPolicyConfig,
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// Who may approve what.
    #[serde(default)]
    pub approvals: super::deploy::ApprovalsConfig,
    /// The log view: error rules and where logs are written.
    #[serde(default)]
    pub log: super::log::LogConfig,
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
    pub github: Option<GithubConfig>,
    pub sonar: Option<SonarConfig>,
    pub nexus: Option<NexusConfig>,
    /// OCI / Docker registries (Docker Hub, Harbor, GHCR, a private registry).
    #[serde(default)]
    pub registry: Vec<super::images::RegistryConfig>,
    pub ecr: Option<super::images::EcrConfig>,
    /// The build host's Docker engine.
    pub docker: Option<super::images::DockerEngineConfig>,
    /// Kubernetes clusters, one kubeconfig context each.
    #[serde(default)]
    pub kubernetes: Vec<super::deploy::KubernetesConfig>,
    /// AWX / Ansible Tower servers.
    #[serde(default)]
    pub awx: Vec<super::deploy::AwxConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// REST API base: `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    #[serde(default = "default_github_api")]
    pub api_url: Spanned<String>,
    pub token_env: Option<Spanned<String>>,
    pub token_command: Option<Spanned<Vec<String>>>,
    #[serde(default = "default_github_poll")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How many recent commits of the default branch to match against pull requests.
    #[serde(default = "default_commits")]
    pub commits: usize,
}

fn default_github_api() -> Spanned<String> {
    Spanned::new(0..0, "https://api.github.com".to_string())
}
fn default_github_poll() -> u64 {
    60
}
fn default_commits() -> usize {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SonarConfig {
    pub url: Spanned<String>,
    pub token_env: Option<Spanned<String>>,
    pub token_command: Option<Spanned<Vec<String>>>,
    #[serde(default = "default_sonar_poll")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How many past analyses to read per project (the quality pane's sparkline).
    #[serde(default = "default_analyses")]
    pub analyses: usize,
}

fn default_sonar_poll() -> u64 {
    30
}
fn default_analyses() -> usize {
    10
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NexusConfig {
    pub url: Spanned<String>,
    pub user: Option<String>,
    pub password_env: Option<Spanned<String>>,
    pub password_command: Option<Spanned<Vec<String>>>,
    /// The hosted repository released artifacts are in.
    #[serde(default = "default_nexus_repo")]
    pub repository: String,
    #[serde(default = "default_sonar_poll")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Stop following continuation tokens after this many pages per service.
    #[serde(default = "default_pages")]
    pub max_pages: usize,
}

fn default_nexus_repo() -> String {
    "maven-releases".to_string()
}
fn default_pages() -> usize {
    10
}

/// The quality policy; every field is optional so a service can override only what differs.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct QualityPolicyConfig {
    /// Most bugs allowed (default 0).
    pub bugs: Option<Spanned<f64>>,
    /// Most vulnerabilities allowed (default 0).
    pub vulnerabilities: Option<Spanned<f64>>,
    /// Highest duplicated-lines density, percent (default 5.0).
    pub duplicated_lines: Option<Spanned<f64>>,
    /// Lowest coverage on new code, percent (default 90.0).
    pub new_coverage: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct LoadPolicyConfig {
    /// Highest 95th-percentile response time, milliseconds (default 800).
    pub p95_ms: Option<Spanned<f64>>,
    /// Highest error rate, percent of requests (default 1.0).
    pub error_rate: Option<Spanned<f64>>,
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
    /// The operator's Jenkins user id (four-eyes); default: `user`.
    pub identity: Option<String>,
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
    pub github: Option<ServiceGithubConfig>,
    pub sonar: Option<ServiceSonarConfig>,
    pub nexus: Option<ServiceNexusConfig>,
    /// The service's image repository, tag convention and promotion strategy.
    pub image: Option<super::images::ServiceImageConfig>,
    /// Where it runs, by environment name: `[services.deploy.production] kubernetes = {…}`.
    #[serde(default)]
    pub deploy: BTreeMap<Spanned<String>, super::deploy::ServiceDeployConfig>,
    /// Overrides of the shop's scan policy for this service.
    #[serde(default)]
    pub scan: super::images::ScanPolicyConfig,
    /// Overrides of the shop's quality policy for this service.
    #[serde(default)]
    pub quality: QualityPolicyConfig,
    /// Where the chain finds the functional, penetration, regression and load test results.
    #[serde(default)]
    pub chain: ServiceChainConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceGithubConfig {
    /// `owner/name`.
    pub repo: Spanned<String>,
    /// Default: the repository's default branch.
    pub branch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSonarConfig {
    pub project_key: Spanned<String>,
    pub branch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNexusConfig {
    pub group_id: Spanned<String>,
    pub artifact_id: Spanned<String>,
    /// Default: `[sources.nexus] repository`.
    pub repository: Option<String>,
    /// `jar` or `war` (default `jar`).
    #[serde(default = "default_packaging")]
    pub packaging: Spanned<String>,
}

fn default_packaging() -> Spanned<String> {
    Spanned::new(0..0, "jar".to_string())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceChainConfig {
    pub functional: Option<TestLinkConfig>,
    pub penetration: Option<TestLinkConfig>,
    pub regression: Option<TestLinkConfig>,
    pub load: Option<TestLinkConfig>,
    /// Load-test thresholds for this service.
    #[serde(default)]
    pub load_thresholds: LoadPolicyConfig,
}

/// A test result lives in a stage of the build pipeline or in a downstream job.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestLinkConfig {
    pub stage: Option<String>,
    pub job: Option<Spanned<String>>,
    /// Archived JMeter `statistics.json` or Gatling `global_stats.json` (load tests only).
    pub summary: Option<String>,
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
