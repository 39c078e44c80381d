//! The GitHub, SonarQube and Nexus sources against the simulated estate over HTTP: conditional
//! requests, the rate limit, auth fallbacks, pagination, and the story's release chain.

use std::sync::Arc;
use std::time::Duration;

use flightdeck::config::{GithubSourceConfig, NexusSourceConfig, Secret, SonarSourceConfig};
use flightdeck::model::{GithubRef, NexusRef, SonarRef, Update};
use flightdeck::sim::{Estate, SimOptions};
use flightdeck::sources::github::{GithubClient, GithubPoller, WatchedRepo};
use flightdeck::sources::nexus::{NexusClient, NexusPoller, WatchedArtifact};
use flightdeck::sources::sonar::{SonarClient, SonarPoller, WatchedProject};
use tokio::sync::{Notify, mpsc};

const SERVICES: [&str; 6] = [
    "payments-api",
    "ledger-service",
    "checkout-web",
    "catalog-service",
    "notification-worker",
    "fraud-scoring",
];

fn frozen() -> SimOptions {
    SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    }
}

fn github_config(estate: &Estate, token: &str) -> GithubSourceConfig {
    GithubSourceConfig {
        api_url: url::Url::parse(&estate.github_api_url()).unwrap(),
        token: Some(Secret::new(token)),
        token_origin: None,
        poll_interval: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
        commits: 30,
    }
}

