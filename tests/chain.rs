//! Chain joining: a candidate's links from builds, GitHub, SonarQube and Nexus, including
//! missing and contradictory links. Built through the reducer, as the sources would.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use flightdeck::model::*;

const SHA: &str = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const OTHER: &str = "aaaabbbbccccddddeeeeffff0000111122223333";

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

fn stage(id: &str, name: &str, status: Status) -> Stage {
    Stage {
        id: id.into(),
        name: name.into(),
        status,
        start_ms: 0,
        duration_ms: 1000,
        error: None,
    }
}

fn build(number: u64, status: Status, stages: Vec<Stage>) -> Build {
    Build {
        number,
        url: format!("https://ci/job/dominion/job/payments-api/{number}/"),
        status,
        commit: Some(SHA.into()),
        tests: Some(TestCounts {
            total: 538,
            failed: 0,
            skipped: 2,
        }),
        stages,
        artifacts: vec![BuildArtifact {
            file_name: "payments-api-1.4.57.jar".into(),
            relative_path: "target/payments-api-1.4.57.jar".into(),
        }],
        ..Build::default()
    }
}

fn green_stages() -> Vec<Stage> {
    [
        "Build & unit tests",
        "SonarQube analysis",
        "Publish to Nexus",
        "Functional tests",
        "Penetration tests",
        "Regression tests",
        "Load tests",
    ]
    .iter()
    .enumerate()
    .map(|(i, n)| stage(&i.to_string(), n, Status::Ok))
    .collect()
}

fn service() -> Service {
    let mut s = Service::new(
        "payments-api",
        ServiceJobs {
            source: "jenkins".into(),
            build: Some("dominion/payments-api".into()),
            deploy: None,
            tests: vec![],
        },
    );
    s.github = Some(GithubRef {
        repo: "dominion/payments-api".into(),
        branch: None,
    });
    s.sonar = Some(SonarRef {
        project_key: "com.dominion:payments-api".into(),
        branch: None,
    });
    s.nexus = Some(NexusRef {
        repository: "maven-releases".into(),
        group_id: "com.dominion".into(),
        artifact_id: "payments-api".into(),
        packaging: "jar".into(),
    });
    let mut env_tags = BTreeMap::new();
    env_tags.insert("staging".to_string(), "staging".to_string());
    s.image = Some(ImageRef {
        source: "ecr".into(),
        registry: RegistryKind::Ecr,
        repository: "shop/payments-api".into(),
        env_tags,
        base_image: Some("tomcat:9.0-jdk17".into()),
        promotion: PromotionStrategy::Retag,
    });
    s
}

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn finding(id: &str, package: &str, severity: Severity) -> Finding {
    Finding {
        id: id.into(),
        package: package.into(),
        installed: Some("3.0.2-0ubuntu1.7".into()),
        fixed: Some("3.0.2-0ubuntu1.8".into()),
        severity,
        title: None,
        url: None,
    }
}

fn scan(findings: Vec<Finding>) -> ScanReport {
    let mut r = ScanReport::from_findings(Scanner::EcrBasic, findings, None);
    r.completed_at = Some(at());
    r
}

/// The registry holds `1.4.57` built from SHA, scanned with `findings`.
fn images(revision: &str, findings: Vec<Finding>) -> ImageRepoState {
    let mut env_tags = BTreeMap::new();
    env_tags.insert("staging".to_string(), "staging".to_string());
    ImageRepoState {
        registry: RegistryKind::Ecr,
        source: "ecr".into(),
        reference: "314159265358.dkr.ecr.eu-west-1.amazonaws.com/shop/payments-api".into(),
        repository: "shop/payments-api".into(),
        tags: vec![ImageTag {
            tag: "1.4.57".into(),
            digest: DIGEST.into(),
            media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
            pushed_at: Some(at()),
            size: Some(123_456_789),
            platforms: vec![],
            revision: Some(revision.into()),
            version: Some("1.4.57".into()),
            base_name: Some("docker.io/library/tomcat:9.0-jdk17".into()),
            base_digest: None,
            scan: Some(scan(findings)),
        }],
        env_tags,
        complete: true,
        observed_at: at(),
    }
}

fn state_with(service: Service, builds: Vec<Build>) -> State {
    let mut state = State {
        services: vec![service],
        ..State::default()
    };
    state.apply(Update::Jobs {
        source: "jenkins".into(),
        at: at(),
        jobs: vec![Job {
            full_name: "dominion/payments-api".into(),
            source: "jenkins".into(),
            url: "https://ci/job/dominion/job/payments-api/".into(),
            kind: JobKind::Pipeline,
            color: None,
            buildable: true,
            parameters: vec![],
            builds,
            observed_at: at(),
        }],
    });
    state
}

