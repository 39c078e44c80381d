//! The story facts that tests and the demo rely on, fixed when the estate
//! starts (see the `sim` module docs). They are read from the generated
//! history, so they hold for any seed; the values quoted in the docs are
//! those of the default seed.

use serde::Serialize;

use super::forge::{self, ReviewState};
use super::images;
use super::jenkins::{Build, BuildResult, FailKind, NodeStatus, Outcome};
use super::loadtest;
use super::story::{FOLDER, World};

/// New-code coverage of payments-api's newest analysis at start.
pub(crate) const PAYMENTS_NEW_COVERAGE: f64 = 84.2;

/// `payments-api`: Sonar's gate passes (new coverage ≥ 80) but the
/// coverage is under Flightdeck's 90 % policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CoverageFact {
    pub service: String,
    pub project_key: String,
    /// The newest build with a finished "SonarQube analysis" stage.
    pub build_number: u32,
    pub version: String,
    pub sha: String,
    pub new_coverage: f64,
    /// Sonar way's threshold (the gate is OK).
    pub sonar_threshold: f64,
}

/// `catalog-service`: the newest master commit at start was pushed without
/// a pull request; Jenkins built it (and deployed it).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DirectPushFact {
    pub service: String,
    pub sha: String,
    pub message: String,
    /// Builds of `dominion/catalog-service` that built this SHA, ascending.
    pub build_numbers: Vec<u32>,
}

/// `fraud-scoring`: the newest green build's artifact is not in Nexus
/// although its "Publish to Nexus" stage succeeded.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MissingArtifactFact {
    pub service: String,
    pub build_number: u32,
    pub version: String,
    pub sha: String,
}

/// `ledger-service`: an open pull request whose verdict is "changes
/// requested" (erin APPROVED, carol CHANGES_REQUESTED, erin COMMENTED
/// later; alice still requested).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChangesRequestedFact {
    pub service: String,
    pub number: u64,
    pub approved_by: String,
    pub changes_requested_by: String,
}

/// `notification-worker`: its webhook's deliveries fail since
/// `failing_since` (502, 504 or timed out).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FailingHookFact {
    pub service: String,
    pub hook_id: u64,
    /// Story-clock epoch milliseconds.
    pub failing_since_ms: i64,
}

/// `checkout-web`: the newest load-tested build's p95 is over the threshold
/// while its Jenkins stage is green.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoadTestFact {
    pub service: String,
    pub build_number: u32,
    pub version: String,
    pub p95_ms: f64,
    pub error_pct: f64,
    pub threshold_ms: f64,
}

/// The candidate blocked by a HIGH finding that its Tomcat base brought in
/// (ECR basic scan of the newest image of an ECR-hosted Tomcat service).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HighFindingFact {
    pub service: String,
    pub version: String,
    pub build_number: u32,
    pub digest: String,
    /// `ecr` or `oci`.
    pub registry: String,
    pub cve: String,
    pub package: String,
    pub installed_version: String,
    pub fixed_version: String,
    pub severity: String,
    /// The base image the package comes from.
    pub base: String,
    /// Images scanned from this story-clock time on (epoch ms) have the finding.
    pub known_since_ms: i64,
}

/// A base image on the build host against what the registry serves for the tag.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BaseImageFact {
    /// `127.0.0.1:PORT/jboss/wildfly:26.1.3.Final`.
    pub reference: String,
    /// The build host's RepoDigest for it.
    pub local_digest: String,
    /// What the registry serves for the tag now.
    pub remote_digest: String,
    /// The services built on it.
    pub used_by: Vec<String>,
}

/// A candidate green on every link, its image scanned clean, not yet in
/// staging: ready to be promoted to staging, then production.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GreenCandidateFact {
    pub service: String,
    pub version: String,
    pub build_number: u32,
    pub sha: String,
    /// The image's digest (its version tag's).
    pub digest: String,
    /// `oci` or `ecr`.
    pub registry: String,
    pub repository: String,
    /// The promotion strategy of the demo config: `retag` or `both`.
    pub promotion: String,
}

/// The versions a service's `staging` and `prod` tags point at when the estate starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImageEnvFact {
    pub service: String,
    pub registry: String,
    pub repository: String,
    pub staging: String,
    pub production: String,
}

