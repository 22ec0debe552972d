//! The TOML walker: typed getters over toml's spanned document that record every problem with its line and key
//! instead of stopping at the first. The per-table parsers (detections, sources, integrations) are built on it.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::ConfigError;
use super::secret::SecretRef;
use crate::model::Severity;

/// A value of the document with its byte span (for line numbers).
pub(super) type Value<'a> = Spanned<DeValue<'a>>;

/// Walks the document, collecting errors with their lines.
pub(super) struct Walker<'s> {
    pub(super) src: &'s str,
    pub(super) path: &'s Path,
    pub(super) errors: Vec<ConfigError>,
    /// First literal secret seen (key, line), for the permission check.
    pub(super) first_literal: Option<(String, usize)>,
}

impl<'s> Walker<'s> {
    pub(super) fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.src.len());
        self.src.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    pub(super) fn err(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let line = self.line(&span);
        self.errors.push(ConfigError {
            path: self.path.to_path_buf(),
            line: Some(line),
            key: key.to_string(),
            message: message.into(),
        });
    }

    pub(super) fn type_err(&mut self, v: &Value<'_>, key: &str, expected: &str) {
        let got = v.get_ref().type_str();
        self.err(v.span(), key, format!("expected {expected}, found {got}"));
    }

    /// Report keys of `table` not in `allowed`.
    pub(super) fn unknown(
        &mut self,
        table: &DeTable<'_>,
        prefix: &str,
        allowed: &[&str],
        what: &str,
    ) {
        for (k, _) in table.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                let key = join(prefix, k.get_ref());
                let hint = match closest(k.get_ref(), allowed.iter().copied()) {
                    Some(near) => format!("did you mean '{near}'?"),
                    None => format!("expected one of: {}", allowed.join(", ")),
                };
                self.err(
                    k.span(),
                    &key,
                    format!("unknown key '{}' in {what}; {hint}", k.get_ref()),
                );
            }
        }
    }

    pub(super) fn table<'v, 'a>(&mut self, v: &'v Value<'a>, key: &str) -> Option<&'v DeTable<'a>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.type_err(v, key, "a table");
                None
            }
        }
    }

    pub(super) fn string(&mut self, v: &Value<'_>, key: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.type_err(v, key, "a string");
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, v: &Value<'_>, key: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_err(v, key, "true or false");
                None
            }
        }
    }

    pub(super) fn uint(&mut self, v: &Value<'_>, key: &str, max: u64) -> Option<u64> {
        match v.get_ref() {
            DeValue::Integer(i) => match u64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) if n <= max => Some(n),
                _ => {
                    self.err(
                        v.span(),
                        key,
                        format!("'{i}' is out of range; expected 0 to {max}"),
                    );
                    None
                }
            },
            _ => {
                self.type_err(v, key, "an integer");
                None
            }
        }
    }

    /// An array of strings; bad elements are reported and skipped.
    pub(super) fn strings(
        &mut self,
        v: &Value<'_>,
        key: &str,
    ) -> Option<Vec<(String, Range<usize>)>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.type_err(v, key, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = self.string(item, &format!("{key}[{i}]")) {
                out.push((s, item.span()));
            }
        }
        Some(out)
    }

    /// A secret reference; a literal one is remembered for the owner-only check.
    pub(super) fn secret(&mut self, v: &Value<'_>, key: &str) -> Option<SecretRef> {
        self.secret_ref(v, key, true)
    }

    /// `sensitive = false` for values that are secrets only sometimes (an integration URL).
    pub(super) fn secret_ref(
        &mut self,
        v: &Value<'_>,
        key: &str,
        sensitive: bool,
    ) -> Option<SecretRef> {
        let s = self.string(v, key)?;
        match SecretRef::parse(&s) {
            Ok(r) => {
                if sensitive && r.is_literal() && self.first_literal.is_none() {
                    self.first_literal = Some((key.to_string(), self.line(&v.span())));
                }
                Some(r)
            }
            Err(m) => {
                self.err(v.span(), key, m);
                None
            }
        }
    }

    pub(super) fn enum_value<T: Copy>(
        &mut self,
        v: &Value<'_>,
        key: &str,
        what: &str,
        all: &[(&str, T)],
    ) -> Option<T> {
        let s = self.string(v, key)?;
        let found = all.iter().find(|(name, _)| *name == s).map(|(_, t)| *t);
        if found.is_none() {
            let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
            self.err(
                v.span(),
                key,
                format!("'{s}' is not {what}; expected one of: {}", names.join(", ")),
            );
        }
        found
    }

    pub(super) fn severity(&mut self, v: &Value<'_>, key: &str) -> Option<Severity> {
        let s = self.string(v, key)?;
        match s.parse::<Severity>() {
            Ok(sev) => Some(sev),
            Err(e) => {
                self.err(v.span(), key, e.to_string());
                None
            }
        }
    }
}

/// The candidate nearest to `word` by edit distance, if it is close enough to be a typo.
pub(super) fn closest<'c>(
    word: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    let dist = |a: &str, b: &str| -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    };
    candidates
        .map(|c| (dist(word, c), c))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Iterate over `[[name]]` entries: each an inline or standard table.
pub(super) fn array_of_tables<'v, 'a>(
    w: &mut Walker<'_>,
    v: &'v Value<'a>,
    key: &str,
) -> Vec<(usize, &'v Value<'a>, &'v DeTable<'a>)> {
    let DeValue::Array(items) = v.get_ref() else {
        w.type_err(v, key, "an array of tables ([[...]])");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(t) = w.table(item, &format!("{key}[{i}]")) {
            out.push((i, item, t));
        }
    }
    out
}
