//! The polling task of one Jenkins. Each poll sends complete snapshots of the watched jobs; stages
//! and inputs of finished builds are cached, so a steady estate costs one request per job per poll.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use tokio::sync::Notify;
use url::Url;

use super::api::{JobDetail, JobEntry, JobList, PendingInputJson, RunDescribe, StageJson};
use super::{JenkinsClient, load_summary, map, scan_report};
use crate::model::{Build, Job, JobKind, LoadSummary, PendingInput, ScanReport, Stage, Status, Update};
use crate::sources::UpdateSender;
use crate::sources::http::HttpError;

/// A job the cockpit shows, with the repository whose commit its builds are matched to.
#[derive(Clone, Debug)]
pub struct WatchedJob {
    pub full_name: String,
    pub repo: Option<String>,
    /// Where its builds archive a load-test summary (`None`: recognise JMeter and Gatling files).
    pub load_summary: Option<String>,
    /// Where its builds archive a Trivy or Grype report (`None`: recognise `trivy*.json`, `grype*.json`).
    pub scan_report: Option<String>,
}

/// Requests in flight at once against one Jenkins: polite to the server, fast enough for dozens of jobs.
const CONCURRENCY: usize = 6;
/// Walk the full job list on every Nth poll only; it rarely changes and can be large.
const CATALOGUE_EVERY: u64 = 10;

pub struct JenkinsPoller {
    client: Arc<JenkinsClient>,
    jobs: Vec<WatchedJob>,
    builds_per_job: usize,
    interval: Duration,
    tx: UpdateSender,
    refresh: Arc<Notify>,
    /// Stages and inputs of finished builds never change: fetched once.
    finished: HashMap<(String, u64), (Vec<Stage>, Vec<PendingInput>)>,
    /// Archived load-test summaries never change either.
    summaries: HashMap<(String, u64), LoadSummary>,
    scans: HashMap<(String, u64), ScanReport>,
    polls: u64,
    last_error: Option<String>,
}

impl JenkinsPoller {
    pub fn new(
        client: Arc<JenkinsClient>,
        jobs: Vec<WatchedJob>,
        builds_per_job: usize,
        interval: Duration,
        tx: UpdateSender,
        refresh: Arc<Notify>,
    ) -> Self {
        JenkinsPoller {
            client,
            jobs,
            builds_per_job,
            interval,
            tx,
            refresh,
            finished: HashMap::new(),
            summaries: HashMap::new(),
            scans: HashMap::new(),
            polls: 0,
            last_error: None,
        }
    }

