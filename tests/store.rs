//! The store: persistence, dedupe, schema versions, alert paging through indexes, actor timelines.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use ulid::Ulid;
use vigil::model::{Alert, AlertActor, AlertStatus, AuditEvent, DetectionId, Severity};
use vigil::store::{AlertFilter, Store, StoreError};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn ev(id: &str, secs: i64, actor: &str) -> AuditEvent {
    common::audit_event(id, t0() + TimeDelta::seconds(secs), actor)
}

fn alert(i: u64, status: AlertStatus, severity: Severity, det: &str, actor: &str) -> Alert {
    let mut a = common::alert(i, t0() + TimeDelta::seconds(i as i64));
    a.status = status;
    a.severity = severity;
    a.detection = DetectionId(det.to_string());
    a.actor = AlertActor {
        id: actor.to_string(),
        name: Some(format!("Name {actor}")),
        ..Default::default()
    };
    a.group_key = format!("{det}|{actor}|{i}");
    a
}

#[test]
fn events_persist_across_restart_and_dedupe() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        let out = s
            .insert_events(&[ev("a", 1, "u1"), ev("b", 2, "u1"), ev("a", 1, "u1")])
            .unwrap();
        assert_eq!((out.new, out.duplicates), (2, 1));
        assert_eq!(out.stored, vec![true, true, false]);
        s.flush().unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.event_count(), 2);
    let out = s
        .insert_events(&[ev("b", 2, "u1"), ev("c", 3, "u2")])
        .unwrap();
    assert_eq!((out.new, out.duplicates), (1, 1));
    let all = s
        .events_between(t0(), t0() + TimeDelta::hours(1), 100)
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

#[test]
fn same_id_different_time_is_a_different_key_but_same_time_same_id_dedupes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    // Two distinct ids at the same millisecond both survive.
    let out = s
        .insert_events(&[ev("x", 5, "u"), ev("y", 5, "u")])
        .unwrap();
    assert_eq!(out.new, 2);
}

#[test]
fn newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.force_schema_version(99).unwrap();
    }
    let err = Store::open(dir.path()).err().expect("must refuse");
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }));
    assert!(err.to_string().contains(&format!(
        "schema version 99, newer than this vigil understands ({}); upgrade vigil",
        vigil::store::SCHEMA_VERSION
    )));
}

#[test]
fn older_schema_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.insert_events(&[ev("a", 1, "u")]).unwrap();
        s.force_schema_version(0).unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.event_count(), 1);
}

#[test]
fn same_process_second_open_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _a = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).err().expect("locked");
    assert!(
        err.to_string()
            .contains("is in use by another vigil process (pid"),
        "{err}"
    );
}

#[test]
fn actor_timeline_pages_around_a_moment() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut evs = Vec::new();
    for i in 0..100 {
        evs.push(ev(&format!("a{i}"), i * 10, "ana"));
        evs.push(ev(&format!("b{i}"), i * 10 + 1, "bob"));
    }
    s.insert_events(&evs).unwrap();
    let tl = s
        .actor_timeline("ana", t0() + TimeDelta::seconds(500), 3, 2)
        .unwrap();
    assert_eq!(
        tl.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["a48", "a49", "a50", "a51", "a52"]
    );
    assert!(tl.windows(2).all(|w| w[0].time <= w[1].time));
    let span = s
        .actor_events_between("bob", t0(), t0() + TimeDelta::seconds(30), 100)
        .unwrap();
    assert_eq!(span.len(), 3);
    assert!(s.actor_timeline("nobody", t0(), 10, 10).unwrap().is_empty());
}

