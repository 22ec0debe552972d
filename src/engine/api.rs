//! The engine's client surface: what a UI (in-process today, attached over the socket later) may ask and
//! tell. Requests are [`Command`]s (imperative), the replies and the change feed are facts ([`Change`]). The
//! UI holds an [`EngineHandle`] and nothing else: no store, no sled, no detector.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use ulid::Ulid;

use crate::config::IntegrationConfig;
use crate::detect::catalogue::{self, DetectionKind};
use crate::detect::tuning::{DetectionSettings, Exclusion, Sensitivity, Tuning};
use crate::export::{ExportError, ExportFile, ExportFormat, ExportSelection, export_alerts};
use crate::model::{
    Alert, AlertFilter, AlertStatus, AuditEvent, HistoryEntry, Integration, Note, Severity,
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
}

/// A fact the engine announces to every attached UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Alerts were raised or changed (by detection or by someone's triage).
    AlertsChanged { ids: Vec<Ulid>, raised: usize },
    /// Detection settings changed.
    TuningChanged,
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

/// One integration as the integrations pane shows it: the routing rule, and the endpoint masked so that no
/// secret reaches a UI.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationView {
    /// Name, kind and routing.
    pub integration: Integration,
    /// The endpoint as configured, with any secret part masked.
    pub endpoint: String,
}

/// What the UI talks to. Cheap to clone; every clone sees the same engine.
#[derive(Clone)]
pub struct EngineHandle {
    store: Store,
    changes: broadcast::Sender<Change>,
    tuning: Arc<Mutex<Tuning>>,
    file_tuning: Tuning,
    integrations: Arc<Vec<IntegrationConfig>>,
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
        let handle = Self {
            store,
            changes,
            tuning: Arc::new(Mutex::new(tuning)),
            file_tuning,
            integrations: Arc::new(integrations),
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

    /// The configured integrations, endpoints masked.
    pub fn integrations(&self) -> Vec<IntegrationView> {
        self.integrations
            .iter()
            .map(|i| IntegrationView {
                integration: i.integration.clone(),
                endpoint: i.url.to_string(),
            })
            .collect()
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
                Ok(format!("{n} alert(s) marked {status}"))
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
                    Some(x) => format!("{n} alert(s) assigned to {x}"),
                    None => format!("{n} alert(s) unassigned"),
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
        }
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
        Ok(format!("exported {rows} alert(s) to {}", path.display()))
    }
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
        format!(", {} exclusion(s)", s.exclusions.len())
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
