//! The story facts that tests and the demo rely on, fixed when the estate
//! starts (see the `sim` module docs). They are read from the generated
//! history, so they hold for any seed; the values quoted in the docs are
//! those of the default seed.

use serde::Serialize;

use super::forge::{self, ReviewState};
use super::jenkins::{Build, BuildResult, NodeStatus};
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
        f
    }
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
        }
    }
}
