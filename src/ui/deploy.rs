//! The deploy screen: where each service runs. A table of services by environment (rollout,
//! readiness, the digest running against the one promoted), over the detail of the selected
//! service in the environment in focus: its ReplicaSets, pods, Warning events and AWX jobs.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{fit, pad};
use super::{Ctx, layout};
use crate::model::deployed::{EnvRun, EnvWorkload, describe_digest, env_run, env_workloads};
use crate::model::{AwxJobStatus, RolloutPhase, Service, State, WorkloadView};

const NAME_W: usize = 20;
/// The widest an environment's column gets; narrower terminals share what is left.
const ENV_W: usize = 34;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let (top, bottom) = layout::table_over_detail(area, ctx.visible.len(), 18);
    table(frame, top, ctx);
    detail(frame, bottom, ctx);
}

/// The environment in focus.
fn focused_env<'a>(ctx: &Ctx<'a>) -> Option<&'a str> {
    let envs = &ctx.state.environments;
    envs.get(ctx.view.environment.min(envs.len().saturating_sub(1)))
        .map(|e| e.name.as_str())
}

fn phase_glyph(phase: RolloutPhase) -> (&'static str, &'static str) {
    match phase {
        RolloutPhase::Complete => ("✔", "status.ok"),
        RolloutPhase::Progressing | RolloutPhase::Waiting => ("◷", "status.running"),
        RolloutPhase::Paused => ("⏸", "status.paused"),
        RolloutPhase::Failed => ("✖", "status.failed"),
    }
}

