//! The objects a simulated cluster holds (Deployments, ReplicaSets, Pods and
//! core/v1 Events), the state the controllers keep on them, and how each
//! renders as the API server's JSON. Rendering omits `kind`/`apiVersion`
//! (list items do not carry them); the store adds them for GETs and watches.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::super::jenkins::Ms;

pub(crate) type Labels = BTreeMap<String, String>;

pub(crate) const REVISION: &str = "deployment.kubernetes.io/revision";
pub(crate) const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub(crate) const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub(crate) const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
pub(crate) const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
pub(crate) const STARTED_BY: &str = "flightdeck.dev/started-by";
pub(crate) const TEMPLATE_HASH: &str = "pod-template-hash";

/// RFC 3339 to the second, as every timestamp of the API.
pub(crate) fn ts(ms: Ms) -> String {
    super::super::images::rfc3339_secs(ms)
}

/// The kinds the simulated clusters serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Deployment,
    ReplicaSet,
    Pod,
    Event,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [Kind::Deployment, Kind::ReplicaSet, Kind::Pod, Kind::Event];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Pod => "Pod",
            Kind::Event => "Event",
        }
    }

    pub(crate) fn api_version(self) -> &'static str {
        match self {
            Kind::Deployment | Kind::ReplicaSet => "apps/v1",
            Kind::Pod | Kind::Event => "v1",
        }
    }

    pub(crate) fn group(self) -> &'static str {
        match self {
            Kind::Deployment | Kind::ReplicaSet => "apps",
            Kind::Pod | Kind::Event => "",
        }
    }

    pub(crate) fn plural(self) -> &'static str {
        match self {
            Kind::Deployment => "deployments",
            Kind::ReplicaSet => "replicasets",
            Kind::Pod => "pods",
            Kind::Event => "events",
        }
    }

    /// `deployments.apps`, `pods`: how the API server names a resource in messages.
    pub(crate) fn qualified(self) -> String {
        match self.group() {
            "" => self.plural().to_string(),
            g => format!("{}.{g}", self.plural()),
        }
    }

    /// The kind a path names: `apps` group or the core group, by plural.
    pub(crate) fn of(group: &str, plural: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.group() == group && k.plural() == plural)
    }

    /// Fields `fieldSelector` may name for this kind.
    pub(crate) fn selectable_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Deployment => &["metadata.name", "metadata.namespace"],
            Kind::ReplicaSet => &["metadata.name", "metadata.namespace", "status.replicas"],
            Kind::Pod => &[
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ],
            Kind::Event => &[
                "metadata.name",
                "metadata.namespace",
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ],
        }
    }
}

/// The controller of an object (ReplicaSet → Deployment, Pod → ReplicaSet).
#[derive(Clone, Debug)]
pub(crate) struct Owner {
    pub kind: Kind,
    pub name: String,
    pub uid: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Meta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub resource_version: u64,
    pub generation: Option<i64>,
    pub created: Ms,
    pub labels: Labels,
    pub annotations: Labels,
    pub owner: Option<Owner>,
}

impl Meta {
    pub(crate) fn new(name: &str, namespace: &str, uid: String, created: Ms) -> Meta {
        Meta {
            name: name.to_string(),
            namespace: namespace.to_string(),
            uid,
            resource_version: 0,
            generation: None,
            created,
            labels: Labels::new(),
            annotations: Labels::new(),
            owner: None,
        }
    }

    pub(crate) fn render(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("namespace".into(), json!(self.namespace));
        m.insert("uid".into(), json!(self.uid));
        m.insert("resourceVersion".into(), json!(self.resource_version.to_string()));
        if let Some(g) = self.generation {
            m.insert("generation".into(), json!(g));
        }
        m.insert("creationTimestamp".into(), json!(ts(self.created)));
        if !self.labels.is_empty() {
            m.insert("labels".into(), json!(self.labels));
        }
        if !self.annotations.is_empty() {
            m.insert("annotations".into(), json!(self.annotations));
        }
        if let Some(o) = &self.owner {
            m.insert(
                "ownerReferences".into(),
                json!([{
                    "apiVersion": o.kind.api_version(),
                    "kind": o.kind.name(),
                    "name": o.name,
                    "uid": o.uid,
                    "controller": true,
                    "blockOwnerDeletion": true,
                }]),
            );
        }
        Value::Object(m)
    }

