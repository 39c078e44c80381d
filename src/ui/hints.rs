//! The hint bar: the keys that apply here. Actions that cannot run are shown greyed, not hidden.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Ctx, Mode, Screen};
use crate::actions::Confirm;
use crate::config::KeyAction as A;
use crate::model::Status;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let key = |k: &str| Span::styled(k.to_string(), t.style("ui.hint_key"));
    let text = |s: &str| Span::styled(format!(" {s}  "), t.style("ui.hint"));
    let spans: Vec<Span> = match &ctx.view.mode {
        Mode::Filter { input } => vec![
            Span::styled(format!("/{input}"), t.style("ui.text")),
            Span::styled("█", t.style("ui.hint_key")),
            text("  type to filter · ! inverts"),
            key("Enter"),
            text("keep"),
            key("Esc"),
            text("clear"),
        ],
        Mode::Help => vec![key("Esc"), text("close help")],
        Mode::Explain(_) => vec![
            key(&ctx.keymap.hint(A::OpenEvidence)),
            text("open evidence"),
            key("←→"),
            text("link"),
            key("↑↓"),
            text("service"),
            key("Esc"),
            text("close"),
        ],
        Mode::Form(_) => vec![
            key("Tab/↑↓"),
            text("field"),
            key("←→"),
            text("choice"),
            key("Enter"),
            text("review plan"),
            key("Esc"),
            text("cancel"),
        ],
        Mode::Confirm(c) => match (&c.refused, &c.plan.confirm) {
            (Some(_), _) => vec![key("Esc"), text("close")],
            (None, Confirm::TypeName(name)) => vec![
                text(&format!("type {name} then")),
                key("Enter"),
                text("execute"),
                key("Esc"),
                text("cancel"),
            ],
            (None, Confirm::Yes) => vec![key("Enter/y"), text("execute"), key("Esc/n"), text("cancel")],
        },
        Mode::LogSearch { input } => vec![
            Span::styled(format!("/{input}"), t.style("ui.text")),
            Span::styled("█", t.style("ui.hint_key")),
            text("  regex · all lower case ignores case"),
            key("Enter"),
            text("search"),
            key("Esc"),
            text("cancel"),
        ],
        Mode::Normal if ctx.view.log.is_some() => log_hints(ctx, area.width as usize),
        Mode::Normal => normal(ctx, area.width as usize),
    };
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn normal<'a>(ctx: &Ctx, width: usize) -> Vec<Span<'a>> {
    let t = ctx.theme;
    let build = ctx.selected_build().map(|(_, _, b)| b);
    let waiting = build.is_some_and(|b| !b.pending_inputs.is_empty());
    let running = build.is_some_and(|b| matches!(b.status, Status::Running | Status::Paused));
    let can_act = !ctx.view.read_only;
    let reject_label = if waiting { "reject" } else { "abort" };
    let board = ctx.view.screen == Screen::Board;
    let open_label = match ctx.view.screen {
        Screen::Pipelines => "open",
        _ => "explain",
    };
    let next_screen = match ctx.view.screen {
        Screen::Board => (A::ShowPipelines, "pipelines"),
        Screen::Pipelines => (A::ShowQuality, "quality"),
        Screen::Quality => (A::ShowImages, "images"),
        Screen::Images => (A::ShowDeploy, "deploy"),
        Screen::Deploy => (A::ShowInbox, "inbox"),
        Screen::Inbox => (A::ShowBoard, "board"),
    };
    let releases = matches!(ctx.view.screen, Screen::Board | Screen::Images | Screen::Deploy);
    let inbox = ctx.view.screen == Screen::Inbox;
    let waiting = waiting || (inbox && !ctx.inbox().is_empty());
    let items: Vec<(A, &str, bool)> = vec![
        (A::MoveDown, "move", true),
        (A::ColumnRight, "link", board),
        (A::Open, open_label, true),
        (A::OpenEvidence, "evidence", true),
        (A::OpenLog, "log", ctx.selected_build().is_some()),
        (next_screen.0, next_screen.1, true),
        (A::TriggerBuild, "build", can_act),
        (A::Promote, "promote", can_act && releases),
        (A::Rollback, "rollback", can_act && releases),
        (A::Restart, "restart", can_act && ctx.view.screen == Screen::Deploy),
        (A::Deploy, "deploy", can_act),
        (A::Approve, "approve", can_act && waiting),
        (A::Reject, reject_label, can_act && (waiting || running)),
        (A::NextEnvironment, "env", true),
        (A::Filter, "filter", true),
        (A::RefreshAll, "refresh", true),
        (A::Help, "help", true),
        (A::Quit, "quit", true),
    ];
    // When the line is too narrow, drop the least important hints first; help and quit stay.
    const PRIORITY: [A; 23] = [
        A::Help,
        A::Quit,
        A::Approve,
        A::Reject,
        A::Promote,
        A::Rollback,
        A::TriggerBuild,
        A::MoveDown,
        A::Open,
        A::OpenLog,
        A::ColumnRight,
        A::OpenEvidence,
        A::ShowBoard,
        A::ShowPipelines,
        A::ShowQuality,
        A::Deploy,
        A::NextEnvironment,
        A::Filter,
        A::RefreshAll,
        A::ShowImages,
        A::Restart,
        A::ShowDeploy,
        A::ShowInbox,
    ];
    let rendered: Vec<(A, Vec<Span>)> = items
        .into_iter()
        .filter(|(action, _, enabled)| *action != A::ColumnRight || *enabled)
        .map(|(action, label, enabled)| {
            let k = if action == A::MoveDown {
                format!("{}/{}", ctx.keymap.hint(A::MoveDown), ctx.keymap.hint(A::MoveUp))
            } else if action == A::ColumnRight {
                let arrows = |k: String| k.replace("Left", "←").replace("Right", "→");
                format!(
                    "{}{}",
                    arrows(ctx.keymap.hint(A::ColumnLeft)),
                    arrows(ctx.keymap.hint(A::ColumnRight))
                )
            } else {
                ctx.keymap.hint(action)
            };
            let spans = if enabled {
                vec![
                    Span::styled(k, t.style("ui.hint_key")),
                    Span::styled(format!(" {label}  "), t.style("ui.hint")),
                ]
            } else {
                vec![
                    Span::styled(format!("{k} {label}"), t.style("ui.disabled")),
                    Span::raw("  "),
                ]
            };
            (action, spans)
        })
        .collect();
    let mut budget = width;
    let mut keep = Vec::new();
    for p in PRIORITY {
        if let Some((_, spans)) = rendered.iter().find(|(a, _)| *a == p) {
            let w: usize = spans.iter().map(|s| s.width()).sum();
            if w <= budget {
                budget -= w;
                keep.push(p);
            }
        }
    }
    let mut spans = Vec::new();
    for (action, item) in rendered {
        if keep.contains(&action) {
            spans.extend(item);
        }
    }
    spans
}

