//! Jenkins payloads as the server sends them. Lenient where real servers differ (missing `_class`,
//! `{}` entries in `actions`, ids as strings or numbers); everything optional that can be null.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

#[derive(Debug, Deserialize, Default)]
pub struct JobList {
    #[serde(default)]
    pub jobs: Vec<JobEntry>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct JobEntry {
    #[serde(rename = "_class", default)]
    pub class: String,
    /// Absent when a `tree=` query asked only for `displayName`.
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "displayName")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub jobs: Vec<JobEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetail {
    #[serde(rename = "_class", default)]
    pub class: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub buildable: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub property: Vec<JobProperty>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub builds: Vec<BuildJson>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobProperty {
    #[serde(rename = "_class", default)]
    pub class: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub parameter_definitions: Vec<ParamDefJson>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ParamDefJson {
    #[serde(rename = "_class", default)]
    pub class: String,
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub default_parameter_value: Option<ParamValueJson>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub choices: Vec<String>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct ParamValueJson {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub value: Value,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BuildJson {
    #[serde(rename = "_class", default)]
    pub class: String,
    pub number: u64,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub building: bool,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub timestamp: i64,
    #[serde(default)]
    pub duration: i64,
    #[serde(default)]
    pub estimated_duration: Option<i64>,
    #[serde(default)]
    pub queue_id: Option<u64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub actions: Vec<ActionJson>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub artifacts: Vec<ArtifactJson>,
}

#[derive(Debug, Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactJson {
    #[serde(default)]
    pub file_name: String,
    #[serde(default)]
    pub relative_path: String,
}

/// One entry of a build's heterogeneous `actions[]`. Every field is optional so that `{}` and
/// unknown plugins' actions parse; the mapping dispatches on `_class` or on which fields are present.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct ActionJson {
    #[serde(rename = "_class", default)]
    pub class: Option<String>,
    #[serde(default)]
    pub causes: Option<Vec<CauseJson>>,
    #[serde(default)]
    pub parameters: Option<Vec<ParamValueJson>>,
    #[serde(default)]
    pub last_built_revision: Option<RevisionJson>,
    #[serde(default)]
    pub remote_urls: Option<Vec<String>>,
    #[serde(default)]
    pub fail_count: Option<u64>,
    #[serde(default)]
    pub skip_count: Option<u64>,
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub url_name: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct CauseJson {
    #[serde(rename = "_class", default)]
    pub class: Option<String>,
    #[serde(default)]
    pub short_description: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub upstream_project: Option<String>,
    #[serde(default)]
    pub upstream_build: Option<u64>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct RevisionJson {
    #[serde(rename = "SHA1", default)]
    pub sha1: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub branch: Vec<BranchJson>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct BranchJson {
    #[serde(rename = "SHA1", default)]
    pub sha1: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET …/N/wfapi/describe`.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct RunDescribe {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub start_time_millis: i64,
    #[serde(default)]
    pub duration_millis: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub stages: Vec<StageJson>,
}

/// A stage in a run, or a node from `execution/node/ID/wfapi/describe` (with its steps).
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct StageJson {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub start_time_millis: i64,
    #[serde(default)]
    pub duration_millis: i64,
    #[serde(default)]
    pub error: Option<ErrorJson>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub stage_flow_nodes: Vec<StageJson>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct ErrorJson {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// One entry of `GET …/N/wfapi/pendingInputActions`.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PendingInputJson {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub proceed_text: Option<String>,
    #[serde(default)]
    pub submitter: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub inputs: Vec<InputParamJson>,
    #[serde(default)]
    pub proceed_url: Option<String>,
    #[serde(default)]
    pub abort_url: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct InputParamJson {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub definition: Option<ParamDefJson>,
}

/// `GET /queue/item/N/api/json`.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct QueueItemJson {
    #[serde(rename = "_class", default)]
    pub class: String,
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default)]
    pub cancelled: Option<bool>,
    #[serde(default)]
    pub executable: Option<ExecutableJson>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct ExecutableJson {
    pub number: u64,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CrumbJson {
    pub crumb: String,
    pub crumb_request_field: String,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or number id, got {other}"
        ))),
    }
}
