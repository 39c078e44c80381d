//! The build host's Docker engine (or Podman's Docker-compatible API) through bollard: its
//! version, its images with their labels, and whether the base images the services build on are
//! still what their registries serve.

pub mod connect;
pub mod map;
pub mod poll;

pub use connect::{Endpoint, connect, engine_error};
pub use poll::EnginePoller;
