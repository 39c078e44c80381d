//! One inbox of everything waiting for a human, across sources: Jenkins input steps, AWX workflow
//! approvals, paused rollouts. Pure: derived from the state on demand, never stored.
//!
//! Each item says who started the run and whether the operator may decide it. The four-eyes rule
//! (on a protected environment, whoever started a run may not approve it) is Flightdeck's own;
//! what the upstream server enforces by itself is listed apart, so nobody mistakes one for the
//! other.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{Cause, State};

/// Who may approve what, from the config (`[approvals]` and each source's `identity`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalPolicy {
    pub four_eyes: bool,
    /// The operator's identity per source name, compared with who started a run.
    pub identities: BTreeMap<String, String>,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            four_eyes: true,
            identities: BTreeMap::new(),
        }
    }
}

/// What an inbox item is, with what the actions need to address it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboxKind {
    JenkinsInput { job: String, build: u64, input_id: String },
    AwxApproval { id: u64, workflow_job: Option<u64> },
    PausedRollout { workload: super::WorkloadRef },
}

impl InboxKind {
    pub fn label(&self) -> &'static str {
        match self {
            InboxKind::JenkinsInput { .. } => "jenkins input",
            InboxKind::AwxApproval { .. } => "awx approval",
            InboxKind::PausedRollout { .. } => "paused rollout",
        }
    }
}

/// The four-eyes verdict for the operator on one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "why", rename_all = "snake_case")]
pub enum FourEyes {
    /// The rule applies and the operator is not the one who started the run.
    Clear,
    /// The operator started it: somebody else must approve.
    SelfApproval(String),
    /// The rule applies but Flightdeck cannot tell who the operator is on that source.
    UnknownOperator(String),
    /// Not a protected environment, or the rule is off in the config.
    NotApplicable(String),
}

impl FourEyes {
    pub fn allows(&self) -> bool {
        matches!(self, FourEyes::Clear | FourEyes::NotApplicable(_))
    }

    /// One sentence for the inbox and the confirm dialog.
    pub fn describe(&self) -> String {
        match self {
            FourEyes::Clear => "four-eyes: you did not start this run".into(),
            FourEyes::SelfApproval(why) | FourEyes::UnknownOperator(why) | FourEyes::NotApplicable(why) => why.clone(),
        }
    }
}

/// Decide four-eyes for one run. `environment` is `None` when Flightdeck cannot tell which
/// environment the run is for; that is treated as protected, because guessing wrong the other way
/// lets somebody approve their own production change.
pub fn four_eyes(
    policy: &ApprovalPolicy,
    state: &State,
    source: &str,
    environment: Option<&str>,
    started_by: Option<&str>,
) -> FourEyes {
    if !policy.four_eyes {
        return FourEyes::NotApplicable("four-eyes is off in the config ([approvals] four_eyes = false)".into());
    }
    let protected = match environment {
        Some(env) => match state.environment(env) {
            Some(e) => e.protected,
            None => true,
        },
        None => true,
    };
    if !protected {
        return FourEyes::NotApplicable(format!(
            "four-eyes not required: {} is not protected",
            environment.unwrap_or("?")
        ));
    }
    let Some(starter) = started_by.filter(|s| !s.trim().is_empty()) else {
        return FourEyes::Clear;
    };
    let Some(operator) = policy.identities.get(source) else {
        return FourEyes::UnknownOperator(format!(
            "four-eyes: cannot tell who you are on {source} (set `identity` in its config); {starter} started this run"
        ));
    };
    if same_identity(operator, starter) {
        FourEyes::SelfApproval(format!(
            "four-eyes: you ({operator}) started this run; another person must approve it"
        ))
    } else {
        FourEyes::Clear
    }
}

/// Identities compare without case and without an e-mail domain (`Erin@shop.example` is `erin`).
fn same_identity(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().split('@').next().unwrap_or("").to_ascii_lowercase();
    !norm(a).is_empty() && norm(a) == norm(b)
}

