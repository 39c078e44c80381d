//! Vulnerability scans of an image, whichever scanner made them (ECR basic or enhanced, Trivy,
//! Grype), in one shape: findings counted by severity, and the list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    Undefined,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
        Severity::Undefined,
    ];

    /// The scanners' spellings: ECR (`INFORMATIONAL`, `UNDEFINED`), Trivy (`UNKNOWN`), Grype
    /// (`Negligible`, `Unknown`), any case.
    pub fn parse(s: &str) -> Severity {
        match s.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Severity::Critical,
            "HIGH" | "IMPORTANT" => Severity::High,
            "MEDIUM" | "MODERATE" => Severity::Medium,
            "LOW" => Severity::Low,
            "INFORMATIONAL" | "NEGLIGIBLE" | "INFO" => Severity::Informational,
            _ => Severity::Undefined,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Informational => "INFO",
            Severity::Undefined => "UNKNOWN",
        }
    }
}

/// Where a report came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scanner {
    EcrBasic,
    EcrEnhanced,
    Trivy,
    Grype,
}

impl Scanner {
    pub fn label(self) -> &'static str {
        match self {
            Scanner::EcrBasic => "ECR basic scan",
            Scanner::EcrEnhanced => "ECR enhanced scan",
            Scanner::Trivy => "Trivy",
            Scanner::Grype => "Grype",
        }
    }
}

/// Whether the scan has an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum ScanState {
    Complete,
    InProgress,
    /// The scanner failed or cannot scan this image; its words.
    Failed(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// `CVE-2024-1234`, `GHSA-…`.
    pub id: String,
    pub package: String,
    pub installed: Option<String>,
    /// `None`: no fixed version published.
    pub fixed: Option<String>,
    pub severity: Severity,
    pub title: Option<String>,
    pub url: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub informational: u32,
    pub undefined: u32,
}

impl SeverityCounts {
    pub fn get(&self, s: Severity) -> u32 {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Informational => self.informational,
            Severity::Undefined => self.undefined,
        }
    }

    pub fn add(&mut self, s: Severity, n: u32) {
        let slot = match s {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Informational => &mut self.informational,
            Severity::Undefined => &mut self.undefined,
        };
        *slot = slot.saturating_add(n);
    }

    pub fn of(findings: &[Finding]) -> SeverityCounts {
        let mut c = SeverityCounts::default();
        for f in findings {
            c.add(f.severity, 1);
        }
        c
    }

    /// `2 critical · 1 high · 7 medium`, leaving out zeros; `none` when clean.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = Severity::ALL
            .iter()
            .filter(|s| self.get(**s) > 0)
            .map(|s| format!("{} {}", self.get(*s), s.label().to_ascii_lowercase()))
            .collect();
        if parts.is_empty() {
            "no findings".into()
        } else {
            parts.join(" · ")
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    pub scanner: Scanner,
    pub state: ScanState,
    pub completed_at: Option<DateTime<Utc>>,
    /// As the scanner counted them (ECR's summary may count more than the page of findings read).
    pub counts: SeverityCounts,
    /// Most severe first.
    pub findings: Vec<Finding>,
    /// Where to read the whole report (the archived artifact, the console).
    pub url: Option<String>,
}

impl ScanReport {
    /// A complete report from findings alone (Trivy, Grype).
    pub fn from_findings(scanner: Scanner, mut findings: Vec<Finding>, url: Option<String>) -> ScanReport {
        sort_findings(&mut findings);
        ScanReport {
            scanner,
            state: ScanState::Complete,
            completed_at: None,
            counts: SeverityCounts::of(&findings),
            findings,
            url,
        }
    }
}

/// Most severe first, then by package and id, so lists are stable between polls.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| (a.severity, &a.package, &a.id).cmp(&(b.severity, &b.package, &b.id)));
}
