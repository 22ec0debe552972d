//! Retention sweeps, once at start and then every sweep interval:
//!
//! - events older than `retention.events_days` are deleted;
//! - alerts whose `created` (event time, DESIGN §4) is more than `retention.alerts_days` ago are archived, then
//!   deleted. Each expired alert is appended as one JSON line (the full [`Alert`]) to
//!   `<store dir>/archive/alerts-YYYY-MM.jsonl`, the month being that of its `created` in UTC. The archive
//!   directory is created `0700` and the files `0600` on unix. [`sweep_alerts`] works in chunks: append a
//!   chunk, `sync_all` its files, and only then delete it from the store and flush. Only the versions archived
//!   are deleted: an alert changed in between (a note, a growing burst) stays and is archived again, changed,
//!   by the next sweep.
//!
//! 0 days keeps that kind forever. A failed sweep is a health note and is tried again next time, never fatal:
//! keeping data a little longer harms nobody.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ulid::Ulid;

use super::workers::Shared;
use crate::config::RetentionConfig;
use crate::model::Alert;
use crate::store::{Store, StoreError};

/// Health-note name of the event sweep.
const NAME: &str = "retention";
/// Health-note name of the alert sweep (its own, so that a good event sweep does not clear its note).
const ALERTS_NAME: &str = "alert retention";

/// Directory of the alert archive, inside the store directory.
pub const ARCHIVE_DIR: &str = "archive";

/// Alerts archived and deleted per step of an alert sweep: bounds memory and each delete transaction.
const ALERT_CHUNK: usize = 1000;

/// Sweep now and then every `every` until the engine stops.
pub(crate) fn run(
    store: Store,
    policy: RetentionConfig,
    shared: Arc<Shared>,
    every: Duration,
) -> Result<(), String> {
    let mut first = true;
    loop {
        if policy.events_days > 0 {
            sweep_events(&store, policy.events_days, &shared);
        }
        if policy.alerts_days > 0 {
            sweep_expired_alerts(&store, policy.alerts_days, &shared);
        }
        seal_closed_days(&store);
        // Not on the first pass: an engine just (re)started, after a compaction say, serves first.
        if !first && needs_compaction(&store, &policy) {
            shared.request_compaction();
            return Ok(());
        }
        first = false;
        if shared.sleep(every) {
            return Ok(());
        }
    }
}

/// Whether the store's file is big enough and mostly enough garbage (rewritten pages sled has not reclaimed;
/// see [`Store::live_bytes`]) for a compaction to be worth its pause (`retention.compact_garbage_percent`
/// and `compact_min_mb`). `vigil serve` checks it on each retention pass, `vigil ingest` at its end.
pub fn needs_compaction(store: &Store, policy: &RetentionConfig) -> bool {
    if policy.compact_garbage_percent == 0 {
        return false;
    }
    let disk = store.size_on_disk();
    if disk < u64::from(policy.compact_min_mb) << 20 {
        return false;
    }
    let live = match store.live_bytes() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot measure the store's live bytes; not compacting");
            return false;
        }
    };
    let garbage = disk.saturating_sub(live);
    let over = garbage * 100 > disk * u64::from(policy.compact_garbage_percent);
    if over {
        tracing::info!(
            disk,
            live,
            percent = policy.compact_garbage_percent,
            "the store's file is mostly garbage: compacting it"
        );
    }
    over
}

/// Compress the small runs of days that are over (before yesterday, by the newest event's time: a late event
/// may still reach yesterday) with the store's dictionary. A failure is logged and tried again next time.
fn seal_closed_days(store: &Store) {
    let newest = match store.last_event_time() {
        Ok(Some(t)) => t,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "sealing small runs: cannot read the newest event time");
            return;
        }
    };
    let before = crate::store::keys::day_of(newest.timestamp_millis()) - 1;
    match store
        .seal_small_runs(Some(before))
        .and_then(|n| store.flush().map(|()| n))
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(runs = n, "small runs of past days compressed"),
        Err(e) => tracing::warn!(error = %e, "sealing small runs failed; trying again next time"),
    }
}

/// Now minus `days`; `None` when that is before any time chrono represents (then nothing is that old).
fn cutoff(days: u32) -> Option<DateTime<Utc>> {
    Utc::now().checked_sub_signed(TimeDelta::try_days(i64::from(days))?)
}

fn sweep_events(store: &Store, days: u32, shared: &Shared) {
    let Some(cutoff) = cutoff(days) else {
        return;
    };
    match store
        .delete_events_before(cutoff)
        .and_then(|n| store.flush().map(|_| n))
    {
        Ok(n) => {
            if n > 0 {
                tracing::info!(deleted = n, %cutoff, "retention: old events deleted");
                shared.touch();
            }
            shared.set_health(NAME, None);
        }
        Err(e) => {
            tracing::warn!(error = %e, "retention sweep failed; trying again next time");
            shared.set_health(NAME, Some(format!("sweep failed: {e}")));
        }
    }
}

/// [`sweep_alerts`] at now minus `days`, with logging and the health note.
fn sweep_expired_alerts(store: &Store, days: u32, shared: &Shared) {
    let Some(cutoff) = cutoff(days) else {
        return;
    };
    let (done, failure) = match sweep_alerts(store, cutoff, ALERT_CHUNK) {
        Ok(done) => (done, None),
        Err(e) => (e.done().clone(), Some(e)),
    };
    if done.archived > 0 {
        tracing::info!(
            archived = done.archived,
            deleted = done.deleted,
            %cutoff,
            files = ?done.files,
            "retention: expired alerts archived and deleted"
        );
    }
    if done.deleted > 0 {
        shared.touch();
    }
    match failure {
        None => shared.set_health(ALERTS_NAME, None),
        Some(e) => {
            tracing::warn!(error = %e, "alert retention failed; the rest is kept and tried again next time");
            shared.set_health(ALERTS_NAME, Some(format!("sweep failed: {e}")));
        }
    }
}

