//! The calls that change AWX: launch a template, approve or deny a workflow approval, and follow
//! a launched job to its end. Only the action executor calls these, after plan, policy and
//! confirmation; none of them is ever retried on its own.
//!
//! The trap they guard against: AWX answers a launch with 201 even when it dropped prompts the
//! template does not accept (`ignored_fields`), so a deploy "succeeds" with the template's own
//! variables instead of the version asked for. [`AwxClient::launch`] refuses before launching
//! when it can tell, and reports it as an error when AWX did it anyway.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::{LaunchDescriptionJson, LaunchedJson};
use super::client::{AwxClient, templates_path};
use super::map;
use crate::model::{AwxJob, AwxKind, AwxTemplate};
use crate::sources::http::HttpError;

/// A job AWX started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Launched {
    pub job_id: u64,
    pub kind: AwxKind,
    pub template_id: u64,
    pub template: String,
    /// The job's page in the AWX web UI.
    pub url: String,
    /// The job's API URL (from `Location`).
    pub api_url: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AwxError {
    /// Transport, credentials (401), server errors, unreadable answers.
    Http(HttpError),
    /// AWX said no (400 missing variables or passwords, already approved or denied; 403 not
    /// permitted; 404; 405 cannot launch); `message` is AWX's own.
    Refused {
        action: String,
        status: u16,
        message: String,
    },
    /// Not launched: AWX would drop these extra variables (the template neither asks for
    /// variables on launch nor has a survey question for them).
    WouldIgnore {
        template: String,
        variables: Vec<String>,
        why: String,
    },
    /// Launched, but AWX dropped these prompts: the job runs without them.
    Ignored {
        launched: Launched,
        fields: Vec<String>,
        why: String,
    },
    /// The job did not finish in the time given to follow it.
    StillRunning(Box<AwxJob>),
}

impl AwxError {
    /// The job that runs despite the error, if one does.
    pub fn launched(&self) -> Option<&Launched> {
        match self {
            AwxError::Ignored { launched, .. } => Some(launched),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            AwxError::Http(e) => e.status(),
            AwxError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<HttpError> for AwxError {
    fn from(e: HttpError) -> Self {
        AwxError::Http(e)
    }
}

impl fmt::Display for AwxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwxError::Http(e) => write!(f, "AWX: {e}"),
            AwxError::Refused {
                action,
                status,
                message,
            } => write!(f, "AWX refused to {action} (HTTP {status}): {message}"),
            AwxError::WouldIgnore {
                template,
                variables,
                why,
            } => write!(
                f,
                "not launched: AWX would ignore extra_vars {} of {template}: {why}",
                variables.join(", ")
            ),
            AwxError::Ignored { launched, fields, why } => write!(
                f,
                "AWX ignored {} when launching {} (job {} runs without them): {why}",
                fields.join(", "),
                launched.template,
                launched.job_id
            ),
            AwxError::StillRunning(job) => write!(
                f,
                "AWX job {} ({}) is still {} after the time allowed to follow it",
                job.id,
                job.name,
                job.status.as_str()
            ),
        }
    }
}

impl std::error::Error for AwxError {}

/// Why AWX drops extra variables, said for an operator.
fn why_vars_dropped(survey_enabled: bool) -> String {
    if survey_enabled {
        "the template does not ask for variables on launch and its survey does not define them".to_string()
    } else {
        "the template does not ask for variables on launch and has no survey".to_string()
    }
}

/// Names of the top-level extra variables (a YAML text is read as such).
fn variable_names(extra_vars: &Value) -> Vec<String> {
    match extra_vars {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::String(s) => map::extra_vars(Some(s)).into_keys().collect(),
        _ => Vec::new(),
    }
}

fn has_variables(extra_vars: &Value) -> bool {
    !variable_names(extra_vars).is_empty()
}

