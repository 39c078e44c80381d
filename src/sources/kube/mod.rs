//! Kubernetes clusters through kube-rs: one source per kubeconfig context, namespace-scoped
//! watches of Deployments, ReplicaSets, pods and Warning events mapped into the compact model,
//! and the Deployment actions (set image, follow, undo, restart, resume).

pub mod actions;
pub mod connect;
pub mod error;
pub mod map;
pub mod watch;

pub use connect::{KubeClients, LazyClient, connect};
pub use error::KubeError;
pub use watch::KubeSource;
