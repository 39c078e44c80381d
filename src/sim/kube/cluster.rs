//! One simulated cluster: its objects (typed, for the controllers), the
//! store that serves them, the story clock it has reached, and the agenda of
//! what the controllers and the kubelet do next. `advance_to` runs the
//! agenda in time order, so a big tick replays a rollout step by step.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::super::ids;
use super::super::jenkins::Ms;
use super::super::story::{HOUR, SEC};
use super::objects::{Deployment, Event, Involved, Kind, Meta, Object, Pod, ReplicaSet};
use super::store::Store;

/// (namespace, name).
pub(crate) type NsName = (String, String);

/// The static description of a cluster.
#[derive(Clone, Debug)]
pub(crate) struct ClusterSpec {
    /// The kubeconfig cluster name (`kubernetes`, or the EKS cluster ARN).
    pub name: String,
    pub context: String,
    /// The kubeconfig user entry.
    pub user: String,
    /// Who the API server says the user is (in RBAC messages).
    pub identity: String,
    /// Short name: `kubernetes` or `shop-prod`; faults match `/kube/<short>`.
    pub short: String,
    pub namespace: String,
    pub environment: String,
    pub eks: bool,
    /// (node name, node IP).
    pub nodes: Vec<(String, String)>,
    pub pod_cidr_prefix: String,
    pub version: &'static str,
}

/// What the kubelet's image pull found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pull {
    /// `repo@sha256:…`, as the container runtime reports `imageID`.
    Found { image_id: String },
    /// The runtime's error message.
    Missing { message: String },
}

/// Resolves an image reference against the estate's registries at pull time.
pub(crate) type Resolver<'a> = dyn FnMut(&str) -> Pull + 'a;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Job {
    /// The kubelet's next step for a pod.
    Pod(NsName),
    /// The deployment controller syncs a Deployment.
    Deployment(NsName),
}

/// Events live an hour, as with the API server's default `--event-ttl`.
const EVENT_TTL: Ms = HOUR;
/// A safety net against a runaway agenda in one advance.
const MAX_STEPS: usize = 2_000_000;

pub(crate) struct Cluster {
    pub spec: ClusterSpec,
    pub store: Store,
    /// The story time this cluster has reached.
    pub now: Ms,
    seed: u64,
    seq: u64,
    pub deployments: BTreeMap<NsName, Deployment>,
    pub replicasets: BTreeMap<NsName, ReplicaSet>,
    pub pods: BTreeMap<NsName, Pod>,
    pub events: BTreeMap<NsName, Event>,
    /// Aggregation of repeated events: (involved uid, reason, message) → event.
    event_keys: HashMap<(String, &'static str, String), NsName>,
    agenda: BTreeSet<(Ms, Job)>,
    last_gc: Ms,
    /// Image digests whose containers exit with code 1 seconds after start.
    pub crashing: HashSet<String>,
}

impl Cluster {
    pub(crate) fn new(spec: ClusterSpec, seed: u64, now: Ms) -> Cluster {
        Cluster {
            spec,
            store: Store::new(),
            now,
            seed,
            seq: 0,
            deployments: BTreeMap::new(),
            replicasets: BTreeMap::new(),
            pods: BTreeMap::new(),
            events: BTreeMap::new(),
            event_keys: HashMap::new(),
            agenda: BTreeSet::new(),
            last_gc: now,
            crashing: HashSet::new(),
        }
    }

    /// Moves an empty cluster's clock back to where its history begins.
    pub(crate) fn begin_at(&mut self, t: Ms) {
        if t < self.now {
            self.now = t;
            self.last_gc = t;
        }
    }

