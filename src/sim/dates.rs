//! Timestamp spellings of the simulated systems: GitHub, SonarQube and Nexus
//! each write ISO-8601 their own way.

use super::jenkins::Ms;

fn at(ms: Ms) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// GitHub: `2026-11-24T10:15:30Z` (whole seconds, UTC).
pub(crate) fn github(ms: Ms) -> String {
    at(ms).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// SonarQube: `2026-11-24T10:15:30+0000`.
pub(crate) fn sonar(ms: Ms) -> String {
    at(ms).format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// Nexus Repository 3: `2026-11-24T10:15:30.123+00:00`.
pub(crate) fn nexus(ms: Ms) -> String {
    at(ms).format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

/// Maven snapshot timestamp: `20261124.101530`.
pub(crate) fn maven_snapshot(ms: Ms) -> String {
    at(ms).format("%Y%m%d.%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let t = 1_795_515_330_123; // 2026-11-24T10:15:30.123Z
        assert_eq!(github(t), "2026-11-24T10:15:30Z");
        assert_eq!(sonar(t), "2026-11-24T10:15:30+0000");
        assert_eq!(nexus(t), "2026-11-24T10:15:30.123+00:00");
        assert_eq!(maven_snapshot(t), "20261124.101530");
    }
}
