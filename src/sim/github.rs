//! A GitHub Enterprise-style REST API (`{url}/github/api/v3`) over the
//! forge of the story: repositories, branch protection, pull requests and
//! reviews, commits, combined statuses (posted by the simulated Jenkins),
//! check runs, hooks and their deliveries, and `/rate_limit`.
//!
//! Endpoints (below the base): `GET /`, `/user`, `/rate_limit`,
//! `/orgs/dominion/repos`, and per repository `/repos/dominion/{repo}` plus
//! `/branches/master`, `/branches/master/protection`, `/pulls`,
//! `/pulls/{n}`, `/pulls/{n}/reviews`, `/commits`, `/commits/{ref}`,
//! `/commits/{ref}/status`, `/commits/{ref}/check-runs`, `/hooks`,
//! `/hooks/{id}`, `/hooks/{id}/deliveries`. `{ref}` is a SHA (or a prefix of
//! at least 7) of master or of a pull request head, or `master`. Anything
//! else is 404 (422 "No commit found for SHA" for unknown refs).
//!
//! Behaviour a client has to cope with:
//!
//! - `Authorization: Bearer <token>` or `token <token>`; anything else is
//!   401 "Bad credentials".
//! - Every authenticated request except `/rate_limit` spends one of 5000
//!   requests per window; a window opens with the first spent request and
//!   lasts an hour of *story* time (`x-ratelimit-reset` = its start + 3600 s,
//!   epoch seconds of the story clock). At zero every request (conditional or
//!   not, `/rate_limit` excepted) is answered 403 "API rate limit exceeded".
//! - Every 200 carries a weak `ETag` (a hash of the body); `If-None-Match`
//!   with the current one is answered 304 without a body and spends nothing.
//! - Lists take `per_page` (default 30, at most 100) and `page` and announce
//!   further pages in `Link` (`next`, `last`, `prev`, `first`); hook
//!   deliveries page with `cursor` instead, as on GitHub.

use hyper::StatusCode;
use hyper::header;
use serde::Serialize;
use serde_json::{Value, json};

use super::api::{self, ApiReq, hname};
use super::faults::lock;
use super::forge::{self, MasterCommit, Pull, Repo};
use super::ids;
use super::jenkins::{Build, BuildResult, Ms};
use super::render;
use super::routes::Reply;
use super::story::{FOLDER, HOUR, MIN, QUIET_PERIOD, SEC, World};
use super::{Shared, SimOptions};

const CONTENT_TYPE: &str = "application/json; charset=utf-8";
const LIMIT: u32 = 5000;
const WINDOW: Ms = HOUR;
const DOCS: &str = "https://docs.github.com/rest";
/// Context the Jenkins GitHub Branch Source plugin posts for pull requests.
pub(crate) const PR_CONTEXT: &str = "continuous-integration/jenkins/pr-merge";
/// Context it posts for branch (master) builds.
pub(crate) const BRANCH_CONTEXT: &str = "continuous-integration/jenkins/branch";

/// GitHub request counters of the estate, as tests read them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GithubStats {
    /// Every request to `/github/…` (401s, 403s and 304s included).
    pub requests: u64,
    /// Requests answered 304 Not Modified.
    pub not_modified: u64,
    /// Requests that spent one unit of the rate limit.
    pub spent: u64,
    pub remaining: u32,
    pub limit: u32,
    /// When the current window ends (epoch seconds, story clock).
    pub reset_epoch: i64,
}

/// The primary rate limit and the counters.
#[derive(Debug)]
pub(crate) struct RateState {
    remaining: u32,
    window_start: Option<Ms>,
    requests: u64,
    not_modified: u64,
    spent: u64,
}

impl Default for RateState {
    fn default() -> Self {
        RateState {
            remaining: LIMIT,
            window_start: None,
            requests: 0,
            not_modified: 0,
            spent: 0,
        }
    }
}

impl RateState {
    /// Starts a fresh window once the current one is over.
    fn roll(&mut self, now: Ms) {
        if self.window_start.is_some_and(|s| now >= s + WINDOW) {
            self.window_start = None;
            self.remaining = LIMIT;
        }
    }

    fn reset_epoch(&self, now: Ms) -> i64 {
        (self.window_start.unwrap_or(now) + WINDOW) / 1000
    }

    fn spend(&mut self, now: Ms) {
        if self.window_start.is_none() {
            self.window_start = Some(now);
        }
        self.remaining = self.remaining.saturating_sub(1);
        self.spent += 1;
    }

    pub(crate) fn stats(&mut self, now: Ms) -> GithubStats {
        self.roll(now);
        GithubStats {
            requests: self.requests,
            not_modified: self.not_modified,
            spent: self.spent,
            remaining: self.remaining,
            limit: LIMIT,
            reset_epoch: self.reset_epoch(now),
        }
    }

    pub(crate) fn set_remaining(&mut self, n: u32, now: Ms) {
        self.roll(now);
        if self.window_start.is_none() {
            self.window_start = Some(now);
        }
        self.remaining = n.min(LIMIT);
    }

    pub(crate) fn reset(&mut self) {
        *self = RateState::default();
    }

    fn headers(&self, now: Ms, mut r: Reply) -> Reply {
        r.headers.push((hname("x-ratelimit-limit"), LIMIT.to_string()));
        r.headers
            .push((hname("x-ratelimit-remaining"), self.remaining.to_string()));
        r.headers
            .push((hname("x-ratelimit-reset"), self.reset_epoch(now).to_string()));
        r.headers
            .push((hname("x-ratelimit-used"), (LIMIT - self.remaining).to_string()));
        r.headers.push((hname("x-ratelimit-resource"), "core".to_string()));
        r
    }
}

/// The token user, from `Bearer <token>` or `token <token>`.
pub(crate) fn authenticate(opts: &SimOptions, authorization: Option<&str>) -> Option<String> {
    let a = authorization?.trim();
    let token = a
        .strip_prefix("Bearer ")
        .or_else(|| a.strip_prefix("bearer "))
        .or_else(|| a.strip_prefix("token "))?;
    (token.trim() == opts.token).then(|| opts.user.clone())
}

fn github_headers(mut r: Reply) -> Reply {
    for (k, v) in [
        ("x-github-api-version-selected", "2022-11-28"),
        ("x-github-media-type", "github.v3; format=json"),
        ("x-github-enterprise-version", "3.14.2"),
    ] {
        r.headers.push((hname(k), v.to_string()));
    }
    r.headers.push((header::SERVER, "GitHub.com".to_string()));
    r.headers.push((
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, \
         X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, \
         X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset"
            .to_string(),
    ));
    r
}

