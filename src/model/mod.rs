//! The state model: plain data, serialisable, no I/O. Sources produce [`Update`]s, one reducer
//! ([`State::apply`]) merges them, the UI only reads.

mod build;
mod health;
mod reduce;
pub mod sample;
mod state;
mod status;

pub use build::{Build, Cause, ParamDef, ParamKind, PendingInput, Stage, StageError, TestCounts};
pub use health::{HealthLevel, SourceHealth};
pub use reduce::{ActionOutcome, QueueState, Update};
pub use state::{Environment, Job, JobKind, Notice, NoticeLevel, QueueFollow, Service, ServiceJobs, State};
pub use status::Status;
