//! The log viewer's engine: reading a Jenkins console by byte offsets, recognising error lines,
//! searching, following a running build. Nothing here draws; the UI reads the [`LogDoc`] a
//! [`LogSession`] keeps.

pub mod doc;
pub mod open;
pub mod pager;
pub mod rules;
pub mod scan;
pub mod session;
pub mod source;
pub mod text;

pub use doc::{LogDoc, Origin, ShownLine};
pub use open::LogRequest;
pub use session::{Command, LogSession};
