//! A full disk is named as such, stops `vigil ingest` at once, and leaves a store that opens and completes
//! the same ingest once there is space. Run on a small tmpfs mounted for the test: that needs root; without
//! it the test says so and passes, except under `CI=true`, where it must run.
//!
//! Also: a store that a failed snapshot write left with an empty `db/snap.*.generating` file (which sled then
//! reports as corruption on every open) is repaired when opened.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, stdout, vigil};

/// A tmpfs mounted on a directory for the test's life; unmounted on drop, whatever happened.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mount a tmpfs of `size` (as `mount -o size=` reads it) on `dir`, or `None` (with a printed reason)
    /// when this process may not. Under `CI=true` not being able to is a failure.
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let refuse = |why: String| {
            assert!(!ci, "CI=true: the disk-full test must run, but {why}");
            println!("skipped: {why}");
            None
        };
        if !rustix::process::geteuid().is_root() {
            return refuse("mounting a tmpfs needs root".into());
        }
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self(dir.to_path_buf())),
            Ok(o) => refuse(format!("mount failed: {}", stderr(&o).trim())),
            Err(e) => refuse(format!("cannot run mount: {e}")),
        }
    }

    fn resize(&self, size: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(o.status.success(), "remount: {}", stderr(&o));
    }

    /// Blocks an unprivileged process could still write.
    fn free_blocks(&self) -> u64 {
        rustix::fs::statvfs(&self.0).map_or(u64::MAX, |s| s.f_bavail)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn events_stored(data: &Path) -> u64 {
    let out = vigil(data, &["status", "--format", "json"]);
    assert!(out.status.success(), "status: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    v["events"].as_u64().unwrap()
}

#[test]
fn full_disk_stops_ingest_at_once_in_one_sentence_and_the_same_ingest_finishes_with_space() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&tmp.path().join("mnt"), "8m") else {
        return;
    };
    let data = fs.0.join("data");
    // ~100 MB of events: about twice what fits in 8 MB once stored (the store takes ~0.17x its input), all
    // distinct and in time order (the reader never needs the store to plan them, so it would read on for as
    // long as there is input). The disk must fill well before the input ends: the pipeline's last, partial
    // batch waits for more input from a stdin that stays open.
    const EVENTS: u64 = 100_000;
    let input = tmp.path().join("events.jsonl");
    let gen_out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["generate", "--events", &EVENTS.to_string(), "--seed", "7"])
        .output()
        .unwrap();
    assert!(gen_out.status.success(), "{}", stderr(&gen_out));
    std::fs::write(&input, &gen_out.stdout).unwrap();

    // stdin that does not end: the events, then an open pipe with nothing more, like a producer that is
    // still running. Stopping at the failure means not waiting for the rest.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", "-"])
        .env_remove("VIGIL_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let body = gen_out.stdout.clone();
    let (hang_up, held) = std::sync::mpsc::channel::<()>();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
        let _ = held.recv();
    });

    let started = Instant::now();
    let mut full_at = None;
    let status = loop {
        if full_at.is_none() && fs.free_blocks() == 0 {
            full_at = Some(Instant::now());
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            drop(hang_up);
            panic!(
                "ingest still running 60 s after it started (disk full: {}); it went on reading",
                full_at.is_some()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let exited_at = Instant::now();
    drop(hang_up);
    feeder.join().unwrap();
    let out = child.wait_with_output().unwrap();
    let full_at = full_at.expect("the 8 MB file system never filled");
    let err = stderr(&out);
    println!("exited {:?} after the disk filled", exited_at - full_at);
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    assert!(
        exited_at - full_at <= Duration::from_secs(1),
        "exited {:?} after the disk filled; stderr: {err}",
        exited_at - full_at
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {err}");
    let sentence = regex::Regex::new(&format!(
        r"^vigil: disk full writing the store in {} \((\d+) events stored; run the same command again when there is space\)$",
        regex::escape(&data.display().to_string())
    ))
    .unwrap();
    let caps = sentence
        .captures(lines[0])
        .unwrap_or_else(|| panic!("{err}"));
    let claimed: u64 = caps[1].parse().unwrap();
    assert!(claimed < EVENTS, "{err}");
    assert!(
        !stdout(&out).contains("ingested="),
        "no summary after a failure"
    );

    // Opening while the disk is still full may fail, but must leave nothing that breaks the next open.
    let still_full = vigil(&data, &["status"]);
    if !still_full.status.success() {
        assert_eq!(
            stderr(&still_full).trim(),
            format!("vigil: disk full writing the store in {}", data.display())
        );
    }

    fs.resize("64m");
    let before = events_stored(&data);
    assert!(before > 0 && before < EVENTS, "{before}");
    let again = vigil(&data, &["ingest", input.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        common::last_line(&again),
        format!(
            "ingested={} duplicates={before} quarantined=0 alerts=0",
            EVENTS - before
        )
    );
    assert_eq!(events_stored(&data), EVENTS, "every event stored once");
    // Read back too: the second ingest stored no batch of the first twice (it did when the newest-time
    // watermark was written after the batch and a crash fell between the two).
    assert_eq!(events_read_back(&data), (EVENTS, EVENTS));
}

/// Events read back from the store at `data`, and how many distinct ids they hold.
fn events_read_back(data: &Path) -> (u64, u64) {
    let store = vigil::store::Store::open(data).unwrap();
    let all = store
        .events_between(
            "2000-01-01T00:00:00Z".parse().unwrap(),
            "2100-01-01T00:00:00Z".parse().unwrap(),
            usize::MAX,
        )
        .unwrap();
    let ids: std::collections::HashSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
    (all.len() as u64, ids.len() as u64)
}

#[test]
fn an_empty_unfinished_snapshot_is_removed_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = tmp.path().join("e.jsonl");
    let lines: Vec<String> = (0..20)
        .map(|i| {
            common::event(
                &format!("e{i}"),
                &format!("2026-11-02T09:{i:02}:00Z"),
                "page_viewed",
                "ana",
            )
        })
        .collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out = vigil(&data, &["ingest", input.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // What an open on a full disk left behind: sled reads the newest `snap.*` whatever its suffix.
    let stale = data.join("db").join("snap.FFFFFFFFFFFFFFFF.generating");
    std::fs::File::create(&stale).unwrap();

    assert_eq!(events_stored(&data), 20);
    assert!(!stale.exists(), "the empty unfinished snapshot was removed");
    let log = std::fs::read_to_string(data.join("vigil.log")).unwrap();
    assert!(
        log.contains("removed an unfinished sled snapshot") && log.contains("FFFFFFFFFFFFFFFF"),
        "{log}"
    );
}
