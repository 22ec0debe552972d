//! The real binary in a real terminal (tmux): the queue appears, j/Enter open the detail, q quits and the
//! terminal is restored; a second run ends on SIGTERM and restores it too. Skipped with a note without tmux.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;
mod tui_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::{Session, capture, tmux, tmux_available, wait_for};

fn seed(dir: &Path) {
    let store = vigil::store::Store::open(dir).expect("store");
    store.insert_events(&tui_support::events()).expect("events");
    store.save_alerts(&tui_support::alerts()).expect("alerts");
    store.flush().expect("flush");
}

fn start(name: &str, dir: &Path, cfg: &Path) -> Session {
    let cmd = format!(
        "env XDG_CONFIG_HOME='{cfg}' HOME='{cfg}' VIGIL_DATA_DIR= '{bin}' --data-dir '{dir}'; echo EXITED $?; sleep 30",
        cfg = cfg.display(),
        bin = env!("CARGO_BIN_EXE_vigil"),
        dir = dir.display()
    );
    let ok = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "80",
            "-y",
            "24",
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
    assert!(screen.contains("Queue"), "no queue on screen:\n{screen}");
    session
}

/// Start `cmd` in a detached tmux session `name` of 100x30.
fn new_session(name: &str, cmd: &str) -> Session {
    let ok = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "100",
            "-y",
            "30",
            cmd,
        ])
        .status()
        .expect("tmux new-session")
        .success();
    assert!(ok, "tmux new-session failed");
    Session(name.to_string())
}

fn restored(screen: &str) -> bool {
    screen.contains("EXITED 0") && !screen.contains("NORMAL")
}

#[test]
fn quits_and_terminates_cleanly_in_tmux() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = tempfile::tempdir().expect("tempdir");
    seed(&dir.path().join("data"));
    let data = dir.path().join("data");
    let name = format!("vigil-e2e-{}", std::process::id());

    // Run 1: j, Enter → detail; q → exit 0, main screen back.
    let session = start(&name, &data, cfg.path());
    tmux(&["send-keys", "-t", &name, "j"]);
    tmux(&["send-keys", "-t", &name, "Enter"]);
    wait_for(&name, "the detail", |s| {
        s.contains("Detail ·") && s.contains("What happened")
    });
    tmux(&["send-keys", "-t", &name, "q"]);
    let screen = wait_for(&name, "exit", |s| s.contains("EXITED"));
    assert!(
        restored(&screen),
        "terminal not restored after q:\n{screen}"
    );
    assert_eq!(
        tmux(&["display", "-p", "-t", &name, "#{alternate_on}"]).trim(),
        "0"
    );
    drop(session);

    // Run 2: SIGTERM to vigil (the shell's child) → exit 0, main screen back.
    let name = format!("{name}-term");
    let _session = start(&name, &data, cfg.path());
    let shell = tmux(&["list-panes", "-t", &name, "-F", "#{pane_pid}"]);
    let shell = shell.trim();
    let child = Command::new("pgrep")
        .args(["-P", shell])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&child.stdout)
        .lines()
        .next()
        .expect("vigil's pid")
        .trim()
        .to_string();
    // `env` execs vigil, so the shell's child is vigil itself.
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
    let screen = wait_for(&name, "exit after SIGTERM", |s| s.contains("EXITED"));
    assert!(
        restored(&screen),
        "terminal not restored after SIGTERM:\n{screen}"
    );
    assert_eq!(
        tmux(&["display", "-p", "-t", &name, "#{alternate_on}"]).trim(),
        "0"
    );
}

/// Whether process `pid` still runs (a zombie has ended: it only waits for its parent to read its status).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_string))
        })
        .is_some_and(|state| state != "Z" && state != "X")
}

#[test]
fn a_dropped_connection_stops_the_demo_cleanly() {
    if !tmux_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tempfile::tempdir().expect("tempdir");
    let kept = tmp.path().join("kept");
    for (n, extra) in [
        ("temp", String::new()),
        ("kept", format!(" --data-dir '{}'", kept.display())),
    ] {
        let name = format!("vigil-hup-{n}-{}", std::process::id());
        // `exec`: the pane's process is vigil itself, and the session's end is its terminal hanging up.
        let cmd = format!(
            "exec env -u VIGIL_DATA_DIR TMPDIR='{tmp}' XDG_CONFIG_HOME='{cfg}' HOME='{cfg}' '{bin}' demo{extra}",
            tmp = tmp.path().display(),
            cfg = cfg.path().display(),
            bin = env!("CARGO_BIN_EXE_vigil"),
        );
        let session = new_session(&name, &cmd);
        wait_for(&name, "the demo's queue", |s| s.contains("Queue"));
        let pid = tmux(&["list-panes", "-t", &name, "-F", "#{pane_pid}"])
            .trim()
            .to_string();
        assert!(alive(&pid));
        // The connection drops: the pty goes away under vigil.
        drop(session);
        // Within 2 s on an idle machine (a clean stop: drain, flush, the demo's store removed); the bound
        // allows for the other test binaries CI runs beside this one.
        let start = Instant::now();
        while alive(&pid) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(&pid), "{n}: vigil still runs 5 s after the hangup");
        eprintln!("{n}: vigil ended {:?} after the hangup", start.elapsed());
        if n == "temp" {
            let left: Vec<_> = std::fs::read_dir(tmp.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .filter(|f| f.to_string_lossy().starts_with("vigil-demo"))
                .collect();
            assert!(
                left.is_empty(),
                "the demo's temp dir is left behind: {left:?}"
            );
        } else {
            let log = std::fs::read_to_string(kept.join("vigil.log")).unwrap();
            // SIGHUP, the tty's input ending or a read error: whichever the UI saw first.
            assert!(
                log.contains("terminal hung up: stopping")
                    || log.contains("terminal input ended: stopping")
                    || log.contains("terminal gone: stopping"),
                "{log}"
            );
            assert!(log.contains("engine stopped ok=true"), "{log}");
            assert!(log.contains("stopped after the terminal hung up"), "{log}");
            assert!(!log.contains("panic"), "{log}");
        }
    }
}

