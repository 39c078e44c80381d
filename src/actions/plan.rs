//! What an action will do, spelled out before it happens, like `terraform plan` before `apply`.

use serde::Serialize;

use super::promotion::{Gate, Promotion};
use crate::model::{Environment, RegistryKind, State, WorkloadRef};
use crate::sources::jenkins::JenkinsClient;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionKind {
    TriggerBuild {
        job: String,
        params: Vec<(String, String)>,
        parameterised: bool,
    },
    ApproveInput {
        job: String,
        build: u64,
        input_id: String,
        message: String,
        params: Vec<(String, String)>,
    },
    RejectInput {
        job: String,
        build: u64,
        input_id: String,
        message: String,
    },
    AbortBuild {
        job: String,
        build: u64,
    },
    /// Move a candidate's image to an environment (or roll one back), by retag, deploy job or both.
    Promote(Box<Promotion>),
    /// `kubectl rollout undo`: the previous ReplicaSet's template back on the Deployment.
    UndoRollout {
        workload: WorkloadRef,
        from_revision: Option<i64>,
        to_revision: i64,
        /// The configured container's image in that revision.
        image: String,
        /// Move the environment's tag back to that image's digest too, so what was promoted and
        /// what runs stay the same: (registry source, repository, tag, digest).
        retag: Option<(String, String, String, String)>,
    },
    /// `kubectl rollout restart`: a new restartedAt annotation rolls every pod.
    RestartWorkload {
        workload: WorkloadRef,
    },
    /// Resume a paused rollout (the inbox's approve).
    ResumeRollout {
        workload: WorkloadRef,
    },
    /// Approve or deny a pending AWX workflow approval.
    AwxDecision {
        source: String,
        id: u64,
        name: String,
        approve: bool,
    },
}

impl ActionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::TriggerBuild { .. } => "trigger_build",
            ActionKind::ApproveInput { .. } => "approve_input",
            ActionKind::RejectInput { .. } => "reject_input",
            ActionKind::AbortBuild { .. } => "abort_build",
            ActionKind::Promote(p) if p.is_rollback() => "rollback",
            ActionKind::Promote(_) => "promote",
            ActionKind::UndoRollout { .. } => "rollout_undo",
            ActionKind::RestartWorkload { .. } => "rollout_restart",
            ActionKind::ResumeRollout { .. } => "rollout_resume",
            ActionKind::AwxDecision { approve: true, .. } => "awx_approve",
            ActionKind::AwxDecision { approve: false, .. } => "awx_deny",
        }
    }

    pub fn job(&self) -> &str {
        match self {
            ActionKind::TriggerBuild { job, .. }
            | ActionKind::ApproveInput { job, .. }
            | ActionKind::RejectInput { job, .. }
            | ActionKind::AbortBuild { job, .. } => job,
            ActionKind::Promote(p) => p.deploy.as_ref().map(|d| d.job.as_str()).unwrap_or(""),
            _ => "",
        }
    }
}

/// An operator's intent, as the UI expresses it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionRequest {
    pub kind: ActionKind,
    pub service: String,
    /// The Jenkins source the job lives on.
    pub source: String,
    /// The environment this action affects, when it affects one.
    pub environment: Option<String>,
}

impl ActionRequest {
    /// Identity used to refuse the same action twice while the first is in flight.
    pub fn key(&self) -> String {
        match &self.kind {
            ActionKind::TriggerBuild { job, .. } => format!("{}:trigger:{job}", self.source),
            ActionKind::ApproveInput {
                job, build, input_id, ..
            }
            | ActionKind::RejectInput {
                job, build, input_id, ..
            } => {
                format!("{}:input:{job}#{build}:{input_id}", self.source)
            }
            ActionKind::AbortBuild { job, build } => format!("{}:abort:{job}#{build}", self.source),
            // One promotion per service and environment at a time, whatever the candidate.
            ActionKind::Promote(p) => format!("promote:{}:{}", p.service, p.target),
            // One change per Deployment at a time, whatever the kind.
            ActionKind::UndoRollout { workload, .. }
            | ActionKind::RestartWorkload { workload }
            | ActionKind::ResumeRollout { workload } => {
                format!(
                    "workload:{}/{}/{}",
                    workload.cluster, workload.namespace, workload.deployment
                )
            }
            ActionKind::AwxDecision { source, id, .. } => format!("awx:{source}:approval:{id}"),
        }
    }