impl AwxClient {
    fn refused(&self, action: &str, answer: &super::client::Answer) -> AwxError {
        match answer.status.as_u16() {
            code @ (400 | 403 | 404 | 405 | 409) => AwxError::Refused {
                action: action.to_string(),
                status: code,
                message: map::error_message(&answer.body)
                    .unwrap_or_else(|| AwxClient::status_error(answer).to_string()),
            },
            _ => AwxError::Http(AwxClient::status_error(answer)),
        }
    }

    /// What a launch of this template will ask for (`GET …/launch/`).
    pub async fn launch_description(&self, template_id: u64, kind: AwxKind) -> Result<LaunchDescriptionJson, AwxError> {
        let url = self.api_url(&format!("{}/{template_id}/launch/", templates_path(kind)));
        let answer = self
            .send(
                self.request(reqwest::Method::GET, &url)
                    .header(reqwest::header::ACCEPT, "application/json"),
            )
            .await?;
        if !answer.status.is_success() {
            return Err(self.refused(&format!("describe the launch of template {template_id}"), &answer));
        }
        serde_json::from_slice(&answer.body)
            .map_err(|e| AwxError::Http(HttpError::Decode(format!("AWX launch description: {e}"))))
    }

    /// Launch a template with extra variables, after checking AWX would keep them: when the
    /// template neither asks for variables on launch nor has a survey question for each one,
    /// nothing is launched. A launch whose 201 still lists `ignored_fields` is an error too
    /// (naming the job, which runs without them).
    pub async fn launch(&self, template_id: u64, kind: AwxKind, extra_vars: &Value) -> Result<Launched, AwxError> {
        let desc = self.launch_description(template_id, kind).await?;
        let name = desc
            .job_template_data
            .as_ref()
            .or(desc.workflow_job_template_data.as_ref())
            .map(|d| d.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("template {template_id}"));
        if has_variables(extra_vars) && !desc.ask_variables_on_launch {
            let survey = if desc.survey_enabled {
                self.survey_variables(template_id, kind).await?
            } else {
                Vec::new()
            };
            let mut dropped: Vec<String> = variable_names(extra_vars)
                .into_iter()
                .filter(|v| !survey.contains(v))
                .collect();
            dropped.sort();
            if !dropped.is_empty() {
                return Err(AwxError::WouldIgnore {
                    template: name,
                    variables: dropped,
                    why: why_vars_dropped(desc.survey_enabled),
                });
            }
        }
        self.post_launch(template_id, kind, &name, extra_vars).await
    }

    /// [`AwxClient::launch`] for a template as the poller read it.
    pub async fn launch_template(&self, template: &AwxTemplate, extra_vars: &Value) -> Result<Launched, AwxError> {
        self.launch(template.id, template.kind, extra_vars).await
    }

    /// POST the launch without looking at the template first; `ignored_fields` in the 201 is
    /// still an error. Prefer [`AwxClient::launch`].
    pub async fn post_launch(
        &self,
        template_id: u64,
        kind: AwxKind,
        template: &str,
        extra_vars: &Value,
    ) -> Result<Launched, AwxError> {
        let url = self.api_url(&format!("{}/{template_id}/launch/", templates_path(kind)));
        let body = if has_variables(extra_vars) {
            serde_json::json!({ "extra_vars": extra_vars })
        } else {
            serde_json::json!({})
        };
        let answer = self.post_json(&url, &body).await?;
        if !answer.status.is_success() {
            return Err(self.refused(&format!("launch {template}"), &answer));
        }
        let json: LaunchedJson = serde_json::from_slice(&answer.body)
            .map_err(|e| AwxError::Http(HttpError::Decode(format!("AWX launch answer: {e}"))))?;
        let kind = if json.workflow_job.is_some() {
            AwxKind::Workflow
        } else {
            kind
        };
        let job_id = json.job.or(json.workflow_job).or(json.id).ok_or_else(|| {
            AwxError::Http(HttpError::Decode(format!(
                "AWX answered the launch of {template} with HTTP {} but no job id",
                answer.status.as_u16()
            )))
        })?;
        let location = answer
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or(json.url.clone());
        let api_url = location.as_deref().and_then(|l| self.resolve(l)).unwrap_or_else(|| {
            self.api_url(&match kind {
                AwxKind::Job => format!("jobs/{job_id}/"),
                AwxKind::Workflow => format!("workflow_jobs/{job_id}/"),
            })
        });
        let launched = Launched {
            job_id,
            kind,
            template_id,
            template: template.to_string(),
            url: map::job_ui_url(self.base().as_str(), kind, job_id),
            api_url,
        };
        let fields = map::ignored_names(&json.ignored_fields);
        if !fields.is_empty() {
            let vars_dropped = json.ignored_fields.get("extra_vars").is_some_and(|v| !v.is_null());
            let why = if vars_dropped {
                "the template does not ask for variables on launch and no survey question defines them".to_string()
            } else {
                "the template does not prompt for them on launch".to_string()
            };
            return Err(AwxError::Ignored { launched, fields, why });
        }
        Ok(launched)
    }

