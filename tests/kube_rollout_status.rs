//! How Flightdeck judges rollouts, undo plans and pods: the real Deployment and Pod bodies in
//! `tests/fixtures/kube` through k8s-openapi and the source's mapper, then tables of cases built
//! on the complete Deployment with one field changed each (kubectl's checks, in kubectl's order).

use flightdeck::model::{
    ClusterChange, ClusterKind, ClusterObject, ClusterObjects, ContainerSpec, ContainerStatusInfo, DeploymentInfo,
    EventInfo, NamespaceState, PodInfo, ReplicaSetInfo, RolloutPhase, State, Update, WorkloadRef, plan_undo,
    rollout_status,
};
use flightdeck::sources::kube::map;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

fn read(name: &str) -> String {
    let path = format!("{}/tests/fixtures/kube/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_saphyr::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn complete_json() -> Value {
    serde_json::from_str(&read("k8s-deployment-complete.json")).unwrap()
}

fn deployment_from(v: Value) -> DeploymentInfo {
    let d: Deployment = serde_json::from_value(v).unwrap();
    map::deployment(&d)
}

#[test]
fn complete_fixture_is_complete() {
    let d = deployment_from(complete_json());
    assert_eq!(d.name, "nginx");
    assert_eq!((d.generation, d.observed_generation), (5, 5));
    assert_eq!(d.spec_replicas, Some(3));
    assert_eq!(
        (
            d.replicas,
            d.updated_replicas,
            d.ready_replicas,
            d.available_replicas,
            d.unavailable_replicas
        ),
        (3, 3, 3, 3, 0)
    );
    assert_eq!(d.revision, Some(1));
    assert_eq!(d.progress_deadline_seconds, Some(600));
    assert_eq!(d.revision_history_limit, Some(10));
    assert_eq!(d.selector.get("app").map(String::as_str), Some("nginx"));
    assert_eq!(
        d.containers,
        [ContainerSpec {
            name: "nginx".into(),
            image: "gcr.io/kakaraparthy-devel/nginx:latest".into()
        }]
    );
    let progressing = d.condition("Progressing").unwrap();
    assert_eq!(progressing.reason.as_deref(), Some("NewReplicaSetAvailable"));
    assert!(progressing.last_update.is_some());
    let s = rollout_status(&d);
    assert_eq!(s.phase, RolloutPhase::Complete);
    assert_eq!(s.message, "deployment \"nginx\" successfully rolled out");
    assert!(s.is_settled());
}

#[test]
fn progressing_fixture_waits_for_old_replicas() {
    let d = map::deployment(&yaml::<Deployment>("gitops-engine_deployment-progressing.yaml"));
    assert!(!d.paused);
    assert_eq!(d.unavailable_replicas, 1);
    assert!(d.change_cause.is_none());
    let s = rollout_status(&d);
    assert_eq!(s.phase, RolloutPhase::Progressing);
    assert_eq!(
        s.message,
        "Waiting for deployment \"guestbook-ui\" rollout to finish: 1 old replicas are pending termination..."
    );
    assert!(!s.is_settled());
}

#[test]
fn suspended_fixture_is_paused() {
    let d = map::deployment(&yaml::<Deployment>("gitops-engine_deployment-suspended.yaml"));
    assert!(d.paused);
    // The Progressing condition still reads ReplicaSetUpdated: only spec.paused tells.
    assert_eq!(
        d.condition("Progressing").and_then(|c| c.reason.as_deref()),
        Some("ReplicaSetUpdated")
    );
    let s = rollout_status(&d);
    assert_eq!(s.phase, RolloutPhase::Paused);
    assert!(s.message.contains("paused"), "{}", s.message);
    assert!(
        s.message.contains("1 old replicas are pending termination"),
        "{}",
        s.message
    );
    assert!(s.is_settled());
}

/// The complete Deployment with `edit` applied to its JSON.
fn case(edit: impl FnOnce(&mut Value)) -> DeploymentInfo {
    let mut v = complete_json();
    edit(&mut v);
    deployment_from(v)
}

#[test]
fn kubectl_checks_in_order() {
    let progress_deadline = json!({
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet \"nginx-6f5fdbd667\" has timed out progressing."
    });
    let cases: Vec<(&str, DeploymentInfo, RolloutPhase, &str)> = vec![
        (
            "generation not observed",
            case(|v| v["metadata"]["generation"] = json!(6)),
            RolloutPhase::Waiting,
            "Waiting for deployment spec update to be observed...",
        ),
        (
            "no status at all: observedGeneration 0",
            case(|v| {
                v.as_object_mut().unwrap().remove("status");
            }),
            RolloutPhase::Waiting,
            "Waiting for deployment spec update to be observed...",
        ),
        (
            "generation check comes before the deadline",
            case(|v| {
                v["metadata"]["generation"] = json!(6);
                v["status"]["conditions"][0] = progress_deadline.clone();
            }),
            RolloutPhase::Waiting,
            "Waiting for deployment spec update to be observed...",
        ),
        (
            "progress deadline exceeded",
            case(|v| {
                v["status"]["conditions"][0] = progress_deadline.clone();
                v["status"]["updatedReplicas"] = json!(1);
            }),
            RolloutPhase::Failed,
            "deployment \"nginx\" exceeded its progress deadline",
        ),
        (
            "new replicas not all updated",
            case(|v| v["status"]["updatedReplicas"] = json!(1)),
            RolloutPhase::Progressing,
            "Waiting for deployment \"nginx\" rollout to finish: 1 out of 3 new replicas have been updated...",
        ),
        (
            "old replicas pending termination",
            case(|v| v["status"]["replicas"] = json!(5)),
            RolloutPhase::Progressing,
            "Waiting for deployment \"nginx\" rollout to finish: 2 old replicas are pending termination...",
        ),
        (
            "updated but not available",
            case(|v| v["status"]["availableReplicas"] = json!(2)),
            RolloutPhase::Progressing,
            "Waiting for deployment \"nginx\" rollout to finish: 2 of 3 updated replicas are available...",
        ),
        (
            "a missing count is 0",
            case(|v| {
                v["status"].as_object_mut().unwrap().remove("availableReplicas");
            }),
            RolloutPhase::Progressing,
            "Waiting for deployment \"nginx\" rollout to finish: 0 of 3 updated replicas are available...",
        ),
        (
            "scaled to zero: every count missing",
            case(|v| {
                v["spec"]["replicas"] = json!(0);
                v["status"] = json!({"observedGeneration": 5});
            }),
            RolloutPhase::Complete,
            "deployment \"nginx\" successfully rolled out",
        ),
        (
            "NewReplicaSetAvailable is not enough while counts differ",
            case(|v| v["status"]["updatedReplicas"] = json!(2)),
            RolloutPhase::Progressing,
            "Waiting for deployment \"nginx\" rollout to finish: 2 out of 3 new replicas have been updated...",
        ),
        (
            "paused with nothing left to do is complete",
            case(|v| v["spec"]["paused"] = json!(true)),
            RolloutPhase::Complete,
            "deployment \"nginx\" successfully rolled out",
        ),
    ];
    for (what, d, phase, message) in cases {
        let s = rollout_status(&d);
        assert_eq!((s.phase, s.message.as_str()), (phase, message), "{what}");
    }
}

#[test]
fn paused_mid_rollout_says_so() {
    let d = case(|v| {
        v["spec"]["paused"] = json!(true);
        v["status"]["updatedReplicas"] = json!(0);
    });
    let s = rollout_status(&d);
    assert_eq!(s.phase, RolloutPhase::Paused);
    assert_eq!(
        s.message,
        "deployment \"nginx\" is paused; resume it to continue (Waiting for deployment \"nginx\" rollout to \
         finish: 0 out of 3 new replicas have been updated...)"
    );
}

#[test]
fn crashloop_pod() {
    let p = map::pod(&yaml::<Pod>("gitops-engine_pod-crashloop.yaml"));
    assert_eq!(p.name, "my-pod");
    assert_eq!(p.phase, "Running");
    assert!(!p.ready);
    assert_eq!(p.restarts, 3);
    assert_eq!(p.node.as_deref(), Some("minikube"));
    assert!(p.owner.is_none());
    assert_eq!(p.waiting_reason(), Some("CrashLoopBackOff"));
    let c = p.container("main").unwrap();
    assert_eq!(c.image, "alpine:latest");
    assert_eq!(
        c.digest.as_deref(),
        Some("sha256:621c2f39f8133acb8e64023a94dbdf0d5ca81896102b9e57c0dc184cadaf5528")
    );
    let w = c.waiting.as_ref().unwrap();
    assert!(
        w.message
            .as_deref()
            .unwrap()
            .starts_with("Back-off 40s restarting failed container=main")
    );
    let last = c.last_terminated.as_ref().unwrap();
    assert_eq!((last.reason.as_deref(), last.exit_code), (Some("Error"), 1));
    assert!(c.terminated.is_none());
}

#[test]
fn running_not_ready_pod() {
    let p = map::pod(&yaml::<Pod>("gitops-engine_pod-running-not-ready.yaml"));
    assert_eq!(p.phase, "Running");
    assert!(!p.ready);
    assert_eq!(p.restarts, 0);
    assert_eq!(p.waiting_reason(), None);
    let c = p.container("main").unwrap();
    assert!(!c.ready);
    assert!(c.waiting.is_none() && c.terminated.is_none() && c.last_terminated.is_none());
    assert!(c.digest.is_some());
}

#[test]
fn pod_without_statuses_shows_its_spec() {
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web-abc-x1", "labels": {"pod-template-hash": "abc"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u", "controller": true}]},
        "spec": {"containers": [{"name": "web", "image": "shop/web:1.2"}]},
        "status": {"phase": "Pending"}
    }))
    .unwrap();
    let p = map::pod(&p);
    assert_eq!(p.owner.as_deref(), Some("web-abc"));
    assert_eq!(p.pod_template_hash.as_deref(), Some("abc"));
    let c = p.container("web").unwrap();
    assert_eq!(
        (c.image.as_str(), c.digest.as_deref(), c.ready),
        ("shop/web:1.2", None, false)
    );
}

