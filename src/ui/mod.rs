//! Panes and widgets. Everything here reads `&State` and `&View` and draws; no I/O, no clock but
//! the `now` passed in.

mod board;
mod build;
mod deploy;
mod explain;
mod format;
mod header;
mod help;
mod hints;
mod images;
mod inbox;
mod layout;
pub mod log;
mod popup;
mod quality;
mod repo;
pub mod select;
mod services;
mod status;
mod view;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

pub use format::{age, duration};
pub use select::{selected_build, selected_service, visible_services};
pub use view::{ConfirmState, Explain, Form, FormField, Mode, Pane, Screen, View};

use crate::config::{Keymap, Theme};
use crate::model::{Service, State};

/// Below this the cockpit says so instead of drawing a mangled screen.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// From this width the build pane sits beside the services pane instead of below it.
const SIDE_BY_SIDE: u16 = 110;

pub struct Ctx<'a> {
    pub state: &'a State,
    pub view: &'a View,
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
    pub now: DateTime<Utc>,
    /// The services the filter lets through, computed once per frame for every pane.
    pub visible: Vec<&'a Service>,
    /// What waits for a human, computed at most once per frame (the inbox and its hints).
    inbox: std::cell::OnceCell<Vec<crate::model::inbox::InboxItem>>,
}

impl<'a> Ctx<'a> {
    pub fn new(state: &'a State, view: &'a View, theme: &'a Theme, keymap: &'a Keymap, now: DateTime<Utc>) -> Self {
        let visible = visible_services(state, &view.filter);
        Ctx {
            state,
            view,
            theme,
            keymap,
            now,
            visible,
            inbox: std::cell::OnceCell::new(),
        }
    }

    pub fn inbox(&self) -> &[crate::model::inbox::InboxItem] {
        self.inbox.get_or_init(|| crate::model::inbox::inbox(self.state))
    }

    pub fn selected_service(&self) -> Option<&'a Service> {
        select::selected_in(&self.visible, self.view)
    }

    /// The candidate the board details and `p` promotes: the one the operator picked with `[`/`]`,
    /// else the newest.
    pub fn selected_candidate(&self) -> Option<&'a crate::model::Candidate> {
        let chain = self.state.chains.get(&self.selected_service()?.name)?;
        chain.get(self.view.candidate).or(chain.first())
    }

    pub fn selected_build(&self) -> Option<(&'a Service, &'a crate::model::Job, &'a crate::model::Build)> {
        select::shown_build(self.state, self.selected_service()?, self.view)
    }
}

pub fn draw(frame: &mut Frame, ctx: &Ctx) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = vec![
            Line::from("Terminal too small"),
            Line::from(format!(
                "{}x{} — Flightdeck needs at least {MIN_WIDTH}x{MIN_HEIGHT}",
                area.width, area.height
            )),
            Line::from("q quits"),
        ];
        frame.render_widget(Paragraph::new(msg).style(ctx.theme.style("ui.warning")), area);
        return;
    }
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(5),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(area);
    header::draw(frame, rows[0], ctx);
    match &ctx.view.log {
        Some(session) => match session.doc.lock() {
            Ok(doc) => log::draw(frame, rows[1], ctx, &doc),
            Err(poisoned) => log::draw(frame, rows[1], ctx, &poisoned.into_inner()),
        },
        None => draw_main(frame, rows[1], ctx),
    }
    status::draw(frame, rows[2], ctx);
    hints::draw(frame, rows[3], ctx);
    match &ctx.view.mode {
        Mode::Help => help::draw(frame, area, ctx),
        Mode::Form(form) => popup::draw_form(frame, area, ctx, form),
        Mode::Confirm(confirm) => popup::draw_confirm(frame, area, ctx, confirm),
        Mode::Explain(e) => explain::draw(frame, area, ctx, e),
        Mode::Normal | Mode::Filter { .. } | Mode::LogSearch { .. } => {}
    }
}

fn draw_main(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    match ctx.view.screen {
        Screen::Board => board::draw(frame, area, ctx),
        Screen::Quality => quality::draw(frame, area, ctx),
        Screen::Images => images::draw(frame, area, ctx),
        Screen::Deploy => deploy::draw(frame, area, ctx),
        Screen::Inbox => inbox::draw(frame, area, ctx, ctx.inbox()),
        Screen::Pipelines => draw_pipelines(frame, area, ctx),
    }
}

fn draw_pipelines(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let split = if area.width >= SIDE_BY_SIDE {
        Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(62), Constraint::Percentage(38)])
            .split(area)
    } else {
        // Stacked: the services pane takes what its rows need (up to half), the build pane the rest.
        let rows = ctx.visible.len() as u16 + 2;
        let top = rows.clamp(5, (area.height / 2).max(5));
        Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Length(top), Constraint::Min(3)])
            .split(area)
    };
    services::draw(frame, split[0], ctx);
    build::draw(frame, split[1], ctx);
}

/// Render one frame into a plain-text screen (used by `flightdeck snapshot`).
pub fn render_to_text(ctx: &Ctx, width: u16, height: u16) -> String {
    let backend = ratatui::backend::TestBackend::new(width, height);
    let mut terminal = match ratatui::Terminal::new(backend) {
        Ok(t) => t,
        Err(e) => return format!("cannot render: {e}"),
    };
    if let Err(e) = terminal.draw(|f| draw(f, ctx)) {
        return format!("cannot render: {e}");
    }
    buffer_text(terminal.backend().buffer())
}

pub fn buffer_text(buffer: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    let area = buffer.area;
    for y in 0..area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let cell = &buffer[(x, y)];
            let sym = cell.symbol();
            line.push_str(sym);
            let w = unicode_width::UnicodeWidthStr::width(sym);
            if w > 1 {
                skip = w - 1;
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
