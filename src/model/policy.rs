//! The shop's own gates, evaluated by Flightdeck beside SonarQube's: the quality policy
//! (bugs, vulnerabilities, duplication, coverage on new code) and the load-test thresholds.
//! Pure functions; a value the server did not give is unknown, never a pass.

use serde::{Deserialize, Serialize};

use super::{LinkStatus, Measures};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityPolicy {
    pub bugs_max: f64,
    pub vulnerabilities_max: f64,
    /// Percent.
    pub duplicated_lines_max: f64,
    /// Percent.
    pub new_coverage_min: f64,
}

impl Default for QualityPolicy {
    fn default() -> Self {
        QualityPolicy {
            bugs_max: 0.0,
            vulnerabilities_max: 0.0,
            duplicated_lines_max: 5.0,
            new_coverage_min: 90.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadPolicy {
    pub p95_ms_max: f64,
    /// Percent of requests.
    pub error_rate_max: f64,
}

impl Default for LoadPolicy {
    fn default() -> Self {
        LoadPolicy {
            p95_ms_max: 800.0,
            error_rate_max: 1.0,
        }
    }
}

/// The shop's scan policy: how many findings of each severity an image may carry. Medium and
/// below are unlimited unless set. The default is the shop's: 0 critical, 0 high.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanPolicy {
    pub critical_max: u32,
    pub high_max: u32,
    pub medium_max: Option<u32>,
}

/// How a threshold compares: the actual value must be at most, or at least, the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    AtMost,
    AtLeast,
}

impl Bound {
    pub fn symbol(self) -> &'static str {
        match self {
            Bound::AtMost => "≤",
            Bound::AtLeast => "≥",
        }
    }

    fn holds(self, actual: f64, threshold: f64) -> bool {
        match self {
            Bound::AtMost => actual <= threshold,
            Bound::AtLeast => actual >= threshold,
        }
    }
}

/// One threshold against its actual value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub label: String,
    pub bound: Bound,
    pub threshold: f64,
    pub actual: Option<f64>,
    pub unit: String,
    pub status: LinkStatus,
}

impl Check {
    pub fn new(label: &str, bound: Bound, threshold: f64, actual: Option<f64>, unit: &str) -> Check {
        let status = match actual {
            Some(a) if a.is_finite() && bound.holds(a, threshold) => LinkStatus::Pass,
            Some(a) if a.is_finite() => LinkStatus::Fail,
            _ => LinkStatus::Unknown,
        };
        Check {
            label: label.to_string(),
            bound,
            threshold,
            actual,
            unit: unit.to_string(),
            status,
        }
    }

    /// `new coverage 84.2 % < 90 %` for a failure, `bugs 0 ≤ 0` for a pass.
    pub fn sentence(&self) -> String {
        let t = number(self.threshold, &self.unit);
        match (self.actual, self.status) {
            (Some(a), LinkStatus::Fail) => {
                let op = match self.bound {
                    Bound::AtMost => ">",
                    Bound::AtLeast => "<",
                };
                format!("{} {} {op} {t}", self.label, number(a, &self.unit))
            }
            (Some(a), _) => format!("{} {} {} {t}", self.label, number(a, &self.unit), self.bound.symbol()),
            (None, _) => format!("{}: no value (needs {} {t})", self.label, self.bound.symbol()),
        }
    }
}

/// `84.2 %`, `3`, `1240 ms`: integers without decimals, the rest with one.
pub fn number(v: f64, unit: &str) -> String {
    let n = if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.1}")
    };
    match unit {
        "" => n,
        "%" => format!("{n} %"),
        u => format!("{n} {u}"),
    }
}

/// Every check passes → pass; any fails → fail; otherwise (something unknown) → unknown.
pub fn overall(checks: &[Check]) -> LinkStatus {
    if checks.iter().any(|c| c.status == LinkStatus::Fail) {
        LinkStatus::Fail
    } else if checks.iter().all(|c| c.status == LinkStatus::Pass) && !checks.is_empty() {
        LinkStatus::Pass
    } else {
        LinkStatus::Unknown
    }
}

pub fn evaluate_quality(policy: &QualityPolicy, m: &Measures) -> Vec<Check> {
    vec![
        Check::new("bugs", Bound::AtMost, policy.bugs_max, m.bugs, ""),
        Check::new(
            "vulnerabilities",
            Bound::AtMost,
            policy.vulnerabilities_max,
            m.vulnerabilities,
            "",
        ),
        Check::new(
            "duplicated lines",
            Bound::AtMost,
            policy.duplicated_lines_max,
            m.duplicated_lines_density,
            "%",
        ),
        Check::new(
            "new coverage",
            Bound::AtLeast,
            policy.new_coverage_min,
            m.new_coverage,
            "%",
        ),
    ]
}

pub fn evaluate_load(policy: &LoadPolicy, p95_ms: Option<f64>, error_rate: Option<f64>) -> Vec<Check> {
    vec![
        Check::new("p95 latency", Bound::AtMost, policy.p95_ms_max, p95_ms, "ms"),
        Check::new("error rate", Bound::AtMost, policy.error_rate_max, error_rate, "%"),
    ]
}

