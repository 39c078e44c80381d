//! The command line: subcommands, exit codes (0 ok, 2 usage or config, 1 other), and output.

use std::process::Command;

fn flightdeck(args: &[&str]) -> std::process::Output {
    let dir = std::env::temp_dir();
    Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(args)
        .env("XDG_DATA_HOME", dir.join("flightdeck-cli-test-data"))
        .env("XDG_CONFIG_HOME", dir.join("flightdeck-cli-test-config"))
        .env_remove("FLIGHTDECK_CONFIG")
        .output()
        .expect("run flightdeck")
}

#[test]
fn status_json_on_the_demo_prints_the_model() {
    let out = flightdeck(&["status", "--json", "--demo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(state["services"].as_array().unwrap().len() >= 6);
    assert!(state["jobs"]["dominion/payments-api"]["builds"][0]["pending_inputs"][0]["id"] == "Deploy-production");
    assert!(state["sources"]["jenkins"]["last_success"].is_string());
}

#[test]
fn snapshot_renders_a_frame_at_the_asked_size() {
    let out = flightdeck(&["snapshot", "--demo", "--size", "80x24"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 24);
    assert!(text.lines().all(|l| unicode_width(l) <= 80));
    // At 80 columns the healthy sources share one "✔ name name…" group.
    assert!(text.contains("payments-api") && text.contains("✔ awx") && text.contains("jenkins"));
}

fn unicode_width(s: &str) -> usize {
    s.chars().count()
}

#[test]
fn bad_config_exits_2_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[[sources.jenkins]]\nurl = \"gopher://ci\"\n").unwrap();
    let out = flightdeck(&["config", "check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:", path.display())), "{err}");
    assert!(err.contains("sources.jenkins[0].url"), "{err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
}

#[test]
fn missing_config_exits_2_and_suggests_demo() {
    let out = flightdeck(&["config", "check", "--config", "/nonexistent/flightdeck.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--demo"));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(flightdeck(&["--no-such-flag"]).status.code(), Some(2));
    assert_eq!(flightdeck(&["snapshot", "--size", "huge"]).status.code(), Some(2));
    assert_eq!(
        flightdeck(&["--theme", "neon", "snapshot", "--demo"]).status.code(),
        Some(2)
    );
}

#[test]
fn config_check_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[[sources.jenkins]]\nurl = \"https://ci.example.com\"\nuser = \"bot\"\ntoken_command = [\"echo\", \"hunter2\"]\n").unwrap();
    let out = flightdeck(&["config", "check", "--config", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("hunter2"));
    assert!(text.contains("token = \"****\""));
}

#[test]
fn keys_prints_the_keymap() {
    let out = flightdeck(&["keys"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("`trigger_build`") && text.contains("`approve`"));
}

#[test]
fn status_exits_1_when_a_source_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &path,
        format!("[[sources.jenkins]]\nurl = \"http://127.0.0.1:{port}/\"\ntimeout_secs = 2\n\n[[services]]\nname = \"a\"\n[services.jenkins]\nbuild = \"a\"\n"),
    )
    .unwrap();
    let out = flightdeck(&["status", "--json", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        state["sources"]["jenkins"]["last_error"]
            .as_str()
            .unwrap()
            .contains("connect")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not answer"));
}
