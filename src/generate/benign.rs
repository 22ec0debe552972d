//! Benign background traffic and decoys: who acts when, what harmless thing they do, and the per-actor caps
//! that keep every person under every threshold of the `more` sensitivity. The watched activities, their
//! weights and their caps are all derived from the catalogue's threshold detections ([`Watched`]); the decoys
//! are one near-miss per threshold detection (`more - 1` events inside its window).
//!
//! Owns benign behaviour only; planting incidents is `incidents`, turning events into JSON is `render`. Must
//! not import the store, the engine, tokio or `std::fs`, and reads detection facts only from
//! `crate::detect::catalogue`.

use std::collections::VecDeque;

use crate::detect::catalogue::{
    DetectionKind, DetectionSpec, EventCondition, MAX_TRAVEL_KMH, catalogue,
};

use super::event::{Act, CHORES, Family, Query, Target, WriteKind, families, page_noun};
use super::org::{self, CITIES, Org};
use super::plan::BACKGROUND;
use super::{DAY, Generator, HOUR, MINUTE};

/// Benign travel is never faster than this: a third of the impossible-travel speed.
const BENIGN_KMH: f64 = MAX_TRAVEL_KMH / 3.0;

/// Weights are per this many benign events.
const MIX_SCALE: u32 = 10_000;
/// Share of benign events spent on watched (threshold-counted) activity; the rest is writes, logins, chores.
const WATCHED_SHARE: f64 = 6_300.0;
/// Every watched detection gets at least this rate weight (events per second of its window), so rare
/// activities (exports, failed logins) still appear in the background.
const MIN_RATE: f64 = 0.005;
/// Unwatched activities and their weights out of [`MIX_SCALE`]; what is left over is issue updates.
const WRITES: &[(WriteKind, u32)] = &[
    (WriteKind::PageUpdated, 500),
    (WriteKind::PageCreated, 150),
    (WriteKind::BlogCreated, 50),
    (WriteKind::Comment, 500),
    (WriteKind::IssueCreated, 200),
    (WriteKind::AiPrompt, 150),
];
const LOGIN_WEIGHT: u32 = 250;
const CHORE_WEIGHT: u32 = 50;

/// A threshold detection as benign traffic sees it: what to count and how much one actor may do.
#[derive(Debug)]
pub(super) struct Watched {
    pub(super) spec: &'static DetectionSpec,
    /// The object families of its actions, in order: bursts and decoys rotate over them.
    pub(super) families: Vec<Family>,
    /// The detection's window, in ms.
    pub(super) window_ms: i64,
    /// Its `more` threshold: decoys do one less.
    pub(super) more: u32,
    /// Benign events per actor per `cap_window_ms`: two fifths of `more`, and always below it.
    cap: usize,
    /// A little longer than the window, so edge effects cannot add up to `more`.
    cap_window_ms: i64,
}

/// The catalogue's threshold detections, in catalogue order.
pub(super) fn watched(login: Option<&str>) -> Vec<Watched> {
    catalogue()
        .iter()
        .filter_map(|spec| match spec.kind {
            DetectionKind::Threshold {
                window_secs, more, ..
            } => {
                let window_ms = i64::try_from(window_secs)
                    .unwrap_or(i64::MAX / 2_000)
                    .saturating_mul(1_000);
                let below = more.saturating_sub(1) as usize;
                Some(Watched {
                    spec,
                    families: families(spec.actions, login),
                    window_ms,
                    more,
                    cap: (more as usize * 2 / 5).max(1).min(below),
                    cap_window_ms: window_ms.saturating_add(window_ms / 10),
                })
            }
            _ => None,
        })
        .collect()
}

/// One benign activity of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    /// Activity a threshold detection counts: `watched[w]`, on an object of `fam`.
    Watched {
        w: usize,
        fam: Family,
    },
    Write(WriteKind),
    Login,
    Chore,
}

