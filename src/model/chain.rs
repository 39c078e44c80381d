//! The release chain: for each candidate (service + version + commit), every link from pull
//! request to load test, each with a status, a one-line reason and its evidence. Everything here
//! is a pure function of the state; unknown never counts as a pass.

use serde::{Deserialize, Serialize};

use super::policy::{self, Check};
use super::{ArtifactState, Build, GateStatus, Job, QualityState, RepoState, Service, Stage, State, Status};
use super::{BaseImageCheck, ImageRepoState, ImageTag, ScanReport, ScanState};

/// The five statuses a link can have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    Pass,
    Fail,
    Running,
    Pending,
    #[default]
    Unknown,
}

impl LinkStatus {
    /// For combining: the higher rank wins. Unknown outranks running so that a link which cannot
    /// be judged is never hidden behind one that will be.
    pub fn rank(self) -> u8 {
        match self {
            LinkStatus::Pass => 0,
            LinkStatus::Pending => 1,
            LinkStatus::Running => 2,
            LinkStatus::Unknown => 3,
            LinkStatus::Fail => 4,
        }
    }

    /// The display status (glyph and theme colour) shared with the rest of the cockpit.
    pub fn status(self) -> Status {
        match self {
            LinkStatus::Pass => Status::Ok,
            LinkStatus::Fail => Status::Failed,
            LinkStatus::Running => Status::Running,
            LinkStatus::Pending => Status::Pending,
            LinkStatus::Unknown => Status::Unknown,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LinkStatus::Pass => "pass",
            LinkStatus::Fail => "fail",
            LinkStatus::Running => "running",
            LinkStatus::Pending => "pending",
            LinkStatus::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    PullRequest,
    Build,
    UnitTests,
    Quality,
    Artifact,
    Functional,
    Penetration,
    Regression,
    Load,
    Image,
    Scan,
    /// Which digest runs in each environment, against the one promoted there (an outcome, not a
    /// gate).
    Deployed,
}

impl LinkKind {
    pub const ALL: [LinkKind; 12] = [
        LinkKind::PullRequest,
        LinkKind::Build,
        LinkKind::UnitTests,
        LinkKind::Quality,
        LinkKind::Artifact,
        LinkKind::Functional,
        LinkKind::Penetration,
        LinkKind::Regression,
        LinkKind::Load,
        LinkKind::Image,
        LinkKind::Scan,
        LinkKind::Deployed,
    ];

    /// Gates decide whether a candidate may ship; `Deployed` only reports where it runs.
    pub fn is_gate(self) -> bool {
        self != LinkKind::Deployed
    }

    /// Column heading on the board (at most five cells wide).
    pub fn short(self) -> &'static str {
        match self {
            LinkKind::PullRequest => "PR",
            LinkKind::Build => "Build",
            LinkKind::UnitTests => "Unit",
            LinkKind::Quality => "Sonar",
            LinkKind::Artifact => "Nexus",
            LinkKind::Functional => "Func",
            LinkKind::Penetration => "Pen",
            LinkKind::Regression => "Regr",
            LinkKind::Load => "Load",
            LinkKind::Image => "Image",
            LinkKind::Scan => "Scan",
            LinkKind::Deployed => "Run",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            LinkKind::PullRequest => "Pull request",
            LinkKind::Build => "Build",
            LinkKind::UnitTests => "Unit tests",
            LinkKind::Quality => "Quality gate",
            LinkKind::Artifact => "Artifact in Nexus",
            LinkKind::Functional => "Functional tests",
            LinkKind::Penetration => "Penetration tests",
            LinkKind::Regression => "Regression tests",
            LinkKind::Load => "Load tests",
            LinkKind::Image => "Docker image",
            LinkKind::Scan => "Image scan",
            LinkKind::Deployed => "Running in the clusters",
        }
    }

    /// Words that identify this link's stage in a pipeline when the config names none.
    fn stage_keywords(self) -> &'static [&'static str] {
        match self {
            LinkKind::Functional => &["functional"],
            LinkKind::Penetration => &["penetration", "pentest", "dast", "zap"],
            LinkKind::Regression => &["regression"],
            LinkKind::Load => &["load", "performance", "jmeter", "gatling"],
            LinkKind::UnitTests => &["unit"],
            LinkKind::Quality => &["sonar", "quality"],
            LinkKind::Artifact => &["nexus", "publish", "deploy artifact"],
            LinkKind::Image => &["docker", "image", "push"],
            LinkKind::Scan => &["scan", "trivy", "grype"],
            _ => &[],
        }
    }
}

