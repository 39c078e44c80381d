//! AWX / Ansible Tower: the job templates services deploy with, their recent jobs and output,
//! pending workflow approvals, and the actions (launch, approve, deny) the executor runs.

pub mod actions;
pub mod api;
pub mod client;
pub mod map;
pub mod poll;

pub use actions::{AwxError, Launched, extra_vars};
pub use client::AwxClient;
pub use poll::{AwxPoller, WatchedTemplate};
