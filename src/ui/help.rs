//! The `?` overlay, generated from the live keymap (the same table as docs/keys.md).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::Ctx;
use super::popup::centered;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let width = area.width.saturating_sub(4).min(96) as usize;
    let mut lines = Vec::new();
    for (action, keys) in ctx.keymap.iter() {
        let keys = keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(" ");
        let room = width.saturating_sub(18);
        let name = format!("  ({})", action.name());
        let desc = action.description();
        // The action's config name helps rebinding, but the description matters more when narrow.
        let (desc, name) = if desc.chars().count() + name.chars().count() <= room {
            (desc.to_string(), name)
        } else {
            (super::format::fit(desc, room), String::new())
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{keys:>14}  "), t.style("ui.hint_key")),
            Span::styled(desc, t.style("ui.text")),
            Span::styled(name, t.style("ui.muted")),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Rebind any action by name under [keymap] in the config.",
        t.style("ui.muted"),
    )));
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, width as u16 + 2, h);
    frame.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Keys ", t.style("ui.title")))
        .border_style(t.style("ui.border_focus"));
    frame.render_widget(Paragraph::new(lines).block(block), r);
}