/// Something waiting for a human.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InboxItem {
    pub kind: InboxKind,
    /// The source it lives on (Jenkins, AWX or cluster name).
    pub source: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    /// What it waits for, in the upstream's words.
    pub waits_for: String,
    pub since: Option<DateTime<Utc>>,
    pub started_by: Option<String>,
    /// Restrictions the upstream server enforces itself.
    pub server_enforces: Vec<String>,
    /// Restrictions only Flightdeck enforces (a direct API call bypasses them).
    pub flightdeck_enforces: Vec<String>,
    pub four_eyes: FourEyes,
    /// Approve is possible at all (e.g. AWX's `can_approve_or_deny`, a rollout's rollback rules).
    pub can_approve: Result<(), String>,
    pub can_reject: Result<(), String>,
}

/// Everything waiting for a human, oldest first.
pub fn inbox(state: &State) -> Vec<InboxItem> {
    let mut items = jenkins_items(state);
    items.extend(paused_rollouts(state));
    items.extend(awx_approvals(state));
    items.sort_by_key(|i| i.since);
    items
}

fn jenkins_items(state: &State) -> Vec<InboxItem> {
    let policy = &state.approvals;
    let mut items = Vec::new();
    for service in &state.services {
        for job_name in service.jobs.build.iter().chain(service.jobs.deploy.iter()) {
            let Some(job) = state.jobs.get(job_name) else { continue };
            for build in &job.builds {
                for input in &build.pending_inputs {
                    let environment = build
                        .parameters
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("ENVIRONMENT"))
                        .map(|(_, v)| v.clone())
                        .or_else(|| environment_named_in(state, &input.message))
                        .or_else(|| environment_named_in(state, &input.id));
                    let started_by = started_by(&build.causes);
                    let four = four_eyes(
                        policy,
                        state,
                        &job.source,
                        environment.as_deref(),
                        started_by.as_deref(),
                    );
                    let mut server = Vec::new();
                    match &input.submitter {
                        Some(s) => server.push(format!("Jenkins allows only {s} to submit this input")),
                        None => server.push("Jenkins: anyone with Job/Build permission may submit".into()),
                    }
                    let mut ours = Vec::new();
                    if policy.four_eyes {
                        ours.push("four-eyes on protected environments (Flightdeck only)".into());
                    }
                    ours.push("typed confirmation on protected environments".into());
                    let since = build
                        .stages
                        .iter()
                        .rev()
                        .find(|s| s.status == super::Status::Paused)
                        .map(|s| s.start_ms)
                        .filter(|ms| *ms > 0)
                        .or(Some(build.timestamp_ms))
                        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
                    let can_approve = if four.allows() { Ok(()) } else { Err(four.describe()) };
                    items.push(InboxItem {
                        kind: InboxKind::JenkinsInput {
                            job: job.full_name.clone(),
                            build: build.number,
                            input_id: input.id.clone(),
                        },
                        source: job.source.clone(),
                        service: Some(service.name.clone()),
                        environment,
                        waits_for: input.message.clone(),
                        since,
                        started_by,
                        server_enforces: server,
                        flightdeck_enforces: ours,
                        four_eyes: four,
                        can_approve,
                        can_reject: Ok(()),
                    });
                }
            }
        }
    }
    items
}