fn error(status: StatusCode, message: &str, doc: &str) -> Reply {
    let mut body = json!({"message": message, "documentation_url": doc});
    if status != StatusCode::UNAUTHORIZED {
        body["status"] = json!(status.as_u16().to_string());
    }
    api::json(status, CONTENT_TYPE, &body)
}

fn not_found() -> Reply {
    error(StatusCode::NOT_FOUND, "Not Found", DOCS)
}

/// Weak ETag of a body, as GitHub sends them now.
fn etag(body: &[u8]) -> String {
    format!("W/\"{}\"", ids::hex(0, &[&String::from_utf8_lossy(body)], 64))
}

fn matches_etag(if_none_match: &str, tag: &str) -> bool {
    let bare = |s: &str| s.trim().trim_start_matches("W/").trim_matches('"').to_string();
    let want = bare(tag);
    if_none_match.split(',').any(|t| t.trim() == "*" || bare(t) == want)
}

/// Answers a request below `/github`.
pub(crate) fn handle(shared: &Shared, req: &ApiReq) -> Reply {
    lock(&shared.github).requests += 1;
    if req.user.is_none() {
        return github_headers(error(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS));
    }
    if !req.full_path.starts_with(api::GITHUB_PREFIX) {
        // Web pages (html_url) are not simulated.
        return github_headers(not_found());
    }
    let (now, rendered) = {
        let w = lock(&shared.world);
        let now = w.now;
        if req.path.trim_end_matches('/') == "/rate_limit" {
            (now, None)
        } else {
            (now, Some(route(&w, &shared.opts, req)))
        }
    };
    let mut rate = lock(&shared.github);
    rate.roll(now);
    let Some(reply) = rendered else {
        let reset = rate.reset_epoch(now);
        let used = LIMIT - rate.remaining;
        let core = json!({"limit": LIMIT, "used": used, "remaining": rate.remaining, "reset": reset});
        let fixed = |limit: u32| json!({"limit": limit, "used": 0, "remaining": limit, "reset": now / 1000 + 60});
        let body = json!({
            "resources": {
                "core": core,
                "search": fixed(30),
                "graphql": fixed(5000),
                "integration_manifest": fixed(5000),
                "source_import": fixed(100),
                "code_scanning_upload": fixed(1000),
                "actions_runner_registration": fixed(10000),
                "scim": fixed(15000),
                "dependency_snapshots": fixed(100),
                "code_search": fixed(10),
            },
            "rate": core,
        });
        let reply = api::json(StatusCode::OK, CONTENT_TYPE, &body);
        let tag = etag(&reply.body);
        if req.if_none_match.as_deref().is_some_and(|inm| matches_etag(inm, &tag)) {
            rate.not_modified += 1;
            let r = Reply::new(StatusCode::NOT_MODIFIED).header(header::ETAG, tag);
            return github_headers(rate.headers(now, r));
        }
        return github_headers(rate.headers(now, reply.header(header::ETAG, tag)));
    };
    if rate.remaining == 0 {
        let when = super::dates::github(now).replace('T', " ").replace('Z', " UTC");
        let msg = format!(
            "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the \
             request ID 0000:0000:0000000:0000000:00000000 and timestamp {when}."
        );
        let body = json!({
            "message": msg,
            "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
        });
        return github_headers(rate.headers(now, api::json(StatusCode::FORBIDDEN, CONTENT_TYPE, &body)));
    }
    let mut reply = reply;
    if reply.status == StatusCode::OK {
        let tag = etag(&reply.body);
        if req.if_none_match.as_deref().is_some_and(|inm| matches_etag(inm, &tag)) {
            rate.not_modified += 1;
            let r = Reply::new(StatusCode::NOT_MODIFIED).header(header::ETAG, tag);
            return github_headers(rate.headers(now, r));
        }
        reply.headers.push((header::ETAG, tag));
        reply
            .headers
            .push((header::CACHE_CONTROL, "private, max-age=60, s-maxage=60".to_string()));
        reply
            .headers
            .push((header::VARY, "Accept, Authorization, Cookie, X-GitHub-OTP".to_string()));
    }
    rate.spend(now);
    github_headers(rate.headers(now, reply))
}

/// What renderers need: the world, where things live, and the clock.
struct Ctx<'a> {
    w: &'a World,
    api: String,
    html: String,
    now: Ms,
}

fn route(w: &World, opts: &SimOptions, req: &ApiReq) -> Reply {
    if req.method != hyper::Method::GET && req.method != hyper::Method::HEAD {
        return not_found();
    }
    let ctx = Ctx {
        w,
        api: format!("{}{}", w.base, api::GITHUB_PREFIX),
        html: format!("{}/github", w.base),
        now: w.now,
    };
    let segs = req.segments();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        [] => {
            return ok(&json!({
                "current_user_url": format!("{}/user", ctx.api),
                "repository_url": format!("{}/repos/{{owner}}/{{repo}}", ctx.api),
                "rate_limit_url": format!("{}/rate_limit", ctx.api),
                "organization_repositories_url": format!("{}/orgs/{{org}}/repos{{?type,page,per_page,sort}}", ctx.api),
            }));
        }
        ["user"] => {
            let mut me = user(&ctx, &opts.user);
            me["name"] = json!(super::story::full_name_of(&opts.user));
            return ok(&me);
        }
        _ => {}
    }
    if let ["orgs" | "users", org, "repos"] = segs.as_slice() {
        if !org.eq_ignore_ascii_case(forge::OWNER) {
            return not_found();
        }
        let repos: Vec<Value> = w
            .forge
            .repos
            .iter()
            .filter(|r| r.created_at <= ctx.now)
            .map(|r| repo_json(&ctx, r))
            .collect();
        return paged(&ctx, req, repos);
    }
    let ["repos", owner, name, rest @ ..] = segs.as_slice() else {
        return not_found();
    };
    if !owner.eq_ignore_ascii_case(forge::OWNER) {
        return not_found();
    }
    let Some(repo) = w.forge.repo(name) else {
        return error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "https://docs.github.com/rest/repos/repos#get-a-repository",
        );
    };
    match rest {
        [] => ok(&repo_json(&ctx, repo)),
        ["branches", branch] => branch_json(&ctx, repo, branch),
        ["branches", branch, "protection"] => protection(&ctx, repo, branch),
        ["pulls"] => pulls(&ctx, req, repo),
        ["pulls", n] => match n.parse::<u64>().ok().and_then(|n| visible_pull(&ctx, repo, n)) {
            Some(p) => ok(&pull_json(&ctx, repo, p, true)),
            None => not_found(),
        },
        ["pulls", n, "reviews"] => match n.parse::<u64>().ok().and_then(|n| visible_pull(&ctx, repo, n)) {
            Some(p) => reviews(&ctx, req, repo, p),
            None => not_found(),
        },
        ["commits"] => commits(&ctx, req, repo),
        ["commits", r] => match resolve(&ctx, repo, r) {
            Some(sha) => match commit_at(&ctx, repo, &sha) {
                Some(v) => ok(&v),
                None => no_commit(r),
            },
            None => no_commit(r),
        },
        ["commits", r, "status"] => match resolve(&ctx, repo, r) {
            Some(sha) => combined_status(&ctx, req, repo, &sha),
            None => no_commit(r),
        },
        ["commits", r, "check-runs"] => match resolve(&ctx, repo, r) {
            Some(sha) => check_runs(&ctx, req, repo, &sha),
            None => no_commit(r),
        },
        ["hooks"] => {
            let hooks = vec![hook_json(&ctx, repo)];
            paged(&ctx, req, hooks)
        }
        ["hooks", id] if id.parse::<u64>().ok() == Some(repo.hook_id) => ok(&hook_json(&ctx, repo)),
        ["hooks", id, "deliveries"] if id.parse::<u64>().ok() == Some(repo.hook_id) => deliveries_page(&ctx, req, repo),
        _ => not_found(),
    }
}

