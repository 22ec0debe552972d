//! The engine's worker plumbing: the state every engine thread shares ([`Shared`]), the channel end sources
//! feed the pipeline through ([`Feeder`]), the one place threads are started ([`WorkerSet`]) and the
//! [`Supervisor`] that joins them and turns the first failure into [`Change::Fatal`] and a stop.
//!
//! `runtime` wires the engine from these; `sources` and `retention` use [`Shared`] and [`Feeder`] only. This
//! file imports none of them, so adding a worker adds no import cycle.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::api::{Change, EngineHandle};
use crate::ingest::Record;

/// How often idle threads look at the stop flag: the upper bound on how long a shutdown waits for them.
pub(super) const TICK: Duration = Duration::from_millis(100);

/// Records from one source on their way to the pipeline, with the source position they bring it to.
pub(crate) struct Batch {
    /// Source name, for quarantine records.
    pub source: Arc<str>,
    pub records: Vec<Record>,
    /// `(meta key, value)` to store once these records are durable (a file source's position).
    pub position: Option<(String, Vec<u8>)>,
    /// Told what became of these records once they are durable (the HTTP receiver answers its client only
    /// then). Dropped unsent when the pipeline fails or ends first: the waiting side reads that as "not
    /// stored".
    pub ack: Option<Ack>,
}

/// What became of one acknowledged batch, counted by the pipeline when it committed it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct BatchCounts {
    /// New events stored.
    pub accepted: u64,
    /// Events whose id was already stored (kept once).
    pub duplicates: u64,
    /// Records refused (bad JSON, missing fields, implausible time), kept in quarantine.
    pub quarantined: u64,
}

/// The pipeline's end of a batch acknowledgement, fired after the flush that made the batch durable.
pub(crate) type Ack = tokio::sync::oneshot::Sender<BatchCounts>;

/// State every engine thread shares: stop flags, the backlog count, health notes.
pub(crate) struct Shared {
    stop_sources: AtomicBool,
    stop_pipeline: AtomicBool,
    /// Records handed to the channel and not yet durably stored.
    backlog: AtomicU64,
    /// Source name → what is wrong with it; empty means healthy.
    health: Mutex<BTreeMap<String, String>>,
    /// Bumped whenever figures change outside the pipeline (health notes, retention), so stats are resent.
    generation: AtomicU64,
    /// Wakes the delivery worker when a checkpoint has stored new deliveries.
    delivery_wake: Arc<tokio::sync::Notify>,
    /// Acknowledged batches read in full by a source and still being parsed: the pipeline waits a moment
    /// for them to take them together with the ones already queued.
    parsing: AtomicUsize,
    /// Retention found the store mostly garbage and stopped the engine so that its owner compacts it.
    compaction: AtomicBool,
}

impl Shared {
    pub(super) fn new() -> Self {
        Self {
            stop_sources: AtomicBool::new(false),
            stop_pipeline: AtomicBool::new(false),
            backlog: AtomicU64::new(0),
            health: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            delivery_wake: Arc::new(tokio::sync::Notify::new()),
            parsing: AtomicUsize::new(0),
            compaction: AtomicBool::new(false),
        }
    }

    /// Stop the engine so that its owner compacts the store and starts it again (see
    /// [`EngineTasks::compaction_requested`](super::runtime::EngineTasks::compaction_requested)).
    pub(super) fn request_compaction(&self) {
        self.compaction.store(true, Ordering::Release);
        self.request_stop();
    }

    /// Whether [`Shared::request_compaction`] was called.
    pub(super) fn compaction_requested(&self) -> bool {
        self.compaction.load(Ordering::Acquire)
    }

    /// An acknowledged batch is being parsed: counted until the pipeline takes it from the channel
    /// ([`Shared::acked_received`]), or until the guard drops if it never reaches the channel.
    pub(super) fn parsing(self: &Arc<Self>) -> ParsingGuard {
        self.parsing.fetch_add(1, Ordering::AcqRel);
        ParsingGuard(Some(self.clone()))
    }

    /// The pipeline took an acknowledged batch from the channel: it is no longer awaited.
    pub(super) fn acked_received(&self) {
        self.parsing.fetch_sub(1, Ordering::AcqRel);
    }

    /// Acknowledged batches being parsed, or queued and not yet taken by the pipeline.
    pub(super) fn parsing_now(&self) -> usize {
        self.parsing.load(Ordering::Acquire)
    }

    /// What the delivery worker waits on besides its clock.
    pub(super) fn delivery_wake(&self) -> Arc<tokio::sync::Notify> {
        self.delivery_wake.clone()
    }

