//! The engine's client surface: what a UI (in-process today, attached over the socket later) may ask and
//! tell. Requests are [`Command`]s (imperative), the replies and the change feed are facts ([`Change`]). The
//! UI holds an [`EngineHandle`] and nothing else: no store, no sled, no detector.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use ulid::Ulid;

use super::attach::Remote;
use super::delivery::targets;
use super::respond::{self, Access, AccessOptions, AccessPlan, OrgAdmin};
use super::socket::{Role, SocketError};
use crate::config::{IntegrationConfig, SecretRef};
use crate::deliver::format::mask_url;
use crate::detect::catalogue::{self, DetectionKind};
use crate::detect::tuning::{DetectionSettings, Exclusion, Sensitivity, Tuning};
use crate::export::{ExportError, ExportFile, ExportFormat, ExportSelection, export_alerts};
use crate::model::{
    Alert, AlertFilter, AlertStatus, Attempt, AuditEvent, Delivery, DeliveryEvent, Evidence,
    HistoryEntry, Integration, IntegrationKind, Note, Severity, baseline_of, text,
};
use crate::model::{AlertPage, StatusCounts};
use crate::store::{Store, StoreError};

/// Something the engine could not do, said so that a status bar can show it. Crosses the control socket,
/// so an attached UI shows the same words as an in-process one.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum EngineError {
    #[error("{0}")]
    Store(String),
    /// Someone else changed the alert after this UI read it: the write was refused (nothing changed) and the
    /// UI reloads the alert. Says who and when, from the alert's history.
    #[error("{}", conflict_text(id, by.as_deref(), *at))]
    Conflict {
        id: String,
        by: Option<String>,
        at: Option<DateTime<Utc>>,
    },
    /// The attached user's role does not allow this (a viewer triaging, a responder tuning); why.
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Invalid(String),
    /// An outside service (the organizations API) refused or failed what was asked; what it answered.
    #[error("{0}")]
    Upstream(String),
    #[error("the engine has stopped")]
    Stopped,
}

/// "alert 01J… was changed by alice at 14:02:11Z — reloaded".
fn conflict_text(id: &str, by: Option<&str>, at: Option<DateTime<Utc>>) -> String {
    let by = by.map(text::sanitize).unwrap_or_else(|| "someone".into());
    let at = at
        .map(|t| format!(" at {}", t.format("%H:%M:%SZ")))
        .unwrap_or_default();
    format!("alert {id} was changed by {by}{at} — reloaded; nothing was changed, try again")
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { id, .. } => Self::Conflict {
                id,
                by: None,
                at: None,
            },
            other => Self::Store(other.to_string()),
        }
    }
}

/// The versions of alerts as a UI last read them: a triage command carrying them is refused if any of those
/// alerts changed since (another analyst got there first). Empty: no check (scripts, tests).
pub type Seen = Vec<(Ulid, u64)>;

/// A request from a UI. Every change names who asked, for the alert's history (over the control socket the
/// server puts the peer's own name there, whatever the client said).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Set the status of one or more alerts; refused whole if one of them changed since `seen`.
    SetStatus {
        ids: Vec<Ulid>,
        status: AlertStatus,
        who: String,
        #[serde(default)]
        seen: Seen,
    },
    /// Assign (or unassign with `None`); refused whole if one of them changed since `seen`.
    Assign {
        ids: Vec<Ulid>,
        assignee: Option<String>,
        who: String,
        #[serde(default)]
        seen: Seen,
    },
    /// Append a note. Never refused as stale: notes only add, so two analysts' notes both stand.
    AddNote { id: Ulid, text: String, who: String },
    /// Replace one detection's settings (enable, sensitivity, exclusions); takes effect on the next event.
    SetDetection {
        id: String,
        settings: DetectionSettings,
        who: String,
    },
    /// Write alerts to a file: the given ids, or everything the filter matches.
    Export {
        filter: AlertFilter,
        ids: Option<Vec<Ulid>>,
        format: ExportFormat,
        path: PathBuf,
        overwrite: bool,
    },
    /// Queue a test alert for one integration (the delivery worker sends `test_alert`): proves the endpoint,
    /// the credentials and the receiver's formatting end to end, through the same outbox real alerts take.
    TestIntegration { name: String, who: String },
    /// Put an integration's dead letters back in the outbox, due now (after the receiver was fixed).
    ReplayDead { name: String, who: String },
    /// Enable or disable an integration at run time. Stored as the integration's health, which the worker
    /// reads before each send, so it holds across restarts and every attached UI sees it; enabling also
    /// lifts a disable caused by a `410 Gone`. An integration disabled in the config stays disabled.
    SetIntegrationEnabled {
        name: String,
        enabled: bool,
        who: String,
    },
    /// Send alerts to one integration by hand ("send to …", "create Jira issue"): one manual delivery per
    /// alert, queued whatever the integration's severity and detection filters say (the operator chose).
    SendAlerts {
        ids: Vec<Ulid>,
        integration: String,
        who: String,
    },
    /// Suspend or restore the alert's actor in the org's directory (the organizations API, with the
    /// `atlassian_api` source's org admin key); `org` names one when several are configured. The result,
    /// success or what the API answered, goes into the alert's history.
    SetActorAccess {
        id: Ulid,
        access: Access,
        org: Option<String>,
        who: String,
    },
}

impl Command {
    /// The same command in `who`'s name: the control socket records a peer's changes under the name its uid
    /// has, whatever the client claimed.
    pub fn with_who(mut self, name: String) -> Self {
        match &mut self {
            Command::SetStatus { who, .. }
            | Command::Assign { who, .. }
            | Command::AddNote { who, .. }
            | Command::SetDetection { who, .. }
            | Command::TestIntegration { who, .. }
            | Command::ReplayDead { who, .. }
            | Command::SetIntegrationEnabled { who, .. }
            | Command::SendAlerts { who, .. }
            | Command::SetActorAccess { who, .. } => *who = name,
            Command::Export { .. } => {}
        }
        self
    }

