//! The packed store layouts (event runs, alert blocks and posting lists) against a plain in-memory model:
//! random events in random batches (late ones, duplicates, several days, several actors) and random alert
//! writes, status changes and deletes, big enough that runs merge, blocks and lists split. Whatever the
//! layout does inside, what comes out must be what went in.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ulid::Ulid;
use vigil::model::{Alert, AlertActor, AlertStatus, AuditEvent, DetectionId, Severity};
use vigil::store::{AlertFilter, Store};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T22:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn ev(id: &str, ms: i64, actor: &str, pad: usize) -> AuditEvent {
    let mut e = common::audit_event(id, t0() + TimeDelta::milliseconds(ms), actor);
    e.extra
        .insert("pad".into(), serde_json::Value::String("x".repeat(pad)));
    e
}

/// Model of the event side: (actor, time, id) → stored.
type Model = BTreeSet<(String, i64, String)>;

fn timeline_model(m: &Model, actor: &str, around: i64, before: usize, after: usize) -> Vec<String> {
    let mine: Vec<&(String, i64, String)> = m.iter().filter(|e| e.0 == actor).collect();
    let older: Vec<&&(String, i64, String)> = mine.iter().filter(|e| e.1 <= around).collect();
    let newer: Vec<&&(String, i64, String)> = mine.iter().filter(|e| e.1 > around).collect();
    let mut out: Vec<String> = older[older.len().saturating_sub(before)..]
        .iter()
        .map(|e| e.2.clone())
        .collect();
    out.extend(newer.iter().take(after).map(|e| e.2.clone()));
    out
}

fn key_of(e: &AuditEvent) -> (String, i64, String) {
    (
        e.actor.id.clone(),
        e.time_ms() - t0().timestamp_millis(),
        e.id.clone(),
    )
}

