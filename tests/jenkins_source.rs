//! The Jenkins source against the simulated Jenkins over real HTTP: polling into the model, the
//! crumb dance, queue following, and the actions.

use std::sync::Arc;
use std::time::Duration;

use flightdeck::config::{Secret, load_from_str};
use flightdeck::model::{Cause, JobKind, QueueState, State, Status, Update};
use flightdeck::runtime::Runtime;
use flightdeck::sim::{Estate, Fault, SimOptions};
use flightdeck::sources::jenkins::{JenkinsClient, actions};

fn frozen(require_crumb: bool) -> SimOptions {
    SimOptions {
        require_crumb,
        speed: 0.0,
        ..SimOptions::default()
    }
}

fn demo_config(estate: &Estate) -> flightdeck::config::Config {
    let env = |k: &str| (k == "FLIGHTDECK_DEMO_TOKEN").then(|| "demo-token".to_string());
    load_from_str(&estate.demo_config_toml(), std::path::Path::new("<demo>"), None, &env).unwrap()
}

async fn polled(estate: &Estate) -> State {
    let config = demo_config(estate);
    let mut rt = Runtime::new(&config, None).unwrap();
    rt.poll_all_once().await;
    rt.state
}

fn client(estate: &Estate) -> JenkinsClient {
    let config = demo_config(estate);
    let mut src = config.jenkins[0].clone();
    src.token = Some(Secret::new("demo-token"));
    JenkinsClient::new(&src).unwrap()
}

#[tokio::test]
async fn a_poll_fills_the_model() {
    let estate = Estate::start(frozen(false)).await.unwrap();
    let state = polled(&estate).await;
    let health = &state.sources["jenkins"];
    assert!(
        health.last_success.is_some() && health.consecutive_failures == 0,
        "{health:?}"
    );
    assert!(
        state
            .catalogue
            .keys()
            .any(|k| k.ends_with("dominion/checkout-web-pr/PR-41")),
        "multibranch walked"
    );

    let payments = &state.jobs["dominion/payments-api"];
    assert_eq!(payments.kind, JobKind::Pipeline);
    let b = payments.latest().unwrap();
    assert_eq!(b.status, Status::Paused);
    assert_eq!(b.pending_inputs[0].id, "Deploy-production");
    assert_eq!(b.pending_inputs[0].message, "Deploy to production?");
    assert!(matches!(b.causes[0], Cause::GithubPush { .. }));
    // The service's own commit, not the shared library's.
    let lib_free = b.commit.as_deref().unwrap();
    assert_eq!(lib_free.len(), 40);
    assert!(
        b.stages
            .iter()
            .any(|s| s.name == "Approve production" && s.status == Status::Paused)
    );

    let ledger = state.jobs["dominion/ledger-service"].latest().unwrap();
    assert_eq!(ledger.status, Status::Failed);
    let failed = ledger.failed_stage().unwrap();
    assert_eq!(failed.name, "Build & unit tests");
    assert!(failed.error.as_ref().unwrap().message.contains("exit code 1"));
    let tests = ledger.tests.unwrap();
    assert_eq!((tests.failed, tests.total, tests.skipped), (2, 412, 3));

    let checkout = state.jobs["dominion/checkout-web"].latest().unwrap();
    assert_eq!(checkout.status, Status::Running);
    assert_eq!(checkout.causes[0], Cause::ScmPoll);
    assert!(checkout.estimated_duration_ms.is_some());

    assert_eq!(
        state.jobs["dominion/catalog-service"].latest().unwrap().causes[0],
        Cause::Timer
    );
    let deploy = &state.jobs["dominion/payments-api-deploy"];
    assert!(deploy.parameters.iter().any(|p| p.name == "ENVIRONMENT"));
    assert_eq!(state.jobs["db-nightly-backup"].kind, JobKind::Freestyle);

    // Never depth=, always tree=.
    let reqs = estate.control().requests();
    assert!(reqs.iter().all(|r| !r.query.contains("depth=")));
    assert!(
        reqs.iter()
            .filter(|r| r.path.ends_with("/api/json"))
            .all(|r| r.query.contains("tree="))
    );
}

#[tokio::test]
async fn finished_builds_are_not_refetched() {
    let estate = Estate::start(frozen(false)).await.unwrap();
    let config = demo_config(&estate);
    let mut rt = Runtime::new(&config, None).unwrap();
    // Only Jenkins' requests: the demo config polls GitHub, SonarQube and Nexus too.
    let jenkins = |estate: &Estate| {
        estate
            .control()
            .requests()
            .iter()
            .filter(|r| !["/github/", "/sonar/", "/nexus/"].iter().any(|p| r.path.starts_with(p)))
            .count()
    };
    rt.poll_all_once().await;
    let first = jenkins(&estate);
    estate.control().clear_requests();
    rt.poll_all_once().await;
    let second = jenkins(&estate);
    assert!(second * 2 < first, "second poll made {second} requests, first {first}");
}