/// Paused Deployments of configured workloads: resuming is the approval.
fn paused_rollouts(state: &State) -> Vec<InboxItem> {
    let policy = &state.approvals;
    let mut items = Vec::new();
    for service in &state.services {
        for (env, target) in &service.deploy {
            let Some(workload) = &target.kubernetes else { continue };
            let Some(view) = state.workload(workload) else { continue };
            let d = view.deployment;
            if !d.paused {
                continue;
            }
            let started_by = d.started_by.clone();
            let four = four_eyes(policy, state, &workload.cluster, Some(env), started_by.as_deref());
            let since = d
                .condition("Progressing")
                .and_then(|c| c.last_update)
                .or(view.current.and_then(|rs| rs.created));
            let image = view
                .current
                .and_then(|rs| rs.container(&workload.container))
                .map(|c| c.image.clone());
            let waits_for = match (&d.change_cause, image) {
                (Some(cause), _) => format!("paused rollout: {cause}"),
                (None, Some(img)) => format!("paused rollout of {img}"),
                (None, None) => "paused rollout".into(),
            };
            let mut ours = vec!["typed confirmation on protected environments".to_string()];
            if policy.four_eyes {
                ours.insert(0, "four-eyes on protected environments (Flightdeck only)".into());
            }
            items.push(InboxItem {
                kind: InboxKind::PausedRollout {
                    workload: workload.clone(),
                },
                source: workload.cluster.clone(),
                service: Some(service.name.clone()),
                environment: Some(env.clone()),
                waits_for,
                since,
                started_by,
                server_enforces: vec!["Kubernetes RBAC: patch on deployments in the namespace".into()],
                flightdeck_enforces: ours,
                can_approve: if four.allows() { Ok(()) } else { Err(four.describe()) },
                // `kubectl rollout undo` refuses a paused Deployment; so does Flightdeck.
                can_reject: Err(
                    "rollback refuses a paused Deployment: resume it first (as kubectl rollout undo does)".into(),
                ),
                four_eyes: four,
            });
        }
    }
    items
}

/// Pending AWX workflow approvals. The service and environment come from the workflow template
/// a service deploys with, matched by the workflow job's name (AWX names a job after its template).
fn awx_approvals(state: &State) -> Vec<InboxItem> {
    let policy = &state.approvals;
    let mut items = Vec::new();
    for (source, awx) in &state.awx {
        for a in awx.approvals.iter().filter(|a| a.is_pending()) {
            let used_by = awx
                .templates
                .iter()
                .find(|t| t.name == a.workflow_job_name)
                .and_then(|t| t.used_by.first().cloned());
            // Otherwise by name: `release-payments-api-production` names both.
            let (service, environment) = match used_by {
                Some((s, e)) => (Some(s), Some(e)),
                None => (
                    longest_contained(state.services.iter().map(|s| s.name.as_str()), &a.workflow_job_name),
                    longest_contained(state.environments.iter().map(|e| e.name.as_str()), &a.workflow_job_name),
                ),
            };
            let four = four_eyes(policy, state, source, environment.as_deref(), a.launched_by.as_deref());
            let mut server = vec![if a.can_approve_or_deny {
                "AWX RBAC: you hold approve permission on this workflow".to_string()
            } else {
                "AWX RBAC: you may not approve or deny this (can_approve_or_deny = false)".to_string()
            }];
            if let Some(exp) = a.approval_expiration {
                server.push(format!("AWX times it out at {}", exp.format("%Y-%m-%d %H:%M UTC")));
            }
            let mut ours = vec!["typed confirmation on protected environments".to_string()];
            if policy.four_eyes {
                ours.insert(
                    0,
                    "four-eyes on protected environments (Flightdeck only; AWX lets the launcher approve)".into(),
                );
            }
            let server_ok: Result<(), String> = if a.can_approve_or_deny {
                Ok(())
            } else {
                Err("AWX does not let you approve or deny this".into())
            };
            items.push(InboxItem {
                kind: InboxKind::AwxApproval {
                    id: a.id,
                    workflow_job: a.workflow_job_id,
                },
                source: source.clone(),
                service,
                environment,
                waits_for: a.name.clone(),
                since: a.created,
                started_by: a.launched_by.clone(),
                server_enforces: server,
                flightdeck_enforces: ours,
                can_approve: server_ok
                    .clone()
                    .and(if four.allows() { Ok(()) } else { Err(four.describe()) }),
                can_reject: server_ok,
                four_eyes: four,
            });
        }
    }
    items
}