#[test]
fn alerts_page_uses_filters_cursor_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut alerts = Vec::new();
    for i in 0..200u64 {
        let status = AlertStatus::ALL[(i % 4) as usize];
        let sev = Severity::ALL[((i / 4) % 4) as usize];
        let det = if i % 3 == 0 {
            "page-crawling"
        } else {
            "bulk-export"
        };
        alerts.push(alert(
            i,
            status,
            sev,
            det,
            if i % 5 == 0 { "ana" } else { "bob" },
        ));
    }
    s.save_alerts(&alerts).unwrap();
    let counts = s.status_counts();
    assert_eq!((counts.open, counts.total()), (50, 200));

    // Newest first, paged with a cursor, no duplicates, nothing missed.
    let filter = AlertFilter {
        statuses: vec![AlertStatus::Open],
        min_severity: Some(Severity::High),
        ..Default::default()
    };
    let expected: Vec<Ulid> = {
        let mut v: Vec<&Alert> = alerts.iter().filter(|a| filter.matches(a)).collect();
        v.sort_by_key(|a| std::cmp::Reverse(a.id));
        v.iter().map(|a| a.id).collect()
    };
    assert!(!expected.is_empty());
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.alerts_page(&filter, cursor, 7).unwrap();
        got.extend(page.alerts.iter().map(|a| a.id));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got, expected);

    for f in [
        AlertFilter {
            actor: Some("ana".into()),
            ..Default::default()
        },
        AlertFilter {
            actor: Some("NAME ANA".into()),
            ..Default::default()
        },
        AlertFilter {
            detection: Some("page-crawling".into()),
            statuses: vec![AlertStatus::Expected],
            ..Default::default()
        },
        AlertFilter {
            since: Some(t0() + TimeDelta::seconds(50)),
            until: Some(t0() + TimeDelta::seconds(60)),
            ..Default::default()
        },
        AlertFilter {
            text: Some("alert 19".into()),
            ..Default::default()
        },
        AlertFilter {
            ascending: true,
            min_severity: Some(Severity::Critical),
            ..Default::default()
        },
    ] {
        let page = s.alerts_page(&f, None, 1000).unwrap();
        let mut want: Vec<&Alert> = alerts.iter().filter(|a| f.matches(a)).collect();
        want.sort_by_key(|a| a.id);
        if !f.ascending {
            want.reverse();
        }
        assert!(!want.is_empty(), "{f:?}");
        assert_eq!(
            page.alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
            want.iter().map(|a| a.id).collect::<Vec<_>>(),
            "{f:?}"
        );
    }
}

#[test]
fn status_change_moves_the_index_and_counters_and_checks_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let a = alert(1, AlertStatus::Open, Severity::High, "d", "ana");
    s.save_alerts(std::slice::from_ref(&a)).unwrap();
    let changed = s
        .update_alert(a.id, Some(1), |x| x.status = AlertStatus::Acknowledged)
        .unwrap();
    assert_eq!(changed.version, 2);
    assert_eq!(s.status_counts().open, 0);
    assert_eq!(s.status_counts().acknowledged, 1);
    let open = AlertFilter {
        statuses: vec![AlertStatus::Open],
        ..Default::default()
    };
    assert!(s.alerts_page(&open, None, 10).unwrap().alerts.is_empty());
    let stale = s.update_alert(a.id, Some(1), |x| x.status = AlertStatus::Expected);
    assert!(matches!(
        stale,
        Err(StoreError::Conflict {
            found: 2,
            expected: 1,
            ..
        })
    ));
    assert_eq!(s.latest_in_group(&a.group_key).unwrap().unwrap().id, a.id);
}

#[test]
fn retention_deletes_old_events_and_their_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.insert_events(&[ev("old", 1, "ana"), ev("new", 100_000, "ana")])
        .unwrap();
    assert_eq!(
        s.delete_events_before(t0() + TimeDelta::seconds(10))
            .unwrap(),
        1
    );
    assert_eq!(s.event_count(), 1);
    let tl = s
        .actor_timeline("ana", t0() + TimeDelta::days(10), 10, 10)
        .unwrap();
    assert_eq!(tl.len(), 1);
}

