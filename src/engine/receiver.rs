//! The HTTP receiver (`kind = "http"`): `POST /v1/events` takes every input form of DESIGN §3 from the
//! Atlassian audit-log webhook or any sender, and answers 2xx only once the pipeline has made the batch
//! durable (the pipeline fires the batch's [`Ack`](super::workers::Ack) after its flush). `GET /healthz`
//! says whether the receiver can take events.
//!
//! Bodies are parsed with the same [`Reader`] as files and stdin, so bad records are quarantined exactly as
//! there. Defences, in the order a request meets them: a cap on open connections (one more is answered 503
//! and closed at once), a header read timeout (hyper's), a per-address rate limit (429 with `Retry-After`),
//! the credential (Bearer or Basic, compared in constant time, 401), a body cap (413), a body read timeout
//! (408) and a budget of body bytes held at once, so memory stays bounded whatever the clients do.
//!
//! It runs on a thread of its own with a small tokio runtime, like the delivery worker; the pipeline stays
//! synchronous. Uses `ingest`, `config` and the engine's workers; nothing here touches the store.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};

use super::workers::{Batch, Feeder, Shared, TICK};
use crate::config::HttpLimits;
use crate::ingest::{Frame, Framer, FramerLimits, Reader, Record, frame_records};

/// Reasons a 400 quotes at most, and characters of each: enough to fix the sender, never a large echo.
const REASONS_SHOWN: usize = 3;
const REASON_CHARS: usize = 200;

/// Longest wait for the pipeline to make a batch durable before the client is told 503 (it may retry; the
/// batch dedupes on event ids if it was stored after all).
const ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// At a stop, how long requests in flight get to finish (their batches are being stored) before the
/// runtime is dropped.
const DRAIN: Duration = Duration::from_secs(5);

/// Client addresses tracked by the rate limiter before idle ones are forgotten.
const RATE_TABLE_MAX: usize = 65_536;

/// What a connection over the cap is told before it is closed: no task, no buffer, one write.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy\n";

/// One receiver as configured, its secret already read.
pub(super) struct ReceiverSettings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The credential requests must carry.
    pub token: String,
    /// Larger bodies get 413.
    pub max_body_bytes: u64,
    /// Connections, rate, timeouts.
    pub limits: HttpLimits,
}

/// Why the receiver could not start listening.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReceiverError {
    #[error("cannot start the receiver's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
}

