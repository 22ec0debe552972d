//! The log file, rotated by size: `vigil serve` runs for months, and a log that only grows would fill the
//! small disk it shares with the store. tracing-appender rotates by time only, so this writer counts bytes
//! and, past [`MAX_BYTES`], renames `vigil.log` to `vigil.log.1` (shifting older ones up to [`KEEP`]) and
//! starts a new file. Every file is created owner-only and never through a symlink.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Size at which the log is rotated.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Rotated logs kept beside the current one (`vigil.log.1` … `vigil.log.4`): at most 80 MiB in all.
pub const KEEP: u32 = 4;

/// A `Write` over `<dir>/vigil.log` that rotates by size.
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    written: u64,
    max: u64,
    keep: u32,
}

impl RotatingLog {
    /// Open (creating owner-only, appending) the log at `path`, rotating past `max` bytes and keeping `keep`
    /// old files.
    pub fn open(path: &Path, max: u64, keep: u32) -> io::Result<Self> {
        let file = open_private_append(path)?;
        let written = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            written,
            max: max.max(1024),
            keep,
        })
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            // rename replaces a link at the target rather than writing through it.
            let _ = std::fs::remove_file(self.rotated(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.rotated(n);
                if from.exists() {
                    std::fs::rename(&from, self.rotated(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.rotated(1))?;
        }
        self.file = open_private_append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for RotatingLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max {
            // A failed rotation keeps logging into the current file rather than losing the line.
            if let Err(e) = self.rotate() {
                let _ = writeln!(self.file, "log rotation failed: {e}");
            }
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Open (creating owner-only) a file for appending, refusing to follow a symlink at its place.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn rotates_by_size_keeps_a_bounded_number_and_stays_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.log");
        let mut log = RotatingLog::open(&path, 1024, 2).unwrap();
        let line = [b'x'; 99];
        for i in 0..100u32 {
            log.write_all(&line).unwrap();
            log.write_all(format!("{i}\n").as_bytes()).unwrap();
        }
        log.flush().unwrap();
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(&path) <= 1024, "{}", size(&path));
        let one = dir.path().join("vigil.log.1");
        let two = dir.path().join("vigil.log.2");
        assert!(size(&one) > 0 && size(&one) <= 1024);
        assert!(size(&two) > 0);
        assert!(!dir.path().join("vigil.log.3").exists(), "only two kept");
        // The newest line is in the current file.
        let now = std::fs::read_to_string(&path).unwrap();
        assert!(now.ends_with("99\n"), "{now}");
        for p in [&path, &one, &two] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }

    #[test]
    fn a_symlink_at_the_logs_place_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        let path = dir.path().join("vigil.log");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(RotatingLog::open(&path, 1024, 2).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    }
}
