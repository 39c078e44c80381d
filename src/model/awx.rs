//! What one AWX / Ansible Tower server tells the cockpit: the job templates services deploy
//! with, their recent jobs (with the output's last lines when a job runs or failed), and the
//! workflow approvals waiting for someone. Plain data; the AWX source fills it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Status;

/// A job template or a workflow job template.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwxKind {
    /// A job template: runs one playbook.
    #[default]
    Job,
    /// A workflow job template: a graph of job templates and approval nodes.
    Workflow,
}

impl AwxKind {
    pub fn of(workflow: bool) -> AwxKind {
        if workflow { AwxKind::Workflow } else { AwxKind::Job }
    }

    pub fn is_workflow(self) -> bool {
        self == AwxKind::Workflow
    }
}

/// A unified job's status as AWX spells it (`unified_jobs.py`); anything else is `Unknown`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwxJobStatus {
    New,
    Pending,
    Waiting,
    Running,
    Successful,
    Failed,
    Error,
    Canceled,
    /// A template that never ran (`never updated`) or a status this cockpit does not know.
    #[default]
    Unknown,
}

impl AwxJobStatus {
    pub fn parse(s: &str) -> AwxJobStatus {
        match s.trim() {
            "new" => AwxJobStatus::New,
            "pending" => AwxJobStatus::Pending,
            "waiting" => AwxJobStatus::Waiting,
            "running" => AwxJobStatus::Running,
            "successful" => AwxJobStatus::Successful,
            "failed" => AwxJobStatus::Failed,
            "error" => AwxJobStatus::Error,
            "canceled" => AwxJobStatus::Canceled,
            _ => AwxJobStatus::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AwxJobStatus::New => "new",
            AwxJobStatus::Pending => "pending",
            AwxJobStatus::Waiting => "waiting",
            AwxJobStatus::Running => "running",
            AwxJobStatus::Successful => "successful",
            AwxJobStatus::Failed => "failed",
            AwxJobStatus::Error => "error",
            AwxJobStatus::Canceled => "canceled",
            AwxJobStatus::Unknown => "unknown",
        }
    }

    /// Successful, failed, error and canceled jobs never change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            AwxJobStatus::Successful | AwxJobStatus::Failed | AwxJobStatus::Error | AwxJobStatus::Canceled
        )
    }

    /// New, pending, waiting or running: AWX can still cancel it.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            AwxJobStatus::New | AwxJobStatus::Pending | AwxJobStatus::Waiting | AwxJobStatus::Running
        )
    }

    /// Failed (the playbook failed) or error (AWX could not run it).
    pub fn is_failure(self) -> bool {
        matches!(self, AwxJobStatus::Failed | AwxJobStatus::Error)
    }

    /// The cockpit's common status vocabulary.
    pub fn status(self) -> Status {
        match self {
            AwxJobStatus::Successful => Status::Ok,
            AwxJobStatus::Failed | AwxJobStatus::Error => Status::Failed,
            AwxJobStatus::Canceled => Status::Aborted,
            AwxJobStatus::Running => Status::Running,
            AwxJobStatus::New | AwxJobStatus::Pending | AwxJobStatus::Waiting => Status::Pending,
            AwxJobStatus::Unknown => Status::Unknown,
        }
    }
}

/// One job (a playbook run) or workflow job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AwxJob {
    pub id: u64,
    pub kind: AwxKind,
    pub name: String,
    pub status: AwxJobStatus,
    /// The template it ran from, when AWX says.
    pub template_id: Option<u64>,
    pub created: Option<DateTime<Utc>>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// Seconds; AWX counts it up while the job runs.
    pub elapsed: Option<f64>,
    /// Who (or what: a schedule, a workflow) started it.
    pub launched_by: Option<String>,
    /// `manual`, `relaunch`, `callback`, `scheduled`, `dependency`, `workflow`, `webhook`, `sync`.
    pub launch_type: String,
    /// AWX's own reason for an error or cancel (empty when there is none).
    pub job_explanation: String,
    /// The extra variables it ran with, scalars as text (e.g. `version` → `1.4.104`).
    #[serde(default)]
    pub extra_vars: BTreeMap<String, String>,
    /// The last lines of its output, read while it runs and once when it failed.
    pub stdout_tail: Option<Vec<String>>,
    /// The workflow job that spawned it, if any.
    #[serde(default)]
    pub workflow_job_id: Option<u64>,
    /// The job's page in the AWX web UI.
    pub url: String,
}

