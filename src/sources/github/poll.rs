//! The polling task of GitHub: one repository state per service per cycle, every request
//! conditional, so an unchanged repository costs no rate limit at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::Notify;

use super::api::{
    BranchJson, CheckRunsJson, CombinedStatusJson, CommitJson, DeliveryJson, HookJson, ProtectionJson, PullJson,
    RepoJson, ReviewJson,
};
use super::{GithubClient, map};
use crate::model::{GithubRef, MergedPull, Protection, PullRequest, RepoState, Update};
use crate::sources::UpdateSender;
use crate::sources::http::HttpError;

/// Repositories polled at once.
const CONCURRENCY: usize = 4;
/// Open pull requests read in detail (reviews and checks) per repository.
const MAX_OPEN_PULLS: usize = 20;
/// Webhook deliveries shown.
const DELIVERIES: usize = 10;
/// Below this many requests left, a cycle waits for the reset instead of spending the rest.
const RESERVE: u64 = 25;

/// Path segments (owner, repository, branch) are escaped; `/` inside a branch name too.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A service's repository as configured.
#[derive(Clone, Debug)]
pub struct WatchedRepo {
    pub service: String,
    pub github: GithubRef,
}

pub struct GithubPoller {
    client: Arc<GithubClient>,
    name: String,
    repos: Vec<WatchedRepo>,
    commits: usize,
    interval: Duration,
    tx: UpdateSender,
    refresh: Arc<Notify>,
    /// Default branches learnt from the repository, by `owner/name`.
    branches: HashMap<String, String>,
    /// `GET /commits/{sha}/pulls` answers, by SHA: a commit's merged pull request never changes.
    associated: HashMap<String, Option<MergedPull>>,
}

impl GithubPoller {
    pub fn new(
        client: Arc<GithubClient>,
        name: &str,
        repos: Vec<WatchedRepo>,
        commits: usize,
        interval: Duration,
        tx: UpdateSender,
        refresh: Arc<Notify>,
    ) -> Self {
        GithubPoller {
            client,
            name: name.to_string(),
            repos,
            commits,
            interval,
            tx,
            refresh,
            branches: HashMap::new(),
            associated: HashMap::new(),
        }
    }