fn repo(direct_push: bool) -> RepoState {
    RepoState {
        repo: "dominion/payments-api".into(),
        html_url: "https://github.com/dominion/payments-api".into(),
        branch: "master".into(),
        protection: Protection::Unprotected,
        open_pulls: vec![],
        commits: vec![RepoCommit {
            sha: SHA.into(),
            message: "Add idempotency key check".into(),
            author: "alice".into(),
            date: Some(at()),
            html_url: format!("https://github.com/dominion/payments-api/commit/{SHA}"),
            pull: (!direct_push).then(|| MergedPull {
                number: 212,
                title: "Add idempotency key check".into(),
                author: "alice".into(),
                merged_at: Some(at()),
                html_url: "https://github.com/dominion/payments-api/pull/212".into(),
            }),
            direct_push,
        }],
        hook: None,
        deliveries: vec![],
        observed_at: at(),
    }
}

fn quality(revision: &str, gate: GateStatus, new_coverage: f64) -> QualityState {
    let measures = Measures {
        bugs: Some(0.0),
        vulnerabilities: Some(0.0),
        duplicated_lines_density: Some(1.2),
        new_coverage: Some(new_coverage),
        ..Measures::default()
    };
    QualityState {
        project_key: "com.dominion:payments-api".into(),
        branch: None,
        dashboard_url: "https://sonar/dashboard?id=com.dominion%3Apayments-api".into(),
        gate: Some(Gate {
            status: gate,
            conditions: vec![],
        }),
        measures,
        analyses: vec![Analysis {
            key: "AX1".into(),
            date: at(),
            revision: Some(revision.into()),
            version: Some("1.4.57".into()),
            gate: None,
            measures,
        }],
        observed_at: at(),
    }
}

fn artifacts(versions: &[&str], complete: bool) -> ArtifactState {
    let mut map = BTreeMap::new();
    for v in versions {
        map.insert(
            v.to_string(),
            ["jar", "pom"]
                .iter()
                .map(|ext| Asset {
                    path: format!("com/dominion/payments-api/{v}/payments-api-{v}.{ext}"),
                    download_url: format!(
                        "https://nexus/repository/maven-releases/com/dominion/payments-api/{v}/payments-api-{v}.{ext}"
                    ),
                    version: v.to_string(),
                    base_version: None,
                    extension: Some(ext.to_string()),
                    classifier: None,
                    size: Some(12_345_678),
                    sha1: Some("5458ffe2ba049e76c29f2df2dc3ffccddf8b839e".into()),
                    last_modified: Some(at()),
                    uploader: Some("jenkins-ci".into()),
                })
                .collect(),
        );
    }
    ArtifactState {
        repository: "maven-releases".into(),
        group_id: "com.dominion".into(),
        artifact_id: "payments-api".into(),
        packaging: "jar".into(),
        versions: map,
        complete,
        search_url: "https://nexus/service/rest/v1/search/assets?repository=maven-releases".into(),
        observed_at: at(),
    }
}

fn newest(state: &State) -> &Candidate {
    &state.chains["payments-api"][0]
}

fn link(state: &State, kind: LinkKind) -> &Link {
    newest(state).link(kind).unwrap()
}

#[test]
fn a_fully_joined_candidate() {
    let mut b = build(57, Status::Ok, green_stages());
    b.load_summary = Some(LoadSummary {
        format: "JMeter statistics.json".into(),
        url: "https://ci/job/dominion/job/payments-api/57/artifact/target/jmeter/statistics.json".into(),
        p95_ms: Some(412.0),
        error_rate: Some(0.1),
        samples: Some(12000),
    });
    let mut state = state_with(service(), vec![b]);
    state.apply(Update::Repo {
        service: "payments-api".into(),
        repo: repo(false),
    });
    state.apply(Update::Quality {
        service: "payments-api".into(),
        quality: quality(SHA, GateStatus::Ok, 93.0),
    });
    state.apply(Update::Artifacts {
        service: "payments-api".into(),
        artifacts: artifacts(&["1.4.56", "1.4.57"], true),
    });
    state.apply(Update::Images {
        service: "payments-api".into(),
        images: images(SHA, vec![finding("CVE-2024-0001", "zlib1g", Severity::Medium)]),
    });
    let c = newest(&state);
    assert_eq!(c.version.as_deref(), Some("1.4.57"));
    // Every gate passes; the Running link reports an outcome (no cluster configured here).
    for l in c.links.iter().filter(|l| l.kind.is_gate()) {
        assert_eq!(l.status, LinkStatus::Pass, "{:?}: {}", l.kind, l.reason);
        assert!(l.evidence.is_some(), "{:?} has evidence", l.kind);
    }
    assert_eq!(link(&state, LinkKind::Deployed).status, LinkStatus::Unknown);
    assert_eq!(c.verdict(), LinkStatus::Pass);
    assert!(link(&state, LinkKind::PullRequest).reason.contains("#212"));
    assert!(link(&state, LinkKind::Artifact).reason.contains("jenkins-ci"));
}

