//! Executing a confirmed promotion: move the tag (when the strategy retags), check it, run the
//! deploy job (when it deploys) and follow it to its end, recording each outcome. Every step is
//! idempotent, so after a failure halfway, promoting again completes what is left.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::promotion::Promotion;
use super::{Executor, Plan};
use crate::config::EcrSourceConfig;
use crate::model::{ActionOutcome, QueueState, Status, Update};
use crate::sources::ecr::EcrClient;
use crate::sources::http::HttpError;
use crate::sources::jenkins::{JenkinsClient, actions as jenkins, api::BuildJson, map};
use crate::sources::registry::RegistryClient;
use crate::sources::retag::RetagOutcome;

/// A registry a promotion can move tags in.
#[derive(Clone)]
pub enum ImageRegistry {
    Oci(Arc<RegistryClient>),
    /// ECR's client is made on first use: loading AWS credentials is asynchronous.
    Ecr(Arc<LazyEcr>),
}

pub struct LazyEcr {
    cfg: EcrSourceConfig,
    client: tokio::sync::OnceCell<EcrClient>,
}

impl LazyEcr {
    pub fn new(cfg: EcrSourceConfig) -> LazyEcr {
        LazyEcr {
            cfg,
            client: tokio::sync::OnceCell::new(),
        }
    }

    async fn get(&self) -> &EcrClient {
        self.client.get_or_init(|| EcrClient::new(&self.cfg)).await
    }
}

impl ImageRegistry {
    pub async fn tag_digest(&self, repository: &str, tag: &str) -> Result<Option<String>, HttpError> {
        match self {
            ImageRegistry::Oci(c) => Ok(c.head(repository, tag).await?.map(|h| h.digest)),
            ImageRegistry::Ecr(c) => c.get().await.tag_digest(repository, tag).await,
        }
    }

    pub async fn retag(&self, repository: &str, digest: &str, tag: &str) -> Result<RetagOutcome, HttpError> {
        match self {
            ImageRegistry::Oci(c) => c.retag(repository, digest, tag).await,
            ImageRegistry::Ecr(c) => c.get().await.retag(repository, digest, tag).await,
        }
    }
}

fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

impl Executor {
    pub(super) async fn promote(&self, plan: &Plan, p: &Promotion) -> ActionOutcome {
        let mut steps: Vec<String> = Vec::new();
        let mut ok = true;
        if p.strategy.retags() {
            ok = self.retag_step(p, &mut steps).await;
        }
        if let Some(r) = &p.rollout {
            if ok {
                ok = self.rollout_step(plan, r, &mut steps).await;
            } else {
                steps.push(format!(
                    "deployment/{} not patched because the retag did not complete",
                    r.workload.deployment
                ));
            }
        }
        if let Some(l) = &p.launch {
            if ok {
                ok = self.launch_step(plan, l, &mut steps).await;
            } else {
                steps.push(format!(
                    "\"{}\" not launched because the retag did not complete",
                    l.template
                ));
            }
        }
        let mut follow = None;
        if let Some(d) = &p.deploy {
            if !ok {
                steps.push(format!("{} not started because the retag did not complete", d.job));
            } else if let Some((n, status)) = d.already {
                steps.push(format!(
                    "{} #{n} already deploys this digest to {} ({}): not triggered again",
                    d.job,
                    p.target,
                    status.label()
                ));
            } else {
                match self.clients.get(&d.source) {
                    None => {
                        ok = false;
                        steps.push(format!("no Jenkins source named {}", d.source));
                    }
                    Some(client) => match jenkins::trigger(client, &d.job, &d.params, true).await {
                        Ok(queue) => {
                            steps.push(format!("{} queued ({queue})", d.job));
                            follow = Some((client.clone(), queue));
                        }
                        Err(e) => {
                            ok = false;
                            let done = if p.strategy.retags() {
                                format!("the tag is already moved; promote again to run {} only", d.job)
                            } else {
                                "nothing changed".to_string()
                            };
                            steps.push(format!("{} could not be triggered: {e}; {done}", d.job));
                        }
                    },
                }
            }
        }
        let detail = steps.join("; ");
        let outcome = self.finish(plan, ok, detail);
        for source in [Some(&p.registry_source), p.deploy.as_ref().map(|d| &d.source)]
            .into_iter()
            .flatten()
        {
            if let Some(n) = self.refresh.get(source) {
                n.notify_one();
            }
        }
        if let (Some((client, queue)), Some(d)) = (follow, &p.deploy) {
            let exec = self.clone();
            let plan = plan.clone();
            let job = d.job.clone();
            // Following a deploy can take as long as its approval does: in the background.
            tokio::spawn(async move { exec.follow_deploy(&plan, &client, &job, &queue).await });
        }
        outcome
    }

