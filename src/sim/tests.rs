//! End-to-end tests of the simulated Jenkins over real HTTP.

use std::time::Duration;

use serde_json::Value;

use super::*;

/// A frozen estate (speed 0): only `tick` moves the story.
async fn estate(require_crumb: bool) -> Estate {
    Estate::start(SimOptions {
        require_crumb,
        speed: 0.0,
        ..SimOptions::default()
    })
    .await
    .expect("estate starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(e: &Estate) -> Api {
        Api {
            base: e.jenkins_url(),
            http: client(),
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .basic_auth("demo", Some("demo-token"))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .basic_auth("demo", Some("demo-token"))
    }

    async fn json(&self, path: &str) -> Value {
        let r = self.get(path).send().await.expect("request");
        assert_eq!(r.status(), 200, "GET {path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(ct, "application/json;charset=utf-8");
        r.json().await.expect("json body")
    }
}

const PAY: &str = "/job/dominion/job/payments-api";

/// The text a reader sees: console notes (`ESC[8m…ESC[0m`) dropped, other
/// escape sequences removed.
pub(super) fn visible(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(note) = rest.strip_prefix("\u{1b}[8m") {
            rest = note.find("\u{1b}[0m").map_or("", |e| &note[e + 4..]);
            continue;
        }
        let end = rest[1..]
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(rest.len(), |e| e + 2);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn auth_is_enforced() {
    let e = estate(false).await;
    let api = Api::new(&e);
    let r = api.http.get(format!("{}/api/json", api.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"Jenkins\"");
    let r = api
        .http
        .get(format!("{}/api/json", api.base))
        .basic_auth("demo", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = api.get("/api/json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let reqs = e.control().requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].user, None);
    assert_eq!(reqs[0].status, 401);
    assert_eq!(reqs[2].user.as_deref(), Some("demo"));
    assert!(reqs.iter().all(|r| r.headers.iter().all(|(k, _)| k != "authorization")));
}

#[tokio::test]
async fn root_lists_folders_multibranch_and_freestyle() {
    let e = estate(false).await;
    let api = Api::new(&e);
    let root = api
        .json("/api/json?tree=jobs[name,url,color,jobs[name,url,color,jobs[name,url,color]]]")
        .await;
    assert_eq!(root["_class"], "hudson.model.Hudson");
    let jobs = root["jobs"].as_array().unwrap();
    let folder = jobs.iter().find(|j| j["name"] == "dominion").unwrap();
    assert_eq!(folder["_class"], "com.cloudbees.hudson.plugins.folder.Folder");
    assert!(folder.get("color").is_none());
    assert_eq!(folder["url"], format!("{}/job/dominion/", e.jenkins_url()));
    let children = folder["jobs"].as_array().unwrap();
    assert!(children.len() >= 13);
    let mb = children.iter().find(|j| j["name"] == "checkout-web-pr").unwrap();
    assert_eq!(
        mb["_class"],
        "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
    );
    let branches: Vec<&str> = mb["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(branches, ["master", "PR-41"]);
    assert_eq!(
        mb["jobs"][0]["_class"],
        "org.jenkinsci.plugins.workflow.job.WorkflowJob"
    );
    let pay = children.iter().find(|j| j["name"] == "payments-api").unwrap();
    assert_eq!(pay["color"], "blue_anime");
    let backup = jobs.iter().find(|j| j["name"] == "db-nightly-backup").unwrap();
    assert_eq!(backup["_class"], "hudson.model.FreeStyleProject");

    // Without tree: the same shape with nested jobs.
    let plain = api.json("/api/json").await;
    let dominion = plain["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "dominion")
        .unwrap();
    assert!(dominion["jobs"].is_array());
    // depth is refused.
    let r = api.get("/api/json?depth=2").send().await.unwrap();
    assert_eq!(r.status(), 400);
    // Folder listing.
    let f = api.json("/job/dominion/api/json").await;
    assert_eq!(f["_class"], "com.cloudbees.hudson.plugins.folder.Folder");
    assert!(
        f["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["name"] == "ledger-service-deploy")
    );
    let r = api.get("/job/nope/api/json").send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn job_and_build_json_are_shaped_like_jenkins() {
    let e = estate(false).await;
    let api = Api::new(&e);
    let job = api.json(&format!("{PAY}/api/json")).await;
    assert_eq!(job["_class"], "org.jenkinsci.plugins.workflow.job.WorkflowJob");
    assert_eq!(job["fullName"], "dominion/payments-api");
    let builds = job["builds"].as_array().unwrap();
    assert!(builds.len() >= 4 && builds.len() <= 10);
    let last = &builds[0];
    assert_eq!(job["lastBuild"]["number"], last["number"]);
    assert!(last["number"].is_u64());
    assert_eq!(last["id"], last["number"].to_string());
    assert_eq!(last["building"], true);
    assert_eq!(last["result"], Value::Null);
    assert_eq!(last["duration"], 0);
    assert!(last["estimatedDuration"].as_i64().unwrap() > 0);
    assert!(last["queueId"].is_u64());
    assert!(last["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    let actions = last["actions"].as_array().unwrap();
    assert!(actions.iter().any(|a| a.as_object().is_some_and(|o| o.is_empty())));
    let cause = actions
        .iter()
        .find(|a| a["_class"] == "hudson.model.CauseAction")
        .unwrap();
    assert_eq!(cause["causes"][0]["_class"], "com.cloudbees.jenkins.GitHubPushCause");
    assert_eq!(
        cause["causes"][0]["shortDescription"],
        "Started by GitHub push by alice"
    );
    let git: Vec<&Value> = actions
        .iter()
        .filter(|a| a["_class"] == "hudson.plugins.git.util.BuildData")
        .collect();
    assert_eq!(git.len(), 2);
    let svc = git
        .iter()
        .find(|a| a["remoteUrls"][0] == "https://github.com/dominion/payments-api.git")
        .unwrap();
    let sha = svc["lastBuiltRevision"]["SHA1"].as_str().unwrap();
    assert_eq!(sha.len(), 40);
    assert_eq!(
        svc["lastBuiltRevision"]["branch"][0]["name"],
        "refs/remotes/origin/master"
    );
    assert_ne!(git[0]["lastBuiltRevision"]["SHA1"], git[1]["lastBuiltRevision"]["SHA1"]);
    let tests = actions
        .iter()
        .find(|a| a["_class"] == "hudson.tasks.junit.TestResultAction")
        .unwrap();
    assert!(tests.get("passCount").is_none());
    assert_eq!(last["changeSets"][0]["kind"], "git");
    assert_eq!(
        last["changeSets"][0]["items"][0]["commitId"].as_str().unwrap().len(),
        40
    );

    // Permalink and number give the same build.
    let by_link = api.json(&format!("{PAY}/lastBuild/api/json")).await;
    assert_eq!(by_link["number"], last["number"]);

    // Parameterised deploy job.
    let deploy = api.json("/job/dominion/job/payments-api-deploy/api/json").await;
    let defs = &deploy["property"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["_class"] == "hudson.model.ParametersDefinitionProperty")
        .unwrap()["parameterDefinitions"];
    assert_eq!(defs[0]["name"], "VERSION");
    assert_eq!(defs[0]["type"], "StringParameterDefinition");
    assert_eq!(defs[1]["choices"], serde_json::json!(["staging", "production"]));
    assert_eq!(defs[3]["defaultParameterValue"]["value"], false);
    let params = deploy["builds"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["_class"] == "hudson.model.ParametersAction")
        .unwrap()["parameters"]
        .clone();
    assert_eq!(params[0]["name"], "VERSION");

    // Ledger failure details.
    let ledger = api.json("/job/dominion/job/ledger-service/lastBuild/api/json").await;
    assert_eq!(ledger["result"], "FAILURE");
    let t = ledger["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["_class"] == "hudson.tasks.junit.TestResultAction")
        .unwrap()
        .clone();
    assert_eq!(
        (
            t["failCount"].as_u64(),
            t["totalCount"].as_u64(),
            t["skipCount"].as_u64()
        ),
        (Some(2), Some(412), Some(3))
    );
    let report = api
        .json("/job/dominion/job/ledger-service/lastBuild/testReport/api/json?tree=failCount,passCount,suites[cases[name,status]]")
        .await;
    assert_eq!(report["passCount"], 407);
    assert_eq!(report["suites"][0]["cases"][0]["status"], "FAILED");
    let raw = api
        .get("/job/dominion/job/ledger-service/lastBuild/consoleText")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // ledger-service's Jenkinsfile uses ansiColor: Maven prints in colour,
    // and its console carries hidden console notes.
    assert!(raw.contains(
        "[\u{1b}[1;31mERROR\u{1b}[m] \u{1b}[1;31mTests run: 412, Failures: 2, Errors: 0, Skipped: 3\u{1b}[m"
    ));
    assert!(raw.contains("\u{1b}[8mha:////4"));
    let console = visible(&raw);
    assert!(console.contains("[ERROR] Tests run: 412, Failures: 2, Errors: 0, Skipped: 3"));
    assert!(console.contains("\n[Pipeline] sh\n+ mvn -B -U -s $MAVEN_SETTINGS clean verify\n"));
    assert!(console.contains("\nCaused by: java.lang.ArithmeticException: Rounding necessary\n\tat java.base/"));
    assert!(console.contains("\nERROR: script returned exit code 1\nFinished: FAILURE\n"));
    assert!(console.contains("BUILD FAILURE"));
    assert!(console.ends_with("Finished: FAILURE\n"));
}

#[tokio::test]
async fn wfapi_describes_runs_and_nodes() {
    let e = estate(false).await;
    let api = Api::new(&e);
    let ledger = "/job/dominion/job/ledger-service/lastBuild";
    let run = api.json(&format!("{ledger}/wfapi/describe")).await;
    assert_eq!(run["status"], "FAILED");
    assert!(run["id"].is_string());
    let stages = run["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2);
    let failed = &stages[1];
    assert_eq!(failed["name"], "Build & unit tests");
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["error"]["message"], "script returned exit code 1");
    assert_eq!(failed["error"]["type"], "hudson.AbortException");
    assert!(stages[0].get("error").is_none());
    let id = failed["id"].as_str().unwrap();
    let href = failed["_links"]["self"]["href"].as_str().unwrap().to_string();
    assert!(href.ends_with(&format!("/execution/node/{id}/wfapi/describe")));
    let node = api.json(&href).await;
    let steps = node["stageFlowNodes"].as_array().unwrap();
    let sh = steps.iter().find(|s| s["name"] == "Shell Script").unwrap();
    assert_eq!(sh["status"], "FAILED");
    assert_eq!(sh["error"]["message"], "script returned exit code 1");
    assert_eq!(sh["parentNodes"][0], id);
    let log = api.json(sh["_links"]["log"]["href"].as_str().unwrap()).await;
    assert_eq!(log["nodeStatus"], "FAILED");
    assert!(log["text"].as_str().unwrap().contains("BUILD FAILURE"));
    assert!(log["length"].as_u64().unwrap() > 0);

    // Paused run.
    let pay = api.json(&format!("{PAY}/lastBuild/wfapi/describe")).await;
    assert_eq!(pay["status"], "PAUSED_PENDING_INPUT");
    assert!(pay["_links"]["pendingInputActions"]["href"].is_string());
    let last = pay["stages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["name"], "Approve production");
    assert_eq!(last["status"], "PAUSED_PENDING_INPUT");
    assert!(last["pauseDurationMillis"].as_i64().unwrap() > 0);

    // In-progress run: later stages not listed.
    let co = api
        .json("/job/dominion/job/checkout-web/lastBuild/wfapi/describe")
        .await;
    assert_eq!(co["status"], "IN_PROGRESS");
    assert_eq!(
        co["stages"].as_array().unwrap().last().unwrap()["name"],
        "Functional tests"
    );

    // Freestyle has no wfapi.
    let r = api
        .get("/job/db-nightly-backup/lastBuild/wfapi/describe")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let b = api.json("/job/db-nightly-backup/lastBuild/api/json").await;
    assert_eq!(b["_class"], "hudson.model.FreeStyleBuild");
    // Unknown node.
    let r = api
        .get(&format!("{ledger}/execution/node/9999/wfapi/describe"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn triggered_build_goes_from_queue_to_build() {
    let e = estate(false).await;
    let api = Api::new(&e);
    let r = api.post(&format!("{PAY}/build")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(&format!("{}/queue/item/", e.jenkins_url())));
    assert!(loc.ends_with('/'));
    let path = loc.trim_start_matches(&e.jenkins_url()).to_string();
    let item = api.json(&format!("{path}api/json")).await;
    assert_eq!(item["_class"], "hudson.model.Queue$WaitingItem");
    assert!(item["why"].as_str().unwrap().contains("quiet period"));
    assert_eq!(item["task"]["name"], "payments-api");
    let job = api.json(&format!("{PAY}/api/json")).await;
    assert_eq!(job["inQueue"], true);
    e.control().tick(4.0);
    let item = api.json(&format!("{path}api/json")).await;
    assert_eq!(item["_class"], "hudson.model.Queue$LeftItem");
    assert_eq!(item["cancelled"], false);
    let n = item["executable"]["number"].as_u64().unwrap();
    let b = api.json(&format!("{PAY}/{n}/api/json")).await;
    assert_eq!(b["building"], true);
    assert_eq!(b["queueId"], item["id"]);
    let cause = &b["actions"][0]["causes"][0];
    assert_eq!(cause["_class"], "hudson.model.Cause$UserIdCause");
    assert_eq!(cause["userId"], "demo");
    let run = api.json(&format!("{PAY}/{n}/wfapi/describe")).await;
    assert_eq!(run["status"], "IN_PROGRESS");
    assert_eq!(run["stages"][0]["name"], "Checkout");

    // Console streams.
    let r = api
        .get(&format!("{PAY}/{n}/logText/progressiveText?start=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-more-data"], "true");
    let size: usize = r.headers()["x-text-size"].to_str().unwrap().parse().unwrap();
    let text = r.text().await.unwrap();
    assert_eq!(text.len(), size);
    assert!(text.starts_with("Started by user demo"));
    e.control().tick(30.0);
    let r = api
        .get(&format!("{PAY}/{n}/logText/progressiveText?start={size}"))
        .send()
        .await
        .unwrap();
    let next: usize = r.headers()["x-text-size"].to_str().unwrap().parse().unwrap();
    assert!(next > size);
    assert_eq!(r.text().await.unwrap().len(), next - size);
    let r = api
        .get(&format!("{PAY}/{n}/logText/progressiveText?start=99999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap().len(), next);
    let r = api
        .get(&format!("{PAY}/{n}/logText/progressiveText?start=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Run to the approval: the whole pipeline passes.
    e.control().tick(900.0);
    let run = api.json(&format!("{PAY}/{n}/wfapi/describe")).await;
    assert_eq!(run["status"], "PAUSED_PENDING_INPUT");
    assert_eq!(run["stages"].as_array().unwrap().len(), 14);

    // Cancel a queued item.
    let r = api.post(&format!("{PAY}/build")).send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let id: u64 = loc.trim_end_matches('/').rsplit('/').next().unwrap().parse().unwrap();
    let r = api.post(&format!("/queue/cancelItem?id={id}")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let item = api.json(&format!("/queue/item/{id}/api/json")).await;
    assert_eq!(item["cancelled"], true);
    assert_eq!(item["executable"], Value::Null);
    e.control().tick(10.0);
    let item = api.json(&format!("/queue/item/{id}/api/json")).await;
    assert_eq!(item["cancelled"], true);
    let r = api.post("/queue/cancelItem?id=abc").send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn parameterised_triggers() {
    let e = estate(false).await;
    let api = Api::new(&e);
    let deploy = "/job/dominion/job/payments-api-deploy";
    let r = api.post(&format!("{deploy}/build")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = api
        .post(&format!("{deploy}/buildWithParameters?VERSION=1.4.99"))
        .form(&[("ENVIRONMENT", "production"), ("DIGEST", "sha256:abc")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let path = loc.trim_start_matches(&e.jenkins_url()).to_string();
    let item = api.json(&format!("{path}api/json")).await;
    assert_eq!(
        item["params"],
        "\nVERSION=1.4.99\nENVIRONMENT=production\nDIGEST=sha256:abc\nDRY_RUN=false"
    );
    e.control().tick(120.0);
    let item = api.json(&format!("{path}api/json")).await;
    let n = item["executable"]["number"].as_u64().unwrap();
    // A deploy to production started by hand waits for approval.
    let b = api.json(&format!("{deploy}/{n}/api/json")).await;
    assert_eq!(b["building"], true);
    let pending = api.json(&format!("{deploy}/{n}/wfapi/pendingInputActions")).await;
    assert_eq!(pending[0]["id"], "Deploy-production");
    let r = api
        .post(&format!("{deploy}/{n}/input/Deploy-production/proceedEmpty"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection(), "{}", r.status());
    e.control().tick(120.0);
    let b = api.json(&format!("{deploy}/{n}/api/json")).await;
    assert_eq!(b["result"], "SUCCESS");
    let console = api
        .get(&format!("{deploy}/{n}/consoleText"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(console.contains("--kube-context production"));
    let r = api
        .post(&format!("{deploy}/buildWithParameters?ENVIRONMENT=moon"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api
        .post(&format!("{PAY}/buildWithParameters?X=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api
        .post("/job/dominion/job/legacy-reporting/build")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = api.get(&format!("{PAY}/build")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let posts: Vec<RecordedRequest> = e
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts[1].query, "VERSION=1.4.99");
    assert!(
        posts[1]
            .form
            .contains(&("ENVIRONMENT".to_string(), "production".to_string()))
    );
    assert_eq!(posts[1].status, 201);
}

#[tokio::test]
async fn input_approval_proceeds_to_production() {
    let e = estate(false).await;
    let api = Api::new(&e);
    let pending = api.json(&format!("{PAY}/lastBuild/wfapi/pendingInputActions")).await;
    let action = &pending[0];
    assert_eq!(action["id"], "Deploy-production");
    assert_eq!(action["message"], "Deploy to production?");
    assert_eq!(action["proceedText"], "Proceed");
    let proceed = action["proceedUrl"].as_str().unwrap().to_string();
    assert!(proceed.ends_with("/wfapi/inputSubmit?inputId=Deploy-production"));
    assert!(
        action["abortUrl"]
            .as_str()
            .unwrap()
            .ends_with("/input/Deploy-production/abort")
    );
    let n = api.json(&format!("{PAY}/lastBuild/api/json")).await["number"]
        .as_u64()
        .unwrap();

    let r = api
        .post(&format!("{PAY}/{n}/input/deploy-production/proceedEmpty"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = api.post(&proceed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let pending = api.json(&format!("{PAY}/{n}/wfapi/pendingInputActions")).await;
    assert_eq!(pending, serde_json::json!([]));
    let run = api.json(&format!("{PAY}/{n}/wfapi/describe")).await;
    assert_eq!(run["status"], "IN_PROGRESS");
    assert!(run["_links"].get("pendingInputActions").is_none());
    let stages = run["stages"].as_array().unwrap();
    assert_eq!(stages[13]["status"], "SUCCESS");
    assert_eq!(stages[14]["name"], "Deploy to production");
    // A second answer finds no input.
    let r = api
        .post(&format!("{PAY}/{n}/input/Deploy-production/proceedEmpty"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    e.control().tick(60.0);
    let b = api.json(&format!("{PAY}/{n}/api/json")).await;
    assert_eq!(b["result"], "SUCCESS");
    assert!(b["duration"].as_i64().unwrap() > 0);
    // The production deploy job was triggered by the pipeline.
    let d = api
        .json("/job/dominion/job/payments-api-deploy/lastBuild/api/json")
        .await;
    let cause = &d["actions"][0]["causes"][0];
    assert_eq!(cause["_class"], "hudson.model.Cause$UpstreamCause");
    assert_eq!(cause["upstreamBuild"], n);
    assert_eq!(cause["upstreamUrl"], "job/dominion/job/payments-api/");
}

#[tokio::test]
async fn input_abort_and_stop_abort_the_run() {
    let e = estate(false).await;
    let api = Api::new(&e);
    let n = api.json(&format!("{PAY}/lastBuild/api/json")).await["number"]
        .as_u64()
        .unwrap();
    let r = api
        .post(&format!("{PAY}/{n}/input/Deploy-production/abort"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b = api.json(&format!("{PAY}/{n}/api/json")).await;
    assert_eq!(b["result"], "ABORTED");
    assert_eq!(b["building"], false);
    let run = api.json(&format!("{PAY}/{n}/wfapi/describe")).await;
    assert_eq!(run["status"], "ABORTED");
    assert_eq!(run["stages"][13]["status"], "ABORTED");

    let co = "/job/dominion/job/checkout-web";
    let n = api.json(&format!("{co}/lastBuild/api/json")).await["number"]
        .as_u64()
        .unwrap();
    let r = api.post(&format!("{co}/{n}/stop")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{}{co}/{n}/", e.jenkins_url())
    );
    let b = api.json(&format!("{co}/{n}/api/json")).await;
    assert_eq!(b["result"], "ABORTED");
    let run = api.json(&format!("{co}/{n}/wfapi/describe")).await;
    assert_eq!(run["stages"].as_array().unwrap().last().unwrap()["status"], "ABORTED");
    let r = api.post(&format!("{co}/{n}/kill")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let r = api.post(&format!("{co}/99999/stop")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn faults_behave() {
    let e = estate(false).await;
    let api = Api::new(&e);
    let c = e.control();

    c.set_fault("/api/json", Fault::Status(503));
    let r = api.get("/api/json").send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("<html>"));

    c.set_fault("/api/json", Fault::TooManyRequests { retry_after_secs: 7 });
    let r = api.get("/api/json").send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");

    c.set_fault("/api/json", Fault::MalformedJson);
    let r = api.get("/api/json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.is_err());

    c.clear_faults();
    let full = api
        .get("/job/dominion/api/json")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    c.set_fault("/job/dominion/api", Fault::TruncatedBody);
    let r = api.get("/job/dominion/api/json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"].to_str().unwrap(),
        (full.len() / 2).to_string()
    );
    let cut = r.bytes().await.unwrap();
    assert_eq!(&cut[..], &full[..full.len() / 2]);
    assert!(serde_json::from_slice::<Value>(&cut).is_err());

    c.set_fault("/api/json", Fault::ConnectionReset);
    let r = api.get("/api/json").send().await;
    assert!(r.is_err(), "reset gives a transport error");
    let last = c.requests().last().cloned().unwrap();
    assert_eq!(last.status, 0);

    c.set_fault("/api/json", Fault::Latency(Duration::from_millis(300)));
    let t = std::time::Instant::now();
    let r = api.get("/api/json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    c.clear_faults();
    assert_eq!(api.get("/api/json").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn control_api_over_http() {
    let e = estate(false).await;
    let http = client();
    let base = e.jenkins_url();
    let r = http
        .post(format!("{base}/__sim/fault"))
        .body(r#"{"path_contains":"/api/json","fault":"status","status":502}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let api = Api::new(&e);
    assert_eq!(api.get("/api/json").send().await.unwrap().status(), 502);
    let r = http
        .post(format!("{base}/__sim/fault"))
        .body(r#"{"path_contains":"x","fault":"nonsense"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http.delete(format!("{base}/__sim/fault")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(api.get("/api/json").send().await.unwrap().status(), 200);

    let before = e.control().now_ms();
    let r = http.post(format!("{base}/__sim/tick?seconds=60")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(e.control().now_ms() - before, 60_000);
    let r = http
        .post(format!("{base}/__sim/tick?seconds=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let reqs: Value = http
        .get(format!("{base}/__sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reqs = reqs.as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0]["status"], 502);
    assert_eq!(reqs[1]["path"], "/api/json");
    assert_eq!(reqs[1]["user"], "demo");
}

#[tokio::test]
async fn crumb_flow() {
    let e = estate(true).await;
    let api = Api::new(&e);
    let r = api.post(&format!("{PAY}/build")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("No valid crumb was included in the request")
    );

    let r = api.get("/crumbIssuer/api/json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("JSESSIONID."));
    assert!(cookie.contains("Path=/; HttpOnly"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["_class"], "hudson.security.csrf.DefaultCrumbIssuer");
    assert_eq!(v["crumbRequestField"], "Jenkins-Crumb");
    let crumb = v["crumb"].as_str().unwrap().to_string();

    // The cookie store sends the session back.
    let r = api
        .post(&format!("{PAY}/build"))
        .header("Jenkins-Crumb", &crumb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Without the session cookie the crumb is not valid.
    let r = client()
        .post(format!("{}{PAY}/build", e.jenkins_url()))
        .basic_auth("demo", Some("demo-token"))
        .header("Jenkins-Crumb", &crumb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Crumbs expire.
    e.control().tick(300.0);
    let r = api
        .post(&format!("{PAY}/build"))
        .header("Jenkins-Crumb", &crumb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = api.json("/crumbIssuer/api/json").await;
    let fresh = v["crumb"].as_str().unwrap().to_string();
    assert_ne!(fresh, crumb);
    let r = api
        .post(&format!("{PAY}/build"))
        .header("Jenkins-Crumb", &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Without require_crumb there is no crumb issuer.
    let e2 = estate(false).await;
    let r = Api::new(&e2).get("/crumbIssuer/api/json").send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn story_moves_with_real_time() {
    let e = Estate::start(SimOptions {
        speed: 600.0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let start = e.control().now_ms();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let moved = e.control().now_ms() - start;
    assert!(moved >= 60_000, "moved {moved} ms");
}

#[tokio::test]
async fn demo_config_is_valid_toml() {
    let e = estate(false).await;
    let text = e.demo_config_toml();
    let v: toml::Value = toml::from_str(&text).expect("valid toml");
    assert_eq!(
        v["sources"]["jenkins"][0]["url"].as_str(),
        Some(e.jenkins_url().as_str())
    );
    assert_eq!(
        v["sources"]["jenkins"][0]["token_env"].as_str(),
        Some("FLIGHTDECK_DEMO_TOKEN")
    );
    let services = v["services"].as_array().unwrap();
    assert_eq!(services.len(), 7);
    assert_eq!(
        services[0]["jenkins"]["deploy"].as_str(),
        Some("dominion/payments-api-deploy")
    );
    assert_eq!(services[6]["jenkins"]["build"].as_str(), Some("db-nightly-backup"));
    assert_eq!(v["environments"][1]["protected"].as_bool(), Some(true));
}

#[tokio::test]
async fn bad_paths_do_not_panic() {
    let e = estate(false).await;
    let api = Api::new(&e);
    for (path, status) in [
        ("/job", 404),
        ("/job/dominion/job", 404),
        ("/job/dominion/job/payments-api/abc/api/json", 404),
        ("/job/dominion/job/payments-api/999999/api/json", 404),
        (
            "/job/dominion/job/payments-api/lastBuild/execution/node/x/wfapi/describe",
            404,
        ),
        ("/queue/item/xyz/api/json", 400),
        ("/queue/item/1/api/json", 404),
        ("/job/dominion/job/payments-api/api/json?tree=jobs[name", 400),
        ("/job/%ZZ/api/json", 404),
        ("/nothing/here", 404),
    ] {
        let r = api.get(path).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
    }
}
