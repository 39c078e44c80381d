//! Turning "the operator pressed b on payments-api" into an action request (or a form to fill first).
//! Nothing here touches the network: the loop plans, checks and confirms what these return.

use crate::actions::promotion::{Direction, plan_promotion};
use crate::actions::{ActionKind, ActionRequest, Plan};
use crate::model::{Build, ParamDef, ParamKind, State, Status};
use crate::ui::{Form, FormField, Mode, View, selected_build, selected_service};

pub enum Intent {
    None,
    Quit,
    /// Poll now: one source, or all.
    Refresh(Option<String>),
    /// Plan this, check policy, and ask for confirmation.
    Plan(Box<ActionRequest>),
    /// The operator confirmed this plan.
    Execute(Box<Plan>),
    /// Open evidence in a browser, or show its URL when there is none to open it in.
    OpenUrl(String),
    /// Open a build's log (the failed stage's, when one failed).
    OpenLog(Box<LogTarget>),
    /// Tell the open log to move, search, write.
    Log(crate::logview::Command),
    /// Put text on the operator's clipboard (OSC 52); the string says what it was.
    Copy {
        text: String,
        what: String,
    },
}

/// Which log `l` opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTarget {
    /// The Jenkins source the build lives on.
    pub source: String,
    pub title: String,
    pub build_url: String,
    /// The failed (or unstable) stage's node id and name.
    pub stage: Option<(String, String)>,
    /// A file name for `w`: job and build.
    pub file_stem: String,
}

/// `l`: the log of the shown build of the selected service, at its failed stage.
pub fn open_log(state: &State, view: &mut View) -> Intent {
    let Some(service) = selected_service(state, view) else {
        view.say("no service selected");
        return Intent::None;
    };
    let Some((service, job, build)) = crate::ui::select::shown_build(state, service, view) else {
        view.say(format!("no build of {} seen yet", service.name));
        return Intent::None;
    };
    let stage = build
        .stages
        .iter()
        .rev()
        .find(|s| s.status == Status::Failed)
        .or_else(|| build.stages.iter().rev().find(|s| s.status == Status::Unstable))
        .map(|s| (s.id.clone(), s.name.clone()));
    let url = if build.url.ends_with('/') {
        build.url.clone()
    } else {
        format!("{}/", build.url)
    };
    let title = match &stage {
        Some((_, name)) => format!("{} #{} · {name}", service.name, build.number),
        None => format!("{} #{}", service.name, build.number),
    };
    let stem: String = format!("{}-{}", job.full_name.replace('/', "_"), build.number)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Intent::OpenLog(Box::new(LogTarget {
        source: service.jobs.source.clone(),
        title,
        build_url: url,
        stage,
        file_stem: stem,
    }))
}

pub fn selected_service_name(state: &State, view: &View) -> Option<String> {
    selected_service(state, view).map(|s| s.name.clone())
}

/// `o`: the evidence of what is selected: the board's link, the quality dashboard, the build.
pub fn evidence(state: &State, view: &mut View) -> Intent {
    let Some(service) = selected_service(state, view) else {
        view.say("no service selected");
        return Intent::None;
    };
    match view.screen {
        crate::ui::Screen::Board => {
            let kind = crate::model::LinkKind::ALL[view.column.min(crate::model::LinkKind::ALL.len() - 1)];
            let intent = evidence_of(state, &service.name, kind, view.candidate);
            if matches!(intent, Intent::None) {
                view.say(format!("{}: no evidence link for {}", service.name, kind.title()));
            }
            intent
        }
        crate::ui::Screen::Quality => match state.quality.get(&service.name) {
            Some(q) => Intent::OpenUrl(q.dashboard_url.clone()),
            None => {
                view.say(format!("{}: no SonarQube project read", service.name));
                Intent::None
            }
        },
        crate::ui::Screen::Images => {
            let intent = evidence_of(state, &service.name, crate::model::LinkKind::Scan, view.candidate);
            if matches!(intent, Intent::None) {
                view.say(format!("{}: no scan report to open", service.name));
            }
            intent
        }
        crate::ui::Screen::Deploy | crate::ui::Screen::Inbox => {
            view.say("no evidence link on this screen; Enter explains the Running link");
            Intent::None
        }
        crate::ui::Screen::Pipelines => match selected_build(state, view) {
            Some((_, _, b)) if !b.url.is_empty() => Intent::OpenUrl(b.url.clone()),
            _ => {
                view.say(format!("{}: no build to open", service.name));
                Intent::None
            }
        },
    }
}

/// The evidence URL of one link of a service's newest candidate.
pub fn evidence_of(state: &State, service: &str, kind: crate::model::LinkKind, candidate: usize) -> Intent {
    state
        .chains
        .get(service)
        .and_then(|c| c.get(candidate).or(c.first()))
        .and_then(|c| c.link(kind))
        .and_then(|l| l.evidence.clone())
        .map(Intent::OpenUrl)
        .unwrap_or(Intent::None)
}

