//! What an alert's evidence says, for an analyst deciding from the detail alone: the events themselves, which
//! of them made the threshold, the spaces and pages a crawl touched, the countries a login is compared with,
//! and the two logins of an impossible journey. Pure functions over events the store already returned.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Alert, AuditEvent, haversine_km, text};

/// An alert's evidence as the store holds it, and the baseline a login alert is judged against.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The alert's evidence events found in the store, oldest first.
    pub events: Vec<AuditEvent>,
    /// Evidence ids the store no longer holds (retention aged them out): the list says so rather than
    /// pretending the alert had fewer.
    pub missing: usize,
    /// For login alerts: the countries the actor logged in from in the 90 days before the alert, the most
    /// recent first. Empty for other alerts.
    pub baseline: Vec<SeenCountry>,
    /// The baseline was read from the earliest events only (the actor had more than the scan reads).
    pub baseline_capped: bool,
    /// Whether the baseline was asked for and read (it is read only when the detail has the focus).
    pub baseline_read: bool,
}

/// A country an actor logged in from before an alert: how often, first and last time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeenCountry {
    pub country: String,
    pub logins: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// A name and how many evidence events carry it (a space, a page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub name: String,
    pub count: u64,
}

/// Two logins too far apart for the time between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Travel {
    pub from: String,
    pub from_time: DateTime<Utc>,
    pub to: String,
    pub to_time: DateTime<Utc>,
    pub km: f64,
    /// `None` when both logins carry the same instant (any distance is then impossible).
    pub kmh: Option<f64>,
}

impl Evidence {
    /// Whether `e` is one of the events that made the threshold: counted before the detection fired
    /// (`time <= created`); later ones grew the alert. Single-activity alerts have no threshold.
    pub fn made_threshold(alert: &Alert, e: &AuditEvent) -> bool {
        alert.threshold.is_some() && e.time <= alert.created
    }

    /// The event that made the detection fire: the last evidence event at or before `created`, else the
    /// first one.
    pub fn trigger(&self, created: DateTime<Utc>) -> Option<&AuditEvent> {
        self.events
            .iter()
            .rev()
            .find(|e| e.time <= created)
            .or_else(|| self.events.first())
    }

    /// The spaces or projects the evidence touched, most events first (ties by name), at most `n`; events
    /// with none are left out.
    pub fn containers(&self, n: usize) -> Vec<Tally> {
        tally(
            self.events.iter().filter_map(AuditEvent::container_label),
            n,
        )
    }

    /// The pages, issues or other objects the evidence touched most, by title (else id), at most `n`.
    pub fn top_objects(&self, n: usize) -> Vec<Tally> {
        tally(
            self.events
                .iter()
                .filter_map(|e| e.what().map(|w| text::truncate(w, 200))),
            n,
        )
    }

    /// The first and the last evidence logins that carry coordinates, with the distance and the speed
    /// between them: what `impossible-travel` saw.
    pub fn travel(&self) -> Option<Travel> {
        let mut located = self
            .events
            .iter()
            .filter_map(|e| Some((e, e.coordinates()?)));
        let (a, (lat1, lon1)) = located.next()?;
        let (b, (lat2, lon2)) = located.next_back()?;
        let km = haversine_km(lat1, lon1, lat2, lon2);
        let hours = (b.time - a.time).num_milliseconds().unsigned_abs() as f64 / 3_600_000.0;
        Some(Travel {
            from: place(a),
            from_time: a.time,
            to: place(b),
            to_time: b.time,
            km,
            kmh: (hours > 0.0).then(|| km / hours),
        })
    }
}

/// The countries in `logins` (events with a country), one entry each, the most recently seen first.
pub fn baseline_of<'a>(logins: impl IntoIterator<Item = &'a AuditEvent>) -> Vec<SeenCountry> {
    let mut by: HashMap<String, SeenCountry> = HashMap::new();
    for e in logins {
        let Some(c) = e.country().map(str::trim).filter(|c| !c.is_empty()) else {
            continue;
        };
        by.entry(c.to_lowercase())
            .and_modify(|s| {
                s.logins += 1;
                s.first = s.first.min(e.time);
                s.last = s.last.max(e.time);
            })
            .or_insert_with(|| SeenCountry {
                country: text::truncate(c, 60),
                logins: 1,
                first: e.time,
                last: e.time,
            });
    }
    let mut out: Vec<SeenCountry> = by.into_values().collect();
    out.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.country.cmp(&b.country)));
    out
}