fn rs(name: &str, revision: i64, image: &str) -> ReplicaSetInfo {
    ReplicaSetInfo {
        name: name.into(),
        revision: Some(revision),
        owner: Some("web".into()),
        pod_template_hash: name.rsplit('-').next().map(str::to_string),
        desired: 0,
        replicas: 0,
        ready_replicas: 0,
        available_replicas: 0,
        containers: vec![ContainerSpec {
            name: "web".into(),
            image: image.into(),
        }],
        change_cause: Some(format!("deploy {image}")),
        created: None,
    }
}

fn web(image: &str, revision: i64) -> DeploymentInfo {
    let mut d = case(|v| {
        v["metadata"]["name"] = json!("web");
        v["spec"]["template"]["spec"]["containers"][0] = json!({"name": "web", "image": image});
    });
    d.revision = Some(revision);
    d
}

#[test]
fn undo_plans_as_kubectl() {
    let history = [
        rs("web-aaa", 1, "web:1"),
        rs("web-bbb", 2, "web:2"),
        rs("web-ccc", 3, "web:3"),
    ];
    let d = web("web:3", 3);

    let back = plan_undo(&d, &history, None).unwrap();
    assert_eq!((back.from_revision, back.to_revision), (Some(3), 2));
    assert_eq!(back.replica_set, "web-bbb");
    assert_eq!(back.containers[0].image, "web:2");
    assert_eq!(back.change_cause.as_deref(), Some("deploy web:2"));
    assert!(!back.skipped);

    let first = plan_undo(&d, &history, Some(1)).unwrap();
    assert_eq!((first.to_revision, first.replica_set.as_str()), (1, "web-aaa"));
    // --to-revision=0 means the previous one.
    assert_eq!(plan_undo(&d, &history, Some(0)).unwrap().to_revision, 2);

    let same = plan_undo(&d, &history, Some(3)).unwrap();
    assert!(same.skipped, "the current template is revision 3");

    assert_eq!(
        plan_undo(&d, &history, Some(7)).unwrap_err(),
        "unable to find specified revision 7 in history"
    );
    assert_eq!(
        plan_undo(&d, &history[2..], None).unwrap_err(),
        "no rollout history found for deployment \"web\""
    );
    // Someone else's ReplicaSets are not history.
    let mut foreign = rs("web-ddd", 4, "web:4");
    foreign.owner = Some("web-admin".into());
    assert_eq!(
        plan_undo(&d, [&history[2], &foreign], None).unwrap_err(),
        "no rollout history found for deployment \"web\""
    );

    let mut paused = d.clone();
    paused.paused = true;
    assert_eq!(
        plan_undo(&paused, &history, None).unwrap_err(),
        "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume deployment/web' and try again"
    );
}

