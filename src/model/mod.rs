//! The state model: plain data, serialisable, no I/O. Sources produce [`Update`]s, one reducer
//! ([`State::apply`]) merges them, the UI only reads.

mod artifact;
mod awx;
mod build;
pub mod chain;
mod cluster;
mod deploy;
pub mod deployed;
mod github;
mod health;
mod image;
pub mod inbox;
pub mod policy;
mod quality;
mod reduce;
pub mod sample;
mod scan;
mod state;
mod status;

pub use artifact::{ArtifactState, Asset};
pub use awx::{AwxApproval, AwxJob, AwxJobStatus, AwxKind, AwxMissingTemplate, AwxState, AwxTemplate};
pub use build::{
    Build, BuildArtifact, Cause, LoadSummary, ParamDef, ParamKind, PendingInput, Stage, StageError, TestCounts,
};
pub use chain::{Candidate, ChainConfig, Link, LinkKind, LinkStatus, TestSource, human_size};
pub use cluster::{
    ANNOTATION_CHANGE_CAUSE, ANNOTATION_RESTARTED_AT, ANNOTATION_REVISION, ANNOTATION_STARTED_BY, ClusterChange,
    ClusterKind, ClusterObject, ClusterObjects, ClusterState, Condition, ContainerSpec, ContainerStatusInfo,
    DeploymentInfo, EventInfo, LABEL_POD_TEMPLATE_HASH, MAX_EVENTS_PER_NAMESPACE, NamespaceState, PodInfo,
    ReplicaSetInfo, RolloutPhase, RolloutStatus, RunningDigest, Terminated, UndoPlan, Waiting, WorkloadView,
    image_digest, paused_undo_error, plan_undo, rollout_status,
};
pub use deploy::{AwxTemplateRef, DeployTarget, WorkloadRef};
pub use github::{
    BranchProtection, CheckItem, Delivery, Hook, MergedPull, Protection, PullRequest, RepoCommit, RepoState,
    ReviewState, ReviewVerdict, combine,
};
pub use health::{HealthLevel, SourceHealth};
pub use image::{
    BaseImageCheck, EngineState, ImageRef, ImageRepoState, ImageTag, LABEL_BASE_DIGEST, LABEL_BASE_NAME,
    LABEL_REVISION, LABEL_VERSION, LocalImage, PromotionStrategy, RegistryKind, normalise_reference, same_reference,
};
pub use inbox::{ApprovalPolicy, FourEyes, InboxItem, InboxKind};
pub use policy::{Check, LoadPolicy, QualityPolicy, ScanPolicy};
pub use quality::{Analysis, Gate, GateCondition, GateStatus, Measures, QualityState, same_commit};
pub use reduce::{ActionOutcome, QueueState, Update};
pub use scan::{Finding, ScanReport, ScanState, Scanner, Severity, SeverityCounts, sort_findings};
pub use state::{
    Environment, GithubRef, Job, JobKind, NexusRef, Notice, NoticeLevel, QueueFollow, Service, ServiceJobs, SonarRef,
    State,
};
pub use status::Status;