/// What an alert sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveOutcome {
    /// Alerts appended to the archive (and synced).
    pub archived: u64,
    /// Alerts deleted from the store, each after its archive line was synced.
    pub deleted: u64,
    /// Archive files appended to.
    pub files: BTreeSet<PathBuf>,
}

/// Why an alert sweep stopped early. Chunks finished before are archived and deleted (`done`); the chunk at
/// hand is not deleted.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Creating, writing or syncing the archive failed.
    #[error("cannot write alert archive {}: {source}", path.display())]
    Archive {
        path: PathBuf,
        source: io::Error,
        done: ArchiveOutcome,
    },
    /// Reading, deleting or flushing the store failed.
    #[error("{source}")]
    Store {
        source: StoreError,
        done: ArchiveOutcome,
    },
}

impl SweepError {
    /// What the sweep did before it failed.
    pub fn done(&self) -> &ArchiveOutcome {
        match self {
            Self::Archive { done, .. } | Self::Store { done, .. } => done,
        }
    }
}

/// Archive, then delete, every alert created before `cutoff`, oldest first, `chunk` alerts at a time (see the
/// module doc for where they go).
///
/// A chunk is deleted only after its archive files are synced, so an alert is never deleted without being
/// archived. The converse does not hold: a crash (or a failed delete) between the sync and the delete leaves
/// the chunk in the store, and the next sweep appends it again, so an archive may hold an alert twice (same
/// `id`; readers should keep the last line of an id). A failed append is cut back to the file's length before
/// it, so no partial line stays behind.
pub fn sweep_alerts(
    store: &Store,
    cutoff: DateTime<Utc>,
    chunk: usize,
) -> Result<ArchiveOutcome, SweepError> {
    let chunk = chunk.max(1);
    let dir = store.dir().join(ARCHIVE_DIR);
    let mut done = ArchiveOutcome::default();
    loop {
        let batch = match store.alerts_created_before(cutoff, chunk) {
            Ok(b) => b,
            Err(source) => return Err(SweepError::Store { source, done }),
        };
        if batch.is_empty() {
            return Ok(done);
        }
        if let Err((path, source)) = append_archive(&dir, &batch, &mut done.files) {
            return Err(SweepError::Archive { path, source, done });
        }
        done.archived += batch.len() as u64;
        // Only what was archived: an alert changed since it was read stays, and is archived again next time.
        let archived: Vec<(Ulid, u64)> = batch.iter().map(|a| (a.id, a.version)).collect();
        let deleted = match store
            .delete_alerts_at(&archived)
            .and_then(|n| store.flush().map(|()| n))
        {
            Ok(n) => n,
            Err(source) => return Err(SweepError::Store { source, done }),
        };
        done.deleted += deleted;
        if deleted == 0 {
            // Listed as expired yet not deletable: stop rather than archive the same chunk forever.
            tracing::warn!(
                alerts = batch.len(),
                "alert retention: expired alerts listed but none deleted; stopping this sweep"
            );
            return Ok(done);
        }
        if batch.len() < chunk {
            return Ok(done);
        }
    }
}

/// Append `alerts` to their month files in `dir` and sync them, recording each file in `files`. The error names
/// the path that failed.
fn append_archive(
    dir: &Path,
    alerts: &[Alert],
    files: &mut BTreeSet<PathBuf>,
) -> Result<(), (PathBuf, io::Error)> {
    create_archive_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
    let mut by_month: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    for a in alerts {
        let path = dir.join(format!("alerts-{}.jsonl", a.created.format("%Y-%m")));
        let buf = by_month.entry(path).or_default();
        if let Err(e) = serde_json::to_writer(&mut *buf, a) {
            return Err((dir.to_path_buf(), io::Error::other(e)));
        }
        buf.push(b'\n');
    }
    let mut created = false;
    for (path, lines) in by_month {
        created |= !path.exists();
        append_synced(&path, &lines).map_err(|e| (path.clone(), e))?;
        files.insert(path);
    }
    if created {
        // A new file's directory entry must be durable too before its alerts are deleted.
        sync_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
    }
    Ok(())
}

/// `dir` (owner-only on unix), made durable in its parent when new.
fn create_archive_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    crate::store::create_private_dirs(dir)?;
    match dir.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Append `lines` to `path` (created owner-only on unix) and `sync_all` it. On an error the file is cut back
/// to its length before.
fn append_synced(path: &Path, lines: &[u8]) -> io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    let len = f.metadata()?.len();
    let res = (|| {
        // A crash in an earlier append may have left a last line without its newline: start a fresh line.
        if len > 0 {
            let mut last = [0u8; 1];
            f.seek(SeekFrom::Start(len - 1))?;
            f.read_exact(&mut last)?;
            if last[0] != b'\n' {
                f.write_all(b"\n")?;
            }
        }
        f.write_all(lines)?;
        f.sync_all()
    })();
    if res.is_err() {
        let _ = f.set_len(len).and_then(|()| f.sync_all());
    }
    res
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
