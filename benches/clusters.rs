//! The deploy screen with 2 clusters × 200 Deployments × 10 pods: the state's memory, the
//! reducer's cost per watch event, and the render time; then the watch traffic in steady state
//! against the simulated API servers, from their own counters.
//! Run: `cargo bench --bench clusters` (the traffic part watches for
//! `FLIGHTDECK_BENCH_WATCH_SECS`, default 60 s).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use flightdeck::config::{Keymap, Theme};
use flightdeck::model::{
    ClusterChange, ClusterObject, ClusterObjects, DeployTarget, Environment, Service, ServiceJobs, State, Update,
    WorkloadRef,
};
use flightdeck::sources::kube::map;
use flightdeck::ui::{self, Ctx, Screen, View};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

/// Counts live heap bytes, so the state's footprint is measured rather than guessed.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const CLUSTERS: [(&str, &str, &str); 2] = [
    ("kubeadm", "shop-staging", "staging"),
    ("eks", "shop-production", "production"),
];
const DEPLOYMENTS: usize = 200;
const PODS: usize = 10;

fn digest(i: usize) -> String {
    format!("sha256:{:064x}", i as u128 * 0x9e37_79b9_7f4a_7c15)
}

fn deployment(name: &str, ns: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "generation": 4, "uid": format!("uid-{name}"),
            "annotations": {"deployment.kubernetes.io/revision": "4", "kubernetes.io/change-cause": "flightdeck promote"},
            "creationTimestamp": "2026-11-20T08:00:00Z"},
        "spec": {"replicas": PODS, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": format!("registry.example/shop/{name}@{}", digest(4))}]}}},
        "status": {"observedGeneration": 4, "replicas": PODS, "updatedReplicas": PODS, "readyReplicas": PODS,
            "availableReplicas": PODS,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{name}-7d9f\" has successfully progressed.")}
            ]}
    }))
    .expect("deployment")
}

fn replica_sets(name: &str, ns: &str) -> Vec<ReplicaSet> {
    (1..=4)
        .map(|rev| {
            let replicas = if rev == 4 { PODS } else { 0 };
            serde_json::from_value(json!({
                "metadata": {"name": format!("{name}-{rev:04x}"), "namespace": ns,
                    "annotations": {"deployment.kubernetes.io/revision": rev.to_string()},
                    "labels": {"app": name, "pod-template-hash": format!("{rev:04x}")},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": format!("uid-{name}"), "controller": true}],
                    "creationTimestamp": "2026-11-20T08:00:00Z"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": name, "image": format!("registry.example/shop/{name}@{}", digest(rev))}]}}},
                "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
            }))
            .expect("replica set")
        })
        .collect()
}

fn pod(name: &str, ns: &str, i: usize) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-0004-{i:05x}"), "namespace": ns,
            "labels": {"app": name, "pod-template-hash": "0004"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{name}-0004"), "uid": "x", "controller": true}],
            "creationTimestamp": "2026-11-20T08:01:00Z"},
        "spec": {"nodeName": format!("node-{}", i % 7), "containers": [{"name": name, "image": format!("registry.example/shop/{name}@{}", digest(4))}]},
        "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": name, "ready": true, "restartCount": 0, "image": format!("registry.example/shop/{name}@{}", digest(4)),
                "imageID": format!("registry.example/shop/{name}@{}", digest(4)), "state": {"running": {"startedAt": "2026-11-20T08:01:10Z"}}}]}
    }))
    .expect("pod")
}

/// The state after every watch's initial list: 2 clusters × 200 Deployments × 10 pods, with a
/// configured service per Deployment name.
fn estate() -> State {
    let mut state = State {
        environments: CLUSTERS
            .iter()
            .map(|(_, _, env)| Environment {
                name: env.to_string(),
                protected: *env == "production",
                read_only: false,
            })
            .collect(),
        ..State::default()
    };
    for i in 0..DEPLOYMENTS {
        let name = format!("svc-{i:03}");
        let mut s = Service::new(&name, ServiceJobs::default());
        let mut deploy = BTreeMap::new();
        for (cluster, ns, env) in CLUSTERS {
            deploy.insert(
                env.to_string(),
                DeployTarget {
                    kubernetes: Some(WorkloadRef {
                        cluster: cluster.into(),
                        namespace: ns.into(),
                        deployment: name.clone(),
                        container: name.clone(),
                    }),
                    awx: None,
                },
            );
        }
        s.deploy = deploy;
        state.services.push(s);
    }
    for (cluster, ns, _) in CLUSTERS {
        let names: Vec<String> = (0..DEPLOYMENTS).map(|i| format!("svc-{i:03}")).collect();
        let resync = |objects| Update::Cluster {
            source: cluster.into(),
            namespace: ns.into(),
            change: ClusterChange::Resync(objects),
        };
        state.apply(resync(ClusterObjects::Deployments(
            names.iter().map(|n| map::deployment(&deployment(n, ns))).collect(),
        )));
        state.apply(resync(ClusterObjects::ReplicaSets(
            names
                .iter()
                .flat_map(|n| replica_sets(n, ns))
                .map(|rs| map::replica_set(&rs))
                .collect(),
        )));
        state.apply(resync(ClusterObjects::Pods(
            names
                .iter()
                .flat_map(|n| (0..PODS).map(move |i| pod(n, ns, i)))
                .map(|p| map::pod(&p))
                .collect(),
        )));
    }
    state
}

