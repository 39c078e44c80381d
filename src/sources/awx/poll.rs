//! The polling task of one AWX server: the templates services deploy with (found by name each
//! poll, so a renamed or edited template shows), their newest jobs, the output tail of a running
//! job (every poll) or a failed one (once: it never changes), and the pending workflow approvals
//! with who launched each workflow. One snapshot per poll; what fails keeps its last good value.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;

use super::client::AwxClient;
use super::map;
use crate::model::{AwxApproval, AwxKind, AwxMissingTemplate, AwxState, AwxTemplate, AwxTemplateRef, Update};
use crate::sources::UpdateSender;
use crate::sources::http::HttpError;

/// A template a service deploys one environment with.
#[derive(Clone, Debug)]
pub struct WatchedTemplate {
    pub service: String,
    pub environment: String,
    pub template: AwxTemplateRef,
}

pub struct AwxPoller {
    client: Arc<AwxClient>,
    name: String,
    templates: Vec<WatchedTemplate>,
    jobs_per_template: usize,
    interval: Duration,
    tx: UpdateSender,
    refresh: Arc<Notify>,
    /// Output tails of jobs that ended, by job id (they never change again).
    tails: HashMap<u64, Vec<String>>,
    /// Survey variables by template, with the template's `modified` they were read at.
    surveys: HashMap<(u64, AwxKind), (Option<String>, Vec<String>)>,
    /// Who launched each workflow job (it never changes).
    launchers: HashMap<u64, Option<String>>,
    last: AwxState,
}

/// Templates by (name, kind), in config order, each with the (service, environment) pairs that
/// deploy with it.
type Grouped = Vec<((String, AwxKind), Vec<(String, String)>)>;

impl AwxPoller {
    pub fn new(
        client: Arc<AwxClient>,
        source: &str,
        templates: Vec<WatchedTemplate>,
        jobs_per_template: usize,
        interval: Duration,
        tx: UpdateSender,
        refresh: Arc<Notify>,
    ) -> Self {
        AwxPoller {
            client,
            name: source.to_string(),
            templates,
            jobs_per_template: jobs_per_template.max(1),
            interval,
            tx,
            refresh,
            tails: HashMap::new(),
            surveys: HashMap::new(),
            launchers: HashMap::new(),
            last: AwxState::default(),
        }
    }

    fn grouped(&self) -> Grouped {
        let mut out: Grouped = Vec::new();
        for w in self.templates.iter().filter(|w| w.template.source == self.name) {
            let key = (w.template.template.clone(), AwxKind::of(w.template.workflow));
            let pair = (w.service.clone(), w.environment.clone());
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, used_by)) => {
                    if !used_by.contains(&pair) {
                        used_by.push(pair);
                    }
                }
                None => out.push((key, vec![pair])),
            }
        }
        out
    }

    pub async fn poll_once(&mut self) -> Result<(), HttpError> {
        let mut first_error = None;
        let mut failed = 0;
        let groups = self.grouped();
        let parts = groups.len() + 1;
        let mut templates = Vec::new();
        let mut missing = Vec::new();
        for ((name, kind), used_by) in groups {
            match self.template(&name, kind, used_by.clone()).await {
                Ok(Some(t)) => templates.push(t),
                Ok(None) => missing.push(AwxMissingTemplate { name, kind, used_by }),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(source = %self.name, template = %name, "AWX poll failed: {e}");
                    first_error.get_or_insert(e);
                    // Keep showing what was known, stale, rather than nothing.
                    if let Some(t) = self.last.templates.iter().find(|t| t.name == name && t.kind == kind) {
                        templates.push(t.clone());
                    } else if let Some(m) = self.last.missing.iter().find(|m| m.name == name && m.kind == kind) {
                        missing.push(m.clone());
                    }
                }
            }
        }
        let approvals = match self.approvals().await {
            Ok(a) => a,
            Err(e) => {
                failed += 1;
                tracing::warn!(source = %self.name, "AWX approvals poll failed: {e}");
                first_error.get_or_insert(e);
                self.last.approvals.clone()
            }
        };
        if failed < parts {
            let state = AwxState {
                source: self.name.clone(),
                url: self.client.base().to_string(),
                templates,
                missing,
                approvals,
                observed_at: Some(Utc::now()),
            };
            // Forget the tails of jobs that dropped out of every template's window.
            self.tails.retain(|id, _| state.job(*id).is_some());
            self.last = state.clone();
            let _ = self.tx.send(Update::Awx {
                source: self.name.clone(),
                state,
            });
        }
        crate::sources::poller::report(&self.tx, &self.name, first_error, failed, "AWX reads")
    }

    /// One template with its survey and newest jobs; `None` when AWX does not list it.
    async fn template(
        &mut self,
        name: &str,
        kind: AwxKind,
        used_by: Vec<(String, String)>,
    ) -> Result<Option<AwxTemplate>, HttpError> {
        let Some(t) = self.client.find_template(name, kind).await? else {
            return Ok(None);
        };
        let survey = if t.survey_enabled {
            match self.surveys.get(&(t.id, kind)) {
                Some((modified, vars)) if *modified == t.modified => vars.clone(),
                _ => {
                    let vars = self.client.survey_variables(t.id, kind).await?;
                    self.surveys.insert((t.id, kind), (t.modified.clone(), vars.clone()));
                    vars
                }
            }
        } else {
            Vec::new()
        };
        let base = self.client.base().to_string();
        let mut jobs: Vec<_> = self
            .client
            .recent_jobs(t.id, kind, self.jobs_per_template)
            .await?
            .iter()
            .map(|j| map::job(j, &base, kind))
            .collect();
        for job in jobs.iter_mut().filter(|j| j.kind == AwxKind::Job) {
            let wanted = (job.status.is_active() && job.started.is_some()) || job.status.is_failure();
            if !wanted {
                continue;
            }
            if job.status.is_terminal()
                && let Some(tail) = self.tails.get(&job.id)
            {
                job.stdout_tail = Some(tail.clone());
                continue;
            }
            // A missing tail is not worth failing the source for; the job still shows.
            match self.client.stdout_tail(job.id, map::TAIL_LINES).await {
                Ok(tail) => {
                    if job.status.is_terminal() {
                        self.tails.insert(job.id, tail.clone());
                    }
                    job.stdout_tail = Some(tail);
                }
                Err(e) => tracing::warn!(source = %self.name, job = job.id, "AWX stdout not read: {e}"),
            }
        }
        Ok(Some(map::template(&t, &base, kind, survey, used_by, jobs)))
    }

    /// Pending approvals, each with who launched its workflow job.
    async fn approvals(&mut self) -> Result<Vec<AwxApproval>, HttpError> {
        let base = self.client.base().to_string();
        let mut out = Vec::new();
        for a in self.client.pending_approvals().await? {
            let workflow = a
                .summary_fields
                .source_workflow_job
                .as_ref()
                .or(a.summary_fields.workflow_job.as_ref())
                .and_then(|w| w.id);
            let launcher = match workflow {
                Some(id) => match self.launchers.get(&id) {
                    Some(l) => l.clone(),
                    None => match self.client.job_json(id, AwxKind::Workflow).await {
                        Ok(j) => {
                            let l = map::launched_by(&j);
                            self.launchers.insert(id, l.clone());
                            l
                        }
                        Err(e) => {
                            tracing::warn!(source = %self.name, workflow_job = id, "AWX workflow job not read: {e}");
                            None
                        }
                    },
                },
                None => None,
            };
            out.push(map::approval(&a, &base, launcher));
        }
        Ok(out)
    }
}

crate::impl_poller!(AwxPoller, |p| &p.name);
