//! The simulated clusters over real HTTP: lists, watches, patches, the
//! controller's rollouts, the story's anomalies, tokens and faults.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::{Estate, Fault, SimControl, SimOptions};
use super::{EKS_CONTEXT, KUBEADM_CONTEXT, PRODUCTION_NAMESPACE, STAGING_NAMESPACE};

const STAGING: &str = "/apis/apps/v1/namespaces/shop-staging";
const PRODUCTION: &str = "/apis/apps/v1/namespaces/shop-production";
const SMP: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";

async fn estate_with(opts: SimOptions) -> Estate {
    Estate::start(SimOptions {
        speed: 0.0,
        kube_bookmark_interval: Duration::from_millis(300),
        ..opts
    })
    .await
    .expect("estate starts")
}

async fn estate() -> Estate {
    estate_with(SimOptions::default()).await
}

/// A client of one cluster, with its credentials.
struct Kube {
    base: String,
    token: String,
    http: reqwest::Client,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn kubeadm(e: &Estate) -> Kube {
    Kube {
        base: e.kube_contexts()[0].1.clone(),
        token: e.shared.kube.static_token.clone(),
        http: http(),
    }
}

async fn eks(e: &Estate) -> Kube {
    let base = e.kube_contexts()[1].1.clone();
    let cred: Value = http()
        .get(format!("{base}/__token?cluster=shop-prod"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Kube {
        base,
        token: cred["status"]["token"].as_str().unwrap().to_string(),
        http: http(),
    }
}

impl Kube {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, v) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    async fn patch(&self, path: &str, content_type: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .patch(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Opens a watch and reads events until `done` says so, the stream ends
    /// or `wait` passes (on the wall clock), stepping the story by `tick`
    /// seconds between reads.
    async fn watch(
        &self,
        path: &str,
        control: Option<(&SimControl, f64)>,
        wait: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> (Vec<Value>, bool) {
        let mut r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(wait + Duration::from_secs(5))
            .send()
            .await
            .expect("watch");
        assert_eq!(r.status(), 200, "watch {path}");
        let until = Instant::now() + wait;
        let mut buf = Vec::new();
        let mut events = Vec::new();
        let mut ended = false;
        while Instant::now() < until && !done(&events) {
            if let Some((c, secs)) = control {
                c.tick(secs);
            }
            match tokio::time::timeout(Duration::from_millis(200), r.chunk()).await {
                Ok(Ok(Some(bytes))) => {
                    buf.extend_from_slice(&bytes);
                    while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=i).collect();
                        events.push(serde_json::from_slice(&line).expect("a JSON line"));
                    }
                }
                Ok(Ok(None)) => {
                    ended = true;
                    break;
                }
                Ok(Err(e)) => panic!("watch failed: {e}"),
                Err(_) => {}
            }
        }
        (events, ended)
    }
}

fn revision(d: &Value) -> i64 {
    d["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn condition<'a>(d: &'a Value, kind: &str) -> &'a Value {
    d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

/// `kubectl rollout status`'s verdict: done, or why not.
fn rollout_done(d: &Value) -> Result<(), String> {
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let s = &d["status"];
    if n(&d["metadata"]["generation"]) > n(&s["observedGeneration"]) {
        return Err("spec update not observed".into());
    }
    if condition(d, "Progressing")["reason"] == "ProgressDeadlineExceeded" {
        return Err("exceeded its progress deadline".into());
    }
    let want = n(&d["spec"]["replicas"]);
    if n(&s["updatedReplicas"]) < want {
        return Err(format!("{} of {want} updated", n(&s["updatedReplicas"])));
    }
    if n(&s["replicas"]) > n(&s["updatedReplicas"]) {
        return Err("old replicas pending termination".into());
    }
    if n(&s["availableReplicas"]) < n(&s["updatedReplicas"]) {
        return Err("updated replicas not available".into());
    }
    Ok(())
}

/// Ticks the story a second at a time until the Deployment rolled out.
async fn tick_until_done(k: &Kube, c: &SimControl, path: &str, max_secs: u32) -> Value {
    for _ in 0..max_secs {
        let d = k.ok(path).await;
        if rollout_done(&d).is_ok() {
            return d;
        }
        c.tick(1.0);
    }
    let d = k.ok(path).await;
    panic!("not rolled out after {max_secs} s: {:?}\n{d:#}", rollout_done(&d));
}

async fn replica_sets(k: &Kube, ns_path: &str, app: &str) -> Vec<Value> {
    let v = k.ok(&format!("{ns_path}/replicasets?labelSelector=app%3D{app}")).await;
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn pods(k: &Kube, ns: &str, selector: &str) -> Vec<Value> {
    let v = k
        .ok(&format!("/api/v1/namespaces/{ns}/pods?labelSelector={selector}"))
        .await;
    v["items"].as_array().cloned().unwrap_or_default()
}

fn digest_of_image_id(pod: &Value) -> String {
    pod["status"]["containerStatuses"][0]["imageID"]
        .as_str()
        .and_then(|id| id.rsplit_once('@'))
        .map(|(_, d)| d.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn lists_carry_the_api_servers_shapes() {
    let e = estate().await;
    let k = kubeadm(&e);
    let v = k.ok(&format!("{STAGING}/deployments")).await;
    assert_eq!(
        (v["kind"].as_str(), v["apiVersion"].as_str()),
        (Some("DeploymentList"), Some("apps/v1"))
    );
    let list_rv: u64 = v["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    for d in items {
        let m = &d["metadata"];
        assert!(m["uid"].as_str().is_some_and(|u| u.len() == 36), "{m}");
        let rv: u64 = m["resourceVersion"].as_str().unwrap().parse().unwrap();
        assert!(rv <= list_rv);
        assert!(m["creationTimestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(m["labels"]["app"], m["name"]);
        assert!(revision(d) >= 2, "{} has history", m["name"]);
        assert_eq!(d["spec"]["replicas"], 2);
    }
    // The typed client's types read every list.
    let _: k8s_openapi::List<k8s_openapi::api::apps::v1::Deployment> = serde_json::from_value(v.clone()).unwrap();
    let rs = k.ok(&format!("{STAGING}/replicasets")).await;
    let rs: k8s_openapi::List<k8s_openapi::api::apps::v1::ReplicaSet> = serde_json::from_value(rs).unwrap();
    for r in &rs.items {
        let owner = &r.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.controller), ("Deployment", Some(true)));
        let labels = r.metadata.labels.as_ref().unwrap();
        assert!(
            r.metadata
                .name
                .as_ref()
                .unwrap()
                .ends_with(&labels["pod-template-hash"])
        );
        assert!(
            r.metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key("deployment.kubernetes.io/revision")
        );
    }
    let p = k.ok("/api/v1/namespaces/shop-staging/pods").await;
    let p: k8s_openapi::List<k8s_openapi::api::core::v1::Pod> = serde_json::from_value(p).unwrap();
    assert!(p.items.len() >= 12);
    for pod in &p.items {
        assert_eq!(pod.metadata.owner_references.as_ref().unwrap()[0].kind, "ReplicaSet");
        assert!(pod.metadata.labels.as_ref().unwrap().contains_key("pod-template-hash"));
    }
    let ev = k.ok("/api/v1/namespaces/shop-staging/events").await;
    let _: k8s_openapi::List<k8s_openapi::api::core::v1::Event> = serde_json::from_value(ev).unwrap();

    // Selectors.
    let v = k
        .ok(&format!("{STAGING}/deployments?labelSelector=app%3Dpayments-api"))
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let v = k
        .ok(&format!(
            "{STAGING}/deployments?fieldSelector=metadata.name%3Dledger-service"
        ))
        .await;
    assert_eq!(v["items"][0]["metadata"]["name"], "ledger-service");
    let (status, v) = k
        .get(&format!("{STAGING}/deployments?fieldSelector=spec.paused%3Dtrue"))
        .await;
    assert_eq!((status, v["reason"].as_str()), (400, Some("BadRequest")));
    assert_eq!(v["message"], "field label not supported: spec.paused");

    // Paging: limit and continue give every item once.
    let mut names = Vec::new();
    let mut cont = String::new();
    loop {
        let path = if cont.is_empty() {
            format!("{STAGING}/deployments?limit=4")
        } else {
            format!("{STAGING}/deployments?limit=4&continue={cont}")
        };
        let v = k.ok(&path).await;
        for d in v["items"].as_array().unwrap() {
            names.push(d["metadata"]["name"].as_str().unwrap().to_string());
        }
        match v["metadata"]["continue"].as_str() {
            Some(c) => {
                assert_eq!(v["metadata"]["remainingItemCount"], 2);
                cont = c.to_string();
            }
            None => break,
        }
    }
    assert_eq!(names.len(), 6);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn single_objects_errors_and_discovery() {
    let e = estate().await;
    let k = kubeadm(&e);
    let d = k.ok(&format!("{STAGING}/deployments/notification-worker")).await;
    assert_eq!(
        (d["kind"].as_str(), d["apiVersion"].as_str()),
        (Some("Deployment"), Some("apps/v1"))
    );
    let _: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(d).unwrap();
    let (status, s) = k.get(&format!("{STAGING}/deployments/nope")).await;
    assert_eq!(status, 404);
    assert_eq!(
        s,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "deployments.apps \"nope\" not found", "reason": "NotFound",
               "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404})
    );
    let (status, _) = k.get("/api/v1/namespaces/shop-staging/pods/nope").await;
    assert_eq!(status, 404);
    let (status, ns) = k.get("/api/v1/namespaces/shop-staging").await;
    assert_eq!((status, ns["status"]["phase"].as_str()), (200, Some("Active")));

    // No token, a wrong one: 401 with a Status.
    let r = k
        .http
        .get(format!("{}{STAGING}/deployments", k.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let s: Value = r.json().await.unwrap();
    assert_eq!(
        (s["reason"].as_str(), s["code"].as_i64()),
        (Some("Unauthorized"), Some(401))
    );
    let r = k
        .http
        .get(format!("{}/version", k.base))
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Discovery is open, as on a real cluster.
    let v: Value = k
        .http
        .get(format!("{}/version", k.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["gitVersion"], "v1.33.5");
    let v = k.ok("/apis/apps/v1").await;
    assert_eq!(v["resources"][0]["name"], "deployments");
    let c = e.control();
    assert_eq!(c.kube_stats(KUBEADM_CONTEXT).unauthorized, 2);
    assert!(c.kube_requests(KUBEADM_CONTEXT).iter().any(|r| r.status == 404));
}

#[tokio::test]
async fn cluster_wide_paths_are_refused() {
    let e = estate().await;
    let k = kubeadm(&e);
    for path in [
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/replicasets?watch=true",
        "/api/v1/pods",
        "/api/v1/events?fieldSelector=type%3DWarning",
        "/api/v1/watch/pods",
    ] {
        let (status, s) = k.get(path).await;
        assert_eq!((status, s["reason"].as_str()), (403, Some("Forbidden")), "{path}");
    }
    let (_, s) = k.get("/apis/apps/v1/deployments").await;
    assert_eq!(
        s["message"],
        "deployments.apps is forbidden: User \"kubernetes-admin\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope"
    );
    let stats = e.control().kube_stats(KUBEADM_CONTEXT);
    assert_eq!(stats.cluster_wide_refused, 6);
    assert_eq!(e.control().kube_stats(EKS_CONTEXT).cluster_wide_refused, 0);
}

#[tokio::test]
async fn a_watch_resumes_from_a_list_and_sees_the_patch() {
    let e = estate().await;
    let c = e.control();
    let k = kubeadm(&e);
    let facts = c.kube_facts();
    let target = &facts.promotion_target;
    let list = k
        .ok(&format!(
            "{STAGING}/deployments?fieldSelector=metadata.name%3Dnotification-worker"
        ))
        .await;
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let watch_path = format!(
        "{STAGING}/deployments?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3Dnotification-worker&allowWatchBookmarks=true&timeoutSeconds=30"
    );
    let watcher = {
        let k = Kube {
            base: k.base.clone(),
            token: k.token.clone(),
            http: http(),
        };
        tokio::spawn(async move {
            k.watch(&watch_path, None, Duration::from_secs(15), |evs| {
                evs.iter().any(|ev| {
                    ev["type"] == "MODIFIED"
                        && ev["object"]["status"]["observedGeneration"] == ev["object"]["metadata"]["generation"]
                        && condition(&ev["object"], "Progressing")["reason"] == "NewReplicaSetCreated"
                })
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, d) = k
        .patch(
            &format!("{STAGING}/deployments/notification-worker"),
            SMP,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "notification-worker", "image": target.candidate_image}]}}}}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let (events, _) = watcher.await.unwrap();
    let changes: Vec<&Value> = events.iter().filter(|ev| ev["type"] != "BOOKMARK").collect();
    let first = changes[0];
    assert_eq!(first["type"], "MODIFIED", "nothing from before the list: {first}");
    assert_eq!(
        first["object"]["spec"]["template"]["spec"]["containers"][0]["image"],
        target.candidate_image.as_str()
    );
    assert!(
        first["object"]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > rv.parse::<u64>().unwrap()
    );
    assert!(
        events
            .iter()
            .all(|ev| ev["object"]["metadata"]["name"] == "notification-worker" || ev["type"] == "BOOKMARK")
    );
    assert!(c.kube_stats(KUBEADM_CONTEXT).watch_events_sent >= 2);
}

#[tokio::test]
async fn ancient_versions_get_410_and_bookmarks_come() {
    let e = estate().await;
    let k = kubeadm(&e);
    let (events, ended) = k
        .watch(
            &format!("{STAGING}/deployments?watch=true&resourceVersion=1"),
            None,
            Duration::from_secs(5),
            |_| false,
        )
        .await;
    assert!(ended, "the stream ends after the error");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");

    let rv = k.ok("/api/v1/namespaces/shop-staging/pods").await["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    let (events, ended) = k
        .watch(
            &format!("/api/v1/namespaces/shop-staging/pods?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2"),
            None,
            Duration::from_secs(8),
            |_| false,
        )
        .await;
    assert!(ended, "closed after timeoutSeconds");
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(events.iter().any(|ev| ev["type"] == "BOOKMARK"
        && ev["object"]["kind"] == "Pod"
        && ev["object"]["metadata"]["resourceVersion"] == rv.as_str()));
    // Without a version: every object first, as ADDED.
    let (events, _) = k
        .watch(
            &format!("{STAGING}/deployments?watch=true&timeoutSeconds=1"),
            None,
            Duration::from_secs(5),
            |_| false,
        )
        .await;
    assert_eq!(events.iter().filter(|ev| ev["type"] == "ADDED").count(), 6);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(e.control().kube_stats(KUBEADM_CONTEXT).watches_open, 0);
}

#[tokio::test]
async fn set_image_rolls_out_then_json_patch_rolls_back() {
    let e = estate().await;
    let c = e.control();
    let k = kubeadm(&e);
    let facts = c.kube_facts();
    let target = &facts.promotion_target;
    let path = format!("{STAGING}/deployments/notification-worker");
    let before = k.ok(&path).await;
    assert!(rollout_done(&before).is_ok());
    let old_rev = revision(&before);
    let old_generation = before["metadata"]["generation"].as_i64().unwrap();

    let (status, d) = k
        .patch(
            &path,
            SMP,
            json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "promote by test"}},
                   "spec": {"template": {"spec": {"containers": [
                {"name": "notification-worker", "image": target.candidate_image}]}}}}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["metadata"]["generation"], old_generation + 1);
    // Containers merged by name: the rest of the container is intact.
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        8080
    );
    let d = k.ok(&path).await;
    assert_eq!(d["status"]["observedGeneration"], old_generation + 1);
    assert_eq!(revision(&d), old_rev + 1);
    assert_eq!(condition(&d, "Progressing")["reason"], "NewReplicaSetCreated");
    assert!(rollout_done(&d).is_err());

    let d = tick_until_done(&k, &c, &path, 60).await;
    assert_eq!(condition(&d, "Progressing")["reason"], "NewReplicaSetAvailable");
    assert_eq!(condition(&d, "Available")["status"], "True");
    let rss = replica_sets(&k, STAGING, "notification-worker").await;
    let new = rss.iter().find(|r| revision(r) == old_rev + 1).unwrap();
    assert_eq!(
        new["metadata"]["annotations"]["kubernetes.io/change-cause"],
        "promote by test"
    );
    let hash = new["metadata"]["labels"]["pod-template-hash"].as_str().unwrap();
    let running = pods(&k, STAGING_NAMESPACE, "app%3Dnotification-worker").await;
    assert_eq!(running.len(), 2, "old pods are gone");
    for p in &running {
        assert_eq!(p["metadata"]["labels"]["pod-template-hash"], hash);
        assert_eq!(digest_of_image_id(p), target.candidate_digest);
        assert_eq!(p["status"]["phase"], "Running");
    }
    let ev = k
        .ok("/api/v1/namespaces/shop-staging/events?fieldSelector=involvedObject.name%3Dnotification-worker")
        .await;
    let scaling: Vec<&str> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "ScalingReplicaSet")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        scaling
            .iter()
            .any(|m| m.starts_with("Scaled up replica set") && m.contains(hash)),
        "{scaling:?}"
    );
    assert!(
        scaling.iter().any(|m| m.starts_with("Scaled down replica set")),
        "{scaling:?}"
    );

    // kubectl rollout undo: the previous revision's template, by JSON patch.
    let previous = rss.iter().find(|r| revision(r) == old_rev).unwrap();
    let mut template = previous["spec"]["template"].clone();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    let mut annotations = d["metadata"]["annotations"].clone();
    annotations["kubernetes.io/change-cause"] =
        previous["metadata"]["annotations"]["kubernetes.io/change-cause"].clone();
    let (status, undo) = k
        .patch(
            &path,
            JSON_PATCH,
            json!([
                {"op": "replace", "path": "/spec/template", "value": template},
                {"op": "replace", "path": "/metadata/annotations", "value": annotations}
            ]),
        )
        .await;
    assert_eq!(status, 200, "{undo}");
    let d = tick_until_done(&k, &c, &path, 60).await;
    assert_eq!(revision(&d), old_rev + 2);
    let rss_after = replica_sets(&k, STAGING, "notification-worker").await;
    assert_eq!(rss_after.len(), rss.len(), "the old ReplicaSet was reused, not copied");
    let reused = rss_after
        .iter()
        .find(|r| r["metadata"]["name"] == previous["metadata"]["name"])
        .unwrap();
    assert_eq!(revision(reused), old_rev + 2);
    assert_eq!(
        reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        old_rev.to_string()
    );
    assert_eq!(reused["status"]["readyReplicas"], 2);
    for p in pods(&k, STAGING_NAMESPACE, "app%3Dnotification-worker").await {
        assert_eq!(digest_of_image_id(&p), target.running_digest);
    }
    assert_eq!(c.kube_stats(KUBEADM_CONTEXT).patches, 2);
}

#[tokio::test]
async fn pause_holds_a_rollout_and_resume_finishes_it() {
    let e = estate().await;
    let c = e.control();
    let k = kubeadm(&e);
    let target = c.kube_facts().promotion_target;
    let path = format!("{STAGING}/deployments/notification-worker");
    let (status, _) = k.patch(&path, MERGE, json!({"spec": {"paused": true}})).await;
    assert_eq!(status, 200);
    let (status, _) = k
        .patch(
            &path,
            SMP,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "notification-worker", "image": target.candidate_image}]}}}}),
        )
        .await;
    assert_eq!(status, 200);
    c.tick(30.0);
    let d = k.ok(&path).await;
    let p = condition(&d, "Progressing");
    assert_eq!(
        (p["status"].as_str(), p["reason"].as_str()),
        (Some("Unknown"), Some("DeploymentPaused"))
    );
    assert_eq!(p["message"], "Deployment is paused");
    assert_eq!(d["status"]["observedGeneration"], d["metadata"]["generation"]);
    assert!(
        d["status"].get("updatedReplicas").is_none(),
        "no new ReplicaSet while paused: {d}"
    );
    c.tick(1200.0);
    let d = k.ok(&path).await;
    assert_eq!(
        condition(&d, "Progressing")["reason"],
        "DeploymentPaused",
        "no deadline while paused"
    );

    let (status, _) = k.patch(&path, SMP, json!({"spec": {"paused": null}})).await;
    assert_eq!(status, 200);
    let d = k.ok(&path).await;
    assert_eq!(condition(&d, "Progressing")["reason"], "NewReplicaSetCreated");
    let d = tick_until_done(&k, &c, &path, 60).await;
    assert_eq!(d["spec"].get("paused"), None);
}