fn ok(v: &Value) -> Reply {
    api::json(StatusCode::OK, CONTENT_TYPE, v)
}

fn no_commit(r: &str) -> Reply {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("No commit found for SHA: {r}"),
        "https://docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference",
    )
}

// ---- pagination -----------------------------------------------------------

fn page_params(req: &ApiReq) -> (usize, usize) {
    let per_page = api::number(req.param("per_page"), 30, 100).unwrap_or(30).max(1);
    let page = api::number(req.param("page"), 1, usize::MAX).unwrap_or(1).max(1);
    (per_page, page)
}

/// The request's URL with `key` set to `value`.
fn url_with(ctx: &Ctx, req: &ApiReq, key: &str, value: &str) -> String {
    let mut pairs: Vec<(String, String)> = req.query.iter().filter(|(k, _)| k != key).cloned().collect();
    pairs.push((key.to_string(), value.to_string()));
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}{}?{q}", ctx.w.base, req.full_path)
}

/// One page of `items` with GitHub's `Link` header.
fn paged(ctx: &Ctx, req: &ApiReq, items: Vec<Value>) -> Reply {
    let (per_page, page) = page_params(req);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let mut r = ok(&Value::Array(slice));
    let mut links = Vec::new();
    let link = |n: usize, rel: &str| format!("<{}>; rel=\"{rel}\"", url_with(ctx, req, "page", &n.to_string()));
    if page > 1 {
        links.push(link((page - 1).min(last), "prev"));
    }
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    if !links.is_empty() {
        r.headers.push((header::LINK, links.join(", ")));
    }
    r
}

// ---- users and repositories ------------------------------------------------

fn user_id(login: &str) -> u64 {
    match login {
        "web-flow" => 19_864_447,
        forge::OWNER => 6_100_000,
        _ => 5_100_000 + ids::hash(0, &[login]) % 100_000,
    }
}

