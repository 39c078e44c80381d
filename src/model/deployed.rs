//! Where a candidate runs: the digest each environment's pods actually run, against the digest
//! that was promoted there (the environment's tag). Something other than what was approved
//! running is a failure, whatever the rest of the chain says.
//!
//! This link reports an outcome rather than a gate: it never blocks a promotion, and a candidate
//! that runs nowhere yet is simply "not deployed".

use super::chain::{Link, LinkKind, LinkStatus};
use super::cluster::{RolloutPhase, WorkloadView};
use super::{ImageRepoState, Service, State};

/// One environment's workload as the link sees it.
pub struct EnvWorkload<'a> {
    pub environment: &'a str,
    pub view: Option<WorkloadView<'a>>,
    /// The cluster source has not listed that namespace yet.
    pub listed: bool,
}

/// The configured workloads of a service, in the config's environment order.
pub fn env_workloads<'a>(state: &'a State, service: &'a Service) -> Vec<EnvWorkload<'a>> {
    state
        .environments
        .iter()
        .filter_map(|env| {
            let target = service.deploy.get(&env.name)?.kubernetes.as_ref()?;
            let listed = state
                .clusters
                .get(&target.cluster)
                .and_then(|c| c.namespaces.get(&target.namespace))
                .is_some_and(|ns| !ns.listed.is_empty());
            Some(EnvWorkload {
                environment: env.name.as_str(),
                view: state.workload(target),
                listed,
            })
        })
        .collect()
}

/// The version tag that carries `digest`, for messages ("sha256:ab12… (3.1.65)").
pub fn describe_digest(images: Option<&ImageRepoState>, digest: &str) -> String {
    let short = short(digest);
    let version = images.and_then(|r| {
        r.tags
            .iter()
            .filter(|t| t.digest == digest && !r.env_tags.values().any(|e| e == &t.tag))
            .map(|t| t.tag.as_str())
            .next()
    });
    match version {
        Some(v) => format!("{short} ({v})"),
        None => short,
    }
}

fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// Promoted against running for one environment, independent of any candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvRun {
    /// What was promoted runs (or nothing was promoted and something runs).
    Matches {
        running: String,
    },
    /// Something other than the promoted digest runs, and no rollout is moving toward it.
    Mismatch {
        running: String,
        promoted: String,
    },
    /// A rollout is under way (or paused, or failed): the pods disagree for now.
    Rolling {
        phase: RolloutPhase,
        message: String,
    },
    /// No ready pod reports a digest.
    NothingRunning,
    NotListed,
}

pub fn env_run(w: &EnvWorkload<'_>, images: Option<&ImageRepoState>) -> EnvRun {
    let Some(view) = &w.view else {
        return if w.listed {
            EnvRun::NothingRunning
        } else {
            EnvRun::NotListed
        };
    };
    let promoted = images.and_then(|r| r.env_digest(w.environment));
    if view.status.phase != RolloutPhase::Complete {
        return EnvRun::Rolling {
            phase: view.status.phase,
            message: view.status.message.clone(),
        };
    }
    match (view.running_digest(), promoted) {
        (None, _) => EnvRun::NothingRunning,
        (Some(r), Some(p)) if r != p => EnvRun::Mismatch {
            running: r.to_string(),
            promoted: p.to_string(),
        },
        (Some(r), _) => EnvRun::Matches { running: r.to_string() },
    }
}

/// The candidate's "Running" link. `digest` is the candidate's image digest, if it has one.
pub fn deployed_link(workloads: &[EnvWorkload<'_>], images: Option<&ImageRepoState>, digest: Option<&str>) -> Link {
    let kind = LinkKind::Deployed;
    if workloads.is_empty() {
        return Link::new(kind, LinkStatus::Unknown, "no Kubernetes workload configured");
    }
    let Some(digest) = digest else {
        return Link::new(kind, LinkStatus::Pending, "no image: nothing can run");
    };
    let mut failures = Vec::new();
    let mut running_in = Vec::new();
    let mut rolling = Vec::new();
    let mut notes = Vec::new();
    let mut unlisted = Vec::new();
    for w in workloads {
        let env = w.environment;
        let promoted_here = images.and_then(|r| r.env_digest(env)) == Some(digest);
        let run = env_run(w, images);
        match &run {
            EnvRun::Mismatch { running, promoted } => {
                notes.push(format!(
                    "{env}: runs {}, promoted {}",
                    describe_digest(images, running),
                    describe_digest(images, promoted)
                ));
                if promoted_here {
                    failures.push(format!(
                        "promoted to {env}, but {env} runs {}: not what was approved",
                        describe_digest(images, running)
                    ));
                } else if running == digest {
                    failures.push(format!(
                        "runs in {env} without being promoted there ({env} was promoted {})",
                        describe_digest(images, promoted)
                    ));
                }
            }
            EnvRun::Matches { running } if running == digest => running_in.push(env.to_string()),
            EnvRun::Matches { .. } => {}
            EnvRun::Rolling { phase, message } => {
                let new_image = w
                    .view
                    .as_ref()
                    .and_then(|v| v.spec_image())
                    .is_some_and(|img| img.ends_with(digest));
                if new_image || promoted_here {
                    match phase {
                        RolloutPhase::Failed => failures.push(format!("rollout in {env} failed: {message}")),
                        RolloutPhase::Paused => rolling.push(format!("{env}: paused ({message})")),
                        _ => rolling.push(format!("{env}: {message}")),
                    }
                }
            }
            EnvRun::NothingRunning => {
                if promoted_here {
                    failures.push(format!("promoted to {env}, but no ready pod runs anything there"));
                }
            }
            EnvRun::NotListed => unlisted.push(env.to_string()),
        }
    }
    let mut link = if !failures.is_empty() {
        Link::new(kind, LinkStatus::Fail, failures.join("; "))
    } else if !rolling.is_empty() {
        Link::new(
            kind,
            LinkStatus::Running,
            format!("rolling out: {}", rolling.join("; ")),
        )
    } else if !running_in.is_empty() {
        Link::new(kind, LinkStatus::Pass, format!("runs in {}", running_in.join(", ")))
    } else if !unlisted.is_empty() && unlisted.len() == workloads.len() {
        Link::new(
            kind,
            LinkStatus::Unknown,
            format!("{} not listed yet", unlisted.join(", ")),
        )
    } else {
        Link::new(kind, LinkStatus::Pending, "not deployed anywhere")
    };
    for n in notes {
        link = link.note(n);
    }
    if !running_in.is_empty() && link.status != LinkStatus::Pass {
        link = link.note(format!("runs in {}", running_in.join(", ")));
    }
    link
}