/// Serve until the engine's sources are told to stop. `ready` gets the bound address (the port when
/// `listen` asked for 0) or why there is none; a receiver that cannot listen ends without failing the
/// engine (its health note says why).
pub(super) fn run(
    settings: ReceiverSettings,
    feeder: Feeder,
    shared: Arc<Shared>,
    ready: SyncSender<Result<SocketAddr, String>>,
) -> Result<(), String> {
    let name = format!("http {}", settings.listen);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vigil-http")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let e = ReceiverError::Runtime(e);
            let _ = ready.send(Err(e.to_string()));
            return Err(e.to_string());
        }
    };
    runtime.block_on(async {
        let listener = match listen(settings.listen) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(receiver = %name, error = %e, "http receiver not started");
                shared.set_health(&name, Some(e.to_string()));
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let addr = listener.local_addr().unwrap_or(settings.listen);
        tracing::info!(%addr, "http receiver listening");
        shared.set_health(&name, None);
        let _ = ready.send(Ok(addr));
        serve(listener, settings, feeder, shared).await;
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
    tracing::info!(receiver = %name, "http receiver stopped");
    Ok(())
}

/// Bind with address reuse (a restart does not wait out TIME_WAIT) and a deep accept queue (a burst of
/// connections waits in the kernel, not in our memory).
fn listen(addr: SocketAddr) -> Result<TcpListener, ReceiverError> {
    let err = |error| ReceiverError::Listen { addr, error };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    socket.listen(4096).map_err(err)
}

/// What every request handler shares.
struct Receiver {
    token_digest: [u8; 32],
    max_body: u64,
    body_timeout: Duration,
    feeder: Feeder,
    shared: Arc<Shared>,
    limiter: Option<RateLimiter>,
    /// Body bytes held at once by all requests (permits are KiB).
    body_budget: Arc<Semaphore>,
    body_budget_kib: u32,
    /// Set when a batch was not stored while the engine was not stopping: `/healthz` says so.
    store_failed: AtomicBool,
}

/// Accept until told to stop, then let requests in flight finish for up to [`DRAIN`].
async fn serve(
    listener: TcpListener,
    settings: ReceiverSettings,
    feeder: Feeder,
    shared: Arc<Shared>,
) {
    let limits = settings.limits;
    let max_conn = usize::try_from(limits.max_connections)
        .unwrap_or(usize::MAX)
        .clamp(1, Semaphore::MAX_PERMITS);
    // Four full bodies at once, and never less than 256 MiB: a large batch still gets in while memory stays
    // bounded by the budget rather than by connections × body cap.
    let budget_kib =
        u32::try_from((settings.max_body_bytes.saturating_mul(4) / 1024).max(256 * 1024))
            .unwrap_or(u32::MAX);
    let receiver = Arc::new(Receiver {
        token_digest: Sha256::digest(settings.token.as_bytes()).into(),
        max_body: settings.max_body_bytes,
        body_timeout: Duration::from_secs(limits.body_timeout_secs),
        feeder,
        shared: shared.clone(),
        limiter: (limits.rate_per_sec > 0).then(|| RateLimiter::new(limits.rate_per_sec)),
        body_budget: Arc::new(Semaphore::new(budget_kib as usize)),
        body_budget_kib: budget_kib,
        store_failed: AtomicBool::new(false),
    });
    let router = Router::new()
        .route("/v1/events", post(events))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::disable())
        .with_state(receiver);
    let (stop_tx, stop_rx) = watch::channel(false);
    let watcher = {
        let shared = shared.clone();
        tokio::spawn(async move {
            while !shared.stopping() {
                tokio::time::sleep(TICK).await;
            }
            let _ = stop_tx.send(true);
        })
    };
    let connections = Arc::new(Semaphore::new(max_conn));
    let header_timeout = Duration::from_secs(limits.header_timeout_secs);
    let mut stop = stop_rx.clone();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, most often: wait for some to be freed.
                    tracing::warn!(error = %e, "http receiver cannot accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            let _ = stream.try_write(BUSY);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            connection(stream, peer, router, header_timeout, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    watcher.abort();
    // Requests in flight finish (their batches are being stored); idle connections close.
    let all = u32::try_from(max_conn).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN, connections.acquire_many(all)).await;
}

