//! The simulated Jenkins consoles over HTTP: progressiveText as the real one
//! behaves (offsets, X-Text-Size, X-More-Data), the failing consoles of each
//! kind, ANSI colour and console notes, and the generated big console
//! (streamed from any offset, never held whole).

use std::time::Duration;

use flightdeck::sim::{Estate, FailedConsoleFact, SimControl, SimOptions};

/// One test at a time: the memory test reads the process's RSS.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A frozen estate (only `tick` moves the story) with a big console of `big` bytes.
async fn estate(big: u64) -> Estate {
    Estate::start(SimOptions {
        speed: 0.0,
        big_console_bytes: big,
        ..SimOptions::default()
    })
    .await
    .expect("estate starts")
}

struct Api {
    base: String,
    http: reqwest::Client,
}

struct Text {
    status: u16,
    size: Option<u64>,
    more: bool,
    body: Vec<u8>,
}

impl Api {
    fn new(e: &Estate) -> Api {
        Api {
            base: e.jenkins_url(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .basic_auth("demo", Some("demo-token"))
    }

    async fn text(&self, path: &str) -> Text {
        let r = self.get(path).send().await.unwrap();
        let header = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
        let size = header("x-text-size").map(|s| s.parse().unwrap());
        let more = header("x-more-data").as_deref() == Some("true");
        let status = r.status().as_u16();
        Text {
            status,
            size,
            more,
            body: r.bytes().await.unwrap().to_vec(),
        }
    }

    async fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }
}

/// `/job/a/job/b/12/` for `a/b` and 12.
fn build_path(job: &str, n: u32) -> String {
    let mut s = String::new();
    for seg in job.split('/') {
        s.push_str("/job/");
        s.push_str(seg);
    }
    format!("{s}/{n}/")
}

/// What a person reads: console notes dropped, escape sequences removed.
fn visible(raw: &[u8]) -> String {
    let raw = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut rest: &str = &raw;
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

fn failed(control: &SimControl, kind: &str) -> FailedConsoleFact {
    let facts = control.story_facts();
    facts
        .failed_consoles
        .iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} failure in {:#?}", facts.failed_consoles))
        .clone()
}

/// progressiveText from any offset is exactly consoleText from there; the
/// size is the next offset; a start past the end starts over.
async fn check_progressive(api: &Api, build: &str, running: bool) {
    let full = api.text(&format!("{build}consoleText")).await;
    assert_eq!(full.status, 200, "{build}");
    let len = full.body.len() as u64;
    for start in [0, 1, len / 3, len / 2 + 7, len - 1, len] {
        let t = api.text(&format!("{build}logText/progressiveText?start={start}")).await;
        assert_eq!(t.status, 200);
        assert_eq!(t.size, Some(len), "{build} from {start}");
        assert_eq!(t.body, full.body[start as usize..], "{build} from {start}");
        assert_eq!(t.more, running, "{build}: X-More-Data only while it runs");
    }
    let rolled = api
        .text(&format!("{build}logText/progressiveText?start={}", len + 1))
        .await;
    assert_eq!(rolled.body, full.body, "a start past the end starts over");
    let none = api.text(&format!("{build}logText/progressiveText")).await;
    assert_eq!(none.body, full.body);
}

#[tokio::test]
async fn progressive_text_is_console_text_from_any_offset() {
    let _g = SERIAL.lock().await;
    let e = estate(0).await;
    let api = Api::new(&e);
    let control = e.control();
    // Finished builds of every failing kind, a paused one, a running one.
    for kind in ["unit-tests", "docker-build", "ansible", "kubectl", "quality-gate"] {
        let f = failed(&control, kind);
        check_progressive(&api, &build_path(&f.job, f.build_number), false).await;
    }
    check_progressive(&api, "/job/dominion/job/payments-api/lastBuild/", true).await;
    check_progressive(&api, "/job/dominion/job/checkout-web/lastBuild/", true).await;
    let bad = api
        .text("/job/dominion/job/ledger-service/lastBuild/logText/progressiveText?start=-1")
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn following_a_running_build_sees_every_byte_once() {
    let _g = SERIAL.lock().await;
    let e = estate(0).await;
    let api = Api::new(&e);
    let build = "/job/dominion/job/checkout-web/lastBuild/";
    let mut seen = Vec::new();
    let mut offset = 0u64;
    let mut polls = 0;
    loop {
        let t = api
            .text(&format!("{build}logText/progressiveText?start={offset}"))
            .await;
        assert_eq!(t.size, Some(offset + t.body.len() as u64));
        seen.extend_from_slice(&t.body);
        offset = t.size.unwrap();
        if !t.more {
            break;
        }
        polls += 1;
        assert!(polls < 200, "the build never finished");
        e.control().tick(20.0);
        // The approval pauses the build: answer it like an operator would.
        let pending = api.json(&format!("{build}wfapi/pendingInputActions")).await;
        if let Some(p) = pending.as_array().and_then(|a| a.first()) {
            let url = p["proceedUrl"].as_str().unwrap().to_string();
            let r = api
                .http
                .post(format!("{}{url}", api.base))
                .basic_auth("demo", Some("demo-token"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
    }
    assert!(polls > 5, "the console grew over several polls ({polls})");
    let full = api.text(&format!("{build}consoleText")).await;
    assert_eq!(seen, full.body);
    assert!(visible(&seen).ends_with("Finished: SUCCESS\n"));
}

#[tokio::test]
async fn failing_consoles_read_like_the_tools_print_them() {
    let _g = SERIAL.lock().await;
    let e = estate(0).await;
    let api = Api::new(&e);
    let control = e.control();
    let console = |f: FailedConsoleFact| {
        let api = &api;
        async move {
            let t = api
                .text(&format!("{}consoleText", build_path(&f.job, f.build_number)))
                .await;
            visible(&t.body)
        }
    };

    let f = failed(&control, "docker-build");
    assert_eq!(f.stage, "Docker build");
    let text = console(f.clone()).await;
    for needle in [
        "\n#12 [builder 4/7] RUN mvn -B -q dependency:go-offline\n",
        "\n#12 ERROR: process \"/bin/sh -c mvn -B -q dependency:go-offline\" did not complete successfully: exit code: 1\n",
        "\n------\n > [builder 4/7] RUN mvn -B -q dependency:go-offline:\n",
        "\nERROR: failed to solve: process \"/bin/sh -c mvn -B -q dependency:go-offline\" did not complete successfully: exit code: 1\n",
        "\nERROR: script returned exit code 1\nFinished: FAILURE\n",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    let run = api
        .json(&format!("{}wfapi/describe", build_path(&f.job, f.build_number)))
        .await;
    let stage = run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "FAILED")
        .unwrap();
    assert_eq!(stage["name"], "Docker build");
    assert_eq!(stage["error"]["message"], "script returned exit code 1");

    let f = failed(&control, "ansible");
    assert!(f.job.ends_with("-deploy") && f.ansi, "{f:?}");
    let text = console(f.clone()).await;
    for needle in [
        "\nTASK [k8s_deploy : Apply deployment] ***",
        "\nfatal: [k8s-master-1]: FAILED! => {\"changed\": false, ",
        "\nPLAY RECAP ***",
        " failed=1 ",
        "\nERROR: script returned exit code 2\nFinished: FAILURE\n",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    // The stage's node log says the same (HTML, ANSI as the plugin's markup).
    let log = api
        .json(&format!(
            "{}execution/node/{}/wfapi/log",
            build_path(&f.job, f.build_number),
            f.stage_node_id
        ))
        .await;
    let html = log["text"].as_str().unwrap();
    assert!(
        html.contains("<span style=\"color: #CD0000;\">fatal: [k8s-master-1]: FAILED! =&gt; {"),
        "{html}"
    );
    assert!(!html.contains('\u{1b}'));
    assert_eq!(log["hasMore"], false);

    let f = failed(&control, "kubectl");
    let text = console(f.clone()).await;
    assert!(text.contains("\n+ kubectl --context staging -n catalog rollout status deployment/catalog-service"));
    assert!(text.contains("\nerror: deployment \"catalog-service\" exceeded its progress deadline\n"));

    let f = failed(&control, "quality-gate");
    let text = console(f).await;
    assert!(text.contains("completed. Quality gate is 'ERROR'\n"));
    assert!(text.ends_with("\nERROR: Pipeline aborted due to quality gate failure: ERROR\nFinished: FAILURE\n"));

    let f = control
        .story_facts()
        .failed_consoles
        .into_iter()
        .find(|f| f.kind == "unit-tests" && f.job == "dominion/ledger-service")
        .unwrap();
    let text = console(f).await;
    for needle in [
        "\n[ERROR] Tests run: 412, Failures: 2, Errors: 0, Skipped: 3\n",
        "<<< FAILURE!",
        "\norg.opentest4j.AssertionFailedError: expected: <0.00> but was: <0.01>\n\tat ",
        "\nCaused by: java.lang.ArithmeticException: Rounding necessary\n\tat ",
        "\n[INFO] BUILD FAILURE\n",
        "\nERROR: script returned exit code 1\nFinished: FAILURE\n",
    ] {
        assert!(text.contains(needle), "{needle:?}");
    }
}

#[tokio::test]
async fn colour_and_console_notes_are_in_the_raw_console() {
    let _g = SERIAL.lock().await;
    let e = estate(0).await;
    let api = Api::new(&e);
    let raw = api
        .text("/job/dominion/job/ledger-service/lastBuild/consoleText")
        .await
        .body;
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("[\u{1b}[1;34mINFO\u{1b}[m] "));
    assert!(raw.contains("[\u{1b}[1;31mERROR\u{1b}[m] "));
    assert!(raw.contains("\u{1b}[1;31mBUILD FAILURE\u{1b}[m"));
    // A note right before the visible text of a `[Pipeline]` line.
    let note = raw.find("\u{1b}[8mha:////4").expect("a console note");
    let end = note + raw[note..].find("\u{1b}[0m").unwrap() + 4;
    assert!(raw[end..].starts_with("[Pipeline] "), "{:?}", &raw[note..end + 20]);
    // Builds without the plugin have neither.
    let plain = api
        .text("/job/dominion/job/payments-api/lastBuild/consoleText")
        .await
        .body;
    assert!(!plain.contains(&0x1b));
}

#[tokio::test]
async fn the_big_console_is_the_same_bytes_on_every_endpoint() {
    let _g = SERIAL.lock().await;
    let e = estate(6 * 1024 * 1024).await;
    let api = Api::new(&e);
    let control = e.control();
    let f = control.big_console().expect("a big console");
    assert_eq!(f.job, "dominion/fraud-scoring");
    let latest = api
        .json("/job/dominion/job/fraud-scoring/api/json?tree=lastBuild[number]")
        .await;
    assert_eq!(latest["lastBuild"]["number"], f.build_number, "the newest build");
    let build = f.build_path.clone();

    let full = api.text(&format!("{build}consoleText")).await.body;
    assert_eq!(full.len() as u64, f.total_bytes);
    assert!(f.region_bytes >= 6 * 1024 * 1024);
    assert_eq!(full.iter().filter(|c| **c == b'\n').count() as u64, f.total_lines);
    for start in [
        0,
        f.region_offset - 10,
        f.region_offset + 65_530,
        f.total_bytes / 2,
        f.total_bytes - 5,
    ] {
        let t = api.text(&format!("{build}logText/progressiveText?start={start}")).await;
        assert_eq!(t.size, Some(f.total_bytes));
        assert!(!t.more);
        assert!(t.body == full[start as usize..], "from {start}");
        let direct = control
            .console_bytes(&f.job, f.build_number, start, start + 4096)
            .unwrap();
        assert_eq!(direct, full[start as usize..(start as usize + 4096).min(full.len())]);
    }

    // The error lines are where the facts say, with their line numbers.
    assert_eq!(f.errors.len(), 6);
    for e in f.errors.iter().chain([&f.latin1]) {
        let at = e.offset as usize;
        assert_eq!(full[at - 1], b'\n');
        let end = at + full[at..].iter().position(|c| *c == b'\n').unwrap();
        assert_eq!(String::from_utf8_lossy(&full[at..end]), e.text);
        let line = full[..at].iter().filter(|c| **c == b'\n').count() as u64 + 1;
        assert_eq!(line, e.line, "{e:?}");
    }
    assert!(f.last_error.offset * 100 >= f.total_bytes * 99, "in the last 1 %");
    assert!(f.last_error.text.starts_with("[ERROR] Tests run: ") && f.last_error.text.contains(", Failures: 3, "));
    assert!(f.latin1.text.contains("name=\"Ren\u{fffd}e Lef\u{fffd}vre\""));
    assert!(full.windows(5).any(|w| w == b"Ren\xe9e"));
    let text = String::from_utf8_lossy(&full);
    assert!(text.contains("\n[INFO] Running com.dominion.fraud.replay.ReplayBatch00002IT\n"));
    assert!(text.contains(" DEBUG [pool-3-thread-"));
    assert!(text.contains("\nCaused by: java.net.SocketTimeoutException: Read timed out\n"));

    // The step's node log: its last 10 KiB as HTML, the full length; the plain log whole.
    let step = format!("{build}execution/node/{}/", f.step_node_id);
    let log = api.json(&format!("{step}wfapi/log")).await;
    assert_eq!(log["hasMore"], true);
    assert_eq!(log["length"], f.step_log_bytes);
    assert!(log["text"].as_str().unwrap().contains("Tests run: "));
    let plain = api.text(&format!("{step}log")).await.body;
    assert_eq!(plain.len() as u64, f.step_log_bytes);
    let region = &full[f.region_offset as usize..(f.region_offset + f.region_bytes) as usize];
    let p = plain
        .windows(200)
        .position(|w| w == &region[..200])
        .expect("the region is in the step's log");
    assert!(plain[p..p + region.len()] == *region);
    let stage = api
        .text(&format!("{build}execution/node/{}/log", f.stage_node_id))
        .await
        .body;
    assert!(stage.len() as u64 > f.step_log_bytes);
    // The console page shows the tail only, as Jenkins does for long logs.
    let page = api.text(&format!("{build}console")).await;
    let page = String::from_utf8_lossy(&page.body);
    assert!(page.contains("Skipping ") && page.contains("consoleFull\">Full Log</a>"));
    assert!(page.len() < 400 * 1024);
    let control_json: serde_json::Value = reqwest::get(format!("{}/__sim/big-console", e.jenkins_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(control_json["total_bytes"], f.total_bytes);
    assert_eq!(control_json["last_error"]["line"], f.last_error.line);
}

/// VmRSS or VmHWM of this process, in bytes.
fn proc_status(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with(field)).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test]
async fn the_default_big_console_is_over_200_mb_and_streams_in_little_memory() {
    let _g = SERIAL.lock().await;
    let e = estate(SimOptions::default().big_console_bytes).await;
    let api = Api::new(&e);
    let control = e.control();
    let f = control.big_console().unwrap();
    assert!(f.total_bytes >= 200_000_000, "{}", f.total_bytes);
    let build = f.build_path.clone();
    // The size without the body: start near the end.
    let t = api
        .text(&format!("{build}logText/progressiveText?start={}", f.total_bytes - 100))
        .await;
    assert_eq!(t.size, Some(f.total_bytes));
    assert_eq!(t.body.len(), 100);
    assert!(!t.more);
    // Range reads anywhere are the generator's bytes.
    for start in [f.region_offset + 1, f.total_bytes / 3, f.last_error.offset - 77] {
        let r = api
            .get(&format!("{build}logText/progressiveText?start={start}"))
            .send()
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut r = r;
        while got.len() < 200_000 {
            match r.chunk().await.unwrap() {
                Some(c) => got.extend_from_slice(&c),
                None => break,
            }
        }
        drop(r);
        got.truncate(200_000);
        let want = control
            .console_bytes(&f.job, f.build_number, start, start + got.len() as u64)
            .unwrap();
        assert!(got == want, "from {start}");
    }

    // Stream the whole console through and drop it: memory stays flat.
    let before = proc_status("VmRSS:");
    let r = api.get(&format!("{build}consoleText")).send().await.unwrap();
    assert_eq!(r.content_length(), Some(f.total_bytes));
    let mut r = r;
    let (mut n, mut lines) = (0u64, 0u64);
    let mut peak = 0;
    while let Some(c) = r.chunk().await.unwrap() {
        n += c.len() as u64;
        lines += c.iter().filter(|b| **b == b'\n').count() as u64;
        if n % (32 << 20) < c.len() as u64 {
            peak = peak.max(proc_status("VmRSS:"));
        }
    }
    assert_eq!(n, f.total_bytes);
    assert_eq!(lines, f.total_lines);
    let after = proc_status("VmRSS:");
    peak = peak.max(after);
    eprintln!(
        "streamed {} MB: RSS {} MB before, {} MB at peak, {} MB after",
        n >> 20,
        before >> 20,
        peak >> 20,
        after >> 20
    );
    assert!(
        peak < 100 << 20 && peak < before + (40 << 20),
        "RSS {} MB before, {} MB at peak",
        before >> 20,
        peak >> 20
    );
}

/// Measures how fast the big console is generated and served (run it in a
/// release build: `cargo test --release --test sim_console generation_speed
/// -- --ignored --nocapture`).
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn generation_speed() {
    let _g = SERIAL.lock().await;
    let e = estate(1024 << 20).await;
    let control = e.control();
    let f = control.big_console().unwrap();
    let (from, to) = (f.region_offset, f.region_offset + f.region_bytes);
    let t = std::time::Instant::now();
    let mut n = 0u64;
    let mut start = from;
    while start < to {
        let b = control
            .console_bytes(&f.job, f.build_number, start, (start + (4 << 20)).min(to))
            .unwrap();
        n += b.len() as u64;
        start += b.len() as u64;
    }
    let s = t.elapsed().as_secs_f64();
    eprintln!("generated {} MiB in {s:.2} s: {:.0} MB/s", n >> 20, n as f64 / s / 1e6);
    let api = Api::new(&e);
    let t = std::time::Instant::now();
    let mut r = api.get(&format!("{}consoleText", f.build_path)).send().await.unwrap();
    let mut n = 0u64;
    while let Some(c) = r.chunk().await.unwrap() {
        n += c.len() as u64;
    }
    let s = t.elapsed().as_secs_f64();
    assert_eq!(n, f.total_bytes);
    eprintln!(
        "served consoleText ({} MiB) over loopback in {s:.2} s: {:.0} MB/s",
        n >> 20,
        n as f64 / s / 1e6
    );
}