#[test]
fn alerts_page_by_severity_pages_the_whole_store_in_severity_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let alerts: Vec<Alert> = (0..150u64)
        .map(|i| {
            alert(
                i,
                AlertStatus::ALL[(i % 3) as usize],
                Severity::ALL[((i * 7) % 4) as usize],
                "d",
                if i % 2 == 0 { "ana" } else { "bob" },
            )
        })
        .collect();
    s.save_alerts(&alerts).unwrap();
    for f in [
        AlertFilter {
            by_severity: true,
            ..Default::default()
        },
        AlertFilter {
            by_severity: true,
            statuses: vec![AlertStatus::Open, AlertStatus::Expected],
            ..Default::default()
        },
        AlertFilter {
            by_severity: true,
            min_severity: Some(Severity::Medium),
            actor: Some("ana".into()),
            ..Default::default()
        },
        AlertFilter {
            by_severity: true,
            ascending: true,
            ..Default::default()
        },
    ] {
        let mut want: Vec<&Alert> = alerts.iter().filter(|a| f.matches(a)).collect();
        want.sort_by_key(|a| (a.severity, a.id));
        if !f.ascending {
            want.reverse();
        }
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let page = s.alerts_page(&f, cursor, 7).unwrap();
            assert!(page.alerts.len() <= 7);
            got.extend(page.alerts.iter().map(|a| a.id));
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got, want.iter().map(|a| a.id).collect::<Vec<_>>(), "{f:?}");
    }
}

#[test]
fn schema_1_and_2_stores_are_packed_into_runs_and_blocks_on_open() {
    for (from, json) in [(1, true), (2, false)] {
        let dir = tempfile::tempdir().unwrap();
        let alerts: Vec<Alert> = (0..300u64)
            .map(|i| {
                alert(
                    i,
                    AlertStatus::ALL[(i % 4) as usize],
                    Severity::ALL[(i % 4) as usize],
                    "bulk-export",
                    if i % 3 == 0 { "ana" } else { "bob" },
                )
            })
            .collect();
        // Two days of events for two actors, one of them out of order.
        let mut events: Vec<AuditEvent> = (0..500)
            .map(|i| {
                ev(
                    &format!("e{i}"),
                    i * 400,
                    if i % 2 == 0 { "ana" } else { "bob" },
                )
            })
            .collect();
        events.swap(3, 400);
        {
            let s = Store::open(dir.path()).unwrap();
            s.put_legacy_events(&events).unwrap();
            s.put_legacy_alerts(&alerts, json).unwrap();
            s.force_schema_version(from).unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.event_count(), 500);
        assert_eq!(s.status_counts().total(), 300);
        assert_eq!(s.status_counts().open, 75);
        let a = &alerts[7];
        assert_eq!(s.alert(a.id).unwrap().as_ref(), Some(a));
        let raw = s.raw_alert(a.id).unwrap().unwrap();
        assert_ne!(raw.first(), Some(&b'{'), "migrated to the binary encoding");
        let ana = s
            .alerts_page(
                &AlertFilter {
                    actor: Some("ana".into()),
                    ..Default::default()
                },
                None,
                1000,
            )
            .unwrap();
        assert_eq!(ana.alerts.len(), 100);
        // Every event is there, each actor's in time order, and none is new to the dedupe.
        let tl = s
            .actor_timeline("ana", t0() + TimeDelta::days(30), 1000, 0)
            .unwrap();
        assert_eq!(tl.len(), 250);
        assert!(tl.windows(2).all(|w| w[0].time <= w[1].time));
        let again = s.insert_events(&events).unwrap();
        assert_eq!(
            (again.new, again.duplicates),
            (0, 500),
            "from schema {from}"
        );
        assert_eq!(
            s.last_event_time().unwrap(),
            Some(t0() + TimeDelta::seconds(499 * 400))
        );
        // Rebuilt beside the old database, which is gone.
        assert!(!dir.path().join("db.old").exists());
        assert!(!dir.path().join("db.migrating").exists());
    }
}

