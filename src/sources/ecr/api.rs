//! ECR payloads in their JSON shapes (the API's JSON 1.1 names, which the AWS CLI prints too).
//! The SDK's types are converted into these, so one mapping serves live answers and fixtures.
//! Every field optional: the API leaves out what it does not know.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// ECR timestamps: epoch seconds as a float on the wire; ISO 8601 in the CLI's default output.
fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(f64),
        Text(String),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => None,
        Some(Raw::Seconds(s)) => epoch_seconds(s),
        Some(Raw::Text(t)) => DateTime::parse_from_rfc3339(&t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .or_else(|| t.parse::<f64>().ok().and_then(epoch_seconds)),
    })
}

pub fn epoch_seconds(s: f64) -> Option<DateTime<Utc>> {
    if !s.is_finite() {
        return None;
    }
    let secs = s.floor();
    let nanos = ((s - secs) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
    DateTime::from_timestamp(secs as i64, nanos)
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageIdJson {
    #[serde(default)]
    pub image_digest: Option<String>,
    #[serde(default)]
    pub image_tag: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryJson {
    #[serde(default)]
    pub registry_id: Option<String>,
    #[serde(default)]
    pub repository_name: Option<String>,
    #[serde(default)]
    pub repository_arn: Option<String>,
    #[serde(default)]
    pub repository_uri: Option<String>,
    #[serde(default)]
    pub image_tag_mutability: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRepositoriesJson {
    #[serde(default)]
    pub repositories: Vec<RepositoryJson>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScanStatusJson {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FindingsSummaryJson {
    #[serde(default, deserialize_with = "timestamp")]
    pub image_scan_completed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "timestamp")]
    pub vulnerability_source_updated_at: Option<DateTime<Utc>>,
    /// `CRITICAL`, `HIGH`, … → count.
    #[serde(default)]
    pub finding_severity_counts: Option<BTreeMap<String, i64>>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageDetailJson {
    #[serde(default)]
    pub registry_id: Option<String>,
    #[serde(default)]
    pub repository_name: Option<String>,
    #[serde(default)]
    pub image_digest: Option<String>,
    #[serde(default)]
    pub image_tags: Vec<String>,
    #[serde(default)]
    pub image_size_in_bytes: Option<i64>,
    #[serde(default, deserialize_with = "timestamp")]
    pub image_pushed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub image_scan_status: Option<ScanStatusJson>,
    #[serde(default)]
    pub image_scan_findings_summary: Option<FindingsSummaryJson>,
    #[serde(default)]
    pub image_manifest_media_type: Option<String>,
    #[serde(default)]
    pub artifact_media_type: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DescribeImagesJson {
    #[serde(default)]
    pub image_details: Vec<ImageDetailJson>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
pub struct AttributeJson {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// A BASIC (Clair) finding.
#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BasicFindingJson {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub attributes: Vec<AttributeJson>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VulnerablePackageJson {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default)]
    pub fixed_in_version: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PackageVulnerabilityJson {
    #[serde(default)]
    pub vulnerability_id: Option<String>,
    #[serde(default)]
    pub vulnerable_packages: Vec<VulnerablePackageJson>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub reference_urls: Vec<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
pub struct RecommendationJson {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
pub struct RemediationJson {
    #[serde(default)]
    pub recommendation: Option<RecommendationJson>,
}

/// An ENHANCED (Amazon Inspector) finding.
#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EnhancedFindingJson {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub finding_arn: Option<String>,
    #[serde(default)]
    pub package_vulnerability_details: Option<PackageVulnerabilityJson>,
    #[serde(default)]
    pub remediation: Option<RemediationJson>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub fix_available: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageScanFindingsJson {
    #[serde(default, deserialize_with = "timestamp")]
    pub image_scan_completed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "timestamp")]
    pub vulnerability_source_updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finding_severity_counts: Option<BTreeMap<String, i64>>,
    #[serde(default)]
    pub findings: Vec<BasicFindingJson>,
    #[serde(default)]
    pub enhanced_findings: Vec<EnhancedFindingJson>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DescribeImageScanFindingsJson {
    #[serde(default)]
    pub registry_id: Option<String>,
    #[serde(default)]
    pub repository_name: Option<String>,
    #[serde(default)]
    pub image_id: Option<ImageIdJson>,
    #[serde(default)]
    pub image_scan_status: Option<ScanStatusJson>,
    #[serde(default)]
    pub image_scan_findings: Option<ImageScanFindingsJson>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageJson {
    #[serde(default)]
    pub registry_id: Option<String>,
    #[serde(default)]
    pub repository_name: Option<String>,
    #[serde(default)]
    pub image_id: Option<ImageIdJson>,
    /// The manifest exactly as pushed: a JSON document inside a string. Never re-serialise it.
    #[serde(default)]
    pub image_manifest: Option<String>,
    #[serde(default)]
    pub image_manifest_media_type: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageFailureJson {
    #[serde(default)]
    pub image_id: Option<ImageIdJson>,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetImageJson {
    #[serde(default)]
    pub images: Vec<ImageJson>,
    #[serde(default)]
    pub failures: Vec<ImageFailureJson>,
}

#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PutImageJson {
    #[serde(default)]
    pub image: Option<ImageJson>,
}
