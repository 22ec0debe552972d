//! No secret anywhere at rest: secrets planted in every string field of every kind of event (content, admin,
//! login, read, a late one, refused ones) and ingested through the binary with the most verbose log must not
//! be found in full in the store (read back decoded, and its raw files), the log, the quarantine listing, the
//! exports, or anything the commands print.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{stderr, stdout};

const AWS_ID: &str = "AKIAZ7QK3M4N5P6R7S8T";
const AWS_SECRET: &str = "q8Zr3Lk0Vb+T1mWn5Yx/Ha7Jd2Pc9Fs4Ge6Ru0Kt";
const GITHUB: &str = "ghp_R8t2LmVq9x7ZkP3wN5yB1cD4fG6hJ0kLmN2p";
const SLACK: &str = "xoxb-123456789012-1234567890123-Zq8Rt2Lm9Vx7Kp3Wn5Yb1Cd4";
const CARD: &str = "4539 1488 0343 6467";
const SSN: &str = "536-22-8417";
const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1YjEwYWM4ZCIsIm5hbWUiOiJBbmEgQWRtaW4iLCJpYXQiOjE3ODAwMDAwMDB9.Qm9vZ1Z6Rk1qX2t3cE5yTDhzVDN5QWZHaDdlVQ";
const KEY_LINES: [&str; 3] = [
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Xk2qN8vGm3Tz9L",
    "r4Yp1Wd6Hc0Ue5Kb7Jf2Sa9Xg3Vt8Rn1Mq4Pl6Oh0Iw2Ey5Cu7Ds9Bz1Ar3Qx5Lk8",
    "Hj2Gf4Ds6Sa8Pq0Wo9Ei7Ru5Ty3Yu1Io2Pa4Sd6Fg8Hj0Kl3Zx5Cv7Bn9Mq1Wr3Et",
];

/// A valid IBAN (mod-97) that is no published example.
fn iban() -> String {
    let bban = "500105175407324931";
    (2..99)
        .map(|cd| format!("DE{cd:02}{bban}"))
        .find(|s| {
            let moved = format!("{}{}", &s[4..], &s[..4]);
            moved.chars().fold(0u32, |r, c| {
                let v = c.to_digit(36).unwrap();
                if v >= 10 {
                    (r * 100 + v) % 97
                } else {
                    (r * 10 + v) % 97
                }
            }) == 1
        })
        .unwrap()
}

fn private_key() -> String {
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
        KEY_LINES.join("\n")
    )
}

/// Every planted secret, as text that must never be found in full (a private key by its body lines).
fn secrets() -> Vec<String> {
    let mut s: Vec<String> = [AWS_ID, AWS_SECRET, GITHUB, SLACK, CARD, SSN, JWT]
        .iter()
        .map(|s| s.to_string())
        .collect();
    s.push("4539148803436467".into());
    s.push(iban());
    s.extend(KEY_LINES.iter().map(|l| l.to_string()));
    s
}

/// One text holding every secret, each next to the words its scanner wants.
fn bundle() -> String {
    format!(
        "key id {AWS_ID} aws_secret_access_key = {AWS_SECRET} gh {GITHUB} slack {SLACK} card {CARD} \
         IBAN {} SSN: {SSN} bearer {JWT}\n{}\n",
        iban(),
        private_key()
    )
}

fn event(id: &str, time: &str, action: &str, actor: &str, content: bool) -> serde_json::Value {
    let b = bundle();
    let mut attrs = serde_json::json!({
        "time": time,
        "action": action,
        "actor": {
            "id": actor, "name": format!("Ana {b}"), "email": format!("ana@example.com {b}"),
            "auth": {"authType": "api-token", "tokenId": "t-1", "tokenLabel": b},
            "onBehalfOf": {"id": "u9", "name": b, "email": "bo@example.com"}
        },
        "context": [{"id": "ctx-1", "type": "users", "attributes": {"name": b, "email": "x@example.com",
                     "nested": {"deep": [b]}}}],
        "container": [{"id": "site-1", "type": "sites", "attributes": {"siteName": "acme", "title": b}}],
        "location": {"ip": "203.0.113.7", "geo": "-33.87,151.21", "countryName": "Australia",
                     "regionName": b, "city": b},
        "extraAttribute": {"note": b, "list": [1, b]}
    });
    if content {
        attrs["content"] = serde_json::json!({"objectType": "page", "objectId": format!("p-{id}"),
            "title": format!("Deploy {b}"), "body": b, "containerKey": "OPS", "product": "confluence",
            "url": format!("https://acme.atlassian.net/wiki?x={b}")});
    }
    serde_json::json!({"id": id, "type": "events", "attributes": attrs,
        "message": {"content": format!("Did it: {b}"), "format": "simple"}, "unknownTop": b})
}

