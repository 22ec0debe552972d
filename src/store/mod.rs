//! The embedded store: every sled tree, key encodings, indexes, schema version and migration.
//!
//! The only module that touches sled (guarded by `tests/layering.rs`), so the engine under it could change
//! without touching anything else. Writes are batched; callers report success only after [`Store::flush`].

mod alerts;
mod events;
pub mod keys;
mod migrate;
mod outbox;
mod quarantine;
mod run;
mod zdict;

/// Re-exported where callers page alerts.
pub use crate::model::{AlertFilter, AlertPage, StatusCounts};
pub use events::{EventPlan, InsertOutcome, Planner, RunWrites, encode_event, event_runs};
pub use quarantine::{QUARANTINE_SOURCE_CAP, QUARANTINE_TOTAL_CAP, QuarantineRecord};

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Schema this build writes. Older stores are migrated on open; newer ones are refused.
///
/// - 1: one entry per event in each of two trees; alerts as JSON plus ~6 index entries each.
/// - 2: alerts as postcard.
/// - 3: events packed into per-actor-day runs, alerts into blocks with posting lists (sled's open time and
///   memory follow the number of entries).
/// - 4: final runs in zstd with a dictionary trained on the store's own runs, kept in meta (11x on audit JSON
///   where lz4 gave 3.8x).
/// - 5: run directories compact (varint time deltas and lengths, UUIDs as 16 bytes: ~22 bytes an event where
///   the fixed layout took 50), small runs compressed with the dictionary too, alert blocks in zstd.
/// - 6: unsealed small runs in a key space of their own (see `keys::TAIL`). A schema-5 store is one of
///   schema 6 with no tail yet, so it is only stamped, not rebuilt; a schema-5 binary refuses a schema-6 store,
///   whose tail it would misread.
pub const SCHEMA_VERSION: u32 = 6;

/// The oldest schema that reads as the current one without a rebuild.
const READS_AS_CURRENT: u32 = 5;

/// What can go wrong with the store, each naming the directory so the operator knows which one.
///
/// Messages are sentences for a person: the underlying error is part of the message, not also a `source`
/// (the command line prints the chain of sources, which would repeat it), and sled's own texts are not used
/// where they hold Rust debug output.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {dir} is in use by another vigil process (pid {pid})")]
    InUse { dir: PathBuf, pid: String },
    #[error(
        "store at {dir} has schema version {found}, newer than this vigil understands ({supported}); upgrade vigil"
    )]
    TooNew {
        dir: PathBuf,
        found: u32,
        supported: u32,
    },
    /// The file system holding the store is full (ENOSPC) or the owner's quota is spent (EDQUOT). Named
    /// apart from other I/O errors because it is not damage: the same command succeeds once there is space,
    /// and nothing written before is lost (a write is all or nothing, re-ingesting dedupes).
    #[error("disk full writing the store in {dir}")]
    DiskFull { dir: PathBuf },
    #[error("cannot open store at {dir}: {error}")]
    Io { dir: PathBuf, error: std::io::Error },
    #[error("store at {dir}: {}", describe_sled(error))]
    Sled { dir: PathBuf, error: sled::Error },
    #[error("store at {dir}: corrupt record in {tree}: {detail}")]
    Corrupt {
        dir: PathBuf,
        tree: &'static str,
        detail: String,
    },
    #[error("alert {id} changed since it was read (version {found}, expected {expected})")]
    Conflict {
        id: String,
        found: u64,
        expected: u64,
    },
    #[error("no alert {0}")]
    NoSuchAlert(String),
}

impl StoreError {
    /// A sled error from the store in `dir`, classified: a full disk is [`StoreError::DiskFull`] whichever
    /// operation met it (sled reports it as `Error::Io`, cloned with its kind kept when a background write
    /// failed first).
    fn from_sled(dir: &Path, error: sled::Error) -> Self {
        match error {
            sled::Error::Io(e) => Self::from_io(dir, e),
            error => Self::Sled {
                dir: dir.to_path_buf(),
                error,
            },
        }
    }

