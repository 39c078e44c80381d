use serde::{Deserialize, Serialize};

/// The one status vocabulary every pane, theme and policy speaks. Each status has a glyph so a
/// monochrome screen (or `NO_COLOR`) reads as correctly as a coloured one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed,
    Unstable,
    Aborted,
    Running,
    Paused,
    Pending,
    NotBuilt,
    #[default]
    Unknown,
}

impl Status {
    pub fn glyph(self) -> &'static str {
        match self {
            Status::Ok => "✔",
            Status::Failed => "✖",
            Status::Unstable => "⚠",
            Status::Aborted => "⊘",
            Status::Running => "◷",
            Status::Paused => "⏸",
            Status::Pending => "…",
            Status::NotBuilt => "·",
            Status::Unknown => "?",
        }
    }

    /// The theme role that colours this status.
    pub fn role(self) -> &'static str {
        match self {
            Status::Ok => "status.ok",
            Status::Failed => "status.failed",
            Status::Unstable => "status.unstable",
            Status::Aborted => "status.aborted",
            Status::Running => "status.running",
            Status::Paused => "status.paused",
            Status::Pending => "status.pending",
            Status::NotBuilt | Status::Unknown => "status.unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "success",
            Status::Failed => "failed",
            Status::Unstable => "unstable",
            Status::Aborted => "aborted",
            Status::Running => "running",
            Status::Paused => "waiting for input",
            Status::Pending => "pending",
            Status::NotBuilt => "not built",
            Status::Unknown => "unknown",
        }
    }

    /// Jenkins build `result` (null while building) into a status.
    pub fn from_jenkins_result(result: Option<&str>, building: bool) -> Status {
        if building {
            return Status::Running;
        }
        match result {
            Some("SUCCESS") => Status::Ok,
            Some("FAILURE") => Status::Failed,
            Some("UNSTABLE") => Status::Unstable,
            Some("ABORTED") => Status::Aborted,
            Some("NOT_BUILT") => Status::NotBuilt,
            _ => Status::Unknown,
        }
    }

    /// Pipeline REST API (wfapi) status enum; note it says FAILED where build JSON says FAILURE.
    pub fn from_wfapi(status: &str) -> Status {
        match status {
            "SUCCESS" => Status::Ok,
            "FAILED" | "FAILURE" => Status::Failed,
            "UNSTABLE" => Status::Unstable,
            "ABORTED" => Status::Aborted,
            "IN_PROGRESS" => Status::Running,
            "PAUSED_PENDING_INPUT" => Status::Paused,
            "NOT_EXECUTED" => Status::NotBuilt,
            "QUEUED" => Status::Pending,
            _ => Status::Unknown,
        }
    }

    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Pending)
    }
}