/// Cumulative weights out of [`MIX_SCALE`]: watched activity in proportion to what the catalogue tolerates
/// (`more` per window, at least [`MIN_RATE`]; halved for each further object family of a detection), then the unwatched writes, logins and chores. A roll past the
/// last entry is an issue update.
pub(super) fn mix(watched: &[Watched], login: Option<&str>) -> Vec<(u32, Pick)> {
    let rate =
        |w: &Watched| (f64::from(w.more) * 1_000.0 / w.window_ms.max(1) as f64).max(MIN_RATE);
    let total: f64 = watched.iter().map(rate).sum();
    let mut out = Vec::new();
    let mut acc = 0u32;
    for (i, w) in watched.iter().enumerate() {
        // The first action's family is the everyday one (pages before spaces): each further family gets half
        // the weight of the one before it.
        let halves: f64 = (0..w.families.len()).map(|k| 0.5f64.powi(k as i32)).sum();
        let share = WATCHED_SHARE * rate(w) / total.max(f64::MIN_POSITIVE) / halves.max(1.0);
        for (k, &fam) in w.families.iter().enumerate() {
            acc += ((share * 0.5f64.powi(k as i32)) as u32).max(1);
            out.push((acc, Pick::Watched { w: i, fam }));
        }
    }
    for &(kind, weight) in WRITES {
        acc += weight;
        out.push((acc, Pick::Write(kind)));
    }
    if login.is_some() {
        acc += LOGIN_WEIGHT;
        out.push((acc, Pick::Login));
    }
    acc += CHORE_WEIGHT;
    out.push((acc, Pick::Chore));
    out
}

/// What the generator remembers about each person while streaming.
#[derive(Debug, Clone)]
pub(super) struct UserState {
    /// Where requests currently come from: the city of the last successful login.
    pub(super) city: usize,
    pub(super) last_login: Option<(i64, usize)>,
    pub(super) logins: u32,
    /// Times of recent benign events per watched detection (index into `Rules::watched`).
    caps: Vec<VecDeque<i64>>,
    /// Sorted, non-overlapping intervals with no benign activity.
    blackout: Vec<(i64, i64)>,
    blackout_at: usize,
}

impl UserState {
    pub(super) fn new(home: usize, watched: usize) -> UserState {
        UserState {
            city: home,
            last_login: None,
            logins: 0,
            caps: vec![VecDeque::new(); watched],
            blackout: Vec::new(),
            blackout_at: 0,
        }
    }

    fn blocked(&mut self, t: i64) -> bool {
        while self.blackout_at < self.blackout.len() && self.blackout[self.blackout_at].1 < t {
            self.blackout_at += 1;
        }
        self.blackout
            .get(self.blackout_at)
            .is_some_and(|b| b.0 <= t)
    }

    /// Admit one benign event of `action` at `t` if every watched detection counting it has room under its cap.
    fn admit(&mut self, watched: &[Watched], action: &str, t: i64) -> bool {
        let counting = || {
            watched
                .iter()
                .enumerate()
                .filter(move |(_, w)| w.spec.actions.contains(&action))
        };
        for (i, w) in counting() {
            let q = &mut self.caps[i];
            while q.front().is_some_and(|&x| x <= t - w.cap_window_ms) {
                q.pop_front();
            }
            if q.len() >= w.cap {
                return false;
            }
        }
        for (i, _) in counting() {
            self.caps[i].push_back(t);
        }
        true
    }

    /// No benign activity in `from..=to` (batch planting; sorted before streaming starts).
    pub(super) fn black_out(&mut self, from: i64, to: i64) {
        self.blackout.push((from, to));
    }

    /// No benign activity from `now` (or the end of the last blackout) until 10 minutes after `last`, for a
    /// live incident planted while the stream runs.
    pub(super) fn black_out_live(&mut self, now: i64, last: i64) {
        let from = now.max(self.blackout.last().map_or(i64::MIN, |b| b.1 + 1));
        self.blackout.push((from, last + 10 * MINUTE));
    }
}

impl Generator {
    /// Sort every person's blackouts once planning is done.
    pub(super) fn sort_blackouts(&mut self) {
        for s in &mut self.users {
            s.blackout.sort_unstable();
        }
    }