#[tokio::test]
async fn an_image_that_does_not_exist_never_completes() {
    let e = estate().await;
    let c = e.control();
    let k = kubeadm(&e);
    let path = format!("{STAGING}/deployments/notification-worker");
    let image = format!("{}/shop/notification-worker:9.9.9", e.registry_host());
    let (status, _) = k
        .patch(
            &path,
            SMP,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "notification-worker", "image": image}]}}}}),
        )
        .await;
    assert_eq!(status, 200);
    c.tick(5.0);
    let d = k.ok(&path).await;
    let rss = replica_sets(&k, STAGING, "notification-worker").await;
    let new = rss.iter().find(|r| revision(r) == revision(&d)).unwrap();
    let hash = new["metadata"]["labels"]["pod-template-hash"].as_str().unwrap();
    let stuck = pods(&k, STAGING_NAMESPACE, &format!("pod-template-hash%3D{hash}")).await;
    assert_eq!(stuck.len(), 1);
    let waiting = &stuck[0]["status"]["containerStatuses"][0]["state"]["waiting"];
    assert!(
        matches!(waiting["reason"].as_str(), Some("ErrImagePull" | "ImagePullBackOff")),
        "{waiting}"
    );
    let message = waiting["message"].as_str().unwrap();
    assert!(
        message.contains("not found") || message.starts_with("Back-off pulling image"),
        "{message}"
    );
    for _ in 0..7 {
        c.tick(100.0);
    }
    let d = k.ok(&path).await;
    let p = condition(&d, "Progressing");
    assert_eq!(
        (p["status"].as_str(), p["reason"].as_str()),
        (Some("False"), Some("ProgressDeadlineExceeded"))
    );
    assert_eq!(
        p["message"],
        format!(
            "ReplicaSet \"{}\" has timed out progressing.",
            new["metadata"]["name"].as_str().unwrap()
        )
    );
    assert_eq!(d["status"]["availableReplicas"], 2, "the old pods keep serving");
    let warnings = k
        .ok(&format!(
            "/api/v1/namespaces/shop-staging/events?fieldSelector=type%3DWarning,involvedObject.name%3D{}",
            stuck[0]["metadata"]["name"].as_str().unwrap()
        ))
        .await;
    assert!(
        warnings["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == "Failed"
                && e["message"] == "Error: ImagePullBackOff"
                && e["count"].as_i64().unwrap() > 1)
    );
}

