//! Kubernetes clusters as the cockpit sees them: compact copies of the Deployments, ReplicaSets,
//! pods and Warning events of the watched namespaces (not the full API objects: a big estate holds
//! thousands of pods), how `kubectl rollout status` would judge a Deployment, and a view of one
//! configured workload with the image digests its pods really run.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{State, WorkloadRef};

/// The Deployment's (and its ReplicaSets') revision, kept by the deployment controller.
pub const ANNOTATION_REVISION: &str = "deployment.kubernetes.io/revision";
/// Why a revision was made (`kubectl --record`, and Flightdeck's own changes).
pub const ANNOTATION_CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
/// Who started the change through Flightdeck.
pub const ANNOTATION_STARTED_BY: &str = "flightdeck.dev/started-by";
/// What `kubectl rollout restart` sets on the pod template.
pub const ANNOTATION_RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// The label tying a ReplicaSet and its pods to one pod template.
pub const LABEL_POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// How many Warning events a namespace keeps (the newest).
pub const MAX_EVENTS_PER_NAMESPACE: usize = 100;

/// One cluster (one kubeconfig context): the watched namespaces by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterState {
    pub namespaces: BTreeMap<String, NamespaceState>,
}

/// What one namespace holds, by object name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespaceState {
    pub deployments: BTreeMap<String, DeploymentInfo>,
    pub replica_sets: BTreeMap<String, ReplicaSetInfo>,
    pub pods: BTreeMap<String, PodInfo>,
    /// Warning events only, at most [`MAX_EVENTS_PER_NAMESPACE`], the oldest dropped first.
    pub events: Vec<EventInfo>,
    /// The kinds whose first list has arrived: an empty map of a listed kind is really empty.
    pub listed: BTreeSet<ClusterKind>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterKind {
    Deployment,
    ReplicaSet,
    Pod,
    Event,
}

impl ClusterKind {
    pub const ALL: [ClusterKind; 4] = [
        ClusterKind::Deployment,
        ClusterKind::ReplicaSet,
        ClusterKind::Pod,
        ClusterKind::Event,
    ];

