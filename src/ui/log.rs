//! The log view: a title saying which text this is (a tail or the whole console), a summary of the
//! errors by kind, and the window of lines with the current one marked, errors flagged and search
//! matches highlighted.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Ctx;
use crate::logview::text::{AnsiColor, AnsiStyle};
use crate::logview::{LogDoc, Origin, ShownLine};
use crate::model::human_size as human_bytes;

/// Rows the log's own header takes (title and summary).
const HEADER_ROWS: u16 = 2;

/// How many log lines fit when the terminal has `height` rows (header, status and hint bars
/// included), so the session reads exactly a screenful.
pub fn body_rows(height: u16) -> usize {
    height.saturating_sub(3 + HEADER_ROWS).max(1) as usize
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx, doc: &LogDoc) {
    if area.height < 3 {
        return;
    }
    let t = ctx.theme;
    let width = area.width as usize;
    let title = title_line(doc, ctx);
    frame.render_widget(Paragraph::new(title), Rect { height: 1, ..area });
    frame.render_widget(
        Paragraph::new(summary_line(doc, ctx, width)),
        Rect {
            y: area.y + 1,
            height: 1,
            ..area
        },
    );
    let body = Rect {
        y: area.y + HEADER_ROWS,
        height: area.height - HEADER_ROWS,
        ..area
    };
    if doc.lines.is_empty() {
        let msg = if let Some(p) = &doc.problem {
            Span::styled(format!("cannot read the log: {p}"), t.style("ui.error"))
        } else if doc.loading {
            Span::styled("reading the log…", t.style("ui.muted"))
        } else {
            Span::styled("the log is empty", t.style("ui.muted"))
        };
        frame.render_widget(Paragraph::new(Line::from(msg)), body);
        return;
    }
    let gutter = doc
        .lines
        .iter()
        .filter_map(|l| l.number)
        .max()
        .map_or(1, |n| n.to_string().len())
        .max(4);
    let lines: Vec<Line> = doc
        .lines
        .iter()
        .take(body.height as usize)
        .map(|l| render_line(l, doc, ctx, gutter))
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}

fn title_line<'a>(doc: &'a LogDoc, ctx: &Ctx) -> Line<'a> {
    let t = ctx.theme;
    let mut spans = vec![Span::styled(format!(" {} ", doc.title), t.style("ui.title"))];
    // What this text is comes first: a long step description may not fit, the TAIL mark must.
    let (what, step) = match &doc.origin {
        Origin::Opening => ("opening…".to_string(), None),
        Origin::NodeTail {
            step,
            length,
            truncated: true,
        } => (
            format!(
                "TAIL: the last {} of {} (f: whole console)",
                human_bytes(doc.size),
                human_bytes(*length)
            ),
            Some(step),
        ),
        Origin::NodeTail { step, .. } => ("the step's whole log (f: whole console)".to_string(), Some(step)),
        Origin::Console => {
            let state = if doc.complete {
                String::new()
            } else if doc.following {
                " · following".to_string()
            } else {
                " · still running (G follows)".to_string()
            };
            (format!("console · {}{state}", human_bytes(doc.size)), None)
        }
    };
    let tail = matches!(doc.origin, Origin::NodeTail { truncated: true, .. });
    spans.push(Span::styled(
        what,
        if tail {
            t.style("ui.warning")
        } else {
            t.style("ui.muted")
        },
    ));
    if let Some(p) = &doc.problem {
        spans.push(Span::styled(format!("  ⚠ {p}"), t.style("ui.error")));
    }
    if let Some(step) = step {
        spans.push(Span::styled(format!(" · {step}"), t.style("ui.muted")));
    }
    Line::from(spans)
}

fn summary_line<'a>(doc: &'a LogDoc, ctx: &Ctx, width: usize) -> Line<'a> {
    let t = ctx.theme;
    let position = match doc.current().and_then(|l| l.number) {
        _ if doc.notice.is_some() => doc.notice.clone().unwrap_or_default(),
        Some(n) if doc.errors_done => format!("line {n} of {}", doc.errors.lines.max(n)),
        Some(n) => format!("line {n}"),
        None if doc.size > 0 => format!("byte {} of {}", doc.cursor, doc.size),
        None => String::new(),
    };
    let position_width = Span::raw(position.as_str()).width();
    // The counts per kind go first when the line is short of room: where the operator is, and
    // how far the scan has got, matter more on a narrow screen.
    for with_kinds in [true, false] {
        let mut spans = summary_counts(doc, ctx, with_kinds);
        let used: usize = spans.iter().map(Span::width).sum();
        if used + position_width + 3 < width {
            spans.push(Span::raw(" ".repeat(width - used - position_width - 1)));
            let role = if doc.notice.is_some() { "ui.warning" } else { "ui.muted" };
            spans.push(Span::styled(position, t.style(role)));
            return Line::from(spans);
        }
    }
    match &doc.notice {
        // No room beside the counts: the notice matters more than they do.
        Some(n) => Line::from(Span::styled(format!(" {n}"), t.style("ui.warning"))),
        None => Line::from(summary_counts(doc, ctx, false)),
    }
}

