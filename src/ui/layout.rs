//! Pieces of layout the panes share: a titled bordered pane, a table over its detail, and
//! keeping the selection on screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders};

use super::Ctx;

/// Draw a bordered pane with its title and return the area inside it.
pub fn pane(frame: &mut Frame, area: Rect, ctx: &Ctx, title: String, focused: bool) -> Rect {
    let t = ctx.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, t.style("ui.title")))
        .border_style(t.style(if focused { "ui.border_focus" } else { "ui.border" }));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// A table of `rows` rows (plus heading and borders) over a detail pane that wants `detail_h`
/// lines; the table gets what its rows need, but leaves the detail at least its share.
pub fn table_over_detail(area: Rect, rows: usize, detail_h: u16) -> (Rect, Rect) {
    let detail_h = detail_h.min(area.height / 2);
    let table_h = (rows as u16 + 3).clamp(4, area.height.saturating_sub(detail_h).max(4));
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Length(table_h), Constraint::Min(3)])
        .split(area);
    (parts[0], parts[1])
}

/// The first row to draw so that `selected` is inside a window of `rows` rows.
pub fn scroll_offset(selected: usize, rows: usize) -> usize {
    if rows > 0 && selected >= rows {
        selected + 1 - rows
    } else {
        0
    }
}
