//! The simulated estate and its script: which jobs exist, the history they
//! start with, and what happens by itself as the story clock moves (new
//! pushes, queued builds starting, deploy jobs triggered by pipelines, the
//! nightly backup, crumb expiry).
//!
//! Everything is derived from the seed, so a given seed always shows the same
//! estate (timestamps are relative to the start time).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::bigconsole::BigLog;
use super::console::{INPUT_ID, ScriptCtx};
use super::crumb::Crumbs;
use super::facts::StoryFacts;
use super::forge::Forge;
use super::ids;
use super::jenkins::{
    Build, Cause, Commit, Effect, FailKind, Job, JobKind, Ms, NewBuild, Outcome, ParamDef, ParamKind, ParamValue,
    PlannedStage, Template, TestCounts,
};

pub(crate) const SEC: Ms = 1_000;
pub(crate) const MIN: Ms = 60 * SEC;
pub(crate) const HOUR: Ms = 60 * MIN;
pub(crate) const DAY: Ms = 24 * HOUR;

/// Jenkins' default quiet period is 5 s; the brief asks for ~3 s.
pub(crate) const QUIET_PERIOD: Ms = 3 * SEC;
/// How long LeftItems stay visible at `/queue/item/N/` (≈5 min in Jenkins).
const LEFT_ITEM_TTL: Ms = 5 * MIN;
/// Crumbs are invalidated this often (simulated time).
const CRUMB_TTL: Ms = 5 * MIN;

pub(crate) const FOLDER: &str = "dominion";
pub(crate) const MULTIBRANCH: &str = "dominion/checkout-web-pr";
pub(crate) const BACKUP_JOB: &str = "db-nightly-backup";
const LEGACY_JOB: &str = "dominion/legacy-reporting";

/// A service of the estate: its pipeline job, deploy job and code.
pub(crate) struct ServiceSpec {
    pub name: &'static str,
    pub major: u32,
    pub minor: u32,
    unit_tests: u32,
    skipped: u32,
    pub description: &'static str,
}

pub(crate) const SERVICES: [ServiceSpec; 6] = [
    ServiceSpec {
        name: "payments-api",
        major: 1,
        minor: 4,
        unit_tests: 538,
        skipped: 2,
        description: "Card and wallet payments API (Spring Boot).",
    },
    ServiceSpec {
        name: "ledger-service",
        major: 3,
        minor: 1,
        unit_tests: 412,
        skipped: 3,
        description: "Double-entry ledger and balances.",
    },
    ServiceSpec {
        name: "checkout-web",
        major: 2,
        minor: 12,
        unit_tests: 296,
        skipped: 0,
        description: "Checkout front end (server-side rendered).",
    },
    ServiceSpec {
        name: "catalog-service",
        major: 5,
        minor: 0,
        unit_tests: 351,
        skipped: 1,
        description: "Product catalogue and search facets.",
    },
    ServiceSpec {
        name: "notification-worker",
        major: 1,
        minor: 9,
        unit_tests: 187,
        skipped: 0,
        description: "E-mail and SMS notifications from order events.",
    },
    ServiceSpec {
        name: "fraud-scoring",
        major: 0,
        minor: 8,
        unit_tests: 264,
        skipped: 4,
        description: "Real-time fraud scoring of payments.",
    },
];

/// The service pipeline, in order, with (min, max) duration in seconds.
pub(crate) const PIPELINE: [(&str, i64, i64); 15] = [
    ("Checkout", 4, 9),
    ("Build & unit tests", 35, 60),
    ("SonarQube analysis", 15, 30),
    ("Quality gate", 5, 15),
    ("Publish to Nexus", 10, 20),
    ("Functional tests", 25, 45),
    ("Penetration tests", 15, 30),
    ("Regression tests", 20, 40),
    ("Load tests", 30, 50),
    ("Docker build", 15, 30),
    ("Image scan", 10, 25),
    ("Push image", 5, 15),
    ("Deploy to staging", 15, 30),
    ("Approve production", 0, 0),
    ("Deploy to production", 15, 30),
];

const DEPLOY_STAGES: [(&str, i64, i64); 4] = [
    ("Validate parameters", 2, 4),
    ("Pull image", 4, 8),
    ("Helm upgrade", 15, 35),
    ("Smoke tests", 6, 12),
];

pub(crate) const PEOPLE: [(&str, &str); 6] = [
    ("alice", "Alice Moreau"),
    ("bob", "Bob Okafor"),
    ("carol", "Carol Lindqvist"),
    ("dmitri", "Dmitri Petrov"),
    ("erin", "Erin Walsh"),
    ("farah", "Farah Haddad"),
];

pub(crate) const COMMIT_MESSAGES: [&str; 16] = [
    "Bump spring-boot to 3.3.5",
    "Add idempotency key check to refund endpoint",
    "Fix flaky clock in settlement test",
    "Retry upstream timeouts with jitter",
    "Expose p95 latency as a Micrometer timer",
    "Tighten CORS for the checkout origin",
    "Cache facet counts for 60 seconds",
    "Handle missing currency in legacy orders",
    "Upgrade base image to temurin 21.0.5",
    "Log correlation id on every request",
    "Remove deprecated v1 webhook",
    "Paginate the nightly export",
    "Guard against negative amounts",
    "Make Kafka consumer group configurable",
    "Reuse testcontainers between integration suites",
    "Add feature flag for the new scoring model",
];

const CHANGED_PATHS: [&str; 5] = [
    "pom.xml",
    "Dockerfile",
    "src/main/resources/application.yaml",
    "src/main/java/com/dominion/Application.java",
    "src/test/java/com/dominion/ApplicationTest.java",
];

/// How a planned build turns out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// Green all the way to "Approve production" (then waits).
    Release,
    FailUnitTests,
    FailQualityGate,
    FailImageScan,
    UnstableRegression,
    /// A `RUN` of the Dockerfile fails in "Docker build".
    FailDockerBuild,
    /// Deploy jobs: the playbook's "Apply deployment" task fails.
    FailAnsible,
    /// Deploy jobs: `kubectl rollout status` exceeds the progress deadline.
    FailRollout,
}

/// Deploy jobs that run the `k8s_deploy` Ansible role instead of Helm.
const ANSIBLE_DEPLOYS: [&str; 1] = ["notification-worker"];

/// History builds that failed their unit tests fail in "Docker build"
/// instead for these services (the stages before it take the same time).
const DOCKER_FAILURES: [&str; 2] = ["payments-api", "catalog-service"];