    /// One round of near-threshold behaviour by the decoy users: for each threshold detection, `more - 1`
    /// counted events inside its window (a failed-login decoy then gets the password right).
    pub(super) fn plant_decoys(&mut self, base: i64, end: i64) {
        for d in 0..self.rules.watched.len() {
            let user = BACKGROUND + d;
            let t = (base + d as i64 * 3 * HOUR + 17 * MINUTE).min(end - 2 * HOUR);
            let off = self.plan_rng.below(1 << 20);
            let w = &self.rules.watched[d];
            let (spec, fams, n, span) = (
                w.spec,
                w.families.clone(),
                w.more.saturating_sub(1) as usize,
                w.window_ms * 4 / 5,
            );
            let home = self.org.users[user].home;
            let mut ev: Vec<(i64, Act)> = Vec::with_capacity(n + 1);
            for j in 0..n {
                let fam = fams[j % fams.len().max(1)];
                let (action, target) =
                    self.burst_act(spec, fam, j / fams.len().max(1), off, 0, home);
                ev.push((
                    t + span * j as i64 / n.max(1) as i64,
                    Act {
                        user: user as u32,
                        action,
                        target,
                    },
                ));
            }
            if let Some(login) = self.rules.login
                && fams.contains(&Family::Login)
            {
                ev.push((
                    t + span,
                    Act {
                        user: user as u32,
                        action: login,
                        target: Target::Login { city: home as u8 },
                    },
                ));
            }
            let first = ev.first().map_or(t, |e| e.0);
            let last = ev.last().map_or(t, |e| e.0);
            self.users[user].black_out(first - 2 * HOUR, last + 2 * HOUR);
            self.org.users[user].travels = false;
            for (at, act) in ev {
                self.push(at, act);
            }
        }
    }

    /// Pick an available person (working hours preferred, never one in a blackout) and something harmless
    /// for them to do, within the per-actor caps.
    pub(super) fn benign(&mut self, t: i64) -> Act {
        let n = self.users.len();
        let utc_hour = t.rem_euclid(DAY) / HOUR;
        let weekend = matches!((t.div_euclid(DAY) + 4).rem_euclid(7), 0 | 6);
        let mut u = 0;
        for attempt in 0..4 {
            u = self.rng.below(n as u64) as usize;
            let off = i64::from(CITIES[self.org.users[u].home].utc_offset);
            let local = (utc_hour + off).rem_euclid(24);
            if attempt == 3 || (!weekend && (8..=18).contains(&local)) {
                break;
            }
        }
        for _ in 0..n {
            if !self.users[u].blocked(t) {
                break;
            }
            u = (u + 1) % n;
        }
        let user = u as u32;
        let roll = self.rng.below(u64::from(MIX_SCALE)) as u32;
        let pick = self
            .rules
            .mix
            .iter()
            .find(|(cum, _)| roll < *cum)
            .map(|(_, p)| *p);
        let act = match pick {
            Some(Pick::Watched { w, fam }) => self.benign_watched(u, w, fam, t),
            Some(Pick::Write(kind)) => {
                let obj = match kind {
                    WriteKind::IssueCreated | WriteKind::IssueUpdated => {
                        self.rng.below(Org::issue_count() as u64) as u32
                    }
                    _ => self.own_page(u),
                };
                Some(write(user, kind, obj))
            }
            Some(Pick::Login) => self.benign_login(u, t),
            Some(Pick::Chore) if self.org.users[u].admin => {
                let target = self.rng.below(n as u64) as u32;
                Some(Act {
                    user,
                    action: self.rng.pick(CHORES),
                    target: Target::Setting { target },
                })
            }
            _ => None,
        };
        act.unwrap_or_else(|| {
            let obj = self.rng.below(Org::issue_count() as u64) as u32;
            write(user, WriteKind::IssueUpdated, obj)
        })
    }

    /// A page to read or write: half of the time in the person's own team space.
    fn own_page(&mut self, u: usize) -> u32 {
        if self.rng.chance(0.5) {
            let s = u % org::SPACES.len();
            (s * org::PAGES_PER_SPACE) as u32 + self.rng.below(org::PAGES_PER_SPACE as u64) as u32
        } else {
            self.rng.below(Org::page_count() as u64) as u32
        }
    }

    /// A harmless event of a watched detection's family, if the person's cap admits it. Searches use benign
    /// queries, which name no sensitive term.
    fn benign_watched(&mut self, u: usize, w: usize, fam: Family, t: i64) -> Option<Act> {
        let spec = self.rules.watched[w].spec;
        let login = self.rules.login;
        let (target, object_noun) = match fam {
            Family::Page => {
                let page = self.own_page(u);
                (Target::Page(page), page_noun(page))
            }
            Family::Issue => (
                Target::Issue(self.rng.below(Org::issue_count() as u64) as u32),
                "issue",
            ),
            Family::Attachment => (
                Target::Attachment {
                    page: self.own_page(u),
                    att: self.rng.below(4) as u8,
                },
                "attachment",
            ),
            Family::Space => (
                Target::Space(self.rng.below(org::SPACES.len() as u64) as u32),
                "space",
            ),
            Family::Filter => (
                Target::Filter(self.rng.below(4 * org::PROJECTS.len() as u64) as u32),
                "filter",
            ),
            Family::Search => (
                Target::Query(Query::Benign(
                    self.rng.below(org::BENIGN_QUERIES.len() as u64) as u16,
                )),
                "search",
            ),
            Family::Login => (
                Target::Login {
                    city: self.users[u].city as u8,
                },
                "",
            ),
            Family::Other => {
                if matches!(spec.condition, EventCondition::AiClient { .. }) {
                    // Benign traffic never connects AI clients.
                    return None;
                }
                (Target::Item(self.rng.below(64) as u32), "")
            }
        };
        let action = super::event::fit_action(spec.actions, fam, object_noun, login)?;
        let admitted = self.users[u].admit(&self.rules.watched, action, t);
        admitted.then_some(Act {
            user: u as u32,
            action,
            target,
        })
    }

