//! Two simulated Kubernetes clusters, each its own API server on 127.0.0.1,
//! for the real `kube` client (list, watch, get, patch) through a generated
//! kubeconfig:
//!
//! - **kubeadm**: kubeconfig cluster `kubernetes`, user `kubernetes-admin`,
//!   context [`KUBEADM_CONTEXT`]; a static bearer token (see `auth.rs`);
//!   namespace [`STAGING_NAMESPACE`] is the staging environment.
//! - **EKS**: cluster, user and context named by the cluster ARN
//!   ([`EKS_CONTEXT`]), as `aws eks update-kubeconfig` writes them; an exec
//!   plugin (`flightdeck sim-eks-token`) fetches short-lived `k8s-aws-v1.`
//!   tokens from the cluster's `/__token`; namespace
//!   [`PRODUCTION_NAMESPACE`] is production.
//!
//! The API subset: discovery (`/version`, `/api`, `/apis`, …), namespaced
//! lists and watches of Deployments, ReplicaSets, Pods and Events with
//! label/field selectors, `limit`/`continue` paging, `resourceVersion`,
//! bookmarks and `timeoutSeconds`; GETs of single objects; PATCH of
//! Deployments (strategic merge, merge, JSON patch). Cluster-wide paths
//! answer 403. Errors are `Status` objects.
//!
//! Behind it, a small deployment controller, ReplicaSet controller and
//! kubelet (`controller.rs`, `kubelet.rs`) run on the story clock: a patch
//! to a Deployment's template rolls out over a few seconds of story time
//! (or stalls on an image the registries do not hold, or crash-loops),
//! with the status, conditions and events of the real controllers. Pods
//! report the digest actually pulled: the estate's OCI registry and ECR
//! resolve tags at pull time.
//!
//! The story at start is in `story.rs` and [`KubeFacts`].
//!
//! Faults set on the estate apply to the clusters, matched against
//! `/kube/<cluster><path>` with `<cluster>` = `kubernetes` or `shop-prod`.
//!
//! For tests outside the process, each cluster's server also answers
//! `GET`/`DELETE /__sim/stats` (its [`KubeStats`]), `GET`/`DELETE
//! /__sim/requests`, `GET /__sim/facts` ([`KubeFacts`]) and `POST
//! /__sim/tick?seconds=N` (the estate's story clock).

mod access;
mod auth;
mod cluster;
mod control;
mod controller;
mod facts;
mod kubeconfig;
mod kubelet;
mod objects;
mod patch;
mod routes;
mod select;
mod server;
mod store;
mod story;
mod watch;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::faults::lock;
use super::images::{self, ImageState};
use super::jenkins::Ms;
use super::story::{SEC, World};
use super::{RequestLog, Shared, SimOptions};

pub use auth::fetch_exec_credential;
pub use facts::{
    CrashLoopFact, DeadlineExceededFact, DriftFact, KubeClusterFact, KubeDeploymentFact, KubeFacts, KubeWorkload,
    PausedRolloutFact, PromotionTargetFact,
};

use cluster::{Cluster, ClusterSpec, Pull};

/// The kubeadm cluster's context (`<user>@<cluster>`, as kubeadm writes it).
pub const KUBEADM_CONTEXT: &str = "kubernetes-admin@kubernetes";
/// The EKS cluster's ARN: its kubeconfig cluster, user and context name.
pub const EKS_CONTEXT: &str = "arn:aws:eks:eu-west-1:314159265358:cluster/shop-prod";
/// The EKS cluster's name (`aws eks get-token --cluster-name`).
pub const EKS_CLUSTER_NAME: &str = "shop-prod";
/// The namespace of the staging environment (kubeadm cluster).
pub const STAGING_NAMESPACE: &str = "shop-staging";
/// The namespace of the production environment (EKS cluster).
pub const PRODUCTION_NAMESPACE: &str = "shop-production";

/// Counters of one simulated cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KubeStats {
    pub lists: u64,
    pub watches: u64,
    pub gets: u64,
    pub patches: u64,
    /// Discovery-free everything else (wrong methods, unknown paths).
    pub others: u64,
    /// Watch streams open right now.
    pub watches_open: u64,
    /// Lines sent on watch streams (events, bookmarks, errors).
    pub watch_events_sent: u64,
    /// Response body bytes: lists, objects and watch lines.
    pub bytes_sent: u64,
    /// Cluster-wide lists and watches refused with 403.
    pub cluster_wide_refused: u64,
    /// EKS tokens issued by `/__token`.
    pub tokens_issued: u64,
    /// Requests refused with 401 (no, unknown or expired token).
    pub unauthorized: u64,
}

