//! Nexus Repository 3 REST payloads. Newer servers add `maven2`, `fileSize`, `lastModified`,
//! `uploader`; older ones give only path and checksums. All optional.

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PageJson<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    #[serde(default)]
    pub continuation_token: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AssetJson {
    #[serde(default)]
    pub download_url: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub checksum: Option<ChecksumJson>,
    #[serde(default)]
    pub last_modified: Option<String>,
    #[serde(default)]
    pub uploader: Option<String>,
    #[serde(default)]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub maven2: Option<Maven2Json>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct ChecksumJson {
    #[serde(default)]
    pub sha1: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Maven2Json {
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub group_id: Option<String>,
    #[serde(default)]
    pub artifact_id: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub base_version: Option<String>,
    #[serde(default)]
    pub classifier: Option<String>,
}

/// Components (`/v1/search`): group, name, version and their assets.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct ComponentJson {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub assets: Vec<AssetJson>,
}
