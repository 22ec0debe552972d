//! `vigil serve` as a child process: follows a file from the config, stops gracefully on SIGTERM with exit 0,
//! and everything fed before the signal is in the store afterwards. `vigil status` around it.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn append(file: &Path, from: u32, n: u32) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("open events file");
    for i in from..from + n {
        let line = common::event(
            &format!("s-{i}"),
            &format!("2026-11-02T10:{:02}:{:02}Z", i / 60, i % 60),
            "page_viewed",
            "ana",
        );
        writeln!(f, "{line}").expect("append");
    }
}

fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    let until = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("vigil serve did not exit within {WAIT:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_log(log: &Path, needle: &str) {
    let until = Instant::now() + WAIT;
    while !std::fs::read_to_string(log).is_ok_and(|s| s.contains(needle)) {
        assert!(Instant::now() < until, "no '{needle}' in {}", log.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_follows_the_file_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let events = dir.path().join("audit.jsonl");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[[sources]]\nkind = \"file\"\npath = \"{}\"\n",
            events.display()
        ),
    )
    .unwrap();
    append(&events, 0, 50);

    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("VIGIL_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vigil serve");
    wait_for_log(&data.join("vigil.log"), "engine started");
    // Written after start and signalled at once: the stop still reads them.
    append(&events, 50, 25);

    // status and ingest ask the running serve through its socket instead of failing on its store's lock.
    let live = common::vigil(&data, &["status", "--format", "json"]);
    assert_eq!(live.status.code(), Some(0), "{}", common::stderr(&live));
    let v: serde_json::Value = serde_json::from_str(common::stdout(&live).trim()).expect("json");
    assert_eq!(v["engine"], "running", "{v}");
    // The same file again: its events are kept once, whichever of the two reads them first.
    let through = common::vigil(&data, &["ingest", events.to_str().unwrap()]);
    assert_eq!(
        through.status.code(),
        Some(0),
        "{}",
        common::stderr(&through)
    );
    let said = common::stdout(&through);
    assert!(said.contains("through vigil serve at"), "{said}");
    let n = |word: &str| -> u64 {
        let at = said
            .find(word)
            .unwrap_or_else(|| panic!("{word} in {said}"));
        said[..at]
            .split_whitespace()
            .last()
            .unwrap()
            .trim_matches(',')
            .parse()
            .unwrap()
    };
    assert_eq!(n(" events stored") + n(" duplicates"), 75, "{said}");

    let kill = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = wait_for_exit(&mut child);
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(status.code(), Some(0), "stderr: {err}");

    let out = common::vigil(&data, &["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let v: serde_json::Value = serde_json::from_str(common::stdout(&out).trim()).expect("json");
    assert_eq!(v["events"], 75, "{v}");
    assert_eq!(v["backlog"], 0);
    assert_eq!(v["quarantined"], 0);
    assert_eq!(v["engine"], "stopped");
    assert_eq!(v["schema_version"], vigil::store::SCHEMA_VERSION);
    assert!(v["store_bytes"].as_u64().is_some_and(|n| n > 0), "{v}");
    for k in ["open", "acknowledged", "expected", "true_positive", "total"] {
        assert!(v["alerts"][k].is_u64(), "alerts.{k} in {v}");
    }
    let text = common::vigil(&data, &["status"]);
    assert!(
        common::stdout(&text).contains("events          75"),
        "{}",
        common::stdout(&text)
    );

    // A restart resumes at the stored position: nothing is read twice, new lines are.
    append(&events, 75, 5);
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
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
        .expect("restart vigil serve");
    let log = data.join("vigil.log");
    let until = Instant::now() + WAIT;
    while std::fs::read_to_string(&log)
        .map(|s| s.matches("engine started").count())
        .unwrap_or(0)
        < 2
    {
        assert!(Instant::now() < until, "second start not logged");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-s", "INT", &child.id().to_string()])
        .status();
    assert_eq!(wait_for_exit(&mut child).code(), Some(0));
    let store = vigil::store::Store::open(&data).expect("open after exit");
    assert_eq!(store.event_count(), 80);
}

#[test]
fn status_of_a_missing_store_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = common::vigil(&dir.path().join("nope"), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("no store"),
        "{}",
        common::stderr(&out)
    );
}
