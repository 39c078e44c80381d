//! SonarQube: per project, the quality gate with its conditions, the measures the shop's policy
//! reads, and the recent analyses with the commit each one analysed.

pub mod api;
pub mod client;
pub mod map;
pub mod poll;

pub use client::SonarClient;
pub use poll::{SonarPoller, WatchedProject};
