//! What is planted and when: the facts read from `detect`'s catalogue once ([`Rules`]), the incident and decoy
//! budget, which actor carries which incident, the benign schedule of a batch and the pacing of a live stream.
//!
//! Owns the budget and the calendar; how an incident's events look is `incidents`, what benign people do is
//! `benign`. Reads detection facts only through `crate::detect::catalogue`; must not import the store, the
//! engine, tokio or `std::fs`.

use crate::detect::catalogue::{DetectionKind, DetectionSpec, MIN_PRIOR_LOGINS, catalogue};

use super::benign::{self, UserState, Watched};
use super::event::Family;
use super::incidents;
use super::org::{CITIES, Org};
use super::rng::Rng;
use super::{DAY, GenerateOptions, Generator, HOUR, LiveOptions};

/// First users: background people who are never incident actors nor decoys, so benign traffic always has
/// someone free to act.
pub(super) const BACKGROUND: usize = 12;

/// What the generator reads from the catalogue, computed once per generator.
#[derive(Debug)]
pub(super) struct Rules {
    /// The login action (of the login-history detections), if the catalogue has one: benign logins use it.
    pub(super) login: Option<&'static str>,
    /// Id of the impossible-travel detection, if any: a live new-country login may also be one.
    pub(super) travel: Option<&'static str>,
    /// Threshold detections, each with its benign cap; decoys use one user each.
    pub(super) watched: Vec<Watched>,
    /// Cumulative weights of benign activities.
    pub(super) mix: Vec<(u32, benign::Pick)>,
    /// Search queries that name the catalogue's sensitive terms.
    pub(super) sensitive_queries: Vec<String>,
}

impl Rules {
    pub(super) fn from_catalogue() -> Rules {
        let by_kind = |want: fn(&DetectionKind) -> bool| {
            catalogue()
                .iter()
                .find(|s| want(&s.kind))
                .map(|s: &'static DetectionSpec| s)
        };
        let login = by_kind(|k| matches!(k, DetectionKind::LoginNewCountry))
            .or_else(|| by_kind(|k| matches!(k, DetectionKind::ImpossibleTravel)))
            .and_then(|s| s.actions.first().copied());
        let travel = by_kind(|k| matches!(k, DetectionKind::ImpossibleTravel)).map(|s| s.id);
        let watched = benign::watched(login);
        let mix = benign::mix(&watched, login);
        Rules {
            login,
            travel,
            watched,
            mix,
            sensitive_queries: incidents::sensitive_queries(),
        }
    }

    /// Decoy users, one per threshold detection.
    pub(super) fn decoys(&self) -> usize {
        self.watched.len()
    }

    /// Incident actors are taken from here on.
    pub(super) fn pool(&self) -> usize {
        BACKGROUND + self.decoys()
    }

    /// Events one round of decoys costs: `more - 1` of each threshold detection, plus the successful login
    /// after a failed-login decoy.
    fn decoy_cost(&self) -> u64 {
        self.watched
            .iter()
            .map(|w| {
                u64::from(w.more.saturating_sub(1))
                    + u64::from(w.families.contains(&Family::Login) && self.login.is_some())
            })
            .sum()
    }
}

/// Events one planted incident of `spec` costs, from its kind.
pub(super) fn incident_cost(spec: &DetectionSpec) -> u64 {
    match spec.kind {
        DetectionKind::Threshold { default, .. } => incidents::burst_len(default) as u64,
        DetectionKind::LoginNewCountry => u64::from(MIN_PRIOR_LOGINS) + 2,
        DetectionKind::ImpossibleTravel => 2,
        DetectionKind::Single | DetectionKind::Content => 1,
    }
}

/// Benign event times for a batch: the budget spread over hours by a working-hours weight, evenly (with jitter)
/// inside each hour, so times never decrease.
#[derive(Debug)]
pub(super) struct Schedule {
    start: i64,
    cum: Vec<u64>,
    total: u64,
    benign: u64,
    hour: usize,
    i: u64,
    k: u64,
}

impl Schedule {
    fn new(start: i64, hours: usize, benign: u64) -> Schedule {
        let mut cum = Vec::with_capacity(hours + 1);
        cum.push(0u64);
        let mut acc = 0u64;
        for h in 0..hours {
            let t = start + h as i64 * HOUR;
            let days = t.div_euclid(DAY);
            let hour = t.rem_euclid(DAY) / HOUR;
            let weekend = matches!((days + 4).rem_euclid(7), 0 | 6);
            let w = match hour {
                7..=19 => 20,
                20..=23 => 10,
                _ => 5,
            };
            acc += if weekend { w / 5 } else { w };
            cum.push(acc);
        }
        let mut s = Schedule {
            start,
            cum,
            total: acc.max(1),
            benign,
            hour: 0,
            i: 0,
            k: 0,
        };
        s.k = s.count(0);
        s
    }