fn clusters(c: &mut Criterion) {
    let before = LIVE.load(Ordering::Relaxed);
    let started = Instant::now();
    let state = estate();
    let built = started.elapsed();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    let pods: usize = state
        .clusters
        .values()
        .flat_map(|c| c.namespaces.values())
        .map(|n| n.pods.len())
        .sum();
    println!(
        "cluster state: {} clusters, {} Deployments, {pods} pods: {:.1} MB live heap (incl. 400 chains), built in {built:?}",
        state.clusters.len(),
        DEPLOYMENTS * CLUSTERS.len(),
        bytes as f64 / 1_048_576.0
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0).unwrap();
    let theme = Theme::load("dark", None, false).unwrap();
    let keymap = Keymap::default();
    for (w, h) in [(120u16, 40u16), (200, 60)] {
        let view = View {
            screen: Screen::Deploy,
            selected: DEPLOYMENTS / 2,
            environment: 1,
            ..View::default()
        };
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        c.bench_function(&format!("render_deploy_2x200x10_{w}x{h}"), |b| {
            b.iter(|| {
                let ctx = Ctx::new(&state, &view, &theme, &keymap, now);
                terminal.draw(|f| ui::draw(f, &ctx)).unwrap();
            })
        });
    }
    // One pod's status changing, as a watch delivers it: the reducer's share of a watch event.
    let mut state = state;
    let changed = map::pod(&pod("svc-100", "shop-production", 3));
    c.bench_function("reduce_pod_event_2x200x10", |b| {
        b.iter(|| {
            state.apply(Update::Cluster {
                source: "eks".into(),
                namespace: "shop-production".into(),
                change: ClusterChange::Applied(ClusterObject::Pod(Box::new(changed.clone()))),
            })
        })
    });
}

/// Steady-state watch traffic: the real source against the simulated clusters with 200 extra
/// Deployments each, counted by the servers.
fn watch_traffic(_c: &mut Criterion) {
    let secs: u64 = std::env::var("FLIGHTDECK_BENCH_WATCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let opts = flightdeck::sim::SimOptions {
            kube_extra_deployments: DEPLOYMENTS,
            ..flightdeck::sim::SimOptions::default()
        };
        let estate = flightdeck::sim::Estate::start(opts).await.expect("estate");
        let sim = estate.control();
        let kubeconfig = estate.write_demo_kubeconfig().expect("kubeconfig");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for (name, context, ns) in [
            ("kubeadm", flightdeck::sim::KUBEADM_CONTEXT, flightdeck::sim::STAGING_NAMESPACE),
            ("eks", flightdeck::sim::EKS_CONTEXT, flightdeck::sim::PRODUCTION_NAMESPACE),
        ] {
            let cfg = flightdeck::config::KubeSourceConfig {
                name: name.into(),
                context: context.into(),
                kubeconfig: Some(kubeconfig.clone()),
                identity: None,
                timeout: Duration::from_secs(10),
            };
            let clients = flightdeck::sources::kube::KubeClients::new(std::slice::from_ref(&cfg));
            let source = flightdeck::sources::kube::KubeSource::new(
                name,
                clients.cluster(name).unwrap(),
                vec![ns.to_string()],
                tx.clone(),
            );
            tasks.push(tokio::spawn(source.run()));
        }
        // Let the initial lists and watches settle, then count.
        let mut state = State::default();
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(u)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                state.apply(u);
            }
        }
        let pods: usize = state
            .clusters
            .values()
            .flat_map(|c| c.namespaces.values())
            .map(|n| n.pods.len())
            .sum();
        let before: Vec<_> = [flightdeck::sim::KUBEADM_CONTEXT, flightdeck::sim::EKS_CONTEXT]
            .iter()
            .map(|c| sim.kube_stats(c))
            .collect();
        let started = Instant::now();
        let mut updates = 0usize;
        while started.elapsed() < Duration::from_secs(secs) {
            if let Ok(Some(u)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                state.apply(u);
                updates += 1;
            }
        }
        let minutes = started.elapsed().as_secs_f64() / 60.0;
        for (i, ctx) in [flightdeck::sim::KUBEADM_CONTEXT, flightdeck::sim::EKS_CONTEXT].iter().enumerate() {
            let after = sim.kube_stats(ctx);
            let b = &before[i];
            let requests = (after.lists + after.watches + after.gets + after.patches + after.others)
                - (b.lists + b.watches + b.gets + b.patches + b.others);
            println!(
                "watch traffic {ctx}: {:.2} requests/min ({} watches re-opened, {} lists), {:.1} watch lines/min, {:.0} bytes/min, {} watches open, {} cluster-wide refused",
                requests as f64 / minutes,
                after.watches - b.watches,
                after.lists - b.lists,
                (after.watch_events_sent - b.watch_events_sent) as f64 / minutes,
                (after.bytes_sent - b.bytes_sent) as f64 / minutes,
                after.watches_open,
                after.cluster_wide_refused
            );
        }
        println!(
            "steady state over {:.1} min with {pods} pods watched: {updates} updates applied ({:.1}/min)",
            minutes,
            updates as f64 / minutes
        );
        for t in tasks {
            t.abort();
        }
    });
}

criterion_group!(benches, clusters, watch_traffic);
criterion_main!(benches);
