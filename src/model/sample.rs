//! Synthetic estates of any size, for the pane snapshots and the rendering benchmarks. Plain data,
//! deterministic: the same `n` and `now` give the same estate.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{
    Analysis, ArtifactState, Asset, Build, BuildArtifact, Cause, Environment, Gate, GateStatus, GithubRef, Job,
    JobKind, LoadSummary, Measures, MergedPull, NexusRef, PendingInput, Protection, QualityState, RepoCommit,
    RepoState, Service, ServiceJobs, SonarRef, SourceHealth, Stage, StageError, State, Status, TestCounts,
};

pub const STAGES: &[&str] = &[
    "Checkout",
    "Build & unit tests",
    "SonarQube analysis",
    "Quality gate",
    "Publish to Nexus",
    "Functional tests",
    "Penetration tests",
    "Regression tests",
    "Load tests",
    "Docker build",
    "Image scan",
    "Push image",
    "Deploy to staging",
    "Approve production",
    "Deploy to production",
];

const NAMES: &[&str] = &[
    "payments-api",
    "ledger-service",
    "checkout-web",
    "catalog-service",
    "notification-worker",
    "fraud-scoring",
];

/// An estate of `n` services whose newest builds cycle through every interesting state.
pub fn estate(n: usize, now: DateTime<Utc>) -> State {
    estate_with_builds(n, 3, now)
}

/// The same estate with `builds` builds (release candidates) per service.
pub fn estate_with_builds(n: usize, builds: usize, now: DateTime<Utc>) -> State {
    let mut state = State {
        environments: vec![
            Environment {
                name: "staging".into(),
                protected: false,
                read_only: false,
            },
            Environment {
                name: "production".into(),
                protected: true,
                read_only: false,
            },
        ],
        ..State::default()
    };
    let mut health = SourceHealth::new("jenkins", "jenkins", "https://jenkins.example.com/", 10);
    health.last_success = Some(now - chrono::Duration::seconds(3));
    state.sources.insert("jenkins".into(), health);
    let now_ms = now.timestamp_millis();
    for i in 0..n {
        let name = if i < NAMES.len() {
            NAMES[i].to_string()
        } else {
            format!("{}-{}", NAMES[i % NAMES.len()], i / NAMES.len())
        };
        let job_name = format!("dominion/{name}");
        let mut service = Service::new(
            &name,
            ServiceJobs {
                source: "jenkins".into(),
                build: Some(job_name.clone()),
                deploy: None,
                tests: vec![],
            },
        );
        service.repo = Some(format!("https://github.com/dominion/{name}.git"));
        state.services.push(service);
        let builds = (0..builds.max(1)).map(|k| sample_build(i, k, now_ms)).collect();
        state.jobs.insert(
            job_name.clone(),
            Job {
                full_name: job_name,
                source: "jenkins".into(),
                url: format!("https://jenkins.example.com/job/dominion/job/{name}/"),
                kind: JobKind::Pipeline,
                color: Some("blue".into()),
                buildable: true,
                parameters: vec![],
                builds,
                observed_at: now,
            },
        );
    }
    state.waiting = state.jobs.values().filter(|j| j.waits_for_input()).count();
    add_release_data(&mut state, now);
    state
}

