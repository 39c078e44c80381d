//! The log viewer's engine: reading a Jenkins console by byte offsets, recognising error lines,
//! searching, following a running build. Nothing here draws; the UI reads what it produces.

pub mod rules;
pub mod pager;
pub mod scan;
pub mod source;
pub mod text;