    /// An I/O error on the store's files in `dir` (or files kept beside them, such as an ingest's sort runs),
    /// classified like sled's errors: a full disk is named as one.
    pub fn from_io(dir: &Path, error: std::io::Error) -> Self {
        if is_disk_full(&error) {
            Self::DiskFull {
                dir: dir.to_path_buf(),
            }
        } else {
            Self::Io {
                dir: dir.to_path_buf(),
                error,
            }
        }
    }

    /// Whether this is the file system filling up rather than a fault: retrying with space succeeds.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::DiskFull { .. })
    }
}

/// ENOSPC or EDQUOT, by errno or (for the copies sled makes of an error, which keep only the kind) by kind.
fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// sled's error as a sentence. Its `Display` embeds debug output (a cloned I/O error's text is `Os { code:
/// .. }`, corruption carries a backtrace); print what a person can act on.
fn describe_sled(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) if io.raw_os_error().is_some() => io.to_string(),
        sled::Error::Io(io) => format!("I/O error: {}", io.kind()),
        sled::Error::Corruption { .. } => "its files are damaged (sled read corrupted data)".into(),
        sled::Error::CollectionNotFound(_) => "a tree is missing".into(),
        sled::Error::Unsupported(why) => format!("unsupported: {why}"),
        sled::Error::ReportableBug(what) => format!("internal error in sled: {what}"),
    }
}

/// Tuning of the store's resources.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// sled page cache in bytes. sled's default (1 GiB) costs ~700 MB RSS; 64 MiB keeps ingest under 256 MB.
    pub cache_bytes: u64,
}

impl StoreOptions {
    /// The options of a database a rebuild reads or writes once, in key order: a quarter of the cache, which
    /// such a pass barely uses (each page is touched once).
    pub(crate) fn for_rebuild(self) -> Self {
        Self {
            cache_bytes: self.cache_bytes / 4,
        }
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// An open store. Cheap to clone: every clone shares the one sled handle (sled allows one per process).
#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    runs: sled::Tree,
    run_writer: std::sync::Arc<std::sync::Mutex<events::RunWriter>>,
    /// Events the writer holds back (see [`Store::hold_writes`]), for the dedupe check, which must not wait
    /// on the writer's lock.
    held_keys: std::sync::Arc<std::sync::Mutex<events::HeldKeys>>,
    book: sled::Tree,
    /// Alert writes read what they change first; one at a time.
    alert_lock: std::sync::Arc<std::sync::Mutex<()>>,
    quarantine: sled::Tree,
    quarantine_seen: sled::Tree,
    meta: sled::Tree,
    /// Where alert changes are delivered (see `outbox`); set by the engine or the command line.
    routes: std::sync::Arc<std::sync::RwLock<Vec<crate::model::Integration>>>,
    _lock: std::sync::Arc<File>,
}

const META_SCHEMA: &[u8] = b"schema_version";

/// The sled database's directory inside the store directory.
const DB_DIR: &str = "db";

/// Open sled at `path`. Our lock is held, so no other vigil process has the store; sled may still refuse for
/// a moment while a handle this process just dropped finishes shutting down its threads. Retry briefly.
fn open_sled(dir: &Path, path: &Path, opts: StoreOptions) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(path)
        .cache_capacity(opts.cache_bytes)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(Some(1000));
    let mut attempt = 0;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            // sled reports its lock as ErrorKind::Other with this text.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && attempt < 40 =>
            {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(error) => {
                // sled writes a snapshot while opening; on a full disk it leaves the file it could not fill,
                // which would make every later open report corruption.
                remove_unfinished_snapshots(dir, path);
                return Err(StoreError::from_sled(dir, error));
            }
        }
    }
}

