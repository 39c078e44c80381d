//! What Nexus holds for a service: its artifacts by version.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub path: String,
    pub download_url: String,
    pub version: String,
    /// Snapshots: `1.5.0-SNAPSHOT` for version `1.5.0-20261124.101530-3`.
    pub base_version: Option<String>,
    pub extension: Option<String>,
    pub classifier: Option<String>,
    pub size: Option<u64>,
    pub sha1: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    pub uploader: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactState {
    pub repository: String,
    pub group_id: String,
    pub artifact_id: String,
    pub packaging: String,
    /// Assets by version (and by base version for snapshots).
    pub versions: BTreeMap<String, Vec<Asset>>,
    /// Did the listing reach its end? If not, a version missing here may still exist.
    pub complete: bool,
    pub search_url: String,
    pub observed_at: DateTime<Utc>,
}

impl ArtifactState {
    pub fn assets(&self, version: &str) -> &[Asset] {
        self.versions.get(version).map(Vec::as_slice).unwrap_or(&[])
    }
}