    pub fn target(&self) -> String {
        match &self.kind {
            ActionKind::TriggerBuild { job, .. } => format!("{}:{job}", self.source),
            ActionKind::ApproveInput {
                job, build, input_id, ..
            }
            | ActionKind::RejectInput {
                job, build, input_id, ..
            } => {
                format!("{}:{job}#{build} input {input_id}", self.source)
            }
            ActionKind::AbortBuild { job, build } => format!("{}:{job}#{build}", self.source),
            ActionKind::Promote(p) => format!("{}:{} → {} ({})", p.reference, p.source_tag, p.tag, p.digest),
            ActionKind::UndoRollout { workload, .. }
            | ActionKind::RestartWorkload { workload }
            | ActionKind::ResumeRollout { workload } => format!(
                "{}:{}/deployment/{}",
                workload.cluster, workload.namespace, workload.deployment
            ),
            ActionKind::AwxDecision { source, id, name, .. } => format!("{source}:workflow_approval {id} ({name})"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedCall {
    pub method: String,
    pub url: String,
    pub why: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "confirm", content = "word", rename_all = "snake_case")]
pub enum Confirm {
    /// Enter (or `y`) confirms.
    Yes,
    /// The operator must type this word (the service name) to confirm.
    TypeName(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub request: ActionRequest,
    /// One line: "Approve input 'Deploy to production?' of dominion/payments-api #42".
    pub title: String,
    pub calls: Vec<PlannedCall>,
    /// What the operator should know before confirming.
    pub notes: Vec<String>,
    pub environment: Option<Environment>,
    pub confirm: Confirm,
    /// A promotion's gates: the candidate's chain, link by link.
    pub gates: Vec<Gate>,
    /// What keeps the action from running; policy refuses while there is any.
    pub blockers: Vec<String>,
}

/// Turn a request into a plan against the current state. `base_url` is the Jenkins base URL of the
/// request's source, so the plan can list the exact calls.
pub fn plan(request: ActionRequest, state: &State) -> Plan {
    let base = state
        .sources
        .get(&request.source)
        .map(|h| h.url.clone())
        .unwrap_or_default();
    let job_url = |job: &str| job_url_on(&base, job);
    let mut notes = Vec::new();
    let mut gates = Vec::new();
    let mut blockers = Vec::new();
    let (title, calls) = match &request.kind {
        ActionKind::Promote(p) => {
            gates = p.gates.clone();
            blockers = p.blockers.clone();
            notes.extend(p.warnings.iter().cloned());
            (p.title(), promotion_calls(p, state))
        }
        ActionKind::TriggerBuild {
            job,
            params,
            parameterised,
        } => {
            let verb = if *parameterised { "buildWithParameters" } else { "build" };
            let mut calls = vec![PlannedCall {
                method: "POST".into(),
                url: format!("{}{verb}", job_url(job)),
                why: if params.is_empty() {
                    "queue a build".into()
                } else {
                    format!(
                        "queue a build with {}",
                        params
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                },
            }];
            calls.push(PlannedCall {
                method: "GET".into(),
                url: format!("{base}queue/item/<id>/api/json"),
                why: "follow the queue item until it becomes a build".into(),
            });
            if let Some((j, b)) = state.jobs.get(job).and_then(|j| j.latest().map(|b| (j, b)))
                && b.status.is_active()
            {
                notes.push(format!(
                    "{} #{} is still {}; Jenkins may queue this one behind it",
                    j.full_name,
                    b.number,
                    b.status.label()
                ));
            }
            let title = match &request.environment {
                Some(env) => format!("Trigger a build of {job} for {env}"),
                None => format!("Trigger a build of {job}"),
            };
            (title, calls)
        }
        ActionKind::ApproveInput {
            job,
            build,
            input_id,
            message,
            params,
        } => {
            let verb = if params.is_empty() { "proceedEmpty" } else { "proceed" };
            let calls = vec![PlannedCall {
                method: "POST".into(),
                url: format!(
                    "{}{build}/input/{}/{verb}",
                    job_url(job),
                    JenkinsClient::segment(input_id)
                ),
                why: "let the pipeline proceed".into(),
            }];
            (format!("Approve \"{message}\" of {job} #{build}"), calls)
        }
        ActionKind::RejectInput {
            job,
            build,
            input_id,
            message,
        } => {
            let calls = vec![PlannedCall {
                method: "POST".into(),
                url: format!(
                    "{}{build}/input/{}/abort",
                    job_url(job),
                    JenkinsClient::segment(input_id)
                ),
                why: "reject the input; the build ends ABORTED".into(),
            }];
            (format!("Reject \"{message}\" of {job} #{build}"), calls)
        }
        ActionKind::AbortBuild { job, build } => {
            let calls = vec![PlannedCall {
                method: "POST".into(),
                url: format!("{}{build}/stop", job_url(job)),
                why: "abort the running build".into(),
            }];
            (format!("Abort {job} #{build}"), calls)
        }
        kind => super::deploy_plan::title_and_calls(kind, state, &request, &mut notes, &mut blockers),
    };
    if let Some(h) = state.sources.get(&request.source) {
        let now = chrono::Utc::now();
        if h.consecutive_failures > 0 || h.is_stale(now) {
            let age = h
                .last_success
                .map(|t| format!("{}s", (now - t).num_seconds().max(0)))
                .unwrap_or_else(|| "ever".into());
            notes.push(format!(
                "{} has not answered for {age} ({}): what you see may be out of date",
                request.source,
                h.last_error.as_deref().unwrap_or("no answer")
            ));
        }
    }
    for (name, value) in match &request.kind {
        ActionKind::TriggerBuild { params, .. } | ActionKind::ApproveInput { params, .. } => params.as_slice(),
        _ => &[],
    } {
        if value.trim().is_empty() {
            notes.push(format!("parameter {name} is empty"));
        }
    }
    let environment = request.environment.as_ref().and_then(|e| state.environment(e)).cloned();
    let confirm = match &environment {
        Some(env) if env.protected => {
            notes.push(format!("{} is a protected environment", env.name));
            Confirm::TypeName(request.service.clone())
        }
        _ => Confirm::Yes,
    };
    Plan {
        request,
        title,
        calls,
        notes,
        environment,
        confirm,
        gates,
        blockers,
    }
}

/// Every call a promotion makes, in order, with why.
fn promotion_calls(p: &Promotion, state: &State) -> Vec<PlannedCall> {
    let call = |method: &str, url: String, why: String| PlannedCall {
        method: method.into(),
        url,
        why,
    };
    let short = |d: &str| d.chars().take(19).collect::<String>();
    let mut calls = Vec::new();
    if p.strategy.retags() {
        let now = match &p.current {
            Some(d) if d == &p.digest => format!("{} already points at {}: nothing will be written", p.tag, short(d)),
            Some(d) => format!("{} points at {} now", p.tag, short(d)),
            None => format!("{} does not exist yet", p.tag),
        };
        match p.registry {
            RegistryKind::Oci => {
                let base = format!(
                    "{}/v2/{}/manifests/",
                    p.registry_url.trim_end_matches('/'),
                    p.repository
                );
                calls.push(call(
                    "HEAD",
                    format!("{base}{}", p.tag),
                    format!("check what {} points at ({now})", p.tag),
                ));
                calls.push(call(
                    "GET",
                    format!("{base}{}", p.digest),
                    format!(
                        "the manifest bytes of {} ({}), every manifest type accepted",
                        p.source_tag,
                        short(&p.digest)
                    ),
                ));
                calls.push(call(
                    "PUT",
                    format!("{base}{}", p.tag),
                    "the same bytes under the environment's tag: digest unchanged, no blob copied".into(),
                ));
                calls.push(call(
                    "HEAD",
                    format!("{base}{}", p.tag),
                    format!("check {} now points at {}", p.tag, short(&p.digest)),
                ));
            }
            RegistryKind::Ecr => {
                let target = format!("ECR {} ({})", p.repository, p.registry_source);
                calls.push(call(
                    "ECR",
                    format!("DescribeImages {} tag {}", p.repository, p.tag),
                    format!("check what {} points at ({now})", p.tag),
                ));
                calls.push(call(
                    "ECR",
                    format!("BatchGetImage {} {}", p.repository, short(&p.digest)),
                    format!("the manifest of {} as stored in {target}", p.source_tag),
                ));
                calls.push(call(
                    "ECR",
                    format!("PutImage {} tag {}", p.repository, p.tag),
                    "the same manifest under the environment's tag: digest unchanged (ImageAlreadyExists counts as done)".into(),
                ));
                calls.push(call(
                    "ECR",
                    format!("DescribeImages {} tag {}", p.repository, p.tag),
                    format!("check {} now points at {}", p.tag, short(&p.digest)),
                ));
            }
        }
    }
    if let Some(d) = &p.deploy {
        let base = state.sources.get(&d.source).map(|h| h.url.clone()).unwrap_or_default();
        match d.already {
            Some((n, status)) => calls.push(call(
                "—",
                format!("{}{n}/", job_url_on(&base, &d.job)),
                format!(
                    "#{n} already deployed this digest to {} ({}): not triggered again",
                    p.target,
                    status.label()
                ),
            )),
            None => {
                let params: Vec<String> = d.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                calls.push(call(
                    "POST",
                    format!("{}buildWithParameters", job_url_on(&base, &d.job)),
                    format!("run the deploy job with {}", params.join(" ")),
                ));
                calls.push(call(
                    "GET",
                    format!("{base}queue/item/<id>/api/json"),
                    "follow the queue item until it becomes a build".into(),
                ));
                calls.push(call(
                    "GET",
                    format!("{}<n>/api/json", job_url_on(&base, &d.job)),
                    "follow the build to its end; approve its input with `a` when it asks".into(),
                ));
            }
        }
    }
    if let Some(r) = &p.rollout {
        let url = format!(
            "/apis/apps/v1/namespaces/{}/deployments/{} ({})",
            r.workload.namespace, r.workload.deployment, r.workload.cluster
        );
        calls.push(call(
            "PATCH",
            url.clone(),
            format!(
                "strategic merge: container {} image → …@{}",
                r.workload.container,
                r.image.rsplit('@').next().map(|d| &d[..d.len().min(19)]).unwrap_or("?")
            ),
        ));
        calls.push(call(
            "WATCH",
            url,
            "follow the rollout as kubectl rollout status does, until complete or failed".into(),
        ));
    }
    if let Some(l) = &p.launch {
        let kind = if l.workflow {
            "workflow_job_templates"
        } else {
            "job_templates"
        };
        let id = l.template_id.map(|i| i.to_string()).unwrap_or_else(|| "?".into());
        let base = format!("{}/api/v2/{kind}/{id}/launch/", l.server.trim_end_matches('/'));
        calls.push(call(
            "GET",
            base.clone(),
            "check the template accepts the extra vars".into(),
        ));
        calls.push(call(
            "POST",
            base,
            format!(
                "launch \"{}\" with {}; fail if AWX answers with ignored_fields",
                l.template,
                l.extra_vars
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ));
        calls.push(call(
            "GET",
            format!("{}/api/v2/jobs/<id>/", l.server.trim_end_matches('/')),
            "follow the job to its end".into(),
        ));
    }
    calls
}

/// The same URL scheme as the Jenkins client, from a base URL string.
pub fn job_url_on(base: &str, job: &str) -> String {
    let mut out = base.to_string();
    if !out.ends_with('/') {
        out.push('/');
    }
    for segment in job.split('/').filter(|s| !s.is_empty()) {
        out.push_str("job/");
        out.push_str(&JenkinsClient::segment(segment));
        out.push('/');
    }
    out
}
