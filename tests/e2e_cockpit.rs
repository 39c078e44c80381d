//! End to end: the real binary in a pseudo-terminal against the simulated Jenkins. Keys in, screen
//! out, and what the simulated Jenkins received checked afterwards.

mod common;

use std::time::Duration;

use common::{Cockpit, write_config};
use flightdeck::sim::{Estate, Fault, SimOptions};

const T: Duration = Duration::from_secs(20);

/// A simulated estate and a scratch directory for one test. Fields drop in order: the estate
/// stops before the runtime that serves it.
struct Setup {
    estate: Estate,
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let estate = rt
        .block_on(Estate::start(SimOptions::default()))
        .expect("start the simulated estate");
    Setup {
        estate,
        dir: tempfile::tempdir().unwrap(),
        _rt: rt,
    }
}

impl Setup {
    fn cockpit(&self, extra: &[&str]) -> Cockpit {
        self.cockpit_sized(extra, 120, 40)
    }

    /// The real binary on a config pointing at the estate, its data (audit) under the scratch dir.
    fn cockpit_sized(&self, extra: &[&str], cols: u16, rows: u16) -> Cockpit {
        let dir = self.dir.path();
        let config = write_config(dir, &self.estate.demo_config_toml());
        let data = dir.join("data");
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend_from_slice(extra);
        Cockpit::spawn(
            &args,
            &[
                ("FLIGHTDECK_DEMO_TOKEN", "demo-token"),
                ("XDG_DATA_HOME", data.to_str().unwrap()),
                ("XDG_CONFIG_HOME", dir.to_str().unwrap()),
            ],
            cols,
            rows,
        )
    }
}

fn posts(estate: &Estate, needle: &str) -> usize {
    estate
        .control()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains(needle))
        .count()
}

#[test]
fn approve_an_input_and_trigger_a_build_with_keys() {
    let s = setup();
    let estate = &s.estate;
    let mut c = s.cockpit(&[]);
    c.wait_for("Deploy to production?", T);

    // payments-api is the first service and waits at "Approve production".
    c.send("a");
    c.wait_for("Type the service name (payments-api)", T);
    c.send("payments-ap");
    c.send("\r");
    c.wait_for("type payments-api exactly", T);
    assert_eq!(
        posts(estate, "/input/"),
        0,
        "nothing may be sent before the name is typed"
    );
    c.send("i\r");
    c.wait_for("✔ Approve", T);
    assert_eq!(posts(estate, "/input/Deploy-production/proceedEmpty"), 1);

    // catalog-service: trigger a build, follow the queue to a build number.
    c.send("jjj");
    c.wait_for("catalog-service", T);
    c.send("b");
    c.wait_for("Trigger a build of dominion/catalog-service", T);
    c.send("\r");
    c.wait_for("queued build started as #", Duration::from_secs(30));
    assert_eq!(posts(estate, "/job/catalog-service/build"), 1);

    // Both actions are in the audit file.
    let audit = std::fs::read_to_string(s.dir.path().join("data/flightdeck/audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert_eq!(lines[0]["action"], "approve_input");
    assert_eq!(lines[0]["environment"], "production");
    assert_eq!(lines[0]["result"], "ok");
    assert_eq!(lines[1]["action"], "trigger_build");
    assert!(lines[1]["plan"][0].as_str().unwrap().starts_with("POST "));

    c.send("q");
    assert!(c.wait_exit(Duration::from_secs(5)).is_some(), "q did not quit");
}

#[test]
fn read_only_refuses_visibly_and_sends_nothing() {
    let s = setup();
    let estate = &s.estate;
    let mut c = s.cockpit(&["--read-only"]);
    c.wait_for("READ-ONLY", T);
    c.wait_for("Deploy to production?", T);
    c.send("a");
    c.wait_for("Refused: Flightdeck runs read-only", T);
    c.send("\x1b");
    c.send("b");
    c.wait_for("Refused", T);
    c.send("\r");
    assert_eq!(
        estate
            .control()
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        0
    );
}

#[test]
fn faults_degrade_the_source_and_the_cockpit_recovers() {
    let s = setup();
    let estate = &s.estate;
    let mut c = s.cockpit(&[]);
    c.wait_for("jenkins ✔", T);
    let faults = [
        ("HTTP 503", Fault::Status(503)),
        ("HTTP 429", Fault::TooManyRequests { retry_after_secs: 1 }),
        ("unreadable answer", Fault::MalformedJson),
        ("unreadable answer", Fault::TruncatedBody),
        ("connection broke", Fault::ConnectionReset),
        ("timed out", Fault::Latency(Duration::from_secs(12))),
    ];
    for (expected, fault) in faults {
        estate.control().set_fault("/api/json", fault);
        c.send("R");
        let screen = c.wait_for(expected, Duration::from_secs(30));
        assert!(screen.contains("jenkins ⚠"), "source not marked degraded:\n{screen}");
        // Last good data stays on screen, and keys still answer.
        assert!(screen.contains("payments-api"));
        c.send("?");
        c.wait_for("Rebind any action", T);
        c.send("\x1b");
        estate.control().clear_faults();
        c.send("R");
        c.wait_for("jenkins ✔", Duration::from_secs(30));
    }
}

#[test]
fn an_action_is_never_sent_twice() {
    let s = setup();
    let estate = &s.estate;
    let mut c = s.cockpit(&[]);
    c.wait_for("Deploy to production?", T);
    // A slow Jenkins: the operator presses again while the first approval is in flight.
    estate
        .control()
        .set_fault("/input/", Fault::Latency(Duration::from_secs(3)));
    c.send("a");
    c.wait_for("Type the service name", T);
    c.send("payments-api\r\r\r");
    c.send("a");
    c.send("payments-api\r");
    c.wait_for("already running", T);
    c.wait_for("✔ Approve", T);
    assert_eq!(posts(estate, "/input/"), 1);

    // A failing action is reported once and never retried behind the operator's back.
    estate.control().set_fault("/build", Fault::Status(500));
    c.send("\x1b");
    c.send("jjj");
    c.send("b");
    c.wait_for("Trigger a build of dominion/catalog-service", T);
    c.send("\r\r\r");
    c.wait_for("✖ Trigger a build", T);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(posts(estate, "/job/catalog-service/build"), 1);
}

#[test]
fn reject_an_input_and_abort_a_build_with_keys() {
    let s = setup();
    let estate = &s.estate;
    let mut c = s.cockpit(&[]);
    c.wait_for("Deploy to production?", T);
    c.send("x");
    c.wait_for("Reject \"Deploy to production?\"", T);
    c.send("payments-api\r");
    c.wait_for("✔ Reject", T);
    assert_eq!(posts(estate, "/input/Deploy-production/abort"), 1);

    // checkout-web is running: x aborts it (staging is not protected: Enter confirms).
    c.send("jj");
    c.send("x");
    c.wait_for("Abort dominion/checkout-web", T);
    c.send("\r");
    c.wait_for("✔ Abort", T);
    assert_eq!(posts(estate, "/stop"), 1);
}

#[test]
fn keys_do_nothing_while_the_terminal_is_too_small() {
    let s = setup();
    let estate = &s.estate;
    let mut c = s.cockpit_sized(&[], 50, 12);
    c.wait_for("Terminal too small", T);
    // Blind keys must not act: b then y would trigger a build on a normal screen.
    c.send("b");
    c.send("y");
    c.send("\r");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        estate
            .control()
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        0
    );
    c.send("q");
    assert!(c.wait_exit(Duration::from_secs(5)).is_some(), "q must still quit");
}
