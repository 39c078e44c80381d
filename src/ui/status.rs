//! The status line: each source's health (age of the last good poll, the error, the backoff), and
//! the latest message for the operator.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Ctx;
use super::format::{fit, short_secs};
use crate::model::{HealthLevel, NoticeLevel};

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let now = ctx.now;
    let mut spans = Vec::new();
    for h in ctx.state.sources.values() {
        let since = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(|a| short_secs((now - a).num_seconds().max(0)));
        let retry = h
            .retry_at
            .map(|r| format!(" · retry {}", short_secs((r - now).num_seconds().max(0))))
            .unwrap_or_default();
        let error = h.last_error.as_deref().unwrap_or("");
        let (style, text) = match h.level() {
            HealthLevel::Waiting => (t.style("status.pending"), format!("{} … connecting", h.name)),
            HealthLevel::Healthy if h.is_stale(now) => (
                t.style("status.stale"),
                format!("{} ⚠ stale: last answer {} ago", h.name, since(h.last_success).unwrap_or_default()),
            ),
            HealthLevel::Healthy => {
                (t.style("status.ok"), format!("{} ✔ {} ago", h.name, since(h.last_success).unwrap_or_default()))
            }
            HealthLevel::Degraded => (
                t.style("status.unstable"),
                format!("{} ⚠ {error} · data {} old{retry}", h.name, since(h.last_success).unwrap_or_default()),
            ),
            HealthLevel::Down => (t.style("status.failed"), format!("{} ✖ {error}{retry}", h.name)),
        };
        spans.push(Span::styled(text, style));
        spans.push(Span::raw("  "));
    }
    if !ctx.view.in_flight.is_empty() {
        spans.push(Span::styled(format!("◷ {} action(s) running  ", ctx.view.in_flight.len()), t.style("status.running")));
    }
    // The operator's latest message: a flash (why a key did nothing) or a recent notice.
    let message = match &ctx.view.flash {
        Some(f) => Some((t.style("ui.warning"), f.clone())),
        None => ctx.state.latest_notice().filter(|n| (now - n.at).num_seconds() < 60).map(|n| {
            let role = match n.level {
                NoticeLevel::Info => "ui.text",
                NoticeLevel::Success => "ui.success",
                NoticeLevel::Warning => "ui.warning",
                NoticeLevel::Error => "ui.error",
            };
            (t.style(role), n.text.clone())
        }),
    };
    let used: usize = spans.iter().map(|s| s.width()).sum();
    if let Some((style, text)) = message {
        let room = (area.width as usize).saturating_sub(used);
        if room >= 20 {
            spans.push(Span::styled(fit(&text, room), style));
        } else {
            // No room beside the health: the message matters more right now.
            spans = vec![Span::styled(fit(&text, area.width as usize), style)];
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
