//! Pure mapping of ECR answers to the model: image details to tags, scan statuses and findings to
//! one [`ScanReport`]. The SDK's types are first turned into the JSON shapes of [`super::api`], so
//! live answers and recorded bodies go through the same rules.

use std::collections::BTreeMap;

use aws_sdk_ecr::types as sdk;
use chrono::{DateTime, Utc};

use super::api::*;
use crate::model::{Finding, ImageTag, ScanReport, ScanState, Scanner, Severity, SeverityCounts, sort_findings};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Every manifest type a retag must accept, or ECR may hand back a converted manifest.
pub const ACCEPTED_MANIFEST_TYPES: [&str; 4] = [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX];

// ---- scan status and counts ----

/// `COMPLETE`/`ACTIVE` → complete, `IN_PROGRESS`/`PENDING` → in progress, anything else (FAILED,
/// UNSUPPORTED_IMAGE, SCAN_ELIGIBILITY_EXPIRED, FINDINGS_UNAVAILABLE…) → failed, in ECR's words.
pub fn scan_state(status: &ScanStatusJson) -> ScanState {
    let code = status.status.as_deref().unwrap_or("").trim().to_ascii_uppercase();
    match code.as_str() {
        "COMPLETE" | "ACTIVE" => ScanState::Complete,
        "IN_PROGRESS" | "PENDING" => ScanState::InProgress,
        _ => {
            let description = status.description.as_deref().map(str::trim).filter(|d| !d.is_empty());
            let words = match (code.is_empty(), description) {
                (true, Some(d)) => d.to_string(),
                (true, None) => "no scan status".to_string(),
                (false, Some(d)) => format!("{code}: {d}"),
                (false, None) => code.clone(),
            };
            ScanState::Failed(words)
        }
    }
}

/// The states only enhanced (Inspector) scanning reports.
pub fn scanner_of_status(status: Option<&ScanStatusJson>) -> Scanner {
    match status.and_then(|s| s.status.as_deref()) {
        Some("ACTIVE" | "PENDING" | "SCAN_ELIGIBILITY_EXPIRED" | "FINDINGS_UNAVAILABLE") => Scanner::EcrEnhanced,
        _ => Scanner::EcrBasic,
    }
}

/// `findingSeverityCounts` (`{"HIGH": 2, "MEDIUM": 1}`) as counts; unknown keys count as undefined.
pub fn counts(map: &BTreeMap<String, i64>) -> SeverityCounts {
    let mut c = SeverityCounts::default();
    for (k, n) in map {
        c.add(Severity::parse(k), (*n).clamp(0, u32::MAX as i64) as u32);
    }
    c
}

/// What `DescribeImages` says of a digest's scan: state and counts, no findings. `None` when the
/// image was never scanned.
pub fn summary_report(detail: &ImageDetailJson, url: Option<String>) -> Option<ScanReport> {
    let summary = detail.image_scan_findings_summary.as_ref();
    let status = detail.image_scan_status.as_ref();
    if summary.is_none() && status.is_none_or(|s| s.status.is_none()) {
        return None;
    }
    let state = match (status, summary) {
        (Some(s), _) if s.status.is_some() => scan_state(s),
        // A summary without a status: the scan finished.
        _ => ScanState::Complete,
    };
    Some(ScanReport {
        scanner: scanner_of_status(status),
        state,
        completed_at: summary.and_then(|s| s.image_scan_completed_at),
        counts: summary
            .and_then(|s| s.finding_severity_counts.as_ref())
            .map(counts)
            .unwrap_or_default(),
        findings: Vec::new(),
        url,
    })
}

// ---- findings ----

fn attribute<'a>(attrs: &'a [AttributeJson], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_deref())
        .filter(|v| !v.is_empty())
}

