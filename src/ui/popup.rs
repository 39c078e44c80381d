//! The confirm popup (every action passes through it) and the parameter form.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::format::fit;
use super::{ConfirmState, Ctx, Form};
use crate::actions::Confirm;
use crate::model::ParamKind;

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2)).max(1);
    let h = height.min(area.height.saturating_sub(2)).max(1);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub fn draw_confirm(frame: &mut Frame, area: Rect, ctx: &Ctx, c: &ConfirmState) {
    let t = ctx.theme;
    let plan = &c.plan;
    let width = area.width.saturating_sub(4).min(96);
    let inner_w = width.saturating_sub(2) as usize;
    let mut lines = vec![Line::from(Span::styled(plan.title.clone(), t.style("ui.header")))];
    match &plan.environment {
        Some(env) if env.protected => lines.push(Line::from(Span::styled(
            format!(" ▲ {} — PROTECTED ENVIRONMENT ", env.name.to_uppercase()),
            t.style("env.production"),
        ))),
        Some(env) => lines.push(Line::from(Span::styled(
            format!(" env: {} ", env.name),
            t.style("env.other"),
        ))),
        None => {}
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("This will call:", t.style("ui.muted"))));
    for call in &plan.calls {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<5}", call.method), t.style("ui.hint_key")),
            Span::styled(fit(&call.url, inner_w.saturating_sub(8)), t.style("ui.text")),
        ]));
        lines.push(Line::from(Span::styled(
            fit(&format!("         {}", call.why), inner_w),
            t.style("ui.muted"),
        )));
    }
    if !plan.gates.is_empty() {
        // The chain's gates, compactly: a glyph and a short name each, wrapped to the width.
        lines.push(Line::from(Span::styled("Gates:", t.style("ui.muted"))));
        let mut row: Vec<Span> = vec![Span::raw(" ")];
        let mut used = 1;
        for g in &plan.gates {
            let st = g.status.status();
            let cell = format!(" {} {} ", st.glyph(), g.kind.short());
            let w = unicode_width::UnicodeWidthStr::width(cell.as_str());
            if used + w > inner_w && used > 1 {
                lines.push(Line::from(std::mem::replace(&mut row, vec![Span::raw(" ")])));
                used = 1;
            }
            row.push(Span::styled(cell, t.style(st.role())));
            used += w;
        }
        lines.push(Line::from(row));
    }
    for b in &plan.blockers {
        lines.push(Line::from(Span::styled(format!("✖ {b}"), t.style("status.failed"))));
    }
    for note in &plan.notes {
        lines.push(Line::from(Span::styled(format!("⚠ {note}"), t.style("ui.warning"))));
    }
    lines.push(Line::from(""));
    // The decision lines go below whatever of the plan fits: a long plan must never push the
    // prompt off the screen.
    let plan_lines = std::mem::take(&mut lines);
    match (&c.refused, &plan.confirm) {
        (Some(reason), _) => {
            let reason = if plan.blockers.is_empty() {
                reason.clone()
            } else {
                format!("{} blocker(s), listed above", plan.blockers.len())
            };
            lines.push(Line::from(Span::styled(
                format!("✖ Refused: {reason}"),
                t.style("status.failed"),
            )));
            lines.push(Line::from(Span::styled(
                "Esc closes. The refusal is recorded.",
                t.style("ui.muted"),
            )));
        }
        (None, Confirm::TypeName(name)) => {
            lines.push(Line::from(Span::styled(
                format!("Type the service name ({name}) to confirm:"),
                t.style("ui.warning"),
            )));
            let ok = c.typed == *name;
            lines.push(Line::from(vec![
                Span::styled("> ", t.style("ui.hint_key")),
                Span::styled(c.typed.clone(), t.style(if ok { "ui.success" } else { "ui.text" })),
                Span::styled("█", t.style("ui.hint_key")),
            ]));
            lines.push(Line::from(Span::styled(
                "Enter executes once it matches · Esc cancels",
                t.style("ui.muted"),
            )));
        }
        (None, Confirm::Yes) => {
            lines.push(Line::from(Span::styled(
                "Enter or y executes · Esc or n cancels",
                t.style("ui.warning"),
            )));
        }
    }
    let room = (area.height as usize).saturating_sub(lines.len() + 2);
    let mut body = plan_lines;
    if body.len() > room {
        let hidden = body.len() + 1 - room;
        body.truncate(room.saturating_sub(1));
        body.push(Line::from(Span::styled(
            format!("… {hidden} more line(s) of the plan; all of it goes to the audit"),
            t.style("ui.muted"),
        )));
    }
    body.extend(lines);
    let lines = body;
    let height = lines.len() as u16 + 2;
    let r = centered(area, width, height);
    frame.render_widget(Clear, r);
    let border = if plan.environment.as_ref().is_some_and(|e| e.protected) {
        "status.failed"
    } else {
        "ui.border_focus"
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Confirm action ", t.style("ui.title")))
        .border_style(t.style(border));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), r);
}

pub fn draw_form(frame: &mut Frame, area: Rect, ctx: &Ctx, form: &Form) {
    let t = ctx.theme;
    let mut lines = vec![
        Line::from(Span::styled(form.title.clone(), t.style("ui.header"))),
        Line::from(""),
    ];
    for (i, field) in form.fields.iter().enumerate() {
        let active = i == form.cursor;
        let value = match &field.def.kind {
            ParamKind::Password => "•".repeat(field.value.chars().count()),
            ParamKind::Choice { choices } => {
                format!("‹ {} ›  ({} choices)", field.value, choices.len())
            }
            ParamKind::Boolean => format!("‹ {} ›", field.value),
            _ => field.value.clone(),
        };
        let marker = if active { "▸ " } else { "  " };
        lines.push(Line::from(vec![
            Span::styled(marker, t.style("ui.hint_key")),
            Span::styled(
                format!("{:<14}", field.def.name),
                t.style(if active { "ui.header" } else { "ui.text" }),
            ),
            Span::styled(value, t.style(if active { "ui.selection" } else { "ui.text" })),
            Span::styled(if active { "█" } else { "" }, t.style("ui.hint_key")),
        ]));
        if let Some(d) = &field.def.description {
            lines.push(Line::from(Span::styled(
                format!("                {d}"),
                t.style("ui.muted"),
            )));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Enter reviews the plan; nothing runs before you confirm it.",
        t.style("ui.muted"),
    )));
    let r = centered(area, 80, lines.len() as u16 + 2);
    frame.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Parameters ", t.style("ui.title")))
        .border_style(t.style("ui.border_focus"));
    frame.render_widget(Paragraph::new(lines).block(block), r);
}
