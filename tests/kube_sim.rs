//! The Kubernetes source and the Deployment actions against the simulated clusters, through a
//! generated kubeconfig: the kubeadm cluster (static token, `shop-staging`) and the EKS one
//! (exec plugin = this crate's binary standing in for `aws eks get-token`, `shop-production`).
//! The story clock is frozen; a ticker moves it while rollouts are followed.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use flightdeck::config::KubeSourceConfig;
use flightdeck::model::{
    ANNOTATION_CHANGE_CAUSE, ANNOTATION_RESTARTED_AT, ANNOTATION_STARTED_BY, RolloutPhase, RolloutStatus, SourceHealth,
    State, Update, WorkloadRef, paused_undo_error, plan_undo,
};
use flightdeck::sim::{
    EKS_CONTEXT, Estate, Fault, KUBEADM_CONTEXT, KubeFacts, KubeWorkload, PRODUCTION_NAMESPACE, STAGING_NAMESPACE,
    SimControl, SimOptions,
};
use flightdeck::sources::kube::actions::{follow_rollout, restart, resume, rollout_undo, set_image};
use flightdeck::sources::kube::{KubeClients, KubeError, KubeSource, map};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams};
use tokio::sync::mpsc;

const STAGING: &str = "staging";
const PRODUCTION: &str = "production";
const FOLLOW: Duration = Duration::from_secs(60);

struct Sim {
    estate: Estate,
    control: SimControl,
    facts: KubeFacts,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

async fn sim_with(opts: SimOptions) -> Sim {
    let estate = Estate::start(SimOptions {
        speed: 0.0,
        kube_bookmark_interval: Duration::from_millis(500),
        ..opts
    })
    .await
    .expect("estate starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    let exec = PathBuf::from(env!("CARGO_BIN_EXE_flightdeck"));
    std::fs::write(&kubeconfig, estate.kubeconfig_yaml(&exec)).unwrap();
    let control = estate.control();
    Sim {
        facts: control.kube_facts(),
        control,
        estate,
        kubeconfig,
        _dir: dir,
    }
}

async fn sim() -> Sim {
    sim_with(SimOptions::default()).await
}

impl Sim {
    fn configs(&self) -> Vec<KubeSourceConfig> {
        [(STAGING, KUBEADM_CONTEXT), (PRODUCTION, EKS_CONTEXT)]
            .into_iter()
            .map(|(name, context)| KubeSourceConfig {
                name: name.into(),
                context: context.into(),
                kubeconfig: Some(self.kubeconfig.clone()),
                identity: None,
                timeout: Duration::from_secs(10),
            })
            .collect()
    }

    fn clients(&self) -> KubeClients {
        KubeClients::new(&self.configs())
    }

    /// Moves the story clock a second every 20 ms until dropped.
    fn ticker(&self) -> Ticker {
        let control = self.control.clone();
        Ticker(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                control.tick(1.0);
            }
        }))
    }
}

struct Ticker(tokio::task::JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The source name Flightdeck's config gives the cluster a fact lives on.
fn source_of(w: &KubeWorkload) -> &'static str {
    if w.context == EKS_CONTEXT { PRODUCTION } else { STAGING }
}

fn workload(w: &KubeWorkload) -> WorkloadRef {
    WorkloadRef {
        cluster: source_of(w).into(),
        namespace: w.namespace.clone(),
        deployment: w.deployment.clone(),
        container: w.container.clone(),
    }
}

/// A state with both sources registered, fed by `rx` until `done` holds.
async fn until(
    state: &mut State,
    rx: &mut mpsc::UnboundedReceiver<Update>,
    secs: u64,
    what: &str,
    done: impl Fn(&State) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done(state) {
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "not within {secs}s: {what}\nhealth: {:#?}",
                state.sources.values().collect::<Vec<_>>()
            );
        }
        // Wake now and then: some conditions read the simulator, not the updates.
        match tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            Ok(Some(update)) => state.apply(update),
            Ok(None) => panic!("channel closed before: {what}"),
            Err(_) => {}
        }
    }
}

