//! The engine's client surface: what a UI (in-process today, attached over the socket later) may ask and
//! tell. Requests are [`Command`]s (imperative), the replies and the change feed are facts ([`Change`]). The
//! UI holds an [`EngineHandle`] and nothing else: no store, no sled, no detector.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use ulid::Ulid;

use super::delivery::targets;
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

/// Something the engine could not do, said so that a status bar can show it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Store(String),
    #[error("alert {0} changed since you read it; reload and try again")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the engine has stopped")]
    Stopped,
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { id, .. } => Self::Conflict(id),
            other => Self::Store(other.to_string()),
        }
    }
}

/// A request from a UI. Every change names who asked, for the alert's history.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Set the status of one or more alerts.
    SetStatus {
        ids: Vec<Ulid>,
        status: AlertStatus,
        who: String,
    },
    /// Assign (or unassign with `None`).
    Assign {
        ids: Vec<Ulid>,
        assignee: Option<String>,
        who: String,
    },
    /// Append a note.
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
}

/// A fact the engine announces to every attached UI.
#[derive(Debug, Clone, PartialEq)]
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
}

/// Engine and store figures for the header and `vigil status`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq)]
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

/// What the UI talks to. Cheap to clone; every clone sees the same engine.
#[derive(Clone)]
pub struct EngineHandle {
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
}

impl EngineHandle {
    /// A handle over `store`. `file_tuning` is the config file's; the store's UI overrides are laid over it.
    /// `retune` reaches the running pipeline, when there is one.
    pub fn new(
        store: Store,
        file_tuning: Tuning,
        integrations: Vec<IntegrationConfig>,
        retune: Option<std::sync::mpsc::Sender<Tuning>>,
    ) -> Result<Self, EngineError> {
        let tuning = file_tuning.overlay(&store.detection_overrides()?);
        let (changes, _) = broadcast::channel(1024);
        let endpoints = endpoints(&integrations);
        let handle = Self {
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
        };
        handle.refresh_stats(0.0, 0, None);
        Ok(handle)
    }

    /// Subscribe to the change feed. A slow subscriber that falls behind gets `Lagged` and should reload.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Announce a change to every subscriber (engine tasks use it; nobody listening is fine).
    pub fn publish(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    /// The latest figures.
    pub fn stats(&self) -> EngineStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Recount the figures from the store's counters and publish them.
    pub fn refresh_stats(&self, ingest_rate: f64, backlog: u64, health: Option<String>) {
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

    /// A page of alerts (index-served; see `Store::alerts_page`).
    pub async fn alerts_page(
        &self,
        filter: AlertFilter,
        cursor: Option<Ulid>,
        limit: usize,
    ) -> Result<AlertPage, EngineError> {
        let store = self.store.clone();
        blocking(move || store.alerts_page(&filter, cursor, limit)).await
    }

    /// One alert.
    pub async fn alert(&self, id: Ulid) -> Result<Option<Alert>, EngineError> {
        let store = self.store.clone();
        blocking(move || store.alert(id)).await
    }

    /// An actor's events around a moment: `before` events up to it and `after` events after it.
    pub async fn timeline(
        &self,
        actor: String,
        around: DateTime<Utc>,
        before: usize,
        after: usize,
    ) -> Result<Vec<AuditEvent>, EngineError> {
        let store = self.store.clone();
        blocking(move || store.actor_timeline(&actor, around, before, after)).await
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
        let tuning = self.current_tuning();
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

    /// The configured integrations with their health and outbox figures, endpoints masked. Reads the store
    /// off the async threads; a store error shows as that integration's state rather than failing the list.
    pub async fn integrations(&self) -> Result<Vec<IntegrationView>, EngineError> {
        let this = self.clone();
        blocking(move || Ok::<_, EngineError>(this.integration_views())).await
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

    /// Every delivery of one alert, oldest first, for the alert detail.
    pub async fn deliveries(&self, alert: Ulid) -> Result<Vec<Delivery>, EngineError> {
        let store = self.store.clone();
        blocking(move || store.deliveries_of(alert)).await
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
        let store = self.store.clone();
        blocking(move || -> Result<Option<Evidence>, StoreError> {
            let Some(alert) = store.alert(id)? else {
                return Ok(None);
            };
            Ok(Some(evidence_of(&store, &alert, baseline)?))
        })
        .await
    }

    /// The tuning in force (file + UI overrides).
    pub fn current_tuning(&self) -> Tuning {
        self.tuning.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Carry out a command. Triage changes record who and when in each alert's history and bump its version.
    pub async fn execute(&self, cmd: Command) -> Result<String, EngineError> {
        let this = self.clone();
        blocking(move || this.execute_blocking(cmd)).await
    }

    fn execute_blocking(&self, cmd: Command) -> Result<String, EngineError> {
        let now = Utc::now();
        match cmd {
            Command::SetStatus { ids, status, who } => {
                let n = self.change_alerts(&ids, |a| {
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
            Command::Assign { ids, assignee, who } => {
                let n = self.change_alerts(&ids, |a| {
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
                self.change_alerts(&[id], |a| {
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
        }
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
        self.change_alerts(&found, |a| {
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
    fn change_alerts(
        &self,
        ids: &[Ulid],
        mut change: impl FnMut(&mut Alert) -> bool,
    ) -> Result<usize, EngineError> {
        // Read, change and write under the store's alert lock: a burst growing the alert meanwhile is kept,
        // and so is this change.
        let changed: Vec<Ulid> = self
            .store
            .modify_alerts(ids, |a| {
                if !change(a) {
                    return Ok(false);
                }
                a.version += 1;
                Ok(true)
            })?
            .into_iter()
            .map(|a| a.id)
            .collect();
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
        let refused = |e: ExportError| match e {
            ExportError::Exists(p) => EngineError::Invalid(format!("{} exists", p.display())),
            other => EngineError::Invalid(other.to_string()),
        };
        let mut file = ExportFile::create(&path, overwrite).map_err(refused)?;
        let selection = match ids {
            Some(ids) => ExportSelection::Ids(ids),
            None => ExportSelection::Filter(filter),
        };
        let rows = export_alerts(
            &self.store,
            &selection,
            std::io::BufWriter::new(&mut file),
            format,
        )
        .map_err(|e| match e {
            ExportError::Store(e) => EngineError::from(e),
            other => EngineError::Invalid(format!("{}: {other}", path.display())),
        })?;
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
