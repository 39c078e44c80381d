//! The status line: each source's health (age of the last good poll, the error, the backoff), and
//! the latest message for the operator.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Ctx;
use super::format::{fit, short_secs};
use crate::model::{HealthLevel, NoticeLevel};

const FLASH_SECS: i64 = 8;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let now = ctx.now;
    let mut spans = Vec::new();
    let mut entries = Vec::new();
    for h in ctx.state.sources.values() {
        let since = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(|a| short_secs((now - a).num_seconds().max(0)));
        let retry = h
            .retry_at
            .map(|r| format!(" · retry {}", short_secs((r - now).num_seconds().max(0))))
            .unwrap_or_default();
        let error = h.last_error.as_deref().unwrap_or("");
        // A rate-limited source says what it has left and when it refills.
        let reset = h
            .rate_limit_reset
            .map(|at| format!(" ↻{}", at.with_timezone(&chrono::Local).format("%H:%M")))
            .unwrap_or_default();
        let budget = match (h.rate_limit_remaining, h.rate_limit_limit) {
            (Some(r), Some(l)) => format!(" · {r}/{l}{reset}"),
            (Some(r), None) => format!(" · {r} left{reset}"),
            _ => String::new(),
        };
        let (style, text) = match h.level() {
            HealthLevel::Waiting => (t.style("status.pending"), format!("{} … connecting", h.name)),
            HealthLevel::Healthy if h.is_stale(now) => (
                t.style("status.stale"),
                format!(
                    "{} ⚠ stale: last answer {} ago",
                    h.name,
                    since(h.last_success).unwrap_or_default()
                ),
            ),
            HealthLevel::Healthy => (
                t.style("status.ok"),
                format!("{} ✔ {}{budget}", h.name, since(h.last_success).unwrap_or_default()),
            ),
            HealthLevel::Degraded => (
                t.style("status.unstable"),
                format!(
                    "{} ⚠ {error} · data {} old{retry}{budget}",
                    h.name,
                    since(h.last_success).unwrap_or_default()
                ),
            ),
            HealthLevel::Down => (t.style("status.failed"), format!("{} ✖ {error}{retry}", h.name)),
        };
        let healthy = matches!(h.level(), HealthLevel::Healthy) && !h.is_stale(now);
        entries.push((healthy, h.name.clone(), Span::styled(text, style)));
    }
    // Problems first. When the line cannot hold every source at full length, the healthy ones
    // shrink to one "✔ name name…" group, so a degraded source is never pushed off the edge.
    entries.sort_by_key(|(healthy, _, _)| *healthy);
    let full: usize = entries.iter().map(|(_, _, s)| s.width() + 2).sum();
    let short: usize = entries
        .iter()
        .map(|(healthy, name, s)| if *healthy { name.len() + 4 } else { s.width() + 2 })
        .sum();
    if full <= area.width as usize {
        for (_, _, span) in entries {
            spans.push(span);
            spans.push(Span::raw("  "));
        }
    } else if short <= area.width as usize {
        // Healthy sources drop their ages first.
        for (healthy, name, span) in entries {
            if healthy {
                spans.push(Span::styled(format!("{name} ✔"), t.style("status.ok")));
            } else {
                spans.push(span);
            }
            spans.push(Span::raw("  "));
        }
    } else {
        let mut names = Vec::new();
        for (healthy, name, span) in entries {
            if healthy {
                names.push(name);
            } else {
                spans.push(span);
                spans.push(Span::raw("  "));
            }
        }
        if !names.is_empty() {
            spans.push(Span::styled(format!("✔ {}", names.join(" ")), t.style("status.ok")));
            spans.push(Span::raw("  "));
        }
    }
    if !ctx.view.in_flight.is_empty() {
        spans.push(Span::styled(
            format!("◷ {} action(s) running  ", ctx.view.in_flight.len()),
            t.style("status.running"),
        ));
    }
    // The operator's latest message: a flash (why a key did nothing) or a newer notice (an action's
    // outcome). Flashes fade after a while; notices after a minute.
    let flash = match (&ctx.view.flash, ctx.view.flash_at) {
        (Some(f), Some(at)) if (now - at).num_seconds() < FLASH_SECS => Some((at, t.style("ui.warning"), f.clone())),
        (Some(f), None) => Some((now, t.style("ui.warning"), f.clone())),
        _ => None,
    };
    let notice = ctx
        .state
        .latest_notice()
        .filter(|n| (now - n.at).num_seconds() < 60)
        .map(|n| {
            let role = match n.level {
                NoticeLevel::Info => "ui.text",
                NoticeLevel::Success => "ui.success",
                NoticeLevel::Warning => "ui.warning",
                NoticeLevel::Error => "ui.error",
            };
            (n.at, t.style(role), n.text.clone())
        });
    let message = match (flash, notice) {
        (Some(f), Some(n)) => Some(if n.0 > f.0 { n } else { f }),
        (f, n) => f.or(n),
    };
    let width = area.width as usize;
    if let Some((_, style, text)) = message {
        // Health keeps at least part of the line: a degraded source must never be hidden.
        let health_w = spans.iter().map(|s| s.width()).sum::<usize>().min(width * 11 / 20);
        let health_text: String = spans.iter().map(|s| s.content.as_ref()).collect();
        let health_style = spans.first().map(|s| s.style).unwrap_or_default();
        let room = width.saturating_sub(health_w + 2);
        spans = vec![
            Span::styled(fit(health_text.trim_end(), health_w), health_style),
            Span::raw("  "),
            Span::styled(fit(&text, room), style),
        ];
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
