//! The control socket of `vigil serve`: `<data-dir>/vigil.sock`, mode 0660 (the data dir's group may
//! connect). While `serve` holds the store, other commands ask it through this socket instead of failing on
//! the store's lock, and UIs attach to its engine ([`Request::Attach`]): each attached UI sends
//! [`Call`]s and gets [`Response::Reply`]s, and the engine's change feed is pushed to all of them, so several
//! engineers see each other's triage live. What a peer may do comes from its uid and `[roles]`.
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

use ulid::Ulid;

use super::api::{Answer, Call, Change, Command, EngineError, EngineHandle, EngineStats, Local};
use super::status::StatusReport;
use super::workers::{Batch, BatchCounts, Feeder, Shared, TICK};
use crate::config::RolesConfig;
use crate::detect::tuning::Tuning;
use crate::export::{ExportFormat, ExportSelection, export_alerts};
use crate::model::{Alert, AlertFilter};
use crate::store::{QuarantineRecord, Store};

/// The protocol this build speaks (2: UIs attach).
pub const PROTOCOL: u32 = 2;
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
    /// The alerts `filter` selects (or the alerts `ids` names, when given), written as `format` (an admin's
    /// right, as in Guard), streamed back in [`Response::Chunk`]s and ended by [`Response::Done`].
    Export {
        filter: AlertFilter,
        #[serde(default)]
        ids: Option<Vec<Ulid>>,
        format: ExportFormat,
    },
    /// The newest `limit` quarantined records (a responder's right: raw records are outside data).
    Quarantine { limit: usize },
    /// Start streaming events into the engine (an admin's right: it loads data and raises alerts), named
    /// `source` in quarantine records: [`Request::Data`] frames of input in any form `vigil ingest` reads, then
    /// [`Request::End`], answered by [`Response::Ingested`] once every event is durable.
    Ingest { source: String },
    /// Input bytes of an ingest, base64 (a chunk may end inside a record).
    Data { data: String },
    /// The ingest's input is complete.
    End,
    /// Attach a UI: the server answers [`Response::Attached`], then pushes every change of the engine and
    /// answers [`Request::Call`]s (in any order: each reply names its call) until the client hangs up.
    Attach,
    /// One query or command of an attached UI.
    Call { id: u64, call: Call },
    /// What `vigil scan --site --alerts` needs to raise alerts as this engine would (an admin's right: it
    /// includes the fingerprint key): answered by [`Response::ScanContext`].
    ScanContext,
    /// Raise these alerts of a site scan (an admin's right), each unless its group already has one (a finding
    /// seen by an earlier scan); answered by [`Response::Raised`] once they are durable.
    RaiseAlerts { alerts: Vec<Alert> },
}

/// What the server answers.
// One value per message, serialized once: boxing the large variants would only add an allocation.
#[allow(clippy::large_enum_variant)]
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
    /// An ingest is durable: what became of its records.
    Ingested {
        accepted: u64,
        duplicates: u64,
        quarantined: u64,
    },
    /// The UI is attached: the figures and tuning in force now (later ones come as pushes).
    Attached {
        stats: EngineStats,
        tuning: Tuning,
        role: Role,
    },
    /// The answer to [`Request::Call`] `id`.
    Reply {
        id: u64,
        result: Result<Answer, EngineError>,
    },
    /// A change of the engine, pushed to every attached UI.
    Change { change: Change },
    /// The store's fingerprint key (hex) and the tuning in force, for a site scan.
    ScanContext {
        fingerprint_key: String,
        tuning: Tuning,
    },
    /// Alerts raised (the others' groups had one already).
    Raised { raised: u64 },
    /// The tuning in force, pushed before the [`Change::TuningChanged`] it explains.
    Tuning { tuning: Tuning },
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

    /// The name an attached peer's changes are recorded under in alert histories.
    fn who(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("uid {}", self.uid))
    }
}