fn pod(name: &str, owner: &str, ready: bool, digest: Option<&str>) -> PodInfo {
    PodInfo {
        name: name.into(),
        phase: "Running".into(),
        ready,
        restarts: 0,
        containers: vec![ContainerStatusInfo {
            name: "web".into(),
            image: "web:x".into(),
            digest: digest.map(str::to_string),
            ready,
            restarts: 0,
            waiting: None,
            terminated: None,
            last_terminated: None,
        }],
        owner: Some(owner.into()),
        pod_template_hash: owner.rsplit('-').next().map(str::to_string),
        node: None,
        reason: None,
        terminating: false,
        created: None,
    }
}

fn event(name: &str, kind: &str, about: &str, seconds: i64) -> EventInfo {
    EventInfo {
        name: name.into(),
        involved_kind: kind.into(),
        involved_name: about.into(),
        reason: "BackOff".into(),
        message: String::new(),
        count: 1,
        last_seen: chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0),
    }
}

const OLD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const NEW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn workload_state(pods: Vec<PodInfo>) -> State {
    let mut state = State::default();
    let ns = |change| Update::Cluster {
        source: "prod".into(),
        namespace: "shop".into(),
        change,
    };
    state.apply(ns(ClusterChange::Resync(ClusterObjects::Deployments(vec![
        web("web:2", 2),
        case(|v| v["metadata"]["name"] = json!("web-admin")),
    ]))));
    state.apply(ns(ClusterChange::Resync(ClusterObjects::ReplicaSets(vec![
        rs("web-aaa", 1, "web:1"),
        rs("web-bbb", 2, "web:2"),
    ]))));
    state.apply(ns(ClusterChange::Resync(ClusterObjects::Pods(pods))));
    state.apply(ns(ClusterChange::Resync(ClusterObjects::Events(vec![
        event("e1", "Pod", "web-bbb-1", 1),
        event("e2", "Deployment", "web", 2),
        event("e3", "Pod", "web-admin-zzz-1", 3),
        event("e4", "ReplicaSet", "web-aaa", 4),
    ]))));
    state
}

