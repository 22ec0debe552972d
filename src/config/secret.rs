//! Secret references (`env:NAME`, `file:PATH` or a literal): kept unresolved until use, and never printed.

use std::fmt;
use std::path::PathBuf;

/// secret, and so rotating an env var or file needs no config change.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value itself, written in the file.
    Literal(String),
    /// `env:NAME`: read from the environment at use.
    Env(String),
    /// `file:PATH`: read from a file at use (trailing newline trimmed).
    File(PathBuf),
}

/// Why a secret could not be resolved; never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// `env:NAME` with `NAME` unset.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// `file:PATH` that cannot be read.
    #[error("cannot read secret file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

impl SecretRef {
    /// Parse `env:NAME`, `file:PATH` or a literal.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(name) = s.strip_prefix("env:") {
            let ok = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(format!("'{name}' is not an environment variable name"));
            }
            Ok(Self::Env(name.to_string()))
        } else if let Some(path) = s.strip_prefix("file:") {
            if path.trim().is_empty() {
                return Err("'file:' needs a path".to_string());
            }
            Ok(Self::File(PathBuf::from(path)))
        } else if s.is_empty() {
            Err("is empty; give a value, env:NAME or file:PATH".to_string())
        } else {
            Ok(Self::Literal(s.to_string()))
        }
    }

    /// Whether the secret is written in the config file itself.
    pub fn is_literal(&self) -> bool {
        matches!(self, Self::Literal(_))
    }

    /// The secret's value, read now. Call at use, never to log.
    pub fn resolve(&self) -> Result<String, SecretError> {
        match self {
            Self::Literal(s) => Ok(s.clone()),
            Self::Env(name) => {
                std::env::var(name).map_err(|_| SecretError::MissingEnv(name.clone()))
            }
            Self::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| SecretError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(_) => f.write_str("********"),
            Self::Env(name) => write!(f, "env:{name}"),
            Self::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}
