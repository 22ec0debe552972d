//! The attached side of the control socket: an [`EngineHandle`](super::EngineHandle) whose engine runs in
//! `vigil serve`. Calls go out as [`Request::Call`] frames with an id; one reader thread takes every frame
//! the server sends, hands each [`Response::Reply`] to the call waiting on its id, and republishes pushed
//! changes on a local broadcast, so the UI subscribes exactly as it does in-process. The figures and the
//! tuning in force are kept here from the pushes, so `stats()` and `detections()` stay synchronous.
//!
//! When the server goes away (stopped, killed), every waiting call fails with
//! [`EngineError::Stopped`](super::EngineError::Stopped) and the feed says [`Change::Fatal`] with why: the UI
//! ends with that message rather than showing a dead engine.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{broadcast, oneshot};
use ulid::Ulid;

use super::api::{Answer, Call, Change, EngineError, EngineStats, export_to_file};
use super::socket::{Client, Request, Response, Role, SocketError, read_frame, write_frame};
use crate::detect::tuning::Tuning;
use crate::export::ExportFormat;
use crate::model::AlertFilter;

type Waiting = oneshot::Sender<Result<Answer, EngineError>>;

/// The engine of a running `vigil serve`, over its socket.
pub(super) struct Remote {
    writer: Mutex<UnixStream>,
    waiting: Mutex<HashMap<u64, Waiting>>,
    next_id: AtomicU64,
    changes: broadcast::Sender<Change>,
    stats: Mutex<EngineStats>,
    tuning: Mutex<Tuning>,
    role: Role,
    /// The socket, for exports (each on a connection of its own, so a long one holds up no call).
    path: PathBuf,
    /// Why the connection ended, once it has.
    closed: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Remote {
    /// Connect, say hello, attach. `Ok(None)` when nothing answers at `path`.
    pub(super) fn connect(path: &Path) -> Result<Option<Arc<Self>>, SocketError> {
        let Some(client) = Client::connect(path)? else {
            return Ok(None);
        };
        let mut stream = client.stream;
        write_frame(&mut stream, &Request::Attach)?;
        let (stats, tuning, role) = match read_frame::<Response>(&mut stream)? {
            Some(Response::Attached {
                stats,
                tuning,
                role,
            }) => (stats, tuning, role),
            Some(Response::Refused { reason } | Response::Error { message: reason }) => {
                return Err(SocketError::Refused(reason));
            }
            other => return Err(SocketError::Unexpected(format!("{other:?}"))),
        };
        // Attached: the server pushes when it has something; silence is not a failure.
        stream.set_read_timeout(None)?;
        let (changes, _) = broadcast::channel(1024);
        let remote = Arc::new(Self {
            writer: Mutex::new(stream.try_clone()?),
            waiting: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            changes,
            stats: Mutex::new(stats),
            tuning: Mutex::new(tuning),
            role,
            path: path.to_path_buf(),
            closed: Mutex::new(None),
        });
        let weak = Arc::downgrade(&remote);
        std::thread::Builder::new()
            .name("vigil attach".into())
            .spawn(move || read_pushes(stream, weak))?;
        tracing::info!(socket = %path.display(), role = role.as_str(), "attached to vigil serve");
        Ok(Some(remote))
    }

    pub(super) fn role(&self) -> Role {
        self.role
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    pub(super) fn publish(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    pub(super) fn stats(&self) -> EngineStats {
        lock(&self.stats).clone()
    }

    pub(super) fn tuning(&self) -> Tuning {
        lock(&self.tuning).clone()
    }

    /// Send `call` and wait for its reply.
    pub(super) async fn call(&self, call: Call) -> Result<Answer, EngineError> {
        if lock(&self.closed).is_some() {
            return Err(EngineError::Stopped);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert(id, tx);
        let sent = write_frame(&mut *lock(&self.writer), &Request::Call { id, call });
        if let Err(e) = sent {
            lock(&self.waiting).remove(&id);
            return Err(match e {
                SocketError::TooLarge(n) => {
                    EngineError::Invalid(format!("a request of {n} bytes is too large to send"))
                }
                _ => EngineError::Stopped,
            });
        }
        rx.await.unwrap_or(Err(EngineError::Stopped))
    }

    /// An export streamed from the server (which checks the role) into `path`, here (blocking).
    pub(super) fn export(
        &self,
        filter: AlertFilter,
        ids: Option<Vec<Ulid>>,
        format: ExportFormat,
        path: PathBuf,
        overwrite: bool,
    ) -> Result<String, EngineError> {
        let mut client = match Client::connect(&self.path) {
            Ok(Some(c)) => c,
            Ok(None) => return Err(EngineError::Stopped),
            Err(e) => return Err(EngineError::Invalid(e.to_string())),
        };
        export_to_file(path, overwrite, |out| {
            let rows = client
                .export(filter, ids, format, out)
                .map_err(|e| match e {
                    // The server's refusal (a viewer exporting) is a refusal here too.
                    SocketError::Refused(why) => EngineError::Denied(why),
                    other => EngineError::Invalid(other.to_string()),
                })?;
            out.flush()
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
            Ok(rows)
        })
    }

    /// The connection ended: fail every waiting call and tell the UI why.
    fn close(&self, why: String) {
        let first = {
            let mut closed = lock(&self.closed);
            let first = closed.is_none();
            closed.get_or_insert(why.clone());
            first
        };
        for (_, tx) in lock(&self.waiting).drain() {
            let _ = tx.send(Err(EngineError::Stopped));
        }
        if first {
            tracing::warn!(reason = %why, "detached from vigil serve");
            self.publish(Change::Fatal(why));
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Ends the reader thread's read.
        let _ = lock(&self.writer).shutdown(std::net::Shutdown::Both);
    }
}

/// The reader thread: every frame from the server, until it hangs up or the last handle is dropped.
fn read_pushes(mut stream: UnixStream, remote: Weak<Remote>) {
    let why = loop {
        let frame = read_frame::<Response>(&mut stream);
        let Some(r) = remote.upgrade() else {
            return;
        };
        match frame {
            Ok(Some(Response::Reply { id, result })) => {
                if let Some(tx) = lock(&r.waiting).remove(&id) {
                    let _ = tx.send(result);
                }
            }
            Ok(Some(Response::Change { change })) => {
                if let Change::Stats(s) = &change {
                    *lock(&r.stats) = s.clone();
                }
                r.publish(change);
            }
            Ok(Some(Response::Tuning { tuning })) => *lock(&r.tuning) = tuning,
            Ok(Some(other)) => {
                tracing::warn!(frame = ?other, "vigil serve sent something unexpected; ignored");
            }
            Ok(None) => break "vigil serve closed the connection (it stopped)".to_string(),
            Err(e) => break format!("lost the connection to vigil serve: {e}"),
        }
    };
    if let Some(r) = remote.upgrade() {
        r.close(why);
    }
}
