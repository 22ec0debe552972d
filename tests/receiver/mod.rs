//! A real HTTP receiver on 127.0.0.1 for the delivery tests and bench (axum, not a mocked trait): it records
//! every request and answers as the test's script says; it can go down and come back on the same port.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Req {
    /// A header's value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering (a slow receiver; a timeout).
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn ok() -> Self {
        Self::status(200)
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub fn with_body(mut self, body: &str) -> Self {
        self.body = body.into();
        self
    }

    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

type Script = Box<dyn FnMut(&Req, &[Req]) -> Reply + Send>;

struct State {
    requests: Mutex<Vec<Req>>,
    script: Mutex<Script>,
}

/// The receiver: see the module doc.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<State>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// Start on a free port, answering 200 to everything.
    pub async fn start() -> Self {
        Self::with_script(|_, _| Reply::ok()).await
    }

    /// Start with `script` deciding each answer from the request and those before it.
    pub async fn with_script(script: impl FnMut(&Req, &[Req]) -> Reply + Send + 'static) -> Self {
        let state = Arc::new(State {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(Box::new(script)),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut r = Self {
            addr,
            state,
            server: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let state = self.state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { handle(state, method, uri, headers, body).await }
            },
        );
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Replace the script.
    pub fn script(&self, script: impl FnMut(&Req, &[Req]) -> Reply + Send + 'static) {
        *self.state.script.lock().unwrap() = Box::new(script);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Req> {
        self.state.requests.lock().unwrap().clone()
    }

    /// How many requests so far (without copying them).
    pub fn count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// Requests whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Req> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    }

    /// Stop listening: connections are refused until [`Receiver::up`].
    pub async fn down(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
            let _ = s.await;
        }
    }

    /// Listen again on the same port.
    pub async fn up(&mut self) {
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    /// Wait until `done` holds for the requests so far, or panic after `limit`.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&[Req]) -> bool) {
        let start = Instant::now();
        loop {
            if done(&self.requests()) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "receiver: condition not met in {limit:?}; {} requests",
                self.requests().len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
        }
    }
}

async fn handle(
    state: Arc<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = Req {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
    };
    let reply = {
        // Both locks, always in this order: the script sees the requests before this one without a copy.
        let mut requests = state.requests.lock().unwrap();
        let mut script = state.script.lock().unwrap();
        let reply = (script)(&req, &requests);
        requests.push(req);
        reply
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap(),
        reply.body.clone(),
    )
        .into_response();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    resp
}