    /// A fresh number, for names and ids.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A UUID-shaped uid, deterministic for a seed.
    pub(crate) fn uid(&mut self) -> String {
        let n = self.next_seq().to_string();
        let h = ids::hex(self.seed, &[&self.spec.name, "uid", &n], 32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// A deterministic number in `lo..hi` for the parts.
    pub(crate) fn pick(&self, parts: &[&str], lo: i64, hi: i64) -> i64 {
        let span = (hi - lo).max(1) as u64;
        lo + (ids::hash(self.seed, parts) % span) as i64
    }

    pub(crate) fn schedule(&mut self, at: Ms, job: Job) {
        self.agenda.insert((at, job));
    }

    /// When the agenda next needs the clock, if ever.
    pub(crate) fn next_due(&self) -> Option<Ms> {
        self.agenda.first().map(|(t, _)| *t)
    }

    /// Runs everything due up to `target`, in time order.
    pub(crate) fn advance_to(&mut self, target: Ms, resolve: &mut Resolver<'_>) {
        let mut steps = 0;
        while let Some((t, _)) = self.agenda.first() {
            if *t > target || steps >= MAX_STEPS {
                break;
            }
            let Some((t, job)) = self.agenda.pop_first() else { break };
            if t > self.now {
                self.now = t;
            }
            match job {
                Job::Pod(key) => self.kubelet_step(&key, t, resolve),
                Job::Deployment(key) => self.sync_deployment(&key),
            }
            steps += 1;
        }
        if target > self.now {
            self.now = target;
        }
        if self.now - self.last_gc >= 60 * SEC {
            self.collect_events();
        }
    }

    // ---- events ---------------------------------------------------------------

    /// The `involvedObject` of an event about `obj`.
    pub(crate) fn involved<T: Object>(obj: &T, field_path: Option<String>) -> Involved {
        let m = obj.meta();
        Involved {
            kind: T::KIND,
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            uid: m.uid.clone(),
            resource_version: m.resource_version,
            field_path,
        }
    }

    /// Records an event, or counts it again if the same one happened before.
    pub(crate) fn record_event(
        &mut self,
        involved: Involved,
        warning: bool,
        reason: &'static str,
        message: String,
        component: &'static str,
        host: Option<String>,
    ) {
        let now = self.now;
        let agg = (involved.uid.clone(), reason, message.clone());
        if let Some(key) = self.event_keys.get(&agg).cloned()
            && let Some(ev) = self.events.get_mut(&key)
        {
            ev.count += 1;
            ev.last = now;
            ev.involved.resource_version = involved.resource_version;
            self.store.commit(ev);
            return;
        }
        let seq = self.next_seq();
        let name = format!(
            "{}.{:016x}",
            involved.name,
            (now as u64).wrapping_mul(1_000_000).wrapping_add(seq)
        );
        let namespace = involved.namespace.clone();
        let uid = self.uid();
        let mut ev = Event {
            meta: Meta::new(&name, &namespace, uid, now),
            involved,
            reason,
            message,
            warning,
            count: 1,
            first: now,
            last: now,
            component,
            host,
        };
        self.store.commit(&mut ev);
        let key = (namespace, name);
        self.event_keys.insert(agg, key.clone());
        self.events.insert(key, ev);
    }

    /// Deletes events older than their TTL.
    fn collect_events(&mut self) {
        self.last_gc = self.now;
        let cutoff = self.now - EVENT_TTL;
        let old: Vec<NsName> = self
            .events
            .iter()
            .filter(|(_, e)| e.last < cutoff)
            .map(|(k, _)| k.clone())
            .collect();
        for key in old {
            if let Some(mut ev) = self.events.remove(&key) {
                self.event_keys
                    .remove(&(ev.involved.uid.clone(), ev.reason, ev.message.clone()));
                self.store.delete(&mut ev);
            }
        }
    }

    // ---- lookups ----------------------------------------------------------------

    /// The ReplicaSets a Deployment controls, oldest first.
    pub(crate) fn owned_replicasets(&self, d: &Deployment) -> Vec<NsName> {
        let mut out: Vec<(&Ms, &NsName)> = self
            .replicasets
            .iter()
            .filter(|(k, rs)| {
                k.0 == d.meta.namespace
                    && rs
                        .meta
                        .owner
                        .as_ref()
                        .is_some_and(|o| o.kind == Kind::Deployment && o.uid == d.meta.uid)
            })
            .map(|(k, rs)| (&rs.meta.created, k))
            .collect();
        out.sort();
        out.into_iter().map(|(_, k)| k.clone()).collect()
    }

    /// The pods a ReplicaSet controls.
    pub(crate) fn owned_pods(&self, rs: &ReplicaSet) -> Vec<NsName> {
        self.pods
            .iter()
            .filter(|(k, p)| k.0 == rs.meta.namespace && p.meta.owner.as_ref().is_some_and(|o| o.uid == rs.meta.uid))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The Deployment controlling a ReplicaSet.
    pub(crate) fn owner_deployment(&self, rs: &ReplicaSet) -> Option<NsName> {
        let o = rs.meta.owner.as_ref()?;
        let key = (rs.meta.namespace.clone(), o.name.clone());
        self.deployments.get(&key).filter(|d| d.meta.uid == o.uid).map(|_| key)
    }
}
