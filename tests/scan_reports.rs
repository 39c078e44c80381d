//! The Trivy and Grype reports a build archives, parsed from the scanners' own output, and judged
//! by the shop's scan policy.

use flightdeck::model::policy::{evaluate_scan, overall};
use flightdeck::model::{LinkStatus, ScanPolicy, Scanner, Severity};
use flightdeck::sources::jenkins::scan_report;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/scan/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn trivy_schema_2_report() {
    let r = scan_report::parse(
        &fixture("trivy-alpine-39-high-critical.json"),
        "http://j/artifact/trivy.json",
    )
    .unwrap();
    assert_eq!(r.scanner, Scanner::Trivy);
    // One CVE, found in two packages: two findings.
    assert_eq!(r.findings.len(), 2);
    assert_eq!(r.counts.critical, 2);
    let f = &r.findings[0];
    assert_eq!(f.id, "CVE-2019-14697");
    assert_eq!(f.package, "musl");
    assert_eq!(f.installed.as_deref(), Some("1.1.20-r4"));
    assert_eq!(f.fixed.as_deref(), Some("1.1.20-r5"));
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.url.as_deref(), Some("https://avd.aquasec.com/nvd/cve-2019-14697"));
    assert_eq!(r.url.as_deref(), Some("http://j/artifact/trivy.json"));
    let checks = evaluate_scan(&ScanPolicy::default(), Some(&r.counts));
    assert_eq!(overall(&checks), LinkStatus::Fail);
    assert_eq!(checks[0].sentence(), "critical findings 2 > 0");
}

#[test]
fn grype_report() {
    let r = scan_report::parse(&fixture("grype-json-imgs-presenter.json"), "u").unwrap();
    assert_eq!(r.scanner, Scanner::Grype);
    assert_eq!(r.findings.len(), 2);
    // Most severe first.
    assert_eq!(r.findings[0].id, "CVE-1999-0002");
    assert_eq!(r.findings[0].severity, Severity::Critical);
    assert_eq!(r.findings[0].fixed, None, "no fix published");
    assert_eq!(r.findings[1].package, "package-1");
    assert_eq!(r.findings[1].installed.as_deref(), Some("1.1.1"));
    assert_eq!(r.findings[1].fixed.as_deref(), Some("1.2.1"));
    assert_eq!((r.counts.critical, r.counts.low), (1, 1));
    assert_eq!(r.counts.summary(), "1 critical · 1 low");
}

#[test]
fn a_policy_that_allows_highs_still_refuses_criticals() {
    let r = scan_report::parse(&fixture("grype-json-imgs-presenter.json"), "u").unwrap();
    let lenient = ScanPolicy {
        critical_max: 0,
        high_max: 5,
        medium_max: Some(10),
    };
    let checks = evaluate_scan(&lenient, Some(&r.counts));
    assert_eq!(checks.len(), 3);
    assert_eq!(overall(&checks), LinkStatus::Fail);
    assert_eq!(
        overall(&evaluate_scan(&lenient, None)),
        LinkStatus::Unknown,
        "no report is never a pass"
    );
}
