//! Promoting a release candidate to the next environment, or rolling an environment back to the
//! previous good candidate: which image, which tag, which calls, and what blocks it. Pure: reads
//! the state, touches nothing.

use serde::Serialize;

use crate::model::{Candidate, LinkKind, LinkStatus, PromotionStrategy, RegistryKind, State, Status};

/// Which way the release moves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The candidate goes to the environment after the last one that runs it.
    Forward,
    /// The environment goes back to the newest good candidate older than what it runs.
    Rollback { environment: String },
}

/// One gate of the chain as the plan shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gate {
    pub kind: LinkKind,
    pub status: LinkStatus,
    pub reason: String,
}

/// The deploy job the promotion runs, with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeployJob {
    /// The Jenkins source.
    pub source: String,
    pub job: String,
    pub params: Vec<(String, String)>,
    /// A build of this job that already deployed (or is deploying) this digest here.
    pub already: Option<(u64, Status)>,
}

/// Everything a promotion will do, decided before anything happens.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Promotion {
    pub service: String,
    pub version: Option<String>,
    pub commit: Option<String>,
    pub build_number: u64,
    /// The digest that moves; it never changes on the way.
    pub digest: String,
    /// The candidate's own tag (`1.4.2`).
    pub source_tag: String,
    pub registry: RegistryKind,
    /// The registry source's name, and its base URL (for the plan's call list).
    pub registry_source: String,
    pub registry_url: String,
    pub repository: String,
    /// `registry-host/repository`.
    pub reference: String,
    pub target: String,
    /// The target environment's tag.
    pub tag: String,
    /// What the target's tag points at now.
    pub current: Option<String>,
    pub strategy: PromotionStrategy,
    pub direction: Direction,
    pub deploy: Option<DeployJob>,
    /// The Kubernetes strategy: the Deployment's container to patch, and the pinned image.
    pub rollout: Option<RolloutStep>,
    /// The AWX strategy: the template to launch with the version and digest.
    pub launch: Option<AwxLaunch>,
    pub gates: Vec<Gate>,
    /// Why it may not run; empty when it may.
    pub blockers: Vec<String>,
    pub warnings: Vec<String>,
}

/// Patch a Deployment's container to the digest-pinned image and follow the rollout.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RolloutStep {
    pub workload: crate::model::WorkloadRef,
    /// `repository@sha256:…`: the exact bytes that passed the gates, whatever tags do later.
    pub image: String,
    /// The container's image now.
    pub current_image: Option<String>,
    /// The API server, for the plan's call list.
    pub server: String,
}

/// Launch an AWX job template with the version and digest as extra vars.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AwxLaunch {
    pub source: String,
    pub template: String,
    pub template_id: Option<u64>,
    pub workflow: bool,
    pub extra_vars: Vec<(String, String)>,
    pub server: String,
}

impl Promotion {
    pub fn is_rollback(&self) -> bool {
        matches!(self.direction, Direction::Rollback { .. })
    }

    /// Does the target already run this digest (nothing left to do for the registry)?
    pub fn already_tagged(&self) -> bool {
        self.current.as_deref() == Some(self.digest.as_str())
    }

    pub fn title(&self) -> String {
        let what = self
            .version
            .clone()
            .unwrap_or_else(|| format!("#{}", self.build_number));
        if self.is_rollback() {
            format!("Roll back {} in {} to {what}", self.service, self.target)
        } else {
            format!("Promote {} {what} to {}", self.service, self.target)
        }
    }
}