    /// The alerts a triage command changes (a conflict reloads them).
    pub fn alert_ids(&self) -> Vec<Ulid> {
        match self {
            Command::SetStatus { ids, .. }
            | Command::Assign { ids, .. }
            | Command::SendAlerts { ids, .. } => ids.clone(),
            Command::AddNote { id, .. } | Command::SetActorAccess { id, .. } => vec![*id],
            _ => Vec::new(),
        }
    }
}

/// A fact the engine announces to every attached UI.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    /// Alerts were raised or changed (by detection or by someone's triage).
    AlertsChanged { ids: Vec<Ulid>, raised: usize },
    /// Detection settings changed.
    TuningChanged,
    /// An integration was enabled, disabled or tested, or deliveries were queued or replayed by hand: reload
    /// the integrations (and the deliveries shown). The delivery worker's own progress is not announced;
    /// UIs poll for it at their clock tick.
    IntegrationsChanged,
    /// Fresh figures for the header.
    Stats(EngineStats),
    /// Something worth a line in the status bar ("exported 120 alerts to q3.csv").
    Notice(String),
    /// The engine hit an error it cannot recover from; the UI should end and show it.
    Fatal(String),
    /// Changes were missed (an attached UI fell behind the feed): reload everything shown.
    Resync,
}

/// Engine and store figures for the header and `vigil status`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EngineStats {
    pub events: u64,
    pub quarantined: u64,
    pub alerts: StatusCounts,
    /// Events stored per second, averaged over the last few seconds.
    pub ingest_rate: f64,
    /// Events received but not yet stored.
    pub backlog: u64,
    /// `ok`, or what is wrong (a source failing, the store erroring).
    pub health: String,
}

/// One detection as the detections pane shows it: catalogue facts plus the settings in force.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionView {
    pub id: String,
    pub title: String,
    pub category: String,
    pub severity: Severity,
    /// `Some` for threshold detections: (window seconds, threshold at the current sensitivity).
    pub threshold: Option<(u64, u64)>,
    pub settings: DetectionSettings,
    pub custom: bool,
}

/// How an integration is doing, in a word the pane can colour by; [`IntegrationView::state`] has the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IntegrationCondition {
    /// Enabled, and the last attempt (if any) succeeded.
    Ok,
    /// Enabled, and every attempt since some time has failed.
    Failing,
    /// Nothing is sent: disabled in the config, by an operator, or by the receiver (`410 Gone`).
    Disabled,
    /// Configured but unusable until fixed (a secret that could not be read, a refused URL); its deliveries
    /// wait.
    Unusable,
    /// The store could not say (its health or outbox could not be read).
    Unknown,
}

/// One integration as the integrations pane shows it: the routing rule, where it points (masked so that no
/// secret reaches a UI), how it is doing and what waits for it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IntegrationView {
    /// Name, kind and routing, as configured (`integration.enabled` is the config's switch).
    pub integration: Integration,
    /// Scheme and host only (`https://hooks.slack.com/…`), or the `env:`/`file:` reference when it could not
    /// be read: a Slack or Teams URL is itself the credential.
    pub endpoint: String,
    /// Whether deliveries go out now: enabled in the config and not disabled by an operator or a `410`.
    pub enabled: bool,
    /// What [`IntegrationView::state`] says, for colour.
    pub condition: IntegrationCondition,
    /// `ok`, `failing since T`, `disabled: why`, `cannot be used: why`.
    pub state: String,
    /// Since when every attempt has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Deliveries waiting (first attempt or a retry).
    pub pending: u64,
    /// Dead letters waiting for a replay.
    pub dead: u64,
    /// Deliveries accepted, ever.
    pub delivered: u64,
    /// The latest attempts to this integration, any alert, latest last.
    pub recent: Vec<Attempt>,
}

/// An integration's endpoint as a UI may show it, and why it cannot be used (if so), worked out once when the
/// handle is made, as the delivery worker does at start.
#[derive(Debug, Clone)]
struct Endpoint {
    shown: String,
    problem: Option<String>,
}

/// What the UI talks to. Cheap to clone; every clone sees the same engine: the one in this process, or the
/// one a running `vigil serve` holds, reached over its control socket ([`EngineHandle::attach`]). The UI
/// cannot tell them apart except by [`EngineHandle::role`].
#[derive(Clone)]
pub struct EngineHandle {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Local(Arc<Local>),
    Remote(Arc<Remote>),
}

/// A question or command for the engine, as it crosses the control socket: every query of
/// [`EngineHandle`] is one of these, answered by an [`Answer`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    AlertsPage {
        filter: AlertFilter,
        cursor: Option<Ulid>,
        limit: usize,
    },
    Alert {
        id: Ulid,
    },
    Timeline {
        actor: String,
        around: DateTime<Utc>,
        before: usize,
        after: usize,
    },
    Integrations,
    Deliveries {
        alert: Ulid,
    },
    Evidence {
        id: Ulid,
        baseline: bool,
    },
    /// What suspending or restoring an alert's actor would do (whom, in which org), for the confirmation;
    /// or why it cannot be done. Sends nothing.
    AccessPlan {
        id: Ulid,
        access: Access,
        org: Option<String>,
    },
    Execute {
        command: Command,
    },
}

/// The answer to a [`Call`], one variant per kind of call.
// One value per call, moved once into a frame: boxing the large variants would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Page(AlertPage),
    Alert(Option<Alert>),
    Events(Vec<AuditEvent>),
    Integrations(Vec<IntegrationView>),
    Deliveries(Vec<Delivery>),
    Evidence(Option<Evidence>),
    Plan(AccessPlan),
    Done(String),
}

/// An answer of the wrong kind: only a server of another build could send it (the handshake refuses those).
fn mismatched(a: &Answer) -> EngineError {
    let kind = format!("{a:?}");
    EngineError::Invalid(format!(
        "vigil serve answered something unexpected ({})",
        text::truncate(&kind, 40)
    ))
}