pub fn selected_source(state: &State, view: &View) -> Option<String> {
    selected_service(state, view).map(|s| s.jobs.source.clone())
}

pub fn selected_job_builds(state: &State, view: &View) -> usize {
    selected_service(state, view)
        .and_then(|s| s.jobs.build.as_ref())
        .and_then(|j| state.jobs.get(j))
        .map(|j| j.builds.len())
        .unwrap_or(0)
}

/// The environment an action affects: one named in the given texts (a stage name, an input's
/// message, a parameter value), else none. "prod" counts for "production".
pub fn environment_for(state: &State, texts: &[&str]) -> Option<String> {
    let texts: Vec<String> = texts.iter().map(|t| t.to_ascii_lowercase()).collect();
    // Longest names first, so "production" wins over a hypothetical "prod" environment.
    let mut envs: Vec<&crate::model::Environment> = state.environments.iter().collect();
    envs.sort_by_key(|e| std::cmp::Reverse(e.name.len()));
    for env in &envs {
        let name = env.name.to_ascii_lowercase();
        if texts.iter().any(|t| t.contains(&name)) {
            return Some(env.name.clone());
        }
    }
    for env in &envs {
        let name = env.name.to_ascii_lowercase();
        if name.len() > 4
            && texts.iter().any(|t| {
                t.split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.len() >= 4 && name.starts_with(w))
            })
        {
            return Some(env.name.clone());
        }
    }
    None
}

/// `p`: promote the selected candidate to the next environment. The plan says what blocks it.
pub fn promote(state: &State, view: &mut View) -> Intent {
    promotion_intent(state, view, Direction::Forward)
}

/// `r`: roll the environment in focus back to the previous good candidate.
pub fn rollback(state: &State, view: &mut View) -> Intent {
    let Some(environment) = focused_env(state, view) else {
        view.say("no environment in focus (e cycles them)");
        return Intent::None;
    };
    // A service promoted by patching its Deployment rolls back as `kubectl rollout undo` does.
    if let Some(service) = selected_service_name(state, view).and_then(|s| state.service(&s))
        && service.image.as_ref().map(|i| i.promotion) == Some(crate::model::PromotionStrategy::Kubernetes)
        && let Some(workload) = service.deploy.get(&environment).and_then(|d| d.kubernetes.clone())
    {
        let Some(view_of) = state.workload(&workload) else {
            view.say(format!("deployment/{} has not been seen yet", workload.deployment));
            return Intent::None;
        };
        if view_of.deployment.paused {
            view.say(format!(
                "deployment/{} is paused: resume it first (the inbox, {}), as kubectl rollout undo requires",
                workload.deployment, "6"
            ));
            return Intent::None;
        }
        return match view_of.plan_undo(None) {
            Ok(undo) if undo.skipped => {
                view.say(format!(
                    "revision {} already is the current template: nothing to roll back",
                    undo.to_revision
                ));
                Intent::None
            }
            Ok(undo) => {
                let image = undo
                    .containers
                    .iter()
                    .find(|c| c.name == workload.container)
                    .map(|c| c.image.clone())
                    .unwrap_or_default();
                // A digest-pinned image: the environment's tag follows it back.
                let retag = image.rsplit_once('@').and_then(|(_, digest)| {
                    let cfg = service.image.as_ref()?;
                    let tag = cfg.env_tags.get(&environment)?;
                    Some((
                        cfg.source.clone(),
                        cfg.repository.clone(),
                        tag.clone(),
                        digest.to_string(),
                    ))
                });
                Intent::Plan(Box::new(ActionRequest {
                    kind: ActionKind::UndoRollout {
                        image,
                        retag,
                        from_revision: undo.from_revision,
                        to_revision: undo.to_revision,
                        workload: workload.clone(),
                    },
                    service: service.name.clone(),
                    source: workload.cluster.clone(),
                    environment: Some(environment),
                }))
            }
            Err(why) => {
                view.say(why);
                Intent::None
            }
        };
    }
    promotion_intent(state, view, Direction::Rollback { environment })
}

/// `kubectl rollout restart` of the selected service's workload in the environment in focus.
pub fn restart(state: &State, view: &mut View) -> Intent {
    let Some(environment) = focused_env(state, view) else {
        view.say("no environment in focus (e cycles them)");
        return Intent::None;
    };
    let Some(service) = selected_service_name(state, view).and_then(|s| state.service(&s)) else {
        view.say("no service selected");
        return Intent::None;
    };
    let Some(workload) = service.deploy.get(&environment).and_then(|d| d.kubernetes.clone()) else {
        view.say(format!("{} has no Kubernetes workload in {environment}", service.name));
        return Intent::None;
    };
    Intent::Plan(Box::new(ActionRequest {
        kind: ActionKind::RestartWorkload {
            workload: workload.clone(),
        },
        service: service.name.clone(),
        source: workload.cluster,
        environment: Some(environment),
    }))
}

