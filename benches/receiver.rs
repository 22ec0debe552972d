//! HTTP receiver bench, the engine started in-process on a temp store with `kind = "http"` on 127.0.0.1:0:
//! 1. throughput: clients on keep-alive connections post NDJSON batches of 500 generated events
//!    (`vigil::generate`, realistic shapes and sizes) and wait for each answer, which comes only once the
//!    batch is durable: events/s, and p50/p99 of the acknowledgement latency (request written → answer read);
//! 2. crowd: 10,000 connections opened at once against the default cap of 512, each asking `/healthz`:
//!    how many were answered, told busy (503) or closed, none left hanging; and a batch posted meanwhile.
//!
//! `cargo bench --bench receiver` (`-- EVENTS` to change the 200,000 events of part 1). Part 1 runs once per
//! client count in `VIGIL_BENCH_CLIENTS` (a comma-separated list, default `1`: the single-sender figure the
//! service's bar is about; `VIGIL_BENCH_CLIENTS=1,4` adds four senders), each on a fresh store.
#![allow(clippy::unwrap_used)] // a bench that cannot go on should stop loudly

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use vigil::config::{Config, HttpLimits, SecretRef, SourceConfig};
use vigil::engine::{Engine, EngineOptions};
use vigil::generate::{GenerateOptions, Generator, default_start};
use vigil::store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-token";
const BATCH: usize = 500;
/// Client counts to measure (`VIGIL_BENCH_CLIENTS`, comma-separated, default `1`). Each client takes every
/// n-th batch, so with more than one the store sees batches out of time order, as from several senders.
fn client_counts() -> Vec<usize> {
    let counts: Vec<usize> = std::env::var("VIGIL_BENCH_CLIENTS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .collect();
    if counts.is_empty() { vec![1] } else { counts }
}
const CROWD: usize = 10_000;

/// One request on a keep-alive connection; the status and how long the answer took.
fn post(conn: &mut TcpStream, body: &[u8]) -> std::io::Result<(u16, Duration)> {
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: vigil\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let t = Instant::now();
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    let status = read_response(conn)?;
    Ok((status, t.elapsed()))
}

/// Read one response with a Content-Length; its status.
fn read_response(conn: &mut TcpStream) -> std::io::Result<u16> {
    let mut buf = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        conn.read_exact(&mut byte)?;
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf);
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
    Ok(status)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The engine on a fresh store with one `http` source on 127.0.0.1:0.
fn start_engine(
    dir: &std::path::Path,
) -> (Store, vigil::engine::EngineTasks, std::net::SocketAddr) {
    let store = Store::open(&dir.join("data")).unwrap();
    let config = Config {
        sources: vec![SourceConfig::Http {
            listen: "127.0.0.1:0".parse().unwrap(),
            token: SecretRef::Literal(TOKEN.into()),
            max_body_bytes: 10 << 20,
            limits: HttpLimits {
                rate_per_sec: 0,
                ..HttpLimits::default()
            },
        }],
        ..Config::default()
    };
    let (_handle, tasks) = Engine::start(store.clone(), &config, EngineOptions::default()).unwrap();
    let addr = tasks.http_addrs()[0];
    (store, tasks, addr)
}

/// Part 1 for `clients` senders on a fresh engine: every batch posted and acknowledged.
fn throughput(clients: usize, bodies: &[Vec<u8>], n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (store, tasks, addr) = start_engine(dir.path());
    let started = Instant::now();
    let shares: Vec<Vec<Vec<u8>>> = (0..clients)
        .map(|c| bodies.iter().skip(c).step_by(clients).cloned().collect())
        .collect();
    let workers: Vec<_> = shares
        .into_iter()
        .map(|share| {
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(addr).unwrap();
                conn.set_nodelay(true).unwrap();
                share
                    .iter()
                    .map(|b| {
                        let (status, took) = post(&mut conn, b).unwrap();
                        assert_eq!(status, 200, "a batch was refused");
                        took
                    })
                    .collect::<Vec<Duration>>()
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let stored = store.event_count();
    println!(
        "throughput, {clients} client{}: {stored} events stored and acknowledged in {:.2} s = {:.0} events/s; \
         ack latency per batch of {BATCH}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        if clients == 1 { "" } else { "s" },
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    futures::executor::block_on(tasks.shutdown()).unwrap();
}

fn main() {
    let events: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);

    // Bodies first, so the clock measures the receiver, not the generator.
    let mut generator = Generator::new(&GenerateOptions {
        events: events as u64,
        seed: 7,
        incidents: 20,
        start: default_start(),
        days: 30,
    });
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut body = Vec::new();
    let mut line = String::new();
    let mut n = 0;
    let mut bytes = 0usize;
    while generator.next_into(&mut line).is_some() {
        body.extend_from_slice(line.trim_end().as_bytes());
        body.push(b'\n');
        n += 1;
        if n % BATCH == 0 {
            bytes += body.len();
            bodies.push(std::mem::take(&mut body));
        }
    }
    if !body.is_empty() {
        bytes += body.len();
        bodies.push(body);
    }
    println!(
        "receiver: {n} generated events in {} batches of {BATCH} ({:.0} bytes/event), keep-alive clients, each answer awaited",
        bodies.len(),
        bytes as f64 / n as f64,
    );

    // 1. Throughput and acknowledgement latency.
    for clients in client_counts() {
        throughput(clients, &bodies, n);
    }

    let dir = tempfile::tempdir().unwrap();
    let (_store, tasks, addr) = start_engine(dir.path());
    // 2. Ten thousand connections at once.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let probe = bodies[0].clone();
    rt.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let started = Instant::now();
        let mut crowd = Vec::with_capacity(CROWD);
        for _ in 0..CROWD {
            crowd.push(tokio::spawn(async move {
                let work = async {
                    let mut s = tokio::net::TcpStream::connect(addr).await?;
                    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: vigil\r\nConnection: close\r\n\r\n")
                        .await?;
                    let mut out = Vec::new();
                    s.read_to_end(&mut out).await?;
                    Ok::<_, std::io::Error>(out)
                };
                match tokio::time::timeout(Duration::from_secs(60), work).await {
                    Err(_) => "hung",
                    Ok(Err(_)) => "closed",
                    Ok(Ok(out)) if out.starts_with(b"HTTP/1.1 200") => "ok",
                    Ok(Ok(out)) if out.starts_with(b"HTTP/1.1 503") => "busy",
                    Ok(Ok(out)) if out.is_empty() => "closed",
                    Ok(Ok(_)) => "other",
                }
            }));
        }
        // A sender posting a batch in the middle of the crowd.
        let good = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let mut tries = 0;
            loop {
                tries += 1;
                if let Ok(mut conn) = TcpStream::connect(addr) {
                    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    if let Ok((200, _)) = post(&mut conn, &probe) {
                        return (t.elapsed(), tries);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let mut counts = std::collections::BTreeMap::new();
        for t in crowd {
            *counts.entry(t.await.unwrap()).or_insert(0u32) += 1;
        }
        let (good_took, tries) = good.await.unwrap();
        println!(
            "{CROWD} connections at once (cap 512): {counts:?} in {:.2} s; a batch posted meanwhile acknowledged after {:.1} ms ({tries} tries)",
            started.elapsed().as_secs_f64(),
            good_took.as_secs_f64() * 1e3
        );
    });
    println!("peak RSS {:.0} MB", peak_rss_mb());
    futures::executor::block_on(tasks.shutdown()).unwrap();
}
