//! The polling task of SonarQube: per project, the gate and measures of the newest analysis,
//! the recent analyses with the commit each analysed, their gates (read once: an analysis never
//! changes) and their measures from the history.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::Notify;

use super::api::{AnalysesJson, ComponentMeasuresJson, HistoryJson, ProjectStatusJson};
use super::{SonarClient, map};
use crate::model::{Gate, Measures, QualityState, SonarRef, Update};
use crate::sources::UpdateSender;
use crate::sources::http::HttpError;

#[derive(Clone, Debug)]
pub struct WatchedProject {
    pub service: String,
    pub sonar: SonarRef,
}

pub struct SonarPoller {
    client: Arc<SonarClient>,
    name: String,
    projects: Vec<WatchedProject>,
    analyses: usize,
    interval: Duration,
    tx: UpdateSender,
    refresh: Arc<Notify>,
    /// Gates of past analyses, by (project key, analysis key).
    gates: HashMap<(String, String), Gate>,
}

/// Query values: everything but RFC 3986's unreserved characters is escaped.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn q(s: &str) -> String {
    utf8_percent_encode(s, QUERY).to_string()
}

impl SonarPoller {
    pub fn new(
        client: Arc<SonarClient>,
        name: &str,
        projects: Vec<WatchedProject>,
        analyses: usize,
        interval: Duration,
        tx: UpdateSender,
        refresh: Arc<Notify>,
    ) -> Self {
        SonarPoller {
            client,
            name: name.to_string(),
            projects,
            analyses,
            interval,
            tx,
            refresh,
            gates: HashMap::new(),
        }
    }

    pub async fn poll_once(&mut self) -> Result<(), HttpError> {
        let mut first_error = None;
        let mut failed = 0;
        for p in self.projects.clone() {
            match self.project(&p.sonar).await {
                Ok(quality) => {
                    let _ = self.tx.send(Update::Quality {
                        service: p.service.clone(),
                        quality,
                    });
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(project = %p.sonar.project_key, "SonarQube poll failed: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        crate::sources::poller::report(&self.tx, &self.name, first_error, failed, "projects")
    }

    async fn project(&mut self, p: &SonarRef) -> Result<QualityState, HttpError> {
        let key = q(&p.project_key);
        let branch = p
            .branch
            .as_deref()
            .map(|b| format!("&branch={}", q(b)))
            .unwrap_or_default();
        let metrics = Measures::KEYS.join(",");
        let status: ProjectStatusJson = self
            .client
            .get_json(&format!("api/qualitygates/project_status?projectKey={key}{branch}"))
            .await?;
        let component: ComponentMeasuresJson = self
            .client
            .get_json(&format!(
                "api/measures/component?component={key}&metricKeys={metrics}&additionalFields=period{branch}"
            ))
            .await?;
        let list: AnalysesJson = self
            .client
            .get_json(&format!(
                "api/project_analyses/search?project={key}&ps={}{branch}",
                self.analyses
            ))
            .await?;
        let history = match list.analyses.last() {
            Some(oldest) => {
                self.client
                    .get_json::<HistoryJson>(&format!(
                        "api/measures/search_history?component={key}&metrics={metrics}&from={}&ps=1000{branch}",
                        q(&oldest.date)
                    ))
                    .await?
            }
            None => HistoryJson::default(),
        };
        let mut analyses = map::analyses(&list.analyses, &history);
        let newest_gate = map::gate(&status);
        for (i, a) in analyses.iter_mut().enumerate() {
            if i == 0 {
                a.gate = Some(newest_gate.clone());
                continue;
            }
            let id = (p.project_key.clone(), a.key.clone());
            if !self.gates.contains_key(&id) {
                let g: ProjectStatusJson = self
                    .client
                    .get_json(&format!("api/qualitygates/project_status?analysisId={}", q(&a.key)))
                    .await?;
                self.gates.insert(id.clone(), map::gate(&g));
            }
            a.gate = self.gates.get(&id).cloned();
        }
        // Forget the gates of analyses that dropped out of this project's window.
        let keep: Vec<&str> = analyses.iter().map(|a| a.key.as_str()).collect();
        self.gates
            .retain(|(project, key), _| project != &p.project_key || keep.contains(&key.as_str()));
        let dashboard_url = match &p.branch {
            Some(b) => self.client.url(&format!("dashboard?id={key}&branch={}", q(b))),
            None => self.client.url(&format!("dashboard?id={key}")),
        };
        Ok(QualityState {
            project_key: p.project_key.clone(),
            branch: p.branch.clone(),
            dashboard_url,
            gate: Some(newest_gate),
            measures: map::measures(&component),
            analyses,
            observed_at: Utc::now(),
        })
    }
}

crate::impl_poller!(SonarPoller, |p| &p.name);