    /// A checkpoint stored alerts (or events to forward): the delivery worker looks at the outbox now rather
    /// than at its next poll.
    pub(super) fn wake_delivery(&self) {
        self.delivery_wake.notify_one();
    }

    /// Whether sources should finish (after one last read of what is already there).
    pub fn stopping(&self) -> bool {
        self.stop_sources.load(Ordering::Acquire)
    }

    /// Ask sources to finish (after one last read of what is already there).
    pub(super) fn request_stop(&self) {
        self.stop_sources.store(true, Ordering::Release);
    }

    /// Stop everything at once: sources and the pipeline's wait for them (a start that failed half-way).
    pub(super) fn abort(&self) {
        self.request_stop();
        self.stop_pipeline.store(true, Ordering::Release);
    }

    /// Whether the pipeline should drain what is queued and end (every source has ended).
    pub(super) fn pipeline_draining(&self) -> bool {
        self.stop_pipeline.load(Ordering::Acquire)
    }

    /// Records queued by sources and not yet durably stored.
    pub(super) fn backlog(&self) -> u64 {
        self.backlog.load(Ordering::Acquire)
    }

    /// `n` queued records are now durable.
    pub(super) fn stored(&self, n: u64) {
        self.backlog.fetch_sub(n, Ordering::AcqRel);
    }

    /// Bumped whenever figures change outside the pipeline; compare to know when to resend them.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Set (`Some`) or clear (`None`) the health note of `who`.
    pub fn set_health(&self, who: &str, note: Option<String>) {
        let mut h = match self.health.lock() {
            Ok(h) => h,
            Err(p) => p.into_inner(),
        };
        let changed = match note {
            Some(n) => h.insert(who.to_string(), n.clone()).as_deref() != Some(n.as_str()),
            None => h.remove(who).is_some(),
        };
        drop(h);
        if changed {
            self.touch();
        }
    }

    /// Mark the figures stale (the pipeline thread republishes them).
    pub fn touch(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Every health note in one line (`ok` when there is none), for the status header.
    pub(super) fn health_line(&self) -> String {
        let h = match self.health.lock() {
            Ok(h) => h,
            Err(p) => p.into_inner(),
        };
        if h.is_empty() {
            "ok".into()
        } else {
            h.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; ")
        }
    }

    /// Sleep up to `d`, waking early when sources are asked to stop. Returns whether they are.
    pub fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            if self.stopping() {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(TICK));
        }
    }
}

/// Counts one acknowledged batch in [`Shared::parsing_now`]: until the pipeline takes it once it is queued
/// ([`ParsingGuard::queued`]), else until the guard drops (the body held no record, or the pipeline had gone).
pub(super) struct ParsingGuard(Option<Arc<Shared>>);

impl ParsingGuard {
    /// The batch is in the channel: the pipeline uncounts it when it takes it.
    pub(super) fn queued(mut self) {
        self.0 = None;
    }
}

impl Drop for ParsingGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.parsing.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A source's end of the channel: counts the backlog and notices when the pipeline has gone.
#[derive(Clone)]
pub(crate) struct Feeder {
    tx: SyncSender<Batch>,
    shared: Arc<Shared>,
}

impl Feeder {
    /// The sending end of the pipeline's channel, counting into `shared`'s backlog.
    pub(super) fn new(tx: SyncSender<Batch>, shared: Arc<Shared>) -> Self {
        Self { tx, shared }
    }

    /// Hand a batch to the pipeline, waiting while the channel is full. `false` once the pipeline has ended:
    /// the source should stop.
    pub fn send(&self, batch: Batch) -> bool {
        let n = batch.records.len() as u64;
        self.shared.backlog.fetch_add(n, Ordering::AcqRel);
        if self.tx.send(batch).is_err() {
            self.shared.backlog.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }
}

/// What kind of thread ended, for the supervisor's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Source,
    /// A source blocked in a read nobody can interrupt (stdin): not waited for at shutdown.
    DetachedSource,
    Pipeline,
    Retention,
    /// The delivery worker: stops with the sources; what is in flight is sent again on the next start.
    Delivery,
    /// The control socket: stops with the sources and removes its file.
    Service,
}

/// A thread's last word: its name, role, and how it ended (a panic is an `Err` with the panic message).
struct Exit {
    name: String,
    role: Role,
    result: Result<(), String>,
}

/// A thread could not be started (the process is out of threads or memory).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the {name} thread: {source}")]
pub struct SpawnError {
    /// The worker's name (`pipeline`, `file /var/log/audit.jsonl`…).
    pub name: String,
    /// What the OS said.
    #[source]
    pub source: std::io::Error,
}

