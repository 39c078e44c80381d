//! The loop: terminal events and source updates in, one reducer, intents out to the action path,
//! and a redraw only when something changed.

mod browser;
mod clipboard;
mod intents;
mod keys;
mod run;
mod terminal;

pub use intents::{Intent, environment_for};
pub use keys::{handle_key, key_spec};
pub use run::{AppOptions, run};
pub use terminal::install_panic_hook;