/// A crash during a rebuild leaves one of three states; the next open finishes or undoes it and loses nothing.
#[test]
fn an_interrupted_rebuild_is_finished_or_undone_on_open() {
    let events: Vec<AuditEvent> = (0..50).map(|i| ev(&format!("e{i}"), i, "ana")).collect();
    let legacy = |dir: &std::path::Path| {
        let s = Store::open(dir).unwrap();
        s.put_legacy_events(&events).unwrap();
        s.force_schema_version(2).unwrap();
    };
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                continue;
            }
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
        let blobs = to.join("blobs");
        std::fs::create_dir_all(blobs).unwrap();
    };
    // Crashed while copying: a half-written db.migrating beside the old db.
    let a = tempfile::tempdir().unwrap();
    legacy(a.path());
    std::fs::create_dir_all(a.path().join("db.migrating")).unwrap();
    std::fs::write(a.path().join("db.migrating/junk"), b"half").unwrap();
    // Crashed between the renames: a finished new db and the old one moved away.
    let b = tempfile::tempdir().unwrap();
    {
        let done = tempfile::tempdir().unwrap();
        legacy(done.path());
        drop(Store::open(done.path()).unwrap());
        legacy(b.path());
        std::fs::rename(b.path().join("db"), b.path().join("db.old")).unwrap();
        copy(&done.path().join("db"), &b.path().join("db.migrating"));
    }
    // Crashed before deleting the old db.
    let c = tempfile::tempdir().unwrap();
    legacy(c.path());
    drop(Store::open(c.path()).unwrap());
    std::fs::create_dir_all(c.path().join("db.old")).unwrap();
    for dir in [a.path(), b.path(), c.path()] {
        let s = Store::open(dir).unwrap();
        assert_eq!(s.event_count(), 50, "{}", dir.display());
        let tl = s
            .actor_timeline("ana", t0() + TimeDelta::days(1), 100, 0)
            .unwrap();
        assert_eq!(tl.len(), 50, "{}", dir.display());
        assert!(!dir.join("db.old").exists() && !dir.join("db.migrating").exists());
    }
}

/// Two writers changing one alert at once (the pipeline growing it, an analyst noting it) never lose each
/// other's change: each read-change-write is one step under the store's alert lock.
#[test]
fn concurrent_changes_to_one_alert_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let a = alert(1, AlertStatus::Open, Severity::High, "page-crawling", "ana");
    s.save_alerts(std::slice::from_ref(&a)).unwrap();
    let (s1, s2) = (s.clone(), s.clone());
    let grower = std::thread::spawn(move || {
        for _ in 0..300 {
            s1.modify_alerts(&[a.id], |x| {
                x.count += 1;
                x.version += 1;
                Ok(true)
            })
            .unwrap();
        }
    });
    let analyst = std::thread::spawn(move || {
        for i in 0..300 {
            s2.update_alert(a.id, None, |x| {
                x.notes.push(vigil::model::Note {
                    author: "ana".into(),
                    time: t0(),
                    text: format!("note {i}"),
                })
            })
            .unwrap();
        }
    });
    grower.join().unwrap();
    analyst.join().unwrap();
    let got = s.alert(a.id).unwrap().unwrap();
    assert_eq!(got.count, a.count + 300);
    assert_eq!(got.notes.len(), 300);
    assert_eq!(got.version, a.version + 600);
}

/// Retention deletes what it archived and nothing newer: an alert changed since it was read stays.
#[test]
fn delete_at_version_keeps_an_alert_changed_since() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let a = alert(1, AlertStatus::Open, Severity::High, "page-crawling", "ana");
    let b = alert(2, AlertStatus::Open, Severity::High, "page-crawling", "bob");
    s.save_alerts(&[a.clone(), b.clone()]).unwrap();
    let read = [(a.id, a.version), (b.id, b.version)];
    s.update_alert(b.id, None, |x| x.status = AlertStatus::Acknowledged)
        .unwrap();
    assert_eq!(s.delete_alerts_at(&read).unwrap(), 1);
    assert!(s.alert(a.id).unwrap().is_none());
    assert_eq!(
        s.alert(b.id).unwrap().unwrap().status,
        AlertStatus::Acknowledged
    );
    assert_eq!(s.status_counts().total(), 1);
}