fn registered() -> State {
    let mut state = State::default();
    for (name, context) in [(STAGING, KUBEADM_CONTEXT), (PRODUCTION, EKS_CONTEXT)] {
        state.apply(Update::SourceRegistered(SourceHealth::new(
            name,
            "kubernetes",
            context,
            60,
        )));
    }
    state
}

fn healthy(state: &State, source: &str) -> bool {
    state
        .sources
        .get(source)
        .is_some_and(|h| h.last_success.is_some() && h.consecutive_failures == 0)
}

fn start_sources(sim: &Sim, clients: &KubeClients) -> mpsc::UnboundedReceiver<Update> {
    let (tx, rx) = mpsc::unbounded_channel();
    for (name, ns) in [(STAGING, STAGING_NAMESPACE), (PRODUCTION, PRODUCTION_NAMESPACE)] {
        let source = KubeSource::new(name, clients.cluster(name).unwrap(), vec![ns.to_string()], tx.clone());
        tokio::spawn(source.run());
    }
    let _ = sim;
    rx
}

/// Every request a cluster received went to its namespace (or is the token endpoint).
fn assert_namespace_scoped(sim: &Sim, context: &str, namespace: &str) {
    let stats = sim.control.kube_stats(context);
    assert_eq!(stats.cluster_wide_refused, 0, "{context}: {stats:?}");
    for r in sim.control.kube_requests(context) {
        assert!(
            r.path == "/__token" || r.path.contains(&format!("/namespaces/{namespace}/")),
            "{context}: {} {}",
            r.method,
            r.path
        );
    }
}

#[tokio::test]
async fn watches_see_both_clusters_namespace_by_namespace() {
    let sim = sim().await;
    let clients = sim.clients();
    let mut rx = start_sources(&sim, &clients);
    let mut state = registered();
    let facts = sim.facts.clone();
    until(
        &mut state,
        &mut rx,
        60,
        "every Deployment of the story, both sources healthy",
        |s| {
            healthy(s, STAGING)
                && healthy(s, PRODUCTION)
                && facts
                    .deployments
                    .iter()
                    .all(|d| s.workload(&workload(&d.workload)).is_some())
        },
    )
    .await;
    assert!(facts.deployments.len() >= 6, "{:?}", facts.deployments.len());
    for d in &facts.deployments {
        let view = state.workload(&workload(&d.workload)).unwrap();
        assert_eq!(view.spec_image(), Some(d.image.as_str()), "{}", d.workload.deployment);
        assert_eq!(view.deployment.revision, Some(d.revision), "{}", d.workload.deployment);
        let mut revisions: Vec<i64> = view.replica_sets.iter().filter_map(|r| r.revision).collect();
        revisions.sort();
        assert_eq!(revisions, d.revisions, "{}", d.workload.deployment);
    }
    // The anomalies read as the cockpit must show them.
    let paused = state.workload(&workload(&facts.paused.workload)).unwrap();
    assert_eq!(paused.status.phase, RolloutPhase::Paused, "{}", paused.status.message);
    assert_eq!(
        paused.deployment.started_by.as_deref(),
        Some(facts.paused.started_by.as_str())
    );
    let deadline = state.workload(&workload(&facts.deadline_exceeded.workload)).unwrap();
    assert_eq!(
        deadline.status.phase,
        RolloutPhase::Failed,
        "{}",
        deadline.status.message
    );
    assert!(deadline.pods.iter().any(|p| p.waiting_reason().is_some()));
    let drift = state.workload(&workload(&facts.drift.workload)).unwrap();
    assert_eq!(drift.running_digest(), Some(facts.drift.running_digest.as_str()));
    let target = state.workload(&workload(&facts.promotion_target.workload)).unwrap();
    assert_eq!(target.status.phase, RolloutPhase::Complete);
    assert_eq!(
        target.running_digest(),
        Some(facts.promotion_target.running_digest.as_str())
    );

    // Exactly one watch per kind and namespace, and nothing cluster-wide.
    let contexts = [
        (KUBEADM_CONTEXT, STAGING_NAMESPACE),
        (EKS_CONTEXT, PRODUCTION_NAMESPACE),
    ];
    until(&mut state, &mut rx, 60, "four watches open on each cluster", |_| {
        contexts
            .iter()
            .all(|(c, _)| sim.control.kube_stats(c).watches_open == 4)
    })
    .await;
    for (context, ns) in contexts {
        let stats = sim.control.kube_stats(context);
        assert_eq!((stats.watches_open, stats.watches), (4, 4), "{context}: {stats:?}");
        assert_eq!(stats.lists, 4, "{context}: {stats:?}");
        assert_namespace_scoped(&sim, context, ns);
        let events: Vec<String> = sim
            .control
            .kube_requests(context)
            .into_iter()
            .filter(|r| r.path.ends_with("/events"))
            .map(|r| r.query)
            .collect();
        assert!(
            !events.is_empty() && events.iter().all(|q| q.contains("fieldSelector=type%3DWarning")),
            "{events:?}"
        );
    }

    // A change arrives as a delta, without a new list.
    sim.control.reset_kube_stats();
    let _ticker = sim.ticker();
    let crash = workload(&facts.crash_loop.workload);
    until(
        &mut state,
        &mut rx,
        60,
        "the crash-looping pod and its Warning events",
        |s| {
            s.workload(&crash).is_some_and(|v| {
                v.pods.iter().any(|p| p.waiting_reason() == Some("CrashLoopBackOff")) && !v.events.is_empty()
            })
        },
    )
    .await;
    assert_eq!(sim.control.kube_stats(KUBEADM_CONTEXT).lists, 0);
    drop(sim.estate);
}

