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
    match k {
        "JENKINS_TOKEN" => Some("s3cret-token".to_string()),
        "GITHUB_TOKEN" => Some("ghp_s3cret".to_string()),
        "SONAR_TOKEN" => Some("squ_s3cret".to_string()),
        "NEXUS_PASSWORD" => Some("nexus-s3cret".to_string()),
        "AWX_TOKEN" => Some("awx-s3cret".to_string()),
        _ => None,
    }
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
    let pay = &c.services[0];
    assert_eq!(pay.chain.quality.new_coverage_min, 80.0, "the service's override");
    assert_eq!(pay.chain.quality.duplicated_lines_max, 5.0, "the shop's default");
    assert_eq!(pay.chain.load_policy.p95_ms_max, 600.0);
    assert_eq!(c.services[1].chain.quality.new_coverage_min, 90.0);
    assert!(pay.jobs.tests.contains(&"dominion/payments-api-regression".to_string()));
    assert_eq!(c.kubernetes.len(), 2);
    assert_eq!(c.awx.len(), 1);
    let prod = &pay.deploy["production"];
    let w = prod.kubernetes.as_ref().unwrap();
    assert_eq!(
        (w.cluster.as_str(), w.deployment.as_str(), w.container.as_str()),
        ("eks", "payments-api", "payments-api")
    );
    assert_eq!(prod.awx.as_ref().unwrap().template, "deploy-payments-api-production");
    assert!(c.four_eyes);
    let shown = c.render_effective();
    for secret in ["ghp_s3cret", "squ_s3cret", "nexus-s3cret", "s3cret-token", "awx-s3cret"] {
        assert!(!shown.contains(secret), "{secret} shown");
    }
    assert!(
        shown.contains("[sources.github]") && shown.contains("new_coverage = 80"),
        "{shown}"
    );
}

/// A config with GitHub, SonarQube and Nexus, for the release-chain errors.
fn with_release_sources(service_extra: &str) -> String {
    format!(
        "{GOOD}\n{service_extra}\n\n[sources.github]\ntoken_env = \"GITHUB_TOKEN\"\n\n[sources.sonar]\nurl = \"https://sonar.example.com\"\n\n[sources.nexus]\nurl = \"https://nexus.example.com\"\n"
    )
}

#[test]
fn release_sources_load() {
    let c = load(&with_release_sources(
        "[services.github]\nrepo = \"dominion/payments-api\"\n[services.sonar]\nproject_key = \"k\"\n[services.nexus]\ngroup_id = \"com.dominion\"\nartifact_id = \"payments-api\"",
    ))
    .unwrap();
    assert_eq!(c.github.as_ref().unwrap().api_url.as_str(), "https://api.github.com/");
    assert_eq!(c.services[0].nexus.as_ref().unwrap().repository, "maven-releases");
}

#[test]
fn a_policy_value_out_of_range_names_its_key() {
    let e = error(&with_release_sources("[services.quality]\nnew_coverage = 120.0"));
    assert_names(&e, 25, "services[0].quality.new_coverage");
    assert!(e.to_string().contains("between 0 and 100"), "{e}");
}

#[test]
fn a_repository_must_be_owner_slash_name() {
    let e = error(&with_release_sources("[services.github]\nrepo = \"payments-api\""));
    assert_names(&e, 25, "services[0].github.repo");
}

#[test]
fn a_service_cannot_name_a_source_that_is_not_configured() {
    let e = error(&format!("{GOOD}\n[services.sonar]\nproject_key = \"k\"\n"));
    assert_names(&e, 25, "services[0].sonar");
    assert!(e.to_string().contains("no [sources.sonar]"), "{e}");
}

#[test]
fn a_test_link_is_a_stage_or_a_job_not_both() {
    let e = error(&with_release_sources(
        "[services.chain]\nregression = { stage = \"Regression\", job = \"x/regression\" }",
    ));
    assert_names(&e, 25, "services[0].chain.regression");
}

#[test]
fn an_unknown_chain_key_is_named() {
    let e = error(&with_release_sources("[services.chain]\nsmoke = { stage = \"Smoke\" }"));
    assert_names(&e, 25, "smoke");
}

#[test]
fn a_missing_release_secret_names_its_key() {
    let text = with_release_sources("").replace("GITHUB_TOKEN", "NO_SUCH_TOKEN");
    let e = error(&text);
    assert!(e.to_string().contains("sources.github.token_env"), "{e}");
}