    /// Move the tag, then read it back. `false` when either failed; `steps` says what happened.
    async fn retag_step(&self, p: &Promotion, steps: &mut Vec<String>) -> bool {
        let Some(registry) = self.registries.get(&p.registry_source) else {
            steps.push(format!("no registry source named {}", p.registry_source));
            return false;
        };
        let before = p.current.as_deref().map(short).unwrap_or_else(|| "nothing".into());
        match registry.retag(&p.repository, &p.digest, &p.tag).await {
            Ok(RetagOutcome::AlreadyThere) => {
                steps.push(format!(
                    "{} already pointed at {}: nothing written",
                    p.tag,
                    short(&p.digest)
                ));
            }
            Ok(RetagOutcome::Moved { previous }) => {
                let from = previous.as_deref().map(short).unwrap_or_else(|| "nothing".into());
                steps.push(format!("{} moved from {from} to {}", p.tag, short(&p.digest)));
            }
            Err(e) => {
                steps.push(format!(
                    "retag failed: {e}; {} still points at {before} as far as we know; promote again to retry",
                    p.tag
                ));
                return false;
            }
        }
        match registry.tag_digest(&p.repository, &p.tag).await {
            Ok(Some(d)) if d == p.digest => {
                steps.push(format!("checked: {} → {}", p.tag, short(&d)));
                true
            }
            Ok(Some(d)) => {
                steps.push(format!(
                    "check FAILED: {} points at {}, not {} (someone else moved it?)",
                    p.tag,
                    short(&d),
                    short(&p.digest)
                ));
                false
            }
            Ok(None) => {
                steps.push(format!("check FAILED: {} does not exist after the retag", p.tag));
                false
            }
            Err(e) => {
                steps.push(format!("check could not read {}: {e}", p.tag));
                false
            }
        }
    }

    /// Record the outcome, tell the screen, and return it.
    pub(super) fn finish(&self, plan: &Plan, ok: bool, detail: String) -> ActionOutcome {
        let req = &plan.request;
        tracing::info!(action = req.kind.name(), target = %req.target(), ok, "{detail}");
        let audit_error = self.record(plan, if ok { "ok" } else { "failed" }, &detail).err();
        let outcome = ActionOutcome {
            at: Utc::now(),
            summary: format!("{} {}", if ok { "✔" } else { "✖" }, plan.title),
            ok: ok && audit_error.is_none(),
            detail: match audit_error {
                Some(e) => format!("{detail}; AUDIT NOT WRITTEN: {e}"),
                None => detail,
            },
        };
        let _ = self.tx.send(Update::Action(outcome.clone()));
        outcome
    }

    /// Follow the deploy job from its queue item to its end, including the wait at an approval
    /// input, and record how it ended.
    async fn follow_deploy(&self, plan: &Plan, client: &JenkinsClient, job: &str, queue: &str) {
        let state = jenkins::follow_queue(client, job, queue, &self.tx).await;
        let (number, url) = match state {
            QueueState::Started { number, url } => (number, url),
            other => {
                self.check(plan, false, format!("{job} never started: {other:?}"));
                return;
            }
        };
        if let Some(n) = self.refresh.get(&plan.request.source) {
            n.notify_one();
        }
        let api = format!(
            "{}api/json?tree=number,url,building,result,timestamp,duration",
            client.build_url(job, number)
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(4 * 60 * 60);
        let mut told_waiting = false;
        while tokio::time::Instant::now() < deadline {
            match client.get_json::<BuildJson>(&api).await {
                Ok(json) if !json.building => {
                    let build = map::build(&json, None);
                    let ok = build.status == Status::Ok;
                    self.check(
                        plan,
                        ok,
                        format!("{job} #{number} finished {} ({url})", build.status.label()),
                    );
                    return;
                }
                Ok(_) if !told_waiting => {
                    told_waiting = true;
                    let _ = self.tx.send(Update::Action(ActionOutcome {
                        at: Utc::now(),
                        summary: format!("… {job} #{number} is running"),
                        ok: true,
                        detail: "if it asks for approval, approve it with `a` on the pipelines screen".into(),
                    }));
                }
                _ => {}
            }
            if self.tx.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        self.check(
            plan,
            false,
            format!("{job} #{number} still running after 4 hours; stopped following"),
        );
    }

    /// The after-the-fact check of a promotion, recorded with its plan.
    fn check(&self, plan: &Plan, ok: bool, detail: String) {
        let action = format!("{}_check", plan.request.kind.name());
        let audit = self
            .record_as(plan, &action, if ok { "ok" } else { "failed" }, &detail)
            .err();
        let _ = self.tx.send(Update::Action(ActionOutcome {
            at: Utc::now(),
            summary: format!(
                "{} {}: deploy {}",
                if ok { "✔" } else { "✖" },
                plan.title,
                if ok { "finished" } else { "failed" }
            ),
            ok: ok && audit.is_none(),
            detail: match audit {
                Some(e) => format!("{detail}; AUDIT NOT WRITTEN: {e}"),
                None => detail,
            },
        }));
    }
}
