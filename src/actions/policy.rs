//! Whether an action may run at all. Pure: reads the plan and the state, says yes or why not.

use crate::model::{State, Status};

use super::{ActionKind, Plan};

pub struct PolicyContext<'a> {
    pub state: &'a State,
    /// `--read-only` on the command line: wins over everything.
    pub read_only: bool,
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
                Some(b) if b.pending_inputs.iter().any(|i| &i.id == input_id) => {}
                Some(_) => return Err(format!("#{build} no longer waits for input {input_id}")),
                None => return Err(format!("build #{build} is not known (yet)")),
            }
        }
        ActionKind::AbortBuild { build, .. } => match job.and_then(|j| j.build(*build)) {
            Some(b) if matches!(b.status, Status::Running | Status::Paused | Status::Pending) => {}
            Some(b) => return Err(format!("#{build} is not running ({})", b.status.label())),
            None => return Err(format!("build #{build} is not known (yet)")),
        },
    }
    Ok(())
}