/// Display width of a captured line (wide characters take two columns).
fn width(line: &str) -> usize {
    use unicode_width::UnicodeWidthStr;
    line.width()
}

#[test]
fn wide_and_hostile_text_keeps_every_border_in_place() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    {
        let store = vigil::store::Store::open(&data).expect("store");
        let names = [
            "李小龍",
            "🦊 Fox",
            "Zoë Ŝmith e\u{301}",
            "\u{202e}nimda\u{202c} Mallory",
            "渡辺 さくら 🌸🌸",
        ];
        let alerts: Vec<_> = tui_support::alerts()
            .into_iter()
            .enumerate()
            .map(|(i, mut a)| {
                let n = names[i % names.len()];
                a.actor.name = Some(n.to_string());
                a.title = format!("{n} 東京のページ 🚀 title");
                a.subject = Some(format!("ページ {n}"));
                a
            })
            .collect();
        store.save_alerts(&alerts).expect("alerts");
        store.flush().expect("flush");
    }
    let name = format!("vigil-wide-{}", std::process::id());
    let cmd = format!(
        "exec env -u VIGIL_DATA_DIR XDG_CONFIG_HOME='{cfg}' HOME='{cfg}' '{bin}' --data-dir '{dir}'",
        cfg = cfg.path().display(),
        bin = env!("CARGO_BIN_EXE_vigil"),
        dir = data.display()
    );
    let _session = new_session(&name, &cmd);
    wait_for(&name, "the queue", |s| {
        s.contains("Queue") && s.contains("東京")
    });
    let check = |what: &str| {
        let screen = capture(&name);
        let edge = |c: char| c == '│' || c == '┃';
        let bordered: Vec<&str> = screen.lines().filter(|l| l.starts_with(edge)).collect();
        assert!(bordered.len() > 5, "{what}: no bordered rows:\n{screen}");
        for line in bordered {
            assert!(
                width(line) == 100 && line.ends_with(edge),
                "{what}: a row is pushed over the border ({} columns):\n{line}\n\n{screen}",
                width(line)
            );
        }
        screen
    };
    check("first draw");
    for _ in 0..8 {
        tmux(&["send-keys", "-t", &name, "j"]);
        std::thread::sleep(Duration::from_millis(80));
        check("after j");
    }
    tmux(&["send-keys", "-t", &name, "Enter"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux(&["send-keys", "-t", &name, "Escape"]);
    std::thread::sleep(Duration::from_millis(200));
    for (w, h) in [("80", "24"), ("100", "30")] {
        tmux(&["resize-window", "-t", &name, "-x", w, "-y", h]);
        std::thread::sleep(Duration::from_millis(300));
    }
    check("after two resizes");
}

#[test]
fn a_paste_is_text_never_keys() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    seed(&data);
    let name = format!("vigil-paste-{}", std::process::id());
    let _session = start(&name, &data, cfg.path());
    // The header's counts, in words on a wide screen and short on a narrow one.
    let unchanged = |s: &str| {
        (s.contains("acknowledged 0") || s.contains("acked 0"))
            && (s.contains("true positive 0") || s.contains("true pos 0"))
    };
    let before = capture(&name);
    assert!(unchanged(&before), "{before}");
    // Into the filter prompt: `x⏎at` as one bracketed paste. Read as keys it would apply the filter `x`,
    // then acknowledge the alert and mark it true positive.
    tmux(&["send-keys", "-t", &name, "/"]);
    wait_for(&name, "the filter prompt", |s| {
        s.lines().any(|l| l.starts_with('/'))
    });
    let buffer = format!("vigil-paste-buffer-{}", std::process::id());
    tmux(&["set-buffer", "-b", &buffer, "x\nat"]);
    tmux(&["paste-buffer", "-p", "-d", "-b", &buffer, "-t", &name]);
    let screen = wait_for(&name, "the pasted text in the prompt", |s| {
        s.contains("x at")
    });
    assert!(unchanged(&screen), "no alert changed:\n{screen}");
    tmux(&["send-keys", "-t", &name, "Escape"]);
    // With nothing open, a paste does nothing but say so.
    tmux(&["set-buffer", "-b", &buffer, "at"]);
    tmux(&["paste-buffer", "-p", "-d", "-b", &buffer, "-t", &name]);
    let screen = wait_for(&name, "the paste notice", |s| s.contains("paste ignored"));
    assert!(unchanged(&screen), "no alert changed:\n{screen}");
}
