//! The `?` overlay, generated from the live keymap (the same table as docs/keys.md).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::Ctx;
use super::popup::centered;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let count = ctx.keymap.iter().count() as u16;
    // One column when it fits; otherwise two side by side, so no key falls off a short screen.
    let columns: u16 = if count + 2 <= area.height || area.width < 100 {
        1
    } else {
        2
    };
    let outer = area.width.saturating_sub(4).min(96 * columns);
    let width = (outer / columns).saturating_sub(1) as usize;
    let mut lines = Vec::new();
    for (action, keys) in ctx.keymap.iter() {
        let keys = keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(" ");
        let room = width.saturating_sub(18);
        let name = format!("  ({})", action.name());
        let desc = action.description();
        // The action's config name helps rebinding, but the description matters more when narrow.
        let (desc, name) = if desc.chars().count() + name.chars().count() <= room {
            (desc.to_string(), name)
        } else if room >= name.chars().count() + 16 {
            // Both, the description shortened: the name is what `[keymap]` needs.
            (super::format::fit(desc, room - name.chars().count()), name)
        } else {
            (super::format::fit(desc, room), String::new())
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{keys:>14}  "), t.style("ui.hint_key")),
            Span::styled(desc, t.style("ui.text")),
            Span::styled(name, t.style("ui.muted")),
        ]));
    }
    let per_column = lines.len().div_ceil(columns as usize);
    let h = (per_column as u16 + 2).min(area.height);
    let r = centered(area, outer + 2, h);
    frame.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Keys ", t.style("ui.title")))
        .title_bottom(Span::styled(
            " Rebind any action by name under [keymap] in the config. ",
            t.style("ui.muted"),
        ))
        .border_style(t.style("ui.border_focus"));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let col_width = inner.width / columns;
    for (i, chunk) in lines.chunks(per_column.max(1)).enumerate() {
        let cell = Rect {
            x: inner.x + col_width * i as u16,
            width: col_width,
            ..inner
        };
        frame.render_widget(Paragraph::new(chunk.to_vec()), cell);
    }
}
