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
use crate::config::RolesConfig;
use crate::export::{ExportFormat, ExportSelection, export_alerts};
use crate::model::AlertFilter;
use crate::store::{QuarantineRecord, Store};

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
/// A client that has not said hello by then is closed.
const HELLO_WITHIN: Duration = Duration::from_secs(5);

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// The first message: the client's protocol version and a name for the log.
    Hello { protocol: u32, client: String },
    /// The engine's figures, as `vigil status` prints them.
    Status,
    /// The alerts `filter` selects, written as `format` (an admin's right, as in Guard), streamed back in
    /// [`Response::Chunk`]s and ended by [`Response::Done`].
    Export {
        filter: AlertFilter,
        format: ExportFormat,
    },
    /// The newest `limit` quarantined records (a responder's right: raw records are outside data).
    Quarantine { limit: usize },
}

/// What the server answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    /// The handshake went through: the server's version and the role the client's uid has.
    Hello {
        protocol: u32,
        server: String,
        role: Role,
    },
    /// The server will not talk to this client (another protocol version, too many clients); why.
    Refused { reason: String },
    /// The figures of the running engine.
    Status(StatusReport),
    /// The request could not be served; why.
    Error { message: String },
    /// Export bytes, base64 (an export is bytes; a chunk may end inside a character).
    Chunk { data: String },
    /// The export is complete: rows written.
    Done { rows: u64 },
    /// Quarantined records, each with its raw bytes as text, and how many are kept in all.
    Quarantine {
        records: Vec<(QuarantineRecord, String)>,
        total: u64,
    },
}

/// What a socket peer may do, from its uid and `[roles]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads.
    Viewer,
    /// Triages: status, assignee, notes, forwarding.
    Responder,
    /// Tunes detections, manages integrations and exports.
    Admin,
}

impl Role {
    /// The role's name, as in `[roles]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Responder => "responder",
            Self::Admin => "admin",
        }
    }
}

/// Who a socket peer is: uid, login name and groups (names), as the system says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

impl Peer {
    fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("uid {} ({n})", self.uid),
            None => format!("uid {}", self.uid),
        }
    }
}

/// The role `[roles]` gives `peer`; `None` when it names them in no list. Lists hold user names, numeric
/// uids, `group:NAME` or `*`; the highest role that names the peer wins. With no `[roles]` at all, the
/// user running `serve` and root are admins and everyone else who can open the socket (its group) a viewer.
pub fn role_of(roles: &RolesConfig, peer: &Peer, serve_uid: u32) -> Option<Role> {
    if roles.admin.is_empty() && roles.responder.is_empty() && roles.viewer.is_empty() {
        return Some(if peer.uid == serve_uid || peer.uid == 0 {
            Role::Admin
        } else {
            Role::Viewer
        });
    }
    let uid = peer.uid.to_string();
    let names = |e: &String| {
        e == "*"
            || *e == uid
            || peer.name.as_deref() == Some(e.as_str())
            || e.strip_prefix("group:")
                .is_some_and(|g| peer.groups.iter().any(|x| x == g))
    };
    [
        (Role::Admin, &roles.admin),
        (Role::Responder, &roles.responder),
        (Role::Viewer, &roles.viewer),
    ]
    .into_iter()
    .find(|(_, list)| list.iter().any(names))
    .map(|(r, _)| r)
}

