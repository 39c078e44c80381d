//! Pure mapping from GitHub payloads to the model: protection rules, each reviewer's standing
//! verdict, check runs and commit statuses merged, and commits matched to the pull requests that
//! merged them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::api::{
    CheckRunsJson, CombinedStatusJson, CommitJson, DeliveryJson, HookJson, ProtectionJson, PullJson, ReviewJson,
};
use crate::model::{
    BranchProtection, CheckItem, Delivery, Hook, LinkStatus, MergedPull, PullRequest, RepoCommit, ReviewState,
    ReviewVerdict,
};

pub fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s?).ok().map(|t| t.with_timezone(&Utc))
}

pub fn protection(json: &ProtectionJson) -> BranchProtection {
    let checks = json.required_status_checks.as_ref();
    let mut required_checks: Vec<String> = checks.map(|c| c.contexts.clone()).unwrap_or_default();
    for c in checks.map(|c| c.checks.as_slice()).unwrap_or_default() {
        if !c.context.is_empty() && !required_checks.contains(&c.context) {
            required_checks.push(c.context.clone());
        }
    }
    let reviews = json.required_pull_request_reviews.as_ref();
    BranchProtection {
        pull_request_required: reviews.is_some(),
        required_approvals: reviews.map(|r| r.required_approving_review_count).unwrap_or(0),
        dismiss_stale_reviews: reviews.is_some_and(|r| r.dismiss_stale_reviews),
        code_owner_reviews: reviews.is_some_and(|r| r.require_code_owner_reviews),
        enforce_admins: json.enforce_admins.as_ref().is_some_and(|e| e.enabled),
        required_checks,
        strict_checks: checks.is_some_and(|c| c.strict),
    }
}

/// Each reviewer's latest review that says something (plain comments do not change a verdict);
/// reviewers who only commented are listed as commenting. Reviews come in chronological order.
pub fn verdicts(reviews: &[ReviewJson], head_sha: &str) -> Vec<ReviewVerdict> {
    let mut order: Vec<String> = Vec::new();
    let mut latest: HashMap<String, ReviewVerdict> = HashMap::new();
    for r in reviews {
        let Some(user) = r.user.as_ref().map(|u| u.login.clone()).filter(|u| !u.is_empty()) else {
            continue;
        };
        let Some(state) = ReviewState::parse(&r.state) else {
            continue;
        };
        if state == ReviewState::Pending {
            continue; // a draft review nobody else can see yet
        }
        let verdict = ReviewVerdict {
            reviewer: user.clone(),
            state,
            at: time(r.submitted_at.as_deref()),
            stale: r
                .commit_id
                .as_deref()
                .is_some_and(|c| !head_sha.is_empty() && c != head_sha),
        };
        match latest.get(&user) {
            None => {
                order.push(user.clone());
                latest.insert(user, verdict);
            }
            Some(prev) if state != ReviewState::Commented || prev.state == ReviewState::Commented => {
                latest.insert(user, verdict);
            }
            Some(_) => {}
        }
    }
    order.into_iter().filter_map(|u| latest.remove(&u)).collect()
}

/// Commit statuses (what Jenkins posts) and check runs (GitHub Apps) as one list.
pub fn checks(statuses: &CombinedStatusJson, runs: &CheckRunsJson) -> Vec<CheckItem> {
    let mut out: Vec<CheckItem> = statuses
        .statuses
        .iter()
        .map(|s| CheckItem {
            name: s.context.clone(),
            status: match s.state.as_str() {
                "success" => LinkStatus::Pass,
                "failure" | "error" => LinkStatus::Fail,
                "pending" => LinkStatus::Running,
                _ => LinkStatus::Unknown,
            },
            url: s.target_url.clone().filter(|u| !u.is_empty()),
            kind: "status".into(),
        })
        .collect();
    for r in &runs.check_runs {
        let status = match r.status.as_str() {
            "completed" => match r.conclusion.as_deref() {
                Some("success" | "neutral" | "skipped") => LinkStatus::Pass,
                Some("failure" | "timed_out" | "cancelled" | "action_required" | "stale" | "startup_failure") => {
                    LinkStatus::Fail
                }
                _ => LinkStatus::Unknown,
            },
            "in_progress" => LinkStatus::Running,
            "queued" | "waiting" | "requested" | "pending" => LinkStatus::Pending,
            _ => LinkStatus::Unknown,
        };
        out.push(CheckItem {
            name: r.name.clone(),
            status,
            url: r.html_url.clone().or_else(|| r.details_url.clone()),
            kind: "check".into(),
        });
    }
    out
}