fn user(ctx: &Ctx, login: &str) -> Value {
    let api = format!("{}/users/{login}", ctx.api);
    let id = user_id(login);
    let kind = if login == forge::OWNER { "Organization" } else { "User" };
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_kgDO{id:08X}"),
        "avatar_url": format!("{}/avatars/u/{id}?v=4", ctx.html),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{}/{login}", ctx.html),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

fn repo_api(ctx: &Ctx, repo: &Repo) -> String {
    format!("{}/repos/{}", ctx.api, repo.full_name())
}

fn repo_html(ctx: &Ctx, repo: &Repo) -> String {
    format!("{}/{}", ctx.html, repo.full_name())
}

fn open_pull_count(ctx: &Ctx, repo: &Repo) -> usize {
    repo.pulls.iter().filter(|p| p.is_open_at(ctx.now)).count()
}

const REPO_URLS: [(&str, &str); 36] = [
    ("forks_url", "/forks"),
    ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("teams_url", "/teams"),
    ("hooks_url", "/hooks"),
    ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"),
    ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"),
    ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"),
    ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"),
    ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"),
    ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
];

fn repo_json(ctx: &Ctx, repo: &Repo) -> Value {
    let api = repo_api(ctx, repo);
    let html = repo_html(ctx, repo);
    let pushed = repo.head_at(ctx.now).map_or(repo.created_at, |c| c.at);
    let open = open_pull_count(ctx, repo);
    let host = ctx.w.base.trim_start_matches("http://").trim_start_matches("https://");
    let mut v = json!({
        "id": repo.id,
        "node_id": format!("R_kgDO{:08X}", repo.id),
        "name": repo.name,
        "full_name": repo.full_name(),
        "private": true,
        "owner": user(ctx, forge::OWNER),
        "html_url": html,
        "description": repo.description,
        "fork": false,
        "url": api,
    });
    let more = json!({
        "created_at": super::dates::github(repo.created_at),
        "updated_at": super::dates::github(pushed),
        "pushed_at": super::dates::github(pushed),
        "git_url": format!("git://{host}/{}.git", repo.full_name()),
        "ssh_url": format!("git@{host}:{}.git", repo.full_name()),
        "clone_url": format!("{html}.git"),
        "svn_url": html,
        "homepage": null,
        "size": 2048 + repo.id % 30_000,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": "Java",
        "has_issues": true,
        "has_projects": false,
        "has_downloads": true,
        "has_wiki": false,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": false,
        "disabled": false,
        "open_issues_count": open,
        "license": null,
        "allow_forking": false,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": ["dominion", "java"],
        "visibility": "internal",
        "forks": 0,
        "open_issues": open,
        "watchers": 0,
        "default_branch": "master",
        "permissions": {"admin": false, "maintain": false, "push": false, "triage": false, "pull": true},
        "allow_squash_merge": true,
        "allow_merge_commit": false,
        "allow_rebase_merge": false,
        "allow_auto_merge": false,
        "delete_branch_on_merge": true,
        "network_count": 0,
        "subscribers_count": 4,
    });
    if let (Value::Object(m), Value::Object(extra)) = (&mut v, more) {
        m.extend(extra);
        for (key, suffix) in REPO_URLS {
            m.insert(key.to_string(), json!(format!("{api}{suffix}")));
        }
    }
    if repo.bulk {
        v["topics"] = json!(["dominion", "bulk"]);
    }
    v
}

fn branch_json(ctx: &Ctx, repo: &Repo, branch: &str) -> Reply {
    if branch != "master" {
        return error(
            StatusCode::NOT_FOUND,
            "Branch not found",
            "https://docs.github.com/rest/branches/branches#get-a-branch",
        );
    }
    let Some(head) = repo.head_at(ctx.now) else {
        return not_found();
    };
    let api = repo_api(ctx, repo);
    let mut commit = commit_at(ctx, repo, &head.sha).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut commit {
        m.remove("files");
    }
    ok(&json!({
        "name": "master",
        "commit": commit,
        "_links": {"self": format!("{api}/branches/master"), "html": format!("{}/tree/master", repo_html(ctx, repo))},
        "protected": repo.protected,
        "protection": protection_body(ctx, repo).unwrap_or_else(|| json!({"enabled": false, "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []}})),
        "protection_url": format!("{api}/branches/master/protection"),
    }))
}

fn protection_body(ctx: &Ctx, repo: &Repo) -> Option<Value> {
    if !repo.protected {
        return None;
    }
    let url = format!("{}/branches/master/protection", repo_api(ctx, repo));
    Some(json!({
        "url": url,
        "required_status_checks": {
            "url": format!("{url}/required_status_checks"),
            "strict": true,
            "contexts": [PR_CONTEXT, "CodeQL"],
            "contexts_url": format!("{url}/required_status_checks/contexts"),
            "checks": [
                {"context": PR_CONTEXT, "app_id": null},
                {"context": "CodeQL", "app_id": 57789},
            ],
        },
        "required_pull_request_reviews": {
            "url": format!("{url}/required_pull_request_reviews"),
            "dismiss_stale_reviews": true,
            "require_code_owner_reviews": false,
            "require_last_push_approval": false,
            "required_approving_review_count": 1,
        },
        "required_signatures": {"url": format!("{url}/required_signatures"), "enabled": false},
        "enforce_admins": {"url": format!("{url}/enforce_admins"), "enabled": repo.enforce_admins},
        "required_linear_history": {"enabled": true},
        "allow_force_pushes": {"enabled": false},
        "allow_deletions": {"enabled": false},
        "block_creations": {"enabled": false},
        "required_conversation_resolution": {"enabled": false},
        "lock_branch": {"enabled": false},
        "allow_fork_syncing": {"enabled": false},
    }))
}

fn protection(ctx: &Ctx, repo: &Repo, branch: &str) -> Reply {
    if branch != "master" {
        return error(
            StatusCode::NOT_FOUND,
            "Branch not found",
            "https://docs.github.com/rest/branches/branch-protection#get-branch-protection",
        );
    }
    match protection_body(ctx, repo) {
        Some(v) => ok(&v),
        None => error(
            StatusCode::NOT_FOUND,
            "Branch not protected",
            "https://docs.github.com/rest/branches/branch-protection#get-branch-protection",
        ),
    }
}

// ---- pull requests ----------------------------------------------------------

fn visible_pull<'a>(ctx: &Ctx, repo: &'a Repo, number: u64) -> Option<&'a Pull> {
    repo.pull(number).filter(|p| p.created_at <= ctx.now)
}

/// Builds of a Jenkins job at or before the clock.
fn job_builds<'a>(ctx: &Ctx<'a>, job: &str) -> impl Iterator<Item = &'a Build> + 'a {
    let now = ctx.now;
    ctx.w
        .jobs
        .get(job)
        .map(|j| j.builds.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(move |b| b.start <= now)
}

/// Head SHA and when it was pushed.
fn pull_head(ctx: &Ctx, p: &Pull) -> (String, Ms) {
    if let Some(job) = &p.jenkins_job
        && let Some(b) = job_builds(ctx, job).last()
    {
        return (b.ctx.sha.clone(), b.start - QUIET_PERIOD);
    }
    (p.head_sha.clone(), p.created_at - 5 * MIN)
}

fn merged_at(ctx: &Ctx, p: &Pull) -> Option<Ms> {
    p.merged_at.filter(|m| *m <= ctx.now)
}

fn pull_updated(ctx: &Ctx, p: &Pull) -> Ms {
    let mut t = p.created_at.max(pull_head(ctx, p).1);
    for r in p.reviews.iter().filter(|r| r.at <= ctx.now) {
        t = t.max(r.at);
    }
    if let Some(m) = merged_at(ctx, p) {
        t = t.max(m);
    }
    t
}

fn requested_reviewers(ctx: &Ctx, p: &Pull) -> Vec<String> {
    p.reviewers
        .iter()
        .filter(|l| !p.reviews.iter().any(|r| &r.login == *l && r.at <= ctx.now))
        .cloned()
        .collect()
}

fn pull_json(ctx: &Ctx, repo: &Repo, p: &Pull, single: bool) -> Value {
    let api = repo_api(ctx, repo);
    let html = repo_html(ctx, repo);
    let n = p.number;
    let merged = merged_at(ctx, p);
    let (head_sha, _) = pull_head(ctx, p);
    let base_sha = match (merged, &p.merge_commit_sha) {
        (Some(_), Some(sha)) => repo
            .commit(sha)
            .and_then(|(i, _)| i.checked_sub(1))
            .and_then(|i| repo.commits.get(i))
            .map(|c| c.sha.clone()),
        _ => repo.head_at(ctx.now).map(|c| c.sha.clone()),
    }
    .unwrap_or_default();
    let repo_v = repo_json(ctx, repo);
    let fmt = super::dates::github;
    let requested: Vec<Value> = requested_reviewers(ctx, p).iter().map(|l| user(ctx, l)).collect();
    let mut v = json!({
        "url": format!("{api}/pulls/{n}"),
        "id": 1_800_000_000 + ids::hash(0, &[&repo.name, &n.to_string()]) % 100_000_000,
        "node_id": format!("PR_kwDO{:08X}{n}", repo.id),
        "html_url": format!("{html}/pull/{n}"),
        "diff_url": format!("{html}/pull/{n}.diff"),
        "patch_url": format!("{html}/pull/{n}.patch"),
        "issue_url": format!("{api}/issues/{n}"),
        "number": n,
        "state": if merged.is_some() { "closed" } else { "open" },
        "locked": false,
        "title": p.title,
        "user": user(ctx, &p.login),
        "body": p.body,
        "created_at": fmt(p.created_at),
        "updated_at": fmt(pull_updated(ctx, p)),
        "closed_at": merged.map(fmt),
        "merged_at": merged.map(fmt),
        "merge_commit_sha": if merged.is_some() { json!(p.merge_commit_sha) } else { Value::Null },
        "assignee": null,
        "assignees": [],
        "requested_reviewers": requested,
        "requested_teams": [],
        "labels": [],
        "milestone": null,
        "draft": p.draft,
        "commits_url": format!("{api}/pulls/{n}/commits"),
        "review_comments_url": format!("{api}/pulls/{n}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{n}/comments"),
        "statuses_url": format!("{api}/statuses/{head_sha}"),
        "author_association": "MEMBER",
        "auto_merge": null,
        "active_lock_reason": null,
    });
    v["head"] = json!({
        "label": format!("{}:{}", forge::OWNER, p.head_ref),
        "ref": p.head_ref,
        "sha": head_sha,
        "user": user(ctx, forge::OWNER),
        "repo": repo_v,
    });
    v["base"] = json!({
        "label": format!("{}:master", forge::OWNER),
        "ref": "master",
        "sha": base_sha,
        "user": user(ctx, forge::OWNER),
        "repo": repo_v,
    });
    v["_links"] = json!({
        "self": {"href": format!("{api}/pulls/{n}")},
        "html": {"href": format!("{html}/pull/{n}")},
        "issue": {"href": format!("{api}/issues/{n}")},
        "comments": {"href": format!("{api}/issues/{n}/comments")},
        "review_comments": {"href": format!("{api}/pulls/{n}/comments")},
        "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
        "commits": {"href": format!("{api}/pulls/{n}/commits")},
        "statuses": {"href": format!("{api}/statuses/{head_sha}")},
    });
    if single {
        let open = merged.is_none();
        v["merged"] = json!(!open);
        v["mergeable"] = if open { json!(true) } else { Value::Null };
        v["rebaseable"] = if open { json!(false) } else { Value::Null };
        v["mergeable_state"] = json!(if open { "blocked" } else { "unknown" });
        v["merged_by"] = if open { Value::Null } else { user(ctx, &p.login) };
        v["comments"] = json!(0);
        v["review_comments"] = json!(p.reviews.iter().filter(|r| r.at <= ctx.now).count());
        v["maintainer_can_modify"] = json!(false);
        v["commits"] = json!(1);
        v["additions"] = json!(10 + p.number % 90);
        v["deletions"] = json!(p.number % 40);
        v["changed_files"] = json!(1 + p.number % 6);
    }
    v
}

fn pulls(ctx: &Ctx, req: &ApiReq, repo: &Repo) -> Reply {
    let state = req.param("state").unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed",
            "https://docs.github.com/rest/pulls/pulls#list-pull-requests",
        );
    }
    let sort = req.param("sort").unwrap_or("created");
    let direction = req
        .param("direction")
        .unwrap_or(if sort == "created" { "desc" } else { "asc" });
    let base = req.param("base").filter(|b| !b.is_empty());
    let head = req.param("head").filter(|h| !h.is_empty());
    let mut list: Vec<&Pull> = repo
        .pulls
        .iter()
        .filter(|p| p.created_at <= ctx.now)
        .filter(|p| {
            let open = merged_at(ctx, p).is_none();
            match state {
                "open" => open,
                "closed" => !open,
                _ => true,
            }
        })
        .filter(|_| base.is_none_or(|b| b == "master"))
        .filter(|p| {
            head.is_none_or(|h| {
                let want = h.split_once(':').map_or(h, |(_, r)| r);
                p.head_ref == want
            })
        })
        .collect();
    match sort {
        "updated" => list.sort_by_key(|p| (pull_updated(ctx, p), p.number)),
        "popularity" => list.sort_by_key(|p| (p.reviews.len(), p.number)),
        "long-running" => list.sort_by_key(|p| (ctx.now - p.created_at, p.number)),
        _ => list.sort_by_key(|p| (p.created_at, p.number)),
    }
    if direction == "desc" {
        list.reverse();
    }
    let items = list.into_iter().map(|p| pull_json(ctx, repo, p, false)).collect();
    paged(ctx, req, items)
}

