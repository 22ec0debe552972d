//! The detector, driven with hand-made events: thresholds per sensitivity, distinct counting, windows,
//! lateness, grouping, login detections, exclusions, aliases, save/restore and robustness.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use ulid::Ulid;

use vigil::detect::catalogue::{DetectionKind, catalogue, spec};
use vigil::detect::tuning::{
    CustomDetection, DetectionSettings, Exclusion, ExclusionKind, Sensitivity, Tuning,
};
use vigil::detect::{AlertDraft, Detector, DetectorState, absorb, alert_from_draft, can_absorb};
use vigil::model::{Actor, Alert, AuditEvent, Content, Entity, Location, Message, Severity};

const KEY: &[u8] = b"test fingerprint key";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0)
        .single()
        .expect("valid time")
}

fn ev(id: impl Into<String>, time: DateTime<Utc>, action: &str, actor: &str) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        time,
        action: action.to_string(),
        actor: Actor {
            id: actor.to_string(),
            name: Some(format!("{actor} name")),
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

fn with_object(mut e: AuditEvent, object: &str) -> AuditEvent {
    e.content = Some(Content {
        object_type: Some("page".into()),
        object_id: Some(object.into()),
        container_key: Some("OPS".into()),
        ..Content::default()
    });
    e
}

fn with_query(mut e: AuditEvent, q: &str) -> AuditEvent {
    let mut attrs = Map::new();
    attrs.insert("query".into(), Value::String(q.into()));
    e.context = vec![Entity {
        id: None,
        kind: Some("search".into()),
        attributes: attrs,
    }];
    e
}

fn login(
    id: &str,
    time: DateTime<Utc>,
    actor: &str,
    country: &str,
    city: &str,
    lat: f64,
    lon: f64,
) -> AuditEvent {
    let mut e = ev(id, time, "user_login", actor);
    e.location = Some(Location {
        ip: Some("203.0.113.7".into()),
        geo: Some(format!("{lat},{lon}")),
        latitude: Some(lat),
        longitude: Some(lon),
        country_name: Some(country.into()),
        region_name: None,
        city: Some(city.into()),
    });
    e
}

fn detector(tuning: &Tuning) -> Detector {
    Detector::new(tuning, KEY).expect("detector builds")
}

fn tuned(id: &str, settings: DetectionSettings) -> Tuning {
    let mut t = Tuning::default();
    t.detections.insert(id.to_string(), settings);
    t
}

fn sensitivity(id: &str, s: Sensitivity) -> Tuning {
    tuned(
        id,
        DetectionSettings {
            sensitivity: s,
            ..DetectionSettings::default()
        },
    )
}

/// An event that counts for threshold detection `id`: the first action, a distinct object, a sensitive query.
fn counting_event(id: &str, n: usize, time: DateTime<Utc>, actor: &str) -> AuditEvent {
    let s = spec(id).expect("catalogue id");
    let e = ev(format!("{id}-{actor}-{n}"), time, s.actions[0], actor);
    let e = with_object(e, &format!("obj-{n}"));
    if id == "suspicious-search" {
        with_query(e, "where is the prod password")
    } else {
        e
    }
}

fn threshold_specs() -> Vec<(&'static str, u32, u32, u32, u64)> {
    catalogue()
        .iter()
        .filter_map(|s| match s.kind {
            DetectionKind::Threshold {
                window_secs,
                fewer,
                default,
                more,
                ..
            } => Some((s.id, fewer, default, more, window_secs)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_threshold_fires_exactly_at_its_threshold_for_each_sensitivity() {
    for (id, fewer, default, more, window_secs) in threshold_specs() {
        for (sens, threshold) in [
            (Sensitivity::Fewer, fewer),
            (Sensitivity::Default, default),
            (Sensitivity::More, more),
        ] {
            let mut d = detector(&sensitivity(id, sens));
            // Spread over less than the window: threshold - 1 events, then the crossing one.
            let step = (window_secs * 1000 / u64::from(threshold) / 2) as i64;
            for n in 0..threshold - 1 {
                let e = counting_event(
                    id,
                    n as usize,
                    t0() + Duration::milliseconds(step * i64::from(n)),
                    "ana",
                );
                let drafts = d.observe(&e);
                assert!(
                    drafts.iter().all(|x| x.detection.as_str() != id),
                    "{id} {sens:?} fired early at {n}"
                );
            }
            let last_time = t0() + Duration::milliseconds(step * i64::from(threshold - 1));
            let e = counting_event(id, threshold as usize, last_time, "ana");
            let drafts: Vec<AlertDraft> = d
                .observe(&e)
                .into_iter()
                .filter(|x| x.detection.as_str() == id)
                .collect();
            assert_eq!(drafts.len(), 1, "{id} {sens:?} did not fire at {threshold}");
            let x = &drafts[0];
            assert_eq!(x.count, u64::from(threshold));
            assert_eq!(x.threshold, Some(u64::from(threshold)));
            assert_eq!(x.window_secs, Some(window_secs));
            assert_eq!(x.time_start, t0());
            assert_eq!(x.created, last_time);
            assert_eq!(x.evidence, vec![e.id.clone()]);
            assert_eq!(x.group_key, format!("{id}|ana"));
            assert_eq!(x.group_window_ms, (window_secs * 1000) as i64);
            assert!(x.evidence_actions.contains(&e.action));
            assert_eq!(
                x.severity,
                spec(id).map(|s| s.severity).unwrap_or(Severity::Low)
            );
            assert!(
                !x.description.is_empty()
                    && !x.investigation_steps.is_empty()
                    && !x.remediation.is_empty()
            );
        }
    }
}

#[test]
fn crawling_counts_distinct_pages_only() {
    let mut d = detector(&Tuning::default());
    for n in 0..500 {
        let e = with_object(
            ev(
                format!("v{n}"),
                t0() + Duration::milliseconds(n * 100),
                "page_viewed",
                "ana",
            ),
            "same-page",
        );
        assert!(d.observe(&e).is_empty());
    }
}

#[test]
fn a_continuing_burst_grows_one_alert() {
    let mut d = detector(&Tuning::default());
    let mut drafts = Vec::new();
    for n in 0..260 {
        let e = with_object(
            ev(
                format!("v{n}"),
                t0() + Duration::seconds(n),
                "page_viewed",
                "ana",
            ),
            &format!("p{n}"),
        );
        drafts.extend(d.observe(&e));
        // Re-viewing a counted page neither counts nor continues.
        let again = with_object(
            ev(
                format!("r{n}"),
                t0() + Duration::seconds(n),
                "page_viewed",
                "ana",
            ),
            &format!("p{n}"),
        );
        drafts.extend(d.observe(&again));
    }
    assert_eq!(
        drafts.len(),
        61,
        "one first firing at 200, then 60 continuations"
    );
    assert_eq!(drafts[0].count, 200);
    assert!(
        drafts[1..]
            .iter()
            .all(|x| x.count == 1 && x.group_key == drafts[0].group_key)
    );

    let mut alerts: Vec<Alert> = Vec::new();
    for draft in &drafts {
        match alerts.iter_mut().find(|a| can_absorb(a, draft)) {
            Some(a) => absorb(a, draft),
            None => alerts.push(alert_from_draft(
                draft,
                Ulid::from_parts(draft.created.timestamp_millis() as u64, 1),
            )),
        }
    }
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].count, 260);
    assert_eq!(alerts[0].time_start, t0());
    assert_eq!(alerts[0].time_end, Some(t0() + Duration::seconds(259)));
}

#[test]
fn a_burst_that_dips_and_returns_reports_only_new_activity() {
    let mut d = detector(&Tuning::default());
    let mut total = 0;
    // 10 failed logins in 9 s fire; then one every 61 s keeps the window at 10 - dips never double count.
    for n in 0..10 {
        total += d
            .observe(&ev(
                format!("f{n}"),
                t0() + Duration::seconds(n),
                "user_login_failed",
                "bob",
            ))
            .iter()
            .map(|x| x.count)
            .sum::<u64>();
    }
    assert_eq!(total, 10);
    for n in 0..5 {
        let time = t0() + Duration::seconds(600 + 61 * n);
        total += d
            .observe(&ev(format!("g{n}"), time, "user_login_failed", "bob"))
            .iter()
            .map(|x| x.count)
            .sum::<u64>();
    }
    assert!(total <= 15, "never more than the events seen: {total}");
}

#[test]
fn events_spread_wider_than_the_window_do_not_fire() {
    let mut d = detector(&Tuning::default());
    // failed-login-burst: 10 in 10 min. 10 events 67 s apart span 603 s.
    for n in 0..30 {
        let e = ev(
            format!("f{n}"),
            t0() + Duration::seconds(67 * n),
            "user_login_failed",
            "bob",
        );
        assert!(d.observe(&e).is_empty(), "fired at {n}");
    }
    // 60 s apart: 10 events span 540 s and fire.
    let mut d = detector(&Tuning::default());
    let fired: usize = (0..10)
        .map(|n| {
            d.observe(&ev(
                format!("f{n}"),
                t0() + Duration::seconds(60 * n),
                "user_login_failed",
                "bob",
            ))
            .len()
        })
        .sum();
    assert_eq!(fired, 1);
}

/// Lateness is per actor: another actor's newer events never make an event late, and an event behind its
/// own actor's newest is not detected on the spot but reported for replay (`take_late`).
#[test]
fn an_event_behind_its_actors_frontier_is_reported_for_replay() {
    let mut d = detector(&Tuning::default());
    let now = t0() + Duration::minutes(30);
    // Someone else is a day ahead: carol's burst is still detected in full.
    assert!(
        d.observe(&ev("w", now + Duration::days(1), "page_edited", "dave"))
            .is_empty()
    );
    let mut fired = Vec::new();
    for n in 0..10 {
        fired.extend(d.observe(&ev(
            format!("l{n}"),
            now + Duration::seconds(n),
            "user_login_failed",
            "carol",
        )));
    }
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].count, 10);
    assert_eq!(fired[0].time_start, now);
    assert_eq!(d.stats().late_events, 0);
    assert!(d.take_late().is_empty());
    // Behind carol's newest: nothing raised here, carol is reported with the oldest such time.
    for (id, back) in [("old", 6), ("older", 60)] {
        assert!(
            d.observe(&ev(
                id,
                now - Duration::minutes(back),
                "user_logged_in_as_user",
                "carol"
            ))
            .is_empty()
        );
    }
    assert_eq!(d.stats().late_events, 2);
    assert_eq!(
        d.take_late(),
        vec![(
            "carol".to_string(),
            (now - Duration::minutes(60)).timestamp_millis()
        )]
    );
    assert!(d.take_late().is_empty());
    // Replaying carol's events in order raises what in-order arrival raises.
    d.begin_replay("carol");
    let mut replayed = Vec::new();
    replayed.extend(d.observe(&ev(
        "older",
        now - Duration::minutes(60),
        "user_logged_in_as_user",
        "carol",
    )));
    replayed.extend(d.observe(&ev(
        "old",
        now - Duration::minutes(6),
        "user_logged_in_as_user",
        "carol",
    )));
    for n in 0..10 {
        replayed.extend(d.observe(&ev(
            format!("l{n}"),
            now + Duration::seconds(n),
            "user_login_failed",
            "carol",
        )));
    }
    d.end_replay();
    assert_eq!(replayed.len(), 3, "two impersonations and the burst");
    assert_eq!(d.stats().late_events, 2, "a replay counts nothing");
}

#[test]
fn new_country_needs_five_prior_logins_and_90_days() {
    let mut d = detector(&Tuning::default());
    let syd = |n: i64| {
        login(
            &format!("s{n}"),
            t0() + Duration::hours(n * 24),
            "dan",
            "Australia",
            "Sydney",
            -33.87,
            151.21,
        )
    };
    for n in 0..4 {
        assert!(d.observe(&syd(n)).is_empty());
    }
    // Fifth login (4 prior) from a new country: no history yet, no alert.
    let nz = login(
        "nz",
        t0() + Duration::days(5),
        "dan",
        "New Zealand",
        "Auckland",
        -36.85,
        174.76,
    );
    assert!(
        d.observe(&nz)
            .iter()
            .all(|x| x.detection.as_str() != "login-new-country")
    );
    // Now 5 prior logins: Brazil is new.
    let br = login(
        "br",
        t0() + Duration::days(6),
        "dan",
        "Brazil",
        "São Paulo",
        -23.55,
        -46.63,
    );
    let drafts = d.observe(&br);
    let nc: Vec<_> = drafts
        .iter()
        .filter(|x| x.detection.as_str() == "login-new-country")
        .collect();
    assert_eq!(nc.len(), 1);
    assert_eq!(nc[0].subject.as_deref(), Some("Brazil (São Paulo)"));
    assert_eq!(nc[0].actor.country.as_deref(), Some("Brazil"));
    // Brazil again: seen.
    let br2 = login(
        "br2",
        t0() + Duration::days(7),
        "dan",
        "brazil",
        "São Paulo",
        -23.55,
        -46.63,
    );
    assert!(
        d.observe(&br2)
            .iter()
            .all(|x| x.detection.as_str() != "login-new-country")
    );
    // Keep logging in from Australia for 100 days, then Brazil is new again.
    for n in 0..10 {
        d.observe(&login(
            &format!("a{n}"),
            t0() + Duration::days(10 + n * 10),
            "dan",
            "Australia",
            "Sydney",
            -33.87,
            151.21,
        ));
    }
    let br3 = login(
        "br3",
        t0() + Duration::days(110),
        "dan",
        "Brazil",
        "São Paulo",
        -23.55,
        -46.63,
    );
    assert!(
        d.observe(&br3)
            .iter()
            .any(|x| x.detection.as_str() == "login-new-country")
    );
}

#[test]
fn impossible_travel() {
    let only = |drafts: Vec<AlertDraft>| -> Vec<AlertDraft> {
        drafts
            .into_iter()
            .filter(|x| x.detection.as_str() == "impossible-travel")
            .collect()
    };
    let mut d = detector(&Tuning::default());
    assert!(
        only(d.observe(&login(
            "a",
            t0(),
            "eve",
            "Australia",
            "Sydney",
            -33.87,
            151.21
        )))
        .is_empty()
    );
    let london = only(d.observe(&login(
        "b",
        t0() + Duration::hours(1),
        "eve",
        "United Kingdom",
        "London",
        51.51,
        -0.13,
    )));
    assert_eq!(london.len(), 1);
    assert_eq!(london[0].evidence, vec!["a".to_string(), "b".to_string()]);
    assert!(
        london[0]
            .subject
            .as_deref()
            .is_some_and(|s| s.starts_with("Sydney, Australia → London, United Kingdom"))
    );
    assert_eq!(london[0].severity, Severity::High);

    let mut d = detector(&Tuning::default());
    d.observe(&login(
        "a",
        t0(),
        "eve",
        "Australia",
        "Sydney",
        -33.87,
        151.21,
    ));
    let mel = only(d.observe(&login(
        "b",
        t0() + Duration::hours(2),
        "eve",
        "Australia",
        "Melbourne",
        -37.81,
        144.96,
    )));
    assert!(mel.is_empty(), "714 km in 2 h is a flight");

    // Same instant, far apart: fires; same instant, 20 km apart: never.
    let mut d = detector(&Tuning::default());
    d.observe(&login(
        "a",
        t0(),
        "eve",
        "Australia",
        "Sydney",
        -33.87,
        151.21,
    ));
    assert_eq!(
        only(d.observe(&login(
            "b",
            t0(),
            "eve",
            "Australia",
            "Perth",
            -31.95,
            115.86
        )))
        .len(),
        1
    );
    let mut d = detector(&Tuning::default());
    d.observe(&login(
        "a",
        t0(),
        "eve",
        "Australia",
        "Sydney",
        -33.87,
        151.21,
    ));
    assert!(
        only(d.observe(&login(
            "b",
            t0(),
            "eve",
            "Australia",
            "Parramatta",
            -33.81,
            151.0
        )))
        .is_empty()
    );
}

#[test]
fn exclusions_by_actor_container_object_and_expiry() {
    let fire = |tuning: &Tuning,
                actor: &str,
                container: &str,
                object: &str,
                time: DateTime<Utc>|
     -> usize {
        let mut d = detector(tuning);
        let mut e = ev("x", time, "public_link_enabled", actor);
        e.content = Some(Content {
            object_id: Some(object.into()),
            container_key: Some(container.into()),
            ..Content::default()
        });
        d.observe(&e).len()
    };
    let ex = |kind, value: &str, until: Option<DateTime<Utc>>| {
        tuned(
            "public-link-enabled",
            DetectionSettings {
                exclusions: vec![Exclusion {
                    kind,
                    value: value.into(),
                    until,
                    label: None,
                }],
                ..DetectionSettings::default()
            },
        )
    };
    assert_eq!(fire(&Tuning::default(), "ana", "OPS", "1", t0()), 1);
    assert_eq!(
        fire(
            &ex(ExclusionKind::Actor, "ana", None),
            "ana",
            "OPS",
            "1",
            t0()
        ),
        0
    );
    assert_eq!(
        fire(
            &ex(ExclusionKind::Actor, "ana", None),
            "bob",
            "OPS",
            "1",
            t0()
        ),
        1
    );
    assert_eq!(
        fire(
            &ex(ExclusionKind::Container, "ops", None),
            "ana",
            "OPS",
            "1",
            t0()
        ),
        0
    );
    assert_eq!(
        fire(
            &ex(ExclusionKind::Object, "1", None),
            "ana",
            "OPS",
            "1",
            t0()
        ),
        0
    );
    assert_eq!(
        fire(
            &ex(ExclusionKind::Object, "1", None),
            "ana",
            "OPS",
            "2",
            t0()
        ),
        1
    );
    let until = Some(t0() + Duration::days(1));
    assert_eq!(
        fire(
            &ex(ExclusionKind::Actor, "ana", until),
            "ana",
            "OPS",
            "1",
            t0()
        ),
        0
    );
    assert_eq!(
        fire(
            &ex(ExclusionKind::Actor, "ana", until),
            "ana",
            "OPS",
            "1",
            t0() + Duration::days(2)
        ),
        1,
        "expired"
    );
}

#[test]
fn disabled_detection_raises_nothing_and_keeps_no_state() {
    let off = DetectionSettings {
        enabled: false,
        ..DetectionSettings::default()
    };
    let mut d = detector(&tuned("page-crawling", off.clone()));
    for n in 0..300 {
        let e = with_object(
            ev(
                format!("v{n}"),
                t0() + Duration::seconds(n),
                "page_viewed",
                "ana",
            ),
            &format!("p{n}"),
        );
        assert!(d.observe(&e).is_empty());
    }
    assert_eq!(d.live_windows(), 0);
    let mut d = detector(&tuned("admin-impersonation", off));
    assert!(
        d.observe(&ev("i", t0(), "user_logged_in_as_user", "ana"))
            .is_empty()
    );
}

#[test]
fn aliases_add_real_keys_and_can_remove_the_catalogue_key() {
    let mut t = Tuning::default();
    t.actions.insert(
        "user_logged_in_as_user".into(),
        vec!["impersonation_started".into()],
    );
    let mut d = detector(&t);
    let drafts = d.observe(&ev("a", t0(), "impersonation_started", "ana"));
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].detection.as_str(), "admin-impersonation");
    assert_eq!(
        drafts[0].evidence_actions,
        vec!["impersonation_started", "user_logged_in_as_user"]
    );
    assert_eq!(
        d.observe(&ev("b", t0(), "user_logged_in_as_user", "ana"))
            .len(),
        1,
        "catalogue key still counts"
    );

    t.actions.insert(
        "user_logged_in_as_user".into(),
        vec![
            "!user_logged_in_as_user".into(),
            "impersonation_started".into(),
        ],
    );
    let mut d = detector(&t);
    assert!(
        d.observe(&ev("b", t0(), "user_logged_in_as_user", "ana"))
            .is_empty()
    );
    assert_eq!(
        d.observe(&ev("c", t0(), "impersonation_started", "ana"))
            .len(),
        1
    );
}

