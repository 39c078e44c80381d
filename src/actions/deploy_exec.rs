//! Executing the cluster and AWX actions, and the Kubernetes and AWX steps of a promotion:
//! patch the Deployment and follow its rollout, or launch the AWX template and follow its job.
//! Each outcome is recorded; follow-ups run in the background and record their own end.

use std::time::Duration;

use chrono::Utc;

use super::promotion::{AwxLaunch, RolloutStep};
use super::{ActionKind, Executor, Plan};
use crate::model::{ActionOutcome, RolloutPhase, WorkloadRef};
use crate::sources::kube::actions as kube_actions;

/// How long a rollout is followed before the cockpit stops watching (the Deployment's own
/// progress deadline decides failure long before, by default 600 s).
const FOLLOW_ROLLOUT: Duration = Duration::from_secs(900);
/// How long an AWX job is followed.
const FOLLOW_JOB: Duration = Duration::from_secs(3600);

impl Executor {
    pub(super) async fn run_deploy_action(&self, plan: &Plan) -> ActionOutcome {
        let result: Result<String, String> = match &plan.request.kind {
            ActionKind::UndoRollout {
                workload,
                to_revision,
                retag,
                ..
            } => match self.kube.client(&workload.cluster).await {
                Err(e) => Err(e.to_string()),
                Ok(client) => match kube_actions::rollout_undo(&client, workload, Some(*to_revision)).await {
                    Ok(undo) if undo.skipped => Ok(format!(
                        "revision {} already was the current template: nothing changed",
                        undo.to_revision
                    )),
                    Ok(undo) => {
                        self.follow_in_background(plan, client, workload.clone(), 0);
                        let tag_note = match retag {
                            Some(r) => self.retag_back(r).await,
                            None => String::new(),
                        };
                        Ok(format!(
                            "deployment/{} rolled back from revision {} to the template of revision {}; following the rollout{tag_note}",
                            workload.deployment,
                            undo.from_revision.map(|r| r.to_string()).unwrap_or_else(|| "?".into()),
                            undo.to_revision
                        ))
                    }
                    Err(e) => Err(e.to_string()),
                },
            },
            ActionKind::RestartWorkload { workload } => match self.kube.client(&workload.cluster).await {
                Err(e) => Err(e.to_string()),
                Ok(client) => match kube_actions::restart(&client, workload, Utc::now()).await {
                    Ok(_) => {
                        self.follow_in_background(plan, client, workload.clone(), 0);
                        Ok(format!(
                            "deployment/{} restarting; following the rollout",
                            workload.deployment
                        ))
                    }
                    Err(e) => Err(e.to_string()),
                },
            },
            ActionKind::ResumeRollout { workload } => match self.kube.client(&workload.cluster).await {
                Err(e) => Err(e.to_string()),
                Ok(client) => match kube_actions::resume(&client, workload).await {
                    Ok(_) => {
                        self.follow_in_background(plan, client, workload.clone(), 0);
                        Ok(format!(
                            "deployment/{} resumed; following the rollout",
                            workload.deployment
                        ))
                    }
                    Err(e) => Err(e.to_string()),
                },
            },
            ActionKind::AwxDecision {
                source, id, approve, ..
            } => match self.awx.get(source) {
                None => Err(format!("no AWX source named {source}")),
                Some(client) => {
                    let r = if *approve {
                        client.approve(*id).await
                    } else {
                        client.deny(*id).await
                    };
                    r.map(|_| {
                        if *approve {
                            "approved".to_string()
                        } else {
                            "denied".to_string()
                        }
                    })
                    .map_err(|e| e.to_string())
                }
            },
            _ => Err("not a deploy action".into()),
        };
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(e) => (false, e),
        };
        let outcome = self.finish(plan, ok, detail);
        if let Some(n) = self.refresh.get(&plan.request.source) {
            n.notify_one();
        }
        outcome
    }

    /// Point the environment's tag at the digest the rollback restored, so the registry keeps
    /// recording what runs. A failure here does not undo the rollback: it is said, and the Running
    /// link shows the mismatch until someone fixes the tag.
    async fn retag_back(&self, (source, repository, tag, digest): &(String, String, String, String)) -> String {
        let Some(registry) = self.registries.get(source) else {
            return format!("; no registry source named {source} to move {tag}");
        };
        match registry.retag(repository, digest, tag).await {
            Ok(_) => match registry.tag_digest(repository, tag).await {
                Ok(Some(d)) if &d == digest => format!("; {tag} points at {} again", &digest[..digest.len().min(19)]),
                Ok(other) => format!("; {tag} reads back as {}", other.unwrap_or_else(|| "nothing".into())),
                Err(e) => format!("; {tag} moved but could not be read back: {e}"),
            },
            Err(e) => format!("; {tag} could not be moved back: {e}"),
        }
    }

    /// Follow a rollout to its end in the background, and record that end as its own audit line.
    fn follow_in_background(&self, plan: &Plan, client: ::kube::Client, workload: WorkloadRef, min_generation: i64) {
        let exec = self.clone();
        let plan = plan.clone();
        tokio::spawn(async move {
            let end = kube_actions::follow_rollout(
                &client,
                &workload,
                min_generation,
                FOLLOW_ROLLOUT,
                |_: &crate::model::RolloutStatus| {},
            )
            .await;
            let (result, detail) = match end {
                Ok(s) if s.phase == RolloutPhase::Complete => ("ok", s.message),
                Ok(s) => ("failed", format!("{:?}: {}", s.phase, s.message)),
                Err(e) => ("failed", e.to_string()),
            };
            let _ = exec.record_as(&plan, "rollout_check", result, &detail);
            exec.notice(
                &plan,
                result == "ok",
                format!("deployment/{}: {detail}", workload.deployment),
            );
        });
    }

    /// Patch the Deployment to the pinned image; the rollout is followed in the background.
    pub(super) async fn rollout_step(&self, plan: &Plan, r: &RolloutStep, steps: &mut Vec<String>) -> bool {
        let w = &r.workload;
        let client = match self.kube.client(&w.cluster).await {
            Ok(c) => c,
            Err(e) => {
                steps.push(format!("cluster {}: {e}", w.cluster));
                return false;
            }
        };
        if r.current_image.as_deref() == Some(r.image.as_str()) {
            steps.push(format!(
                "deployment/{} already runs {}: not patched again",
                w.deployment, r.image
            ));
            return true;
        }
        match kube_actions::set_image(&client, w, &r.image, &super::audit::os_user()).await {
            Ok(set) => {
                steps.push(format!(
                    "deployment/{} container {} set to {} (generation {}); following the rollout",
                    w.deployment, w.container, r.image, set.generation
                ));
                self.follow_in_background(plan, client, w.clone(), set.generation);
                true
            }
            Err(e) => {
                steps.push(format!(
                    "deployment/{} could not be patched: {e}; the tag is already moved, promote again to patch only",
                    w.deployment
                ));
                false
            }
        }
    }

    /// Launch the AWX template with the version and digest; the job is followed in the background.
    pub(super) async fn launch_step(&self, plan: &Plan, l: &AwxLaunch, steps: &mut Vec<String>) -> bool {
        let Some(client) = self.awx.get(&l.source).cloned() else {
            steps.push(format!("no AWX source named {}", l.source));
            return false;
        };
        let Some(id) = l.template_id else {
            steps.push(format!("AWX {} does not list \"{}\"", l.source, l.template));
            return false;
        };
        let kind = crate::model::AwxKind::of(l.workflow);
        let vars = crate::sources::awx::extra_vars(l.extra_vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match client.launch(id, kind, &vars).await {
            Ok(launched) => {
                steps.push(format!(
                    "AWX launched \"{}\" as job {} with {}",
                    l.template,
                    launched.job_id,
                    l.extra_vars
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                let exec = self.clone();
                let plan = plan.clone();
                tokio::spawn(async move {
                    let end = client.follow(&launched, Duration::from_secs(2), FOLLOW_JOB).await;
                    let (ok, detail) = match end {
                        Ok(job) => (
                            job.status == crate::model::AwxJobStatus::Successful,
                            format!("AWX job {} {}", job.id, job.status.as_str()),
                        ),
                        Err(e) => (false, e.to_string()),
                    };
                    let _ = exec.record_as(&plan, "awx_job_check", if ok { "ok" } else { "failed" }, &detail);
                    exec.notice(&plan, ok, detail);
                });
                true
            }
            Err(e) => {
                steps.push(format!("AWX launch of \"{}\" failed: {e}", l.template));
                false
            }
        }
    }

    /// Tell the screen how a background follow-up ended.
    fn notice(&self, plan: &Plan, ok: bool, detail: String) {
        let _ = self.tx.send(crate::model::Update::Action(ActionOutcome {
            at: Utc::now(),
            summary: plan.title.clone(),
            ok,
            detail,
        }));
        if let Some(n) = self.refresh.get(&plan.request.source) {
            n.notify_one();
        }
    }
}