/// Generated events of realistic shape and size (~1 KB), parsed as the pipeline parses them.
fn generated(n: u64) -> Vec<AuditEvent> {
    let opts = vigil::generate::GenerateOptions {
        events: n,
        ..Default::default()
    };
    let mut out = Vec::new();
    vigil::generate::write_jsonl(&opts, &mut out).unwrap();
    let mut reader = vigil::ingest::Reader::new(out.as_slice());
    let mut events = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        if let vigil::ingest::Record::Event(e) = r {
            events.push(*e);
        }
    }
    events
}

/// Schema 3 (final runs in lz4) or 4 (runs with the fixed-size directory) → 5: every run re-sealed in zstd
/// with a dictionary trained on the store's own runs and a compact directory, every event still there, in
/// order and known to the dedupe, and the store smaller.
#[test]
fn schema_3_and_4_stores_are_migrated_to_compact_zstd_runs_with_a_dictionary() {
    for from in [3, 4] {
        migrated_from(from);
    }
}

fn migrated_from(from: u32) {
    let dir = tempfile::tempdir().unwrap();
    let events = generated(6_000);
    let before;
    {
        let s = Store::open(dir.path()).unwrap();
        s.put_schema3_events(&events).unwrap();
        s.force_schema_version(from).unwrap();
        before = s.live_bytes().unwrap();
        assert!(s.fixed_layout_runs().unwrap() > 0);
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.event_count(), 6_000);
    assert_eq!(s.fixed_layout_runs().unwrap(), 0, "from schema {from}");
    let after = s.live_bytes().unwrap();
    assert!(
        after * 2 < before,
        "zstd with a dictionary holds the same runs in under half of lz4's bytes: {after} vs {before}"
    );
    // A busy actor's runs are final, and name the store's dictionary.
    let mut per_actor = std::collections::HashMap::<&str, usize>::new();
    for e in &events {
        *per_actor.entry(e.actor.id.as_str()).or_default() += 1;
    }
    let (busy, _) = per_actor.iter().max_by_key(|(_, n)| **n).unwrap();
    let last = events.iter().rfind(|e| e.actor.id == *busy).unwrap();
    let first = events.iter().find(|e| e.actor.id == *busy).unwrap();
    let dicts: Vec<Option<u32>> = [first, last]
        .iter()
        .map(|e| s.dict_of_run(&e.actor.id, e.time).unwrap())
        .collect();
    assert!(
        dicts.iter().flatten().any(|d| *d != 0),
        "runs use the trained dictionary: {dicts:?}"
    );
    // Every event reads back, each actor's in time order, and none is new to the dedupe.
    let tl = s
        .actor_timeline(busy, last.time + TimeDelta::days(1), 100_000, 0)
        .unwrap();
    assert_eq!(tl.len(), per_actor[busy]);
    assert!(tl.windows(2).all(|w| w[0].time <= w[1].time));
    assert!(tl.iter().any(|e| e == last), "bodies read back whole");
    let again = s.insert_events(&events).unwrap();
    assert_eq!((again.new, again.duplicates), (0, 6_000));
    // Reopened: the dictionary comes back from the store (runs name it).
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    let tl2 = s
        .actor_timeline(busy, last.time + TimeDelta::days(1), 100_000, 0)
        .unwrap();
    assert_eq!(tl2, tl);
}

/// Schema 6 only added the tail space, so a schema-5 store opens as it is: stamped, not rebuilt (a rebuild
/// of a 10M-event store takes a minute), every event readable and known to the dedupe, and new events go in.
#[test]
fn a_schema_5_store_is_stamped_not_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let events = generated(3_000);
    let (first, rest) = events.split_at(2_000);
    {
        let s = Store::open(dir.path()).unwrap();
        // Runs with the fixed-size directory: a rebuild would re-seal every one of them.
        s.put_schema3_events(first).unwrap();
        s.force_schema_version(5).unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert!(s.fixed_layout_runs().unwrap() > 0, "not rebuilt");
    let stamped = s.meta_get("schema_version").unwrap().unwrap();
    assert_eq!(stamped, vigil::store::SCHEMA_VERSION.to_be_bytes());
    assert_eq!(s.insert_events(first).unwrap().new, 0);
    for chunk in rest.chunks(100) {
        assert_eq!(s.insert_events(chunk).unwrap().new, chunk.len() as u64);
    }
    assert_eq!(s.event_count(), 3_000);
    let actor = &events[0].actor.id;
    let mine: Vec<&AuditEvent> = events.iter().filter(|e| &e.actor.id == actor).collect();
    let tl = s
        .actor_timeline(actor, mine.last().unwrap().time, 100_000, 0)
        .unwrap();
    assert_eq!(tl.len(), mine.len());
    assert!(tl.iter().zip(&mine).all(|(a, b)| a == *b));
}

