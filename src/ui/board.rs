//! The board, the cockpit's home: one row per service, one column per link of its newest
//! candidate's chain, and below it the selected service's chain spelled out, one link per line.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{fit, pad};
use super::{Ctx, layout};
use crate::model::{Candidate, LinkKind, Service};

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    // The table takes what its rows need (up to about half); the chain detail the rest.
    let (top, bottom) = layout::table_over_detail(area, ctx.visible.len(), LinkKind::ALL.len() as u16 + 2);
    table(frame, top, ctx);
    detail(frame, bottom, ctx);
}

/// The newest candidate of a service, if its chain has one.
pub fn newest<'a>(ctx: &Ctx<'a>, service: &Service) -> Option<&'a Candidate> {
    ctx.state.chains.get(&service.name).and_then(|c| c.first())
}

struct Columns {
    name: usize,
    version: usize,
    cell: usize,
}

fn columns(width: usize) -> Columns {
    let n = LinkKind::ALL.len();
    let name = (width / 5).clamp(10, 24);
    let version = 9;
    // Each link column is a space and its cell.
    let cell = (width.saturating_sub(name + version + 1 + n) / n).clamp(3, 7);
    Columns { name, version, cell }
}

fn table(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let title = if ctx.view.filter.is_empty() {
        format!(" Release board ({}) ", ctx.visible.len())
    } else {
        format!(
            " Release board ({}/{}) filter: {} ",
            ctx.visible.len(),
            ctx.state.services.len(),
            ctx.view.filter
        )
    };
    let inner = layout::pane(frame, area, ctx, title, true);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    if ctx.visible.is_empty() {
        let msg = if ctx.state.services.is_empty() {
            "No services configured. Add [[services]] to the config (see config.example.toml)."
        } else {
            "No service matches the filter. Esc clears it."
        };
        frame.render_widget(Paragraph::new(msg).style(t.style("ui.muted")), inner);
        return;
    }
    let width = inner.width as usize;
    let cols = columns(width);
    let column = ctx.view.column.min(LinkKind::ALL.len() - 1);
    let mut head = vec![Span::styled(
        format!("{} {}", pad("Service", cols.name), pad("Version", cols.version)),
        t.style("ui.header"),
    )];
    for (i, kind) in LinkKind::ALL.iter().enumerate() {
        let style = if i == column {
            t.style("ui.header").add_modifier(Modifier::UNDERLINED)
        } else {
            t.style("ui.header")
        };
        head.push(Span::raw(" "));
        head.push(Span::styled(centre(&fit(kind.short(), cols.cell), cols.cell), style));
    }
    let rows = (inner.height as usize).saturating_sub(1);
    let selected = ctx.view.selected.min(ctx.visible.len() - 1);
    let offset = layout::scroll_offset(selected, rows);
    let mut lines = vec![Line::from(head)];
    for (i, s) in ctx.visible.iter().enumerate().skip(offset).take(rows) {
        lines.push(row(ctx, s, &cols, i == selected, column));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `text` centred in `width` columns, leaning left like the glyphs below it.
fn centre(text: &str, width: usize) -> String {
    let w = unicode_width::UnicodeWidthStr::width(text);
    let left = width.saturating_sub(w) / 2;
    pad(&format!("{}{text}", " ".repeat(left)), width)
}

fn row<'a>(ctx: &Ctx, service: &Service, cols: &Columns, selected: bool, column: usize) -> Line<'a> {
    let t = ctx.theme;
    let candidate = newest(ctx, service);
    let version = candidate
        .and_then(|c| c.version.clone())
        .or_else(|| candidate.map(|c| format!("#{}", c.build_number)))
        .unwrap_or_else(|| "—".into());
    let mut spans = vec![
        Span::styled(format!("{} ", pad(&service.name, cols.name)), t.style("ui.text")),
        Span::styled(pad(&version, cols.version), t.style("ui.muted")),
    ];
    for (i, kind) in LinkKind::ALL.iter().enumerate() {
        spans.push(Span::raw(" "));
        let (glyph, style, warned) = match candidate.and_then(|c| c.link(*kind)) {
            Some(link) => {
                let st = link.status.status();
                (st.glyph(), t.style(st.role()), !link.warnings.is_empty())
            }
            None => ("·", t.style("ui.muted"), false),
        };
        // A warning (a stale base image) rides beside the glyph: `✔!`.
        let (mark, right_used) = if warned && cols.cell >= 3 { ("!", 1) } else { ("", 0) };
        // The glyph sits in the middle of its column; the selected cell is bracketed, which
        // reads without colour too.
        let left = (cols.cell.saturating_sub(1)) / 2;
        let right = cols.cell.saturating_sub(left + 1);
        if selected && i == column && left >= 1 && right >= 1 {
            spans.push(Span::raw(" ".repeat(left - 1)));
            spans.push(Span::styled("[", t.style("ui.hint_key")));
            spans.push(Span::styled(glyph.to_string(), style.add_modifier(Modifier::BOLD)));
            spans.push(Span::styled("]", t.style("ui.hint_key")));
            spans.push(Span::styled(mark, t.style("ui.warning")));
            spans.push(Span::raw(" ".repeat((right - 1).saturating_sub(right_used))));
        } else {
            spans.push(Span::raw(" ".repeat(left)));
            spans.push(Span::styled(glyph.to_string(), style));
            spans.push(Span::styled(mark, t.style("ui.warning")));
            spans.push(Span::raw(" ".repeat(right.saturating_sub(right_used))));
        }
    }
    let line = Line::from(spans);
    if selected {
        line.style(t.style("ui.selection"))
    } else {
        line
    }
}

fn detail(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let service = ctx.selected_service();
    let candidate = ctx.selected_candidate();
    let title = match (service, candidate) {
        (Some(s), Some(c)) => {
            let commit = c.commit.as_deref().map(|s| &s[..s.len().min(7)]).unwrap_or("?");
            format!(
                " {} {} · commit {commit} · build #{} ",
                s.name,
                c.version.as_deref().unwrap_or("(no version)"),
                c.build_number
            )
        }
        (Some(s), None) => format!(" {} ", s.name),
        _ => " Chain ".to_string(),
    };
    let inner = layout::pane(frame, area, ctx, title, false);
    if inner.height == 0 {
        return;
    }
    let Some(candidate) = candidate else {
        let msg = match service {
            Some(s) if s.jobs.build.is_none() => "No build job configured: no candidates to follow.",
            Some(_) => "No build seen yet.",
            None => "",
        };
        frame.render_widget(Paragraph::new(msg).style(t.style("ui.muted")), inner);
        return;
    };
    let column = ctx.view.column.min(LinkKind::ALL.len() - 1);
    let width = inner.width as usize;
    let title_w = 18;
    let mut lines: Vec<Line> = candidate
        .links
        .iter()
        .enumerate()
        .take(inner.height as usize)
        .map(|(i, link)| {
            let st = link.status.status();
            let mark = if i == column { "▶" } else { " " };
            let text_style = if i == column {
                t.style("ui.selection")
            } else {
                t.style("ui.text")
            };
            let mut spans = vec![
                Span::styled(mark.to_string(), t.style("ui.hint_key")),
                Span::styled(format!("{} ", st.glyph()), t.style(st.role())),
                Span::styled(pad(link.kind.title(), title_w), text_style),
            ];
            let room = width.saturating_sub(title_w + 4);
            match link.warnings.first() {
                // A warning says more than a passing reason: show it instead, marked.
                Some(w) if link.status == crate::model::LinkStatus::Pass => {
                    spans.push(Span::styled(fit(&format!("⚠ {w}"), room), t.style("ui.warning")));
                }
                _ => spans.push(Span::styled(
                    fit(&link.reason, room),
                    t.style(if link.status == crate::model::LinkStatus::Pass {
                        "ui.muted"
                    } else {
                        "ui.text"
                    }),
                )),
            }
            Line::from(spans)
        })
        .collect();
    // Room left: every candidate of the service, newest first, one glyph per link.
    let all = service
        .and_then(|s| ctx.state.chains.get(&s.name))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let room = (inner.height as usize).saturating_sub(lines.len() + 2);
    if all.len() > 1 && room >= 2 {
        lines.push(Line::raw(""));
        let mut head = format!(" {}{}", pad("Candidates", 26), pad("", 2));
        for kind in LinkKind::ALL {
            head.push_str(&pad(&fit(kind.short(), 5), 6));
        }
        lines.push(Line::from(Span::styled(fit(&head, width), t.style("ui.header"))));
        let picked = ctx.view.candidate.min(all.len() - 1);
        let skip = layout::scroll_offset(picked, room - 1);
        for (i, c) in all.iter().enumerate().skip(skip).take(room - 1) {
            let commit = c.commit.as_deref().map(|s| &s[..s.len().min(7)]).unwrap_or("?");
            let mark = if i == picked { "▸" } else { " " };
            let label = format!(
                "{mark}{} {commit} #{}",
                c.version.as_deref().unwrap_or("—"),
                c.build_number
            );
            let verdict = c.verdict().status();
            let mut spans = vec![
                Span::styled(pad(&label, 26), t.style("ui.text")),
                Span::styled(format!("{} ", verdict.glyph()), t.style(verdict.role())),
                Span::raw(" "),
            ];
            for link in &c.links {
                let st = link.status.status();
                spans.push(Span::styled(pad(st.glyph(), 6), t.style(st.role())));
            }
            lines.push(Line::from(spans));
        }
    }
    // And the repository: protection, open pull requests, the webhook.
    if let Some(repo) = service.and_then(|s| ctx.state.repos.get(&s.name)) {
        let room = (inner.height as usize).saturating_sub(lines.len() + 1);
        if room >= 3 {
            lines.push(Line::raw(""));
            let repo_lines = super::repo::lines(ctx, repo, width, room.saturating_sub(3).max(1));
            lines.extend(repo_lines.into_iter().take(room));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
