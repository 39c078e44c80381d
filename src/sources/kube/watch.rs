//! The Kubernetes source: for every namespace its services run in, one namespace-scoped watch
//! per kind (Deployments, ReplicaSets, pods, Warning events) through kube's `watcher` (list, then
//! watch from the list's resourceVersion with bookmarks, listing again after a 410), each object
//! mapped to the compact model and sent as a delta. Never a cluster-wide request.
//!
//! Health: healthy once every watch has listed and none is failing; a failing watch marks the
//! source degraded with its error and when it retries (kube's default backoff), and it recovers
//! on its own. `status` and `snapshot` use [`KubeSource::list_once`] instead: one list per kind.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ::kube::api::{Api, ListParams};
use ::kube::runtime::utils::Backoff;
use ::kube::runtime::watcher::{self, DefaultBackoff, Event as WatchEvent};
use ::kube::{Client, Resource, ResourceExt};
use chrono::Utc;
use futures::stream::{BoxStream, Stream, StreamExt};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use serde::de::DeserializeOwned;

use super::connect::LazyClient;
use super::error::KubeError;
use super::map;
use crate::model::{
    ClusterChange, ClusterKind, ClusterObject, ClusterObjects, DeploymentInfo, EventInfo, PodInfo, ReplicaSetInfo,
    Update,
};
use crate::sources::UpdateSender;

/// How often a healthy source says so (watches are quiet when nothing changes).
pub const HEARTBEAT: Duration = Duration::from_secs(60);
/// After a backoff, a watch that has not failed again within this long counts as recovered
/// (a resumed watch says nothing until something changes).
const SETTLE: Duration = Duration::from_secs(3);
/// Only Warning events: Normal ones are chatty and say nothing a release needs.
pub const WARNING_EVENTS: &str = "type=Warning";
const PAGE_SIZE: u32 = 500;

/// A kind the source watches: how its objects become the compact model.
pub trait Watched:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    const KIND: ClusterKind;
    type Info: Send + 'static;
    /// The server-side field selector the watch uses, if any.
    const FIELDS: Option<&'static str> = None;
    fn info(&self) -> Option<Self::Info>;
    fn applied(info: Self::Info) -> ClusterObject;
    fn resync(all: Vec<Self::Info>) -> ClusterObjects;
}

impl Watched for Deployment {
    const KIND: ClusterKind = ClusterKind::Deployment;
    type Info = DeploymentInfo;
    fn info(&self) -> Option<DeploymentInfo> {
        Some(map::deployment(self))
    }
    fn applied(info: DeploymentInfo) -> ClusterObject {
        ClusterObject::Deployment(Box::new(info))
    }
    fn resync(all: Vec<DeploymentInfo>) -> ClusterObjects {
        ClusterObjects::Deployments(all)
    }
}

impl Watched for ReplicaSet {
    const KIND: ClusterKind = ClusterKind::ReplicaSet;
    type Info = ReplicaSetInfo;
    fn info(&self) -> Option<ReplicaSetInfo> {
        Some(map::replica_set(self))
    }
    fn applied(info: ReplicaSetInfo) -> ClusterObject {
        ClusterObject::ReplicaSet(Box::new(info))
    }
    fn resync(all: Vec<ReplicaSetInfo>) -> ClusterObjects {
        ClusterObjects::ReplicaSets(all)
    }
}

impl Watched for Pod {
    const KIND: ClusterKind = ClusterKind::Pod;
    type Info = PodInfo;
    fn info(&self) -> Option<PodInfo> {
        Some(map::pod(self))
    }
    fn applied(info: PodInfo) -> ClusterObject {
        ClusterObject::Pod(Box::new(info))
    }
    fn resync(all: Vec<PodInfo>) -> ClusterObjects {
        ClusterObjects::Pods(all)
    }
}