/// A login's place in words: `Sydney, Australia (203.0.113.7)`, or the IP alone.
pub fn place(e: &AuditEvent) -> String {
    let ip = e
        .location
        .as_ref()
        .and_then(|l| l.ip.as_deref())
        .filter(|s| !s.is_empty());
    let s = match (e.city_and_country(), ip) {
        (Some(named), Some(ip)) => format!("{named} ({ip})"),
        (Some(named), None) => named,
        (None, Some(ip)) => ip.to_string(),
        (None, None) => "unknown place".to_string(),
    };
    text::truncate(&s, 120)
}

fn tally(names: impl Iterator<Item = String>, n: usize) -> Vec<Tally> {
    let mut by: HashMap<String, u64> = HashMap::new();
    for name in names {
        *by.entry(name).or_default() += 1;
    }
    let mut out: Vec<Tally> = by
        .into_iter()
        .map(|(name, count)| Tally { name, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::Map;

    use super::*;
    use crate::model::{Actor, Content, Location};

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).single().unwrap()
            + chrono::Duration::minutes(min)
    }

    fn ev(id: &str, min: i64) -> AuditEvent {
        AuditEvent {
            id: id.into(),
            time: at(min),
            action: "page_viewed".into(),
            actor: Actor {
                id: "acc-1".into(),
                ..Actor::default()
            },
            context: Vec::new(),
            container: Vec::new(),
            location: None,
            content: None,
            message: None,
            extra: Map::new(),
            secrets: Vec::new(),
        }
    }

    fn page(id: &str, min: i64, space: &str, title: &str) -> AuditEvent {
        let mut e = ev(id, min);
        e.content = Some(Content {
            title: Some(title.into()),
            container_key: Some(space.into()),
            product: Some("confluence".into()),
            ..Content::default()
        });
        e
    }

    fn login(id: &str, min: i64, country: &str, geo: Option<&str>) -> AuditEvent {
        let mut e = ev(id, min);
        e.action = "user_login".into();
        e.location = Some(Location {
            country_name: Some(country.into()),
            geo: geo.map(str::to_string),
            ip: Some("203.0.113.7".into()),
            ..Location::default()
        });
        e
    }

    #[test]
    fn spaces_and_pages_are_counted_most_first() {
        let ev = Evidence {
            events: vec![
                page("1", 0, "OPS", "Runbook"),
                page("2", 1, "OPS", "Runbook"),
                page("3", 2, "HR", "Salaries"),
                page("4", 3, "OPS", "Keys"),
            ],
            ..Evidence::default()
        };
        let spaces = ev.containers(5);
        assert_eq!(spaces[0].name, "space OPS");
        assert_eq!(spaces[0].count, 3);
        assert_eq!(spaces[1].name, "space HR");
        let pages = ev.top_objects(2);
        assert_eq!(pages.len(), 2);
        assert_eq!((pages[0].name.as_str(), pages[0].count), ("Runbook", 2));
    }

    #[test]
    fn the_baseline_has_one_entry_per_country_newest_first() {
        let logins = [
            login("1", 0, "France", None),
            login("2", 10, "Germany", None),
            login("3", 20, "france", None),
        ];
        let b = baseline_of(&logins);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].country, "France");
        assert_eq!(b[0].logins, 2);
        assert_eq!((b[0].first, b[0].last), (at(0), at(20)));
        assert_eq!(b[1].country, "Germany");
    }

    #[test]
    fn travel_gives_both_logins_the_distance_and_the_speed() {
        let ev = Evidence {
            events: vec![
                login("a", 0, "Australia", Some("-33.87,151.21")),
                login("b", 60, "United Kingdom", Some("51.51,-0.13")),
            ],
            ..Evidence::default()
        };
        let t = ev.travel().expect("two located logins");
        assert!(t.from.starts_with("Australia"), "{}", t.from);
        assert!((16_900.0..17_100.0).contains(&t.km), "{}", t.km);
        let kmh = t.kmh.expect("an hour apart");
        assert!((16_900.0..17_100.0).contains(&kmh), "{kmh}");
        // A hostile geo is no place.
        let mut bad = login("c", 0, "X", Some("999,999"));
        bad.location.as_mut().unwrap().geo = Some("nan,1".into());
        let one = Evidence {
            events: vec![bad],
            ..Evidence::default()
        };
        assert!(one.travel().is_none());
    }

    #[test]
    fn the_trigger_is_the_last_event_before_the_alert_fired() {
        let ev = Evidence {
            events: vec![ev("1", 0), ev("2", 5), ev("3", 9)],
            ..Evidence::default()
        };
        let id = |t| ev.trigger(t).map(|e| e.id.as_str());
        assert_eq!(id(at(5)), Some("2"));
        assert_eq!(id(at(100)), Some("3"));
        // Evidence that starts after `created` (grown by later activity): the first event stands for it.
        assert_eq!(id(at(-1)), Some("1"));
    }
}