    /// The plural the API uses in paths (`deployments`, `replicasets`…).
    pub fn plural(self) -> &'static str {
        match self {
            ClusterKind::Deployment => "deployments",
            ClusterKind::ReplicaSet => "replicasets",
            ClusterKind::Pod => "pods",
            ClusterKind::Event => "events",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_update: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentInfo {
    pub name: String,
    pub generation: i64,
    /// `status.observedGeneration`; 0 when missing.
    pub observed_generation: i64,
    /// `spec.replicas`; the server defaults it to 1, so `None` only for hand-made objects.
    pub spec_replicas: Option<i32>,
    // Status counts; missing ones are 0 (the API omits zero values).
    pub replicas: i32,
    pub updated_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub unavailable_replicas: i32,
    pub paused: bool,
    pub progress_deadline_seconds: Option<i32>,
    pub revision_history_limit: Option<i32>,
    /// The `deployment.kubernetes.io/revision` annotation.
    pub revision: Option<i64>,
    pub conditions: Vec<Condition>,
    /// The pod template's containers.
    pub containers: Vec<ContainerSpec>,
    /// `spec.selector.matchLabels`.
    pub selector: BTreeMap<String, String>,
    pub change_cause: Option<String>,
    pub started_by: Option<String>,
    /// The pod template's `kubectl.kubernetes.io/restartedAt` annotation.
    pub restarted_at: Option<String>,
    pub created: Option<DateTime<Utc>>,
}

impl DeploymentInfo {
    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }

    pub fn container(&self, name: &str) -> Option<&ContainerSpec> {
        self.containers.iter().find(|c| c.name == name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaSetInfo {
    pub name: String,
    pub revision: Option<i64>,
    /// The Deployment owning it (its controller owner reference).
    pub owner: Option<String>,
    pub pod_template_hash: Option<String>,
    /// `spec.replicas` (the server defaults it to 1).
    pub desired: i32,
    pub replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub containers: Vec<ContainerSpec>,
    pub change_cause: Option<String>,
    pub created: Option<DateTime<Utc>>,
}

impl ReplicaSetInfo {
    pub fn container(&self, name: &str) -> Option<&ContainerSpec> {
        self.containers.iter().find(|c| c.name == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// `CrashLoopBackOff`, `ImagePullBackOff`, `ErrImagePull`, `ContainerCreating`…
    pub reason: String,
    pub message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terminated {
    pub reason: Option<String>,
    pub exit_code: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerStatusInfo {
    pub name: String,
    /// The image as the pod asked for it (tag or digest reference).
    pub image: String,
    /// The digest it runs (`sha256:…`), from `imageID`; `None` until the image is pulled.
    pub digest: Option<String>,
    pub ready: bool,
    pub restarts: i32,
    pub waiting: Option<Waiting>,
    /// The current state when the container has stopped.
    pub terminated: Option<Terminated>,
    /// How it ended last time (after a crash: the exit code worth showing).
    pub last_terminated: Option<Terminated>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PodInfo {
    pub name: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    pub phase: String,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    /// Restarts of all its containers.
    pub restarts: i32,
    /// One per container of the spec, with its status when the kubelet has reported one.
    pub containers: Vec<ContainerStatusInfo>,
    /// The ReplicaSet owning it.
    pub owner: Option<String>,
    pub pod_template_hash: Option<String>,
    pub node: Option<String>,
    /// `status.reason`, e.g. `Evicted`.
    pub reason: Option<String>,
    /// Being deleted (`deletionTimestamp` set).
    pub terminating: bool,
    pub created: Option<DateTime<Utc>>,
}

impl PodInfo {
    pub fn container(&self, name: &str) -> Option<&ContainerStatusInfo> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// The first reason a container of the pod is waiting, e.g. `CrashLoopBackOff`.
    pub fn waiting_reason(&self) -> Option<&str> {
        self.containers
            .iter()
            .find_map(|c| c.waiting.as_ref().map(|w| w.reason.as_str()))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventInfo {
    /// The Event object's name (updates of one event share it).
    pub name: String,
    pub involved_kind: String,
    pub involved_name: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
    pub last_seen: Option<DateTime<Utc>>,
}

/// A change the Kubernetes source observed in one namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClusterChange {
    /// Everything of one kind, after a watch's (re)list: replaces what was known of that kind.
    Resync(ClusterObjects),
    /// One object was added or modified.
    Applied(ClusterObject),
    Deleted {
        kind: ClusterKind,
        name: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClusterObjects {
    Deployments(Vec<DeploymentInfo>),
    ReplicaSets(Vec<ReplicaSetInfo>),
    Pods(Vec<PodInfo>),
    Events(Vec<EventInfo>),
}

impl ClusterObjects {
    pub fn kind(&self) -> ClusterKind {
        match self {
            ClusterObjects::Deployments(_) => ClusterKind::Deployment,
            ClusterObjects::ReplicaSets(_) => ClusterKind::ReplicaSet,
            ClusterObjects::Pods(_) => ClusterKind::Pod,
            ClusterObjects::Events(_) => ClusterKind::Event,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ClusterObjects::Deployments(v) => v.len(),
            ClusterObjects::ReplicaSets(v) => v.len(),
            ClusterObjects::Pods(v) => v.len(),
            ClusterObjects::Events(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClusterObject {
    Deployment(Box<DeploymentInfo>),
    ReplicaSet(Box<ReplicaSetInfo>),
    Pod(Box<PodInfo>),
    Event(Box<EventInfo>),
}

impl ClusterObject {
    pub fn kind(&self) -> ClusterKind {
        match self {
            ClusterObject::Deployment(_) => ClusterKind::Deployment,
            ClusterObject::ReplicaSet(_) => ClusterKind::ReplicaSet,
            ClusterObject::Pod(_) => ClusterKind::Pod,
            ClusterObject::Event(_) => ClusterKind::Event,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ClusterObject::Deployment(o) => &o.name,
            ClusterObject::ReplicaSet(o) => &o.name,
            ClusterObject::Pod(o) => &o.name,
            ClusterObject::Event(o) => &o.name,
        }
    }
}

impl ClusterState {
    /// Merge one change (the reducer's arm). Logarithmic in the namespace's size, except a
    /// resync, which replaces a whole kind.
    pub fn apply(&mut self, namespace: &str, change: ClusterChange) {
        let ns = match self.namespaces.get_mut(namespace) {
            Some(ns) => ns,
            None => self.namespaces.entry(namespace.to_string()).or_default(),
        };
        ns.apply(change);
    }

    pub fn deployment(&self, namespace: &str, name: &str) -> Option<&DeploymentInfo> {
        self.namespaces.get(namespace)?.deployments.get(name)
    }

    /// The view of one configured workload (its `cluster` is this state's source; not checked).
    pub fn workload(&self, workload: &WorkloadRef) -> Option<WorkloadView<'_>> {
        self.namespaces
            .get(&workload.namespace)?
            .workload(&workload.deployment, &workload.container)
    }
}

impl NamespaceState {
    pub fn apply(&mut self, change: ClusterChange) {
        match change {
            ClusterChange::Resync(objects) => {
                self.listed.insert(objects.kind());
                match objects {
                    ClusterObjects::Deployments(v) => {
                        self.deployments = v.into_iter().map(|o| (o.name.clone(), o)).collect()
                    }
                    ClusterObjects::ReplicaSets(v) => {
                        self.replica_sets = v.into_iter().map(|o| (o.name.clone(), o)).collect()
                    }
                    ClusterObjects::Pods(v) => self.pods = v.into_iter().map(|o| (o.name.clone(), o)).collect(),
                    ClusterObjects::Events(mut v) => {
                        v.sort_by_key(|e| e.last_seen);
                        let excess = v.len().saturating_sub(MAX_EVENTS_PER_NAMESPACE);
                        v.drain(..excess);
                        self.events = v;
                    }
                }
            }
            ClusterChange::Applied(object) => match object {
                ClusterObject::Deployment(o) => {
                    self.deployments.insert(o.name.clone(), *o);
                }
                ClusterObject::ReplicaSet(o) => {
                    self.replica_sets.insert(o.name.clone(), *o);
                }
                ClusterObject::Pod(o) => {
                    self.pods.insert(o.name.clone(), *o);
                }
                ClusterObject::Event(o) => self.apply_event(*o),
            },
            ClusterChange::Deleted { kind, name } => match kind {
                ClusterKind::Deployment => {
                    self.deployments.remove(&name);
                }
                ClusterKind::ReplicaSet => {
                    self.replica_sets.remove(&name);
                }
                ClusterKind::Pod => {
                    self.pods.remove(&name);
                }
                ClusterKind::Event => self.events.retain(|e| e.name != name),
            },
        }
    }

    /// Replace an event by name or add it; past the bound, the one seen longest ago goes.
    /// Linear in the (bounded) number of events.
    fn apply_event(&mut self, event: EventInfo) {
        if let Some(old) = self.events.iter_mut().find(|e| e.name == event.name) {
            *old = event;
            return;
        }
        self.events.push(event);
        if self.events.len() > MAX_EVENTS_PER_NAMESPACE
            && let Some(oldest) = self
                .events
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| a.last_seen.cmp(&b.last_seen))
                .map(|(i, _)| i)
        {
            self.events.remove(oldest);
        }
    }

    /// The ReplicaSets a Deployment owns, newest revision first. The controller names them
    /// `<deployment>-<hash>`, so only that name range is walked (and ownership then checked).
    pub fn replica_sets_of(&self, deployment: &str) -> Vec<&ReplicaSetInfo> {
        let mut rss: Vec<&ReplicaSetInfo> = with_prefix(&self.replica_sets, &format!("{deployment}-"))
            .filter(|rs| rs.owner.as_deref() == Some(deployment))
            .collect();
        rss.sort_by(|a, b| b.revision.cmp(&a.revision).then_with(|| b.created.cmp(&a.created)));
        rss
    }

    /// The pods a ReplicaSet owns (named `<replicaset>-<suffix>` by its controller).
    pub fn pods_of<'a>(&'a self, replica_set: &'a str) -> impl Iterator<Item = &'a PodInfo> {
        with_prefix(&self.pods, &format!("{replica_set}-")).filter(move |p| p.owner.as_deref() == Some(replica_set))
    }

    pub fn workload(&self, deployment: &str, container: &str) -> Option<WorkloadView<'_>> {
        let d = self.deployments.get(deployment)?;
        let replica_sets = self.replica_sets_of(deployment);
        let current = replica_sets.first().copied();
        let mut pods: Vec<&PodInfo> = replica_sets.iter().flat_map(|rs| self.pods_of(&rs.name)).collect();
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        let about = |e: &EventInfo| match e.involved_kind.as_str() {
            "Deployment" => e.involved_name == deployment,
            "ReplicaSet" => replica_sets.iter().any(|rs| rs.name == e.involved_name),
            "Pod" => pods.binary_search_by(|p| p.name.as_str().cmp(&e.involved_name)).is_ok(),
            _ => false,
        };
        let mut events: Vec<&EventInfo> = self.events.iter().filter(|e| about(e)).collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
        Some(WorkloadView {
            deployment: d,
            status: rollout_status(d),
            current,
            replica_sets,
            pods,
            events,
            container: container.to_string(),
        })
    }
}

fn with_prefix<'a, T>(map: &'a BTreeMap<String, T>, prefix: &str) -> impl Iterator<Item = &'a T> + use<'a, T> {
    let owned = prefix.to_string();
    map.range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(&owned))
        .map(|(_, v)| v)
}

impl State {
    /// The view of a configured workload, from the cluster source it names.
    pub fn workload(&self, workload: &WorkloadRef) -> Option<WorkloadView<'_>> {
        self.clusters.get(&workload.cluster)?.workload(workload)
    }
}

/// One configured workload: its Deployment, ReplicaSets, pods and Warning events.
#[derive(Clone, Debug)]
pub struct WorkloadView<'a> {
    pub deployment: &'a DeploymentInfo,
    pub status: RolloutStatus,
    /// Owned ReplicaSets, newest revision first.
    pub replica_sets: Vec<&'a ReplicaSetInfo>,
    /// The ReplicaSet of the newest revision: the pod template new pods come from.
    pub current: Option<&'a ReplicaSetInfo>,
    /// The pods of those ReplicaSets, by name.
    pub pods: Vec<&'a PodInfo>,
    /// Warning events about the Deployment, its ReplicaSets and its pods, newest first.
    pub events: Vec<&'a EventInfo>,
    /// The configured container.
    pub container: String,
}

/// One digest the configured container runs, and in how many pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningDigest {
    pub digest: String,
    pub pods: usize,
    pub ready: usize,
    /// Some of those pods belong to the current ReplicaSet.
    pub current: bool,
}

impl<'a> WorkloadView<'a> {
    /// The configured container's image in the Deployment's spec (a tag or digest reference).
    pub fn spec_image(&self) -> Option<&'a str> {
        self.deployment.container(&self.container).map(|c| c.image.as_str())
    }

    /// Pods of the current ReplicaSet.
    pub fn current_pods(&self) -> impl Iterator<Item = &'a PodInfo> + '_ {
        let current = self.current.map(|rs| rs.name.as_str());
        self.pods
            .iter()
            .copied()
            .filter(move |p| current.is_some() && p.owner.as_deref() == current)
    }

    /// The digest every ready pod of the current ReplicaSet runs in the configured container;
    /// `None` when no such pod is ready, or they disagree, or one has not reported its digest.
    pub fn running_digest(&self) -> Option<&'a str> {
        let mut digest: Option<&'a str> = None;
        for pod in self.current_pods().filter(|p| p.ready && !p.terminating) {
            let d = pod.container(&self.container)?.digest.as_deref()?;
            match digest {
                None => digest = Some(d),
                Some(seen) if seen != d => return None,
                Some(_) => {}
            }
        }
        digest
    }

    /// Every digest the configured container runs across the workload's pods, most pods first.
    pub fn digests(&self) -> Vec<RunningDigest> {
        let current = self.current.map(|rs| rs.name.as_str());
        let mut out: Vec<RunningDigest> = Vec::new();
        for pod in &self.pods {
            let Some(digest) = pod.container(&self.container).and_then(|c| c.digest.as_deref()) else {
                continue;
            };
            let entry = match out.iter_mut().position(|d| d.digest == digest) {
                Some(i) => &mut out[i],
                None => {
                    out.push(RunningDigest {
                        digest: digest.to_string(),
                        pods: 0,
                        ready: 0,
                        current: false,
                    });
                    out.last_mut().expect("just pushed")
                }
            };
            entry.pods += 1;
            entry.ready += pod.ready as usize;
            entry.current |= current.is_some() && pod.owner.as_deref() == current;
        }
        out.sort_by(|a, b| b.pods.cmp(&a.pods).then_with(|| a.digest.cmp(&b.digest)));
        out
    }

    /// What `kubectl rollout undo` would do now (see [`plan_undo`]).
    pub fn plan_undo(&self, to_revision: Option<i64>) -> Result<UndoPlan, String> {
        plan_undo(self.deployment, self.replica_sets.iter().copied(), to_revision)
    }
}

/// The digest in a container status's `imageID`, normalised to `sha256:…`. Runtimes write
/// `docker-pullable://repo@sha256:…`, `docker.io/library/repo@sha256:…` or `sha256:…`.
pub fn image_digest(image_id: &str) -> Option<String> {
    let id = image_id.trim();
    let tail = match id.rsplit_once('@') {
        Some((_, digest)) => digest,
        None => id.rsplit_once("://").map(|(_, rest)| rest).unwrap_or(id),
    };
    let (algorithm, hex) = tail.split_once(':')?;
    let valid = !algorithm.is_empty()
        && algorithm.chars().all(|c| c.is_ascii_alphanumeric())
        && hex.len() >= 32
        && hex.chars().all(|c| c.is_ascii_hexdigit());
    valid.then(|| format!("{}:{}", algorithm.to_ascii_lowercase(), hex.to_ascii_lowercase()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutPhase {
    /// The controller has not yet seen the newest spec.
    Waiting,
    Progressing,
    Complete,
    /// The progress deadline passed (kubectl exits with an error).
    Failed,
    /// `spec.paused`: the rollout will not move until resumed (kubectl would wait forever).
    Paused,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutStatus {
    pub phase: RolloutPhase,
    /// kubectl's words (without its trailing newline).
    pub message: String,
}

impl RolloutStatus {
    /// Nothing more will happen without someone acting: complete, failed or paused.
    pub fn is_settled(&self) -> bool {
        matches!(
            self.phase,
            RolloutPhase::Complete | RolloutPhase::Failed | RolloutPhase::Paused
        )
    }
}

/// How `kubectl rollout status` judges a Deployment, check by check in kubectl's order, with
/// its messages; and `Paused` where kubectl would keep waiting on a paused Deployment.
pub fn rollout_status(d: &DeploymentInfo) -> RolloutStatus {
    let name = &d.name;
    let status = |phase, message: String| RolloutStatus { phase, message };
    if d.generation > d.observed_generation {
        let message = "Waiting for deployment spec update to be observed...".to_string();
        return if d.paused {
            status(RolloutPhase::Paused, paused_message(name, &message))
        } else {
            status(RolloutPhase::Waiting, message)
        };
    }
    if d.condition("Progressing")
        .is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
    {
        return status(
            RolloutPhase::Failed,
            format!("deployment {name:?} exceeded its progress deadline"),
        );
    }
    let waiting = if let Some(want) = d.spec_replicas.filter(|want| d.updated_replicas < *want) {
        Some(format!(
            "Waiting for deployment {name:?} rollout to finish: {} out of {want} new replicas have been updated...",
            d.updated_replicas
        ))
    } else if d.replicas > d.updated_replicas {
        Some(format!(
            "Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...",
            d.replicas - d.updated_replicas
        ))
    } else if d.available_replicas < d.updated_replicas {
        Some(format!(
            "Waiting for deployment {name:?} rollout to finish: {} of {} updated replicas are available...",
            d.available_replicas, d.updated_replicas
        ))
    } else {
        None
    };
    match waiting {
        Some(message) if d.paused => status(RolloutPhase::Paused, paused_message(name, &message)),
        Some(message) => status(RolloutPhase::Progressing, message),
        None => status(
            RolloutPhase::Complete,
            format!("deployment {name:?} successfully rolled out"),
        ),
    }
}

fn paused_message(name: &str, waiting: &str) -> String {
    format!("deployment {name:?} is paused; resume it to continue ({waiting})")
}

/// What a rollback would do, for the confirm dialog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoPlan {
    /// The Deployment's revision now.
    pub from_revision: Option<i64>,
    pub to_revision: i64,
    /// The ReplicaSet whose pod template comes back.
    pub replica_set: String,
    /// Its containers and images.
    pub containers: Vec<ContainerSpec>,
    pub change_cause: Option<String>,
    /// The template already is that revision's: kubectl skips the rollback.
    pub skipped: bool,
}

/// What `kubectl rollout undo [--to-revision=N]` would do, from the compact model: the
/// revision to go back to (the previous one, i.e. the second highest, when `to_revision` is
/// `None` or 0), refused for a paused Deployment, skipped when that revision is the current
/// template. Errors carry kubectl's words.
pub fn plan_undo<'a>(
    deployment: &DeploymentInfo,
    replica_sets: impl IntoIterator<Item = &'a ReplicaSetInfo>,
    to_revision: Option<i64>,
) -> Result<UndoPlan, String> {
    let to_revision = to_revision.filter(|r| *r != 0);
    if let Some(r) = to_revision.filter(|r| *r < 0) {
        return Err(format!("unable to find specified revision {r} in history"));
    }
    let owned: Vec<&ReplicaSetInfo> = replica_sets
        .into_iter()
        .filter(|rs| rs.owner.as_deref() == Some(deployment.name.as_str()))
        .collect();
    let latest = owned.iter().filter_map(|rs| rs.revision).max();
    let target = match to_revision {
        Some(r) => owned
            .iter()
            .find(|rs| rs.revision == Some(r))
            .ok_or_else(|| format!("unable to find specified revision {r} in history"))?,
        None => owned
            .iter()
            .filter(|rs| rs.revision.is_some() && rs.revision != latest)
            .max_by_key(|rs| rs.revision)
            .ok_or_else(|| format!("no rollout history found for deployment {:?}", deployment.name))?,
    };
    if deployment.paused {
        return Err(paused_undo_error(&deployment.name));
    }
    // kubectl compares whole templates; here the newest ReplicaSet stands for the current
    // template as long as its containers still match the Deployment's.
    let skipped = target.revision == latest && target.containers == deployment.containers;
    Ok(UndoPlan {
        from_revision: deployment.revision.or(latest),
        to_revision: target.revision.unwrap_or_default(),
        replica_set: target.name.clone(),
        containers: target.containers.clone(),
        change_cause: target.change_cause.clone(),
        skipped,
    })
}

/// kubectl's refusal to roll back a paused Deployment.
pub fn paused_undo_error(deployment: &str) -> String {
    format!(
        "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume deployment/{deployment}' and try again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(name: &str, owner: &str, revision: i64, image: &str) -> ReplicaSetInfo {
        ReplicaSetInfo {
            name: name.into(),
            revision: Some(revision),
            owner: Some(owner.into()),
            pod_template_hash: name.rsplit('-').next().map(str::to_string),
            desired: 1,
            replicas: 1,
            ready_replicas: 1,
            available_replicas: 1,
            containers: vec![ContainerSpec {
                name: "app".into(),
                image: image.into(),
            }],
            change_cause: None,
            created: None,
        }
    }

    #[test]
    fn digests_normalise() {
        let hex = "621c2f39f8133acb8e64023a94dbdf0d5ca81896102b9e57c0dc184cadaf5528";
        for id in [
            format!("docker-pullable://alpine@sha256:{hex}"),
            format!("docker.io/library/alpine@sha256:{hex}"),
            format!("sha256:{hex}"),
            format!("docker://sha256:{hex}"),
        ] {
            assert_eq!(image_digest(&id), Some(format!("sha256:{hex}")), "{id}");
        }
        assert_eq!(image_digest(""), None);
        assert_eq!(image_digest("alpine:latest"), None);
    }

    #[test]
    fn prefix_walk_checks_owner() {
        let mut ns = NamespaceState::default();
        for r in [
            rs("shop-aaa", "shop", 1, "a"),
            rs("shop-bbb", "shop", 2, "b"),
            rs("shop-api-ccc", "shop-api", 1, "c"),
        ] {
            ns.apply(ClusterChange::Applied(ClusterObject::ReplicaSet(Box::new(r))));
        }
        let names: Vec<&str> = ns.replica_sets_of("shop").iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["shop-bbb", "shop-aaa"]);
        assert_eq!(ns.replica_sets_of("shop-api").len(), 1);
    }

    #[test]
    fn events_are_bounded_newest_kept() {
        let mut ns = NamespaceState::default();
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
        for i in 0..(MAX_EVENTS_PER_NAMESPACE + 5) {
            ns.apply(ClusterChange::Applied(ClusterObject::Event(Box::new(EventInfo {
                name: format!("e{i}"),
                involved_kind: "Pod".into(),
                involved_name: "p".into(),
                reason: "BackOff".into(),
                message: String::new(),
                count: 1,
                last_seen: Some(at + chrono::Duration::seconds(i as i64)),
            }))));
        }
        assert_eq!(ns.events.len(), MAX_EVENTS_PER_NAMESPACE);
        assert!(!ns.events.iter().any(|e| e.name == "e0" || e.name == "e4"));
        assert!(ns.events.iter().any(|e| e.name == "e5"));
    }
}
