//! The clusters as the demo starts: every service has a Deployment in
//! staging (kubeadm, 2 replicas) and production (EKS, 3 replicas), pinned by
//! digest to its environment tag's image, with two to four revisions of
//! history. The history is not invented: each revision is a rollout the
//! controllers replayed on the story clock, days before the start.
//!
//! The anomalies (see [`KubeFacts`]):
//! 1. catalog-service, staging: a rollout 4 minutes before the start whose
//!    new pod crash-loops; it passes its 600 s progress deadline ~6 minutes
//!    into the story.
//! 2. checkout-web, production: a rollout to a tag no registry holds
//!    (`v` + the staging version), 25 minutes before the start: its pod is in
//!    `ImagePullBackOff` and the rollout is past its deadline.
//! 3. payments-api, production: a canary of the staging digest, paused by
//!    dmitri with one new pod ready and two old ones.
//! 4. ledger-service, production: erin set an older digest by hand 20 hours
//!    ago, so it does not run what its `prod` tag points at.
//! 5. notification-worker, staging: healthy on the `staging` digest; the
//!    promotion target of the end-to-end test.

use serde_json::{Value, json};

use super::super::images::{self, Hosting, ImageState};
use super::super::jenkins::Ms;
use super::super::story::{DAY, HOUR, MIN, SEC, SERVICES, World};
use super::cluster::{Cluster, ClusterSpec, NsName, Pull};
use super::controller::PROGRESSING;
use super::facts::{
    CrashLoopFact, DeadlineExceededFact, DriftFact, KubeClusterFact, KubeDeploymentFact, KubeFacts, KubeWorkload,
    PausedRolloutFact, PromotionTargetFact,
};
use super::objects::{CHANGE_CAUSE, STARTED_BY, templates_equal};
use super::{EKS_CLUSTER_NAME, EKS_CONTEXT, KUBEADM_CONTEXT, PRODUCTION_NAMESPACE, STAGING_NAMESPACE, resolve};

pub(crate) fn cluster_specs() -> Vec<ClusterSpec> {
    let nodes = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(n, ip)| (n.to_string(), ip.to_string())).collect()
    };
    vec![
        ClusterSpec {
            name: "kubernetes".into(),
            context: KUBEADM_CONTEXT.into(),
            user: "kubernetes-admin".into(),
            identity: "kubernetes-admin".into(),
            short: "kubernetes".into(),
            namespace: STAGING_NAMESPACE.into(),
            environment: "staging".into(),
            eks: false,
            nodes: nodes(&[
                ("kube-worker-1", "192.168.56.11"),
                ("kube-worker-2", "192.168.56.12"),
                ("kube-worker-3", "192.168.56.13"),
            ]),
            pod_cidr_prefix: "10.244".into(),
            version: "v1.33.5",
        },
        ClusterSpec {
            name: EKS_CONTEXT.into(),
            context: EKS_CONTEXT.into(),
            user: EKS_CONTEXT.into(),
            identity: "arn:aws:sts::314159265358:assumed-role/flightdeck-deployer/flightdeck".into(),
            short: EKS_CLUSTER_NAME.into(),
            namespace: PRODUCTION_NAMESPACE.into(),
            environment: "production".into(),
            eks: true,
            nodes: nodes(&[
                ("ip-10-0-11-84.eu-west-1.compute.internal", "10.0.11.84"),
                ("ip-10-0-27-161.eu-west-1.compute.internal", "10.0.27.161"),
                ("ip-10-0-43-19.eu-west-1.compute.internal", "10.0.43.19"),
            ]),
            pod_cidr_prefix: "10.0".into(),
            version: "v1.33.5-eks-3cfe0ce",
        },
    ]
}

fn version_key(v: &str) -> Option<Vec<u64>> {
    v.split('.').map(|p| p.parse().ok()).collect()
}