/// The least role a command needs, and what it does in words for a refusal. Viewers read; responders triage
/// (status, assignee, notes, sending alerts on); admins tune detections, manage integrations and export.
pub fn required_role(cmd: &Command) -> (Role, &'static str) {
    match cmd {
        Command::SetStatus { .. } => (Role::Responder, "changing an alert's status"),
        Command::Assign { .. } => (Role::Responder, "assigning alerts"),
        Command::AddNote { .. } => (Role::Responder, "adding notes"),
        Command::SendAlerts { .. } => (Role::Responder, "sending alerts to an integration"),
        Command::SetDetection { .. } => (Role::Admin, "tuning detections"),
        Command::TestIntegration { .. } => (Role::Admin, "testing integrations"),
        Command::ReplayDead { .. } => (Role::Admin, "replaying dead letters"),
        Command::SetIntegrationEnabled { .. } => {
            (Role::Admin, "enabling or disabling integrations")
        }
        Command::Export { .. } => (Role::Admin, "exporting alerts"),
        Command::SetActorAccess { .. } => {
            (Role::Admin, "suspending or restoring a person's access")
        }
    }
}

/// Whom a role is for, in a refusal.
fn who_may(role: Role) -> &'static str {
    match role {
        Role::Viewer => "everyone",
        Role::Responder => "for responders and admins",
        Role::Admin => "for admins",
    }
}

