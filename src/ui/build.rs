//! The build pane: the selected service's build, stage by stage, why it failed, and what it waits for.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::format::{age, duration, fit, pad};
use super::{Ctx, Pane};
use crate::model::{Cause, Status};

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let focused = ctx.view.focus == Pane::Build;
    let selected = ctx.selected_build();
    let title = match &selected {
        Some((service, _, build)) => format!(" {} #{} ", service.name, build.number),
        None => match ctx.selected_service() {
            Some(s) => format!(" {} ", s.name),
            None => " Build ".to_string(),
        },
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, t.style("ui.title")))
        .border_style(t.style(if focused { "ui.border_focus" } else { "ui.border" }));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some((_, job, build)) = selected else {
        let msg = match ctx.selected_service() {
            Some(s) if s.jobs.build.is_none() => "This service has no build job in the config.",
            Some(_) => "No build seen yet.",
            None => "",
        };
        frame.render_widget(Paragraph::new(msg).style(t.style("ui.muted")), inner);
        return;
    };
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();

    // Summary.
    let status = if build.pending_inputs.is_empty() {
        build.status
    } else {
        Status::Paused
    };
    let timing = if build.status.is_active() {
        let elapsed = ctx.now.timestamp_millis() - build.timestamp_ms;
        let est = build
            .estimated_duration_ms
            .map(|e| format!(" of ~{}", duration(e)))
            .unwrap_or_default();
        format!(" · {}{est}", duration(elapsed))
    } else {
        format!(" · took {}", duration(build.duration_ms))
    };
    let mut summary = vec![
        Span::styled(format!("{} {}", status.glyph(), status.label()), t.style(status.role())),
        Span::styled(timing, t.style("ui.muted")),
    ];
    let ago = format!(" · {} ago", age(build.timestamp_ms, ctx.now));
    if summary.iter().map(|s| s.width()).sum::<usize>() + ago.chars().count() <= width {
        summary.push(Span::styled(ago, t.style("ui.muted")));
    }
    lines.push(Line::from(summary));
    let cause = build.causes.iter().map(describe_cause).collect::<Vec<_>>().join("; ");
    if !cause.is_empty() {
        lines.push(Line::from(Span::styled(
            fit(&format!("cause   {cause}"), width),
            t.style("ui.text"),
        )));
    }
    if let Some(sha) = &build.commit {
        let short = &sha[..sha.len().min(10)];
        let branch = build
            .branch
            .as_deref()
            .map(|b| format!(" on {}", short_branch(b)))
            .unwrap_or_default();
        lines.push(Line::from(Span::styled(
            fit(&format!("commit  {short}{branch}"), width),
            t.style("ui.text"),
        )));
    }
    if let Some(tc) = &build.tests {
        let style = if tc.failed > 0 {
            t.style("status.failed")
        } else {
            t.style("status.ok")
        };
        lines.push(Line::from(vec![
            Span::styled("tests   ", t.style("ui.text")),
            Span::styled(
                {
                    // Jenkins reports no pass count: passed = total − failed − skipped.
                    let short = format!("{} passed, {} failed, {} skipped", tc.passed(), tc.failed, tc.skipped);
                    let long = format!("{short} of {}", tc.total);
                    if long.chars().count() + 8 <= width { long } else { short }
                },
                style,
            ),
        ]));
    }
    // The service's deploy job, so a deploy started from here can be watched from here.
    if let Some(service) = ctx.selected_service()
        && let Some(deploy) = service.jobs.deploy.as_ref().and_then(|j| ctx.state.jobs.get(j))
        && let Some(d) = deploy.latest()
    {
        let env = d
            .parameters
            .iter()
            .find(|(k, _)| k.to_ascii_lowercase().contains("env"))
            .map(|(_, v)| format!(" to {v}"))
            .unwrap_or_default();
        let current = d.current_stage().map(|s| format!(" · {}", s.name)).unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled("deploy  ", t.style("ui.text")),
            Span::styled(
                fit(
                    &format!(
                        "{} #{}{env} {}{current} · {} ago",
                        d.status.glyph(),
                        d.number,
                        d.status.label(),
                        age(d.timestamp_ms, ctx.now)
                    ),
                    width.saturating_sub(8),
                ),
                t.style(d.status.role()),
            ),
        ]));
    }
    if !build.parameters.is_empty() {
        let params = build
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        lines.push(Line::from(Span::styled(
            fit(&format!("params  {params}"), width),
            t.style("ui.muted"),
        )));
    }

    // Pending input: the thing a human must act on, so it comes before the stage list.
    for input in &build.pending_inputs {
        lines.push(Line::from(""));
        lines.push(Line::from(vec![Span::styled(
            format!("⏸ {}", input.message),
            t.style("status.paused"),
        )]));
        let who = match &input.submitter {
            Some(s) => format!("Jenkins allows only: {s}"),
            None => "Jenkins does not say who may approve".into(),
        };
        lines.push(Line::from(Span::styled(
            fit(&format!("  input id {} · {who}", input.id), width),
            t.style("ui.muted"),
        )));
        if ctx.view.read_only {
            lines.push(Line::from(Span::styled(
                "  read-only: approval disabled",
                t.style("ui.disabled"),
            )));
        } else {
            lines.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(
                    ctx.keymap.hint(crate::config::KeyAction::Approve),
                    t.style("ui.hint_key"),
                ),
                Span::styled(
                    format!(" {}  ", input.proceed_text.as_deref().unwrap_or("approve")),
                    t.style("ui.text"),
                ),
                Span::styled(
                    ctx.keymap.hint(crate::config::KeyAction::Reject),
                    t.style("ui.hint_key"),
                ),
                Span::styled(" reject", t.style("ui.text")),
            ]));
        }
    }

    // Stages. When they do not all fit (80x24), the leading passed stages fold into one line so
    // the stage that failed, runs or waits is always on screen.
    if !build.stages.is_empty() {
        lines.push(Line::from(""));
        let errors = build.stages.iter().filter(|s| s.error.is_some()).count();
        let room = (inner.height as usize).saturating_sub(lines.len() + 2);
        let leading_ok = build.stages.iter().take_while(|s| s.status == Status::Ok).count();
        let fold = if build.stages.len() + errors > room && leading_ok > 1 {
            (build.stages.len() + errors + 1)
                .saturating_sub(room)
                .clamp(2, leading_ok)
        } else {
            0
        };
        if fold > 0 {
            let first = &build.stages[0].name;
            let last = &build.stages[fold - 1].name;
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", Status::Ok.glyph()), t.style(Status::Ok.role())),
                Span::styled(
                    fit(
                        &format!("{fold} stages passed: {first} … {last}"),
                        width.saturating_sub(2),
                    ),
                    t.style("ui.muted"),
                ),
            ]));
        }
        for stage in &build.stages[fold..] {
            let d = if stage.status.is_active() && stage.duration_ms == 0 {
                duration(ctx.now.timestamp_millis() - stage.start_ms)
            } else {
                duration(stage.duration_ms)
            };
            let name_w = width.saturating_sub(12).max(8);
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", stage.status.glyph()), t.style(stage.status.role())),
                Span::styled(pad(&stage.name, name_w), t.style("ui.text")),
                Span::styled(format!("{d:>8}"), t.style("ui.muted")),
            ]));
            if let Some(err) = &stage.error {
                let kind = err.kind.rsplit('.').next().unwrap_or("");
                lines.push(Line::from(Span::styled(
                    fit(&format!("  ✖ {} ({kind})", err.message), width),
                    t.style("status.failed"),
                )));
            }
        }
    } else if job.kind == crate::model::JobKind::Freestyle {
        lines.push(Line::from(Span::styled(
            "freestyle job: no stages",
            t.style("ui.muted"),
        )));
    }

    // Recent builds, for context (the selected one marked).
    if job.builds.len() > 1 {
        lines.push(Line::from(""));
        let recent: Vec<Span> = job
            .builds
            .iter()
            .take(8)
            .enumerate()
            .flat_map(|(i, b)| {
                let mark = if i == ctx.view.build_index.min(job.builds.len() - 1) {
                    "▸"
                } else {
                    " "
                };
                [
                    Span::raw(mark),
                    Span::styled(format!("{}#{}", b.status.glyph(), b.number), t.style(b.status.role())),
                    Span::raw(" "),
                ]
            })
            .collect();
        lines.push(Line::from(recent));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn describe_cause(c: &Cause) -> String {
    match c {
        Cause::GithubPush { user } => format!(
            "GitHub push{}",
            user.as_ref().map(|u| format!(" by {u}")).unwrap_or_default()
        ),
        Cause::ScmPoll => "SCM poll found a change".into(),
        Cause::Timer => "timer".into(),
        Cause::User { id, name } => {
            format!("user {}", name.as_deref().or(id.as_deref()).unwrap_or("?"))
        }
        Cause::Upstream { project, build } => {
            format!(
                "upstream {project}{}",
                build.map(|b| format!(" #{b}")).unwrap_or_default()
            )
        }
        Cause::Remote { description } | Cause::BranchEvent { description } | Cause::Other { description } => {
            description.clone()
        }
    }
}

/// `refs/remotes/origin/master` and `origin/master` read as `master`.
fn short_branch(branch: &str) -> &str {
    let b = branch
        .strip_prefix("refs/remotes/")
        .or_else(|| branch.strip_prefix("refs/heads/"))
        .unwrap_or(branch);
    b.strip_prefix("origin/").unwrap_or(b)
}