/// Who started a Jenkins run: the user who clicked, or the GitHub user who pushed.
pub fn started_by(causes: &[Cause]) -> Option<String> {
    causes.iter().find_map(|c| match c {
        Cause::User { id, name } => id.clone().or_else(|| name.clone()),
        Cause::GithubPush { user } => user.clone(),
        _ => None,
    })
}

/// The longest of `names` that `text` contains (case-insensitive).
fn longest_contained<'a>(names: impl Iterator<Item = &'a str>, text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    names
        .filter(|n| !n.is_empty() && lower.contains(&n.to_ascii_lowercase()))
        .max_by_key(|n| n.len())
        .map(str::to_string)
}

/// An environment whose name appears as a word in `text` ("Deploy to production?").
fn environment_named_in(state: &State, text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    state
        .environments
        .iter()
        .find(|e| {
            let name = e.name.to_ascii_lowercase();
            lower
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_')
                .any(|w| w == name)
        })
        .map(|e| e.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Environment;

    fn state(four: bool, identity: Option<&str>) -> State {
        let mut s = State {
            environments: vec![
                Environment {
                    name: "staging".into(),
                    protected: false,
                    read_only: false,
                },
                Environment {
                    name: "production".into(),
                    protected: true,
                    read_only: false,
                },
            ],
            ..State::default()
        };
        s.approvals.four_eyes = four;
        if let Some(i) = identity {
            s.approvals.identities.insert("jenkins".into(), i.into());
        }
        s
    }

    fn verdict(s: &State, env: Option<&str>, starter: Option<&str>) -> FourEyes {
        four_eyes(&s.approvals, s, "jenkins", env, starter)
    }

    #[test]
    fn the_starter_cannot_approve_on_a_protected_environment() {
        let s = state(true, Some("alice"));
        assert!(matches!(
            verdict(&s, Some("production"), Some("alice")),
            FourEyes::SelfApproval(_)
        ));
        assert!(matches!(
            verdict(&s, Some("production"), Some("ALICE@shop.example")),
            FourEyes::SelfApproval(_)
        ));
        assert_eq!(verdict(&s, Some("production"), Some("dmitri")), FourEyes::Clear);
    }

    #[test]
    fn unprotected_environments_and_the_switch_turn_it_off() {
        let s = state(true, Some("alice"));
        assert!(matches!(
            verdict(&s, Some("staging"), Some("alice")),
            FourEyes::NotApplicable(_)
        ));
        let off = state(false, Some("alice"));
        assert!(verdict(&off, Some("production"), Some("alice")).allows());
    }

    #[test]
    fn unknown_environment_counts_as_protected() {
        let s = state(true, Some("alice"));
        assert!(matches!(verdict(&s, None, Some("alice")), FourEyes::SelfApproval(_)));
        assert!(matches!(
            verdict(&s, Some("dr-site"), Some("alice")),
            FourEyes::SelfApproval(_)
        ));
    }

    #[test]
    fn unknown_operator_is_refused_when_somebody_started_it() {
        let s = state(true, None);
        let v = verdict(&s, Some("production"), Some("alice"));
        assert!(matches!(v, FourEyes::UnknownOperator(_)));
        assert!(!v.allows());
        // A timer or SCM poll started it: nobody to compare with.
        assert_eq!(verdict(&s, Some("production"), None), FourEyes::Clear);
    }

    #[test]
    fn names_found_inside_a_workflow_name() {
        let names = ["payments-api", "payments", "production"];
        assert_eq!(
            longest_contained(names.into_iter(), "release-payments-api-production").as_deref(),
            Some("payments-api")
        );
        assert_eq!(longest_contained(["staging"].into_iter(), "release-x-production"), None);
    }

    #[test]
    fn environment_found_in_the_input_message() {
        let s = state(true, None);
        assert_eq!(
            environment_named_in(&s, "Deploy to production?").as_deref(),
            Some("production")
        );
        assert_eq!(environment_named_in(&s, "Proceed?"), None);
        assert_eq!(environment_named_in(&s, "non-production smoke"), None);
    }
}