/// Jobs whose Jenkinsfile wraps the build in `ansiColor('xterm')`, and jobs
/// whose console shows Jenkins' hidden console notes.
const ANSI_JOBS: [&str; 2] = ["dominion/ledger-service", "dominion/notification-worker-deploy"];
const NOTE_JOBS: [&str; 3] = [
    "dominion/ledger-service",
    "dominion/fraud-scoring",
    "dominion/catalog-service-deploy",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum QueueState {
    Waiting,
    Left { number: u32, at: Ms },
    Cancelled { at: Ms },
}

#[derive(Clone, Debug)]
pub(crate) struct QueueItem {
    pub id: u64,
    pub job: String,
    pub params: Vec<(String, ParamValue)>,
    pub causes: Vec<Cause>,
    pub since: Ms,
    pub start_at: Ms,
    pub state: QueueState,
    scenario: Scenario,
    upstream_sha: Option<String>,
}

/// Deploy job, its parameters and the commit it deploys.
type DeployRequest = (String, Vec<(String, ParamValue)>, String);

/// Why a build could not be queued; the server maps these to statuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TriggerError {
    NotFound,
    Disabled,
    NeedsParameters,
    NotParameterised,
    BadParameter(String),
}

/// The whole simulated Jenkins.
pub(crate) struct World {
    pub now: Ms,
    pub seed: u64,
    pub base: String,
    pub require_crumb: bool,
    pub jobs: BTreeMap<String, Job>,
    pub queue: BTreeMap<u64, QueueItem>,
    pub crumbs: Crumbs,
    next_queue_id: u64,
    rng: fastrand::Rng,
    next_trigger: Ms,
    next_backup: Ms,
    last_crumb_reset: Ms,
    /// Head commit (sha, message) of each job's branch.
    heads: HashMap<String, (String, String)>,
    /// The GitHub side of the story (repositories, pull requests, hooks).
    pub forge: Forge,
    /// Story facts fixed at start (which build carries which anomaly).
    pub facts: StoryFacts,
    /// False while the history is generated; then pushes go through the forge.
    live: bool,
    /// Size of the big console's generated region (0: none).
    big_console_bytes: u64,
    /// The job whose next build gets the big console.
    big_pending: Option<String>,
    /// The big console's build, once created.
    pub big_console: Option<(String, u32)>,
}

pub(crate) fn full_name_of(login: &str) -> String {
    PEOPLE
        .iter()
        .find(|(l, _)| *l == login)
        .map_or_else(|| login.to_string(), |(_, n)| n.to_string())
}

pub(crate) fn spec_of(service: &str) -> Option<&'static ServiceSpec> {
    SERVICES.iter().find(|s| s.name == service)
}

fn deploy_params() -> Vec<ParamDef> {
    vec![
        ParamDef {
            name: "VERSION".into(),
            description: "Version of the service to deploy (as published to Nexus).".into(),
            kind: ParamKind::Text,
            default: String::new(),
        },
        ParamDef {
            name: "ENVIRONMENT".into(),
            description: "Target environment.".into(),
            kind: ParamKind::Choice(vec!["staging".into(), "production".into()]),
            default: "staging".into(),
        },
        ParamDef {
            name: "DIGEST".into(),
            description: "Image digest (sha256:…) that must match the pushed tag.".into(),
            kind: ParamKind::Text,
            default: String::new(),
        },
        ParamDef {
            name: "DRY_RUN".into(),
            description: "Render the Helm release without applying it.".into(),
            kind: ParamKind::Boolean,
            default: "false".into(),
        },
    ]
}

impl World {
    /// Builds the estate as it stands at `now`, history included.
    #[cfg(test)]
    pub(crate) fn new(seed: u64, base: String, require_crumb: bool, now: Ms) -> World {
        World::with_big_console(seed, base, require_crumb, now, 0)
    }

    /// As [`World::new`], and fraud-scoring's newest build logs a generated
    /// region of `big_console_bytes` (0: none) in its "Regression tests".
    pub(crate) fn with_big_console(
        seed: u64,
        base: String,
        require_crumb: bool,
        now: Ms,
        big_console_bytes: u64,
    ) -> World {
        let mut w = World {
            now,
            seed,
            base,
            require_crumb,
            jobs: BTreeMap::new(),
            queue: BTreeMap::new(),
            crumbs: Crumbs::new(seed),
            next_queue_id: 1,
            rng: fastrand::Rng::with_seed(seed),
            next_trigger: now + 90 * SEC,
            next_backup: next_backup_after(now),
            last_crumb_reset: now,
            heads: HashMap::new(),
            forge: Forge::default(),
            facts: StoryFacts::default(),
            live: false,
            big_console_bytes,
            big_pending: None,
            big_console: None,
        };
        w.create_jobs();
        w.create_history();
        w.forge = Forge::from_world(&w);
        w.facts = StoryFacts::compute(&w);
        w.live = true;
        w
    }

    fn add_job(&mut self, job: Job) {
        self.jobs.insert(job.full_name.clone(), job);
    }

    fn create_jobs(&mut self) {
        let mut folder = Job::new(FOLDER, JobKind::Folder, Template::None);
        folder.description = "Services of the Dominion estate.".into();
        self.add_job(folder);
        for spec in &SERVICES {
            let repo = format!("https://github.com/dominion/{}.git", spec.name);
            let mut build = Job::new(&format!("{FOLDER}/{}", spec.name), JobKind::Pipeline, Template::Service);
            build.description = spec.description.into();
            build.service = spec.name.into();
            build.repo = Some(repo.clone());
            build.next_build_number = 40 + self.rng.u32(0..140);
            self.add_job(build);
            let mut deploy = Job::new(
                &format!("{FOLDER}/{}-deploy", spec.name),
                JobKind::Pipeline,
                Template::Deploy,
            );
            deploy.description = format!("Deploys {} to an environment with Helm.", spec.name);
            deploy.service = spec.name.into();
            deploy.repo = Some(repo);
            deploy.params = deploy_params();
            deploy.next_build_number = 1;
            self.add_job(deploy);
        }
        let mut mb = Job::new(MULTIBRANCH, JobKind::MultiBranch, Template::None);
        mb.description = "Pull request builds of checkout-web.".into();
        self.add_job(mb);
        for branch in ["master", "PR-41"] {
            let mut j = Job::new(&format!("{MULTIBRANCH}/{branch}"), JobKind::Pipeline, Template::Branch);
            j.service = "checkout-web".into();
            j.repo = Some("https://github.com/dominion/checkout-web.git".into());
            j.next_build_number = 1;
            self.add_job(j);
        }
        let mut legacy = Job::new(LEGACY_JOB, JobKind::Pipeline, Template::Service);
        legacy.description = "Retired; replaced by the ledger export.".into();
        legacy.service = "legacy-reporting".into();
        legacy.repo = Some("https://github.com/dominion/legacy-reporting.git".into());
        legacy.next_build_number = 212;
        self.add_job(legacy);
        let mut backup = Job::new(BACKUP_JOB, JobKind::Freestyle, Template::Backup);
        backup.description = "Nightly pg_dump of production databases to S3.".into();
        backup.service = BACKUP_JOB.into();
        backup.next_build_number = 300 + self.rng.u32(0..200);
        self.add_job(backup);
    }

