//! End to end: the on-call path. From the board to the line that broke a build, in the real binary
//! in a pseudo-terminal against the simulated Jenkins.

mod common;

use std::time::{Duration, Instant};

use common::{Cockpit, write_config};
use flightdeck::sim::{Estate, SimOptions};

const T: Duration = Duration::from_secs(20);

struct Setup {
    estate: Estate,
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

/// A still story clock: what is on screen cannot change under the keys.
fn frozen() -> Setup {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let estate = rt
        .block_on(Estate::start(SimOptions {
            speed: 0.0,
            ..SimOptions::default()
        }))
        .expect("start the simulated estate");
    Setup {
        estate,
        dir: tempfile::tempdir().unwrap(),
        _rt: rt,
    }
}

impl Setup {
    fn cockpit(&self, cols: u16, rows: u16) -> Cockpit {
        let dir = self.dir.path();
        let config = write_config(dir, &self.estate.demo_config_toml());
        let data = dir.join("data");
        Cockpit::spawn(
            &["--config", config.to_str().unwrap()],
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

/// The current line of the log view, once it satisfies `ok`.
fn current_line(c: &Cockpit, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let rows = c.highlighted_rows();
        if let Some(row) = rows.iter().find(|r| ok(r)) {
            return row.clone();
        }
        if start.elapsed() > T {
            panic!(
                "no current line as expected; highlighted {rows:?}; screen:\n{}",
                c.screen()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn from_the_board_to_the_first_error_in_two_keys() {
    let s = frozen();
    let mut c = s.cockpit(120, 40);
    c.wait_for("Release board", T);
    c.wait_for("ledger-service", T);
    // ledger-service, red in "Build & unit tests", is the board's second row: `j`, then `l`.
    c.send("j");
    // (The board lists services before Jenkins has answered; the keys are for a red build.)
    c.wait_for("failed in «Build & unit tests»", T);
    c.send("l");
    let screen = c.wait_for("error lines:", T);
    assert!(screen.contains("ledger-service #"), "{screen}");
    assert!(screen.contains("Build & unit tests"), "{screen}");
    let first = current_line(&c, |r| r.contains("Tests run:"));
    assert!(first.contains("Failures: 1"), "{first}");
    assert!(first.contains("<<< FAILURE!"), "{first}");

    // `n` walks the errors: the failing test's name comes next.
    c.send("n");
    let next = current_line(&c, |r| {
        r.contains("[ERROR] com.dominion.ledger.") && !r.contains("Tests run:")
    });
    assert!(next.contains("Test."), "{next}");

    // A search lands on its first match, and Esc leaves the search before the log.
    c.send("/");
    c.wait_for("regex · all lower case ignores case", T);
    c.send("roundshalfeven\r");
    let hit = current_line(&c, |r| r.to_lowercase().contains("roundshalfeven"));
    assert!(hit.contains("roundsHalfEven"), "{hit}");
    c.wait_for("/roundshalfeven/", T);

    // `y` on an error copies its block; `w` writes the whole console and says where.
    c.send("\x1b");
    c.send("N");
    current_line(&c, |r| r.contains("AssertionFailedError") || r.contains("[ERROR]"));
    c.send("y");
    c.wait_for("copied", T);
    c.send("w");
    let screen = c.wait_for("wrote ", T);
    let logs = s.dir.path().join("data/flightdeck/logs");
    let file = std::fs::read_dir(&logs)
        .unwrap_or_else(|e| panic!("no {}: {e}; screen:\n{screen}", logs.display()))
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .expect("a written log");
    assert!(
        screen.contains(&file.file_name().unwrap().to_string_lossy().to_string()[..20]),
        "{screen}"
    );
    let text = std::fs::read(&file).unwrap();
    assert!(text.windows(13).any(|w| w == b"BUILD FAILURE"));
    assert!(!text.contains(&0x1b), "the written log is plain text");

    // Esc closes the log: the board is back.
    c.send("\x1b");
    c.wait_for("Release board", T);
}

#[test]
fn the_log_view_fits_80x24() {
    let s = frozen();
    let mut c = s.cockpit(80, 24);
    c.wait_for("ledger-service", T);
    c.send("j");
    c.wait_for("failed in «Build & unit tests»", T);
    c.send("l");
    c.wait_for("error lines", T);
    let first = current_line(&c, |r| r.contains("Tests run:"));
    assert!(first.contains("Failures: 1"), "{first}");
    let screen = c.screen();
    // Short of room, the summary keeps the count and where the operator is, not the kinds.
    let summary = screen.lines().find(|l| l.contains("error lines")).unwrap_or_default();
    assert!(summary.contains("line "), "the position shows at 80 columns:\n{screen}");
    assert!(screen.contains("n/N"), "the hint bar names the keys:\n{screen}");
}