impl Store {
    /// Open (or create) the store in `dir` with default options.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, StoreOptions::default())
    }

    /// Open (or create) the store in `dir`. Takes an exclusive lock first so that a second vigil process gets a
    /// message naming the holder's pid instead of sled's raw lock error. A store of an older schema is rebuilt
    /// in the current layout first (see the `migrate` module); a newer one is refused.
    pub fn open_with(dir: &Path, opts: StoreOptions) -> Result<Self, StoreError> {
        create_private_dirs(dir).map_err(|e| StoreError::from_io(dir, e))?;
        let lock = std::sync::Arc::new(take_lock(dir)?);
        migrate::finish_interrupted_swap(dir)?;
        create_private_dirs(&dir.join(DB_DIR)).map_err(|e| StoreError::from_io(dir, e))?;
        restrict_to_owner(&dir.join(DB_DIR));
        remove_unfinished_snapshots(dir, &dir.join(DB_DIR));
        let db = open_sled(dir, &dir.join(DB_DIR), opts)?;
        let found = migrate::schema_of(dir, &db)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                dir: dir.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let db = if found < READS_AS_CURRENT {
            migrate::rebuild(dir, db, found, opts, &lock)?;
            open_sled(dir, &dir.join(DB_DIR), opts)?
        } else {
            db
        };
        let store = Self::from_db(dir, db, lock)?;
        // Files sled just created under a caller's loose umask (the command line sets 077; a library caller
        // may not).
        restrict_to_owner(&dir.join(DB_DIR));
        store
            .meta
            .insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())
            .map_err(|e| store.sled(e))?;
        Ok(store)
    }

    /// Rebuild the store into a fresh database beside it and swap it in, crash-safely (the migration's
    /// machinery): what sled keeps of rewritten pages is not carried over, every actor-day's events are packed
    /// into full runs compressed with a dictionary trained again on them. Needs the only handle on the store
    /// (`vigil compact`; a running `serve` compacts between its own writes). Returns the store reopened and
    /// the bytes on disk before and after.
    pub fn compact(self, opts: StoreOptions) -> Result<(Store, u64, u64), StoreError> {
        let before = self.size_on_disk();
        let (dir, lock, db) = self.close_sole_handle("compact")?;
        // Read again with a quarter of the cache: a rebuild reads each page once, in key order, and two
        // databases with full caches took the end of a 10M-event ingest to 310 MB.
        drop(db);
        let db = open_sled(&dir, &dir.join(DB_DIR), opts.for_rebuild())?;
        migrate::rebuild(&dir, db, SCHEMA_VERSION, opts, &lock)?;
        let store = Self::from_db(&dir, open_sled(&dir, &dir.join(DB_DIR), opts)?, lock)?;
        let after = store.size_on_disk();
        Ok((store, before, after))
    }

    /// Close the store and open it again, so that sled writes its recovery snapshot. sled snapshots only
    /// while opening, and an open replays all the log written since the last snapshot: after a long ingest
    /// the next open took 0.74 s (10M events) where later ones take tens of ms. `vigil ingest` reopens before
    /// it ends, so that cost is its own and the UI opened next starts at once. Needs the only handle on the
    /// store, as [`Store::compact`] does.
    pub fn reopen(self, opts: StoreOptions) -> Result<Store, StoreError> {
        let (dir, lock, db) = self.close_sole_handle("reopen")?;
        drop(db);
        Self::from_db(&dir, open_sled(&dir, &dir.join(DB_DIR), opts)?, lock)
    }

    /// Flush and close this handle, which must be the only one on the store (`what`: the operation that needs
    /// it, for the error), keeping what reopening needs: the directory, the process lock and the sled handle.
    fn close_sole_handle(
        self,
        what: &str,
    ) -> Result<(PathBuf, std::sync::Arc<File>, sled::Db), StoreError> {
        let (dir, lock, db) = (self.dir.clone(), self._lock.clone(), self.db.clone());
        if std::sync::Arc::strong_count(&lock) > 2 {
            return Err(StoreError::Io {
                dir,
                error: std::io::Error::other(format!(
                    "the store is shared in this process; {what} it with no other handle open"
                )),
            });
        }
        self.flush()?;
        drop(self);
        Ok((dir, lock, db))
    }

    /// A store over an open sled database (the trees are created when missing).
    fn from_db(dir: &Path, db: sled::Db, lock: std::sync::Arc<File>) -> Result<Self, StoreError> {
        let tree = |name: &str| {
            db.open_tree(name)
                .map_err(|error| StoreError::from_sled(dir, error))
        };
        let store = Self {
            dir: dir.to_path_buf(),
            runs: tree("event_runs")?,
            run_writer: Default::default(),
            held_keys: Default::default(),
            book: tree("alert_book")?,
            alert_lock: Default::default(),
            quarantine: tree("quarantine")?,
            quarantine_seen: tree("quarantine_seen")?,
            meta: tree("meta")?,
            routes: Default::default(),
            db,
            _lock: lock,
        };
        store.load_dicts()?;
        Ok(store)
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Make every write so far durable, held events included (see [`Store::hold_writes`]). sled's `Ok` from an
    /// insert is not on disk until this returns.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.write_held()?;
        self.db.flush().map(|_| ()).map_err(|e| self.sled(e))
    }

    /// Bytes the store occupies on disk (sled's own estimate).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// Bytes of what the store holds: every key and value of every tree, as written (compressed where it is).
    /// Next to [`Store::size_on_disk`] it tells how much of the disk is garbage sled has not reclaimed yet
    /// (rewritten pages wait for its segment cleaner), which `vigil compact` gives back. Reads every entry
    /// (a second or so for a year of events): for `vigil status`, not for a hot path.
    pub fn live_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.live_bytes_by_tree()?.iter().map(|t| t.1).sum())
    }

    /// [`Store::live_bytes`] per tree: name, bytes, entries (the benches print where the bytes are).
    pub fn live_bytes_by_tree(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let mut out = Vec::new();
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name).map_err(|e| self.sled(e))?;
            let (mut n, mut entries) = (0u64, 0u64);
            for kv in tree.iter() {
                let (k, v) = kv.map_err(|e| self.sled(e))?;
                n += (k.len() + v.len()) as u64;
                entries += 1;
            }
            out.push((String::from_utf8_lossy(&name).into_owned(), n, entries));
        }
        Ok(out)
    }

    fn sled(&self, error: sled::Error) -> StoreError {
        StoreError::from_sled(&self.dir, error)
    }

    fn corrupt(&self, tree: &'static str, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            dir: self.dir.clone(),
            tree,
            detail: detail.into(),
        }
    }

    /// Write the schema version (tests use it to simulate a store from a newer vigil).
    #[doc(hidden)]
    pub fn force_schema_version(&self, v: u32) -> Result<(), StoreError> {
        self.meta
            .insert(META_SCHEMA, &v.to_be_bytes())
            .map_err(|e| self.sled(e))?;
        self.flush()
    }

    /// A small named blob in the meta tree (detector state, tuning, fingerprint key…).
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .meta
            .get(key.as_bytes())
            .map_err(|e| self.sled(e))?
            .map(|v| v.to_vec()))
    }

    /// Store a named blob in the meta tree.
    pub fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.meta
            .insert(key.as_bytes(), value)
            .map_err(|e| self.sled(e))?;
        Ok(())
    }

    /// Every meta blob whose name starts with `prefix`, in name order (pending re-detection markers).
    pub fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.meta.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    /// Remove named meta blobs, in one batch.
    pub fn meta_remove(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for k in keys {
            batch.remove(k.as_bytes());
        }
        self.meta.apply_batch(batch).map_err(|e| self.sled(e))
    }

    /// Detection settings changed from the UI, laid over the config file's by [`Tuning::overlay`].
    ///
    /// [`Tuning::overlay`]: crate::detect::tuning::Tuning::overlay
    pub fn detection_overrides(
        &self,
    ) -> Result<
        std::collections::BTreeMap<String, crate::detect::tuning::DetectionSettings>,
        StoreError,
    > {
        match self.meta_get("detection_overrides")? {
            Some(v) => serde_json::from_slice(&v)
                .map_err(|e| self.corrupt("meta", format!("detection_overrides: {e}"))),
            None => Ok(Default::default()),
        }
    }

    /// Keep one detection's settings as changed from the UI.
    pub fn set_detection_override(
        &self,
        id: &str,
        settings: &crate::detect::tuning::DetectionSettings,
    ) -> Result<(), StoreError> {
        let mut all = self.detection_overrides()?;
        all.insert(id.to_string(), settings.clone());
        let bytes = serde_json::to_vec(&all).map_err(|e| self.corrupt("meta", e.to_string()))?;
        self.meta_put("detection_overrides", &bytes)
    }

    /// The key behind content fingerprints: random per store, made on first use, never shown.
    pub fn fingerprint_key(&self) -> Result<Vec<u8>, StoreError> {
        if let Some(k) = self.meta_get("fingerprint_key")? {
            return Ok(k);
        }
        let key: [u8; 32] = rand::random();
        self.meta_put("fingerprint_key", &key)?;
        Ok(key.to_vec())
    }

    fn counter(&self, key: &str) -> u64 {
        self.meta
            .get(key.as_bytes())
            .ok()
            .flatten()
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0)
    }

    fn bump(&self, key: &str, by: u64) -> Result<(), StoreError> {
        if by == 0 {
            return Ok(());
        }
        self.meta
            .fetch_and_update(key.as_bytes(), |old| {
                let n = old
                    .and_then(|v| v.try_into().ok().map(u64::from_be_bytes))
                    .unwrap_or(0);
                Some(n.saturating_add(by).to_be_bytes().to_vec())
            })
            .map_err(|e| self.sled(e))?;
        Ok(())
    }
}

