//! GitHub REST payloads, only the fields the cockpit reads. Every field is optional or defaulted:
//! GitHub adds fields freely and older Enterprise servers lack newer ones.

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct RepoJson {
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// `GET /repos/{o}/{r}/branches/{b}`: cheap, and conditional, unlike a 404 for no protection.
#[derive(Debug, Deserialize, Default)]
pub struct BranchJson {
    #[serde(default)]
    pub protected: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct Enabled {
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct ProtectionJson {
    #[serde(default)]
    pub required_status_checks: Option<StatusChecksJson>,
    #[serde(default)]
    pub required_pull_request_reviews: Option<ReviewRulesJson>,
    #[serde(default)]
    pub enforce_admins: Option<Enabled>,
}

#[derive(Debug, Deserialize, Default)]
pub struct StatusChecksJson {
    #[serde(default)]
    pub strict: bool,
    #[serde(default)]
    pub contexts: Vec<String>,
    #[serde(default)]
    pub checks: Vec<CheckRuleJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct CheckRuleJson {
    #[serde(default)]
    pub context: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct ReviewRulesJson {
    #[serde(default)]
    pub dismiss_stale_reviews: bool,
    #[serde(default)]
    pub require_code_owner_reviews: bool,
    #[serde(default)]
    pub required_approving_review_count: u32,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct UserJson {
    #[serde(default)]
    pub login: String,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct RefJson {
    #[serde(default, rename = "ref")]
    pub name: String,
    #[serde(default)]
    pub sha: String,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct PullJson {
    pub number: u64,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub draft: Option<bool>,
    #[serde(default)]
    pub user: Option<UserJson>,
    #[serde(default)]
    pub head: RefJson,
    #[serde(default)]
    pub base: RefJson,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct ReviewJson {
    #[serde(default)]
    pub user: Option<UserJson>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub submitted_at: Option<String>,
    #[serde(default)]
    pub commit_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct CombinedStatusJson {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub statuses: Vec<StatusJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct StatusJson {
    #[serde(default)]
    pub context: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct CheckRunsJson {
    #[serde(default)]
    pub check_runs: Vec<CheckRunJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct CheckRunJson {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub details_url: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct CommitJson {
    pub sha: String,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub commit: CommitDetailJson,
    #[serde(default)]
    pub author: Option<UserJson>,
    #[serde(default)]
    pub parents: Vec<ParentJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct CommitDetailJson {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub author: Option<GitPersonJson>,
    #[serde(default)]
    pub committer: Option<GitPersonJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct GitPersonJson {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ParentJson {
    #[serde(default)]
    pub sha: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct HookJson {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub config: HookConfigJson,
    #[serde(default)]
    pub last_response: Option<HookResponseJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct HookConfigJson {
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct HookResponseJson {
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct DeliveryJson {
    pub id: u64,
    #[serde(default)]
    pub delivered_at: Option<String>,
    #[serde(default)]
    pub redelivery: bool,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_code: u16,
    #[serde(default)]
    pub event: String,
}

/// The body of an error answer.
#[derive(Debug, Deserialize, Default)]
pub struct ErrorJson {
    #[serde(default)]
    pub message: String,
}