impl Watched for Event {
    const KIND: ClusterKind = ClusterKind::Event;
    type Info = EventInfo;
    const FIELDS: Option<&'static str> = Some(WARNING_EVENTS);
    fn info(&self) -> Option<EventInfo> {
        map::event(self)
    }
    fn applied(info: EventInfo) -> ClusterObject {
        ClusterObject::Event(Box::new(info))
    }
    fn resync(all: Vec<EventInfo>) -> ClusterObjects {
        ClusterObjects::Events(all)
    }
}

/// What one watch tells the source's loop.
#[derive(Debug)]
enum Signal {
    Change(ClusterChange),
    /// The (re)list is complete.
    Synced,
    /// Working again after a failure, without a new list.
    Recovered,
    Failed {
        error: KubeError,
        retry_in: Duration,
    },
}

struct WatchState<K: Watched> {
    stream: Pin<Box<dyn Stream<Item = watcher::Result<WatchEvent<K>>> + Send>>,
    backoff: DefaultBackoff,
    pending: VecDeque<Signal>,
    /// Objects of a list in progress.
    buffer: Vec<K::Info>,
    sleep: Option<Duration>,
    recovering: bool,
}

/// One kind in one namespace as a stream of signals; after an error it waits out kube's default
/// backoff before polling the watcher again (which then resumes or re-lists).
fn signals<K: Watched>(api: Api<K>) -> BoxStream<'static, Signal> {
    let mut config = watcher::Config::default();
    if let Some(fields) = K::FIELDS {
        config = config.fields(fields);
    }
    let state = WatchState::<K> {
        stream: Box::pin(watcher::watcher(api, config)),
        backoff: DefaultBackoff::default(),
        pending: VecDeque::new(),
        buffer: Vec::new(),
        sleep: None,
        recovering: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(signal) = st.pending.pop_front() {
                return Some((signal, st));
            }
            if let Some(delay) = st.sleep.take() {
                tokio::time::sleep(delay).await;
                st.recovering = true;
            }
            let item = if st.recovering {
                let polled = tokio::select! {
                    item = st.stream.next() => Some(item),
                    _ = tokio::time::sleep(SETTLE) => None,
                };
                match polled {
                    Some(item) => item,
                    None => {
                        st.recovering = false;
                        return Some((Signal::Recovered, st));
                    }
                }
            } else {
                st.stream.next().await
            };
            // kube's watcher never ends; if it did, so does this watch.
            let item = item?;
            match item {
                Ok(event) => {
                    st.backoff.reset();
                    if st.recovering {
                        st.recovering = false;
                        st.pending.push_back(Signal::Recovered);
                    }
                    match event {
                        WatchEvent::Init => st.buffer.clear(),
                        WatchEvent::InitApply(o) => st.buffer.extend(o.info()),
                        WatchEvent::InitDone => {
                            let all = std::mem::take(&mut st.buffer);
                            st.pending
                                .push_back(Signal::Change(ClusterChange::Resync(K::resync(all))));
                            st.pending.push_back(Signal::Synced);
                        }
                        WatchEvent::Apply(o) => {
                            if let Some(info) = o.info() {
                                st.pending
                                    .push_back(Signal::Change(ClusterChange::Applied(K::applied(info))));
                            }
                        }
                        WatchEvent::Delete(o) => st.pending.push_back(Signal::Change(ClusterChange::Deleted {
                            kind: K::KIND,
                            name: o.name_any(),
                        })),
                    }
                }
                Err(e) => {
                    let error = KubeError::from(e);
                    if error.code() == Some(410) {
                        // The resourceVersion expired: the watcher lists again at once. Normal.
                        tracing::debug!(kind = ?K::KIND, "watch expired, re-listing");
                        continue;
                    }
                    let retry_in = st.backoff.next().unwrap_or(Duration::from_secs(30));
                    st.sleep = Some(retry_in);
                    return Some((Signal::Failed { error, retry_in }, st));
                }
            }
        }
    })
    .boxed()
}

