//! The files a site scan keeps in `<data-dir>/site-scan/` between runs, all owner-only:
//!
//! - `<scan>.state.json`: where each stream (Confluence pages, blog posts, Jira work items) is — the cursor
//!   of the next page to read, whether it is done, counters — and how many bytes of the findings file that
//!   position covers. Replaced whole (temporary file, `fsync`, `rename`, `fsync` of the directory) after
//!   each page, never written in place: a kill leaves the old position or the new one, never half of one.
//!   The rename replaces whatever is at the target, a planted symlink included, and never writes through it.
//! - `<scan>.findings.jsonl`: the rows found so far, one JSON object per line, appended and synced before
//!   the position that covers them is saved. Bytes past the saved length are rows of a page whose position
//!   was never saved (a kill in between): they are cut off on resume, and the page is read again.
//! - `<scan>.lock`: held (`flock`) while a scan runs, so two scans of one site cannot interleave.
//!
//! `<scan>` names the site and the apps scanned (`acme.atlassian.net-<hash>`), so a scan of Confluence only
//! and one of both keep positions of their own.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SiteScanError;

/// Format of the state file; another version is not resumed from.
const VERSION: u32 = 1;

/// A state file larger than this is not one vigil wrote.
const MAX_STATE_BYTES: u64 = 1 << 20;

/// Where one stream of items is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StreamState {
    /// `confluence-pages`, `confluence-blogposts` or `jira-issues`.
    pub name: String,
    /// Cursor (Confluence) or `nextPageToken` (Jira) of the next page; `None` before the first page.
    pub cursor: Option<String>,
    /// Every page read.
    pub done: bool,
    pub pages: u64,
    pub items: u64,
    pub findings: u64,
}

/// The saved position of one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ScanState {
    pub version: u32,
    /// The site's origin, for whoever reads the file.
    pub site: String,
    /// A keyed check of the fingerprint key (never the key): findings made with another key cannot be
    /// mixed with new ones, so a changed key starts the scan over.
    pub key_check: String,
    pub streams: Vec<StreamState>,
    /// Bytes of the findings file this position covers.
    pub findings_len: u64,
    /// Alerts raised by this scan so far.
    #[serde(default)]
    pub alerts: u64,
    /// HTTP retries so far.
    #[serde(default)]
    pub retries: u64,
}

impl ScanState {
    pub fn new(site: &str, key_check: &str, streams: &[&str]) -> Self {
        Self {
            version: VERSION,
            site: site.to_string(),
            key_check: key_check.to_string(),
            streams: streams
                .iter()
                .map(|s| StreamState {
                    name: (*s).to_string(),
                    ..StreamState::default()
                })
                .collect(),
            findings_len: 0,
            alerts: 0,
            retries: 0,
        }
    }

    /// Whether any page was read (a resumed scan, not a fresh one).
    pub fn started(&self) -> bool {
        self.streams.iter().any(|s| s.pages > 0)
    }

    pub fn items(&self) -> u64 {
        self.streams.iter().map(|s| s.items).sum()
    }

    pub fn findings(&self) -> u64 {
        self.streams.iter().map(|s| s.findings).sum()
    }

    pub fn pages(&self) -> u64 {
        self.streams.iter().map(|s| s.pages).sum()
    }
}

/// The files of one scan, locked for this process.
pub(super) struct ScanFiles {
    dir: PathBuf,
    state: PathBuf,
    findings: PathBuf,
    /// Held for the life of this value; the lock goes with the descriptor.
    _lock: File,
}

/// `acme.atlassian.net-1f2e3d4c5b6a7980`: the host for people, a hash of the origin and apps for uniqueness.
pub(super) fn scan_name(origin: &str, host: &str, apps: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(origin.as_bytes());
    for a in apps {
        h.update(b"\n");
        h.update(a.as_bytes());
    }
    let digest = h.finalize();
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    format!("{host}-{hash}")
}

fn state_err(path: &Path, e: impl std::fmt::Display) -> SiteScanError {
    SiteScanError::State(format!("{}: {e}", path.display()))
}

/// Open a file owner-only without following a symlink at its place; only a regular file will do.
fn open_private(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let f = opts.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(f)
}

