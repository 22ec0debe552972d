//! Two engineers attached to one `vigil serve`, as they would be over SSH: the real binaries, each UI in a
//! tmux session of its own. One acknowledges an alert while the other has the assign prompt open on it: the
//! second sees the change live, its assignment is refused with who changed the alert and when, and both
//! end on the same state. A viewer's `a` is refused with the reason, in the footer and in the UI's log.
//! Skipped with a note without tmux (CI installs it).
#![allow(clippy::unwrap_used)] // a test that cannot go on should stop loudly

mod common;
mod tui_support;

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tmux::{Session, capture, keys, tmux_available, wait_for};
use vigil::engine::socket::SOCKET_NAME;

/// Stops `vigil serve` however the test ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// A seeded store in `dir/data` served by `vigil serve` with `config_text`.
fn serve(dir: &Path, config_text: &str) -> Serve {
    let data = dir.join("data");
    let store = vigil::store::Store::open(&data).unwrap();
    store.insert_events(&tui_support::events()).unwrap();
    store.save_alerts(&tui_support::alerts()).unwrap();
    store.flush().unwrap();
    drop(store);
    let config = dir.join("vigil.toml");
    std::fs::write(&config, config_text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("VIGIL_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let serve = Serve(child);
    let sock = data.join(SOCKET_NAME);
    let t = Instant::now();
    while UnixStream::connect(&sock).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "serve's socket never came"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    serve
}

/// `vigil` (the UI) over `dir/data` in tmux session `name`, 150x30; waits for the queue. `home` is its HOME
/// (its log goes under it).
fn ui(name: &str, dir: &Path, home: &Path) -> Session {
    let cmd = format!(
        "env -u VIGIL_DATA_DIR -u XDG_STATE_HOME HOME='{home}' XDG_CONFIG_HOME='{home}' '{bin}' --data-dir '{data}' --config '{cfg}'; echo EXITED $?; sleep 30",
        home = home.display(),
        bin = env!("CARGO_BIN_EXE_vigil"),
        data = dir.join("data").display(),
        cfg = dir.join("vigil.toml").display(),
    );
    let ok = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "150",
            "-y",
            "30",
            &cmd,
        ])
        .status()
        .expect("tmux new-session")
        .success();
    assert!(ok, "tmux new-session failed");
    let session = Session(name.to_string());
    let screen = wait_for(name, "the queue", |s| {
        s.contains("Queue") || s.contains("EXITED")
    });
    assert!(
        screen.contains("serve at"),
        "not attached to serve:\n{screen}"
    );
    session
}

/// The queue's first row (the newest alert, the critical one, which both UIs have selected).
fn first_row(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains("CRIT"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn two_uis_attached_in_tmux_resolve_a_conflict_and_a_viewer_is_refused() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let serve_admin = serve(dir.path(), "");
    let (a, b) = (
        format!("vigil-attach-a-{}", std::process::id()),
        format!("vigil-attach-b-{}", std::process::id()),
    );
    let _sa = ui(&a, dir.path(), home.path());
    let _sb = ui(&b, dir.path(), home.path());
    let start_a = capture(&a);
    assert!(start_a.contains("(admin)"), "{start_a}");
    let row = first_row(&start_a);
    assert!(
        row.contains("open"),
        "the first alert starts open:\n{start_a}"
    );

    // B opens the assign prompt on the first alert; A acknowledges that alert meanwhile.
    keys(&b, "A");
    wait_for(&b, "the assign prompt", |s| {
        s.to_lowercase().contains("assign")
    });
    keys(&a, "a");
    wait_for(&a, "A's acknowledgement", |s| {
        first_row(s).contains("acked")
    });
    // B sees it live, under its open prompt.
    wait_for(&b, "the change on B", |s| first_row(s).contains("acked"));
    // B's assignment was begun on the version before: refused, naming who and when, and reloaded.
    keys(&b, "bob");
    keys(&b, "Enter");
    let refused = wait_for(&b, "the conflict message", |s| s.contains("— reloaded"));
    assert!(refused.contains("was changed by "), "{refused}");
    // Both end on the same state: acknowledged, nobody assigned.
    for s in [&a, &b] {
        let screen = capture(s);
        let row = first_row(&screen);
        assert!(
            row.contains("acked") && !row.contains("bob"),
            "{s}:\n{screen}"
        );
    }
    // Assigning again, on what B now shows, goes through and A sees it.
    keys(&b, "A");
    wait_for(&b, "the assign prompt", |s| {
        s.to_lowercase().contains("assign")
    });
    keys(&b, "bob");
    keys(&b, "Enter");
    wait_for(&a, "B's assignment on A", |s| first_row(s).contains("bob"));
    drop((_sa, _sb));
    drop(serve_admin);

    // A viewer: reads, and `a` is refused with the reason in the footer and the UI's log.
    let dir = tempfile::tempdir().unwrap();
    let _serve = serve(dir.path(), "[roles]\nviewer = [\"*\"]\n");
    let v = format!("vigil-attach-v-{}", std::process::id());
    let _sv = ui(&v, dir.path(), home.path());
    assert!(capture(&v).contains("(viewer)"));
    keys(&v, "a");
    let screen = wait_for(&v, "the refusal", |s| s.contains("is a viewer"));
    assert!(screen.contains("for responders and admins"), "{screen}");
    assert!(first_row(&screen).contains("open"), "{screen}");
    let log = std::fs::read_to_string(home.path().join(".local/state/vigil/vigil.log"))
        .unwrap_or_default();
    assert!(
        log.contains("refused by vigil serve") && log.contains("is a viewer"),
        "the UI's log says it too:\n{log}"
    );
    // Suspending someone is for admins: a viewer hears it before any confirmation is asked.
    keys(&v, "K");
    let screen = wait_for(&v, "the suspend refusal", |s| {
        s.contains("suspending or restoring a person's access is for admins")
    });
    assert!(
        !screen.contains("(y/N)"),
        "no confirmation for a viewer:\n{screen}"
    );
    // serve stops: the attached UI ends, restores the terminal and says why.
    drop(_serve);
    let screen = wait_for(&v, "the UI to end", |s| s.contains("EXITED"));
    assert!(
        screen.contains("vigil serve closed the connection"),
        "{screen}"
    );
}