/// Where a service's image lives, what it builds on and how it is scanned.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImageHostingFact {
    pub service: String,
    /// `oci` or `ecr`.
    pub registry: String,
    pub repository: String,
    /// The base image reference (as the demo config names it).
    pub base: String,
    /// `none`, `basic` or `enhanced` (ECR).
    pub scanning: String,
    /// The report its builds archive: `trivy`, `grype` or empty.
    pub report: String,
    pub promotion: String,
}

/// A failed build and what its console shows at the failure, so tests and
/// the demo can find each kind of failing console without knowing numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FailedConsoleFact {
    /// `unit-tests`, `quality-gate`, `image-scan`, `docker-build`,
    /// `ansible` or `kubectl`.
    pub kind: String,
    pub job: String,
    pub build_number: u32,
    /// The failed stage.
    pub stage: String,
    /// The failed stage's flow node id (its node log is `execution/node/ID/wfapi/log`).
    pub stage_node_id: u32,
    /// The console carries ANSI colours (AnsiColor plugin).
    pub ansi: bool,
    /// The console carries hidden console notes (`ESC[8mha:…ESC[0m`).
    pub console_notes: bool,
}

/// Everything at once; see each part.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StoryFacts {
    pub coverage: CoverageFact,
    pub direct_push: DirectPushFact,
    pub missing_artifact: MissingArtifactFact,
    pub changes_requested: ChangesRequestedFact,
    pub failing_hook: FailingHookFact,
    pub slow_load_test: LoadTestFact,
    /// The repository whose `master` is not protected.
    pub unprotected_repo: String,
    /// checkout-web's open pull request built by `dominion/checkout-web-pr/PR-41`.
    pub jenkins_pull_request: u64,
    /// A candidate blocked by a HIGH finding of the Tomcat base image.
    pub tomcat_high_finding: HighFindingFact,
    /// The WildFly base: the build host's copy is older than the registry's tag.
    pub stale_base: BaseImageFact,
    /// The Tomcat base: the build host's copy is what the registry serves.
    pub fresh_base: BaseImageFact,
    /// A fully green candidate on the OCI registry (promotion `retag`).
    pub green_candidate: GreenCandidateFact,
    /// A fully green candidate on ECR (promotion `both`: retag, then the deploy job).
    pub green_ecr_candidate: GreenCandidateFact,
    /// Each service's `staging` / `prod` tags at start.
    pub image_envs: Vec<ImageEnvFact>,
    /// Each service's registry, repository, base and scanning.
    pub image_hosting: Vec<ImageHostingFact>,
    /// Every failed build at start, with the kind of failure its console shows.
    pub failed_consoles: Vec<FailedConsoleFact>,
}

pub(crate) fn stage_ok(b: &Build, stage: &str) -> bool {
    b.stages
        .iter()
        .any(|s| s.name == stage && s.status == NodeStatus::Success && s.end.is_some())
}

fn builds<'a>(w: &'a World, service: &str) -> &'a [Build] {
    w.jobs
        .get(&format!("{FOLDER}/{service}"))
        .map(|j| j.builds.as_slice())
        .unwrap_or_default()
}

