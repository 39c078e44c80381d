//! Jenkins payloads → the state model. Pure functions, tested on the real fixtures.

use serde_json::Value;

use super::api::{ActionJson, BuildJson, JobProperty, ParamDefJson, PendingInputJson, RunDescribe, StageJson};
use crate::model::{
    Build, BuildArtifact, Cause, JobKind, ParamDef, ParamKind, PendingInput, Stage, StageError, Status, TestCounts,
};

pub fn job_kind(class: &str) -> JobKind {
    match class {
        "com.cloudbees.hudson.plugins.folder.Folder" => JobKind::Folder,
        "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
        | "jenkins.branch.OrganizationFolder" => JobKind::Multibranch,
        "org.jenkinsci.plugins.workflow.job.WorkflowJob" => JobKind::Pipeline,
        "hudson.model.FreeStyleProject" | "hudson.maven.MavenModuleSet" | "hudson.matrix.MatrixProject" => {
            JobKind::Freestyle
        }
        c if c.ends_with("Folder") => JobKind::Folder,
        _ => JobKind::Other,
    }
}

/// Does this build class have Pipeline stages (wfapi)? Freestyle builds answer 404 there.
pub fn is_pipeline_build(class: &str) -> bool {
    class.is_empty() || class == "org.jenkinsci.plugins.workflow.job.WorkflowRun"
}

pub fn build(json: &BuildJson, repo: Option<&str>) -> Build {
    let (commit, branch) = commit(&json.actions, repo);
    Build {
        number: json.number,
        url: json.url.clone().unwrap_or_default(),
        status: Status::from_jenkins_result(json.result.as_deref(), json.building),
        timestamp_ms: json.timestamp,
        duration_ms: json.duration.max(0),
        estimated_duration_ms: json.estimated_duration.filter(|e| *e > 0),
        causes: causes(&json.actions),
        commit,
        branch,
        parameters: parameters(&json.actions),
        tests: tests(&json.actions),
        stages: Vec::new(),
        pending_inputs: Vec::new(),
        queue_id: json.queue_id,
        artifacts: json
            .artifacts
            .iter()
            .map(|a| BuildArtifact {
                file_name: a.file_name.clone(),
                relative_path: a.relative_path.clone(),
            })
            .collect(),
        load_summary: None,
        scan: None,
    }
}

pub fn causes(actions: &[ActionJson]) -> Vec<Cause> {
    let mut out = Vec::new();
    for a in actions {
        for c in a.causes.iter().flatten() {
            let desc = c.short_description.clone().unwrap_or_default();
            let class = c.class.as_deref().unwrap_or("");
            let cause = if class.ends_with("GitHubPushCause") || desc.starts_with("Started by GitHub push") {
                let user = desc
                    .strip_prefix("Started by GitHub push by ")
                    .map(|u| u.trim().to_string());
                Cause::GithubPush { user }
            } else if class.ends_with("SCMTriggerCause") || desc == "Started by an SCM change" {
                Cause::ScmPoll
            } else if class.ends_with("TimerTriggerCause") || desc == "Started by timer" {
                Cause::Timer
            } else if class.ends_with("UserIdCause") || class.ends_with("UserCause") || c.user_name.is_some() {
                Cause::User {
                    id: c.user_id.clone(),
                    name: c.user_name.clone(),
                }
            } else if class.ends_with("UpstreamCause") || c.upstream_project.is_some() {
                Cause::Upstream {
                    project: c.upstream_project.clone().unwrap_or_default(),
                    build: c.upstream_build,
                }
            } else if class.ends_with("RemoteCause") {
                Cause::Remote { description: desc }
            } else if class.contains("jenkins.branch.") {
                Cause::BranchEvent { description: desc }
            } else {
                Cause::Other { description: desc }
            };
            if !out.contains(&cause) {
                out.push(cause);
            }
        }
    }
    out
}

/// The commit built, from the git BuildData whose remote is the service's repository. A Pipeline
/// that loads a shared library has several BuildData actions; without a repo to match, the first
/// (the Jenkinsfile's own checkout) is taken.
pub fn commit(actions: &[ActionJson], repo: Option<&str>) -> (Option<String>, Option<String>) {
    let build_data: Vec<&ActionJson> = actions
        .iter()
        .filter(|a| a.last_built_revision.is_some() && a.class.as_deref().is_none_or(|c| c.ends_with("BuildData")))
        .collect();
    let wanted = repo.map(normalise_remote);
    // With a repo to match and several candidates, guessing could name the shared library's
    // commit as the service's: better unknown than wrong.
    let chosen = match &wanted {
        Some(w) => build_data
            .iter()
            .find(|a| a.remote_urls.iter().flatten().any(|u| &normalise_remote(u) == w))
            .or(if build_data.len() == 1 {
                build_data.first()
            } else {
                None
            }),
        None => build_data.first(),
    };
    let Some(rev) = chosen.and_then(|a| a.last_built_revision.as_ref()) else {
        return (None, None);
    };
    let branch = rev.branch.first().and_then(|b| b.name.clone());
    (rev.sha1.clone(), branch)
}