/// Serve one connection with HTTP/1.1 until it closes, its headers are late, or the receiver stops.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            async move {
                let resp: Result<Response, Infallible> =
                    tower_service::Service::call(&mut router, req).await;
                resp
            }
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "http connection ended");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A JSON answer with a status.
fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// 503: the batch is not stored and will not be; the sender should try again later.
fn unavailable(why: &str) -> Response {
    let mut r = json(
        StatusCode::SERVICE_UNAVAILABLE,
        serde_json::json!({ "error": why }),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

/// `GET /healthz`: `ok`, or why events cannot be taken now. No credential needed, so nothing configured is
/// named.
async fn healthz(State(rx): State<Arc<Receiver>>) -> Response {
    if rx.shared.stopping() {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response()
    } else if rx.store_failed.load(Ordering::Acquire) {
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
    } else {
        (StatusCode::OK, "ok\n").into_response()
    }
}

/// `POST /v1/events`: rate, credential, size, body, parse, store, and the counts once durable.
async fn events(
    State(rx): State<Arc<Receiver>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    if rx.shared.stopping() {
        return unavailable("the engine is stopping");
    }
    if let Some(limiter) = &rx.limiter
        && let Err(wait) = limiter.check(peer.ip(), Instant::now())
    {
        let mut r = json(
            StatusCode::TOO_MANY_REQUESTS,
            serde_json::json!({ "error": "too many requests from this address" }),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return r;
    }
    if !authorized(req.headers(), &rx.token_digest) {
        let mut r = json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({ "error": "missing or wrong Authorization (Bearer or Basic)" }),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"vigil\""),
        );
        return r;
    }
    // Counted from here until the pipeline takes its records: it waits a moment for requests being read or
    // parsed, to take them in time order together with the ones queued.
    let parsing = rx.shared.parsing();
    let announced = content_length(req.headers());
    if announced.is_some_and(|n| n > rx.max_body) {
        return too_large(rx.max_body);
    }
    // Hold budget for the body before reading it: what every request holds at once stays bounded.
    let want_kib = announced
        .unwrap_or(rx.max_body)
        .div_ceil(1024)
        .clamp(1, u64::from(rx.body_budget_kib));
    let budget = match tokio::time::timeout(
        rx.body_timeout,
        rx.body_budget
            .clone()
            .acquire_many_owned(u32::try_from(want_kib).unwrap_or(rx.body_budget_kib)),
    )
    .await
    {
        Ok(Ok(p)) => p,
        _ => return unavailable("too many bodies in flight"),
    };
    let body = match tokio::time::timeout(rx.body_timeout, read_body(req.into_body(), rx.max_body))
        .await
    {
        Ok(Ok(b)) => b,
        Ok(Err(BodyError::TooLarge)) => return too_large(rx.max_body),
        Ok(Err(BodyError::Read)) => {
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": "the body could not be read" }),
            );
        }
        Err(_) => {
            return json(
                StatusCode::REQUEST_TIMEOUT,
                serde_json::json!({ "error": "the body was not sent in time" }),
            );
        }
    };
    let source: Arc<str> = format!("http {}", peer.ip()).into();
    let (ack_tx, ack_rx) = tokio::sync::oneshot::channel();
    let feeder = rx.feeder.clone();
    // Parsing a large body and waiting for room in the pipeline's channel both block: not on the runtime.
    let parsed = tokio::task::spawn_blocking(move || {
        let parsed = parse(&body);
        drop(body);
        drop(budget);
        if parsed.records.is_empty() {
            return Ok(parsed.into_summary());
        }
        let batch = Batch {
            source,
            records: parsed.records,
            position: None,
            ack: Some(ack_tx),
        };
        let summary = Summary {
            events: parsed.events,
            reasons: parsed.reasons,
        };
        if feeder.send(batch) {
            parsing.queued();
            Ok(summary)
        } else {
            Err(())
        }
    })
    .await;
    let summary = match parsed {
        Ok(Ok(s)) => s,
        Ok(Err(())) => return unavailable("not stored: the engine is stopping"),
        Err(e) => {
            tracing::error!(error = %e, "http receiver: parsing a body failed");
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({ "error": "the body could not be processed" }),
            );
        }
    };
    if summary.events == 0 && summary.reasons.is_empty() {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": "empty body: no events", "reasons": [] }),
        );
    }
    let counts = match tokio::time::timeout(ACK_TIMEOUT, ack_rx).await {
        Ok(Ok(c)) => c,
        Ok(Err(_)) | Err(_) => {
            if !rx.shared.stopping() {
                rx.store_failed.store(true, Ordering::Release);
            }
            tracing::warn!(%peer, "http batch not acknowledged: answered 503");
            return unavailable("not stored: the engine is stopping or its store failed");
        }
    };
    rx.store_failed.store(false, Ordering::Release);
    if summary.events == 0 {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({
                "error": "malformed body: no event could be read",
                "reasons": summary.reasons,
                "quarantined": counts.quarantined,
            }),
        );
    }
    json(StatusCode::OK, serde_json::json!(counts))
}

