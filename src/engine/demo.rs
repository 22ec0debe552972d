//! The demo's data: a month of a synthetic organization's history, incidents included, stored through the
//! [`Pipeline`] so that its alerts are raised as in production, then the same organization carrying on live.

use std::io::Read;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::pipeline::{IngestStats, Pipeline, PipelineError};
use super::sources::LiveFeed;
use crate::detect::catalogue::catalogue;
use crate::detect::tuning::Tuning;
use crate::generate::{GenerateOptions, Generator, LiveOptions};
use crate::store::Store;

/// What the demo loads and streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Everything synthetic derives from it (`vigil demo --seed`).
    pub seed: u64,
    /// Days of history, ending about now.
    pub days: u32,
    /// Events of history.
    pub events: u64,
    /// Incidents planted in the history, round-robin over the catalogue.
    pub incidents: u32,
    /// Mean event-time gap of the live stream, in ms: 350 is about three events a second.
    pub step_ms: u64,
    /// Event time between live incidents, in ms.
    pub incident_every_ms: u64,
    /// Longest real pause between two live events.
    pub max_pause: Duration,
}

impl Default for DemoOptions {
    /// 100k events over 30 days with three incidents per detection (about 4 s to load in a release build on
    /// a small machine), then ~3 events a second with an incident every 20 s.
    fn default() -> Self {
        Self {
            seed: 1,
            days: 30,
            events: 100_000,
            incidents: 3 * catalogue().len() as u32,
            step_ms: 350,
            incident_every_ms: 20_000,
            max_pause: Duration::from_secs(2),
        }
    }
}

/// The seeded store's figures and the stream that carries on from it.
#[derive(Debug)]
pub struct Seeded {
    /// What loading the history stored and raised (all zero when the store already held events).
    pub stats: IngestStats,
    /// How long loading took.
    pub elapsed: Duration,
    /// Whether history was loaded (a store that already holds events only gets the live stream).
    pub loaded_history: bool,
    /// Hand this to the engine ([`EngineOptions::live`](super::EngineOptions::live)).
    pub live: LiveFeed,
}

/// Load `opts.days` of history ending about `now` into `store` (unless it already holds events), then return
/// the live continuation: same people, same login histories, event times going on from the history's end.
pub fn seed(
    store: &Store,
    tuning: &Tuning,
    fingerprint_key: Option<&[u8]>,
    opts: &DemoOptions,
    now: DateTime<Utc>,
) -> Result<Seeded, PipelineError> {
    let started = Instant::now();
    if store.event_count() > 0 {
        tracing::info!("demo store already holds events; live stream only");
        let live = Generator::live_with(&LiveOptions {
            seed: opts.seed,
            start: now,
            step_ms: opts.step_ms,
            incident_every_ms: opts.incident_every_ms,
        });
        return Ok(Seeded {
            stats: IngestStats::default(),
            elapsed: started.elapsed(),
            loaded_history: false,
            live: LiveFeed {
                generator: live,
                max_pause: opts.max_pause,
            },
        });
    }
    let days = opts.days.max(1);
    let mut generator = Generator::new(&GenerateOptions {
        events: opts.events,
        seed: opts.seed,
        incidents: opts.incidents,
        start: now - chrono::Duration::days(i64::from(days)),
        days,
    });
    let mut pipeline = Pipeline::new(store.clone(), tuning, fingerprint_key)?;
    pipeline.ingest_reader(
        "demo",
        Lines {
            generator: &mut generator,
            line: String::with_capacity(1024),
            at: 0,
        },
    )?;
    let stats = pipeline.finish()?;
    let elapsed = started.elapsed();
    tracing::info!(
        events = stats.ingested,
        alerts = stats.alerts,
        ms = elapsed.as_millis() as u64,
        "demo history loaded"
    );
    Ok(Seeded {
        stats,
        elapsed,
        loaded_history: true,
        live: LiveFeed {
            generator: generator.then_live(opts.step_ms, opts.incident_every_ms),
            max_pause: opts.max_pause,
        },
    })
}

/// A generator as a byte stream of JSON lines, for [`Pipeline::ingest_reader`] (which parses on one thread
/// while it writes on another).
struct Lines<'a> {
    generator: &'a mut Generator,
    line: String,
    at: usize,
}

impl Read for Lines<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if self.at >= self.line.len() {
                if self.generator.next_into(&mut self.line).is_none() {
                    break;
                }
                self.line.push('\n');
                self.at = 0;
            }
            let src = &self.line.as_bytes()[self.at..];
            let k = src.len().min(out.len() - n);
            out[n..n + k].copy_from_slice(&src[..k]);
            self.at += k;
            n += k;
        }
        Ok(n)
    }
}
