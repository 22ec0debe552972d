//! Schema migration: an older store is rebuilt into a fresh sled database beside it, which then takes its
//! place.
//!
//! Why not in place: sled never shrinks its page table. After converting schema 2's 11M entries in place and
//! dropping the old trees, opening the store still took 1.4 s and 530 MB for the freed pages. Rebuilding
//! costs the same copy and leaves a store that opens in tens of milliseconds.
//!
//! The swap is crash-safe. The new database is written and flushed in `db.migrating`; then `db` is renamed
//! to `db.old`, `db.migrating` to `db`, and `db.old` is deleted. [`finish_interrupted_swap`] completes or
//! undoes whichever of those steps a crash interrupted, before anything opens the store.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use super::{DB_DIR, META_SCHEMA, SCHEMA_VERSION, Store, StoreError, StoreOptions, open_sled};

/// Trees of schemas 0–2 that the rebuild converts instead of copying.
const LEGACY_TREES: [&str; 4] = ["events", "events_by_actor", "alerts", "alert_index"];

/// Trees the rebuild re-encodes rather than copying: event runs are sealed again (schema 3's lz4 runs, and
/// runs written before the store had its dictionary, come out in zstd with it).
const RESEALED_TREES: [&str; 1] = ["event_runs"];

const MIGRATING: &str = "db.migrating";
const OLD: &str = "db.old";

/// The schema of an open database: its version key, else 0 for a store that predates versioning (has
/// data), else the current schema (a new, empty store).
pub(super) fn schema_of(dir: &Path, db: &sled::Db) -> Result<u32, StoreError> {
    let sled_err = |error| StoreError::from_sled(dir, error);
    let meta = db.open_tree("meta").map_err(sled_err)?;
    if let Some(v) = meta.get(META_SCHEMA).map_err(sled_err)? {
        let b: [u8; 4] = v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
            dir: dir.to_path_buf(),
            tree: "meta",
            detail: "schema_version".into(),
        })?;
        return Ok(u32::from_be_bytes(b));
    }
    for name in LEGACY_TREES {
        if db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == name.as_bytes())
            && !db.open_tree(name).map_err(sled_err)?.is_empty()
        {
            return Ok(0);
        }
    }
    Ok(SCHEMA_VERSION)
}

/// Complete or undo a swap a crash interrupted (see the module doc).
pub(super) fn finish_interrupted_swap(dir: &Path) -> Result<(), StoreError> {
    let io = |error| StoreError::from_io(dir, error);
    let (db, new, old) = (dir.join(DB_DIR), dir.join(MIGRATING), dir.join(OLD));
    if !db.exists() && old.exists() {
        // Between the two renames: the new database was complete before the old one was moved away.
        if new.exists() {
            std::fs::rename(&new, &db).map_err(io)?;
        } else {
            std::fs::rename(&old, &db).map_err(io)?;
        }
    }
    if db.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io)?;
        }
        // A rebuild that did not finish: start it again from the old database.
        if new.exists() {
            std::fs::remove_dir_all(&new).map_err(io)?;
        }
    }
    Ok(())
}

/// Rebuild the store at `dir` (open as `old`, schema `from`) in the current layout and swap it in.
pub(super) fn rebuild(
    dir: &Path,
    old: sled::Db,
    from: u32,
    opts: StoreOptions,
    lock: &Arc<File>,
) -> Result<(), StoreError> {
    let io = |error| StoreError::from_io(dir, error);
    let started = std::time::Instant::now();
    tracing::info!(dir = %dir.display(), from, to = SCHEMA_VERSION, "rebuilding the store in the current schema");
    let new_path = dir.join(MIGRATING);
    if new_path.exists() {
        std::fs::remove_dir_all(&new_path).map_err(io)?;
    }
    let store = Store::from_db(
        dir,
        open_sled(dir, &new_path, opts.for_rebuild())?,
        lock.clone(),
    )?;
    // Every tree that is not legacy moves as it is (quarantine, meta, and anything of the current layout).
    for name in old.tree_names() {
        if name.as_ref() == b"__sled__default"
            || LEGACY_TREES.iter().any(|l| l.as_bytes() == name.as_ref())
            || RESEALED_TREES.iter().any(|l| l.as_bytes() == name.as_ref())
        {
            continue;
        }
        let from_tree = old.open_tree(&name).map_err(|e| store.sled(e))?;
        let to_tree = store.db.open_tree(&name).map_err(|e| store.sled(e))?;
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for kv in from_tree.iter() {
            let (k, v) = kv.map_err(|e| store.sled(e))?;
            batch.insert(k, v);
            n += 1;
            if n % 1_000 == 0 {
                to_tree
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(|e| store.sled(e))?;
            }
        }
        to_tree.apply_batch(batch).map_err(|e| store.sled(e))?;
    }
    // Schema 2 kept alert counters in meta; the alert book keeps its own.
    for s in crate::model::AlertStatus::ALL {
        store
            .meta
            .remove(format!("alerts.{}", s.as_str()).as_bytes())
            .map_err(|e| store.sled(e))?;
    }
    // The copied meta holds the old store's dictionaries (still needed to read its runs, and kept: a run
    // names its dictionary for good); the current one is chosen again for the re-sealed runs.
    store
        .meta
        .remove(super::events::META_DICT)
        .map_err(|e| store.sled(e))?;
    let resealed = store.import_runs(&old)?;
    store.prune_dicts()?;
    let events = resealed + store.import_legacy_events(&old)?;
    let alerts = store.import_legacy_alerts(&old)?;
    store
        .meta
        .insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())
        .map_err(|e| store.sled(e))?;
    store.flush()?;
    drop(store);
    drop(old);
    std::fs::rename(dir.join(DB_DIR), dir.join(OLD)).map_err(io)?;
    std::fs::rename(&new_path, dir.join(DB_DIR)).map_err(io)?;
    std::fs::remove_dir_all(dir.join(OLD)).map_err(io)?;
    tracing::info!(
        events,
        alerts,
        secs = started.elapsed().as_secs_f64(),
        "store rebuilt: events packed into runs, alerts into blocks"
    );
    Ok(())
}
