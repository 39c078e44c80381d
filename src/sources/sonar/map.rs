//! Pure mapping from SonarQube answers to the model.

use chrono::{DateTime, Utc};

use super::api::{AnalysisJson, ComponentMeasuresJson, HistoryJson, MeasureJson, ProjectStatusJson};
use crate::model::{Analysis, Gate, GateCondition, GateStatus, Measures};

/// SonarQube writes `2026-11-24T10:15:30+0000`; accept RFC 3339 too.
pub fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn gate(json: &ProjectStatusJson) -> Gate {
    let body = &json.project_status;
    Gate {
        status: GateStatus::parse(&body.status),
        conditions: body
            .conditions
            .iter()
            .map(|c| GateCondition {
                metric: c.metric_key.clone(),
                comparator: c.comparator.clone(),
                threshold: c.error_threshold.clone(),
                actual: c.actual_value.clone(),
                status: GateStatus::parse(&c.status),
            })
            .collect(),
    }
}

fn number(s: Option<&str>) -> Option<f64> {
    s?.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A measure's value: `new_*` metrics live in the leak period (`period`, or `periods[0]` on
/// servers before 8.x); the others at the top level.
pub fn measure_value(m: &MeasureJson) -> Option<f64> {
    let period = m.period.as_ref().and_then(|p| p.value.as_deref()).or_else(|| {
        let periods = m.periods.as_ref()?;
        periods
            .iter()
            .find(|p| p.index.unwrap_or(1) == 1)
            .or(periods.first())
            .and_then(|p| p.value.as_deref())
    });
    let top = m.value.as_deref();
    if m.metric.starts_with("new_") {
        number(period).or(number(top))
    } else {
        number(top).or(number(period))
    }
}

pub fn measures(json: &ComponentMeasuresJson) -> Measures {
    let mut out = Measures::default();
    for m in &json.component.measures {
        if let Some(v) = measure_value(m) {
            out.set(&m.metric, v);
        }
    }
    out
}

/// Analyses (newest first) with their measures joined from the history by date.
pub fn analyses(list: &[AnalysisJson], history: &HistoryJson) -> Vec<Analysis> {
    list.iter()
        .filter_map(|a| {
            let date = time(&a.date)?;
            let mut measures = Measures::default();
            for h in &history.measures {
                if let Some(v) = h
                    .history
                    .iter()
                    .find(|p| time(&p.date) == Some(date))
                    .and_then(|p| number(p.value.as_deref()))
                {
                    measures.set(&h.metric, v);
                }
            }
            Some(Analysis {
                key: a.key.clone(),
                date,
                revision: a.revision.clone().filter(|r| !r.is_empty()),
                version: a.project_version.clone(),
                gate: None,
                measures,
            })
        })
        .collect()
}