/// One link of one candidate's chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub kind: LinkKind,
    pub status: LinkStatus,
    /// One line: why the link stands where it stands.
    pub reason: String,
    /// Further lines for the explanation (e.g. Sonar's verdict beside the policy's).
    pub notes: Vec<String>,
    /// Thresholds against actual values, where the link has them.
    pub checks: Vec<Check>,
    pub evidence: Option<String>,
    /// What does not block but deserves a look (a stale base image).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Link {
    pub(super) fn new(kind: LinkKind, status: LinkStatus, reason: impl Into<String>) -> Link {
        Link {
            kind,
            status,
            reason: reason.into(),
            notes: Vec::new(),
            checks: Vec::new(),
            evidence: None,
            warnings: Vec::new(),
        }
    }

    fn evidence(mut self, url: Option<&str>) -> Link {
        self.evidence = url.filter(|u| !u.is_empty()).map(str::to_string);
        self
    }

    pub(super) fn note(mut self, note: impl Into<String>) -> Link {
        self.notes.push(note.into());
        self
    }
}

/// A release candidate and its chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub service: String,
    pub version: Option<String>,
    pub commit: Option<String>,
    pub build_number: u64,
    pub build_url: String,
    pub links: Vec<Link>,
}

impl Candidate {
    pub fn link(&self, kind: LinkKind) -> Option<&Link> {
        self.links.iter().find(|l| l.kind == kind)
    }

    /// The whole chain of gates: any failure fails, then unknown, running, pending; pass only if
    /// all pass.
    pub fn verdict(&self) -> LinkStatus {
        super::github::combine(self.links.iter().filter(|l| l.kind.is_gate()).map(|l| l.status))
    }

    /// The gates that keep this candidate from shipping (anything but a pass).
    pub fn blockers(&self) -> impl Iterator<Item = &Link> {
        self.links
            .iter()
            .filter(|l| l.kind.is_gate() && l.status != LinkStatus::Pass)
    }
}

/// Where a test link's results are: a stage of the build pipeline or a downstream job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum TestSource {
    /// Find the stage by the link's usual names ("Functional tests", "Load tests"…).
    #[default]
    Auto,
    Stage {
        name: String,
    },
    Job {
        name: String,
    },
}

/// Everything the chain needs to know beyond the state, per service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainConfig {
    pub functional: TestSource,
    pub penetration: TestSource,
    pub regression: TestSource,
    pub load: TestSource,
    /// Archive path of the load-test summary; `None`: any `statistics.json` (JMeter) or
    /// `global_stats.json` (Gatling) the build archived.
    pub load_summary: Option<String>,
    pub quality: policy::QualityPolicy,
    pub load_policy: policy::LoadPolicy,
    #[serde(default)]
    pub scan: policy::ScanPolicy,
    /// Archive path of the Trivy or Grype JSON report; `None`: any archived `trivy*.json` or
    /// `grype*.json`.
    #[serde(default)]
    pub scan_report: Option<String>,
}

impl ChainConfig {
    fn test_source(&self, kind: LinkKind) -> &TestSource {
        match kind {
            LinkKind::Functional => &self.functional,
            LinkKind::Penetration => &self.penetration,
            LinkKind::Regression => &self.regression,
            _ => &self.load,
        }
    }
}

/// The inputs of one service's chain, borrowed from the state.
pub struct ChainInputs<'a> {
    pub service: &'a Service,
    pub build_job: Option<&'a Job>,
    pub test_jobs: Vec<&'a Job>,
    pub repo: Option<&'a RepoState>,
    pub quality: Option<&'a QualityState>,
    pub artifacts: Option<&'a ArtifactState>,
    pub images: Option<&'a ImageRepoState>,
    /// Base-image checks from every engine, for the base this service builds on.
    pub bases: Vec<&'a BaseImageCheck>,
    /// The service's Kubernetes workloads, per environment.
    pub workloads: Vec<super::deployed::EnvWorkload<'a>>,
}

impl<'a> ChainInputs<'a> {
    pub fn from_state(state: &'a State, service: &'a Service) -> ChainInputs<'a> {
        let jobs = &service.jobs;
        ChainInputs {
            service,
            build_job: jobs.build.as_ref().and_then(|j| state.jobs.get(j)),
            test_jobs: jobs.tests.iter().filter_map(|j| state.jobs.get(j)).collect(),
            repo: state.repos.get(&service.name),
            quality: state.quality.get(&service.name),
            artifacts: state.artifacts.get(&service.name),
            images: state.images.get(&service.name),
            bases: state
                .engines
                .values()
                .flat_map(|e| e.bases.iter())
                .filter(|b| b.used_by.iter().any(|s| s == &service.name))
                .collect(),
            workloads: super::deployed::env_workloads(state, service),
        }
    }
}

/// Every candidate of a service, newest first: one per build of its build job.
pub fn candidates(inputs: &ChainInputs<'_>, limit: usize) -> Vec<Candidate> {
    let Some(job) = inputs.build_job else {
        return Vec::new();
    };
    job.builds
        .iter()
        .take(limit)
        .map(|b| evaluate(inputs, job, b))
        .collect()
}