impl ScanFiles {
    /// Take the scan's lock in `dir` (created owner-only when missing); fails at once when another scan of
    /// the same site and apps holds it.
    pub fn lock(dir: &Path, name: &str) -> Result<Self, SiteScanError> {
        crate::store::create_private_dirs(dir).map_err(|e| state_err(dir, e))?;
        let lock_path = dir.join(format!("{name}.lock"));
        let lock = open_private(
            &lock_path,
            OpenOptions::new().read(true).write(true).create(true),
        )
        .map_err(|e| state_err(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(SiteScanError::Busy(lock_path.display().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(state_err(&lock_path, e)),
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            state: dir.join(format!("{name}.state.json")),
            findings: dir.join(format!("{name}.findings.jsonl")),
            _lock: lock,
        })
    }

    /// The saved position, if there is one. A file that cannot be read or is not one vigil wrote is an error
    /// naming it (run again with `--restart` to discard it), not a silent start from scratch.
    pub fn load(&self) -> Result<Option<ScanState>, SiteScanError> {
        let mut f = match open_private(&self.state, OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(state_err(
                    &self.state,
                    format!("{e}; --restart discards it"),
                ));
            }
        };
        let mut text = String::new();
        Read::by_ref(&mut f)
            .take(MAX_STATE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| state_err(&self.state, e))?;
        if text.len() as u64 > MAX_STATE_BYTES {
            return Err(state_err(
                &self.state,
                "too large to be a scan position; --restart discards it",
            ));
        }
        let state: ScanState = serde_json::from_str(&text).map_err(|e| {
            state_err(
                &self.state,
                format!("not a scan position ({e}); --restart discards it"),
            )
        })?;
        if state.version != VERSION {
            return Err(state_err(
                &self.state,
                format!(
                    "written by another version of vigil (format {}); --restart discards it",
                    state.version
                ),
            ));
        }
        Ok(Some(state))
    }

    /// Save `state` atomically and durably (see the module docs).
    pub fn save(&self, state: &ScanState) -> Result<(), SiteScanError> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| state_err(&self.state, e))?;
        let mut f = crate::export::ExportFile::create(&self.state, true)
            .map_err(|e| state_err(&self.state, e))?;
        f.write_all(&bytes).map_err(|e| state_err(&self.state, e))?;
        f.commit().map_err(|e| state_err(&self.state, e))?;
        sync_dir(&self.dir).map_err(|e| state_err(&self.dir, e))
    }

    /// Open the findings file for appending after the `len` bytes the saved position covers; what lies past
    /// them (rows of a page whose position was never saved) is cut off.
    pub fn findings_writer(&self, len: u64) -> Result<FindingsWriter, SiteScanError> {
        let path = &self.findings;
        let mut f = open_private(path, OpenOptions::new().read(true).write(true).create(true))
            .map_err(|e| state_err(path, e))?;
        let have = f.metadata().map_err(|e| state_err(path, e))?.len();
        if have < len {
            return Err(state_err(
                path,
                format!(
                    "holds {have} bytes, the saved position covers {len}: damaged; --restart starts over"
                ),
            ));
        }
        if have > len {
            f.set_len(len).map_err(|e| state_err(path, e))?;
            f.sync_all().map_err(|e| state_err(path, e))?;
        }
        f.seek(SeekFrom::Start(len))
            .map_err(|e| state_err(path, e))?;
        Ok(FindingsWriter {
            file: f,
            path: path.clone(),
            len,
        })
    }

    /// The saved rows, in the order they were found: the first `len` bytes of the findings file.
    pub fn findings_reader(
        &self,
        len: u64,
    ) -> Result<impl Iterator<Item = Result<String, SiteScanError>> + '_, SiteScanError> {
        let path = &self.findings;
        let f = open_private(path, OpenOptions::new().read(true).write(true).create(true))
            .map_err(|e| state_err(path, e))?;
        Ok(BufReader::new(f.take(len))
            .lines()
            .map(move |l| l.map_err(|e| state_err(path, e))))
    }

    /// Forget the scan: its position and its findings (the lock file stays, it holds nothing).
    pub fn remove(&self) -> Result<(), SiteScanError> {
        for p in [&self.state, &self.findings] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(state_err(p, e)),
            }
        }
        sync_dir(&self.dir).map_err(|e| state_err(&self.dir, e))
    }
}

/// Appends rows to the findings file.
pub(super) struct FindingsWriter {
    file: File,
    path: PathBuf,
    len: u64,
}

impl FindingsWriter {
    /// Append lines (each already one JSON object ending in `\n`) and make them durable; returns the file's
    /// new length, which the next saved position covers.
    pub fn append(&mut self, lines: &[u8]) -> Result<u64, SiteScanError> {
        if !lines.is_empty() {
            self.file
                .write_all(lines)
                .and_then(|()| self.file.sync_data())
                .map_err(|e| state_err(&self.path, e))?;
            self.len += lines.len() as u64;
        }
        Ok(self.len)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_second_scan_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = ScanFiles::lock(dir.path(), "s").expect("lock");
        assert!(matches!(
            ScanFiles::lock(dir.path(), "s"),
            Err(SiteScanError::Busy(_))
        ));
        assert_eq!(files.load().expect("load"), None);
        let mut st = ScanState::new("https://a.example", "k", &["confluence-pages"]);
        st.streams[0].cursor = Some("c1".into());
        files.save(&st).expect("save");
        assert_eq!(files.load().expect("load"), Some(st));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("s.state.json"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_state_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        std::os::unix::fs::symlink(&victim, dir.path().join("s.state.json")).expect("symlink");
        let files = ScanFiles::lock(dir.path(), "s").expect("lock");
        assert!(files.load().is_err(), "a symlink is not read as a position");
        files
            .save(&ScanState::new("https://a.example", "k", &[]))
            .expect("save");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        assert!(
            !std::fs::symlink_metadata(dir.path().join("s.state.json"))
                .expect("meta")
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn rows_past_the_saved_length_are_cut_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = ScanFiles::lock(dir.path(), "s").expect("lock");
        let mut w = files.findings_writer(0).expect("writer");
        let len = w.append(b"{\"a\":1}\n").expect("append");
        w.append(b"{\"half").expect("append");
        drop(w);
        let mut w = files.findings_writer(len).expect("writer");
        let len = w.append(b"{\"b\":2}\n").expect("append");
        let rows: Vec<String> = files
            .findings_reader(len)
            .expect("reader")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows, ["{\"a\":1}", "{\"b\":2}"]);
        assert!(
            files.findings_writer(len + 100).is_err(),
            "a short file is damage"
        );
        files.remove().expect("remove");
        assert_eq!(files.load().expect("load"), None);
    }

    #[test]
    fn names_are_stable_and_safe() {
        let a = scan_name(
            "https://acme.atlassian.net",
            "acme.atlassian.net",
            &["jira"],
        );
        assert_eq!(
            a,
            scan_name(
                "https://acme.atlassian.net",
                "acme.atlassian.net",
                &["jira"]
            )
        );
        assert_ne!(
            a,
            scan_name(
                "https://acme.atlassian.net",
                "acme.atlassian.net",
                &["confluence"]
            )
        );
        assert!(a.starts_with("acme.atlassian.net-"));
        assert!(scan_name("x", "../evil/..", &[]).starts_with(".._evil_..-"));
    }
}
