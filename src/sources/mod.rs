//! Upstream systems. Each module turns HTTP into typed [`crate::model::Update`]s and knows nothing
//! of the screen. Polling tasks never share state with the renderer: they send updates down a channel.

pub mod awx;
pub mod backoff;
pub mod ecr;
pub mod engine;
pub mod github;
pub mod http;
pub mod jenkins;
pub mod kube;
pub mod nexus;
pub mod poller;
pub mod registry;
pub mod retag;
pub mod sonar;

use tokio::sync::mpsc;

use crate::model::Update;

/// Where sources send what they observe.
pub type UpdateSender = mpsc::UnboundedSender<Update>;