pub fn pull(json: &PullJson, reviews: Vec<ReviewVerdict>, checks: Vec<CheckItem>) -> PullRequest {
    PullRequest {
        number: json.number,
        title: json.title.clone(),
        author: json.user.as_ref().map(|u| u.login.clone()).unwrap_or_default(),
        head_sha: json.head.sha.clone(),
        head_ref: json.head.name.clone(),
        base_ref: json.base.name.clone(),
        draft: json.draft.unwrap_or(false),
        html_url: json.html_url.clone().unwrap_or_default(),
        created_at: time(json.created_at.as_deref()),
        updated_at: time(json.updated_at.as_deref()),
        reviews,
        checks,
    }
}

pub fn merged_pull(json: &PullJson) -> MergedPull {
    MergedPull {
        number: json.number,
        title: json.title.clone(),
        author: json.user.as_ref().map(|u| u.login.clone()).unwrap_or_default(),
        merged_at: time(json.merged_at.as_deref()),
        html_url: json.html_url.clone().unwrap_or_default(),
    }
}

/// The commits on the branch's first-parent line: what was pushed or merged into it, as opposed
/// to the commits a merge brought along from a pull request's branch.
pub fn first_parent_line(commits: &[CommitJson]) -> Vec<&str> {
    let by_sha: HashMap<&str, &CommitJson> = commits.iter().map(|c| (c.sha.as_str(), c)).collect();
    let mut line = Vec::new();
    let mut next = commits.first().map(|c| c.sha.as_str());
    while let Some(sha) = next {
        let Some(c) = by_sha.get(sha) else { break };
        line.push(sha);
        next = c.parents.first().map(|p| p.sha.as_str());
    }
    line
}

/// `Merge pull request #123 from …`: the message GitHub writes for a merge commit.
pub fn merge_message_number(message: &str) -> Option<u64> {
    let rest = message.strip_prefix("Merge pull request #")?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Match each commit to the merged pull request that produced it. `associated` answers, from
/// `GET /commits/{sha}/pulls`, for commits the merged list did not explain.
pub fn commits(
    commits: &[CommitJson],
    merged: &[PullJson],
    associated: &dyn Fn(&str) -> Option<MergedPull>,
) -> Vec<RepoCommit> {
    let line = first_parent_line(commits);
    let by_merge: HashMap<&str, &PullJson> = merged
        .iter()
        .filter(|p| p.merged_at.is_some())
        .filter_map(|p| p.merge_commit_sha.as_deref().map(|s| (s, p)))
        .collect();
    commits
        .iter()
        .map(|c| {
            let message = c.commit.message.lines().next().unwrap_or("").to_string();
            let pull = by_merge
                .get(c.sha.as_str())
                .map(|p| merged_pull(p))
                .or_else(|| associated(&c.sha))
                .or_else(|| {
                    merge_message_number(&message).map(|number| MergedPull {
                        number,
                        title: message.clone(),
                        author: String::new(),
                        merged_at: None,
                        html_url: String::new(),
                    })
                });
            let direct_push = pull.is_none() && line.contains(&c.sha.as_str());
            RepoCommit {
                sha: c.sha.clone(),
                message,
                author: c
                    .author
                    .as_ref()
                    .map(|a| a.login.clone())
                    .filter(|l| !l.is_empty())
                    .or_else(|| c.commit.author.as_ref().and_then(|a| a.name.clone()))
                    .unwrap_or_default(),
                date: time(
                    c.commit
                        .committer
                        .as_ref()
                        .or(c.commit.author.as_ref())
                        .and_then(|p| p.date.as_deref()),
                ),
                html_url: c.html_url.clone().unwrap_or_default(),
                pull,
                direct_push,
            }
        })
        .collect()
}

/// The webhook that triggers Jenkins: one pointing at Jenkins' GitHub endpoint, else the first
/// active web hook.
pub fn jenkins_hook(hooks: &[HookJson]) -> Option<&HookJson> {
    let web = || hooks.iter().filter(|h| h.name == "web" || h.name.is_empty());
    web()
        .find(|h| {
            h.config
                .url
                .as_deref()
                .is_some_and(|u| u.contains("github-webhook") || u.contains("jenkins"))
        })
        .or_else(|| web().find(|h| h.active))
}

pub fn hook(json: &HookJson) -> Hook {
    Hook {
        id: json.id,
        url: json.config.url.clone().unwrap_or_default(),
        active: json.active,
        last_response: json.last_response.as_ref().map(|r| {
            let code = r.code.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
            let msg = r.message.clone().or_else(|| r.status.clone()).unwrap_or_default();
            format!("{code} {msg}").trim().to_string()
        }),
    }
}

pub fn delivery(json: &DeliveryJson) -> Delivery {
    Delivery {
        id: json.id,
        delivered_at: time(json.delivered_at.as_deref()),
        status_code: json.status_code,
        status: json.status.clone(),
        event: json.event.clone(),
        redelivery: json.redelivery,
    }
}