    pub(crate) fn revision(&self) -> i64 {
        self.annotations.get(REVISION).and_then(|r| r.parse().ok()).unwrap_or(0)
    }
}

/// What every stored object offers the store.
pub(crate) trait Object {
    const KIND: Kind;
    fn meta(&self) -> &Meta;
    fn meta_mut(&mut self) -> &mut Meta;
    /// The object as JSON, without `kind` and `apiVersion`.
    fn render(&self) -> Value;
    /// The values of the fields `fieldSelector` may name (except metadata ones).
    fn fields(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

// ---- conditions ---------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Condition {
    pub kind: &'static str,
    pub status: &'static str,
    pub reason: &'static str,
    pub message: String,
    pub last_update: Ms,
    pub last_transition: Ms,
}

impl Condition {
    fn render(&self) -> Value {
        json!({
            "type": self.kind,
            "status": self.status,
            "lastUpdateTime": ts(self.last_update),
            "lastTransitionTime": ts(self.last_transition),
            "reason": self.reason,
            "message": self.message,
        })
    }
}

// ---- Deployment ---------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DeploymentStatus {
    pub observed_generation: i64,
    pub replicas: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub unavailable: i32,
    pub conditions: Vec<Condition>,
}

impl DeploymentStatus {
    pub(crate) fn condition(&self, kind: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }

    /// Sets a condition as the controller's `SetDeploymentCondition` does:
    /// the same status and reason change nothing; the same status keeps its
    /// transition time.
    pub(crate) fn set_condition(&mut self, new: Condition) {
        if let Some(i) = self.conditions.iter().position(|c| c.kind == new.kind) {
            let cur = &self.conditions[i];
            if cur.status == new.status && cur.reason == new.reason {
                return;
            }
            let mut new = new;
            if cur.status == new.status {
                new.last_transition = cur.last_transition;
            }
            self.conditions[i] = new;
        } else {
            self.conditions.push(new);
        }
    }

    /// Replaces a condition, keeping the transition time if the status stays.
    pub(crate) fn update_condition(&mut self, mut new: Condition) {
        if let Some(i) = self.conditions.iter().position(|c| c.kind == new.kind) {
            if self.conditions[i].status == new.status {
                new.last_transition = self.conditions[i].last_transition;
            }
            self.conditions[i] = new;
        } else {
            self.conditions.push(new);
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Deployment {
    pub meta: Meta,
    /// The whole (defaulted) spec, as clients wrote it.
    pub spec: Value,
    pub status: DeploymentStatus,
}

fn int_at(v: &Value, path: &[&str]) -> Option<i64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_i64()
}

/// A `maxSurge`/`maxUnavailable` value: an integer or a percentage of `total`.
fn int_or_percent(v: Option<&Value>, total: i32, round_up: bool, default_pct: i32) -> i32 {
    let pct = |p: i32| {
        let scaled = i64::from(p) * i64::from(total);
        (if round_up { (scaled + 99) / 100 } else { scaled / 100 }) as i32
    };
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0) as i32,
        Some(Value::String(s)) => match s.strip_suffix('%').and_then(|p| p.trim().parse::<i32>().ok()) {
            Some(p) => pct(p),
            None => s.trim().parse().unwrap_or(0),
        },
        _ => pct(default_pct),
    }
}

impl Deployment {
    pub(crate) fn replicas(&self) -> i32 {
        int_at(&self.spec, &["replicas"]).unwrap_or(1) as i32
    }

    pub(crate) fn paused(&self) -> bool {
        self.spec.get("paused").and_then(Value::as_bool).unwrap_or(false)
    }

    pub(crate) fn progress_deadline_secs(&self) -> Option<i64> {
        int_at(&self.spec, &["progressDeadlineSeconds"])
    }

