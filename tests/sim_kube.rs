//! The real kube-rs client against the simulated clusters, through the
//! kubeconfig the estate writes: the kubeadm context with its token, the EKS
//! context through the exec plugin (this crate's own binary, hidden
//! `sim-eks-token` subcommand).

use std::path::Path;
use std::time::Duration;

use flightdeck::sim::{
    EKS_CONTEXT, Estate, KUBEADM_CONTEXT, PRODUCTION_NAMESPACE, STAGING_NAMESPACE, SimControl, SimOptions,
};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, Config};

async fn estate(opts: SimOptions) -> Estate {
    Estate::start(SimOptions { speed: 0.0, ..opts })
        .await
        .expect("estate starts")
}

/// Loading an EKS context runs the exec plugin synchronously, and the
/// plugin calls back into this process's estate: the tests need a runtime
/// with more than one worker.
async fn client(estate: &Estate, context: &str) -> Client {
    let yaml = estate.kubeconfig_yaml(Path::new(env!("CARGO_BIN_EXE_flightdeck")));
    let kubeconfig = Kubeconfig::from_yaml(&yaml).expect("kubeconfig parses");
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("kubeconfig loads (runs the exec plugin for EKS)");
    Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_lists_deployments_in_both_clusters() {
    let e = estate(SimOptions::default()).await;
    let c = e.control();
    for (context, namespace) in [
        (KUBEADM_CONTEXT, STAGING_NAMESPACE),
        (EKS_CONTEXT, PRODUCTION_NAMESPACE),
    ] {
        let api: Api<Deployment> = Api::namespaced(client(&e, context).await, namespace);
        let list = api.list(&ListParams::default()).await.expect("list");
        let mut names: Vec<String> = list.items.iter().filter_map(|d| d.metadata.name.clone()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "catalog-service",
                "checkout-web",
                "fraud-scoring",
                "ledger-service",
                "notification-worker",
                "payments-api"
            ],
            "{context}"
        );
        let paused = api.get("payments-api").await.expect("get");
        assert_eq!(
            paused.spec.and_then(|s| s.paused),
            (context == EKS_CONTEXT).then_some(true)
        );
        let pods: Api<Pod> = Api::namespaced(api.into_client(), namespace);
        let running = pods
            .list(&ListParams::default().labels("app=notification-worker"))
            .await
            .expect("pods");
        assert!(!running.items.is_empty());
    }
    let stats = c.kube_stats(EKS_CONTEXT);
    assert!(stats.tokens_issued >= 1, "the exec plugin fetched a token: {stats:?}");
    assert_eq!(stats.unauthorized, 0);
    assert_eq!(
        stats.cluster_wide_refused + c.kube_stats(KUBEADM_CONTEXT).cluster_wide_refused,
        0
    );
}

/// Ticks the story until the watcher has seen the Deployment complete.
async fn follow(
    c: &SimControl,
    stream: &mut (impl futures::Stream<Item = watcher::Result<watcher::Event<Deployment>>> + Unpin),
) -> Deployment {
    let done = |d: &Deployment| {
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let s = d.status.clone().unwrap_or_default();
        s.observed_generation >= d.metadata.generation
            && s.updated_replicas == Some(want)
            && s.replicas == Some(want)
            && s.available_replicas == Some(want)
    };
    for _ in 0..120 {
        c.tick(1.0);
        while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(50), stream.next()).await {
            if let watcher::Event::Apply(d) = ev.expect("watch event")
                && d.metadata.generation > Some(1)
                && done(&d)
            {
                return d;
            }
        }
    }
    panic!("the rollout did not complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_watches_a_patched_rollout_and_its_undo() {
    let e = estate(SimOptions {
        kube_token_lifetime: Duration::from_secs(2),
        ..SimOptions::default()
    })
    .await;
    let c = e.control();
    let target = c.kube_facts().promotion_target;
    let api: Api<Deployment> = Api::namespaced(client(&e, KUBEADM_CONTEXT).await, STAGING_NAMESPACE);
    let mut stream = watcher(
        api.clone(),
        watcher::Config::default().fields("metadata.name=notification-worker"),
    )
    .boxed();
    // The initial list arrives first.
    let mut initial = 0;
    loop {
        match stream.next().await.expect("stream").expect("event") {
            watcher::Event::InitApply(_) => initial += 1,
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, 1);

    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "notification-worker", "image": target.candidate_image}]}}}});
    api.patch(
        "notification-worker",
        &PatchParams::default(),
        &Patch::Strategic(&patch),
    )
    .await
    .expect("set image");
    let d = follow(&c, &mut stream).await;
    let revision = d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"].clone();

    // Back to the previous template, the way `kubectl rollout undo` does it.
    let before: i64 = revision.parse().unwrap();
    let rs_api: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
        Api::namespaced(api.clone().into_client(), STAGING_NAMESPACE);
    let rss = rs_api
        .list(&ListParams::default().labels("app=notification-worker"))
        .await
        .expect("replicasets");
    let previous = rss
        .items
        .iter()
        .find(|r| {
            r.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"] == (before - 1).to_string()
        })
        .expect("the previous revision");
    let mut template = serde_json::to_value(previous.spec.as_ref().unwrap().template.clone()).unwrap();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    let undo: Patch<serde_json::Value> = Patch::Json(
        serde_json::from_value(serde_json::json!([
            {"op": "replace", "path": "/spec/template", "value": template}
        ]))
        .unwrap(),
    );
    api.patch("notification-worker", &PatchParams::default(), &undo)
        .await
        .expect("undo");
    let d = follow(&c, &mut stream).await;
    assert_eq!(
        d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        (before + 1).to_string()
    );
    let image = &d.spec.unwrap().template.spec.unwrap().containers[0].image;
    assert_ne!(image.as_deref(), Some(target.candidate_image.as_str()));
    let stats = c.kube_stats(KUBEADM_CONTEXT);
    assert!(stats.watches >= 1 && stats.patches == 2, "{stats:?}");
    assert_eq!(stats.cluster_wide_refused, 0);

    // With 2-second tokens the EKS client runs the plugin again as they expire.
    let eks: Api<Deployment> = Api::namespaced(client(&e, EKS_CONTEXT).await, PRODUCTION_NAMESPACE);
    eks.list(&ListParams::default()).await.expect("first list");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    eks.list(&ListParams::default())
        .await
        .expect("list after the first token expired");
    let stats = c.kube_stats(EKS_CONTEXT);
    assert!(stats.tokens_issued >= 2, "{stats:?}");
    assert_eq!(stats.unauthorized, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_streaming_lists_end_with_the_initial_events_bookmark() {
    let e = estate(SimOptions::default()).await;
    let pods: Api<Pod> = Api::namespaced(client(&e, KUBEADM_CONTEXT).await, STAGING_NAMESPACE);
    let listed = pods.list(&ListParams::default()).await.expect("list").items.len();
    let mut stream = watcher(pods, watcher::Config::default().streaming_lists()).boxed();
    let mut initial = 0;
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the initial events end")
            .expect("stream")
            .expect("event");
        match ev {
            watcher::Event::InitApply(_) => initial += 1,
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, listed);
    let stats = e.control().kube_stats(KUBEADM_CONTEXT);
    assert_eq!((stats.lists, stats.watches), (1, 1), "{stats:?}");
}
