//! The control socket of `vigil serve`: `<data-dir>/vigil.sock`, mode 0660 (the data dir's group may
//! connect). While `serve` holds the store, other commands ask it through this socket instead of failing on
//! the store's lock. This first version answers `status`; the UI's attach, roles and the other commands build
//! on the same framing.
//!
//! Framing: each message is a 4-byte big-endian length, then that many bytes of JSON (at most
//! [`MAX_FRAME`]). The client speaks first with [`Request::Hello`] naming its [`PROTOCOL`]; a server of
//! another version answers [`Response::Refused`] naming both versions, so an old client and a new server
//! say why they cannot talk instead of misreading each other.

use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::status::StatusReport;
use super::workers::{Shared, TICK};
use crate::store::Store;

/// The protocol this build speaks.
pub const PROTOCOL: u32 = 1;
/// The socket's file name in the data dir.
pub const SOCKET_NAME: &str = "vigil.sock";
/// Largest message either side accepts.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// Clients served at once; one more is told so and closed.
pub const MAX_CLIENTS: usize = 32;
/// A client that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(60);

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// The first message: the client's protocol version and a name for the log.
    Hello { protocol: u32, client: String },
    /// The engine's figures, as `vigil status` prints them.
    Status,
}

/// What the server answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    /// The handshake went through: the server's version.
    Hello { protocol: u32, server: String },
    /// The server will not talk to this client (another protocol version, too many clients); why.
    Refused { reason: String },
    /// The figures of the running engine.
    Status(StatusReport),
    /// The request could not be served; why.
    Error { message: String },
}

/// Something went wrong talking over the socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("a message of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("unreadable message: {0}")]
    Decode(String),
    #[error("vigil serve refused: {0}")]
    Refused(String),
    #[error("vigil serve answered something unexpected: {0}")]
    Unexpected(String),
}