/// A service's released images, oldest version first: (version, digest).
fn releases(images: &ImageState, service: &str) -> Vec<(String, String)> {
    let repo = images::repository(service);
    let mut out: Vec<(Vec<u64>, String, String)> = Vec::new();
    if let Some(r) = images.oci.get(&repo) {
        for (tag, digest) in &r.tags {
            if let Some(k) = version_key(tag) {
                out.push((k, tag.clone(), digest.clone()));
            }
        }
    }
    if let Some(r) = images.ecr.get(&repo) {
        for img in &r.images {
            for tag in &img.tags {
                if let Some(k) = version_key(tag) {
                    out.push((k, tag.clone(), img.digest.clone()));
                }
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.2 == b.2);
    out.into_iter().map(|(_, v, d)| (v, d)).collect()
}

fn tag_digest(images: &ImageState, service: &str, tag: &str) -> Option<String> {
    let repo = images::repository(service);
    if let Some(d) = images.oci.get(&repo).and_then(|r| r.tags.get(tag)) {
        return Some(d.clone());
    }
    let r = images.ecr.get(&repo)?;
    r.by_tag(tag).map(|i| r.images[i].digest.clone())
}

/// `host/shop/<service>` in the registry that hosts the service.
fn repository_name(images: &ImageState, service: &str) -> String {
    let host = match images::image_spec(service).map(|s| s.hosting) {
        Some(Hosting::Ecr) => images::ecr_host(),
        _ => images.host.clone(),
    };
    format!("{host}/{}", images::repository(service))
}

fn pinned(images: &ImageState, service: &str, digest: &str) -> String {
    format!("{}@{digest}", repository_name(images, service))
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

fn deployment_spec(service: &str, environment: &str, replicas: i32, image: &str) -> Value {
    json!({
        "replicas": replicas,
        "selector": {"matchLabels": {"app": service}},
        "progressDeadlineSeconds": 600,
        "revisionHistoryLimit": 10,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "template": {
            "metadata": {"labels": {"app": service}},
            "spec": {"containers": [{
                "name": service,
                "image": image,
                "ports": [{"name": "http", "containerPort": 8080}],
                "env": [
                    {"name": "APP_ENV", "value": environment},
                    {"name": "JAVA_OPTS", "value": "-XX:MaxRAMPercentage=75"},
                ],
                "readinessProbe": {
                    "httpGet": {"path": "/actuator/health/readiness", "port": "http", "scheme": "HTTP"},
                    "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3,
                },
                "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            }]},
        },
    })
}

/// One thing that happened to a cluster before the start.
enum Action {
    Create {
        service: String,
        image: String,
        cause: String,
    },
    SetImage {
        service: String,
        image: String,
        cause: String,
        started_by: Option<&'static str>,
    },
    /// `kubectl rollout pause` once the canary's first pod is ready and an old one is gone.
    PauseCanary { service: String },
}

fn jenkins_cause(service: &str, version: &str, digest: &str, environment: &str) -> String {
    format!(
        "deploy {version} ({}) to {environment} by jenkins (dominion/{service}-deploy)",
        short(digest)
    )
}

/// The image change of a Deployment, as `kubectl set image --record` makes it.
fn set_image(c: &mut Cluster, key: &NsName, image: &str, cause: &str, started_by: Option<&str>) {
    let Some(d) = c.deployments.get(key) else { return };
    let mut obj = json!({
        "metadata": {"labels": d.meta.labels, "annotations": d.meta.annotations},
        "spec": d.spec,
    });
    if let Some(Value::Array(cs)) = obj.pointer_mut("/spec/template/spec/containers") {
        for ct in cs {
            if ct.get("name").and_then(Value::as_str) == Some(key.1.as_str()) {
                ct["image"] = json!(image);
            }
        }
    }
    obj["metadata"]["annotations"][CHANGE_CAUSE] = json!(cause);
    match started_by {
        Some(by) => obj["metadata"]["annotations"][STARTED_BY] = json!(by),
        None => {
            if let Some(Value::Object(a)) = obj.pointer_mut("/metadata/annotations") {
                a.remove(STARTED_BY);
            }
        }
    }
    c.replace_deployment(key, &obj);
}

/// (new ReplicaSet ready pods, new replicas, old replicas) of a Deployment.
fn split(c: &Cluster, key: &NsName) -> (i32, i32, i32) {
    let Some(d) = c.deployments.get(key) else {
        return (0, 0, 0);
    };
    let mut out = (0, 0, 0);
    for k in c.owned_replicasets(d) {
        let rs = &c.replicasets[&k];
        if templates_equal(&rs.template, d.template()) {
            out.0 += rs.status.ready;
            out.1 += rs.replicas;
        } else {
            out.2 += rs.replicas;
        }
    }
    out
}

fn pause(c: &mut Cluster, key: &NsName) {
    let Some(d) = c.deployments.get(key) else { return };
    let mut obj = json!({
        "metadata": {"labels": d.meta.labels, "annotations": d.meta.annotations},
        "spec": d.spec,
    });
    obj["spec"]["paused"] = json!(true);
    c.replace_deployment(key, &obj);
}

/// The anomalies' chosen images, shared by both clusters.
struct Picks {
    crash_digest: String,
    crash_version: String,
    missing_tag_image: String,
    canary_digest: String,
    hotfix_digest: String,
}

fn picks(images: &ImageState) -> Picks {
    let newer_than = |service: &str, tag: &str| -> Option<(String, String)> {
        let rels = releases(images, service);
        let at = tag_digest(images, service, tag)?;
        let idx = rels.iter().position(|(_, d)| *d == at)?;
        rels.get(idx + 1..).and_then(|r| r.last()).cloned()
    };
    let other_than = |service: &str, digest: &str| -> (String, String) {
        releases(images, service)
            .into_iter()
            .rev()
            .find(|(_, d)| d != digest)
            .unwrap_or_default()
    };
    let catalog_staging = tag_digest(images, "catalog-service", "staging").unwrap_or_default();
    let (crash_version, crash_digest) =
        newer_than("catalog-service", "staging").unwrap_or_else(|| other_than("catalog-service", &catalog_staging));
    let checkout_staging_version = releases(images, "checkout-web")
        .into_iter()
        .find(|(_, d)| Some(d) == tag_digest(images, "checkout-web", "staging").as_ref())
        .map(|(v, _)| v)
        .unwrap_or_else(|| "2.12.0".into());
    let missing_tag_image = format!(
        "{}:v{checkout_staging_version}",
        repository_name(images, "checkout-web")
    );
    let payments_prod = tag_digest(images, "payments-api", "prod").unwrap_or_default();
    let canary_digest = tag_digest(images, "payments-api", "staging")
        .filter(|d| *d != payments_prod)
        .unwrap_or_else(|| other_than("payments-api", &payments_prod).1);
    let ledger_prod = tag_digest(images, "ledger-service", "prod").unwrap_or_default();
    let ledger = releases(images, "ledger-service");
    let hotfix_digest = ledger
        .iter()
        .position(|(_, d)| *d == ledger_prod)
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| ledger.get(i))
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| other_than("ledger-service", &ledger_prod).1);
    Picks {
        crash_digest,
        crash_version,
        missing_tag_image,
        canary_digest,
        hotfix_digest,
    }
}

/// Replays the history of every cluster up to `world.now` and returns the facts.
pub(crate) fn build(
    world: &World,
    images: &ImageState,
    clusters: &mut [Cluster],
    urls: &[String],
    bulk: usize,
) -> KubeFacts {
    let start = world.now;
    let p = picks(images);
    let mut facts = KubeFacts::default();
    for (i, c) in clusters.iter_mut().enumerate() {
        c.crashing.insert(p.crash_digest.clone());
        let staging = c.spec.environment == "staging";
        let tag = if staging { "staging" } else { "prod" };
        let replicas = if staging { 2 } else { 3 };
        let environment = c.spec.environment.clone();
        let mut actions: Vec<(Ms, usize, Action)> = Vec::new();
        for svc in &SERVICES {
            let service = svc.name;
            let rels = releases(images, service);
            let Some(target) = tag_digest(images, service, tag).or_else(|| rels.last().map(|r| r.1.clone())) else {
                continue;
            };
            let idx = rels.iter().position(|(_, d)| *d == target).unwrap_or(rels.len());
            let n_hist = 1 + c.pick(&[service, &environment, "history"], 0, 3) as usize;
            let mut revisions: Vec<(String, String)> = rels[..idx.min(rels.len())]
                .iter()
                .rev()
                .take(n_hist)
                .rev()
                .cloned()
                .collect();
            let target_version = rels.get(idx).map(|r| r.0.clone()).unwrap_or_else(|| tag.to_string());
            revisions.push((target_version, target));
            let mut t = start - c.pick(&[service, &environment, "deployed"], DAY, 5 * DAY);
            let mut times = Vec::new();
            for _ in &revisions {
                times.push(t);
                t -= c.pick(&[service, &environment, &t.to_string()], 4 * DAY, 9 * DAY);
            }
            times.reverse();
            for (n, ((version, digest), at)) in revisions.iter().zip(times).enumerate() {
                let image = pinned(images, service, digest);
                let cause = jenkins_cause(service, version, digest, &environment);
                let action = if n == 0 {
                    Action::Create {
                        service: service.into(),
                        image,
                        cause,
                    }
                } else {
                    Action::SetImage {
                        service: service.into(),
                        image,
                        cause,
                        started_by: None,
                    }
                };
                actions.push((at, actions.len(), action));
            }
        }
        if staging {
            actions.push((
                start - 4 * MIN,
                actions.len(),
                Action::SetImage {
                    service: "catalog-service".into(),
                    image: pinned(images, "catalog-service", &p.crash_digest),
                    cause: jenkins_cause("catalog-service", &p.crash_version, &p.crash_digest, &environment),
                    started_by: None,
                },
            ));
        } else {
            actions.push((
                start - 25 * MIN,
                actions.len(),
                Action::SetImage {
                    service: "checkout-web".into(),
                    image: p.missing_tag_image.clone(),
                    cause: format!(
                        "kubectl set image deployment/checkout-web checkout-web={} --record=true",
                        p.missing_tag_image
                    ),
                    started_by: Some("farah"),
                },
            ));
            let canary = pinned(images, "payments-api", &p.canary_digest);
            actions.push((
                start - 40 * MIN,
                actions.len(),
                Action::SetImage {
                    service: "payments-api".into(),
                    image: canary.clone(),
                    cause: format!(
                        "kubectl set image deployment/payments-api payments-api={canary} --record=true (canary by dmitri)"
                    ),
                    started_by: Some("dmitri"),
                },
            ));
            actions.push((
                start - 40 * MIN,
                actions.len(),
                Action::PauseCanary {
                    service: "payments-api".into(),
                },
            ));
            let hotfix = pinned(images, "ledger-service", &p.hotfix_digest);
            actions.push((
                start - 20 * HOUR,
                actions.len(),
                Action::SetImage {
                    service: "ledger-service".into(),
                    image: hotfix.clone(),
                    cause: format!(
                        "kubectl set image deployment/ledger-service ledger-service={hotfix} --record (hotfix by erin)"
                    ),
                    started_by: Some("erin"),
                },
            ));
        }
        actions.sort_by_key(|(t, n, _)| (*t, *n));

        let namespace = c.spec.namespace.clone();
        let mut resolver = |r: &str| resolve(images, r);
        if let Some((first, _, _)) = actions.first() {
            c.begin_at(*first);
        }
        for (at, _, action) in actions {
            c.advance_to(at, &mut resolver);
            match action {
                Action::Create { service, image, cause } => {
                    let spec = deployment_spec(&service, &environment, replicas, &image);
                    c.create_deployment(
                        &namespace,
                        &service,
                        &[("app", &service), ("app.kubernetes.io/part-of", "shop")],
                        &[(CHANGE_CAUSE, &cause)],
                        spec,
                    );
                }
                Action::SetImage {
                    service,
                    image,
                    cause,
                    started_by,
                } => {
                    let key = (namespace.clone(), service);
                    set_image(c, &key, &image, &cause, started_by);
                }
                Action::PauseCanary { service } => {
                    let key = (namespace.clone(), service);
                    let give_up = c.now + 2 * MIN;
                    loop {
                        let t = c.now + SEC / 4;
                        c.advance_to(t, &mut resolver);
                        let (new_ready, new, old) = split(c, &key);
                        if (new_ready >= 1 && new == 1 && old < replicas) || c.now > give_up {
                            break;
                        }
                    }
                    pause(c, &key);
                }
            }
        }
        c.advance_to(start, &mut resolver);

        // The bulk estate: steady Deployments of ten pods each.
        let bulk_image = pinned(
            images,
            "notification-worker",
            &tag_digest(images, "notification-worker", tag).unwrap_or_default(),
        );
        let image_id = |r: &str| match resolve(images, r) {
            Pull::Found { image_id } => Some(image_id),
            Pull::Missing { .. } => None,
        };
        for n in 0..bulk {
            let name = format!("bulk-{n:03}");
            let spec = deployment_spec(&name, &environment, 10, &bulk_image);
            c.create_steady_deployment(
                &namespace,
                &name,
                &[("app", &name), ("app.kubernetes.io/part-of", "bulk")],
                spec,
                start - 7 * DAY,
                &image_id,
            );
        }
        // The watch cache starts here: older versions are 410 Expired.
        c.store.compact();

        let url = urls.get(i).cloned().unwrap_or_default();
        facts.clusters.push(KubeClusterFact {
            context: c.spec.context.clone(),
            cluster: c.spec.name.clone(),
            user: c.spec.user.clone(),
            namespace: namespace.clone(),
            environment: environment.clone(),
            server_url: url,
            eks: c.spec.eks,
        });
        for svc in &SERVICES {
            facts.deployments.push(deployment_fact(c, images, svc.name, tag));
        }
        let workload = |c: &Cluster, service: &str| KubeWorkload {
            service: service.into(),
            environment: c.spec.environment.clone(),
            context: c.spec.context.clone(),
            cluster: c.spec.name.clone(),
            namespace: c.spec.namespace.clone(),
            deployment: service.into(),
            container: service.into(),
        };
        if staging {
            let key = (namespace.clone(), "catalog-service".to_string());
            let (new_rs, pod) = newest(c, &key);
            let progressing = c
                .deployments
                .get(&key)
                .and_then(|d| d.status.condition(PROGRESSING).cloned());
            facts.crash_loop = CrashLoopFact {
                workload: workload(c, "catalog-service"),
                replica_set: new_rs,
                pod,
                image: pinned(images, "catalog-service", &p.crash_digest),
                digest: p.crash_digest.clone(),
                stable_digest: tag_digest(images, "catalog-service", tag).unwrap_or_default(),
                progress_deadline_seconds: 600,
                deadline_at_ms: progressing.map_or(0, |c| c.last_update + 600 * SEC + 1),
            };
            let nw = tag_digest(images, "notification-worker", tag).unwrap_or_default();
            let green = &world.facts.green_candidate;
            facts.promotion_target = PromotionTargetFact {
                workload: workload(c, "notification-worker"),
                running_digest: nw,
                candidate_version: green.version.clone(),
                candidate_digest: green.digest.clone(),
                candidate_image: pinned(images, "notification-worker", &green.digest),
            };
        } else {
            let key = (namespace.clone(), "checkout-web".to_string());
            facts.deadline_exceeded = DeadlineExceededFact {
                workload: workload(c, "checkout-web"),
                replica_set: newest(c, &key).0,
                image: p.missing_tag_image.clone(),
                stable_digest: tag_digest(images, "checkout-web", tag).unwrap_or_default(),
                started_by: "farah".into(),
            };
            let key = (namespace.clone(), "payments-api".to_string());
            let (new_ready, _, old) = split(c, &key);
            facts.paused = PausedRolloutFact {
                workload: workload(c, "payments-api"),
                started_by: "dmitri".into(),
                change_cause: c
                    .deployments
                    .get(&key)
                    .and_then(|d| d.meta.annotations.get(CHANGE_CAUSE).cloned())
                    .unwrap_or_default(),
                new_replica_set: newest(c, &key).0,
                canary_digest: p.canary_digest.clone(),
                stable_digest: tag_digest(images, "payments-api", tag).unwrap_or_default(),
                new_ready,
                old_replicas: old,
            };
            let key = (namespace.clone(), "ledger-service".to_string());
            facts.drift = DriftFact {
                workload: workload(c, "ledger-service"),
                running_digest: p.hotfix_digest.clone(),
                tag: tag.into(),
                tag_digest: tag_digest(images, "ledger-service", tag).unwrap_or_default(),
                changed_by: "erin".into(),
                change_cause: c
                    .deployments
                    .get(&key)
                    .and_then(|d| d.meta.annotations.get(CHANGE_CAUSE).cloned())
                    .unwrap_or_default(),
            };
        }
    }
    facts
}

/// The newest ReplicaSet of a Deployment (its template's) and its first pod.
fn newest(c: &Cluster, key: &NsName) -> (String, String) {
    let Some(d) = c.deployments.get(key) else {
        return Default::default();
    };
    let Some(rs_key) = c
        .owned_replicasets(d)
        .into_iter()
        .find(|k| templates_equal(&c.replicasets[k].template, d.template()))
    else {
        return Default::default();
    };
    let pod = c
        .owned_pods(&c.replicasets[&rs_key])
        .first()
        .map(|k| k.1.clone())
        .unwrap_or_default();
    (rs_key.1, pod)
}

fn deployment_fact(c: &Cluster, images: &ImageState, service: &str, tag: &str) -> KubeDeploymentFact {
    let key = (c.spec.namespace.clone(), service.to_string());
    let Some(d) = c.deployments.get(&key) else {
        return KubeDeploymentFact::default();
    };
    let image = super::objects::template_images(d.template())
        .into_iter()
        .find(|(n, _)| n == service)
        .map(|(_, i)| i)
        .unwrap_or_default();
    let (rs, _) = newest(c, &key);
    let digest = c
        .replicasets
        .get(&(key.0.clone(), rs))
        .map(|rs| c.owned_pods(rs))
        .unwrap_or_default()
        .iter()
        .filter_map(|k| c.pods[k].containers.first().and_then(|ct| ct.image_id.clone()))
        .next()
        .and_then(|id| id.rsplit_once('@').map(|(_, d)| d.to_string()))
        .unwrap_or_default();
    let mut revisions: Vec<i64> = c
        .owned_replicasets(d)
        .iter()
        .map(|k| c.replicasets[k].meta.revision())
        .collect();
    revisions.sort_unstable();
    KubeDeploymentFact {
        workload: KubeWorkload {
            service: service.into(),
            environment: c.spec.environment.clone(),
            context: c.spec.context.clone(),
            cluster: c.spec.name.clone(),
            namespace: c.spec.namespace.clone(),
            deployment: service.into(),
            container: service.into(),
        },
        image,
        digest,
        revision: d.meta.revision(),
        revisions,
        replicas: d.replicas(),
        env_tag: tag.into(),
        env_tag_digest: tag_digest(images, service, tag).unwrap_or_default(),
    }
}