/// The counters, updated without taking the cluster's lock.
#[derive(Default)]
pub(crate) struct Counters {
    lists: AtomicU64,
    watches: AtomicU64,
    gets: AtomicU64,
    patches: AtomicU64,
    others: AtomicU64,
    watches_open: AtomicU64,
    watch_events_sent: AtomicU64,
    bytes_sent: AtomicU64,
    cluster_wide_refused: AtomicU64,
    tokens_issued: AtomicU64,
    unauthorized: AtomicU64,
}

impl Counters {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_request(&self, verb: routes::Verb) {
        let c = match verb {
            routes::Verb::List => &self.lists,
            routes::Verb::Watch => &self.watches,
            routes::Verb::Get => &self.gets,
            routes::Verb::Patch => &self.patches,
            routes::Verb::Other => &self.others,
        };
        Self::add(c, 1);
    }

    pub(crate) fn add_bytes(&self, n: u64) {
        Self::add(&self.bytes_sent, n);
    }

    pub(crate) fn add_event(&self, bytes: u64) {
        Self::add(&self.watch_events_sent, 1);
        Self::add(&self.bytes_sent, bytes);
    }

    pub(crate) fn add_refused(&self) {
        Self::add(&self.cluster_wide_refused, 1);
    }

    pub(crate) fn add_token(&self) {
        Self::add(&self.tokens_issued, 1);
    }

    pub(crate) fn add_unauthorized(&self) {
        Self::add(&self.unauthorized, 1);
    }

    pub(crate) fn watch_opened(&self) {
        Self::add(&self.watches_open, 1);
    }

    pub(crate) fn watch_closed(&self) {
        let _ = self
            .watches_open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
    }

