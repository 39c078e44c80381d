use serde::{Deserialize, Serialize};

use super::Status;

/// One run of a Jenkins job, as the cockpit needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Build {
    pub number: u64,
    pub url: String,
    pub status: Status,
    /// Start time, epoch milliseconds.
    pub timestamp_ms: i64,
    /// Zero while running.
    pub duration_ms: i64,
    /// Jenkins' estimate from previous runs; `None` when Jenkins says -1.
    pub estimated_duration_ms: Option<i64>,
    pub causes: Vec<Cause>,
    /// The commit of the service's own repository that this build built.
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub parameters: Vec<(String, String)>,
    pub tests: Option<TestCounts>,
    pub stages: Vec<Stage>,
    pub pending_inputs: Vec<PendingInput>,
    pub queue_id: Option<u64>,
    /// Archived files (the jar or war names the version; a load-test summary lies here too).
    #[serde(default)]
    pub artifacts: Vec<BuildArtifact>,
    /// The load-test summary this build archived, once read.
    #[serde(default)]
    pub load_summary: Option<LoadSummary>,
    /// The Trivy or Grype report this build archived, once read.
    #[serde(default)]
    pub scan: Option<super::ScanReport>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildArtifact {
    pub file_name: String,
    pub relative_path: String,
}

/// The figures of a JMeter or Gatling run the load-test policy judges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// `JMeter statistics.json` or `Gatling global_stats.json`.
    pub format: String,
    pub url: String,
    pub p95_ms: Option<f64>,
    /// Percent of requests that failed.
    pub error_rate: Option<f64>,
    pub samples: Option<u64>,
}

impl Build {
    pub fn failed_stage(&self) -> Option<&Stage> {
        self.stages.iter().find(|s| s.status == Status::Failed)
    }

    pub fn current_stage(&self) -> Option<&Stage> {
        self.stages
            .iter()
            .rev()
            .find(|s| matches!(s.status, Status::Running | Status::Paused))
    }

    /// Fraction done from the estimated duration, for running builds; capped below 1.0 because an
    /// overrunning build is not finished.
    pub fn progress(&self, now_ms: i64) -> Option<f64> {
        if !self.status.is_active() {
            return None;
        }
        let estimate = self.estimated_duration_ms.filter(|e| *e > 0)?;
        let elapsed = (now_ms - self.timestamp_ms).max(0) as f64;
        Some((elapsed / estimate as f64).min(0.99))
    }

    pub fn primary_cause(&self) -> Option<&Cause> {
        self.causes.first()
    }
}

/// Why a build started. Jenkins reports these as `_class`-tagged causes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    GithubPush { user: Option<String> },
    ScmPoll,
    Timer,
    User { id: Option<String>, name: Option<String> },
    Upstream { project: String, build: Option<u64> },
    Remote { description: String },
    BranchEvent { description: String },
    Other { description: String },
}

impl Cause {
    /// A short label for narrow columns.
    pub fn short(&self) -> String {
        match self {
            Cause::GithubPush { user } => match user {
                Some(u) => format!("push:{u}"),
                None => "push".into(),
            },
            Cause::ScmPoll => "scm poll".into(),
            Cause::Timer => "timer".into(),
            Cause::User { id, name } => {
                format!("user:{}", name.as_deref().or(id.as_deref()).unwrap_or("?"))
            }
            Cause::Upstream { project, build } => match build {
                Some(b) => format!("up:{project}#{b}"),
                None => format!("up:{project}"),
            },
            Cause::Remote { .. } => "remote".into(),
            Cause::BranchEvent { .. } => "branch".into(),
            Cause::Other { description } => description.clone(),
        }
    }

    /// The upstream identity that started the run, when there is one (four-eyes checks use it).
    pub fn started_by(&self) -> Option<&str> {
        match self {
            Cause::GithubPush { user } => user.as_deref(),
            Cause::User { id, name } => id.as_deref().or(name.as_deref()),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub start_ms: i64,
    pub duration_ms: i64,
    pub error: Option<StageError>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageError {
    pub message: String,
    pub kind: String,
}

/// A Pipeline `input` step waiting for a human.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingInput {
    /// Exactly as Jenkins gives it (InputStep capitalises the first letter).
    pub id: String,
    pub message: String,
    pub proceed_text: Option<String>,
    pub submitter: Option<String>,
    pub inputs: Vec<ParamDef>,
    pub proceed_url: Option<String>,
    pub abort_url: Option<String>,
}

/// Surefire counts as Jenkins reports them; there is no pass count in the build JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    pub total: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl TestCounts {
    pub fn passed(&self) -> u64 {
        self.total.saturating_sub(self.failed).saturating_sub(self.skipped)
    }
}

/// A build or input parameter definition, so the cockpit can draw a form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamDef {
    pub name: String,
    pub kind: ParamKind,
    pub description: Option<String>,
    pub default: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    String,
    Text,
    Boolean,
    Password,
    Choice { choices: Vec<String> },
    Other { class: String },
}