#[test]
fn a_jenkins_source_cannot_take_a_reserved_name() {
    let e = error(&GOOD.replace("name = \"ci\"", "name = \"github\""));
    assert_names(&e, 5, "sources.jenkins[0].name");
}

/// GOOD plus a registry, ECR and a Docker engine; `service` is appended to payments-api's block.
fn with_image_sources(service: &str) -> String {
    let mut text = GOOD.replace(
        "[[environments]]\nname = \"staging\"",
        "[[sources.registry]]\nname = \"hub\"\nurl = \"https://registry-1.docker.io\"\n\n[sources.ecr]\nregion = \"eu-west-1\"\n\n[sources.docker]\nhost = \"unix:///var/run/docker.sock\"\n\n[[environments]]\nname = \"staging\"",
    );
    text.push_str(service);
    text.push('\n');
    text
}

/// The 1-based line where `needle` first appears.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).expect("needle in text")].matches('\n').count() + 1
}

/// The line of the last line of `text` (where an appended key sits), 1-based.
fn last_line(text: &str) -> usize {
    text.trim_end().lines().count()
}

#[test]
fn an_image_repository_loads_with_its_tag_convention() {
    let c = load(&with_image_sources(
        "[services.image]\nsource = \"ecr\"\nrepository = \"shop/payments-api\"\nenv_tags = { production = \"prod\" }\npromotion = \"both\"\n[services.scan]\nhigh = 2",
    ))
    .unwrap();
    let image = c.services[0].image.as_ref().unwrap();
    assert_eq!(image.registry, flightdeck::model::RegistryKind::Ecr);
    assert_eq!(image.env_tags["production"], "prod");
    assert_eq!(
        image.env_tags["staging"], "staging",
        "the default convention: the environment's name"
    );
    assert_eq!(image.promotion, flightdeck::model::PromotionStrategy::Both);
    assert_eq!(c.services[0].chain.scan.high_max, 2);
    assert_eq!(c.services[0].chain.scan.critical_max, 0, "the shop's default");
    let shown = c.render_effective();
    assert!(
        shown.contains("[sources.ecr]") && shown.contains("[[sources.registry]]") && shown.contains("[sources.docker]")
    );
    assert!(
        shown.contains("env_tags = { production = \"prod\", staging = \"staging\" }"),
        "{shown}"
    );
}

#[test]
fn an_image_source_must_exist() {
    let text = with_image_sources("[services.image]\nsource = \"quay\"\nrepository = \"shop/payments-api\"");
    let e = error(&text);
    assert_names(&e, last_line(&text) - 1, "services[0].image.source");
    assert!(
        e.to_string()
            .contains("no [[sources.registry]] or [sources.ecr] is named `quay`"),
        "{e}"
    );
}

#[test]
fn with_several_registries_the_source_must_be_named() {
    let text = with_image_sources("[services.image]\nrepository = \"shop/payments-api\"");
    let e = error(&text);
    assert_names(&e, last_line(&text), "services[0].image.source");
}

#[test]
fn an_unknown_promotion_strategy_is_named() {
    let text = with_image_sources(
        "[services.image]\nsource = \"hub\"\nrepository = \"shop/payments-api\"\npromotion = \"yolo\"",
    );
    let e = error(&text);
    assert_names(&e, last_line(&text), "services[0].image.promotion");
    assert!(e.to_string().contains("retag, jenkins, both"), "{e}");
}

#[test]
fn an_env_tag_must_name_an_environment_and_be_a_tag() {
    let text = with_image_sources(
        "[services.image]\nsource = \"hub\"\nrepository = \"shop/payments-api\"\nenv_tags = { prod = \"prod\" }",
    );
    let e = error(&text);
    assert_names(&e, last_line(&text), "services[0].image.env_tags.prod");
    let text = with_image_sources(
        "[services.image]\nsource = \"hub\"\nrepository = \"shop/payments-api\"\nenv_tags = { staging = \"not a tag\" }",
    );
    let e = error(&text);
    assert_names(&e, last_line(&text), "services[0].image.env_tags.staging");
}

#[test]
fn a_negative_scan_limit_is_refused() {
    let text = with_image_sources("[services.scan]\ncritical = -1");
    let e = error(&text);
    assert_names(&e, last_line(&text), "services[0].scan.critical");
}

#[test]
fn a_docker_host_with_an_unknown_scheme_is_refused() {
    let text = with_image_sources("").replace("unix:///var/run/docker.sock", "ssh://builder");
    let e = error(&text);
    assert_names(&e, line_of(&text, "host = \"ssh"), "sources.docker.host");
}

