use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::chain::{ChainInputs, candidates};
use super::{
    ArtifactState, Build, EngineState, ImageRepoState, Job, Notice, NoticeLevel, QualityState, QueueFollow, RepoState,
    SourceHealth, State,
};

/// How many candidates per service the chain keeps (the newest builds of its build job).
pub const CANDIDATES_PER_SERVICE: usize = 20;

/// Everything that can change the state. Sources and action executors send these; the app loop
/// applies them in arrival order through [`State::apply`], the one reducer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Update {
    /// A source was configured (sets up its health line before the first poll).
    SourceRegistered(SourceHealth),
    /// Complete snapshots of some jobs (a poll's result); each replaces what was known of that job.
    Jobs {
        source: String,
        at: DateTime<Utc>,
        jobs: Vec<Job>,
    },
    /// One build changed (a delta, e.g. from following a triggered build).
    Build {
        job: String,
        at: DateTime<Utc>,
        build: Box<Build>,
    },
    /// Every job a source lists, walked through folders: full name → colour.
    Catalogue {
        source: String,
        entries: Vec<(String, String)>,
    },
    SourceOk {
        source: String,
        at: DateTime<Utc>,
    },
    SourceFailed {
        source: String,
        at: DateTime<Utc>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
    /// When a failing source will try again (backoff or Retry-After).
    SourceRetryAt {
        source: String,
        retry_at: DateTime<Utc>,
    },
    /// A followed queue item moved on.
    Queue {
        source: String,
        job: String,
        queue_url: String,
        at: DateTime<Utc>,
        state: QueueState,
    },
    /// An action finished (its record is already in the audit file).
    Action(ActionOutcome),
    /// A service's GitHub repository, read afresh (or confirmed unchanged).
    Repo {
        service: String,
        repo: RepoState,
    },
    /// A service's SonarQube project.
    Quality {
        service: String,
        quality: QualityState,
    },
    /// A service's artifacts in Nexus.
    Artifacts {
        service: String,
        artifacts: ArtifactState,
    },
    /// A service's image repository as its registry lists it.
    Images {
        service: String,
        images: ImageRepoState,
    },
    /// A Docker engine's images and base-image checks.
    Engine {
        source: String,
        engine: EngineState,
    },
    /// A Kubernetes source saw objects of one namespace change (a watch's list or event).
    Cluster {
        source: String,
        namespace: String,
        change: super::ClusterChange,
    },
    /// One AWX server's templates, recent jobs and pending approvals (a complete snapshot).
    Awx {
        source: String,
        state: super::AwxState,
    },
    /// What a rate-limited source has left.
    RateLimit {
        source: String,
        remaining: u64,
        limit: Option<u64>,
        reset: Option<DateTime<Utc>>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum QueueState {
    Waiting {
        why: Option<String>,
    },
    Started {
        number: u64,
        url: String,
    },
    Cancelled,
    /// The queue forgot the item before the cockpit saw it start.
    Lost,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    pub at: DateTime<Utc>,
    pub summary: String,
    pub ok: bool,
    pub detail: String,
}

const MAX_NOTICES: usize = 50;

/// Which Deployment a cluster change concerns, when it can be told.
enum Owner {
    All,
    Deployment(String),
}

/// The Deployment behind a changed object: itself, a ReplicaSet's owner, or a pod's ReplicaSet's
/// owner (looked up before the change is applied, so a deletion still finds it).
fn deployment_of(ns: &super::NamespaceState, change: &super::ClusterChange) -> Owner {
    use super::{ClusterChange, ClusterKind, ClusterObject};
    let of_replica_set = |rs: &str| ns.replica_sets.get(rs).and_then(|r| r.owner.clone());
    let of_pod = |owner: Option<&str>| owner.and_then(of_replica_set);
    let found = match change {
        ClusterChange::Resync(_) => None,
        ClusterChange::Applied(ClusterObject::Deployment(d)) => Some(d.name.clone()),
        ClusterChange::Applied(ClusterObject::ReplicaSet(r)) => r.owner.clone(),
        ClusterChange::Applied(ClusterObject::Pod(p)) => of_pod(p.owner.as_deref()),
        ClusterChange::Applied(ClusterObject::Event(_)) => None,
        ClusterChange::Deleted { kind, name } => match kind {
            ClusterKind::Deployment => Some(name.clone()),
            ClusterKind::ReplicaSet => of_replica_set(name),
            ClusterKind::Pod => of_pod(ns.pods.get(name).and_then(|p| p.owner.as_deref())),
            ClusterKind::Event => None,
        },
    };
    found.map_or(Owner::All, Owner::Deployment)
}

impl State {
    pub fn apply(&mut self, update: Update) {
        self.revision += 1;
        match update {
            Update::SourceRegistered(health) => {
                self.sources.insert(health.name.clone(), health);
            }
            Update::Jobs { source, at, jobs } => {
                // A poll re-sends every job; only the ones whose builds changed need new chains.
                let mut changed: Vec<String> = Vec::new();
                for mut job in jobs {
                    job.source = source.clone();
                    job.observed_at = at;
                    let now_waits = job.waits_for_input() as usize;
                    let name = job.full_name.clone();
                    let old = self.jobs.insert(name.clone(), job);
                    let was_waiting = old.as_ref().is_some_and(|o| o.waits_for_input()) as usize;
                    self.waiting = self.waiting + now_waits - was_waiting;
                    if old.is_none_or(|o| Some(&o.builds) != self.jobs.get(&name).map(|j| &j.builds)) {
                        changed.push(name);
                    }
                }
                self.rechain_jobs(&changed);
            }
            Update::Build { job, at, build } => {
                self.merge_build(&job, at, *build);
                self.rechain_jobs(std::slice::from_ref(&job));
            }
            Update::Repo { service, mut repo } => {
                // Equal but for when it was read: compare without cloning the old one.
                let at = repo.observed_at;
                let same = self.repos.get(&service).is_some_and(|old| {
                    repo.observed_at = old.observed_at;
                    *old == repo
                });
                repo.observed_at = at;
                self.repos.insert(service.clone(), repo);
                if !same {
                    self.rechain(&service);
                }
            }
            Update::Quality { service, quality } => {
                let same = self.quality.get(&service).is_some_and(|old| {
                    (&old.gate, &old.measures, &old.analyses) == (&quality.gate, &quality.measures, &quality.analyses)
                });
                self.quality.insert(service.clone(), quality);
                if !same {
                    self.rechain(&service);
                }
            }
            Update::Artifacts { service, artifacts } => {
                let same = self
                    .artifacts
                    .get(&service)
                    .is_some_and(|old| (&old.versions, old.complete) == (&artifacts.versions, artifacts.complete));
                self.artifacts.insert(service.clone(), artifacts);
                if !same {
                    self.rechain(&service);
                }
            }
            Update::Images { service, images } => {
                let same = self.images.get(&service).is_some_and(|old| {
                    (&old.tags, &old.env_tags, old.complete) == (&images.tags, &images.env_tags, images.complete)
                });
                self.images.insert(service.clone(), images);
                if !same {
                    self.rechain(&service);
                }
            }
            Update::Engine { source, engine } => {
                let verdicts = |e: &EngineState| -> Vec<(String, Option<bool>, Vec<String>)> {
                    e.bases
                        .iter()
                        .map(|b| (b.reference.clone(), b.stale(), b.used_by.clone()))
                        .collect()
                };
                let same = self
                    .engines
                    .get(&source)
                    .is_some_and(|old| verdicts(old) == verdicts(&engine));
                let affected: Vec<String> = engine.bases.iter().flat_map(|b| b.used_by.clone()).collect();
                self.engines.insert(source, engine);
                if !same {
                    for service in affected {
                        self.rechain(&service);
                    }
                }
            }
            Update::Cluster {
                source,
                namespace,
                change,
            } => {
                // Events never change what runs; everything else may move a Running link.
                let kind = match &change {
                    super::ClusterChange::Resync(objects) => objects.kind(),
                    super::ClusterChange::Applied(object) => object.kind(),
                    super::ClusterChange::Deleted { kind, .. } => *kind,
                };
                // Only the services whose Deployment the object belongs to: one pod changing must
                // not recompute every chain in a namespace of hundreds.
                let owner = self
                    .clusters
                    .get(&source)
                    .and_then(|c| c.namespaces.get(&namespace))
                    .map(|ns| deployment_of(ns, &change))
                    .unwrap_or(Owner::All);
                let affected: Vec<String> = if kind == super::ClusterKind::Event {
                    Vec::new()
                } else {
                    self.services
                        .iter()
                        .filter(|s| {
                            s.deploy.values().any(|d| {
                                d.kubernetes.as_ref().is_some_and(|w| {
                                    w.cluster == source
                                        && w.namespace == namespace
                                        && match &owner {
                                            Owner::All => true,
                                            Owner::Deployment(name) => &w.deployment == name,
                                        }
                                })
                            })
                        })
                        .map(|s| s.name.clone())
                        .collect()
                };
                let cluster = match self.clusters.get_mut(&source) {
                    Some(c) => c,
                    None => self.clusters.entry(source).or_default(),
                };
                cluster.apply(&namespace, change);
                for service in affected {
                    self.rechain(&service);
                }
            }
            Update::Awx { source, state } => {
                self.awx.insert(source, state);
            }
            Update::RateLimit {
                source,
                remaining,
                limit,
                reset,
            } => {
                if let Some(h) = self.sources.get_mut(&source) {
                    h.rate_limit_remaining = Some(remaining);
                    h.rate_limit_limit = limit.or(h.rate_limit_limit);
                    h.rate_limit_reset = reset;
                }
            }
            Update::Catalogue { source, entries } => {
                self.catalogue.retain(|k, _| !k.starts_with(&format!("{source}:")));
                for (name, colour) in entries {
                    self.catalogue.insert(format!("{source}:{name}"), colour);
                }
            }
            Update::SourceOk { source, at } => {
                if let Some(h) = self.sources.get_mut(&source) {
                    h.last_success = Some(at);
                    h.consecutive_failures = 0;
                    h.retry_at = None;
                }
            }
            Update::SourceFailed {
                source,
                at,
                error,
                retry_at,
            } => {
                if let Some(h) = self.sources.get_mut(&source) {
                    h.last_error = Some(error);
                    h.last_error_at = Some(at);
                    h.consecutive_failures += 1;
                    h.retry_at = retry_at;
                }
            }
            Update::SourceRetryAt { source, retry_at } => {
                if let Some(h) = self.sources.get_mut(&source) {
                    h.retry_at = Some(retry_at);
                }
            }
            Update::Queue {
                source,
                job,
                queue_url,
                at,
                state,
            } => {
                let notice = match &state {
                    QueueState::Started { number, .. } => Some((
                        NoticeLevel::Success,
                        format!("{job}: queued build started as #{number}"),
                    )),
                    QueueState::Cancelled => Some((
                        NoticeLevel::Warning,
                        format!("{job}: queued build was cancelled in Jenkins"),
                    )),
                    QueueState::Lost => Some((
                        NoticeLevel::Warning,
                        format!("{job}: Jenkins forgot the queue item before it started"),
                    )),
                    QueueState::Waiting { .. } => None,
                };
                match self.queue.iter_mut().find(|q| q.queue_url == queue_url) {
                    Some(q) => {
                        if q.state == state {
                            return;
                        }
                        q.state = state;
                    }
                    None => self.queue.push(QueueFollow {
                        source,
                        job,
                        queue_url,
                        state,
                        since: at,
                    }),
                }
                if let Some((level, text)) = notice {
                    self.push_notice(Notice { at, level, text });
                }
                // Keep only the followed items that still say something.
                if self.queue.len() > 20 {
                    self.queue.drain(..self.queue.len() - 20);
                }
            }
            Update::Action(outcome) => {
                let level = if outcome.ok {
                    NoticeLevel::Success
                } else {
                    NoticeLevel::Error
                };
                let text = if outcome.detail.is_empty() {
                    outcome.summary
                } else {
                    format!("{}: {}", outcome.summary, outcome.detail)
                };
                self.push_notice(Notice {
                    at: outcome.at,
                    level,
                    text,
                });
            }
        }
    }

    fn merge_build(&mut self, job: &str, at: chrono::DateTime<Utc>, build: Build) {
        let Some(job) = self.jobs.get_mut(job) else {
            return;
        };
        let was_waiting = job.waits_for_input() as usize;
        job.observed_at = at;
        match job.builds.iter_mut().find(|b| b.number == build.number) {
            Some(existing) => *existing = build,
            None => {
                let pos = job
                    .builds
                    .iter()
                    .position(|b| b.number < build.number)
                    .unwrap_or(job.builds.len());
                job.builds.insert(pos, build);
            }
        }
        let now_waits = job.waits_for_input() as usize;
        self.waiting = self.waiting + now_waits - was_waiting;
    }

    /// Recompute the chains of every service that uses one of these jobs.
    fn rechain_jobs(&mut self, jobs: &[String]) {
        let affected: Vec<String> = self
            .services
            .iter()
            .filter(|s| s.jobs.all().any(|j| jobs.contains(j)))
            .map(|s| s.name.clone())
            .collect();
        for service in affected {
            self.rechain(&service);
        }
    }

    /// Recompute one service's chain from what the state now holds.
    pub fn rechain(&mut self, service: &str) {
        let Some(svc) = self.services.iter().find(|s| s.name == service) else {
            return;
        };
        let chain = candidates(&ChainInputs::from_state(self, svc), CANDIDATES_PER_SERVICE);
        self.chains.insert(service.to_string(), chain);
    }

    pub fn push_notice(&mut self, notice: Notice) {
        self.notices.push(notice);
        if self.notices.len() > MAX_NOTICES {
            self.notices.remove(0);
        }
    }

    pub fn latest_notice(&self) -> Option<&Notice> {
        self.notices.last()
    }
}