/// Keys of the open log, most useful first; what does not fit is left out.
fn log_hints<'a>(ctx: &Ctx, width: usize) -> Vec<Span<'a>> {
    let t = ctx.theme;
    let (searching, tail) = ctx
        .view
        .log
        .as_ref()
        .and_then(|l| {
            l.doc.lock().ok().map(|d| {
                (
                    d.search.is_some(),
                    matches!(d.origin, crate::logview::Origin::NodeTail { .. }),
                )
            })
        })
        .unwrap_or((false, false));
    let k = |a: A| ctx.keymap.hint(a);
    let mut items: Vec<(String, &str)> = vec![
        (
            format!("{}/{}", k(A::NextHit), k(A::PrevHit)),
            if searching {
                "next/prev match"
            } else {
                "next/prev error"
            },
        ),
        (k(A::Filter), "search"),
        (k(A::CopyLine), "copy"),
        (k(A::WriteLog), "write file"),
    ];
    if tail {
        items.push((k(A::FullLog), "whole console"));
    }
    items.extend([
        (format!("{}/{}", k(A::MoveDown), k(A::MoveUp)), "move"),
        (format!("{}/{}", k(A::LogTop), k(A::LogBottom)), "top/end"),
        (k(A::Back), if searching { "clear search" } else { "close" }),
    ]);
    let mut spans = Vec::new();
    let mut budget = width;
    for (key, label) in items {
        let w = key.chars().count() + label.chars().count() + 3;
        if w > budget {
            break;
        }
        budget -= w;
        spans.push(Span::styled(key, t.style("ui.hint_key")));
        spans.push(Span::styled(format!(" {label}  "), t.style("ui.hint")));
    }
    spans
}