    /// Durations, outcomes and test counts of a new build of `job`.
    fn plan(&mut self, job: &str, scenario: Scenario) -> Vec<PlannedStage> {
        let Some(j) = self.jobs.get(job) else {
            return Vec::new();
        };
        let template = j.template;
        let spec = spec_of(&j.service);
        let stages: Vec<(&str, i64, i64)> = match template {
            Template::Service => PIPELINE.to_vec(),
            Template::Branch => PIPELINE[..4].to_vec(),
            Template::Deploy => DEPLOY_STAGES.to_vec(),
            Template::Backup => vec![("Backup", 240, 360)],
            Template::None => Vec::new(),
        };
        let unit_total = spec.map_or(120, |s| s.unit_tests);
        let unit_skipped = spec.map_or(0, |s| s.skipped);
        let mut plan = Vec::with_capacity(stages.len());
        let ansible = template == Template::Deploy && ANSIBLE_DEPLOYS.contains(&j.service.as_str());
        for (name, lo, hi) in stages {
            // Same durations either way: the story's random sequence does not move.
            let name = if ansible && name == "Helm upgrade" {
                "Ansible deploy"
            } else {
                name
            };
            let secs = if hi > lo { self.rng.i64(lo..=hi) } else { lo };
            let mut outcome = if name == "Approve production" {
                Outcome::Input
            } else {
                Outcome::Success
            };
            let mut tests = None;
            match name {
                "Build & unit tests" => {
                    let failed = if scenario == Scenario::FailUnitTests { 2 } else { 0 };
                    if failed > 0 {
                        outcome = Outcome::Fail(FailKind::UnitTests);
                    }
                    tests = Some(TestCounts {
                        total: unit_total,
                        failed,
                        skipped: unit_skipped,
                    });
                }
                "Quality gate" if scenario == Scenario::FailQualityGate => {
                    outcome = Outcome::Fail(FailKind::QualityGate);
                }
                "Image scan" if scenario == Scenario::FailImageScan => {
                    outcome = Outcome::Fail(FailKind::ImageScan);
                }
                "Docker build" if scenario == Scenario::FailDockerBuild => {
                    outcome = Outcome::Fail(FailKind::DockerBuild);
                }
                "Ansible deploy" if scenario == Scenario::FailAnsible => {
                    outcome = Outcome::Fail(FailKind::Ansible);
                }
                "Helm upgrade" if scenario == Scenario::FailRollout => {
                    outcome = Outcome::Fail(FailKind::Rollout);
                }
                "Functional tests" => {
                    tests = Some(TestCounts {
                        total: 40 + self.rng.u32(0..40),
                        failed: 0,
                        skipped: 0,
                    });
                }
                "Regression tests" => {
                    let failed = if scenario == Scenario::UnstableRegression { 3 } else { 0 };
                    if failed > 0 {
                        outcome = Outcome::Unstable;
                    }
                    tests = Some(TestCounts {
                        total: 120 + self.rng.u32(0..80),
                        failed,
                        skipped: self.rng.u32(0..3),
                    });
                }
                _ => {}
            }
            plan.push(PlannedStage {
                name: name.to_string(),
                duration: secs * SEC,
                outcome,
                tests,
            });
        }
        plan
    }

