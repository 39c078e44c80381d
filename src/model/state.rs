use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::chain::{Candidate, ChainConfig};
use super::{ArtifactState, Build, ParamDef, QualityState, RepoState, SourceHealth, Status};
use super::{EngineState, ImageRef, ImageRepoState};

/// Everything the cockpit knows. Owned by the app loop, changed only by [`State::apply`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub services: Vec<Service>,
    pub environments: Vec<Environment>,
    /// Jenkins jobs by full name (`folder/job`), for the jobs services reference.
    pub jobs: BTreeMap<String, Job>,
    /// Every job the Jenkins sources listed (folders walked), by full name, with its colour.
    pub catalogue: BTreeMap<String, String>,
    pub sources: BTreeMap<String, SourceHealth>,
    /// Queue items the cockpit is following after triggering a build.
    pub queue: Vec<QueueFollow>,
    /// Recent outcomes worth telling the operator about (action results, queue news).
    pub notices: Vec<Notice>,
    /// Bumped on every applied update, so the UI can tell when to redraw.
    pub revision: u64,
    /// How many jobs' newest builds wait for input; kept by the reducer so the header need not
    /// walk the whole estate on every frame.
    pub waiting: usize,
    /// GitHub repositories, by service name.
    pub repos: BTreeMap<String, RepoState>,
    /// SonarQube projects, by service name.
    pub quality: BTreeMap<String, QualityState>,
    /// Nexus artifacts, by service name.
    pub artifacts: BTreeMap<String, ArtifactState>,
    /// Release candidates with their chains, newest first, by service name. Kept by the reducer:
    /// recomputed for a service whenever something it depends on changes.
    pub chains: BTreeMap<String, Vec<Candidate>>,
    /// Image repositories (tags, digests, scans), by service name.
    #[serde(default)]
    pub images: BTreeMap<String, ImageRepoState>,
    /// Docker engines on build hosts, by source name.
    #[serde(default)]
    pub engines: BTreeMap<String, EngineState>,
    /// Kubernetes clusters (watched namespaces), by source name.
    #[serde(default)]
    pub clusters: BTreeMap<String, super::ClusterState>,
    /// AWX / Ansible Tower servers (templates, jobs, pending approvals), by source name.
    #[serde(default)]
    pub awx: BTreeMap<String, super::AwxState>,
    /// Who may approve what (four-eyes and the operator's identities), from the config.
    #[serde(default)]
    pub approvals: super::ApprovalPolicy,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    /// The git remote Jenkins builds from (to pick the right BuildData of a build).
    pub repo: Option<String>,
    pub jobs: ServiceJobs,
    #[serde(default)]
    pub github: Option<GithubRef>,
    #[serde(default)]
    pub sonar: Option<SonarRef>,
    #[serde(default)]
    pub nexus: Option<NexusRef>,
    #[serde(default)]
    pub image: Option<ImageRef>,
    /// Where it runs, by environment name: Kubernetes workload and/or AWX template.
    #[serde(default)]
    pub deploy: BTreeMap<String, super::DeployTarget>,
    /// The shop's gates as they apply to this service, and where its test results are.
    #[serde(default)]
    pub chain: ChainConfig,
}

impl Service {
    /// A service with only a name and Jenkins jobs (tests and samples).
    pub fn new(name: &str, jobs: ServiceJobs) -> Service {
        Service {
            name: name.to_string(),
            repo: None,
            jobs,
            github: None,
            sonar: None,
            nexus: None,
            image: None,
            deploy: BTreeMap::new(),
            chain: ChainConfig::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GithubRef {
    /// `owner/name`.
    pub repo: String,
    /// `None`: the repository's default branch.
    pub branch: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SonarRef {
    pub project_key: String,
    pub branch: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NexusRef {
    pub repository: String,
    pub group_id: String,
    pub artifact_id: String,
    /// `jar` or `war`.
    pub packaging: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceJobs {
    /// Name of the Jenkins source these jobs live on.
    pub source: String,
    pub build: Option<String>,
    pub deploy: Option<String>,
    pub tests: Vec<String>,
}

impl ServiceJobs {
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.build.iter().chain(self.deploy.iter()).chain(self.tests.iter())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub name: String,
    pub protected: bool,
    pub read_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Pipeline,
    Freestyle,
    Folder,
    Multibranch,
    Other,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub full_name: String,
    pub source: String,
    pub url: String,
    pub kind: JobKind,
    pub color: Option<String>,
    pub buildable: bool,
    pub parameters: Vec<ParamDef>,
    /// Newest first.
    pub builds: Vec<Build>,
    pub observed_at: DateTime<Utc>,
}

impl Job {
    pub fn latest(&self) -> Option<&Build> {
        self.builds.first()
    }

    /// Does the newest build wait for a human?
    pub fn waits_for_input(&self) -> bool {
        self.latest().is_some_and(|b| !b.pending_inputs.is_empty())
    }

    pub fn build(&self, number: u64) -> Option<&Build> {
        self.builds.iter().find(|b| b.number == number)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueFollow {
    pub source: String,
    pub job: String,
    pub queue_url: String,
    pub state: super::QueueState,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    Info,
    Success,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub at: DateTime<Utc>,
    pub level: NoticeLevel,
    pub text: String,
}

impl State {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The service's build job and its newest build.
    pub fn latest_build(&self, service: &Service) -> Option<(&Job, &Build)> {
        let job = self.jobs.get(service.jobs.build.as_ref()?)?;
        Some((job, job.latest()?))
    }

    /// Status of the service as a whole: its newest build, or unknown when not seen yet.
    pub fn service_status(&self, service: &Service) -> Status {
        self.latest_build(service)
            .map(|(_, b)| {
                if !b.pending_inputs.is_empty() {
                    Status::Paused
                } else {
                    b.status
                }
            })
            .unwrap_or(Status::Unknown)
    }

    pub fn waiting_inputs(&self) -> usize {
        self.waiting
    }

    /// Has every configured source answered at least once (used by `snapshot` and `status`)?
    pub fn all_sources_answered(&self) -> bool {
        self.sources.values().all(|h| h.has_answered())
    }
}