    /// First instant of the batch.
    pub(super) fn start(&self) -> i64 {
        self.start
    }

    fn count(&self, h: usize) -> u64 {
        let f = |c: u64| (u128::from(self.benign) * u128::from(c) / u128::from(self.total)) as u64;
        match (self.cum.get(h), self.cum.get(h + 1)) {
            (Some(&a), Some(&b)) => f(b) - f(a),
            _ => 0,
        }
    }

    /// Benign events in the busiest hour, to size the organization.
    fn peak(&self) -> u64 {
        (0..self.cum.len().saturating_sub(1))
            .map(|h| self.count(h))
            .max()
            .unwrap_or(0)
    }

    fn next(&mut self, rng: &mut Rng) -> Option<i64> {
        while self.i >= self.k {
            self.hour += 1;
            if self.hour + 1 >= self.cum.len() {
                return None;
            }
            self.i = 0;
            self.k = self.count(self.hour);
        }
        let slot = (self.i as f64 + rng.unit()) * HOUR as f64 / self.k as f64;
        self.i += 1;
        Some(self.start + self.hour as i64 * HOUR + (slot as i64).min(HOUR - 1))
    }
}

/// Where benign time comes from: a finite schedule, or an endless paced stream with incidents planned ahead.
#[derive(Debug)]
pub(super) enum Mode {
    Batch {
        schedule: Schedule,
        next: Option<i64>,
    },
    Live {
        next: i64,
        step: i64,
        every: i64,
        next_incident: i64,
        k: u64,
        cursor: usize,
    },
}

impl Mode {
    /// A batch with nothing to emit (the state before planning).
    pub(super) fn idle() -> Mode {
        Mode::Batch {
            schedule: Schedule::new(0, 0, 0),
            next: None,
        }
    }

    /// A live stream from `start`; incident actors are searched from `pool` on.
    pub(super) fn live(start: i64, step_ms: u64, incident_every_ms: u64, pool: usize) -> Mode {
        let every = i64::try_from(incident_every_ms.max(1_000)).unwrap_or(20_000);
        Mode::Live {
            next: start,
            step: i64::try_from(step_ms.max(1)).unwrap_or(500),
            every,
            next_incident: start + every,
            k: 0,
            cursor: pool,
        }
    }

