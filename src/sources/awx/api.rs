//! AWX API v2 payloads, as far as the cockpit reads them. Every field is optional or defaulted:
//! AWX versions add and drop fields, list views strip some that detail views carry, and a proxy
//! may answer something else entirely.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A paged list: `next` and `previous` are server-relative URLs (`/api/v2/…?page=2`).
#[derive(Debug, Deserialize)]
pub struct PageJson<T> {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

/// `{id, username, first_name, last_name}` in `summary_fields`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct UserJson {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub username: String,
}

/// `{id, name, description, …}`: a related object in `summary_fields`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct NamedJson {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub finished: Option<String>,
}

/// `launched_by`: `{id, name, type, url}` where type is `user`, `schedule`, `workflow_job`…
#[derive(Debug, Default, Clone, Deserialize)]
pub struct LaunchedByJson {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// A job template or workflow job template, as listed or in detail.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct TemplateJson {
    pub id: u64,
    /// `job_template` or `workflow_job_template`.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub playbook: Option<String>,
    #[serde(default)]
    pub ask_variables_on_launch: bool,
    #[serde(default)]
    pub survey_enabled: bool,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub last_job_run: Option<String>,
    #[serde(default)]
    pub last_job_failed: bool,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub related: BTreeMap<String, Value>,
    #[serde(default)]
    pub summary_fields: TemplateSummaryJson,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct TemplateSummaryJson {
    #[serde(default)]
    pub last_job: Option<NamedJson>,
    #[serde(default)]
    pub recent_jobs: Vec<RecentJobJson>,
    #[serde(default)]
    pub survey: Option<SurveySummaryJson>,
    #[serde(default)]
    pub user_capabilities: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct RecentJobJson {
    pub id: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub finished: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct SurveySummaryJson {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
}

/// `GET …/survey_spec/`: `{}` without a survey.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SurveySpecJson {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub spec: Vec<SurveyQuestionJson>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct SurveyQuestionJson {
    #[serde(default)]
    pub variable: String,
    #[serde(default)]
    pub question_name: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// A job or workflow job (detail, list item, or the body of a launch's 201).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct JobJson {
    pub id: u64,
    /// `job` or `workflow_job`.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub failed: bool,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub finished: Option<String>,
    #[serde(default)]
    pub elapsed: Option<f64>,
    #[serde(default)]
    pub launch_type: Option<String>,
    #[serde(default)]
    pub job_explanation: Option<String>,
    /// JSON or YAML text.
    #[serde(default)]
    pub extra_vars: Option<String>,
    #[serde(default)]
    pub playbook: Option<String>,
    #[serde(default)]
    pub unified_job_template: Option<u64>,
    #[serde(default)]
    pub job_template: Option<u64>,
    #[serde(default)]
    pub workflow_job_template: Option<u64>,
    /// AWX 9 and later: who or what launched it.
    #[serde(default)]
    pub launched_by: Option<LaunchedByJson>,
    #[serde(default)]
    pub summary_fields: JobSummaryJson,
    #[serde(default)]
    pub related: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct JobSummaryJson {
    #[serde(default)]
    pub created_by: Option<UserJson>,
    #[serde(default)]
    pub launched_by: Option<LaunchedByJson>,
    #[serde(default)]
    pub job_template: Option<NamedJson>,
    #[serde(default)]
    pub unified_job_template: Option<NamedJson>,
    #[serde(default)]
    pub source_workflow_job: Option<NamedJson>,
}

/// A workflow approval (`/api/v2/workflow_approvals/`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ApprovalJson {
    pub id: u64,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub finished: Option<String>,
    #[serde(default)]
    pub job_explanation: Option<String>,
    #[serde(default)]
    pub can_approve_or_deny: bool,
    #[serde(default)]
    pub approval_expiration: Option<String>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub summary_fields: ApprovalSummaryJson,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ApprovalSummaryJson {
    #[serde(default)]
    pub source_workflow_job: Option<NamedJson>,
    #[serde(default)]
    pub workflow_job: Option<NamedJson>,
    #[serde(default)]
    pub workflow_job_template: Option<NamedJson>,
    #[serde(default)]
    pub created_by: Option<UserJson>,
    #[serde(default)]
    pub approved_or_denied_by: Option<UserJson>,
}

/// `GET …/launch/`: what a launch will ask for.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct LaunchDescriptionJson {
    #[serde(default)]
    pub ask_variables_on_launch: bool,
    #[serde(default)]
    pub survey_enabled: bool,
    #[serde(default)]
    pub can_start_without_user_input: bool,
    #[serde(default)]
    pub passwords_needed_to_start: Vec<String>,
    #[serde(default)]
    pub variables_needed_to_start: Vec<String>,
    #[serde(default)]
    pub inventory_needed_to_start: bool,
    #[serde(default)]
    pub credential_needed_to_start: bool,
    #[serde(default)]
    pub job_template_data: Option<NamedJson>,
    #[serde(default)]
    pub workflow_job_template_data: Option<NamedJson>,
}

/// The body of a launch's 201: the new job's id under `job` (or `workflow_job`), what AWX
/// dropped, and the job itself.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct LaunchedJson {
    #[serde(default)]
    pub job: Option<u64>,
    #[serde(default)]
    pub workflow_job: Option<u64>,
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub ignored_fields: BTreeMap<String, Value>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// `GET /api/v2/me/`: a page with the user the credentials belong to.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MeJson {
    #[serde(default)]
    pub username: String,
}

/// `GET …/stdout/?format=json`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct StdoutJson {
    #[serde(default)]
    pub content: String,
}
