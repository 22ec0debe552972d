//! Wiring: parse → store → detect → group into alerts. The synchronous [`Pipeline`] is what `vigil ingest`
//! runs and what the engine's tasks will drive; it owns the one [`Detector`] and its persisted state.
//!
//! May use every module but `tui`.
//!
//! [`Detector`]: crate::detect::Detector

mod api;
mod pipeline;

pub use api::{
    Change, Command, DetectionView, EngineError, EngineHandle, EngineStats, IntegrationView,
    with_exclusion,
};

pub use pipeline::{IngestStats, Pipeline, PipelineError};
