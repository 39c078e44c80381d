//! A console far bigger than the memory the log view may use: the simulator generates it block by
//! block as it serves it. The view pages it by offset, indexes lines as its error pass goes, and
//! searches it streaming; the process's peak RSS must stay within a bound well below the log's size.
//! (One test in its own binary, so the RSS it reads is its own.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck::config::{Secret, load_from_str};
use flightdeck::logview::rules::ErrorRules;
use flightdeck::logview::{Command, LogDoc, LogRequest, LogSession, Origin};
use flightdeck::sim::{Estate, SimOptions};
use flightdeck::sources::jenkins::JenkinsClient;

/// The generated region: four times the bound below.
const LOG_BYTES: u64 = 256 << 20;
/// What opening, scanning, jumping around and searching that log may add to the process's peak
/// RSS (the simulator serving it included).
const RSS_BOUND_KIB: u64 = 64 << 10;
const T: Duration = Duration::from_secs(240);

fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

async fn until(session: &LogSession, what: &str, ok: impl Fn(&LogDoc) -> bool) -> LogDoc {
    let start = Instant::now();
    loop {
        let doc = session.snapshot();
        if ok(&doc) {
            return doc;
        }
        assert!(start.elapsed() < T, "{what} never happened: {:?}", doc.errors);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_console_is_paged_indexed_and_searched_in_bounded_memory() {
    let estate = Estate::start(SimOptions {
        speed: 0.0,
        big_console_bytes: LOG_BYTES,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let fact = estate.control().big_console().expect("the estate has a big console");
    assert!(fact.total_bytes >= LOG_BYTES);
    let env = |k: &str| (k == "FLIGHTDECK_DEMO_TOKEN").then(|| "demo-token".to_string());
    let config = load_from_str(&estate.demo_config_toml(), std::path::Path::new("<demo>"), None, &env).unwrap();
    let mut src = config.jenkins[0].clone();
    src.token = Some(Secret::new("demo-token"));
    let client = Arc::new(JenkinsClient::new(&src).unwrap());
    let build_url = format!("{}{}", estate.jenkins_url().trim_end_matches('/'), fact.build_path);

    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let baseline = kib("VmRSS:");
    let session = LogSession::open(LogRequest {
        title: fact.job.clone(),
        client,
        build_url,
        stage: None,
        rules: ErrorRules::defaults(),
        save_path: std::env::temp_dir().join("flightdeck-large-test.log"),
    });
    session.send(Command::Resize(40));
    let first = until(&session, "the first screen", |d| !d.lines.is_empty()).await;
    assert_eq!(first.origin, Origin::Console);
    assert_eq!(first.lines[0].number, Some(1));

    // At once, before the error pass is through: to the bottom, then one error back. The view
    // reads backwards from the bottom rather than waiting for the pass to get there.
    session.send(Command::Bottom);
    let bottom = until(&session, "the bottom, early", |d| {
        d.current().is_some_and(|l| l.offset > fact.last_error.offset)
    })
    .await;
    session.send(Command::Prev);
    let early = until(&session, "the last error, early", |d| {
        d.cursor < bottom.cursor && d.current().is_some_and(|l| l.error.is_some())
    })
    .await;
    println!(
        "log_large: G N landed with the error pass at {} of {} MiB",
        early.errors.scanned >> 20,
        fact.total_bytes >> 20
    );

    // The error pass reads it all, counts every line, and finds every error the simulator planted.
    let done = until(&session, "the error pass", |d| d.errors_done).await;
    assert_eq!(done.errors.lines, fact.total_lines);
    assert_eq!(done.size, fact.total_bytes);
    let found: Vec<u64> = done.errors.hits.iter().map(|h| h.line + 1).collect();
    for e in &fact.errors {
        assert!(
            found.contains(&e.line),
            "error at line {} ({}) not recognised",
            e.line,
            e.text
        );
    }
    let last = *done.errors.hits.last().unwrap();
    assert_eq!(early.cursor, last.offset, "the early jump found the last error");
    // Its line number, unknown when it landed, is learnt once the pass has passed it.
    until(&session, "the early jump's line number", |d| {
        d.current().is_some_and(|l| l.number == Some(last.line + 1))
    })
    .await;
    assert!(last.line + 1 >= fact.last_error.line);
    assert!(
        done.index.checkpoints.len() as u64 >= fact.total_lines / flightdeck::logview::scan::STRIDE,
        "the line index covers the log"
    );

    // Jump to the last error: from the bottom, one error back. Its line number is known.
    session.send(Command::Bottom);
    let bottom = until(&session, "the bottom", |d| {
        d.current().is_some_and(|l| l.offset > last.offset)
    })
    .await;
    assert_eq!(bottom.current().unwrap().number, Some(fact.total_lines));
    session.send(Command::Prev);
    let at_last = until(&session, "the last error", |d| d.cursor == last.offset).await;
    assert_eq!(at_last.current().unwrap().number, Some(last.line + 1));
    assert!(at_last.current().unwrap().error.is_some());

    // A page back up from there, then a search over the whole log, streaming.
    session.send(Command::Page(-1));
    until(&session, "a page up", |d| d.cursor < last.offset).await;
    session.send(Command::Search("sockettimeoutexception".into()));
    let searched = until(&session, "the search", |d| d.search.as_ref().is_some_and(|s| s.done)).await;
    let s = searched.search.as_ref().unwrap();
    assert!(s.found.total >= 1, "the planted SocketTimeoutException is found");
    assert_eq!(s.found.scanned, fact.total_bytes);

    // The Latin-1 line is shown, its bytes replaced, not crashing anything.
    session.send(Command::Top);
    session.send(Command::Search("name=\"Ren".into()));
    until(&session, "the latin-1 line", |d| {
        d.current()
            .is_some_and(|l| l.offset == fact.latin1.offset && l.text.text.contains('\u{fffd}'))
    })
    .await;

    let peak = kib("VmHWM:");
    assert!(
        peak < baseline + RSS_BOUND_KIB,
        "peak RSS {peak} KiB grew more than {RSS_BOUND_KIB} KiB over {baseline} KiB for a {} MiB log",
        fact.total_bytes >> 20
    );
    println!(
        "log_large: {} MiB console; RSS {baseline} KiB before, peak {peak} KiB",
        fact.total_bytes >> 20
    );
}
