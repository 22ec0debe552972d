//! Wiring: parse → store → detect → group into alerts. The synchronous [`Pipeline`] is what `vigil ingest`
//! runs and what the engine's threads drive ([`Engine::start`]); it owns the one [`Detector`] and its
//! persisted state. UIs talk to the engine only through an [`EngineHandle`].
//!
//! May use every module but `tui`.
//!
//! [`Detector`]: crate::detect::Detector

mod api;
mod attach;
pub mod delivery;
pub mod demo;
mod pipeline;
mod poller;
mod receiver;
mod redetect;
pub mod respond;
pub mod retention;
mod runtime;
pub mod site_scan;
pub mod socket;
mod sources;
pub mod status;
pub mod users;
mod workers;

pub use api::{
    Answer, Call, Change, Command, DetectionView, EngineError, EngineHandle, EngineStats,
    IntegrationCondition, IntegrationView, Seen, with_exclusion,
};

pub use pipeline::{IngestStats, Pipeline, PipelineError};
pub use poller::PollerOptions;
pub use runtime::{CHECKPOINT_EVERY, Engine, EngineOptions, EngineTasks, RuntimeError};
pub use sources::{LiveFeed, position_key};
pub use status::StatusReport;
pub use workers::SpawnError;
