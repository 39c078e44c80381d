//! What moving a tag did, whichever registry did it.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RetagOutcome {
    /// The tag already pointed at the digest: nothing was written.
    AlreadyThere,
    /// The tag now points at the digest; `previous` is what it pointed at before, if anything.
    Moved { previous: Option<String> },
}
