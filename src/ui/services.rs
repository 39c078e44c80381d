//! The services pane: one row per service with its newest build at a glance. Only visible rows are
//! built, so drawing costs the same for 50 services or 5,000.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{age, pad};
use super::{Ctx, Pane};
use crate::model::{Build, Job, QueueState, Service, Status};

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let focused = ctx.view.focus == Pane::Services;
    let visible = &ctx.visible;
    let title = if ctx.view.filter.is_empty() {
        format!(" Services ({}) ", visible.len())
    } else {
        format!(
            " Services ({}/{}) filter: {} ",
            visible.len(),
            ctx.state.services.len(),
            ctx.view.filter
        )
    };
    let inner = super::layout::pane(frame, area, ctx, title, focused);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    if visible.is_empty() {
        let msg = if ctx.state.services.is_empty() {
            "No services configured. Add [[services]] to the config (see config.example.toml)."
        } else {
            "No service matches the filter. Esc clears it."
        };
        frame.render_widget(Paragraph::new(msg).style(t.style("ui.muted")), inner);
        return;
    }
    let rows = inner.height as usize;
    let selected = ctx.view.selected.min(visible.len() - 1);
    // Keep the selection on screen, scrolling by whole pages of rows.
    let offset = super::layout::scroll_offset(selected, rows);
    let width = inner.width as usize;
    let name_w = (width / 4).clamp(10, 22);
    let lines: Vec<Line> = visible
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows)
        .map(|(i, s)| row(ctx, s, width, name_w, i == selected))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn row<'a>(ctx: &Ctx, service: &'a Service, width: usize, name_w: usize, selected: bool) -> Line<'a> {
    let t = ctx.theme;
    let latest = ctx.state.latest_build(service);
    let status = ctx.state.service_status(service);
    let stale = ctx
        .state
        .sources
        .get(&service.jobs.source)
        .is_some_and(|h| h.consecutive_failures > 0 || h.is_stale(ctx.now));
    let status_style = if stale {
        t.style("status.stale")
    } else {
        t.style(status.role())
    };
    let mut spans = vec![
        Span::styled(format!(" {} ", status.glyph()), status_style),
        Span::styled(pad(&service.name, name_w), t.style("ui.text")),
    ];
    let mut used = 3 + name_w;
    match latest {
        None => {
            let note = if service.jobs.build.is_none() {
                "no build job configured"
            } else {
                "waiting for Jenkins…"
            };
            spans.push(Span::styled(format!(" {note}"), t.style("ui.muted")));
        }
        Some((job, build)) => {
            let cols = [
                (format!(" #{:<5}", build.number), t.style("ui.text"), 7),
                (
                    format!("{:>4} ", age(build.timestamp_ms, ctx.now)),
                    t.style("ui.muted"),
                    5,
                ),
                (
                    pad(&build.primary_cause().map(|c| c.short()).unwrap_or_default(), 12),
                    t.style("ui.muted"),
                    12,
                ),
            ];
            for (text, style, w) in cols {
                if used + w > width {
                    break;
                }
                spans.push(Span::styled(text, style));
                used += w;
            }
            let strip_w = stage_count(job).max(build.stages.len());
            if used + strip_w + 2 <= width {
                spans.push(Span::raw(" "));
                spans.extend(stage_strip(ctx, job, build));
                used += strip_w + 1;
            }
            let remaining = width.saturating_sub(used + 1);
            if remaining >= 6 {
                spans.push(Span::raw(" "));
                spans.push(tail(ctx, job, build, remaining));
            }
        }
    }
    let mut line = Line::from(spans);
    if selected {
        line = line.style(t.style("ui.selection"));
    }
    line
}

/// How many stages a full run of this job has, learnt from its longest recent build.
fn stage_count(job: &Job) -> usize {
    job.builds.iter().map(|b| b.stages.len()).max().unwrap_or(0)
}

/// One glyph per stage, coloured by status; stages not reached yet are dots.
fn stage_strip<'a>(ctx: &Ctx, job: &Job, build: &Build) -> Vec<Span<'a>> {
    let t = ctx.theme;
    let mut spans: Vec<Span> = build
        .stages
        .iter()
        .map(|s| {
            let glyph = match s.status {
                Status::Ok => "■",
                other => other.glyph(),
            };
            Span::styled(glyph, t.style(s.status.role()))
        })
        .collect();
    let total = stage_count(job);
    if build.status.is_active() && total > build.stages.len() {
        spans.push(Span::styled(
            "·".repeat(total - build.stages.len()),
            t.style("ui.muted"),
        ));
    } else if total > build.stages.len() {
        spans.push(Span::raw(" ".repeat(total - build.stages.len())));
    }
    spans
}

/// The last column: a progress gauge for running builds, the waiting input, or the failed stage.
fn tail<'a>(ctx: &Ctx, job: &Job, build: &Build, width: usize) -> Span<'a> {
    let t = ctx.theme;
    // A build the operator triggered that Jenkins still queues: say so, and why.
    if let Some(q) = ctx.state.queue.iter().rev().find(|q| q.job == job.full_name)
        && let QueueState::Waiting { why } = &q.state
    {
        let text = format!(
            "… queued{}",
            why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
        );
        return Span::styled(pad(&text, width), t.style("status.pending"));
    }
    if let Some(input) = build.pending_inputs.first() {
        return Span::styled(pad(&format!("⏸ {}", input.message), width), t.style("status.paused"));
    }
    if build.status == Status::Running {
        let stage = build.current_stage().map(|s| s.name.as_str()).unwrap_or("starting");
        return match build.progress(ctx.now.timestamp_millis()) {
            Some(p) => {
                let bar_w = (width / 3).clamp(4, 12);
                let filled = ((p * bar_w as f64).round() as usize).min(bar_w);
                let text = format!(
                    "{}{} {:>2}% {}",
                    "█".repeat(filled),
                    "░".repeat(bar_w - filled),
                    (p * 100.0) as u32,
                    stage
                );
                Span::styled(pad(&text, width), t.style("ui.gauge"))
            }
            None => Span::styled(pad(&format!("◷ {stage}"), width), t.style("status.running")),
        };
    }
    if let Some(stage) = build.failed_stage() {
        return Span::styled(pad(&format!("✖ {}", stage.name), width), t.style("status.failed"));
    }
    let label = match (build.status, &build.tests) {
        (Status::Unstable, Some(tc)) => format!("{} of {} tests failed", tc.failed, tc.total),
        (s, _) => s.label().to_string(),
    };
    Span::styled(pad(&label, width), t.style(build.status.role()))
}