#[test]
fn nothing_read_yet_is_unknown_and_the_candidate_is_not_a_pass() {
    let state = state_with(service(), vec![build(57, Status::Ok, green_stages())]);
    for kind in [
        LinkKind::PullRequest,
        LinkKind::Quality,
        LinkKind::Artifact,
        LinkKind::Load,
    ] {
        assert_eq!(link(&state, kind).status, LinkStatus::Unknown, "{kind:?}");
    }
    assert_eq!(link(&state, LinkKind::Build).status, LinkStatus::Pass);
    assert_eq!(newest(&state).verdict(), LinkStatus::Unknown);
    assert!(
        link(&state, LinkKind::Load)
            .reason
            .contains("no JMeter or Gatling summary"),
        "a green load stage without a summary cannot be judged"
    );
}

#[test]
fn sonar_and_the_policy_disagree_both_are_shown() {
    let mut state = state_with(service(), vec![build(57, Status::Ok, green_stages())]);
    state.apply(Update::Quality {
        service: "payments-api".into(),
        quality: quality(SHA, GateStatus::Ok, 84.2),
    });
    let l = link(&state, LinkKind::Quality);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(l.reason.contains("Sonar gate passed"), "{}", l.reason);
    assert!(l.reason.contains("new coverage 84.2 % < 90 %"), "{}", l.reason);
    // The other way round: Sonar fails what the policy would pass.
    state.apply(Update::Quality {
        service: "payments-api".into(),
        quality: quality(SHA, GateStatus::Error, 95.0),
    });
    let l = link(&state, LinkKind::Quality);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(
        l.reason.contains("Sonar gate failed") && l.reason.contains("policy pass"),
        "{}",
        l.reason
    );
}

#[test]
fn a_service_override_changes_the_verdict() {
    let mut svc = service();
    svc.chain.quality.new_coverage_min = 80.0;
    let mut state = state_with(svc, vec![build(57, Status::Ok, green_stages())]);
    state.apply(Update::Quality {
        service: "payments-api".into(),
        quality: quality(SHA, GateStatus::Ok, 84.2),
    });
    assert_eq!(link(&state, LinkKind::Quality).status, LinkStatus::Pass);
}

#[test]
fn an_analysis_of_another_commit_does_not_count() {
    let mut state = state_with(service(), vec![build(57, Status::Ok, green_stages())]);
    state.apply(Update::Quality {
        service: "payments-api".into(),
        quality: quality(OTHER, GateStatus::Ok, 99.0),
    });
    let l = link(&state, LinkKind::Quality);
    assert_eq!(l.status, LinkStatus::Unknown);
    assert!(l.reason.contains("newest analysis is of aaaabbb"), "{}", l.reason);
}

#[test]
fn a_commit_pushed_without_a_pull_request_fails() {
    let mut state = state_with(service(), vec![build(57, Status::Ok, green_stages())]);
    state.apply(Update::Repo {
        service: "payments-api".into(),
        repo: repo(true),
    });
    let l = link(&state, LinkKind::PullRequest);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(l.reason.contains("without a pull request"), "{}", l.reason);
    // A commit GitHub does not list (too old, or force-pushed away) is unknown, not a pass.
    let mut other = repo(false);
    other.commits[0].sha = OTHER.into();
    state.apply(Update::Repo {
        service: "payments-api".into(),
        repo: other,
    });
    assert_eq!(link(&state, LinkKind::PullRequest).status, LinkStatus::Unknown);
}

#[test]
fn an_artifact_missing_after_a_green_build_fails_only_when_the_listing_is_complete() {
    let mut state = state_with(service(), vec![build(57, Status::Ok, green_stages())]);
    state.apply(Update::Artifacts {
        service: "payments-api".into(),
        artifacts: artifacts(&["1.4.56"], true),
    });
    let l = link(&state, LinkKind::Artifact);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(l.reason.contains("although «Publish to Nexus» passed"), "{}", l.reason);
    state.apply(Update::Artifacts {
        service: "payments-api".into(),
        artifacts: artifacts(&["1.4.56"], false),
    });
    assert_eq!(link(&state, LinkKind::Artifact).status, LinkStatus::Unknown);
    // A jar without its pom is not a released artifact.
    let mut half = artifacts(&["1.4.57"], true);
    half.versions
        .get_mut("1.4.57")
        .unwrap()
        .retain(|a| a.extension.as_deref() == Some("jar"));
    state.apply(Update::Artifacts {
        service: "payments-api".into(),
        artifacts: half,
    });
    let l = link(&state, LinkKind::Artifact);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(l.reason.contains("pom is missing"), "{}", l.reason);
}