/// A call as the peer may make it: a command its role does not allow is refused with the reason, and a
/// command's `who` becomes the peer's own name (a client cannot triage in someone else's name).
fn authorize(call: Call, role: Role, peer: &Peer) -> Result<Call, EngineError> {
    let command = match call {
        Call::Execute { command } => command,
        // A peer's queries are bounded: no page or timeline asks the store for more than a screenful many
        // times over (the UI asks for at most a few hundred).
        Call::AlertsPage {
            filter,
            cursor,
            limit,
        } => {
            return Ok(Call::AlertsPage {
                filter,
                cursor,
                limit: limit.min(QUERY_MAX),
            });
        }
        Call::Timeline {
            actor,
            around,
            before,
            after,
        } => {
            return Ok(Call::Timeline {
                actor,
                around,
                before: before.min(QUERY_MAX),
                after: after.min(QUERY_MAX),
            });
        }
        // The plan only describes, but it is the first step of an admin's action: a viewer hears "no" before
        // a confirmation, not after it.
        Call::AccessPlan { .. } if role < Role::Admin => {
            return Err(EngineError::Denied(format!(
                "suspending or restoring a person's access is {}; {} is a {}",
                who_may(Role::Admin),
                peer.describe(),
                role.as_str()
            )));
        }
        other => return Ok(other),
    };
    let (needed, what) = required_role(&command);
    if role < needed {
        return Err(EngineError::Denied(format!(
            "{what} is {}; {} is a {}",
            who_may(needed),
            peer.describe(),
            role.as_str()
        )));
    }
    if matches!(command, Command::Export { .. }) {
        return Err(EngineError::Invalid(
            "an attached export is streamed (Request::Export), not written by the server".into(),
        ));
    }
    Ok(Call::Execute {
        command: command.with_who(peer.who()),
    })
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

/// Save the alerts whose group has none yet (the server's side of [`Request::RaiseAlerts`]); their ids.
fn raise_new(store: &Store, alerts: Vec<Alert>) -> Result<Vec<Ulid>, crate::store::StoreError> {
    let mut new = Vec::with_capacity(alerts.len());
    for a in alerts {
        if store.latest_in_group(&a.group_key)?.is_none()
            && !new.iter().any(|n: &Alert| n.group_key == a.group_key)
        {
            new.push(a);
        }
    }
    if new.is_empty() {
        return Ok(Vec::new());
    }
    store.save_alerts(&new)?;
    store.flush()?;
    Ok(new.iter().map(|a| a.id).collect())
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
    // The group that may connect is the data dir's (engineers join it), not whatever serve's primary group
    // is. Allowed when serve belongs to that group; otherwise the socket keeps serve's group, logged.
    if let Some(dir) = path.parent()
        && let Ok(dir_md) = std::fs::metadata(dir)
    {
        use std::os::unix::fs::MetadataExt;
        let sock_gid = std::fs::symlink_metadata(path)?.gid();
        if sock_gid != dir_md.gid()
            && let Err(e) = std::os::unix::fs::lchown(path, None, Some(dir_md.gid()))
        {
            tracing::warn!(
                socket = %path.display(),
                group = dir_md.gid(),
                error = %e,
                "cannot give the socket the data dir's group; it keeps serve's"
            );
        }
    }
    Ok(listener)
}

/// Serve the socket at `path` until the engine stops, then remove it. A socket that cannot be bound is a
/// health note (the engine runs on; other commands then say the store is in use, as before).
pub(super) fn run(
    path: PathBuf,
    store: Store,
    handle: EngineHandle,
    feeder: Feeder,
    roles: RolesConfig,
    shared: Arc<Shared>,
) -> Result<(), String> {
    let roles = Arc::new(roles);
    // Client threads send through this one feeder, taken away when serve stops: a client still streaming
    // an ingest then cannot keep the pipeline's channel open and hold up the shutdown.
    let feeder = Arc::new(std::sync::Mutex::new(Some(feeder)));
    let ended = accept_loop(&path, &store, &handle, &feeder, &roles, &shared);
    feeder.lock().unwrap_or_else(|p| p.into_inner()).take();
    ended
}

fn accept_loop(
    path: &Path,
    store: &Store,
    handle: &EngineHandle,
    feeder: &SharedFeeder,
    roles: &Arc<RolesConfig>,
    shared: &Arc<Shared>,
) -> Result<(), String> {
    let path = path.to_path_buf();
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
                let (roles, handle, feeder) = (roles.clone(), handle.clone(), feeder.clone());
                let spawned = std::thread::Builder::new()
                    .name("socket client".into())
                    .spawn(move || {
                        let ctx = Ctx {
                            store: &store,
                            handle: &handle,
                            feeder: &feeder,
                            roles: &roles,
                            shared: &shared,
                        };
                        if let Err(e) = serve_client(stream, &ctx) {
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
/// The pipeline's feeder, shared by the client threads while serve runs.
type SharedFeeder = Arc<std::sync::Mutex<Option<Feeder>>>;

/// What a client thread serves from.
struct Ctx<'a> {
    store: &'a Store,
    handle: &'a EngineHandle,
    feeder: &'a SharedFeeder,
    roles: &'a RolesConfig,
    shared: &'a Arc<Shared>,
}

fn serve_client(mut s: UnixStream, ctx: &Ctx<'_>) -> Result<(), SocketError> {
    let Ctx {
        store,
        handle,
        roles,
        shared,
        ..
    } = *ctx;
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
            Request::Attach => {
                let Some(local) = handle.local() else {
                    return Err(SocketError::Unexpected("no engine to attach to".into()));
                };
                tracing::info!(peer = %peer, role = role.as_str(), "UI attached");
                let ended = session(s, local, role, &who, shared);
                tracing::info!(peer = %peer, "UI detached");
                return ended;
            }
            Request::Call { id, .. } => Response::Reply {
                id,
                result: Err(EngineError::Invalid("attach first".into())),
            },
            Request::Data { .. } | Request::End => Response::Error {
                message: "no ingest was started".into(),
            },
            Request::Ingest { .. } if role < Role::Admin => {
                // The input that follows is read and dropped, so the client hears the refusal at its end.
                let message = format!(
                    "ingesting events is for admins; {peer} is a {}",
                    role.as_str()
                );
                tracing::warn!(%message, "socket request denied");
                drain_ingest(&mut s)?;
                Response::Error { message }
            }
            Request::Ingest { source } => {
                let source = format!(
                    "socket {}: {}",
                    who.who(),
                    crate::model::text::truncate(&crate::model::text::sanitize(&source), 200)
                );
                tracing::info!(peer = %peer, %source, "ingest through the socket");
                match ingest_stream(&mut s, &source, ctx.feeder, shared)? {
                    Ok(c) => Response::Ingested {
                        accepted: c.accepted,
                        duplicates: c.duplicates,
                        quarantined: c.quarantined,
                    },
                    Err(message) => Response::Error { message },
                }
            }
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
            Request::ScanContext | Request::RaiseAlerts { .. } if role < Role::Admin => {
                let message = format!(
                    "raising a site scan's alerts is for admins; {peer} is a {}",
                    role.as_str()
                );
                tracing::warn!(%message, "socket request denied");
                Response::Error { message }
            }
            Request::ScanContext => match store.fingerprint_key() {
                Ok(key) => Response::ScanContext {
                    fingerprint_key: key.iter().map(|b| format!("{b:02x}")).collect(),
                    tuning: handle.current_tuning(),
                },
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            },
            Request::RaiseAlerts { alerts } => match raise_new(store, alerts) {
                Ok(ids) => {
                    tracing::info!(peer = %peer, raised = ids.len(), "site scan alerts raised through the socket");
                    let raised = ids.len() as u64;
                    if !ids.is_empty() {
                        handle.publish(Change::AlertsChanged {
                            raised: ids.len(),
                            ids,
                        });
                    }
                    Response::Raised { raised }
                }
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            },
            Request::Export { .. } if role < Role::Admin => {
                let message = format!("export is an admin's right; {peer} is a {}", role.as_str());
                tracing::warn!(%message, "socket request denied");
                Response::Error { message }
            }
            Request::Export {
                filter,
                ids,
                format,
            } => {
                tracing::info!(peer = %peer, "export through the socket");
                let selection = match ids {
                    Some(ids) => ExportSelection::Ids(ids),
                    None => ExportSelection::Filter(filter),
                };
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

/// Most alerts or events one attached query returns.
const QUERY_MAX: usize = 2_000;

/// Records per batch of a socket ingest.
const INGEST_BATCH: usize = 1_000;

/// Input chunks buffered between the socket and the parser.
const INGEST_BUFFERED: usize = 4;

/// Read and drop an ingest's input up to its end (a refused one).
fn drain_ingest(s: &mut UnixStream) -> Result<(), SocketError> {
    loop {
        match read_frame::<Request>(s)? {
            Some(Request::Data { .. }) => {}
            _ => return Ok(()),
        }
    }
}

/// An ingest streamed over the socket: the frames' bytes go through a small channel to a parser thread,
/// which reads them with the same reader as files and sends batches to the pipeline, each acknowledged once
/// durable. Answers when the client's input has ended and every batch is durable. The outer error ends the
/// connection; the inner one is said to the client.
fn ingest_stream(
    s: &mut UnixStream,
    source: &str,
    feeder: &SharedFeeder,
    shared: &Arc<Shared>,
) -> Result<Result<BatchCounts, String>, SocketError> {
    use base64::Engine as _;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(INGEST_BUFFERED);
    let source: Arc<str> = source.into();
    let parser = {
        let (feeder, shared) = (feeder.clone(), shared.clone());
        std::thread::Builder::new()
            .name("socket ingest".into())
            .spawn(move || parse_and_feed(ChunkReader::new(rx), source, &feeder, &shared))?
    };
    let mut failed = None;
    loop {
        match read_frame::<Request>(s) {
            Ok(Some(Request::Data { data })) => {
                if failed.is_some() {
                    continue;
                }
                match base64::engine::general_purpose::STANDARD.decode(data) {
                    // The parser gone means it failed: keep reading to the end, then say why.
                    Ok(bytes) => {
                        if tx.send(bytes).is_err() {
                            failed = Some(String::new());
                        }
                    }
                    Err(e) => failed = Some(format!("unreadable ingest data: {e}")),
                }
            }
            Ok(Some(Request::End)) => break,
            Ok(Some(_)) => {
                failed = Some("an ingest takes data frames and an end".into());
                break;
            }
            // The client went away mid-stream: what it sent whole is stored (as a file cut short would be).
            Ok(None) | Err(_) => {
                drop(tx);
                let _ = parser.join();
                return Err(SocketError::Unexpected(
                    "the client hung up during an ingest".into(),
                ));
            }
        }
    }
    drop(tx);
    let parsed = parser
        .join()
        .unwrap_or_else(|_| Err("the ingest's parser failed".into()));
    Ok(match (failed, parsed) {
        (Some(why), _) if !why.is_empty() => Err(why),
        (_, r) => r,
    })
}

/// The parser thread of [`ingest_stream`]: records in batches to the pipeline, then the acknowledgements.
fn parse_and_feed(
    input: ChunkReader,
    source: Arc<str>,
    feeder: &SharedFeeder,
    shared: &Arc<Shared>,
) -> Result<BatchCounts, String> {
    let mut reader = crate::ingest::Reader::new(input);
    let mut acks = Vec::new();
    let mut records = Vec::with_capacity(INGEST_BATCH);
    let send = |records: Vec<crate::ingest::Record>, acks: &mut Vec<_>| -> Result<(), String> {
        let (ack, done) = tokio::sync::oneshot::channel();
        let batch = Batch {
            source: source.clone(),
            records,
            position: None,
            ack: Some(ack),
        };
        let sent = feeder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|f| f.send(batch));
        if !sent {
            return Err("vigil serve is stopping; the rest was not stored".into());
        }
        acks.push(done);
        Ok(())
    };
    loop {
        match reader.next_record() {
            Ok(Some(r)) => {
                records.push(r);
                if records.len() >= INGEST_BATCH {
                    send(std::mem::take(&mut records), &mut acks)?;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(format!("reading the input: {e}")),
        }
        if shared.stopping() {
            return Err("vigil serve is stopping; the rest was not stored".into());
        }
    }
    if !records.is_empty() {
        send(records, &mut acks)?;
    }
    let mut total = BatchCounts::default();
    for done in acks {
        let c = done
            .blocking_recv()
            .map_err(|_| "not stored: the engine stopped or its store failed".to_string())?;
        total.accepted += c.accepted;
        total.duplicates += c.duplicates;
        total.quarantined += c.quarantined;
    }
    Ok(total)
}

/// The input of a socket ingest, as a reader over the chunks the socket thread passes on.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl ChunkReader {
    fn new(rx: std::sync::mpsc::Receiver<Vec<u8>>) -> Self {
        Self {
            rx,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.chunk = c;
                    self.at = 0;
                }
                // The input ended.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Calls of one attached UI answered at once; more wait for a free slot (a UI asks a few per key press).
const CALLS_IN_FLIGHT: usize = 8;

/// How often the push thread looks at the change feed (and whether serve is stopping).
const PUSH_POLL: Duration = Duration::from_millis(25);

/// An attached UI: say what is in force, then answer calls (each on a thread of its own, up to
/// [`CALLS_IN_FLIGHT`], so a slow evidence read does not hold up a page) while a second thread pushes the
/// change feed. Ends when the client hangs up or serve stops (the push thread then shuts the socket, which
/// ends the read here).
fn session(
    mut s: UnixStream,
    local: &Local,
    role: Role,
    peer: &Peer,
    shared: &Arc<Shared>,
) -> Result<(), SocketError> {
    // Subscribed before the first figures go out: nothing said after them is missed.
    let mut feed = local.subscribe();
    let writer = Arc::new(std::sync::Mutex::new(s.try_clone()?));
    let send = {
        let writer = writer.clone();
        move |r: &Response| -> Result<(), SocketError> {
            let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
            match write_frame(&mut *w, r) {
                // An answer over the frame limit (a page of very large alerts) is refused as an answer, so the
                // call waiting for it ends instead of hanging; nothing was written.
                Err(SocketError::TooLarge(n)) => {
                    if let Response::Reply { id, .. } = r {
                        write_frame(
                            &mut *w,
                            &Response::Reply {
                                id: *id,
                                result: Err(EngineError::Invalid(format!(
                                    "the answer ({n} bytes) is over the socket's {MAX_FRAME}-byte limit; \
                                     ask for fewer"
                                ))),
                            },
                        )
                    } else {
                        tracing::warn!(bytes = n, "a push over the frame limit was dropped");
                        Ok(())
                    }
                }
                other => other,
            }
        }
    };
    send(&Response::Attached {
        stats: local.stats(),
        tuning: local.current_tuning(),
        role,
    })?;
    // An attached UI may sit idle for hours: it is ended by its hangup (or serve's stop), not a read timeout.
    s.set_read_timeout(None)?;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pusher = {
        let (done, shared, send) = (done.clone(), shared.clone(), send.clone());
        let (local, closer) = (local.clone(), s.try_clone()?);
        std::thread::Builder::new()
            .name("socket push".into())
            .spawn(move || {
                use tokio::sync::broadcast::error::TryRecvError;
                while !done.load(Ordering::Acquire) {
                    if shared.stopping() {
                        break;
                    }
                    let change = match feed.try_recv() {
                        Ok(c) => c,
                        Err(TryRecvError::Empty) => {
                            std::thread::sleep(PUSH_POLL);
                            continue;
                        }
                        Err(TryRecvError::Lagged(_)) => Change::Resync,
                        Err(TryRecvError::Closed) => break,
                    };
                    if change == Change::TuningChanged {
                        let tuning = local.current_tuning();
                        if send(&Response::Tuning { tuning }).is_err() {
                            break;
                        }
                    }
                    if send(&Response::Change { change }).is_err() {
                        break;
                    }
                }
                // Ends the session's read (serve stopping, or the client gone).
                let _ = closer.shutdown(std::net::Shutdown::Both);
            })?
    };
    let in_flight = Arc::new(AtomicUsize::new(0));
    let ended = loop {
        let req = match read_frame::<Request>(&mut s) {
            Ok(Some(r)) => r,
            Ok(None) => break Ok(()),
            Err(SocketError::Io(_)) if shared.stopping() => break Ok(()),
            Err(e) => break Err(e),
        };
        let Request::Call { id, call } = req else {
            let _ = send(&Response::Error {
                message: "an attached client sends calls only".into(),
            });
            continue;
        };
        let call = match authorize(call, role, peer) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(peer = %peer.describe(), refused = %e, "socket request denied");
                if send(&Response::Reply { id, result: Err(e) }).is_err() {
                    break Ok(());
                }
                continue;
            }
        };
        // Over the limit, the call is answered here, in order: the client waits rather than the server
        // spawning without bound.
        if in_flight.load(Ordering::Acquire) >= CALLS_IN_FLIGHT {
            let result = local.answer(call);
            if send(&Response::Reply { id, result }).is_err() {
                break Ok(());
            }
            continue;
        }
        in_flight.fetch_add(1, Ordering::AcqRel);
        let (local, reply, count) = (local.clone(), send.clone(), in_flight.clone());
        let spawned = std::thread::Builder::new()
            .name("socket call".into())
            .spawn(move || {
                let result = local.answer(call);
                let _ = reply(&Response::Reply { id, result });
                count.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            let _ = send(&Response::Reply {
                id,
                result: Err(EngineError::Invalid("the server is out of threads".into())),
            });
        }
    };
    done.store(true, Ordering::Release);
    let _ = pusher.join();
    ended
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
    pub(super) stream: UnixStream,
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

    /// Export the alerts `filter` selects (or those `ids` names) into `out`; the rows written.
    pub fn export(
        &mut self,
        filter: AlertFilter,
        ids: Option<Vec<Ulid>>,
        format: ExportFormat,
        out: &mut impl Write,
    ) -> Result<u64, SocketError> {
        use base64::Engine as _;
        write_frame(
            &mut self.stream,
            &Request::Export {
                filter,
                ids,
                format,
            },
        )?;
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

    /// Stream `input` into the running engine as source `source`; what became of its records, once durable.
    pub fn ingest(
        &mut self,
        source: &str,
        input: &mut impl Read,
    ) -> Result<(u64, u64, u64), SocketError> {
        use base64::Engine as _;
        write_frame(
            &mut self.stream,
            &Request::Ingest {
                source: source.to_string(),
            },
        )?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            let data = base64::engine::general_purpose::STANDARD.encode(&buf[..n]);
            write_frame(&mut self.stream, &Request::Data { data })?;
        }
        write_frame(&mut self.stream, &Request::End)?;
        // However long the engine takes to make it durable.
        self.stream.set_read_timeout(None)?;
        let answer = read_frame::<Response>(&mut self.stream);
        self.stream.set_read_timeout(Some(IDLE))?;
        match answer? {
            Some(Response::Ingested {
                accepted,
                duplicates,
                quarantined,
            }) => Ok((accepted, duplicates, quarantined)),
            Some(Response::Error { message }) => Err(SocketError::Refused(message)),
            other => Err(SocketError::Unexpected(format!("{other:?}"))),
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

    /// The fingerprint key (bytes) and the tuning of the running engine, for a site scan's alerts.
    pub fn scan_context(&mut self) -> Result<(Vec<u8>, Tuning), SocketError> {
        write_frame(&mut self.stream, &Request::ScanContext)?;
        match read_frame::<Response>(&mut self.stream)? {
            Some(Response::ScanContext {
                fingerprint_key,
                tuning,
            }) => {
                let key = (0..fingerprint_key.len() / 2)
                    .map(|i| u8::from_str_radix(&fingerprint_key[2 * i..2 * i + 2], 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| SocketError::Unexpected("a malformed fingerprint key".into()))?;
                Ok((key, tuning))
            }
            Some(Response::Error { message }) => Err(SocketError::Refused(message)),
            other => Err(SocketError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Raise a site scan's alerts in the running engine; how many were new.
    pub fn raise_alerts(&mut self, alerts: Vec<Alert>) -> Result<u64, SocketError> {
        write_frame(&mut self.stream, &Request::RaiseAlerts { alerts })?;
        match read_frame::<Response>(&mut self.stream)? {
            Some(Response::Raised { raised }) => Ok(raised),
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
