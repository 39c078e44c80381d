//! The quality pane: per service, SonarQube's gate and the shop's policy side by side, the
//! measures the policy reads, and the last analyses as sparklines.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{fit, pad};
use super::{Ctx, layout};
use crate::model::{GateStatus, LinkStatus, QualityState, Service, policy};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Values as a row of bar glyphs scaled between their minimum and maximum.
pub fn sparkline(values: &[f64]) -> String {
    let (min, max) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    });
    values
        .iter()
        .map(|v| {
            if (max - min).abs() < f64::EPSILON {
                BARS[3]
            } else {
                BARS[(((v - min) / (max - min)) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let (top, bottom) = layout::table_over_detail(area, ctx.visible.len(), 12);
    table(frame, top, ctx);
    detail(frame, bottom, ctx);
}

fn measure(v: Option<f64>, unit: &str) -> String {
    v.map(|x| policy::number(x, unit).replace(' ', ""))
        .unwrap_or_else(|| "—".into())
}

fn verdicts(service: &Service, q: &QualityState) -> (GateStatus, LinkStatus) {
    let gate = q.gate.as_ref().map(|g| g.status).unwrap_or(GateStatus::Unknown);
    let checks = policy::evaluate_quality(&service.chain.quality, &q.measures);
    (gate, policy::overall(&checks))
}

fn table(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let inner = layout::pane(frame, area, ctx, format!(" Quality ({}) ", ctx.visible.len()), true);
    if inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let name_w = (width / 5).clamp(10, 22);
    let cols: [(&str, usize); 9] = [
        ("Sonar", 8),
        ("Policy", 8),
        ("Bugs", 5),
        ("Vulns", 6),
        ("Smells", 7),
        ("Cov", 7),
        ("NewCov", 7),
        ("Dup", 6),
        ("Trend", 10),
    ];
    let mut head = pad("Service", name_w);
    for (h, w) in cols {
        head.push_str(&pad(h, w));
    }
    let mut lines = vec![Line::from(Span::styled(fit(&head, width), t.style("ui.header")))];
    let rows = (inner.height as usize).saturating_sub(1);
    let selected = ctx.view.selected.min(ctx.visible.len().saturating_sub(1));
    let offset = layout::scroll_offset(selected, rows);
    for (i, s) in ctx.visible.iter().enumerate().skip(offset).take(rows) {
        let mut spans = vec![Span::styled(
            format!("{} ", pad(&s.name, name_w.saturating_sub(1))),
            t.style("ui.text"),
        )];
        match ctx.state.quality.get(&s.name) {
            None => spans.push(Span::styled(
                if s.sonar.is_some() {
                    "not read yet"
                } else {
                    "no SonarQube project configured"
                },
                t.style("ui.muted"),
            )),
            Some(q) => {
                let (gate, verdict) = verdicts(s, q);
                let gate_role = match gate {
                    GateStatus::Ok => "status.ok",
                    GateStatus::Error => "status.failed",
                    GateStatus::Warn => "status.unstable",
                    _ => "status.unknown",
                };
                let vs = verdict.status();
                spans.push(Span::styled(pad(gate.label(), 8), t.style(gate_role)));
                spans.push(Span::styled(
                    pad(&format!("{} {}", vs.glyph(), verdict.label()), 8),
                    t.style(vs.role()),
                ));
                let m = &q.measures;
                for (text, w) in [
                    (measure(m.bugs, ""), 5),
                    (measure(m.vulnerabilities, ""), 6),
                    (measure(m.code_smells, ""), 7),
                    (measure(m.coverage, "%"), 7),
                    (measure(m.new_coverage, "%"), 7),
                    (measure(m.duplicated_lines_density, "%"), 6),
                ] {
                    spans.push(Span::styled(pad(&text, w), t.style("ui.text")));
                }
                spans.push(Span::styled(sparkline(&q.history("coverage")), t.style("ui.gauge")));
            }
        }
        let line = Line::from(spans);
        lines.push(if i == selected {
            line.style(t.style("ui.selection"))
        } else {
            line
        });
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn detail(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let service = ctx.selected_service();
    let q = service.and_then(|s| ctx.state.quality.get(&s.name));
    let title = match (service, q) {
        (Some(s), Some(q)) => format!(" {} · {} ", s.name, q.project_key),
        (Some(s), None) => format!(" {} ", s.name),
        _ => " Quality ".into(),
    };
    let inner = layout::pane(frame, area, ctx, title, false);
    let (Some(service), Some(q)) = (service, q) else {
        return;
    };
    let (gate, verdict) = verdicts(service, q);
    let mut lines = Vec::new();
    let agree = matches!(
        (gate, verdict),
        (GateStatus::Ok, LinkStatus::Pass) | (GateStatus::Error, LinkStatus::Fail)
    );
    lines.push(Line::from(vec![
        Span::styled(format!("Sonar gate {}", gate.label()), t.style("ui.text")),
        Span::raw(" · "),
        Span::styled(format!("policy {}", verdict.label()), t.style(verdict.status().role())),
        Span::styled(
            if agree { "" } else { "  (they disagree)" }.to_string(),
            t.style("ui.warning"),
        ),
    ]));
    for c in policy::evaluate_quality(&service.chain.quality, &q.measures) {
        let cs = c.status.status();
        lines.push(Line::from(vec![
            Span::styled(format!(" {} ", cs.glyph()), t.style(cs.role())),
            Span::styled(c.sentence(), t.style("ui.text")),
        ]));
    }
    if let Some(g) = &q.gate {
        for c in g.conditions.iter().filter(|c| c.status == GateStatus::Error) {
            lines.push(Line::from(Span::styled(
                format!(
                    " ✖ Sonar: {} {} {} (actual {})",
                    c.metric,
                    if c.comparator == "LT" { "<" } else { ">" },
                    c.threshold.as_deref().unwrap_or("?"),
                    c.actual.as_deref().unwrap_or("?")
                ),
                t.style("status.failed"),
            )));
        }
    }
    let n = q.analyses.len();
    for (label, metric, unit) in [
        ("coverage", "coverage", "%"),
        ("new coverage", "new_coverage", "%"),
        ("duplication", "duplicated_lines_density", "%"),
        ("bugs", "bugs", ""),
    ] {
        let h = q.history(metric);
        if h.is_empty() {
            continue;
        }
        let last = h.last().copied();
        lines.push(Line::from(vec![
            Span::styled(pad(&format!(" {label}"), 14), t.style("ui.muted")),
            Span::styled(sparkline(&h), t.style("ui.gauge")),
            Span::styled(
                format!("  {} over the last {n} analyses", measure(last, unit)),
                t.style("ui.muted"),
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_between_min_and_max() {
        assert_eq!(sparkline(&[0.0, 50.0, 100.0]), "▁▅█");
        assert_eq!(sparkline(&[3.0, 3.0]), "▄▄");
        assert_eq!(sparkline(&[]), "");
    }
}
