//! The terminal UI: app state, actions, keymap, panes, rendering and input. Talks to the engine only
//! through an [`EngineHandle`](crate::engine::EngineHandle).
//!
//! The only module that touches ratatui and crossterm (guarded by `tests/layering.rs`).

pub mod action;
