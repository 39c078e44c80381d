//! A small deployment controller and ReplicaSet controller, after the real
//! ones: a template change gets a ReplicaSet (an existing one with an equal
//! template is reused with the next revision, which is how a rollback
//! works), the rolling update scales new up and old down within
//! maxSurge/maxUnavailable, and the status and the `Progressing` /
//! `Available` conditions follow with the controller's reasons and messages.
//!
//! One scaling step per sync, the next sync a second later (the real
//! controller reacts to its own writes through its informers): that second
//! is also the window a `kubectl rollout pause` lands in mid-rollout.

use serde_json::{Value, json};

use super::super::jenkins::Ms;
use super::super::story::SEC;
use super::cluster::{Cluster, Job, NsName};
use super::objects::{
    CHANGE_CAUSE, Condition, ContainerRun, ContainerState, DESIRED_REPLICAS, Deployment, DeploymentStatus, Kind,
    LAST_APPLIED, MAX_REPLICAS, Meta, Object, Owner, Pod, REVISION, REVISION_HISTORY, ReplicaSet, ReplicaSetStatus,
    Step, TEMPLATE_HASH, default_deployment_spec, safe_encode, template_hash, templates_equal,
};

/// The controller's pause between a scaling step and the next look.
const RESYNC: Ms = SEC;

pub(crate) const PROGRESSING: &str = "Progressing";
pub(crate) const AVAILABLE: &str = "Available";

/// Annotations a Deployment does not hand down to its ReplicaSets.
const NOT_COPIED: [&str; 5] = [LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS];

impl Cluster {
    // ---- creating --------------------------------------------------------------

    /// Creates a Deployment (defaulted) and lets the controller roll it out.
    pub(crate) fn create_deployment(
        &mut self,
        namespace: &str,
        name: &str,
        labels: &[(&str, &str)],
        annotations: &[(&str, &str)],
        spec: Value,
    ) {
        let uid = self.uid();
        let mut meta = Meta::new(name, namespace, uid, self.now);
        meta.generation = Some(1);
        meta.labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        meta.annotations = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut spec = spec;
        default_deployment_spec(&mut spec);
        let mut d = Deployment {
            meta,
            spec,
            status: DeploymentStatus::default(),
        };
        self.store.commit(&mut d);
        let key = (namespace.to_string(), name.to_string());
        self.deployments.insert(key.clone(), d);
        let now = self.now;
        self.schedule(now, Job::Deployment(key));
    }

    /// A Deployment whose rollout finished long ago: one ReplicaSet
    /// (revision 1) and every pod ready, without replaying the rollout.
    /// For the bulk estate, which must stay cheap to build.
    pub(crate) fn create_steady_deployment(
        &mut self,
        namespace: &str,
        name: &str,
        labels: &[(&str, &str)],
        spec: Value,
        created: Ms,
        resolve_image_id: &dyn Fn(&str) -> Option<String>,
    ) {
        let uid = self.uid();
        let mut meta = Meta::new(name, namespace, uid, created);
        meta.generation = Some(1);
        meta.labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        meta.annotations.insert(REVISION.into(), "1".into());
        let mut spec = spec;
        default_deployment_spec(&mut spec);
        let mut d = Deployment {
            meta,
            spec,
            status: DeploymentStatus::default(),
        };
        let rs_key = self.new_replicaset(&d, 1, d.replicas());
        if let Some(rs) = self.replicasets.get_mut(&rs_key) {
            rs.meta.created = created;
        }
        let rs = self.replicasets[&rs_key].clone();
        for _ in 0..rs.replicas {
            let pod_key = self.create_pod(&rs, false);
            if let Some(p) = self.pods.get_mut(&pod_key) {
                p.meta.created = created;
                p.next = None;
                p.started = Some(created);
                p.ready_changed = created;
                for c in &mut p.containers {
                    c.image_id = resolve_image_id(&c.image);
                    c.container_id = Some(container_id(&p.meta.uid, &c.name, 0));
                    c.state = ContainerState::Running { since: created };
                    c.ready = true;
                }
                self.store.commit(p);
            }
        }
        self.refresh_rs_status(&rs_key);
        let n = d.replicas();
        d.status = DeploymentStatus {
            observed_generation: 1,
            replicas: n,
            updated: n,
            ready: n,
            available: n,
            unavailable: 0,
            conditions: vec![
                Condition {
                    kind: AVAILABLE,
                    status: "True",
                    reason: "MinimumReplicasAvailable",
                    message: "Deployment has minimum availability.".into(),
                    last_update: created,
                    last_transition: created,
                },
                Condition {
                    kind: PROGRESSING,
                    status: "True",
                    reason: "NewReplicaSetAvailable",
                    message: format!("ReplicaSet \"{}\" has successfully progressed.", rs_key.1),
                    last_update: created,
                    last_transition: created,
                },
            ],
        };
        self.store.commit(&mut d);
        self.deployments.insert((namespace.to_string(), name.to_string()), d);
    }