/// The chain of the candidate that build `build` of `job` produced.
pub fn evaluate(inputs: &ChainInputs<'_>, job: &Job, build: &Build) -> Candidate {
    let version = version_of(inputs.service, build);
    let commit = build.commit.clone();
    let cfg = &inputs.service.chain;
    let links = LinkKind::ALL
        .iter()
        .map(|&kind| match kind {
            LinkKind::PullRequest => pull_request_link(inputs, build),
            LinkKind::Build => build_link(job, build),
            LinkKind::UnitTests => unit_tests_link(build),
            LinkKind::Quality => quality_link(inputs, build, &cfg.quality),
            LinkKind::Artifact => artifact_link(inputs, build, version.as_deref()),
            LinkKind::Image => image_link(inputs, build, version.as_deref()),
            LinkKind::Scan => scan_link(inputs, build, version.as_deref(), &cfg.scan),
            LinkKind::Deployed => super::deployed::deployed_link(
                &inputs.workloads,
                inputs.images,
                inputs
                    .images
                    .and_then(|r| r.image_for(version.as_deref(), build.commit.as_deref()))
                    .map(|t| t.digest.as_str()),
            ),
            _ => test_link(inputs, kind, build, version.as_deref()),
        })
        .collect();
    Candidate {
        service: inputs.service.name.clone(),
        version,
        commit,
        build_number: build.number,
        build_url: build.url.clone(),
        links,
    }
}

/// The version a build produced: its `VERSION` parameter, else the archived jar/war's name.
pub fn version_of(service: &Service, build: &Build) -> Option<String> {
    if let Some((_, v)) = build
        .parameters
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("version") && !v.trim().is_empty())
    {
        return Some(v.trim().to_string());
    }
    let artifact_id = service
        .nexus
        .as_ref()
        .map(|n| n.artifact_id.as_str())
        .unwrap_or(&service.name);
    build.artifacts.iter().find_map(|a| {
        let stem = a
            .file_name
            .strip_suffix(".jar")
            .or_else(|| a.file_name.strip_suffix(".war"))
            .or_else(|| a.file_name.strip_suffix(".ear"))?;
        let v = stem.strip_prefix(artifact_id)?.strip_prefix('-')?;
        (!v.is_empty() && v.starts_with(|c: char| c.is_ascii_digit())).then(|| v.to_string())
    })
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

fn pull_request_link(inputs: &ChainInputs<'_>, build: &Build) -> Link {
    let kind = LinkKind::PullRequest;
    let Some(repo) = inputs.repo else {
        return match &inputs.service.github {
            None => Link::new(kind, LinkStatus::Unknown, "no GitHub repository configured"),
            Some(g) => Link::new(kind, LinkStatus::Unknown, format!("{} not read yet", g.repo)),
        };
    };
    let Some(sha) = build.commit.as_deref() else {
        return Link::new(
            kind,
            LinkStatus::Unknown,
            "the build does not say which commit it built",
        )
        .evidence(Some(&build.url));
    };
    if let Some(c) = repo.commit(sha) {
        if let Some(pr) = &c.pull {
            let by = if pr.author.is_empty() {
                String::new()
            } else {
                format!(" by {}", pr.author)
            };
            return Link::new(
                kind,
                LinkStatus::Pass,
                format!("#{} merged{by}: {}", pr.number, pr.title),
            )
            .evidence(Some(&pr.html_url));
        }
        if c.direct_push {
            return Link::new(
                kind,
                LinkStatus::Fail,
                format!(
                    "{} reached {} without a pull request (by {})",
                    short(sha),
                    repo.branch,
                    c.author
                ),
            )
            .evidence(Some(&c.html_url))
            .note(format!("commit: {}", c.message));
        }
    }
    if let Some(pr) = repo.pull_with_head(sha) {
        return open_pull_link(repo, pr);
    }
    Link::new(
        kind,
        LinkStatus::Unknown,
        format!(
            "{} is not among the last {} commits of {}",
            short(sha),
            repo.commits.len(),
            repo.branch
        ),
    )
    .evidence(Some(&repo.html_url))
}

fn open_pull_link(repo: &RepoState, pr: &super::PullRequest) -> Link {
    let kind = LinkKind::PullRequest;
    let required = match &repo.protection {
        super::Protection::Protected(p) => p.required_approvals as usize,
        _ => 1,
    };
    let blockers = pr.changes_requested_by();
    let checks = pr.checks_status();
    let (status, reason) = if !blockers.is_empty() {
        (
            LinkStatus::Fail,
            format!("#{} open: changes requested by {}", pr.number, blockers.join(", ")),
        )
    } else if checks == LinkStatus::Fail {
        (LinkStatus::Fail, format!("#{} open: checks failing", pr.number))
    } else if pr.approvals() < required {
        (
            LinkStatus::Pending,
            format!("#{} open: {} of {required} approvals", pr.number, pr.approvals()),
        )
    } else {
        (
            LinkStatus::Pending,
            format!("#{} open, approved, not merged", pr.number),
        )
    };
    Link::new(kind, status, reason).evidence(Some(&pr.html_url))
}

