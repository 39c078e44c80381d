//! Pure mapping of AWX payloads to the model, and the small text jobs around them: timestamps,
//! extra variables (JSON or YAML text), output tails, error bodies, web UI links.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::api::{ApprovalJson, JobJson, TemplateJson};
use crate::model::{AwxApproval, AwxJob, AwxJobStatus, AwxKind, AwxTemplate};

/// How many lines of a job's output the cockpit keeps.
pub const TAIL_LINES: usize = 40;

/// AWX writes `2019-10-01T14:34:35.142483Z`; anything unreadable is no time at all.
pub fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    let s = s?.trim();
    if s.is_empty() {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Extra variables as AWX stores them: JSON text, or YAML text (only its top-level
/// `key: value` lines are read; nested values are left out).
pub fn extra_vars(text: Option<&str>) -> BTreeMap<String, String> {
    let text = text.unwrap_or("").trim();
    if text.is_empty() {
        return BTreeMap::new();
    }
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
        return map.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect();
    }
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t', '-', '#']) || line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        out.insert(key.trim().to_string(), unquoted.to_string());
    }
    out
}

/// Drops ANSI escape sequences (`\x1b[0;31m` and friends) from a line of output.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// The last `n` lines of a job's output, without colour codes or trailing blank lines.
pub fn tail(text: &str, n: usize) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(|l| strip_ansi(l.trim_end_matches('\r'))).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let start = lines.len().saturating_sub(n);
    lines.split_off(start)
}

/// Who launched a job: `launched_by` (AWX 9+, top level or in `summary_fields`), else the
/// user who created it.
pub fn launched_by(j: &JobJson) -> Option<String> {
    j.launched_by
        .as_ref()
        .or(j.summary_fields.launched_by.as_ref())
        .map(|l| l.name.clone())
        .filter(|n| !n.is_empty())
        .or_else(|| {
            j.summary_fields
                .created_by
                .as_ref()
                .map(|u| u.username.clone())
                .filter(|n| !n.is_empty())
        })
}

/// Web UI links below the server's base URL (which ends in `/`).
pub fn job_ui_url(base: &str, kind: AwxKind, id: u64) -> String {
    match kind {
        AwxKind::Job => format!("{base}#/jobs/playbook/{id}/output"),
        AwxKind::Workflow => format!("{base}#/jobs/workflow/{id}/output"),
    }
}

pub fn template_ui_url(base: &str, kind: AwxKind, id: u64) -> String {
    match kind {
        AwxKind::Job => format!("{base}#/templates/job_template/{id}/details"),
        AwxKind::Workflow => format!("{base}#/templates/workflow_job_template/{id}/details"),
    }
}

pub fn approval_ui_url(base: &str, id: u64) -> String {
    format!("{base}#/workflow_approvals/{id}/details")
}

fn kind_of_job(j: &JobJson, fallback: AwxKind) -> AwxKind {
    match j.kind.as_str() {
        "workflow_job" => AwxKind::Workflow,
        "job" => AwxKind::Job,
        _ => fallback,
    }
}

/// A job (or workflow job) without its output tail.
pub fn job(j: &JobJson, base: &str, fallback: AwxKind) -> AwxJob {
    let kind = kind_of_job(j, fallback);
    AwxJob {
        id: j.id,
        kind,
        name: j.name.clone(),
        status: AwxJobStatus::parse(&j.status),
        template_id: j.unified_job_template.or(j.job_template).or(j.workflow_job_template),
        created: time(j.created.as_deref()),
        started: time(j.started.as_deref()),
        finished: time(j.finished.as_deref()),
        elapsed: j.elapsed.filter(|e| e.is_finite() && *e >= 0.0),
        launched_by: launched_by(j),
        launch_type: j.launch_type.clone().unwrap_or_default(),
        job_explanation: j.job_explanation.clone().unwrap_or_default(),
        extra_vars: extra_vars(j.extra_vars.as_deref()),
        stdout_tail: None,
        workflow_job_id: j.summary_fields.source_workflow_job.as_ref().and_then(|w| w.id),
        url: job_ui_url(base, kind, j.id),
    }
}

/// A template with what the poller read around it.
pub fn template(
    t: &TemplateJson,
    base: &str,
    fallback: AwxKind,
    survey_variables: Vec<String>,
    used_by: Vec<(String, String)>,
    jobs: Vec<AwxJob>,
) -> AwxTemplate {
    let kind = match t.kind.as_str() {
        "workflow_job_template" => AwxKind::Workflow,
        "job_template" => AwxKind::Job,
        _ => fallback,
    };
    AwxTemplate {
        id: t.id,
        name: t.name.clone(),
        kind,
        description: t.description.clone(),
        playbook: t.playbook.clone().unwrap_or_default(),
        ask_variables_on_launch: t.ask_variables_on_launch,
        survey_enabled: t.survey_enabled,
        survey_variables,
        last_status: t.status.as_deref().map(AwxJobStatus::parse).unwrap_or_default(),
        last_job_run: time(t.last_job_run.as_deref()),
        used_by,
        jobs,
        url: template_ui_url(base, kind, t.id),
    }
}