#[test]
fn single_event_detections_fire_with_a_subject() {
    for s in catalogue()
        .iter()
        .filter(|s| s.kind == DetectionKind::Single)
    {
        for action in s.actions {
            let mut d = detector(&Tuning::default());
            let mut e = ev(format!("{action}-1"), t0(), action, "admin");
            let mut attrs = Map::new();
            attrs.insert("name".into(), Value::String("Claude MCP connector".into()));
            e.context = vec![Entity {
                id: Some("ctx-1".into()),
                kind: Some("apps".into()),
                attributes: attrs,
            }];
            let drafts = d.observe(&e);
            assert_eq!(drafts.len(), 1, "{} via {action}", s.id);
            assert_eq!(drafts[0].detection.as_str(), s.id);
            assert_eq!(drafts[0].severity, s.severity);
            assert_eq!(drafts[0].subject.as_deref(), Some("Claude MCP connector"));
            assert_eq!(drafts[0].group_window_ms, 3_600_000);
        }
    }
}

#[test]
fn oauth_apps_count_only_when_they_look_like_ai_clients() {
    let oauth = |name: &str| {
        let mut e = ev("o", t0(), "oauth_app_authorized", "ana");
        e.message = Some(Message {
            content: Some(format!("Authorized {name}")),
            format: None,
        });
        detector(&Tuning::default()).observe(&e).len()
    };
    assert_eq!(oauth("Claude for Confluence"), 1);
    assert_eq!(oauth("ChatGPT connector"), 1);
    assert_eq!(oauth("Acme AI assistant"), 1);
    assert_eq!(oauth("GPT-4o sync"), 1);
    assert_eq!(oauth("Zoom for Jira"), 0);
    assert_eq!(oauth("Maintenance bot"), 0, "'ai' inside a word is not AI");
    assert_eq!(
        detector(&Tuning::default())
            .observe(&ev("m", t0(), "mcp_server_connected", "ana"))
            .len(),
        1
    );
}

