//! The HTTP receiver (`kind = "http"`) over real sockets: the engine is started on a temp store with a receiver
//! bound to 127.0.0.1:0, and the tests speak raw HTTP/1.1 to it (so they can also be slow, rude or hostile
//! clients). What a 2xx promises is checked in the store itself: the events are there, counted by id.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vigil::config::{Config, HttpLimits, SecretRef, SourceConfig};
use vigil::engine::{Engine, EngineHandle, EngineOptions, EngineTasks};
use vigil::store::{AlertFilter, Store};

const TOKEN: &str = "s3cret-ingest-token";
const WAIT: Duration = Duration::from_secs(20);

struct Server {
    _dir: tempfile::TempDir,
    store: Store,
    handle: EngineHandle,
    tasks: EngineTasks,
    addr: SocketAddr,
}

fn start(limits: HttpLimits, max_body_bytes: u64) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let config = Config {
        sources: vec![SourceConfig::Http {
            listen: "127.0.0.1:0".parse().unwrap(),
            token: SecretRef::Literal(TOKEN.into()),
            max_body_bytes,
            limits,
        }],
        ..Config::default()
    };
    let (handle, tasks) =
        Engine::start(store.clone(), &config, EngineOptions::default()).expect("engine starts");
    let addr = *tasks
        .http_addrs()
        .first()
        .expect("the receiver reports its bound address");
    Server {
        _dir: dir,
        store,
        handle,
        tasks,
        addr,
    }
}

fn open_limits() -> HttpLimits {
    HttpLimits {
        rate_per_sec: 0,
        ..HttpLimits::default()
    }
}

/// A response as read off the wire.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

fn parse_response(bytes: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

/// Send `request` bytes as they are and read the answer until the server closes.
async fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(request).await?;
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::other("no answer in time"))??;
    Ok(out)
}

