//! A service's repository in a few lines: the branch's protection, the open pull requests with
//! their reviews and checks, and whether the webhook that triggers Jenkins is being delivered.

use ratatui::text::{Line, Span};

use super::Ctx;
use super::format::fit;
use crate::model::{LinkStatus, Protection, RepoState};

pub fn lines<'a>(ctx: &Ctx, repo: &RepoState, width: usize, max_pulls: usize) -> Vec<Line<'a>> {
    let t = ctx.theme;
    let mut out = Vec::new();
    let (role, protection) = match &repo.protection {
        Protection::Protected(p) => {
            let mut rules = Vec::new();
            if p.pull_request_required {
                rules.push(format!(
                    "pull request with {} approval{}",
                    p.required_approvals,
                    if p.required_approvals == 1 { "" } else { "s" }
                ));
            }
            if !p.required_checks.is_empty() {
                rules.push(format!("checks {}", p.required_checks.join(", ")));
            }
            rules.push(if p.enforce_admins {
                "admins included".to_string()
            } else {
                "admins may bypass".to_string()
            });
            ("status.ok", format!("{} protected: {}", repo.branch, rules.join(" · ")))
        }
        Protection::Unprotected => (
            "status.failed",
            format!(
                "{} is not protected: anyone with push rights can bypass review",
                repo.branch
            ),
        ),
        Protection::Unknown { reason } => (
            "status.unknown",
            format!("{} protection unknown: {reason}", repo.branch),
        ),
    };
    out.push(Line::from(Span::styled(
        fit(&format!("{} {protection}", repo.repo), width),
        t.style(role),
    )));
    if repo.open_pulls.is_empty() {
        out.push(Line::from(Span::styled("no open pull requests", t.style("ui.muted"))));
    }
    for pr in repo.open_pulls.iter().take(max_pulls) {
        let blockers = pr.changes_requested_by();
        let checks = pr.checks_status();
        let (status, verdict) = if !blockers.is_empty() {
            (
                LinkStatus::Fail,
                format!("changes requested by {}", blockers.join(", ")),
            )
        } else {
            (LinkStatus::Pending, format!("{} approval(s)", pr.approvals()))
        };
        let st = status.status();
        let cs = checks.status();
        out.push(Line::from(vec![
            Span::styled(format!("{} ", st.glyph()), t.style(st.role())),
            Span::styled(
                fit(
                    &format!("#{} {} ({}) · {verdict} · checks ", pr.number, pr.title, pr.author),
                    width.saturating_sub(4),
                ),
                t.style("ui.text"),
            ),
            Span::styled(cs.glyph().to_string(), t.style(cs.role())),
        ]));
    }
    if repo.open_pulls.len() > max_pulls {
        out.push(Line::from(Span::styled(
            format!("… and {} more open pull requests", repo.open_pulls.len() - max_pulls),
            t.style("ui.muted"),
        )));
    }
    match &repo.hook {
        Some(hook) if repo.webhook_failing(3) => {
            let last = repo
                .deliveries
                .first()
                .map(|d| format!("{} {}", d.status_code, d.status))
                .unwrap_or_default();
            out.push(Line::from(Span::styled(
                fit(
                    &format!(
                        "✖ webhook to {}: recent deliveries failed (last: {last}); builds may not start",
                        hook.url
                    ),
                    width,
                ),
                t.style("status.failed"),
            )));
        }
        Some(hook) => {
            let ok = repo.deliveries.iter().take(10).filter(|d| d.ok()).count();
            out.push(Line::from(Span::styled(
                fit(
                    &format!(
                        "✔ webhook to {}: {ok} of the last {} deliveries ok",
                        hook.url,
                        repo.deliveries.len().min(10)
                    ),
                    width,
                ),
                t.style("ui.muted"),
            )));
        }
        None => out.push(Line::from(Span::styled(
            "no Jenkins webhook found (or no right to read hooks)",
            t.style("ui.muted"),
        ))),
    }
    out
}
