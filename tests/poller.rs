//! The organizations events API poller against a local fake of the API (axum on 127.0.0.1:0) that pages the
//! way Atlassian documents it (`{data, links, meta}`, `links.next` with a `cursor`, `from` in epoch
//! milliseconds, Bearer auth), rate-limits with 429 + `Retry-After`, and misbehaves on request: bad JSON, a
//! body over the cap, a `next` link to another host, a cursor that points at itself, a refused key.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use vigil::config::{ApiFrom, Config, SecretRef, SourceConfig};
use vigil::engine::{Engine, EngineHandle, EngineOptions, EngineTasks, PollerOptions};
use vigil::store::Store;

const ORG: &str = "org-1";
const TOKEN: &str = "admin-key-1";

/// What the fake does for one request of a page, before serving it normally.
#[derive(Clone, Debug)]
enum Trick {
    TooMany,
    BadJson,
    Huge(usize),
}

#[derive(Default)]
struct Fake {
    /// Pre-rendered events, oldest first, with their times in epoch ms.
    events: Vec<(i64, String)>,
    page: usize,
    /// page index → tricks played on its next requests, in order.
    tricks: HashMap<usize, Vec<Trick>>,
    /// page index whose `links.next` points to another host.
    foreign_next: Option<usize>,
    /// page index whose next cursor is itself.
    self_loop: Option<usize>,
    refuse_all: bool,
    /// Every request: (when, page index it asked for or `None` for a `from` query, status answered).
    log: Vec<(Instant, Option<usize>, u16)>,
    /// Requests with `from` after the last page was served: the poller is caught up.
    repolls: usize,
    served_last: bool,
    /// Pages answered 200, by index.
    served: Vec<usize>,
}

type Shared = Arc<Mutex<Fake>>;

fn page_body(f: &Fake, base: &str, start: usize, idx: usize) -> String {
    let end = (start + f.page).min(f.events.len());
    let data: Vec<&str> = f.events[start..end]
        .iter()
        .map(|(_, e)| e.as_str())
        .collect();
    let next = if end < f.events.len() {
        let n = if f.self_loop == Some(idx) {
            idx
        } else {
            end / f.page
        };
        Some(format!("c{n}"))
    } else {
        None
    };
    let link_base = if f.foreign_next == Some(idx) {
        "http://evil.invalid:9".to_string()
    } else {
        base.to_string()
    };
    let (links_next, meta_next) = match &next {
        Some(c) => (
            format!("\"{link_base}/admin/v1/orgs/{ORG}/events?cursor={c}\""),
            format!("\"{c}\""),
        ),
        None => ("null".into(), "null".into()),
    };
    format!(
        r#"{{"data":[{}],"links":{{"self":"{base}/admin/v1/orgs/{ORG}/events","next":{links_next}}},"meta":{{"next":{meta_next},"page_size":{}}}}}"#,
        data.join(","),
        f.page
    )
}

async fn events(
    State((fake, base)): State<(Shared, String)>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut f = fake.lock().unwrap();
    let now = Instant::now();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if f.refuse_all || auth != format!("Bearer {TOKEN}") {
        f.log.push((now, None, 401));
        return (StatusCode::UNAUTHORIZED, "{\"errors\":[]}").into_response();
    }
    let (start, idx) = if let Some(c) = q.get("cursor") {
        let Some(i) = c.strip_prefix('c').and_then(|n| n.parse::<usize>().ok()) else {
            f.log.push((now, None, 400));
            return (StatusCode::BAD_REQUEST, "bad cursor").into_response();
        };
        (i * f.page, Some(i))
    } else {
        let from: i64 = q.get("from").and_then(|s| s.parse().ok()).unwrap_or(0);
        assert_eq!(q.get("sortOrder").map(String::as_str), Some("asc"));
        if f.served_last {
            f.repolls += 1;
        }
        let start = f.events.partition_point(|(t, _)| *t < from);
        (start, None)
    };
    let key = idx.unwrap_or(start / f.page.max(1));
    if let Some(trick) = f.tricks.get_mut(&key).and_then(|t| {
        if t.is_empty() {
            None
        } else {
            Some(t.remove(0))
        }
    }) {
        match trick {
            Trick::TooMany => {
                f.log.push((now, idx, 429));
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "1")],
                    "slow down",
                )
                    .into_response();
            }
            Trick::BadJson => {
                f.log.push((now, idx, 200));
                return (StatusCode::OK, "{\"data\":[{\"id\":").into_response();
            }
            Trick::Huge(n) => {
                f.log.push((now, idx, 200));
                return (StatusCode::OK, " ".repeat(n)).into_response();
            }
        }
    }
    f.log.push((now, idx, 200));
    let body = page_body(&f, &base, start, key);
    // Re-polls once caught up are not pages of the run.
    if !(f.served_last && idx.is_none()) {
        f.served.push(key);
    }
    if start + f.page >= f.events.len() {
        f.served_last = true;
    }
    ([("content-type", "application/json")], body).into_response()
}