    /// Approve a pending workflow approval (204).
    pub async fn approve(&self, approval_id: u64) -> Result<(), AwxError> {
        self.decide(approval_id, "approve").await
    }

    /// Deny a pending workflow approval (204); the workflow takes its failure path.
    pub async fn deny(&self, approval_id: u64) -> Result<(), AwxError> {
        self.decide(approval_id, "deny").await
    }

    async fn decide(&self, approval_id: u64, verb: &str) -> Result<(), AwxError> {
        let url = self.api_url(&format!("workflow_approvals/{approval_id}/{verb}/"));
        let answer = self.post_json(&url, &serde_json::json!({})).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(self.refused(&format!("{verb} workflow approval {approval_id}"), &answer))
        }
    }

    /// Read a launched job until it ends (successful, failed, error, canceled), checking every
    /// `every`, for at most `limit`. A failed playbook job comes with its output's tail.
    pub async fn follow(&self, launched: &Launched, every: Duration, limit: Duration) -> Result<AwxJob, AwxError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let job = match launched.kind {
                AwxKind::Job => self.job(launched.job_id).await?,
                AwxKind::Workflow => self.workflow_job(launched.job_id).await?,
            };
            if job.status.is_terminal() {
                return Ok(job);
            }
            if tokio::time::Instant::now() + every > deadline {
                return Err(AwxError::StillRunning(Box::new(job)));
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// Extra variables from `name → value` pairs (what a deploy passes: version, digest…).
pub fn extra_vars<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let map: BTreeMap<String, Value> = pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    serde_json::to_value(map).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_was_dropped() {
        let e = AwxError::WouldIgnore {
            template: "deploy-ledger-service-staging".into(),
            variables: vec!["digest".into(), "version".into()],
            why: why_vars_dropped(false),
        };
        assert_eq!(
            e.to_string(),
            "not launched: AWX would ignore extra_vars digest, version of deploy-ledger-service-staging: \
             the template does not ask for variables on launch and has no survey"
        );
        let launched = Launched {
            job_id: 7,
            kind: AwxKind::Job,
            template_id: 3,
            template: "t".into(),
            url: String::new(),
            api_url: String::new(),
        };
        let e = AwxError::Ignored {
            launched: launched.clone(),
            fields: vec!["version".into()],
            why: "w".into(),
        };
        assert!(e.to_string().contains("job 7 runs without them"));
        assert_eq!(e.launched(), Some(&launched));
    }

    #[test]
    fn variables_from_pairs_and_text() {
        let v = extra_vars([("version", "1.4.2"), ("digest", "sha256:ab")]);
        assert_eq!(variable_names(&v), vec!["digest", "version"]);
        assert!(!has_variables(&Value::Null));
        assert!(!has_variables(&serde_json::json!({})));
        assert!(has_variables(&Value::String("version: 1".into())));
    }
}