impl EngineHandle {
    /// A handle over `store` in this process. `file_tuning` is the config file's; the store's UI overrides are
    /// laid over it. `retune` reaches the running pipeline, when there is one.
    pub fn new(
        store: Store,
        file_tuning: Tuning,
        integrations: Vec<IntegrationConfig>,
        retune: Option<std::sync::mpsc::Sender<Tuning>>,
    ) -> Result<Self, EngineError> {
        Ok(Self {
            backend: Backend::Local(Arc::new(Local::new(
                store,
                file_tuning,
                integrations,
                retune,
            )?)),
        })
    }

    /// The same handle, able to suspend and restore actors in these orgs (built from the `atlassian_api`
    /// sources), making the calls as `opts` says. A handle attached to a serve is returned as it is: the
    /// server acts with its own orgs.
    pub fn with_org_admins(mut self, orgs: Vec<OrgAdmin>, opts: AccessOptions) -> Self {
        if let Backend::Local(l) = &mut self.backend {
            let l = Arc::make_mut(l);
            l.orgs = Arc::new(orgs);
            l.access_opts = opts;
        }
        self
    }

    /// What suspending or restoring alert `id`'s actor would do, for a confirmation; or why it cannot be done.
    pub async fn access_plan(
        &self,
        id: Ulid,
        access: Access,
        org: Option<String>,
    ) -> Result<AccessPlan, EngineError> {
        match self.call(Call::AccessPlan { id, access, org }).await? {
            Answer::Plan(p) => Ok(p),
            other => Err(mismatched(&other)),
        }
    }

    /// A handle over the engine of the `vigil serve` answering at `socket`, or `Ok(None)` when nothing does
    /// (no serve runs; the caller then runs the engine itself). The server gives the role.
    pub fn attach(socket: &Path) -> Result<Option<Self>, SocketError> {
        Ok(Remote::connect(socket)?.map(|r| Self {
            backend: Backend::Remote(r),
        }))
    }

    /// The role this UI has on the engine it is attached to; `None` in-process (everything is allowed: the
    /// store's files are the user's own).
    pub fn role(&self) -> Option<Role> {
        match &self.backend {
            Backend::Local(_) => None,
            Backend::Remote(r) => Some(r.role()),
        }
    }

    /// The engine in this process, for the control socket's server (which answers calls with it).
    pub(crate) fn local(&self) -> Option<&Local> {
        match &self.backend {
            Backend::Local(l) => Some(l),
            Backend::Remote(_) => None,
        }
    }

    /// Subscribe to the change feed. A slow subscriber that falls behind gets `Lagged` and should reload.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        match &self.backend {
            Backend::Local(l) => l.changes.subscribe(),
            Backend::Remote(r) => r.subscribe(),
        }
    }

    /// Announce a change to every subscriber (engine tasks use it; nobody listening is fine).
    pub fn publish(&self, change: Change) {
        match &self.backend {
            Backend::Local(l) => l.publish(change),
            Backend::Remote(r) => r.publish(change),
        }
    }

    /// The latest figures.
    pub fn stats(&self) -> EngineStats {
        match &self.backend {
            Backend::Local(l) => l.stats(),
            Backend::Remote(r) => r.stats(),
        }
    }

    /// Recount the figures from the store's counters and publish them (the engine's own threads; an attached
    /// handle gets them from the server's feed instead).
    pub fn refresh_stats(&self, ingest_rate: f64, backlog: u64, health: Option<String>) {
        if let Backend::Local(l) = &self.backend {
            l.refresh_stats(ingest_rate, backlog, health);
        }
    }

    /// Ask the engine: in this process on a blocking thread, or over the socket.
    async fn call(&self, call: Call) -> Result<Answer, EngineError> {
        match &self.backend {
            Backend::Local(l) => {
                let l = l.clone();
                blocking(move || l.answer(call)).await
            }
            Backend::Remote(r) => r.call(call).await,
        }
    }

    /// A page of alerts (index-served; see `Store::alerts_page`).
    pub async fn alerts_page(
        &self,
        filter: AlertFilter,
        cursor: Option<Ulid>,
        limit: usize,
    ) -> Result<AlertPage, EngineError> {
        match self
            .call(Call::AlertsPage {
                filter,
                cursor,
                limit,
            })
            .await?
        {
            Answer::Page(p) => Ok(p),
            other => Err(mismatched(&other)),
        }
    }

    /// One alert.
    pub async fn alert(&self, id: Ulid) -> Result<Option<Alert>, EngineError> {
        match self.call(Call::Alert { id }).await? {
            Answer::Alert(a) => Ok(a),
            other => Err(mismatched(&other)),
        }
    }

    /// An actor's events around a moment: `before` events up to it and `after` events after it.
    pub async fn timeline(
        &self,
        actor: String,
        around: DateTime<Utc>,
        before: usize,
        after: usize,
    ) -> Result<Vec<AuditEvent>, EngineError> {
        match self
            .call(Call::Timeline {
                actor,
                around,
                before,
                after,
            })
            .await?
        {
            Answer::Events(e) => Ok(e),
            other => Err(mismatched(&other)),
        }
    }

    /// An actor's alerts created in `[from, to)`, oldest first (the timeline interleaves them).
    pub async fn actor_alerts(
        &self,
        actor: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Alert>, EngineError> {
        let filter = AlertFilter {
            actor: Some(actor),
            since: Some(from),
            until: Some(to),
            ascending: true,
            ..Default::default()
        };
        Ok(self.alerts_page(filter, None, limit).await?.alerts)
    }

    /// The catalogue and custom detections with the settings in force.
    pub fn detections(&self) -> Vec<DetectionView> {
        detection_views(&self.current_tuning())
    }

    /// The configured integrations with their health and outbox figures, endpoints masked. A store error
    /// shows as that integration's state rather than failing the list.
    pub async fn integrations(&self) -> Result<Vec<IntegrationView>, EngineError> {
        match self.call(Call::Integrations).await? {
            Answer::Integrations(i) => Ok(i),
            other => Err(mismatched(&other)),
        }
    }

    /// Every delivery of one alert, oldest first, for the alert detail.
    pub async fn deliveries(&self, alert: Ulid) -> Result<Vec<Delivery>, EngineError> {
        match self.call(Call::Deliveries { alert }).await? {
            Answer::Deliveries(d) => Ok(d),
            other => Err(mismatched(&other)),
        }
    }

    /// An alert's evidence events and, for a login alert when `baseline`, the countries the actor logged in
    /// from in the 90 days before it: what the detail shows an analyst deciding on it. `None` when the alert
    /// is gone. The baseline reads the actor's whole quarter, so the UI asks for it only when the detail has
    /// the focus, not on every `j` through the queue.
    pub async fn evidence(
        &self,
        id: Ulid,
        baseline: bool,
    ) -> Result<Option<Evidence>, EngineError> {
        match self.call(Call::Evidence { id, baseline }).await? {
            Answer::Evidence(e) => Ok(e),
            other => Err(mismatched(&other)),
        }
    }

    /// The tuning in force (file + UI overrides).
    pub fn current_tuning(&self) -> Tuning {
        match &self.backend {
            Backend::Local(l) => l.current_tuning(),
            Backend::Remote(r) => r.tuning(),
        }
    }

    /// Carry out a command. Triage changes record who and when in each alert's history and bump its version.
    /// Attached, an export is streamed from the server and written here, by this user, where they asked.
    pub async fn execute(&self, cmd: Command) -> Result<String, EngineError> {
        let result = match (&self.backend, cmd) {
            (
                Backend::Remote(r),
                Command::Export {
                    filter,
                    ids,
                    format,
                    path,
                    overwrite,
                },
            ) => {
                let r = r.clone();
                blocking(move || r.export(filter, ids, format, path, overwrite)).await
            }
            (_, command) => match self.call(Call::Execute { command }).await {
                Ok(Answer::Done(said)) => Ok(said),
                Ok(other) => Err(mismatched(&other)),
                Err(e) => Err(e),
            },
        };
        if let Err(EngineError::Denied(why)) = &result {
            tracing::warn!(reason = %why, "refused by vigil serve");
        }
        result
    }
}

