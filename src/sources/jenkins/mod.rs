//! Jenkins: jobs (folders and multibranch walked), builds with causes, commits and test counts,
//! Pipeline stages and pending inputs from wfapi, and the actions that change a build.

pub mod actions;
pub mod api;
pub mod client;
pub mod load_summary;
pub mod map;
pub mod poll;
pub mod scan_report;

pub use client::JenkinsClient;
pub use poll::{JenkinsPoller, WatchedJob};