    // ---- replacing (PATCH) -----------------------------------------------------------

    /// Stores a patched Deployment (already validated): labels, annotations
    /// and spec; a spec change bumps the generation and wakes the controller.
    pub(crate) fn replace_deployment(&mut self, key: &NsName, patched: &Value) -> bool {
        let Some(d) = self.deployments.get_mut(key) else {
            return false;
        };
        take_patched(d, patched);
        self.store.commit(d);
        let now = self.now;
        self.schedule(now, Job::Deployment(key.clone()));
        true
    }

    /// What storing a patched Deployment would give, without storing it (`dryRun=All`).
    pub(crate) fn preview_deployment(&self, key: &NsName, patched: &Value) -> Option<Value> {
        let mut d = self.deployments.get(key)?.clone();
        take_patched(&mut d, patched);
        let mut v = d.render();
        v["kind"] = json!("Deployment");
        v["apiVersion"] = json!("apps/v1");
        Some(v)
    }

    // ---- the deployment controller ---------------------------------------------------

    pub(crate) fn sync_deployment(&mut self, key: &NsName) {
        let Some(mut d) = self.deployments.get(key).cloned() else {
            return;
        };
        let now = self.now;
        let old_status = d.status.clone();
        let old_annotations = d.meta.annotations.clone();
        let paused = d.paused();
        let want = d.replicas();
        let (surge, max_unavailable) = d.surge_and_unavailable();

        let rs_keys = self.owned_replicasets(&d);
        let max_rev = rs_keys
            .iter()
            .map(|k| self.replicasets[k].meta.revision())
            .max()
            .unwrap_or(0);
        let mut new_key = rs_keys
            .iter()
            .find(|k| templates_equal(&self.replicasets[*k].template, d.template()))
            .cloned();
        let mut created = false;
        let mut found = false;
        if !paused {
            match &new_key {
                None => {
                    // Create it at the size the rollout allows right away.
                    let current: i32 = rs_keys.iter().map(|k| self.replicasets[k].replicas).sum();
                    let first = if d.recreate() {
                        if current == 0 { want } else { 0 }
                    } else {
                        (want + surge - current).clamp(0, want)
                    };
                    let k = self.new_replicaset(&d, max_rev + 1, first);
                    if first > 0 {
                        self.scaling_event(&d, &k.1, 0, first);
                    }
                    self.sync_pods(&k);
                    new_key = Some(k);
                    created = true;
                }
                Some(k) => {
                    let rev = self.replicasets[k].meta.revision();
                    if rev < max_rev {
                        self.reuse_replicaset(&d, k, max_rev + 1);
                        found = true;
                    }
                }
            }
        }
        if let Some(k) = &new_key {
            let rev = self.replicasets[k].meta.revision().to_string();
            d.meta.annotations.insert(REVISION.into(), rev);
        }

        let mut scaled = false;
        if !paused
            && !created
            && let Some(k) = &new_key
        {
            scaled = if d.recreate() {
                self.recreate_step(&d, k, &rs_keys)
            } else {
                self.rolling_step(&d, k, &rs_keys, surge, max_unavailable)
            };
        }

        // Status, from the ReplicaSets as they are now.
        let rs_keys = self.owned_replicasets(&d);
        let sum = |f: &dyn Fn(&ReplicaSet) -> i32| -> i32 { rs_keys.iter().map(|k| f(&self.replicasets[k])).sum() };
        let replicas = sum(&|r| r.status.replicas);
        let available = sum(&|r| r.status.available);
        let spec_total = sum(&|r| r.replicas);
        let updated = new_key.as_ref().map_or(0, |k| self.replicasets[k].status.replicas);
        let mut status = DeploymentStatus {
            observed_generation: d.meta.generation.unwrap_or(1),
            replicas,
            updated,
            ready: sum(&|r| r.status.ready),
            available,
            unavailable: (spec_total - available).max(0),
            conditions: old_status.conditions.clone(),
        };
        let new_name = new_key.as_ref().map(|k| k.1.clone()).unwrap_or_default();
        let cond = |kind, status, reason, message: String| Condition {
            kind,
            status,
            reason,
            message,
            last_update: now,
            last_transition: now,
        };
        if available >= want - max_unavailable {
            status.set_condition(cond(
                AVAILABLE,
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
            ));
        } else {
            status.set_condition(cond(
                AVAILABLE,
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            ));
        }
        let current_reason = status.condition(PROGRESSING).map(|c| c.reason);
        if paused {
            if current_reason != Some("DeploymentPaused") {
                status.update_condition(cond(
                    PROGRESSING,
                    "Unknown",
                    "DeploymentPaused",
                    "Deployment is paused".into(),
                ));
            }
        } else if current_reason == Some("DeploymentPaused") {
            status.update_condition(cond(
                PROGRESSING,
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed".into(),
            ));
        }
        let deadline = d.progress_deadline_secs();
        if !paused && deadline.is_some() {
            let complete = new_key.is_some() && updated == want && replicas == want && available == want;
            if created {
                status.update_condition(cond(
                    PROGRESSING,
                    "True",
                    "NewReplicaSetCreated",
                    format!("Created new replica set \"{new_name}\""),
                ));
            } else if found {
                status.update_condition(cond(
                    PROGRESSING,
                    "True",
                    "FoundNewReplicaSet",
                    format!("Found new replica set \"{new_name}\""),
                ));
            } else if complete {
                status.set_condition(cond(
                    PROGRESSING,
                    "True",
                    "NewReplicaSetAvailable",
                    format!("ReplicaSet \"{new_name}\" has successfully progressed."),
                ));
            } else if progressed(&old_status, &status) {
                status.update_condition(cond(
                    PROGRESSING,
                    "True",
                    "ReplicaSetUpdated",
                    format!("ReplicaSet \"{new_name}\" is progressing."),
                ));
            } else if timed_out(&status, deadline, now) {
                status.set_condition(cond(
                    PROGRESSING,
                    "False",
                    "ProgressDeadlineExceeded",
                    format!("ReplicaSet \"{new_name}\" has timed out progressing."),
                ));
            }
            if complete && !scaled {
                self.cleanup_history(&d, new_key.as_ref());
            }
            // Wake up when the deadline passes, even if nothing else happens.
            if let (Some(secs), Some(c)) = (deadline, status.condition(PROGRESSING))
                && !matches!(c.reason, "NewReplicaSetAvailable" | "ProgressDeadlineExceeded")
            {
                let at = c.last_update + secs * SEC + 1;
                if at > now {
                    self.schedule(at, Job::Deployment(key.clone()));
                }
            }
        }
        if scaled || created {
            self.schedule(now + RESYNC, Job::Deployment(key.clone()));
        }
        if status != old_status || d.meta.annotations != old_annotations {
            d.status = status;
            self.store.commit(&mut d);
            self.deployments.insert(key.clone(), d);
        }
    }