/// Approve (or reject) the inbox's selected item, whatever its source.
pub fn inbox_decide(state: &State, view: &mut View, approve: bool) -> Intent {
    use crate::model::InboxKind;
    let items = crate::model::inbox::inbox(state);
    let Some(item) = items.get(view.inbox_selected.min(items.len().saturating_sub(1))) else {
        view.say("nothing waits for a human");
        return Intent::None;
    };
    let verdict = if approve { &item.can_approve } else { &item.can_reject };
    if let Err(why) = verdict {
        view.say(why.clone());
        return Intent::None;
    }
    let service = item.service.clone().unwrap_or_default();
    let kind = match (&item.kind, approve) {
        (InboxKind::JenkinsInput { job, build, input_id }, _) => {
            let message = item.waits_for.clone();
            if approve {
                ActionKind::ApproveInput {
                    job: job.clone(),
                    build: *build,
                    input_id: input_id.clone(),
                    message,
                    params: vec![],
                }
            } else {
                ActionKind::RejectInput {
                    job: job.clone(),
                    build: *build,
                    input_id: input_id.clone(),
                    message,
                }
            }
        }
        (InboxKind::AwxApproval { id, .. }, approve) => ActionKind::AwxDecision {
            source: item.source.clone(),
            id: *id,
            name: item.waits_for.clone(),
            approve,
        },
        (InboxKind::PausedRollout { workload }, true) => ActionKind::ResumeRollout {
            workload: workload.clone(),
        },
        (InboxKind::PausedRollout { .. }, false) => {
            view.say("a paused rollout is rejected by rolling back, which needs it resumed first");
            return Intent::None;
        }
    };
    Intent::Plan(Box::new(ActionRequest {
        kind,
        service,
        source: item.source.clone(),
        environment: item.environment.clone(),
    }))
}

fn promotion_intent(state: &State, view: &mut View, direction: Direction) -> Intent {
    let Some(service) = selected_service_name(state, view) else {
        view.say("no service selected");
        return Intent::None;
    };
    let index = if matches!(direction, Direction::Forward) {
        view.candidate
    } else {
        0
    };
    match plan_promotion(state, &service, index, direction) {
        Ok(p) => Intent::Plan(Box::new(ActionRequest {
            source: p.registry_source.clone(),
            environment: Some(p.target.clone()),
            service,
            kind: ActionKind::Promote(Box::new(p)),
        })),
        Err(why) => {
            view.say(why);
            Intent::None
        }
    }
}

fn focused_env(state: &State, view: &View) -> Option<String> {
    state.environments.get(view.environment).map(|e| e.name.clone())
}

pub fn trigger_build(state: &State, view: &mut View) -> Intent {
    let Some(service) = selected_service(state, view) else {
        return Intent::None;
    };
    let Some(job_name) = service.jobs.build.clone() else {
        view.say(format!("{} has no build job in the config", service.name));
        return Intent::None;
    };
    let params = state
        .jobs
        .get(&job_name)
        .map(|j| j.parameters.clone())
        .unwrap_or_default();
    let request = ActionRequest {
        kind: ActionKind::TriggerBuild {
            job: job_name.clone(),
            params: vec![],
            parameterised: !params.is_empty(),
        },
        service: service.name.clone(),
        source: service.jobs.source.clone(),
        environment: None,
    };
    if params.is_empty() || view.read_only {
        return Intent::Plan(Box::new(request));
    }
    open_form(view, format!("Build {job_name}"), request, &params, None);
    Intent::None
}

pub fn deploy(state: &State, view: &mut View) -> Intent {
    let Some(service) = selected_service(state, view) else {
        return Intent::None;
    };
    let Some(job_name) = service.jobs.deploy.clone() else {
        view.say(format!("{} has no deploy job in the config", service.name));
        return Intent::None;
    };
    let Some(job) = state.jobs.get(&job_name) else {
        view.say(format!("{job_name} has not been read from Jenkins yet"));
        return Intent::None;
    };
    let env = focused_env(state, view);
    let request = ActionRequest {
        kind: ActionKind::TriggerBuild {
            job: job_name.clone(),
            params: vec![],
            parameterised: !job.parameters.is_empty(),
        },
        service: service.name.clone(),
        source: service.jobs.source.clone(),
        environment: env.clone(),
    };
    if job.parameters.is_empty() || view.read_only {
        return Intent::Plan(Box::new(request));
    }
    open_form(
        view,
        format!("Deploy {} to {}", service.name, env.as_deref().unwrap_or("?")),
        request,
        &job.parameters,
        env.as_deref(),
    );
    Intent::None
}