#[test]
fn a_running_build_shows_running_and_pending_links() {
    let mut stages = green_stages();
    stages.truncate(4); // up to Functional tests
    stages[3].status = Status::Running;
    let state = state_with(service(), vec![build(58, Status::Running, stages)]);
    assert_eq!(link(&state, LinkKind::Build).status, LinkStatus::Running);
    assert_eq!(link(&state, LinkKind::Functional).status, LinkStatus::Running);
    assert_eq!(link(&state, LinkKind::Regression).status, LinkStatus::Pending);
    assert_eq!(link(&state, LinkKind::Load).status, LinkStatus::Pending);
}

#[test]
fn a_failed_stage_fails_its_link_and_later_ones_are_not_run() {
    let mut stages = green_stages();
    stages[4].status = Status::Failed;
    stages[4].error = Some(StageError {
        message: "ZAP found 2 high alerts".into(),
        kind: "hudson.AbortException".into(),
    });
    stages.truncate(5);
    let state = state_with(service(), vec![build(59, Status::Failed, stages)]);
    let pen = link(&state, LinkKind::Penetration);
    assert_eq!(pen.status, LinkStatus::Fail);
    assert!(pen.reason.contains("ZAP found 2 high alerts"));
    let regr = link(&state, LinkKind::Regression);
    assert_eq!(regr.status, LinkStatus::Unknown);
    assert!(
        regr.reason.contains("stopped at «Penetration tests»"),
        "{}",
        regr.reason
    );
}

#[test]
fn load_thresholds_judge_the_archived_summary() {
    let mut b = build(57, Status::Ok, green_stages());
    b.load_summary = Some(LoadSummary {
        format: "JMeter statistics.json".into(),
        url: "u".into(),
        p95_ms: Some(1240.0),
        error_rate: Some(0.4),
        samples: Some(12000),
    });
    let state = state_with(service(), vec![b]);
    let l = link(&state, LinkKind::Load);
    assert_eq!(l.status, LinkStatus::Fail, "a green stage with p95 over the threshold");
    assert!(l.reason.contains("p95 latency 1240 ms > 800 ms"), "{}", l.reason);
    assert_eq!(l.checks.len(), 2);
}

#[test]
fn a_downstream_test_job_is_matched_by_its_upstream_cause() {
    let mut svc = service();
    svc.jobs.tests = vec!["dominion/payments-api-regression".into()];
    svc.chain.regression = TestSource::Job {
        name: "dominion/payments-api-regression".into(),
    };
    let mut state = state_with(svc, vec![build(57, Status::Ok, green_stages())]);
    let downstream = |number: u64, upstream_build: u64, status: Status| Build {
        number,
        url: format!("https://ci/job/dominion/job/payments-api-regression/{number}/"),
        status,
        causes: vec![Cause::Upstream {
            project: "dominion/payments-api".into(),
            build: Some(upstream_build),
        }],
        tests: Some(TestCounts {
            total: 80,
            failed: 3,
            skipped: 0,
        }),
        ..Build::default()
    };
    state.apply(Update::Jobs {
        source: "jenkins".into(),
        at: at(),
        jobs: vec![Job {
            full_name: "dominion/payments-api-regression".into(),
            source: "jenkins".into(),
            url: "https://ci/job/dominion/job/payments-api-regression/".into(),
            kind: JobKind::Freestyle,
            color: None,
            buildable: true,
            parameters: vec![],
            builds: vec![downstream(12, 57, Status::Unstable), downstream(11, 56, Status::Ok)],
            observed_at: at(),
        }],
    });
    let l = link(&state, LinkKind::Regression);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(
        l.reason.contains("#12") && l.reason.contains("3 of 80 failed"),
        "{}",
        l.reason
    );
}

#[test]
fn the_version_comes_from_the_parameter_before_the_artifact() {
    let mut b = build(57, Status::Ok, green_stages());
    b.parameters = vec![("VERSION".into(), "2.0.0-rc1".into())];
    let state = state_with(service(), vec![b]);
    assert_eq!(newest(&state).version.as_deref(), Some("2.0.0-rc1"));
    let mut b = build(57, Status::Ok, green_stages());
    b.artifacts.clear();
    let state = state_with(service(), vec![b]);
    assert_eq!(newest(&state).version, None);
    assert_eq!(link(&state, LinkKind::Artifact).status, LinkStatus::Unknown);
}