/// `dir` and its missing parents, those this creates owner-only (0700), so a store made by the library
/// (tests, benches) is as private as one made by the command line, whose umask already says so. The one
/// helper for every directory vigil creates (data dir, demo dir, archive).
pub fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Take group and other access away from sled's directory and the files directly in it (`conf`, `db`,
/// snapshots; `blobs` is a directory, so closing it closes its files). sled creates them without a mode, so
/// a store made before the command line set its umask, or by a caller with a loose one, would be readable
/// by anyone; this makes it private on its next open. Best effort: a failure is logged, not fatal.
fn restrict_to_owner(db: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let tighten = |p: &Path, md: &std::fs::Metadata| {
            let mode = md.permissions().mode();
            if mode & 0o077 != 0
                && let Err(e) =
                    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode & 0o700))
            {
                tracing::warn!(path = %p.display(), error = %e, "cannot make a store file owner-only");
            }
        };
        if let Ok(md) = std::fs::symlink_metadata(db) {
            tighten(db, &md);
        }
        let Ok(entries) = std::fs::read_dir(db) else {
            return;
        };
        for entry in entries.flatten() {
            // Never through a symlink: only what sled itself made.
            if let Ok(md) = entry.metadata()
                && (md.is_file() || md.is_dir())
            {
                tighten(&entry.path(), &md);
            }
        }
    }
}

