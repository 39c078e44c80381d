//! The simulated GitHub, SonarQube and Nexus over real HTTP: shapes (read
//! back through octocrab's models where it has them), auth, conditional
//! requests and the rate limit, pagination, and the story facts the cockpit
//! relies on. The story clock is frozen (speed 0) unless a test ticks it.

use std::time::Duration;

use base64::Engine;
use flightdeck::sim::{Estate, Fault, SimOptions};
use octocrab::models;
use serde_json::Value;

const TOKEN: &str = "demo-token";
const SERVICES: [&str; 6] = [
    "payments-api",
    "ledger-service",
    "checkout-web",
    "catalog-service",
    "notification-worker",
    "fraud-scoring",
];

async fn estate_with(opts: SimOptions) -> Estate {
    Estate::start(SimOptions { speed: 0.0, ..opts })
        .await
        .expect("estate starts")
}

async fn estate() -> Estate {
    estate_with(SimOptions::default()).await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// GET below a base with a bearer token.
async fn gh(e: &Estate, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", e.github_api_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request")
}

async fn gh_json(e: &Estate, path: &str) -> Value {
    let r = gh(e, path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.expect("json")
}

async fn gh_model<T: serde::de::DeserializeOwned>(e: &Estate, path: &str) -> T {
    let v = gh_json(e, path).await;
    match serde_json::from_value(v.clone()) {
        Ok(t) => t,
        Err(err) => panic!("GET {path} does not fit octocrab's model: {err}\n{v:#}"),
    }
}

async fn sonar_json(e: &Estate, path: &str) -> Value {
    let r = http()
        .get(format!("{}{path}", e.sonar_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.expect("json")
}

async fn nexus_get(e: &Estate, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", e.nexus_url()))
        .basic_auth("demo", Some(TOKEN))
        .send()
        .await
        .expect("request")
}

async fn jenkins_json(e: &Estate, path: &str) -> Value {
    let r = http()
        .get(format!("{}{path}", e.jenkins_url()))
        .basic_auth("demo", Some(TOKEN))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.expect("json")
}

/// Follows `Link: <…>; rel="next"` and returns every item.
async fn all_pages(e: &Estate, first: &str) -> (Vec<Value>, usize) {
    let mut url = format!("{}{first}", e.github_api_url());
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let r = http().get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        pages += 1;
        let next = r.headers().get("link").and_then(|l| l.to_str().ok()).and_then(|l| {
            l.split(',').find(|p| p.contains("rel=\"next\"")).map(|p| {
                p.trim()
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
        });
        let page: Vec<Value> = r.json().await.unwrap();
        items.extend(page);
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    (items, pages)
}

#[tokio::test]
async fn github_auth_etags_and_rate_limit() {
    let e = estate().await;
    let c = e.control();
    let url = format!("{}/repos/dominion/payments-api", e.github_api_url());

    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Bad credentials");
    assert_eq!(body["documentation_url"], "https://docs.github.com/rest");
    let r = http().get(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http()
        .get(&url)
        .header("authorization", format!("token {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    c.reset_github_stats();
    let r = gh(&e, "/repos/dominion/payments-api").await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let tag = h["etag"].to_str().unwrap().to_string();
    assert!(tag.starts_with("W/\""), "{tag}");
    assert_eq!(h["x-ratelimit-limit"], "5000");
    assert_eq!(h["x-ratelimit-remaining"], "4999");
    assert_eq!(h["x-ratelimit-used"], "1");
    assert_eq!(h["x-ratelimit-resource"], "core");
    assert_eq!(h["x-github-api-version-selected"], "2022-11-28");
    let reset: i64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert_eq!(reset, c.now_ms() / 1000 + 3600);
    let repo: models::Repository = r.json().await.unwrap();
    assert_eq!(repo.default_branch.as_deref(), Some("master"));
    assert_eq!(repo.full_name.as_deref(), Some("dominion/payments-api"));

    // Conditional request: 304, no body, nothing spent.
    let r = http()
        .get(&url)
        .bearer_auth(TOKEN)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "4999");
    assert!(r.bytes().await.unwrap().is_empty());
    let s = c.github_stats();
    assert_eq!((s.requests, s.not_modified, s.spent, s.remaining), (2, 1, 1, 4999));

    // /rate_limit does not count.
    let rl: models::RateLimit = gh_model(&e, "/rate_limit").await;
    assert_eq!(rl.resources.core.remaining, 4999);
    assert_eq!(rl.rate.limit, 5000);
    assert_eq!(c.github_stats().spent, 1);

    // Exhaustion: 403 with remaining 0, even for conditional requests.
    c.set_github_rate_remaining(2);
    assert_eq!(gh(&e, "/repos/dominion/ledger-service").await.status(), 200);
    let r = gh(&e, "/repos/dominion/ledger-service/pulls").await;
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let r = gh(&e, "/repos/dominion/ledger-service").await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for user ID 1.")
    );
    assert_eq!(
        body["documentation_url"],
        "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
    );
    let r = http()
        .get(&url)
        .bearer_auth(TOKEN)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(gh(&e, "/rate_limit").await.status(), 200);

    // The window is an hour of story time.
    c.tick(3600.0);
    let r = gh(&e, "/repos/dominion/ledger-service").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "4999");

    // The same through /__sim/github.
    let ctl = format!("{}/__sim/github", e.jenkins_url());
    let r = http().post(format!("{ctl}?remaining=7")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = http().get(&ctl).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["remaining"], 7);
    assert_eq!(v["limit"], 5000);
    assert!(v["requests"].as_u64().unwrap() >= 9);
    assert!(v["reset_epoch"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn github_lists_paginate_with_link_headers() {
    let e = estate().await;
    let all: Vec<Value> = gh_json(&e, "/repos/dominion/checkout-web/pulls?state=all&per_page=100")
        .await
        .as_array()
        .unwrap()
        .clone();
    assert!(all.len() > 5);
    let r = gh(&e, "/repos/dominion/checkout-web/pulls?state=all&per_page=2").await;
    let link = r.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("rel=\"next\"") && link.contains("rel=\"last\""), "{link}");
    assert!(link.contains(&format!("{}/repos/dominion/checkout-web/pulls?", e.github_api_url())));
    let (paged, pages) = all_pages(&e, "/repos/dominion/checkout-web/pulls?state=all&per_page=2").await;
    assert_eq!(pages, all.len().div_ceil(2));
    let numbers = |v: &[Value]| v.iter().map(|p| p["number"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(numbers(&paged), numbers(&all));
    // Newest first by default.
    let created: Vec<&str> = all.iter().map(|p| p["created_at"].as_str().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]));
    // The last page has prev/first but no next.
    let last = format!("/repos/dominion/checkout-web/pulls?state=all&per_page=2&page={pages}");
    let r = gh(&e, &last).await;
    let link = r.headers()["link"].to_str().unwrap().to_string();
    assert!(
        !link.contains("rel=\"next\"") && link.contains("rel=\"prev\""),
        "{link}"
    );
    // A single page has no Link at all.
    let r = gh(&e, "/repos/dominion/checkout-web/hooks").await;
    assert!(r.headers().get("link").is_none());

    let (commits, pages) = all_pages(&e, "/repos/dominion/payments-api/commits?sha=master&per_page=3").await;
    assert!(pages >= 2);
    assert_eq!(commits.last().unwrap()["commit"]["message"], "Initial import");

    // Hook deliveries page by cursor.
    let hook = &gh_json(&e, "/repos/dominion/payments-api/hooks").await[0];
    let id = hook["id"].as_u64().unwrap();
    let (deliveries, pages) = all_pages(
        &e,
        &format!("/repos/dominion/payments-api/hooks/{id}/deliveries?per_page=4"),
    )
    .await;
    assert!(pages >= 2);
    let ids: Vec<u64> = deliveries.iter().map(|d| d["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats: {ids:?}");
}

#[tokio::test]
async fn github_shapes_fit_octocrab_models() {
    let e = estate().await;
    let _: models::Repository = gh_model(&e, "/repos/dominion/ledger-service").await;
    let pulls: Vec<models::pulls::PullRequest> = gh_model(&e, "/repos/dominion/ledger-service/pulls?state=all").await;
    assert!(pulls.iter().any(|p| p.merged_at.is_some()));
    let open = pulls.iter().find(|p| p.merged_at.is_none()).unwrap();
    let _: models::pulls::PullRequest =
        gh_model(&e, &format!("/repos/dominion/ledger-service/pulls/{}", open.number)).await;
    let _: Vec<models::pulls::Review> = gh_model(
        &e,
        &format!("/repos/dominion/ledger-service/pulls/{}/reviews", open.number),
    )
    .await;
    let commits: Vec<models::repos::RepoCommit> = gh_model(&e, "/repos/dominion/ledger-service/commits").await;
    let head = &commits[0].sha;
    let status: models::CombinedStatus =
        gh_model(&e, &format!("/repos/dominion/ledger-service/commits/{head}/status")).await;
    assert_eq!(&status.sha, head);
    let checks: models::checks::ListCheckRuns =
        gh_model(&e, &format!("/repos/dominion/ledger-service/commits/{head}/check-runs")).await;
    assert!(checks.check_runs.iter().any(|c| c.name == "CodeQL"));
    let hooks: Vec<models::hooks::Hook> = gh_model(&e, "/repos/dominion/ledger-service/hooks").await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].config.url, format!("{}/github-webhook/", e.jenkins_url()));
    let _: Vec<models::hooks::Delivery> = gh_model(
        &e,
        &format!("/repos/dominion/ledger-service/hooks/{}/deliveries", hooks[0].id),
    )
    .await;

    // Field names as in the recorded GitHub bodies.
    let p = gh_json(&e, "/repos/dominion/ledger-service/branches/master/protection").await;
    assert_eq!(p["required_status_checks"]["strict"], true);
    assert!(p["required_status_checks"]["contexts"].is_array());
    assert!(p["required_status_checks"]["checks"][0]["context"].is_string());
    assert_eq!(p["required_pull_request_reviews"]["required_approving_review_count"], 1);
    assert!(p["required_pull_request_reviews"]["dismiss_stale_reviews"].is_boolean());
    assert!(p["required_pull_request_reviews"]["require_code_owner_reviews"].is_boolean());
    assert_eq!(p["enforce_admins"]["enabled"], true);
    let d = &gh_json(
        &e,
        &format!("/repos/dominion/ledger-service/hooks/{}/deliveries", hooks[0].id),
    )
    .await[0];
    for k in [
        "id",
        "guid",
        "delivered_at",
        "redelivery",
        "duration",
        "status",
        "status_code",
        "event",
        "repository_id",
    ] {
        assert!(d.get(k).is_some(), "{k}");
    }
    let r = gh(&e, "/repos/dominion/nope").await;
    assert_eq!(r.status(), 404);
    let r = gh(
        &e,
        &format!("/repos/dominion/ledger-service/commits/{}/status", "0".repeat(40)),
    )
    .await;
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn github_story_facts_hold() {
    let e = estate().await;
    let facts = e.control().story_facts();

    // 2. catalog-service: one commit pushed without a pull request.
    assert_eq!(facts.direct_push.service, "catalog-service");
    for svc in SERVICES {
        let commits = gh_json(&e, &format!("/repos/dominion/{svc}/commits?per_page=100")).await;
        let commits = commits.as_array().unwrap();
        let (pulls, _) = all_pages(&e, &format!("/repos/dominion/{svc}/pulls?state=closed&per_page=100")).await;
        for c in commits {
            let sha = c["sha"].as_str().unwrap();
            let date = c["commit"]["committer"]["date"].as_str().unwrap();
            let pr = pulls.iter().find(|p| p["merge_commit_sha"] == sha);
            let root = c["parents"].as_array().unwrap().is_empty();
            if root {
                assert_eq!(c["commit"]["message"], "Initial import");
                continue;
            }
            if svc == "catalog-service" && sha == facts.direct_push.sha {
                assert!(pr.is_none(), "the direct push has no pull request");
                assert_ne!(c["commit"]["committer"]["name"], "GitHub");
                continue;
            }
            let pr = pr.unwrap_or_else(|| panic!("{svc} {sha} has a pull request"));
            assert_eq!(pr["base"]["ref"], "master");
            assert!(pr["merged_at"].is_string());
            assert_eq!(pr["merged_at"].as_str().unwrap(), date);
            assert!(pr["created_at"].as_str().unwrap() < date);
            let n = pr["number"].as_u64().unwrap();
            let reviews = gh_json(&e, &format!("/repos/dominion/{svc}/pulls/{n}/reviews")).await;
            let approved = reviews
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["state"] == "APPROVED" && r["submitted_at"].as_str().unwrap() <= date);
            assert!(approved, "{svc} #{n} approved before the merge");
        }
    }
    // Jenkins built the direct push.
    let n = facts.direct_push.build_numbers[0];
    let b = jenkins_json(&e, &format!("/job/dominion/job/catalog-service/{n}/api/json")).await;
    let built: Vec<&str> = b["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["lastBuiltRevision"]["SHA1"].as_str())
        .collect();
    assert!(built.contains(&facts.direct_push.sha.as_str()));

    // 4. ledger-service: latest non-COMMENTED review per reviewer.
    let n = facts.changes_requested.number;
    let pr = gh_json(&e, &format!("/repos/dominion/ledger-service/pulls/{n}")).await;
    assert_eq!(pr["state"], "open");
    let reviews = gh_json(&e, &format!("/repos/dominion/ledger-service/pulls/{n}/reviews")).await;
    let reviews = reviews.as_array().unwrap();
    let states: Vec<(&str, &str)> = reviews
        .iter()
        .map(|r| (r["user"]["login"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("erin", "APPROVED"),
            ("carol", "CHANGES_REQUESTED"),
            ("erin", "COMMENTED")
        ]
    );
    let dates: Vec<&str> = reviews.iter().map(|r| r["submitted_at"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "chronological");
    assert_eq!(pr["requested_reviewers"][0]["login"], "alice");

    // 5. notification-worker: the last deliveries failed.
    let id = facts.failing_hook.hook_id;
    let hook = gh_json(&e, &format!("/repos/dominion/notification-worker/hooks/{id}")).await;
    assert_ne!(hook["last_response"]["code"], 200);
    let d = gh_json(
        &e,
        &format!("/repos/dominion/notification-worker/hooks/{id}/deliveries"),
    )
    .await;
    let d = d.as_array().unwrap();
    assert!(d.len() >= 3);
    for x in &d[..3] {
        let code = x["status_code"].as_u64().unwrap();
        assert!([0, 502, 504].contains(&code), "{x}");
    }
    assert!(d.iter().any(|x| x["status_code"] == 200), "older deliveries were fine");
    let ok = gh_json(&e, "/repos/dominion/payments-api/hooks").await;
    assert_eq!(ok[0]["last_response"]["code"], 200);

    // 7. notification-worker's master is not protected; catalog's does not bind admins.
    let r = gh(&e, "/repos/dominion/notification-worker/branches/master/protection").await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Branch not protected");
    assert_eq!(facts.unprotected_repo, "notification-worker");
    for svc in SERVICES.iter().filter(|s| **s != "notification-worker") {
        let p = gh_json(&e, &format!("/repos/dominion/{svc}/branches/master/protection")).await;
        assert_eq!(p["enforce_admins"]["enabled"], *svc != "catalog-service");
    }
    let b = gh_json(&e, "/repos/dominion/notification-worker/branches/master").await;
    assert_eq!(b["protected"], false);

    // Pull request #41 is the Jenkins multibranch PR-41.
    let pr = gh_json(&e, "/repos/dominion/checkout-web/pulls/41").await;
    let head = pr["head"]["sha"].as_str().unwrap();
    let st = gh_json(&e, &format!("/repos/dominion/checkout-web/commits/{head}/status")).await;
    assert_eq!(st["statuses"][0]["context"], "continuous-integration/jenkins/pr-merge");
    assert!(
        st["statuses"][0]["target_url"]
            .as_str()
            .unwrap()
            .contains("/job/dominion/job/checkout-web-pr/job/PR-41/")
    );
}

#[tokio::test]
async fn github_statuses_point_at_jenkins_builds() {
    let e = estate().await;
    for svc in SERVICES {
        let job = jenkins_json(
            &e,
            &format!("/job/dominion/job/{svc}/api/json?tree=builds[number,building,result,url,actions[lastBuiltRevision[SHA1],remoteUrls]]"),
        )
        .await;
        let newest = &job["builds"][0];
        let sha = newest["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| {
                a["remoteUrls"][0]
                    .as_str()
                    .is_some_and(|u| u.ends_with(&format!("/{svc}.git")))
            })
            .and_then(|a| a["lastBuiltRevision"]["SHA1"].as_str())
            .unwrap()
            .to_string();
        let st = gh_json(&e, &format!("/repos/dominion/{svc}/commits/{sha}/status")).await;
        let s = st["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["context"] == "continuous-integration/jenkins/branch")
            .unwrap_or_else(|| panic!("{svc}: {st:#}"));
        assert_eq!(s["target_url"], newest["url"]);
        let expected = match (newest["building"].as_bool().unwrap(), newest["result"].as_str()) {
            (true, _) => "pending",
            (false, Some("SUCCESS")) => "success",
            (false, Some("ABORTED")) => "error",
            _ => "failure",
        };
        assert_eq!(s["state"], expected, "{svc}");
        assert_eq!(st["state"], if expected == "error" { "failure" } else { expected });
        // The sha is on master.
        let c = gh_json(&e, &format!("/repos/dominion/{svc}/commits/{sha}")).await;
        assert_eq!(c["sha"], sha.as_str());
    }
    // Open pull requests carry the pr-merge context and checks.
    let open = gh_json(&e, "/repos/dominion/ledger-service/pulls").await;
    let head = open[0]["head"]["sha"].as_str().unwrap();
    let st = gh_json(&e, &format!("/repos/dominion/ledger-service/commits/{head}/status")).await;
    assert_eq!(st["statuses"][0]["context"], "continuous-integration/jenkins/pr-merge");
    let cr = gh_json(&e, &format!("/repos/dominion/ledger-service/commits/{head}/check-runs")).await;
    let names: Vec<&str> = cr["check_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"dependency-review"), "{names:?}");
    assert!(cr["check_runs"][0]["app"]["slug"].is_string());
}

#[tokio::test]
async fn sonar_follows_jenkins_and_facts() {
    let e = estate().await;
    let facts = e.control().story_facts();
    let base = e.sonar_url();

    let r = http().get(format!("{base}/api/system/status")).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"status": "UP"}));
    let v = sonar_json(&e, "/api/system/status").await;
    assert_eq!(v["version"], "10.7.0.96327");
    let r = http()
        .get(format!(
            "{base}/api/qualitygates/project_status?projectKey=com.dominion:payments-api"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // 1. payments-api: new coverage 84.2, Sonar's gate OK.
    assert_eq!(facts.coverage.new_coverage, 84.2);
    let ps = sonar_json(
        &e,
        "/api/qualitygates/project_status?projectKey=com.dominion:payments-api",
    )
    .await;
    let ps = &ps["projectStatus"];
    assert_eq!(ps["status"], "OK");
    let cov = ps["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metricKey"] == "new_coverage")
        .unwrap();
    assert_eq!(cov["actualValue"], "84.2");
    assert_eq!(cov["errorThreshold"], "80");
    assert_eq!(cov["comparator"], "LT");
    assert_eq!(ps["period"]["mode"], "PREVIOUS_VERSION");
    for c in ps["conditions"].as_array().unwrap() {
        assert!(c["actualValue"].is_string() && c["errorThreshold"].is_string());
    }

    let m = sonar_json(
        &e,
        "/api/measures/component?component=com.dominion:payments-api&metricKeys=bugs,vulnerabilities,security_hotspots,code_smells,coverage,new_coverage,duplicated_lines_density,new_duplicated_lines_density&additionalFields=period,metrics",
    )
    .await;
    assert_eq!(m["component"]["qualifier"], "TRK");
    let measures = m["component"]["measures"].as_array().unwrap();
    assert_eq!(measures.len(), 8);
    let nc = measures.iter().find(|x| x["metric"] == "new_coverage").unwrap();
    assert_eq!(nc["period"]["value"], "84.2");
    assert!(nc.get("value").is_none());
    let cov = measures.iter().find(|x| x["metric"] == "coverage").unwrap();
    assert!(cov["value"].as_str().unwrap().parse::<f64>().is_ok());
    assert_eq!(m["metrics"].as_array().unwrap().len(), 8);
    assert!(m["period"]["date"].as_str().unwrap().ends_with("+0000"));

    // Analyses: newest first, revision and version of the Jenkins build.
    let a = sonar_json(
        &e,
        "/api/project_analyses/search?project=com.dominion:payments-api&ps=2",
    )
    .await;
    let list = a["analyses"].as_array().unwrap();
    assert_eq!(list[0]["revision"], facts.coverage.sha.as_str());
    assert_eq!(list[0]["projectVersion"], facts.coverage.version.as_str());
    assert!(list[0]["date"].as_str().unwrap() > list[1]["date"].as_str().unwrap());
    assert_eq!(a["paging"]["pageSize"], 2);
    assert!(a["paging"]["total"].as_u64().unwrap() >= 2);
    let by_id = sonar_json(
        &e,
        &format!(
            "/api/qualitygates/project_status?analysisId={}",
            list[0]["key"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(by_id["projectStatus"]["status"], "OK");

    let h = sonar_json(
        &e,
        "/api/measures/search_history?component=com.dominion:payments-api&metrics=new_coverage,coverage&ps=100",
    )
    .await;
    let hist = h["measures"][0]["history"].as_array().unwrap();
    assert_eq!(h["measures"][0]["metric"], "new_coverage");
    assert_eq!(hist.last().unwrap()["value"], "84.2");
    assert!(hist.windows(2).all(|w| w[0]["date"].as_str() < w[1]["date"].as_str()));

    // checkout-web's pull request 41 failed the gate like its Jenkins build.
    let ps = sonar_json(
        &e,
        "/api/qualitygates/project_status?projectKey=com.dominion:checkout-web&pullRequest=41",
    )
    .await;
    assert_eq!(ps["projectStatus"]["status"], "ERROR");

    let r = http()
        .get(format!(
            "{base}/api/qualitygates/project_status?projectKey=com.dominion:nope"
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["msg"], "Project 'com.dominion:nope' not found");

    // Faults on /sonar/ leave GitHub alone.
    e.control().set_fault("/sonar/", Fault::Status(503));
    let r = http().get(format!("{base}/api/system/status")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(gh(&e, "/repos/dominion/payments-api").await.status(), 200);
}

#[tokio::test]
async fn sonar_old_servers() {
    let e = estate_with(SimOptions {
        sonar_basic_only: true,
        sonar_legacy_periods: true,
        ..SimOptions::default()
    })
    .await;
    let url = format!(
        "{}/api/measures/component?component=com.dominion:payments-api&metricKeys=new_coverage,coverage&additionalFields=periods",
        e.sonar_url()
    );
    let r = http().get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 401, "Bearer is refused before 10.0");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{TOKEN}:"));
    let r = http()
        .get(&url)
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let nc = v["component"]["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "new_coverage")
        .unwrap()
        .clone();
    assert_eq!(nc["periods"][0]["index"], 1);
    assert_eq!(nc["periods"][0]["value"], "84.2");
    assert!(nc.get("period").is_none());
    assert_eq!(v["periods"][0]["index"], 1);
}

#[tokio::test]
async fn nexus_search_pages_and_facts() {
    let e = estate().await;
    let facts = e.control().story_facts();
    let r = http()
        .get(format!(
            "{}/service/rest/v1/search/assets?repository=maven-releases",
            e.nexus_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Follow the continuation token through every page.
    let q = "repository=maven-releases&maven.groupId=com.dominion&maven.artifactId=payments-api&sort=version&direction=desc";
    let mut items: Vec<Value> = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &token {
            Some(t) => format!("/service/rest/v1/search/assets?{q}&continuationToken={t}"),
            None => format!("/service/rest/v1/search/assets?{q}"),
        };
        let r = nexus_get(&e, &path).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let page = v["items"].as_array().unwrap();
        assert!(page.len() <= 10);
        items.extend(page.iter().cloned());
        pages += 1;
        match v["continuationToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert!(pages >= 2);
    let a = &items[0];
    for k in [
        "downloadUrl",
        "path",
        "id",
        "repository",
        "format",
        "checksum",
        "contentType",
        "lastModified",
        "uploader",
        "uploaderIp",
        "fileSize",
        "blobCreated",
        "blobStoreName",
        "maven2",
    ] {
        assert!(a.get(k).is_some(), "{k}");
    }
    assert_eq!(a["checksum"]["sha1"].as_str().unwrap().len(), 40);
    assert_eq!(a["maven2"]["groupId"], "com.dominion");
    // Highest version first, numerically.
    let versions: Vec<&str> = items.iter().map(|i| i["maven2"]["version"].as_str().unwrap()).collect();
    let parse = |v: &str| v.split('.').map(|p| p.parse::<u64>().unwrap()).collect::<Vec<_>>();
    assert!(versions.windows(2).all(|w| parse(w[0]) >= parse(w[1])), "{versions:?}");
    // The payments build waiting for approval published its version.
    assert!(versions.contains(&facts.coverage.version.as_str()));

    // A token only continues its own query.
    let t = nexus_get(&e, &format!("/service/rest/v1/search/assets?{q}"))
        .await
        .json::<Value>()
        .await
        .unwrap()["continuationToken"]
        .as_str()
        .unwrap()
        .to_string();
    let r = nexus_get(
        &e,
        &format!("/service/rest/v1/search/assets?repository=maven-releases&continuationToken={t}"),
    )
    .await;
    assert_eq!(r.status(), 400);

    // 3. fraud-scoring's newest green build is not in the index.
    let v: Value = nexus_get(
        &e,
        &format!(
            "/service/rest/v1/search?repository=maven-releases&maven.artifactId=fraud-scoring&version={}",
            facts.missing_artifact.version
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 0);
    let b = jenkins_json(
        &e,
        &format!(
            "/job/dominion/job/fraud-scoring/{}/wfapi/describe",
            facts.missing_artifact.build_number
        ),
    )
    .await;
    let publish = b["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Publish to Nexus")
        .unwrap();
    assert_eq!(publish["status"], "SUCCESS");
    assert_eq!(b["status"], "SUCCESS");

    // Components group the war (checkout-web) with its pom; downloads work.
    let v: Value = nexus_get(
        &e,
        "/service/rest/v1/search?repository=maven-releases&maven.artifactId=checkout-web&sort=version",
    )
    .await
    .json()
    .await
    .unwrap();
    let comp = &v["items"][0];
    let exts: Vec<&str> = comp["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["maven2"]["extension"].as_str().unwrap())
        .collect();
    assert_eq!(exts, ["pom", "war"]);
    let url = comp["assets"][1]["downloadUrl"].as_str().unwrap();
    let r = http().get(url).basic_auth("demo", Some(TOKEN)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));

    // Snapshots: search by base version.
    let v: Value = nexus_get(
        &e,
        "/service/rest/v1/search/assets?repository=maven-snapshots&maven.baseVersion=1.5.0-SNAPSHOT&maven.extension=jar",
    )
    .await
    .json()
    .await
    .unwrap();
    let snaps = v["items"].as_array().unwrap();
    assert_eq!(snaps.len(), 3);
    let version = snaps[0]["maven2"]["version"].as_str().unwrap();
    assert!(version.starts_with("1.5.0-2") && version.ends_with("-1"), "{version}");
    assert_eq!(snaps[0]["maven2"]["baseVersion"], "1.5.0-SNAPSHOT");
}

#[tokio::test]
async fn jenkins_archives_the_jmeter_report() {
    let e = estate().await;
    let f = e.control().story_facts().slow_load_test;
    assert_eq!(f.service, "checkout-web");
    let base = format!("/job/dominion/job/checkout-web/{}", f.build_number);
    let b = jenkins_json(&e, &format!("{base}/api/json")).await;
    let paths: Vec<&str> = b["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["relativePath"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"target/jmeter/statistics.json"), "{paths:?}");
    let stats = jenkins_json(&e, &format!("{base}/artifact/target/jmeter/statistics.json")).await;
    let total = &stats["Total"];
    assert_eq!(total["transaction"], "Total");
    let p95 = total["pct2ResTime"].as_f64().unwrap();
    assert!((p95 - 1240.0).abs() <= 20.0 && p95 > f.threshold_ms, "{p95}");
    assert_eq!(p95, f.p95_ms);
    assert!((total["errorPct"].as_f64().unwrap() - 0.4).abs() <= 0.06);
    assert!(stats["GET /checkout"]["sampleCount"].as_u64().unwrap() > 0);
    let run = jenkins_json(&e, &format!("{base}/wfapi/describe")).await;
    let load = run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Load tests")
        .unwrap();
    assert_eq!(load["status"], "SUCCESS");

    let jar = paths.iter().find(|p| p.ends_with(".jar")).unwrap();
    let r = http()
        .get(format!("{}{base}/artifact/{jar}", e.jenkins_url()))
        .basic_auth("demo", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http()
        .get(format!("{}{base}/artifact/target/nope.txt", e.jenkins_url()))
        .basic_auth("demo", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn bulk_repositories_are_static() {
    let e = estate_with(SimOptions {
        github_extra_repos: 200,
        ..SimOptions::default()
    })
    .await;
    let (repos, pages) = all_pages(&e, "/orgs/dominion/repos?per_page=100").await;
    assert_eq!(repos.len(), 206);
    assert_eq!(pages, 3);
    let r = gh(&e, "/repos/dominion/bulk-137/pulls").await;
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    let open: Vec<Value> = r.json().await.unwrap();
    assert!((1..=2).contains(&open.len()));
    let p = gh_json(&e, "/repos/dominion/bulk-137/branches/master/protection").await;
    assert_eq!(p["enforce_admins"]["enabled"], true);
    e.control().tick(3600.0);
    let r = http()
        .get(format!("{}/repos/dominion/bulk-137/pulls", e.github_api_url()))
        .bearer_auth(TOKEN)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304, "bulk repositories never change");
}

/// A push in the running story: merged pull request, push delivery and
/// statuses at once; the Sonar analysis and the Nexus upload when the
/// pipeline gets there.
#[tokio::test]
async fn a_live_push_travels_through_every_system() {
    let e = estate().await;
    let c = e.control();
    let heads = |v: &Value| v[0]["sha"].as_str().unwrap().to_string();
    let mut before = Vec::new();
    for svc in SERVICES {
        before.push(heads(
            &gh_json(&e, &format!("/repos/dominion/{svc}/commits?per_page=1")).await,
        ));
    }
    let start = c.now_ms();
    let mut found = None;
    for _ in 0..240 {
        c.tick(60.0);
        for (i, svc) in SERVICES.iter().enumerate() {
            let head = heads(&gh_json(&e, &format!("/repos/dominion/{svc}/commits?per_page=1")).await);
            if head != before[i] {
                found = Some((*svc, head));
                break;
            }
        }
        if found.is_some() {
            break;
        }
    }
    let (svc, sha) = found.expect("a push within four hours");
    let pulls = gh_json(
        &e,
        &format!("/repos/dominion/{svc}/pulls?state=closed&sort=updated&direction=desc"),
    )
    .await;
    let pr = pulls
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["merge_commit_sha"] == sha.as_str())
        .expect("the pushed commit is a merged pull request")
        .clone();
    let merged = pr["merged_at"].as_str().unwrap().to_string();
    assert!(pr["created_at"].as_str().unwrap() < merged.as_str());
    assert!(merged.as_str() >= flightdeck_time(start).as_str());
    let n = pr["number"].as_u64().unwrap();
    let reviews = gh_json(&e, &format!("/repos/dominion/{svc}/pulls/{n}/reviews")).await;
    assert!(reviews.as_array().unwrap().iter().any(|r| r["state"] == "APPROVED"));
    let hook = &gh_json(&e, &format!("/repos/dominion/{svc}/hooks")).await[0];
    let id = hook["id"].as_u64().unwrap();
    let d = gh_json(&e, &format!("/repos/dominion/{svc}/hooks/{id}/deliveries")).await;
    assert!(
        d.as_array()
            .unwrap()
            .iter()
            .any(|x| x["event"] == "push" && x["delivered_at"].as_str() >= Some(merged.as_str()))
    );
    let st = gh_json(&e, &format!("/repos/dominion/{svc}/commits/{sha}/status")).await;
    assert!(
        st["statuses"][0]["target_url"]
            .as_str()
            .unwrap()
            .contains(&format!("/job/{svc}/"))
    );

    // Let the pipeline run; if it reaches Sonar and Nexus, they show it.
    c.tick(900.0);
    let number = build_of(&e, svc, &sha).await;
    let run = jenkins_json(&e, &format!("/job/dominion/job/{svc}/{number}/wfapi/describe")).await;
    let stage = |name: &str| {
        run["stages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == name && s["status"] == "SUCCESS")
    };
    let a = sonar_json(
        &e,
        &format!("/api/project_analyses/search?project=com.dominion:{svc}&ps=100"),
    )
    .await;
    let analysed = a["analyses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["revision"] == sha.as_str());
    assert_eq!(analysed, stage("SonarQube analysis"), "{svc} #{number}");
    let b = jenkins_json(&e, &format!("/job/dominion/job/{svc}/{number}/api/json")).await;
    let jar = b["artifacts"].as_array().unwrap().iter().find_map(|a| {
        a["fileName"]
            .as_str()
            .filter(|n| n.ends_with(".jar"))
            .map(str::to_string)
    });
    if let Some(jar) = jar {
        let version = jar
            .trim_start_matches(&format!("{svc}-"))
            .trim_end_matches(".jar")
            .to_string();
        let v: Value = nexus_get(
            &e,
            &format!("/service/rest/v1/search?repository=maven-releases&maven.artifactId={svc}&version={version}"),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(
            v["items"].as_array().unwrap().is_empty(),
            !stage("Publish to Nexus"),
            "{svc} {version}"
        );
    }
}

/// The first build of the service pipeline that built `sha`.
async fn build_of(e: &Estate, svc: &str, sha: &str) -> u64 {
    let job = jenkins_json(
        e,
        &format!("/job/dominion/job/{svc}/api/json?tree=builds[number,actions[lastBuiltRevision[SHA1],remoteUrls]]"),
    )
    .await;
    job["builds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| {
            b["actions"].as_array().unwrap().iter().any(|a| {
                a["remoteUrls"][0]
                    .as_str()
                    .is_some_and(|u| u.ends_with(&format!("/{svc}.git")))
                    && a["lastBuiltRevision"]["SHA1"] == sha
            })
        })
        .map(|b| b["number"].as_u64().unwrap())
        .min()
        .expect("Jenkins built the pushed commit")
}

fn flightdeck_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[tokio::test]
async fn odd_requests_get_answers_not_panics() {
    let e = estate().await;
    let me: models::Author = gh_model(&e, "/user").await;
    assert_eq!(me.login, "demo");
    let client = http();
    let base = e.jenkins_url();
    for path in [
        "/github",
        "/github/api/v3",
        "/github/api/v3/repos",
        "/github/api/v3/repos/dominion",
        "/github/api/v3/repos/other/payments-api",
        "/github/api/v3/repos/dominion/payments-api/pulls/abc",
        "/github/api/v3/repos/dominion/payments-api/pulls/99999/reviews",
        "/github/api/v3/repos/dominion/payments-api/pulls?per_page=0&page=-1&state=bogus",
        "/github/api/v3/repos/dominion/payments-api/commits?sha=nope",
        "/github/api/v3/repos/dominion/payments-api/commits/zz/status",
        "/github/api/v3/repos/dominion/payments-api/branches/main/protection",
        "/github/api/v3/repos/dominion/payments-api/hooks/1/deliveries",
        "/github/api/v3/repos/dominion/payments-api/hooks/1/deliveries?cursor=bogus",
        "/github/api/v3/repos/dominion/PAYMENTS-API/commits/master/check-runs?status=completed",
        "/sonar",
        "/sonar/api/nope",
        "/sonar/api/measures/component?component=com.dominion:payments-api",
        "/sonar/api/measures/component?component=com.dominion:payments-api&metricKeys=nope",
        "/sonar/api/measures/component?component=com.dominion:payments-api&metricKeys=coverage&branch=dev",
        "/sonar/api/project_analyses/search?project=com.dominion:payments-api&ps=x",
        "/sonar/api/measures/search_history?component=com.dominion:payments-api&metrics=coverage&from=2020-01-01",
        "/sonar/api/qualitygates/project_status",
        "/sonar/api/qualitygates/project_status?analysisId=nope",
        "/sonar/api/ce/task?id=nope",
        "/nexus",
        "/nexus/service/rest/v1/search?sort=bogus",
        "/nexus/service/rest/v1/search/assets?continuationToken=zz",
        "/nexus/service/rest/v1/search/assets/download?repository=maven-releases",
        "/nexus/service/rest/v1/search/assets/download?maven.artifactId=payments-api&sort=version",
        "/nexus/service/rest/v1/repositories",
        "/nexus/repository/maven-releases/com/dominion/payments-api/maven-metadata.xml",
        "/nexus/repository/maven-releases/",
        "/nexus/repository/nope/x.jar",
    ] {
        let r = client
            .get(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .basic_auth("demo", Some(TOKEN))
            .send()
            .await
            .unwrap();
        assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
        let r = client
            .get(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
    }
    let r = client
        .get(format!(
            "{}/service/rest/v1/search/assets/download?maven.artifactId=payments-api&maven.extension=jar&sort=version",
            e.nexus_url()
        ))
        .basic_auth("demo", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let meta = nexus_get(
        &e,
        "/repository/maven-releases/com/dominion/payments-api/maven-metadata.xml",
    )
    .await;
    assert_eq!(meta.status(), 200);
    assert!(meta.text().await.unwrap().contains("<release>1.4.104</release>"));
}