/// The ids of an actor's timeline around `around` (ms after [`t0`]).
fn timeline_ids(s: &Store, actor: &str, around: i64, before: usize, after: usize) -> Vec<String> {
    let at = t0()
        .checked_add_signed(TimeDelta::milliseconds(around))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    s.actor_timeline(actor, at, before, after)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// Insert a batch and check that exactly the events the model lacks were new.
fn insert_checked(s: &Store, batch: &[AuditEvent], model: &mut Model, seed: u64) {
    let out = s.insert_events(batch).unwrap();
    for (e, stored) in batch.iter().zip(&out.stored) {
        let k = key_of(e);
        assert_eq!(*stored, !model.contains(&k), "seed {seed}: dedupe of {k:?}");
        model.insert(k);
    }
}

fn run_events_case(seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    // Held writes (what a bulk ingest does) on for some cases from the start.
    s.hold_writes(rng.random_bool(0.5)).unwrap();
    let mut model = Model::new();
    let actors = ["ana", "bob", "cy", "dee"];
    let mut clock = 0i64;
    let mut all: Vec<AuditEvent> = Vec::new();
    for batch_no in 0..40 {
        let n = rng.random_range(1..120);
        let mut batch = Vec::new();
        for _ in 0..n {
            let late = rng.random_bool(0.1);
            let ms = if late && clock > 0 {
                rng.random_range(0..clock)
            } else {
                clock += rng.random_range(0..600_000);
                clock
            };
            // Replays of earlier events, and same-millisecond ties.
            let e = if rng.random_bool(0.08) && !all.is_empty() {
                all[rng.random_range(0..all.len())].clone()
            } else {
                let a = actors[rng.random_range(0..actors.len())];
                ev(
                    &format!("e{batch_no}-{}", batch.len()),
                    ms,
                    a,
                    rng.random_range(0..1500),
                )
            };
            batch.push(e);
        }
        insert_checked(&s, &batch, &mut model, seed);
        all.extend(batch);
        // Sealing mid-stream (what a running engine does for past days) moves tails into the final space.
        if rng.random_bool(0.1) {
            s.seal_small_runs(None).unwrap();
        }
        toggle_holding(&s, &mut rng);
        if batch_no == 20 {
            // Reopen halfway: the writer's memory of tails starts empty (a flush writes what it held).
            s.flush().unwrap();
            drop(s);
            let s2 = Store::open(dir.path()).unwrap();
            return continue_events_case(seed, rng, s2, model, all, clock, dir);
        }
    }
    unreachable!()
}

fn continue_events_case(
    seed: u64,
    mut rng: SmallRng,
    s: Store,
    mut model: Model,
    mut all: Vec<AuditEvent>,
    mut clock: i64,
    dir: tempfile::TempDir,
) {
    for batch_no in 21..40 {
        let mut batch = Vec::new();
        for i in 0..rng.random_range(1..80) {
            let ms = if rng.random_bool(0.15) {
                rng.random_range(0..clock.max(1))
            } else {
                clock += rng.random_range(0..900_000);
                clock
            };
            batch.push(ev(
                &format!("f{batch_no}-{i}"),
                ms,
                ["ana", "bob", "cy", "dee"][rng.random_range(0..4)],
                rng.random_range(0..3000),
            ));
        }
        if rng.random_bool(0.3) {
            batch.push(all[rng.random_range(0..all.len())].clone());
        }
        insert_checked(&s, &batch, &mut model, seed);
        all.extend(batch);
        if rng.random_bool(0.1) {
            s.seal_small_runs(None).unwrap();
        }
        toggle_holding(&s, &mut rng);
    }
    // Trickle: tiny batches of mixed sizes, the pattern that makes tails merge in cascades.
    for batch_no in 40..160 {
        let batch: Vec<AuditEvent> = (0..rng.random_range(1..6))
            .map(|i| {
                clock += rng.random_range(0..400_000);
                ev(
                    &format!("t{batch_no}-{i}"),
                    clock,
                    ["ana", "bob"][rng.random_range(0..2)],
                    [10, 200, 900, 2500][rng.random_range(0..4)],
                )
            })
            .collect();
        insert_checked(&s, &batch, &mut model, seed);
        all.extend(batch);
        if batch_no % 10 == 0 {
            toggle_holding(&s, &mut rng);
        }
    }
    // Everything again, in order: every event is a duplicate, held ones too (each insert plans afresh, so
    // only the store's own check can tell).
    for chunk in all.chunks(97) {
        let out = s.insert_events(chunk).unwrap();
        assert_eq!(
            out.new, 0,
            "seed {seed}: a stored event was not found again"
        );
    }
    // Reads see what is written: what was held goes in now.
    s.hold_writes(false).unwrap();
    assert_eq!(s.event_count(), model.len() as u64);
    for actor in ["ana", "bob", "cy", "dee"] {
        for _ in 0..15 {
            let around = rng.random_range(-1000..clock + 1000);
            let (before, after) = (rng.random_range(0..60), rng.random_range(0..60));
            assert_eq!(
                timeline_ids(&s, actor, around, before, after),
                timeline_model(&model, actor, around, before, after),
                "seed {seed}: timeline of {actor} around {around} ({before}/{after})"
            );
            let (from, to) = (around - 3_600_000 * 5, around + 3_600_000 * 7);
            let got: BTreeSet<String> = s
                .actor_events_between(
                    actor,
                    t0() + TimeDelta::milliseconds(from),
                    t0() + TimeDelta::milliseconds(to),
                    usize::MAX,
                )
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect();
            let want: BTreeSet<String> = model
                .iter()
                .filter(|e| e.0 == actor && (from..=to).contains(&e.1))
                .map(|e| e.2.clone())
                .collect();
            assert_eq!(got, want, "seed {seed}: {actor} between {from} and {to}");
        }
    }
    // Retention at a random cut, then everything still adds up; a reopen sees the same.
    let cut = rng.random_range(0..clock.max(1));
    let gone = s
        .delete_events_before(t0() + TimeDelta::milliseconds(cut))
        .unwrap();
    let before = model.len();
    model.retain(|e| e.1 >= cut);
    assert_eq!(
        gone as usize,
        before - model.len(),
        "seed {seed}: retention count"
    );
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.event_count(), model.len() as u64);
    for actor in ["ana", "bob", "cy", "dee"] {
        assert_eq!(
            timeline_ids(&s, actor, i64::MAX / 4, usize::MAX, 0),
            timeline_model(&model, actor, i64::MAX, usize::MAX, 0),
            "seed {seed}: {actor} after retention"
        );
    }
    // Late writes after retention still dedupe and land.
    let again: Vec<AuditEvent> = all.iter().rev().take(50).cloned().collect();
    insert_checked(&s, &again, &mut model, seed);
    assert_eq!(s.event_count(), model.len() as u64);
}

