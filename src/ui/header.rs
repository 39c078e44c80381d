//! The top line: where you are (the environment in focus, loud for production), whether you can
//! act (the read-only lock), and the time.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Ctx;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let mut spans = vec![Span::styled(" FLIGHTDECK ", t.style("ui.title")), Span::raw(" ")];
    if let Some(env) = ctx.state.environments.get(ctx.view.environment) {
        let (role, label) = if env.protected {
            ("env.production", format!(" ▲ {} (PROTECTED) ", env.name.to_uppercase()))
        } else {
            ("env.other", format!(" env: {} ", env.name))
        };
        spans.push(Span::styled(label, t.style(role)));
        if env.read_only && !ctx.view.read_only {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(" ⊘ env read-only ", t.style("ui.lock")));
        }
        spans.push(Span::raw(" "));
    }
    if ctx.view.read_only {
        spans.push(Span::styled(" ⊘ READ-ONLY ", t.style("ui.lock")));
        spans.push(Span::raw(" "));
    }
    let waiting = ctx.state.waiting_inputs();
    let clock = ctx
        .view
        .show_clock
        .then(|| ctx.now.with_timezone(&chrono::Local).format("%H:%M:%S").to_string());
    let clock_w = clock.as_ref().map(|c| c.len() + 1).unwrap_or(0);
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let badge = format!("⏸ {waiting} waiting for approval");
    let room = (area.width as usize).saturating_sub(used + clock_w);
    if waiting > 0 {
        // The badge shrinks before it disappears: it is why an SRE looks at this screen.
        let text = if badge.chars().count() <= room {
            badge
        } else {
            format!("⏸ {waiting}")
        };
        if text.chars().count() <= room {
            spans.push(Span::styled(text, t.style("status.paused")));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if let Some(clock) = clock {
        let w = clock_w as u16;
        if (used + clock_w) as u16 <= area.width {
            let r = Rect {
                x: area.x + area.width - w,
                y: area.y,
                width: w,
                height: 1,
            };
            frame.render_widget(Paragraph::new(Span::styled(clock, t.style("ui.muted"))), r);
        }
    }
}
