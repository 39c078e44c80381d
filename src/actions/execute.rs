//! Running a confirmed plan, recording it, and telling the state how it went.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Notify;

use super::audit::{AuditLog, AuditRecord, os_user};
use super::promote::ImageRegistry;
use super::{ActionKind, Plan};
use crate::model::{ActionOutcome, QueueState};
use crate::sources::UpdateSender;
use crate::sources::jenkins::{JenkinsClient, actions as jenkins};

/// What a successful call did: a line for the audit and the screen, and for a trigger, the queue
/// item to follow.
struct Done {
    detail: String,
    queue_url: Option<String>,
}

#[derive(Clone)]
pub struct Executor {
    pub(super) clients: Arc<HashMap<String, Arc<JenkinsClient>>>,
    pub(super) refresh: Arc<HashMap<String, Arc<Notify>>>,
    pub(super) audit: AuditLog,
    pub(super) tx: UpdateSender,
    /// The registries promotions move tags in, by source name.
    pub(super) registries: Arc<HashMap<String, ImageRegistry>>,
    /// Kubernetes clusters, by source name.
    pub(super) kube: crate::sources::kube::KubeClients,
    /// AWX servers, by source name.
    pub(super) awx: Arc<HashMap<String, Arc<crate::sources::awx::AwxClient>>>,
}

impl Executor {
    pub fn new(
        clients: HashMap<String, Arc<JenkinsClient>>,
        refresh: HashMap<String, Arc<Notify>>,
        audit: AuditLog,
        tx: UpdateSender,
    ) -> Self {
        Executor {
            clients: Arc::new(clients),
            refresh: Arc::new(refresh),
            audit,
            tx,
            registries: Arc::new(HashMap::new()),
            kube: crate::sources::kube::KubeClients::default(),
            awx: Arc::new(HashMap::new()),
        }
    }

    /// The clusters and AWX servers actions may change.
    pub fn with_deploy(
        mut self,
        kube: crate::sources::kube::KubeClients,
        awx: HashMap<String, Arc<crate::sources::awx::AwxClient>>,
    ) -> Self {
        self.kube = kube;
        self.awx = Arc::new(awx);
        self
    }

    /// The registries promotions may retag in.
    pub fn with_registries(mut self, registries: HashMap<String, ImageRegistry>) -> Self {
        self.registries = Arc::new(registries);
        self
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Record an action that policy refused, so the audit shows attempts too.
    pub fn record_refusal(&self, plan: &Plan, reason: &str) {
        let _ = self.record(plan, "refused", reason);
    }

    /// Execute a confirmed plan: the calls, the record, the outcome on screen, and for a triggered
    /// build, following its queue item until it has a build number.
    pub async fn run(&self, plan: Plan) -> ActionOutcome {
        match &plan.request.kind {
            ActionKind::Promote(p) => return self.promote(&plan, p).await,
            ActionKind::UndoRollout { .. }
            | ActionKind::RestartWorkload { .. }
            | ActionKind::ResumeRollout { .. }
            | ActionKind::AwxDecision { .. } => return self.run_deploy_action(&plan).await,
            _ => {}
        }
        let req = &plan.request;
        let result = match self.clients.get(&req.source) {
            None => Err(format!("no Jenkins source named {}", req.source)),
            Some(client) => self.call(client, &plan).await,
        };
        let (ok, detail, queue_url) = match result {
            Ok(done) => (true, done.detail, done.queue_url),
            Err(e) => (false, e, None),
        };
        let outcome = self.finish(&plan, ok, detail);
        if let Some(n) = self.refresh.get(&req.source) {
            n.notify_one();
        }
        if let (Some(queue_url), Some(client), ActionKind::TriggerBuild { job, .. }) =
            (queue_url, self.clients.get(&req.source), &req.kind)
        {
            let state = jenkins::follow_queue(client, job, &queue_url, &self.tx).await;
            if matches!(state, QueueState::Started { .. })
                && let Some(n) = self.refresh.get(&req.source)
            {
                n.notify_one();
            }
        }
        outcome
    }

    async fn call(&self, client: &JenkinsClient, plan: &Plan) -> Result<Done, String> {
        let done = |detail: &str| Done {
            detail: detail.to_string(),
            queue_url: None,
        };
        match &plan.request.kind {
            ActionKind::TriggerBuild {
                job,
                params,
                parameterised,
            } => jenkins::trigger(client, job, params, *parameterised)
                .await
                .map(|queue| Done {
                    detail: format!("queued: {queue}"),
                    queue_url: Some(queue),
                })
                .map_err(|e| e.to_string()),
            ActionKind::ApproveInput {
                job,
                build,
                input_id,
                params,
                ..
            } => jenkins::approve(client, job, *build, input_id, params)
                .await
                .map(|_| done("approved"))
                .map_err(|e| e.to_string()),
            ActionKind::RejectInput {
                job, build, input_id, ..
            } => jenkins::reject(client, job, *build, input_id)
                .await
                .map(|_| done("rejected"))
                .map_err(|e| e.to_string()),
            ActionKind::AbortBuild { job, build } => jenkins::abort(client, job, *build)
                .await
                .map(|_| done("abort requested"))
                .map_err(|e| e.to_string()),
            _ => Err("this action runs through its own executor".into()),
        }
    }

    pub(super) fn record(&self, plan: &Plan, result: &str, detail: &str) -> std::io::Result<()> {
        self.record_as(plan, plan.request.kind.name(), result, detail)
    }

    /// One audit line for `plan`, under the given action name (a follow-up check has its own).
    pub(super) fn record_as(&self, plan: &Plan, action: &str, result: &str, detail: &str) -> std::io::Result<()> {
        let req = &plan.request;
        let record = AuditRecord {
            time: Utc::now(),
            user: os_user(),
            action: action.to_string(),
            service: req.service.clone(),
            environment: req.environment.clone(),
            target: req.target(),
            plan: plan
                .calls
                .iter()
                .map(|c| format!("{} {} ({})", c.method, c.url, c.why))
                .collect(),
            result: result.to_string(),
            detail: detail.to_string(),
        };
        let r = self.audit.append(&record);
        if let Err(e) = &r {
            tracing::error!("audit write failed: {e}");
        }
        r
    }
}