#[test]
fn suspicious_search_needs_sensitive_terms() {
    let run = |q: &str| {
        let mut d = detector(&Tuning::default());
        (0..10)
            .map(|n| {
                d.observe(&with_query(
                    ev(
                        format!("q{n}"),
                        t0() + Duration::seconds(n),
                        "search_performed",
                        "ana",
                    ),
                    q,
                ))
                .len()
            })
            .sum::<usize>()
    };
    assert_eq!(run("deploy notes"), 0);
    assert_eq!(run("classname"), 0, "ssn must be a whole word");
    assert_eq!(run("Passwords for prod"), 1);
    assert_eq!(run("employee SSN list"), 1);
    assert_eq!(run("AWS API key"), 1);
}

#[test]
fn custom_content_detection_never_carries_the_text() {
    let mut t = Tuning::default();
    t.custom.push(CustomDetection {
        name: "Project Falcon leak".into(),
        terms: vec!["falcon roadmap".into()],
        regex: None,
        severity: Severity::High,
        enabled: true,
    });
    let mut d = detector(&t);
    let mut e = ev("c1", t0(), "page_updated", "ana");
    e.content = Some(Content {
        object_type: Some("page".into()),
        object_id: Some("98231".into()),
        title: Some("Q3 plans".into()),
        body: Some("The secret Falcon Roadmap for next year: launch in March.".into()),
        container_key: Some("PLAN".into()),
        ..Content::default()
    });
    let drafts = d.observe(&e);
    let custom: Vec<_> = drafts
        .iter()
        .filter(|x| x.detection.as_str() == "custom:project-falcon-leak")
        .collect();
    assert_eq!(custom.len(), 1, "{drafts:#?}");
    let x = custom[0];
    assert_eq!(x.title, "Project Falcon leak");
    assert_eq!(x.severity, Severity::High);
    assert_eq!(x.subject.as_deref(), Some("Q3 plans"));
    assert_eq!(x.matches.len(), 1);
    assert_eq!(x.matches[0].field, "body");
    assert!(
        x.group_key
            .starts_with("custom:project-falcon-leak|ana|98231|")
    );
    let json = serde_json::to_string(&drafts).unwrap_or_default();
    assert!(!json.to_lowercase().contains("falcon roadmap"), "{json}");
    assert!(!json.contains("launch in March"));

    // A hit in the title: the subject names the object instead of repeating the title.
    let mut e2 = e.clone();
    e2.id = format!("{}-edit", e.id);
    e2.time += Duration::seconds(1);
    if let Some(c) = e2.content.as_mut() {
        c.title = Some("falcon roadmap draft".into());
        c.body = None;
    }
    let drafts = d.observe(&e2);
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].subject.as_deref(), Some("page 98231"));
}