    pub(crate) fn revision_history_limit(&self) -> i64 {
        int_at(&self.spec, &["revisionHistoryLimit"]).unwrap_or(10)
    }

    pub(crate) fn template(&self) -> &Value {
        self.spec.get("template").unwrap_or(&Value::Null)
    }

    pub(crate) fn recreate(&self) -> bool {
        self.spec.pointer("/strategy/type").and_then(Value::as_str) == Some("Recreate")
    }

    /// (maxSurge, maxUnavailable) resolved against the desired replicas.
    pub(crate) fn surge_and_unavailable(&self) -> (i32, i32) {
        let total = self.replicas();
        let ru = self.spec.pointer("/strategy/rollingUpdate");
        let surge = int_or_percent(ru.and_then(|r| r.get("maxSurge")), total, true, 25);
        let unavailable = int_or_percent(ru.and_then(|r| r.get("maxUnavailable")), total, false, 25);
        if surge == 0 && unavailable == 0 {
            (0, 1)
        } else {
            (surge, unavailable.min(total))
        }
    }
}

impl Object for Deployment {
    const KIND: Kind = Kind::Deployment;

    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }

    fn render(&self) -> Value {
        let s = &self.status;
        let mut status = Map::new();
        status.insert("observedGeneration".into(), json!(s.observed_generation));
        for (k, v) in [
            ("replicas", s.replicas),
            ("updatedReplicas", s.updated),
            ("readyReplicas", s.ready),
            ("availableReplicas", s.available),
            ("unavailableReplicas", s.unavailable),
        ] {
            if v != 0 {
                status.insert(k.into(), json!(v));
            }
        }
        if !s.conditions.is_empty() {
            status.insert(
                "conditions".into(),
                Value::Array(s.conditions.iter().map(Condition::render).collect()),
            );
        }
        json!({"metadata": self.meta.render(), "spec": self.spec, "status": status})
    }
}

// ---- ReplicaSet -----------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReplicaSetStatus {
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub observed_generation: i64,
}

#[derive(Clone, Debug)]
pub(crate) struct ReplicaSet {
    pub meta: Meta,
    pub replicas: i32,
    pub selector: Value,
    pub template: Value,
    pub status: ReplicaSetStatus,
}

impl Object for ReplicaSet {
    const KIND: Kind = Kind::ReplicaSet;

    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }

    fn render(&self) -> Value {
        let s = &self.status;
        let mut status = Map::new();
        status.insert("replicas".into(), json!(s.replicas));
        if s.replicas != 0 {
            status.insert("fullyLabeledReplicas".into(), json!(s.replicas));
        }
        if s.ready != 0 {
            status.insert("readyReplicas".into(), json!(s.ready));
        }
        if s.available != 0 {
            status.insert("availableReplicas".into(), json!(s.available));
        }
        status.insert("observedGeneration".into(), json!(s.observed_generation));
        json!({
            "metadata": self.meta.render(),
            "spec": {"replicas": self.replicas, "selector": self.selector, "template": self.template},
            "status": status,
        })
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![("status.replicas", self.status.replicas.to_string())]
    }
}

// ---- Pod -----------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ContainerState {
    Waiting { reason: String, message: Option<String> },
    Running { since: Ms },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Terminated {
    pub exit_code: i32,
    pub reason: String,
    pub started: Ms,
    pub finished: Ms,
    pub container_id: String,
}

#[derive(Clone, Debug)]
pub(crate) struct ContainerRun {
    pub name: String,
    pub image: String,
    /// `repo@sha256:…` of what was pulled.
    pub image_id: Option<String>,
    pub container_id: Option<String>,
    pub state: ContainerState,
    pub last_terminated: Option<Terminated>,
    pub restarts: i32,
    pub ready: bool,
    pub pull_failures: u32,
    pub crashes: u32,
}

/// What the kubelet does next to a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Pull,
    PullBackOff,
    Start,
    Ready,
    Crash,
    Restart,
}

