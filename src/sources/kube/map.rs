//! From the API's objects (k8s-openapi types) to the compact model: only what the cockpit shows
//! or decides on. Missing fields mean what the API says they mean (counts 0, no conditions).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Event, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;

use crate::model::{
    ANNOTATION_CHANGE_CAUSE, ANNOTATION_RESTARTED_AT, ANNOTATION_REVISION, ANNOTATION_STARTED_BY, Condition,
    ContainerSpec, ContainerStatusInfo, DeploymentInfo, EventInfo, LABEL_POD_TEMPLATE_HASH, PodInfo, ReplicaSetInfo,
    Terminated, Waiting, image_digest,
};

pub fn timestamp(t: &Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
}

fn time(t: Option<&Time>) -> Option<DateTime<Utc>> {
    t.and_then(|t| timestamp(&t.0))
}

fn annotation(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.annotations.as_ref()?.get(key).cloned()
}

/// A revision annotation; one that is not a number counts as none (kubectl errors on it).
pub fn revision(meta: &ObjectMeta) -> Option<i64> {
    annotation(meta, ANNOTATION_REVISION)?.trim().parse().ok()
}

fn label(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.labels.as_ref()?.get(key).cloned()
}

/// The owner that controls this object, if it is of `kind`.
fn controller<'a>(meta: &'a ObjectMeta, kind: &str) -> Option<&'a OwnerReference> {
    let owners = meta.owner_references.as_ref()?;
    owners
        .iter()
        .find(|o| o.kind == kind && o.controller == Some(true))
        .or_else(|| owners.iter().find(|o| o.kind == kind))
}