/// A store that has churned (a month ingested, then most of it aged out) gives its space back on `compact`,
/// and every remaining event and alert reads back the same.
#[test]
fn compact_gives_back_churned_space_and_keeps_every_remaining_record() {
    let dir = tempfile::tempdir().unwrap();
    let events = generated(8_000);
    let s = Store::open(dir.path()).unwrap();
    for chunk in events.chunks(500) {
        s.insert_events(chunk).unwrap();
    }
    let alerts: Vec<Alert> = (0..200)
        .map(|i| alert(i, AlertStatus::Open, Severity::High, "bulk-export", "ana"))
        .collect();
    s.save_alerts(&alerts).unwrap();
    s.flush().unwrap();
    // Age out everything before the last few days.
    let newest = events.iter().map(|e| e.time).max().unwrap();
    let cut = newest - TimeDelta::days(3);
    let dropped = s.delete_events_before(cut).unwrap();
    assert!(dropped > 0);
    s.flush().unwrap();
    let kept: Vec<&AuditEvent> = events.iter().filter(|e| e.time >= cut).collect();
    assert_eq!(s.event_count(), kept.len() as u64);
    let before_live = s.live_bytes().unwrap();

    let (s, before, after) = s.compact(vigil::store::StoreOptions::default()).unwrap();
    assert!(after < before, "space came back: {before} → {after}");
    assert!(s.live_bytes().unwrap() <= before_live, "nothing grew");
    assert_eq!(s.event_count(), kept.len() as u64);
    assert_eq!(s.status_counts().total(), 200);
    for a in alerts.iter().step_by(17) {
        assert_eq!(s.alert(a.id).unwrap().as_ref(), Some(a));
    }
    // Every remaining event reads back, and the dedupe still knows each one.
    let mut actors: Vec<&str> = kept.iter().map(|e| e.actor.id.as_str()).collect();
    actors.sort_unstable();
    actors.dedup();
    let mut read = 0;
    for a in &actors {
        let tl = s
            .actor_timeline(a, newest + TimeDelta::days(1), 100_000, 0)
            .unwrap();
        assert!(tl.windows(2).all(|w| w[0].time <= w[1].time));
        read += tl.len();
    }
    assert_eq!(read, kept.len());
    let again = s
        .insert_events(&kept.iter().map(|e| (*e).clone()).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(again.new, 0);
    // A compacted store reopens as any other.
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.event_count(), kept.len() as u64);
    assert!(!dir.path().join("db.old").exists() && !dir.path().join("db.migrating").exists());
}

