//! Where a service runs in each environment, as configured: a Kubernetes Deployment (and its
//! container) and/or the AWX job template that deploys it.

use serde::{Deserialize, Serialize};

/// A Deployment's container in one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkloadRef {
    /// The Kubernetes source (one kubeconfig context) by its config name.
    pub cluster: String,
    pub namespace: String,
    pub deployment: String,
    pub container: String,
}

/// An AWX job template (or workflow job template) that deploys the service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwxTemplateRef {
    /// The AWX source by its config name.
    pub source: String,
    /// The template's name as AWX lists it.
    pub template: String,
    /// A workflow job template rather than a job template.
    pub workflow: bool,
}

/// A service in one environment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeployTarget {
    pub kubernetes: Option<WorkloadRef>,
    pub awx: Option<AwxTemplateRef>,
}