fn containers(template: Option<&PodTemplateSpec>) -> Vec<ContainerSpec> {
    template
        .and_then(|t| t.spec.as_ref())
        .map(|spec| {
            spec.containers
                .iter()
                .map(|c| ContainerSpec {
                    name: c.name.clone(),
                    image: c.image.clone().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn deployment(d: &Deployment) -> DeploymentInfo {
    let meta = &d.metadata;
    let spec = d.spec.as_ref();
    let status = d.status.as_ref();
    let count = |f: fn(&k8s_openapi::api::apps::v1::DeploymentStatus) -> Option<i32>| status.and_then(f).unwrap_or(0);
    let template = spec.map(|s| &s.template);
    DeploymentInfo {
        name: meta.name.clone().unwrap_or_default(),
        generation: meta.generation.unwrap_or(0),
        observed_generation: status.and_then(|s| s.observed_generation).unwrap_or(0),
        spec_replicas: spec.and_then(|s| s.replicas),
        replicas: count(|s| s.replicas),
        updated_replicas: count(|s| s.updated_replicas),
        ready_replicas: count(|s| s.ready_replicas),
        available_replicas: count(|s| s.available_replicas),
        unavailable_replicas: count(|s| s.unavailable_replicas),
        paused: spec.and_then(|s| s.paused).unwrap_or(false),
        progress_deadline_seconds: spec.and_then(|s| s.progress_deadline_seconds),
        revision_history_limit: spec.and_then(|s| s.revision_history_limit),
        revision: revision(meta),
        conditions: status
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .map(|c| Condition {
                        kind: c.type_.clone(),
                        status: c.status.clone(),
                        reason: c.reason.clone(),
                        message: c.message.clone(),
                        last_update: time(c.last_update_time.as_ref()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        containers: containers(template),
        selector: spec
            .and_then(|s| s.selector.match_labels.clone())
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        change_cause: annotation(meta, ANNOTATION_CHANGE_CAUSE),
        started_by: annotation(meta, ANNOTATION_STARTED_BY),
        restarted_at: template
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| annotation(m, ANNOTATION_RESTARTED_AT)),
        created: time(meta.creation_timestamp.as_ref()),
    }
}

pub fn replica_set(rs: &ReplicaSet) -> ReplicaSetInfo {
    let meta = &rs.metadata;
    let spec = rs.spec.as_ref();
    let status = rs.status.as_ref();
    ReplicaSetInfo {
        name: meta.name.clone().unwrap_or_default(),
        revision: revision(meta),
        owner: controller(meta, "Deployment").map(|o| o.name.clone()),
        pod_template_hash: label(meta, LABEL_POD_TEMPLATE_HASH).or_else(|| {
            spec.and_then(|s| s.template.as_ref())
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| label(m, LABEL_POD_TEMPLATE_HASH))
        }),
        desired: spec.and_then(|s| s.replicas).unwrap_or(1),
        replicas: status.map(|s| s.replicas).unwrap_or(0),
        ready_replicas: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        available_replicas: status.and_then(|s| s.available_replicas).unwrap_or(0),
        containers: containers(spec.and_then(|s| s.template.as_ref())),
        change_cause: annotation(meta, ANNOTATION_CHANGE_CAUSE),
        created: time(meta.creation_timestamp.as_ref()),
    }
}

fn terminated(state: Option<&ContainerState>) -> Option<Terminated> {
    state.and_then(|s| s.terminated.as_ref()).map(|t| Terminated {
        reason: t.reason.clone(),
        exit_code: t.exit_code,
    })
}

fn container_status(s: &ContainerStatus) -> ContainerStatusInfo {
    let waiting = s.state.as_ref().and_then(|st| st.waiting.as_ref()).map(|w| Waiting {
        reason: w.reason.clone().unwrap_or_else(|| "Waiting".to_string()),
        message: w.message.clone(),
    });
    ContainerStatusInfo {
        name: s.name.clone(),
        image: s.image.clone(),
        digest: image_digest(&s.image_id),
        ready: s.ready,
        restarts: s.restart_count,
        waiting,
        terminated: terminated(s.state.as_ref()),
        last_terminated: terminated(s.last_state.as_ref()),
    }
}

pub fn pod(p: &Pod) -> PodInfo {
    let meta = &p.metadata;
    let spec = p.spec.as_ref();
    let status = p.status.as_ref();
    let statuses: &[ContainerStatus] = status.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
    // One entry per container of the spec, in the spec's order; the kubelet's status when it
    // has reported one, else what the spec asks for.
    let mut containers: Vec<ContainerStatusInfo> = spec
        .map(|s| {
            s.containers
                .iter()
                .map(|c| match statuses.iter().find(|st| st.name == c.name) {
                    Some(st) => container_status(st),
                    None => ContainerStatusInfo {
                        name: c.name.clone(),
                        image: c.image.clone().unwrap_or_default(),
                        digest: None,
                        ready: false,
                        restarts: 0,
                        waiting: None,
                        terminated: None,
                        last_terminated: None,
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    for st in statuses {
        if !containers.iter().any(|c| c.name == st.name) {
            containers.push(container_status(st));
        }
    }
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    PodInfo {
        name: meta.name.clone().unwrap_or_default(),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Unknown".into()),
        ready,
        restarts: containers.iter().map(|c| c.restarts).sum(),
        containers,
        owner: controller(meta, "ReplicaSet").map(|o| o.name.clone()),
        pod_template_hash: label(meta, LABEL_POD_TEMPLATE_HASH),
        node: spec.and_then(|s| s.node_name.clone()),
        reason: status.and_then(|s| s.reason.clone()),
        terminating: meta.deletion_timestamp.is_some(),
        created: time(meta.creation_timestamp.as_ref()),
    }
}

/// A Warning event; `None` for any other type (the watch asks the server for Warnings only, but
/// a server that ignores the field selector must not flood the model).
pub fn event(e: &Event) -> Option<EventInfo> {
    if e.type_.as_deref() != Some("Warning") {
        return None;
    }
    let series = e.series.as_ref();
    let last_seen = series
        .and_then(|s| s.last_observed_time.as_ref())
        .and_then(|t| timestamp(&t.0))
        .or_else(|| time(e.last_timestamp.as_ref()))
        .or_else(|| e.event_time.as_ref().and_then(|t| timestamp(&t.0)))
        .or_else(|| time(e.first_timestamp.as_ref()))
        .or_else(|| time(e.metadata.creation_timestamp.as_ref()));
    Some(EventInfo {
        name: e.metadata.name.clone().unwrap_or_default(),
        involved_kind: e.involved_object.kind.clone().unwrap_or_default(),
        involved_name: e.involved_object.name.clone().unwrap_or_default(),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        count: series.and_then(|s| s.count).or(e.count).unwrap_or(1),
        last_seen,
    })
}
