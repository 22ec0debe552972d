//! Alert retention: expired alerts are archived to monthly JSON-lines files in the store directory, then
//! deleted; nothing is deleted when the archive cannot be written.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use ulid::Ulid;
use vigil::config::Config;
use vigil::engine::retention::{ARCHIVE_DIR, ArchiveOutcome, SweepError, sweep_alerts};
use vigil::engine::{Engine, EngineOptions};
use vigil::model::{Alert, AlertStatus};
use vigil::store::Store;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The retention cutoff of these tests.
fn cutoff() -> DateTime<Utc> {
    at("2026-11-01T00:00:00Z")
}

/// Expired: September (the last second of it included) and October 2026, one of them acknowledged.
fn old_alerts() -> Vec<Alert> {
    let mut v = vec![
        common::alert(1, at("2026-09-03T10:00:00Z")),
        common::alert(2, at("2026-09-30T23:59:59Z")),
        common::alert(3, at("2026-10-01T00:00:00Z")),
        common::alert(4, at("2026-10-31T23:59:59.999Z")),
        common::alert(5, at("2026-10-15T12:00:00Z")),
    ];
    v[1].status = AlertStatus::Acknowledged;
    v
}

/// Kept: created at the cutoff or after.
fn new_alerts() -> Vec<Alert> {
    vec![
        common::alert(10, cutoff()),
        common::alert(11, at("2026-11-02T09:00:00Z")),
        common::alert(12, at("2026-12-24T18:00:00Z")),
    ]
}

fn store_with(dir: &Path, alerts: &[Alert]) -> Store {
    let store = Store::open(dir).unwrap();
    store.save_alerts(alerts).unwrap();
    store.flush().unwrap();
    store
}

fn archive(store: &Store, month: &str) -> PathBuf {
    store
        .dir()
        .join(ARCHIVE_DIR)
        .join(format!("alerts-{month}.jsonl"))
}

/// The archive file's lines, each parsed as a full alert.
fn archived(path: &Path) -> Vec<Alert> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn ids(alerts: &[Alert]) -> BTreeSet<Ulid> {
    alerts.iter().map(|a| a.id).collect()
}

#[test]
fn expired_alerts_are_archived_by_month_then_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (old_alerts(), new_alerts());
    let store = store_with(dir.path(), &[old.clone(), new.clone()].concat());
    assert_eq!(store.status_counts().total(), 8);

    // Chunks of 2 so that several chunks, and a chunk spanning two months, are exercised.
    let out = sweep_alerts(&store, cutoff(), 2).unwrap();
    let (sep, oct) = (archive(&store, "2026-09"), archive(&store, "2026-10"));
    assert_eq!(
        out,
        ArchiveOutcome {
            archived: 5,
            deleted: 5,
            files: BTreeSet::from([sep.clone(), oct.clone()]),
        }
    );

    // Exactly the expired alerts, each once, as full records, in the file of its `created` month.
    let (in_sep, in_oct) = (archived(&sep), archived(&oct));
    assert_eq!(ids(&in_sep), ids(&old[..2]));
    assert_eq!(ids(&in_oct), ids(&old[2..]));
    assert_eq!(in_sep.len() + in_oct.len(), 5);
    for a in in_sep.iter().chain(&in_oct) {
        let original = old.iter().find(|o| o.id == a.id).unwrap();
        assert_eq!(a, original);
    }
    let names: BTreeSet<String> = std::fs::read_dir(store.dir().join(ARCHIVE_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["alerts-2026-09.jsonl".into(), "alerts-2026-10.jsonl".into()])
    );

    // Gone from the store and its counters; the alert created at the cutoff and later ones stay.
    for a in &old {
        assert_eq!(store.alert(a.id).unwrap(), None, "{} deleted", a.title);
    }
    for a in &new {
        assert_eq!(
            store.alert(a.id).unwrap().as_ref(),
            Some(a),
            "{} kept",
            a.title
        );
    }
    let counts = store.status_counts();
    assert_eq!(
        (counts.total(), counts.open, counts.acknowledged),
        (3, 3, 0)
    );
    assert!(
        store
            .alerts_created_before(cutoff(), 10)
            .unwrap()
            .is_empty()
    );

    // A second sweep finds nothing more to archive and leaves the files alone.
    let (sep_before, oct_before) = (std::fs::read(&sep).unwrap(), std::fs::read(&oct).unwrap());
    assert_eq!(
        sweep_alerts(&store, cutoff(), 2).unwrap(),
        ArchiveOutcome::default()
    );
    assert_eq!(std::fs::read(&sep).unwrap(), sep_before);
    assert_eq!(std::fs::read(&oct).unwrap(), oct_before);

    // The deletion is durable.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.status_counts().total(), 3);
    assert_eq!(store.alert(old[0].id).unwrap(), None);
}

#[test]
fn later_sweeps_append_to_the_month_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &old_alerts());
    let oct = archive(&store, "2026-10");
    // A line cut short by an earlier crash: what follows starts on a line of its own.
    std::fs::create_dir(store.dir().join(ARCHIVE_DIR)).unwrap();
    std::fs::write(&oct, "{\"id\":\"cut sho").unwrap();

    let first = sweep_alerts(&store, at("2026-10-10T00:00:00Z"), 1000).unwrap();
    assert_eq!((first.archived, first.deleted), (3, 3));
    let second = sweep_alerts(&store, cutoff(), 1000).unwrap();
    assert_eq!((second.archived, second.deleted), (2, 2));
    assert_eq!(second.files, BTreeSet::from([oct.clone()]));

    let text = std::fs::read_to_string(&oct).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "{\"id\":\"cut sho");
    let rest: Vec<Ulid> = lines[1..]
        .iter()
        .map(|l| serde_json::from_str::<Alert>(l).unwrap().id)
        .collect();
    // Oldest first within a sweep, sweeps in order.
    let old = old_alerts();
    assert_eq!(rest, vec![old[2].id, old[4].id, old[3].id]);
    assert!(text.ends_with('\n'));
    assert_eq!(store.status_counts().total(), 0);
}

