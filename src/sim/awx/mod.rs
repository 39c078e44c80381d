//! A simulated AWX (API v2) at `{estate}/awx`, so the API is `{estate}/awx/api/v2/…` and every
//! link it writes (`url`, `related`, `next`, `Location`) carries the prefix, as behind a reverse
//! proxy. Auth: `Bearer <estate token>` (user `flightdeck`) or Basic `flightdeck:<token>`.
//!
//! Contents (ids in [`AwxFacts::templates`]):
//! - job templates `deploy-{payments-api,ledger-service}-{staging,production}`: payments-api's
//!   ask for variables on launch and have a survey (`version` required; `digest`, `image`,
//!   `environment`);
//!   `deploy-ledger-service-staging` neither asks nor has a survey and pins `version` in its own
//!   extra variables, so a launch with extra variables answers 201 with them in
//!   `ignored_fields` (the trap); `deploy-ledger-service-production` does not ask but its
//!   survey defines the same four;
//! - `rotate-ledger-credentials`, which the API user may not launch (403);
//! - the workflow `release-payments-api-production`: approval node "Approve production change"
//!   (times out after 24 h), then `deploy-payments-api-production`. Dmitri's run waits at the
//!   approval at start; older runs were approved once (by erin) and timed out once.
//! - history: deploys by various people with versions ECR holds; payments-api's staging deploy
//!   runs at start (its output grows for ten minutes of story time); ledger-service's newest
//!   production deploy failed at `fatal: [app-2]` in "Wait for /actuator/health".
//!
//! A launch runs for a few seconds of story time (pending → waiting → running → successful).
//! Approving runs the workflow's deploy node (then the workflow succeeds); denying fails the
//! workflow; deciding twice answers 400 "This workflow step has already been approved or
//! denied.". Faults set on `/awx/` paths apply as everywhere else.

mod output;
mod render;
mod routes;
mod story;

pub(crate) use routes::{AwxReq, authenticate, handle, is_awx};
pub(crate) use story::AwxSim;
pub use story::{AwxFacts, AwxJobFact, AwxLaunch};

/// The path prefix of the simulated AWX below the estate's URL.
pub(crate) const PREFIX: &str = "/awx";

#[cfg(test)]
mod tests;