    fn snapshot(&self) -> KubeStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        KubeStats {
            lists: get(&self.lists),
            watches: get(&self.watches),
            gets: get(&self.gets),
            patches: get(&self.patches),
            others: get(&self.others),
            watches_open: get(&self.watches_open),
            watch_events_sent: get(&self.watch_events_sent),
            bytes_sent: get(&self.bytes_sent),
            cluster_wide_refused: get(&self.cluster_wide_refused),
            tokens_issued: get(&self.tokens_issued),
            unauthorized: get(&self.unauthorized),
        }
    }

    /// Zeroes everything but the open-watch gauge.
    fn reset(&self) {
        for c in [
            &self.lists,
            &self.watches,
            &self.gets,
            &self.patches,
            &self.others,
            &self.watch_events_sent,
            &self.bytes_sent,
            &self.cluster_wide_refused,
            &self.tokens_issued,
            &self.unauthorized,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// One cluster: what it is, its state, its counters and its request log.
pub(crate) struct ClusterHandle {
    pub spec: ClusterSpec,
    pub url: String,
    /// When the cluster was set up (its namespaces' creation time).
    pub created: Ms,
    pub state: Mutex<Cluster>,
    pub counters: Counters,
    pub tokens: Mutex<auth::Tokens>,
    pub requests: Mutex<RequestLog>,
}

/// Both clusters and what they share.
pub(crate) struct KubeSim {
    /// Index 0: kubeadm (staging); 1: EKS (production).
    pub clusters: Vec<ClusterHandle>,
    pub facts: KubeFacts,
    pub static_token: String,
    pub token_lifetime: Duration,
    pub bookmark_interval: Duration,
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

/// Binds the two API servers' listeners (before the estate's state exists).
pub(crate) async fn bind() -> std::io::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    for _ in 0..2 {
        out.push(TcpListener::bind(("127.0.0.1", 0)).await?);
    }
    Ok(out)
}

/// Serves each cluster on its listener; the tasks end when aborted.
pub(crate) fn serve(listeners: Vec<TcpListener>, shared: &std::sync::Arc<Shared>) -> Vec<JoinHandle<()>> {
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| tokio::spawn(server::serve(l, shared.clone(), i)))
        .collect()
}

fn url_of(listener: &TcpListener) -> String {
    listener.local_addr().map(|a| format!("http://{a}")).unwrap_or_default()
}

impl KubeSim {
    /// Both clusters with the story's history, as they stand at `world.now`.
    pub(crate) fn new(world: &World, images: &mut ImageState, opts: &SimOptions, listeners: &[TcpListener]) -> KubeSim {
        images.sync(world);
        let urls: Vec<String> = listeners.iter().map(url_of).collect();
        let specs = story::cluster_specs();
        let mut clusters: Vec<Cluster> = specs
            .iter()
            .map(|s| Cluster::new(s.clone(), world.seed, world.now))
            .collect();
        let facts = story::build(world, images, &mut clusters, &urls, opts.kube_extra_deployments);
        let created = world.now - 400 * super::story::DAY;
        let clusters = clusters
            .into_iter()
            .zip(urls)
            .map(|(c, url)| ClusterHandle {
                spec: c.spec.clone(),
                url,
                created,
                state: Mutex::new(c),
                counters: Counters::default(),
                tokens: Mutex::new(auth::Tokens::default()),
                requests: Mutex::new(RequestLog::default()),
            })
            .collect();
        let (shutdown, _) = tokio::sync::watch::channel(false);
        KubeSim {
            clusters,
            facts,
            static_token: format!(
                "kubeadm-admin.{}",
                super::ids::hex(world.seed, &["kubeadm", "admin-token"], 32)
            ),
            token_lifetime: opts.kube_token_lifetime,
            bookmark_interval: opts.kube_bookmark_interval,
            shutdown,
        }
    }

    /// Ends every watch stream (the estate is stopping).
    pub(crate) fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    /// The cluster of a kubeconfig context (its cluster name or short
    /// name, `kubernetes` or `shop-prod`, also do).
    pub(crate) fn by_context(&self, context: &str) -> Option<&ClusterHandle> {
        self.clusters
            .iter()
            .find(|c| c.spec.context == context || c.spec.name == context || c.spec.short == context)
    }
}

/// Moves both clusters to the story clock (called by the ticker and by
/// `tick`). Cheap when nothing is due.
pub(crate) fn advance(shared: &Shared) {
    let world = lock(&shared.world);
    let now = world.now;
    let due = shared.kube.clusters.iter().any(|c| {
        let st = lock(&c.state);
        st.next_due().is_some_and(|t| t <= now) || now - st.now >= 60 * SEC
    });
    if !due {
        return;
    }
    let mut images = lock(&shared.images);
    images.sync(&world);
    drop(world);
    for c in &shared.kube.clusters {
        let mut st = lock(&c.state);
        st.advance_to(now, &mut |r| resolve(&images, r));
    }
}

/// What pulling `reference` finds in the estate's registries right now.
pub(crate) fn resolve(images: &ImageState, reference: &str) -> Pull {
    let missing = || Pull::Missing {
        message: format!(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"{reference}\": failed to resolve reference \"{reference}\": {reference}: not found"
        ),
    };
    let (name, tag, digest) = split_reference(reference);
    let Some((host, repo)) = name.split_once('/') else {
        return missing();
    };
    let found = |d: &str| Pull::Found {
        image_id: format!("{name}@{d}"),
    };
    if host == images.host {
        let Some(r) = images.oci.get(repo) else {
            return missing();
        };
        return match (digest, tag) {
            (Some(d), _) if r.manifests.contains_key(d) => found(d),
            (Some(_), _) => missing(),
            (None, t) => r.tags.get(t).map_or_else(missing, |d| found(d)),
        };
    }
    if host == images::ecr_host() {
        let Some(r) = images.ecr.get(repo) else {
            return missing();
        };
        return match (digest, tag) {
            (Some(d), _) if r.by_digest(d).is_some() => found(d),
            (Some(_), _) => missing(),
            (None, t) => r.by_tag(t).map_or_else(missing, |i| found(&r.images[i].digest)),
        };
    }
    missing()
}

/// `host/repo:tag@digest` → (`host/repo`, tag or `latest`, digest).
pub(crate) fn split_reference(reference: &str) -> (&str, &str, Option<&str>) {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], &rest[last_slash + i + 1..], digest),
        None => (rest, "latest", digest),
    }
}

#[cfg(test)]
mod tests;