#[derive(Clone, Debug)]
pub(crate) struct Pod {
    pub meta: Meta,
    pub spec: Value,
    pub node: String,
    pub host_ip: String,
    pub pod_ip: String,
    pub containers: Vec<ContainerRun>,
    pub started: Option<Ms>,
    /// When the Ready condition last changed.
    pub ready_changed: Ms,
    pub next: Option<(Ms, Step)>,
    /// The pulled image crashes on start (decided at pull time).
    pub crashes: bool,
    /// When the pod becomes ready if nothing goes wrong.
    pub ready_at: Ms,
}

impl Pod {
    pub(crate) fn ready(&self) -> bool {
        !self.containers.is_empty() && self.containers.iter().all(|c| c.ready)
    }

    pub(crate) fn phase(&self) -> &'static str {
        if !self.containers.is_empty() && self.containers.iter().all(|c| c.container_id.is_some()) {
            "Running"
        } else {
            "Pending"
        }
    }

    fn container_status(c: &ContainerRun) -> Value {
        let state = match &c.state {
            ContainerState::Waiting { reason, message } => {
                let mut w = json!({"reason": reason});
                if let Some(m) = message {
                    w["message"] = json!(m);
                }
                json!({"waiting": w})
            }
            ContainerState::Running { since } => json!({"running": {"startedAt": ts(*since)}}),
        };
        let last = match &c.last_terminated {
            Some(t) => json!({"terminated": {
                "exitCode": t.exit_code,
                "reason": t.reason,
                "startedAt": ts(t.started),
                "finishedAt": ts(t.finished),
                "containerID": t.container_id,
            }}),
            None => json!({}),
        };
        let mut v = json!({
            "name": c.name,
            "state": state,
            "lastState": last,
            "ready": c.ready,
            "restartCount": c.restarts,
            "image": c.image,
            "imageID": c.image_id.clone().unwrap_or_default(),
            "started": matches!(c.state, ContainerState::Running { .. }),
        });
        if let Some(id) = &c.container_id {
            v["containerID"] = json!(id);
        }
        v
    }
}

impl Object for Pod {
    const KIND: Kind = Kind::Pod;

    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }

    fn render(&self) -> Value {
        let created = ts(self.meta.created);
        let ready = self.ready();
        let unready: Vec<&str> = self
            .containers
            .iter()
            .filter(|c| !c.ready)
            .map(|c| c.name.as_str())
            .collect();
        let ready_cond = |kind: &str| {
            let mut c = json!({
                "type": kind,
                "status": if ready { "True" } else { "False" },
                "lastProbeTime": null,
                "lastTransitionTime": ts(self.ready_changed),
            });
            if !ready {
                c["reason"] = json!("ContainersNotReady");
                c["message"] = json!(format!("containers with unready status: [{}]", unready.join(" ")));
            }
            c
        };
        let sandbox = self.containers.iter().any(|c| c.image_id.is_some()) || self.started.is_some();
        let conditions = json!([
            {"type": "PodReadyToStartContainers", "status": if sandbox { "True" } else { "False" },
             "lastProbeTime": null, "lastTransitionTime": created},
            {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": created},
            ready_cond("Ready"),
            ready_cond("ContainersReady"),
            {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": created},
        ]);
        let mut status = json!({
            "phase": self.phase(),
            "conditions": conditions,
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "qosClass": "Burstable",
            "containerStatuses": self.containers.iter().map(Pod::container_status).collect::<Vec<_>>(),
        });
        if let Some(s) = self.started {
            status["startTime"] = json!(ts(s));
        }
        json!({"metadata": self.meta.render(), "spec": self.spec, "status": status})
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("spec.nodeName", self.node.clone()),
            ("spec.restartPolicy", "Always".to_string()),
            ("spec.schedulerName", "default-scheduler".to_string()),
            ("spec.serviceAccountName", "default".to_string()),
            ("spec.hostNetwork", "false".to_string()),
            ("status.phase", self.phase().to_string()),
            ("status.podIP", self.pod_ip.clone()),
        ]
    }
}

