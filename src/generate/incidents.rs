//! Planting one incident of a catalogue detection, shaped by the entry's `kind`: a threshold entry gets a burst
//! of its actions that crosses the default threshold inside its window; a single entry one event of one of its
//! actions; login entries a login history and the login that breaks it; the content entry a write carrying a
//! valid secret. Also the burst events decoys reuse.
//!
//! Reads ids, actions, windows, thresholds, search terms and AI client names from `crate::detect::catalogue`
//! and writes none of them down. Must not import the store, the engine, tokio or `std::fs`.

use crate::detect::catalogue::{
    AI_FRAGMENTS, DetectionKind, DetectionSpec, EventCondition, MAX_TRAVEL_KMH, MIN_PRIOR_LOGINS,
    MIN_TRAVEL_KM, SENSITIVE_TERMS,
};

use super::event::{Act, Family, Query, Target, WriteKind, families, fit_action, page_noun};
use super::org::{self, CITIES, Org};
use super::plan::BACKGROUND;
use super::secrets;
use super::{Generator, HOUR, MINUTE, PlantedIncident, ms_to_time};

/// Benign activity keeps away from an incident actor this long before and after the incident, so its counts are
/// exactly the planted ones and its login history around it is known.
const BLACKOUT: i64 = 6 * HOUR;

/// Events in a threshold burst: the default threshold plus a fifth (at least two) more, so the alert fires
/// mid-burst and the rest grows it.
pub(super) fn burst_len(default: u32) -> usize {
    let d = default as usize;
    d + (d / 5).max(2)
}

/// How a sensitive search is phrased around a catalogue term; the term stays a whole word.
const PHRASES: &[(&str, &str)] = &[
    ("", ""),
    ("where is the ", " doc"),
    ("", " list"),
    ("shared ", ""),
    ("", " 2026"),
    ("old ", " export"),
];

/// Search queries for planted suspicious searches, every one naming a term of the catalogue's
/// `SENSITIVE_TERMS`, consecutive ones different terms.
pub(super) fn sensitive_queries() -> Vec<String> {
    PHRASES
        .iter()
        .flat_map(|(before, after)| {
            SENSITIVE_TERMS
                .iter()
                .map(move |term| format!("{before}{term}{after}"))
        })
        .collect()
}

/// A display name for AI client `k`, built from the catalogue's AI vocabulary so the detector recognises it.
pub(super) fn ai_client_name(k: u8) -> (String, String) {
    let frag = AI_FRAGMENTS
        .get(usize::from(k) % AI_FRAGMENTS.len().max(1))
        .copied()
        .unwrap_or_default();
    let mut name = frag.to_string();
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    (format!("app-{frag}"), format!("{name} (MCP client)"))
}

impl Generator {
    /// The `j`-th event of a burst of `spec` on objects of family `fam`, objects counted from `off` so that a
    /// distinct count sees `j` different ones. `home` is where failed logins of a decoy come from; incidents
    /// use an attacker city (by `round`).
    pub(super) fn burst_act(
        &self,
        spec: &'static DetectionSpec,
        fam: Family,
        j: usize,
        off: u64,
        round: usize,
        home: usize,
    ) -> (&'static str, Target) {
        let login = self.rules.login;
        let k = off + j as u64;
        let (target, object_noun) = match fam {
            Family::Page => {
                let page = (k % Org::page_count() as u64) as u32;
                (Target::Page(page), page_noun(page))
            }
            Family::Issue => (
                Target::Issue((k % Org::issue_count() as u64) as u32),
                "issue",
            ),
            Family::Attachment => (
                Target::Attachment {
                    page: (k % Org::page_count() as u64) as u32,
                    att: (j % 3) as u8,
                },
                "attachment",
            ),
            Family::Space => (Target::Space(k as u32), "space"),
            Family::Filter => (Target::Filter(k as u32), "filter"),
            Family::Search => {
                let q = if spec.condition == EventCondition::SensitiveQuery {
                    Query::Sensitive((j % self.rules.sensitive_queries.len().max(1)) as u16)
                } else {
                    Query::Benign((k % org::BENIGN_QUERIES.len() as u64) as u16)
                };
                (Target::Query(q), "search")
            }
            Family::Login => {
                let city = if home == usize::MAX {
                    org::ATTACKER_CITIES[round % org::ATTACKER_CITIES.len()]
                } else {
                    home
                };
                (Target::Login { city: city as u8 }, "")
            }
            Family::Other => match spec.condition {
                EventCondition::AiClient { .. } => (Target::AiClient(k as u8), ""),
                _ => (Target::Item(k as u32), ""),
            },
        };
        let action = fit_action(spec.actions, fam, object_noun, login)
            .or_else(|| spec.actions.first().copied())
            .unwrap_or_default();
        (action, target)
    }

