//! The terminal UI: app state, actions, keymap, panes, rendering and input. Talks to the engine only
//! through an [`EngineHandle`](crate::engine::EngineHandle).
//!
//! The only module that touches ratatui and crossterm (guarded by `tests/layering.rs`).

pub mod action;
pub mod app;
pub mod backend;
pub mod cmdline;
pub mod keymap;
pub mod panes;
pub mod state;
pub mod terminal;
pub mod theme;
pub use crate::engine::users as user;
pub mod widgets;
pub mod wrap;

pub use app::{App, UiOptions, run, run_async};
