//! The running engine: the threads that feed sources into the one [`Pipeline`], the retention sweeps, and the
//! supervisor that turns any failure into [`Change::Fatal`] and stops everything cleanly.
//!
//! Layout, one std thread each (the pipeline and the store are synchronous, and so are file reads, so tokio
//! would only add hops; the client API's async methods run on whatever runtime the UI brings):
//!
//! ```text
//! file tail ─┐
//! stdin ─────┤
//! API poller ┤
//! http ──────┼─ bounded channel of record batches ─► pipeline thread ─► store ─► change feed
//! live demo ─┘                                        (checkpoint ≤ 500 ms, retune between batches;
//!                                                      an HTTP batch is acknowledged after its flush)
//! retention (hourly)                    supervisor: worker exits, panics → Fatal, orderly shutdown
//! delivery (outbox → receivers, woken by each checkpoint; its own small tokio runtime for HTTP)
//! ```
//!
//! Shutdown order: sources stop (each reads what is already there once more), then the pipeline drains the
//! channel, checkpoints (flushes) and ends, then the supervisor reports. A source's file position is stored
//! after the events it covers and flushed with them, so a restart resumes without loss or re-reading.
//!
//! May use every module but `tui`.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::api::{Change, EngineError, EngineHandle};
use super::pipeline::{Pipeline, PipelineError};
use super::receiver::ReceiverSettings;
use super::sources::LiveFeed;
use super::workers::{Ack, Batch, BatchCounts, Feeder, Role, Shared, SpawnError, TICK, WorkerSet};
use super::{delivery, poller, receiver, retention, socket, sources};
use crate::config::{Config, SourceConfig};
use crate::detect::tuning::Tuning;
use crate::ingest::Record;
use crate::store::{Store, StoreError};

/// Longest time stored events wait for a flush while events flow; also the least time between two
/// `AlertsChanged` or `Stats` announcements (at most ~2 a second, so the UI never redraws faster for them).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Longest time an acknowledged batch (an HTTP request) waits for its flush while events keep flowing:
/// acknowledgements are flushed in groups, at most this far apart.
const ACK_FLUSH_WITHIN: Duration = Duration::from_millis(20);

/// Longest wait for acknowledged batches still being parsed, to take them together with those queued (see
/// `PipelineWorker::gather`): a few parses' worth.
const GATHER_WAIT: Duration = Duration::from_millis(25);

/// How often that wait looks whether anything is still being parsed.
const GATHER_NAP: Duration = Duration::from_millis(1);

/// Most records taken together: a store batch stays a few MB.
const GATHER_MAX_RECORDS: usize = 8_000;

/// How long [`Engine::start`] waits for an HTTP receiver to report whether it listens.
const LISTEN_WAIT: Duration = Duration::from_secs(10);

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
    #[error(transparent)]
    FingerprintKey(#[from] crate::config::FingerprintKeyError),
    #[error(transparent)]
    Spawn(#[from] SpawnError),
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
    /// Backoff, page cap and timeout of `atlassian_api` sources (tests shorten the waits).
    pub poller: poller::PollerOptions,
    /// Serve the control socket at this path (`vigil serve`: `<data-dir>/vigil.sock`).
    pub socket: Option<PathBuf>,
    /// Timeout and 429 wait of suspend and restore calls (tests shorten them).
    pub access: super::respond::AccessOptions,
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
            poller: poller::PollerOptions::default(),
            socket: None,
            access: super::respond::AccessOptions::default(),
        }
    }
}

