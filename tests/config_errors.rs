//! One test per kind of bad config: each must name the file, the line and the key, and never panic.

use std::path::Path;

use flightdeck::config::{ConfigError, load_from_str};

const GOOD: &str = r#"
theme = "dark"

[[sources.jenkins]]
name = "ci"
url = "https://jenkins.example.com/"
user = "release-bot"
token_env = "JENKINS_TOKEN"

[[environments]]
name = "staging"

[[environments]]
name = "production"
protected = true

[[services]]
name = "payments-api"
repo = "https://github.com/dominion/payments-api.git"
[services.jenkins]
build = "dominion/payments-api"
deploy = "dominion/payments-api-deploy"
"#;

fn env(k: &str) -> Option<String> {
    (k == "JENKINS_TOKEN").then(|| "s3cret-token".to_string())
}

fn load(text: &str) -> Result<flightdeck::config::Config, ConfigError> {
    load_from_str(text, Path::new("/etc/flightdeck/config.toml"), None, &env)
}

fn error(text: &str) -> ConfigError {
    load(text).expect_err("config should be refused")
}

fn assert_names(e: &ConfigError, line: usize, key: &str) {
    let shown = e.to_string();
    assert!(shown.starts_with("/etc/flightdeck/config.toml:"), "no file in: {shown}");
    assert_eq!(e.line, Some(line as u32), "wrong line in: {shown}");
    assert!(e.column.is_some(), "no column in: {shown}");
    assert!(shown.contains(&format!(":{line}:")), "no line in: {shown}");
    assert!(shown.contains(key), "key `{key}` not named in: {shown}");
}

#[test]
fn the_good_config_loads_and_masks_its_secret() {
    let c = load(GOOD).unwrap();
    assert_eq!(c.jenkins[0].token.as_ref().unwrap().expose(), "s3cret-token");
    let shown = c.render_effective();
    assert!(!shown.contains("s3cret-token"));
    assert!(shown.contains("****"));
    assert!(shown.contains("environment variable JENKINS_TOKEN"));
}

#[test]
fn syntax_error() {
    let text = GOOD.replace("user = \"release-bot\"", "user = \"release-bot");
    assert_names(&error(&text), 7, "user");
}

#[test]
fn wrong_type() {
    let text = GOOD.replace("protected = true", "protected = \"yes\"");
    assert_names(&error(&text), 15, "environments[1].protected");
}

#[test]
fn unknown_key() {
    let text = GOOD.replace("user = \"release-bot\"", "usr = \"release-bot\"");
    let e = error(&text);
    assert_names(&e, 7, "usr");
    assert!(e.to_string().contains("sources.jenkins[0]"), "{e}");
}

#[test]
fn missing_secret() {
    let text = GOOD.replace("JENKINS_TOKEN", "NO_SUCH_TOKEN_VAR");
    let e = error(&text);
    assert_names(&e, 8, "sources.jenkins[0].token_env");
    assert!(e.to_string().contains("NO_SUCH_TOKEN_VAR"), "{e}");
}

#[test]
fn failing_token_command() {
    let text = GOOD.replace("token_env = \"JENKINS_TOKEN\"", "token_command = [\"false\"]");
    assert_names(&error(&text), 8, "sources.jenkins[0].token_command");
}

#[test]
fn token_command_supplies_the_secret() {
    let text = GOOD.replace(
        "token_env = \"JENKINS_TOKEN\"",
        "token_command = [\"echo\", \"from-a-command\"]",
    );
    let c = load(&text).unwrap();
    assert_eq!(c.jenkins[0].token.as_ref().unwrap().expose(), "from-a-command");
}

#[test]
fn unsupported_url_scheme() {
    let text = GOOD.replace("https://jenkins.example.com/", "ftp://jenkins.example.com/");
    let e = error(&text);
    assert_names(&e, 6, "sources.jenkins[0].url");
    assert!(e.to_string().contains("ftp"), "{e}");
}

#[test]
fn unknown_source_reference() {
    let text = GOOD.replace(
        "build = \"dominion/payments-api\"",
        "source = \"nope\"\nbuild = \"dominion/payments-api\"",
    );
    assert_names(&error(&text), 21, "services[0].jenkins.source");
}

#[test]
fn unknown_keymap_action_and_bad_key_and_conflict() {
    assert_names(
        &error(&format!("{GOOD}\n[keymap]\nlaunch_missiles = [\"m\"]\n")),
        25,
        "keymap.launch_missiles",
    );
    assert_names(
        &error(&format!("{GOOD}\n[keymap]\napprove = [\"Hyper-Q\"]\n")),
        25,
        "keymap.approve",
    );
    let e = error(&format!("{GOOD}\n[keymap]\napprove = [\"q\"]\n"));
    assert!(e.to_string().contains("bound to both"), "{e}");
    assert!(e.to_string().contains("keymap."), "{e}");
}

#[test]
fn unknown_theme() {
    assert_names(
        &error(&GOOD.replace("theme = \"dark\"", "theme = \"neon\"")),
        2,
        "theme",
    );
}

#[test]
fn garbage_never_panics() {
    for text in [
        "\u{0}\u{1}",
        "[[[",
        "services = 5",
        "[[services]]\nname = 1",
        "[sources]\njenkins = \"x\"",
    ] {
        let _ = load(text);
    }
}

#[test]
fn the_example_config_is_valid() {
    let text = include_str!("../config.example.toml");
    let c = load_from_str(text, Path::new("config.example.toml"), None, &env).unwrap();
    assert_eq!(c.services.len(), 2);
    assert_eq!(c.environments.iter().filter(|e| e.protected).count(), 1);
}
