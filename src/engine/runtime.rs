//! The running engine: the threads that feed sources into the one [`Pipeline`], the retention sweeps, and the
//! supervisor that turns any failure into [`Change::Fatal`] and stops everything cleanly.
//!
//! Layout, one std thread each (the pipeline and the store are synchronous, and so are file reads, so tokio
//! would only add hops; the client API's async methods run on whatever runtime the UI brings):
//!
//! ```text
//! file tail ─┐
//! stdin ─────┼─ bounded channel of record batches ─► pipeline thread ─► store ─► change feed
//! live demo ─┘                                        (checkpoint ≤ 500 ms, retune between batches)
//! retention (hourly)                    supervisor: worker exits, panics → Fatal, orderly shutdown
//! ```
//!
//! Shutdown order: sources stop (each reads what is already there once more), then the pipeline drains the
//! channel, checkpoints (flushes) and ends, then the supervisor reports. A source's file position is stored
//! after the events it covers and flushed with them, so a restart resumes without loss or re-reading.
//!
//! May use every module but `tui`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::api::{Change, EngineError, EngineHandle};
use super::pipeline::{Pipeline, PipelineError};
use super::{retention, sources};
use crate::config::{Config, SourceConfig};
use crate::detect::tuning::Tuning;
use crate::generate::Generator;
use crate::ingest::Record;
use crate::store::{Store, StoreError};

/// Longest time stored events wait for a flush while events flow; also the least time between two
/// `AlertsChanged` or `Stats` announcements (at most ~2 a second, so the UI never redraws faster for them).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How often idle threads look at the stop flag: the upper bound on how long a shutdown waits for them.
const TICK: Duration = Duration::from_millis(100);

/// Ingest-rate average window.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("engine.fingerprint_key: {0}")]
    FingerprintKey(String),
    #[error("cannot start the {name} thread: {source}")]
    Spawn {
        name: String,
        source: std::io::Error,
    },
}

/// An endless in-process event stream (the demo): a generator whose event-time gaps are replayed as
/// wall-clock pauses, so a live stream arrives at the pace its timestamps say.
pub struct LiveFeed {
    /// The generator, usually [`Generator::then_live`] after the demo's history.
    pub generator: Generator,
    /// Longest pause between two events, whatever their time gap (keeps a demo lively after a quiet spell).
    pub max_pause: Duration,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("max_pause", &self.max_pause)
            .finish_non_exhaustive()
    }
}

/// What to run besides the pipeline. `Default` is what `vigil serve` and plain `vigil` use.
#[derive(Debug)]
pub struct EngineOptions {
    /// Start the sources listed in the configuration (`false` for the demo, whose only source is `live`).
    pub config_sources: bool,
    /// Also read events from standard input until it ends.
    pub stdin: bool,
    /// An in-process live stream.
    pub live: Option<LiveFeed>,
    /// How often a followed file is checked for growth, truncation or rotation.
    pub file_poll: Duration,
    /// Time between retention sweeps (the first runs at start).
    pub retention_every: Duration,
    /// Record batches the sources may queue ahead of the pipeline before they wait (back-pressure).
    pub channel_capacity: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            config_sources: true,
            stdin: false,
            live: None,
            file_poll: Duration::from_millis(250),
            retention_every: Duration::from_secs(3600),
            channel_capacity: 64,
        }
    }
}

/// Records from one source on their way to the pipeline, with the source position they bring it to.
pub(crate) struct Batch {
    /// Source name, for quarantine records.
    pub source: Arc<str>,
    pub records: Vec<Record>,
    /// `(meta key, value)` to store once these records are durable (a file source's position).
    pub position: Option<(String, Vec<u8>)>,
}

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
}