fn build_link(job: &Job, build: &Build) -> Link {
    let kind = LinkKind::Build;
    let status = match build.status {
        Status::Ok => LinkStatus::Pass,
        Status::Failed | Status::Unstable | Status::Aborted => LinkStatus::Fail,
        Status::Running | Status::Paused => LinkStatus::Running,
        Status::Pending => LinkStatus::Pending,
        Status::NotBuilt | Status::Unknown => LinkStatus::Unknown,
    };
    let reason = match (build.status, build.failed_stage(), build.current_stage()) {
        (Status::Failed, Some(stage), _) => format!("#{} failed in «{}»", build.number, stage.name),
        (Status::Running | Status::Paused, _, Some(stage)) => format!("#{} at «{}»", build.number, stage.name),
        (s, _, _) => format!("{} #{} {}", job.full_name, build.number, s.label()),
    };
    Link::new(kind, status, reason).evidence(Some(&build.url))
}

fn unit_tests_link(build: &Build) -> Link {
    let kind = LinkKind::UnitTests;
    let report = format!("{}testReport/", build.url);
    if let Some(t) = build.tests {
        let (status, reason) = if t.failed > 0 {
            (LinkStatus::Fail, format!("{} of {} failed", t.failed, t.total))
        } else if t.total == 0 {
            (LinkStatus::Unknown, "the report has no tests".to_string())
        } else {
            (
                LinkStatus::Pass,
                format!("{} passed, {} skipped", t.passed(), t.skipped),
            )
        };
        return Link::new(kind, status, reason).evidence(Some(&report));
    }
    match stage_for(build, kind) {
        Some(s) => stage_link(kind, build, s, "no test report published"),
        None => not_reached(kind, build, "no test report published"),
    }
}

fn quality_link(inputs: &ChainInputs<'_>, build: &Build, policy: &policy::QualityPolicy) -> Link {
    let kind = LinkKind::Quality;
    let Some(q) = inputs.quality else {
        return match &inputs.service.sonar {
            None => Link::new(kind, LinkStatus::Unknown, "no SonarQube project configured"),
            Some(s) => Link::new(kind, LinkStatus::Unknown, format!("{} not read yet", s.project_key)),
        };
    };
    let Some(sha) = build.commit.as_deref() else {
        return Link::new(
            kind,
            LinkStatus::Unknown,
            "the build does not say which commit it built",
        );
    };
    let Some((analysis, _)) = q.analysis_of(sha) else {
        let newest = q
            .analyses
            .first()
            .and_then(|a| a.revision.as_deref())
            .map(|r| format!(" (newest analysis is of {})", short(r)))
            .unwrap_or_default();
        return match stage_for(build, kind) {
            Some(s) if s.status.is_active() => {
                Link::new(kind, LinkStatus::Running, format!("analysis of {} running", short(sha)))
                    .evidence(Some(&q.dashboard_url))
            }
            Some(s) if s.status == Status::Failed => Link::new(
                kind,
                LinkStatus::Fail,
                format!("«{}» failed; no analysis of {}", s.name, short(sha)),
            )
            .evidence(Some(&build.url)),
            // The scanner is done; SonarQube's compute engine may still be processing the report.
            Some(s) if s.status == Status::Ok && build.status.is_active() => Link::new(
                kind,
                LinkStatus::Pending,
                format!("«{}» passed; no analysis of {} yet{newest}", s.name, short(sha)),
            )
            .evidence(Some(&q.dashboard_url)),
            Some(_) => Link::new(
                kind,
                LinkStatus::Unknown,
                format!("no analysis of {}{newest}", short(sha)),
            )
            .evidence(Some(&q.dashboard_url)),
            None => not_reached(kind, build, &format!("no analysis of {}{newest}", short(sha))),
        };
    };
    let checks = policy::evaluate_quality(policy, &analysis.measures);
    let verdict = policy::overall(&checks);
    let gate = analysis.gate.as_ref().map(|g| g.status).unwrap_or(GateStatus::Unknown);
    let gate_status = match gate {
        GateStatus::Ok => LinkStatus::Pass,
        GateStatus::Error => LinkStatus::Fail,
        // A warning is not a pass the shop signed up for; NONE means no gate judged it.
        GateStatus::Warn | GateStatus::None | GateStatus::Unknown => LinkStatus::Unknown,
    };
    let status = super::github::combine([gate_status, verdict].into_iter());
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| c.status != LinkStatus::Pass)
        .map(Check::sentence)
        .collect();
    let policy_part = if failing.is_empty() {
        format!("policy {}", verdict.label())
    } else {
        format!("policy {}: {}", verdict.label(), failing.join(", "))
    };
    let reason = if gate_status == verdict {
        match verdict {
            LinkStatus::Pass => "Sonar gate passed; policy met".to_string(),
            _ => format!("Sonar gate {}; {policy_part}", gate.label()),
        }
    } else {
        // They disagree: say both, Sonar's first.
        format!("Sonar gate {} · {policy_part}", gate.label())
    };
    let mut link = Link::new(kind, status, reason).evidence(Some(&q.dashboard_url));
    link.checks = checks;
    if let Some(g) = &analysis.gate {
        for c in g.conditions.iter().filter(|c| c.status == GateStatus::Error) {
            link.notes.push(format!(
                "Sonar condition {} {} {}: actual {}",
                c.metric,
                if c.comparator == "LT" { "<" } else { ">" },
                c.threshold.as_deref().unwrap_or("?"),
                c.actual.as_deref().unwrap_or("?")
            ));
        }
    }
    link.notes.push(format!(
        "analysis {} of {} at {}",
        analysis.key,
        short(sha),
        utc_minute(analysis.date)
    ));
    link
}