    /// One cycle over every repository. Stops early, and says until when, when the rate limit
    /// runs out.
    pub async fn poll_once(&mut self) -> Result<(), HttpError> {
        let rate = self.client.rate_limit();
        if let (Some(remaining), Some(reset)) = (rate.remaining, rate.reset)
            && remaining < RESERVE
            && reset > Utc::now()
        {
            let wait = (reset - Utc::now()).num_seconds().max(1) as u64;
            let e = HttpError::Status {
                code: 429,
                retry_after: Some(Duration::from_secs(wait)),
                detail: format!(
                    "{remaining} requests left; waiting for the reset at {}",
                    reset.with_timezone(&chrono::Local).format("%H:%M:%S")
                ),
            };
            return crate::sources::poller::report(&self.tx, &self.name, Some(e), 1, "");
        }
        let repos = self.repos.clone();
        let client = self.client.clone();
        let commits = self.commits;
        let branches = &self.branches;
        let associated = &self.associated;
        let results: Vec<(WatchedRepo, Result<Fetched, HttpError>)> = stream::iter(repos)
            .map(|w| {
                let client = client.clone();
                let branch = w
                    .github
                    .branch
                    .clone()
                    .or_else(|| branches.get(&w.github.repo).cloned());
                async move {
                    let r = fetch_repo(&client, &w.github.repo, branch, commits, associated).await;
                    (w, r)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut first_error: Option<HttpError> = None;
        let mut failed = 0;
        for (w, result) in results {
            match result {
                Ok(f) => {
                    self.branches.insert(w.github.repo.clone(), f.repo.branch.clone());
                    self.associated.extend(f.associated);
                    if f.fresh {
                        let _ = self.tx.send(Update::Repo {
                            service: w.service.clone(),
                            repo: f.repo,
                        });
                    }
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(repo = %w.github.repo, "GitHub poll failed: {e}");
                    // A rate-limit refusal is the error worth reporting.
                    if first_error.is_none() || e.retry_after().is_some() {
                        first_error = Some(e);
                    }
                }
            }
        }
        let rate = self.client.rate_limit();
        if let Some(remaining) = rate.remaining {
            let _ = self.tx.send(Update::RateLimit {
                source: self.name.clone(),
                remaining,
                limit: rate.limit,
                reset: rate.reset,
            });
        }
        crate::sources::poller::report(&self.tx, &self.name, first_error, failed, "repositories")
    }
}

struct Fetched {
    repo: RepoState,
    /// Did anything change since the previous cycle?
    fresh: bool,
    associated: HashMap<String, Option<MergedPull>>,
}

async fn fetch_repo(
    client: &GithubClient,
    full: &str,
    branch: Option<String>,
    commits: usize,
    known: &HashMap<String, Option<MergedPull>>,
) -> Result<Fetched, HttpError> {
    let (owner, name) = full.split_once('/').unwrap_or((full, ""));
    let base = format!("/repos/{}/{}", seg(owner), seg(name));
    let mut fresh = false;

    let info = client.get_json::<RepoJson>(&base).await?;
    fresh |= info.fresh;
    let branch = branch
        .or(info.value.default_branch.clone())
        .unwrap_or_else(|| "master".into());
    let html_url = info.value.html_url.clone().unwrap_or_else(|| client.web_url(full));

    // The branch says whether it is protected; only then are the rules read. (A 404 for an
    // unprotected branch would cost a request every cycle: it carries no ETag.)
    let branch_info = client
        .get_json::<BranchJson>(&format!("{base}/branches/{}", seg(&branch)))
        .await?;
    fresh |= branch_info.fresh;
    let protection = if !branch_info.value.protected {
        Protection::Unprotected
    } else {
        match client
            .get_json::<ProtectionJson>(&format!("{base}/branches/{}/protection", seg(&branch)))
            .await
        {
            Ok(p) => {
                fresh |= p.fresh;
                Protection::Protected(map::protection(&p.value))
            }
            Err(HttpError::Status { code: 404, detail, .. }) if detail.contains("not protected") => {
                Protection::Unprotected
            }
            // Reading protection needs admin rights on the repository; say so instead of failing.
            Err(HttpError::Status {
                code: 403 | 404,
                detail,
                ..
            }) => Protection::Unknown { reason: detail },
            Err(e) => return Err(e),
        }
    };

    let open = client
        .get_json::<Vec<PullJson>>(&format!("{base}/pulls?state=open&per_page=50"))
        .await?;
    fresh |= open.fresh;
    let merged = client
        .get_json::<Vec<PullJson>>(&format!(
            "{base}/pulls?state=closed&base={}&sort=updated&direction=desc&per_page=50",
            seg(&branch)
        ))
        .await?;
    fresh |= merged.fresh;
    let history = client
        .get_json::<Vec<CommitJson>>(&format!("{base}/commits?sha={}&per_page={commits}", seg(&branch)))
        .await?;
    fresh |= history.fresh;

    let mut open_pulls: Vec<PullRequest> = Vec::new();
    for p in open.value.iter().take(MAX_OPEN_PULLS) {
        let n = p.number;
        let reviews = client
            .get_json::<Vec<ReviewJson>>(&format!("{base}/pulls/{n}/reviews?per_page=100"))
            .await?;
        let head = seg(&p.head.sha);
        let statuses = client
            .get_json::<CombinedStatusJson>(&format!("{base}/commits/{head}/status"))
            .await?;
        let runs = client
            .get_json::<CheckRunsJson>(&format!("{base}/commits/{head}/check-runs?per_page=100"))
            .await?;
        fresh |= reviews.fresh || statuses.fresh || runs.fresh;
        open_pulls.push(map::pull(
            p,
            map::verdicts(&reviews.value, &p.head.sha),
            map::checks(&statuses.value, &runs.value),
        ));
    }

    // Commits on the branch's own line that no merged pull request explains: ask GitHub which
    // pull request they belong to (once per commit; the answer does not change).
    let mut associated: HashMap<String, Option<MergedPull>> = HashMap::new();
    let explained: Vec<&str> = merged
        .value
        .iter()
        .filter_map(|p| p.merge_commit_sha.as_deref())
        .collect();
    for sha in map::first_parent_line(&history.value) {
        if explained.contains(&sha) || known.contains_key(sha) {
            continue;
        }
        let message = history
            .value
            .iter()
            .find(|c| c.sha == sha)
            .map(|c| c.commit.message.as_str())
            .unwrap_or("");
        if map::merge_message_number(message).is_some() {
            continue;
        }
        match client
            .get_json::<Vec<PullJson>>(&format!("{base}/commits/{}/pulls", seg(sha)))
            .await
        {
            Ok(pulls) => {
                let pr = pulls
                    .value
                    .iter()
                    .find(|p| p.merged_at.is_some() && p.base.name == branch)
                    .map(map::merged_pull);
                associated.insert(sha.to_string(), pr);
                fresh = true;
            }
            // Older Enterprise servers lack the endpoint: the commit stays unexplained.
            Err(HttpError::Status { code: 404 | 415, .. }) => {
                associated.insert(sha.to_string(), None);
            }
            Err(e) => return Err(e),
        }
    }
    let lookup = |sha: &str| associated.get(sha).or_else(|| known.get(sha)).cloned().flatten();
    let commits = map::commits(&history.value, &merged.value, &lookup);

    let hooks = match client.get_json::<Vec<HookJson>>(&format!("{base}/hooks")).await {
        Ok(h) => {
            fresh |= h.fresh;
            h.value
        }
        // Hooks need admin rights; without them the cockpit simply cannot show deliveries.
        Err(HttpError::Status { code: 403 | 404, .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let (hook, deliveries) = match map::jenkins_hook(&hooks) {
        Some(h) => {
            let d = client
                .get_json::<Vec<DeliveryJson>>(&format!("{base}/hooks/{}/deliveries?per_page={DELIVERIES}", h.id))
                .await?;
            fresh |= d.fresh;
            (Some(map::hook(h)), d.value.iter().map(map::delivery).collect())
        }
        None => (None, Vec::new()),
    };

    Ok(Fetched {
        repo: RepoState {
            repo: full.to_string(),
            html_url,
            branch,
            protection,
            open_pulls,
            commits,
            hook,
            deliveries,
            observed_at: Utc::now(),
        },
        fresh,
        associated,
    })
}

crate::impl_poller!(GithubPoller, |p| &p.name);
