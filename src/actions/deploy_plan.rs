//! Plans of the cluster and AWX actions: a title, the exact calls, and what blocks them.

use super::plan::{ActionKind, ActionRequest, PlannedCall};
use crate::model::{State, WorkloadRef};

fn deployment_url(w: &WorkloadRef) -> String {
    format!(
        "/apis/apps/v1/namespaces/{}/deployments/{} ({})",
        w.namespace, w.deployment, w.cluster
    )
}

pub(super) fn title_and_calls(
    kind: &ActionKind,
    state: &State,
    request: &ActionRequest,
    notes: &mut Vec<String>,
    blockers: &mut Vec<String>,
) -> (String, Vec<PlannedCall>) {
    let call = |method: &str, url: String, why: &str| PlannedCall {
        method: method.into(),
        url,
        why: why.into(),
    };
    let env = request.environment.as_deref().unwrap_or("?");
    match kind {
        ActionKind::UndoRollout {
            workload,
            from_revision,
            to_revision,
            image,
            retag,
        } => {
            let url = deployment_url(workload);
            if let Some(view) = state.workload(workload) {
                if view.deployment.paused {
                    blockers.push(format!(
                        "deployment/{} is paused: resume it first (kubectl rollout undo refuses a paused Deployment too)",
                        workload.deployment
                    ));
                }
            } else {
                blockers.push(format!("deployment/{} has not been seen yet", workload.deployment));
            }
            notes.push(format!("the container {} goes back to {image}", workload.container));
            notes
                .push("the controller gives that template a new, higher revision; nothing rolls back by itself".into());
            let calls = vec![
                call("GET", url.clone(), "read the Deployment"),
                call(
                    "GET",
                    format!(
                        "{} /apis/apps/v1/namespaces/{}/replicasets?labelSelector=…",
                        state
                            .sources
                            .get(&workload.cluster)
                            .map(|h| h.url.as_str())
                            .unwrap_or(""),
                        workload.namespace
                    ),
                    "find its ReplicaSets and their revisions",
                ),
                call(
                    "PATCH",
                    url,
                    "application/json-patch+json: replace /spec/template with that revision's, and the annotations",
                ),
            ];
            let mut calls = calls;
            if let Some((source, repository, tag, digest)) = retag {
                calls.push(call(
                    "PUT",
                    format!("{source}: {repository}:{tag} → {}", &digest[..digest.len().min(19)]),
                    "move the environment's tag back with it (same manifest bytes), then read it back",
                ));
            }
            let from = from_revision.map(|r| format!(" from revision {r}")).unwrap_or_default();
            (
                format!(
                    "Roll back {} in {env}{from} to revision {to_revision} (kubectl rollout undo)",
                    request.service
                ),
                calls,
            )
        }
        ActionKind::RestartWorkload { workload } => {
            if state.workload(workload).is_none() {
                blockers.push(format!("deployment/{} has not been seen yet", workload.deployment));
            }
            notes.push("every pod is replaced, respecting the Deployment's surge and unavailability limits".into());
            (
                format!("Restart {} in {env} (kubectl rollout restart)", request.service),
                vec![call(
                    "PATCH",
                    deployment_url(workload),
                    "strategic merge: spec.template.metadata.annotations[kubectl.kubernetes.io/restartedAt] = now",
                )],
            )
        }
        ActionKind::ResumeRollout { workload } => {
            match state.workload(workload) {
                Some(v) if !v.deployment.paused => {
                    blockers.push(format!("deployment/{} is not paused", workload.deployment))
                }
                None => blockers.push(format!("deployment/{} has not been seen yet", workload.deployment)),
                Some(v) => notes.push(format!("rollout now: {}", v.status.message)),
            }
            (
                format!("Resume the paused rollout of {} in {env}", request.service),
                vec![call(
                    "PATCH",
                    deployment_url(workload),
                    "strategic merge: spec.paused = false; the rollout continues",
                )],
            )
        }
        ActionKind::AwxDecision {
            source,
            id,
            name,
            approve,
        } => {
            let server = state.sources.get(source).map(|h| h.url.clone()).unwrap_or_default();
            let verb = if *approve { "approve" } else { "deny" };
            let pending = state
                .awx
                .get(source)
                .and_then(|a| a.approvals.iter().find(|x| x.id == *id));
            match pending {
                None => blockers.push(format!("approval {id} is no longer pending on {source}")),
                Some(a) if !a.can_approve_or_deny => blockers.push(format!(
                    "AWX says you may not approve or deny \"{}\" (can_approve_or_deny = false)",
                    a.name
                )),
                Some(_) => {}
            }
            (
                format!("{} \"{name}\" on {source}", if *approve { "Approve" } else { "Deny" }),
                vec![call(
                    "POST",
                    format!(
                        "{}/api/v2/workflow_approvals/{id}/{verb}/",
                        server.trim_end_matches('/')
                    ),
                    if *approve {
                        "the workflow continues past the approval node"
                    } else {
                        "the workflow stops at the approval node and fails"
                    },
                )],
            )
        }
        _ => (String::new(), Vec::new()),
    }
}