/// The candidate's image in the registry: the tag labelled with its commit, or named after its
/// version. A stale base image on the build host is a warning, not a failure.
fn image_link(inputs: &ChainInputs<'_>, build: &Build, version: Option<&str>) -> Link {
    let kind = LinkKind::Image;
    let Some(cfg) = &inputs.service.image else {
        return Link::new(kind, LinkStatus::Unknown, "no image repository configured");
    };
    let Some(repo) = inputs.images else {
        return Link::new(kind, LinkStatus::Unknown, format!("{} not read yet", cfg.repository));
    };
    let mut link = match repo.image_for(version, build.commit.as_deref()) {
        Some(tag) => {
            let mut parts = vec![
                format!("{}:{}", repo.reference, tag.tag),
                short_digest(&tag.digest).to_string(),
            ];
            if let Some(size) = tag.size {
                parts.push(human_size(size));
            }
            let envs: Vec<&str> = repo
                .env_tags
                .iter()
                .filter(|(env, _)| repo.env_digest(env) == Some(tag.digest.as_str()))
                .map(|(env, _)| env.as_str())
                .collect();
            if !envs.is_empty() {
                parts.push(format!("in {}", envs.join(", ")));
            }
            let mut link = Link::new(kind, LinkStatus::Pass, parts.join(" · "));
            link.notes.push(format!("digest {}", tag.digest));
            link.notes.push(format!("media type {}", tag.media_type));
            if !tag.platforms.is_empty() {
                link.notes.push(format!("platforms {}", tag.platforms.join(", ")));
            }
            if let Some(t) = tag.pushed_at {
                link.notes.push(format!("pushed {}", utc_minute(t)));
            }
            match (&tag.revision, build.commit.as_deref()) {
                (Some(r), Some(c)) if !(r.starts_with(c) || c.starts_with(r.as_str())) => {
                    link.status = LinkStatus::Fail;
                    link.reason = format!(
                        "{}:{} was built from {}, not from {}",
                        repo.repository,
                        tag.tag,
                        short(r),
                        short(c)
                    );
                }
                (Some(r), _) => link.notes.push(format!("label revision {}", short(r))),
                (None, _) => link.notes.push("no revision label: matched by version tag".into()),
            }
            base_warnings(inputs, cfg.base_image.as_deref(), Some(tag), &mut link);
            return link.evidence(Some(&build.url));
        }
        None => {
            let what = match (version, build.commit.as_deref()) {
                (Some(v), Some(c)) => format!("{v} / {}", short(c)),
                (Some(v), None) => v.to_string(),
                (None, Some(c)) => short(c).to_string(),
                (None, None) => "this build".to_string(),
            };
            if build.status.is_active() {
                Link::new(
                    kind,
                    LinkStatus::Pending,
                    format!("no image for {what} yet: the build is still running"),
                )
            } else if build.status != Status::Ok {
                Link::new(
                    kind,
                    LinkStatus::Pending,
                    format!("no image for {what}: the build did not pass"),
                )
            } else if !repo.complete {
                Link::new(
                    kind,
                    LinkStatus::Unknown,
                    format!("no image for {what} among the {} tags read", repo.tags.len()),
                )
            } else {
                Link::new(
                    kind,
                    LinkStatus::Fail,
                    format!("no image for {what} in {}", repo.reference),
                )
            }
        }
    };
    base_warnings(inputs, cfg.base_image.as_deref(), None, &mut link);
    link.evidence(Some(&build.url))
}

/// Warnings about the base image: stale on the build host, or the image built on an older base
/// than its registry serves now.
fn base_warnings(inputs: &ChainInputs<'_>, configured: Option<&str>, tag: Option<&ImageTag>, link: &mut Link) {
    let base = configured.or(tag.and_then(|t| t.base_name.as_deref()));
    for check in &inputs.bases {
        if base.is_some_and(|b| !super::same_reference(b, &check.reference)) {
            continue;
        }
        if check.stale() == Some(true) {
            link.warnings.push(format!(
                "base {} is stale on the build host: local {} ≠ registry {}",
                check.reference,
                short_digest(check.local_digest.as_deref().unwrap_or("")),
                short_digest(check.remote_digest.as_deref().unwrap_or(""))
            ));
        } else if let Some(problem) = &check.problem {
            link.notes.push(format!("base {}: {problem}", check.reference));
        }
        if let (Some(t), Some(remote)) = (tag, check.remote_digest.as_deref())
            && let Some(built_on) = t.base_digest.as_deref()
            && built_on != remote
        {
            link.warnings.push(format!(
                "built on {} {}, the registry now serves {}",
                check.reference,
                short_digest(built_on),
                short_digest(remote)
            ));
        }
    }
}

