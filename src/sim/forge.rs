//! The GitHub side of the story: repositories, master history, pull
//! requests, reviews and webhook events, kept coherent with the simulated
//! Jenkins.
//!
//! Master history *is* the Jenkins history: every commit a service pipeline
//! build lists in its change set is a commit on that repository's `master`,
//! with the same SHA, message, author and timestamp. Each of them is the
//! squash-merge of a pull request (merged at the commit's time) except:
//!
//! - the root commit "Initial import" of every repository (GitHub cannot
//!   take a pull request into an empty repository), and
//! - the newest `catalog-service` commit at estate start, pushed straight to
//!   master by an admin (its protection does not enforce admins); Jenkins
//!   built it and deployed it to production.
//!
//! In the running story every service repository has one "rolling" pull
//! request in review. When Jenkins sees the next push to that service, that
//! pull request is what was merged: the Jenkins commit takes its title and
//! author, and the merge happens seconds before the build is queued.
//! Further commits of the same push get their own (already reviewed) pull
//! requests. A new rolling pull request then opens a few minutes later.
//!
//! Times are story-clock milliseconds; renderers show only what happened at
//! or before the story clock, so reviews and pull requests appear on time.

use super::ids;
use super::jenkins::{Commit, Ms};
use super::story::{self, DAY, FOLDER, HOUR, MIN, MULTIBRANCH, SEC, World};

/// The organisation owning every repository.
pub(crate) const OWNER: &str = "dominion";

/// Repository whose `master` has no branch protection (404 on protection).
pub(crate) const UNPROTECTED: &str = "notification-worker";
/// Repository whose webhook deliveries fail since shortly before the start.
pub(crate) const FAILING_HOOK: &str = "notification-worker";
/// Repository with the commit pushed without a pull request.
pub(crate) const DIRECT_PUSH: &str = "catalog-service";
/// Repository with the open pull request whose verdict is "changes requested".
pub(crate) const CHANGES_REQUESTED: &str = "ledger-service";
/// The Jenkins multibranch pull request (`checkout-web-pr/PR-41`) is pull request #41.
pub(crate) const JENKINS_PR: u64 = 41;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
}

impl ReviewState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReviewState::Approved => "APPROVED",
            ReviewState::ChangesRequested => "CHANGES_REQUESTED",
            ReviewState::Commented => "COMMENTED",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Review {
    pub id: u64,
    pub login: String,
    pub state: ReviewState,
    pub at: Ms,
    pub body: String,
    pub commit_id: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub login: String,
    pub head_ref: String,
    pub head_sha: String,
    pub created_at: Ms,
    pub merged_at: Option<Ms>,
    pub merge_commit_sha: Option<String>,
    pub draft: bool,
    /// Everyone asked to review; those who have reviewed drop out of
    /// `requested_reviewers`, as on GitHub.
    pub reviewers: Vec<String>,
    /// Chronological.
    pub reviews: Vec<Review>,
    /// Jenkins job building this pull request (its head follows the job).
    pub jenkins_job: Option<String>,
    /// The service's pull request in review, merged by its next push.
    pub rolling: bool,
}

