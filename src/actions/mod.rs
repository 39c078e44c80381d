//! Every change to the outside world goes through one path: plan → policy → confirm → execute →
//! record. The UI builds an [`ActionRequest`]; [`plan::plan`] says exactly what will happen;
//! [`policy::check`] may refuse it; the operator confirms; [`execute::execute`] runs it and
//! [`audit::AuditLog`] records it, whatever the outcome.

pub mod audit;
mod deploy_exec;
mod deploy_plan;
pub mod execute;
pub mod plan;
pub mod policy;
mod promote;
pub mod promotion;

pub use audit::{AuditLog, AuditRecord};
pub use execute::Executor;
pub use plan::{ActionKind, ActionRequest, Confirm, Plan, PlannedCall};
pub use policy::{PolicyContext, check};
pub use promote::{ImageRegistry, LazyEcr};
