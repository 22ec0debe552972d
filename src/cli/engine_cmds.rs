//! The commands that run the engine: `vigil` (the UI over an in-process engine), `vigil demo`, `vigil serve`,
//! and `vigil status`. Start-up order in each: config → data dir → logging → store → engine → UI or signals.

use std::path::{Path, PathBuf};

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use vigil::config::Config;
use vigil::engine::demo::{DemoOptions, seed as seed_demo};
use vigil::engine::{Engine, EngineHandle, EngineOptions, EngineTasks, StatusReport};
use vigil::store::{Store, StoreError};
use vigil::tui::UiOptions;

use super::ListFormat;
use super::commands::{data_dir, init_logging, load_config, tuning};

/// The data dir: `--data-dir` or `$VIGIL_DATA_DIR` (`given`), else `[engine] data_dir`, else the XDG dir.
fn data_dir_for(given: Option<PathBuf>, config: &Config) -> Result<PathBuf> {
    data_dir(given.or_else(|| config.engine.data_dir.clone()))
}

/// What the UI is launched over, for its title and messages.
#[derive(Debug, Clone)]
pub struct UiLaunch {
    /// The store's directory.
    pub data_dir: PathBuf,
    /// Whether this is `vigil demo` (synthetic data, temporary store).
    pub demo: bool,
    /// `--config`, beside which a user keymap may sit.
    pub config: Option<PathBuf>,
}

/// Run the terminal UI over `handle` until the user quits or the engine fails; the caller then shuts the
/// engine down (so the final flush happens after the terminal is restored). This is the one place the UI is
/// started from (`vigil` and `vigil demo`). It is called from plain (non-async) code: `vigil::tui::run`
/// builds its own multi-thread runtime, which the handle's async methods need.
fn run_ui(handle: EngineHandle, tasks: &EngineTasks, launch: &UiLaunch) -> Result<()> {
    if tasks.is_stopped() {
        // Failed before the UI could subscribe to the feed: say so instead of drawing a dead engine.
        bail!("engine stopped: {}", handle.stats().health);
    }
    let keymap_path = super::commands::keymap_path(launch.config.as_deref());
    let opts = UiOptions {
        user: std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into()),
        keymap_path,
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        title: if launch.demo {
            "vigil demo".into()
        } else {
            format!("vigil — {}", launch.data_dir.display())
        },
    };
    vigil::tui::run(handle, opts)
}

/// `[engine] fingerprint_key`, resolved now.
fn fingerprint_key(config: &Config) -> Result<Option<Vec<u8>>> {
    config
        .engine
        .fingerprint_key
        .as_ref()
        .map(|r| {
            r.resolve()
                .map(String::into_bytes)
                .map_err(|e| eyre!("engine.fingerprint_key: {e}"))
        })
        .transpose()
}

/// `vigil`: the engine in-process over the configured data dir (its sources included), and the UI over it.
/// (Attaching to a running `vigil serve` comes with its socket.)
pub fn ui(given: Option<PathBuf>, config_arg: Option<&Path>) -> Result<i32> {
    let config = load_config(config_arg)?;
    let dir = data_dir_for(given, &config)?;
    let _log = init_logging(&dir);
    let store = open_store(&dir)?;
    let (handle, tasks) = Engine::start(store, &config, EngineOptions::default())?;
    let launch = UiLaunch {
        data_dir: dir,
        demo: false,
        config: config_arg.map(Path::to_path_buf),
    };
    let ui = run_ui(handle, &tasks, &launch);
    let stopped = tasks.shutdown_blocking();
    ui?;
    stopped.map_err(|e| eyre!("engine stopped: {e}"))?;
    Ok(0)
}

/// Removes the demo's temporary data dir when the demo ends, however it ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(dir = %self.0.display(), error = %e, "cannot remove the demo data dir");
        }
    }
}

