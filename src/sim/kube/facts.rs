//! The Kubernetes side of the story facts: which Deployment of which
//! cluster carries which anomaly at start, so tests and the demo can find
//! them without hard-coding names or digests.

use serde::Serialize;

/// Where a service runs in one environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KubeWorkload {
    pub service: String,
    /// `staging` or `production`.
    pub environment: String,
    /// The kubeconfig context (`kubernetes-admin@kubernetes` or the EKS ARN).
    pub context: String,
    /// The kubeconfig cluster name.
    pub cluster: String,
    pub namespace: String,
    pub deployment: String,
    pub container: String,
}

/// One simulated cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KubeClusterFact {
    pub context: String,
    pub cluster: String,
    pub user: String,
    pub namespace: String,
    pub environment: String,
    pub server_url: String,
    /// Authenticates through the exec plugin (EKS) rather than a static token.
    pub eks: bool,
}

/// A Deployment of the story as it stands at start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KubeDeploymentFact {
    pub workload: KubeWorkload,
    /// The container's image in the Deployment's spec.
    pub image: String,
    /// What the pods of the newest ReplicaSet run (`sha256:…`), empty if
    /// they run nothing (the image does not exist).
    pub digest: String,
    /// `deployment.kubernetes.io/revision`.
    pub revision: i64,
    /// Every revision its ReplicaSets carry, oldest first.
    pub revisions: Vec<i64>,
    pub replicas: i32,
    /// The registry tag of this environment (`staging` or `prod`) and its digest.
    pub env_tag: String,
    pub env_tag_digest: String,
}

/// catalog-service in staging: the newest ReplicaSet's pod crash-loops and
/// the rollout passes its progress deadline during the story.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CrashLoopFact {
    pub workload: KubeWorkload,
    pub replica_set: String,
    pub pod: String,
    pub image: String,
    /// The digest that exits with code 1 seconds after it starts.
    pub digest: String,
    /// What the old ReplicaSet's pods still run.
    pub stable_digest: String,
    pub progress_deadline_seconds: i64,
    /// Story time (epoch ms) after which `Progressing` reads `ProgressDeadlineExceeded`.
    pub deadline_at_ms: i64,
}

/// checkout-web in production: a rollout to a tag that does not exist,
/// past its progress deadline before the start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeadlineExceededFact {
    pub workload: KubeWorkload,
    pub replica_set: String,
    /// The image reference no registry holds.
    pub image: String,
    pub stable_digest: String,
    pub started_by: String,
}

/// payments-api in production: a canary paused mid-rollout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PausedRolloutFact {
    pub workload: KubeWorkload,
    /// `flightdeck.dev/started-by`.
    pub started_by: String,
    pub change_cause: String,
    pub new_replica_set: String,
    pub canary_digest: String,
    pub stable_digest: String,
    /// Ready pods of the new ReplicaSet and pods of the old ones at start.
    pub new_ready: i32,
    pub old_replicas: i32,
}

/// ledger-service in production runs an older digest than its `prod` tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DriftFact {
    pub workload: KubeWorkload,
    pub running_digest: String,
    pub tag: String,
    pub tag_digest: String,
    pub changed_by: String,
    pub change_cause: String,
}

/// notification-worker in staging: healthy, on the `staging` tag's digest;
/// the end-to-end test promotes it to the green candidate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PromotionTargetFact {
    pub workload: KubeWorkload,
    pub running_digest: String,
    pub candidate_version: String,
    pub candidate_digest: String,
    /// `host/shop/notification-worker@sha256:…`, ready to patch in.
    pub candidate_image: String,
}

/// Everything at once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KubeFacts {
    pub clusters: Vec<KubeClusterFact>,
    pub deployments: Vec<KubeDeploymentFact>,
    pub crash_loop: CrashLoopFact,
    pub deadline_exceeded: DeadlineExceededFact,
    pub paused: PausedRolloutFact,
    pub drift: DriftFact,
    pub promotion_target: PromotionTargetFact,
}