async fn serve(fake: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let app = axum::Router::new()
        .route(
            &format!("/admin/v1/orgs/{ORG}/events"),
            axum::routing::get(events),
        )
        .with_state((fake, base.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// `n` events a tenth of a second apart, ending an hour ago; ids `e-000000…`.
fn make_events(n: usize) -> (DateTime<Utc>, Vec<(i64, String)>) {
    let start =
        Utc::now() - chrono::Duration::hours(1) - chrono::Duration::milliseconds(n as i64 * 100);
    let actions = [
        "page_viewed",
        "issue_viewed",
        "user_login",
        "attachment_downloaded",
    ];
    let evs = (0..n)
        .map(|i| {
            let t = start + chrono::Duration::milliseconds(i as i64 * 100);
            let line = common::event(
                &format!("e-{i:06}"),
                &t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                actions[i % actions.len()],
                &format!("actor{}", i % 500),
            );
            (t.timestamp_millis(), line)
        })
        .collect();
    (start, evs)
}

fn fake(n: usize, page: usize) -> (DateTime<Utc>, Shared) {
    let (start, events) = make_events(n);
    let f = Fake {
        events,
        page,
        ..Fake::default()
    };
    (start, Arc::new(Mutex::new(f)))
}

fn config(base: &str, from: DateTime<Utc>) -> Config {
    Config {
        sources: vec![SourceConfig::AtlassianApi {
            org_id: ORG.into(),
            org_name: None,
            token: SecretRef::Literal(TOKEN.into()),
            url: base.into(),
            poll_secs: 1,
            // The fake has no limit: pacing is tested on its own below.
            requests_per_minute: 60_000,
            from: ApiFrom::At(from),
        }],
        ..Config::default()
    }
}

fn start(store: &Store, config: &Config, retry_base: Duration) -> (EngineHandle, EngineTasks) {
    let opts = EngineOptions {
        poller: PollerOptions {
            retry_base,
            max_page_bytes: 256 * 1024,
            ..PollerOptions::default()
        },
        ..EngineOptions::default()
    };
    Engine::start(store.clone(), config, opts).expect("engine starts")
}

async fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every stored event id, counted.
fn stored_ids(store: &Store) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    let evs = store
        .events_between(
            Utc::now() - chrono::Duration::days(30),
            Utc::now() + chrono::Duration::days(1),
            usize::MAX,
        )
        .unwrap();
    for e in evs {
        *ids.entry(e.id).or_insert(0) += 1;
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_events_over_200_pages_with_a_429_and_a_restart() {
    const N: usize = 100_000;
    let (from, fake) = fake(N, 500);
    fake.lock().unwrap().tricks.insert(60, vec![Trick::TooMany]);
    let base = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let cfg = config(&base, from);
    let t0 = Instant::now();

    let (handle, tasks) = start(&store, &cfg, Duration::from_millis(200));
    wait_until("100 pages served", Duration::from_secs(60), || {
        fake.lock().unwrap().served.len() >= 100
    })
    .await;
    tasks.shutdown().await.expect("clean stop");
    drop(handle);
    let half = store.event_count();
    assert!(half > 0 && half < N as u64, "stopped half-way: {half}");

    let (handle, tasks) = start(&store, &cfg, Duration::from_millis(200));
    wait_until("all events stored", Duration::from_secs(60), || {
        store.event_count() == N as u64
    })
    .await;
    let elapsed = t0.elapsed();
    wait_until(
        "caught up (a re-poll after the last page)",
        Duration::from_secs(10),
        || fake.lock().unwrap().repolls > 0,
    )
    .await;
    let health = handle.stats().health;
    tasks.shutdown().await.expect("clean stop");

    let ids = stored_ids(&store);
    assert_eq!(ids.len(), N, "every event stored");
    assert!(ids.values().all(|n| *n == 1), "each once");
    assert_eq!(store.event_count(), N as u64);
    assert_eq!(store.quarantined_count(), 0);
    assert_eq!(health, "ok", "no health note once caught up");

    let f = fake.lock().unwrap();
    // Pages were asked for in order: the cursor only moves forward, across the restart too; a page is
    // asked for again only after a 429 (or one in flight at the stop).
    let asked: Vec<usize> = f.log.iter().filter_map(|(_, p, _)| *p).collect();
    assert!(
        asked.windows(2).all(|w| w[0] <= w[1]),
        "cursor monotonic: {asked:?}"
    );
    let mut seen = HashSet::new();
    let repeats = f.served.iter().filter(|p| !seen.insert(**p)).count();
    assert!(
        repeats <= 1,
        "at most the page in flight at the stop served twice: {repeats}"
    );
    assert_eq!(seen.len(), N / 500, "all 200 pages served");
    // The 429 was honoured: the next request came at least Retry-After later.
    let i = f
        .log
        .iter()
        .position(|(_, _, s)| *s == 429)
        .expect("a 429 was sent");
    let wait = f.log[i + 1].0 - f.log[i].0;
    assert!(
        wait >= Duration::from_millis(950),
        "Retry-After honoured: {wait:?}"
    );
    let rate = N as f64 / elapsed.as_secs_f64();
    println!(
        "poller: {N} events over {} pages in {:.1} s = {rate:.0} events/s (incl. a 1 s Retry-After and a restart)",
        N / 500,
        elapsed.as_secs_f64()
    );
}

/// Health notes seen while `f` runs, sampled every 20 ms.
async fn notes_until(
    handle: &EngineHandle,
    limit: Duration,
    mut done: impl FnMut() -> bool,
) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    let until = Instant::now() + limit;
    loop {
        let h = handle.stats().health;
        if notes.last() != Some(&h) {
            notes.push(h);
        }
        if done() {
            return notes;
        }
        assert!(Instant::now() < until, "timed out; notes so far: {notes:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_and_a_huge_body_are_noted_and_nothing_around_them_is_lost() {
    let (from, fake) = fake(30, 10);
    fake.lock()
        .unwrap()
        .tricks
        .insert(1, vec![Trick::BadJson, Trick::Huge(1024 * 1024)]);
    let base = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let (handle, tasks) = start(&store, &config(&base, from), Duration::from_secs(1));
    let notes = notes_until(&handle, Duration::from_secs(20), || {
        store.event_count() == 30
    })
    .await;
    tasks.shutdown().await.expect("clean stop");
    assert_eq!(stored_ids(&store).len(), 30, "every event, once");
    let all = notes.join("\n");
    assert!(all.contains("atlassian_api org-1"), "{all}");
    assert!(all.contains("not valid JSON"), "{all}");
    assert!(all.contains("larger than"), "{all}");
    let f = fake.lock().unwrap();
    assert_eq!(
        f.served,
        vec![0, 1, 2],
        "page 1 retried until good, nothing skipped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_to_another_host_is_refused() {
    let (from, fake) = fake(30, 10);
    fake.lock().unwrap().foreign_next = Some(0);
    let base = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let (handle, tasks) = start(&store, &config(&base, from), Duration::from_millis(100));
    wait_until("the refusal noted", Duration::from_secs(10), || {
        handle.stats().health.contains("another origin")
    })
    .await;
    assert_eq!(store.event_count(), 10, "the page itself is kept");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tasks.shutdown().await.expect("clean stop");
    let f = fake.lock().unwrap();
    assert!(
        f.log.iter().all(|(_, p, _)| p.is_none()),
        "no cursor from the foreign link followed: {:?}",
        f.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_pointing_at_itself_is_stopped() {
    let (from, fake) = fake(30, 10);
    fake.lock().unwrap().self_loop = Some(1);
    let base = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let (handle, tasks) = start(&store, &config(&base, from), Duration::from_millis(100));
    wait_until("the loop noted", Duration::from_secs(10), || {
        handle.stats().health.contains("same cursor")
    })
    .await;
    let before = fake.lock().unwrap().log.len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = fake.lock().unwrap().log.len();
    tasks.shutdown().await.expect("clean stop");
    assert!(after - before <= 1, "no tight loop: {before} → {after}");
    assert_eq!(store.event_count(), 20, "the first two pages kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_stops_polling_with_a_note() {
    let (from, fake) = fake(30, 10);
    fake.lock().unwrap().refuse_all = true;
    let base = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let (handle, tasks) = start(&store, &config(&base, from), Duration::from_millis(100));
    wait_until("the 401 noted", Duration::from_secs(10), || {
        handle.stats().health.contains("401")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let health = handle.stats().health;
    assert!(health.contains("polling stopped"), "{health}");
    assert!(!health.contains(TOKEN), "the key is never shown: {health}");
    tasks.shutdown().await.expect("clean stop");
    assert_eq!(fake.lock().unwrap().log.len(), 1, "no retry after a 401");
    assert_eq!(store.event_count(), 0);
}

/// The documented limit is kept, not only obeyed once broken: at 120 requests a minute, requests are at
/// least half a second apart, and none is answered 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_paced_to_the_configured_rate() {
    let (from, fake) = fake(50, 10);
    let base = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut cfg = config(&base, from);
    if let SourceConfig::AtlassianApi {
        requests_per_minute,
        ..
    } = &mut cfg.sources[0]
    {
        *requests_per_minute = 120;
    }
    let (_h, tasks) = start(&store, &cfg, Duration::from_millis(50));
    let f2 = fake.clone();
    wait_until("five pages served", Duration::from_secs(30), move || {
        f2.lock().unwrap().served.len() >= 5
    })
    .await;
    tasks.shutdown().await.unwrap();
    let log = fake.lock().unwrap().log.clone();
    let gaps: Vec<Duration> = log.windows(2).map(|w| w[1].0 - w[0].0).collect();
    println!("gaps between requests: {gaps:?}");
    assert!(gaps.len() >= 4);
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(450)),
        "{gaps:?}"
    );
    assert!(log.iter().all(|(_, _, status)| *status == 200));
}
