//! The explanation of one link: its status and reason, the thresholds against the actual values,
//! what else is worth knowing, and the evidence URL (printed whole, so it can be copied over SSH).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::format::pad;
use super::popup::centered;
use super::{Ctx, Explain};
use crate::model::{Link, LinkKind, policy};

/// The link an explanation is about, if the service still has a candidate.
pub fn link_of<'a>(ctx: &Ctx<'a>, e: &Explain) -> Option<&'a Link> {
    let chain = ctx.state.chains.get(&e.service)?;
    let picked = match ctx.selected_service() {
        Some(s) if s.name == e.service => chain.get(ctx.view.candidate),
        _ => None,
    };
    picked.or(chain.first())?.link(e.kind)
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx, e: &Explain) {
    let t = ctx.theme;
    let width = area.width.saturating_sub(4).min(100);
    let inner_w = width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    match link_of(ctx, e) {
        None => lines.push(Line::from(Span::styled(
            "This service has no candidate any more.",
            t.style("ui.muted"),
        ))),
        Some(link) => {
            let st = link.status.status();
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{} {}", st.glyph(), link.status.label().to_uppercase()),
                    t.style(st.role()),
                ),
                Span::raw("  "),
                Span::styled(link.reason.clone(), t.style("ui.text")),
            ]));
            if !link.checks.is_empty() {
                lines.push(Line::raw(""));
                lines.push(Line::from(Span::styled(
                    format!("{}{}{}", pad("threshold", 20), pad("required", 14), "actual"),
                    t.style("ui.header"),
                )));
                for c in &link.checks {
                    let cs = c.status.status();
                    let actual = c
                        .actual
                        .map(|a| policy::number(a, &c.unit))
                        .unwrap_or_else(|| "no value".into());
                    lines.push(Line::from(vec![
                        Span::styled(pad(&c.label, 20), t.style("ui.text")),
                        Span::styled(
                            pad(
                                &format!("{} {}", c.bound.symbol(), policy::number(c.threshold, &c.unit)),
                                14,
                            ),
                            t.style("ui.muted"),
                        ),
                        Span::styled(format!("{actual} "), t.style("ui.text")),
                        Span::styled(cs.glyph().to_string(), t.style(cs.role())),
                    ]));
                }
            }
            for w in &link.warnings {
                lines.push(Line::from(Span::styled(format!("⚠ {w}"), t.style("ui.warning"))));
            }
            if !link.notes.is_empty() {
                lines.push(Line::raw(""));
                for n in &link.notes {
                    lines.push(Line::from(Span::styled(format!("· {n}"), t.style("ui.muted"))));
                }
            }
            if e.kind == LinkKind::PullRequest
                && let Some(repo) = ctx.state.repos.get(&e.service)
            {
                lines.push(Line::raw(""));
                lines.extend(super::repo::lines(ctx, repo, inner_w, 5));
            }
            lines.push(Line::raw(""));
            match &link.evidence {
                Some(url) => {
                    let label = if e.show_url {
                        "Evidence (no browser here: select and copy):"
                    } else {
                        "Evidence:"
                    };
                    lines.push(Line::from(Span::styled(label, t.style("ui.header"))));
                    lines.push(Line::from(Span::styled(
                        url.clone(),
                        t.style(if e.show_url { "ui.hint_key" } else { "ui.text" }),
                    )));
                }
                None => lines.push(Line::from(Span::styled("No evidence link.", t.style("ui.muted")))),
            }
        }
    }
    // Height from the wrapped text, within the screen.
    let text_rows: usize = lines.iter().map(|l| l.width().div_ceil(inner_w.max(1)).max(1)).sum();
    let height = (text_rows as u16 + 2).min(area.height.saturating_sub(2));
    let rect = centered(area, width, height);
    let title = format!(" {} · {} ", e.service, e.kind.title());
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, t.style("ui.title")))
        .border_style(t.style("ui.border_focus"));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .style(t.style("ui.popup"))
            .wrap(Wrap { trim: false }),
        rect,
    );
}