    /// One step of a rolling update; true if it scaled anything.
    fn rolling_step(
        &mut self,
        d: &Deployment,
        new_key: &NsName,
        rs_keys: &[NsName],
        surge: i32,
        unavailable: i32,
    ) -> bool {
        let want = d.replicas();
        let new = self.replicasets[new_key].clone();
        let olds: Vec<NsName> = rs_keys.iter().filter(|k| *k != new_key).cloned().collect();
        let total = |c: &Cluster| -> i32 { rs_keys.iter().map(|k| c.replicasets[k].replicas).sum() };

        // reconcileNewReplicaSet
        if new.replicas > want {
            self.scale(d, new_key, want);
            return true;
        }
        if new.replicas < want {
            let current = total(self);
            let room = want + surge - current;
            let up = room.min(want - new.replicas);
            if up > 0 {
                self.scale(d, new_key, new.replicas + up);
                return true;
            }
        }

        // reconcileOldReplicaSets
        let old_pods: i32 = olds.iter().map(|k| self.replicasets[k].replicas).sum();
        if old_pods == 0 {
            return false;
        }
        let min_available = want - unavailable;
        let new_unavailable = new.replicas - new.status.available;
        let mut room = total(self) - min_available - new_unavailable;
        if room <= 0 {
            return false;
        }
        let mut changed = false;
        // First the old pods that are not available anyway.
        for k in &olds {
            if room <= 0 {
                break;
            }
            let rs = &self.replicasets[k];
            let unhealthy = (rs.replicas - rs.status.available).max(0);
            if unhealthy == 0 {
                continue;
            }
            let n = unhealthy.min(room);
            let to = rs.replicas - n;
            self.scale(d, k, to);
            room -= n;
            changed = true;
        }
        // Then available ones, as far as availability allows.
        let available: i32 = rs_keys.iter().map(|k| self.replicasets[k].status.available).sum();
        let mut down = available - min_available;
        for k in &olds {
            if down <= 0 {
                break;
            }
            let rs = &self.replicasets[k];
            if rs.replicas == 0 {
                continue;
            }
            let n = rs.replicas.min(down);
            let to = rs.replicas - n;
            self.scale(d, k, to);
            down -= n;
            changed = true;
        }
        changed
    }