    /// A login from home, sometimes from the person's second city, but never faster than [`BENIGN_KMH`]
    /// from the previous login: if the wanted city is too far for the time elapsed, they are still where
    /// they last logged in.
    fn benign_login(&mut self, u: usize, t: i64) -> Option<Act> {
        let action = self.rules.login?;
        let person = &self.org.users[u];
        let home = CITIES[person.home];
        let mut city = match home.second {
            Some(second) if person.travels && self.rng.chance(0.15) => second,
            _ => person.home,
        };
        if let Some((lt, lc)) = self.users[u].last_login {
            let km = org::distance_km(lc, city);
            let hours = (t - lt) as f64 / HOUR as f64;
            if km > 0.0 && (hours <= 0.0 || km / hours > BENIGN_KMH) {
                city = lc;
            }
        }
        self.users[u]
            .admit(&self.rules.watched, action, t)
            .then_some(Act {
                user: u as u32,
                action,
                target: Target::Login { city: city as u8 },
            })
    }
}

fn write(user: u32, kind: WriteKind, obj: u32) -> Act {
    Act {
        user,
        action: kind.action(),
        target: Target::Write {
            kind,
            obj,
            secret: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::catalogue::{EventCondition, is_catalogue_action};
    use crate::detect::tuning::Sensitivity;

    #[test]
    fn caps_stay_under_every_more_threshold() {
        let watched = watched(None);
        assert!(!watched.is_empty());
        for w in &watched {
            let more = w.spec.kind.threshold(Sensitivity::More).unwrap_or(0) as usize;
            assert!(w.cap < more, "{}", w.spec.id);
            assert!(
                w.cap_window_ms >= w.spec.kind.window_secs().unwrap_or(0) as i64 * 1_000,
                "{}",
                w.spec.id
            );
        }
    }

    #[test]
    fn caps_admit_up_to_the_limit_per_window() {
        let watched = watched(None);
        let w = &watched[0];
        let action = w.spec.actions[0];
        let mut s = UserState::new(0, watched.len());
        let admitted = (0..w.cap as i64 + 5)
            .filter(|i| s.admit(&watched, action, i * 1_000))
            .count();
        assert_eq!(admitted, w.cap);
        assert!(s.admit(&watched, action, w.cap_window_ms + 10_000));
    }

    #[test]
    fn unwatched_activity_is_not_in_the_catalogue() {
        for (kind, _) in WRITES {
            assert!(!is_catalogue_action(kind.action()), "{kind:?}");
        }
        assert!(!is_catalogue_action(WriteKind::IssueUpdated.action()));
        for chore in CHORES {
            assert!(!is_catalogue_action(chore), "{chore}");
        }
    }

    #[test]
    fn mix_covers_every_watched_family_and_fits_the_scale() {
        let watched = watched(None);
        let mix = mix(&watched, Some("login"));
        assert!(mix.last().is_some_and(|(cum, _)| *cum <= MIX_SCALE));
        for (i, w) in watched.iter().enumerate() {
            for &fam in &w.families {
                assert!(mix.iter().any(|(_, p)| *p == Pick::Watched { w: i, fam }));
            }
        }
    }

    #[test]
    fn benign_queries_name_no_sensitive_term() {
        use crate::detect::catalogue::SENSITIVE_TERMS;
        assert!(
            catalogue()
                .iter()
                .any(|s| s.condition == EventCondition::SensitiveQuery)
        );
        for q in org::BENIGN_QUERIES {
            let q = q.to_ascii_lowercase();
            for term in SENSITIVE_TERMS {
                assert!(!q.contains(term), "{q} names {term}");
            }
        }
    }
}
