//! The alerts depend only on the set of events: not on their order, their batching, a crash in the middle,
//! or an implausible clock. Everything through the real binary, as an operator would run it.
#![allow(clippy::unwrap_used)] // a test that cannot go on should stop loudly

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{event, stderr, stdout};

/// One alert as the comparison sees it: what the events decide, not ids or triage.
type AlertKey = (String, String, u64, String, String, String);

struct Bench {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Bench {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vigil.toml");
        // One fingerprint key for every store, so content matches compare across them.
        std::fs::write(
            &config,
            "[engine]\nfingerprint_key = \"env:VIGIL_TEST_FP_KEY\"\n",
        )
        .unwrap();
        Self { dir, config }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A second config with the same key whose `ingest` sorts in windows of 256 events (64 × 4 runs): an
    /// out-of-order input goes through run files, and what straddles two windows through re-detection.
    fn small_sort_config(&self) -> PathBuf {
        let p = self.path("small-sort.toml");
        std::fs::write(
            &p,
            "[engine]\nfingerprint_key = \"env:VIGIL_TEST_FP_KEY\"\nsort_chunk_events = 64\nsort_runs = 4\n",
        )
        .unwrap();
        p
    }

    fn cmd(&self, store: &str, args: &[&str]) -> Command {
        self.cmd_with(&self.config, store, args)
    }

    fn cmd_with(&self, config: &Path, store: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
        c.arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(self.path(store))
            .args(args)
            .env_remove("VIGIL_DATA_DIR")
            .env("VIGIL_TEST_FP_KEY", "order-test-key");
        c
    }

    fn run(&self, store: &str, args: &[&str]) -> Output {
        self.cmd(store, args).output().unwrap()
    }

