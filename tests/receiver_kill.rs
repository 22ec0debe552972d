//! The kill -9 bar of the service: the real `vigil serve` receives generated events over HTTP in NDJSON
//! batches of 500 on one keep-alive connection, and is killed with SIGKILL in the middle of the stream, three
//! times.
//! After each kill, before anything is sent again:
//! - every event of every batch that was answered 200 is in the store (counted by event id, the store opened
//!   directly, as the kill left it);
//! - once serve is restarted on that store, the alerts those events must raise (the generator's planted
//!   incidents that fire before the first unanswered batch) exist.
//!
//! The stream then resumes from the first unanswered batch; at the end every generated event is stored once
//! and the alerts are exactly the planted ones, as for a run that was never killed.
//!
//! The bar names 1M events; the default keeps a debug build quick. `VIGIL_KILL_EVENTS=1000000 cargo test
//! --release --test receiver_kill -- --nocapture` runs the full bar and prints the figures.
#![allow(clippy::unwrap_used)] // a test that cannot go on should stop loudly

mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use vigil::detect::catalogue::catalogue;
use vigil::generate::{GenerateOptions, Generator, PlantedIncident, default_start};

const TOKEN: &str = "kill-test-token";
const BATCH: usize = 500;
/// Longest wait for serve to start, answer or stop.
const WAIT: Duration = Duration::from_secs(120);

/// Events to send: `VIGIL_KILL_EVENTS`, else a size a debug build handles in well under a minute.
fn event_total() -> u64 {
    std::env::var("VIGIL_KILL_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 10 * BATCH as u64)
        .unwrap_or(50_000)
}

/// One NDJSON body and what the checks need of it.
struct Batch {
    body: Vec<u8>,
    ids: Vec<String>,
    /// Time of its first event (the generator writes in time order).
    first: DateTime<Utc>,
}

#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
}

fn generate(opts: &GenerateOptions) -> (Vec<Batch>, Vec<PlantedIncident>) {
    let mut generator = Generator::new(opts);
    let mut batches = Vec::new();
    let mut line = String::new();
    let mut cur: Option<Batch> = None;
    while let Some(time) = generator.next_into(&mut line) {
        let b = cur.get_or_insert_with(|| Batch {
            body: Vec::with_capacity(BATCH * 1100),
            ids: Vec::with_capacity(BATCH),
            first: time,
        });
        let id: IdOnly = serde_json::from_str(&line).unwrap();
        b.ids.push(id.id);
        b.body.extend_from_slice(line.trim_end().as_bytes());
        b.body.push(b'\n');
        if b.ids.len() == BATCH {
            batches.extend(cur.take());
        }
    }
    batches.extend(cur);
    (batches, generator.planted().to_vec())
}

/// A running `vigil serve` and the address its receiver listens on.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

