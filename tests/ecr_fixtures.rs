//! Every real ECR body in `tests/fixtures/ecr` through the ECR source's JSON shapes and the same
//! mapping the live SDK answers go through.

use chrono::{TimeZone, Utc};
use flightdeck::model::{ScanState, Scanner, Severity};
use flightdeck::sources::ecr::api::{
    BatchGetImageJson, DescribeImageScanFindingsJson, DescribeImagesJson, DescribeRepositoriesJson, PutImageJson,
};
use flightdeck::sources::ecr::map;

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/ecr/{name}", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_parses() {
    let dir = format!("{}/tests/fixtures/ecr", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let body = std::fs::read_to_string(&path).unwrap();
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(v.is_object(), "{}", path.display());
            n += 1;
        }
    }
    assert_eq!(n, 5, "a fixture without a test?");
}

#[test]
fn describe_images_to_tags() {
    let page: DescribeImagesJson = fixture("ecr-describe-images.json");
    assert_eq!(page.next_token, None);
    assert_eq!(page.image_details.len(), 1);
    let d = &page.image_details[0];
    let tags = map::image_tags(d, None);
    assert_eq!(tags.len(), 1);
    let t = &tags[0];
    assert_eq!(t.tag, "v1.13.6");
    assert_eq!(
        t.digest,
        "sha256:4a1c6567c38904384ebc64e35b7eeddd8451110c299e3368d2210066487d97e5"
    );
    assert_eq!(t.size, Some(48318255));
    // "imagePushedAt": 1565128275.0
    assert_eq!(t.pushed_at, Some(Utc.timestamp_opt(1565128275, 0).unwrap()));
    // No imageManifestMediaType in this (older) answer: a docker v2 manifest.
    assert_eq!(t.media_type, map::DOCKER_MANIFEST);
    // No scan status and no summary: no report.
    assert_eq!(t.scan, None);
    assert_eq!(t.revision, None);
    assert!(t.platforms.is_empty());
}

#[test]
fn describe_repositories_reference() {
    let page: DescribeRepositoriesJson = fixture("ecr-describe-repositories.json");
    let names: Vec<_> = page
        .repositories
        .iter()
        .map(|r| r.repository_name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["ubuntu", "test"]);
    let r = &page.repositories[0];
    // This answer carries no repositoryUri: the reference is built from account and region.
    assert_eq!(r.repository_uri, None);
    let region = r.repository_arn.as_deref().unwrap().split(':').nth(3).unwrap();
    assert_eq!(
        map::repository_reference(r.registry_id.as_deref().unwrap(), region, "ubuntu"),
        "012345678910.dkr.ecr.us-west-2.amazonaws.com/ubuntu"
    );
}

#[test]
fn batch_get_image_manifest_kept_verbatim() {
    let page: BatchGetImageJson = fixture("ecr-batch-get-image.json");
    assert!(page.failures.is_empty());
    let image = &page.images[0];
    let manifest = image.image_manifest.as_deref().unwrap();
    // The manifest string is what PutImage gets back, byte for byte: whitespace included.
    assert!(manifest.starts_with("{\n   \"schemaVersion\": 2,"));
    assert_eq!(image.image_manifest_media_type, None);
    // No imageManifestMediaType: the manifest's own mediaType.
    assert_eq!(map::manifest_media_type(image).as_deref(), Some(map::DOCKER_MANIFEST));
    assert_eq!(image.image_id.as_ref().unwrap().image_tag.as_deref(), Some("v1.13.6"));
}

#[test]
fn put_image_answer() {
    let answer: PutImageJson = fixture("ecr-put-image.json");
    let image = answer.image.unwrap();
    let id = image.image_id.as_ref().unwrap();
    assert_eq!(id.image_tag.as_deref(), Some("2019.08"));
    assert_eq!(
        id.image_digest.as_deref(),
        Some("sha256:8ece96b74f87652876199d83bd107d0435a196133af383ac54cb82b6cc5283ae")
    );
    assert_eq!(map::manifest_media_type(&image).as_deref(), Some(map::DOCKER_MANIFEST));
}

#[test]
fn basic_scan_findings_to_report() {
    let page: DescribeImageScanFindingsJson = fixture("ecr-describe-image-scan-findings-basic.json");
    let report = map::scan_report(std::slice::from_ref(&page), Some("https://example/scan".into()));
    assert_eq!(report.scanner, Scanner::EcrBasic);
    assert_eq!(report.state, ScanState::Complete);
    assert_eq!(report.completed_at, Some(Utc.timestamp_opt(1579839105, 0).unwrap()));
    assert_eq!(report.counts.medium, 1);
    assert_eq!(report.counts.summary(), "1 medium");
    assert_eq!(report.url.as_deref(), Some("https://example/scan"));
    assert_eq!(report.findings.len(), 1);
    let f = &report.findings[0];
    assert_eq!(f.id, "CVE-2019-5188");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.package, "e2fsprogs");
    assert_eq!(f.installed.as_deref(), Some("1.44.1-1ubuntu1.1"));
    assert_eq!(f.fixed, None);
    assert_eq!(
        f.url.as_deref(),
        Some("http://people.ubuntu.com/~ubuntu-security/cve/CVE-2019-5188")
    );
    assert!(
        f.title
            .as_deref()
            .unwrap()
            .starts_with("A code execution vulnerability")
    );

    // The status alone, as DescribeImages would carry it, maps the same way.
    let status = page.image_scan_status.unwrap();
    assert_eq!(map::scan_state(&status), ScanState::Complete);
}