// ---- Event -------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Involved {
    pub kind: Kind,
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub resource_version: u64,
    pub field_path: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub meta: Meta,
    pub involved: Involved,
    pub reason: &'static str,
    pub message: String,
    pub warning: bool,
    pub count: i32,
    pub first: Ms,
    pub last: Ms,
    pub component: &'static str,
    pub host: Option<String>,
}

impl Event {
    fn kind_str(&self) -> &'static str {
        if self.warning { "Warning" } else { "Normal" }
    }
}

impl Object for Event {
    const KIND: Kind = Kind::Event;

    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }

    fn render(&self) -> Value {
        let mut involved = json!({
            "kind": self.involved.kind.name(),
            "namespace": self.involved.namespace,
            "name": self.involved.name,
            "uid": self.involved.uid,
            "apiVersion": self.involved.kind.api_version(),
            "resourceVersion": self.involved.resource_version.to_string(),
        });
        if let Some(f) = &self.involved.field_path {
            involved["fieldPath"] = json!(f);
        }
        let mut source = json!({"component": self.component});
        if let Some(h) = &self.host {
            source["host"] = json!(h);
        }
        json!({
            "metadata": self.meta.render(),
            "involvedObject": involved,
            "reason": self.reason,
            "message": self.message,
            "source": source,
            "firstTimestamp": ts(self.first),
            "lastTimestamp": ts(self.last),
            "count": self.count,
            "type": self.kind_str(),
            "eventTime": null,
            "reportingComponent": self.component,
            "reportingInstance": self.host.clone().unwrap_or_default(),
        })
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("involvedObject.kind", self.involved.kind.name().to_string()),
            ("involvedObject.namespace", self.involved.namespace.clone()),
            ("involvedObject.name", self.involved.name.clone()),
            ("involvedObject.uid", self.involved.uid.clone()),
            (
                "involvedObject.apiVersion",
                self.involved.kind.api_version().to_string(),
            ),
            (
                "involvedObject.resourceVersion",
                self.involved.resource_version.to_string(),
            ),
            (
                "involvedObject.fieldPath",
                self.involved.field_path.clone().unwrap_or_default(),
            ),
            ("reason", self.reason.to_string()),
            ("reportingComponent", self.component.to_string()),
            ("source", self.component.to_string()),
            ("type", self.kind_str().to_string()),
        ]
    }
}

// ---- templates --------------------------------------------------------------------------------

/// Fills in what the API server defaults in a Deployment spec and its pod
/// template, so a template read back from a ReplicaSet compares equal to the
/// Deployment's (this is what makes `kubectl rollout undo` find its ReplicaSet).
pub(crate) fn default_deployment_spec(spec: &mut Value) {
    let Value::Object(s) = spec else { return };
    s.entry("replicas").or_insert(json!(1));
    s.entry("revisionHistoryLimit").or_insert(json!(10));
    s.entry("progressDeadlineSeconds").or_insert(json!(600));
    let strategy = s.entry("strategy").or_insert_with(|| json!({"type": "RollingUpdate"}));
    if let Value::Object(st) = strategy {
        let kind = st.entry("type").or_insert(json!("RollingUpdate")).clone();
        if kind == "RollingUpdate" {
            let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Value::Object(ru) = ru {
                ru.entry("maxSurge").or_insert(json!("25%"));
                ru.entry("maxUnavailable").or_insert(json!("25%"));
            }
        }
    }
    if let Some(t) = s.get_mut("template") {
        default_template(t);
    }
}

