//! SonarQube Web API payloads (only what the cockpit reads). Numbers arrive as strings.

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStatusJson {
    #[serde(default)]
    pub project_status: ProjectStatusBody,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStatusBody {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub conditions: Vec<ConditionJson>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ConditionJson {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub metric_key: String,
    #[serde(default)]
    pub comparator: String,
    #[serde(default)]
    pub error_threshold: Option<String>,
    #[serde(default)]
    pub actual_value: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ComponentMeasuresJson {
    #[serde(default)]
    pub component: ComponentJson,
}

#[derive(Debug, Deserialize, Default)]
pub struct ComponentJson {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub measures: Vec<MeasureJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct MeasureJson {
    #[serde(default)]
    pub metric: String,
    #[serde(default)]
    pub value: Option<String>,
    /// SonarQube 8.x and later: the leak-period value of `new_*` metrics.
    #[serde(default)]
    pub period: Option<PeriodValueJson>,
    /// Older servers: `[{"index":1,"value":"…"}]`.
    #[serde(default)]
    pub periods: Option<Vec<PeriodValueJson>>,
}

#[derive(Debug, Deserialize, Default)]
pub struct PeriodValueJson {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct AnalysesJson {
    #[serde(default)]
    pub analyses: Vec<AnalysisJson>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisJson {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub project_version: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct HistoryJson {
    #[serde(default)]
    pub measures: Vec<MetricHistoryJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct MetricHistoryJson {
    #[serde(default)]
    pub metric: String,
    #[serde(default)]
    pub history: Vec<HistoryPointJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct HistoryPointJson {
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// `{"errors":[{"msg":"…"}]}`
#[derive(Debug, Deserialize, Default)]
pub struct ErrorsJson {
    #[serde(default)]
    pub errors: Vec<ErrorMsgJson>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ErrorMsgJson {
    #[serde(default)]
    pub msg: String,
}
