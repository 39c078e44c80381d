//! Every GitHub, SonarQube and Nexus fixture (real bodies from public sources, see each
//! directory's PROVENANCE.md) parsed by the cockpit's own payload types and mapped to the model.

use flightdeck::model::{LinkStatus, ReviewState};
use flightdeck::sources::github::{api as gh, map as ghmap};
use flightdeck::sources::nexus::{api as nx, map as nxmap};
use flightdeck::sources::sonar::{api as sq, map as sqmap};

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(path: &str) -> T {
    serde_json::from_str(&fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn branch_protection_rules() {
    let p: gh::ProtectionJson = parse("github/pygithub_branch-protection.json");
    let p = ghmap::protection(&p);
    assert!(p.pull_request_required);
    assert_eq!(p.required_approvals, 1);
    assert!(p.enforce_admins);
    assert!(p.strict_checks);
    assert_eq!(p.required_checks, vec!["build (3.10)".to_string()]);
    let reviews: gh::ReviewRulesJson = parse("github/pygithub_required-pr-reviews.json");
    assert!(reviews.required_approving_review_count >= 1);
}

#[test]
fn open_pull_requests_and_their_commits() {
    let pulls: Vec<gh::PullJson> = parse("github/octocrab_pull_requests_list.json");
    assert_eq!(pulls.len(), 1);
    let p = &pulls[0];
    assert_eq!(p.number, 1347);
    assert_eq!(p.user.as_ref().unwrap().login, "octocat");
    assert!(!p.head.sha.is_empty());
    let mapped = ghmap::pull(p, vec![], vec![]);
    assert_eq!(mapped.html_url, "https://github.com/octocat/Hello-World/pull/1347");
    assert_eq!(mapped.checks_status(), LinkStatus::Unknown, "no checks is not a pass");
    let commits: Vec<gh::CommitJson> = parse("github/octocrab_pull_request_commits.json");
    assert_eq!(commits.len(), 1);
}

#[test]
fn latest_review_per_reviewer_ignores_later_comments() {
    let reviews: Vec<gh::ReviewJson> = parse("github/pygithub_pull-reviews-list.json");
    let verdicts = ghmap::verdicts(&reviews, "2f0e4e5ef0f2d0d1d0cf2d1d6f8e4c5b0a7e9f10");
    let by = |u: &str| verdicts.iter().find(|v| v.reviewer == u).unwrap();
    // jzelinskie approved an older commit: the approval stands but is stale.
    assert_eq!(by("jzelinskie").state, ReviewState::Approved);
    assert!(by("jzelinskie").stale);
    // sfdye only ever commented: listed once, as commenting.
    assert_eq!(by("sfdye").state, ReviewState::Commented);
    assert_eq!(verdicts.iter().filter(|v| v.reviewer == "sfdye").count(), 1);
    let single: gh::ReviewJson = parse("github/octocrab_get_pull_request_review.json");
    assert_eq!(single.state, "APPROVED");
}

#[test]
fn statuses_and_check_runs_merge() {
    let statuses: gh::CombinedStatusJson = parse("github/pygithub_commit-combined-status.json");
    let runs: gh::CheckRunsJson = parse("github/pygithub_check-runs-for-ref.json");
    let checks = ghmap::checks(&statuses, &runs);
    assert_eq!(checks.iter().filter(|c| c.kind == "status").count(), 6);
    assert!(
        checks
            .iter()
            .any(|c| c.name == "jenkins/js" && c.status == LinkStatus::Pass)
    );
    assert!(
        checks
            .iter()
            .any(|c| c.name == "test (Python 3.6)" && c.status == LinkStatus::Fail)
    );
    // Jenkins' statuses are all green, one check run failed: the pull request's checks fail.
    let pr = ghmap::pull(&gh::PullJson::default(), vec![], checks);
    assert_eq!(pr.checks_status(), LinkStatus::Fail);
    let green: gh::CheckRunsJson = parse("github/octocrab_commit_check_runs.json");
    let only_green = ghmap::checks(&gh::CombinedStatusJson::default(), &green);
    assert!(only_green.iter().all(|c| c.status == LinkStatus::Pass));
    let suites: serde_json::Value = parse("github/octocrab_list_check_suites_for_ref.json");
    assert!(suites["total_count"].as_u64().is_some());
}

#[test]
fn commits_are_matched_to_merged_pulls_or_flagged() {
    let commits: Vec<gh::CommitJson> = parse("github/pygithub_repo-commits-sha.json");
    assert_eq!(commits.len(), 7);
    let line = ghmap::first_parent_line(&commits);
    // The recording is a filtered history (path=): parents are outside the page after three.
    assert_eq!(line.len(), 3);
    let mut merged: Vec<gh::PullJson> = parse("github/pygithub_repo-pulls-closed.json");
    assert_eq!(merged.len(), 3);
    assert!(merged.iter().all(|p| p.merged_at.is_some()));
    // Pretend the newest commit is the merge of #39.
    merged[0].merge_commit_sha = Some(commits[0].sha.clone());
    let mapped = ghmap::commits(&commits, &merged, &|_| None);
    assert_eq!(mapped[0].pull.as_ref().map(|p| p.number), Some(39));
    assert!(!mapped[0].direct_push);
    assert!(
        mapped[1].direct_push,
        "on the first-parent line, no pull request: pushed directly"
    );
    assert!(
        !mapped[4].direct_push,
        "off the first-parent line: came in through a merge"
    );
    let list: Vec<gh::CommitJson> = parse("github/octocrab_repos_list_commits.json");
    assert_eq!(list.len(), 1);
}

#[test]
fn webhook_and_deliveries() {
    let hooks: Vec<gh::HookJson> = parse("github/pygithub_repo-hooks.json");
    let hook = ghmap::jenkins_hook(&hooks).expect("the only active web hook");
    let h = ghmap::hook(hook);
    assert_eq!(h.id, 257993);
    assert_eq!(h.last_response.as_deref(), Some("200 OK"));
    let deliveries: Vec<gh::DeliveryJson> = parse("github/octocrab_hooks_delivery_list.json");
    let d: Vec<_> = deliveries.iter().map(ghmap::delivery).collect();
    assert_eq!(d[0].status_code, 503);
    assert!(!d[0].ok());
    assert!(d[1].ok());
    let more: Vec<gh::DeliveryJson> = parse("github/pygithub_repo-hook-deliveries.json");
    assert_eq!(more.len(), 1);
    let one: gh::DeliveryJson = parse("github/pygithub_repo-hook-delivery.json");
    assert!(one.delivered_at.is_some());
}

#[test]
fn rate_limit_bodies() {
    let rate: serde_json::Value = parse("github/pygithub_rate-limit.json");
    assert_eq!(rate["rate"]["limit"], 5000);
    let exceeded: gh::ErrorJson = parse("github/pygithub_rate-limit-exceeded-403.json");
    assert!(
        exceeded.message.to_lowercase().contains("rate limit"),
        "{}",
        exceeded.message
    );
}

#[test]
fn sonar_gate_with_conditions() {
    let s: sq::ProjectStatusJson = parse("sonar/sonarqube-qualitygates-project_status.json");
    let g = sqmap::gate(&s);
    assert_eq!(g.status, flightdeck::model::GateStatus::Error);
    let cov = g.conditions.iter().find(|c| c.metric == "new_coverage").unwrap();
    assert_eq!(cov.comparator, "LT");
    assert_eq!(cov.threshold.as_deref(), Some("85"));
    assert_eq!(cov.actual.as_deref(), Some("82.50562381034781"));
    // A condition without a threshold parses too.
    assert!(g.conditions.iter().any(|c| c.threshold.is_none()));
}

#[test]
fn sonar_measures_read_new_values_from_the_period() {
    let m: sq::ComponentMeasuresJson = parse("sonar/sonarqube-measures-component.json");
    let new_violations = m
        .component
        .measures
        .iter()
        .find(|m| m.metric == "new_violations")
        .unwrap();
    assert_eq!(sqmap::measure_value(new_violations), Some(25.0));
    let complexity = m.component.measures.iter().find(|m| m.metric == "complexity").unwrap();
    assert_eq!(
        sqmap::measure_value(complexity),
        Some(12.0),
        "top-level value for old metrics"
    );
    // The older `periods` array form.
    let legacy: sq::MeasureJson =
        serde_json::from_str(r#"{"metric":"new_coverage","periods":[{"index":1,"value":"84.2"}]}"#).unwrap();
    assert_eq!(sqmap::measure_value(&legacy), Some(84.2));
}

#[test]
fn sonar_compute_engine_and_status_bodies() {
    let activity: serde_json::Value = parse("sonar/sonarqube-ce-activity.json");
    assert!(activity["tasks"].as_array().is_some_and(|t| !t.is_empty()));
    let task: serde_json::Value = parse("sonar/sonarqube-ce-task.json");
    assert!(task["task"]["status"].is_string());
    let status: serde_json::Value = parse("sonar/sonarqube-system-status-unauthenticated.json");
    assert_eq!(status["status"], "UP");
    let d = sqmap::time("2016-01-11T10:49:50+0100").unwrap();
    assert_eq!(d.to_rfc3339(), "2016-01-11T09:49:50+00:00");
}

/// The parameters the cockpit sends exist in today's SonarQube (the real webservices list).
#[test]
fn sonar_parameters_exist_in_the_current_api() {
    let list: serde_json::Value = parse("sonar/sonarqube-webservices-list-2026.json");
    let params = |path: &str, action: &str| -> Vec<String> {
        let ws = list["webServices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["path"] == path)
            .unwrap_or_else(|| panic!("{path}"));
        let a = ws["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == action)
            .unwrap_or_else(|| panic!("{path}/{action}"));
        a["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap().to_string())
            .collect()
    };
    let has = |path: &str, action: &str, wanted: &[&str]| {
        let p = params(path, action);
        for w in wanted {
            assert!(p.iter().any(|x| x == w), "{path}/{action} lacks {w}: {p:?}");
        }
    };
    has(
        "api/qualitygates",
        "project_status",
        &["projectKey", "analysisId", "branch"],
    );
    has(
        "api/measures",
        "component",
        &["component", "metricKeys", "additionalFields", "branch"],
    );
    has("api/project_analyses", "search", &["project", "ps", "branch"]);
    has(
        "api/measures",
        "search_history",
        &["component", "metrics", "from", "ps", "branch"],
    );
}

#[test]
fn nexus_assets_and_components() {
    let page: nx::PageJson<nx::AssetJson> = parse("nexus/nexus-search-assets.json");
    assert_eq!(page.items.len(), 3);
    assert!(page.continuation_token.is_none());
    let assets: Vec<_> = page
        .items
        .iter()
        .filter_map(|a| nxmap::asset(a, "org.osgi.core"))
        .collect();
    assert_eq!(assets.len(), 3);
    let jar = assets
        .iter()
        .find(|a| a.extension.as_deref() == Some("jar") && a.classifier.is_none())
        .unwrap();
    assert_eq!(jar.version, "4.3.1");
    assert_eq!(jar.sha1.as_deref(), Some("5458ffe2ba049e76c29f2df2dc3ffccddf8b839e"));
    assert!(assets.iter().any(|a| a.classifier.as_deref() == Some("sources")));
    assert!(assets.iter().any(|a| a.extension.as_deref() == Some("pom")));
    let components: nx::PageJson<nx::ComponentJson> = parse("nexus/nexus-search-components.json");
    assert!(!components.items.is_empty());
    assert!(components.items.iter().all(|c| !c.assets.is_empty()));
}
