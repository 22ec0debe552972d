//! The figures `vigil status` prints, gathered from an open store.

use crate::store::{SCHEMA_VERSION, Store};

/// Engine and store figures. The JSON keys are stable (scripts read them); new keys may be added:
///
/// | key | meaning |
/// |---|---|
/// | `engine` | `"running"` when these come from a running engine, `"stopped"` when read from the store |
/// | `data_dir` | the store's directory |
/// | `schema_version` | the store's schema version |
/// | `store_bytes` | bytes on disk |
/// | `live_bytes` | bytes of what the store holds (keys and values, compressed where they are): the rest of `store_bytes` is space sled has not reclaimed yet |
/// | `events` | events stored |
/// | `quarantined` | records refused at ingest and kept |
/// | `quarantine_dropped` | records refused at ingest and not kept: the quarantine had reached its cap (per source or in all) |
/// | `quarantine_bytes` | bytes the kept records take (before the database's own overhead) |
/// | `backlog` | events received and not yet stored (0 without a running engine) |
/// | `alerts` | object: `open`, `acknowledged`, `expected`, `true_positive`, `total` |
/// | `outbox_pending` | deliveries waiting for their first attempt or a retry |
/// | `outbox_dead` | dead letters waiting to be replayed |
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatusReport {
    pub engine: String,
    pub data_dir: String,
    pub schema_version: u32,
    pub store_bytes: u64,
    #[serde(default)]
    pub live_bytes: u64,
    pub events: u64,
    pub quarantined: u64,
    pub quarantine_dropped: u64,
    pub quarantine_bytes: u64,
    pub backlog: u64,
    pub alerts: AlertCounts,
    pub outbox_pending: u64,
    pub outbox_dead: u64,
}

/// Alerts by status, with the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertCounts {
    pub open: u64,
    pub acknowledged: u64,
    pub expected: u64,
    pub true_positive: u64,
    pub total: u64,
}

impl StatusReport {
    /// Read the figures of a store no engine is running over (backlog 0).
    pub fn of_store(store: &Store) -> Self {
        let counts = store.status_counts();
        let outbox = store.outbox_counts(None).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "outbox unreadable");
            Default::default()
        });
        Self {
            engine: "stopped".into(),
            data_dir: store.dir().display().to_string(),
            schema_version: SCHEMA_VERSION,
            store_bytes: store.size_on_disk(),
            live_bytes: store.live_bytes().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "live bytes unreadable");
                0
            }),
            events: store.event_count(),
            quarantined: store.quarantined_count(),
            quarantine_dropped: store.quarantine_dropped(),
            quarantine_bytes: store.quarantine_bytes(),
            backlog: 0,
            alerts: AlertCounts {
                open: counts.open,
                acknowledged: counts.acknowledged,
                expected: counts.expected,
                true_positive: counts.true_positive,
                total: counts.total(),
            },
            outbox_pending: outbox.pending,
            outbox_dead: outbox.dead,
        }
    }
}

impl std::fmt::Display for StatusReport {
    /// Aligned `name  value` lines for people.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = &self.alerts;
        writeln!(f, "engine          {}", self.engine)?;
        writeln!(f, "data dir        {}", self.data_dir)?;
        writeln!(f, "schema version  {}", self.schema_version)?;
        writeln!(
            f,
            "store size      {} on disk, {} live",
            human_bytes(self.store_bytes),
            human_bytes(self.live_bytes)
        )?;
        writeln!(f, "events          {}", self.events)?;
        writeln!(
            f,
            "quarantined     {} kept ({}), {} not kept over the cap",
            self.quarantined,
            human_bytes(self.quarantine_bytes),
            self.quarantine_dropped
        )?;
        writeln!(f, "backlog         {}", self.backlog)?;
        writeln!(
            f,
            "alerts          {} (open {}, acknowledged {}, expected {}, true positive {})",
            a.total, a.open, a.acknowledged, a.expected, a.true_positive
        )?;
        write!(
            f,
            "outbox          {} pending, {} dead letters",
            self.outbox_pending, self.outbox_dead
        )
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