#[tokio::test]
async fn invalid_patches_are_refused() {
    let e = estate().await;
    let k = kubeadm(&e);
    let path = format!("{STAGING}/deployments/ledger-service");
    let (status, s) = k.patch(&path, "application/json", json!({})).await;
    assert_eq!(status, 415, "{s}");
    let (status, s) = k
        .patch(
            &path,
            MERGE,
            json!({"spec": {"selector": {"matchLabels": {"app": "other"}}}}),
        )
        .await;
    assert_eq!((status, s["reason"].as_str()), (422, Some("Invalid")));
    let (status, s) = k
        .patch(
            &path,
            JSON_PATCH,
            json!([{"op": "replace", "path": "/spec/nope/x", "value": 1}]),
        )
        .await;
    assert_eq!(status, 422, "{s}");
    let (status, _) = k
        .patch(
            &path,
            MERGE,
            json!({"metadata": {"resourceVersion": "1"}, "spec": {"paused": true}}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = k.patch(&format!("{STAGING}/deployments/nope"), MERGE, json!({})).await;
    assert_eq!(status, 404);
    let (status, preview) = k
        .patch(&format!("{path}?dryRun=All"), MERGE, json!({"spec": {"paused": true}}))
        .await;
    assert_eq!((status, preview["spec"]["paused"].as_bool()), (200, Some(true)));
    let d = k.ok(&path).await;
    assert_eq!(d["spec"].get("paused"), None);
}

#[tokio::test]
async fn the_story_anomalies_are_there_at_start() {
    let e = estate().await;
    let c = e.control();
    let f = c.kube_facts();
    let staging = kubeadm(&e);
    let prod = eks(&e).await;

    // Every service in both clusters, with 2–4 revisions of history.
    assert_eq!(f.deployments.len(), 12);
    for d in &f.deployments {
        assert!((2..=5).contains(&d.revisions.len()), "{d:?}");
    }
    for d in f.deployments.iter().filter(|d| {
        !["catalog-service", "checkout-web", "payments-api", "ledger-service"].contains(&d.workload.service.as_str())
            || d.workload.environment == "staging" && d.workload.service != "catalog-service"
    }) {
        assert_eq!(
            d.digest, d.env_tag_digest,
            "{} runs its tag in {}",
            d.workload.service, d.workload.environment
        );
    }

    // 1. catalog-service crash-loops in staging; the deadline passes later.
    let cl = &f.crash_loop;
    let pod = staging
        .ok(&format!("/api/v1/namespaces/shop-staging/pods/{}", cl.pod))
        .await;
    let cs = &pod["status"]["containerStatuses"][0];
    assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff", "{cs}");
    assert!(cs["restartCount"].as_i64().unwrap() >= 2);
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(digest_of_image_id(&pod), cl.digest);
    let warnings = staging
        .ok(&format!(
            "/api/v1/namespaces/shop-staging/events?fieldSelector=type%3DWarning,involvedObject.name%3D{}",
            cl.pod
        ))
        .await;
    let backoff = warnings["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "BackOff")
        .unwrap();
    assert!(
        backoff["message"]
            .as_str()
            .unwrap()
            .starts_with("Back-off restarting failed container catalog-service")
    );
    let path = format!("{STAGING}/deployments/catalog-service");
    let d = staging.ok(&path).await;
    assert_eq!(condition(&d, "Progressing")["status"], "True");
    let seconds_left = (cl.deadline_at_ms - c.now_ms()) / 1000;
    assert!((60..=600).contains(&seconds_left), "{seconds_left}");
    c.tick((seconds_left + 2) as f64);
    let d = staging.ok(&path).await;
    assert_eq!(condition(&d, "Progressing")["reason"], "ProgressDeadlineExceeded");

    // 2. checkout-web in production: past its deadline, pulling a tag that is not there.
    let ex = &f.deadline_exceeded;
    let d = prod.ok(&format!("{PRODUCTION}/deployments/checkout-web")).await;
    let p = condition(&d, "Progressing");
    assert_eq!(p["reason"], "ProgressDeadlineExceeded");
    assert_eq!(
        p["message"],
        format!("ReplicaSet \"{}\" has timed out progressing.", ex.replica_set)
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        ex.image.as_str()
    );
    let stuck = prod
        .ok(&format!(
            "/api/v1/namespaces/shop-production/pods?labelSelector=pod-template-hash%3D{}",
            ex.replica_set.rsplit('-').next().unwrap()
        ))
        .await;
    let reason = &stuck["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"];
    assert!(
        matches!(reason.as_str(), Some("ImagePullBackOff" | "ErrImagePull")),
        "{reason}"
    );

    // 3. payments-api in production: a paused canary, one new pod ready, two old.
    let pz = &f.paused;
    let d = prod.ok(&format!("{PRODUCTION}/deployments/payments-api")).await;
    assert_eq!(d["spec"]["paused"], true);
    assert_eq!(condition(&d, "Progressing")["reason"], "DeploymentPaused");
    assert_eq!(d["metadata"]["annotations"]["flightdeck.dev/started-by"], "dmitri");
    assert!(
        d["metadata"]["annotations"]["kubernetes.io/change-cause"]
            .as_str()
            .unwrap()
            .contains("dmitri")
    );
    assert_eq!((pz.new_ready, pz.old_replicas), (1, 2));
    assert_eq!(
        (
            d["status"]["updatedReplicas"].as_i64(),
            d["status"]["replicas"].as_i64()
        ),
        (Some(1), Some(3))
    );

    // 4. ledger-service runs an older digest than its prod tag.
    let dr = &f.drift;
    let tag = c.image_tag("shop/ledger-service", "prod").unwrap();
    assert_eq!(dr.tag_digest, tag);
    assert_ne!(dr.running_digest, tag);
    for p in pods(&prod, PRODUCTION_NAMESPACE, "app%3Dledger-service").await {
        assert_eq!(digest_of_image_id(&p), dr.running_digest);
    }

    // 5. notification-worker in staging: healthy on its staging digest.
    let pt = &f.promotion_target;
    let d = staging.ok(&format!("{STAGING}/deployments/notification-worker")).await;
    assert!(rollout_done(&d).is_ok());
    assert_eq!(
        pt.running_digest,
        c.image_tag("shop/notification-worker", "staging").unwrap()
    );
    assert_ne!(pt.candidate_digest, pt.running_digest);
    assert_eq!(c.kube_stats(EKS_CONTEXT).tokens_issued, 1);
}

#[tokio::test]
async fn exec_tokens_expire_into_401() {
    let e = estate_with(SimOptions {
        kube_token_lifetime: Duration::from_millis(800),
        ..SimOptions::default()
    })
    .await;
    let prod = eks(&e).await;
    prod.ok(&format!("{PRODUCTION}/deployments")).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (status, s) = prod.get(&format!("{PRODUCTION}/deployments")).await;
    assert_eq!((status, s["reason"].as_str()), (401, Some("Unauthorized")));
    // The kubeadm token is no good here.
    let k = Kube {
        base: prod.base.clone(),
        token: e.shared.kube.static_token.clone(),
        http: http(),
    };
    assert_eq!(k.get(&format!("{PRODUCTION}/deployments")).await.0, 401);
    let fresh = eks(&e).await;
    fresh.ok(&format!("{PRODUCTION}/deployments")).await;
    let stats = e.control().kube_stats(EKS_CONTEXT);
    assert_eq!((stats.tokens_issued, stats.unauthorized, stats.lists), (2, 2, 2));
    let (status, _) = prod.get("/__token?cluster=other").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn faults_reach_one_cluster() {
    let e = estate().await;
    let c = e.control();
    let staging = kubeadm(&e);
    let prod = eks(&e).await;
    c.set_fault("/kube/shop-prod", Fault::Status(503));
    let (status, s) = prod.get(&format!("{PRODUCTION}/deployments")).await;
    assert_eq!((status, s["kind"].as_str()), (503, Some("Status")));
    staging.ok(&format!("{STAGING}/deployments")).await;
    c.set_fault("/namespaces/shop-staging/pods", Fault::TruncatedBody);
    let r = staging
        .http
        .get(format!("{}/api/v1/namespaces/shop-staging/pods", staging.base))
        .bearer_auth(&staging.token)
        .send()
        .await
        .unwrap();
    assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());
    c.clear_faults();
    prod.ok(&format!("{PRODUCTION}/deployments")).await;
}

#[tokio::test]
async fn the_kubeconfig_names_both_clusters() {
    let e = estate().await;
    let yaml = e.kubeconfig_yaml(std::path::Path::new("/usr/local/bin/flight deck"));
    let kc = ::kube::config::Kubeconfig::from_yaml(&yaml).expect("a kubeconfig");
    assert_eq!(kc.current_context.as_deref(), Some(KUBEADM_CONTEXT));
    let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, [KUBEADM_CONTEXT, EKS_CONTEXT]);
    let eks_user = kc.auth_infos.iter().find(|u| u.name == EKS_CONTEXT).unwrap();
    let exec = eks_user.auth_info.as_ref().unwrap().exec.as_ref().unwrap();
    assert_eq!(exec.command.as_deref(), Some("/usr/local/bin/flight deck"));
    assert_eq!(
        exec.api_version.as_deref(),
        Some("client.authentication.k8s.io/v1beta1")
    );
    let args = exec.args.clone().unwrap();
    assert_eq!(args[0], "sim-eks-token");
    assert_eq!(args[2], format!("{}/__token", e.kube_contexts()[1].1));
    let contexts = e.kube_contexts();
    assert_eq!(contexts[0].0, KUBEADM_CONTEXT);
    assert!(contexts[1].1.starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn a_big_estate_stays_cheap_to_serve() {
    let started = Instant::now();
    drop(estate().await);
    let plain = started.elapsed();
    let started = Instant::now();
    let e = estate_with(SimOptions {
        kube_extra_deployments: 200,
        ..SimOptions::default()
    })
    .await;
    let setup = started.elapsed();
    let k = kubeadm(&e);
    let t = Instant::now();
    let pods = k.ok("/api/v1/namespaces/shop-staging/pods").await;
    let listed = t.elapsed();
    assert!(pods["items"].as_array().unwrap().len() >= 2000 + 12);
    let d = k
        .ok(&format!("{STAGING}/deployments?labelSelector=app%3Dbulk-137"))
        .await;
    assert!(rollout_done(&d["items"][0]).is_ok());
    // Nothing due for the bulk Deployments: a tick does no work for them.
    let t = Instant::now();
    e.control().tick(10.0);
    let ticked = t.elapsed();
    eprintln!("estate start {plain:?}; with 2 x 200 x 10 more: setup {setup:?}, pod list {listed:?}, tick {ticked:?}");
    assert!(listed < Duration::from_secs(3), "{listed:?}");
}

#[tokio::test]
async fn the_control_endpoints_answer_outside_the_process() {
    let e = estate().await;
    let k = kubeadm(&e);
    let before = e.control().now_ms();
    k.ok(&format!("{STAGING}/deployments")).await;
    let client = http();
    let stats: Value = client
        .get(format!("{}/__sim/stats", k.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["lists"], 1);
    let facts: Value = client
        .get(format!("{}/__sim/facts", k.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(facts["promotion_target"]["workload"]["service"], "notification-worker");
    let r = client
        .post(format!("{}/__sim/tick?seconds=5", k.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(e.control().now_ms(), before + 5000);
    let r = client.delete(format!("{}/__sim/stats", k.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(e.control().kube_stats("kubernetes").lists, 0);
    assert_eq!(
        e.control().kube_requests(KUBEADM_CONTEXT).len(),
        1,
        "control calls are not recorded"
    );
}