    fn ingest(&self, store: &str, file: &Path) -> Output {
        let out = self.run(store, &["ingest", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out
    }

    /// Every stored event's id, read from the store (not its counter), sorted: duplicates show twice.
    fn event_ids(&self, store: &str) -> Vec<String> {
        let s = vigil::store::Store::open(&self.path(store)).unwrap();
        let mut ids: Vec<String> = s
            .events_between(
                chrono::DateTime::<chrono::Utc>::MIN_UTC,
                chrono::DateTime::<chrono::Utc>::MAX_UTC,
                usize::MAX,
            )
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        ids.sort();
        ids
    }

    fn alerts(&self, store: &str) -> Vec<AlertKey> {
        let out = self.run(store, &["export", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let mut rows: Vec<AlertKey> = stdout(&out)
            .lines()
            .map(|l| {
                let a: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    a["detection"].as_str().unwrap().to_string(),
                    a["actor"]["id"].as_str().unwrap().to_string(),
                    a["count"].as_u64().unwrap(),
                    a["time_start"].to_string(),
                    a["time_end"].to_string(),
                    a["matches"].to_string(),
                )
            })
            .collect();
        rows.sort();
        rows
    }

    fn generate(&self, events: u64, incidents: u32) -> (PathBuf, Vec<String>) {
        let file = self.path("in.jsonl");
        let manifest = self.path("planted.jsonl");
        let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["generate", "--seed", "11"])
            .args(["--events", &events.to_string()])
            .args(["--incidents", &incidents.to_string()])
            .arg("--manifest")
            .arg(&manifest)
            .output()
            .unwrap();
        assert!(out.status.success());
        std::fs::write(&file, &out.stdout).unwrap();
        let lines: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        (file, lines)
    }

    fn write(&self, name: &str, lines: &[String]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    }
}

/// A small deterministic shuffle (no rand dependency in tests of order).
fn shuffled(lines: &[String], seed: u64) -> Vec<String> {
    let mut v = lines.to_vec();
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

#[test]
fn the_same_events_give_the_same_alerts_in_any_order_and_batching() {
    let b = Bench::new();
    let (file, lines) = b.generate(4000, 50);
    let planted = std::fs::read_to_string(b.path("planted.jsonl")).unwrap();
    let planted = planted.lines().count();

    b.ingest("ordered", &file);
    let ordered = b.alerts("ordered");
    assert_eq!(
        ordered.len(),
        planted,
        "time order raises exactly the plant"
    );

    let mut reversed = lines.clone();
    reversed.reverse();
    b.ingest("reversed", &b.write("reversed.jsonl", &reversed));
    assert_eq!(b.alerts("reversed"), ordered, "reversed");

    b.ingest("shuffled", &b.write("shuffled.jsonl", &shuffled(&lines, 7)));
    assert_eq!(b.alerts("shuffled"), ordered, "shuffled");

    // The same with a sort too small to hold the input: run files, merged in windows, the rest re-detected.
    let small = b.small_sort_config();
    for (store, file) in [
        ("reversed-small", b.path("reversed.jsonl")),
        ("shuffled-small", b.path("shuffled.jsonl")),
    ] {
        let out = b
            .cmd_with(&small, store, &["ingest", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("re-detected"),
            "windows of 256 leave late events: {}",
            stderr(&out)
        );
        assert_eq!(b.alerts(store), ordered, "{store}");
        let runs = b.path(store).join("sort");
        assert_eq!(
            std::fs::read_dir(&runs).unwrap().count(),
            0,
            "no run file is left in {}",
            runs.display()
        );
    }

    // Ten consecutive parts, ingested one command each in a random order.
    let size = lines.len().div_ceil(10);
    let parts: Vec<PathBuf> = lines
        .chunks(size)
        .enumerate()
        .map(|(i, c)| b.write(&format!("part{i}.jsonl"), c))
        .collect();
    for i in [6, 2, 9, 0, 4, 1, 8, 3, 7, 5] {
        b.ingest("parts", &parts[i]);
    }
    assert_eq!(b.alerts("parts"), ordered, "ten parts in random order");

    // Ingesting everything again changes nothing.
    let again = b.ingest("parts", &file);
    assert!(
        stdout(&again).ends_with("ingested=0 duplicates=4000 quarantined=0 alerts=0\n"),
        "{}",
        stdout(&again)
    );
    assert_eq!(b.alerts("parts"), ordered);
}

#[test]
fn a_kill_in_the_middle_of_an_ingest_changes_no_alert() {
    let b = Bench::new();
    let (file, _) = b.generate(20_000, 30);
    b.ingest("clean", &file);
    let clean = b.alerts("clean");
    assert!(!clean.is_empty());
    let clean_ids = b.event_ids("clean");
    assert_eq!(clean_ids.len(), 20_000);
    for (n, after_ms) in [150u64, 400, 800, 1500].into_iter().enumerate() {
        let store = format!("killed{n}");
        let mut child = b
            .cmd(&store, &["ingest", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(after_ms));
        let _ = child.kill(); // SIGKILL: no chance to save anything
        let _ = child.wait();
        b.ingest(&store, &file);
        assert_eq!(b.alerts(&store), clean, "killed after {after_ms} ms");
        // Every event once: none lost with what the killed run held in memory, none stored twice.
        let ids = b.event_ids(&store);
        assert!(
            ids == clean_ids,
            "killed after {after_ms} ms: {} events stored, {} in a clean run",
            ids.len(),
            clean_ids.len()
        );
    }
}

#[test]
fn implausible_times_are_quarantined_and_never_stop_detection() {
    let b = Bench::new();
    let mut lines = vec![
        event("far", "9999-12-31T00:00:00Z", "page_viewed", "mallory"),
        event("epoch", "1969-12-31T23:59:59Z", "page_viewed", "mallory"),
        event("old", "1999-12-31T23:59:59Z", "page_viewed", "mallory"),
        // After them, an admin grant by one actor and a failed-login burst by another: both still raised.
        event(
            "g1",
            "2026-11-02T09:00:00Z",
            "org_admin_role_granted",
            "ana",
        ),
    ];
    for i in 0..10 {
        lines.push(event(
            &format!("f{i}"),
            &format!("2026-11-02T09:01:{i:02}Z"),
            "user_login_failed",
            "bo",
        ));
    }
    let file = b.write("in.jsonl", &lines);
    let out = b.ingest("s", &file);
    assert!(
        stdout(&out).ends_with("ingested=11 duplicates=0 quarantined=3 alerts=2\n"),
        "{}",
        stdout(&out)
    );
    let q = b.run("s", &["quarantine", "list"]);
    let listing = stdout(&q);
    assert!(
        listing.contains("'9999-12-31T00:00:00.000Z' is more than 24 h ahead"),
        "{listing}"
    );
    assert!(
        listing.contains("'1969-12-31T23:59:59.000Z' is before 2000-01-01"),
        "{listing}"
    );
    // And the next run detects as usual: the far-future event moved no clock.
    let more: Vec<String> = (0..10)
        .map(|i| {
            event(
                &format!("h{i}"),
                &format!("2026-11-03T10:00:{i:02}Z"),
                "user_login_failed",
                "cy",
            )
        })
        .collect();
    let out = b.ingest("s", &b.write("more.jsonl", &more));
    assert!(stdout(&out).ends_with("alerts=1\n"), "{}", stdout(&out));
}

/// A crash replays the actors of what was stored since the last checkpoint, so each batch records its actors
/// before storing its events. An actor already recorded since the checkpoint is not recorded again: over a
/// long ingest (`vigil ingest` checkpoints only at its end) the markers stay as big as the set of actors, not
/// the number of batches. Before, each of 10,000 batches of a 10M-event ingest left its own marker (~12 KB),
/// and deleting them all at the end pulled ~120 MB of them back into memory: that step took the ingest's peak
/// RSS from 215 to 508 MB.
#[test]
fn re_detection_markers_stay_as_big_as_the_set_of_actors() {
    use vigil::detect::tuning::Tuning;
    use vigil::engine::Pipeline;
    use vigil::store::Store;
    let opts = vigil::generate::GenerateOptions {
        events: 20_000,
        ..Default::default()
    };
    let mut jsonl = Vec::new();
    vigil::generate::write_jsonl(&opts, &mut jsonl).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut p = Pipeline::new(store.clone(), &Tuning::default(), None).unwrap();
    p.ingest_reader("test", jsonl.as_slice()).unwrap();
    p.process_batch().unwrap();
    let markers = store.meta_with_prefix("redetect/").unwrap();
    assert!(!markers.is_empty(), "the batches recorded their actors");
    let mut listed: Vec<String> = markers
        .iter()
        .flat_map(|(_, v)| serde_json::from_slice::<Vec<String>>(v).unwrap())
        .collect();
    let n = listed.len();
    listed.sort();
    listed.dedup();
    assert_eq!(n, listed.len(), "each actor is recorded once");
    // Every actor that has events is covered.
    for e in store
        .events_between(
            chrono::DateTime::<chrono::Utc>::MIN_UTC,
            chrono::DateTime::<chrono::Utc>::MAX_UTC,
            usize::MAX,
        )
        .unwrap()
    {
        assert!(
            listed.binary_search(&e.actor.id).is_ok(),
            "{} is not recorded",
            e.actor.id
        );
    }
    // A checkpoint covers them all: the markers go, and the next batches record their actors afresh.
    p.checkpoint().unwrap();
    assert!(store.meta_with_prefix("redetect/").unwrap().is_empty());
}