fn reviews(ctx: &Ctx, req: &ApiReq, repo: &Repo, p: &Pull) -> Reply {
    let api = repo_api(ctx, repo);
    let html = repo_html(ctx, repo);
    let n = p.number;
    let items = p
        .reviews
        .iter()
        .filter(|r| r.at <= ctx.now)
        .map(|r| {
            let link = format!("{html}/pull/{n}#pullrequestreview-{}", r.id);
            json!({
                "id": r.id,
                "node_id": format!("PRR_kwDO{:08X}", r.id),
                "user": user(ctx, &r.login),
                "body": r.body,
                "state": r.state.as_str(),
                "html_url": link,
                "pull_request_url": format!("{api}/pulls/{n}"),
                "author_association": "MEMBER",
                "_links": {"html": {"href": link}, "pull_request": {"href": format!("{api}/pulls/{n}")}},
                "submitted_at": super::dates::github(r.at),
                "commit_id": r.commit_id,
            })
        })
        .collect();
    paged(ctx, req, items)
}

// ---- commits ---------------------------------------------------------------

/// A commit SHA of the repository for `r` (a SHA, `master` or `heads/master`).
fn resolve(ctx: &Ctx, repo: &Repo, r: &str) -> Option<String> {
    let r = r.trim_start_matches("refs/").trim_start_matches("heads/");
    if r == "master" {
        return repo.head_at(ctx.now).map(|c| c.sha.clone());
    }
    if r.len() < 7 || !r.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let lower = r.to_ascii_lowercase();
    let hit = |sha: &str| sha.starts_with(&lower);
    if let Some(c) = repo.commits_at(ctx.now).iter().find(|c| hit(&c.sha)) {
        return Some(c.sha.clone());
    }
    for p in repo.pulls.iter().filter(|p| p.created_at <= ctx.now) {
        if let Some(job) = &p.jenkins_job {
            if let Some(b) = job_builds(ctx, job).find(|b| hit(&b.ctx.sha)) {
                return Some(b.ctx.sha.clone());
            }
        } else if hit(&p.head_sha) {
            return Some(p.head_sha.clone());
        }
    }
    None
}

/// The pull request whose head is `sha`, if any.
fn pull_with_head<'a>(ctx: &Ctx, repo: &'a Repo, sha: &str) -> Option<&'a Pull> {
    repo.pulls
        .iter()
        .filter(|p| p.created_at <= ctx.now)
        .find(|p| match &p.jenkins_job {
            Some(job) => job_builds(ctx, job).any(|b| b.ctx.sha == sha),
            None => p.head_sha == sha,
        })
}

struct CommitView {
    sha: String,
    message: String,
    login: String,
    at: Ms,
    /// Squash merges are committed by GitHub itself.
    web_flow: bool,
    parents: Vec<String>,
}

fn master_view(repo: &Repo, i: usize, c: &MasterCommit) -> CommitView {
    CommitView {
        sha: c.sha.clone(),
        message: c.message.clone(),
        login: c.login.clone(),
        at: c.at,
        web_flow: c.pr.is_some(),
        parents: i
            .checked_sub(1)
            .and_then(|j| repo.commits.get(j))
            .map(|p| vec![p.sha.clone()])
            .unwrap_or_default(),
    }
}