/// The scan of the candidate's image against the shop's scan policy: the registry's scan (ECR)
/// and the report the build archived (Trivy, Grype); the worse one decides.
fn scan_link(inputs: &ChainInputs<'_>, build: &Build, version: Option<&str>, policy: &policy::ScanPolicy) -> Link {
    let kind = LinkKind::Scan;
    let image = inputs
        .images
        .and_then(|r| r.image_for(version, build.commit.as_deref()));
    let reports: Vec<&ScanReport> = image
        .and_then(|t| t.scan.as_ref())
        .into_iter()
        .chain(build.scan.as_ref())
        .collect();
    if reports.is_empty() {
        let reason = if build.status.is_active() {
            return Link::new(kind, LinkStatus::Pending, "no scan yet: the build is still running")
                .evidence(Some(&build.url));
        } else if build.status != Status::Ok && image.is_none() {
            return Link::new(kind, LinkStatus::Pending, "no image to scan: the build did not pass")
                .evidence(Some(&build.url));
        } else if inputs.service.image.is_none() {
            "no image repository configured".to_string()
        } else if image.is_some() {
            "no scan of the image: no registry scan and no Trivy/Grype report archived".to_string()
        } else {
            "no image, no scan".to_string()
        };
        return Link::new(kind, LinkStatus::Unknown, reason).evidence(Some(&build.url));
    }
    let mut statuses = Vec::new();
    let mut parts = Vec::new();
    let mut link = Link::new(kind, LinkStatus::Unknown, "");
    for report in &reports {
        match &report.state {
            ScanState::InProgress => {
                statuses.push(LinkStatus::Running);
                parts.push(format!("{} in progress", report.scanner.label()));
            }
            ScanState::Failed(why) => {
                statuses.push(LinkStatus::Unknown);
                parts.push(format!("{} failed: {why}", report.scanner.label()));
            }
            ScanState::Complete => {
                let checks = policy::evaluate_scan(policy, Some(&report.counts));
                let verdict = policy::overall(&checks);
                statuses.push(verdict);
                let worst: Vec<String> = report
                    .findings
                    .iter()
                    .filter(|f| f.severity <= super::Severity::High)
                    .take(2)
                    .map(|f| format!("{} in {}", f.id, f.package))
                    .collect();
                let detail = if verdict == LinkStatus::Fail && !worst.is_empty() {
                    format!(": {}", worst.join(", "))
                } else {
                    String::new()
                };
                parts.push(format!(
                    "{}: {}{detail}",
                    report.scanner.label(),
                    report.counts.summary()
                ));
                for c in checks {
                    link.checks.push(Check {
                        label: format!("{} ({})", c.label, report.scanner.label()),
                        ..c
                    });
                }
                for f in report.findings.iter().take(12) {
                    let fixed = f
                        .fixed
                        .as_deref()
                        .map(|v| format!(" → {v}"))
                        .unwrap_or_else(|| " (no fix)".into());
                    link.notes.push(format!(
                        "{:<8} {} {} {}{fixed}",
                        f.severity.label(),
                        f.id,
                        f.package,
                        f.installed.as_deref().unwrap_or("?")
                    ));
                }
                if report.findings.len() > 12 {
                    link.notes
                        .push(format!("… and {} more findings", report.findings.len() - 12));
                }
            }
        }
        if link.evidence.is_none() {
            link.evidence = report.url.clone();
        }
    }
    link.status = super::github::combine(statuses.into_iter());
    link.reason = parts.join(" · ");
    if link.evidence.is_none() {
        link.evidence = Some(build.url.clone());
    }
    link
}