/// The error counts (per kind when `with_kinds`), the scan's progress and the search's.
fn summary_counts<'a>(doc: &LogDoc, ctx: &Ctx, with_kinds: bool) -> Vec<Span<'a>> {
    let t = ctx.theme;
    let mut spans = Vec::new();
    let summary = doc.summary();
    if summary.is_empty() {
        let text = if doc.errors_done {
            " ✔ no errors recognised".to_string()
        } else {
            format!(" scanning for errors… {}%", doc.scanned_percent())
        };
        spans.push(Span::styled(text, t.style("ui.muted")));
    } else {
        let total = doc.errors.total;
        if with_kinds {
            spans.push(Span::styled(format!(" ✖ {total} error lines: "), t.style("log.error")));
            let parts: Vec<String> = summary.iter().map(|(k, n)| format!("{n} {k}")).collect();
            spans.push(Span::styled(parts.join(" · "), t.style("ui.text")));
        } else {
            spans.push(Span::styled(format!(" ✖ {total} error lines"), t.style("log.error")));
        }
        if !doc.errors_done {
            spans.push(Span::styled(
                format!(" (scanning {}%)", doc.scanned_percent()),
                t.style("ui.muted"),
            ));
        }
    }
    if let Some(s) = &doc.search {
        let state = if s.done {
            String::new()
        } else {
            let pct = (s.found.scanned.min(doc.size) * 100).checked_div(doc.size).unwrap_or(0);
            format!(" (searching {pct}%)")
        };
        spans.push(Span::styled(
            format!("   /{}/ {} matches{state}", s.pattern, s.found.total),
            t.style("ui.title"),
        ));
    }
    spans
}

fn render_line<'a>(line: &'a ShownLine, doc: &LogDoc, ctx: &Ctx, gutter: usize) -> Line<'a> {
    let t = ctx.theme;
    let current = line.offset == doc.cursor;
    let number = line
        .number
        .map_or_else(|| " ".repeat(gutter), |n| format!("{n:>gutter$}"));
    let marker = match line.error {
        Some(_) => Span::styled("✖ ", t.style("log.error")),
        None if current => Span::styled("▶ ", t.style("ui.title")),
        None => Span::raw("  "),
    };
    let mut spans = vec![Span::styled(format!("{number} "), t.style("log.gutter")), marker];
    let matches = &line.matches;
    let mut at = 0usize;
    for run in &line.text.runs {
        let base = if t.colorless {
            Style::default()
        } else {
            ansi_style(run.style)
        };
        let base = if line.error.is_some() && run.style == AnsiStyle::default() {
            base.patch(t.style("log.error").remove_modifier(Modifier::BOLD))
        } else {
            base
        };
        let end = at + run.text.len();
        // Split the run where matches start and end.
        let mut pos = at;
        for &(s, e) in matches {
            if e <= pos || s >= end {
                continue;
            }
            let s = s.max(pos);
            let e = e.min(end);
            // A pattern that matches inside a character (`(?-u)`) is not highlighted.
            let (Some(before), Some(hit)) = (run.text.get(pos - at..s - at), run.text.get(s - at..e - at)) else {
                continue;
            };
            if !before.is_empty() {
                spans.push(Span::styled(before.to_string(), base));
            }
            spans.push(Span::styled(hit.to_string(), t.style("log.match")));
            pos = e;
        }
        if let Some(rest) = run.text.get(pos - at..)
            && !rest.is_empty()
        {
            spans.push(Span::styled(rest.to_string(), base));
        }
        at = end;
    }
    let mut out = Line::from(spans);
    if current {
        out = out.patch_style(t.style("log.current"));
    }
    out
}

fn ansi_style(s: AnsiStyle) -> Style {
    let mut style = Style::default();
    if let Some(c) = s.fg {
        style = style.fg(color(c));
    }
    if let Some(c) = s.bg {
        style = style.bg(color(c));
    }
    if s.bold {
        style = style.add_modifier(Modifier::BOLD);
    }
    if s.dim {
        style = style.add_modifier(Modifier::DIM);
    }
    if s.italic {
        style = style.add_modifier(Modifier::ITALIC);
    }
    if s.underline {
        style = style.add_modifier(Modifier::UNDERLINED);
    }
    style
}

fn color(c: AnsiColor) -> Color {
    match c {
        AnsiColor::Indexed(n) => match n {
            0 => Color::Black,
            1 => Color::Red,
            2 => Color::Green,
            3 => Color::Yellow,
            4 => Color::Blue,
            5 => Color::Magenta,
            6 => Color::Cyan,
            7 => Color::Gray,
            8 => Color::DarkGray,
            9 => Color::LightRed,
            10 => Color::LightGreen,
            11 => Color::LightYellow,
            12 => Color::LightBlue,
            13 => Color::LightMagenta,
            14 => Color::LightCyan,
            15 => Color::White,
            n => Color::Indexed(n),
        },
        AnsiColor::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}