/// The catalogue and custom detections with the settings `tuning` gives them.
fn detection_views(tuning: &Tuning) -> Vec<DetectionView> {
    let mut out: Vec<DetectionView> = catalogue::catalogue()
        .iter()
        .map(|spec| {
            let settings = tuning.settings(spec.id);
            let threshold = match spec.kind {
                DetectionKind::Threshold { .. } => Some((
                    spec.kind.window_secs().unwrap_or(0),
                    u64::from(spec.kind.threshold(settings.sensitivity).unwrap_or(0)),
                )),
                _ => None,
            };
            DetectionView {
                id: spec.id.to_string(),
                title: spec.title.to_string(),
                category: spec.category.as_str().to_string(),
                severity: spec.severity,
                threshold,
                settings,
                custom: false,
            }
        })
        .collect();
    for c in &tuning.custom {
        let id = catalogue::custom_detection_id(&c.name);
        let mut settings = tuning.settings(&id);
        settings.enabled &= c.enabled;
        out.push(DetectionView {
            title: c.name.clone(),
            id,
            category: "custom".into(),
            severity: c.severity,
            threshold: None,
            settings,
            custom: true,
        });
    }
    out
}

/// The engine in this process: the store and what the UI may change. Its methods block (store reads); the
/// handle runs them off the async threads, the socket server on its client threads.
#[derive(Clone)]
pub(crate) struct Local {
    store: Store,
    changes: broadcast::Sender<Change>,
    tuning: Arc<Mutex<Tuning>>,
    file_tuning: Tuning,
    integrations: Arc<Vec<IntegrationConfig>>,
    /// Masked endpoints and problems, by position in `integrations`.
    endpoints: Arc<Vec<Endpoint>>,
    stats: Arc<Mutex<EngineStats>>,
    /// Where detection-setting changes are sent so the running detector retunes.
    retune: Option<std::sync::mpsc::Sender<Tuning>>,
    /// The orgs whose directory a suspend or restore may act in (the `atlassian_api` sources).
    orgs: Arc<Vec<OrgAdmin>>,
    /// How those calls are made.
    access_opts: AccessOptions,
}

