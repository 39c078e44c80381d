//! What the cockpit does to a Deployment, each the way kubectl does it: `set image` (strategic
//! merge patch), `rollout status` (follow), `rollout undo` (JSON Patch restoring an old
//! ReplicaSet's template), `rollout restart` and `rollout resume`. Each returns what happened or
//! an error that says why, in kubectl's words where kubectl has some.

use std::future::Future;
use std::time::Duration;

use ::kube::api::{Api, ListParams, Patch, PatchParams};
use ::kube::runtime::utils::Backoff;
use ::kube::runtime::watcher::{self, DefaultBackoff, Event as WatchEvent};
use ::kube::{Client, ResourceExt};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Map, Value, json};

use super::error::KubeError;
use super::map;
use crate::model::{
    ANNOTATION_CHANGE_CAUSE, ANNOTATION_RESTARTED_AT, ANNOTATION_STARTED_BY, LABEL_POD_TEMPLATE_HASH, RolloutPhase,
    RolloutStatus, WorkloadRef, plan_undo, rollout_status,
};

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The field manager the server records for Flightdeck's patches.
pub const FIELD_MANAGER: &str = "flightdeck";

/// Annotations a rollback keeps from the Deployment instead of taking them from the ReplicaSet
/// (kubectl's `annotationsToSkip`).
const KEPT_ON_UNDO: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deprecated.deployment.rollback.to",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
];

async fn within<T>(what: &str, request: impl Future<Output = Result<T, ::kube::Error>>) -> Result<T, KubeError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
        Ok(r) => r.map_err(KubeError::from),
        Err(_) => Err(KubeError::Timeout(format!(
            "{what}: no answer within {}s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
}

fn deployments(client: &Client, w: &WorkloadRef) -> Api<Deployment> {
    Api::namespaced(client.clone(), &w.namespace)
}

fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    }
}

async fn get(api: &Api<Deployment>, w: &WorkloadRef) -> Result<Deployment, KubeError> {
    within(&format!("GET deployment/{}", w.deployment), api.get(&w.deployment)).await
}

async fn patch(api: &Api<Deployment>, w: &WorkloadRef, patch: &Patch<Value>) -> Result<Deployment, KubeError> {
    within(
        &format!("PATCH deployment/{}", w.deployment),
        api.patch(&w.deployment, &patch_params(), patch),
    )
    .await
}

fn generation(d: &Deployment) -> i64 {
    d.metadata.generation.unwrap_or(0)
}

fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

/// The outcome of [`set_image`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetImage {
    /// The Deployment's generation after the patch: follow the rollout from it.
    pub generation: i64,
    pub previous_image: String,
    /// The pod template changed (the generation moved), so a rollout starts.
    pub changed: bool,
}

/// `kubectl set image deployment/D C=IMAGE`, as a strategic merge patch of that one container
/// (containers merge by name), recording why (`kubernetes.io/change-cause`, which the
/// controller copies to the new ReplicaSet) and who (`flightdeck.dev/started-by`). Refused when
/// the Deployment has no such container: the patch would add one.
pub async fn set_image(client: &Client, w: &WorkloadRef, image: &str, started_by: &str) -> Result<SetImage, KubeError> {
    let api = deployments(client, w);
    let before = map::deployment(&get(&api, w).await?);
    let Some(previous) = before.container(&w.container) else {
        let names: Vec<&str> = before.containers.iter().map(|c| c.name.as_str()).collect();
        return Err(KubeError::Refused(format!(
            "deployment/{} has no container `{}` (it has: {})",
            w.deployment,
            w.container,
            names.join(", ")
        )));
    };
    let cause = format!(
        "flightdeck set image deployment/{} {}={image}",
        w.deployment, w.container
    );
    let body = json!({
        "metadata": {"annotations": {ANNOTATION_CHANGE_CAUSE: cause, ANNOTATION_STARTED_BY: started_by}},
        "spec": {"template": {"spec": {"containers": [{"name": w.container, "image": image}]}}}
    });
    let after = patch(&api, w, &Patch::Strategic(body)).await?;
    Ok(SetImage {
        generation: generation(&after),
        previous_image: previous.image.clone(),
        changed: generation(&after) > before.generation,
    })
}

