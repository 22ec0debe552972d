//! The commands that run the engine: `vigil` (the UI over an in-process engine), `vigil demo` and
//! `vigil serve`. Each starts through [`Setup`] (config → data dir → logging → store), then the engine, then
//! the UI or the signal wait.

use std::path::{Path, PathBuf};

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use vigil::engine::demo::{DemoOptions, seed as seed_demo};
use vigil::engine::{Engine, EngineHandle, EngineOptions, EngineTasks};
use vigil::store::Store;
use vigil::tui::UiOptions;

use super::setup::{Setup, create_private_dir};

/// What the UI is launched over, for its title and messages.
#[derive(Debug, Clone)]
pub struct UiLaunch {
    /// The store's directory.
    pub data_dir: PathBuf,
    /// Whether this is `vigil demo` (synthetic data, temporary store).
    pub demo: bool,
    /// The user keymap, when there is one.
    pub keymap_path: Option<PathBuf>,
    /// The organization's id, from the first `atlassian_api` source: the detail links admin pages.
    pub org_id: Option<String>,
}

/// Run the terminal UI over `handle` until the user quits or the engine fails; the caller then shuts the
/// engine down (so the final flush happens after the terminal is restored). This is the one place the UI is
/// started from (`vigil` and `vigil demo`). It is called from plain (non-async) code: `vigil::tui::run`
/// builds its own multi-thread runtime, which the handle's async methods need.
fn run_ui(handle: EngineHandle, tasks: Option<&EngineTasks>, launch: &UiLaunch) -> Result<()> {
    if tasks.is_some_and(EngineTasks::is_stopped) {
        // Failed before the UI could subscribe to the feed: say so instead of drawing a dead engine.
        bail!("engine stopped: {}", handle.stats().health);
    }
    let keymap_path = launch.keymap_path.clone();
    let opts = UiOptions {
        user: vigil::tui::user::current_user(),
        keymap_path,
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        org_id: launch.org_id.clone(),
        hyperlinks: vigil::tui::terminal::hyperlinks_supported(),
        title: match (launch.demo, handle.role()) {
            (true, _) => "vigil demo".into(),
            (false, None) => format!("vigil — {}", launch.data_dir.display()),
            // The role first: a long path is what the header cuts.
            (false, Some(role)) => format!(
                "vigil ({}) — serve at {}",
                role.as_str(),
                launch.data_dir.display()
            ),
        },
    };
    vigil::tui::run(handle, opts)
}

/// The organization's id of the first `atlassian_api` source, if any.
fn org_id(setup: &Setup) -> Option<String> {
    setup.config.sources.iter().find_map(|s| match s {
        vigil::config::SourceConfig::AtlassianApi { org_id, .. } => Some(org_id.clone()),
        _ => None,
    })
}

/// `vigil`: the UI over the engine of the running `vigil serve` of the data dir when one answers on its
/// socket (several engineers at once, each with the role `[roles]` gives them), else over an engine in this
/// process (its sources included).
pub fn ui(mut setup: Setup) -> Result<i32> {
    if let Some((handle, dir)) = setup.attach_ui()? {
        let launch = UiLaunch {
            data_dir: dir,
            demo: false,
            keymap_path: setup.keymap_path(),
            org_id: org_id(&setup),
        };
        run_ui(handle, None, &launch)?;
        return Ok(exit_status());
    }
    let (dir, store) = setup.open_store()?;
    let (handle, tasks) = Engine::start(store, &setup.config, EngineOptions::default())?;
    let launch = UiLaunch {
        data_dir: dir,
        demo: false,
        keymap_path: setup.keymap_path(),
        org_id: org_id(&setup),
    };
    let ui = run_ui(handle, Some(&tasks), &launch);
    let stopped = tasks.shutdown_blocking();
    ui?;
    stopped.map_err(|e| eyre!("engine stopped: {e}"))?;
    Ok(exit_status())
}

/// 0, or 129 (128 + SIGHUP) when the UI ended because its terminal hung up: the engine has stopped cleanly
/// either way, but a script should see the hangup.
fn exit_status() -> i32 {
    if vigil::tui::terminal::is_gone() {
        tracing::info!("stopped after the terminal hung up");
        129
    } else {
        0
    }
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

/// Remove the `vigil-demo-<pid>-…` directories in `tmp` whose process no longer runs and that are this
/// user's own directories (a symlink or someone else's is left alone); how many were removed.
fn sweep_stale_demo_dirs(tmp: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let uid = rustix::process::getuid().as_raw();
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("vigil-demo-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let path = e.path();
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if ours && !Path::new(&format!("/proc/{pid}")).exists() {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => removed += 1,
                Err(e) => {
                    tracing::warn!(dir = %path.display(), error = %e, "cannot remove a stale demo dir")
                }
            }
        }
    }
    removed
}

