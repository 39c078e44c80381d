//! Image scan reports a build archives: Trivy's JSON (`trivy image -f json`, schema 2) and Grype's
//! JSON (`grype -o json`). Both become one [`ScanReport`].

use serde::Deserialize;

use crate::model::{Finding, ScanReport, Scanner, Severity};

/// Is this archived file a scan report? `configured` is the service's `scan_report` path when set.
pub fn is_report(relative_path: &str, configured: Option<&str>) -> bool {
    match configured {
        Some(p) => relative_path == p.trim_start_matches("./"),
        None => {
            let file = relative_path
                .rsplit('/')
                .next()
                .unwrap_or(relative_path)
                .to_ascii_lowercase();
            file.ends_with(".json") && (file.starts_with("trivy") || file.starts_with("grype"))
        }
    }
}

#[derive(Deserialize)]
struct TrivyReport {
    #[serde(rename = "SchemaVersion")]
    schema_version: Option<u32>,
    #[serde(rename = "Results", default)]
    results: Option<Vec<TrivyResult>>,
}

#[derive(Deserialize)]
struct TrivyResult {
    #[serde(rename = "Vulnerabilities", default)]
    vulnerabilities: Option<Vec<TrivyVulnerability>>,
}

#[derive(Deserialize)]
struct TrivyVulnerability {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(rename = "PkgName", default)]
    package: String,
    #[serde(rename = "InstalledVersion")]
    installed: Option<String>,
    #[serde(rename = "FixedVersion")]
    fixed: Option<String>,
    #[serde(rename = "Severity", default)]
    severity: String,
    #[serde(rename = "Title")]
    title: Option<String>,
    #[serde(rename = "PrimaryURL")]
    url: Option<String>,
}

#[derive(Deserialize)]
struct GrypeReport {
    matches: Vec<GrypeMatch>,
}

#[derive(Deserialize)]
struct GrypeMatch {
    vulnerability: GrypeVulnerability,
    artifact: GrypeArtifact,
}

#[derive(Deserialize)]
struct GrypeVulnerability {
    id: String,
    #[serde(default)]
    severity: String,
    #[serde(rename = "dataSource")]
    data_source: Option<String>,
    description: Option<String>,
    fix: Option<GrypeFix>,
}

#[derive(Deserialize)]
struct GrypeFix {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct GrypeArtifact {
    name: String,
    version: Option<String>,
}

/// Parse either format; anything else is an error naming what was expected.
pub fn parse(body: &[u8], url: &str) -> Result<ScanReport, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("matches").is_some() {
        let report: GrypeReport = serde_json::from_value(value).map_err(|e| format!("not a Grype report: {e}"))?;
        let findings = report
            .matches
            .into_iter()
            .map(|m| Finding {
                id: m.vulnerability.id,
                package: m.artifact.name,
                installed: m.artifact.version.filter(|v| !v.is_empty()),
                fixed: m.vulnerability.fix.and_then(|f| f.versions.into_iter().next()),
                severity: Severity::parse(&m.vulnerability.severity),
                title: m.vulnerability.description,
                url: m.vulnerability.data_source,
            })
            .collect();
        return Ok(ScanReport::from_findings(
            Scanner::Grype,
            dedupe(findings),
            Some(url.to_string()),
        ));
    }
    if value.get("SchemaVersion").is_some() || value.get("Results").is_some() {
        let report: TrivyReport = serde_json::from_value(value).map_err(|e| format!("not a Trivy report: {e}"))?;
        if report.schema_version.is_some_and(|v| v < 2) {
            return Err(format!(
                "Trivy schema {} is too old (use Trivy 0.20 or later)",
                report.schema_version.unwrap_or(0)
            ));
        }
        let findings = report
            .results
            .unwrap_or_default()
            .into_iter()
            .flat_map(|r| r.vulnerabilities.unwrap_or_default())
            .map(|v| Finding {
                id: v.id,
                package: v.package,
                installed: v.installed.filter(|s| !s.is_empty()),
                fixed: v.fixed.filter(|s| !s.is_empty()),
                severity: Severity::parse(&v.severity),
                title: v.title,
                url: v.url,
            })
            .collect();
        return Ok(ScanReport::from_findings(
            Scanner::Trivy,
            dedupe(findings),
            Some(url.to_string()),
        ));
    }
    Err("neither a Trivy (SchemaVersion, Results) nor a Grype (matches) JSON report".into())
}

/// The same vulnerability in the same package appears once per layer or target; count it once.
fn dedupe(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| (&a.id, &a.package, &a.installed).cmp(&(&b.id, &b.package, &b.installed)));
    findings.dedup_by(|a, b| a.id == b.id && a.package == b.package && a.installed == b.installed);
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_report_files() {
        assert!(is_report("reports/trivy-report.json", None));
        assert!(is_report("grype.json", None));
        assert!(!is_report("target/statistics.json", None));
        assert!(is_report("out/scan.json", Some("./out/scan.json")));
        assert!(!is_report("trivy.json", Some("out/scan.json")));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"<html>", "u").is_err());
        assert!(parse(b"{\"foo\":1}", "u").unwrap_err().contains("neither"));
        assert!(
            parse(
                b"{\"SchemaVersion\":2,\"Results\":[{\"Vulnerabilities\":[{\"x\":1}]}]}",
                "u"
            )
            .is_err()
        );
        assert!(parse(b"{\"SchemaVersion\":1}", "u").unwrap_err().contains("too old"));
    }
}