/// Turn held writes on or off at random, and now and then write what is held without turning it off.
fn toggle_holding(s: &Store, rng: &mut SmallRng) {
    if rng.random_bool(0.15) {
        s.hold_writes(rng.random_bool(0.6)).unwrap();
    }
    if rng.random_bool(0.05) {
        s.write_held().unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn event_runs_behave_like_a_set_of_events(seed: u64) {
        run_events_case(seed);
    }
}

fn mk_alert(rng: &mut SmallRng, i: u64) -> Alert {
    let mut a = common::alert(i, t0() + TimeDelta::seconds(rng.random_range(0..5_000_000)));
    a.id = Ulid::from_parts(a.id.timestamp_ms(), u128::from(i));
    a.status = AlertStatus::ALL[rng.random_range(0..4)];
    a.severity = Severity::ALL[rng.random_range(0..4)];
    a.detection = DetectionId(
        ["page-crawling", "bulk-export", "admin-granted"][rng.random_range(0..3)].into(),
    );
    let actor = ["ana", "bob", "cy"][rng.random_range(0..3)];
    a.actor = AlertActor {
        id: actor.into(),
        name: Some(format!("Name {actor}")),
        email: Some(format!("{actor}@example.com")),
        ..Default::default()
    };
    a.group_key = format!("g{}", rng.random_range(0..50));
    a.description = "d".repeat(rng.random_range(0..3000));
    a
}

fn pages(s: &Store, f: &AlertFilter, limit: usize) -> Vec<Ulid> {
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.alerts_page(f, cursor, limit).unwrap();
        assert!(page.alerts.len() <= limit);
        got.extend(page.alerts.iter().map(|a| a.id));
        match page.next {
            Some(c) => cursor = Some(c),
            None => return got,
        }
    }
}