/// `vigil demo`: a month of synthetic history (alerts raised through the real pipeline), a live stream on
/// top, and the UI. `explicit_dir` is `--data-dir` only: a `VIGIL_DATA_DIR` in the environment must never
/// fill someone's real store with synthetic events.
pub fn demo(mut setup: Setup, explicit_dir: Option<PathBuf>, seed: u64) -> Result<i32> {
    let (dir, temp) = match explicit_dir {
        Some(d) => (d, None),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            // A demo killed before its UI took over the signals (a dropped SSH session while it loads, a
            // kill -9) could not remove its store: remove those of processes that are gone.
            sweep_stale_demo_dirs(&std::env::temp_dir());
            let d =
                std::env::temp_dir().join(format!("vigil-demo-{}-{nanos:x}", std::process::id()));
            create_private_dir(&d)?;
            (d.clone(), Some(TempDir(d)))
        }
    };
    setup.start_logging(&dir);
    let store = Store::open(&dir)?;
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
    let key = setup.fingerprint_key()?;
    let seeded = seed_demo(
        &store,
        &setup.tuning(&store)?,
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
    let (handle, tasks) = Engine::start(store, &setup.config, engine_opts)?;
    let launch = UiLaunch {
        data_dir: dir,
        demo: true,
        keymap_path: setup.keymap_path(),
        org_id: org_id(&setup),
    };
    let ui = run_ui(handle, Some(&tasks), &launch);
    let stopped = tasks.shutdown_blocking();
    // Logging ends before its file's directory goes.
    let code = exit_status();
    drop(setup);
    drop(temp);
    ui?;
    stopped.map_err(|e| eyre!("engine stopped: {e}"))?;
    Ok(code)
}

/// The engine is stopped: compact the store and give it back (reopened as it was if the compaction fails;
/// the failure is logged and the engine goes on over the store as it is).
fn compact_paused(store: Store, setup: &mut Setup) -> Result<Store> {
    let started = std::time::Instant::now();
    match store.compact(vigil::store::StoreOptions::default()) {
        Ok((store, before, after)) => {
            tracing::info!(
                before,
                after,
                secs = started.elapsed().as_secs_f64(),
                "store compacted; the engine starts again"
            );
            Ok(store)
        }
        Err(e) => {
            tracing::warn!(error = %e, "compacting the store failed; the engine starts again over it as it is");
            Ok(setup.open_store()?.1)
        }
    }
}

/// `vigil serve`: the engine without a UI until SIGTERM or SIGINT, then a graceful stop (sources stop, the
/// queue drains, the store is flushed) and exit 0. (The socket for attached UIs comes later.)
pub fn serve(mut setup: Setup, stdin: bool) -> Result<i32> {
    let dir = setup.data_dir()?;
    setup.start_logging(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    rt.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        // Signals are watched before anything starts, so an early SIGTERM still stops gracefully.
        let mut term = signal(SignalKind::terminate()).wrap_err("cannot watch for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).wrap_err("cannot watch for SIGINT")?;
        let (_, mut store) = setup.open_store()?;
        loop {
            let opts = EngineOptions {
                stdin,
                socket: Some(dir.join(vigil::engine::socket::SOCKET_NAME)),
                ..EngineOptions::default()
            };
            let (handle, mut tasks) = Engine::start(store.clone(), &setup.config, opts)?;
            tracing::info!(dir = %dir.display(), pid = std::process::id(), "vigil serve running");
            let failed = tokio::select! {
                r = tasks.wait() => Some(r),
                _ = term.recv() => { tracing::info!("SIGTERM: stopping"); None }
                _ = int.recv() => { tracing::info!("SIGINT: stopping"); None }
            };
            let compact = matches!(failed, Some(Ok(()))) && tasks.compaction_requested();
            let outcome = match failed {
                Some(r) => r,
                None => tasks.shutdown().await,
            };
            outcome.map_err(|e| eyre!("engine stopped: {e}"))?;
            if !compact {
                break;
            }
            // Retention found the file mostly garbage: every worker has stopped and flushed, so the store
            // has no other handle and can be rebuilt beside itself (crash-safe, as `vigil compact`). A signal
            // that comes meanwhile waits for the restarted engine, which then stops at once.
            drop(handle);
            store = compact_paused(store, &mut setup)?;
        }
        tracing::info!("vigil serve stopped cleanly");
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::sweep_stale_demo_dirs;

    #[test]
    fn only_own_demo_dirs_of_gone_processes_are_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join("vigil-demo-999999999-1a2b");
        std::fs::create_dir(&gone).unwrap();
        std::fs::write(gone.join("db"), b"x").unwrap();
        let live = tmp
            .path()
            .join(format!("vigil-demo-{}-3c4d", std::process::id()));
        std::fs::create_dir(&live).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let link = tmp.path().join("vigil-demo-999999998-5e6f");
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        let other = tmp.path().join("not-a-demo-999999999");
        std::fs::create_dir(&other).unwrap();

        assert_eq!(sweep_stale_demo_dirs(tmp.path()), 1);
        assert!(!gone.exists());
        assert!(live.exists() && other.exists());
        assert!(link.symlink_metadata().is_ok() && elsewhere.path().exists());
    }
}
