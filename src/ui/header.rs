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
    let waiting = ctx
        .state
        .services
        .iter()
        .filter(|s| {
            ctx.state
                .latest_build(s)
                .is_some_and(|(_, b)| !b.pending_inputs.is_empty())
        })
        .count();
    if waiting > 0 {
        spans.push(Span::styled(
            format!("⏸ {waiting} waiting for approval"),
            t.style("status.paused"),
        ));
    }
    let left = Line::from(spans);
    frame.render_widget(Paragraph::new(left), area);
    if ctx.view.show_clock {
        let clock = ctx.now.with_timezone(&chrono::Local).format("%H:%M:%S").to_string();
        let w = clock.len() as u16 + 1;
        if area.width > w + 40 {
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
