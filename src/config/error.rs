//! The errors a configuration file can have: each names the file, the line and the dotted key, so `vigil check`
//! and every command that loads the file can say exactly where to look.

use std::fmt;
use std::path::PathBuf;

/// One problem in a configuration file, with enough to find and fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as given to [`load`](super::load) or [`parse`](super::parse).
    pub path: PathBuf,
    /// 1-based line; `None` for problems of the file as a whole (unreadable, permissions).
    pub line: Option<usize>,
    /// Dotted key (`detections.page-crawling.sensitivity`); empty for syntax errors.
    pub key: String,
    /// What is wrong, with the bad value in quotes and what would be accepted.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a configuration file, in file order. `Display` prints one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