pub fn evaluate_scan(policy: &ScanPolicy, counts: Option<&super::SeverityCounts>) -> Vec<Check> {
    let value = |f: fn(&super::SeverityCounts) -> u32| counts.map(|c| f(c) as f64);
    let mut checks = vec![
        Check::new(
            "critical findings",
            Bound::AtMost,
            policy.critical_max as f64,
            value(|c| c.critical),
            "",
        ),
        Check::new(
            "high findings",
            Bound::AtMost,
            policy.high_max as f64,
            value(|c| c.high),
            "",
        ),
    ];
    if let Some(m) = policy.medium_max {
        checks.push(Check::new(
            "medium findings",
            Bound::AtMost,
            m as f64,
            value(|c| c.medium),
            "",
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measures(bugs: f64, vulns: f64, dup: f64, new_cov: f64) -> Measures {
        Measures {
            bugs: Some(bugs),
            vulnerabilities: Some(vulns),
            duplicated_lines_density: Some(dup),
            new_coverage: Some(new_cov),
            ..Measures::default()
        }
    }

    /// At, just inside and just outside each default threshold.
    #[test]
    fn default_quality_policy_at_and_around_each_threshold() {
        let p = QualityPolicy::default();
        let cases: &[(Measures, LinkStatus, &str)] = &[
            (
                measures(0.0, 0.0, 5.0, 90.0),
                LinkStatus::Pass,
                "every value exactly at its threshold",
            ),
            (measures(0.0, 0.0, 0.0, 100.0), LinkStatus::Pass, "perfect"),
            (measures(1.0, 0.0, 0.0, 100.0), LinkStatus::Fail, "one bug"),
            (measures(0.0, 1.0, 0.0, 100.0), LinkStatus::Fail, "one vulnerability"),
            (
                measures(0.0, 0.0, 5.01, 100.0),
                LinkStatus::Fail,
                "duplication just over 5 %",
            ),
            (
                measures(0.0, 0.0, 4.99, 100.0),
                LinkStatus::Pass,
                "duplication just under 5 %",
            ),
            (
                measures(0.0, 0.0, 0.0, 89.99),
                LinkStatus::Fail,
                "new coverage just under 90 %",
            ),
            (measures(0.0, 0.0, 0.0, 84.2), LinkStatus::Fail, "the demo's 84.2 %"),
            (
                measures(0.0, 0.0, 0.0, 90.01),
                LinkStatus::Pass,
                "new coverage just over 90 %",
            ),
        ];
        for (m, want, why) in cases {
            assert_eq!(overall(&evaluate_quality(&p, m)), *want, "{why}");
        }
    }

    #[test]
    fn a_per_service_override_moves_only_its_threshold() {
        let p = QualityPolicy {
            new_coverage_min: 80.0,
            ..QualityPolicy::default()
        };
        assert_eq!(
            overall(&evaluate_quality(&p, &measures(0.0, 0.0, 0.0, 84.2))),
            LinkStatus::Pass
        );
        assert_eq!(
            overall(&evaluate_quality(&p, &measures(0.0, 0.0, 0.0, 79.9))),
            LinkStatus::Fail
        );
        assert_eq!(
            overall(&evaluate_quality(&p, &measures(1.0, 0.0, 0.0, 95.0))),
            LinkStatus::Fail
        );
    }

    #[test]
    fn a_missing_measure_is_unknown_never_a_pass() {
        let p = QualityPolicy::default();
        let mut m = measures(0.0, 0.0, 0.0, 95.0);
        m.new_coverage = None;
        assert_eq!(overall(&evaluate_quality(&p, &m)), LinkStatus::Unknown);
        // …but a failure elsewhere still fails.
        m.bugs = Some(2.0);
        assert_eq!(overall(&evaluate_quality(&p, &m)), LinkStatus::Fail);
        // NaN from a garbled server is no value at all.
        let c = Check::new("x", Bound::AtMost, 1.0, Some(f64::NAN), "");
        assert_eq!(c.status, LinkStatus::Unknown);
        assert_eq!(overall(&[]), LinkStatus::Unknown);
    }

    #[test]
    fn load_thresholds_at_and_around() {
        let p = LoadPolicy::default();
        let v = |p95: f64, err: f64| overall(&evaluate_load(&p, Some(p95), Some(err)));
        assert_eq!(v(800.0, 1.0), LinkStatus::Pass);
        assert_eq!(v(800.1, 0.0), LinkStatus::Fail);
        assert_eq!(v(1240.0, 0.4), LinkStatus::Fail);
        assert_eq!(v(100.0, 1.01), LinkStatus::Fail);
        assert_eq!(overall(&evaluate_load(&p, None, Some(0.0))), LinkStatus::Unknown);
    }

    #[test]
    fn sentences_read_naturally() {
        let c = Check::new("new coverage", Bound::AtLeast, 90.0, Some(84.2), "%");
        assert_eq!(c.sentence(), "new coverage 84.2 % < 90 %");
        let c = Check::new("bugs", Bound::AtMost, 0.0, Some(0.0), "");
        assert_eq!(c.sentence(), "bugs 0 ≤ 0");
        let c = Check::new("p95 latency", Bound::AtMost, 800.0, None, "ms");
        assert_eq!(c.sentence(), "p95 latency: no value (needs ≤ 800 ms)");
    }
}