    /// One poll of everything watched. Sends what succeeded even when something failed, then the
    /// source's health.
    pub async fn poll_once(&mut self) -> Result<(), HttpError> {
        let now = Utc::now();
        let mut first_error: Option<HttpError> = None;
        let mut failed = 0usize;

        if self.polls.is_multiple_of(CATALOGUE_EVERY) {
            match self.catalogue().await {
                Ok(entries) => {
                    let _ = self.tx.send(Update::Catalogue {
                        source: self.client.name.clone(),
                        entries,
                    });
                }
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        self.polls += 1;

        let client = self.client.clone();
        let builds_per_job = self.builds_per_job;
        let details: Vec<(WatchedJob, Result<JobDetail, HttpError>)> = stream::iter(self.jobs.clone())
            .map(|w| {
                let client = client.clone();
                async move {
                    let url = job_detail_url(&client, &w.full_name, builds_per_job);
                    let r = client.get_json::<JobDetail>(&url).await;
                    (w, r)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;

        let mut jobs = Vec::new();
        for (watched, result) in details {
            match result {
                Ok(detail) => match self.job_with_stages(&watched, detail).await {
                    Ok(job) => jobs.push(job),
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                },
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        // Keep the order of the config, whatever order the answers came in.
        jobs.sort_by_key(|j: &Job| self.jobs.iter().position(|w| w.full_name == j.full_name));
        if !jobs.is_empty() {
            let _ = self.tx.send(Update::Jobs {
                source: self.client.name.clone(),
                at: now,
                jobs,
            });
        }
        match first_error {
            None => {
                self.last_error = None;
                let _ = self.tx.send(Update::SourceOk {
                    source: self.client.name.clone(),
                    at: Utc::now(),
                });
                Ok(())
            }
            Some(e) => {
                let msg = if failed > 1 {
                    format!("{e} (and {} more failed requests)", failed - 1)
                } else {
                    e.to_string()
                };
                self.last_error = Some(msg.clone());
                tracing::warn!(source = %self.client.name, "poll failed: {msg}");
                let _ = self.tx.send(Update::SourceFailed {
                    source: self.client.name.clone(),
                    at: Utc::now(),
                    error: msg,
                    retry_at: None,
                });
                Err(e)
            }
        }
    }

    /// Every job on the server, folders and multibranch projects walked three levels deep.
    async fn catalogue(&self) -> Result<Vec<(String, String)>, HttpError> {
        let url = with_tree(
            &self.client.root_url("api/json"),
            "jobs[name,url,color,jobs[name,url,color,jobs[name,url,color]]]",
        );
        let list: JobList = self.client.get_json(&url).await?;
        let mut out = Vec::new();
        walk(&list.jobs, "", &mut out);
        Ok(out)
    }

    async fn job_with_stages(&mut self, watched: &WatchedJob, detail: JobDetail) -> Result<Job, HttpError> {
        let kind = map::job_kind(&detail.class);
        let mut builds: Vec<Build> = detail
            .builds
            .iter()
            .map(|b| map::build(b, watched.repo.as_deref()))
            .collect();
        builds.sort_by_key(|b| std::cmp::Reverse(b.number));
        let pipeline = kind == JobKind::Pipeline;
        if pipeline {
            let client = self.client.clone();
            let todo: Vec<(usize, u64)> = builds
                .iter()
                .enumerate()
                .filter(|(_, b)| !self.finished.contains_key(&(watched.full_name.clone(), b.number)))
                .map(|(i, b)| (i, b.number))
                .collect();
            let name = watched.full_name.clone();
            let fetched: Vec<(usize, Result<RunParts, HttpError>)> = stream::iter(todo)
                .map(|(i, number)| {
                    let client = client.clone();
                    let name = name.clone();
                    async move { (i, fetch_run(&client, &name, number).await) }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for (i, result) in fetched {
                let (stages, inputs, run_status) = result?;
                let b = &mut builds[i];
                b.stages = stages;
                b.pending_inputs = inputs;
                // wfapi knows a paused build; build JSON only says "building".
                if run_status == Status::Paused && b.status == Status::Running {
                    b.status = Status::Paused;
                }
                if !b.status.is_active() {
                    self.finished.insert(
                        (watched.full_name.clone(), b.number),
                        (b.stages.clone(), b.pending_inputs.clone()),
                    );
                }
            }
            for b in builds.iter_mut() {
                if let Some((stages, inputs)) = self.finished.get(&(watched.full_name.clone(), b.number))
                    && b.stages.is_empty()
                {
                    b.stages = stages.clone();
                    b.pending_inputs = inputs.clone();
                }
            }
            // Forget finished builds that scrolled out of the window.
            let keep: Vec<u64> = builds.iter().map(|b| b.number).collect();
            self.finished
                .retain(|(job, n), _| job != &watched.full_name || keep.contains(n));
        }
        self.attach_archived_reports(watched, &mut builds).await;
        Ok(Job {
            full_name: watched.full_name.clone(),
            source: self.client.name.clone(),
            url: detail
                .url
                .clone()
                .unwrap_or_else(|| self.client.job_url(&watched.full_name)),
            kind,
            color: detail.color.clone(),
            buildable: detail.buildable.unwrap_or(true),
            parameters: map::param_defs(&detail.property),
            builds,
            observed_at: Utc::now(),
        })
    }
}

impl JenkinsPoller {
    /// Read the load-test summary and the image scan report each build archived, once per build.
    /// A report that cannot be read leaves the build without one (the chain then says it cannot
    /// judge).
    async fn attach_archived_reports(&mut self, watched: &WatchedJob, builds: &mut [Build]) {
        for b in builds.iter_mut() {
            let key = (watched.full_name.clone(), b.number);
            match self.summaries.get(&key) {
                Some(s) => b.load_summary = Some(s.clone()),
                None => {
                    let configured = watched.load_summary.as_deref();
                    let found = self
                        .read_archived(
                            watched,
                            b,
                            |p| load_summary::is_summary(p, configured),
                            load_summary::parse,
                        )
                        .await;
                    if let Some(summary) = found {
                        self.summaries.insert(key.clone(), summary.clone());
                        b.load_summary = Some(summary);
                    }
                }
            }
            match self.scans.get(&key) {
                Some(s) => b.scan = Some(s.clone()),
                None => {
                    let configured = watched.scan_report.as_deref();
                    let found = self
                        .read_archived(
                            watched,
                            b,
                            |p| scan_report::is_report(p, configured),
                            scan_report::parse,
                        )
                        .await;
                    if let Some(report) = found {
                        self.scans.insert(key, report.clone());
                        b.scan = Some(report);
                    }
                }
            }
        }
        let keep: Vec<u64> = builds.iter().map(|b| b.number).collect();
        let mine = |job: &String, n: &u64| job != &watched.full_name || keep.contains(n);
        self.summaries.retain(|(job, n), _| mine(job, n));
        self.scans.retain(|(job, n), _| mine(job, n));
    }

    /// Fetch and parse the first archived file of `build` that `pick` accepts.
    async fn read_archived<T>(
        &self,
        watched: &WatchedJob,
        build: &Build,
        pick: impl Fn(&str) -> bool,
        parse: impl Fn(&[u8], &str) -> Result<T, String>,
    ) -> Option<T> {
        let artifact = build.artifacts.iter().find(|a| pick(&a.relative_path))?;
        let url = format!(
            "{}artifact/{}",
            self.client.build_url(&watched.full_name, build.number),
            artifact
                .relative_path
                .split('/')
                .map(JenkinsClient::segment)
                .collect::<Vec<_>>()
                .join("/")
        );
        match self.client.get_bytes(&url).await {
            Ok((body, _)) => match parse(&body, &url) {
                Ok(parsed) => Some(parsed),
                Err(e) => {
                    tracing::warn!(%url, "archived report unreadable: {e}");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(%url, "archived report not fetched: {e}");
                None
            }
        }
    }
}

/// Stages, pending inputs and the run status of one Pipeline run.
type RunParts = (Vec<Stage>, Vec<PendingInput>, Status);

async fn fetch_run(client: &JenkinsClient, job: &str, number: u64) -> Result<RunParts, HttpError> {
    let build_url = client.build_url(job, number);
    let run: RunDescribe = client.get_json(&format!("{build_url}wfapi/describe")).await?;
    let mut stages = map::stages(&run);
    let status = Status::from_wfapi(&run.status);
    // The run's stage list carries the stage error only sometimes; the failed step inside says why.
    for (i, s) in run.stages.iter().enumerate() {
        if Status::from_wfapi(&s.status) == Status::Failed && s.error.is_none() {
            let url = format!(
                "{build_url}execution/node/{}/wfapi/describe",
                JenkinsClient::segment(&s.id)
            );
            if let Ok(node) = client.get_json::<StageJson>(&url).await {
                stages[i] = map::stage(&node);
            }
        }
    }
    let mut inputs = Vec::new();
    if status == Status::Paused || stages.iter().any(|s| s.status == Status::Paused) {
        let pending: Vec<PendingInputJson> = client
            .get_json(&format!("{build_url}wfapi/pendingInputActions"))
            .await?;
        inputs = pending.iter().map(map::pending_input).collect();
    }
    Ok((stages, inputs, status))
}

pub fn job_detail_url(client: &JenkinsClient, full_name: &str, builds: usize) -> String {
    let tree = format!(
        "name,url,color,buildable,\
         property[parameterDefinitions[name,type,description,choices,defaultParameterValue[value]]],\
         builds[number,url,building,result,timestamp,duration,estimatedDuration,queueId,\
         actions[causes[shortDescription,userId,userName,upstreamProject,upstreamBuild],parameters[name,value],\
         lastBuiltRevision[SHA1,branch[SHA1,name]],remoteUrls,failCount,skipCount,totalCount,urlName],\
         artifacts[fileName,relativePath]]{{0,{builds}}}"
    );
    with_tree(&format!("{}api/json", client.job_url(full_name)), &tree)
}

/// Add a `tree=` query (never `depth=`: it makes Jenkins serialise whole object graphs).
pub fn with_tree(url: &str, tree: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            u.query_pairs_mut().append_pair("tree", tree);
            u.to_string()
        }
        Err(_) => format!("{url}?tree={tree}"),
    }
}

pub fn walk(entries: &[JobEntry], prefix: &str, out: &mut Vec<(String, String)>) {
    for e in entries {
        let name = if e.name.is_empty() {
            e.display_name.clone().unwrap_or_default()
        } else {
            e.name.clone()
        };
        let full = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        match map::job_kind(&e.class) {
            JobKind::Folder | JobKind::Multibranch => walk(&e.jobs, &full, out),
            _ => out.push((full, e.color.clone().unwrap_or_default())),
        }
    }
}

crate::impl_poller!(JenkinsPoller, |p| &p.client.name);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_folders_and_multibranch() {
        let list: JobList = serde_json::from_str(
            r#"{"jobs":[{"_class":"com.cloudbees.hudson.plugins.folder.Folder","name":"f","jobs":[
                {"_class":"org.jenkinsci.plugins.workflow.job.WorkflowJob","name":"a","color":"blue"},
                {"_class":"org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject","name":"m","jobs":[
                    {"_class":"org.jenkinsci.plugins.workflow.job.WorkflowJob","name":"PR-1","color":"red_anime"}]}]},
                {"_class":"hudson.model.FreeStyleProject","name":"backup","color":"blue"}]}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        walk(&list.jobs, "", &mut out);
        assert_eq!(
            out,
            vec![
                ("f/a".to_string(), "blue".to_string()),
                ("f/m/PR-1".to_string(), "red_anime".to_string()),
                ("backup".to_string(), "blue".to_string())
            ]
        );
    }
}
