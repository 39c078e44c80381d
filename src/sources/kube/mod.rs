//! Kubernetes clusters through kube-rs: one source per kubeconfig context, namespace-scoped
//! watches of Deployments, ReplicaSets, pods and Warning events mapped into the compact model,
//! and the Deployment actions (set image, follow, undo, restart, resume).

pub mod map;
