//! Whether an action may run at all. Pure: reads the plan and the state, says yes or why not.

use crate::model::{State, Status};

use super::{ActionKind, Plan};

pub struct PolicyContext<'a> {
    pub state: &'a State,
    /// `--read-only` on the command line: wins over everything.
    pub read_only: bool,
}

/// The four-eyes rule for approving something `started_by` started.
fn four_eyes(state: &State, source: &str, environment: Option<&str>, started_by: Option<&str>) -> Result<(), String> {
    let verdict = crate::model::inbox::four_eyes(&state.approvals, state, source, environment, started_by);
    if verdict.allows() {
        Ok(())
    } else {
        Err(verdict.describe())
    }
}

/// `Ok` or the one-sentence reason the action is refused.
pub fn check(plan: &Plan, ctx: &PolicyContext<'_>) -> Result<(), String> {
    if ctx.read_only {
        return Err("Flightdeck runs read-only (--read-only): no actions".into());
    }
    if let Some(env) = &plan.environment
        && env.read_only
    {
        return Err(format!("environment {} is read-only in the config", env.name));
    }
    if !plan.blockers.is_empty() {
        return Err(plan.blockers.join("; "));
    }
    let req = &plan.request;
    let job = ctx.state.jobs.get(req.kind.job());
    match &req.kind {
        ActionKind::TriggerBuild { .. } => {
            if let Some(j) = job
                && !j.buildable
            {
                return Err(format!("{} is not buildable (disabled in Jenkins)", j.full_name));
            }
        }
        ActionKind::ApproveInput { build, input_id, .. } | ActionKind::RejectInput { build, input_id, .. } => {
            let b = job.and_then(|j| j.build(*build));
            match b {
                Some(b) if b.pending_inputs.iter().any(|i| &i.id == input_id) => {
                    if matches!(req.kind, ActionKind::ApproveInput { .. }) {
                        let starter = crate::model::inbox::started_by(&b.causes);
                        four_eyes(ctx.state, &req.source, req.environment.as_deref(), starter.as_deref())?;
                    }
                }
                Some(_) => return Err(format!("#{build} no longer waits for input {input_id}")),
                None => return Err(format!("build #{build} is not known (yet)")),
            }
        }
        ActionKind::ResumeRollout { workload } => {
            let starter = ctx
                .state
                .workload(workload)
                .and_then(|v| v.deployment.started_by.clone());
            four_eyes(
                ctx.state,
                &workload.cluster,
                req.environment.as_deref(),
                starter.as_deref(),
            )?;
        }
        ActionKind::AwxDecision {
            source,
            id,
            approve: true,
            ..
        } => {
            let starter = ctx
                .state
                .awx
                .get(source)
                .and_then(|a| a.approvals.iter().find(|x| x.id == *id))
                .and_then(|a| a.launched_by.clone());
            four_eyes(ctx.state, source, req.environment.as_deref(), starter.as_deref())?;
        }
        ActionKind::UndoRollout { .. } | ActionKind::RestartWorkload { .. } | ActionKind::AwxDecision { .. } => {}
        ActionKind::AbortBuild { build, .. } => match job.and_then(|j| j.build(*build)) {
            Some(b) if matches!(b.status, Status::Running | Status::Paused | Status::Pending) => {}
            Some(b) => return Err(format!("#{build} is not running ({})", b.status.label())),
            None => return Err(format!("build #{build} is not known (yet)")),
        },
        ActionKind::Promote(p) => {
            if p.strategy.retags() && p.digest.is_empty() {
                return Err("no digest to promote".into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::actions::plan::{ActionKind, ActionRequest, plan};
    use crate::model::sample;

    fn request(kind: ActionKind, env: Option<&str>) -> ActionRequest {
        ActionRequest {
            kind,
            service: "payments-api".into(),
            source: "jenkins".into(),
            environment: env.map(str::to_string),
        }
    }

    fn verdict(p: &crate::actions::Plan, state: &crate::model::State, read_only: bool) -> Result<(), String> {
        check(p, &PolicyContext { state, read_only })
    }

    fn approve() -> ActionKind {
        ActionKind::ApproveInput {
            job: "dominion/payments-api".into(),
            build: 100,
            input_id: "Deploy-production".into(),
            message: "Deploy to production?".into(),
            params: vec![],
        }
    }

    #[test]
    fn protected_environment_needs_the_name_typed() {
        let mut state = sample::estate(6, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let p = plan(request(approve(), Some("production")), &state);
        assert_eq!(p.confirm, crate::actions::Confirm::TypeName("payments-api".into()));
        // Four-eyes: without knowing who the operator is on Jenkins, a protected approval is
        // refused rather than guessed.
        if let Err(why) = verdict(&p, &state, false) {
            assert!(why.contains("cannot tell who you are"), "{why}");
        }
        state
            .approvals
            .identities
            .insert("jenkins".into(), "sre-on-call".into());
        assert!(verdict(&p, &state, false).is_ok());
        assert!(
            p.calls[0]
                .url
                .ends_with("/job/dominion/job/payments-api/100/input/Deploy-production/proceedEmpty")
        );
    }

    #[test]
    fn read_only_flag_and_environment_refuse() {
        let mut state = sample::estate(6, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let p = plan(request(approve(), Some("production")), &state);
        assert!(verdict(&p, &state, true).unwrap_err().contains("--read-only"));
        state.environments[1].read_only = true;
        let p = plan(request(approve(), Some("production")), &state);
        assert!(verdict(&p, &state, false).unwrap_err().contains("read-only"));
    }

    #[test]
    fn stale_intents_are_refused() {
        let state = sample::estate(6, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        // ledger-service #100 failed: nothing to abort, nothing to approve.
        let abort = plan(
            request(
                ActionKind::AbortBuild {
                    job: "dominion/ledger-service".into(),
                    build: 100,
                },
                None,
            ),
            &state,
        );
        assert!(verdict(&abort, &state, false).unwrap_err().contains("not running"));
        let mut kind = approve();
        if let ActionKind::ApproveInput { job, .. } = &mut kind {
            *job = "dominion/ledger-service".into();
        }
        let p = plan(request(kind, None), &state);
        assert!(verdict(&p, &state, false).is_err());
    }
}

#[cfg(test)]
mod stale_tests {
    use chrono::{TimeZone, Utc};

    use crate::actions::plan::{ActionKind, ActionRequest, plan};
    use crate::model::sample;

    #[test]
    fn a_plan_on_stale_data_says_so() {
        let mut state = sample::estate(6, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let h = state.sources.get_mut("jenkins").unwrap();
        h.consecutive_failures = 3;
        h.last_error = Some("cannot connect: connection refused".into());
        let req = ActionRequest {
            kind: ActionKind::TriggerBuild {
                job: "dominion/payments-api".into(),
                params: vec![("VERSION".into(), "".into())],
                parameterised: true,
            },
            service: "payments-api".into(),
            source: "jenkins".into(),
            environment: None,
        };
        let p = plan(req, &state);
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("may be out of date") && n.contains("connection refused")),
            "{:?}",
            p.notes
        );
        assert!(p.notes.iter().any(|n| n.contains("VERSION is empty")), "{:?}", p.notes);
    }
}