/// A workflow approval; `launched_by` is the workflow job's launcher when the caller read it.
pub fn approval(a: &ApprovalJson, base: &str, launched_by: Option<String>) -> AwxApproval {
    let workflow = a
        .summary_fields
        .source_workflow_job
        .as_ref()
        .or(a.summary_fields.workflow_job.as_ref());
    AwxApproval {
        id: a.id,
        name: a.name.clone(),
        description: a.description.clone(),
        status: AwxJobStatus::parse(&a.status),
        created: time(a.created.as_deref()),
        approval_expiration: time(a.approval_expiration.as_deref()),
        timed_out: a.timed_out,
        can_approve_or_deny: a.can_approve_or_deny,
        workflow_job_id: workflow.and_then(|w| w.id),
        workflow_job_name: workflow.map(|w| w.name.clone()).unwrap_or_default(),
        workflow_template_id: a.summary_fields.workflow_job_template.as_ref().and_then(|t| t.id),
        launched_by: launched_by.or_else(|| {
            a.summary_fields
                .created_by
                .as_ref()
                .map(|u| u.username.clone())
                .filter(|n| !n.is_empty())
        }),
        url: approval_ui_url(base, a.id),
    }
}

/// AWX's error body in one line: `{"detail": …}` (permissions, not found), `{"error": …}`
/// (approvals), or field errors (`{"variables_needed_to_start": ["'version' value missing"]}`).
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let text = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join("; "),
            other => other.to_string(),
        }
    };
    let obj = v.as_object()?;
    for key in ["detail", "error", "msg"] {
        if let Some(m) = obj.get(key) {
            return Some(text(m));
        }
    }
    let parts: Vec<String> = obj.iter().map(|(k, v)| format!("{k}: {}", text(v))).collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The names of what AWX dropped from a launch: each ignored extra variable by name, any other
/// ignored field (`limit`, `inventory`…) by its own.
pub fn ignored_names(ignored: &BTreeMap<String, Value>) -> Vec<String> {
    let mut names = Vec::new();
    for (field, value) in ignored {
        match (field.as_str(), value) {
            ("extra_vars", Value::Object(vars)) if !vars.is_empty() => {
                let mut keys: Vec<String> = vars.keys().cloned().collect();
                keys.sort();
                names.extend(keys);
            }
            ("extra_vars", Value::String(s)) if !s.trim().is_empty() => {
                let vars = extra_vars(Some(s));
                if vars.is_empty() {
                    names.push(field.clone());
                } else {
                    names.extend(vars.into_keys());
                }
            }
            (_, Value::Null) => {}
            (_, Value::Object(m)) if m.is_empty() => {}
            (_, Value::Array(a)) if a.is_empty() => {}
            (_, Value::String(s)) if s.is_empty() => {}
            _ => names.push(field.clone()),
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_vars_from_json_and_yaml() {
        let j = extra_vars(Some("{\"num_messages\": 94, \"version\": \"1.4.2\", \"dry\": false}"));
        assert_eq!(j["num_messages"], "94");
        assert_eq!(j["version"], "1.4.2");
        assert_eq!(j["dry"], "false");
        let y = extra_vars(Some(
            "---\nversion: '3.1.79'\ndigest: \"sha256:ab\"\nhosts:\n  - app-1\n# note\n",
        ));
        assert_eq!(y.get("version").map(String::as_str), Some("3.1.79"));
        assert_eq!(y.get("digest").map(String::as_str), Some("sha256:ab"));
        assert!(!y.contains_key("hosts"));
        assert!(extra_vars(Some("")).is_empty());
        assert!(extra_vars(None).is_empty());
    }

    #[test]
    fn tails_without_colour() {
        let text = "a\r\n\u{1b}[0;31mfatal: [app-2]: FAILED!\u{1b}[0m\nlast\n\n\n";
        assert_eq!(tail(text, 2), vec!["fatal: [app-2]: FAILED!", "last"]);
        assert_eq!(tail("", 40), Vec::<String>::new());
        assert_eq!(tail("one", 40), vec!["one"]);
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(br#"{"error":"This workflow step has already been approved or denied."}"#).as_deref(),
            Some("This workflow step has already been approved or denied.")
        );
        assert_eq!(
            error_message(br#"{"variables_needed_to_start":["'version' value missing"]}"#).as_deref(),
            Some("variables_needed_to_start: 'version' value missing")
        );
        assert_eq!(
            error_message(br#"{"detail":"You do not have permission to perform this action."}"#).as_deref(),
            Some("You do not have permission to perform this action.")
        );
        assert_eq!(error_message(b"<html>"), None);
        assert_eq!(error_message(b"[1,2]"), None);
    }

    #[test]
    fn ignored_fields_named() {
        let v: BTreeMap<String, Value> =
            serde_json::from_str(r#"{"extra_vars":{"version":"1","digest":"d"},"limit":"app-1","inventory":null}"#)
                .unwrap();
        assert_eq!(ignored_names(&v), vec!["digest", "version", "limit"]);
        let none: BTreeMap<String, Value> = serde_json::from_str(r#"{"extra_vars":{}}"#).unwrap();
        assert!(ignored_names(&none).is_empty());
    }

    #[test]
    fn times() {
        assert!(time(Some("2019-10-01T14:34:35.142483Z")).is_some());
        assert!(time(Some("yesterday")).is_none());
        assert!(time(Some("")).is_none());
    }
}