/// A pull request head commit (branch tip), on top of master at its creation.
fn head_view(ctx: &Ctx, repo: &Repo, p: &Pull, sha: &str) -> CommitView {
    let at = match &p.jenkins_job {
        Some(job) => job_builds(ctx, job)
            .find(|b| b.ctx.sha == sha)
            .map_or(p.created_at, |b| b.start - QUIET_PERIOD),
        None => p.created_at - 5 * MIN,
    };
    let parent = repo
        .commits
        .iter()
        .rev()
        .find(|c| c.at <= p.created_at)
        .map(|c| c.sha.clone());
    CommitView {
        sha: sha.to_string(),
        message: p.title.clone(),
        login: p.login.clone(),
        at,
        web_flow: false,
        parents: parent.into_iter().collect(),
    }
}

fn commit_json(ctx: &Ctx, repo: &Repo, c: &CommitView) -> Value {
    let api = repo_api(ctx, repo);
    let html = repo_html(ctx, repo);
    let name = super::story::full_name_of(&c.login);
    let email = format!("{}@dominion.example", c.login);
    let date = super::dates::github(c.at);
    let tree = ids::sha(0, &[&c.sha, "tree"]);
    let (committer, committer_user) = if c.web_flow {
        (
            json!({"name": "GitHub", "email": "noreply@github.com", "date": date}),
            user(ctx, "web-flow"),
        )
    } else {
        (json!({"name": name, "email": email, "date": date}), user(ctx, &c.login))
    };
    let parents: Vec<Value> = c
        .parents
        .iter()
        .map(|p| json!({"sha": p, "url": format!("{api}/commits/{p}"), "html_url": format!("{html}/commit/{p}")}))
        .collect();
    json!({
        "sha": c.sha,
        "node_id": format!("C_kwDO{:08X}{}", repo.id, &c.sha[..12.min(c.sha.len())]),
        "commit": {
            "author": {"name": name, "email": email, "date": date},
            "committer": committer,
            "message": c.message,
            "tree": {"sha": tree, "url": format!("{api}/git/trees/{tree}")},
            "url": format!("{api}/git/commits/{}", c.sha),
            "comment_count": 0,
            "verification": {
                "verified": c.web_flow,
                "reason": if c.web_flow { "valid" } else { "unsigned" },
                "signature": null,
                "payload": null,
                "verified_at": if c.web_flow { json!(date) } else { Value::Null },
            },
        },
        "url": format!("{api}/commits/{}", c.sha),
        "html_url": format!("{html}/commit/{}", c.sha),
        "comments_url": format!("{api}/commits/{}/comments", c.sha),
        "author": user(ctx, &c.login),
        "committer": committer_user,
        "parents": parents,
    })
}

fn commit_at(ctx: &Ctx, repo: &Repo, sha: &str) -> Option<Value> {
    if let Some((i, c)) = repo.commit(sha).filter(|(_, c)| c.at <= ctx.now) {
        return Some(commit_json(ctx, repo, &master_view(repo, i, c)));
    }
    let p = pull_with_head(ctx, repo, sha)?;
    Some(commit_json(ctx, repo, &head_view(ctx, repo, p, sha)))
}

fn parse_time(s: &str) -> Option<Ms> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn commits(ctx: &Ctx, req: &ApiReq, repo: &Repo) -> Reply {
    let from = req.param("sha").filter(|s| !s.is_empty()).unwrap_or("master");
    let Some(sha) = resolve(ctx, repo, from) else {
        return not_found();
    };
    let mut views: Vec<CommitView> = Vec::new();
    let master = repo.commits_at(ctx.now);
    let start_idx = match master.iter().position(|c| c.sha == sha) {
        Some(i) => Some(i),
        None => {
            let p = pull_with_head(ctx, repo, &sha);
            p.map(|p| {
                let v = head_view(ctx, repo, p, &sha);
                let parent = v.parents.first().cloned();
                views.push(v);
                parent
                    .and_then(|ps| master.iter().position(|c| c.sha == ps))
                    .unwrap_or(0)
            })
        }
    };
    if let Some(i) = start_idx {
        for j in (0..=i).rev() {
            views.push(master_view(repo, j, &master[j]));
        }
    }
    let since = req.param("since").and_then(parse_time);
    let until = req.param("until").and_then(parse_time);
    let author = req.param("author").filter(|a| !a.is_empty());
    let items = views
        .iter()
        .filter(|c| since.is_none_or(|s| c.at >= s))
        .filter(|c| until.is_none_or(|u| c.at <= u))
        .filter(|c| author.is_none_or(|a| a.eq_ignore_ascii_case(&c.login)))
        .map(|c| commit_json(ctx, repo, c))
        .collect();
    paged(ctx, req, items)
}

// ---- statuses and checks ------------------------------------------------------

struct StatusView {
    context: &'static str,
    state: &'static str,
    description: &'static str,
    target_url: Option<String>,
    at: Ms,
}

/// What the Jenkins GitHub plugin last posted for a build.
fn build_status(ctx: &Ctx, job: &str, b: &Build, context: &'static str) -> StatusView {
    let (state, description, at) = match (b.building, b.result) {
        (true, _) | (false, None) => ("pending", "This commit is being built", b.start),
        (false, Some(BuildResult::Success)) => ("success", "This commit looks good", b.end.unwrap_or(b.start)),
        (false, Some(BuildResult::Unstable)) => ("failure", "This commit is unstable", b.end.unwrap_or(b.start)),
        (false, Some(BuildResult::Failure)) => ("failure", "This commit cannot be built", b.end.unwrap_or(b.start)),
        (false, Some(BuildResult::Aborted)) => (
            "error",
            "The build of this commit was aborted",
            b.end.unwrap_or(b.start),
        ),
    };
    StatusView {
        context,
        state,
        description,
        target_url: Some(render::build_url(ctx.w, job, b.number)),
        at: at.min(ctx.now),
    }
}

/// Statuses on `sha`, latest per context; None when the SHA is unknown.
fn statuses(ctx: &Ctx, repo: &Repo, sha: &str) -> Vec<StatusView> {
    let mut out = Vec::new();
    if repo.commit(sha).is_some() {
        if repo.bulk {
            if let Some((_, c)) = repo.commit(sha) {
                let at = c.at + 6 * MIN;
                if at <= ctx.now {
                    out.push(StatusView {
                        context: BRANCH_CONTEXT,
                        state: "success",
                        description: "This commit looks good",
                        target_url: None,
                        at,
                    });
                }
            }
        } else {
            let job = format!("{FOLDER}/{}", repo.name);
            if let Some(b) = job_builds(ctx, &job).filter(|b| b.ctx.sha == sha).last() {
                out.push(build_status(ctx, &job, b, BRANCH_CONTEXT));
            }
        }
    }
    if let Some(p) = pull_with_head(ctx, repo, sha) {
        match &p.jenkins_job {
            Some(job) => {
                if let Some(b) = job_builds(ctx, job).filter(|b| b.ctx.sha == sha).last() {
                    out.push(build_status(ctx, job, b, PR_CONTEXT));
                }
            }
            None => {
                let target = Some(format!(
                    "{}/job/{FOLDER}/job/{}-pr/job/PR-{}/1/",
                    ctx.w.base, repo.name, p.number
                ));
                let pending = p.created_at + 30 * SEC;
                let done = p.created_at + 4 * MIN;
                if done <= ctx.now {
                    out.push(StatusView {
                        context: PR_CONTEXT,
                        state: "success",
                        description: "This commit looks good",
                        target_url: target,
                        at: done,
                    });
                } else if pending <= ctx.now {
                    out.push(StatusView {
                        context: PR_CONTEXT,
                        state: "pending",
                        description: "This commit is being built",
                        target_url: target,
                        at: pending,
                    });
                }
            }
        }
    }
    out
}