    /// Recreate: every old pod goes before the new ReplicaSet scales up.
    fn recreate_step(&mut self, d: &Deployment, new_key: &NsName, rs_keys: &[NsName]) -> bool {
        let mut changed = false;
        for k in rs_keys.iter().filter(|k| *k != new_key) {
            if self.replicasets[k].replicas > 0 {
                self.scale(d, k, 0);
                changed = true;
            }
        }
        if changed {
            return true;
        }
        let old_pods: i32 = rs_keys
            .iter()
            .filter(|k| *k != new_key)
            .map(|k| self.replicasets[k].status.replicas)
            .sum();
        let new = &self.replicasets[new_key];
        if old_pods == 0 && new.replicas != d.replicas() {
            self.scale(d, new_key, d.replicas());
            return true;
        }
        false
    }

    /// Deletes the oldest idle ReplicaSets beyond `revisionHistoryLimit`.
    fn cleanup_history(&mut self, d: &Deployment, new_key: Option<&NsName>) {
        let limit = d.revision_history_limit().max(0) as usize;
        let mut idle: Vec<(i64, NsName)> = self
            .owned_replicasets(d)
            .into_iter()
            .filter(|k| Some(k) != new_key)
            .filter(|k| {
                let rs = &self.replicasets[k];
                rs.replicas == 0 && rs.status.replicas == 0
            })
            .map(|k| (self.replicasets[&k].meta.revision(), k))
            .collect();
        if idle.len() <= limit {
            return;
        }
        idle.sort();
        let excess = idle.len() - limit;
        for (_, k) in idle.into_iter().take(excess) {
            if let Some(mut rs) = self.replicasets.remove(&k) {
                self.store.delete(&mut rs);
            }
        }
    }

    fn scaling_event(&mut self, d: &Deployment, rs_name: &str, from: i32, to: i32) {
        let verb = if to > from { "up" } else { "down" };
        self.record_event(
            Cluster::involved(d, None),
            false,
            "ScalingReplicaSet",
            format!("Scaled {verb} replica set {rs_name} from {from} to {to}"),
            "deployment-controller",
            None,
        );
    }