fn github_poller(
    estate: &Estate,
    repos: Vec<String>,
) -> (GithubPoller, Arc<GithubClient>, mpsc::UnboundedReceiver<Update>) {
    let client = Arc::new(GithubClient::new(&github_config(estate, "demo-token")).unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let watched = repos
        .into_iter()
        .map(|r| WatchedRepo {
            service: r.rsplit('/').next().unwrap().to_string(),
            github: GithubRef { repo: r, branch: None },
        })
        .collect();
    let poller = GithubPoller::new(
        client.clone(),
        "github",
        watched,
        30,
        Duration::from_secs(60),
        tx,
        Arc::new(Notify::new()),
    );
    (poller, client, rx)
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Update>) -> Vec<Update> {
    let mut out = Vec::new();
    while let Ok(u) = rx.try_recv() {
        out.push(u);
    }
    out
}

fn repos_of(updates: &[Update]) -> Vec<&flightdeck::model::RepoState> {
    updates
        .iter()
        .filter_map(|u| match u {
            Update::Repo { repo, .. } => Some(repo),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_unchanged_repository_costs_no_rate_limit() {
    let estate = Estate::start(frozen()).await.unwrap();
    let control = estate.control();
    let repos = SERVICES.iter().map(|s| format!("dominion/{s}")).collect();
    let (mut poller, client, mut rx) = github_poller(&estate, repos);

    poller.poll_once().await.unwrap();
    let first = control.github_stats();
    assert!(first.spent > 0 && first.spent == first.requests, "{first:?}");
    assert_eq!(repos_of(&drain(&mut rx)).len(), 6);

    control.reset_github_stats();
    poller.poll_once().await.unwrap();
    let second = control.github_stats();
    assert!(second.requests > 0);
    assert_eq!(
        second.not_modified, second.requests,
        "every request conditional: {second:?}"
    );
    assert_eq!(second.spent, 0, "{second:?}");
    let updates = drain(&mut rx);
    assert!(repos_of(&updates).is_empty(), "nothing new, nothing sent");
    // The health line still learns the budget.
    assert!(
        updates
            .iter()
            .any(|u| matches!(u, Update::RateLimit { remaining, .. } if *remaining > 0))
    );
    assert_eq!(client.counts().not_modified, second.not_modified);
}

#[tokio::test]
async fn an_exhausted_rate_limit_waits_for_the_reset_and_says_so() {
    let estate = Estate::start(frozen()).await.unwrap();
    let control = estate.control();
    let (mut poller, _client, mut rx) = github_poller(&estate, vec!["dominion/payments-api".into()]);
    control.set_github_rate_remaining(0);
    let err = poller.poll_once().await.unwrap_err();
    let wait = err.retry_after().expect("wait until the reset");
    let reset = control.github_stats().reset_epoch;
    let expected = reset - chrono::Utc::now().timestamp();
    assert!(
        (wait.as_secs() as i64 - expected).abs() <= 5,
        "waits {wait:?}, the window resets in {expected}s"
    );
    let updates = drain(&mut rx);
    let failed = updates
        .iter()
        .find_map(|u| match u {
            Update::SourceFailed { error, retry_at, .. } => Some((error.clone(), *retry_at)),
            _ => None,
        })
        .expect("the source is marked failed");
    assert!(failed.0.contains("rate limit exhausted"), "{}", failed.0);
    assert!(failed.1.is_some(), "and says when it tries again");

    // Until the reset, the next cycle does not even ask.
    let before = control.github_stats().requests;
    let err = poller.poll_once().await.unwrap_err();
    assert!(err.to_string().contains("waiting for the reset"), "{err}");
    assert_eq!(
        control.github_stats().requests,
        before,
        "no request spent while exhausted"
    );
}

#[tokio::test]
async fn github_reads_the_story() {
    let estate = Estate::start(frozen()).await.unwrap();
    let facts = estate.control().story_facts();
    let repos = SERVICES.iter().map(|s| format!("dominion/{s}")).collect();
    let (mut poller, _client, mut rx) = github_poller(&estate, repos);
    poller.poll_once().await.unwrap();
    let updates = drain(&mut rx);
    let repos = repos_of(&updates);
    let repo = |name: &str| *repos.iter().find(|r| r.repo.ends_with(name)).unwrap();

    let catalog = repo(&facts.direct_push.service);
    let pushed = catalog
        .commit(&facts.direct_push.sha)
        .expect("the pushed commit is listed");
    assert!(pushed.direct_push && pushed.pull.is_none(), "{pushed:?}");
    assert!(
        catalog
            .commits
            .iter()
            .filter(|c| !c.direct_push)
            .all(|c| c.pull.is_some()),
        "every other commit was merged by a pull request"
    );

    let ledger = repo(&facts.changes_requested.service);
    let pr = ledger
        .open_pulls
        .iter()
        .find(|p| p.number == facts.changes_requested.number)
        .unwrap();
    assert_eq!(
        pr.changes_requested_by(),
        vec![facts.changes_requested.changes_requested_by.as_str()]
    );
    assert!(
        pr.reviews
            .iter()
            .any(|r| r.reviewer == facts.changes_requested.approved_by
                && r.state == flightdeck::model::ReviewState::Approved),
        "a later comment does not undo an approval: {:?}",
        pr.reviews
    );

    let hooked = repo(&facts.failing_hook.service);
    assert!(hooked.webhook_failing(2), "{:?}", hooked.deliveries);
    assert!(hooked.hook.as_ref().unwrap().url.ends_with("/github-webhook/"));

    let unprotected = repo(&facts.unprotected_repo);
    assert_eq!(unprotected.protection, flightdeck::model::Protection::Unprotected);
    let protected = repo("payments-api");
    assert!(matches!(&protected.protection, flightdeck::model::Protection::Protected(p) if p.pull_request_required));
}

#[tokio::test]
async fn two_hundred_repositories_in_steady_state() {
    let estate = Estate::start(SimOptions {
        github_extra_repos: 200,
        ..frozen()
    })
    .await
    .unwrap();
    let control = estate.control();
    let repos: Vec<String> = (0..200).map(|i| format!("dominion/bulk-{i:03}")).collect();
    let (mut poller, _client, _rx) = github_poller(&estate, repos);
    poller.poll_once().await.unwrap();
    let cold = control.github_stats();
    control.reset_github_stats();
    poller.poll_once().await.unwrap();
    let steady = control.github_stats();
    // The figures for docs/performance.md (`cargo test --test release_sources -- --nocapture two_hundred`).
    let per_hour = steady.spent * 3600 / 60;
    eprintln!(
        "200 repositories: first cycle {} requests ({} spent); steady cycle {} requests, {} answered 304, {} spent; \
         at one cycle a minute that is {per_hour} of 5000 per hour",
        cold.requests, cold.spent, steady.requests, steady.not_modified, steady.spent
    );
    assert!(per_hour * 50 <= 5000, "more than 2 % of the hourly budget: {per_hour}");
}

fn sonar(estate: &Estate) -> (SonarPoller, Arc<SonarClient>, mpsc::UnboundedReceiver<Update>) {
    let client = Arc::new(
        SonarClient::new(&SonarSourceConfig {
            url: url::Url::parse(&estate.sonar_url()).unwrap(),
            token: Some(Secret::new("demo-token")),
            token_origin: None,
            poll_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            analyses: 10,
        })
        .unwrap(),
    );
    let (tx, rx) = mpsc::unbounded_channel();
    let projects = SERVICES
        .iter()
        .map(|s| WatchedProject {
            service: s.to_string(),
            sonar: SonarRef {
                project_key: format!("com.dominion:{s}"),
                branch: None,
            },
        })
        .collect();
    let poller = SonarPoller::new(
        client.clone(),
        "sonarqube",
        projects,
        10,
        Duration::from_secs(30),
        tx,
        Arc::new(Notify::new()),
    );
    (poller, client, rx)
}

fn payments_quality(updates: &[Update]) -> flightdeck::model::QualityState {
    updates
        .iter()
        .find_map(|u| match u {
            Update::Quality { service, quality } if service == "payments-api" => Some(quality.clone()),
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn sonar_reads_gate_measures_and_analyses() {
    let estate = Estate::start(frozen()).await.unwrap();
    let facts = estate.control().story_facts();
    let (mut poller, client, mut rx) = sonar(&estate);
    poller.poll_once().await.unwrap();
    assert!(!client.uses_basic_auth(), "a current server takes Bearer");
    let q = payments_quality(&drain(&mut rx));
    assert_eq!(q.measures.new_coverage, Some(facts.coverage.new_coverage));
    assert_eq!(q.gate.as_ref().unwrap().status, flightdeck::model::GateStatus::Ok);
    let (analysis, newest) = q.analysis_of(&facts.coverage.sha).expect("the analysis of that commit");
    assert!(newest);
    assert!(analysis.gate.is_some());
    assert!(q.analyses.len() > 1, "older analyses for the sparkline");
    assert!(
        q.analyses
            .iter()
            .skip(1)
            .all(|a| a.gate.is_some() && a.measures.coverage.is_some())
    );
}

#[tokio::test]
async fn sonar_falls_back_to_basic_auth_and_reads_legacy_periods() {
    let estate = Estate::start(SimOptions {
        sonar_basic_only: true,
        sonar_legacy_periods: true,
        ..frozen()
    })
    .await
    .unwrap();
    let facts = estate.control().story_facts();
    let (mut poller, client, mut rx) = sonar(&estate);
    poller.poll_once().await.unwrap();
    assert!(client.uses_basic_auth(), "an older server: the token as a Basic login");
    let q = payments_quality(&drain(&mut rx));
    assert_eq!(q.measures.new_coverage, Some(facts.coverage.new_coverage));
}

#[tokio::test]
async fn nexus_follows_continuation_tokens_and_misses_the_story_artifact() {
    let estate = Estate::start(frozen()).await.unwrap();
    let control = estate.control();
    let facts = control.story_facts();
    let client = Arc::new(
        NexusClient::new(&NexusSourceConfig {
            url: url::Url::parse(&estate.nexus_url()).unwrap(),
            user: Some("demo".into()),
            password: Some(Secret::new("demo-token")),
            password_origin: None,
            repository: "maven-releases".into(),
            poll_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            max_pages: 50,
        })
        .unwrap(),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let artifacts = SERVICES
        .iter()
        .map(|s| WatchedArtifact {
            service: s.to_string(),
            nexus: NexusRef {
                repository: "maven-releases".into(),
                group_id: "com.dominion".into(),
                artifact_id: s.to_string(),
                packaging: if *s == "checkout-web" { "war" } else { "jar" }.into(),
            },
        })
        .collect();
    let mut poller = NexusPoller::new(
        client,
        "nexus",
        artifacts,
        50,
        Duration::from_secs(30),
        tx,
        Arc::new(Notify::new()),
    );
    control.clear_requests();
    poller.poll_once().await.unwrap();
    let pages = control
        .requests()
        .iter()
        .filter(|r| r.query.contains("continuationToken"))
        .count();
    assert!(pages > 0, "more than one page was read");
    let updates = drain(&mut rx);
    let of = |name: &str| {
        updates
            .iter()
            .find_map(|u| match u {
                Update::Artifacts { service, artifacts } if service == name => Some(artifacts.clone()),
                _ => None,
            })
            .unwrap()
    };
    let fraud = of(&facts.missing_artifact.service);
    assert!(fraud.complete);
    assert!(fraud.assets(&facts.missing_artifact.version).is_empty());
    let pay = of("payments-api");
    let newest = pay.versions.keys().next_back().unwrap();
    let assets = pay.assets(newest);
    assert!(
        assets
            .iter()
            .any(|a| a.extension.as_deref() == Some("jar") && a.sha1.is_some())
    );
    assert!(assets.iter().any(|a| a.extension.as_deref() == Some("pom")));
    assert!(assets.iter().all(|a| a.uploader.as_deref() == Some("jenkins-ci")));
    assert!(
        of("checkout-web")
            .versions
            .values()
            .flatten()
            .any(|a| a.extension.as_deref() == Some("war"))
    );
}