fn run(data: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("VIGIL_DATA_DIR")
        .env("VIGIL_LOG", "trace")
        .env("VIGIL_TEST_FP_KEY", "sort-test-key")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

fn assert_clean(what: &str, text: &str) {
    for s in secrets() {
        assert!(!text.contains(&s), "{s} found in full in {what}");
    }
}

/// Six good events of every kind (one an hour behind the others) and three refused records, each holding
/// every planted secret.
fn input_lines() -> Vec<String> {
    let b = bundle();
    let mut lines: Vec<String> = [
        ("c1", "2026-11-02T09:00:00.000Z", "page_created", "u1", true),
        ("c2", "2026-11-02T09:01:00.000Z", "page_viewed", "u2", true),
        (
            "a1",
            "2026-11-02T09:02:00.000Z",
            "org_admin_role_granted",
            "u3",
            false,
        ),
        ("l1", "2026-11-02T09:03:00.000Z", "user_login", "u4", false),
        (
            "s1",
            "2026-11-02T09:04:00.000Z",
            "search_performed",
            "u5",
            false,
        ),
        // An hour behind the others: too late for detection, still stored, so still redacted.
        (
            "late",
            "2026-11-02T08:00:00.000Z",
            "page_updated",
            "u6",
            true,
        ),
    ]
    .iter()
    .map(|(id, t, a, u, c)| event(id, t, a, u, *c).to_string())
    .collect();
    // Refused records: a time that holds the secrets (quoted in the reason), a missing actor, broken JSON.
    let mut bad = event("q1", "x", "page_created", "u7", true);
    bad["attributes"]["time"] = serde_json::Value::String(b.clone());
    lines.push(bad.to_string());
    let mut bad = event("q2", "2026-11-02T09:05:00.000Z", "page_created", "u8", true);
    bad["attributes"]["actor"] = serde_json::json!({"name": b});
    lines.push(bad.to_string());
    lines.push(format!("not json {}", b.replace('\n', " ")));
    lines
}

#[test]
fn planted_secrets_are_nowhere_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let lines = input_lines();
    std::fs::write(&input, lines.join("\n")).unwrap();

    let data = dir.path().join("data");
    let mut printed = String::new();
    let out = run(&data, &["ingest", input.to_str().unwrap()]);
    printed.push_str(&stdout(&out));
    printed.push_str(&stderr(&out));
    assert!(
        stdout(&out).contains("ingested=6 duplicates=0 quarantined=3"),
        "{}",
        stdout(&out)
    );

    // What the commands show.
    for args in [
        &["quarantine", "list"][..],
        &["quarantine", "list", "--format", "json"],
        &["export", "--format", "csv"],
        &["export", "--format", "json"],
        &["status"],
    ] {
        let out = run(&data, args);
        printed.push_str(&stdout(&out));
        printed.push_str(&stderr(&out));
    }
    assert!(
        printed.contains("AKIA…[aws-access-key-id, 20 chars]"),
        "redacted forms are shown: {printed}"
    );
    assert_clean("what the commands printed", &printed);

    // Secrets outside the content text raise `sensitive-content` too: the admin event and the login carry
    // no content, and are still reported.
    let export = stdout(&run(&data, &["export", "--format", "json"]));
    let alerts: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let content_actors: std::collections::BTreeSet<&str> = alerts
        .iter()
        .filter(|a| a["detection"] == "sensitive-content")
        .map(|a| a["actor"]["id"].as_str().unwrap())
        .collect();
    for actor in ["u1", "u3", "u4", "u5"] {
        assert!(
            content_actors.contains(actor),
            "{actor}: {content_actors:?}"
        );
    }
    assert!(!content_actors.contains("u2"), "reads do not raise");
    let admin = alerts
        .iter()
        .find(|a| a["detection"] == "sensitive-content" && a["actor"]["id"] == "u3")
        .unwrap();
    let fields: Vec<&str> = admin["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"message"), "{fields:?}");
    assert!(fields.contains(&"extra.note"), "{fields:?}");

    // The store, read back decoded (event runs and alert blocks may be compressed on disk).
    let store = vigil::store::Store::open(&data).unwrap();
    let far = chrono::Duration::days(365 * 50);
    let events = store
        .events_between(
            chrono::Utc::now() - far,
            chrono::Utc::now() + far,
            usize::MAX,
        )
        .unwrap();
    assert_eq!(events.len(), 6);
    let decoded = serde_json::to_string(&events).unwrap();
    assert!(decoded.contains("[aws-access-key-id, 20 chars]"));
    assert_clean("the stored events", &decoded);
    let quarantined = store.quarantine_list(0, 100).unwrap();
    assert_eq!(quarantined.len(), 3);
    for q in &quarantined {
        assert_clean("a quarantined record", &String::from_utf8_lossy(&q.raw));
        assert_clean("a quarantine reason", &q.reason);
    }
    let time_reason = &quarantined
        .iter()
        .find(|q| q.reason.contains("attributes.time"))
        .unwrap()
        .reason;
    assert!(
        time_reason.contains("[aws-access-key-id, 20 chars]"),
        "the reason quotes the redacted value: {time_reason}"
    );
    drop(store);

    // Every file of the data dir, the log included, as raw bytes.
    let mut saw_log = false;
    for f in files(&data) {
        saw_log |= f.file_name().is_some_and(|n| n == "vigil.log");
        let bytes = std::fs::read(&f).unwrap();
        for s in secrets() {
            assert!(
                memchr::memmem::find(&bytes, s.as_bytes()).is_none(),
                "{s} in {}",
                f.display()
            );
        }
    }
    assert!(saw_log, "the trace log was written in the data dir");
}

/// An input out of time order is sorted through run files beside the store before detection: those files
/// hold no secret in full either, and the alerts raised after the sort are those of the in-memory path.
#[test]
fn the_sort_runs_of_an_out_of_order_input_hold_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.toml");
    // Two events per run file: the reversed input below is written to run files from its first chunk.
    std::fs::write(
        &config,
        "[engine]\nfingerprint_key = \"env:VIGIL_TEST_FP_KEY\"\nsort_chunk_events = 2\nsort_runs = 64\n",
    )
    .unwrap();
    // The same key without the small sort, for the in-memory path to compare with.
    let direct_config = dir.path().join("direct.toml");
    std::fs::write(
        &direct_config,
        "[engine]\nfingerprint_key = \"env:VIGIL_TEST_FP_KEY\"\n",
    )
    .unwrap();
    let mut lines = input_lines();
    lines.reverse();
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", "-"])
        .env_remove("VIGIL_DATA_DIR")
        .env("VIGIL_LOG", "trace")
        .env("VIGIL_TEST_FP_KEY", "sort-test-key")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, (lines.join("\n") + "\n").as_bytes()).unwrap();
    std::io::Write::flush(&mut stdin).unwrap();
    // Input stays open, so the sorter holds its runs: wait for them, then read them.
    let runs = data.join("sort");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let found = loop {
        let found: Vec<_> = std::fs::read_dir(&runs)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if found.len() >= 2 || std::time::Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(found.len() >= 2, "run files were written: {found:?}");
    let mut redacted = false;
    for f in &found {
        let bytes = std::fs::read(f).unwrap();
        redacted |= memchr::memmem::find(&bytes, b"[aws-access-key-id, 20 chars]").is_some();
        for s in secrets() {
            assert!(
                memchr::memmem::find(&bytes, s.as_bytes()).is_none(),
                "{s} in {}",
                f.display()
            );
        }
    }
    assert!(redacted, "the runs hold the redacted events");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ingested=6 duplicates=0 quarantined=3"),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read_dir(&runs).unwrap().count(), 0, "runs removed");

    // The same content alerts as the in-memory path (which `planted_secrets_are_nowhere_at_rest` checks).
    let content = |data: &Path, config: &Path| {
        let export = stdout(&run(
            data,
            &[
                "--config",
                config.to_str().unwrap(),
                "export",
                "--format",
                "json",
            ],
        ));
        let mut rows: Vec<String> = export
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|a| a["detection"] == "sensitive-content")
            .flat_map(|a| {
                let actor = a["actor"]["id"].as_str().unwrap().to_string();
                a["matches"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| format!("{actor} {} {} {}", m["kind"], m["field"], m["fingerprint"]))
                    .collect::<Vec<_>>()
            })
            .collect();
        rows.sort();
        rows
    };
    let direct = dir.path().join("direct");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, input_lines().join("\n")).unwrap();
    run(
        &direct,
        &[
            "--config",
            direct_config.to_str().unwrap(),
            "ingest",
            input.to_str().unwrap(),
        ],
    );
    let expected = content(&direct, &direct_config);
    assert!(expected.len() > 20, "{expected:?}");
    let sorted = content(&data, &config);
    let missing: Vec<_> = expected.iter().filter(|r| !sorted.contains(r)).collect();
    let extra: Vec<_> = sorted.iter().filter(|r| !expected.contains(r)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}