/// Follow a rollout like `kubectl rollout status`, through a watch of that one Deployment
/// (`fieldSelector=metadata.name=D`), until it is complete, failed (progress deadline) or paused.
/// Until the Deployment reaches `min_generation` (the one a patch returned) it is waiting for the
/// spec update. `progress` hears every new status. Transient watch errors are retried with kube's
/// backoff; refusals (401, 403) end the follow.
pub async fn follow_rollout(
    client: &Client,
    w: &WorkloadRef,
    min_generation: i64,
    timeout: Duration,
    mut progress: impl FnMut(&RolloutStatus),
) -> Result<RolloutStatus, KubeError> {
    let config = watcher::Config::default().fields(&format!("metadata.name={}", w.deployment));
    let mut stream = watcher::watcher(deployments(client, w), config).boxed();
    let mut last: Option<RolloutStatus> = None;
    let follow = async {
        let mut backoff = DefaultBackoff::default();
        let mut seen = false;
        while let Some(item) = stream.next().await {
            let d = match item {
                Ok(WatchEvent::Apply(d) | WatchEvent::InitApply(d)) => d,
                Ok(WatchEvent::Delete(d)) if d.name_any() == w.deployment => {
                    return Err(KubeError::Refused(format!(
                        "deployment/{} was deleted during its rollout",
                        w.deployment
                    )));
                }
                Ok(WatchEvent::InitDone) if !seen => {
                    return Err(KubeError::Api {
                        code: 404,
                        reason: "NotFound".into(),
                        message: format!("deployment/{} not found in namespace {}", w.deployment, w.namespace),
                    });
                }
                Ok(_) => continue,
                Err(e) => {
                    let e = KubeError::from(e);
                    match e.code() {
                        Some(410) => continue,
                        Some(401 | 403) => return Err(e),
                        _ => {
                            tracing::debug!("following deployment/{}: {e}", w.deployment);
                            tokio::time::sleep(backoff.next().unwrap_or(Duration::from_secs(5))).await;
                            continue;
                        }
                    }
                }
            };
            // A server that ignores the field selector must not mix other Deployments in.
            if d.name_any() != w.deployment {
                continue;
            }
            seen = true;
            backoff.reset();
            let info = map::deployment(&d);
            let status = if info.generation < min_generation {
                RolloutStatus {
                    phase: RolloutPhase::Waiting,
                    message: "Waiting for deployment spec update to be observed...".into(),
                }
            } else {
                rollout_status(&info)
            };
            if last.as_ref() != Some(&status) {
                progress(&status);
                last = Some(status.clone());
            }
            if status.is_settled() {
                return Ok(status);
            }
        }
        Err(KubeError::Transport("the watch ended".into()))
    };
    let outcome = tokio::time::timeout(timeout, follow).await;
    match outcome {
        Ok(result) => result,
        Err(_) => Err(KubeError::Timeout(format!(
            "deployment/{} not rolled out after {}s{}",
            w.deployment,
            timeout.as_secs(),
            last.map(|s| format!(": {}", s.message)).unwrap_or_default()
        ))),
    }
}

/// The outcome of [`rollout_undo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undo {
    pub from_revision: Option<i64>,
    pub to_revision: i64,
    /// The ReplicaSet whose template came back.
    pub replica_set: String,
    /// The template already was that revision's: nothing was sent (kubectl's "skipped rollback").
    pub skipped: bool,
    /// The Deployment's generation afterwards: follow the rollout from it.
    pub generation: i64,
}

/// The ReplicaSets a Deployment controls: listed by its selector in its namespace, kept when
/// their controller owner reference is that Deployment (by uid).
async fn owned_replica_sets(client: &Client, w: &WorkloadRef, d: &Deployment) -> Result<Vec<ReplicaSet>, KubeError> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), &w.namespace);
    let mut params = ListParams::default();
    if let Some(selector) = d.spec.as_ref().map(|s| s.selector.clone()) {
        let selector = ::kube::core::Selector::try_from(selector)
            .map_err(|e| KubeError::Refused(format!("deployment/{}: unusable selector: {e}", w.deployment)))?;
        params = params.labels_from(&selector);
    }
    let list = within(&format!("LIST replicasets of {}", w.deployment), api.list(&params)).await?;
    let uid = d.metadata.uid.as_deref();
    Ok(list
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata.owner_references.as_ref().is_some_and(|owners| {
                owners.iter().any(|o| {
                    o.kind == "Deployment"
                        && o.controller == Some(true)
                        && (uid.is_some_and(|u| u == o.uid) || (uid.is_none() && o.name == w.deployment))
                })
            })
        })
        .collect())
}

/// A pod template as JSON, without the `pod-template-hash` label and without empty or null
/// fields, so that two templates compare as the API server's semantic equality would.
fn comparable_template(t: Option<&PodTemplateSpec>) -> Value {
    let mut v = t
        .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    strip_hash_label(&mut v);
    prune(&mut v);
    v
}

fn strip_hash_label(template: &mut Value) {
    if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(LABEL_POD_TEMPLATE_HASH);
    }
}