/// A deterministic mixed stream: crawling, failed logins, logins around the world, admin changes.
fn mixed_stream(n: usize) -> Vec<AuditEvent> {
    let places = [
        ("Australia", "Sydney", -33.87, 151.21),
        ("United Kingdom", "London", 51.51, -0.13),
        ("Brazil", "São Paulo", -23.55, -46.63),
        ("Japan", "Tokyo", 35.68, 139.69),
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut time = t0();
    (0..n)
        .map(|i| {
            let r = next();
            // Mostly forward, sometimes a little back (out of order), rarely far back (late).
            time += Duration::milliseconds((r % 3000) as i64);
            let t = match r % 97 {
                0 => time - Duration::minutes(3),
                1 => time - Duration::minutes(20),
                _ => time,
            };
            let actor = format!("u{}", (r >> 8) % 5);
            match (r >> 16) % 10 {
                0..=5 => with_object(
                    ev(format!("e{i}"), t, "page_viewed", "crawler"),
                    &format!("p{}", (r >> 24) % 400),
                ),
                6 => ev(format!("e{i}"), t, "user_login_failed", &actor),
                7 => {
                    let (c, city, lat, lon) = places[((r >> 24) % 4) as usize];
                    login(&format!("e{i}"), t, &actor, c, city, lat, lon)
                }
                8 => with_query(
                    ev(format!("e{i}"), t, "search_performed", &actor),
                    "salary bands",
                ),
                _ => ev(format!("e{i}"), t, "app_installed", &actor),
            }
        })
        .collect()
}

#[test]
fn save_and_restore_give_the_same_drafts_as_one_run() {
    let stream = mixed_stream(6000);
    let tuning = sensitivity("page-crawling", Sensitivity::More);
    let mut one = detector(&tuning);
    let all: Vec<AlertDraft> = stream.iter().flat_map(|e| one.observe(e)).collect();
    assert!(all.iter().any(|x| x.detection.as_str() == "page-crawling"));
    assert!(
        all.iter()
            .any(|x| x.detection.as_str() == "impossible-travel")
    );

    for split in [1, 777, 3000, 5999] {
        let mut first = detector(&tuning);
        let mut got: Vec<AlertDraft> = stream[..split]
            .iter()
            .flat_map(|e| first.observe(e))
            .collect();
        // Through JSON, as the store keeps it.
        let saved = serde_json::to_string(&first.save_state()).unwrap_or_default();
        let state: DetectorState = serde_json::from_str(&saved).unwrap_or_default();
        let mut second = detector(&tuning);
        second.restore_state(state);
        got.extend(stream[split..].iter().flat_map(|e| second.observe(e)));
        assert_eq!(got, all, "split at {split}");
        assert_eq!(second.stats(), one.stats());
    }
}

#[test]
fn idle_windows_are_swept() {
    let mut d = detector(&Tuning::default());
    for n in 0..1000 {
        d.observe(&ev(
            format!("f{n}"),
            t0(),
            "user_login_failed",
            &format!("actor{n}"),
        ));
    }
    assert_eq!(d.live_windows(), 1000);
    let later = t0() + Duration::hours(1);
    for n in 0..5000 {
        d.observe(&ev(format!("x{n:05}"), later, "page_edited", "someone"));
    }
    assert_eq!(d.live_windows(), 0);
    assert_eq!(d.stats().expired_windows, 1000);
}

#[test]
fn retune_applies_on_the_next_event() {
    let mut d = detector(&Tuning::default());
    for n in 0..5 {
        assert!(
            d.observe(&ev(
                format!("f{n}"),
                t0() + Duration::seconds(n),
                "user_login_failed",
                "bob"
            ))
            .is_empty()
        );
    }
    d.retune(&sensitivity("failed-login-burst", Sensitivity::More))
        .expect("retune");
    let drafts = d.observe(&ev(
        "f5",
        t0() + Duration::seconds(5),
        "user_login_failed",
        "bob",
    ));
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].threshold, Some(5));
}