#[tokio::test]
async fn each_fault_marks_the_source_degraded_and_keeps_the_last_data() {
    let estate = Estate::start(frozen(false)).await.unwrap();
    let config = demo_config(&estate);
    let mut rt = Runtime::new(&config, None).unwrap();
    rt.poll_all_once().await;
    let faults = [
        Fault::Status(502),
        Fault::TooManyRequests { retry_after_secs: 7 },
        Fault::MalformedJson,
        Fault::TruncatedBody,
        Fault::ConnectionReset,
    ];
    for fault in faults {
        estate
            .control()
            .set_fault("/job/dominion/job/payments-api/api/json", fault.clone());
        rt.poll_all_once().await;
        let h = &rt.state.sources["jenkins"];
        assert!(h.consecutive_failures > 0, "{fault:?} not noticed");
        assert!(h.last_error.is_some());
        // The last good data stays.
        assert!(rt.state.jobs["dominion/payments-api"].latest().is_some());
        estate.control().clear_faults();
        rt.poll_all_once().await;
        assert_eq!(
            rt.state.sources["jenkins"].consecutive_failures, 0,
            "no recovery after {fault:?}"
        );
    }
}

#[tokio::test]
async fn retry_after_is_read() {
    let estate = Estate::start(frozen(false)).await.unwrap();
    let c = client(&estate);
    estate
        .control()
        .set_fault("/api/json", Fault::TooManyRequests { retry_after_secs: 42 });
    let err = c
        .get_json::<serde_json::Value>(&c.root_url("api/json"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(42)));
}

#[tokio::test]
async fn crumb_is_fetched_with_its_session_and_refreshed_once_on_403() {
    let estate = Estate::start(frozen(true)).await.unwrap();
    let c = client(&estate);
    let q1 = actions::trigger(&c, "dominion/catalog-service", &[], false)
        .await
        .unwrap();
    assert!(q1.contains("/queue/item/"));
    // Crumbs expire; the next POST gets 403, fetches a new crumb, and retries once.
    estate.control().tick(301.0);
    actions::trigger(&c, "dominion/ledger-service", &[], false)
        .await
        .unwrap();
    let reqs = estate.control().requests();
    let crumbs = reqs.iter().filter(|r| r.path == "/crumbIssuer/api/json").count();
    assert_eq!(crumbs, 2);
    let ledger_posts: Vec<_> = reqs
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("ledger-service/build"))
        .collect();
    assert_eq!(ledger_posts.len(), 2, "one refused, one retried");
    assert_eq!(ledger_posts[0].status, 403);
    assert_eq!(ledger_posts[1].status, 201);
}

#[tokio::test]
async fn triggered_build_is_followed_to_its_number() {
    let estate = Estate::start(SimOptions {
        speed: 20.0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let c = client(&estate);
    let queue = actions::trigger(&c, "dominion/catalog-service", &[], false)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let end = tokio::time::timeout(
        Duration::from_secs(20),
        actions::follow_queue(&c, "dominion/catalog-service", &queue, &tx),
    )
    .await
    .unwrap();
    assert!(matches!(end, QueueState::Started { .. }), "{end:?}");
    let mut saw_waiting = false;
    while let Ok(Update::Queue { state, .. }) = rx.try_recv() {
        saw_waiting |= matches!(state, QueueState::Waiting { .. });
    }
    assert!(saw_waiting);
}

#[tokio::test]
async fn parameterised_trigger_and_cancelled_queue_item() {
    let estate = Estate::start(frozen(false)).await.unwrap();
    let c = client(&estate);
    let params = vec![
        ("VERSION".to_string(), "1.4.2".to_string()),
        ("ENVIRONMENT".to_string(), "staging".to_string()),
        ("DIGEST".to_string(), "sha256:abc".to_string()),
    ];
    let queue = actions::trigger(&c, "dominion/payments-api-deploy", &params, true)
        .await
        .unwrap();
    let post = estate
        .control()
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/buildWithParameters"))
        .unwrap();
    assert!(
        post.form.contains(&("VERSION".to_string(), "1.4.2".to_string())),
        "{:?}",
        post.form
    );
    let id = queue
        .split("queue/item/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    c.post(&c.root_url(&format!("queue/cancelItem?id={id}")), &[])
        .await
        .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let end = actions::follow_queue(&c, "dominion/payments-api-deploy", &queue, &tx).await;
    assert_eq!(end, QueueState::Cancelled);
}

#[tokio::test]
async fn approve_reject_and_abort_change_jenkins() {
    let estate = Estate::start(frozen(false)).await.unwrap();
    let state = polled(&estate).await;
    let c = Arc::new(client(&estate));
    let pay = state.jobs["dominion/payments-api"].latest().unwrap().number;
    actions::approve(&c, "dominion/payments-api", pay, "Deploy-production", &[])
        .await
        .unwrap();
    estate.control().tick(5.0);
    let after = polled(&estate).await;
    let b = after.jobs["dominion/payments-api"].build(pay).unwrap();
    assert!(b.pending_inputs.is_empty());
    assert!(
        b.stages
            .iter()
            .any(|s| s.name == "Approve production" && s.status == Status::Ok)
    );

    let checkout = state.jobs["dominion/checkout-web"].latest().unwrap().number;
    actions::abort(&c, "dominion/checkout-web", checkout).await.unwrap();
    estate.control().tick(1.0);
    let after = polled(&estate).await;
    assert_eq!(
        after.jobs["dominion/checkout-web"].build(checkout).unwrap().status,
        Status::Aborted
    );

    // A wrong input id is an error, not a silent success.
    assert!(
        actions::reject(&c, "dominion/payments-api", pay, "No-such-input")
            .await
            .is_err()
    );
}