fn too_large(max: u64) -> Response {
    let mut r = json(
        StatusCode::PAYLOAD_TOO_LARGE,
        serde_json::json!({ "error": format!("the body is larger than {max} bytes") }),
    );
    // The rest of the body is not read: the connection cannot be reused.
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

enum BodyError {
    TooLarge,
    Read,
}

/// The whole body, refusing it as soon as it passes `max` bytes.
async fn read_body(body: Body, max: u64) -> Result<Vec<u8>, BodyError> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Read)?;
        if (out.len() + chunk.len()) as u64 > max {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Whether `Authorization` carries the configured secret: `Bearer <token>`, or `Basic` whose password is
/// the token (any user name). Both sides are hashed first so the comparison takes the same time whatever
/// the token's length and wherever a guess differs.
fn authorized(headers: &HeaderMap, token_digest: &[u8; 32]) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return false;
    };
    let rest = rest.trim();
    let candidate: Vec<u8> = if scheme.eq_ignore_ascii_case("bearer") {
        rest.as_bytes().to_vec()
    } else if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine as _;
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
            return false;
        };
        match decoded.iter().position(|b| *b == b':') {
            Some(i) => decoded[i + 1..].to_vec(),
            None => return false,
        }
    } else {
        return false;
    };
    let digest: [u8; 32] = Sha256::digest(&candidate).into();
    digest.ct_eq(token_digest).into()
}

/// A body parsed into records, with what the answer needs.
struct Parsed {
    records: Vec<Record>,
    events: u64,
    reasons: Vec<String>,
}

impl Parsed {
    fn into_summary(self) -> Summary {
        Summary {
            events: self.events,
            reasons: self.reasons,
        }
    }
}

/// What the answer needs once the records have gone to the pipeline.
struct Summary {
    events: u64,
    reasons: Vec<String>,
}

/// Bodies of at least this many records are expanded on two threads: each record costs a JSON parse and a
/// validation (~10 µs for 1 KB), a thread's start well under one record's worth per hundred.
const PARALLEL_RECORDS: usize = 64;

/// Every record of `body`, with the first few refusal reasons made safe to send back. The body is framed
/// once, in order; then the frames (the costly part: parse and validation) are expanded on two threads
/// when there are many, which halves the wait of a client that posts one batch at a time. Records come out
/// in input order either way, exactly as a [`Reader`] over the body gives them.
fn parse(body: &[u8]) -> Parsed {
    let mut framer = Framer::new(body, FramerLimits::default());
    let mut frames = Vec::new();
    // Reading a byte slice cannot fail; an error would only end the records early.
    while let Ok(Some(frame)) = framer.next_frame() {
        frames.push(frame);
    }
    let expand = |frames: Vec<Frame>| -> Vec<Record> {
        let mut out = Vec::with_capacity(frames.len());
        for f in frames {
            out.extend(frame_records(f));
        }
        out
    };
    let records = if frames.len() >= PARALLEL_RECORDS {
        let second = frames.split_off(frames.len() / 2);
        let both = std::thread::scope(|scope| {
            let other = std::thread::Builder::new()
                .name("vigil-parse".into())
                .spawn_scoped(scope, || expand(second))
                .ok()?;
            let mut records = expand(frames);
            match other.join() {
                Ok(rest) => records.extend(rest),
                Err(p) => std::panic::resume_unwind(p),
            }
            Some(records)
        });
        match both {
            Some(records) => records,
            // No thread to be had (the process is at its limit): all of it here.
            None => return parse_serial(body),
        }
    } else {
        expand(frames)
    };
    summarise(records)
}

/// [`parse`] on this thread alone, with a [`Reader`].
fn parse_serial(body: &[u8]) -> Parsed {
    let mut reader = Reader::new(body);
    let mut records = Vec::new();
    while let Ok(Some(rec)) = reader.next_record() {
        records.push(rec);
    }
    summarise(records)
}

/// Count the events and keep the first few refusal reasons of `records`.
fn summarise(records: Vec<Record>) -> Parsed {
    let mut out = Parsed {
        records: Vec::new(),
        events: 0,
        reasons: Vec::new(),
    };
    for rec in &records {
        match rec {
            Record::Event(_) => out.events += 1,
            Record::Rejected(r) => {
                if out.reasons.len() < REASONS_SHOWN {
                    out.reasons.push(sanitise(&r.reason));
                }
            }
        }
    }
    out.records = records;
    out
}