#[test]
fn unwritable_archive_deletes_nothing_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (old_alerts(), new_alerts());
    let store = store_with(dir.path(), &[old.clone(), new].concat());
    // A file where the archive directory should be.
    let blocker = store.dir().join(ARCHIVE_DIR);
    std::fs::write(&blocker, "not a directory").unwrap();

    let err = sweep_alerts(&store, cutoff(), 2).unwrap_err();
    assert!(
        matches!(&err, SweepError::Archive { path, .. } if *path == blocker),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("cannot write alert archive"),
        "{err}"
    );
    assert_eq!(err.done(), &ArchiveOutcome::default());
    for a in &old {
        assert_eq!(
            store.alert(a.id).unwrap().as_ref(),
            Some(a),
            "{} kept",
            a.title
        );
    }
    assert_eq!(store.status_counts().total(), 8);
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "not a directory"
    );

    // Once the archive can be written, the next sweep does the work.
    std::fs::remove_file(&blocker).unwrap();
    let out = sweep_alerts(&store, cutoff(), 2).unwrap();
    assert_eq!((out.archived, out.deleted), (5, 5));
    assert_eq!(store.status_counts().total(), 3);
}

#[cfg(unix)]
#[test]
fn archive_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &old_alerts());
    sweep_alerts(&store, cutoff(), 1000).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store.dir().join(ARCHIVE_DIR)), 0o700);
    assert_eq!(mode(&archive(&store, "2026-09")), 0o600);
    assert_eq!(mode(&archive(&store, "2026-10")), 0o600);
}

const WAIT: Duration = Duration::from_secs(10);

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `[retention] alerts_days = 30`: one alert 40 days old, one a day old.
fn engine_setup(dir: &Path) -> (Store, Config, Alert, Alert) {
    let now = Utc::now();
    let (old, new) = (
        common::alert(1, now - TimeDelta::days(40)),
        common::alert(2, now - TimeDelta::days(1)),
    );
    let store = store_with(dir, &[old.clone(), new.clone()]);
    let mut config = Config::default();
    config.retention.alerts_days = 30;
    (store, config, old, new)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_archives_expired_alerts_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config, old, new) = engine_setup(dir.path());
    let (handle, tasks) =
        Engine::start(store.clone(), &config, EngineOptions::default()).expect("start");
    wait_until("the old alert is deleted", || {
        store.alert(old.id).unwrap().is_none()
    })
    .await;
    assert!(store.alert(new.id).unwrap().is_some());
    let month = old.created.format("%Y-%m").to_string();
    let lines = archived(&archive(&store, &month));
    assert_eq!(ids(&lines), BTreeSet::from([old.id]));
    wait_until("stats count one alert", || {
        handle.stats().alerts.total() == 1
    })
    .await;
    assert_eq!(handle.stats().health, "ok");
    tasks.shutdown().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_reports_an_unwritable_archive_in_health() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config, old, _) = engine_setup(dir.path());
    std::fs::write(store.dir().join(ARCHIVE_DIR), "not a directory").unwrap();
    let (handle, tasks) =
        Engine::start(store.clone(), &config, EngineOptions::default()).expect("start");
    wait_until("a health note on alert retention", || {
        handle.stats().health.contains("alert retention")
    })
    .await;
    assert!(store.alert(old.id).unwrap().is_some());
    tasks.shutdown().await.expect("clean stop");
}

/// A store whose file is mostly garbage (every alert rewritten many times) makes retention stop the engine
/// with a compaction request once past its first pass; the owner compacts (as `vigil serve` does), the bytes on
/// disk fall and every alert reads back. With the threshold at 0 the engine runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mostly_garbage_store_stops_the_engine_for_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let now = Utc::now();
    let mut alerts: Vec<Alert> = (0..2_000)
        .map(|i| common::alert(i, now - TimeDelta::hours(1)))
        .collect();
    for round in 0..8 {
        for a in &mut alerts {
            a.description = format!("round {round}: {}", "x".repeat(200));
        }
        store.save_alerts(&alerts).unwrap();
        store.flush().unwrap();
    }
    let opts = || EngineOptions {
        retention_every: Duration::from_millis(50),
        ..EngineOptions::default()
    };

    let mut config = Config::default();
    config.retention.compact_garbage_percent = 0;
    config.retention.compact_min_mb = 0;
    let (handle, tasks) = Engine::start(store.clone(), &config, opts()).expect("start");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!tasks.is_stopped(), "threshold 0 never compacts");
    drop(handle);
    tasks.shutdown().await.expect("clean stop");

    config.retention.compact_garbage_percent = 10;
    let (handle, mut tasks) = Engine::start(store.clone(), &config, opts()).expect("start");
    tokio::time::timeout(WAIT, tasks.wait())
        .await
        .expect("the engine stops for the compaction")
        .expect("a clean stop");
    assert!(tasks.compaction_requested());
    drop((handle, tasks));
    let (disk, live) = (store.size_on_disk(), store.live_bytes().unwrap());
    assert!(
        disk > live * 10 / 9,
        "garbage to give back: {disk} on disk, {live} live"
    );
    let (store, before, after) = store
        .compact(vigil::store::StoreOptions::default())
        .unwrap();
    assert!(after < before, "{after} < {before}");
    for a in &alerts {
        assert_eq!(store.alert(a.id).unwrap().as_ref(), Some(a));
    }
}