#[tokio::test]
async fn set_image_rolls_out_then_undo_goes_back_then_restart() {
    let sim = sim().await;
    let clients = sim.clients();
    let target = &sim.facts.promotion_target;
    let w = workload(&target.workload);
    let client = clients.client(&w.cluster).await.unwrap();
    let _ticker = sim.ticker();
    let api: Api<Deployment> = Api::namespaced(client.clone(), &w.namespace);
    let before = map::deployment(&api.get(&w.deployment).await.unwrap());

    let set = set_image(&client, &w, &target.candidate_image, "alice").await.unwrap();
    assert!(set.changed);
    assert_eq!(set.generation, before.generation + 1);
    assert_eq!(
        Some(set.previous_image.as_str()),
        before.container(&w.container).map(|c| c.image.as_str())
    );
    let mut seen: Vec<RolloutStatus> = Vec::new();
    let done = follow_rollout(&client, &w, set.generation, FOLLOW, |s| seen.push(s.clone()))
        .await
        .unwrap();
    assert_eq!(done.phase, RolloutPhase::Complete, "{done:?}");
    assert_eq!(
        done.message,
        format!("deployment {:?} successfully rolled out", w.deployment)
    );
    assert!(
        seen.iter().any(|s| s.message.starts_with("Waiting for deployment")),
        "{seen:?}"
    );
    let after = map::deployment(&api.get(&w.deployment).await.unwrap());
    assert_eq!(after.started_by.as_deref(), Some("alice"));
    assert!(after.change_cause.as_deref().unwrap().contains(&target.candidate_image));
    assert_eq!(after.revision, before.revision.map(|r| r + 1));
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), &w.namespace);
    let newest = rss
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(map::replica_set)
        .find(|r| r.owner.as_deref() == Some(w.deployment.as_str()) && r.revision == after.revision)
        .unwrap();
    assert_eq!(
        newest.change_cause, after.change_cause,
        "the controller copies the cause"
    );

    // kubectl rollout undo: back to the previous template, as a new revision.
    let undo = rollout_undo(&client, &w, None).await.unwrap();
    assert!(!undo.skipped);
    assert_eq!(
        (undo.from_revision, Some(undo.to_revision)),
        (after.revision, before.revision)
    );
    let done = follow_rollout(&client, &w, undo.generation, FOLLOW, |_| {})
        .await
        .unwrap();
    assert_eq!(done.phase, RolloutPhase::Complete);
    let back = map::deployment(&api.get(&w.deployment).await.unwrap());
    assert_eq!(back.containers, before.containers);
    assert_eq!(back.revision, before.revision.map(|r| r + 2));
    assert_eq!(back.started_by, None, "annotations come from the old ReplicaSet");
    // Undoing to the revision in place changes nothing.
    let again = rollout_undo(&client, &w, back.revision).await.unwrap();
    assert!(again.skipped);
    let missing = rollout_undo(&client, &w, Some(999)).await.unwrap_err();
    assert_eq!(missing.to_string(), "unable to find specified revision 999 in history");

    // kubectl rollout restart: a new template annotation, every pod replaced.
    let at = Utc::now();
    let restarted = restart(&client, &w, at).await.unwrap();
    let done = follow_rollout(&client, &w, restarted.generation, FOLLOW, |_| {})
        .await
        .unwrap();
    assert_eq!(done.phase, RolloutPhase::Complete);
    let d = api.get(&w.deployment).await.unwrap();
    let annotations = d.spec.unwrap().template.metadata.unwrap().annotations.unwrap();
    assert_eq!(annotations.get(ANNOTATION_RESTARTED_AT), Some(&restarted.restarted_at));

    // A container the Deployment does not have is refused, not added.
    let mut other = w.clone();
    other.container = "sidecar".into();
    let refused = set_image(&client, &other, "busybox:1", "alice").await.unwrap_err();
    assert!(matches!(refused, KubeError::Refused(_)), "{refused:?}");
    assert!(refused.to_string().contains("no container `sidecar`"), "{refused}");

    let stats = sim.control.kube_stats(&target.workload.context);
    assert_eq!(stats.patches, 3, "set image, undo, restart: {stats:?}");
    assert_namespace_scoped(&sim, &target.workload.context, &w.namespace);
    // The JSON patch went out as one.
    let undo_request = sim
        .control
        .kube_requests(&target.workload.context)
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .nth(1)
        .unwrap();
    assert!(
        undo_request.body.contains("\"op\":\"replace\""),
        "{}",
        undo_request.body
    );
    let _ = (ANNOTATION_CHANGE_CAUSE, ANNOTATION_STARTED_BY);
}

