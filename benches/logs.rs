//! The log view on a huge console: a `flightdeck sim` child process serves a generated console of
//! `FLIGHTDECK_BENCH_LOG_MB` (default 1024) MiB; this process opens it as the cockpit does and
//! measures time to first screen, time to the last error, a regex search over the whole log and
//! its own peak RSS, then `curl … | grep -n` for the same regex in the same run. After that,
//! criterion times the pieces (scanning, cleaning a line) on an in-memory log.
//!
//! Run: `cargo bench --bench logs` (`FLIGHTDECK_BENCH_LOG_MB=200` for a shorter run).

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use flightdeck::config::{Keymap, Secret, Theme, load_from_str};
use flightdeck::logview::rules::ErrorRules;
use flightdeck::logview::scan::{ErrorMatcher, Scanner, SearchMatcher};
use flightdeck::logview::{Command, LogDoc, LogRequest, LogSession, text};
use flightdeck::model::State;
use flightdeck::sources::jenkins::JenkinsClient;
use flightdeck::ui::{self, Ctx, View};

const SEARCH: &str = "SocketTimeoutException|AssertionFailedError";

fn main() {
    huge_console();
    let mut c = Criterion::default().configure_from_args();
    pieces(&mut c);
    c.final_summary();
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn until(session: &LogSession, ok: impl Fn(&LogDoc) -> bool) -> LogDoc {
    loop {
        let doc = session.snapshot();
        if ok(&doc) {
            return doc;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn huge_console() {
    let mb: u64 = std::env::var("FLIGHTDECK_BENCH_LOG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let mut sim = Process::new(env!("CARGO_BIN_EXE_flightdeck"))
        .arg("sim")
        .env("FLIGHTDECK_SIM_BIG_CONSOLE_MB", mb.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start `flightdeck sim`");
    let mut toml = String::new();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        toml.push_str(&line);
        toml.push('\n');
        if line.starts_with("[[services]]") && toml.contains("[sources.") {
            break;
        }
    }
    // Keep draining the child's stdout so it never blocks on a full pipe.
    let rest = std::thread::spawn(move || {
        for line in lines {
            if line.is_err() {
                break;
            }
        }
    });
    let env = |k: &str| (k == "FLIGHTDECK_DEMO_TOKEN").then(|| "demo-token".to_string());
    let mut src = config_jenkins(&toml, &env);
    src.token = Some(Secret::new("demo-token"));
    let client = Arc::new(JenkinsClient::new(&src).unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (build_url, size, stage) = find_big_console(&client).await;
        println!("log/huge: {} console of {} MiB at {build_url}", stage.1, size >> 20);
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let rss_before = rss_kib("VmRSS:");
        let request = |stage: Option<(String, String)>| LogRequest {
            title: "fraud-scoring".into(),
            client: client.clone(),
            build_url: build_url.clone(),
            stage,
            rules: ErrorRules::defaults(),
            save_path: std::env::temp_dir().join("flightdeck-bench.log"),
        };
        let theme = Theme::load("dark", None, false).unwrap();
        let keymap = Keymap::default();
        let state = State::default();

        // `l` on the build: the unstable step's node log (one small request).
        let start = Instant::now();
        let session = LogSession::open(request(Some(stage.clone())));
        session.send(Command::Resize(35));
        until(&session, |d| !d.lines.is_empty()).await;
        let node_first = start.elapsed();
        drop(session);

        // The whole console: first screen, then the error pass to its end.
        let start = Instant::now();
        let session = Arc::new(LogSession::open(request(None)));
        session.send(Command::Resize(35));
        until(&session, |d| !d.lines.is_empty()).await;
        let view = View {
            log: Some(session.clone()),
            ..View::default()
        };
        let ctx = Ctx::new(&state, &view, &theme, &keymap, chrono::Utc::now());
        let screen = ui::render_to_text(&ctx, 120, 40);
        let first_screen = start.elapsed();
        assert!(screen.contains("console"), "{screen}");
        let done = until(&session, |d| d.errors_done).await;
        let scanned = start.elapsed();
        let last = *done.errors.hits.last().expect("the big console has errors");

        // `G` then `N` on a log just opened: the last error, without waiting for the error pass.
        let start = Instant::now();
        let fresh = LogSession::open(request(None));
        fresh.send(Command::Resize(35));
        until(&fresh, |d| !d.lines.is_empty()).await;
        fresh.send(Command::Bottom);
        fresh.send(Command::Prev);
        let early = until(&fresh, |d| d.cursor == last.offset).await;
        let last_error = start.elapsed();
        drop(fresh);

        let start = Instant::now();
        session.send(Command::Search(SEARCH.into()));
        let searched = until(&session, |d| d.search.as_ref().is_some_and(|s| s.done)).await;
        let search = start.elapsed();
        let peak = rss_kib("VmHWM:");
        drop(session);

        let url = format!("{build_url}logText/progressiveText?start=0");
        let start = Instant::now();
        let out = Process::new("bash")
            .arg("-c")
            .arg(format!(
                "curl -s -u demo:demo-token '{url}' | grep -n -E '{SEARCH}' | wc -l"
            ))
            .output()
            .expect("bash, curl and grep");
        let grep = start.elapsed();
        let grep_count = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let s = searched.search.unwrap();
        let secs = |d: Duration| d.as_secs_f64();
        println!(
            "log/huge: first screen, node log tail (the `l` path): {:.1} ms",
            node_first.as_secs_f64() * 1e3
        );
        println!(
            "log/huge: first screen, whole console: {:.1} ms",
            first_screen.as_secs_f64() * 1e3
        );
        println!(
            "log/huge: error pass over {} MiB: {:.2} s ({:.0} MiB/s), {} error lines, {} lines",
            size >> 20,
            secs(scanned),
            (size >> 20) as f64 / secs(scanned),
            done.errors.total,
            done.errors.lines
        );
        println!(
            "log/huge: open, G, N: at the last error (line {}) in {:.1} ms, the error pass then at {} MiB",
            last.line + 1,
            last_error.as_secs_f64() * 1e3,
            early.errors.scanned >> 20
        );
        println!(
            "log/huge: regex /{SEARCH}/ over the whole log: {:.2} s, {} matching lines",
            secs(search),
            s.found.total
        );
        println!(
            "log/huge: curl | grep -n -E (same regex): {:.2} s, {grep_count} matching lines",
            secs(grep)
        );
        println!(
            "log/huge: RSS before opening {} MiB, peak {} MiB",
            rss_before / 1024,
            peak / 1024
        );
    });
    let _ = sim.kill();
    let _ = sim.wait();
    let _ = rest.join();
}

fn config_jenkins(toml: &str, env: &dyn Fn(&str) -> Option<String>) -> flightdeck::config::JenkinsSourceConfig {
    // Only the Jenkins source is needed: cut the printed config after it.
    let end = toml.find("\n[sources.github]").unwrap_or(toml.len());
    let text = &toml[..end];
    let config = load_from_str(text, std::path::Path::new("<sim>"), None, env).expect("the sim's config");
    config.jenkins[0].clone()
}

/// The build whose console the simulator generates: the largest `X-Text-Size` among the services'
/// newest builds. Returns its URL, size, and its unstable or failed stage.
async fn find_big_console(client: &Arc<JenkinsClient>) -> (String, u64, (String, String)) {
    #[derive(serde::Deserialize)]
    struct Last {
        url: String,
    }
    #[derive(serde::Deserialize)]
    struct Describe {
        stages: Vec<StageJson>,
    }
    #[derive(serde::Deserialize)]
    struct StageJson {
        id: String,
        name: String,
        status: String,
    }
    let mut best: Option<(String, u64)> = None;
    for service in [
        "payments-api",
        "ledger-service",
        "checkout-web",
        "catalog-service",
        "notification-worker",
        "fraud-scoring",
    ] {
        let job = client.job_url(&format!("dominion/{service}"));
        let Ok(last) = client
            .get_json::<Last>(&format!("{job}lastBuild/api/json?tree=url"))
            .await
        else {
            continue;
        };
        let url = if last.url.ends_with('/') {
            last.url
        } else {
            format!("{}/", last.url)
        };
        let source = flightdeck::logview::source::LogSource::Console {
            client: client.clone(),
            url: format!("{url}logText/progressiveText"),
        };
        if let Ok((_, size, _)) = source.read(0, 1).await
            && best.as_ref().is_none_or(|b| size > b.1)
        {
            best = Some((url, size));
        }
    }
    let (url, size) = best.expect("a build with a console");
    let describe: Describe = client.get_json(&format!("{url}wfapi/describe")).await.unwrap();
    let stage = describe
        .stages
        .iter()
        .rev()
        .find(|s| s.status == "UNSTABLE" || s.status == "FAILED")
        .or(describe.stages.last())
        .map(|s| (s.id.clone(), s.name.clone()))
        .unwrap();
    (url, size, stage)
}

/// The pieces on an in-memory log: the error pass and a search (bytes/s), and cleaning one line.
fn pieces(c: &mut Criterion) {
    let mut log = Vec::new();
    let mut i = 0u64;
    while log.len() < 32 << 20 {
        i += 1;
        let line = match i % 5000 {
            0 => "[ERROR] Tests run: 9, Failures: 1, Errors: 0, Skipped: 0 <<< FAILURE!".to_string(),
            1 => "java.net.SocketTimeoutException: Read timed out".to_string(),
            _ => format!(
                "2026-11-25 03:12:{:02}.{:03} DEBUG [pool-3-thread-{}] c.d.f.scoring.RuleEngine - rule {} scored {} in {} ms",
                i % 60,
                i % 1000,
                i % 8,
                i % 977,
                i % 100,
                i % 37
            ),
        };
        log.extend_from_slice(line.as_bytes());
        log.push(b'\n');
    }
    let mut group = c.benchmark_group("log");
    group.throughput(Throughput::Bytes(log.len() as u64));
    group.sample_size(10);
    group.bench_function("error pass, 32 MiB", |b| {
        b.iter(|| {
            let mut s = Scanner::new(ErrorMatcher::new(ErrorRules::defaults()), 0, 0, 50_000, true);
            for chunk in log.chunks(64 * 1024) {
                s.feed(chunk);
            }
            s.finish();
            s.found.total
        })
    });
    group.bench_function("regex search, 32 MiB", |b| {
        b.iter(|| {
            let mut s = Scanner::new(SearchMatcher::new(SEARCH).unwrap(), 0, 0, 50_000, false);
            for chunk in log.chunks(64 * 1024) {
                s.feed(chunk);
            }
            s.finish();
            s.found.total
        })
    });
    group.finish();
    let colored = b"[\x1b[1;31mERROR\x1b[m] \x1b[8mha:////4GZ2l3rV0hYAAAA=\x1b[0mTests run: 9, Failures: 1\tat x";
    c.bench_function("log/clean one coloured line", |b| b.iter(|| text::clean(colored)));
}