#[test]
fn ecr_keys_come_in_pairs_and_must_be_set() {
    let text = with_image_sources("").replace(
        "region = \"eu-west-1\"",
        "region = \"eu-west-1\"\naccess_key_id_env = \"JENKINS_TOKEN\"",
    );
    let e = error(&text);
    assert!(e.to_string().contains("go together"), "{e}");
    let text = with_image_sources("").replace(
        "region = \"eu-west-1\"",
        "region = \"eu-west-1\"\naccess_key_id_env = \"NO_SUCH\"\nsecret_access_key_env = \"JENKINS_TOKEN\"",
    );
    let e = error(&text);
    assert_names(&e, line_of(&text, "access_key_id_env"), "sources.ecr.access_key_id_env");
}

#[test]
fn a_registry_cannot_share_a_jenkins_name() {
    let text = with_image_sources("").replace("name = \"hub\"", "name = \"ci\"");
    let e = error(&text);
    assert_names(
        &e,
        line_of(&text, "name = \"ci\"\nurl = \"https://registry"),
        "sources.registry[0].name",
    );
}

#[test]
fn deploy_targets_name_their_environment_cluster_and_awx_source() {
    let base = "[[environments]]\nname = \"staging\"\n[[sources.kubernetes]]\nname = \"kubeadm\"\ncontext = \"kubernetes-admin@kubernetes\"\n";
    let e = load(&format!(
        "{base}[[services]]\nname = \"a\"\n[services.deploy.prod]\nkubernetes = {{ cluster = \"kubeadm\", namespace = \"x\" }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("services[0].deploy.prod") && e.contains("not one of the [[environments]]"),
        "{e}"
    );
    let e = load(&format!(
        "{base}[[services]]\nname = \"a\"\n[services.deploy.staging]\nkubernetes = {{ cluster = \"eks\", namespace = \"x\" }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("deploy.staging.kubernetes.cluster") && e.contains("no [[sources.kubernetes]] is named `eks`"),
        "{e}"
    );
    let e = load(&format!(
        "{base}[[services]]\nname = \"a\"\n[services.deploy.staging]\nkubernetes = {{ cluster = \"kubeadm\", namespace = \"Shop_Staging\" }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("not a valid Kubernetes name"), "{e}");
    let e = load(&format!(
        "{base}[[services]]\nname = \"a\"\n[services.deploy.staging]\nawx = {{ template = \"t\" }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("no [[sources.awx]] is configured"), "{e}");
    let e = load("[[sources.awx]]\nurl = \"https://awx.example.com\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sources.awx[0]") && e.contains("AWX needs credentials"),
        "{e}"
    );
    let ok = load(&format!(
        "{base}[approvals]\nfour_eyes = false\n[[services]]\nname = \"a\"\n[services.deploy.staging]\nkubernetes = {{ cluster = \"kubeadm\", namespace = \"shop-staging\" }}\n"
    ))
    .unwrap();
    assert!(!ok.four_eyes);
    assert_eq!(
        ok.services[0].deploy["staging"].kubernetes.as_ref().unwrap().deployment,
        "a"
    );
}

#[test]
fn log_rules_must_compile_and_disable_only_shipped_kinds() {
    let good = format!(
        "{GOOD}\n[log]\nrules = [{{ kind = \"flyway\", pattern = \"^ERROR: Migration .* failed\" }}]\ndisable = [\"maven-error\"]\n"
    );
    let config = load(&good).expect("a good [log] loads");
    let rules = &config.log.rules;
    assert_eq!(
        rules.classify("ERROR: Migration V42__ledger.sql failed"),
        Some("flyway")
    );
    assert_eq!(rules.classify("[ERROR] anything"), None, "maven-error is switched off");
    assert_eq!(rules.classify("BUILD FAILURE"), Some("build-failure"));

    let bad = format!("{GOOD}\n[log]\nrules = [\n  {{ kind = \"mine\", pattern = \"(unclosed\" }},\n]\n");
    let e = error(&bad);
    let line = bad.lines().position(|l| l.contains("(unclosed")).unwrap() + 1;
    assert_names(&e, line, "log.rules[0].pattern");
    assert!(e.to_string().contains("not a valid regex"), "{e}");

    let unknown = format!("{GOOD}\n[log]\ndisable = [\"maven-errors\"]\n");
    let e = error(&unknown);
    let line = unknown.lines().position(|l| l.contains("maven-errors")).unwrap() + 1;
    assert_names(&e, line, "log.disable");
    assert!(
        e.to_string().contains("exception, maven-error, app-error)"),
        "lists the shipped kinds: {e}"
    );
}