fn open_form(view: &mut View, title: String, request: ActionRequest, params: &[ParamDef], env: Option<&str>) {
    let fields = params
        .iter()
        .map(|def| {
            let mut value = def.default.clone().unwrap_or_default();
            // Prefill the environment parameter with the environment in focus.
            if let (Some(env), ParamKind::Choice { choices }) = (env, &def.kind)
                && def.name.to_ascii_lowercase().contains("env")
                && let Some(c) = choices.iter().find(|c| c.eq_ignore_ascii_case(env))
            {
                value = c.clone();
            }
            if let ParamKind::Boolean = def.kind
                && value.is_empty()
            {
                value = "false".into();
            }
            FormField {
                def: def.clone(),
                value,
            }
        })
        .collect();
    view.mode = Mode::Form(Form {
        title,
        request,
        fields,
        cursor: 0,
    });
}

/// The filled form becomes the request's parameters; a deploy's environment follows the form.
pub fn request_from_form(form: &Form) -> ActionRequest {
    let mut request = form.request.clone();
    let values: Vec<(String, String)> = form
        .fields
        .iter()
        .map(|f| (f.def.name.clone(), f.value.clone()))
        .collect();
    match &mut request.kind {
        ActionKind::TriggerBuild { params, .. } | ActionKind::ApproveInput { params, .. } => *params = values.clone(),
        _ => {}
    }
    if request.environment.is_some()
        && let Some((_, v)) = values.iter().find(|(k, _)| k.to_ascii_lowercase().contains("env"))
    {
        request.environment = Some(v.clone());
    }
    request
}

fn waiting_build<'a>(state: &'a State, view: &View) -> Option<(&'a crate::model::Service, &'a str, &'a Build)> {
    let (service, job, build) = selected_build(state, view)?;
    Some((service, job.full_name.as_str(), build))
}

pub fn approve(state: &State, view: &mut View) -> Intent {
    let Some((service, job, build)) = waiting_build(state, view) else {
        return Intent::None;
    };
    let Some(input) = build.pending_inputs.first() else {
        view.say(format!("{} #{} is not waiting for input", service.name, build.number));
        return Intent::None;
    };
    let stage = build.current_stage().map(|s| s.name.as_str()).unwrap_or("");
    let request = ActionRequest {
        kind: ActionKind::ApproveInput {
            job: job.to_string(),
            build: build.number,
            input_id: input.id.clone(),
            message: input.message.clone(),
            params: vec![],
        },
        service: service.name.clone(),
        source: service.jobs.source.clone(),
        environment: environment_for(state, &[&input.message, stage]),
    };
    if input.inputs.is_empty() || view.read_only {
        return Intent::Plan(Box::new(request));
    }
    let title = format!("Approve \"{}\"", input.message);
    open_form(view, title, request, &input.inputs, None);
    Intent::None
}

pub fn reject_or_abort(state: &State, view: &mut View) -> Intent {
    let Some((service, job, build)) = waiting_build(state, view) else {
        return Intent::None;
    };
    let stage = build.current_stage().map(|s| s.name.as_str()).unwrap_or("");
    if let Some(input) = build.pending_inputs.first() {
        return Intent::Plan(Box::new(ActionRequest {
            kind: ActionKind::RejectInput {
                job: job.to_string(),
                build: build.number,
                input_id: input.id.clone(),
                message: input.message.clone(),
            },
            service: service.name.clone(),
            source: service.jobs.source.clone(),
            environment: environment_for(state, &[&input.message, stage]),
        }));
    }
    if matches!(build.status, Status::Running | Status::Paused | Status::Pending) {
        return Intent::Plan(Box::new(ActionRequest {
            kind: ActionKind::AbortBuild {
                job: job.to_string(),
                build: build.number,
            },
            service: service.name.clone(),
            source: service.jobs.source.clone(),
            environment: environment_for(state, &[stage]),
        }));
    }
    view.say(format!(
        "{} #{} is {}: nothing to reject or abort",
        service.name,
        build.number,
        build.status.label()
    ));
    Intent::None
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::sample;

    #[test]
    fn environment_is_read_from_stage_and_message() {
        let state = sample::estate(1, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(
            environment_for(&state, &["Deploy to production?"]).as_deref(),
            Some("production")
        );
        assert_eq!(
            environment_for(&state, &["Approve prod"]).as_deref(),
            Some("production")
        );
        assert_eq!(
            environment_for(&state, &["Deploy to staging"]).as_deref(),
            Some("staging")
        );
        assert_eq!(environment_for(&state, &["Build & unit tests"]), None);
    }
}
