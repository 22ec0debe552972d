//! The one start-up path every command takes: configuration → data dir → logging → store (or engine).
//!
//! Each step is a method of [`Setup`], so a command asks for exactly what it needs and gets the same answer
//! as every other command: `vigil ingest`, `export`, `quarantine` and `status` all honour `[engine] data_dir`
//! because they resolve the data dir here and nowhere else. The socket-attach mode of `vigil serve` will
//! branch here, once, between "open the store" and "attach to the running engine".

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use vigil::config::Config;
use vigil::detect::tuning::Tuning;
use vigil::store::{Store, StoreError};

/// What the command line says about where things are (the global flags).
#[derive(Debug, Clone, Default)]
pub struct Globals {
    /// `--data-dir` or `$VIGIL_DATA_DIR` (clap reads both).
    pub data_dir: Option<PathBuf>,
    /// `--config`.
    pub config: Option<PathBuf>,
}

/// A command's start-up state: the configuration in force, then (when asked for) the data dir and its log.
pub struct Setup {
    /// The configuration in force (the defaults when there is no file).
    pub config: Config,
    globals: Globals,
    /// Kept alive for the command's lifetime: dropping it flushes the log.
    log: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl Setup {
    /// Step 1: the configuration. A file with errors stops the command with every error listed.
    pub fn load(globals: Globals) -> Result<Self> {
        let config_path = config_path(globals.config.as_deref());
        let config = match &config_path {
            Some(p) => vigil::config::load(p).map_err(|errs| eyre!("{errs}"))?,
            None => Config::default(),
        };
        Ok(Self {
            config,
            globals,
            log: None,
        })
    }

    /// Step 2: the data dir: `--data-dir` or `$VIGIL_DATA_DIR`, else `[engine] data_dir`, else the XDG data dir.
    pub fn data_dir(&self) -> Result<PathBuf> {
        if let Some(d) = self
            .globals
            .data_dir
            .clone()
            .or_else(|| self.config.engine.data_dir.clone())
        {
            return Ok(d);
        }
        directories::ProjectDirs::from("", "", "vigil")
            .map(|p| p.data_dir().to_path_buf())
            .ok_or_else(|| {
                eyre!(
                    "no data directory: set --data-dir or VIGIL_DATA_DIR (no home directory found)"
                )
            })
    }

    /// Step 3: logs go to `<dir>/vigil.log` (owner-only), never to the terminal; the filter comes from
    /// `VIGIL_LOG`. Creates `dir` (owner-only) when it is missing. A log that cannot be opened is not fatal:
    /// the command runs without one.
    /// Logging starts once per process; a second call keeps the first log.
    pub fn start_logging(&mut self, dir: &Path) {
        if self.log.is_none() {
            self.log = init_logging(dir);
        }
    }

    /// The running `vigil serve` of the data dir, when one answers on its socket: commands that it can serve
    /// ask it instead of opening the store it holds. Returns the client and where it is, for error context.
    pub fn attach(&mut self) -> Result<Option<(vigil::engine::socket::Client, String)>> {
        let socket = self.data_dir()?.join(vigil::engine::socket::SOCKET_NAME);
        let at = format!("vigil serve at {}", socket.display());
        Ok(vigil::engine::socket::Client::connect(&socket)
            .wrap_err_with(|| format!("asking {at}"))?
            .map(|c| (c, at)))
    }

    /// The UI's engine handle over the running `vigil serve` of the data dir, when one answers on its socket,
    /// and the data dir. The log then goes to the user's own state dir (`$XDG_STATE_HOME/vigil` or
    /// `~/.local/state/vigil`): the data dir and its log belong to serve's user.
    pub fn attach_ui(&mut self) -> Result<Option<(vigil::engine::EngineHandle, PathBuf)>> {
        let dir = self.data_dir()?;
        let socket = dir.join(vigil::engine::socket::SOCKET_NAME);
        let Some(handle) = vigil::engine::EngineHandle::attach(&socket)
            .wrap_err_with(|| format!("attaching to vigil serve at {}", socket.display()))?
        else {
            return Ok(None);
        };
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")));
        if let Some(state) = state {
            self.start_logging(&state.join("vigil"));
        }
        Ok(Some((handle, dir)))
    }

    /// Steps 2–4 for commands that read or write the store: resolve the data dir, log there, open the store.
    pub fn open_store(&mut self) -> Result<(PathBuf, Store)> {
        let dir = self.data_dir()?;
        self.start_logging(&dir);
        let store = Store::open(&dir).map_err(in_use_hint)?;
        Ok((dir, store))
    }

    /// Like [`Setup::open_store`] for commands that only read: a missing store is an error naming the dir,
    /// not an empty store created as a side effect.
    pub fn open_existing_store(&mut self) -> Result<(PathBuf, Store)> {
        let dir = self.data_dir()?;
        if !dir.exists() {
            bail!("no store at {} (nothing was ingested there)", dir.display());
        }
        self.open_store()
    }

    /// The file's tuning with the store's UI changes laid over it.
    pub fn tuning(&self, store: &Store) -> Result<Tuning> {
        Ok(self.config.tuning().overlay(&store.detection_overrides()?))
    }

    /// `[engine] fingerprint_key`, resolved now (`None`: the store's own key).
    pub fn fingerprint_key(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.config.engine.resolve_fingerprint_key()?)
    }

    /// The user keymap: `keymap.toml` beside `--config` when one is given, else in the XDG config dir; only
    /// when it exists (the defaults are embedded).
    pub fn keymap_path(&self) -> Option<PathBuf> {
        keymap_path(self.globals.config.as_deref())
    }
}

/// `--config`, else `vigil.toml` in the XDG config dir when it exists, else no file (defaults).
pub fn config_path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_path_buf());
    }
    let p = directories::ProjectDirs::from("", "", "vigil")?
        .config_dir()
        .join("vigil.toml");
    p.exists().then_some(p)
}

/// See [`Setup::keymap_path`].
pub fn keymap_path(config: Option<&Path>) -> Option<PathBuf> {
    let dir = match config {
        Some(c) => c.parent().map(Path::to_path_buf),
        None => {
            directories::ProjectDirs::from("", "", "vigil").map(|p| p.config_dir().to_path_buf())
        }
    }?;
    let p = dir.join("keymap.toml");
    p.exists().then_some(p)
}

/// See [`Setup::start_logging`].
fn init_logging(dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    create_private_dir(dir).ok()?;
    let file = dir.join("vigil.log");
    // Created owner-only, never through a symlink planted at its place, and rotated by size.
    let appender =
        super::logfile::RotatingLog::open(&file, super::logfile::MAX_BYTES, super::logfile::KEEP)
            .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

/// `dir` and its missing parents, owner-only (see [`vigil::store::create_private_dirs`]).
pub fn create_private_dir(dir: &Path) -> Result<()> {
    vigil::store::create_private_dirs(dir)
        .wrap_err_with(|| format!("cannot create {}", dir.display()))
}

/// The store error a person understands when `vigil serve` holds the store: the holder's pid, and why.
fn in_use_hint(e: StoreError) -> color_eyre::Report {
    match e {
        e @ StoreError::InUse { .. } => eyre!(
            "{e}, probably `vigil serve`; `vigil status`, `export` and `quarantine list` ask it through its socket, `ingest` cannot run beside it yet"
        ),
        other => other.into(),
    }
}