#[test]
fn alert_blocks_and_lists_behave_like_a_map_of_alerts() {
    for seed in [1u64, 2, 3] {
        let mut rng = SmallRng::seed_from_u64(seed);
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut model: BTreeMap<Ulid, Alert> = BTreeMap::new();
        let mut next = 0u64;
        let mut deleted_groups = BTreeSet::new();
        for round in 0..30 {
            // New alerts in a batch (out of time order), changes to some, deletes of others.
            let batch: Vec<Alert> = (0..rng.random_range(1..150))
                .map(|_| {
                    next += 1;
                    mk_alert(&mut rng, next)
                })
                .collect();
            s.save_alerts(&batch).unwrap();
            model.extend(batch.into_iter().map(|a| (a.id, a)));
            let ids: Vec<Ulid> = model.keys().copied().collect();
            for _ in 0..rng.random_range(0..20) {
                let id = ids[rng.random_range(0..ids.len())];
                let st = AlertStatus::ALL[rng.random_range(0..4)];
                let a = s.update_alert(id, None, |a| a.status = st).unwrap();
                model.insert(id, a);
            }
            if round % 5 == 4 {
                let doomed: Vec<Ulid> = (0..rng.random_range(0..40))
                    .map(|_| ids[rng.random_range(0..ids.len())])
                    .collect();
                let unique: BTreeSet<Ulid> = doomed.iter().copied().collect();
                assert_eq!(s.delete_alerts(&doomed).unwrap(), unique.len() as u64);
                for id in unique {
                    if let Some(a) = model.remove(&id) {
                        deleted_groups.insert(a.group_key);
                    }
                }
            }
        }
        assert!(model.len() > 1000, "enough to split blocks and lists");
        let counts = s.status_counts();
        for st in AlertStatus::ALL {
            assert_eq!(
                counts.get(st),
                model.values().filter(|a| a.status == st).count() as u64
            );
        }
        for (id, a) in model.iter().step_by(37) {
            assert_eq!(s.alert(*id).unwrap().as_ref(), Some(a));
        }
        let mid = t0() + TimeDelta::seconds(2_500_000);
        let filters = [
            AlertFilter::default(),
            AlertFilter {
                ascending: true,
                ..Default::default()
            },
            AlertFilter {
                statuses: vec![AlertStatus::Open],
                min_severity: Some(Severity::High),
                ..Default::default()
            },
            AlertFilter {
                actor: Some("ana@example.com".into()),
                since: Some(mid),
                ..Default::default()
            },
            AlertFilter {
                detection: Some("bulk-export".into()),
                until: Some(mid),
                ascending: true,
                ..Default::default()
            },
            AlertFilter {
                by_severity: true,
                statuses: vec![AlertStatus::Acknowledged, AlertStatus::Expected],
                ..Default::default()
            },
        ];
        for f in &filters {
            let mut want: Vec<&Alert> = model.values().filter(|a| f.matches(a)).collect();
            if f.by_severity {
                want.sort_by_key(|a| (a.severity, a.id));
            } else {
                want.sort_by_key(|a| a.id);
            }
            if !f.ascending {
                want.reverse();
            }
            let want: Vec<Ulid> = want.iter().map(|a| a.id).collect();
            assert_eq!(pages(&s, f, 50), want, "seed {seed}: {f:?}");
        }
        // Grouping points at each group's newest alert. Deleting a group's newest (retention deletes the
        // oldest alerts, so in practice the whole group) forgets the group; any pointer left is a live alert of
        // that group.
        for g in 0..50 {
            let key = format!("g{g}");
            let got = s.latest_in_group(&key).unwrap().map(|a| a.id);
            if deleted_groups.contains(&key) {
                if let Some(id) = got {
                    assert_eq!(model[&id].group_key, key);
                }
                continue;
            }
            let newest = model
                .values()
                .filter(|a| a.group_key == key)
                .map(|a| a.id)
                .max();
            assert_eq!(got, newest, "seed {seed}: group {key}");
        }
    }
}

/// Input that arrives newest first (an API export, page after page) still packs into full runs, instead of
/// leaving one small run per actor and batch.
#[test]
fn newest_first_input_packs_into_few_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut events: Vec<AuditEvent> = (0..4000)
        .map(|i| {
            ev(
                &format!("r{i}"),
                i * 20_000,
                ["ana", "bob", "cy", "dee"][(i % 4) as usize],
                200,
            )
        })
        .collect();
    events.reverse();
    for chunk in events.chunks(50) {
        assert_eq!(s.insert_events(chunk).unwrap().new, chunk.len() as u64);
    }
    let ideal = vigil::store::event_runs(&events).len();
    let got = s.event_run_entries();
    assert!(got <= ideal * 2, "{got} runs for an ideal {ideal}");
    // And every event reads back in order.
    let tl = s
        .actor_timeline("ana", t0() + TimeDelta::days(30), usize::MAX, 0)
        .unwrap();
    assert_eq!(tl.len(), 1000);
    assert!(tl.windows(2).all(|w| w[0].time <= w[1].time));
}