fn non_empty(s: Option<&String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A BASIC finding: the CVE, the package from the `package_name` / `package_version` attributes.
pub fn basic_finding(f: &BasicFindingJson) -> Finding {
    Finding {
        id: non_empty(f.name.as_ref()).unwrap_or_else(|| "unnamed finding".into()),
        package: attribute(&f.attributes, "package_name").unwrap_or_default().to_string(),
        installed: attribute(&f.attributes, "package_version").map(str::to_string),
        fixed: None,
        severity: Severity::parse(f.severity.as_deref().unwrap_or("")),
        title: non_empty(f.description.as_ref()),
        url: non_empty(f.uri.as_ref()),
    }
}

/// An ENHANCED finding: one [`Finding`] per vulnerable package (one without a package when it
/// names none).
pub fn enhanced_findings(f: &EnhancedFindingJson) -> Vec<Finding> {
    let details = f.package_vulnerability_details.as_ref();
    let id = details
        .and_then(|d| non_empty(d.vulnerability_id.as_ref()))
        .or_else(|| non_empty(f.title.as_ref()))
        .unwrap_or_else(|| "unnamed finding".into());
    let severity = Severity::parse(f.severity.as_deref().unwrap_or(""));
    let title = non_empty(f.title.as_ref()).or_else(|| non_empty(f.description.as_ref()));
    let url = details
        .and_then(|d| non_empty(d.source_url.as_ref()).or_else(|| d.reference_urls.first().cloned()))
        .or_else(|| {
            f.remediation
                .as_ref()
                .and_then(|r| r.recommendation.as_ref())
                .and_then(|r| non_empty(r.url.as_ref()))
        });
    let packages: &[VulnerablePackageJson] = details.map(|d| d.vulnerable_packages.as_slice()).unwrap_or(&[]);
    let finding = |p: Option<&VulnerablePackageJson>| Finding {
        id: id.clone(),
        package: p.and_then(|p| non_empty(p.name.as_ref())).unwrap_or_default(),
        installed: p.and_then(|p| {
            let v = non_empty(p.version.as_ref())?;
            Some(match non_empty(p.release.as_ref()) {
                Some(r) => format!("{v}-{r}"),
                None => v,
            })
        }),
        fixed: p
            .and_then(|p| non_empty(p.fixed_in_version.as_ref()))
            .filter(|v| v != "NotAvailable"),
        severity,
        title: title.clone(),
        url: url.clone(),
    };
    if packages.is_empty() {
        vec![finding(None)]
    } else {
        packages.iter().map(|p| finding(Some(p))).collect()
    }
}

/// The pages of one `DescribeImageScanFindings` as a report. The counts are ECR's own when it
/// gives them (they may count more than the findings read), else counted.
pub fn scan_report(pages: &[DescribeImageScanFindingsJson], url: Option<String>) -> ScanReport {
    let status = pages.iter().find_map(|p| p.image_scan_status.as_ref());
    let mut findings = Vec::new();
    let mut enhanced = false;
    let mut given_counts = None;
    let mut completed_at = None;
    for page in pages {
        let Some(f) = &page.image_scan_findings else {
            continue;
        };
        findings.extend(f.findings.iter().map(basic_finding));
        enhanced |= !f.enhanced_findings.is_empty();
        findings.extend(f.enhanced_findings.iter().flat_map(enhanced_findings));
        given_counts = given_counts.or(f.finding_severity_counts.as_ref());
        completed_at = completed_at.or(f.image_scan_completed_at);
    }
    sort_findings(&mut findings);
    let scanner = if enhanced {
        Scanner::EcrEnhanced
    } else {
        scanner_of_status(status)
    };
    ScanReport {
        scanner,
        state: status.map(scan_state).unwrap_or(ScanState::Complete),
        completed_at,
        counts: given_counts
            .map(counts)
            .unwrap_or_else(|| SeverityCounts::of(&findings)),
        findings,
        url,
    }
}

// ---- images ----

/// Newest push first; unknown push times last; then by digest so the order is stable.
pub fn sort_newest_first(details: &mut [ImageDetailJson]) {
    details.sort_by(|a, b| {
        b.image_pushed_at
            .cmp(&a.image_pushed_at)
            .then_with(|| a.image_digest.cmp(&b.image_digest))
    });
}

/// One [`ImageTag`] per tag of an image; none for an untagged image or one without a digest.
pub fn image_tags(detail: &ImageDetailJson, scan_url: Option<String>) -> Vec<ImageTag> {
    let Some(digest) = detail.image_digest.as_ref().filter(|d| !d.is_empty()) else {
        return Vec::new();
    };
    let scan = summary_report(detail, scan_url);
    detail
        .image_tags
        .iter()
        .filter(|t| !t.is_empty())
        .map(|tag| ImageTag {
            tag: tag.clone(),
            digest: digest.clone(),
            media_type: detail
                .image_manifest_media_type
                .clone()
                .unwrap_or_else(|| DOCKER_MANIFEST.to_string()),
            pushed_at: detail.image_pushed_at,
            size: detail.image_size_in_bytes.and_then(|s| u64::try_from(s).ok()),
            platforms: Vec::new(),
            revision: None,
            version: None,
            base_name: None,
            base_digest: None,
            scan: scan.clone(),
        })
        .collect()
}

/// The media type of a fetched manifest: ECR's word, else the manifest's own `mediaType`.
pub fn manifest_media_type(image: &ImageJson) -> Option<String> {
    if let Some(t) = image.image_manifest_media_type.as_ref().filter(|t| !t.is_empty()) {
        return Some(t.clone());
    }
    let manifest: serde_json::Value = serde_json::from_str(image.image_manifest.as_deref()?).ok()?;
    manifest.get("mediaType")?.as_str().map(str::to_string)
}

/// `<registryId>.dkr.ecr.<region>.amazonaws.com/<repository>`: how one pulls a repository when
/// `DescribeRepositories` did not say.
pub fn repository_reference(registry_id: &str, region: &str, repository: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("{registry_id}.dkr.ecr.{region}.{domain}/{repository}")
}

/// The console page of an image's scan (AWS partition only).
pub fn console_url(region: &str, registry_id: &str, repository: &str, digest: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/ecr/repositories/private/{registry_id}/{repository}/_/image/{digest}/details?region={region}"
    )
}