fn workload() -> WorkloadRef {
    WorkloadRef {
        cluster: "prod".into(),
        namespace: "shop".into(),
        deployment: "web".into(),
        container: "web".into(),
    }
}

#[test]
fn workload_view_gathers_its_objects() {
    let state = workload_state(vec![
        pod("web-aaa-1", "web-aaa", true, Some(OLD)),
        pod("web-bbb-1", "web-bbb", true, Some(NEW)),
        pod("web-bbb-2", "web-bbb", false, None),
        pod("web-admin-zzz-1", "web-admin-zzz", true, Some(OLD)),
    ]);
    let ns = &state.clusters["prod"].namespaces["shop"];
    assert_eq!(ns.listed.len(), ClusterKind::ALL.len());
    let w = workload();
    let view = state.workload(&w).unwrap();
    assert_eq!(view.spec_image(), Some("web:2"));
    assert_eq!(view.current.unwrap().name, "web-bbb");
    let rss: Vec<&str> = view.replica_sets.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rss, ["web-bbb", "web-aaa"]);
    let pods: Vec<&str> = view.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(pods, ["web-aaa-1", "web-bbb-1", "web-bbb-2"]);
    let events: Vec<&str> = view.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["e4", "e2", "e1"], "newest first, none of web-admin's");
    // The one ready pod of the current ReplicaSet runs NEW; an old pod still runs OLD.
    assert_eq!(view.running_digest(), Some(NEW));
    let digests = view.digests();
    assert_eq!(digests.len(), 2);
    assert!(digests.iter().any(|d| d.digest == NEW && d.current && d.ready == 1));
    assert!(digests.iter().any(|d| d.digest == OLD && !d.current));
    assert_eq!(view.plan_undo(None).unwrap().to_revision, 1);
}

#[test]
fn running_digest_needs_agreement() {
    let mixed = workload_state(vec![
        pod("web-bbb-1", "web-bbb", true, Some(NEW)),
        pod("web-bbb-2", "web-bbb", true, Some(OLD)),
    ]);
    assert_eq!(mixed.workload(&workload()).unwrap().running_digest(), None);
    let none_ready = workload_state(vec![pod("web-bbb-1", "web-bbb", false, Some(NEW))]);
    assert_eq!(none_ready.workload(&workload()).unwrap().running_digest(), None);
    let unknown = workload_state(vec![
        pod("web-bbb-1", "web-bbb", true, Some(NEW)),
        pod("web-bbb-2", "web-bbb", true, None),
    ]);
    assert_eq!(unknown.workload(&workload()).unwrap().running_digest(), None);
}

#[test]
fn deltas_apply_and_delete() {
    let mut state = workload_state(vec![pod("web-bbb-1", "web-bbb", true, Some(NEW))]);
    let ns = |change| Update::Cluster {
        source: "prod".into(),
        namespace: "shop".into(),
        change,
    };
    state.apply(ns(ClusterChange::Applied(ClusterObject::Pod(Box::new(pod(
        "web-bbb-2",
        "web-bbb",
        true,
        Some(NEW),
    ))))));
    state.apply(ns(ClusterChange::Deleted {
        kind: ClusterKind::Pod,
        name: "web-bbb-1".into(),
    }));
    state.apply(ns(ClusterChange::Applied(ClusterObject::Deployment(Box::new(web(
        "web:3", 3,
    ))))));
    let view = state.workload(&workload()).unwrap();
    let pods: Vec<&str> = view.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(pods, ["web-bbb-2"]);
    assert_eq!(view.spec_image(), Some("web:3"));
    state.apply(ns(ClusterChange::Deleted {
        kind: ClusterKind::Deployment,
        name: "web".into(),
    }));
    assert!(state.workload(&workload()).is_none());
    // Another namespace or cluster is untouched and unknown ones give no view.
    let mut other = workload();
    other.namespace = "elsewhere".into();
    assert!(state.workload(&other).is_none());
    let empty = NamespaceState::default();
    assert!(empty.workload("web", "web").is_none());
}