    /// Plant an incident of `spec` for user `u` at `t`; returns the time span of its events. In batch mode
    /// (`compress` is `None`) it also blacks the actor out around it; live, bursts are squeezed into `compress`.
    pub(super) fn plant(
        &mut self,
        spec: &'static DetectionSpec,
        round: usize,
        u: usize,
        t: i64,
        start: i64,
        compress: Option<i64>,
    ) -> (i64, i64) {
        let user = u as u32;
        let actor_id = self.org.users[u].id.clone();
        let dur = |d: i64| compress.map_or(d, |c| d.min(c));
        let mut events: Vec<(i64, Act)> = Vec::new();
        let mut fire_at = t;
        let mut also: Option<&'static str> = None;
        let act = |action: &'static str, target: Target| Act {
            user,
            action,
            target,
        };
        match spec.kind {
            DetectionKind::Threshold {
                window_secs,
                default,
                ..
            } => {
                let n = burst_len(default);
                let window = i64::try_from(window_secs).unwrap_or(HOUR / 1_000) * 1_000;
                let span = dur(window * 4 / 5);
                let fams = families(spec.actions, self.rules.login);
                let per = fams.len().max(1);
                let off = self.plan_rng.below(1 << 20);
                let gap = (span / n as i64).max(1);
                for j in 0..n {
                    let jitter = self.plan_rng.below((gap / 2).max(1) as u64) as i64;
                    let at = t + j as i64 * gap + jitter;
                    if j + 1 == default as usize {
                        fire_at = at;
                    }
                    let fam = fams.get(j % per).copied().unwrap_or(Family::Other);
                    let (action, target) =
                        self.burst_act(spec, fam, j / per, off, round, usize::MAX);
                    events.push((at, act(action, target)));
                }
            }
            DetectionKind::Single => {
                let action = spec.actions[round % spec.actions.len().max(1)];
                let target = match spec.condition {
                    EventCondition::AiClient { .. } => Target::AiClient(round as u8),
                    _ => Target::Setting {
                        target: self.plan_rng.below(BACKGROUND as u64) as u32,
                    },
                };
                events.push((t, act(action, target)));
            }
            DetectionKind::LoginNewCountry => {
                let Some(&login) = spec.actions.first() else {
                    return (t, t);
                };
                let home = self.org.users[u].home;
                if compress.is_none() {
                    // One more home login than the detection needs, spaced out before the incident.
                    let n = i64::from(MIN_PRIOR_LOGINS) + 1;
                    let last = t - BLACKOUT;
                    let gap = (20 * HOUR).min((last - start) / n).max(MINUTE);
                    for j in 0..n {
                        let at = (last - gap * (n - 1 - j)).max(start);
                        events.push((at, act(login, Target::Login { city: home as u8 })));
                    }
                }
                let abroad = CITIES[home].abroad;
                events.push((t, act(login, Target::Login { city: abroad as u8 })));
                // Live: no room for a blackout, so a new-country login that is also too fast counts twice.
                if compress.is_some()
                    && let Some((lt, lc)) = self.users[u].last_login
                {
                    let km = org::distance_km(lc, abroad);
                    if km >= MIN_TRAVEL_KM && km > MAX_TRAVEL_KMH * (t - lt) as f64 / HOUR as f64 {
                        also = self.rules.travel;
                    }
                }
            }
            DetectionKind::ImpossibleTravel => {
                let Some(&login) = spec.actions.first() else {
                    return (t, t);
                };
                let home = self.org.users[u].home;
                let far = CITIES[home].far.unwrap_or(org::ATTACKER_CITIES[0]);
                let before = if compress.is_some() {
                    3_000
                } else {
                    30 * MINUTE
                };
                events.push((t - before, act(login, Target::Login { city: home as u8 })));
                events.push((t, act(login, Target::Login { city: far as u8 })));
            }
            DetectionKind::Content => {
                let kind = secrets::KINDS[round % secrets::KINDS.len()];
                let secret = secrets::sentence(kind, &mut self.plan_rng).into_boxed_str();
                let kinds = [
                    WriteKind::PageCreated,
                    WriteKind::Comment,
                    WriteKind::AiPrompt,
                    WriteKind::IssueCreated,
                    WriteKind::PageUpdated,
                    WriteKind::BlogCreated,
                ];
                let kind = kinds[round % kinds.len()];
                let bound = if kind == WriteKind::IssueCreated {
                    Org::issue_count()
                } else {
                    Org::page_count()
                };
                let obj = self.plan_rng.below(bound as u64) as u32;
                events.push((
                    t,
                    act(
                        kind.action(),
                        Target::Write {
                            kind,
                            obj,
                            secret: Some(secret),
                        },
                    ),
                ));
            }
        }
        if let Some(travel) = also {
            self.record(travel, &actor_id, t);
        }
        self.record(spec.id, &actor_id, fire_at);
        let first = events.iter().map(|e| e.0).min().unwrap_or(t);
        let last = events.iter().map(|e| e.0).max().unwrap_or(t);
        // Benign blackout covers the incident itself (not the spread-out login history before it).
        let core_first = if spec.kind == DetectionKind::LoginNewCountry {
            t
        } else {
            first
        };
        if compress.is_none() {
            self.users[u].black_out(core_first - BLACKOUT, last + BLACKOUT);
        }
        for (at, a) in events {
            self.push(at, a);
        }
        (first, last)
    }

    fn record(&mut self, detection: &str, actor_id: &str, at: i64) {
        self.planted.push(PlantedIncident {
            detection: detection.to_string(),
            actor_id: actor_id.to_string(),
            time: ms_to_time(at),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::catalogue::{AI_WORDS, catalogue};

    #[test]
    fn bursts_cross_the_default_threshold() {
        for spec in catalogue() {
            if let DetectionKind::Threshold { default, more, .. } = spec.kind {
                assert!(burst_len(default) > default as usize, "{}", spec.id);
                assert!(more <= default, "{}", spec.id);
            }
        }
    }

    #[test]
    fn sensitive_queries_name_a_term_as_a_word() {
        let qs = sensitive_queries();
        assert!(qs.len() >= SENSITIVE_TERMS.len());
        for (q, term) in qs.iter().zip(SENSITIVE_TERMS.iter().cycle()) {
            let at = q.find(term).unwrap_or(usize::MAX);
            assert!(at != usize::MAX, "{q}");
            let end = at + term.len();
            assert!(
                at == 0 || !q.as_bytes()[at - 1].is_ascii_alphanumeric(),
                "{q}"
            );
            assert!(
                end == q.len() || !q.as_bytes()[end].is_ascii_alphanumeric(),
                "{q}"
            );
        }
    }

    #[test]
    fn ai_client_names_use_the_catalogue_vocabulary() {
        for k in 0..8u8 {
            let (id, name) = ai_client_name(k);
            let lower = name.to_ascii_lowercase();
            assert!(AI_FRAGMENTS.iter().any(|f| lower.contains(f)), "{name}");
            assert!(id.starts_with("app-"));
        }
        assert!(!AI_WORDS.is_empty());
    }

    #[test]
    fn city_links_hold() {
        for (i, c) in CITIES.iter().enumerate() {
            if let Some(s) = c.second {
                assert_eq!(CITIES[s].country, c.country, "{}", c.name);
                assert!(org::distance_km(i, s) < 800.0, "{}", c.name);
            }
            if let Some(f) = c.far {
                assert_eq!(CITIES[f].country, c.country, "{}", c.name);
                assert!(org::distance_km(i, f) > 1_700.0, "{}", c.name);
            }
            assert_ne!(CITIES[c.abroad].country, c.country, "{}", c.name);
            // A new-country login after the blackout must not also be impossible travel.
            if org::HOMES.contains(&i) {
                let hours = BLACKOUT as f64 / HOUR as f64;
                assert!(
                    org::distance_km(i, c.abroad) < MAX_TRAVEL_KMH * hours * 0.7,
                    "{}",
                    c.name
                );
            }
        }
    }
}