impl Pull {
    pub(crate) fn is_open_at(&self, t: Ms) -> bool {
        self.created_at <= t && self.merged_at.is_none_or(|m| m > t)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct MasterCommit {
    pub sha: String,
    pub message: String,
    pub login: String,
    pub at: Ms,
    /// The pull request squash-merged as this commit.
    pub pr: Option<u64>,
}

/// A webhook event not implied by pull requests or pushes.
#[derive(Clone, Debug)]
pub(crate) struct HookEvent {
    pub at: Ms,
    pub event: &'static str,
    pub action: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub(crate) struct Repo {
    pub name: String,
    /// A synthetic `bulk-NNN` repository (no Jenkins job, never changes).
    pub bulk: bool,
    pub id: u64,
    pub description: String,
    pub created_at: Ms,
    pub hook_id: u64,
    pub protected: bool,
    pub enforce_admins: bool,
    pub hook_failing_since: Option<Ms>,
    /// Oldest first; the first is the root commit.
    pub commits: Vec<MasterCommit>,
    pub pulls: Vec<Pull>,
    pub extra_events: Vec<HookEvent>,
    next_number: u64,
    rolling_seq: u64,
}

impl Repo {
    pub(crate) fn full_name(&self) -> String {
        format!("{OWNER}/{}", self.name)
    }

    pub(crate) fn pull(&self, number: u64) -> Option<&Pull> {
        self.pulls.iter().find(|p| p.number == number)
    }

    /// Master commits visible at `t`, oldest first.
    pub(crate) fn commits_at(&self, t: Ms) -> &[MasterCommit] {
        let n = self.commits.iter().take_while(|c| c.at <= t).count();
        &self.commits[..n]
    }

    /// The master head at `t`.
    pub(crate) fn head_at(&self, t: Ms) -> Option<&MasterCommit> {
        self.commits_at(t).last().or(self.commits.first())
    }

    pub(crate) fn commit(&self, sha: &str) -> Option<(usize, &MasterCommit)> {
        self.commits.iter().enumerate().find(|(_, c)| c.sha == sha)
    }

    fn rolling_mut(&mut self) -> Option<&mut Pull> {
        self.pulls.iter_mut().find(|p| p.rolling && p.merged_at.is_none())
    }
}

/// The whole GitHub estate.
#[derive(Clone, Debug, Default)]
pub(crate) struct Forge {
    seed: u64,
    /// Story clock at estate start.
    pub start: Ms,
    pub repos: Vec<Repo>,
    /// `catalog-service`'s commit pushed without a pull request.
    pub direct_push_sha: String,
}

fn pick(h: u64, n: usize) -> usize {
    (ids::splitmix64(h) % n as u64) as usize
}

fn between(h: u64, lo: Ms, hi: Ms) -> Ms {
    if hi <= lo {
        lo
    } else {
        lo + (ids::splitmix64(h) % (hi - lo) as u64) as Ms
    }
}

fn login_at(i: usize) -> &'static str {
    story::PEOPLE[i % story::PEOPLE.len()].0
}

/// `n` distinct reviewers, never the author.
fn reviewers(h: u64, author: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = pick(h, story::PEOPLE.len());
    while out.len() < n {
        let l = login_at(i);
        if l != author && !out.iter().any(|o: &String| o == l) {
            out.push(l.to_string());
        }
        i += 1;
    }
    out
}

/// `alice/bump-spring-boot-to-3-3-5`-style branch names.
fn branch_name(login: &str, title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    format!("{login}/{}", slug.trim_end_matches('-'))
}

/// Review ids grow with time, as GitHub's do.
fn review_id(seed: u64, repo: &str, at: Ms, salt: &str) -> u64 {
    let secs = (at / 1000 - 1_600_000_000).max(0) as u64;
    1_000_000_000 + secs * 8 + ids::hash(seed, &[repo, salt, &at.to_string()]) % 8
}

const APPROVE_BODIES: [&str; 4] = ["LGTM", "", "Looks good, thanks!", "Ship it."];
const COMMENT_BODIES: [&str; 4] = [
    "Nit: the log line could carry the order id.",
    "Could we get a test for the empty case?",
    "Is this covered by the contract tests?",
    "Minor: please rename the flag before merging.",
];

/// Titles of the rolling pull requests (and so of live commits).
const ROLLING_TITLES: [&str; 12] = [
    "Bump jackson to 2.18.1",
    "Add request timeout to the acquirer client",
    "Drop the unused v1 DTOs",
    "Expose build info on /actuator/info",
    "Use virtual threads for the HTTP server",
    "Retry Kafka producer on NOT_ENOUGH_REPLICAS",
    "Tune HikariCP pool size for staging",
    "Add OpenAPI examples for error responses",
    "Fix time zone in the nightly report",
    "Reject requests without a correlation id",
    "Split the integration tests by tag",
    "Upgrade to Spring Boot 3.4.0",
];

impl Forge {
    /// The GitHub estate matching the Jenkins history just generated.
    pub(crate) fn from_world(w: &World) -> Forge {
        let mut f = Forge {
            seed: w.seed,
            start: w.now,
            ..Forge::default()
        };
        for spec in &story::SERVICES {
            let repo = f.service_repo(w, spec.name, spec.description);
            f.repos.push(repo);
        }
        f
    }

    fn h(&self, parts: &[&str]) -> u64 {
        ids::hash(self.seed, parts)
    }

    fn service_repo(&mut self, w: &World, name: &str, description: &str) -> Repo {
        let start = self.start;
        let job = format!("{FOLDER}/{name}");
        let builds = w.jobs.get(&job).map(|j| j.builds.as_slice()).unwrap_or_default();
        let first = builds.first().map_or(start, |b| b.start);
        let created_at = first - (120 + (self.h(&[name, "created"]) % 200) as Ms) * DAY;
        let mut repo = Repo {
            name: name.to_string(),
            bulk: false,
            id: 700_000_000 + self.h(&[name, "repo-id"]) % 90_000_000,
            description: description.to_string(),
            created_at,
            hook_id: 400_000_000 + self.h(&[name, "hook-id"]) % 90_000_000,
            protected: name != UNPROTECTED,
            enforce_admins: name != DIRECT_PUSH,
            hook_failing_since: (name == FAILING_HOOK).then_some(start - 95 * MIN),
            commits: Vec::new(),
            pulls: Vec::new(),
            extra_events: Vec::new(),
            next_number: 0,
            rolling_seq: 0,
        };
        repo.commits.push(MasterCommit {
            sha: ids::sha(self.seed, &[&job, "initial"]),
            message: "Initial import".to_string(),
            login: login_at(pick(self.h(&[name, "founder"]), story::PEOPLE.len())).to_string(),
            at: created_at + 10 * MIN,
            pr: None,
        });
        for c in builds.iter().flat_map(|b| b.commits.iter()) {
            repo.commits.push(MasterCommit {
                sha: c.id.clone(),
                message: c.msg.clone(),
                login: c.author_login.clone(),
                at: c.timestamp,
                pr: None,
            });
        }
        if name == DIRECT_PUSH
            && let Some(c) = repo.commits.last()
        {
            self.direct_push_sha = c.sha.clone();
        }
        // A pull request for every commit but the root and the direct push.
        let merged: Vec<MasterCommit> = repo
            .commits
            .iter()
            .skip(1)
            .filter(|c| name != DIRECT_PUSH || c.sha != self.direct_push_sha)
            .cloned()
            .collect();
        for c in &merged {
            let pr = self.history_pull(name, c);
            repo.pulls.push(pr);
        }
        self.static_pulls(w, &mut repo);
        let rolling_at = if name == FAILING_HOOK {
            start - 35 * MIN
        } else {
            start - between(self.h(&[name, "rolling-at"]), 20 * MIN, 120 * MIN)
        };
        let rolling = self.rolling_pull(name, repo.rolling_seq, rolling_at);
        repo.rolling_seq += 1;
        repo.pulls.push(rolling);
        self.number_pulls(&mut repo);
        repo
    }

    /// Numbers pull requests in the order they were opened (#41 of
    /// checkout-web keeps its number), and links merge commits to them.
    fn number_pulls(&mut self, repo: &mut Repo) {
        let mut base = 100 + self.h(&[&repo.name, "pr-base"]) % 150;
        repo.pulls.sort_by_key(|p| (p.created_at, p.head_sha.clone()));
        for p in repo.pulls.iter_mut().filter(|p| p.number == 0) {
            p.number = base;
            base += 1;
        }
        repo.next_number = base;
        for p in &repo.pulls {
            if let Some(sha) = &p.merge_commit_sha
                && let Some(c) = repo.commits.iter_mut().find(|c| &c.sha == sha)
            {
                c.pr = Some(p.number);
            }
        }
        for p in repo.pulls.iter_mut() {
            let number = p.number.to_string();
            for r in p.reviews.iter_mut() {
                r.id = review_id(self.seed, &repo.name, r.at, &format!("{number}{}", r.login));
            }
        }
    }

    /// The reviewed, squash-merged pull request behind a history commit.
    fn history_pull(&self, repo: &str, c: &MasterCommit) -> Pull {
        let h = self.h(&[repo, &c.sha, "pr"]);
        let open_for = between(h, 45 * MIN, 30 * HOUR);
        let created = c.at - open_for;
        let head_sha = ids::sha(self.seed, &[repo, &c.sha, "head"]);
        let people = reviewers(h ^ 1, &c.login, 1 + (h % 2) as usize);
        let mut reviews = Vec::new();
        if h.is_multiple_of(3) {
            reviews.push(Review {
                id: 0,
                login: people[0].clone(),
                state: ReviewState::Commented,
                at: created + open_for / 4,
                body: COMMENT_BODIES[pick(h ^ 2, COMMENT_BODIES.len())].to_string(),
                commit_id: head_sha.clone(),
            });
        }
        for (i, p) in people.iter().enumerate() {
            reviews.push(Review {
                id: 0,
                login: p.clone(),
                state: ReviewState::Approved,
                at: created + open_for / 2 + (i as Ms) * open_for / 5 + between(h ^ (3 + i as u64), 0, open_for / 6),
                body: APPROVE_BODIES[pick(h ^ (7 + i as u64), APPROVE_BODIES.len())].to_string(),
                commit_id: head_sha.clone(),
            });
        }
        reviews.sort_by_key(|r| r.at);
        Pull {
            number: 0,
            title: c.message.clone(),
            body: format!("{}.\n\nJira: DOM-{}", c.message, 1000 + h % 9000),
            login: c.login.clone(),
            head_ref: branch_name(&c.login, &c.message),
            head_sha,
            created_at: created,
            merged_at: Some(c.at),
            merge_commit_sha: Some(c.sha.clone()),
            draft: false,
            reviewers: people,
            reviews,
            jenkins_job: None,
            rolling: false,
        }
    }

    /// The repository's next pull request (its `seq`-th), opened at `opened`.
    fn rolling_pull(&self, name: &str, seq: u64, opened: Ms) -> Pull {
        let h = self.h(&[name, "rolling", &seq.to_string()]);
        let title = ROLLING_TITLES[pick(h, ROLLING_TITLES.len())];
        let login = login_at(pick(h ^ 1, story::PEOPLE.len()));
        let head_sha = ids::sha(self.seed, &[name, "rolling-head", &seq.to_string()]);
        let people = reviewers(h ^ 2, login, 2);
        let mut reviews = Vec::new();
        if h.is_multiple_of(2) {
            reviews.push(Review {
                id: 0,
                login: people[1].clone(),
                state: ReviewState::Commented,
                at: opened + between(h ^ 3, 3 * MIN, 8 * MIN),
                body: COMMENT_BODIES[pick(h ^ 4, COMMENT_BODIES.len())].to_string(),
                commit_id: head_sha.clone(),
            });
        }
        reviews.push(Review {
            id: 0,
            login: people[0].clone(),
            state: ReviewState::Approved,
            at: opened + between(h ^ 5, 9 * MIN, 30 * MIN),
            body: APPROVE_BODIES[pick(h ^ 6, APPROVE_BODIES.len())].to_string(),
            commit_id: head_sha.clone(),
        });
        Pull {
            number: 0,
            title: title.to_string(),
            body: format!("{title}.\n\nJira: DOM-{}", 1000 + h % 9000),
            login: login.to_string(),
            head_ref: branch_name(login, title),
            head_sha,
            created_at: opened,
            merged_at: None,
            merge_commit_sha: None,
            draft: false,
            reviewers: people,
            reviews,
            jenkins_job: None,
            rolling: true,
        }
    }

    /// Long-lived open pull requests that carry story facts.
    fn static_pulls(&self, w: &World, repo: &mut Repo) {
        let start = self.start;
        let name = repo.name.clone();
        let sha = |salt: &str| ids::sha(self.seed, &[&name, salt]);
        let review = |login: &str, state, at: Ms, body: &str, commit: &str| Review {
            id: 0,
            login: login.to_string(),
            state,
            at,
            body: body.to_string(),
            commit_id: commit.to_string(),
        };
        match name.as_str() {
            "payments-api" => {
                let title = "WIP: 3-D Secure 2 challenge flow";
                repo.pulls.push(Pull {
                    number: 0,
                    title: title.into(),
                    body: "Draft: the challenge iframe is not wired yet.".into(),
                    login: "farah".into(),
                    head_ref: branch_name("farah", title),
                    head_sha: sha("draft-head"),
                    created_at: start - 3 * DAY - 2 * HOUR,
                    merged_at: None,
                    merge_commit_sha: None,
                    draft: true,
                    reviewers: Vec::new(),
                    reviews: Vec::new(),
                    jenkins_job: None,
                    rolling: false,
                });
            }
            CHANGES_REQUESTED => {
                let title = "Switch balance snapshots to event sourcing";
                let head = sha("cr-head");
                repo.pulls.push(Pull {
                    number: 0,
                    title: title.into(),
                    body: "Balances are rebuilt from the journal instead of the snapshot table.\n\nJira: DOM-4127"
                        .into(),
                    login: "dmitri".into(),
                    head_ref: branch_name("dmitri", title),
                    head_sha: head.clone(),
                    created_at: start - 2 * DAY,
                    merged_at: None,
                    merge_commit_sha: None,
                    draft: false,
                    reviewers: vec!["erin".into(), "carol".into(), "alice".into()],
                    reviews: vec![
                        review("erin", ReviewState::Approved, start - 30 * HOUR, "LGTM", &head),
                        review(
                            "carol",
                            ReviewState::ChangesRequested,
                            start - 20 * HOUR,
                            "Please keep the snapshot table until the migration has run in production.",
                            &head,
                        ),
                        review(
                            "erin",
                            ReviewState::Commented,
                            start - 6 * HOUR,
                            "Agree with Carol about the rollout order.",
                            &head,
                        ),
                    ],
                    jenkins_job: None,
                    rolling: false,
                });
            }
            "checkout-web" => {
                let title = "Redesign the payment step";
                let job = format!("{MULTIBRANCH}/PR-{JENKINS_PR}");
                let first_build = w
                    .jobs
                    .get(&job)
                    .and_then(|j| j.builds.first())
                    .map_or(start, |b| b.start);
                let created = first_build - 6 * DAY;
                repo.pulls.push(Pull {
                    number: JENKINS_PR,
                    title: title.into(),
                    body: "New single-page payment step behind the `checkout.v2` flag.\n\nJira: DOM-3981".into(),
                    login: "erin".into(),
                    head_ref: "erin/payment-step-redesign".into(),
                    head_sha: sha("pr41-head"),
                    created_at: created,
                    merged_at: None,
                    merge_commit_sha: None,
                    draft: false,
                    reviewers: vec!["bob".into(), "carol".into()],
                    reviews: vec![review(
                        "bob",
                        ReviewState::Commented,
                        created + 2 * DAY,
                        "The new layout breaks the saved-cards list on mobile.",
                        &sha("pr41-old-head"),
                    )],
                    jenkins_job: Some(job),
                    rolling: false,
                });
            }
            FAILING_HOOK => {
                let title = "Retry SMS provider on HTTP 429";
                repo.pulls.push(Pull {
                    number: 0,
                    title: title.into(),
                    body: "Honour Retry-After from the SMS gateway.\n\nJira: DOM-4410".into(),
                    login: "bob".into(),
                    head_ref: branch_name("bob", title),
                    head_sha: sha("retry-head"),
                    created_at: start - 85 * MIN,
                    merged_at: None,
                    merge_commit_sha: None,
                    draft: false,
                    reviewers: vec!["alice".into()],
                    reviews: Vec::new(),
                    jenkins_job: None,
                    rolling: false,
                });
                repo.extra_events.push(HookEvent {
                    at: start - 70 * MIN,
                    event: "pull_request",
                    action: Some("synchronize"),
                });
            }
            _ => {}
        }
    }

    /// Adds `n` static `bulk-NNN` repositories (a handful of merged pull
    /// requests, one or two open ones, protection and a healthy hook).
    pub(crate) fn add_bulk(&mut self, n: usize) {
        let start = self.start;
        for k in 0..n {
            let name = format!("bulk-{k:03}");
            let created_at = start - (400 + k as Ms) * DAY;
            let mut repo = Repo {
                name: name.clone(),
                bulk: true,
                id: 800_000_000 + k as u64,
                description: format!("Synthetic repository {k} of the Dominion estate."),
                created_at,
                hook_id: 500_000_000 + k as u64,
                protected: true,
                enforce_admins: true,
                hook_failing_since: None,
                commits: Vec::new(),
                pulls: Vec::new(),
                extra_events: Vec::new(),
                next_number: 0,
                rolling_seq: 0,
            };
            repo.commits.push(MasterCommit {
                sha: ids::sha(self.seed, &[&name, "initial"]),
                message: "Initial import".into(),
                login: login_at(k).into(),
                at: created_at + 10 * MIN,
                pr: None,
            });
            for j in 0..5 {
                let h = self.h(&[&name, &j.to_string()]);
                let msg = story::COMMIT_MESSAGES[pick(h, story::COMMIT_MESSAGES.len())];
                let c = MasterCommit {
                    sha: ids::sha(self.seed, &[&name, &j.to_string(), "c"]),
                    message: msg.into(),
                    login: login_at(pick(h ^ 1, story::PEOPLE.len())).into(),
                    at: start - (12 - 2 * j as Ms) * DAY - between(h, 0, 6 * HOUR),
                    pr: None,
                };
                let pr = self.history_pull(&name, &c);
                repo.commits.push(c);
                repo.pulls.push(pr);
            }
            for j in 0..1 + k % 2 {
                let mut p = self.rolling_pull(&name, repo.rolling_seq, start - (1 + j as Ms) * DAY - 3 * HOUR);
                repo.rolling_seq += 1;
                p.rolling = false;
                repo.pulls.push(p);
            }
            self.number_pulls(&mut repo);
            self.repos.push(repo);
        }
    }

    pub(crate) fn repo(&self, name: &str) -> Option<&Repo> {
        self.repos.iter().find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// The repository a Jenkins job's master builds belong to.
    pub(crate) fn service_of_job(job: &str) -> Option<&'static str> {
        let name = job.strip_prefix(FOLDER)?.strip_prefix('/')?;
        story::SERVICES.iter().map(|s| s.name).find(|s| *s == name)
    }

    /// Live story: `commits` are about to be pushed to `service`'s master
    /// and picked up by Jenkins at `push_at`. The first is the rolling pull
    /// request (if it is open), the others get pull requests of their own.
    /// Rewrites their times (seconds before the push) and, for the rolling
    /// pull request, title and author; records everything.
    pub(crate) fn push_live(&mut self, service: &str, commits: &mut [Commit], push_at: Ms) {
        let seed = self.seed;
        let Some(idx) = self.repos.iter().position(|r| r.name == service && !r.bulk) else {
            return;
        };
        let n = commits.len() as Ms;
        let mut consumed = false;
        for (i, c) in commits.iter_mut().enumerate() {
            let merged = push_at - 2 * SEC - (n - 1 - i as Ms) * 25 * SEC;
            c.timestamp = merged;
            let repo = &mut self.repos[idx];
            let rolling_open = repo.rolling_mut().is_some_and(|p| p.created_at + 30 * SEC <= merged);
            if i == 0
                && rolling_open
                && let Some(p) = repo.rolling_mut()
            {
                c.msg = p.title.clone();
                c.author_login = p.login.clone();
                c.author_name = story::full_name_of(&p.login);
                p.reviews.retain(|r| r.at < merged);
                if !p.reviews.iter().any(|r| r.state == ReviewState::Approved) {
                    let at = (merged - 20 * SEC).max(p.created_at + 10 * SEC);
                    let login = p.reviewers[0].clone();
                    let head = p.head_sha.clone();
                    let number = p.number;
                    p.reviews.push(Review {
                        id: review_id(seed, service, at, &format!("{number}{login}")),
                        login,
                        state: ReviewState::Approved,
                        at,
                        body: "LGTM".into(),
                        commit_id: head,
                    });
                }
                p.merged_at = Some(merged);
                p.merge_commit_sha = Some(c.id.clone());
                let number = p.number;
                repo.commits.push(MasterCommit {
                    sha: c.id.clone(),
                    message: c.msg.clone(),
                    login: c.author_login.clone(),
                    at: merged,
                    pr: Some(number),
                });
                consumed = true;
                continue;
            }
            let mc = MasterCommit {
                sha: c.id.clone(),
                message: c.msg.clone(),
                login: c.author_login.clone(),
                at: merged,
                pr: None,
            };
            let mut pr = self.history_pull(service, &mc);
            let repo = &mut self.repos[idx];
            pr.number = repo.next_number;
            repo.next_number += 1;
            for r in pr.reviews.iter_mut() {
                r.id = review_id(seed, service, r.at, &format!("{}{}", pr.number, r.login));
            }
            repo.commits.push(MasterCommit {
                pr: Some(pr.number),
                ..mc
            });
            repo.pulls.push(pr);
        }
        if consumed {
            let opened = push_at + between(self.h(&[service, "next", &push_at.to_string()]), 3 * MIN, 20 * MIN);
            let mut p = self.rolling_pull(service, self.repos[idx].rolling_seq, opened);
            let repo = &mut self.repos[idx];
            repo.rolling_seq += 1;
            p.number = repo.next_number;
            repo.next_number += 1;
            for r in p.reviews.iter_mut() {
                r.id = review_id(seed, service, r.at, &format!("{}{}", p.number, r.login));
            }
            repo.pulls.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::jenkins::Cause;

    const NOW: Ms = 1_764_000_000_000;

    fn world() -> World {
        World::new(7, "http://127.0.0.1:1".into(), false, NOW)
    }

    #[test]
    fn history_is_jenkins_history() {
        let w = world();
        for spec in &story::SERVICES {
            let repo = w.forge.repo(spec.name).unwrap();
            let job = &w.jobs[&format!("{FOLDER}/{}", spec.name)];
            // Every SHA Jenkins built is on master, in order.
            let pos = |sha: &str| repo.commits.iter().position(|c| c.sha == sha);
            let built: Vec<usize> = job
                .builds
                .iter()
                .map(|b| pos(&b.ctx.sha).expect("built SHA on master"))
                .collect();
            assert!(built.windows(2).all(|p| p[0] <= p[1]), "{}", spec.name);
            for (i, c) in repo.commits.iter().enumerate() {
                let direct = i == 0 || (spec.name == DIRECT_PUSH && c.sha == w.forge.direct_push_sha);
                assert_eq!(c.pr.is_none(), direct, "{} {}", spec.name, c.sha);
                if let Some(n) = c.pr {
                    let p = repo.pull(n).unwrap();
                    assert_eq!(p.merge_commit_sha.as_deref(), Some(c.sha.as_str()));
                    assert_eq!(p.merged_at, Some(c.at));
                    assert!(p.created_at < c.at);
                    assert!(
                        p.reviews
                            .iter()
                            .any(|r| r.state == ReviewState::Approved && r.at < c.at)
                    );
                    assert!(p.reviews.windows(2).all(|r| r[0].at <= r[1].at));
                    assert!(p.reviews.iter().all(|r| r.login != p.login));
                }
            }
            assert!(repo.commits.windows(2).all(|c| c[0].at <= c[1].at), "{}", spec.name);
            // Exactly one rolling pull request in review.
            assert_eq!(
                repo.pulls.iter().filter(|p| p.rolling && p.merged_at.is_none()).count(),
                1
            );
            let mut numbers: Vec<u64> = repo.pulls.iter().map(|p| p.number).collect();
            numbers.sort_unstable();
            numbers.dedup();
            assert_eq!(numbers.len(), repo.pulls.len(), "unique numbers");
        }
        assert!(!w.forge.direct_push_sha.is_empty());
    }

    #[test]
    fn live_pushes_merge_the_rolling_pull_request() {
        let mut w = world();
        let rolling: Vec<(String, u64, String)> = w
            .forge
            .repos
            .iter()
            .map(|r| {
                let p = r.pulls.iter().find(|p| p.rolling && p.merged_at.is_none()).unwrap();
                (r.name.clone(), p.number, p.title.clone())
            })
            .collect();
        w.advance(8 * HOUR);
        let mut merged_rolling = 0;
        for (name, number, title) in &rolling {
            let repo = w.forge.repo(name).unwrap();
            let job = &w.jobs[&format!("{FOLDER}/{name}")];
            for c in repo.commits.iter().filter(|c| c.at > NOW) {
                let p = repo.pull(c.pr.expect("live commits come from pull requests")).unwrap();
                assert_eq!(p.merged_at, Some(c.at));
                assert!(p.created_at < c.at);
                assert!(
                    p.reviews
                        .iter()
                        .any(|r| r.state == ReviewState::Approved && r.at <= c.at)
                );
                // Jenkins saw the same commit, after the merge.
                let (b, jc) = job
                    .builds
                    .iter()
                    .find_map(|b| b.commits.iter().find(|j| j.id == c.sha).map(|j| (b, j)))
                    .expect("a Jenkins build lists the commit");
                assert_eq!(jc.msg, c.message);
                assert_eq!(jc.author_login, c.login);
                assert_eq!(jc.timestamp, c.at);
                assert!(b.start > c.at && b.start - c.at < 2 * MIN);
            }
            let old = repo.pull(*number).unwrap();
            if let Some(sha) = &old.merge_commit_sha {
                merged_rolling += 1;
                let (_, c) = repo.commit(sha).unwrap();
                assert_eq!(&c.message, title);
                let next = repo.pulls.iter().find(|p| p.rolling && p.merged_at.is_none()).unwrap();
                assert!(next.created_at > c.at);
            }
        }
        assert!(merged_rolling >= 2, "pushes consumed rolling pull requests");
        // The broken webhook: Jenkins only polls notification-worker now.
        let nw = &w.jobs[&format!("{FOLDER}/{FAILING_HOOK}")];
        assert!(
            nw.builds
                .iter()
                .filter(|b| b.start > NOW)
                .all(|b| !b.causes.iter().any(|c| matches!(c, Cause::GitHubPush { .. })))
        );
    }

    #[test]
    fn same_seed_same_forge() {
        let a = world();
        let b = world();
        let key = |w: &World| {
            w.forge
                .repos
                .iter()
                .flat_map(|r| r.pulls.iter().map(|p| (p.number, p.head_sha.clone(), p.created_at)))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&a), key(&b));
        let mut f = a.forge.clone();
        f.add_bulk(3);
        assert_eq!(f.repos.len(), 9);
        assert!(
            f.repos[6..]
                .iter()
                .all(|r| r.bulk && r.commits.iter().all(|c| c.at < NOW))
        );
    }

    #[test]
    fn branch_names_are_slugs() {
        assert_eq!(
            branch_name("alice", "Bump spring-boot to 3.3.5"),
            "alice/bump-spring-boot-to-3-3-5"
        );
    }

    #[test]
    fn reviewers_exclude_the_author() {
        for h in 0..50 {
            let r = reviewers(h, "alice", 2);
            assert_eq!(r.len(), 2);
            assert!(!r.contains(&"alice".to_string()));
            assert_ne!(r[0], r[1]);
        }
    }
}