/// GitHub, SonarQube and Nexus data coherent with the builds, so every chain has something to
/// say: all green for most, and each service index modulo 6 shows one of the story's problems.
fn add_release_data(state: &mut State, now: DateTime<Utc>) {
    let services: Vec<Service> = state.services.clone();
    for (i, svc) in services.iter().enumerate() {
        let name = svc.name.clone();
        let job_name = svc.jobs.build.clone().unwrap_or_default();
        let Some(job) = state.jobs.get_mut(&job_name) else {
            continue;
        };
        let mut commits = Vec::new();
        let mut analyses = Vec::new();
        let mut versions = BTreeMap::new();
        for (k, b) in job.builds.iter_mut().enumerate() {
            let version = format!("1.{i}.{}", b.number);
            if b.stages
                .iter()
                .any(|s| s.name == "Build & unit tests" && s.status == Status::Ok)
            {
                let file = format!("{name}-{version}.jar");
                b.artifacts = vec![BuildArtifact {
                    relative_path: format!("target/{file}"),
                    file_name: file,
                }];
            }
            if b.stages
                .iter()
                .any(|s| s.name == "Load tests" && s.status == Status::Ok)
            {
                b.load_summary = Some(LoadSummary {
                    format: "JMeter statistics.json".into(),
                    url: format!("{}artifact/target/jmeter/statistics.json", b.url),
                    p95_ms: Some(if i % 6 == 2 { 1240.0 } else { 420.0 + i as f64 }),
                    error_rate: Some(0.2),
                    samples: Some(12_000),
                });
            }
            let sha = b.commit.clone().unwrap_or_default();
            let direct = i % 6 == 3 && k == 0;
            commits.push(RepoCommit {
                sha: sha.clone(),
                message: format!("Change {}", b.number),
                author: "alice".into(),
                date: Some(now),
                html_url: format!("https://github.com/dominion/{name}/commit/{sha}"),
                pull: (!direct).then(|| MergedPull {
                    number: 200 + b.number,
                    title: format!("Change {}", b.number),
                    author: "alice".into(),
                    merged_at: Some(now),
                    html_url: format!("https://github.com/dominion/{name}/pull/{}", 200 + b.number),
                }),
                direct_push: direct,
            });
            let new_coverage = if i % 6 == 0 && k == 0 {
                84.2
            } else {
                91.0 + (k % 5) as f64
            };
            analyses.push(Analysis {
                key: format!("A{i}-{k}"),
                date: now,
                revision: Some(sha),
                version: Some(version.clone()),
                gate: Some(Gate {
                    status: GateStatus::Ok,
                    conditions: vec![],
                }),
                measures: Measures {
                    bugs: Some(0.0),
                    vulnerabilities: Some(0.0),
                    security_hotspots: Some(1.0),
                    code_smells: Some(40.0 + k as f64),
                    coverage: Some(78.0 + (k % 4) as f64),
                    new_coverage: Some(new_coverage),
                    duplicated_lines_density: Some(2.1),
                    new_duplicated_lines_density: Some(0.5),
                },
            });
            if !(i % 6 == 5 && k == 0) {
                let assets = ["jar", "pom"]
                    .iter()
                    .map(|ext| Asset {
                        path: format!("com/dominion/{name}/{version}/{name}-{version}.{ext}"),
                        download_url: format!(
                            "https://nexus.example.com/repository/maven-releases/com/dominion/{name}/{version}/{name}-{version}.{ext}"
                        ),
                        version: version.clone(),
                        base_version: None,
                        extension: Some(ext.to_string()),
                        classifier: None,
                        size: Some(48_000_000),
                        sha1: Some(fake_sha(i as u64 * 7 + k as u64)),
                        last_modified: Some(now),
                        uploader: Some("jenkins-ci".into()),
                    })
                    .collect();
                versions.insert(version, assets);
            }
        }
        let quality = QualityState {
            project_key: format!("com.dominion:{name}"),
            branch: None,
            dashboard_url: format!("https://sonar.example.com/dashboard?id=com.dominion%3A{name}"),
            gate: analyses.first().and_then(|a| a.gate.clone()),
            measures: analyses.first().map(|a| a.measures).unwrap_or_default(),
            analyses,
            observed_at: now,
        };
        let repo = RepoState {
            repo: format!("dominion/{name}"),
            html_url: format!("https://github.com/dominion/{name}"),
            branch: "master".into(),
            protection: Protection::Unprotected,
            open_pulls: vec![],
            commits,
            hook: None,
            deliveries: vec![],
            observed_at: now,
        };
        let artifacts = ArtifactState {
            repository: "maven-releases".into(),
            group_id: "com.dominion".into(),
            artifact_id: name.clone(),
            packaging: "jar".into(),
            versions,
            complete: true,
            search_url: format!("https://nexus.example.com/service/rest/v1/search/assets?maven.artifactId={name}"),
            observed_at: now,
        };
        if let Some(s) = state.services.iter_mut().find(|s| s.name == name) {
            s.github = Some(GithubRef {
                repo: repo.repo.clone(),
                branch: None,
            });
            s.sonar = Some(SonarRef {
                project_key: quality.project_key.clone(),
                branch: None,
            });
            s.nexus = Some(NexusRef {
                repository: "maven-releases".into(),
                group_id: "com.dominion".into(),
                artifact_id: name.clone(),
                packaging: "jar".into(),
            });
        }
        state.repos.insert(name.clone(), repo);
        state.quality.insert(name.clone(), quality);
        state.artifacts.insert(name.clone(), artifacts);
        state.rechain(&name);
    }
}

