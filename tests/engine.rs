//! The engine runtime over a temp store with a followed file: events stored, alerts announced, positions kept
//! across restarts, triage commands and tuning through the client handle.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::Receiver;
use ulid::Ulid;
use vigil::config::{Config, SourceConfig};
use vigil::detect::tuning::{Exclusion, ExclusionKind};
use vigil::engine::{
    Change, Command, Engine, EngineHandle, EngineOptions, EngineTasks, with_exclusion,
};
use vigil::model::AlertStatus;
use vigil::store::{AlertFilter, Store};

const WAIT: Duration = Duration::from_secs(10);

fn config(file: &Path) -> Config {
    Config {
        sources: vec![SourceConfig::File {
            path: file.to_path_buf(),
        }],
        ..Config::default()
    }
}

fn start(store: &Store, file: &Path) -> (EngineHandle, EngineTasks) {
    let opts = EngineOptions {
        file_poll: Duration::from_millis(50),
        ..EngineOptions::default()
    };
    Engine::start(store.clone(), &config(file), opts).expect("engine starts")
}

fn append(file: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("open events file");
    for l in lines {
        writeln!(f, "{l}").expect("append");
    }
    f.flush().expect("flush");
}

fn time(secs: u32) -> String {
    format!("2026-11-02T09:{:02}:{:02}Z", secs / 60, secs % 60)
}

/// `n` failed logins of `actor` a second apart: a `failed-login-burst` at the default threshold of 10.
fn burst(prefix: &str, actor: &str, from: u32, n: u32) -> Vec<String> {
    (0..n)
        .map(|i| {
            common::event(
                &format!("{prefix}-{i}"),
                &time(from + i),
                "user_login_failed",
                actor,
            )
        })
        .collect()
}

/// Poll `f` until it holds, for at most [`WAIT`].
async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first `AlertsChanged` on the feed that `pick` accepts, within [`WAIT`].
async fn next_alerts_changed(
    feed: &mut Receiver<Change>,
    mut pick: impl FnMut(&[Ulid], usize) -> bool,
) -> (Vec<Ulid>, usize) {
    let until = Instant::now() + WAIT;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, feed.recv()).await {
            Ok(Ok(Change::AlertsChanged { ids, raised })) if pick(&ids, raised) => {
                return (ids, raised);
            }
            Ok(Ok(Change::Fatal(m))) => panic!("engine failed: {m}"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("feed: {e}"),
            Err(_) => panic!("timed out waiting for AlertsChanged"),
        }
    }
}

fn setup() -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.jsonl");
    let store = Store::open(&dir.path().join("data")).expect("store");
    (dir, file, store)
}