/// Every object of a kind in a namespace, page by page.
async fn list_all<K: Watched>(api: &Api<K>) -> Result<Vec<K::Info>, KubeError> {
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(PAGE_SIZE);
    if let Some(fields) = K::FIELDS {
        params = params.fields(fields);
    }
    loop {
        let page = api.list(&params).await?;
        out.extend(page.items.iter().filter_map(|o| o.info()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

async fn list_kind(client: Client, namespace: &str, kind: ClusterKind) -> Result<ClusterObjects, KubeError> {
    Ok(match kind {
        ClusterKind::Deployment => {
            Deployment::resync(list_all::<Deployment>(&Api::namespaced(client, namespace)).await?)
        }
        ClusterKind::ReplicaSet => {
            ReplicaSet::resync(list_all::<ReplicaSet>(&Api::namespaced(client, namespace)).await?)
        }
        ClusterKind::Pod => Pod::resync(list_all::<Pod>(&Api::namespaced(client, namespace)).await?),
        ClusterKind::Event => Event::resync(list_all::<Event>(&Api::namespaced(client, namespace)).await?),
    })
}

fn watch_kind(client: Client, namespace: &str, kind: ClusterKind) -> BoxStream<'static, Signal> {
    match kind {
        ClusterKind::Deployment => signals::<Deployment>(Api::namespaced(client, namespace)),
        ClusterKind::ReplicaSet => signals::<ReplicaSet>(Api::namespaced(client, namespace)),
        ClusterKind::Pod => signals::<Pod>(Api::namespaced(client, namespace)),
        ClusterKind::Event => signals::<Event>(Api::namespaced(client, namespace)),
    }
}

/// Why a round of watches ended.
enum Ended {
    /// Nobody listens any more.
    Closed,
    /// The credentials were refused (or every watch ended): build a new client, hence a new
    /// token. `error` is not reported yet; `was_healthy` restarts the backoff.
    Reconnect { error: String, was_healthy: bool },
}

/// One cluster source (one kubeconfig context) and the namespaces its services run in.
pub struct KubeSource {
    name: String,
    client: Arc<LazyClient>,
    namespaces: Vec<String>,
    tx: UpdateSender,
}

impl KubeSource {
    /// `namespaces`: those the configured workloads on this cluster live in (duplicates ignored).
    pub fn new(name: &str, client: Arc<LazyClient>, namespaces: Vec<String>, tx: UpdateSender) -> KubeSource {
        let mut namespaces = namespaces;
        namespaces.sort();
        namespaces.dedup();
        KubeSource {
            name: name.to_string(),
            client,
            namespaces,
            tx,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    fn ok(&self) {
        let _ = self.tx.send(Update::SourceOk {
            source: self.name.clone(),
            at: Utc::now(),
        });
    }

    fn failed(&self, error: String, retry_in: Option<Duration>) {
        tracing::warn!(source = %self.name, "kubernetes: {error}");
        let _ = self.tx.send(Update::SourceFailed {
            source: self.name.clone(),
            at: Utc::now(),
            error,
            retry_at: retry_in.map(|d| Utc::now() + chrono::Duration::from_std(d).unwrap_or_default()),
        });
    }

    fn send(&self, namespace: &str, change: ClusterChange) -> bool {
        self.tx
            .send(Update::Cluster {
                source: self.name.clone(),
                namespace: namespace.to_string(),
                change,
            })
            .is_ok()
    }

    /// List every kind in every namespace once and report health (for `status` and `snapshot`).
    pub async fn list_once(&self) -> Result<(), KubeError> {
        let client = match self.client.get().await {
            Ok(c) => c,
            Err(e) => {
                self.failed(e.to_string(), None);
                return Err(e);
            }
        };
        let limit = self.client.config().timeout.max(Duration::from_secs(30));
        let lists = self.namespaces.iter().flat_map(|ns| {
            let client = client.clone();
            ClusterKind::ALL.into_iter().map(move |kind| {
                let client = client.clone();
                async move {
                    let listed = tokio::time::timeout(limit, list_kind(client, ns, kind))
                        .await
                        .unwrap_or_else(|_| Err(KubeError::Timeout(format!("no answer within {}s", limit.as_secs()))));
                    (ns, kind, listed)
                }
            })
        });
        let results = futures::future::join_all(lists).await;
        let mut first: Option<(String, KubeError)> = None;
        let mut failed = 0;
        for (ns, kind, listed) in results {
            match listed {
                Ok(objects) => {
                    self.send(ns, ClusterChange::Resync(objects));
                }
                Err(e) => {
                    failed += 1;
                    if first.is_none() {
                        first = Some((format!("{ns}/{}", kind.plural()), e));
                    }
                }
            }
        }
        match first {
            None => {
                self.ok();
                Ok(())
            }
            Some((what, e)) => {
                let mut error = format!("{what}: {e}");
                if failed > 1 {
                    error.push_str(&format!(" (and {} more lists failed)", failed - 1));
                }
                self.failed(error, None);
                Err(e)
            }
        }
    }

    /// Watch until the update channel closes: connect (retrying with backoff), watch every
    /// namespace and kind, and reconnect when the credentials are refused.
    pub async fn run(self) {
        let mut backoff = DefaultBackoff::default();
        loop {
            if self.tx.is_closed() {
                return;
            }
            let client = match self.client.get().await {
                Ok(c) => c,
                Err(e) => {
                    let delay = backoff.next().unwrap_or(Duration::from_secs(30));
                    self.failed(e.to_string(), Some(delay));
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            match self.watch(client).await {
                Ended::Closed => return,
                Ended::Reconnect { error, was_healthy } => {
                    if was_healthy {
                        backoff.reset();
                    }
                    let delay = backoff.next().unwrap_or(Duration::from_secs(30));
                    self.failed(
                        format!("{error} (reconnecting in {}s)", delay.as_secs().max(1)),
                        Some(delay),
                    );
                    self.client.invalidate().await;
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn watch(&self, client: Client) -> Ended {
        let mut labels: Vec<(&str, ClusterKind)> = Vec::new();
        let mut streams = Vec::new();
        for ns in &self.namespaces {
            for kind in ClusterKind::ALL {
                let index = labels.len();
                labels.push((ns, kind));
                streams.push(watch_kind(client.clone(), ns, kind).map(move |s| (index, s)).boxed());
            }
        }
        let mut merged = futures::stream::select_all(streams);
        let mut synced = vec![false; labels.len()];
        let mut failing = vec![false; labels.len()];
        let mut healthy = false;
        if labels.is_empty() {
            // No workload on this cluster: nothing to watch, nothing wrong.
            self.ok();
            healthy = true;
        }
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        loop {
            let next = tokio::select! {
                next = merged.next(), if !labels.is_empty() => next,
                _ = heartbeat.tick() => {
                    if self.tx.is_closed() {
                        return Ended::Closed;
                    }
                    if healthy {
                        self.ok();
                    }
                    continue;
                }
            };
            let Some((index, signal)) = next else {
                // Every watch ended (kube's never do): start over.
                return Ended::Reconnect {
                    error: "every watch ended".into(),
                    was_healthy: healthy,
                };
            };
            let (ns, kind) = labels[index];
            match signal {
                Signal::Change(change) => {
                    if !self.send(ns, change) {
                        return Ended::Closed;
                    }
                }
                Signal::Synced | Signal::Recovered => {
                    if matches!(signal, Signal::Synced) {
                        synced[index] = true;
                    }
                    failing[index] = false;
                    let now_healthy = synced.iter().all(|s| *s) && !failing.iter().any(|f| *f);
                    if now_healthy && !healthy {
                        self.ok();
                    }
                    healthy = now_healthy;
                }
                Signal::Failed { error, retry_in } => {
                    if error.is_unauthorized() {
                        return Ended::Reconnect {
                            error: format!("{ns}/{}: {error}", kind.plural()),
                            was_healthy: healthy,
                        };
                    }
                    failing[index] = true;
                    healthy = false;
                    self.failed(
                        format!(
                            "{ns}/{}: {error} (retrying in {}s)",
                            kind.plural(),
                            retry_in.as_secs().max(1)
                        ),
                        Some(retry_in),
                    );
                }
            }
        }
    }
}