    /// Time of the next benign event, if any.
    pub(super) fn next_benign(&self) -> Option<i64> {
        match self {
            Mode::Batch { next, .. } => *next,
            Mode::Live { next, .. } => Some(*next),
        }
    }
}

/// A finite generator: decide what is planted first (the benign budget is what is left), size the
/// organization to the busiest hour, then place incidents and decoys over the span.
pub(super) fn batch(opts: &GenerateOptions) -> Generator {
    let rules = Rules::from_catalogue();
    let days = opts.days.max(1);
    let start = opts.start.timestamp_millis();
    let span = i64::from(days) * DAY;
    let cat = catalogue();

    let n = opts.incidents as usize;
    let mut budget = opts.events;
    let mut dets = Vec::with_capacity(n);
    if !cat.is_empty() {
        for i in 0..n {
            let det = i % cat.len();
            let cost = incident_cost(&cat[det]);
            if cost > budget {
                break;
            }
            budget -= cost;
            dets.push(det);
        }
    }
    let decoy_cost = rules.decoy_cost();
    let mut decoy_rounds = 0u64;
    let wanted_rounds = u64::from(days / 7).max(1);
    while decoy_cost > 0
        && decoy_rounds < wanted_rounds
        && (decoy_rounds + 1) * decoy_cost <= opts.events / 4
        && decoy_cost <= budget
    {
        budget -= decoy_cost;
        decoy_rounds += 1;
    }

    let schedule = Schedule::new(start, days as usize * 24, budget);
    let pool = rules.pool();
    let by_rate = (schedule.peak() as usize * 2).div_ceil(30);
    let user_count = by_rate
        .max(64)
        .max(pool + dets.len() + 16)
        .min(2_000.max(pool + dets.len() + 16));
    let mut org_rng = Rng::new(opts.seed, 1);
    let org = Org::build(user_count, &mut org_rng);

    let mut g = Generator::with_org(org, opts.seed, rules);
    g.mode = Mode::Batch {
        schedule,
        next: None,
    };

    // Incidents, spread over the span after a warm-up (login history) and before a tail (bursts finish).
    let warm = DAY.min(span / 3);
    let tail = 2 * HOUR;
    let usable = (span - warm - tail).max(HOUR);
    let mut used = vec![false; user_count];
    let mut cursor = pool;
    for (i, &det) in dets.iter().enumerate() {
        let spec = &cat[det];
        let t = start + warm + usable * (2 * i as i64 + 1) / (2 * dets.len() as i64);
        let needs_far = spec.kind == DetectionKind::ImpossibleTravel;
        let mut u = cursor;
        while u < user_count
            && (used[u] || (needs_far && CITIES[g.org.users[u].home].far.is_none()))
        {
            u += 1;
        }
        if u >= user_count {
            // Cannot happen with pool + incidents + 16 users and most homes having a far city; be safe.
            u = (pool..user_count).find(|&x| !used[x]).unwrap_or(pool);
        }
        used[u] = true;
        while cursor < user_count && used[cursor] {
            cursor += 1;
        }
        g.org.users[u].travels = false;
        g.plant(spec, i / cat.len(), u, t, start, None);
    }
    for r in 0..decoy_rounds {
        let base = start + span * (2 * r as i64 + 1) / (2 * decoy_rounds as i64);
        g.plant_decoys(base, start + span - HOUR);
    }
    g.sort_blackouts();
    if let Mode::Batch { schedule, next } = &mut g.mode {
        *next = schedule.next(&mut g.rng);
    }
    g
}

/// An endless generator over a small organization (see [`Generator::live_with`]).
pub(super) fn live(opts: &LiveOptions) -> Generator {
    let rules = Rules::from_catalogue();
    let mut org_rng = Rng::new(opts.seed, 1);
    let org = Org::build(64, &mut org_rng);
    let pool = rules.pool();
    let mut g = Generator::with_org(org, opts.seed, rules);
    let start = opts.start.timestamp_millis();
    g.mode = Mode::live(start, opts.step_ms, opts.incident_every_ms, pool);
    g
}

impl Generator {
    /// Move benign time on after an event at `t`; a live stream also plans the next incident one interval
    /// ahead, so its events are in the heap before their time comes.
    pub(super) fn advance_benign(&mut self, t: i64) {
        let mut plan_live = None;
        match &mut self.mode {
            Mode::Batch { schedule, next } => *next = schedule.next(&mut self.rng),
            Mode::Live {
                next,
                step,
                next_incident,
                every,
                ..
            } => {
                *next = t + *step / 2 + self.rng.below(*step as u64 + 1) as i64;
                if t + *every >= *next_incident {
                    plan_live = Some(*next_incident);
                    *next_incident += *every;
                }
            }
        }
        if let Some(at) = plan_live {
            self.plan_live(at, t);
        }
    }

    /// Plant the next catalogue detection (round-robin) at `at` for an actor who can carry it now: login
    /// detections need an actor at home, with a login history for a new country.
    fn plan_live(&mut self, at: i64, now: i64) {
        let pool = self.rules.pool();
        let Mode::Live {
            every, k, cursor, ..
        } = &mut self.mode
        else {
            return;
        };
        let every = *every;
        let n = self.users.len();
        let cat = catalogue();
        if cat.is_empty() || n <= pool {
            return;
        }
        for _ in 0..cat.len() {
            let det = (*k as usize) % cat.len();
            let round = *k as usize / cat.len();
            *k += 1;
            let spec = &cat[det];
            let ok = |u: usize, users: &[UserState], org: &Org| match spec.kind {
                DetectionKind::LoginNewCountry => {
                    users[u].logins >= MIN_PRIOR_LOGINS && users[u].city == org.users[u].home
                }
                DetectionKind::ImpossibleTravel => {
                    CITIES[org.users[u].home].far.is_some() && users[u].city == org.users[u].home
                }
                _ => true,
            };
            let found = (0..n - pool)
                .map(|j| pool + (*cursor - pool + j) % (n - pool))
                .find(|&u| ok(u, &self.users, &self.org));
            if let Some(u) = found {
                *cursor = pool + (u - pool + 1) % (n - pool);
                let (first, last) = self.plant(spec, round, u, at, now, Some(every / 2));
                self.users[u].black_out_live(now, last.max(first));
                return;
            }
        }
    }
}