/// `git@github.com:org/repo.git`, `https://github.com/org/repo` and `…/repo.git/` are one remote.
pub fn normalise_remote(url: &str) -> String {
    let mut u = url.trim().to_ascii_lowercase();
    for prefix in ["https://", "http://", "ssh://", "git://", "git@"] {
        if let Some(rest) = u.strip_prefix(prefix) {
            u = rest.to_string();
        }
    }
    if let Some(at) = u.find('@') {
        u = u[at + 1..].to_string();
    }
    u = u.replacen(':', "/", 1);
    let u = u.trim_end_matches('/');
    u.strip_suffix(".git").unwrap_or(u).to_string()
}

pub fn parameters(actions: &[ActionJson]) -> Vec<(String, String)> {
    actions
        .iter()
        .filter_map(|a| a.parameters.as_ref())
        .flatten()
        .filter_map(|p| Some((p.name.clone()?, value_text(&p.value))))
        .collect()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub fn tests(actions: &[ActionJson]) -> Option<TestCounts> {
    actions
        .iter()
        .find(|a| {
            a.total_count.is_some()
                && (a.class.as_deref().is_some_and(|c| c.contains("TestResultAction"))
                    || a.url_name.as_deref() == Some("testReport"))
        })
        .map(|a| TestCounts {
            total: a.total_count.unwrap_or(0),
            failed: a.fail_count.unwrap_or(0),
            skipped: a.skip_count.unwrap_or(0),
        })
}

pub fn param_defs(properties: &[JobProperty]) -> Vec<ParamDef> {
    properties
        .iter()
        .flat_map(|p| p.parameter_definitions.iter())
        .map(param_def)
        .collect()
}

pub fn param_def(p: &ParamDefJson) -> ParamDef {
    let kind_name = p
        .kind
        .clone()
        .unwrap_or_else(|| p.class.rsplit('.').next().unwrap_or("").to_string());
    let kind = match kind_name.as_str() {
        "StringParameterDefinition" => ParamKind::String,
        "TextParameterDefinition" => ParamKind::Text,
        "BooleanParameterDefinition" => ParamKind::Boolean,
        "PasswordParameterDefinition" => ParamKind::Password,
        "ChoiceParameterDefinition" => ParamKind::Choice {
            choices: p.choices.clone(),
        },
        other => ParamKind::Other {
            class: other.to_string(),
        },
    };
    let default = p
        .default_parameter_value
        .as_ref()
        .map(|v| value_text(&v.value))
        .or_else(|| match &kind {
            ParamKind::Choice { choices } => choices.first().cloned(),
            _ => None,
        });
    ParamDef {
        name: p.name.clone(),
        kind,
        description: p.description.clone().filter(|d| !d.is_empty()),
        default,
    }
}

pub fn stage(s: &StageJson) -> Stage {
    let own = s.error.as_ref();
    // The stage's own error is often generic; a failed step inside it says more.
    let step = s.stage_flow_nodes.iter().find_map(|n| n.error.as_ref());
    let error = own.or(step).map(|e| StageError {
        message: e.message.clone().unwrap_or_default(),
        kind: e.kind.clone().unwrap_or_default(),
    });
    Stage {
        id: s.id.clone(),
        name: s.name.clone(),
        status: Status::from_wfapi(&s.status),
        start_ms: s.start_time_millis,
        duration_ms: s.duration_millis.max(0),
        error,
    }
}

pub fn stages(run: &RunDescribe) -> Vec<Stage> {
    run.stages.iter().map(stage).collect()
}

pub fn pending_input(p: &PendingInputJson) -> PendingInput {
    PendingInput {
        id: p.id.clone(),
        message: p.message.clone().unwrap_or_default(),
        proceed_text: p.proceed_text.clone(),
        submitter: p.submitter.clone().filter(|s| !s.is_empty()),
        inputs: p
            .inputs
            .iter()
            .map(|i| match &i.definition {
                Some(d) => param_def(d),
                None => ParamDef {
                    name: i.name.clone(),
                    kind: match i.kind.as_deref() {
                        Some("BooleanParameterDefinition") => ParamKind::Boolean,
                        Some("PasswordParameterDefinition") => ParamKind::Password,
                        _ => ParamKind::String,
                    },
                    description: i.description.clone(),
                    default: None,
                },
            })
            .collect(),
        proceed_url: p.proceed_url.clone(),
        abort_url: p.abort_url.clone(),
    }
}