struct Setup {
    _dir: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = dir.path().join("vigil.toml");
        std::fs::write(
            &config,
            "[[sources]]\nkind = \"http\"\nlisten = \"127.0.0.1:0\"\ntoken = \"env:VIGIL_KILL_TEST_TOKEN\"\nrate_per_sec = 0\n",
        )
        .unwrap();
        Self {
            _dir: dir,
            data,
            config,
        }
    }

    fn log(&self) -> PathBuf {
        self.data.join("vigil.log")
    }

    /// Addresses the receiver reported listening on, oldest first (the log is appended across starts).
    fn listening(&self) -> Vec<SocketAddr> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("http receiver listening"))
            .filter_map(|l| {
                l.split("addr=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .collect()
    }

    /// Start serve and wait until its receiver listens.
    // The child is waited for by `Serve` (its kill, its stop, or its drop).
    #[allow(clippy::zombie_processes)]
    fn start(&self) -> Serve {
        let before = self.listening().len();
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env_remove("VIGIL_DATA_DIR")
            .env("VIGIL_KILL_TEST_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let until = Instant::now() + WAIT;
        loop {
            if let Some(addr) = self.listening().get(before) {
                return Serve { child, addr: *addr };
            }
            if Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve did not listen within {WAIT:?}: {}",
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every event id the store holds, read with the store opened directly (serve must not be running).
    fn stored_ids(&self, opts: &GenerateOptions) -> (HashSet<String>, u64) {
        let store = vigil::store::Store::open(&self.data).unwrap();
        let mut ids = HashSet::new();
        let day = chrono::Duration::days(1);
        let mut from = opts.start - day;
        while from < opts.start + day * (opts.days as i32 + 2) {
            for ev in store.events_between(from, from + day, usize::MAX).unwrap() {
                assert!(ids.insert(ev.id.clone()), "event {} stored twice", ev.id);
            }
            from += day;
        }
        (ids, store.event_count())
    }

    /// (detection, actor) of every alert, sorted: through the control socket while serve runs, else from the
    /// store.
    fn alerts(&self) -> Vec<(String, String)> {
        let out = common::vigil(&self.data, &["export", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        let mut rows: Vec<(String, String)> = common::stdout(&out)
            .lines()
            .map(|l| {
                let a: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    a["detection"].as_str().unwrap().to_string(),
                    a["actor"]["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        rows.sort();
        rows
    }
}

/// A test that fails half-way leaves no serve running.
impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Serve {
    fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL: nothing is saved on the way out
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait for a clean exit.
    fn stop(mut self) {
        let term = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let until = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert_eq!(status.code(), Some(0), "serve ended badly after SIGTERM");
                return;
            }
            assert!(Instant::now() < until, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn connect(&self) -> TcpStream {
        let conn = TcpStream::connect(self.addr).unwrap();
        conn.set_nodelay(true).unwrap();
        conn.set_read_timeout(Some(WAIT)).unwrap();
        conn
    }
}

fn write_request(conn: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: vigil\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)
}

/// Read one response with a Content-Length: its status and body.
fn read_response(conn: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut head = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        conn.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Post one batch and expect it stored.
fn post_ok(conn: &mut TcpStream, b: &Batch) {
    write_request(conn, &b.body).unwrap();
    let (status, body) = read_response(conn).unwrap();
    assert_eq!(status, 200, "{body}");
}

fn pairs(planted: &[PlantedIncident]) -> BTreeSet<(String, String)> {
    planted
        .iter()
        .map(|p| (p.detection.clone(), p.actor_id.clone()))
        .collect()
}

#[test]
fn acknowledged_batches_survive_kill_9_and_raise_their_alerts() {
    let total = event_total();
    // Every detection planted at least once; the full bar plants as many incidents as the generator's own
    // million-event check.
    let opts = GenerateOptions {
        events: total,
        seed: 11,
        incidents: (catalogue().len() as u32).max(if total >= 500_000 { 100 } else { 0 }),
        start: default_start(),
        days: 30,
    };
    let (batches, planted) = generate(&opts);
    assert!(!planted.is_empty());
    let setup = Setup::new();
    // Batches answered 200.
    let mut acked = vec![false; batches.len()];
    // Events answered 200 one by one.
    let mut acked_singles: Vec<String> = Vec::new();
    let mut next = 0;
    let started = Instant::now();
    let mut serve = setup.start();
    // Where the kills land: a quarter, half and three quarters of the way. The first two come while a batch
    // is in flight (sent, being parsed, stored or flushed), a little later into it the second time; the
    // third right after an answer, before anything else is sent.
    let n = batches.len();
    let kills = [(n / 4, Some(1u64)), (n / 2, Some(7)), (n * 3 / 4, None)];
    for (round, (kill_at, in_flight)) in kills.into_iter().enumerate() {
        let mut conn = serve.connect();
        while next < kill_at {
            post_ok(&mut conn, &batches[next]);
            acked[next] = true;
            next += 1;
        }
        match in_flight {
            Some(delay_ms) => {
                write_request(&mut conn, &batches[next].body).unwrap();
                std::thread::sleep(Duration::from_millis(delay_ms));
                serve.kill9();
                // An answer already on its way counts: it promised the batch is durable.
                if let Ok((200, _)) = read_response(&mut conn) {
                    acked[next] = true;
                    next += 1;
                }
            }
            None => {
                // Small requests too (one event each), the kill at once after the last answer: the writes
                // of a small batch are the least likely to have reached the file unless it was flushed.
                let body = String::from_utf8(batches[next].body.clone()).unwrap();
                for (line, id) in body.lines().zip(&batches[next].ids).take(5) {
                    write_request(&mut conn, line.as_bytes()).unwrap();
                    let (status, answer) = read_response(&mut conn).unwrap();
                    assert_eq!(status, 200, "{answer}");
                    acked_singles.push(id.clone());
                }
                serve.kill9();
            }
        }
        drop(conn);
        let answered = acked.iter().filter(|a| **a).count();
        println!(
            "kill {}: after {answered} batches answered 200, batch {} {}",
            round + 1,
            kill_at,
            match (in_flight, next > kill_at) {
                (None, _) => "not sent",
                (Some(_), true) => "answered just before the kill",
                (Some(_), false) => "unanswered",
            }
        );

        // Every event of every answered batch is on disk.
        let (stored, count) = setup.stored_ids(&opts);
        assert_eq!(stored.len() as u64, count, "the event counter matches");
        let missing: Vec<&String> = batches
            .iter()
            .zip(&acked)
            .filter(|(_, a)| **a)
            .flat_map(|(b, _)| &b.ids)
            .chain(&acked_singles)
            .filter(|id| !stored.contains(*id))
            .collect();
        assert!(
            missing.is_empty(),
            "kill {}: {} events of answered batches lost, e.g. {:?}",
            round + 1,
            missing.len(),
            &missing[..missing.len().min(5)]
        );

        // Restarted, serve raises what those events must raise (the first unanswered batch may or may not be
        // stored; incidents that fire before it are certain).
        serve = setup.start();
        let cut = batches[next].first;
        let expected = pairs(
            &planted
                .iter()
                .filter(|p| p.time < cut)
                .cloned()
                .collect::<Vec<_>>(),
        );
        let alerts: BTreeSet<_> = setup.alerts().into_iter().collect();
        let lost: Vec<_> = expected.difference(&alerts).collect();
        assert!(
            lost.is_empty(),
            "kill {}: alerts missing after the restart: {lost:?}",
            round + 1
        );
    }

    // The rest of the stream, the unanswered batch first (sent again: events dedupe on their id).
    let mut conn = serve.connect();
    while next < batches.len() {
        post_ok(&mut conn, &batches[next]);
        acked[next] = true;
        next += 1;
    }
    drop(conn);
    serve.stop();
    let took = started.elapsed();
    let alerts = setup.alerts();

    let (stored, count) = setup.stored_ids(&opts);
    assert_eq!(count, total, "every event stored once");
    assert_eq!(stored.len() as u64, total);
    assert!(
        batches
            .iter()
            .flat_map(|b| &b.ids)
            .all(|id| stored.contains(id))
    );
    let expected = pairs(&planted);
    let raised: BTreeSet<_> = alerts.iter().cloned().collect();
    let missing: Vec<_> = expected.difference(&raised).collect();
    let extra: Vec<_> = raised.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
    assert_eq!(
        alerts.len(),
        planted.len(),
        "one alert per planted incident"
    );
    println!(
        "{total} events in {} batches of {BATCH}, {} kills: all stored once, {} planted alerts raised, in {:.1} s",
        batches.len(),
        kills.len(),
        expected.len(),
        took.as_secs_f64()
    );
}
