//! Amazon ECR through its API: per service, the tags of the newest images with digests, push
//! times, sizes and scan results; retag by putting the identical manifest under another tag.

pub mod api;
pub mod client;
pub mod map;
pub mod poll;

pub use client::{EcrClient, EcrListing, put_image_outcome, sdk_error};
pub use poll::EcrPoller;
