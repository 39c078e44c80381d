//! The log engine against the simulated Jenkins over HTTP: the failed step's node log opened at
//! its first error, the console followed with `start=` offsets while a build runs, and text made
//! faithful (no escape sequences, no console notes) on the way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck::config::{Secret, load_from_str};
use flightdeck::logview::rules::ErrorRules;
use flightdeck::logview::{Command, LogDoc, LogRequest, LogSession, Origin};
use flightdeck::model::{State, Status};
use flightdeck::runtime::Runtime;
use flightdeck::sim::{Estate, SimOptions};
use flightdeck::sources::jenkins::JenkinsClient;

const T: Duration = Duration::from_secs(20);

fn config(estate: &Estate) -> flightdeck::config::Config {
    let env = |k: &str| (k == "FLIGHTDECK_DEMO_TOKEN").then(|| "demo-token".to_string());
    load_from_str(&estate.demo_config_toml(), std::path::Path::new("<demo>"), None, &env).unwrap()
}

async fn polled(estate: &Estate) -> State {
    let mut rt = Runtime::new(&config(estate), None).unwrap();
    rt.poll_all_once().await;
    rt.state
}

fn client(estate: &Estate) -> Arc<JenkinsClient> {
    let mut src = config(estate).jenkins[0].clone();
    src.token = Some(Secret::new("demo-token"));
    Arc::new(JenkinsClient::new(&src).unwrap())
}

/// The newest build of a service's build job.
fn newest<'a>(state: &'a State, service: &str) -> &'a flightdeck::model::Build {
    let job = format!("dominion/{service}");
    &state.jobs[&job].builds[0]
}

fn request(estate: &Estate, build: &flightdeck::model::Build, stage: Option<(String, String)>) -> LogRequest {
    let dir = std::env::temp_dir().join(format!("flightdeck-log-test-{}", std::process::id()));
    LogRequest {
        title: format!("#{}", build.number),
        client: client(estate),
        build_url: if build.url.ends_with('/') {
            build.url.clone()
        } else {
            format!("{}/", build.url)
        },
        stage,
        rules: ErrorRules::defaults(),
        save_path: dir.join(format!("{}.log", build.number)),
    }
}

/// Wait until the document satisfies `ok`; panics with it when it never does.
async fn until(session: &LogSession, what: &str, ok: impl Fn(&LogDoc) -> bool) -> LogDoc {
    let start = Instant::now();
    loop {
        let doc = session.snapshot();
        if ok(&doc) {
            return doc;
        }
        if start.elapsed() > T {
            panic!("{what} never happened; the log view holds:\n{doc:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_failed_step_opens_at_its_first_error() {
    let estate = Estate::start(SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let state = polled(&estate).await;
    let build = newest(&state, "ledger-service");
    assert_eq!(build.status, Status::Failed);
    let stage = build
        .stages
        .iter()
        .find(|s| s.status == Status::Failed)
        .expect("a failed stage");
    let session = LogSession::open(request(&estate, build, Some((stage.id.clone(), stage.name.clone()))));
    session.send(Command::Resize(30));
    let doc = until(&session, "landing on the first error", |d| {
        d.current().is_some_and(|l| l.error.is_some())
    })
    .await;
    assert!(matches!(doc.origin, Origin::NodeTail { .. }), "{:?}", doc.origin);
    let first = doc.errors.hits[0];
    assert_eq!(doc.cursor, first.offset);
    let current = doc.current().unwrap();
    assert!(current.text.text.contains("Tests run:"), "{}", current.text.text);
    assert_eq!(current.number, Some(first.line + 1));
    // Faithful text: no escape sequence and no console note reaches the screen.
    for line in &doc.lines {
        assert!(!line.text.text.contains('\u{1b}'), "{:?}", line.text.text);
        assert!(!line.text.text.contains("ha:////"), "{:?}", line.text.text);
    }
    // The whole console has the same errors and more.
    session.send(Command::FullConsole);
    let console = until(&session, "the console's error pass", |d| {
        d.origin == Origin::Console && d.errors_done
    })
    .await;
    assert!(
        console.errors.total >= doc.errors.total,
        "{:?} vs {:?}",
        console.errors,
        doc.errors
    );
    assert!(console.summary().iter().any(|(k, _)| *k == "build-failure"));
    for line in &console.lines {
        assert!(!line.text.text.contains('\u{1b}'), "{:?}", line.text.text);
    }
}

#[tokio::test]
async fn a_running_build_is_followed_with_start_offsets() {
    let estate = Estate::start(SimOptions {
        speed: 40.0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let state = polled(&estate).await;
    let build = newest(&state, "checkout-web");
    assert!(
        build.status.is_active(),
        "checkout-web's newest build runs: {:?}",
        build.status
    );
    let session = LogSession::open(request(&estate, build, None));
    session.send(Command::Resize(10));
    let first = until(&session, "the console", |d| {
        d.origin == Origin::Console && !d.lines.is_empty()
    })
    .await;
    assert!(!first.complete, "a running build's console is not complete");

    // At the bottom, new text scrolls into view.
    session.send(Command::Bottom);
    let bottom = until(&session, "following", |d| d.following).await;
    let grown = until(&session, "the log to grow", |d| d.size > bottom.size + 200).await;
    let shown = until(&session, "new lines on screen", |d| {
        d.lines
            .last()
            .is_some_and(|l| l.offset > bottom.lines.last().unwrap().offset)
    })
    .await;
    assert!(shown.following, "still following at the bottom");
    assert!(grown.size > first.size);

    // Away from the bottom, the screen keeps its place while the log grows.
    session.send(Command::Move(-5));
    let parked = until(&session, "leaving the bottom", |d| !d.following).await;
    let top = parked.lines[0].offset;
    until(&session, "more growth", |d| d.size > parked.size + 200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(session.snapshot().lines[0].offset, top, "the window stayed put");

    // The follow reads went on from where the last one ended, not from 0.
    let resumed = estate
        .control()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("progressiveText") && r.query.starts_with("start=") && r.query != "start=0")
        .count();
    assert!(resumed > 0, "progressiveText was asked with start offsets");
}