/// One environment's cell: rollout glyph, ready/desired, and the running digest's version.
fn env_cell(ctx: &Ctx, w: &EnvWorkload<'_>, service: &Service, width: usize) -> Span<'static> {
    let t = ctx.theme;
    let images = ctx.state.images.get(&service.name);
    let Some(view) = &w.view else {
        let text = if w.listed {
            "no such Deployment"
        } else {
            "not listed yet"
        };
        return Span::styled(pad(&fit(text, width - 1), width), t.style("ui.muted"));
    };
    let d = view.deployment;
    let (glyph, mut style) = phase_glyph(view.status.phase);
    let ready = format!("{}/{}", d.ready_replicas, d.spec_replicas.unwrap_or(1));
    let run = env_run(w, images);
    let what = match &run {
        EnvRun::Matches { running } => describe_version(ctx.state, service, running),
        EnvRun::Mismatch { running, .. } => {
            style = "status.failed";
            format!("≠ {}", describe_version(ctx.state, service, running))
        }
        EnvRun::Rolling { .. } => view
            .spec_image()
            .map(|i| format!("→ {}", short_image(i)))
            .unwrap_or_default(),
        EnvRun::NothingRunning => "nothing ready".into(),
        EnvRun::NotListed => "not listed".into(),
    };
    let glyph = if matches!(run, EnvRun::Mismatch { .. }) {
        "✖"
    } else {
        glyph
    };
    Span::styled(
        pad(&fit(&format!("{glyph} {ready:<5} {what}"), width - 1), width),
        t.style(style),
    )
}

/// The version tag carrying a digest, else the short digest.
fn describe_version(state: &State, service: &Service, digest: &str) -> String {
    let d = describe_digest(state.images.get(&service.name), digest);
    match d.split_once(" (") {
        Some((_, v)) => v.trim_end_matches(')').to_string(),
        None => d,
    }
}

/// `repo@sha256:abcdef…` or `repo:tag` shortened to its last path element.
fn short_image(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once("@sha256:") {
        Some((name, hex)) => format!("{name}@{}", &hex[..hex.len().min(8)]),
        None => last.to_string(),
    }
}

fn table(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let inner = layout::pane(frame, area, ctx, " Deploy · where each service runs ".into(), true);
    if inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let envs: Vec<&str> = ctx.state.environments.iter().map(|e| e.name.as_str()).collect();
    let env_w = (width.saturating_sub(NAME_W) / envs.len().max(1)).clamp(12, ENV_W);
    let mut head = pad("Service", NAME_W);
    for e in &envs {
        head.push_str(&pad(e, env_w));
    }
    let mut lines = vec![Line::from(Span::styled(fit(&head, width), t.style("ui.header")))];
    let rows = (inner.height as usize).saturating_sub(1);
    let offset = layout::scroll_offset(ctx.view.selected, rows);
    for (i, service) in ctx.visible.iter().enumerate().skip(offset).take(rows) {
        let selected = i == ctx.view.selected;
        let marker = if selected { "▸ " } else { "  " };
        let mut spans = vec![Span::styled(
            pad(&fit(&format!("{marker}{}", service.name), NAME_W - 1), NAME_W),
            t.style(if selected { "ui.selection" } else { "ui.text" }),
        )];
        let workloads = env_workloads(ctx.state, service);
        for env in &envs {
            match workloads.iter().find(|w| w.environment == *env) {
                Some(w) => spans.push(env_cell(ctx, w, service, env_w)),
                None => {
                    let awx = service.deploy.get(*env).and_then(|d| d.awx.as_ref());
                    let text = match awx {
                        Some(a) => format!("ansible: {}", a.template),
                        None => "—".into(),
                    };
                    spans.push(Span::styled(pad(&fit(&text, env_w - 1), env_w), t.style("ui.muted")));
                }
            }
        }
        lines.push(Line::from(spans));
    }
    if ctx.visible.is_empty() {
        lines.push(Line::from(Span::styled("No services.", t.style("ui.muted"))));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn detail(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let service = ctx.selected_service();
    let env = focused_env(ctx);
    let title = match (service, env) {
        (Some(s), Some(e)) => format!(" {} in {e} ", s.name),
        _ => " Workload ".into(),
    };
    let inner = layout::pane(frame, area, ctx, title, false);
    if inner.height == 0 {
        return;
    }
    let (Some(service), Some(env)) = (service, env) else {
        frame.render_widget(Paragraph::new("No service selected.").style(t.style("ui.muted")), inner);
        return;
    };
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let target = service.deploy.get(env);
    match target.and_then(|d| d.kubernetes.as_ref()) {
        None => lines.push(Line::from(Span::styled(
            format!("No Kubernetes workload for {env} ([services.deploy.{env}] kubernetes)."),
            t.style("ui.muted"),
        ))),
        Some(w) => {
            let context = ctx
                .state
                .sources
                .get(&w.cluster)
                .map(|h| h.url.clone())
                .unwrap_or_default();
            lines.push(Line::from(Span::styled(
                fit(
                    &format!(
                        "{} ({context}) · ns {} · deployment/{} · container {}",
                        w.cluster, w.namespace, w.deployment, w.container
                    ),
                    width,
                ),
                t.style("ui.muted"),
            )));
            match ctx.state.workload(w) {
                Some(view) => workload_lines(ctx, service, env, &view, width, &mut lines),
                None => lines.push(Line::from(Span::styled(
                    format!("deployment/{} not seen in {} yet.", w.deployment, w.namespace),
                    t.style("ui.muted"),
                ))),
            }
        }
    }
    if let Some(a) = target.and_then(|d| d.awx.as_ref()) {
        awx_lines(ctx, &a.source, &a.template, width, &mut lines);
    }
    let rows = inner.height as usize;
    lines.truncate(rows);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn workload_lines(
    ctx: &Ctx,
    service: &Service,
    env: &str,
    view: &WorkloadView<'_>,
    width: usize,
    lines: &mut Vec<Line<'static>>,
) {
    let t = ctx.theme;
    let d = view.deployment;
    let (glyph, style) = phase_glyph(view.status.phase);
    lines.push(Line::from(vec![
        Span::styled(format!("{glyph} "), t.style(style)),
        Span::styled(fit(&view.status.message, width.saturating_sub(2)), t.style(style)),
    ]));
    lines.push(Line::from(Span::styled(
        fit(
            &format!(
                "desired {} · updated {} · ready {} · available {} · generation {}/{} · revision {}{}",
                d.spec_replicas.unwrap_or(1),
                d.updated_replicas,
                d.ready_replicas,
                d.available_replicas,
                d.observed_generation,
                d.generation,
                d.revision.map(|r| r.to_string()).unwrap_or_else(|| "?".into()),
                if d.paused { " · PAUSED" } else { "" }
            ),
            width,
        ),
        t.style("ui.text"),
    )));
    let images = ctx.state.images.get(&service.name);
    let promoted = images.and_then(|r| r.env_digest(env));
    let running = view.digests();
    let mut run_line = format!("image {}", view.spec_image().unwrap_or("?"));
    if let Some(p) = promoted {
        run_line.push_str(&format!(" · promoted {}", describe_digest(images, p)));
    }
    lines.push(Line::from(Span::styled(fit(&run_line, width), t.style("ui.text"))));
    for r in &running {
        let ok = promoted.is_none_or(|p| p == r.digest);
        let (mark, style) = if ok {
            ("✔", "status.ok")
        } else {
            ("✖", "status.failed")
        };
        let text = format!(
            "{mark} runs {} in {} pod(s), {} ready{}{}",
            describe_digest(images, &r.digest),
            r.pods,
            r.ready,
            if r.current { " (current ReplicaSet)" } else { "" },
            if ok { "" } else { " · not the promoted digest" }
        );
        lines.push(Line::from(Span::styled(fit(&text, width), t.style(style))));
    }
    lines.push(Line::from(Span::styled(
        fit(
            &format!(
                "{}{}{}{}",
                pad("Pod", 34),
                pad("Phase", 10),
                pad("Ready", 6),
                "Restarts  Waiting"
            ),
            width,
        ),
        t.style("ui.header"),
    )));
    for pod in view.pods.iter().take(6) {
        let waiting = pod.waiting_reason().unwrap_or("");
        let style = if !waiting.is_empty() {
            "status.failed"
        } else if pod.ready {
            "ui.text"
        } else {
            "status.running"
        };
        let text = format!(
            "{}{}{}{}{}",
            pad(&pod.name, 34),
            pad(&pod.phase, 10),
            pad(if pod.ready { "yes" } else { "no" }, 6),
            pad(&pod.restarts.to_string(), 10),
            waiting
        );
        lines.push(Line::from(Span::styled(fit(&text, width), t.style(style))));
    }
    if view.pods.len() > 6 {
        lines.push(Line::from(Span::styled(
            format!("  … {} more pods", view.pods.len() - 6),
            t.style("ui.muted"),
        )));
    }
    let revisions: Vec<String> = view
        .replica_sets
        .iter()
        .take(4)
        .map(|rs| {
            format!(
                "r{} {} {}/{}",
                rs.revision.map(|r| r.to_string()).unwrap_or_else(|| "?".into()),
                rs.containers
                    .iter()
                    .find(|c| c.name == view.container)
                    .map(|c| short_image(&c.image))
                    .unwrap_or_default(),
                rs.ready_replicas,
                rs.desired
            )
        })
        .collect();
    if !revisions.is_empty() {
        lines.push(Line::from(Span::styled(
            fit(&format!("revisions: {}", revisions.join(" · ")), width),
            t.style("ui.muted"),
        )));
    }
    for e in view.events.iter().take(3) {
        let when = e
            .last_seen
            .map(|at| super::format::age(at.timestamp_millis(), ctx.now))
            .unwrap_or_default();
        let text = format!(
            "⚠ {when} {} {}/{}: {}{}",
            e.reason,
            e.involved_kind.to_ascii_lowercase(),
            e.involved_name,
            e.message,
            if e.count > 1 {
                format!(" (×{})", e.count)
            } else {
                String::new()
            }
        );
        lines.push(Line::from(Span::styled(fit(&text, width), t.style("ui.warning"))));
    }
}

fn awx_lines(ctx: &Ctx, source: &str, template: &str, width: usize, lines: &mut Vec<Line<'static>>) {
    let t = ctx.theme;
    let Some(awx) = ctx.state.awx.get(source) else {
        lines.push(Line::from(Span::styled(
            format!("AWX {source}: not read yet"),
            t.style("ui.muted"),
        )));
        return;
    };
    let Some(tpl) = awx.template(template) else {
        lines.push(Line::from(Span::styled(
            format!("AWX {source}: no template named \"{template}\""),
            t.style("status.failed"),
        )));
        return;
    };
    let vars = if tpl.ask_variables_on_launch {
        "asks for variables on launch".to_string()
    } else if tpl.survey_enabled {
        format!("survey: {}", tpl.survey_variables.join(", "))
    } else {
        "takes no extra vars on launch".to_string()
    };
    lines.push(Line::from(Span::styled(
        fit(&format!("AWX {source} · {} #{} · {vars}", tpl.name, tpl.id), width),
        t.style("ui.header"),
    )));
    for job in tpl.jobs.iter().take(3) {
        let style = match job.status {
            AwxJobStatus::Successful => "status.ok",
            s if s.is_failure() => "status.failed",
            s if s.is_active() => "status.running",
            _ => "ui.text",
        };
        let when = job
            .started
            .or(job.created)
            .map(|at| super::format::age(at.timestamp_millis(), ctx.now))
            .unwrap_or_else(|| "?".into());
        let text = format!(
            "job {} {} · {} ago · {} · by {}{}",
            job.id,
            job.status.as_str(),
            when,
            job.elapsed.map(|e| format!("{e:.0}s")).unwrap_or_else(|| "?".into()),
            job.launched_by.as_deref().unwrap_or("?"),
            job.var("version")
                .map(|v| format!(" · version {v}"))
                .unwrap_or_default()
        );
        lines.push(Line::from(Span::styled(fit(&text, width), t.style(style))));
    }
    if let Some(job) = tpl.jobs.iter().find(|j| j.stdout_tail.is_some())
        && let Some(tail) = &job.stdout_tail
    {
        for l in tail.iter().rev().take(4).rev() {
            lines.push(Line::from(Span::styled(
                fit(&format!("  │ {l}"), width),
                t.style("ui.muted"),
            )));
        }
    }
}