impl StoryFacts {
    pub(crate) fn compute(w: &World) -> StoryFacts {
        let mut f = StoryFacts::default();

        let svc = "payments-api";
        let b = builds(w, svc).iter().rev().find(|b| stage_ok(b, "SonarQube analysis"));
        f.coverage = CoverageFact {
            service: svc.into(),
            project_key: format!("com.dominion:{svc}"),
            build_number: b.map_or(0, |b| b.number),
            version: b.map(|b| b.ctx.version.clone()).unwrap_or_default(),
            sha: b.map(|b| b.ctx.sha.clone()).unwrap_or_default(),
            new_coverage: PAYMENTS_NEW_COVERAGE,
            sonar_threshold: 80.0,
        };

        let svc = forge::DIRECT_PUSH;
        let sha = w.forge.direct_push_sha.clone();
        f.direct_push = DirectPushFact {
            service: svc.into(),
            message: w
                .forge
                .repo(svc)
                .and_then(|r| r.commit(&sha))
                .map(|(_, c)| c.message.clone())
                .unwrap_or_default(),
            build_numbers: builds(w, svc)
                .iter()
                .filter(|b| b.ctx.sha == sha)
                .map(|b| b.number)
                .collect(),
            sha,
        };

        let svc = "fraud-scoring";
        let all = builds(w, svc);
        let b = all
            .iter()
            .rev()
            .find(|b| b.result == Some(BuildResult::Success) && stage_ok(b, "Publish to Nexus"))
            .or_else(|| all.iter().rev().find(|b| stage_ok(b, "Publish to Nexus")));
        f.missing_artifact = MissingArtifactFact {
            service: svc.into(),
            build_number: b.map_or(0, |b| b.number),
            version: b.map(|b| b.ctx.version.clone()).unwrap_or_default(),
            sha: b.map(|b| b.ctx.sha.clone()).unwrap_or_default(),
        };

        let svc = forge::CHANGES_REQUESTED;
        let pr = w.forge.repo(svc).and_then(|r| {
            r.pulls
                .iter()
                .find(|p| p.merged_at.is_none() && p.reviews.iter().any(|r| r.state == ReviewState::ChangesRequested))
        });
        let by = |state: ReviewState| {
            pr.and_then(|p| p.reviews.iter().find(|r| r.state == state))
                .map(|r| r.login.clone())
                .unwrap_or_default()
        };
        f.changes_requested = ChangesRequestedFact {
            service: svc.into(),
            number: pr.map_or(0, |p| p.number),
            approved_by: by(ReviewState::Approved),
            changes_requested_by: by(ReviewState::ChangesRequested),
        };

        let svc = forge::FAILING_HOOK;
        let repo = w.forge.repo(svc);
        f.failing_hook = FailingHookFact {
            service: svc.into(),
            hook_id: repo.map_or(0, |r| r.hook_id),
            failing_since_ms: repo.and_then(|r| r.hook_failing_since).unwrap_or_default(),
        };

        let svc = "checkout-web";
        let b = builds(w, svc).iter().rev().find(|b| stage_ok(b, "Load tests"));
        let report = b.map(|b| loadtest::report(w.seed, svc, &b.ctx.version));
        f.slow_load_test = LoadTestFact {
            service: svc.into(),
            build_number: b.map_or(0, |b| b.number),
            version: b.map(|b| b.ctx.version.clone()).unwrap_or_default(),
            p95_ms: report.as_ref().map_or(0.0, |r| r.total.p95),
            error_pct: report
                .as_ref()
                .map_or(0.0, |r| (r.total.error_pct() * 100.0).round() / 100.0),
            threshold_ms: loadtest::P95_THRESHOLD_MS,
        };

        f.unprotected_repo = forge::UNPROTECTED.into();
        f.jenkins_pull_request = forge::JENKINS_PR;

        let img = images::compute_facts(w, &f);
        f.tomcat_high_finding = img.high;
        f.stale_base = img.stale_base;
        f.fresh_base = img.fresh_base;
        f.green_candidate = img.green;
        f.green_ecr_candidate = img.green_ecr;
        f.image_envs = img.envs;
        f.image_hosting = img.hosting;
        f.failed_consoles = failed_consoles(w);
        f
    }
}

