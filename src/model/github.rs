//! What GitHub says about a service's repository: branch protection, open pull requests with
//! their reviews and checks, recent commits of the default branch matched to the pull requests
//! that merged them, and the webhook's recent deliveries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::LinkStatus;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepoState {
    /// `owner/name`.
    pub repo: String,
    pub html_url: String,
    pub branch: String,
    pub protection: Protection,
    pub open_pulls: Vec<PullRequest>,
    /// Newest first.
    pub commits: Vec<RepoCommit>,
    pub hook: Option<Hook>,
    /// Newest first.
    pub deliveries: Vec<Delivery>,
    pub observed_at: DateTime<Utc>,
}

impl RepoState {
    pub fn commit(&self, sha: &str) -> Option<&RepoCommit> {
        self.commits.iter().find(|c| super::same_commit(&c.sha, sha))
    }

    /// Open pull requests whose head is `sha`.
    pub fn pull_with_head(&self, sha: &str) -> Option<&PullRequest> {
        self.open_pulls.iter().find(|p| super::same_commit(&p.head_sha, sha))
    }

    /// Did the newest deliveries fail (all of the last `n` that exist)?
    pub fn webhook_failing(&self, n: usize) -> bool {
        let recent: Vec<_> = self.deliveries.iter().take(n).collect();
        !recent.is_empty() && recent.iter().all(|d| !d.ok())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Protection {
    /// Not readable (the token lacks admin or read on the repository).
    Unknown {
        reason: String,
    },
    Unprotected,
    Protected(BranchProtection),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchProtection {
    pub pull_request_required: bool,
    pub required_approvals: u32,
    pub dismiss_stale_reviews: bool,
    pub code_owner_reviews: bool,
    pub enforce_admins: bool,
    pub required_checks: Vec<String>,
    /// The branch must be up to date before merging.
    pub strict_checks: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
    Pending,
}

impl ReviewState {
    pub fn parse(s: &str) -> Option<ReviewState> {
        Some(match s {
            "APPROVED" => ReviewState::Approved,
            "CHANGES_REQUESTED" => ReviewState::ChangesRequested,
            "COMMENTED" => ReviewState::Commented,
            "DISMISSED" => ReviewState::Dismissed,
            "PENDING" => ReviewState::Pending,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            ReviewState::Approved => "approved",
            ReviewState::ChangesRequested => "changes requested",
            ReviewState::Commented => "commented",
            ReviewState::Dismissed => "dismissed",
            ReviewState::Pending => "pending",
        }
    }
}

/// A reviewer's standing verdict: their latest review that is not a plain comment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewVerdict {
    pub reviewer: String,
    pub state: ReviewState,
    pub at: Option<DateTime<Utc>>,
    /// The review was of an older head commit.
    pub stale: bool,
}

/// One check run or commit status on a pull request's head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckItem {
    pub name: String,
    pub status: LinkStatus,
    pub url: Option<String>,
    /// `status` (legacy commit status, as Jenkins posts) or `check` (a check run).
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub author: String,
    pub head_sha: String,
    pub head_ref: String,
    pub base_ref: String,
    pub draft: bool,
    pub html_url: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub reviews: Vec<ReviewVerdict>,
    pub checks: Vec<CheckItem>,
}

impl PullRequest {
    pub fn approvals(&self) -> usize {
        self.reviews
            .iter()
            .filter(|r| r.state == ReviewState::Approved && !r.stale)
            .count()
    }

    pub fn changes_requested_by(&self) -> Vec<&str> {
        self.reviews
            .iter()
            .filter(|r| r.state == ReviewState::ChangesRequested)
            .map(|r| r.reviewer.as_str())
            .collect()
    }

    /// Check runs and commit statuses together: any failure fails, anything still going is
    /// running, no checks at all is unknown.
    pub fn checks_status(&self) -> LinkStatus {
        combine(self.checks.iter().map(|c| c.status))
    }
}

/// Combine several results: a failure wins, then running, then pending; all passes pass.
pub fn combine(statuses: impl Iterator<Item = LinkStatus>) -> LinkStatus {
    let mut seen = false;
    let mut worst = LinkStatus::Pass;
    for s in statuses {
        seen = true;
        if s.rank() > worst.rank() {
            worst = s;
        }
    }
    if seen { worst } else { LinkStatus::Unknown }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepoCommit {
    pub sha: String,
    pub message: String,
    pub author: String,
    pub date: Option<DateTime<Utc>>,
    pub html_url: String,
    /// The merged pull request whose merge commit this is.
    pub pull: Option<MergedPull>,
    /// A merge of a pull request is recognised; otherwise it reached the branch without one.
    pub direct_push: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergedPull {
    pub number: u64,
    pub title: String,
    pub author: String,
    pub merged_at: Option<DateTime<Utc>>,
    pub html_url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    pub id: u64,
    pub url: String,
    pub active: bool,
    pub last_response: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: u64,
    pub delivered_at: Option<DateTime<Utc>>,
    pub status_code: u16,
    pub status: String,
    pub event: String,
    pub redelivery: bool,
}

impl Delivery {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status_code)
    }
}
