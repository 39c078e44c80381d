//! Load-test summaries a build archives: JMeter's HTML-report `statistics.json` and Gatling's
//! `global_stats.json` (or `stats.json`). Only the figures the load policy judges are read.

use serde_json::Value;

use crate::model::LoadSummary;

/// Is this archived file a summary the cockpit can read? `configured` is the service's
/// `summary` path when it names one.
pub fn is_summary(relative_path: &str, configured: Option<&str>) -> bool {
    match configured {
        Some(p) => relative_path == p.trim_start_matches("./"),
        None => {
            let file = relative_path.rsplit('/').next().unwrap_or(relative_path);
            file == "statistics.json" || file == "global_stats.json"
        }
    }
}

/// Parse either format; a body that is neither is an error naming what was expected.
pub fn parse(body: &[u8], url: &str) -> Result<LoadSummary, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(total) = v.get("Total").filter(|t| t.is_object()) {
        return Ok(LoadSummary {
            format: "JMeter statistics.json".into(),
            url: url.to_string(),
            p95_ms: number(total.get("pct2ResTime")),
            error_rate: number(total.get("errorPct")),
            samples: number(total.get("sampleCount")).map(|n| n as u64),
        });
    }
    // Gatling: global_stats.json is the stats object itself; stats.json wraps it in "stats".
    let stats = v.get("stats").unwrap_or(&v);
    if let Some(requests) = stats.get("numberOfRequests") {
        let total = number(requests.get("total"));
        // Gatling writes "-" for an empty column: no failures when everything was ok.
        let ko = number(requests.get("ko")).or_else(|| Some(total? - number(requests.get("ok"))?));
        let error_rate = match (total, ko) {
            (Some(t), Some(k)) if t > 0.0 => Some(k / t * 100.0),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        };
        return Ok(LoadSummary {
            format: "Gatling global_stats.json".into(),
            url: url.to_string(),
            // Gatling's third percentile is the 95th unless the run configured otherwise.
            p95_ms: number(stats.get("percentiles3").and_then(|p| p.get("total"))),
            error_rate,
            samples: total.map(|n| n as u64),
        });
    }
    Err("neither a JMeter statistics.json (no \"Total\") nor a Gatling stats file (no \"numberOfRequests\")".into())
}

/// Numbers come as numbers, or as strings ("-" when Gatling has none).
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jmeter_total_row() {
        let body = br#"{"Total":{"transaction":"Total","sampleCount":12000,"errorCount":48,"errorPct":0.4,
            "meanResTime":310.2,"pct1ResTime":880.0,"pct2ResTime":1240.5,"pct3ResTime":2100.0},
            "GET /checkout":{"transaction":"GET /checkout","sampleCount":6000,"pct2ResTime":900.0}}"#;
        let s = parse(body, "u").unwrap();
        assert_eq!(s.p95_ms, Some(1240.5));
        assert_eq!(s.error_rate, Some(0.4));
        assert_eq!(s.samples, Some(12000));
    }

    #[test]
    fn gatling_global_stats_and_stats_json() {
        let global = br#"{"name":"All Requests","numberOfRequests":{"total":2000,"ok":1990,"ko":10},
            "percentiles3":{"total":640,"ok":630,"ko":1200}}"#;
        let s = parse(global, "u").unwrap();
        assert_eq!(s.p95_ms, Some(640.0));
        assert_eq!(s.error_rate, Some(0.5));
        let wrapped =
            br#"{"type":"GROUP","name":"All Requests","stats":{"numberOfRequests":{"total":"100","ok":"100","ko":"-"},
            "percentiles3":{"total":"95","ok":"95","ko":"-"}}}"#;
        let s = parse(wrapped, "u").unwrap();
        assert_eq!(s.p95_ms, Some(95.0));
        assert_eq!(s.error_rate, Some(0.0));
    }

    #[test]
    fn other_json_is_an_error() {
        assert!(parse(b"{\"hello\":1}", "u").is_err());
        assert!(parse(b"<html>", "u").is_err());
    }

    #[test]
    fn recognises_summary_paths() {
        assert!(is_summary("target/jmeter/statistics.json", None));
        assert!(is_summary("target/gatling/run-1/js/global_stats.json", None));
        assert!(!is_summary("target/app.jar", None));
        assert!(is_summary("perf/summary.json", Some("./perf/summary.json")));
        assert!(!is_summary("target/jmeter/statistics.json", Some("perf/summary.json")));
    }
}