/// Drop nulls and empty arrays and objects, recursively (Go's semantic equality treats nil and
/// empty alike).
fn prune(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                prune(child);
            }
            map.retain(|_, child| !is_empty(child));
        }
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// `kubectl rollout undo deployment/D [--to-revision=N]`: the previous revision (or N), refused
/// while paused, skipped when the template already is that revision's, else a JSON Patch that
/// replaces `/spec/template` with the ReplicaSet's (minus `pod-template-hash`) and
/// `/metadata/annotations` with the Deployment's own bookkeeping plus the ReplicaSet's others.
pub async fn rollout_undo(client: &Client, w: &WorkloadRef, to_revision: Option<i64>) -> Result<Undo, KubeError> {
    let api = deployments(client, w);
    let d = get(&api, w).await?;
    let rss = owned_replica_sets(client, w, &d).await?;
    let info = map::deployment(&d);
    let mut infos: Vec<_> = rss.iter().map(map::replica_set).collect();
    // Ownership was checked by uid above; the plan checks it again by name.
    for rs in &mut infos {
        rs.owner = Some(w.deployment.clone());
    }
    let plan = plan_undo(&info, &infos, to_revision).map_err(KubeError::Refused)?;
    let Some(target) = rss.iter().find(|rs| rs.name_any() == plan.replica_set) else {
        return Err(KubeError::Refused(format!("replicaset {} vanished", plan.replica_set)));
    };
    let target_template = target.spec.as_ref().and_then(|s| s.template.as_ref());
    let from_revision = info.revision;
    if comparable_template(target_template) == comparable_template(d.spec.as_ref().map(|s| &s.template)) {
        return Ok(Undo {
            from_revision,
            to_revision: plan.to_revision,
            replica_set: plan.replica_set,
            skipped: true,
            generation: generation(&d),
        });
    }
    let mut template = target_template
        .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    strip_hash_label(&mut template);
    let mut annotations = Map::new();
    let own = d.metadata.annotations.clone().unwrap_or_default();
    for key in KEPT_ON_UNDO {
        if let Some(v) = own.get(key) {
            annotations.insert(key.to_string(), Value::String(v.clone()));
        }
    }
    for (k, v) in target.metadata.annotations.clone().unwrap_or_default() {
        if !KEPT_ON_UNDO.contains(&k.as_str()) {
            annotations.insert(k, Value::String(v));
        }
    }
    let ops: Patch<Value> = Patch::Json(
        serde_json::from_value(json!([
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ]))
        .map_err(|e| KubeError::Refused(format!("building the rollback patch: {e}")))?,
    );
    let after = patch(&api, w, &ops).await?;
    Ok(Undo {
        from_revision,
        to_revision: plan.to_revision,
        replica_set: plan.replica_set,
        skipped: false,
        generation: generation(&after),
    })
}

/// The outcome of [`restart`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restarted {
    pub generation: i64,
    /// The `kubectl.kubernetes.io/restartedAt` value set.
    pub restarted_at: String,
}

/// `kubectl rollout restart deployment/D`: a new `restartedAt` annotation on the pod template
/// (strategic merge patch) makes every pod be replaced. Refused while paused, as kubectl does.
pub async fn restart(client: &Client, w: &WorkloadRef, at: DateTime<Utc>) -> Result<Restarted, KubeError> {
    let api = deployments(client, w);
    let d = get(&api, w).await?;
    if paused(&d) {
        return Err(KubeError::Refused(
            "can't restart paused deployment (run rollout resume first)".into(),
        ));
    }
    let restarted_at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let body = json!({"spec": {"template": {"metadata": {"annotations": {ANNOTATION_RESTARTED_AT: restarted_at}}}}});
    let after = patch(&api, w, &Patch::Strategic(body)).await?;
    Ok(Restarted {
        generation: generation(&after),
        restarted_at,
    })
}

/// The outcome of [`resume`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resumed {
    pub generation: i64,
    /// It was paused (otherwise nothing was sent).
    pub was_paused: bool,
}

/// `kubectl rollout resume deployment/D` (`spec.paused: false`): a paused rollout goes on.
/// Resuming one that is not paused changes nothing and is not an error.
pub async fn resume(client: &Client, w: &WorkloadRef) -> Result<Resumed, KubeError> {
    let api = deployments(client, w);
    let d = get(&api, w).await?;
    if !paused(&d) {
        return Ok(Resumed {
            generation: generation(&d),
            was_paused: false,
        });
    }
    let after = patch(&api, w, &Patch::Strategic(json!({"spec": {"paused": false}}))).await?;
    Ok(Resumed {
        generation: generation(&after),
        was_paused: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compare_without_hash_and_empties() {
        let a: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}, "creationTimestamp": null},
            "spec": {"containers": [{"name": "web", "image": "web:1", "resources": {}}]}
        }))
        .unwrap();
        let b: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]}
        }))
        .unwrap();
        assert_eq!(comparable_template(Some(&a)), comparable_template(Some(&b)));
        let c: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:2"}]}
        }))
        .unwrap();
        assert_ne!(comparable_template(Some(&a)), comparable_template(Some(&c)));
    }
}
