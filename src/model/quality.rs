//! What SonarQube says about a project: its quality gate, the measures the shop's policy reads,
//! and the recent analyses (each with the commit it analysed) for the chain and the sparkline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The measures the cockpit reads; `None` where the server has no value (e.g. no coverage
/// report imported), which the policy treats as unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    pub bugs: Option<f64>,
    pub vulnerabilities: Option<f64>,
    pub security_hotspots: Option<f64>,
    pub code_smells: Option<f64>,
    pub coverage: Option<f64>,
    pub new_coverage: Option<f64>,
    pub duplicated_lines_density: Option<f64>,
    pub new_duplicated_lines_density: Option<f64>,
}

impl Measures {
    /// Metric keys in the order the API is asked for them.
    pub const KEYS: [&'static str; 8] = [
        "bugs",
        "vulnerabilities",
        "security_hotspots",
        "code_smells",
        "coverage",
        "new_coverage",
        "duplicated_lines_density",
        "new_duplicated_lines_density",
    ];

    pub fn set(&mut self, metric: &str, value: f64) {
        let slot = match metric {
            "bugs" => &mut self.bugs,
            "vulnerabilities" => &mut self.vulnerabilities,
            "security_hotspots" => &mut self.security_hotspots,
            "code_smells" => &mut self.code_smells,
            "coverage" => &mut self.coverage,
            "new_coverage" => &mut self.new_coverage,
            "duplicated_lines_density" => &mut self.duplicated_lines_density,
            "new_duplicated_lines_density" => &mut self.new_duplicated_lines_density,
            _ => return,
        };
        *slot = Some(value);
    }

    pub fn get(&self, metric: &str) -> Option<f64> {
        match metric {
            "bugs" => self.bugs,
            "vulnerabilities" => self.vulnerabilities,
            "security_hotspots" => self.security_hotspots,
            "code_smells" => self.code_smells,
            "coverage" => self.coverage,
            "new_coverage" => self.new_coverage,
            "duplicated_lines_density" => self.duplicated_lines_density,
            "new_duplicated_lines_density" => self.new_duplicated_lines_density,
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    Ok,
    Warn,
    Error,
    /// No gate is associated with the project.
    None,
    Unknown,
}

impl GateStatus {
    pub fn parse(s: &str) -> GateStatus {
        match s {
            "OK" => GateStatus::Ok,
            "WARN" => GateStatus::Warn,
            "ERROR" => GateStatus::Error,
            "NONE" => GateStatus::None,
            _ => GateStatus::Unknown,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GateStatus::Ok => "passed",
            GateStatus::Warn => "warning",
            GateStatus::Error => "failed",
            GateStatus::None => "no gate",
            GateStatus::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateCondition {
    pub metric: String,
    /// `GT` or `LT`: the condition fails when actual is greater (less) than the threshold.
    pub comparator: String,
    pub threshold: Option<String>,
    pub actual: Option<String>,
    pub status: GateStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub status: GateStatus,
    pub conditions: Vec<GateCondition>,
}

/// One analysis of the project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub key: String,
    pub date: DateTime<Utc>,
    /// The commit analysed, where the server gives it.
    pub revision: Option<String>,
    pub version: Option<String>,
    /// The gate of exactly this analysis, once read.
    pub gate: Option<Gate>,
    /// Measures at this analysis (from the measure history).
    pub measures: Measures,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityState {
    pub project_key: String,
    pub branch: Option<String>,
    pub dashboard_url: String,
    /// The gate of the newest analysis.
    pub gate: Option<Gate>,
    /// Measures of the newest analysis (new_* from the leak period).
    pub measures: Measures,
    /// Newest first.
    pub analyses: Vec<Analysis>,
    pub observed_at: DateTime<Utc>,
}

impl QualityState {
    /// The analysis of `sha`, with the newest analysis' richer measures and gate when it is that one.
    pub fn analysis_of(&self, sha: &str) -> Option<(Analysis, bool)> {
        let idx = self
            .analyses
            .iter()
            .position(|a| a.revision.as_deref().is_some_and(|r| same_commit(r, sha)))?;
        let mut a = self.analyses[idx].clone();
        let newest = idx == 0;
        if newest {
            a.measures = self.measures;
            if self.gate.is_some() {
                a.gate = self.gate.clone();
            }
        }
        Some((a, newest))
    }

    /// Values of one metric over the analyses, oldest first (for sparklines).
    pub fn history(&self, metric: &str) -> Vec<f64> {
        self.analyses
            .iter()
            .rev()
            .filter_map(|a| a.measures.get(metric))
            .collect()
    }
}

/// Full and abbreviated SHAs name the same commit when one is a prefix of the other (≥ 7 chars).
pub fn same_commit(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().as_bytes(), b.trim().as_bytes());
    let n = a.len().min(b.len());
    n >= 7 && a[..n].eq_ignore_ascii_case(&b[..n])
}