impl AwxJob {
    /// A variable the job ran with, e.g. `version`.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.extra_vars.get(name).map(String::as_str)
    }
}

/// A job template or workflow job template a service deploys with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AwxTemplate {
    pub id: u64,
    pub name: String,
    pub kind: AwxKind,
    pub description: String,
    /// Empty for a workflow.
    pub playbook: String,
    /// Does a launch accept `extra_vars` as given? If not, only survey variables pass.
    pub ask_variables_on_launch: bool,
    pub survey_enabled: bool,
    /// The variables the survey asks for (empty without a survey).
    pub survey_variables: Vec<String>,
    /// The template's status: that of its current or last job.
    pub last_status: AwxJobStatus,
    pub last_job_run: Option<DateTime<Utc>>,
    /// Which (service, environment) pairs deploy with it.
    pub used_by: Vec<(String, String)>,
    /// Newest first, at most the configured `jobs_per_template`.
    pub jobs: Vec<AwxJob>,
    /// The template's page in the AWX web UI.
    pub url: String,
}

impl AwxTemplate {
    /// Would AWX keep this variable on launch (rather than drop it into `ignored_fields`)?
    pub fn accepts_variable(&self, name: &str) -> bool {
        self.ask_variables_on_launch || (self.survey_enabled && self.survey_variables.iter().any(|v| v == name))
    }

    pub fn latest(&self) -> Option<&AwxJob> {
        self.jobs.first()
    }

    /// The newest job that finished successfully.
    pub fn last_success(&self) -> Option<&AwxJob> {
        self.jobs.iter().find(|j| j.status == AwxJobStatus::Successful)
    }
}

/// A configured template AWX does not list (renamed, deleted, or not visible to this user).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AwxMissingTemplate {
    pub name: String,
    pub kind: AwxKind,
    pub used_by: Vec<(String, String)>,
}

/// A workflow approval node waiting for (or done with) a human decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AwxApproval {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub status: AwxJobStatus,
    pub created: Option<DateTime<Utc>>,
    /// When it times out; `None`: it waits forever.
    pub approval_expiration: Option<DateTime<Utc>>,
    pub timed_out: bool,
    /// May the cockpit's user approve or deny it?
    pub can_approve_or_deny: bool,
    pub workflow_job_id: Option<u64>,
    pub workflow_job_name: String,
    /// The workflow job template it belongs to.
    #[serde(default)]
    pub workflow_template_id: Option<u64>,
    /// Who launched the workflow job (for four-eyes: not the one who approves).
    pub launched_by: Option<String>,
    /// The approval's page in the AWX web UI.
    pub url: String,
}

impl AwxApproval {
    pub fn is_pending(&self) -> bool {
        self.status == AwxJobStatus::Pending
    }

    /// How long it has been waiting at `now`.
    pub fn waiting_for(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.created.map(|c| now - c)
    }
}

/// One AWX server as last read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AwxState {
    /// The source's name in the config.
    pub source: String,
    /// The server's base URL (the web UI).
    pub url: String,
    /// The configured templates AWX listed, in config order.
    pub templates: Vec<AwxTemplate>,
    pub missing: Vec<AwxMissingTemplate>,
    /// Workflow approvals pending on the server, oldest first.
    pub approvals: Vec<AwxApproval>,
    pub observed_at: Option<DateTime<Utc>>,
}

impl AwxState {
    pub fn template(&self, name: &str) -> Option<&AwxTemplate> {
        self.templates.iter().find(|t| t.name == name)
    }

    /// A template's recent jobs, newest first (empty if it is not known).
    pub fn jobs_of(&self, template: &str) -> &[AwxJob] {
        self.template(template).map_or(&[], |t| t.jobs.as_slice())
    }