fn short_digest(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

fn artifact_link(inputs: &ChainInputs<'_>, build: &Build, version: Option<&str>) -> Link {
    let kind = LinkKind::Artifact;
    let Some(a) = inputs.artifacts else {
        return match &inputs.service.nexus {
            None => Link::new(kind, LinkStatus::Unknown, "no Nexus coordinates configured"),
            Some(n) => Link::new(
                kind,
                LinkStatus::Unknown,
                format!("{}:{} not read yet", n.group_id, n.artifact_id),
            ),
        };
    };
    let Some(version) = version else {
        return Link::new(
            kind,
            LinkStatus::Unknown,
            "no version: the build has no VERSION parameter or archived jar/war",
        );
    };
    let assets = a.assets(version);
    let main = assets.iter().find(|x| {
        x.extension.as_deref() == Some(a.packaging.as_str()) && x.classifier.as_deref().unwrap_or("").is_empty()
    });
    let pom = assets.iter().find(|x| x.extension.as_deref() == Some("pom"));
    let coords = format!("{}:{}:{version}", a.group_id, a.artifact_id);
    match (main, pom) {
        (Some(m), Some(_)) => {
            let size = m.size.map(human_size).map(|s| format!(", {s}")).unwrap_or_default();
            let by = m.uploader.as_deref().map(|u| format!(", by {u}")).unwrap_or_default();
            let mut link = Link::new(
                kind,
                LinkStatus::Pass,
                format!("{} + pom in {}{size}{by}", a.packaging, a.repository),
            )
            .evidence(Some(&m.download_url));
            if let Some(sha1) = &m.sha1 {
                link.notes.push(format!("sha1 {sha1}"));
            }
            if let Some(t) = m.last_modified {
                link.notes
                    .push(format!("last modified {}", t.format("%Y-%m-%d %H:%M UTC")));
            }
            link
        }
        (Some(m), None) => Link::new(
            kind,
            LinkStatus::Fail,
            format!("{coords}: {} present but its pom is missing", a.packaging),
        )
        .evidence(Some(&m.download_url)),
        (None, Some(p)) => Link::new(
            kind,
            LinkStatus::Fail,
            format!("{coords}: pom present but no {}", a.packaging),
        )
        .evidence(Some(&p.download_url)),
        (None, None) => {
            let publish = stage_for(build, kind);
            let (status, reason) = match publish {
                Some(s) if s.status == Status::Ok && a.complete => (
                    LinkStatus::Fail,
                    format!("{coords} is not in {} although «{}» passed", a.repository, s.name),
                ),
                Some(s) if s.status.is_active() => (LinkStatus::Running, format!("«{}» running", s.name)),
                Some(s) if s.status == Status::Failed => {
                    (LinkStatus::Fail, format!("«{}» failed: {coords} not published", s.name))
                }
                None if build.status.is_active() => (LinkStatus::Pending, format!("{coords} not published yet")),
                _ if a.complete && build.status == Status::Ok => (
                    LinkStatus::Fail,
                    format!("{coords} is not in {} after a green build", a.repository),
                ),
                _ if a.complete => (LinkStatus::Unknown, format!("{coords} is not in {}", a.repository)),
                _ => (
                    LinkStatus::Unknown,
                    format!("{coords} not among the newest artifacts read from {}", a.repository),
                ),
            };
            Link::new(kind, status, reason).evidence(Some(&a.search_url))
        }
    }
}

fn test_link(inputs: &ChainInputs<'_>, kind: LinkKind, build: &Build, version: Option<&str>) -> Link {
    let cfg = &inputs.service.chain;
    let link = match cfg.test_source(kind) {
        TestSource::Job { name } => downstream_link(inputs, kind, name, build, version),
        TestSource::Stage { name } => match build.stages.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
            Some(s) => stage_link(kind, build, s, ""),
            None => not_reached(kind, build, &format!("no stage «{name}» in this build")),
        },
        TestSource::Auto => match stage_for(build, kind) {
            Some(s) => stage_link(kind, build, s, ""),
            None => not_reached(kind, build, "no such stage in this build and no test job configured"),
        },
    };
    if kind == LinkKind::Load {
        load_thresholds(link, &cfg.load_policy, inputs, build)
    } else {
        link
    }
}

/// A load-test link also judges the archived summary against the thresholds.
fn load_thresholds(link: Link, policy: &policy::LoadPolicy, inputs: &ChainInputs<'_>, build: &Build) -> Link {
    let kind = LinkKind::Load;
    let summary = match &inputs.service.chain.load {
        TestSource::Job { name } => {
            let version = version_of(inputs.service, build);
            downstream_build(inputs, name, build, version.as_deref()).and_then(|(_, b)| b.load_summary.as_ref())
        }
        _ => build.load_summary.as_ref(),
    };
    let Some(summary) = summary else {
        return match link.status {
            LinkStatus::Pass => Link {
                status: LinkStatus::Unknown,
                reason: format!("{}; no JMeter or Gatling summary archived to judge", link.reason),
                ..link
            },
            _ => link,
        };
    };
    let checks = policy::evaluate_load(policy, summary.p95_ms, summary.error_rate);
    let verdict = policy::overall(&checks);
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| c.status != LinkStatus::Pass)
        .map(Check::sentence)
        .collect();
    let status = match link.status {
        LinkStatus::Fail => LinkStatus::Fail,
        _ => verdict,
    };
    let reason = if failing.is_empty() {
        format!(
            "p95 {} · errors {} ({} samples)",
            policy::number(summary.p95_ms.unwrap_or(0.0), "ms"),
            policy::number(summary.error_rate.unwrap_or(0.0), "%"),
            summary.samples.unwrap_or(0)
        )
    } else {
        failing.join(", ")
    };
    let mut out = Link::new(kind, status, reason)
        .evidence(Some(&summary.url))
        .note(format!("{}: {}", summary.format, link.reason));
    out.checks = checks;
    out
}

