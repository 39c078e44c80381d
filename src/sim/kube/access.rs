//! The clusters' handles on [`Estate`] and [`SimControl`]: the kubeconfig,
//! the contexts, counters, recorded requests and facts.

use std::path::Path;

use super::super::faults::lock;
use super::super::{Estate, RecordedRequest, SimControl};
use super::{KubeFacts, KubeStats, kubeconfig};

impl Estate {
    /// A complete kubeconfig (YAML) for both simulated clusters, current
    /// context the kubeadm one. The EKS user runs `exec_program
    /// sim-eks-token --url … --cluster shop-prod` (the flightdeck binary) as
    /// its exec credential plugin.
    pub fn kubeconfig_yaml(&self, exec_program: &Path) -> String {
        kubeconfig::render(&self.shared.kube, exec_program)
    }

    /// Each cluster's kubeconfig context and API server URL
    /// (`http://127.0.0.1:PORT`), kubeadm first.
    pub fn kube_contexts(&self) -> Vec<(String, String)> {
        self.shared
            .kube
            .clusters
            .iter()
            .map(|c| (c.spec.context.clone(), c.url.clone()))
            .collect()
    }
}

impl SimControl {
    /// The counters of the cluster of `context` (zeros for an unknown context).
    pub fn kube_stats(&self, context: &str) -> KubeStats {
        self.shared
            .kube
            .by_context(context)
            .map(|c| c.counters.snapshot())
            .unwrap_or_default()
    }

    /// Zeroes both clusters' counters (the open-watch gauge stays true).
    pub fn reset_kube_stats(&self) {
        for c in &self.shared.kube.clusters {
            c.counters.reset();
        }
    }

    /// Which Deployment carries which anomaly at start.
    pub fn kube_facts(&self) -> KubeFacts {
        self.shared.kube.facts.clone()
    }

    /// Every request the cluster of `context` received, oldest first.
    pub fn kube_requests(&self, context: &str) -> Vec<RecordedRequest> {
        self.shared
            .kube
            .by_context(context)
            .map(|c| lock(&c.requests).items.clone())
            .unwrap_or_default()
    }

    /// Forgets both clusters' recorded requests.
    pub fn clear_kube_requests(&self) {
        for c in &self.shared.kube.clusters {
            lock(&c.requests).clear();
        }
    }
}