/// Plan the promotion of the service's candidate at `index` (0 = newest), or a rollback.
/// `Err` when there is nothing that could be planned at all (no image repository, no candidate).
pub fn plan_promotion(state: &State, service: &str, index: usize, direction: Direction) -> Result<Promotion, String> {
    let svc = state
        .service(service)
        .ok_or_else(|| format!("{service} is not configured"))?;
    let image = svc
        .image
        .as_ref()
        .ok_or_else(|| format!("{service} has no image repository in the config ([services.image])"))?;
    let repo = state
        .images
        .get(service)
        .ok_or_else(|| format!("{} has not been read from {} yet", image.repository, image.source))?;
    let candidates = state.chains.get(service).map(Vec::as_slice).unwrap_or(&[]);
    let env_order: Vec<&str> = state
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .filter(|e| image.env_tags.contains_key(*e))
        .collect();
    if env_order.is_empty() {
        return Err(format!("{service} has no environment with a tag"));
    }
    let digest_of = |c: &Candidate| {
        repo.image_for(c.version.as_deref(), c.commit.as_deref())
            .map(|t| (t.tag.clone(), t.digest.clone()))
    };
    let (candidate, target) = match &direction {
        Direction::Forward => {
            let c = candidates
                .get(index)
                .ok_or_else(|| format!("{service} has no candidate #{}", index + 1))?;
            let here: Vec<usize> = match digest_of(c) {
                Some((_, d)) => env_order
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| repo.env_digest(e) == Some(d.as_str()))
                    .map(|(i, _)| i)
                    .collect(),
                None => Vec::new(),
            };
            let next = here.iter().max().map(|i| i + 1).unwrap_or(0);
            let target = env_order.get(next).ok_or_else(|| {
                format!(
                    "{} already runs in {}: there is no environment after it",
                    c.version.as_deref().unwrap_or("this candidate"),
                    env_order.last().copied().unwrap_or("?")
                )
            })?;
            (c, target.to_string())
        }
        Direction::Rollback { environment } => {
            if !env_order.contains(&environment.as_str()) {
                return Err(format!("{service} has no tag for {environment}"));
            }
            let running = repo.env_digest(environment).map(str::to_string);
            // Where the running digest sits among the candidates; without it, every candidate is a
            // possible "previous".
            let from = candidates
                .iter()
                .position(|c| digest_of(c).map(|(_, d)| Some(d) == running).unwrap_or(false))
                .map(|i| i + 1)
                .unwrap_or(0);
            let previous = candidates[from.min(candidates.len())..]
                .iter()
                .find(|c| c.verdict() == LinkStatus::Pass && digest_of(c).is_some_and(|(_, d)| Some(d) != running))
                .ok_or_else(|| {
                    format!("no good candidate older than what {environment} runs: nothing to roll back to")
                })?;
            (previous, environment.clone())
        }
    };
    let env = state.environment(&target);
    let protected = env.is_some_and(|e| e.protected);
    let tag = image.env_tags.get(&target).cloned().unwrap_or_else(|| target.clone());
    let mut blockers = Vec::new();
    let mut warnings = Vec::new();
    let (source_tag, digest) = match digest_of(candidate) {
        Some(x) => x,
        None => {
            blockers.push(format!(
                "no image of {} in {}: nothing to promote",
                candidate.version.as_deref().unwrap_or("this candidate"),
                repo.reference
            ));
            (String::new(), String::new())
        }
    };
    let gates: Vec<Gate> = candidate
        .links
        .iter()
        .filter(|l| l.kind.is_gate())
        .map(|l| Gate {
            kind: l.kind,
            status: l.status,
            reason: l.reason.clone(),
        })
        .collect();
    for l in candidate.links.iter().filter(|l| l.kind.is_gate()) {
        for w in &l.warnings {
            warnings.push(format!("{}: {w}", l.kind.title()));
        }
        let blocks = match l.status {
            LinkStatus::Pass => false,
            LinkStatus::Fail => true,
            // Unknown, pending or running: not proven, so not for a protected environment.
            _ => protected,
        };
        if blocks {
            let why = if protected && l.status != LinkStatus::Fail {
                format!(
                    "{} is {} ({}): a protected environment needs every gate passed",
                    l.kind.title(),
                    l.status.label(),
                    l.reason
                )
            } else {
                format!("{} fails: {}", l.kind.title(), l.reason)
            };
            blockers.push(why);
        }
    }
    if let Some(e) = env
        && e.read_only
    {
        blockers.push(format!("{} is read-only in the config", e.name));
    }
    let current = repo.env_digest(&target).map(str::to_string);
    let deploy = if image.promotion.deploys() {
        match &svc.jobs.deploy {
            None => {
                blockers.push(format!("{service} promotes through Jenkins but has no deploy job"));
                None
            }
            Some(job) => {
                let mut params = vec![
                    ("VERSION".to_string(), candidate.version.clone().unwrap_or_default()),
                    ("DIGEST".to_string(), digest.clone()),
                ];
                let defs = state.jobs.get(job).map(|j| j.parameters.as_slice()).unwrap_or(&[]);
                if defs.iter().any(|d| d.name.eq_ignore_ascii_case("environment")) || defs.is_empty() {
                    params.push(("ENVIRONMENT".to_string(), target.clone()));
                }
                for (name, _) in &params {
                    if !defs.is_empty() && !defs.iter().any(|d| &d.name == name) {
                        warnings.push(format!("{job} has no parameter {name}; Jenkins will ignore it"));
                    }
                }
                // What Jenkins last deployed to the target: if that is this digest (done or under
                // way), deploying it again would change nothing.
                let scoped = params.iter().any(|(k, _)| k == "ENVIRONMENT");
                let already = state.jobs.get(job).and_then(|j| {
                    let value = |b: &crate::model::Build, k: &str| {
                        b.parameters
                            .iter()
                            .find(|(bk, _)| bk.eq_ignore_ascii_case(k))
                            .map(|(_, v)| v.clone())
                    };
                    let last = j
                        .builds
                        .iter()
                        .find(|b| !scoped || value(b, "ENVIRONMENT").as_deref() == Some(target.as_str()))?;
                    let live = matches!(
                        last.status,
                        Status::Ok | Status::Running | Status::Paused | Status::Pending
                    );
                    (live && !digest.is_empty() && value(last, "DIGEST").as_deref() == Some(digest.as_str()))
                        .then_some((last.number, last.status))
                });
                Some(DeployJob {
                    source: svc.jobs.source.clone(),
                    job: job.clone(),
                    params,
                    already,
                })
            }
        }
    } else {
        None
    };
    let target_deploy = svc.deploy.get(&target);
    let rollout = if image.promotion == PromotionStrategy::Kubernetes {
        match target_deploy.and_then(|d| d.kubernetes.as_ref()) {
            None => {
                blockers.push(format!(
                    "{service} promotes by patching its Deployment, but has no Kubernetes workload in {target} ([services.deploy.{target}] kubernetes)"
                ));
                None
            }
            Some(w) => {
                let view = state.workload(w);
                let current_image = view.as_ref().and_then(|v| v.spec_image()).map(str::to_string);
                match &view {
                    None => blockers.push(format!(
                        "deployment/{} in {} has not been seen yet: cannot patch what cannot be read",
                        w.deployment, w.namespace
                    )),
                    Some(v) if v.deployment.container(&w.container).is_none() => blockers.push(format!(
                        "deployment/{} has no container named {}",
                        w.deployment, w.container
                    )),
                    Some(v) if v.deployment.paused => blockers.push(format!(
                        "deployment/{} is paused: resume (or decide) the paused rollout first",
                        w.deployment
                    )),
                    Some(_) => {}
                }
                Some(RolloutStep {
                    workload: w.clone(),
                    image: format!("{}@{}", repo.reference, digest),
                    current_image,
                    server: state.sources.get(&w.cluster).map(|h| h.url.clone()).unwrap_or_default(),
                })
            }
        }
    } else {
        None
    };
    let launch = if image.promotion == PromotionStrategy::Awx {
        match target_deploy.and_then(|d| d.awx.as_ref()) {
            None => {
                blockers.push(format!(
                    "{service} promotes through AWX, but has no AWX template for {target} ([services.deploy.{target}] awx)"
                ));
                None
            }
            Some(a) => {
                let extra_vars = vec![
                    ("version".to_string(), candidate.version.clone().unwrap_or_default()),
                    ("digest".to_string(), digest.clone()),
                    ("image".to_string(), format!("{}@{}", repo.reference, digest)),
                    ("environment".to_string(), target.clone()),
                ];
                let known = state.awx.get(&a.source).and_then(|s| s.template(&a.template));
                match known {
                    None => blockers.push(format!(
                        "AWX {} does not list a template named \"{}\" (yet)",
                        a.source, a.template
                    )),
                    Some(t) => {
                        let dropped: Vec<&str> = extra_vars
                            .iter()
                            .map(|(k, _)| k.as_str())
                            .filter(|k| !t.accepts_variable(k))
                            .collect();
                        if !dropped.is_empty() {
                            blockers.push(format!(
                                "AWX would ignore {}: \"{}\" does not ask for variables on launch and its survey does not define them (they would land in ignored_fields)",
                                dropped.join(", "),
                                t.name
                            ));
                        }
                    }
                }
                Some(AwxLaunch {
                    source: a.source.clone(),
                    template: a.template.clone(),
                    template_id: known.map(|t| t.id),
                    workflow: a.workflow,
                    extra_vars,
                    server: state.sources.get(&a.source).map(|h| h.url.clone()).unwrap_or_default(),
                })
            }
        }
    } else {
        None
    };
    if let Some(h) = state.sources.get(&image.source)
        && (h.consecutive_failures > 0 || !h.has_answered())
    {
        warnings.push(format!(
            "{} has not answered lately ({}): the tags shown may be out of date",
            image.source,
            h.last_error.as_deref().unwrap_or("no answer yet")
        ));
    }
    Ok(Promotion {
        service: service.to_string(),
        version: candidate.version.clone(),
        commit: candidate.commit.clone(),
        build_number: candidate.build_number,
        digest,
        source_tag,
        registry: image.registry.clone(),
        registry_source: image.source.clone(),
        registry_url: state
            .sources
            .get(&image.source)
            .map(|h| h.url.clone())
            .unwrap_or_default(),
        repository: image.repository.clone(),
        reference: repo.reference.clone(),
        target,
        tag,
        current,
        strategy: image.promotion,
        direction,
        deploy,
        rollout,
        launch,
        gates,
        blockers,
        warnings,
    })
}