/// The newest run of downstream job `name` made for this candidate: started by this build, or
/// given its version, or building its commit.
fn downstream_build<'a>(
    inputs: &ChainInputs<'a>,
    name: &str,
    build: &Build,
    version: Option<&str>,
) -> Option<(&'a Job, &'a Build)> {
    let job = inputs.test_jobs.iter().find(|j| j.full_name == name)?;
    let upstream = inputs.service.jobs.build.as_deref().unwrap_or("");
    let ran_for = |b: &&Build| {
        b.causes.iter().any(|c| {
            matches!(c, super::Cause::Upstream { project, build: Some(n) }
                if project.trim_matches('/') == upstream && *n == build.number)
        }) || (version.is_some()
            && b.parameters
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("version") && Some(v.as_str()) == version))
            || matches!((&b.commit, &build.commit), (Some(a), Some(c)) if super::same_commit(a, c))
    };
    job.builds.iter().find(ran_for).map(|b| (*job, b))
}

fn downstream_link(inputs: &ChainInputs<'_>, kind: LinkKind, name: &str, build: &Build, version: Option<&str>) -> Link {
    let Some(job) = inputs.test_jobs.iter().find(|j| j.full_name == name) else {
        return Link::new(kind, LinkStatus::Unknown, format!("job {name} not read yet"));
    };
    match downstream_build(inputs, name, build, version).map(|(_, b)| b) {
        Some(b) => {
            let status = match b.status {
                Status::Ok => LinkStatus::Pass,
                Status::Failed | Status::Unstable | Status::Aborted => LinkStatus::Fail,
                Status::Running | Status::Paused => LinkStatus::Running,
                Status::Pending => LinkStatus::Pending,
                _ => LinkStatus::Unknown,
            };
            let tests = b
                .tests
                .map(|t| format!(": {} of {} failed", t.failed, t.total))
                .filter(|_| status == LinkStatus::Fail)
                .unwrap_or_default();
            Link::new(
                kind,
                status,
                format!("{name} #{} {}{tests}", b.number, b.status.label()),
            )
            .evidence(Some(&b.url))
        }
        None if build.status.is_active() => Link::new(
            kind,
            LinkStatus::Pending,
            format!("{name} has not run for #{}", build.number),
        ),
        None => Link::new(
            kind,
            LinkStatus::Unknown,
            format!("no run of {name} for #{} among its recent builds", build.number),
        )
        .evidence(Some(&job.url)),
    }
}

/// The stage of `build` that carries this link, by the usual names.
fn stage_for(build: &Build, kind: LinkKind) -> Option<&Stage> {
    let words = kind.stage_keywords();
    build
        .stages
        .iter()
        .find(|s| words.iter().any(|w| contains_ignore_case(&s.name, w)))
}

/// `needle` (lower case ASCII) somewhere in `hay`, ignoring ASCII case, without allocating.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return true;
    };
    h.windows(n.len())
        .any(|w| w[0].to_ascii_lowercase() == first && w.eq_ignore_ascii_case(n))
}

fn stage_link(kind: LinkKind, build: &Build, stage: &Stage, missing: &str) -> Link {
    let (status, reason) = match stage.status {
        Status::Ok => (LinkStatus::Pass, format!("«{}» passed", stage.name)),
        Status::Failed => (
            LinkStatus::Fail,
            match &stage.error {
                Some(e) => format!("«{}» failed: {}", stage.name, e.message),
                None => format!("«{}» failed", stage.name),
            },
        ),
        Status::Unstable => (LinkStatus::Fail, format!("«{}» unstable: tests failed", stage.name)),
        Status::Aborted => (LinkStatus::Fail, format!("«{}» aborted", stage.name)),
        Status::Running | Status::Paused => (LinkStatus::Running, format!("«{}» running", stage.name)),
        Status::Pending => (LinkStatus::Pending, format!("«{}» queued", stage.name)),
        Status::NotBuilt => (LinkStatus::Unknown, format!("«{}» not run", stage.name)),
        Status::Unknown if !missing.is_empty() => (LinkStatus::Unknown, missing.to_string()),
        Status::Unknown => (LinkStatus::Unknown, format!("«{}»: status unknown", stage.name)),
    };
    Link::new(kind, status, reason).evidence(Some(&stage_url(build, stage)))
}

/// The build has no such stage: either it has not got there yet, or it stopped before.
fn not_reached(kind: LinkKind, build: &Build, otherwise: &str) -> Link {
    if build.status.is_active() {
        return Link::new(kind, LinkStatus::Pending, "not reached yet").evidence(Some(&build.url));
    }
    let stopped = build
        .failed_stage()
        .map(|s| format!("not run: the build stopped at «{}»", s.name))
        .or_else(|| {
            let last = build.stages.last()?;
            (build.status != Status::Ok).then(|| format!("not run: the build ended after «{}»", last.name))
        });
    Link::new(
        kind,
        LinkStatus::Unknown,
        stopped.unwrap_or_else(|| otherwise.to_string()),
    )
    .evidence(Some(&build.url))
}

fn stage_url(build: &Build, stage: &Stage) -> String {
    format!("{}execution/node/{}/", build.url, stage.id)
}

/// `2026-11-24 09:30 UTC`. Written out by hand: chrono's format strings are parsed on every call,
/// and the chain is evaluated for thousands of candidates.
fn utc_minute(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// A size for people: B, KB, MB, GB.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