/// A refusal reason fit to send back: its quoted value cut short, control and bidirectional-override
/// characters replaced, and the whole bounded.
fn sanitise(reason: &str) -> String {
    let cut = crate::model::text::cut_quoted(reason, crate::model::text::QUOTE_SHOWN);
    let mut out: String = cut
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
                '?'
            } else {
                c
            }
        })
        .take(REASON_CHARS)
        .collect();
    if cut.chars().count() > REASON_CHARS {
        out.push('…');
    }
    out
}

/// A token bucket per client address: `rate` requests a second, bursts of as many.
struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    fn new(rate: u64) -> Self {
        Self {
            rate: rate as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` when `ip` may make a request now, else the whole seconds to wait.
    fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        if buckets.len() >= RATE_TABLE_MAX && !buckets.contains_key(&ip) {
            // Forget addresses whose bucket has refilled: they are indistinguishable from new ones.
            let full = Duration::from_secs_f64(1.0);
            buckets.retain(|_, (_, at)| now.duration_since(*at) < full);
            if buckets.len() >= RATE_TABLE_MAX {
                buckets.clear();
            }
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.rate, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn credentials() {
        let d: [u8; 32] = Sha256::digest(b"tok").into();
        assert!(authorized(&headers("Bearer tok"), &d));
        assert!(authorized(&headers("bearer  tok "), &d));
        assert!(authorized(&headers("Basic dTp0b2s="), &d)); // u:tok
        assert!(!authorized(&headers("Basic dG9r"), &d)); // tok, no colon
        assert!(!authorized(&headers("Bearer to"), &d));
        assert!(!authorized(&headers("Bearer"), &d));
        assert!(!authorized(&HeaderMap::new(), &d));
    }

    #[test]
    fn rate_limit_refills() {
        let l = RateLimiter::new(2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t = Instant::now();
        assert!(l.check(ip, t).is_ok());
        assert!(l.check(ip, t).is_ok());
        assert_eq!(l.check(ip, t), Err(1));
        assert!(l.check(ip, t + Duration::from_millis(600)).is_ok());
    }

    /// The two-thread parse gives exactly what one reader gives: same records, same order, same lines and
    /// reasons for the bad ones, whatever the form of the body.
    #[test]
    fn parallel_parse_equals_one_reader() {
        let good = |i: usize| {
            format!(
                r#"{{"id":"e{i}","attributes":{{"time":"2026-11-02T09:00:{:02}Z","action":"page_viewed","actor":{{"id":"a{}"}}}}}}"#,
                i % 60,
                i % 7
            )
        };
        let mut lines: Vec<String> = (0..300).map(good).collect();
        lines[17] = "{not json".into();
        lines[150] = r#"{"id":"x","attributes":{"action":"page_viewed"}}"#.into();
        lines[151] = format!("[{},{}]", good(1000), good(1001));
        lines[299] = r#"{"data":[{"id":"p"}],"links":{}}"#.into();
        let ndjson = lines.join("\n") + "\n";
        let array = format!("[{}]", (0..200).map(good).collect::<Vec<_>>().join(",\n"));
        let pretty = (0..100)
            .map(|i| good(i).replace(",\"", ",\n  \""))
            .collect::<Vec<_>>()
            .join("\n");
        for body in [ndjson, array, pretty, String::new(), "garbage".into()] {
            let (a, b) = (parse(body.as_bytes()), parse_serial(body.as_bytes()));
            assert_eq!(format!("{:?}", a.records), format!("{:?}", b.records));
            assert_eq!((a.events, &a.reasons), (b.events, &b.reasons));
        }
    }

    #[test]
    fn reasons_are_made_safe() {
        let r = sanitise("line 1: bad '\u{1b}[31m\u{202e}x'");
        assert!(!r.chars().any(char::is_control), "{r:?}");
        assert!(!r.contains('\u{202e}'));
        assert!(sanitise(&"x".repeat(10_000)).chars().count() <= REASON_CHARS + 1);
    }
}
