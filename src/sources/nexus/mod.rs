//! Nexus Repository 3: per service, its Maven artifacts (jar or war plus pom) by version, with
//! size, sha1, last modified and uploader where the server gives them.

pub mod api;
pub mod map;
pub mod poll;

pub use poll::{NexusClient, NexusPoller, WatchedArtifact};