/// The engine's threads, started in one place: each is named, its end (normal, failed or panicking) is
/// reported to the [`Supervisor`], and the supervisor joins it. Sources, retention and delivery plug in
/// by calling [`WorkerSet::spawn`] with their role; none of them knows about the others.
pub(super) struct WorkerSet {
    exits_tx: mpsc::Sender<Exit>,
    exits: Receiver<Exit>,
    workers: Vec<(String, Role, JoinHandle<()>)>,
}

impl WorkerSet {
    /// No workers yet.
    pub(super) fn new() -> Self {
        let (exits_tx, exits) = mpsc::channel();
        Self {
            exits_tx,
            exits,
            workers: Vec::new(),
        }
    }

    /// Start `work` on a thread named after `name`; its result (or panic) reaches the supervisor.
    pub(super) fn spawn(
        &mut self,
        name: String,
        role: Role,
        work: impl FnOnce() -> Result<(), String> + Send + 'static,
    ) -> Result<(), SpawnError> {
        let exits = self.exits_tx.clone();
        let thread_name = name.clone();
        let handle = std::thread::Builder::new()
            .name(format!("vigil-{}", short(&name)))
            .spawn(move || {
                let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
                    Ok(r) => r,
                    Err(p) => Err(format!("{thread_name} panicked: {}", panic_text(&*p))),
                };
                let _ = exits.send(Exit {
                    name: thread_name,
                    role,
                    result,
                });
            })
            .map_err(|source| SpawnError {
                name: name.clone(),
                source,
            })?;
        self.workers.push((name, role, handle));
        Ok(())
    }

    /// Hand the workers to a supervisor that reports to `handle` and `state`.
    pub(super) fn supervise(
        self,
        shared: Arc<Shared>,
        handle: EngineHandle,
        state: watch::Sender<Option<Result<(), String>>>,
    ) -> Supervisor {
        // The supervisor keeps no sender of its own: the channel closes when the last worker's clone goes.
        let Self { exits, workers, .. } = self;
        Supervisor {
            exits,
            workers,
            shared,
            handle,
            state,
        }
    }
}

/// Thread names are capped at 15 bytes by Linux; keep the informative end of a path.
fn short(name: &str) -> String {
    let tail: String = name.chars().rev().take(9).collect();
    tail.chars().rev().collect()
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("stopping", &self.stopping())
            .finish_non_exhaustive()
    }
}

/// Watches the workers: joins each as it ends, turns the first failure into [`Change::Fatal`] and a stop,
/// and moves the pipeline to its drain once every source has ended.
pub(super) struct Supervisor {
    exits: Receiver<Exit>,
    workers: Vec<(String, Role, JoinHandle<()>)>,
    shared: Arc<Shared>,
    handle: EngineHandle,
    state: watch::Sender<Option<Result<(), String>>>,
}

impl Supervisor {
    /// Run until every awaited worker has ended; then publish how the engine ended.
    pub(super) fn run(mut self) {
        let mut first_error: Option<String> = None;
        let waited = |w: &[(String, Role, JoinHandle<()>)], role: Role| {
            w.iter().filter(|(_, r, _)| *r == role).count()
        };
        loop {
            match self.exits.recv_timeout(TICK) {
                Ok(exit) => {
                    if let Some(i) = self
                        .workers
                        .iter()
                        .position(|(n, r, _)| *n == exit.name && *r == exit.role)
                    {
                        let (_, _, h) = self.workers.swap_remove(i);
                        let _ = h.join();
                    }
                    match exit.result {
                        Ok(()) => tracing::info!(worker = %exit.name, "engine worker ended"),
                        Err(msg) => {
                            tracing::error!(worker = %exit.name, error = %msg, "engine worker failed");
                            if first_error.is_none() {
                                self.handle.refresh_stats(0.0, 0, Some(msg.clone()));
                                self.handle.publish(Change::Fatal(msg.clone()));
                                first_error = Some(msg);
                                self.shared.request_stop();
                            }
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.shared.stopping() && waited(&self.workers, Role::Source) == 0 {
                self.shared.stop_pipeline.store(true, Ordering::Release);
            }
            if waited(&self.workers, Role::Source) == 0
                && waited(&self.workers, Role::Pipeline) == 0
                && waited(&self.workers, Role::Retention) == 0
                && waited(&self.workers, Role::Delivery) == 0
                && waited(&self.workers, Role::Service) == 0
            {
                break;
            }
        }
        // A detached stdin reader may still be blocked in a read; it ends with the process.
        self.workers.clear();
        let outcome = match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        };
        tracing::info!(ok = outcome.is_ok(), "engine stopped");
        let _ = self.state.send(Some(outcome));
    }
}
