//! Custom detections (DESIGN §5): an organization's own terms or one regex per detection. All terms of all
//! detections share one case-insensitive automaton, so a hundred detections cost one pass; each regex is its
//! own pass. Limits are checked here, once, with errors that name the detection.

use std::collections::{BTreeSet, HashMap};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder};

use super::Hit;
use crate::detect::tuning::CustomDetection;
use crate::model::Severity;

/// At most this many custom detections.
pub const MAX_CUSTOM_DETECTIONS: usize = 100;
/// At most this many terms per detection.
pub const MAX_TERMS: usize = 50;
/// Term length in characters, inclusive.
pub const TERM_CHARS: std::ops::RangeInclusive<usize> = 4..=255;
/// A custom regex may compile to at most this many bytes, so one detection cannot eat the detector's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The id a detection's findings carry: `custom:` and the name in lower case, runs of anything but ASCII
/// letters and digits turned into one `-`.
pub fn custom_scanner_id(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    format!("custom:{slug}")
}

/// A compiled custom detection's identity.
#[derive(Debug, Clone)]
pub(super) struct Meta {
    pub(super) id: String,
    pub(super) severity: Severity,
}

/// Every enabled custom detection, compiled.
#[derive(Debug, Default)]
pub(super) struct CustomScanner {
    pub(super) meta: Vec<Meta>,
    terms: Option<AhoCorasick>,
    /// Automaton pattern → index in `meta`.
    term_owner: Vec<usize>,
    regexes: Vec<(usize, Regex)>,
}

impl CustomScanner {
    /// Validate every detection (enabled or not: a disabled one must still be valid to be switched on) and
    /// compile the enabled ones not listed in `disabled` by id.
    pub(super) fn new(
        custom: &[CustomDetection],
        disabled: &BTreeSet<String>,
    ) -> Result<Self, String> {
        if custom.len() > MAX_CUSTOM_DETECTIONS {
            return Err(format!(
                "{} custom detections configured; at most {MAX_CUSTOM_DETECTIONS} are allowed",
                custom.len()
            ));
        }
        let mut ids: HashMap<String, &str> = HashMap::new();
        let mut out = CustomScanner::default();
        let mut patterns: Vec<&str> = Vec::new();
        for (n, det) in custom.iter().enumerate() {
            let name = det.name.trim();
            if name.is_empty() {
                return Err(format!("custom detection #{} has no name", n + 1));
            }
            let id = custom_scanner_id(name);
            if id == "custom:" {
                return Err(format!(
                    "custom detection '{name}': the name needs at least one ASCII letter or digit to make its id"
                ));
            }
            if let Some(other) = ids.insert(id.clone(), &det.name) {
                return Err(format!(
                    "custom detections '{other}' and '{name}' both get the id '{id}'; rename one"
                ));
            }
            let regex = match (&det.regex, det.terms.is_empty()) {
                (Some(_), false) => {
                    return Err(format!(
                        "custom detection '{name}' has both terms and a regex; use one of them"
                    ));
                }
                (None, true) => {
                    return Err(format!(
                        "custom detection '{name}' has neither terms nor a regex"
                    ));
                }
                (Some(r), true) => Some(compile(name, r)?),
                (None, false) => None,
            };
            if det.terms.len() > MAX_TERMS {
                return Err(format!(
                    "custom detection '{name}' has {} terms; at most {MAX_TERMS} are allowed",
                    det.terms.len()
                ));
            }
            for term in &det.terms {
                let chars = term.chars().count();
                if !TERM_CHARS.contains(&chars) {
                    return Err(format!(
                        "custom detection '{name}': term '{}' has {chars} characters; terms need {}..={}",
                        crate::model::text::truncate(&crate::model::text::sanitize(term), 40),
                        TERM_CHARS.start(),
                        TERM_CHARS.end()
                    ));
                }
            }
            if !det.enabled || disabled.contains(&id) {
                continue;
            }
            let idx = out.meta.len();
            out.meta.push(Meta {
                id,
                severity: det.severity,
            });
            match regex {
                Some(re) => out.regexes.push((idx, re)),
                None => {
                    for term in &det.terms {
                        patterns.push(term);
                        out.term_owner.push(idx);
                    }
                }
            }
        }
        if !patterns.is_empty() {
            out.terms = Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .map_err(|e| format!("custom detection terms: {e}"))?,
            );
        }
        Ok(out)
    }

    /// Ids of the compiled (enabled) detections.
    pub(super) fn ids(&self) -> impl Iterator<Item = &str> {
        self.meta.iter().map(|m| m.id.as_str())
    }

    /// Append term and regex matches; `Hit::custom` carries the index into `meta`.
    pub(super) fn scan(&self, text: &str, hits: &mut Vec<Hit>, max_hits: usize) {
        let start_len = hits.len();
        if let Some(ac) = &self.terms {
            for m in ac.find_iter(text).take(max_hits) {
                if let Some(&owner) = self.term_owner.get(m.pattern().as_usize()) {
                    hits.push(Hit::custom(owner, m.start(), m.end()));
                }
            }
        }
        for (owner, re) in &self.regexes {
            let room = max_hits.saturating_sub(hits.len() - start_len);
            for m in re.find_iter(text).take(room) {
                if m.start() < m.end() {
                    hits.push(Hit::custom(*owner, m.start(), m.end()));
                }
            }
        }
    }
}

fn compile(name: &str, pattern: &str) -> Result<Regex, String> {
    let re = RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("custom detection '{name}': invalid regex: {e}"))?;
    if re.is_match("") {
        return Err(format!(
            "custom detection '{name}': the regex matches the empty string, so it would match everywhere"
        ));
    }
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            custom_scanner_id("Project Falcon leak"),
            "custom:project-falcon-leak"
        );
        assert_eq!(custom_scanner_id("  --Über  Plan!! "), "custom:ber-plan");
        assert_eq!(custom_scanner_id("!!!"), "custom:");
    }
}
