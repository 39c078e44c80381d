//! Flightdeck: a terminal release cockpit.
//!
//! Dependencies point down this list and never back up: `model` imports nothing of the others,
//! `sources` never touch the terminal, `ui` reads the model and never calls a source.

pub mod actions;
pub mod app;
pub mod config;
pub mod logview;
pub mod model;
pub mod runtime;
pub mod sim;
pub mod sources;
pub mod ui;