#[tokio::test]
async fn a_paused_rollout_refuses_undo_and_restart_until_resumed() {
    let sim = sim().await;
    let clients = sim.clients();
    let paused = &sim.facts.paused;
    let w = workload(&paused.workload);
    assert_eq!(
        w.cluster, PRODUCTION,
        "the paused canary is on EKS: the exec plugin is in use"
    );
    let client = clients.client(&w.cluster).await.unwrap();

    // The compact model's plan says what the action then does.
    let api: Api<Deployment> = Api::namespaced(client.clone(), &w.namespace);
    let d = map::deployment(&api.get(&w.deployment).await.unwrap());
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), &w.namespace);
    let rss: Vec<_> = rs_api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(map::replica_set)
        .collect();
    let plan = plan_undo(&d, &rss, None).unwrap_err();
    assert_eq!(plan, paused_undo_error(&w.deployment));
    let refused = rollout_undo(&client, &w, None).await.unwrap_err();
    assert!(matches!(refused, KubeError::Refused(_)), "{refused:?}");
    assert_eq!(refused.to_string(), plan);
    let refused = restart(&client, &w, Utc::now()).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "can't restart paused deployment (run rollout resume first)"
    );
    let status = follow_rollout(&client, &w, 0, FOLLOW, |_| {}).await.unwrap();
    assert_eq!(status.phase, RolloutPhase::Paused, "{status:?}");

    let _ticker = sim.ticker();
    let resumed = resume(&client, &w).await.unwrap();
    assert!(resumed.was_paused);
    let done = follow_rollout(&client, &w, resumed.generation, FOLLOW, |_| {})
        .await
        .unwrap();
    assert_eq!(done.phase, RolloutPhase::Complete, "{done:?}");
    assert!(
        !resume(&client, &w).await.unwrap().was_paused,
        "resuming twice is harmless"
    );
    let stats = sim.control.kube_stats(EKS_CONTEXT);
    assert_eq!(stats.patches, 1, "{stats:?}");
    assert!(stats.tokens_issued >= 1 && stats.unauthorized == 0, "{stats:?}");
    assert_namespace_scoped(&sim, EKS_CONTEXT, PRODUCTION_NAMESPACE);
}