async fn alerts_of(handle: &EngineHandle, detection: &str) -> Vec<vigil::model::Alert> {
    let filter = AlertFilter {
        detection: Some(detection.into()),
        ..AlertFilter::default()
    };
    handle
        .alerts_page(filter, None, 100)
        .await
        .expect("alerts page")
        .alerts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followed_file_is_stored_alerted_and_resumed_after_restart() {
    let (dir, file, store) = setup();
    // Lines written before the engine starts are read too, and a partial last line waits for its newline.
    append(&file, &burst("a", "mallory", 0, 4));
    let (handle, tasks) = start(&store, &file);
    let mut feed = handle.subscribe();
    append(&file, &burst("b", "mallory", 4, 8));
    wait_until("12 events stored", || store.event_count() == 12).await;
    let (ids, raised) = next_alerts_changed(&mut feed, |_, raised| raised > 0).await;
    assert_eq!(raised, 1);
    let alert = handle.alert(ids[0]).await.unwrap().expect("alert stored");
    assert_eq!(alert.detection.as_str(), "failed-login-burst");
    assert_eq!(alert.actor.id, "mallory");
    // Half a line: not consumed yet.
    let partial = common::event("c-0", &time(30), "page_viewed", "ana");
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        f.write_all(&partial.as_bytes()[..40]).unwrap();
    }
    tasks.shutdown().await.expect("clean stop");
    assert_eq!(store.event_count(), 12);
    drop(handle);

    // Forget the stored events: if a restart read the file from its start they would come back.
    let all = store
        .delete_events_before(chrono::Utc::now() + chrono::Duration::days(3650))
        .expect("delete");
    assert_eq!(all, 12);
    store.flush().unwrap();
    drop(store);
    let store = Store::open(&dir.path().join("data")).expect("reopen");
    let (handle, tasks) = start(&store, &file);
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        f.write_all(&partial.as_bytes()[40..]).unwrap();
        f.write_all(b"\n").unwrap();
    }
    append(
        &file,
        &[common::event("c-1", &time(31), "page_viewed", "ana")],
    );
    wait_until("2 new events stored", || store.event_count() == 2).await;
    tasks.shutdown().await.expect("clean stop");
    assert_eq!(
        store.event_count(),
        2,
        "nothing before the position re-read"
    );
    assert_eq!(
        store.quarantined_count(),
        0,
        "the split line was read whole"
    );
    let pos = store
        .meta_get(&vigil::engine::position_key(&file))
        .unwrap()
        .expect("position stored");
    let pos: serde_json::Value = serde_json::from_slice(&pos).unwrap();
    assert_eq!(pos["offset"], std::fs::metadata(&file).unwrap().len());
    drop(handle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_file_is_read_again_from_its_start() {
    let (_dir, file, store) = setup();
    append(&file, &burst("a", "ana", 0, 3));
    let (handle, tasks) = start(&store, &file);
    wait_until("3 events", || store.event_count() == 3).await;
    std::fs::write(&file, "").unwrap();
    append(
        &file,
        &[common::event("t-0", &time(100), "page_viewed", "bo")],
    );
    wait_until("the event after truncation", || store.event_count() == 4).await;
    tasks.shutdown().await.expect("clean stop");
    drop(handle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_status_records_history_bumps_version_and_announces() {
    let (_dir, file, store) = setup();
    let (handle, tasks) = start(&store, &file);
    let mut feed = handle.subscribe();
    append(&file, &burst("a", "mallory", 0, 10));
    let (ids, _) = next_alerts_changed(&mut feed, |_, raised| raised > 0).await;
    let id = ids[0];
    let before = handle.alert(id).await.unwrap().expect("alert");
    assert_eq!(before.status, AlertStatus::Open);

    let msg = handle
        .execute(Command::SetStatus {
            ids: vec![id],
            status: AlertStatus::Acknowledged,
            who: "ana".into(),
            seen: vec![],
        })
        .await
        .expect("set status");
    assert!(msg.contains("1 alert"), "{msg}");
    let (changed, raised) = next_alerts_changed(&mut feed, |ids, _| ids.contains(&id)).await;
    assert_eq!((changed, raised), (vec![id], 0));
    let after = handle.alert(id).await.unwrap().expect("alert");
    assert_eq!(after.status, AlertStatus::Acknowledged);
    assert_eq!(after.version, before.version + 1);
    let last = after.history.last().expect("history entry");
    assert_eq!(last.who, "ana");
    assert!(last.what.contains("acknowledged"), "{}", last.what);
    assert_eq!(handle.stats().alerts.acknowledged, 1);
    tasks.shutdown().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_exclusion_applies_to_the_next_event() {
    const DET: &str = "user-api-token-created";
    let (_dir, file, store) = setup();
    let (handle, tasks) = start(&store, &file);
    let mut feed = handle.subscribe();
    append(
        &file,
        &[common::event("k-0", &time(0), "api_token_created", "eve")],
    );
    next_alerts_changed(&mut feed, |_, raised| raised == 1).await;
    let eve_before = alerts_of(&handle, DET).await;
    assert_eq!(eve_before.len(), 1);

    let current = handle
        .detections()
        .into_iter()
        .find(|d| d.id == DET)
        .expect("detection listed")
        .settings;
    let settings = with_exclusion(
        current,
        Exclusion {
            kind: ExclusionKind::Actor,
            value: "eve".into(),
            until: None,
            label: None,
        },
    );
    handle
        .execute(Command::SetDetection {
            id: DET.into(),
            settings,
            who: "ana".into(),
        })
        .await
        .expect("tune");

    // Eve again, then someone else: the second alert proves eve's event was processed first, and silently.
    append(
        &file,
        &[
            common::event("k-1", &time(600), "api_token_created", "eve"),
            common::event("k-2", &time(601), "api_token_created", "bo"),
        ],
    );
    next_alerts_changed(&mut feed, |_, raised| raised == 1).await;
    wait_until("both events stored", || store.event_count() == 3).await;
    let alerts = alerts_of(&handle, DET).await;
    let eve: Vec<_> = alerts.iter().filter(|a| a.actor.id == "eve").collect();
    let bo: Vec<_> = alerts.iter().filter(|a| a.actor.id == "bo").collect();
    assert_eq!(bo.len(), 1);
    assert_eq!(eve.len(), 1, "no new alert for the excluded actor");
    assert_eq!(
        eve[0].count, eve_before[0].count,
        "and the old one did not grow"
    );
    tasks.shutdown().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_report_events_and_health_of_skipped_sources() {
    let (_dir, file, store) = setup();
    let mut config = config(&file);
    config.sources.push(SourceConfig::Http {
        listen: "127.0.0.1:8717".parse().unwrap(),
        token: vigil::config::SecretRef::parse("env:NOPE").unwrap(),
        max_body_bytes: 1024,
        limits: vigil::config::HttpLimits::default(),
    });
    let (handle, tasks) =
        Engine::start(store.clone(), &config, EngineOptions::default()).expect("start");
    append(&file, &burst("a", "ana", 0, 3));
    wait_until("stats show 3 events", || handle.stats().events == 3).await;
    let s = handle.stats();
    assert!(s.health.contains("http 127.0.0.1:8717"), "{}", s.health);
    assert_eq!(s.backlog, 0);
    tasks.shutdown().await.expect("clean stop");
}