pub(crate) fn default_template(template: &mut Value) {
    let Value::Object(t) = template else { return };
    let meta = t.entry("metadata").or_insert_with(|| json!({}));
    if let Value::Object(m) = meta {
        m.entry("creationTimestamp").or_insert(Value::Null);
    }
    let Some(Value::Object(spec)) = t.get_mut("spec") else {
        return;
    };
    spec.entry("restartPolicy").or_insert(json!("Always"));
    spec.entry("terminationGracePeriodSeconds").or_insert(json!(30));
    spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    spec.entry("securityContext").or_insert(json!({}));
    spec.entry("schedulerName").or_insert(json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        let Some(Value::Array(cs)) = spec.get_mut(list) else {
            continue;
        };
        for c in cs {
            let Value::Object(c) = c else { continue };
            let image = c.get("image").and_then(Value::as_str).unwrap_or("").to_string();
            let latest = !image.contains('@') && {
                let last = image.rsplit('/').next().unwrap_or("");
                !last.contains(':') || last.ends_with(":latest")
            };
            c.entry("imagePullPolicy")
                .or_insert(json!(if latest { "Always" } else { "IfNotPresent" }));
            c.entry("terminationMessagePath")
                .or_insert(json!("/dev/termination-log"));
            c.entry("terminationMessagePolicy").or_insert(json!("File"));
            c.entry("resources").or_insert(json!({}));
            if let Some(Value::Array(ports)) = c.get_mut("ports") {
                for p in ports {
                    if let Value::Object(p) = p {
                        p.entry("protocol").or_insert(json!("TCP"));
                    }
                }
            }
        }
    }
}

/// The template without its `pod-template-hash` label, for comparisons.
pub(crate) fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(Value::Object(labels)) = t.pointer_mut("/metadata/labels") {
        labels.remove(TEMPLATE_HASH);
    }
    t
}

pub(crate) fn templates_equal(a: &Value, b: &Value) -> bool {
    without_hash(a) == without_hash(b)
}

/// Keys sorted, so equal templates hash the same whatever the input order.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The alphabet Kubernetes uses for generated names (no vowels, no 0/1/3).
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub(crate) fn safe_encode(mut x: u64, len: usize) -> String {
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(SAFE[(x % SAFE.len() as u64) as usize] as char);
        x /= SAFE.len() as u64;
        if x == 0 {
            x = super::super::ids::splitmix64(s.len() as u64 ^ 0x5bd1_e995);
        }
    }
    s
}

/// The `pod-template-hash` of a template (10 characters, like the controller's).
pub(crate) fn template_hash(template: &Value, collision: u32) -> String {
    let mut text = String::new();
    canonical(&without_hash(template), &mut text);
    let h = super::super::ids::hash(u64::from(collision), &[&text]);
    safe_encode(h, 10)
}

/// The images of a template's containers, by container name.
pub(crate) fn template_images(template: &Value) -> Vec<(String, String)> {
    template
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                        c.get("image").and_then(Value::as_str).unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_and_unavailable_round_like_the_controller() {
        let mut d = Deployment {
            meta: Meta::new("x", "ns", "u".into(), 0),
            spec: json!({"replicas": 3, "template": {"spec": {"containers": []}}}),
            status: DeploymentStatus::default(),
        };
        default_deployment_spec(&mut d.spec);
        assert_eq!(d.surge_and_unavailable(), (1, 0));
        d.spec["replicas"] = json!(10);
        assert_eq!(d.surge_and_unavailable(), (3, 2));
        d.spec["strategy"]["rollingUpdate"] = json!({"maxSurge": 0, "maxUnavailable": 0});
        assert_eq!(d.surge_and_unavailable(), (0, 1));
    }

    #[test]
    fn template_hash_ignores_key_order_and_hash_label() {
        let a = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let mut b =
            json!({"spec": {"containers": [{"image": "i", "name": "c"}]}, "metadata": {"labels": {"app": "x"}}});
        b["metadata"]["labels"][TEMPLATE_HASH] = json!("zzz");
        assert_eq!(template_hash(&a, 0), template_hash(&b, 0));
        assert!(templates_equal(&a, &b));
        assert_eq!(template_hash(&a, 0).len(), 10);
        assert_ne!(template_hash(&a, 0), template_hash(&a, 1));
    }

    #[test]
    fn defaults_are_idempotent() {
        let mut spec = json!({"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [
            {"name": "c", "image": "r/c@sha256:ab", "ports": [{"containerPort": 80}]}]}}});
        default_deployment_spec(&mut spec);
        let once = spec.clone();
        default_deployment_spec(&mut spec);
        assert_eq!(once, spec);
        assert_eq!(
            spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(spec["template"]["spec"]["containers"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    }
}