/// The small runs a quiet actor-day leaves are packed together and compressed once sealed; nothing reads back
/// differently, and an event arriving later for that actor-day still merges in.
#[test]
fn sealing_small_runs_compresses_them_and_keeps_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let events = generated(4_000);
    for chunk in events.chunks(250) {
        s.insert_events(chunk).unwrap();
    }
    s.flush().unwrap();
    let [plain, lz4, ..] = s.run_formats().unwrap();
    assert!(plain.0 + lz4.0 > 0, "a stream leaves small runs");
    let small_in_a_row = |s: &Store| {
        let runs = s.run_sizes().unwrap();
        runs.windows(2)
            .filter(|w| w[0].0 == w[1].0 && w[0].1 && w[1].1)
            .count()
    };
    assert!(small_in_a_row(&s) > 0, "small runs wait beside each other");
    let runs = s.run_sizes().unwrap();
    assert!(
        runs.iter().any(|r| r.2),
        "a stream's small runs wait in the tail space"
    );
    assert!(
        runs.iter().all(|r| r.2 == r.1),
        "the tail space holds only small runs, the final space only full ones"
    );
    let live = s.live_bytes().unwrap();
    let sealed = s.seal_small_runs(None).unwrap();
    s.flush().unwrap();
    assert!(sealed >= plain.0 + lz4.0);
    let [plain, lz4, ..] = s.run_formats().unwrap();
    assert_eq!((plain.0, lz4.0), (0, 0));
    assert_eq!(
        small_in_a_row(&s),
        0,
        "an actor-day's small runs are packed together"
    );
    assert!(
        s.run_sizes().unwrap().iter().all(|r| !r.2),
        "sealing empties the tail space"
    );
    assert!(s.live_bytes().unwrap() < live);
    assert_eq!(
        s.seal_small_runs(None).unwrap(),
        0,
        "nothing is left to seal"
    );
    // Everything reads back as it went in.
    let actor = &events[0].actor.id;
    let mine: Vec<&AuditEvent> = events.iter().filter(|e| &e.actor.id == actor).collect();
    let end = mine.last().unwrap().time + TimeDelta::days(1);
    let tl = s.actor_timeline(actor, end, 100_000, 0).unwrap();
    assert_eq!(tl.len(), mine.len());
    assert!(tl.iter().zip(&mine).all(|(a, b)| a == *b));
    // A late event for a sealed actor-day merges into its runs.
    let mut late = (*mine[0]).clone();
    late.id = "late-one".into();
    late.time += TimeDelta::milliseconds(1);
    assert_eq!(s.insert_events(&[late.clone()]).unwrap().new, 1);
    let tl = s.actor_timeline(actor, end, 100_000, 0).unwrap();
    assert_eq!(tl.len(), mine.len() + 1);
    assert!(tl.contains(&late));
    assert!(tl.windows(2).all(|w| w[0].time <= w[1].time));
    assert_eq!(
        s.insert_events(&events).unwrap().new,
        0,
        "the dedupe knows them all"
    );
}

/// A dense time-ordered stream, as a bulk ingest of a big organization brings it: each batch holds one or two
/// events of each of many people. Written batch by batch, each batch puts a small run per person in the tail
/// (sealed, so written again, later); with held writes, most events go straight into full runs, and what is
/// read back is the same.
#[test]
fn held_writes_put_a_dense_stream_into_full_runs() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plain = Store::open(da.path()).unwrap();
    let held = Store::open(db.path()).unwrap();
    held.hold_writes(true).unwrap();
    let actors: Vec<String> = (0..60).map(|i| format!("person-{i}")).collect();
    let mut secs = 0;
    for batch_no in 0..40 {
        let mut batch = Vec::new();
        for round in 0..2 {
            for a in &actors {
                secs += 1;
                let mut e = ev(&format!("b{batch_no}-{round}-{a}"), secs, a);
                e.extra
                    .insert("pad".into(), serde_json::Value::String("x".repeat(700)));
                batch.push(e);
            }
        }
        assert_eq!(plain.insert_events(&batch).unwrap().new, 120);
        assert_eq!(held.insert_events(&batch).unwrap().new, 120);
        // Held events are found by the dedupe check before they are written.
        assert_eq!(held.insert_events(&batch[..10]).unwrap().new, 0);
    }
    held.hold_writes(false).unwrap();
    let (p, h) = (plain.run_writes(), held.run_writes());
    // A small run per batch and person, but for the batches that fill a run (sealed with the tail at once).
    assert!(p.small >= 30 * 60, "{p:?}");
    assert!(
        h.small * 10 < p.small,
        "held writes still wrote {h:?} against {p:?}"
    );
    assert_eq!(held.event_count(), 4800);
    assert_eq!(plain.event_count(), 4800);
    let at = t0() + TimeDelta::seconds(secs / 2);
    for a in &actors {
        let ids = |s: &Store| -> Vec<String> {
            s.actor_timeline(a, at, 1000, 1000)
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(ids(&held), ids(&plain), "{a}");
        assert_eq!(ids(&held).len(), 80);
    }
}