    /// The template a service deploys to an environment with.
    pub fn template_for(&self, service: &str, environment: &str) -> Option<&AwxTemplate> {
        self.templates
            .iter()
            .find(|t| t.used_by.iter().any(|(s, e)| s == service && e == environment))
    }

    /// Pending workflow approvals, oldest first.
    pub fn approvals(&self) -> impl Iterator<Item = &AwxApproval> {
        self.approvals.iter().filter(|a| a.is_pending())
    }

    /// The watched workflow template an approval belongs to (by id, else by the workflow job's
    /// name, which AWX takes from its template).
    pub fn template_of(&self, approval: &AwxApproval) -> Option<&AwxTemplate> {
        let workflows = || self.templates.iter().filter(|t| t.kind == AwxKind::Workflow);
        approval
            .workflow_template_id
            .and_then(|id| workflows().find(|t| t.id == id))
            .or_else(|| workflows().find(|t| t.name == approval.workflow_job_name))
    }

    /// Any job of the watched templates, by id.
    pub fn job(&self, id: u64) -> Option<&AwxJob> {
        self.templates.iter().flat_map(|t| t.jobs.iter()).find(|j| j.id == id)
    }

    /// Jobs still running (or queued) across the watched templates.
    pub fn active_jobs(&self) -> impl Iterator<Item = (&AwxTemplate, &AwxJob)> {
        self.templates
            .iter()
            .flat_map(|t| t.jobs.iter().map(move |j| (t, j)))
            .filter(|(_, j)| j.status.is_active())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(ask: bool, survey: &[&str]) -> AwxTemplate {
        AwxTemplate {
            name: "deploy".into(),
            ask_variables_on_launch: ask,
            survey_enabled: !survey.is_empty(),
            survey_variables: survey.iter().map(|s| s.to_string()).collect(),
            ..AwxTemplate::default()
        }
    }

    #[test]
    fn variables_pass_when_asked_or_surveyed() {
        assert!(template(true, &[]).accepts_variable("version"));
        assert!(template(false, &["version"]).accepts_variable("version"));
        assert!(!template(false, &["version"]).accepts_variable("digest"));
        assert!(!template(false, &[]).accepts_variable("version"));
    }

    #[test]
    fn statuses() {
        assert_eq!(AwxJobStatus::parse("canceled"), AwxJobStatus::Canceled);
        assert_eq!(AwxJobStatus::parse("never updated"), AwxJobStatus::Unknown);
        assert!(AwxJobStatus::Error.is_terminal() && AwxJobStatus::Error.is_failure());
        assert!(AwxJobStatus::Waiting.is_active());
        assert_eq!(AwxJobStatus::Waiting.status(), Status::Pending);
        for s in [
            "new",
            "pending",
            "waiting",
            "running",
            "successful",
            "failed",
            "error",
            "canceled",
        ] {
            assert_eq!(AwxJobStatus::parse(s).as_str(), s);
        }
    }

    #[test]
    fn lookups() {
        let mut t = template(true, &[]);
        t.used_by.push(("payments-api".into(), "staging".into()));
        t.jobs.push(AwxJob {
            id: 9,
            status: AwxJobStatus::Running,
            ..AwxJob::default()
        });
        let state = AwxState {
            templates: vec![t],
            approvals: vec![
                AwxApproval {
                    id: 1,
                    status: AwxJobStatus::Pending,
                    ..AwxApproval::default()
                },
                AwxApproval {
                    id: 2,
                    status: AwxJobStatus::Successful,
                    ..AwxApproval::default()
                },
            ],
            ..AwxState::default()
        };
        assert_eq!(state.jobs_of("deploy").len(), 1);
        assert!(state.jobs_of("nope").is_empty());
        assert_eq!(state.template_for("payments-api", "staging").unwrap().name, "deploy");
        assert_eq!(state.approvals().map(|a| a.id).collect::<Vec<_>>(), vec![1]);
        assert_eq!(state.active_jobs().count(), 1);
        assert_eq!(state.job(9).unwrap().status, AwxJobStatus::Running);
    }
}