impl Shared {
    fn new() -> Self {
        Self {
            stop_sources: AtomicBool::new(false),
            stop_pipeline: AtomicBool::new(false),
            backlog: AtomicU64::new(0),
            health: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Whether sources should finish (after one last read of what is already there).
    pub fn stopping(&self) -> bool {
        self.stop_sources.load(Ordering::Acquire)
    }

    fn request_stop(&self) {
        self.stop_sources.store(true, Ordering::Release);
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

    fn health_line(&self) -> String {
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

/// A source's end of the channel: counts the backlog and notices when the pipeline has gone.
#[derive(Clone)]
pub(crate) struct Feeder {
    tx: SyncSender<Batch>,
    shared: Arc<Shared>,
}

impl Feeder {
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
enum Role {
    Source,
    /// A source blocked in a read nobody can interrupt (stdin): not waited for at shutdown.
    DetachedSource,
    Pipeline,
    Retention,
}

/// A thread's last word: its name, role, and how it ended (a panic is an `Err` with the panic message).
struct Exit {
    name: String,
    role: Role,
    result: Result<(), String>,
}

/// Spawn a named worker whose end, normal, failed or panicking, is reported to the supervisor.
fn spawn_worker(
    name: String,
    role: Role,
    exits: &mpsc::Sender<Exit>,
    work: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Result<(String, Role, JoinHandle<()>), RuntimeError> {
    let exits = exits.clone();
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
        .map_err(|source| RuntimeError::Spawn {
            name: name.clone(),
            source,
        })?;
    Ok((name, role, handle))
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

/// The engine as a whole: use [`Engine::start`].
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// Start the engine over `store`: the pipeline thread, the sources of `config` (and of `opts`), retention
    /// and the supervisor. Returns the client handle for UIs and the tasks to stop or await.
    ///
    /// `http` and `atlassian_api` sources are not served by this version: each is skipped with a logged
    /// warning and a note in the health figure.
    pub fn start(
        store: Store,
        config: &Config,
        opts: EngineOptions,
    ) -> Result<(EngineHandle, EngineTasks), RuntimeError> {
        let (retune_tx, retune_rx) = mpsc::channel::<Tuning>();
        let handle = EngineHandle::new(
            store.clone(),
            config.tuning(),
            config.integrations.clone(),
            Some(retune_tx),
        )?;
        let key = match &config.engine.fingerprint_key {
            Some(r) => Some(
                r.resolve()
                    .map_err(|e| RuntimeError::FingerprintKey(e.to_string()))?
                    .into_bytes(),
            ),
            None => None,
        };
        let pipeline = Pipeline::new(store.clone(), &handle.current_tuning(), key.as_deref())?;

        let shared = Arc::new(Shared::new());
        let (tx, rx) = mpsc::sync_channel::<Batch>(opts.channel_capacity.max(1));
        let feeder = Feeder {
            tx,
            shared: shared.clone(),
        };
        let (exits_tx, exits_rx) = mpsc::channel::<Exit>();
        let mut workers = Vec::new();

        // Anything failing from here on must stop what already runs.
        let started = (|| {
            let pipe = PipelineWorker {
                pipeline,
                rx,
                retune: retune_rx,
                handle: handle.clone(),
                shared: shared.clone(),
            };
            workers.push(spawn_worker(
                "pipeline".into(),
                Role::Pipeline,
                &exits_tx,
                move || pipe.run(),
            )?);

            if opts.config_sources {
                for source in &config.sources {
                    match source {
                        SourceConfig::File { path } => {
                            let (path, store, feeder, shared) =
                                (path.clone(), store.clone(), feeder.clone(), shared.clone());
                            let poll = opts.file_poll;
                            workers.push(spawn_worker(
                                format!("file {}", path.display()),
                                Role::Source,
                                &exits_tx,
                                move || sources::follow_file(path, store, feeder, shared, poll),
                            )?);
                        }
                        SourceConfig::Http { listen, .. } => {
                            tracing::warn!(%listen, "http source skipped: not served by this version");
                            shared.set_health(
                                &format!("http {listen}"),
                                Some("not served by this version".into()),
                            );
                        }
                        SourceConfig::AtlassianApi { org_id, .. } => {
                            tracing::warn!(
                                org = %org_id,
                                "atlassian_api source skipped: not served by this version"
                            );
                            shared.set_health(
                                &format!("atlassian_api {org_id}"),
                                Some("not served by this version".into()),
                            );
                        }
                    }
                }
            }
            if opts.stdin {
                let (feeder, shared) = (feeder.clone(), shared.clone());
                workers.push(spawn_worker(
                    "stdin".into(),
                    Role::DetachedSource,
                    &exits_tx,
                    move || sources::read_stdin(feeder, shared),
                )?);
            }
            if let Some(live) = opts.live {
                let (feeder, shared) = (feeder.clone(), shared.clone());
                workers.push(spawn_worker(
                    "live".into(),
                    Role::Source,
                    &exits_tx,
                    move || sources::feed_live(live, feeder, shared),
                )?);
            }
            let (rstore, rshared, policy, every) = (
                store.clone(),
                shared.clone(),
                config.retention,
                opts.retention_every,
            );
            workers.push(spawn_worker(
                "retention".into(),
                Role::Retention,
                &exits_tx,
                move || retention::run(rstore, policy, rshared, every),
            )?);
            Ok::<(), RuntimeError>(())
        })();
        // Only the sources hold senders now: when the last ends the pipeline sees the channel close.
        drop(feeder);
        if let Err(e) = started {
            shared.request_stop();
            shared.stop_pipeline.store(true, Ordering::Release);
            return Err(e);
        }

        let (state_tx, state_rx) = watch::channel(None);
        let sup = Supervisor {
            exits: exits_rx,
            workers,
            shared: shared.clone(),
            handle: handle.clone(),
            state: state_tx,
        };
        // The supervisor keeps no sender of its own, but the exits channel must outlive every worker's clone.
        drop(exits_tx);
        let supervisor = std::thread::Builder::new()
            .name("vigil-supervisor".into())
            .spawn(move || sup.run())
            .map_err(|source| {
                shared.request_stop();
                shared.stop_pipeline.store(true, Ordering::Release);
                RuntimeError::Spawn {
                    name: "supervisor".into(),
                    source,
                }
            })?;
        tracing::info!(dir = %store.dir().display(), "engine started");
        Ok((
            handle,
            EngineTasks {
                shared,
                state: state_rx,
                supervisor: Some(supervisor),
            },
        ))
    }
}

/// The running engine's threads, to stop or to await. Dropping it asks the engine to stop without waiting;
/// call [`EngineTasks::shutdown`] to stop and wait for the final flush.
#[derive(Debug)]
pub struct EngineTasks {
    shared: Arc<Shared>,
    state: watch::Receiver<Option<Result<(), String>>>,
    supervisor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("stopping", &self.stopping())
            .finish_non_exhaustive()
    }
}

impl EngineTasks {
    /// Ask the engine to stop: sources finish what they have, the pipeline drains and flushes. Returns at
    /// once; await [`EngineTasks::wait`] for the end.
    pub fn stop(&self) {
        self.shared.request_stop();
    }

    /// Whether the engine has stopped (after a failure or a [`stop`](EngineTasks::stop)).
    pub fn is_stopped(&self) -> bool {
        self.state.borrow().is_some()
    }

    /// Wait until the engine has stopped: `Err` with the reason when something failed (the same text went out
    /// as [`Change::Fatal`]), `Ok` after a requested stop. Cancel-safe, so it can race a signal in
    /// `tokio::select!` and be called again.
    pub async fn wait(&mut self) -> Result<(), String> {
        let outcome = match self.state.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or(Ok(())),
            Err(_) => Err("the engine supervisor ended unexpectedly".to_string()),
        };
        if let Some(h) = self.supervisor.take() {
            // It has sent its last word; joining is immediate.
            let _ = h.join();
        }
        outcome
    }

    /// Stop gracefully (stop sources, drain the channel, final flush, join threads) and report how the
    /// engine ended.
    pub async fn shutdown(mut self) -> Result<(), String> {
        self.stop();
        self.wait().await
    }

    /// [`EngineTasks::shutdown`] for synchronous callers (the CLI after the UI returns). Do not call it on
    /// an async runtime's thread: it blocks.
    pub fn shutdown_blocking(self) -> Result<(), String> {
        futures::executor::block_on(self.shutdown())
    }
}

impl Drop for EngineTasks {
    fn drop(&mut self) {
        self.shared.request_stop();
    }
}

/// Watches the workers: joins each as it ends, turns the first failure into [`Change::Fatal`] and a stop,
/// and moves the pipeline to its drain once every source has ended.
struct Supervisor {
    exits: Receiver<Exit>,
    workers: Vec<(String, Role, JoinHandle<()>)>,
    shared: Arc<Shared>,
    handle: EngineHandle,
    state: watch::Sender<Option<Result<(), String>>>,
}

impl Supervisor {
    fn run(mut self) {
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

/// The pipeline thread: records in, checkpoints, change-feed announcements out.
struct PipelineWorker {
    pipeline: Pipeline,
    rx: Receiver<Batch>,
    retune: Receiver<Tuning>,
    handle: EngineHandle,
    shared: Arc<Shared>,
}

impl PipelineWorker {
    fn run(mut self) -> Result<(), String> {
        // The first call switches on touched-alert tracking.
        let _ = self.pipeline.take_touched();
        let mut positions: HashMap<String, Vec<u8>> = HashMap::new();
        let mut unflushed: u64 = 0;
        let mut last_checkpoint = Instant::now() - CHECKPOINT_EVERY;
        let mut stats = StatsClock::new(self.pipeline.stats().ingested);
        loop {
            let draining = self.shared.stop_pipeline.load(Ordering::Acquire);
            let next = if draining {
                match self.rx.try_recv() {
                    Ok(b) => Some(b),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                        self.checkpoint(&mut positions, &mut unflushed)
                            .map_err(|e| format!("cannot store events: {e}"))?;
                        stats.publish(&self.handle, &self.shared, &self.pipeline, true);
                        return Ok(());
                    }
                }
            } else {
                match self.rx.recv_timeout(TICK) {
                    Ok(b) => Some(b),
                    Err(RecvTimeoutError::Timeout) => None,
                    // No source left (or none configured): idle until told to stop.
                    Err(RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(TICK);
                        None
                    }
                }
            };
            self.apply_retune()
                .map_err(|e| format!("cannot store events: {e}"))?;
            if let Some(batch) = next {
                unflushed += batch.records.len() as u64;
                for rec in batch.records {
                    match rec {
                        Record::Event(ev) => self.pipeline.push_event(*ev),
                        Record::Rejected(r) => self.pipeline.push_rejected(&batch.source, r),
                    }
                    .map_err(|e| format!("cannot store events: {e}"))?;
                }
                if let Some((k, v)) = batch.position {
                    positions.insert(k, v);
                }
            }
            if (unflushed > 0 || !positions.is_empty())
                && last_checkpoint.elapsed() >= CHECKPOINT_EVERY
            {
                self.checkpoint(&mut positions, &mut unflushed)
                    .map_err(|e| format!("cannot store events: {e}"))?;
                last_checkpoint = Instant::now();
            }
            stats.publish(&self.handle, &self.shared, &self.pipeline, false);
        }
    }

    /// Newest tuning wins; events already queued are processed under the old one first.
    fn apply_retune(&mut self) -> Result<(), PipelineError> {
        let mut latest = None;
        while let Ok(t) = self.retune.try_recv() {
            latest = Some(t);
        }
        if let Some(t) = latest {
            self.pipeline.process_batch()?;
            if let Err(e) = self.pipeline.retune(&t) {
                // The handle validated and stored it; a detector that cannot take it keeps the old settings.
                tracing::warn!(error = %e, "detection settings not applied");
                self.handle.publish(Change::Notice(format!(
                    "detection settings not applied: {e}"
                )));
            }
        }
        Ok(())
    }

    /// Store what is queued, then the source positions it covers, then flush everything together, and
    /// announce the alerts it touched. Positions are written after their events: sled keeps a prefix of the
    /// writes on a crash, so a surviving position always has its events.
    fn checkpoint(
        &mut self,
        positions: &mut HashMap<String, Vec<u8>>,
        unflushed: &mut u64,
    ) -> Result<(), PipelineError> {
        self.pipeline.process_batch()?;
        for (k, v) in positions.drain() {
            self.pipeline.store().meta_put(&k, &v)?;
        }
        self.pipeline.checkpoint()?;
        self.shared.backlog.fetch_sub(*unflushed, Ordering::AcqRel);
        *unflushed = 0;
        let (mut raised, mut changed) = self.pipeline.take_touched();
        // The pipeline may list a new alert twice (where it is created and where it is written).
        raised.sort();
        raised.dedup();
        changed.retain(|id| raised.binary_search(id).is_err());
        if !raised.is_empty() || !changed.is_empty() {
            let n = raised.len();
            let mut ids = raised;
            ids.extend(changed);
            tracing::debug!(raised = n, changed = ids.len() - n, "alerts touched");
            self.handle
                .publish(Change::AlertsChanged { ids, raised: n });
        }
        Ok(())
    }
}

/// Decides when fresh figures go out: at most every [`CHECKPOINT_EVERY`], and only when something changed.
struct StatsClock {
    samples: VecDeque<(Instant, u64)>,
    last_sent: Instant,
    last: Option<(u64, u64, u64, u64)>,
}

impl StatsClock {
    fn new(ingested: u64) -> Self {
        let now = Instant::now();
        Self {
            samples: VecDeque::from([(now, ingested)]),
            last_sent: now - CHECKPOINT_EVERY,
            last: None,
        }
    }

    fn publish(
        &mut self,
        handle: &EngineHandle,
        shared: &Shared,
        pipeline: &Pipeline,
        force: bool,
    ) {
        let now = Instant::now();
        if !force && now.duration_since(self.last_sent) < CHECKPOINT_EVERY {
            return;
        }
        let ingested = pipeline.stats().ingested;
        self.samples.push_back((now, ingested));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let rate = match self.samples.front() {
            Some((t, n)) if now.duration_since(*t) > Duration::from_millis(100) => {
                (ingested - n) as f64 / now.duration_since(*t).as_secs_f64()
            }
            _ => 0.0,
        };
        let backlog = shared.backlog.load(Ordering::Acquire);
        let key = (
            ingested,
            backlog,
            // Tenths of an event a second: a decaying rate still settles.
            (rate * 10.0).round() as u64,
            shared.generation.load(Ordering::Acquire),
        );
        if force || self.last != Some(key) {
            handle.refresh_stats(rate, backlog, Some(shared.health_line()));
            self.last = Some(key);
            self.last_sent = now;
        }
    }
}