/// A state where everything but the image and its scan passes.
fn joined(findings: Vec<Finding>, revision: &str) -> State {
    let mut state = state_with(service(), vec![build(57, Status::Ok, green_stages())]);
    state.apply(Update::Images {
        service: "payments-api".into(),
        images: images(revision, findings),
    });
    state
}

#[test]
fn a_high_finding_fails_the_scan_link_and_names_it() {
    let state = joined(
        vec![
            finding("CVE-2023-0286", "libssl3", Severity::High),
            finding("CVE-2022-1111", "bash", Severity::Low),
        ],
        SHA,
    );
    let l = link(&state, LinkKind::Scan);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(
        l.reason.contains("1 high") && l.reason.contains("CVE-2023-0286 in libssl3"),
        "{}",
        l.reason
    );
    assert!(
        l.checks
            .iter()
            .any(|c| c.sentence().starts_with("high findings (ECR basic scan) 1 > 0")),
        "{:?}",
        l.checks
    );
    assert!(
        l.notes[0].contains("CVE-2023-0286 libssl3 3.0.2-0ubuntu1.7 → 3.0.2-0ubuntu1.8"),
        "{:?}",
        l.notes
    );
    assert_eq!(link(&state, LinkKind::Image).status, LinkStatus::Pass);
}

#[test]
fn the_worse_of_registry_and_build_scan_decides() {
    let mut b = build(57, Status::Ok, green_stages());
    b.scan = Some(ScanReport::from_findings(
        Scanner::Trivy,
        vec![finding("CVE-2019-14697", "musl", Severity::Critical)],
        Some("https://ci/job/dominion/job/payments-api/57/artifact/target/trivy-report.json".into()),
    ));
    let mut state = state_with(service(), vec![b]);
    state.apply(Update::Images {
        service: "payments-api".into(),
        images: images(SHA, vec![]),
    });
    let l = link(&state, LinkKind::Scan);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(
        l.reason.contains("ECR basic scan: no findings") && l.reason.contains("Trivy: 1 critical"),
        "{}",
        l.reason
    );
}

#[test]
fn no_scan_is_unknown_and_no_image_fails_once_the_listing_is_complete() {
    let mut state = joined(vec![], SHA);
    state.images.get_mut("payments-api").unwrap().tags[0].scan = None;
    let images = state.images["payments-api"].clone();
    state.apply(Update::Images {
        service: "payments-api".into(),
        images: ImageRepoState {
            tags: vec![ImageTag {
                scan: None,
                ..images.tags[0].clone()
            }],
            complete: false,
            ..images.clone()
        },
    });
    assert_eq!(link(&state, LinkKind::Scan).status, LinkStatus::Unknown);
    state.apply(Update::Images {
        service: "payments-api".into(),
        images: ImageRepoState {
            tags: vec![],
            complete: true,
            ..images
        },
    });
    let l = link(&state, LinkKind::Image);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(l.reason.starts_with("no image for 1.4.57"), "{}", l.reason);
}

#[test]
fn an_image_built_from_another_commit_fails() {
    // Matched by its version tag, but its revision label names another commit.
    let state = joined(vec![], OTHER);
    let l = link(&state, LinkKind::Image);
    assert_eq!(l.status, LinkStatus::Fail);
    assert!(
        l.reason.contains("was built from aaaabbb, not from 3f2a9c1"),
        "{}",
        l.reason
    );
}

#[test]
fn a_stale_base_image_is_a_warning_not_a_failure() {
    let mut state = joined(vec![], SHA);
    state.apply(Update::Engine {
        source: "docker".into(),
        engine: EngineState {
            host: "unix:///var/run/docker.sock".into(),
            version: Some("Docker Engine 27.3.1".into()),
            images: vec![],
            bases: vec![BaseImageCheck {
                reference: "tomcat:9.0-jdk17".into(),
                used_by: vec!["payments-api".into()],
                local_digest: Some("sha256:aaaa000000000000".into()),
                remote_digest: Some("sha256:bbbb000000000000".into()),
                problem: None,
                checked_at: at(),
            }],
            observed_at: at(),
        },
    });
    let l = link(&state, LinkKind::Image);
    assert_eq!(l.status, LinkStatus::Pass);
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    assert!(
        l.warnings[0].contains("tomcat:9.0-jdk17 is stale on the build host"),
        "{}",
        l.warnings[0]
    );
}