/// The engine as a whole: use [`Engine::start`].
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// Start the engine over `store`: the pipeline thread, the sources of `config` (and of `opts`), retention
    /// and the supervisor. Returns the client handle for UIs and the tasks to stop or await.
    ///
    /// An `http` source that cannot read its token or listen is skipped with a logged warning and a note
    /// in the health figure; an `atlassian_api` source whose key is refused stops with a note. The engine
    /// runs on without them.
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
        )?
        .with_org_admins(
            super::respond::OrgAdmin::from_sources(&config.sources),
            opts.access.clone(),
        );
        // Alert writes queue their deliveries from the first event on.
        store.set_integrations(
            config
                .integrations
                .iter()
                .map(|i| i.integration.clone())
                .collect(),
        );
        let key = config.engine.resolve_fingerprint_key()?;
        let mut pipeline = Pipeline::new(store.clone(), &handle.current_tuning(), key.as_deref())?;
        pipeline.set_time_limits(config.engine.time_limits());

        let shared = Arc::new(Shared::new());
        let (tx, rx) = mpsc::sync_channel::<Batch>(opts.channel_capacity.max(1));
        let feeder = Feeder::new(tx, shared.clone());
        let mut workers = WorkerSet::new();
        let mut http_addrs = Vec::new();

        // Anything failing from here on must stop what already runs.
        let started = (|| {
            let pipe = PipelineWorker {
                pipeline,
                rx,
                retune: retune_rx,
                handle: handle.clone(),
                shared: shared.clone(),
                acks: Vec::new(),
                ack_since: None,
                senders: 1,
            };
            workers.spawn("pipeline".into(), Role::Pipeline, move || pipe.run())?;

            if opts.config_sources {
                for source in &config.sources {
                    match source {
                        SourceConfig::File { path } => {
                            let (path, store, feeder, shared) =
                                (path.clone(), store.clone(), feeder.clone(), shared.clone());
                            let poll = opts.file_poll;
                            workers.spawn(
                                format!("file {}", path.display()),
                                Role::Source,
                                move || sources::follow_file(path, store, feeder, shared, poll),
                            )?;
                        }
                        SourceConfig::Http {
                            listen,
                            token,
                            max_body_bytes,
                            limits,
                        } => {
                            let name = format!("http {listen}");
                            let token = match token.resolve() {
                                Ok(t) if !t.is_empty() => t,
                                Ok(_) => {
                                    tracing::warn!(%listen, "http source skipped: its token is empty");
                                    shared.set_health(&name, Some("its token is empty".into()));
                                    continue;
                                }
                                Err(e) => {
                                    tracing::warn!(%listen, error = %e, "http source skipped: cannot read its token");
                                    shared.set_health(
                                        &name,
                                        Some(format!("cannot read its token: {e}")),
                                    );
                                    continue;
                                }
                            };
                            let settings = ReceiverSettings {
                                listen: *listen,
                                token,
                                max_body_bytes: *max_body_bytes,
                                limits: *limits,
                            };
                            let (ready_tx, ready_rx) = mpsc::sync_channel(1);
                            let (feeder, shared) = (feeder.clone(), shared.clone());
                            workers.spawn(name.clone(), Role::Source, move || {
                                receiver::run(settings, feeder, shared, ready_tx)
                            })?;
                            match ready_rx.recv_timeout(LISTEN_WAIT) {
                                Ok(Ok(addr)) => http_addrs.push(addr),
                                // The receiver set its health note and logged why.
                                Ok(Err(_)) => {}
                                Err(_) => tracing::warn!(
                                    receiver = %name,
                                    "http receiver did not report whether it listens"
                                ),
                            }
                        }
                        SourceConfig::AtlassianApi { org_id, .. } => {
                            let (src, popts) = (source.clone(), opts.poller.clone());
                            let (store, feeder, shared) =
                                (store.clone(), feeder.clone(), shared.clone());
                            workers.spawn(
                                format!("atlassian_api {org_id}"),
                                Role::Source,
                                move || poller::run(src, popts, store, feeder, shared),
                            )?;
                        }
                    }
                }
            }
            if opts.stdin {
                let (feeder, shared) = (feeder.clone(), shared.clone());
                workers.spawn("stdin".into(), Role::DetachedSource, move || {
                    sources::read_stdin(feeder, shared)
                })?;
            }
            if let Some(live) = opts.live {
                let (feeder, shared) = (feeder.clone(), shared.clone());
                workers.spawn("live".into(), Role::Source, move || {
                    sources::feed_live(live, feeder, shared)
                })?;
            }
            let (rstore, rshared, policy, every) = (
                store.clone(),
                shared.clone(),
                config.retention,
                opts.retention_every,
            );
            if let Some(path) = opts.socket.clone() {
                let (sstore, sshared, roles) =
                    (store.clone(), shared.clone(), config.roles.clone());
                let (shandle, sfeeder) = (handle.clone(), feeder.clone());
                workers.spawn("socket".into(), Role::Service, move || {
                    socket::run(path, sstore, shandle, sfeeder, roles, sshared)
                })?;
            }
            workers.spawn("retention".into(), Role::Retention, move || {
                retention::run(rstore, policy, rshared, every)
            })?;
            if !config.integrations.is_empty() {
                let targets = delivery::targets(&config.integrations);
                let (dstore, dshared) = (store.clone(), shared.clone());
                let wake = shared.delivery_wake();
                workers.spawn("delivery".into(), Role::Delivery, move || {
                    delivery::run(dstore, targets, dshared, wake)
                })?;
            }
            Ok::<(), RuntimeError>(())
        })();
        // Only the sources hold senders now: when the last ends the pipeline sees the channel close.
        drop(feeder);
        if let Err(e) = started {
            shared.abort();
            return Err(e);
        }

        let (state_tx, state_rx) = watch::channel(None);
        let sup = workers.supervise(shared.clone(), handle.clone(), state_tx);
        let supervisor = std::thread::Builder::new()
            .name("vigil-supervisor".into())
            .spawn(move || sup.run())
            .map_err(|source| {
                shared.abort();
                RuntimeError::Spawn(SpawnError {
                    name: "supervisor".into(),
                    source,
                })
            })?;
        tracing::info!(dir = %store.dir().display(), "engine started");
        Ok((
            handle,
            EngineTasks {
                shared,
                state: state_rx,
                supervisor: Some(supervisor),
                http_addrs,
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
    http_addrs: Vec<std::net::SocketAddr>,
}

impl EngineTasks {
    /// The addresses the HTTP receivers listen on, in config order (one that could not listen is left out):
    /// with `listen = "127.0.0.1:0"` this is how tests and benches learn the port.
    pub fn http_addrs(&self) -> &[std::net::SocketAddr] {
        &self.http_addrs
    }

    /// Ask the engine to stop: sources finish what they have, the pipeline drains and flushes. Returns at
    /// once; await [`EngineTasks::wait`] for the end.
    pub fn stop(&self) {
        self.shared.request_stop();
    }

    /// Whether the engine stopped because retention found the store's file mostly garbage
    /// (`retention.compact_garbage_percent`): its owner (`vigil serve`) should compact the store and start
    /// the engine again.
    pub fn compaction_requested(&self) -> bool {
        self.shared.compaction_requested()
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

/// The pipeline thread: records in, checkpoints, change-feed announcements out.
struct PipelineWorker {
    pipeline: Pipeline,
    rx: Receiver<Batch>,
    retune: Receiver<Tuning>,
    handle: EngineHandle,
    shared: Arc<Shared>,
    /// Acknowledged batches committed and waiting for the flush that makes them durable, with their counts.
    acks: Vec<(Ack, BatchCounts)>,
    /// When the oldest of them was committed.
    ack_since: Option<Instant>,
    /// Acknowledged batches taken together last time: about how many senders post at once, each waiting
    /// for its answer before it sends again. [`PipelineWorker::gather`] waits for as many.
    senders: usize,
}

impl PipelineWorker {
    fn run(mut self) -> Result<(), String> {
        // The first call switches on touched-alert tracking.
        let _ = self.pipeline.take_touched();
        let mut positions: HashMap<String, Vec<u8>> = HashMap::new();
        let mut unflushed: u64 = 0;
        let mut last_checkpoint = Instant::now() - CHECKPOINT_EVERY;
        let mut stats = StatsClock::new(self.pipeline.stats().ingested);
        // A batch taken to see whether more was waiting.
        let mut lookahead: Option<Batch> = None;
        loop {
            let draining = self.shared.pipeline_draining();
            let next = if let Some(b) = lookahead.take() {
                Some(b)
            } else if draining {
                match self.rx.try_recv() {
                    Ok(b) => Some(self.received(b)),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                        self.checkpoint(&mut positions, &mut unflushed, true)
                            .map_err(|e| format!("cannot store events: {e}"))?;
                        stats.publish(&self.handle, &self.shared, &self.pipeline, true);
                        return Ok(());
                    }
                }
            } else {
                match self.rx.recv_timeout(TICK) {
                    Ok(b) => Some(self.received(b)),
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
            let got = next.is_some();
            if let Some(batch) = next {
                let taken = if batch.ack.is_some() {
                    let group = self.gather(batch, &mut lookahead, draining);
                    self.take_acked(group, &mut positions, &mut unflushed)
                } else {
                    self.take(batch, &mut positions, &mut unflushed)
                };
                taken.map_err(|e| format!("cannot store events: {e}"))?;
            }
            // Nothing more waiting: what arrived is stored and flushed now, so its alerts reach the UI and
            // the receivers at once instead of at the next checkpoint.
            let idle = !got
                || match self.rx.try_recv() {
                    Ok(b) => {
                        lookahead = Some(self.received(b));
                        false
                    }
                    Err(_) => true,
                };
            if unflushed > 0 || !positions.is_empty() || !self.acks.is_empty() {
                let ack_due = self
                    .ack_since
                    .is_some_and(|t| t.elapsed() >= ACK_FLUSH_WITHIN);
                if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
                    self.checkpoint(&mut positions, &mut unflushed, true)
                        .map_err(|e| format!("cannot store events: {e}"))?;
                    last_checkpoint = Instant::now();
                } else if (idle && got) || ack_due {
                    self.checkpoint(&mut positions, &mut unflushed, false)
                        .map_err(|e| format!("cannot store events: {e}"))?;
                }
            }
            stats.publish(&self.handle, &self.shared, &self.pipeline, false);
        }
    }

    /// Queue one unacknowledged batch's records (a file, stdin, the poller, the demo): they are processed
    /// in batches of the pipeline's size, whatever their sources' sizes.
    fn take(
        &mut self,
        batch: Batch,
        positions: &mut HashMap<String, Vec<u8>>,
        unflushed: &mut u64,
    ) -> Result<(), PipelineError> {
        let Batch {
            source,
            records,
            position,
            ack: _,
        } = batch;
        *unflushed += records.len() as u64;
        for rec in records {
            match rec {
                Record::Event(ev) => self.pipeline.push_event(*ev),
                Record::Rejected(r) => self.pipeline.push_rejected(&source, r),
            }?;
        }
        if let Some((k, v)) = position {
            positions.insert(k, v);
        }
        Ok(())
    }

    /// A batch just taken from the channel; an acknowledged one is no longer awaited by [`Self::gather`].
    fn received(&self, batch: Batch) -> Batch {
        if batch.ack.is_some() {
            self.shared.acked_received();
        }
        batch
    }

    /// `first`, an acknowledged batch (an HTTP request), and the acknowledged batches queued behind it, to be
    /// processed together. While a receiver is still parsing requests (several senders at once), wait up to
    /// [`GATHER_WAIT`] for them: requests that arrive together are taken in time order together, where
    /// taken one by one a later one first would make the earlier one's events late and their actors
    /// re-detected. A lone sender never waits (nothing else is being parsed). An unacknowledged batch met
    /// on the way is left in `lookahead` for the next turn.
    fn gather(
        &mut self,
        first: Batch,
        lookahead: &mut Option<Batch>,
        draining: bool,
    ) -> Vec<Batch> {
        let mut events = first.records.len();
        let mut group = vec![first];
        let until = Instant::now() + GATHER_WAIT;
        while events < GATHER_MAX_RECORDS {
            let next = match self.rx.try_recv() {
                Ok(b) => self.received(b),
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    let left = until.saturating_duration_since(Instant::now());
                    let awaited = group.len() < self.senders || self.shared.parsing_now() > 0;
                    if draining || left.is_zero() || !awaited {
                        break;
                    }
                    // Short naps rather than one long wait: a parse may end in a refusal (nothing queued),
                    // and the count tells so.
                    match self.rx.recv_timeout(left.min(GATHER_NAP)) {
                        Ok(b) => self.received(b),
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            if next.ack.is_none() {
                *lookahead = Some(next);
                break;
            }
            events += next.records.len();
            group.push(next);
        }
        self.senders = group.len();
        group
    }

    /// Process acknowledged batches as one, in time order (see [`Pipeline::process_parts`]), so that each
    /// sender is told exactly what became of its own records; the acknowledgements wait for the next flush.
    fn take_acked(
        &mut self,
        group: Vec<Batch>,
        positions: &mut HashMap<String, Vec<u8>>,
        unflushed: &mut u64,
    ) -> Result<(), PipelineError> {
        let mut acks = Vec::with_capacity(group.len());
        let mut parts = Vec::with_capacity(group.len());
        for b in group {
            *unflushed += b.records.len() as u64;
            if let Some((k, v)) = b.position {
                positions.insert(k, v);
            }
            acks.push(b.ack);
            parts.push((b.source, b.records));
        }
        let counts = self.pipeline.process_parts(parts)?;
        for (ack, counts) in acks.into_iter().zip(counts) {
            if let Some(ack) = ack {
                self.acks.push((ack, counts));
            }
        }
        self.ack_since.get_or_insert_with(Instant::now);
        Ok(())
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
    ///
    /// A `full` checkpoint also re-detects late actors and saves the detector state (at most every
    /// [`CHECKPOINT_EVERY`]); a light one (the input went quiet) only stores and flushes: the re-detection
    /// markers written with the events make a crash before the next full one replay those actors.
    fn checkpoint(
        &mut self,
        positions: &mut HashMap<String, Vec<u8>>,
        unflushed: &mut u64,
        full: bool,
    ) -> Result<(), PipelineError> {
        self.pipeline.process_batch()?;
        for (k, v) in positions.drain() {
            self.pipeline.store().meta_put(&k, &v)?;
        }
        if full {
            self.pipeline.checkpoint()?;
        } else {
            self.pipeline.store().flush()?;
        }
        // Durable now: the senders waiting on these batches may be answered.
        for (ack, counts) in self.acks.drain(..) {
            let _ = ack.send(counts);
        }
        self.ack_since = None;
        self.shared.wake_delivery();
        self.shared.stored(*unflushed);
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
        let backlog = shared.backlog();
        let key = (
            ingested,
            backlog,
            // Tenths of an event a second: a decaying rate still settles.
            (rate * 10.0).round() as u64,
            shared.generation(),
        );
        if force || self.last != Some(key) {
            handle.refresh_stats(rate, backlog, Some(shared.health_line()));
            self.last = Some(key);
            self.last_sent = now;
        }
    }
}
