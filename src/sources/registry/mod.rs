//! Any OCI / Docker registry v2 (Docker Hub, GHCR, Quay, Harbor, a plain `registry:2`): tags,
//! digests, labels and platforms of each service's image repository, retagging for promotion,
//! and the digest a registry serves for a base image.

pub mod client;
pub mod credentials;
pub mod map;
pub mod poll;

pub use client::{ManifestHead, RegistryClient, TagListing, remote_digest};
pub use poll::RegistryPoller;