impl Local {
    fn new(
        store: Store,
        file_tuning: Tuning,
        integrations: Vec<IntegrationConfig>,
        retune: Option<std::sync::mpsc::Sender<Tuning>>,
    ) -> Result<Self, EngineError> {
        let tuning = file_tuning.overlay(&store.detection_overrides()?);
        let (changes, _) = broadcast::channel(1024);
        let endpoints = endpoints(&integrations);
        let local = Self {
            store,
            changes,
            tuning: Arc::new(Mutex::new(tuning)),
            file_tuning,
            integrations: Arc::new(integrations),
            endpoints: Arc::new(endpoints),
            stats: Arc::new(Mutex::new(EngineStats {
                health: "ok".into(),
                ..Default::default()
            })),
            retune,
            orgs: Arc::new(Vec::new()),
            access_opts: AccessOptions::default(),
        };
        local.refresh_stats(0.0, 0, None);
        Ok(local)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn publish(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    pub(crate) fn stats(&self) -> EngineStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn refresh_stats(&self, ingest_rate: f64, backlog: u64, health: Option<String>) {
        let mut s = match self.stats.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        s.events = self.store.event_count();
        s.quarantined = self.store.quarantined_count();
        s.alerts = self.store.status_counts();
        s.ingest_rate = ingest_rate;
        s.backlog = backlog;
        if let Some(h) = health {
            s.health = h;
        }
        let snapshot = s.clone();
        drop(s);
        self.publish(Change::Stats(snapshot));
    }

    pub(crate) fn current_tuning(&self) -> Tuning {
        self.tuning.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Answer one call (blocking): the one place queries and commands are carried out, for this process's UI
    /// and for attached ones alike.
    pub(crate) fn answer(&self, call: Call) -> Result<Answer, EngineError> {
        Ok(match call {
            Call::AlertsPage {
                filter,
                cursor,
                limit,
            } => Answer::Page(self.store.alerts_page(&filter, cursor, limit)?),
            Call::Alert { id } => Answer::Alert(self.store.alert(id)?),
            Call::Timeline {
                actor,
                around,
                before,
                after,
            } => Answer::Events(self.store.actor_timeline(&actor, around, before, after)?),
            Call::Integrations => Answer::Integrations(self.integration_views()),
            Call::Deliveries { alert } => Answer::Deliveries(self.store.deliveries_of(alert)?),
            Call::Evidence { id, baseline } => Answer::Evidence(match self.store.alert(id)? {
                Some(alert) => Some(evidence_of(&self.store, &alert, baseline)?),
                None => None,
            }),
            Call::AccessPlan { id, access, org } => {
                Answer::Plan(self.access_plan(id, access, org.as_deref())?)
            }
            Call::Execute { command } => Answer::Done(self.execute(command)?),
        })
    }

    fn integration_views(&self) -> Vec<IntegrationView> {
        // One pass over the queue for every integration's figures.
        let counts = self.store.outbox_counts_by_integration();
        self.integrations
            .iter()
            .zip(self.endpoints.iter())
            .map(|(ic, ep)| {
                let c = match &counts {
                    Ok(all) => Ok(all.get(&ic.integration.name).copied().unwrap_or_default()),
                    Err(e) => Err(e.to_string()),
                };
                self.integration_view(&ic.integration, ep, c)
            })
            .collect()
    }

    fn integration_view(
        &self,
        i: &Integration,
        ep: &Endpoint,
        counts: Result<crate::model::OutboxCounts, String>,
    ) -> IntegrationView {
        let mut view = IntegrationView {
            integration: i.clone(),
            endpoint: ep.shown.clone(),
            enabled: i.enabled,
            condition: IntegrationCondition::Ok,
            state: "ok".into(),
            failing_since: None,
            pending: 0,
            dead: 0,
            delivered: 0,
            recent: Vec::new(),
        };
        let read = self
            .store
            .integration_health(&i.name)
            .map_err(|e| e.to_string())
            .and_then(|h| Ok((h, counts?)));
        let (health, counts) = match read {
            Ok(r) => r,
            Err(e) => {
                view.condition = IntegrationCondition::Unknown;
                view.state = format!("unknown: {e}");
                return view;
            }
        };
        view.pending = counts.pending;
        view.dead = counts.dead;
        view.delivered = health.delivered;
        view.failing_since = health.failing_since;
        view.enabled = i.enabled && health.disabled.is_none();
        (view.condition, view.state) = if !i.enabled {
            (
                IntegrationCondition::Disabled,
                "disabled in the config (enabled = false)".into(),
            )
        } else if health.disabled.is_some() {
            (IntegrationCondition::Disabled, health.summary())
        } else if let Some(why) = &ep.problem {
            (
                IntegrationCondition::Unusable,
                format!("cannot be used: {why}"),
            )
        } else if health.failing_since.is_some() {
            (IntegrationCondition::Failing, health.summary())
        } else {
            (IntegrationCondition::Ok, health.summary())
        };
        view.recent = health.recent;
        view
    }

    /// Carry out a command (blocking; see [`EngineHandle::execute`]).
    fn execute(&self, cmd: Command) -> Result<String, EngineError> {
        let now = Utc::now();
        match cmd {
            Command::SetStatus {
                ids,
                status,
                who,
                seen,
            } => {
                let n = self.change_alerts(&ids, &seen, |a| {
                    if a.status == status {
                        return false;
                    }
                    a.history.push(HistoryEntry {
                        time: now,
                        who: who.clone(),
                        what: format!("status {} → {}", a.status, status),
                    });
                    a.status = status;
                    true
                })?;
                Ok(format!(
                    "{} marked {}",
                    crate::model::text::plural(n, "alert", "alerts"),
                    status.label()
                ))
            }
            Command::Assign {
                ids,
                assignee,
                who,
                seen,
            } => {
                let n = self.change_alerts(&ids, &seen, |a| {
                    if a.assignee == assignee {
                        return false;
                    }
                    let what = match &assignee {
                        Some(x) => format!("assigned to {x}"),
                        None => "unassigned".to_string(),
                    };
                    a.history.push(HistoryEntry {
                        time: now,
                        who: who.clone(),
                        what,
                    });
                    a.assignee = assignee.clone();
                    true
                })?;
                Ok(match &assignee {
                    Some(x) => format!(
                        "{} assigned to {x}",
                        crate::model::text::plural(n, "alert", "alerts")
                    ),
                    None => format!(
                        "{} unassigned",
                        crate::model::text::plural(n, "alert", "alerts")
                    ),
                })
            }
            Command::AddNote { id, text, who } => {
                let text = text.trim().to_string();
                if text.is_empty() {
                    return Err(EngineError::Invalid("an empty note was not added".into()));
                }
                self.change_alerts(&[id], &[], |a| {
                    a.notes.push(Note {
                        author: who.clone(),
                        time: now,
                        text: text.clone(),
                    });
                    a.history.push(HistoryEntry {
                        time: now,
                        who: who.clone(),
                        what: "note added".into(),
                    });
                    true
                })?;
                Ok("note added".into())
            }
            Command::SetDetection { id, settings, who } => {
                let known = catalogue::spec(&id).is_some()
                    || self
                        .current_tuning()
                        .custom
                        .iter()
                        .any(|c| catalogue::custom_detection_id(&c.name) == id);
                if !known {
                    return Err(EngineError::Invalid(format!("no detection '{id}'")));
                }
                self.store.set_detection_override(&id, &settings)?;
                self.store.flush()?;
                let tuning = self.file_tuning.overlay(&self.store.detection_overrides()?);
                if let Ok(mut t) = self.tuning.lock() {
                    *t = tuning.clone();
                }
                if let Some(tx) = &self.retune {
                    let _ = tx.send(tuning);
                }
                tracing::info!(detection = %id, who = %who, "detection settings changed");
                self.publish(Change::TuningChanged);
                Ok(describe_settings(&id, &settings))
            }
            Command::Export {
                filter,
                ids,
                format,
                path,
                overwrite,
            } => self.export(filter, ids, format, path, overwrite),
            Command::TestIntegration { name, who } => self.test_integration(&name, &who, now),
            Command::ReplayDead { name, who } => self.replay_dead(&name, &who, now),
            Command::SetIntegrationEnabled { name, enabled, who } => {
                self.set_integration_enabled(&name, enabled, &who, now)
            }
            Command::SendAlerts {
                ids,
                integration,
                who,
            } => self.send_alerts(&ids, &integration, &who, now),
            Command::SetActorAccess {
                id,
                access,
                org,
                who,
            } => self.set_actor_access(id, access, org.as_deref(), &who),
        }
    }

    fn access_plan(
        &self,
        id: Ulid,
        access: Access,
        org: Option<&str>,
    ) -> Result<AccessPlan, EngineError> {
        let alert = self
            .store
            .alert(id)?
            .ok_or_else(|| EngineError::Invalid(format!("no alert {id}")))?;
        respond::plan(&self.orgs, &alert, access, org).map_err(EngineError::Invalid)
    }

    /// Suspend or restore an alert's actor, then record the outcome in the alert's history whatever it was:
    /// the trail shows who tried, when, and what the API said.
    fn set_actor_access(
        &self,
        id: Ulid,
        access: Access,
        org: Option<&str>,
        who: &str,
    ) -> Result<String, EngineError> {
        let plan = self.access_plan(id, access, org)?;
        let admin =
            respond::choose_org(&self.orgs, Some(&plan.org_id)).map_err(EngineError::Invalid)?;
        let result = respond::set_access(admin, &plan.account_id, access, &self.access_opts);
        let (what, outcome) = match &result {
            Ok(said) => {
                let done = access.done();
                tracing::info!(alert = %id, org = %plan.org_id, account = %plan.account_id, who = %who, answer = %said, "actor access {done}");
                (
                    format!(
                        "{done} the access of {} in {} ({said})",
                        plan.person, plan.org
                    ),
                    Ok(format!(
                        "{done} the access of {} in {}",
                        plan.person, plan.org
                    )),
                )
            }
            Err(f) => {
                tracing::warn!(alert = %id, org = %plan.org_id, account = %plan.account_id, who = %who, answer = %f.said, "actor access {} failed", access.verb());
                let line = format!(
                    "{} {} in {} failed: {}",
                    access.verb(),
                    plan.person,
                    plan.org,
                    f.said
                );
                (line.clone(), Err(EngineError::Upstream(line)))
            }
        };
        let now = Utc::now();
        self.change_alerts(&[id], &[], |a| {
            a.history.push(HistoryEntry {
                time: now,
                who: who.to_string(),
                what: what.clone(),
            });
            true
        })?;
        outcome
    }

    /// The configured integration called `name` and its endpoint, or a refusal naming the ones there are.
    fn configured(&self, name: &str) -> Result<(&Integration, &Endpoint), EngineError> {
        self.integrations
            .iter()
            .zip(self.endpoints.iter())
            .find(|(ic, _)| ic.integration.name == name)
            .map(|(ic, ep)| (&ic.integration, ep))
            .ok_or_else(|| {
                let known: Vec<String> = self
                    .integrations
                    .iter()
                    .map(|ic| text::sanitize(&ic.integration.name))
                    .collect();
                EngineError::Invalid(format!(
                    "no integration '{}' (configured: {})",
                    text::sanitize(name),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            })
    }

    /// Why nothing would be sent to `i` now, if so: the config, an operator or a `410` disabled it, or it
    /// cannot be used.
    fn held_because(&self, i: &Integration, ep: &Endpoint) -> Result<Option<String>, EngineError> {
        if !i.enabled {
            return Ok(Some("it is disabled in the config".into()));
        }
        if let Some(why) = self.store.integration_health(&i.name)?.disabled {
            return Ok(Some(format!("it is disabled: {why}")));
        }
        Ok(ep
            .problem
            .as_ref()
            .map(|why| format!("it cannot be used: {why}")))
    }

    fn test_integration(
        &self,
        name: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<String, EngineError> {
        let (i, ep) = self.configured(name)?;
        let shown = text::sanitize(name);
        if i.kind == IntegrationKind::AuditForward {
            return Err(EngineError::Invalid(format!(
                "{shown} forwards audit events, not alerts: `vigil integrations test {shown}` checks it"
            )));
        }
        // A test queued behind a switch would sit there unseen; say why instead.
        if let Some(why) = self.held_because(i, ep)? {
            return Err(EngineError::Invalid(format!(
                "no test sent to {shown}: {why}"
            )));
        }
        self.store
            .enqueue(&[Delivery::new(name, None, DeliveryEvent::Test, now)])?;
        tracing::info!(integration = %name, who = %who, "test alert queued");
        self.publish(Change::IntegrationsChanged);
        Ok(if i.kind == IntegrationKind::Jira {
            format!("test queued for {shown} (a search for the test label: no issue is made)")
        } else {
            format!("test alert queued for {shown}")
        })
    }

    fn replay_dead(
        &self,
        name: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<String, EngineError> {
        let (i, ep) = self.configured(name)?;
        let shown = text::sanitize(name);
        let n = self.store.replay_dead(name, now)?;
        if n == 0 {
            return Ok(format!("no dead letters for {shown}"));
        }
        tracing::info!(integration = %name, who = %who, replayed = n, "dead letters replayed");
        self.publish(Change::IntegrationsChanged);
        let held = self
            .held_because(i, ep)?
            .map(|why| format!("; they wait: {why}"))
            .unwrap_or_default();
        Ok(format!("replayed {n} dead letter(s) to {shown}{held}"))
    }

    fn set_integration_enabled(
        &self,
        name: &str,
        enabled: bool,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<String, EngineError> {
        let (i, _) = self.configured(name)?;
        let shown = text::sanitize(name);
        if !i.enabled {
            return Err(EngineError::Invalid(format!(
                "{shown} is disabled in the config (enabled = false); enable it there"
            )));
        }
        let stamp = format!("disabled by {who} at {}", now.format("%Y-%m-%d %H:%M:%SZ"));
        let mut was = None;
        self.store.update_integration_health(name, |h| {
            was = h.disabled.take();
            if !enabled {
                // Disabling an integration that is already disabled keeps the first reason.
                h.disabled = Some(was.clone().unwrap_or(stamp));
            }
        })?;
        let said = match (enabled, was) {
            (true, None) => return Ok(format!("{shown} is already enabled")),
            (false, Some(why)) => {
                return Ok(format!(
                    "{shown} is already disabled: {}",
                    text::sanitize(&why)
                ));
            }
            (true, Some(why)) => {
                // What waited while it was off goes now, not at its next look.
                let n = self.store.retry_now(name, now)?;
                format!(
                    "{shown} enabled (was disabled: {}); {n} waiting deliveries go now",
                    text::sanitize(&why)
                )
            }
            (false, None) => {
                format!("{shown} disabled: nothing is sent until it is enabled again")
            }
        };
        tracing::info!(integration = %name, who = %who, enabled, "integration switched");
        self.publish(Change::IntegrationsChanged);
        Ok(said)
    }

    fn send_alerts(
        &self,
        ids: &[Ulid],
        name: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<String, EngineError> {
        let (i, ep) = self.configured(name)?;
        let shown = text::sanitize(name);
        if i.kind == IntegrationKind::AuditForward {
            return Err(EngineError::Invalid(format!(
                "{shown} forwards audit events, not alerts"
            )));
        }
        if ids.is_empty() {
            return Err(EngineError::Invalid("no alert selected".into()));
        }
        let mut found = Vec::with_capacity(ids.len());
        let mut linked = Vec::new();
        for id in ids {
            if let Some(a) = self.store.alert(*id)? {
                if let Some(key) = a.external.get(name) {
                    linked.push(text::sanitize(key));
                }
                found.push(a.id);
            }
        }
        if found.is_empty() {
            return Err(EngineError::Invalid(
                "the selected alerts no longer exist".into(),
            ));
        }
        // Deliveries created in the same millisecond still get distinct ids (the random part).
        let deliveries: Vec<Delivery> = found
            .iter()
            .map(|id| Delivery::new(name, Some(*id), DeliveryEvent::Manual, now))
            .collect();
        self.store.enqueue(&deliveries)?;
        tracing::info!(integration = %name, who = %who, alerts = found.len(), "alerts sent by hand");
        // Who sent what where belongs in each alert's history (the deliveries themselves do not say who).
        let what = format!("sent to {name}");
        self.change_alerts(&found, &[], |a| {
            a.history.push(HistoryEntry {
                time: now,
                who: who.to_string(),
                what: what.clone(),
            });
            true
        })?;
        self.publish(Change::IntegrationsChanged);
        let mut said = format!(
            "{} queued for {shown}",
            crate::model::text::plural(found.len(), "alert", "alerts")
        );
        match ids.len() - found.len() {
            0 => {}
            1 => said.push_str("; 1 no longer exists"),
            gone => said.push_str(&format!("; {gone} no longer exist")),
        }
        if !linked.is_empty() {
            said.push_str(&format!("; already linked: {}", linked.join(", ")));
        }
        if let Some(why) = self.held_because(i, ep)? {
            said.push_str(&format!("; they wait: {why}"));
        }
        Ok(said)
    }

    /// Apply `change` to each alert (bumping its version); publish and flush once. Returns how many changed.
    /// When an alert's version is no longer the one in `seen`, nothing at all is changed and the conflict
    /// names who changed it last, and when.
    fn change_alerts(
        &self,
        ids: &[Ulid],
        seen: &[(Ulid, u64)],
        mut change: impl FnMut(&mut Alert) -> bool,
    ) -> Result<usize, EngineError> {
        // Read, change and write under the store's alert lock: a burst growing the alert meanwhile is kept,
        // and so is this change. An error inside leaves the whole batch unwritten.
        let mut conflict = None;
        let written = self.store.modify_alerts(ids, |a| {
            if let Some((_, v)) = seen.iter().find(|(id, _)| *id == a.id)
                && *v != a.version
            {
                let last = a.history.last();
                conflict = Some(EngineError::Conflict {
                    id: a.id.to_string(),
                    by: last.map(|h| h.who.clone()),
                    at: last.map(|h| h.time),
                });
                return Err(StoreError::Conflict {
                    id: a.id.to_string(),
                    found: a.version,
                    expected: *v,
                });
            }
            if !change(a) {
                return Ok(false);
            }
            a.version += 1;
            Ok(true)
        });
        let changed: Vec<Ulid> = match (written, conflict) {
            (Err(_), Some(c)) => return Err(c),
            (Err(e), None) => return Err(e.into()),
            (Ok(w), _) => w.into_iter().map(|a| a.id).collect(),
        };
        if !changed.is_empty() {
            self.store.flush()?;
            self.publish(Change::AlertsChanged {
                ids: changed.clone(),
                raised: 0,
            });
            self.refresh_stats(self.stats().ingest_rate, self.stats().backlog, None);
        }
        Ok(changed.len())
    }

    fn export(
        &self,
        filter: AlertFilter,
        ids: Option<Vec<Ulid>>,
        format: ExportFormat,
        path: PathBuf,
        overwrite: bool,
    ) -> Result<String, EngineError> {
        let selection = match ids {
            Some(ids) => ExportSelection::Ids(ids),
            None => ExportSelection::Filter(filter),
        };
        export_to_file(path, overwrite, |out| {
            export_alerts(&self.store, &selection, out, format).map_err(|e| match e {
                ExportError::Store(e) => EngineError::from(e),
                other => EngineError::Invalid(other.to_string()),
            })
        })
    }
}

/// Write an export to `path` (owner-only, whole or not at all: see [`ExportFile`]) with `write`, which
/// returns the rows written; the status-bar line. Shared by the in-process export and the attached one
/// (whose rows come over the socket).
pub(super) fn export_to_file(
    path: PathBuf,
    overwrite: bool,
    write: impl FnOnce(&mut std::io::BufWriter<&mut ExportFile>) -> Result<u64, EngineError>,
) -> Result<String, EngineError> {
    let refused = |e: ExportError| match e {
        ExportError::Exists(p) => EngineError::Invalid(format!("{} exists", p.display())),
        other => EngineError::Invalid(other.to_string()),
    };
    let mut file = ExportFile::create(&path, overwrite).map_err(refused)?;
    let rows = {
        let mut out = std::io::BufWriter::new(&mut file);
        let rows = write(&mut out).map_err(|e| match e {
            EngineError::Invalid(why) => EngineError::Invalid(format!("{}: {why}", path.display())),
            other => other,
        })?;
        std::io::Write::flush(&mut out)
            .map_err(|e| EngineError::Invalid(format!("{}: {e}", path.display())))?;
        rows
    };
    file.commit().map_err(refused)?;
    Ok(format!(
        "exported {} to {}",
        crate::model::text::plural(
            usize::try_from(rows).unwrap_or(usize::MAX),
            "alert",
            "alerts"
        ),
        path.display()
    ))
}

/// The endpoints a UI may show, one per integration: the scheme and host of the URL the delivery worker
/// would use (resolved the same way, by [`targets`]), else the reference it could not read. Never the URL
/// itself: for Slack and Teams it is the credential.
fn endpoints(integrations: &[IntegrationConfig]) -> Vec<Endpoint> {
    targets(integrations)
        .into_iter()
        .zip(integrations)
        .map(|(t, ic)| match t.destination {
            Ok(d) => Endpoint {
                shown: mask_url(&d.url),
                problem: None,
            },
            Err(why) => Endpoint {
                shown: match &ic.url {
                    SecretRef::Literal(url) => mask_url(url),
                    // `env:NAME` / `file:PATH`: the reference, never its value.
                    reference => reference.to_string(),
                },
                problem: Some(why),
            },
        })
        .collect()
}

/// Settings in a line for the status bar.
fn describe_settings(id: &str, s: &DetectionSettings) -> String {
    let state = if s.enabled { "enabled" } else { "disabled" };
    let sens = match s.sensitivity {
        Sensitivity::Default => String::new(),
        other => format!(", sensitivity {}", other.as_str()),
    };
    let excl = if s.exclusions.is_empty() {
        String::new()
    } else {
        format!(
            ", {}",
            crate::model::text::plural(s.exclusions.len(), "exclusion", "exclusions")
        )
    };
    format!("{id}: {state}{sens}{excl}")
}

/// A new exclusion of `value` from a detection's settings (the UI's "exclude this actor" path).
pub fn with_exclusion(mut settings: DetectionSettings, exclusion: Exclusion) -> DetectionSettings {
    if !settings
        .exclusions
        .iter()
        .any(|e| e.kind == exclusion.kind && e.value == exclusion.value)
    {
        settings.exclusions.push(exclusion);
    }
    settings
}

/// Run store work off the async threads.
/// Most events of an actor read to find an alert's evidence, or to build a login baseline: bounds the cost of
/// opening the detail of a very busy actor.
pub const EVIDENCE_SCAN_CAP: usize = 100_000;

/// Read an alert's evidence from the store (see [`EngineHandle::evidence`]). The evidence ids lie in the
/// alert's span, so only the actor's events of that span are read, and the scan stops once every id is found.
fn evidence_of(store: &Store, alert: &Alert, baseline: bool) -> Result<Evidence, StoreError> {
    let mut wanted: std::collections::HashSet<&str> =
        alert.evidence.iter().map(String::as_str).collect();
    let end = alert.time_end.unwrap_or(alert.created).max(alert.created);
    let mut events = Vec::new();
    let mut read = 0usize;
    if !wanted.is_empty() {
        store.visit_actor_events(&alert.actor.id, alert.time_start, end, |e| {
            read += 1;
            if wanted.remove(e.id.as_str()) {
                events.push(e);
            }
            !wanted.is_empty() && read < EVIDENCE_SCAN_CAP
        })?;
    }
    let mut ev = Evidence {
        missing: alert.evidence.len() - events.len(),
        events,
        ..Evidence::default()
    };
    let kind = catalogue::spec(alert.detection.as_str()).map(|s| &s.kind);
    if baseline
        && matches!(
            kind,
            Some(DetectionKind::LoginNewCountry | DetectionKind::ImpossibleTravel)
        )
    {
        ev.baseline_read = true;
        // Logins are the evidence's own action keys (after the `[actions]` aliases), so no mapping is needed.
        let actions: std::collections::HashSet<String> =
            ev.events.iter().map(|e| e.action.clone()).collect();
        let from = alert.time_start - chrono::Duration::milliseconds(catalogue::COUNTRY_MEMORY_MS);
        let evidence_ids: std::collections::HashSet<&str> =
            alert.evidence.iter().map(String::as_str).collect();
        let mut logins: Vec<AuditEvent> = Vec::new();
        let mut read = 0usize;
        store.visit_actor_events(&alert.actor.id, from, alert.time_start, |e| {
            read += 1;
            if actions.contains(&e.action)
                && e.time < alert.time_start
                && !evidence_ids.contains(e.id.as_str())
                && e.country().is_some()
            {
                logins.push(e);
            }
            read < EVIDENCE_SCAN_CAP
        })?;
        ev.baseline_capped = read >= EVIDENCE_SCAN_CAP;
        ev.baseline = baseline_of(&logins);
    }
    Ok(ev)
}

async fn blocking<T, E, F>(f: F) -> Result<T, EngineError>
where
    T: Send + 'static,
    E: Into<EngineError> + Send + 'static,
    F: FnOnce() -> Result<T, E> + Send + 'static,
{
    match tokio::task::spawn_blocking(move || f().map_err(Into::into)).await {
        Ok(r) => r,
        Err(_) => Err(EngineError::Stopped),
    }
}
