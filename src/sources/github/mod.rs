//! GitHub (octocrab): per service repository, the default branch's protection, open pull
//! requests with reviews and checks, recent commits matched to the pull requests that merged
//! them, and the Jenkins webhook's deliveries. Every poll is conditional (ETag).

pub mod api;
pub mod client;
pub mod map;
pub mod poll;

pub use client::GithubClient;
pub use poll::{GithubPoller, WatchedRepo};
