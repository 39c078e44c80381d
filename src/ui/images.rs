//! The images screen: the selected service's image repository (tags, digests, which tag each
//! environment runs), the selected candidate's scan findings, and the build host's base images.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{age, fit, pad};
use super::{Ctx, layout};
use crate::model::{ImageRepoState, ScanReport, ScanState, Service, Severity};

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let Some(service) = ctx.selected_service() else {
        let inner = layout::pane(frame, area, ctx, " Images ".into(), true);
        frame.render_widget(
            Paragraph::new("No service selected.").style(ctx.theme.style("ui.muted")),
            inner,
        );
        return;
    };
    let engines = !ctx.state.engines.is_empty();
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints(if engines {
            vec![
                Constraint::Percentage(40),
                Constraint::Percentage(35),
                Constraint::Min(4),
            ]
        } else {
            vec![Constraint::Percentage(50), Constraint::Min(4)]
        })
        .split(area);
    tags(frame, parts[0], ctx, service);
    scan(frame, parts[1], ctx, service);
    if engines {
        build_host(frame, parts[2], ctx, service);
    }
}

fn short_digest(d: &str) -> String {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    hex.chars().take(12).collect()
}

fn size(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "?".into(), crate::model::human_size)
}

fn tags(frame: &mut Frame, area: Rect, ctx: &Ctx, service: &Service) {
    let t = ctx.theme;
    let repo = ctx.state.images.get(&service.name);
    let title = match (&service.image, repo) {
        (_, Some(r)) => format!(
            " {} · {} tags{} ",
            r.reference,
            r.tags.len(),
            if r.complete { "" } else { "+" }
        ),
        (Some(i), None) => format!(" {} · {} ", i.repository, i.source),
        (None, None) => format!(" {} · no image ", service.name),
    };
    let inner = layout::pane(frame, area, ctx, title, true);
    if inner.height == 0 {
        return;
    }
    let Some(repo) = repo else {
        let msg = match &service.image {
            None => "No image repository configured for this service ([services.image]).".to_string(),
            Some(i) => format!("{} has not been read from {} yet.", i.repository, i.source),
        };
        frame.render_widget(Paragraph::new(msg).style(t.style("ui.muted")), inner);
        return;
    };
    let width = inner.width as usize;
    let mut lines = vec![env_line(ctx, repo, width)];
    lines.push(Line::from(Span::styled(
        fit(
            &format!(
                "{}{}{}{}{}{}",
                pad("Tag", 16),
                pad("Digest", 14),
                pad("Size", 10),
                pad("Pushed", 9),
                pad("Environments", 22),
                "Revision"
            ),
            width,
        ),
        t.style("ui.header"),
    )));
    let selected = ctx.selected_candidate();
    let mine = selected.and_then(|c| repo.image_for(c.version.as_deref(), c.commit.as_deref()));
    let rows = (inner.height as usize).saturating_sub(2);
    for tag in repo.tags.iter().take(rows) {
        let envs: Vec<&str> = repo
            .env_tags
            .iter()
            .filter(|(env, _)| repo.env_digest(env) == Some(tag.digest.as_str()))
            .map(|(env, _)| env.as_str())
            .collect();
        let pushed = tag
            .pushed_at
            .map(|p| age(p.timestamp_millis(), ctx.now))
            .unwrap_or_else(|| "?".into());
        let revision = tag.revision.as_deref().map(|r| &r[..r.len().min(7)]).unwrap_or("—");
        let text = format!(
            "{}{}{}{}{}{}",
            pad(&tag.tag, 16),
            pad(&short_digest(&tag.digest), 14),
            pad(&size(tag.size), 10),
            pad(&pushed, 9),
            pad(&envs.join(", "), 22),
            revision
        );
        let style = if mine.is_some_and(|m| m.digest == tag.digest) {
            t.style("ui.selection")
        } else if repo.env_tags.values().any(|e| e == &tag.tag) {
            t.style("ui.muted")
        } else {
            t.style("ui.text")
        };
        lines.push(Line::from(Span::styled(fit(&text, width), style)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `staging → 1.4.1 (3f2a…) · production → 1.4.0 (9bc1…)`: what each environment's tag runs.
fn env_line<'a>(ctx: &Ctx, repo: &ImageRepoState, width: usize) -> Line<'a> {
    let t = ctx.theme;
    let mut spans = Vec::new();
    for env in &ctx.state.environments {
        let Some(tag) = repo.env_tags.get(&env.name) else {
            continue;
        };
        if !spans.is_empty() {
            spans.push(Span::styled(" · ", t.style("ui.muted")));
        }
        let runs = match repo.env_digest(&env.name) {
            Some(d) => {
                let named = repo
                    .tags_of(d)
                    .find(|x| !repo.env_tags.values().any(|e| e == &x.tag))
                    .map(|x| x.tag.clone())
                    .unwrap_or_else(|| "?".into());
                format!("{named} ({})", short_digest(d))
            }
            None => "nothing".into(),
        };
        let style = if env.protected { "env.production" } else { "env.other" };
        spans.push(Span::styled(format!("{} ", env.name), t.style(style)));
        spans.push(Span::styled(format!(":{tag} → {runs}"), t.style("ui.text")));
    }
    if spans.is_empty() {
        spans.push(Span::styled(
            fit("No environment tags configured.", width),
            t.style("ui.muted"),
        ));
    }
    Line::from(spans)
}

/// The reports of the selected candidate: the registry's scan of its image and the build's.
fn reports<'a>(ctx: &Ctx<'a>, service: &Service) -> Vec<&'a ScanReport> {
    let Some(c) = ctx.selected_candidate() else {
        return Vec::new();
    };
    let registry = ctx
        .state
        .images
        .get(&service.name)
        .and_then(|r| r.image_for(c.version.as_deref(), c.commit.as_deref()))
        .and_then(|t| t.scan.as_ref());
    let build = service
        .jobs
        .build
        .as_ref()
        .and_then(|j| ctx.state.jobs.get(j))
        .and_then(|j| j.build(c.build_number))
        .and_then(|b| b.scan.as_ref());
    registry.into_iter().chain(build).collect()
}

fn scan(frame: &mut Frame, area: Rect, ctx: &Ctx, service: &Service) {
    let t = ctx.theme;
    let candidate = ctx.selected_candidate();
    let title = match candidate {
        Some(c) => format!(
            " Scan of {} {} ",
            service.name,
            c.version.clone().unwrap_or_else(|| format!("#{}", c.build_number))
        ),
        None => " Scan ".to_string(),
    };
    let inner = layout::pane(frame, area, ctx, title, false);
    if inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let found = reports(ctx, service);
    if found.is_empty() {
        let msg = candidate
            .and_then(|c| c.link(crate::model::LinkKind::Scan))
            .map(|l| l.reason.clone())
            .unwrap_or_else(|| "No scan report for this candidate.".into());
        frame.render_widget(Paragraph::new(fit(&msg, width)).style(t.style("ui.muted")), inner);
        return;
    }
    let mut lines = Vec::new();
    for r in &found {
        let state = match &r.state {
            ScanState::Complete => r.counts.summary(),
            ScanState::InProgress => "in progress".into(),
            ScanState::Failed(why) => format!("failed: {why}"),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", r.scanner.label()), t.style("ui.header")),
            Span::styled(state, t.style("ui.text")),
        ]));
    }
    lines.push(Line::from(Span::styled(
        fit(
            &format!(
                "{}{}{}{}{}",
                pad("Severity", 10),
                pad("Vulnerability", 18),
                pad("Package", 18),
                pad("Installed", 16),
                "Fixed in"
            ),
            width,
        ),
        t.style("ui.header"),
    )));
    let rows = (inner.height as usize).saturating_sub(lines.len());
    for f in found.iter().flat_map(|r| r.findings.iter()).take(rows) {
        let role = match f.severity {
            Severity::Critical | Severity::High => "status.failed",
            Severity::Medium => "ui.warning",
            _ => "ui.muted",
        };
        lines.push(Line::from(vec![
            Span::styled(pad(f.severity.label(), 10), t.style(role)),
            Span::styled(
                fit(
                    &format!(
                        "{}{}{}{}",
                        pad(&f.id, 18),
                        pad(&f.package, 18),
                        pad(f.installed.as_deref().unwrap_or("?"), 16),
                        f.fixed.as_deref().unwrap_or("no fix yet")
                    ),
                    width.saturating_sub(10),
                ),
                t.style("ui.text"),
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn build_host(frame: &mut Frame, area: Rect, ctx: &Ctx, service: &Service) {
    let t = ctx.theme;
    let Some((name, engine)) = ctx.state.engines.iter().next() else {
        return;
    };
    let title = format!(
        " Build host {} · {} · {} images ",
        name,
        engine.version.as_deref().unwrap_or(&engine.host),
        engine.images.len()
    );
    let inner = layout::pane(frame, area, ctx, title, false);
    if inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    // The reference takes what the digests and a short verdict leave.
    let ref_w = width.saturating_sub(13 + 13 + 12).clamp(16, 50);
    let mut lines = vec![Line::from(Span::styled(
        fit(
            &format!(
                "{}{}{}{}",
                pad("Base image", ref_w),
                pad("Local", 13),
                pad("Registry", 13),
                "Verdict"
            ),
            width,
        ),
        t.style("ui.header"),
    ))];
    let mut bases: Vec<_> = engine.bases.iter().collect();
    // The selected service's bases first.
    bases.sort_by_key(|b| !b.used_by.contains(&service.name));
    for b in bases {
        let (verdict, role) = match (b.stale(), &b.problem) {
            (Some(true), _) => ("stale".to_string(), "ui.warning"),
            (Some(false), _) => ("current".to_string(), "status.ok"),
            (None, Some(p)) => (p.clone(), "ui.muted"),
            (None, None) => ("unknown".to_string(), "ui.muted"),
        };
        let local = b
            .local_digest
            .as_deref()
            .map(short_digest)
            .unwrap_or_else(|| "—".into());
        let remote = b
            .remote_digest
            .as_deref()
            .map(short_digest)
            .unwrap_or_else(|| "—".into());
        lines.push(Line::from(vec![
            Span::styled(
                fit(
                    &format!(
                        "{}{}{}",
                        pad(&fit(&b.reference, ref_w - 1), ref_w),
                        pad(&local, 13),
                        pad(&remote, 13)
                    ),
                    ref_w + 26,
                ),
                t.style("ui.text"),
            ),
            Span::styled(verdict, t.style(role)),
        ]));
    }
    let image = service.image.as_ref();
    let local: Vec<String> = engine
        .images
        .iter()
        .filter(|i| image.is_some_and(|im| i.repo_tags.iter().any(|rt| rt.contains(&im.repository))))
        .take(3)
        .map(|i| {
            let tag = i.repo_tags.first().cloned().unwrap_or_else(|| i.id.clone());
            let rev = i
                .label(crate::model::LABEL_REVISION)
                .map(|r| format!(" (revision {})", &r[..r.len().min(7)]))
                .unwrap_or_default();
            format!("{tag}{rev}")
        })
        .collect();
    if !local.is_empty() && lines.len() + 1 < inner.height as usize {
        lines.push(Line::from(Span::styled(
            fit(&format!("On this host: {}", local.join(" · ")), width),
            t.style("ui.muted"),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