    fn pick_person(&mut self) -> &'static str {
        PEOPLE[self.rng.usize(0..PEOPLE.len())].0
    }

    /// New commits for a build started by a push or SCM change; moves the head.
    fn new_commits(&mut self, job: &str, at: Ms) -> Vec<Commit> {
        let n = self.rng.usize(1..=3);
        let mut commits = Vec::with_capacity(n);
        for i in 0..n {
            let login = self.pick_person();
            let msg = COMMIT_MESSAGES[self.rng.usize(0..COMMIT_MESSAGES.len())];
            let salt = self.rng.u64(..).to_string();
            let id = ids::sha(self.seed, &[job, &salt]);
            let mut paths = vec![CHANGED_PATHS[self.rng.usize(0..CHANGED_PATHS.len())].to_string()];
            if self.rng.bool() {
                paths.push(CHANGED_PATHS[self.rng.usize(0..CHANGED_PATHS.len())].to_string());
                paths.dedup();
            }
            commits.push(Commit {
                id,
                msg: msg.to_string(),
                author_login: login.to_string(),
                author_name: full_name_of(login),
                timestamp: at - (n - i) as Ms * self.rng.i64(2..40) * MIN,
                paths,
            });
        }
        // Commits of one push are in history order: oldest first.
        let mut times: Vec<Ms> = commits.iter().map(|c| c.timestamp).collect();
        times.sort_unstable();
        for (c, t) in commits.iter_mut().zip(times) {
            c.timestamp = t;
        }
        if self.live
            && let Some(service) = Forge::service_of_job(job)
        {
            // Merged on GitHub seconds before the push reached Jenkins.
            self.forge.push_live(service, &mut commits, at - QUIET_PERIOD);
        }
        if let Some(last) = commits.last() {
            self.heads.insert(job.to_string(), (last.id.clone(), last.msg.clone()));
        }
        commits
    }

    fn head(&mut self, job: &str) -> (String, String) {
        if let Some(h) = self.heads.get(job) {
            return h.clone();
        }
        let h = (ids::sha(self.seed, &[job, "initial"]), "Initial import".to_string());
        self.heads.insert(job.to_string(), h.clone());
        h
    }

    /// Creates build number N of `job` started at `start`. Returns the
    /// number and what the build asked for on starting.
    #[allow(clippy::too_many_arguments)]
    fn create_build(
        &mut self,
        job: &str,
        queue_id: u64,
        queued_at: Ms,
        start: Ms,
        causes: Vec<Cause>,
        params: Vec<(String, ParamValue)>,
        scenario: Scenario,
        upstream_sha: Option<String>,
        align: Option<(&str, Ms)>,
    ) -> Option<(u32, Vec<Effect>)> {
        let (template, service, repo, number) = {
            let j = self.jobs.get_mut(job)?;
            if j.kind.is_folder() {
                return None;
            }
            let n = j.next_build_number;
            j.next_build_number += 1;
            (j.template, j.service.clone(), j.repo.clone(), n)
        };
        let mut plan = self.plan(job, scenario);
        // A deploy to production asks for approval, unless the pipeline that
        // triggered it already had it ("Approve production").
        let upstream = causes.iter().any(|c| matches!(c, Cause::Upstream { .. }));
        let to_production = params
            .iter()
            .any(|(n, v)| n == "ENVIRONMENT" && v.as_text() == "production");
        if template == Template::Deploy && to_production && !upstream {
            plan.insert(
                1.min(plan.len()),
                PlannedStage {
                    name: "Approve production".to_string(),
                    duration: 0,
                    outcome: Outcome::Input,
                    tests: None,
                },
            );
        }
        // `align` places the build so that `start` falls that far into a stage.
        let (start, queued_at) = match align {
            Some((stage, into)) => {
                let offset: Ms = plan.iter().take_while(|p| p.name != stage).map(|p| p.duration).sum();
                let real = start - offset - into;
                (real, queued_at - (start - real))
            }
            None => (start, queued_at),
        };
        let big = self.big_console_for(job, number, start, &mut plan);
        let pushes = causes
            .iter()
            .any(|c| matches!(c, Cause::GitHubPush { .. } | Cause::Scm | Cause::BranchEvent { .. }));
        let commits = if pushes && template != Template::Deploy && template != Template::Backup {
            self.new_commits(job, start)
        } else {
            Vec::new()
        };
        let param = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_text())
                .filter(|v| !v.is_empty())
        };
        let (mut sha, mut commit_msg) = self.head(job);
        if template == Template::Deploy {
            // A deploy checks out the commit that produced the version it deploys.
            let service_job = format!("{FOLDER}/{service}");
            let wanted = param("VERSION");
            let source = self.jobs.get(&service_job).and_then(|j| {
                j.builds
                    .iter()
                    .rev()
                    .find(|b| Some(&b.ctx.version) == wanted.as_ref())
                    .or(j.builds.last())
                    .map(|b| (b.ctx.sha.clone(), b.ctx.commit_msg.clone()))
            });
            if let Some((s, m)) = source {
                sha = s;
                commit_msg = m;
            }
        }
        if let Some(up) = upstream_sha {
            sha = up;
        }
        let spec = spec_of(&service);
        let version = match template {
            Template::Deploy => param("VERSION").unwrap_or_else(|| "latest".to_string()),
            Template::Branch => format!("{}-SNAPSHOT", job.rsplit('/').next().unwrap_or("branch")),
            Template::Backup => format!("{number}"),
            _ => spec.map_or_else(
                || format!("0.{number}.0"),
                |s| format!("{}.{}.{number}", s.major, s.minor),
            ),
        };
        // A service build's image digest is the real sha256 of the manifest it will push.
        let image = (template == Template::Service)
            .then(|| {
                let created = super::images::image_created(start, &plan);
                super::images::service_image(self.seed, &service, &version, &sha, created)
            })
            .flatten();
        let digest = param("DIGEST")
            .or_else(|| image.map(|i| i.digest))
            .unwrap_or_else(|| ids::digest(self.seed, &[&service, &version]));
        let branch = if template == Template::Branch {
            job.rsplit('/').next().unwrap_or("master").to_string()
        } else {
            "master".to_string()
        };
        let agent = if template == Template::Backup {
            "backup-agent-01".to_string()
        } else {
            format!("agent-linux-0{}", self.rng.u32(1..=4))
        };
        let ctx = ScriptCtx {
            service: service.clone(),
            job: job.to_string(),
            version,
            sha,
            commit_msg,
            branch: branch.clone(),
            repo: repo.unwrap_or_default(),
            digest,
            environment: param("ENVIRONMENT"),
            agent,
            seed: self.seed,
            ansi: ANSI_JOBS.contains(&job),
            notes: NOTE_JOBS.contains(&job),
            big,
        };
        let lib_sha = ids::sha(self.seed, &["jenkins-shared-library", &(start / (3 * DAY)).to_string()]);
        let (build, effects) = Build::start(NewBuild {
            number,
            queue_id,
            queued_at,
            start,
            causes,
            params,
            ctx,
            lib_sha,
            branch,
            commits,
            plan,
            freestyle: template == Template::Backup,
        });
        self.jobs.get_mut(job)?.builds.push(build);
        Some((number, effects))
    }

    /// The big console's generator when `job` is the one waiting for it: the
    /// region spans most of the "Regression tests" stage, and the stage's
    /// JUnit counts become the suite's.
    fn big_console_for(&mut self, job: &str, number: u32, start: Ms, plan: &mut [PlannedStage]) -> Option<Arc<BigLog>> {
        if self.big_pending.as_deref() != Some(job) {
            return None;
        }
        self.big_pending = None;
        let mut t = start;
        let stage = plan.iter_mut().find(|p| {
            let found = p.name == "Regression tests";
            if !found {
                t += p.duration;
            }
            found
        })?;
        let big = Arc::new(BigLog::new(
            self.seed,
            self.big_console_bytes,
            t + stage.duration / 20,
            stage.duration * 9 / 10,
        ));
        let (run, skipped) = big.test_counts();
        let failed = big.failing_tests().len() as u32;
        stage.tests = Some(TestCounts {
            total: u32::try_from(run).unwrap_or(u32::MAX),
            failed,
            skipped: u32::try_from(skipped).unwrap_or(u32::MAX),
        });
        self.big_console = Some((job.to_string(), number));
        Some(big)
    }

    /// Runs a historical build from `start` to `until`, approving its input
    /// `approve_after` into the pause and stopping it at `stop_at`, and runs
    /// the deploy builds it triggers along the way.
    #[allow(clippy::too_many_arguments)]
    fn run_history(
        &mut self,
        job: &str,
        start: Ms,
        causes: Vec<Cause>,
        params: Vec<(String, ParamValue)>,
        scenario: Scenario,
        approve_after: Option<Ms>,
        stop: Option<(&str, Ms)>,
        align: Option<(&str, Ms)>,
        until: Ms,
    ) -> Option<u32> {
        let queued_at = start - self.rng.i64(3..12) * SEC;
        let (number, mut effects) =
            self.create_build(job, 0, queued_at, start, causes, params, scenario, None, align)?;
        let stop_at = stop.and_then(|(stage, into)| {
            let b = self.jobs.get(job)?.build(number)?;
            let mut t = b.start;
            for p in &b.plan {
                if p.name == stage {
                    return Some(t + into);
                }
                t += p.duration;
            }
            None
        });
        loop {
            self.history_effects(job, number, std::mem::take(&mut effects), until);
            let approver = self.pick_person();
            let b = self.jobs.get_mut(job)?.build_mut(number)?;
            if let Some(stop_at) = stop_at.filter(|s| *s <= until) {
                effects = b.advance(stop_at);
                if b.building {
                    let user = b
                        .causes
                        .iter()
                        .find_map(|c| match c {
                            Cause::User { id, .. } => Some(id.clone()),
                            _ => None,
                        })
                        .unwrap_or_else(|| approver.to_string());
                    b.stop(stop_at, &user);
                }
                self.history_effects(job, number, std::mem::take(&mut effects), until);
                break;
            }
            effects = b.advance(until);
            if !effects.is_empty() {
                continue;
            }
            let paused_since = b.stages.last().and_then(|s| s.paused_since);
            match (paused_since, approve_after) {
                (Some(since), Some(after)) if since + after <= until => {
                    effects = b.approve(INPUT_ID, since + after, approver).unwrap_or_default();
                }
                _ => break,
            }
        }
        Some(number)
    }

    /// Deploy builds triggered by a historical pipeline run to completion.
    fn history_effects(&mut self, job: &str, number: u32, effects: Vec<Effect>, until: Ms) {
        for fx in effects {
            let Effect::Deploy { environment, at } = fx;
            let Some((project, params, sha)) = self.deploy_request(job, number, &environment) else {
                continue;
            };
            let causes = vec![Cause::Upstream {
                project: job.to_string(),
                build: number,
            }];
            let start = at + QUIET_PERIOD + self.rng.i64(0..3) * SEC;
            if start > until {
                continue;
            }
            let queued_at = at;
            if let Some((n, fx)) = self.create_build(
                &project,
                0,
                queued_at,
                start,
                causes,
                params,
                Scenario::Release,
                Some(sha),
                None,
            ) && let Some(b) = self.jobs.get_mut(&project).and_then(|j| j.build_mut(n))
            {
                let more = b.advance(until);
                debug_assert!(more.is_empty() && fx.is_empty());
            }
        }
    }

    /// The deploy job, parameters and commit a pipeline's deploy stage uses.
    fn deploy_request(&self, job: &str, number: u32, environment: &str) -> Option<DeployRequest> {
        let j = self.jobs.get(job)?;
        let b = j.build(number)?;
        let project = format!("{FOLDER}/{}-deploy", j.service);
        if !self.jobs.contains_key(&project) {
            return None;
        }
        let params = vec![
            ("VERSION".to_string(), ParamValue::Text(b.ctx.version.clone())),
            ("ENVIRONMENT".to_string(), ParamValue::Text(environment.to_string())),
            ("DIGEST".to_string(), ParamValue::Text(b.ctx.digest.clone())),
            ("DRY_RUN".to_string(), ParamValue::Bool(false)),
        ];
        Some((project, params, b.ctx.sha.clone()))
    }

    fn random_cause(&mut self) -> Cause {
        match self.rng.u32(0..20) {
            0..=11 => Cause::GitHubPush {
                login: self.pick_person().to_string(),
            },
            12..=16 => Cause::Scm,
            _ => Cause::Timer,
        }
    }

    /// The estate's starting picture (see the module docs of `sim`).
    fn create_history(&mut self) {
        let now = self.now;
        // Latest build of each service: start time (or the instant `align`
        // places into a stage), cause, scenario, approval delay, stop, align.
        type Latest = (
            Ms,
            Cause,
            Scenario,
            Option<Ms>,
            Option<(&'static str, Ms)>,
            Option<(&'static str, Ms)>,
        );
        let latest: [(&str, Latest); 6] = [
            (
                "payments-api",
                (
                    now,
                    Cause::GitHubPush { login: "alice".into() },
                    Scenario::Release,
                    None,
                    None,
                    Some(("Approve production", 8 * MIN)),
                ),
            ),
            (
                "ledger-service",
                (
                    now - 27 * MIN,
                    Cause::GitHubPush { login: "dmitri".into() },
                    Scenario::FailUnitTests,
                    None,
                    None,
                    None,
                ),
            ),
            (
                "checkout-web",
                (
                    now,
                    Cause::Scm,
                    Scenario::Release,
                    None,
                    None,
                    Some(("Functional tests", 5 * SEC)),
                ),
            ),
            (
                "catalog-service",
                (
                    now - 3 * HOUR,
                    Cause::Timer,
                    Scenario::Release,
                    Some(6 * MIN),
                    None,
                    None,
                ),
            ),
            (
                "notification-worker",
                (
                    now - 50 * MIN,
                    Cause::User {
                        id: "carol".into(),
                        name: full_name_of("carol"),
                    },
                    Scenario::Release,
                    None,
                    Some(("Load tests", 15 * SEC)),
                    None,
                ),
            ),
            (
                "fraud-scoring",
                (
                    now - 95 * MIN,
                    Cause::Upstream {
                        project: format!("{FOLDER}/ledger-service"),
                        build: 0,
                    },
                    Scenario::UnstableRegression,
                    None,
                    None,
                    None,
                ),
            ),
        ];
        for (service, (latest_start, cause, scenario, approve, stop, align)) in latest {
            let job = format!("{FOLDER}/{service}");
            let count = self.rng.usize(3..=6);
            let mut starts = Vec::with_capacity(count);
            // Leave room for an aligned build that started before `now`.
            let mut t = latest_start - if align.is_some() { 30 * MIN } else { 0 };
            for _ in 0..count {
                t -= self.rng.i64(2 * 60..9 * 60) * MIN;
                starts.push(t);
            }
            starts.reverse();
            for start in starts {
                let scenario = match self.rng.u32(0..10) {
                    0 if DOCKER_FAILURES.contains(&service) => Scenario::FailDockerBuild,
                    0 => Scenario::FailUnitTests,
                    1 => Scenario::UnstableRegression,
                    _ => Scenario::Release,
                };
                let cause = self.random_cause();
                let approve = Some(self.rng.i64(3..25) * MIN);
                self.run_history(&job, start, vec![cause], Vec::new(), scenario, approve, None, None, now);
            }
            let cause = match cause {
                // fraud-scoring was triggered by the last green ledger build.
                Cause::Upstream { project, .. } => {
                    let build = self
                        .jobs
                        .get(&project)
                        .and_then(|j| {
                            j.builds
                                .iter()
                                .rev()
                                .find(|b| b.result == Some(super::jenkins::BuildResult::Success))
                                .or(j.builds.last())
                        })
                        .map_or(1, |b| b.number);
                    Cause::Upstream { project, build }
                }
                other => other,
            };
            if service == "fraud-scoring" && self.big_console_bytes > 0 {
                // Its regression suite logs at DEBUG: the big console.
                self.big_pending = Some(job.clone());
            }
            self.run_history(
                &job,
                latest_start,
                vec![cause],
                Vec::new(),
                scenario,
                approve,
                stop,
                align,
                now,
            );
        }

        for (branch, runs) in [
            ("master", vec![Scenario::Release, Scenario::Release, Scenario::Release]),
            ("PR-41", vec![Scenario::FailUnitTests, Scenario::FailQualityGate]),
        ] {
            let job = format!("{MULTIBRANCH}/{branch}");
            let n = runs.len() as Ms;
            for (i, scenario) in runs.into_iter().enumerate() {
                let start = now - (n - i as Ms) * self.rng.i64(70..200) * MIN;
                let description = if branch == "master" {
                    "Push event to branch master".to_string()
                } else {
                    "Pull request #41 updated".to_string()
                };
                self.run_history(
                    &job,
                    start,
                    vec![Cause::BranchEvent { description }],
                    Vec::new(),
                    scenario,
                    None,
                    None,
                    None,
                    now,
                );
            }
        }

        for days_ago in [40, 28, 16, 5] {
            let start = now - days_ago * DAY - self.rng.i64(0..120) * MIN;
            let cause = Cause::User {
                id: "bob".into(),
                name: full_name_of("bob"),
            };
            self.run_history(
                LEGACY_JOB,
                start,
                vec![cause],
                Vec::new(),
                Scenario::FailImageScan,
                None,
                None,
                None,
                now,
            );
        }
        if let Some(j) = self.jobs.get_mut(LEGACY_JOB) {
            j.disabled = true;
        }

        let last_backup = self.next_backup - DAY;
        for night in (0..5).rev() {
            let start = last_backup - night * DAY + self.rng.i64(0..40) * SEC;
            if start < now {
                self.run_history(
                    BACKUP_JOB,
                    start,
                    vec![Cause::Timer],
                    Vec::new(),
                    Scenario::Release,
                    None,
                    None,
                    None,
                    now,
                );
            }
        }

        self.manual_deploys();
        self.renumber();
    }

    /// Two deploys to staging somebody started by hand, which failed: the
    /// Ansible play of notification-worker (a task `fatal:`) and
    /// catalog-service's rollout (progress deadline exceeded). Each sits
    /// between the job's older builds and its newest pair, and draws from its
    /// own generator, so the rest of the story is what it was without them.
    fn manual_deploys(&mut self) {
        let now = self.now;
        for (service, scenario, user) in [
            ("notification-worker", Scenario::FailAnsible, "erin"),
            ("catalog-service", Scenario::FailRollout, "farah"),
        ] {
            let job = format!("{FOLDER}/{service}-deploy");
            let mut starts: Vec<Ms> = self
                .jobs
                .get(&job)
                .map(|j| j.builds.iter().map(|b| b.start).collect())
                .unwrap_or_default();
            starts.sort_unstable();
            let n = starts.len();
            if n < 3 {
                continue;
            }
            let at = (starts[n - 3] + starts[n - 2]) / 2;
            let release = self.jobs.get(&format!("{FOLDER}/{service}")).and_then(|j| {
                j.builds
                    .iter()
                    .rev()
                    .find(|b| {
                        b.result == Some(super::jenkins::BuildResult::Success)
                            && b.end.is_some_and(|e| e < at - 10 * MIN)
                    })
                    .map(|b| (b.ctx.version.clone(), b.ctx.digest.clone()))
            });
            let Some((version, digest)) = release else {
                continue;
            };
            let params = vec![
                ("VERSION".to_string(), ParamValue::Text(version)),
                ("ENVIRONMENT".to_string(), ParamValue::Text("staging".to_string())),
                ("DIGEST".to_string(), ParamValue::Text(digest)),
                ("DRY_RUN".to_string(), ParamValue::Bool(false)),
            ];
            let cause = Cause::User {
                id: user.to_string(),
                name: full_name_of(user),
            };
            let own = fastrand::Rng::with_seed(ids::hash(self.seed, &["manual-deploy", &job]));
            let saved = std::mem::replace(&mut self.rng, own);
            let created = self.create_build(&job, 0, at - 6 * SEC, at, vec![cause], params, scenario, None, None);
            self.rng = saved;
            if let Some((number, _)) = created
                && let Some(b) = self.jobs.get_mut(&job).and_then(|j| j.build_mut(number))
            {
                b.advance(now);
            }
        }
    }

    /// History is generated job by job; give builds the numbers and queue ids
    /// they would have had if they had happened in time order.
    fn renumber(&mut self) {
        for job in self.jobs.values_mut() {
            if job.template == Template::Deploy {
                job.builds.sort_by_key(|b| b.start);
                let first = 100 + (ids::hash(self.seed, &[&job.full_name]) % 200) as u32;
                for (i, b) in job.builds.iter_mut().enumerate() {
                    b.number = first + i as u32;
                }
                job.next_build_number = first + job.builds.len() as u32;
            }
        }
        let mut all: Vec<(Ms, String, u32)> = self
            .jobs
            .values()
            .flat_map(|j| j.builds.iter().map(|b| (b.queued_at, j.full_name.clone(), b.number)))
            .collect();
        all.sort();
        let mut id = 4_000 + ids::hash(self.seed, &["queue"]) % 3_000;
        for (_, job, number) in all {
            if let Some(b) = self.jobs.get_mut(&job).and_then(|j| j.build_mut(number)) {
                b.queue_id = id;
            }
            id += 1 + ids::hash(self.seed, &[&job, &number.to_string()]) % 3;
        }
        self.next_queue_id = id;
    }

    // ---- live story -------------------------------------------------------

    /// Advances the story clock by `dt` milliseconds.
    pub(crate) fn advance(&mut self, dt: Ms) {
        let target = self.now.saturating_add(dt.max(0));
        self.advance_to(target);
    }

    /// Moves everything to `target`, firing due events in time order.
    pub(crate) fn advance_to(&mut self, target: Ms) {
        loop {
            let next_queue = self
                .queue
                .values()
                .filter(|q| q.state == QueueState::Waiting)
                .map(|q| q.start_at)
                .min()
                .unwrap_or(Ms::MAX);
            let next = next_queue
                .min(self.next_trigger)
                .min(self.next_backup)
                .min(self.last_crumb_reset + CRUMB_TTL);
            if next > target {
                break;
            }
            let t = next.max(self.now);
            self.advance_builds(t);
            self.now = t;
            self.fire_due(t);
        }
        if target > self.now {
            self.advance_builds(target);
            self.now = target;
        }
        let now = self.now;
        self.queue.retain(|_, q| match q.state {
            QueueState::Waiting => true,
            QueueState::Left { at, .. } | QueueState::Cancelled { at } => now - at < LEFT_ITEM_TTL,
        });
    }

    fn advance_builds(&mut self, t: Ms) {
        let mut effects = Vec::new();
        for job in self.jobs.values_mut() {
            for b in job.builds.iter_mut().filter(|b| b.building) {
                for fx in b.advance(t) {
                    effects.push((job.full_name.clone(), b.number, fx));
                }
            }
        }
        for (job, number, fx) in effects {
            self.apply_effect(&job, number, fx);
        }
    }

    fn apply_effect(&mut self, job: &str, number: u32, fx: Effect) {
        let Effect::Deploy { environment, at } = fx;
        if let Some((project, params, sha)) = self.deploy_request(job, number, &environment) {
            let causes = vec![Cause::Upstream {
                project: job.to_string(),
                build: number,
            }];
            self.enqueue(&project, params, causes, at, Scenario::Release, Some(sha));
        }
    }

    fn fire_due(&mut self, t: Ms) {
        let due: Vec<u64> = self
            .queue
            .values()
            .filter(|q| q.state == QueueState::Waiting && q.start_at <= t)
            .map(|q| q.id)
            .collect();
        for id in due {
            self.start_queue_item(id);
        }
        if self.next_trigger <= t {
            self.story_trigger(t);
            self.next_trigger = t + self.rng.i64(180..=360) * SEC;
        }
        if self.next_backup <= t {
            self.enqueue(BACKUP_JOB, Vec::new(), vec![Cause::Timer], t, Scenario::Release, None);
            self.next_backup = next_backup_after(t);
        }
        if self.last_crumb_reset + CRUMB_TTL <= t {
            self.expire_crumbs(t);
        }
    }

    pub(crate) fn expire_crumbs(&mut self, t: Ms) {
        self.crumbs.expire_all();
        self.last_crumb_reset = t;
    }

    /// A push or SCM poll on a service (or the open PR) that is idle.
    fn story_trigger(&mut self, t: Ms) {
        let mut candidates: Vec<String> = SERVICES.iter().map(|s| format!("{FOLDER}/{}", s.name)).collect();
        candidates.push(format!("{MULTIBRANCH}/PR-41"));
        candidates.push(format!("{MULTIBRANCH}/master"));
        let busy = |w: &World, job: &str| {
            w.jobs.get(job).is_none_or(Job::is_building)
                || w.queue.values().any(|q| q.job == job && q.state == QueueState::Waiting)
        };
        let idle: Vec<String> = candidates.into_iter().filter(|j| !busy(self, j)).collect();
        if idle.is_empty() {
            return;
        }
        let job = idle[self.rng.usize(0..idle.len())].clone();
        let scenario = match self.rng.u32(0..20) {
            0..=2 => Scenario::FailUnitTests,
            3 => Scenario::FailQualityGate,
            4 => Scenario::FailImageScan,
            5..=6 => Scenario::UnstableRegression,
            _ => Scenario::Release,
        };
        let cause = if job.starts_with(MULTIBRANCH) {
            Cause::BranchEvent {
                description: if job.ends_with("/master") {
                    "Push event to branch master".into()
                } else {
                    "Pull request #41 updated".into()
                },
            }
        } else if self.rng.u32(0..3) == 0 {
            Cause::Scm
        } else {
            let login = self.pick_person().to_string();
            if Forge::service_of_job(&job) == Some(super::forge::FAILING_HOOK) {
                // Its webhook is broken: Jenkins only notices pushes by polling.
                Cause::Scm
            } else {
                Cause::GitHubPush { login }
            }
        };
        self.enqueue(&job, Vec::new(), vec![cause], t, scenario, None);
    }

    fn enqueue(
        &mut self,
        job: &str,
        params: Vec<(String, ParamValue)>,
        causes: Vec<Cause>,
        at: Ms,
        scenario: Scenario,
        upstream_sha: Option<String>,
    ) -> u64 {
        let id = self.next_queue_id;
        self.next_queue_id += 1;
        self.queue.insert(
            id,
            QueueItem {
                id,
                job: job.to_string(),
                params,
                causes,
                since: at,
                start_at: at + QUIET_PERIOD,
                state: QueueState::Waiting,
                scenario,
                upstream_sha,
            },
        );
        id
    }

    fn start_queue_item(&mut self, id: u64) {
        let Some(item) = self.queue.get(&id).cloned() else {
            return;
        };
        let created = self.create_build(
            &item.job,
            item.id,
            item.since,
            item.start_at,
            item.causes,
            item.params,
            item.scenario,
            item.upstream_sha,
            None,
        );
        let Some((number, effects)) = created else {
            // The job vanished or cannot build: drop the item like Jenkins would.
            if let Some(q) = self.queue.get_mut(&id) {
                q.state = QueueState::Cancelled { at: self.now };
            }
            return;
        };
        if let Some(q) = self.queue.get_mut(&id) {
            q.state = QueueState::Left {
                number,
                at: item.start_at,
            };
        }
        for fx in effects {
            self.apply_effect(&item.job, number, fx);
        }
        let now = self.now;
        let more = self
            .jobs
            .get_mut(&item.job)
            .and_then(|j| j.build_mut(number))
            .map(|b| b.advance(now))
            .unwrap_or_default();
        for fx in more {
            self.apply_effect(&item.job, number, fx);
        }
    }

    // ---- actions from the API ----------------------------------------------

    /// `build` / `buildWithParameters`: validates and queues; returns the queue id.
    pub(crate) fn trigger(
        &mut self,
        job: &str,
        with_parameters: bool,
        given: &[(String, String)],
        user: &str,
    ) -> Result<u64, TriggerError> {
        let j = self.jobs.get(job).ok_or(TriggerError::NotFound)?;
        if j.kind.is_folder() {
            return Err(TriggerError::NotFound);
        }
        if j.disabled {
            return Err(TriggerError::Disabled);
        }
        if j.is_parameterised() && !with_parameters {
            return Err(TriggerError::NeedsParameters);
        }
        if !j.is_parameterised() && with_parameters {
            return Err(TriggerError::NotParameterised);
        }
        let mut params = Vec::with_capacity(j.params.len());
        for def in &j.params {
            let raw = given.iter().rev().find(|(n, _)| *n == def.name).map(|(_, v)| v.clone());
            let value = match &def.kind {
                ParamKind::Text => ParamValue::Text(raw.unwrap_or_else(|| def.default.clone())),
                ParamKind::Choice(choices) => {
                    let v = raw.unwrap_or_else(|| def.default.clone());
                    if !choices.contains(&v) {
                        return Err(TriggerError::BadParameter(format!(
                            "Illegal choice for parameter {}: {v}",
                            def.name
                        )));
                    }
                    ParamValue::Text(v)
                }
                ParamKind::Boolean => ParamValue::Bool(
                    raw.as_deref()
                        .map_or(def.default == "true", |v| v.eq_ignore_ascii_case("true") || v == "on"),
                ),
            };
            params.push((def.name.clone(), value));
        }
        // Jenkins folds an identical waiting request into the existing item.
        if let Some(existing) = self
            .queue
            .values()
            .find(|q| q.job == job && q.state == QueueState::Waiting && q.params == params)
        {
            return Ok(existing.id);
        }
        let cause = Cause::User {
            id: user.to_string(),
            name: full_name_of(user),
        };
        let now = self.now;
        Ok(self.enqueue(job, params, vec![cause], now, Scenario::Release, None))
    }

    /// `POST /queue/cancelItem?id=N`.
    pub(crate) fn cancel_queue_item(&mut self, id: u64) -> bool {
        let now = self.now;
        match self.queue.get_mut(&id) {
            Some(q) if q.state == QueueState::Waiting => {
                q.state = QueueState::Cancelled { at: now };
                true
            }
            _ => false,
        }
    }

    /// Proceeds a pending input; false when there is no such input.
    pub(crate) fn approve(&mut self, job: &str, number: u32, input_id: &str, user: &str) -> bool {
        let now = self.now;
        let Some(b) = self.jobs.get_mut(job).and_then(|j| j.build_mut(number)) else {
            return false;
        };
        let Some(effects) = b.approve(input_id, now, user) else {
            return false;
        };
        for fx in effects {
            self.apply_effect(job, number, fx);
        }
        true
    }

    /// Aborts a pending input; false when there is no such input.
    pub(crate) fn abort_input(&mut self, job: &str, number: u32, input_id: &str, user: &str) -> bool {
        let now = self.now;
        self.jobs
            .get_mut(job)
            .and_then(|j| j.build_mut(number))
            .is_some_and(|b| b.abort_input(input_id, now, user))
    }

    /// Stops a running build; false when the build does not exist.
    pub(crate) fn stop(&mut self, job: &str, number: u32, user: &str) -> bool {
        let now = self.now;
        match self.jobs.get_mut(job).and_then(|j| j.build_mut(number)) {
            Some(b) => {
                b.stop(now, user);
                true
            }
            None => false,
        }
    }

    /// Children of a folder (or of the root when `parent` is None), by name.
    pub(crate) fn children(&self, parent: Option<&str>) -> Vec<&Job> {
        let mut out: Vec<&Job> = self.jobs.values().filter(|j| j.parent() == parent).collect();
        out.sort_by_key(|j| j.name().to_lowercase());
        out
    }

    pub(crate) fn waiting_item_for(&self, job: &str) -> Option<&QueueItem> {
        self.queue
            .values()
            .find(|q| q.job == job && q.state == QueueState::Waiting)
    }
}

/// The next 02:00 UTC strictly after `t` (the backup job's timer).
fn next_backup_after(t: Ms) -> Ms {
    let day_start = t - t.rem_euclid(DAY);
    let candidate = day_start + 2 * HOUR;
    if candidate > t { candidate } else { candidate + DAY }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::jenkins::{BuildResult, NodeStatus};

    const NOW: Ms = 1_764_000_000_000;

    fn world() -> World {
        World::new(7, "http://127.0.0.1:1".into(), false, NOW)
    }

    fn latest<'a>(w: &'a World, job: &str) -> &'a Build {
        w.jobs[job].builds.last().expect("has builds")
    }

    #[test]
    fn initial_state_matches_the_script() {
        let w = world();
        let pay = latest(&w, "dominion/payments-api");
        assert!(pay.building && pay.is_paused());
        assert_eq!(pay.stages.last().unwrap().name, "Approve production");
        assert!(matches!(pay.causes[0], Cause::GitHubPush { .. }));

        let ledger = latest(&w, "dominion/ledger-service");
        assert_eq!(ledger.result, Some(BuildResult::Failure));
        assert_eq!(ledger.stages.last().unwrap().name, "Build & unit tests");
        assert_eq!(
            ledger.tests,
            Some(TestCounts {
                total: 412,
                failed: 2,
                skipped: 3
            })
        );

        let checkout = latest(&w, "dominion/checkout-web");
        assert!(checkout.building);
        assert_eq!(checkout.stages.last().unwrap().name, "Functional tests");
        assert_eq!(checkout.stages.last().unwrap().status, NodeStatus::InProgress);

        let catalog = latest(&w, "dominion/catalog-service");
        assert_eq!(catalog.result, Some(BuildResult::Success));
        assert_eq!(catalog.stages.last().unwrap().name, "Deploy to production");
        assert_eq!(catalog.causes, vec![Cause::Timer]);

        let notif = latest(&w, "dominion/notification-worker");
        assert_eq!(notif.result, Some(BuildResult::Aborted));
        assert!(matches!(notif.causes[0], Cause::User { .. }));

        let fraud = latest(&w, "dominion/fraud-scoring");
        assert_eq!(fraud.result, Some(BuildResult::Unstable));
        assert!(matches!(fraud.causes[0], Cause::Upstream { .. }));

        for s in &SERVICES {
            let j = &w.jobs[&format!("dominion/{}", s.name)];
            assert!((4..=7).contains(&j.builds.len()), "{}", s.name);
            assert!(j.builds.windows(2).all(|p| p[0].number < p[1].number));
            let d = &w.jobs[&format!("dominion/{}-deploy", s.name)];
            assert!(
                d.builds
                    .windows(2)
                    .all(|p| p[0].number < p[1].number && p[0].start <= p[1].start)
            );
        }
        assert!(!w.jobs[BACKUP_JOB].builds.is_empty());
        assert!(w.jobs[LEGACY_JOB].disabled);
    }

    #[test]
    fn same_seed_same_estate() {
        let a = world();
        let b = world();
        let shas = |w: &World| -> Vec<String> {
            w.jobs
                .values()
                .flat_map(|j| j.builds.iter().map(|b| b.ctx.sha.clone()))
                .collect()
        };
        assert_eq!(shas(&a), shas(&b));
    }

    #[test]
    fn story_moves_on_by_itself() {
        let mut w = world();
        let before: usize = w.jobs.values().map(|j| j.builds.len()).sum();
        w.advance(30 * MIN);
        let after: usize = w.jobs.values().map(|j| j.builds.len()).sum();
        assert!(after > before, "new builds were started");
        let checkout = &w.jobs["dominion/checkout-web"];
        // The build that was in functional tests has reached the approval or later.
        let was_running = checkout
            .builds
            .iter()
            .any(|b| b.stages.iter().any(|s| s.name == "Approve production"));
        assert!(was_running);
    }

    #[test]
    fn trigger_queues_then_builds() {
        let mut w = world();
        let id = w.trigger("dominion/payments-api", false, &[], "demo").unwrap();
        assert_eq!(w.queue[&id].state, QueueState::Waiting);
        let before = w.jobs["dominion/payments-api"].next_build_number;
        w.advance(4 * SEC);
        match w.queue[&id].state {
            QueueState::Left { number, .. } => assert_eq!(number, before),
            ref s => panic!("{s:?}"),
        }
        assert_eq!(
            w.trigger("dominion/payments-api-deploy", false, &[], "demo"),
            Err(TriggerError::NeedsParameters)
        );
        assert_eq!(w.trigger(LEGACY_JOB, false, &[], "demo"), Err(TriggerError::Disabled));
        assert!(matches!(
            w.trigger(
                "dominion/payments-api-deploy",
                true,
                &[("ENVIRONMENT".into(), "moon".into())],
                "demo"
            ),
            Err(TriggerError::BadParameter(_))
        ));
    }

    #[test]
    fn a_day_of_story_is_quick_and_consistent() {
        let mut w = world();
        let t = std::time::Instant::now();
        w.advance(DAY);
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        for job in w.jobs.values() {
            assert!(job.builds.windows(2).all(|p| p[0].number < p[1].number));
            assert!(
                job.builds.iter().filter(|b| b.building).count() <= 2,
                "{}",
                job.full_name
            );
        }
        // The nightly backup ran.
        assert!(w.jobs[BACKUP_JOB].builds.iter().any(|b| b.start > NOW));
    }

    #[test]
    fn backup_timer_is_at_two() {
        let t = next_backup_after(NOW);
        assert!(t > NOW && t - NOW <= DAY);
        assert_eq!(t.rem_euclid(DAY), 2 * HOUR);
    }
}