#[tokio::test]
async fn a_rollout_past_its_deadline_is_failed() {
    let sim = sim().await;
    let w = workload(&sim.facts.deadline_exceeded.workload);
    let client = sim.clients().client(&w.cluster).await.unwrap();
    let status = follow_rollout(&client, &w, 0, FOLLOW, |_| {}).await.unwrap();
    assert_eq!(status.phase, RolloutPhase::Failed);
    assert_eq!(
        status.message,
        format!("deployment {:?} exceeded its progress deadline", w.deployment)
    );
    let mut gone = w.clone();
    gone.deployment = "no-such-deployment".into();
    let err = follow_rollout(&client, &gone, 0, FOLLOW, |_| {}).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn the_exec_plugin_token_is_renewed_before_it_expires() {
    // kube renews an exec token within 60 s of its expiry: a 63 s token is renewed after ~3 s,
    // while the server would still accept it.
    let sim = sim_with(SimOptions {
        kube_token_lifetime: Duration::from_secs(63),
        ..SimOptions::default()
    })
    .await;
    let w = workload(&sim.facts.paused.workload);
    let client = sim.clients().client(&w.cluster).await.unwrap();
    let api: Api<Deployment> = Api::namespaced(client, &w.namespace);
    api.get(&w.deployment).await.unwrap();
    // (Building the client already ran the plugin: kube also asks it for a client certificate.)
    let issued = sim.control.kube_stats(EKS_CONTEXT).tokens_issued;
    assert!(issued >= 1);
    api.get(&w.deployment).await.unwrap();
    assert_eq!(sim.control.kube_stats(EKS_CONTEXT).tokens_issued, issued, "still fresh");
    tokio::time::sleep(Duration::from_secs(4)).await;
    api.get(&w.deployment).await.unwrap();
    api.get(&w.deployment).await.unwrap();
    let stats = sim.control.kube_stats(EKS_CONTEXT);
    assert_eq!((stats.tokens_issued, stats.unauthorized), (issued + 1, 0), "{stats:?}");
}

#[tokio::test]
async fn a_failing_watch_degrades_the_source_which_recovers() {
    let sim = sim().await;
    let clients = sim.clients();
    // The EKS server refuses the token (as if revoked) on Deployments; kubeadm answers 503 on pods.
    sim.control.set_fault(
        &format!("/kube/shop-prod/apis/apps/v1/namespaces/{PRODUCTION_NAMESPACE}/deployments"),
        Fault::Status(401),
    );
    sim.control.set_fault(
        &format!("/kube/kubernetes/api/v1/namespaces/{STAGING_NAMESPACE}/pods"),
        Fault::Status(503),
    );
    let mut rx = start_sources(&sim, &clients);
    let mut state = registered();
    until(&mut state, &mut rx, 60, "both sources failing", |s| {
        s.sources.values().all(|h| h.last_error.is_some())
    })
    .await;
    let staging = &state.sources[STAGING];
    let error = staging.last_error.as_deref().unwrap();
    assert!(error.starts_with(&format!("{STAGING_NAMESPACE}/pods: 503")), "{error}");
    assert!(error.contains("retrying in"), "{error}");
    assert!(staging.retry_at.is_some());
    let production = &state.sources[PRODUCTION];
    assert!(
        production.last_error.as_deref().unwrap().contains("401"),
        "{:?}",
        production.last_error
    );
    // Refused credentials: the client is rebuilt, which runs the exec plugin again.
    until(&mut state, &mut rx, 60, "a second token", |_| {
        sim.control.kube_stats(EKS_CONTEXT).tokens_issued >= 2
    })
    .await;

    sim.control.clear_faults();
    until(&mut state, &mut rx, 90, "both sources healthy again", |s| {
        healthy(s, STAGING) && healthy(s, PRODUCTION)
    })
    .await;
    let target = workload(&sim.facts.promotion_target.workload);
    assert!(state.workload(&target).is_some_and(|v| !v.pods.is_empty()));
}

#[tokio::test]
async fn list_once_is_one_list_per_kind_and_namespace() {
    let sim = sim().await;
    let clients = sim.clients();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut state = registered();
    for (name, ns) in [(STAGING, STAGING_NAMESPACE), (PRODUCTION, PRODUCTION_NAMESPACE)] {
        let source = KubeSource::new(name, clients.cluster(name).unwrap(), vec![ns.to_string()], tx.clone());
        source.list_once().await.unwrap();
    }
    while let Ok(update) = rx.try_recv() {
        state.apply(update);
    }
    assert!(healthy(&state, STAGING) && healthy(&state, PRODUCTION));
    for d in &sim.facts.deployments {
        assert!(
            state.workload(&workload(&d.workload)).is_some(),
            "{}",
            d.workload.deployment
        );
    }
    for (context, ns) in [
        (KUBEADM_CONTEXT, STAGING_NAMESPACE),
        (EKS_CONTEXT, PRODUCTION_NAMESPACE),
    ] {
        let stats = sim.control.kube_stats(context);
        assert_eq!((stats.lists, stats.watches), (4, 0), "{context}: {stats:?}");
        assert_namespace_scoped(&sim, context, ns);
    }

    // A context the kubeconfig does not have is a clear error on the health line.
    let mut bad = sim.configs().remove(0);
    bad.name = "typo".into();
    bad.context = "kubernetes-admin@kubernetse".into();
    let clients = KubeClients::new(&[bad]);
    let source = KubeSource::new(
        "typo",
        clients.cluster("typo").unwrap(),
        vec![STAGING_NAMESPACE.into()],
        tx,
    );
    state.apply(Update::SourceRegistered(SourceHealth::new(
        "typo",
        "kubernetes",
        "x",
        60,
    )));
    assert!(source.list_once().await.is_err());
    while let Ok(update) = rx.try_recv() {
        state.apply(update);
    }
    let error = state.sources["typo"].last_error.clone().unwrap();
    assert!(error.contains("no context `kubernetes-admin@kubernetse`"), "{error}");
    assert!(
        error.contains(KUBEADM_CONTEXT) && error.contains(EKS_CONTEXT),
        "{error}"
    );
}

#[tokio::test]
async fn status_lists_the_configured_clusters_once_through_the_runtime() {
    let sim = sim().await;
    let token = SimOptions::default().token;
    let env = move |k: &str| (k == "FLIGHTDECK_DEMO_TOKEN").then(|| token.clone());
    let config = flightdeck::config::load_from_str(
        &sim.estate.demo_config_toml(),
        std::path::Path::new("<demo>"),
        None,
        &env,
    )
    .unwrap();
    assert_eq!(config.kubernetes.len(), 2, "the demo configures both clusters");
    let mut rt = flightdeck::runtime::Runtime::new(&config, None).unwrap();
    for k in &config.kubernetes {
        let health = &rt.state.sources[&k.name];
        assert_eq!(
            (health.kind.as_str(), health.url.as_str()),
            ("kubernetes", k.context.as_str())
        );
    }
    rt.poll_all_once().await;
    for k in &config.kubernetes {
        let health = &rt.state.sources[&k.name];
        assert!(health.last_success.is_some(), "{health:?}");
        assert!(rt.kube_clients.client(&k.name).await.is_ok());
    }
    let watched = config
        .services
        .iter()
        .flat_map(|s| s.deploy.values())
        .filter_map(|t| t.kubernetes.as_ref());
    for w in watched {
        assert!(rt.state.workload(w).is_some(), "{w:?}");
    }
    for (context, ns) in [
        (KUBEADM_CONTEXT, STAGING_NAMESPACE),
        (EKS_CONTEXT, PRODUCTION_NAMESPACE),
    ] {
        let stats = sim.control.kube_stats(context);
        assert_eq!((stats.lists, stats.watches), (4, 0), "{context}: {stats:?}");
        assert_namespace_scoped(&sim, context, ns);
    }
}