fn request(method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: vigil\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = auth {
        r.push_str(&format!("Authorization: {a}\r\n"));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

async fn post(addr: SocketAddr, auth: Option<&str>, body: &[u8]) -> Response {
    let bytes = raw(addr, &request("POST", "/v1/events", auth, body))
        .await
        .expect("request");
    parse_response(&bytes).unwrap_or_else(|| {
        panic!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn time(i: u32) -> String {
    format!("2026-11-02T09:{:02}:{:02}Z", (i / 60) % 60, i % 60)
}

fn events(prefix: &str, n: u32, action: &str) -> Vec<String> {
    (0..n)
        .map(|i| common::event(&format!("{prefix}-{i}"), &time(i), action, "ana"))
        .collect()
}

/// How many of `ids` the store holds.
fn stored(store: &Store, ids: &[String]) -> usize {
    let from = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let to = chrono::DateTime::parse_from_rfc3339("2026-11-04T00:00:00Z")
        .unwrap()
        .to_utc();
    let want: HashSet<&str> = ids.iter().map(String::as_str).collect();
    store
        .events_between(from, to, 1_000_000)
        .unwrap()
        .iter()
        .filter(|e| want.contains(e.id.as_str()))
        .count()
}

fn ids(prefix: &str, n: u32) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_input_form_is_stored_before_the_answer_and_raises_its_alerts() {
    let s = start(open_limits(), 10 << 20);
    // An array.
    let arr = format!("[{}]", events("arr", 20, "page_viewed").join(","));
    let r = post(s.addr, Some(&bearer()), arr.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json(),
        serde_json::json!({"accepted": 20, "duplicates": 0, "quarantined": 0})
    );
    // Durable means stored: no waiting here.
    assert_eq!(stored(&s.store, &ids("arr", 20)), 20);
    // One event (an impersonation raises an alert on its own).
    let one = common::event("one-0", &time(100), "user_logged_in_as_user", "ana");
    let r = post(s.addr, Some(&bearer()), one.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(stored(&s.store, &ids("one", 1)), 1);
    // A page of the events API.
    let page = format!(
        r#"{{"data":[{}],"links":{{"next":null}},"meta":{{"next":null,"page_size":5}}}}"#,
        events("page", 5, "page_viewed").join(",")
    );
    let r = post(s.addr, Some(&bearer()), page.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["accepted"], 5);
    assert_eq!(stored(&s.store, &ids("page", 5)), 5);
    // Newline-delimited JSON, and the same again: duplicates, stored once.
    let nd = events("nd", 7, "page_viewed").join("\n");
    let r = post(s.addr, Some(&bearer()), nd.as_bytes()).await;
    assert_eq!(r.json()["accepted"], 7, "{r:?}");
    let r = post(s.addr, Some(&bearer()), nd.as_bytes()).await;
    assert_eq!(
        r.json(),
        serde_json::json!({"accepted": 0, "duplicates": 7, "quarantined": 0})
    );
    assert_eq!(stored(&s.store, &ids("nd", 7)), 7);
    let filter = AlertFilter {
        detection: Some("admin-impersonation".into()),
        ..AlertFilter::default()
    };
    let alerts = s.handle.alerts_page(filter, None, 10).await.unwrap().alerts;
    assert_eq!(alerts.len(), 1, "the impersonation raised its alert");
    // Health needs no token and says nothing secret.
    let h = parse_response(
        &raw(s.addr, &request("GET", "/healthz", None, b""))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!((h.status, h.body.trim()), (200, "ok"));
    s.tasks.shutdown().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_credential_is_refused_and_nothing_is_stored() {
    use base64::Engine as _;
    let s = start(open_limits(), 10 << 20);
    let body = events("auth", 3, "page_viewed").join("\n");
    let basic_wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("vigil:nope")
    );
    for auth in [
        None,
        Some("Bearer nope"),
        Some("Bearer s3cret-ingest-toke"),
        Some("Bearer s3cret-ingest-token-and-more"),
        Some(basic_wrong.as_str()),
        Some("Token s3cret-ingest-token"),
        Some("Basic !!!not-base64"),
    ] {
        let r = post(s.addr, auth, body.as_bytes()).await;
        assert_eq!(r.status, 401, "{auth:?}: {r:?}");
        assert!(!r.body.contains(TOKEN));
    }
    assert_eq!(stored(&s.store, &ids("auth", 3)), 0);
    assert_eq!(s.store.quarantined_count(), 0);
    // Basic with the token as the password is accepted (senders that only speak Basic).
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("atlassian:{TOKEN}"))
    );
    let r = post(s.addr, Some(&basic), body.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(stored(&s.store, &ids("auth", 3)), 3);
    s.tasks.shutdown().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_malformed_and_mixed_bodies() {
    let s = start(open_limits(), 64 * 1024);
    // Announced too large: refused before reading it.
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: vigil\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        bearer(),
        1 << 20
    );
    let r = parse_response(&raw(s.addr, head.as_bytes()).await.unwrap()).unwrap();
    assert_eq!(r.status, 413, "{r:?}");
    // Malformed JSON: 400 with the reason.
    let r = post(s.addr, Some(&bearer()), br#"{"id": "x", "attributes": "#).await;
    assert_eq!(r.status, 400, "{r:?}");
    let j = r.json();
    let reasons = j["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty());
    assert!(reasons[0].as_str().unwrap().contains("JSON"), "{j}");
    // Empty body.
    let r = post(s.addr, Some(&bearer()), b"").await;
    assert_eq!(r.status, 400, "{r:?}");
    // Mixed: the good ones stored, the bad ones quarantined, counts say so.
    let before = s.store.quarantined_count();
    let mut lines = events("mix", 4, "page_viewed");
    lines.insert(
        1,
        r#"{"id":"bad-1","attributes":{"action":"page_viewed"}}"#.into(),
    );
    lines.push("not json at all".into());
    let r = post(s.addr, Some(&bearer()), lines.join("\n").as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json(),
        serde_json::json!({"accepted": 4, "duplicates": 0, "quarantined": 2})
    );
    assert_eq!(stored(&s.store, &ids("mix", 4)), 4);
    assert_eq!(s.store.quarantined_count(), before + 2);
    s.tasks.shutdown().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_are_answered_never_a_panic() {
    let s = start(open_limits(), 16 << 20);
    let big_string = format!(r#"{{"id":"{}"}}"#, "A".repeat(10_000_000));
    let controls: Vec<u8> = (0u8..32).cycle().take(4096).collect();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_obj = "{\"a\":".repeat(50_000);
    let weird = "\u{202e}\u{0}\u{1b}[31m{\"id\":\"\u{1b}]0;pwned\u{7}\"}".to_string();
    for body in [
        big_string.as_bytes(),
        &controls,
        deep.as_bytes(),
        deep_obj.as_bytes(),
        weird.as_bytes(),
        &[0xff, 0xfe, 0x00, 0x80][..],
    ] {
        let r = post(s.addr, Some(&bearer()), body).await;
        assert!(r.status == 400 || r.status == 200, "{r:?}");
        assert!(
            r.body.len() < 4096,
            "a bounded answer: {} bytes",
            r.body.len()
        );
        assert!(
            !r.body.chars().any(|c| c.is_control() && c != '\n'),
            "sanitised: {:?}",
            r.body
        );
    }
    // Still serving.
    let r = post(
        s.addr,
        Some(&bearer()),
        events("after", 1, "page_viewed")[0].as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    s.tasks.shutdown().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_dropped_while_a_good_client_is_served() {
    let limits = HttpLimits {
        header_timeout_secs: 1,
        ..open_limits()
    };
    let s = start(limits, 10 << 20);
    let mut slow = Vec::new();
    for i in 0..20 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        if i % 2 == 0 {
            // Half a request head, never finished.
            c.write_all(b"POST /v1/events HTTP/1.1\r\nHost: vigil\r\nX-Slow: ")
                .await
                .unwrap();
        }
        slow.push(c);
    }
    let started = Instant::now();
    let r = post(
        s.addr,
        Some(&bearer()),
        events("good", 1, "page_viewed")[0].as_bytes(),
    )
    .await;
    let took = started.elapsed();
    eprintln!("good client served in {took:?} beside 20 slow ones");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(took < Duration::from_secs(5), "served in {took:?}");
    for mut c in slow {
        let mut buf = Vec::new();
        let ended = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut buf)).await;
        assert!(ended.is_ok(), "a slow client was not dropped");
    }
    eprintln!("slow clients dropped after {:?}", started.elapsed());
    s.tasks.shutdown().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_are_answered_or_closed_and_a_good_client_is_served() {
    let limits = HttpLimits {
        max_connections: 64,
        ..open_limits()
    };
    let s = start(limits, 10 << 20);
    let addr = s.addr;
    let mut crowd = Vec::new();
    for _ in 0..1000 {
        crowd.push(tokio::spawn(async move {
            let req = request("GET", "/healthz", None, b"");
            match raw(addr, &req).await {
                Ok(bytes) => match parse_response(&bytes) {
                    Some(r) => Outcome::Answered(r.status),
                    None => Outcome::Closed,
                },
                Err(e) if e.to_string() == "no answer in time" => Outcome::Hung,
                Err(_) => Outcome::Closed,
            }
        }));
    }
    // The good client is served, though it may meet the cap first (503 or a closed connection) and try
    // again, as any sender does.
    let started = Instant::now();
    let body = events("crowd", 1, "page_viewed")[0].clone();
    let mut tries = 0;
    let r = loop {
        tries += 1;
        let req = request("POST", "/v1/events", Some(&bearer()), body.as_bytes());
        if let Ok(bytes) = raw(s.addr, &req).await
            && let Some(r) = parse_response(&bytes)
            && (r.status != 503 || tries >= 100)
        {
            break r;
        }
        assert!(tries < 100, "the good client was never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = started.elapsed();
    let (mut answered, mut closed, mut busy) = (0, 0, 0);
    for t in crowd {
        match t.await.unwrap() {
            Outcome::Answered(200) => answered += 1,
            Outcome::Answered(503) => busy += 1,
            Outcome::Answered(other) => panic!("unexpected status {other}"),
            Outcome::Closed => closed += 1,
            Outcome::Hung => panic!("a connection was left hanging"),
        }
    }
    eprintln!(
        "1000 connections: {answered} answered, {busy} told busy (503), {closed} closed; good client in {took:?} ({tries} tries)"
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(took < Duration::from_secs(10), "good client took {took:?}");
    s.tasks.shutdown().await.expect("clean stop");
}

#[derive(Debug)]
enum Outcome {
    Answered(u16),
    Closed,
    Hung,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_is_told_to_retry_later() {
    let limits = HttpLimits {
        rate_per_sec: 2,
        ..HttpLimits::default()
    };
    let s = start(limits, 10 << 20);
    let body = events("rate", 1, "page_viewed")[0].clone();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..10 {
        let r = post(s.addr, Some(&bearer()), body.as_bytes()).await;
        if r.status == 429 {
            retry_after = r.header("retry-after");
        }
        statuses.push(r.status);
    }
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let secs: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&secs));
    s.tasks.shutdown().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_stop_the_receiver_answers_nothing_successful() {
    let s = start(open_limits(), 10 << 20);
    let addr = s.addr;
    s.tasks.shutdown().await.expect("clean stop");
    // Closed, or 503: never a 2xx for events that are not stored.
    if let Ok(bytes) = raw(addr, &request("POST", "/v1/events", Some(&bearer()), b"{}")).await
        && let Some(r) = parse_response(&bytes)
    {
        assert_eq!(r.status, 503, "{r:?}");
    }
}

/// Several senders at once: the pipeline takes their requests together (in time order, one store batch), and
/// still tells each sender exactly what became of its own records, however the requests were grouped. An
/// event two senders both carry is stored once: new for one of them, a duplicate for the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_are_each_told_their_own_counts() {
    let s = start(open_limits(), 10 << 20);
    for round in 0..3 {
        let mut tasks = Vec::new();
        for sender in 0..6u32 {
            // 300 events of its own, interleaved in time with the other senders', newest first; 20 shared
            // with the next sender; one bad record; one event of an implausible time.
            let mut lines: Vec<String> = (0..300u32)
                .rev()
                .map(|i| {
                    common::event(
                        &format!("r{round}-s{sender}-{i}"),
                        &time(i * 6 + sender),
                        "page_viewed",
                        &format!("actor{}", i % 9),
                    )
                })
                .collect();
            for k in [sender, (sender + 5) % 6] {
                lines.extend((0..20u32).map(|i| {
                    common::event(
                        &format!("r{round}-shared{k}-{i}"),
                        &time(2000 + k * 20 + i),
                        "page_viewed",
                        "bo",
                    )
                }));
            }
            lines.push("{not json".into());
            lines.push(common::event(
                &format!("r{round}-s{sender}-future"),
                "2999-01-01T00:00:00Z",
                "page_viewed",
                "bo",
            ));
            let body = lines.join("\n");
            let addr = s.addr;
            tasks.push(tokio::spawn(async move {
                post(addr, Some(&bearer()), body.as_bytes()).await
            }));
        }
        let mut accepted = 0;
        let mut duplicates = 0;
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.status, 200, "{r:?}");
            let c = r.json();
            assert_eq!(
                c["quarantined"], 2,
                "its bad record and its implausible time: {c}"
            );
            assert_eq!(
                c["accepted"].as_u64().unwrap() + c["duplicates"].as_u64().unwrap(),
                340,
                "{c}"
            );
            accepted += c["accepted"].as_u64().unwrap();
            duplicates += c["duplicates"].as_u64().unwrap();
        }
        // 6 × 300 own events and 6 × 20 shared ones, each shared one carried by two senders.
        assert_eq!(
            (accepted, duplicates),
            (6 * 300 + 6 * 20, 6 * 20),
            "round {round}"
        );
        let mine: Vec<String> = (0..6)
            .flat_map(|s| (0..300).map(move |i| format!("r{round}-s{s}-{i}")))
            .chain((0..6).flat_map(|k| (0..20).map(move |i| format!("r{round}-shared{k}-{i}"))))
            .collect();
        assert_eq!(stored(&s.store, &mine), mine.len(), "round {round}");
    }
}
