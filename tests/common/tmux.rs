//! Driving the real binary in tmux: the session, keys, captures and a bounded wait, shared by the tests that
//! read the screen as a user would.

use std::process::Command;
use std::time::{Duration, Instant};

/// Kills the tmux session however the test ends.
pub struct Session(pub String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

/// Run tmux with `args`; its stdout.
pub fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("run tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The pane of session `s` as text.
pub fn capture(s: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", s])
}

/// Type `k` (a tmux key name or text) into session `s`.
pub fn keys(s: &str, k: &str) {
    tmux(&["send-keys", "-t", s, k]);
}

/// Poll the pane until `pred` holds (bounded); returns the last capture.
pub fn wait_for(s: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let screen = capture(s);
        if pred(&screen) {
            return screen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether tmux can be run. CI installs it (.ci/run): there a missing tmux is a failure, not a skip.
pub fn tmux_available() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tmux is required under CI"
    );
    eprintln!("NOTE: tmux is not on PATH; skipping a tmux end-to-end test");
    false
}