/// The peer of a connected socket, from `SO_PEERCRED` and the user and group databases.
fn peer_of(s: &UnixStream) -> io::Result<Peer> {
    let cred = rustix::net::sockopt::socket_peercred(s)?;
    let uid = cred.uid.as_raw();
    let name = super::users::name_of(uid);
    let groups = match (&name, std::fs::read_to_string("/etc/group")) {
        (Some(n), Ok(text)) => super::users::groups_in(&text, n, cred.gid.as_raw()),
        _ => Vec::new(),
    };
    Ok(Peer { uid, name, groups })
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
pub(super) fn run(
    path: PathBuf,
    store: Store,
    roles: RolesConfig,
    shared: Arc<Shared>,
) -> Result<(), String> {
    let roles = Arc::new(roles);
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
                let roles = roles.clone();
                let spawned = std::thread::Builder::new()
                    .name("socket client".into())
                    .spawn(move || {
                        if let Err(e) = serve_client(stream, &store, &roles, &shared) {
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
fn serve_client(
    mut s: UnixStream,
    store: &Store,
    roles: &RolesConfig,
    shared: &Shared,
) -> Result<(), SocketError> {
    s.set_nonblocking(false)?;
    // A peer gets a few seconds to say hello, then the idle limit: a silent one cannot hold a slot long.
    s.set_read_timeout(Some(HELLO_WITHIN))?;
    s.set_write_timeout(Some(IDLE))?;
    let who = peer_of(&s)?;
    let peer = who.describe();
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
    let Some(role) = role_of(roles, &who, rustix::process::getuid().as_raw()) else {
        let reason = format!("{peer} has no role in [roles]");
        tracing::warn!(%reason, "socket client refused");
        write_frame(&mut s, &Response::Refused { reason })?;
        return Ok(());
    };
    s.set_read_timeout(Some(IDLE))?;
    tracing::info!(
        peer = %peer,
        role = role.as_str(),
        client = %crate::model::text::sanitize(&client),
        "socket client attached"
    );
    write_frame(
        &mut s,
        &Response::Hello {
            protocol: PROTOCOL,
            server: concat!("vigil ", env!("CARGO_PKG_VERSION")).into(),
            role,
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
            Request::Quarantine { .. } if role < Role::Responder => {
                let message = format!(
                    "the quarantine is for responders and admins; {peer} is a {}",
                    role.as_str()
                );
                tracing::warn!(%message, "socket request denied");
                Response::Error { message }
            }
            Request::Quarantine { limit } => match store.quarantine_list(0, limit.min(10_000)) {
                Ok(list) => Response::Quarantine {
                    records: list
                        .into_iter()
                        .map(|r| {
                            let raw = String::from_utf8_lossy(&r.raw).into_owned();
                            (r, raw)
                        })
                        .collect(),
                    total: store.quarantined_count(),
                },
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            },
            Request::Export { .. } if role < Role::Admin => {
                let message = format!("export is an admin's right; {peer} is a {}", role.as_str());
                tracing::warn!(%message, "socket request denied");
                Response::Error { message }
            }
            Request::Export { filter, format } => {
                tracing::info!(peer = %peer, "export through the socket");
                let selection = ExportSelection::Filter(filter);
                let mut out = ChunkWriter {
                    stream: &mut s,
                    buf: Vec::with_capacity(CHUNK),
                };
                let written = export_alerts(store, &selection, &mut out, format)
                    .map_err(|e| e.to_string())
                    .and_then(|rows| out.finish().map(|()| rows).map_err(|e| e.to_string()));
                match written {
                    Ok(rows) => Response::Done { rows },
                    Err(message) => Response::Error { message },
                }
            }
        };
        write_frame(&mut s, &resp)?;
    }
    Ok(())
}

/// Bytes per export chunk.
const CHUNK: usize = 256 * 1024;

/// Export output, sent as [`Response::Chunk`] frames as it fills.
struct ChunkWriter<'a> {
    stream: &'a mut UnixStream,
    buf: Vec<u8>,
}

impl ChunkWriter<'_> {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(&self.buf);
        self.buf.clear();
        write_frame(self.stream, &Response::Chunk { data }).map_err(|e| match e {
            SocketError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        })
    }

    fn finish(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Write for ChunkWriter<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A client of the control socket at `path`, after the handshake.
pub struct Client {
    stream: UnixStream,
    /// The role the server gave this client's uid.
    pub role: Role,
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
            Some(Response::Hello { role, .. }) => Ok(Some(Self { stream, role })),
            Some(Response::Refused { reason }) => Err(SocketError::Refused(reason)),
            other => Err(SocketError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Export the alerts `filter` selects into `out`; the rows written.
    pub fn export(
        &mut self,
        filter: AlertFilter,
        format: ExportFormat,
        out: &mut impl Write,
    ) -> Result<u64, SocketError> {
        use base64::Engine as _;
        write_frame(&mut self.stream, &Request::Export { filter, format })?;
        loop {
            match read_frame::<Response>(&mut self.stream)? {
                Some(Response::Chunk { data }) => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .map_err(|e| SocketError::Decode(e.to_string()))?;
                    out.write_all(&bytes)?;
                }
                Some(Response::Done { rows }) => return Ok(rows),
                Some(Response::Error { message }) => return Err(SocketError::Refused(message)),
                other => return Err(SocketError::Unexpected(format!("{other:?}"))),
            }
        }
    }

    /// The newest `limit` quarantined records with their raw text, and the count kept in all.
    pub fn quarantine(
        &mut self,
        limit: usize,
    ) -> Result<(Vec<(QuarantineRecord, String)>, u64), SocketError> {
        write_frame(&mut self.stream, &Request::Quarantine { limit })?;
        match read_frame::<Response>(&mut self.stream)? {
            Some(Response::Quarantine { records, total }) => Ok((records, total)),
            Some(Response::Error { message }) => Err(SocketError::Refused(message)),
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
    fn roles_come_from_names_uids_groups_or_star_highest_first() {
        let peer = Peer {
            uid: 1001,
            name: Some("bob".into()),
            groups: vec!["bob".into(), "secops".into()],
        };
        let none = RolesConfig::default();
        assert_eq!(role_of(&none, &peer, 1000), Some(Role::Viewer));
        assert_eq!(role_of(&none, &peer, 1001), Some(Role::Admin));
        let roles = |a: &[&str], r: &[&str], v: &[&str]| RolesConfig {
            admin: a.iter().map(|s| s.to_string()).collect(),
            responder: r.iter().map(|s| s.to_string()).collect(),
            viewer: v.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            role_of(&roles(&["bob"], &[], &[]), &peer, 0),
            Some(Role::Admin)
        );
        assert_eq!(
            role_of(&roles(&[], &["1001"], &[]), &peer, 0),
            Some(Role::Responder)
        );
        assert_eq!(
            role_of(&roles(&["alice"], &["group:secops"], &["*"]), &peer, 0),
            Some(Role::Responder)
        );
        assert_eq!(
            role_of(&roles(&[], &[], &["*"]), &peer, 0),
            Some(Role::Viewer)
        );
        assert_eq!(
            role_of(&roles(&["alice"], &["group:ops"], &[]), &peer, 0),
            None
        );
        // A group name is not a user name.
        assert_eq!(role_of(&roles(&["secops"], &[], &[]), &peer, 0), None);
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