fn combined_status(ctx: &Ctx, req: &ApiReq, repo: &Repo, sha: &str) -> Reply {
    let list = statuses(ctx, repo, sha);
    let api = repo_api(ctx, repo);
    let state = if list.iter().any(|s| s.state == "failure" || s.state == "error") {
        "failure"
    } else if list.is_empty() || list.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let (per_page, page) = page_params(req);
    let items: Vec<Value> = list
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|s| {
            let id = 20_000_000_000
                + ((s.at / 1000 - 1_600_000_000).max(0) as u64) * 4
                + (ids::hash(0, &[sha, s.context]) % 4);
            let t = super::dates::github(s.at);
            json!({
                "url": format!("{api}/statuses/{sha}"),
                "avatar_url": format!("{}/avatars/u/{}?v=4", ctx.html, user_id("jenkins")),
                "id": id,
                "node_id": format!("SC_kwDO{id:012X}"),
                "state": s.state,
                "description": s.description,
                "target_url": s.target_url,
                "context": s.context,
                "created_at": t,
                "updated_at": t,
            })
        })
        .collect();
    ok(&json!({
        "state": state,
        "statuses": items,
        "sha": sha,
        "total_count": list.len(),
        "repository": repo_json(ctx, repo),
        "commit_url": format!("{api}/commits/{sha}"),
        "url": format!("{api}/commits/{sha}/status"),
    }))
}

struct CheckView {
    name: &'static str,
    app: &'static str,
    started: Ms,
    completed: Ms,
}

fn checks(ctx: &Ctx, repo: &Repo, sha: &str) -> Vec<CheckView> {
    let mut out = Vec::new();
    let h = ids::hash(0, &[&repo.name, sha, "checks"]);
    let codeql = |at: Ms| CheckView {
        name: "CodeQL",
        app: "github-advanced-security",
        started: at + 40 * SEC,
        completed: at + 40 * SEC + 3 * MIN + (h % 240) as Ms * SEC,
    };
    if let Some((_, c)) = repo.commit(sha) {
        out.push(codeql(c.at));
    } else if let Some(p) = pull_with_head(ctx, repo, sha) {
        let at = head_view(ctx, repo, p, sha).at.max(p.created_at);
        out.push(codeql(at));
        out.push(CheckView {
            name: "dependency-review",
            app: "github-actions",
            started: at + 20 * SEC,
            completed: at + 80 * SEC,
        });
    }
    out.retain(|c| c.started <= ctx.now);
    out
}

fn app_json(ctx: &Ctx, slug: &str) -> Value {
    let (id, name, description) = match slug {
        "github-actions" => (
            15368,
            "GitHub Actions",
            "Automate your workflow from idea to production",
        ),
        _ => (57789, "GitHub Advanced Security", "Code scanning and secret scanning"),
    };
    json!({
        "id": id,
        "slug": slug,
        "node_id": format!("MDM6QXBw{id}"),
        "owner": user(ctx, "github"),
        "name": name,
        "description": description,
        "external_url": format!("{}/features", ctx.html),
        "html_url": format!("{}/apps/{slug}", ctx.html),
        "created_at": "2018-07-30T09:30:17Z",
        "updated_at": "2024-04-10T20:33:16Z",
        "permissions": {"checks": "write", "contents": "read", "metadata": "read", "security_events": "write"},
        "events": ["check_run", "check_suite", "pull_request", "push"],
    })
}

fn check_runs(ctx: &Ctx, req: &ApiReq, repo: &Repo, sha: &str) -> Reply {
    let api = repo_api(ctx, repo);
    let html = repo_html(ctx, repo);
    let name_filter = req.param("check_name").filter(|n| !n.is_empty());
    let status_filter = req.param("status").filter(|n| !n.is_empty());
    let list: Vec<Value> = checks(ctx, repo, sha)
        .into_iter()
        .filter(|c| name_filter.is_none_or(|n| n == c.name))
        .map(|c| {
            let done = c.completed <= ctx.now;
            let id = 30_000_000_000
                + ((c.started / 1000 - 1_600_000_000).max(0) as u64) * 4
                + (ids::hash(0, &[sha, c.name]) % 4);
            let suite = 28_000_000_000 + ids::hash(0, &[sha, c.app]) % 1_000_000_000;
            let summary = if c.name == "CodeQL" {
                "No new alerts"
            } else {
                "No vulnerabilities or license issues found."
            };
            json!({
                "id": id,
                "name": c.name,
                "node_id": format!("CR_kwDO{id:012X}"),
                "head_sha": sha,
                "external_id": ids::hex(0, &[sha, c.name, "ext"], 32),
                "url": format!("{api}/check-runs/{id}"),
                "html_url": format!("{html}/runs/{id}"),
                "details_url": format!("{html}/runs/{id}"),
                "status": if done { "completed" } else { "in_progress" },
                "conclusion": if done { json!("success") } else { Value::Null },
                "started_at": super::dates::github(c.started),
                "completed_at": if done { json!(super::dates::github(c.completed)) } else { Value::Null },
                "output": {
                    "title": if done { json!(summary) } else { Value::Null },
                    "summary": if done { json!(summary) } else { Value::Null },
                    "text": null,
                    "annotations_count": 0,
                    "annotations_url": format!("{api}/check-runs/{id}/annotations"),
                },
                "check_suite": {"id": suite},
                "app": app_json(ctx, c.app),
                "pull_requests": [],
            })
        })
        .filter(|v| status_filter.is_none_or(|s| v["status"] == s))
        .collect();
    let (per_page, page) = page_params(req);
    let total = list.len();
    let items: Vec<Value> = list.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    ok(&json!({"total_count": total, "check_runs": items}))
}

// ---- hooks --------------------------------------------------------------------

struct DeliveryView {
    id: u64,
    at: Ms,
    event: &'static str,
    action: Option<&'static str>,
    status_code: u16,
    status: &'static str,
    duration: f64,
}