fn arb_event() -> impl Strategy<Value = AuditEvent> {
    let actions: Vec<String> = catalogue()
        .iter()
        .flat_map(|s| s.actions.iter().map(|a| a.to_string()))
        .chain(["page_updated".to_string(), String::new()])
        .collect();
    (
        (
            any::<String>(),
            -5_000_000_000_000i64..5_000_000_000_000i64,
            prop::sample::select(actions),
            "[a-c]{0,2}|.*",
        ),
        (
            proptest::option::of(".*"),
            proptest::option::of(".*"),
            proptest::option::of(".*"),
        ),
        (
            proptest::option::of(any::<f64>()),
            proptest::option::of(any::<f64>()),
            proptest::option::of(".*"),
        ),
    )
        .prop_map(
            |((id, ms, action, actor), (object, title, body), (lat, lon, country))| {
                let time = DateTime::from_timestamp_millis(ms).unwrap_or_else(t0);
                let mut e = ev(id, time, &action, &actor);
                e.content = Some(Content {
                    object_id: object,
                    title,
                    body: body.clone(),
                    ..Content::default()
                });
                e.location = Some(Location {
                    latitude: lat,
                    longitude: lon,
                    country_name: country,
                    geo: body,
                    ..Location::default()
                });
                e.context = vec![Entity {
                    id: None,
                    kind: None,
                    attributes: json!({"query": "token"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                }];
                e
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn observe_never_panics_and_is_deterministic(events in prop::collection::vec(arb_event(), 0..60)) {
        let tuning = Tuning::default();
        let mut a = detector(&tuning);
        let mut b = detector(&tuning);
        for e in &events {
            let x = a.observe(e);
            let y = b.observe(e);
            prop_assert_eq!(x, y);
        }
        prop_assert_eq!(a.save_state(), b.save_state());
    }
}

/// A secret in a field other than the content's text (a message, an actor's name, an entity attribute, an
/// unknown field) is as leaked as one in a body: it raises `sensitive-content`, grouped by object (or
/// container) and fingerprint, whether the detector scans the event itself or takes what `redact_event`
/// found; once redacted, nothing the draft carries holds it.
#[test]
fn secrets_outside_content_raise_and_never_reach_the_draft() {
    let key = "AKIAZ7QK3M4N5P6R7S8T";
    let event = || {
        let mut e = with_query(ev("a1", t0(), "org_admin_role_granted", "u1"), "grant");
        e.message = Some(Message {
            content: Some(format!("granted with {key}")),
            format: None,
        });
        e.actor.name = Some(format!("Ana {key}"));
        e.extra.insert(
            "attributes.note".into(),
            json!({"deep": [format!("k={key}")]}),
        );
        e
    };
    // Scanned by `observe` itself.
    let mut d = Detector::new(&Tuning::default(), KEY).unwrap();
    let drafts = d.observe(&event());
    let content: Vec<&AlertDraft> = drafts
        .iter()
        .filter(|d| d.detection.as_str() == "sensitive-content")
        .collect();
    assert_eq!(content.len(), 1, "one secret, one alert: {drafts:?}");
    let fields: Vec<&str> = content[0]
        .matches
        .iter()
        .map(|m| m.field.as_str())
        .collect();
    assert_eq!(fields, ["message", "actor.name", "extra.deep"]);
    assert!(
        content[0]
            .group_key
            .ends_with(&content[0].matches[0].fingerprint)
    );
    assert!(
        content[0]
            .subject
            .as_deref()
            .is_some_and(|s| s.starts_with("org_admin_role_granted:") && !s.contains(key))
    );

    // Redacted first: the same alerts, and not a trace of the key in any draft or in the event.
    let mut d = Detector::new(&Tuning::default(), KEY).unwrap();
    let mut e = event();
    assert_eq!(d.redact_event(&mut e), 3);
    let redacted = d.observe(&e);
    assert_eq!(redacted.len(), drafts.len());
    assert_eq!(
        redacted
            .iter()
            .filter(|d| d.detection.as_str() == "sensitive-content")
            .map(|d| d.group_key.clone())
            .collect::<Vec<_>>(),
        vec![content[0].group_key.clone()]
    );
    assert!(!format!("{redacted:?}{e:?}").contains(key));
    assert!(format!("{e:?}").contains("AKIA…[aws-access-key-id, 20 chars]"));

    // A read raises nothing (each reader would re-raise it), but is redacted all the same.
    let mut view = event();
    view.action = "page_viewed".into();
    view.id = "v1".into();
    assert_eq!(d.redact_event(&mut view), 3);
    assert!(d.observe(&view).is_empty());
}

/// Outside the content's text only secrets count: a custom term in an actor's name or a site is not content.
#[test]
fn custom_terms_are_read_in_content_only() {
    let mut t = Tuning::default();
    t.custom.push(CustomDetection {
        name: "Project Falcon".into(),
        terms: vec!["falcon".into()],
        regex: None,
        severity: Severity::High,
        enabled: true,
    });
    let mut d = Detector::new(&t, KEY).unwrap();
    let mut e = ev("e1", t0(), "user_login", "u1");
    e.actor.name = Some("Falcon team lead".into());
    assert!(d.observe(&e).is_empty());
    let mut e = with_object(ev("e2", t0(), "page_created", "u1"), "p1");
    if let Some(c) = e.content.as_mut() {
        c.body = Some("about falcon".into());
    }
    assert_eq!(d.observe(&e).len(), 1);
}