fn sample_build(service: usize, age_rank: usize, now_ms: i64) -> Build {
    let number = 100 - age_rank as u64;
    let scenario = if age_rank == 0 { service % 6 } else { 3 };
    let started = now_ms - 60_000 * (4 + 30 * age_rank as i64) - (service as i64 % 7) * 17_000;
    let (reached, last_status) = match scenario {
        0 => (14, Status::Paused),
        1 => (2, Status::Failed),
        2 => (6, Status::Running),
        3 => (15, Status::Ok),
        4 => (9, Status::Aborted),
        _ => (8, Status::Unstable),
    };
    let stages: Vec<Stage> = STAGES
        .iter()
        .take(reached)
        .enumerate()
        .map(|(k, name)| {
            let last = k + 1 == reached;
            Stage {
                id: (k * 3 + 6).to_string(),
                name: name.to_string(),
                status: if last { last_status } else { Status::Ok },
                start_ms: started + k as i64 * 20_000,
                duration_ms: if last && last_status.is_active() {
                    0
                } else {
                    18_000 + (k as i64 * 997) % 9_000
                },
                error: (last && last_status == Status::Failed).then(|| StageError {
                    message: "script returned exit code 1".into(),
                    kind: "hudson.AbortException".into(),
                }),
            }
        })
        .collect();
    let status = match last_status {
        Status::Paused => Status::Running,
        s => s,
    };
    Build {
        number,
        url: String::new(),
        status: if status == Status::Running && scenario == 0 {
            Status::Paused
        } else {
            status
        },
        timestamp_ms: started,
        duration_ms: if status.is_active() { 0 } else { 300_000 },
        estimated_duration_ms: Some(360_000),
        causes: vec![match service % 4 {
            0 => Cause::GithubPush {
                user: Some("alice".into()),
            },
            1 => Cause::ScmPoll,
            2 => Cause::Timer,
            _ => Cause::User {
                id: Some("bob".into()),
                name: Some("Bob Builder".into()),
            },
        }],
        commit: Some(fake_sha(service as u64 * 1000 + number)),
        branch: Some("refs/remotes/origin/master".into()),
        parameters: vec![],
        tests: (reached >= 2).then_some(TestCounts {
            total: 412,
            failed: if scenario == 1 || scenario == 5 { 2 } else { 0 },
            skipped: 3,
        }),
        stages,
        pending_inputs: if scenario == 0 {
            vec![PendingInput {
                id: "Deploy-production".into(),
                message: "Deploy to production?".into(),
                proceed_text: Some("Proceed".into()),
                submitter: None,
                inputs: vec![],
                proceed_url: None,
                abort_url: None,
            }]
        } else {
            vec![]
        },
        queue_id: None,
        artifacts: Vec::new(),
        load_summary: None,
        scan: None,
    }
}

/// A deterministic 40-hex-digit string that looks like a commit id.
fn fake_sha(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d;
    let mut out = String::with_capacity(40);
    while out.len() < 40 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!("{x:016x}"));
    }
    out.truncate(40);
    out
}
