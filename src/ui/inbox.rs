//! The approvals inbox: everything waiting for a human, across Jenkins, AWX and the clusters,
//! with who started it, since when, and who may decide it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{age, fit, pad};
use super::{Ctx, layout};
use crate::model::{FourEyes, InboxItem};

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx, items: &[InboxItem]) {
    let (top, bottom) = layout::table_over_detail(area, items.len(), 10);
    table(frame, top, ctx, items);
    detail(
        frame,
        bottom,
        ctx,
        items.get(ctx.view.inbox_selected.min(items.len().saturating_sub(1))),
    );
}

fn table(frame: &mut Frame, area: Rect, ctx: &Ctx, items: &[InboxItem]) {
    let t = ctx.theme;
    let inner = layout::pane(
        frame,
        area,
        ctx,
        format!(" Inbox · {} waiting for a human ", items.len()),
        true,
    );
    if inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let head = format!(
        "  {}{}{}{}{}{}",
        pad("What", 15),
        pad("Service", 20),
        pad("Env", 11),
        pad("Since", 7),
        pad("Started by", 12),
        "Waits for"
    );
    let mut lines = vec![Line::from(Span::styled(fit(&head, width), t.style("ui.header")))];
    if items.is_empty() {
        lines.push(Line::from(Span::styled(
            "Nothing waits for a human.",
            t.style("ui.muted"),
        )));
    }
    let rows = (inner.height as usize).saturating_sub(1);
    let selected = ctx.view.inbox_selected.min(items.len().saturating_sub(1));
    let offset = layout::scroll_offset(selected, rows);
    for (i, item) in items.iter().enumerate().skip(offset).take(rows) {
        let marker = if i == selected { "▸ " } else { "  " };
        let since = item
            .since
            .map(|s| age(s.timestamp_millis(), ctx.now))
            .unwrap_or_else(|| "?".into());
        let lock = if item.can_approve.is_ok() { "" } else { "🔒 " };
        let text = format!(
            "{marker}{}{}{}{}{}{lock}{}",
            pad(item.kind.label(), 15),
            pad(item.service.as_deref().unwrap_or("?"), 20),
            pad(item.environment.as_deref().unwrap_or("?"), 11),
            pad(&since, 7),
            pad(item.started_by.as_deref().unwrap_or("—"), 12),
            item.waits_for
        );
        let style = if i == selected { "ui.selection" } else { "status.paused" };
        lines.push(Line::from(Span::styled(fit(&text, width), t.style(style))));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn detail(frame: &mut Frame, area: Rect, ctx: &Ctx, item: Option<&InboxItem>) {
    let t = ctx.theme;
    let inner = layout::pane(frame, area, ctx, " Who may decide ".into(), false);
    if inner.height == 0 {
        return;
    }
    let Some(item) = item else {
        frame.render_widget(Paragraph::new("").style(t.style("ui.muted")), inner);
        return;
    };
    let width = inner.width as usize;
    let approve = ctx.keymap.hint(crate::config::KeyAction::Approve);
    let reject = ctx.keymap.hint(crate::config::KeyAction::Reject);
    let mut lines = vec![Line::from(Span::styled(
        fit(
            &format!("{} on {}: {}", item.kind.label(), item.source, item.waits_for),
            width,
        ),
        t.style("ui.text"),
    ))];
    let (mark, style) = match &item.four_eyes {
        FourEyes::Clear => ("✔", "status.ok"),
        FourEyes::NotApplicable(_) => ("·", "ui.muted"),
        FourEyes::SelfApproval(_) | FourEyes::UnknownOperator(_) => ("✖", "status.failed"),
    };
    lines.push(Line::from(Span::styled(
        fit(&format!("{mark} {}", item.four_eyes.describe()), width),
        t.style(style),
    )));
    for s in &item.server_enforces {
        lines.push(Line::from(Span::styled(
            fit(&format!("server enforces: {s}"), width),
            t.style("ui.text"),
        )));
    }
    for s in &item.flightdeck_enforces {
        lines.push(Line::from(Span::styled(
            fit(&format!("only Flightdeck enforces: {s}"), width),
            t.style("ui.warning"),
        )));
    }
    let verdict = |key: String, verb: &str, r: &Result<(), String>| match r {
        Ok(()) => Span::styled(format!("{key} {verb}   "), t.style("ui.hint_key")),
        Err(why) => Span::styled(format!("{verb}: {why}   "), t.style("ui.muted")),
    };
    lines.push(Line::from(vec![
        verdict(approve, "approve", &item.can_approve),
        verdict(reject, "reject", &item.can_reject),
    ]));
    frame.render_widget(Paragraph::new(lines), inner);
}