    /// Sets a ReplicaSet's replicas (with the controller's event) and lets
    /// the ReplicaSet controller create or delete pods.
    fn scale(&mut self, d: &Deployment, rs_key: &NsName, to: i32) {
        let Some(rs) = self.replicasets.get_mut(rs_key) else {
            return;
        };
        let from = rs.replicas;
        if from == to {
            return;
        }
        rs.replicas = to;
        rs.meta.generation = Some(rs.meta.generation.unwrap_or(1) + 1);
        let (surge, _) = d.surge_and_unavailable();
        rs.meta
            .annotations
            .insert(DESIRED_REPLICAS.into(), d.replicas().to_string());
        rs.meta
            .annotations
            .insert(MAX_REPLICAS.into(), (d.replicas() + surge).to_string());
        self.store.commit(rs);
        self.scaling_event(d, &rs_key.1, from, to);
        self.sync_pods(rs_key);
    }

    /// The annotations a Deployment hands its new ReplicaSet.
    fn handed_down(d: &Deployment, revision: i64) -> super::objects::Labels {
        let mut a: super::objects::Labels = d
            .meta
            .annotations
            .iter()
            .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (surge, _) = d.surge_and_unavailable();
        a.insert(REVISION.into(), revision.to_string());
        a.insert(DESIRED_REPLICAS.into(), d.replicas().to_string());
        a.insert(MAX_REPLICAS.into(), (d.replicas() + surge).to_string());
        a
    }

    /// Creates the ReplicaSet for the Deployment's current template.
    fn new_replicaset(&mut self, d: &Deployment, revision: i64, replicas: i32) -> NsName {
        let mut collision = 0;
        let (hash, name) = loop {
            let hash = template_hash(d.template(), collision);
            let name = format!("{}-{hash}", d.meta.name);
            if !self.replicasets.contains_key(&(d.meta.namespace.clone(), name.clone())) {
                break (hash, name);
            }
            collision += 1;
        };
        let mut template = d.template().clone();
        if let Some(Value::Object(m)) = template.get_mut("metadata") {
            let labels = m.entry("labels").or_insert_with(|| json!({}));
            if let Value::Object(l) = labels {
                l.insert(TEMPLATE_HASH.into(), json!(hash));
            }
        }
        let mut selector = d.spec.get("selector").cloned().unwrap_or_else(|| json!({}));
        if let Value::Object(s) = &mut selector {
            let ml = s.entry("matchLabels").or_insert_with(|| json!({}));
            if let Value::Object(ml) = ml {
                ml.insert(TEMPLATE_HASH.into(), json!(hash));
            }
        }
        let uid = self.uid();
        let mut meta = Meta::new(&name, &d.meta.namespace, uid, self.now);
        meta.generation = Some(1);
        meta.labels = template
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        meta.annotations = Self::handed_down(d, revision);
        meta.owner = Some(Owner {
            kind: Kind::Deployment,
            name: d.meta.name.clone(),
            uid: d.meta.uid.clone(),
        });
        let mut rs = ReplicaSet {
            meta,
            replicas,
            selector,
            template,
            status: ReplicaSetStatus {
                observed_generation: 1,
                ..ReplicaSetStatus::default()
            },
        };
        self.store.commit(&mut rs);
        let key = (d.meta.namespace.clone(), name);
        self.replicasets.insert(key.clone(), rs);
        key
    }