/// Write one framed message.
pub fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<(), SocketError> {
    let body = serde_json::to_vec(msg).map_err(|e| SocketError::Decode(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(SocketError::TooLarge(body.len()));
    }
    let len = u32::try_from(body.len()).map_err(|_| SocketError::TooLarge(body.len()))?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

/// Read one framed message; `Ok(None)` at a clean end of stream.
pub fn read_frame<T: for<'de> Deserialize<'de>>(
    r: &mut impl Read,
) -> Result<Option<T>, SocketError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(SocketError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| SocketError::Decode(e.to_string()))
}

/// Bind the socket at `path`, owner and group read-write (0660). A socket left by a killed `serve` is
/// replaced (whoever calls this holds the store's lock, so nobody else serves it); anything else at that
/// place — a file, a directory, a symlink — is refused, never followed or removed.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket; refusing to replace it",
                    path.display()
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Serve the socket at `path` until the engine stops, then remove it. A socket that cannot be bound is a
/// health note (the engine runs on; other commands then say the store is in use, as before).
pub(super) fn run(path: PathBuf, store: Store, shared: Arc<Shared>) -> Result<(), String> {
    let listener = match bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(socket = %path.display(), error = %e, "control socket not started");
            shared.set_health("socket", Some(format!("control socket not started: {e}")));
            return Ok(());
        }
    };
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("socket {}: {e}", path.display()))?;
    tracing::info!(socket = %path.display(), "control socket listening");
    let active = Arc::new(AtomicUsize::new(0));
    while !shared.stopping() {
        match listener.accept() {
            Ok((stream, _)) => {
                if active.load(Ordering::Acquire) >= MAX_CLIENTS {
                    let mut s = stream;
                    let _ = s.set_nonblocking(false);
                    let _ = write_frame(
                        &mut s,
                        &Response::Refused {
                            reason: format!("{MAX_CLIENTS} clients are connected already"),
                        },
                    );
                    continue;
                }
                active.fetch_add(1, Ordering::AcqRel);
                let (store, shared, done) = (store.clone(), shared.clone(), active.clone());
                let spawned = std::thread::Builder::new()
                    .name("socket client".into())
                    .spawn(move || {
                        if let Err(e) = serve_client(stream, &store, &shared) {
                            tracing::info!(error = %e, "socket client ended");
                        }
                        done.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::AcqRel);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(TICK / 2),
            Err(e) => {
                tracing::warn!(error = %e, "control socket: accept failed");
                std::thread::sleep(TICK);
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// One client: the handshake, then requests until it hangs up, goes quiet or the engine stops.
fn serve_client(mut s: UnixStream, store: &Store, shared: &Shared) -> Result<(), SocketError> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(IDLE))?;
    s.set_write_timeout(Some(IDLE))?;
    let peer = rustix::net::sockopt::socket_peercred(&s)
        .map(|c| c.uid.as_raw().to_string())
        .unwrap_or_else(|_| "?".into());
    let Some(Request::Hello { protocol, client }) = read_frame::<Request>(&mut s)? else {
        write_frame(
            &mut s,
            &Response::Refused {
                reason: "the first message must be hello".into(),
            },
        )?;
        return Ok(());
    };
    if protocol != PROTOCOL {
        let reason = format!(
            "this vigil serve speaks protocol {PROTOCOL}, the client ({}) speaks {protocol}: \
             use the same vigil version on both sides",
            crate::model::text::truncate(&crate::model::text::sanitize(&client), 60)
        );
        tracing::warn!(uid = %peer, %reason, "socket client refused");
        write_frame(&mut s, &Response::Refused { reason })?;
        return Ok(());
    }
    tracing::info!(uid = %peer, client = %crate::model::text::sanitize(&client), "socket client attached");
    write_frame(
        &mut s,
        &Response::Hello {
            protocol: PROTOCOL,
            server: concat!("vigil ", env!("CARGO_PKG_VERSION")).into(),
        },
    )?;
    while !shared.stopping() {
        let Some(req) = read_frame::<Request>(&mut s)? else {
            return Ok(());
        };
        let resp = match req {
            Request::Hello { .. } => Response::Error {
                message: "hello was already said".into(),
            },
            Request::Status => {
                let mut report = StatusReport::of_store(store);
                report.engine = "running".into();
                report.backlog = shared.backlog();
                Response::Status(report)
            }
        };
        write_frame(&mut s, &resp)?;
    }
    Ok(())
}

/// A client of the control socket at `path`, after the handshake.
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Connect and say hello. `Ok(None)` when nothing answers at `path` (no `serve` is running, or a socket
    /// was left by one that died): the caller then opens the store itself.
    pub fn connect(path: &Path) -> Result<Option<Self>, SocketError> {
        let mut stream = match UnixStream::connect(path) {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        stream.set_read_timeout(Some(IDLE))?;
        write_frame(
            &mut stream,
            &Request::Hello {
                protocol: PROTOCOL,
                client: concat!("vigil ", env!("CARGO_PKG_VERSION")).into(),
            },
        )?;
        match read_frame::<Response>(&mut stream)? {
            Some(Response::Hello { .. }) => Ok(Some(Self { stream })),
            Some(Response::Refused { reason }) => Err(SocketError::Refused(reason)),
            other => Err(SocketError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The running engine's figures.
    pub fn status(&mut self) -> Result<StatusReport, SocketError> {
        write_frame(&mut self.stream, &Request::Status)?;
        match read_frame::<Response>(&mut self.stream)? {
            Some(Response::Status(r)) => Ok(r),
            Some(Response::Error { message }) => Err(SocketError::Refused(message)),
            other => Err(SocketError::Unexpected(format!("{other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversize_is_refused() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Request::Status).unwrap();
        let back: Option<Request> = read_frame(&mut buf.as_slice()).unwrap();
        assert_eq!(back, Some(Request::Status));
        let empty: Option<Request> = read_frame(&mut [].as_slice()).unwrap();
        assert_eq!(empty, None);
        let mut huge = (MAX_FRAME as u32 + 1).to_be_bytes().to_vec();
        huge.extend([0u8; 8]);
        assert!(matches!(
            read_frame::<Request>(&mut huge.as_slice()),
            Err(SocketError::TooLarge(_))
        ));
        let mut junk = 3u32.to_be_bytes().to_vec();
        junk.extend(b"{x}");
        assert!(matches!(
            read_frame::<Request>(&mut junk.as_slice()),
            Err(SocketError::Decode(_))
        ));
    }

    #[test]
    fn bind_replaces_a_stale_socket_and_refuses_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SOCKET_NAME);
        drop(bind(&path).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        // Left behind by a killed serve: replaced.
        drop(bind(&path).unwrap());
        std::fs::remove_file(&path).unwrap();
        // A symlink (or a file) at its place: refused, and the target untouched.
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(bind(&path).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