fn hook_created(repo: &Repo) -> Ms {
    repo.created_at + 20 * MIN
}

/// Deliveries of the repository's hook up to the clock, newest first.
fn deliveries(ctx: &Ctx, repo: &Repo) -> Vec<DeliveryView> {
    let mut events: Vec<(Ms, &'static str, Option<&'static str>)> = Vec::new();
    for p in repo.pulls.iter() {
        events.push((p.created_at, "pull_request", Some("opened")));
        if let Some(m) = p.merged_at {
            events.push((m, "pull_request", Some("closed")));
        }
        if let Some(job) = &p.jenkins_job {
            for b in job_builds(ctx, job).filter(|b| !b.commits.is_empty()) {
                events.push((b.start - QUIET_PERIOD, "pull_request", Some("synchronize")));
            }
        }
    }
    for c in &repo.commits {
        events.push((c.at + SEC, "push", None));
    }
    for e in &repo.extra_events {
        events.push((e.at, e.event, e.action));
    }
    let from = hook_created(repo);
    events.retain(|(at, _, _)| *at >= from && *at <= ctx.now);
    events.sort_by_key(|(at, e, a)| (*at, *e, a.unwrap_or("")));
    let mut out: Vec<DeliveryView> = events
        .into_iter()
        .enumerate()
        .map(|(k, (at, event, action))| {
            let h = ids::hash(0, &[&repo.name, &at.to_string(), event]);
            let failing = repo.hook_failing_since.is_some_and(|f| at >= f);
            let (status_code, status, duration) = if failing {
                match h % 3 {
                    0 => (502, "Invalid HTTP Response: 502", 0.41),
                    1 => (504, "Invalid HTTP Response: 504", 9.87),
                    _ => (0, "timed out", 10.0),
                }
            } else {
                (200, "OK", 0.12 + (h % 50) as f64 / 100.0)
            };
            DeliveryView {
                id: 90_000_000_000 + ((at / 1000 - 1_600_000_000).max(0) as u64) * 16 + (k as u64 % 16),
                at,
                event,
                action,
                status_code,
                status,
                duration,
            }
        })
        .collect();
    out.reverse();
    out
}

fn delivery_json(repo: &Repo, d: &DeliveryView) -> Value {
    let g = ids::hex(0, &[&repo.name, &d.id.to_string(), "guid"], 32);
    json!({
        "id": d.id,
        "guid": format!("{}-{}-{}-{}-{}", &g[..8], &g[8..12], &g[12..16], &g[16..20], &g[20..32]),
        "delivered_at": super::dates::github(d.at),
        "redelivery": false,
        "duration": d.duration,
        "status": d.status,
        "status_code": d.status_code,
        "event": d.event,
        "action": d.action,
        "installation_id": null,
        "repository_id": repo.id,
        "url": "",
        "throttled_at": null,
    })
}

fn hook_json(ctx: &Ctx, repo: &Repo) -> Value {
    let api = repo_api(ctx, repo);
    let id = repo.hook_id;
    let last = deliveries(ctx, repo).into_iter().next();
    let last_response = match &last {
        None => json!({"code": null, "status": "unused", "message": null}),
        Some(d) if d.status_code == 200 => json!({"code": 200, "status": "active", "message": "OK"}),
        Some(d) if d.status_code == 0 => json!({"code": null, "status": "timeout", "message": "Service Timeout"}),
        Some(d) => json!({"code": d.status_code, "status": "failed", "message": d.status}),
    };
    let created = super::dates::github(hook_created(repo));
    json!({
        "type": "Repository",
        "id": id,
        "name": "web",
        "active": true,
        "events": ["pull_request", "push"],
        "config": {
            "content_type": "json",
            "insecure_ssl": "0",
            "url": format!("{}/github-webhook/", ctx.w.base),
        },
        "updated_at": created,
        "created_at": created,
        "url": format!("{api}/hooks/{id}"),
        "test_url": format!("{api}/hooks/{id}/test"),
        "ping_url": format!("{api}/hooks/{id}/pings"),
        "deliveries_url": format!("{api}/hooks/{id}/deliveries"),
        "last_response": last_response,
    })
}

/// Deliveries page by `cursor` (the id of the last delivery already seen).
fn deliveries_page(ctx: &Ctx, req: &ApiReq, repo: &Repo) -> Reply {
    let per_page = api::number(req.param("per_page"), 30, 100).unwrap_or(30).max(1);
    let all = deliveries(ctx, repo);
    let skip = match req.param("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => {
            let Some(id) = c.strip_prefix("v1_").and_then(|n| n.parse::<u64>().ok()) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Invalid cursor",
                    "https://docs.github.com/rest/repos/webhooks#list-deliveries-for-a-repository-webhook",
                );
            };
            all.iter().position(|d| d.id == id).map_or(all.len(), |i| i + 1)
        }
    };
    let page: Vec<&DeliveryView> = all.iter().skip(skip).take(per_page).collect();
    let more = skip + page.len() < all.len();
    let items: Vec<Value> = page.iter().map(|d| delivery_json(repo, d)).collect();
    let mut r = ok(&Value::Array(items));
    if more && let Some(last) = page.last() {
        let next = url_with(ctx, req, "cursor", &format!("v1_{}", last.id));
        r.headers.push((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_weak_and_compare_loosely() {
        let t = etag(b"{}");
        assert!(t.starts_with("W/\"") && t.ends_with('"'));
        assert!(matches_etag(&t, &t));
        assert!(matches_etag(t.trim_start_matches("W/"), &t));
        assert!(matches_etag(&format!("\"x\", {t}"), &t));
        assert!(!matches_etag("W/\"other\"", &t));
    }

    #[test]
    fn rate_window_follows_the_story_clock() {
        let mut r = RateState::default();
        r.spend(1_000_000);
        assert_eq!(r.remaining, LIMIT - 1);
        assert_eq!(r.reset_epoch(1_000_000), (1_000_000 + HOUR) / 1000);
        r.set_remaining(0, 1_000_000);
        r.roll(1_000_000 + HOUR - 1);
        assert_eq!(r.remaining, 0);
        r.roll(1_000_000 + HOUR);
        assert_eq!(r.remaining, LIMIT);
    }

    #[test]
    fn tokens_in_both_spellings() {
        let o = SimOptions::default();
        assert_eq!(authenticate(&o, Some("Bearer demo-token")).as_deref(), Some("demo"));
        assert_eq!(authenticate(&o, Some("token demo-token")).as_deref(), Some("demo"));
        assert_eq!(authenticate(&o, Some("Bearer nope")), None);
        assert_eq!(authenticate(&o, Some("Basic ZGVtbzpkZW1vLXRva2Vu")), None);
        assert_eq!(authenticate(&o, None), None);
    }
}