/// `vigil demo`: a month of synthetic history (alerts raised through the real pipeline), a live stream on
/// top, and the UI. `explicit_dir` is `--data-dir` only: a `VIGIL_DATA_DIR` in the environment must never
/// fill someone's real store with synthetic events.
pub fn demo(explicit_dir: Option<PathBuf>, config_arg: Option<&Path>, seed: u64) -> Result<i32> {
    let config = load_config(config_arg)?;
    let (dir, temp) = match explicit_dir {
        Some(d) => (d, None),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let d =
                std::env::temp_dir().join(format!("vigil-demo-{}-{nanos:x}", std::process::id()));
            std::fs::create_dir_all(&d)
                .wrap_err_with(|| format!("cannot create {}", d.display()))?;
            (d.clone(), Some(TempDir(d)))
        }
    };
    let log = init_logging(&dir);
    let store = open_store(&dir)?;
    let opts = DemoOptions {
        seed,
        ..DemoOptions::default()
    };
    if store.event_count() == 0 {
        eprintln!(
            "vigil: loading {} days of a synthetic organization into {} …",
            opts.days,
            dir.display()
        );
    }
    let key = fingerprint_key(&config)?;
    let seeded = seed_demo(
        &store,
        &tuning(&config, &store)?,
        key.as_deref(),
        &opts,
        Utc::now(),
    )?;
    if seeded.loaded_history {
        eprintln!(
            "vigil: {} events, {} alerts in {:.1} s",
            seeded.stats.ingested,
            seeded.stats.alerts,
            seeded.elapsed.as_secs_f64()
        );
    }
    let engine_opts = EngineOptions {
        config_sources: false,
        live: Some(seeded.live),
        ..EngineOptions::default()
    };
    let (handle, tasks) = Engine::start(store, &config, engine_opts)?;
    let launch = UiLaunch {
        data_dir: dir,
        demo: true,
        config: config_arg.map(Path::to_path_buf),
    };
    let ui = run_ui(handle, &tasks, &launch);
    let stopped = tasks.shutdown_blocking();
    // Logging ends before its file's directory goes.
    drop(log);
    drop(temp);
    ui?;
    stopped.map_err(|e| eyre!("engine stopped: {e}"))?;
    Ok(0)
}

/// `vigil serve`: the engine without a UI until SIGTERM or SIGINT, then a graceful stop (sources stop, the
/// queue drains, the store is flushed) and exit 0. (The socket for attached UIs comes later.)
pub fn serve(given: Option<PathBuf>, config: Option<&Path>, stdin: bool) -> Result<i32> {
    let config = load_config(config)?;
    let dir = data_dir_for(given, &config)?;
    let _log = init_logging(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    rt.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        // Signals are watched before anything starts, so an early SIGTERM still stops gracefully.
        let mut term = signal(SignalKind::terminate()).wrap_err("cannot watch for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).wrap_err("cannot watch for SIGINT")?;
        let store = open_store(&dir)?;
        let opts = EngineOptions {
            stdin,
            ..EngineOptions::default()
        };
        let (_handle, mut tasks) = Engine::start(store, &config, opts)?;
        tracing::info!(dir = %dir.display(), pid = std::process::id(), "vigil serve running");
        let failed = tokio::select! {
            r = tasks.wait() => Some(r),
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); None }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); None }
        };
        let outcome = match failed {
            Some(r) => r,
            None => tasks.shutdown().await,
        };
        outcome.map_err(|e| eyre!("engine stopped: {e}"))?;
        tracing::info!("vigil serve stopped cleanly");
        Ok(0)
    })
}

/// `vigil status`: figures from the store. While `vigil serve` holds the store they cannot be read here
/// (the socket that will answer comes later): say who holds it.
pub fn status(given: Option<PathBuf>, config: Option<&Path>, format: ListFormat) -> Result<i32> {
    let config = load_config(config)?;
    let dir = data_dir_for(given, &config)?;
    if !dir.exists() {
        bail!("no store at {} (nothing was ingested there)", dir.display());
    }
    let store = match Store::open(&dir) {
        Ok(s) => s,
        Err(StoreError::InUse { dir, pid }) => bail!(
            "the store at {} is in use by a running vigil (pid {pid}), probably `vigil serve`; \
             status from a running engine comes with its socket in a later version",
            dir.display()
        ),
        Err(e) => return Err(e.into()),
    };
    let report = StatusReport::of_store(&store);
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string(&report)?),
        ListFormat::Text => println!("{report}"),
    }
    Ok(0)
}

/// Open the store; the "in use" error already names the holder's pid.
fn open_store(dir: &Path) -> Result<Store> {
    Ok(Store::open(dir)?)
}