    /// An older ReplicaSet becomes the new one again (a rollback): it takes
    /// the next revision and notes the revisions it had before.
    fn reuse_replicaset(&mut self, d: &Deployment, key: &NsName, revision: i64) {
        let Some(rs) = self.replicasets.get_mut(key) else {
            return;
        };
        let old = rs.meta.revision();
        let mut history: Vec<String> = rs
            .meta
            .annotations
            .get(REVISION_HISTORY)
            .map(|h| h.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        history.push(old.to_string());
        let mut a = Self::handed_down(d, revision);
        a.insert(REVISION_HISTORY.into(), history.join(","));
        if !d.meta.annotations.contains_key(CHANGE_CAUSE) {
            a.remove(CHANGE_CAUSE);
        }
        rs.meta.annotations = a;
        self.store.commit(rs);
    }

    // ---- the ReplicaSet controller ------------------------------------------------------

    /// Creates or deletes pods until the ReplicaSet has as many as it wants.
    pub(crate) fn sync_pods(&mut self, rs_key: &NsName) {
        let Some(rs) = self.replicasets.get(rs_key).cloned() else {
            return;
        };
        let mut pods = self.owned_pods(&rs);
        let have = pods.len() as i32;
        if have < rs.replicas {
            for _ in have..rs.replicas {
                self.create_pod(&rs, true);
            }
        } else if have > rs.replicas {
            // Not-ready pods go first, then the youngest.
            pods.sort_by_key(|k| {
                let p = &self.pods[k];
                (p.ready(), std::cmp::Reverse(p.meta.created), k.1.clone())
            });
            for k in pods.into_iter().take((have - rs.replicas) as usize) {
                self.delete_pod(&k, &rs);
            }
        }
        self.refresh_rs_status(rs_key);
    }

    /// Recomputes a ReplicaSet's status from its pods; true if it changed.
    pub(crate) fn refresh_rs_status(&mut self, rs_key: &NsName) -> bool {
        let Some(rs) = self.replicasets.get(rs_key) else {
            return false;
        };
        let pods = self.owned_pods(rs);
        let ready = pods.iter().filter(|k| self.pods[*k].ready()).count() as i32;
        let status = ReplicaSetStatus {
            replicas: pods.len() as i32,
            ready,
            available: ready,
            observed_generation: rs.meta.generation.unwrap_or(1),
        };
        if status == rs.status {
            return false;
        }
        let Some(rs) = self.replicasets.get_mut(rs_key) else {
            return false;
        };
        rs.status = status;
        self.store.commit(rs);
        true
    }

    fn create_pod(&mut self, rs: &ReplicaSet, announce: bool) -> NsName {
        let seq = self.next_seq().to_string();
        let suffix = safe_encode(super::super::ids::hash(0, &[&self.spec.name, &rs.meta.name, &seq]), 5);
        let name = format!("{}-{suffix}", rs.meta.name);
        let uid = self.uid();
        let now = self.now;
        let mut meta = Meta::new(&name, &rs.meta.namespace, uid, now);
        let labels = rs.template.pointer("/metadata/labels").and_then(Value::as_object);
        meta.labels = labels
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(Value::Object(a)) = rs.template.pointer("/metadata/annotations") {
            meta.annotations = a
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect();
        }
        meta.owner = Some(Owner {
            kind: Kind::ReplicaSet,
            name: rs.meta.name.clone(),
            uid: rs.meta.uid.clone(),
        });
        let node_index = self.pick(&[&name, "node"], 0, self.spec.nodes.len().max(1) as i64) as usize;
        let (node, host_ip) = self.spec.nodes.get(node_index).cloned().unwrap_or_default();
        let pod_ip = format!(
            "{}.{}.{}",
            self.spec.pod_cidr_prefix,
            self.pick(&[&name, "ip3"], 0, 63),
            self.pick(&[&name, "ip4"], 2, 254)
        );
        let mut spec = rs.template.get("spec").cloned().unwrap_or_else(|| json!({}));
        if let Value::Object(s) = &mut spec {
            s.insert("nodeName".into(), json!(node));
            s.insert("serviceAccountName".into(), json!("default"));
            s.insert("serviceAccount".into(), json!("default"));
            s.insert("enableServiceLinks".into(), json!(true));
            s.insert("preemptionPolicy".into(), json!("PreemptLowerPriority"));
            s.insert("priority".into(), json!(0));
            s.insert(
                "tolerations".into(),
                json!([
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]),
            );
        }
        let containers = super::objects::template_images(&rs.template)
            .into_iter()
            .map(|(name, image)| ContainerRun {
                name,
                image,
                image_id: None,
                container_id: None,
                state: ContainerState::Waiting {
                    reason: "ContainerCreating".into(),
                    message: None,
                },
                last_terminated: None,
                restarts: 0,
                ready: false,
                pull_failures: 0,
                crashes: 0,
            })
            .collect();
        let ready_at = now + self.pick(&[&name, "ready"], 3 * SEC, 5 * SEC + 1);
        let mut pod = Pod {
            meta,
            spec,
            node: node.clone(),
            host_ip,
            pod_ip,
            containers,
            started: None,
            ready_changed: now,
            next: Some((now + SEC, Step::Pull)),
            crashes: false,
            ready_at,
        };
        self.store.commit(&mut pod);
        let key = (rs.meta.namespace.clone(), name.clone());
        if announce {
            self.record_event(
                Cluster::involved(rs, None),
                false,
                "SuccessfulCreate",
                format!("Created pod: {name}"),
                "replicaset-controller",
                None,
            );
            self.record_event(
                Cluster::involved(&pod, None),
                false,
                "Scheduled",
                format!("Successfully assigned {}/{name} to {node}", rs.meta.namespace),
                "default-scheduler",
                None,
            );
            self.schedule(now + SEC, Job::Pod(key.clone()));
        }
        self.pods.insert(key.clone(), pod);
        key
    }

    fn delete_pod(&mut self, key: &NsName, rs: &ReplicaSet) {
        let Some(mut pod) = self.pods.remove(key) else {
            return;
        };
        for c in pod.containers.clone() {
            if c.container_id.is_some() {
                self.record_event(
                    Cluster::involved(&pod, Some(format!("spec.containers{{{}}}", c.name))),
                    false,
                    "Killing",
                    format!("Stopping container {}", c.name),
                    "kubelet",
                    Some(pod.node.clone()),
                );
            }
        }
        self.store.delete(&mut pod);
        self.record_event(
            Cluster::involved(rs, None),
            false,
            "SuccessfulDelete",
            format!("Deleted pod: {}", key.1),
            "replicaset-controller",
            None,
        );
    }
}

/// The containerd id of a container's `attempt`-th run.
pub(crate) fn container_id(pod_uid: &str, container: &str, attempt: u32) -> String {
    format!(
        "containerd://{}",
        super::super::ids::hex(0, &[pod_uid, container, &attempt.to_string()], 64)
    )
}

/// The controller's `DeploymentProgressing`: more updated, ready or
/// available replicas, or fewer old ones.
fn progressed(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let old_olds = old.replicas - old.updated;
    let new_olds = new.replicas - new.updated;
    new.updated > old.updated || new_olds < old_olds || new.ready > old.ready || new.available > old.available
}

/// The controller's `DeploymentTimedOut`.
fn timed_out(status: &DeploymentStatus, deadline: Option<i64>, now: Ms) -> bool {
    let (Some(secs), Some(c)) = (deadline, status.condition(PROGRESSING)) else {
        return false;
    };
    match c.reason {
        "NewReplicaSetAvailable" => false,
        "ProgressDeadlineExceeded" => true,
        _ => now > c.last_update + secs * SEC,
    }
}

/// Takes what a client may change from a patched Deployment: labels,
/// annotations and the (defaulted) spec; a spec change bumps the generation.
fn take_patched(d: &mut Deployment, patched: &Value) {
    let strings = |v: Option<&Value>| -> super::objects::Labels {
        match v {
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect(),
            _ => Default::default(),
        }
    };
    d.meta.labels = strings(patched.pointer("/metadata/labels"));
    d.meta.annotations = strings(patched.pointer("/metadata/annotations"));
    let mut spec = patched.get("spec").cloned().unwrap_or_else(|| json!({}));
    default_deployment_spec(&mut spec);
    if spec != d.spec {
        d.meta.generation = Some(d.meta.generation.unwrap_or(1) + 1);
        d.spec = spec;
    }
}