fn failed_consoles(w: &World) -> Vec<FailedConsoleFact> {
    let mut out = Vec::new();
    for job in w.jobs.values() {
        for b in job.builds.iter().filter(|b| b.result == Some(BuildResult::Failure)) {
            let Some(stage) = b.stages.iter().find(|s| s.status == NodeStatus::Failed) else {
                continue;
            };
            let kind = b
                .plan
                .iter()
                .find(|p| p.name == stage.name)
                .and_then(|p| match p.outcome {
                    Outcome::Fail(k) => Some(k),
                    _ => None,
                });
            let kind = match kind {
                Some(FailKind::UnitTests) => "unit-tests",
                Some(FailKind::QualityGate) => "quality-gate",
                Some(FailKind::ImageScan) => "image-scan",
                Some(FailKind::DockerBuild) => "docker-build",
                Some(FailKind::Ansible) => "ansible",
                Some(FailKind::Rollout) => "kubectl",
                Some(FailKind::Script) | None => "script",
            };
            out.push(FailedConsoleFact {
                kind: kind.into(),
                job: job.full_name.clone(),
                build_number: b.number,
                stage: stage.name.clone(),
                stage_node_id: stage.id,
                ansi: b.ctx.ansi,
                console_notes: b.ctx.notes,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values the `sim` module docs quote for the default seed; the
    /// start time of day must not change them.
    #[test]
    fn default_seed_facts() {
        for now in [1_764_000_000_000, 1_764_000_000_000 + 13 * 3_600_000 + 1_234] {
            let w = World::new(7, "http://127.0.0.1:1".into(), false, now);
            let f = &w.facts;
            assert_eq!((f.coverage.build_number, f.coverage.version.as_str()), (104, "1.4.104"));
            assert_eq!(f.coverage.sha, "0105aab23805a0132a49872afc72156867c4f680");
            assert_eq!(f.coverage.new_coverage, 84.2);
            assert_eq!(f.direct_push.sha, "695d4f4f2e0d5bba3ffc27ebb892edde91d4fca4");
            assert_eq!(f.direct_push.build_numbers, [136, 137, 138]);
            assert_eq!(
                (f.missing_artifact.build_number, f.missing_artifact.version.as_str()),
                (74, "0.8.74")
            );
            assert_eq!(f.changes_requested.number, 212);
            assert_eq!(f.failing_hook.hook_id, 453_873_197);
            assert_eq!(f.failing_hook.failing_since_ms, now - 95 * 60_000);
            assert_eq!(
                (f.slow_load_test.build_number, f.slow_load_test.version.as_str()),
                (98, "2.12.98")
            );
            assert_eq!((f.slow_load_test.p95_ms, f.slow_load_test.error_pct), (1247.0, 0.4));
            assert_eq!(f.unprotected_repo, "notification-worker");

            let h = &f.tomcat_high_finding;
            assert_eq!(
                (h.service.as_str(), h.version.as_str(), h.cve.as_str()),
                ("ledger-service", "3.1.79", "CVE-2023-0286")
            );
            assert_eq!(
                (h.package.as_str(), h.severity.as_str(), h.registry.as_str()),
                ("libssl3", "HIGH", "ecr")
            );
            let g = &f.green_candidate;
            assert_eq!(
                (g.service.as_str(), g.version.as_str(), g.registry.as_str()),
                ("notification-worker", "1.9.180", "oci")
            );
            assert_eq!(g.sha, "7fdf0664a881496fad2e231a38fb222b737a6838");
            let g = &f.green_ecr_candidate;
            assert_eq!(
                (g.service.as_str(), g.version.as_str(), g.promotion.as_str()),
                ("fraud-scoring", "0.8.72", "both")
            );
            // Base images are external: the same bytes whatever the seed or the start.
            assert_eq!(f.stale_base.reference, "127.0.0.1:1/jboss/wildfly:26.1.3.Final");
            assert_eq!(
                f.stale_base.local_digest,
                "sha256:b24dd05b7c70e3ac66875c50c98d9a5855d5d25e062943c1092a665e4891f705"
            );
            assert_eq!(
                f.stale_base.remote_digest,
                "sha256:65ae98fd461b694446e867cd8dc03b8e60118fc2a00075c87b9c47a07bdf020e"
            );
            let nw = f
                .image_envs
                .iter()
                .find(|e| e.service == "notification-worker")
                .unwrap();
            assert_eq!((nw.staging.as_str(), nw.production.as_str()), ("1.9.178", "1.9.177"));

            let failed: Vec<(&str, &str, u32)> = f
                .failed_consoles
                .iter()
                .map(|c| (c.kind.as_str(), c.job.as_str(), c.build_number))
                .collect();
            for want in [
                ("unit-tests", "dominion/ledger-service", 78),
                ("unit-tests", "dominion/ledger-service", 80),
                ("unit-tests", "dominion/ledger-service", 81),
                ("quality-gate", "dominion/checkout-web-pr/PR-41", 2),
                ("docker-build", "dominion/payments-api", 101),
                ("docker-build", "dominion/catalog-service", 135),
                ("ansible", "dominion/notification-worker-deploy", 176),
                ("kubectl", "dominion/catalog-service-deploy", 206),
            ] {
                assert!(failed.contains(&want), "{want:?} in {failed:?}");
            }
        }
    }

    /// The Jenkins console's pushed digest is the registry's: the sha256 of
    /// the manifest the image module builds for that build.
    #[test]
    fn pushed_digests_are_the_images() {
        let w = World::new(7, "http://127.0.0.1:1".into(), false, 1_764_000_000_000);
        let mut n = 0;
        for spec in &images::IMAGE_SERVICES {
            for b in builds(&w, spec.service) {
                if images::pushed_at(b, w.now).is_some() {
                    let img = images::build_image_of(w.seed, b).unwrap();
                    assert_eq!(b.ctx.digest, img.digest, "{} #{}", spec.service, b.number);
                    n += 1;
                }
            }
        }
        assert!(n > 10);
    }
}
