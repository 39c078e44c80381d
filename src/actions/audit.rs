//! The audit file: one JSON line per action, appended, never rewritten. Who, what, where, the plan,
//! and how it ended.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub time: DateTime<Utc>,
    pub user: String,
    pub action: String,
    pub service: String,
    pub environment: Option<String>,
    pub target: String,
    pub plan: Vec<String>,
    /// `ok`, `failed` or `refused`.
    pub result: String,
    pub detail: String,
}

#[derive(Clone, Debug)]
pub struct AuditLog {
    path: Option<PathBuf>,
}

impl AuditLog {
    pub fn new(path: Option<PathBuf>) -> Self {
        AuditLog { path }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Append one record. An audit that cannot be written is an error the caller must show.
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        // One write call per line, so concurrent cockpits never interleave a record.
        f.write_all(line.as_bytes())?;
        f.flush()
    }
}

/// The operating-system user running the cockpit.
pub fn os_user() -> String {
    static USER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    USER.get_or_init(|| {
        for var in ["USER", "LOGNAME", "USERNAME"] {
            if let Ok(v) = std::env::var(var)
                && !v.is_empty()
            {
                return v;
            }
        }
        // No login variables (a service, a bare container): ask the system.
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "unknown".into())
    })
    .clone()
}