// ---- from the SDK's types ----

pub fn time(t: &aws_sdk_ecr::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn severity_counts(m: &std::collections::HashMap<sdk::FindingSeverity, i32>) -> BTreeMap<String, i64> {
    m.iter().map(|(k, v)| (k.as_str().to_string(), i64::from(*v))).collect()
}

pub fn scan_status(s: &sdk::ImageScanStatus) -> ScanStatusJson {
    ScanStatusJson {
        status: s.status.as_ref().map(|s| s.as_str().to_string()),
        description: s.description.clone(),
    }
}

pub fn image_id(i: &sdk::ImageIdentifier) -> ImageIdJson {
    ImageIdJson {
        image_digest: i.image_digest.clone(),
        image_tag: i.image_tag.clone(),
    }
}

pub fn image_detail(d: &sdk::ImageDetail) -> ImageDetailJson {
    ImageDetailJson {
        registry_id: d.registry_id.clone(),
        repository_name: d.repository_name.clone(),
        image_digest: d.image_digest.clone(),
        image_tags: d.image_tags.clone().unwrap_or_default(),
        image_size_in_bytes: d.image_size_in_bytes,
        image_pushed_at: d.image_pushed_at.as_ref().and_then(time),
        image_scan_status: d.image_scan_status.as_ref().map(scan_status),
        image_scan_findings_summary: d.image_scan_findings_summary.as_ref().map(|s| FindingsSummaryJson {
            image_scan_completed_at: s.image_scan_completed_at.as_ref().and_then(time),
            vulnerability_source_updated_at: s.vulnerability_source_updated_at.as_ref().and_then(time),
            finding_severity_counts: s.finding_severity_counts.as_ref().map(severity_counts),
        }),
        image_manifest_media_type: d.image_manifest_media_type.clone(),
        artifact_media_type: d.artifact_media_type.clone(),
    }
}

pub fn repository(r: &sdk::Repository) -> RepositoryJson {
    RepositoryJson {
        registry_id: r.registry_id.clone(),
        repository_name: r.repository_name.clone(),
        repository_arn: r.repository_arn.clone(),
        repository_uri: r.repository_uri.clone(),
        image_tag_mutability: r.image_tag_mutability.as_ref().map(|m| m.as_str().to_string()),
    }
}

pub fn image(i: &sdk::Image) -> ImageJson {
    ImageJson {
        registry_id: i.registry_id.clone(),
        repository_name: i.repository_name.clone(),
        image_id: i.image_id.as_ref().map(image_id),
        image_manifest: i.image_manifest.clone(),
        image_manifest_media_type: i.image_manifest_media_type.clone(),
    }
}

pub fn image_failure(f: &sdk::ImageFailure) -> ImageFailureJson {
    ImageFailureJson {
        image_id: f.image_id.as_ref().map(image_id),
        failure_code: f.failure_code.as_ref().map(|c| c.as_str().to_string()),
        failure_reason: f.failure_reason.clone(),
    }
}

fn basic(f: &sdk::ImageScanFinding) -> BasicFindingJson {
    BasicFindingJson {
        name: f.name.clone(),
        description: f.description.clone(),
        uri: f.uri.clone(),
        severity: f.severity.as_ref().map(|s| s.as_str().to_string()),
        attributes: f
            .attributes
            .iter()
            .flatten()
            .map(|a| AttributeJson {
                key: a.key.clone(),
                value: a.value.clone(),
            })
            .collect(),
    }
}

fn enhanced(f: &sdk::EnhancedImageScanFinding) -> EnhancedFindingJson {
    EnhancedFindingJson {
        description: f.description.clone(),
        finding_arn: f.finding_arn.clone(),
        package_vulnerability_details: f
            .package_vulnerability_details
            .as_ref()
            .map(|d| PackageVulnerabilityJson {
                vulnerability_id: d.vulnerability_id.clone(),
                vulnerable_packages: d
                    .vulnerable_packages
                    .iter()
                    .flatten()
                    .map(|p| VulnerablePackageJson {
                        name: p.name.clone(),
                        version: p.version.clone(),
                        release: p.release.clone(),
                        fixed_in_version: p.fixed_in_version.clone(),
                    })
                    .collect(),
                source: d.source.clone(),
                source_url: d.source_url.clone(),
                reference_urls: d.reference_urls.clone().unwrap_or_default(),
            }),
        remediation: f.remediation.as_ref().map(|r| RemediationJson {
            recommendation: r.recommendation.as_ref().map(|r| RecommendationJson {
                url: r.url.clone(),
                text: r.text.clone(),
            }),
        }),
        severity: f.severity.clone(),
        status: f.status.clone(),
        title: f.title.clone(),
        fix_available: f.fix_available.clone(),
    }
}

pub fn scan_findings_page(
    o: &aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput,
) -> DescribeImageScanFindingsJson {
    DescribeImageScanFindingsJson {
        registry_id: o.registry_id.clone(),
        repository_name: o.repository_name.clone(),
        image_id: o.image_id.as_ref().map(image_id),
        image_scan_status: o.image_scan_status.as_ref().map(scan_status),
        image_scan_findings: o.image_scan_findings.as_ref().map(|f| ImageScanFindingsJson {
            image_scan_completed_at: f.image_scan_completed_at.as_ref().and_then(time),
            vulnerability_source_updated_at: f.vulnerability_source_updated_at.as_ref().and_then(time),
            finding_severity_counts: f.finding_severity_counts.as_ref().map(severity_counts),
            findings: f.findings.iter().flatten().map(basic).collect(),
            enhanced_findings: f.enhanced_findings.iter().flatten().map(enhanced).collect(),
        }),
        next_token: o.next_token.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: &str, d: Option<&str>) -> ScanStatusJson {
        ScanStatusJson {
            status: Some(s.into()),
            description: d.map(str::to_string),
        }
    }

    #[test]
    fn scan_states() {
        assert_eq!(scan_state(&status("COMPLETE", None)), ScanState::Complete);
        assert_eq!(scan_state(&status("ACTIVE", None)), ScanState::Complete);
        assert_eq!(scan_state(&status("IN_PROGRESS", None)), ScanState::InProgress);
        assert_eq!(scan_state(&status("PENDING", None)), ScanState::InProgress);
        assert_eq!(
            scan_state(&status(
                "UNSUPPORTED_IMAGE",
                Some("The operating system is not supported.")
            )),
            ScanState::Failed("UNSUPPORTED_IMAGE: The operating system is not supported.".into())
        );
        assert_eq!(scan_state(&status("FAILED", None)), ScanState::Failed("FAILED".into()));
        assert_eq!(scanner_of_status(Some(&status("ACTIVE", None))), Scanner::EcrEnhanced);
        assert_eq!(scanner_of_status(Some(&status("COMPLETE", None))), Scanner::EcrBasic);
    }

    #[test]
    fn counts_by_ecr_spelling() {
        let m: BTreeMap<String, i64> = [("CRITICAL", 2), ("HIGH", 1), ("INFORMATIONAL", 4), ("UNTRIAGED", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let c = counts(&m);
        assert_eq!((c.critical, c.high, c.informational, c.undefined), (2, 1, 4, 3));
    }

    #[test]
    fn enhanced_finding_one_per_package() {
        let f = EnhancedFindingJson {
            title: Some("CVE-2024-1 - openssl, libssl".into()),
            severity: Some("CRITICAL".into()),
            package_vulnerability_details: Some(PackageVulnerabilityJson {
                vulnerability_id: Some("CVE-2024-1".into()),
                vulnerable_packages: vec![
                    VulnerablePackageJson {
                        name: Some("openssl".into()),
                        version: Some("3.0.2".into()),
                        release: Some("0ubuntu1.10".into()),
                        fixed_in_version: Some("3.0.2-0ubuntu1.12".into()),
                    },
                    VulnerablePackageJson {
                        name: Some("libssl".into()),
                        version: Some("3.0.2".into()),
                        release: None,
                        fixed_in_version: Some("NotAvailable".into()),
                    },
                ],
                source_url: Some("https://ubuntu.com/security/CVE-2024-1".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let fs = enhanced_findings(&f);
        assert_eq!(fs.len(), 2);
        assert_eq!(fs[0].id, "CVE-2024-1");
        assert_eq!(fs[0].installed.as_deref(), Some("3.0.2-0ubuntu1.10"));
        assert_eq!(fs[0].fixed.as_deref(), Some("3.0.2-0ubuntu1.12"));
        assert_eq!(fs[1].fixed, None);
        assert_eq!(fs[1].severity, Severity::Critical);
        let report = scan_report(
            &[DescribeImageScanFindingsJson {
                image_scan_status: Some(status("ACTIVE", None)),
                image_scan_findings: Some(ImageScanFindingsJson {
                    enhanced_findings: vec![f],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            None,
        );
        assert_eq!(report.scanner, Scanner::EcrEnhanced);
        assert_eq!(report.state, ScanState::Complete);
        // No counts from ECR: counted, one per package.
        assert_eq!(report.counts.critical, 2);
        assert_eq!(report.findings[0].package, "libssl");
    }

    #[test]
    fn summary_without_status_or_scan() {
        let mut d = ImageDetailJson {
            image_digest: Some("sha256:1".into()),
            image_tags: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        assert!(image_tags(&d, None).iter().all(|t| t.scan.is_none()));
        d.image_scan_findings_summary = Some(FindingsSummaryJson {
            finding_severity_counts: Some([("HIGH".to_string(), 1)].into_iter().collect()),
            ..Default::default()
        });
        let tags = image_tags(&d, None);
        assert_eq!(tags.len(), 2);
        let scan = tags[1].scan.as_ref().unwrap();
        assert_eq!((scan.state.clone(), scan.counts.high), (ScanState::Complete, 1));
        d.image_tags.clear();
        assert!(image_tags(&d, None).is_empty());
    }

    #[test]
    fn references() {
        assert_eq!(
            repository_reference("123456789012", "eu-west-1", "shop/app"),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/app"
        );
        assert_eq!(
            repository_reference("1", "cn-north-1", "a"),
            "1.dkr.ecr.cn-north-1.amazonaws.com.cn/a"
        );
    }
}