/// Remove what a snapshot write that failed left in the sled directory `db`: sled writes
/// `snap.<lsn>.generating` and renames it when complete, and on the next open reads the newest `snap.*` file
/// whatever its suffix. A file too short to hold a snapshot's length and checksum (12 bytes; a full disk
/// leaves it empty) is one sled can only report as corruption (`Read corrupted data at file offset None`),
/// for ever. The snapshot is a cache of the log, which sled replays when none is left, so removing it loses
/// nothing. Best effort: what cannot be removed is logged, and sled's open then says what is wrong.
fn remove_unfinished_snapshots(dir: &Path, db: &Path) {
    let Ok(entries) = std::fs::read_dir(db) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("snap.") && name.ends_with(".generating")) {
            continue;
        }
        let len = match entry.metadata() {
            Ok(m) if m.is_file() => m.len(),
            _ => continue,
        };
        if len > 12 {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => tracing::warn!(
                dir = %dir.display(),
                file = %name,
                bytes = len,
                "removed an unfinished sled snapshot (a write that failed, e.g. on a full disk, left it)"
            ),
            Err(e) => tracing::error!(
                dir = %dir.display(),
                file = %name,
                error = %e,
                "cannot remove an unfinished sled snapshot; the store will not open until it is removed"
            ),
        }
    }
}

/// Take `<dir>/vigil.lock` exclusively and write our pid into it.
fn take_lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join("vigil.lock");
    let io = |error| StoreError::from_io(dir, error);
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).map_err(io)?;
    match f.try_lock() {
        Ok(()) => {
            f.set_len(0).map_err(io)?;
            f.rewind().map_err(io)?;
            write!(f, "{}", std::process::id()).map_err(io)?;
            f.flush().map_err(io)?;
            Ok(f)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            let pid = pid.trim();
            let pid = if pid.is_empty() {
                "unknown".to_string()
            } else {
                pid.chars().take(20).collect()
            };
            Err(StoreError::InUse {
                dir: dir.to_path_buf(),
                pid,
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}
