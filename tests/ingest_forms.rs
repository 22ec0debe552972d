//! Every input form of DESIGN §3 and every bad-input case of the foundation issue, through the real binary.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::io::Write;

use common::{event, last_line, stderr, stdout, vigil};

fn t(i: u32) -> String {
    format!("2026-11-02T09:{:02}:{:02}.000Z", i / 60, i % 60)
}

#[test]
fn single_object_array_page_and_ndjson_all_parse() {
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("single.json");
    std::fs::write(&single, event("s1", &t(1), "user_login", "a")).unwrap();
    let array = dir.path().join("array.json");
    std::fs::write(
        &array,
        format!(
            "[\n  {},\n  {}\n]\n",
            event("r1", &t(2), "page_viewed", "a"),
            event("r2", &t(3), "page_viewed", "b")
        ),
    )
    .unwrap();
    let page = dir.path().join("page.json");
    std::fs::write(
        &page,
        format!(
            r#"{{"data":[{},{}],"links":{{"next":null}},"meta":{{"pageSize":2}}}}"#,
            event("p1", &t(4), "x", "a"),
            event("p2", &t(5), "x", "b")
        ),
    )
    .unwrap();
    let nd = dir.path().join("mixed.jsonl");
    // NDJSON of any of the forms: an event, an array, a page.
    std::fs::write(
        &nd,
        format!(
            "{}\n[{}]\n{{\"data\":[{}]}}\n",
            event("n1", &t(6), "x", "a"),
            event("n2", &t(7), "x", "a"),
            event("n3", &t(8), "x", "a")
        ),
    )
    .unwrap();
    let pretty = dir.path().join("pretty.json");
    let v: serde_json::Value = serde_json::from_str(&event("pp1", &t(9), "x", "c")).unwrap();
    let v2: serde_json::Value = serde_json::from_str(&event("pp2", &t(10), "x", "c")).unwrap();
    std::fs::write(
        &pretty,
        format!(
            "{}\n{}\n",
            serde_json::to_string_pretty(&v).unwrap(),
            serde_json::to_string_pretty(&v2).unwrap()
        ),
    )
    .unwrap();

    let data = dir.path().join("data");
    let files: Vec<String> = [&single, &array, &page, &nd, &pretty]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    let out = vigil(&data, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        last_line(&out),
        "ingested=10 duplicates=0 quarantined=0 alerts=0"
    );
}

#[test]
fn stdin_is_read_with_dash() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "ingest", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        "{}\n{}",
        event("i1", &t(1), "x", "a"),
        event("i2", &t(2), "x", "a")
    )
    .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        last_line(&out),
        "ingested=2 duplicates=0 quarantined=0 alerts=0"
    );
}

#[test]
fn bad_records_are_quarantined_with_line_and_reason_and_neighbours_survive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let mut good = 0;
    let line = |f: &mut std::fs::File, bytes: &[u8]| {
        f.write_all(bytes).unwrap();
        f.write_all(b"\n").unwrap();
    };
    let mut g = |f: &mut std::fs::File, i: u32| {
        good += 1;
        line(
            f,
            event(&format!("g{i}"), &t(i), "page_viewed", "ana").as_bytes(),
        );
    };
    g(&mut f, 1); // line 1
    // line 2: invalid UTF-8 inside a string
    let mut bad = event("u1", &t(2), "x", "a").into_bytes();
    let at = bad.iter().position(|b| *b == b'U').unwrap();
    bad[at] = 0xff;
    line(&mut f, &bad);
    g(&mut f, 3); // line 3
    // line 4: a 10 MB line
    line(
        &mut f,
        format!(
            "{{\"id\":\"big\",\"pad\":\"{}\"}}",
            "x".repeat(10 * 1024 * 1024)
        )
        .as_bytes(),
    );
    g(&mut f, 5); // line 5
    // line 6: nested 5,000 deep
    line(
        &mut f,
        format!("{}{}", "[".repeat(5000), "]".repeat(5000)).as_bytes(),
    );
    g(&mut f, 7); // line 7
    // line 8: wrong type
    line(
        &mut f,
        event("w1", &t(8), "x", "a")
            .replace("\"action\":\"x\"", "\"action\":42")
            .as_bytes(),
    );
    // line 9: missing required field
    line(
        &mut f,
        br#"{"id":"m1","attributes":{"time":"2026-11-02T09:00:00Z","actor":{"id":"a"}}}"#,
    );
    // line 10: time that is not RFC 3339
    line(&mut f, event("y1", "yesterday", "x", "a").as_bytes());
    // line 11: truncated record
    line(&mut f, br#"{"id":"tr","attributes":{"time":"2026-11-02"#);
    g(&mut f, 12); // line 12
    // line 13: not JSON
    line(&mut f, b"hello world");
    // line 14: deep object nesting
    line(
        &mut f,
        format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000)).as_bytes(),
    );
    g(&mut f, 15);
    drop(f);

    let data = dir.path().join("data");
    let out = vigil(&data, &["ingest", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "quarantine alone is not a failure: {}",
        stderr(&out)
    );
    assert_eq!(
        last_line(&out),
        format!("ingested={good} duplicates=0 quarantined=9 alerts=0")
    );

    let list = vigil(&data, &["quarantine", "list"]);
    let text = stdout(&list);
    let expect = [
        ("line 2:", "invalid UTF-8"),
        ("line 4:", "the limit is"),
        ("line 6:", "nested more than 128 levels"),
        (
            "line 8:",
            "attributes.action: expected a string, found a number",
        ),
        ("line 9:", "attributes.action: required field is missing"),
        (
            "line 10:",
            "attributes.time: 'yesterday' is not an RFC 3339 time",
        ),
        ("line 11:", "unterminated"),
        ("line 13:", "invalid JSON at column 1"),
        ("line 14:", "nested more than 128 levels"),
    ];
    for (l, reason) in expect {
        assert!(
            text.lines().any(|x| x.contains(l) && x.contains(reason)),
            "no quarantine line with {l} {reason} in:\n{text}"
        );
    }
    // JSON listing carries the raw bytes, capped at 64 KiB.
    let json = stdout(&vigil(&data, &["quarantine", "list", "--format", "json"]));
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 9);
    let big = rows.iter().find(|r| r["line"] == 4).unwrap();
    assert!(big["raw"].as_str().unwrap().len() <= 64 * 1024);
    assert!(big["size"].as_u64().unwrap() > 10 * 1024 * 1024);
    assert!(
        rows.iter()
            .all(|r| r["source"].as_str().unwrap().ends_with("bad.jsonl"))
    );

    // Ingesting the same file again stores nothing new and quarantines nothing twice.
    let again = vigil(&data, &["ingest", path.to_str().unwrap()]);
    assert_eq!(
        last_line(&again),
        format!("ingested=0 duplicates={good} quarantined=9 alerts=0")
    );
    let json = stdout(&vigil(&data, &["quarantine", "list", "--format", "json"]));
    assert_eq!(json.lines().count(), 9);
}

#[test]
fn unreadable_file_exits_1_but_others_are_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.jsonl");
    std::fs::write(&ok, event("o1", &t(1), "x", "a")).unwrap();
    let out = vigil(
        &dir.path().join("d"),
        &["ingest", "/nonexistent/file.jsonl", ok.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read /nonexistent/file.jsonl"));
    assert_eq!(
        last_line(&out),
        "ingested=1 duplicates=0 quarantined=0 alerts=0"
    );
}

#[test]
fn second_process_gets_a_clear_in_use_error() {
    let dir = tempfile::tempdir().unwrap();
    let _held = vigil::store::Store::open(dir.path()).unwrap();
    let f = dir.path().join("e.jsonl");
    std::fs::write(&f, event("x1", &t(1), "x", "a")).unwrap();
    let out = vigil(dir.path(), &["ingest", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "store at {} is in use by another vigil process (pid {})",
            dir.path().display(),
            std::process::id()
        )),
        "{err}"
    );
}

/// A refused record is kept for the operator, but a secret in it is not kept in full: not in the quarantine's
/// bytes, not in its listing, not anywhere in the store's files.
#[test]
fn secrets_in_quarantined_records_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    let key = "AKIAZ7QK3M4N5P6R7S8T";
    let token = "ghp_R8t2LmVq9x7ZkP3wN5yB1cD4fG6hJ0kLmN2p";
    std::fs::write(
        &file,
        format!(
            "not json, but aws_access_key_id = {key}\n\
             {{\"id\":\"bad-1\",\"attributes\":{{\"action\":\"page_created\",\"actor\":{{\"id\":\"u1\"}},\"content\":{{\"body\":\"token {token}\"}}}}}}\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = vigil(&data, &["ingest", file.to_str().unwrap()]);
    assert_eq!(
        last_line(&out),
        "ingested=0 duplicates=0 quarantined=2 alerts=0",
        "{}",
        stderr(&out)
    );
    let listing = stdout(&vigil(&data, &["quarantine", "list", "--format", "json"]));
    assert!(
        listing.contains("AKIA…[aws-access-key-id, 20 chars]"),
        "{listing}"
    );
    for secret in [key, token] {
        assert!(!listing.contains(secret), "{listing}");
        for entry in walk(&data) {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(
                memchr::memmem::find(&bytes, secret.as_bytes()).is_none(),
                "{secret} in {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else if e.file_name() != "vigil.log" {
            out.push(e.path());
        }
    }
    out
}

/// Ids are compared as their exact text: two integers beyond `u64` that an `f64` would merge stay two events.
#[test]
fn integer_ids_beyond_u64_stay_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    let line = |id: &str, i: u32| event("X", &t(i), "user_login", "a").replace("\"X\"", id);
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n{}\n",
            line("18446744073709551616", 1),
            line("18446744073709551617", 2),
            line("18446744073709551617", 2)
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = vigil(&data, &["ingest", file.to_str().unwrap()]);
    assert_eq!(
        last_line(&out),
        "ingested=2 duplicates=1 quarantined=0 alerts=0",
        "{}",
        stderr(&out)
    );
    let store = vigil::store::Store::open(&data).unwrap();
    let far = chrono::Duration::days(365 * 50);
    let mut ids: Vec<String> = store
        .events_between(chrono::Utc::now() - far, chrono::Utc::now() + far, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["18446744073709551616", "18446744073709551617"]);
}

/// A duplicated key among the fields vigil reads quarantines the record, naming the key: a parser that reads
/// the first one would see another event. Duplicates in fields vigil only keeps are read as before.
#[test]
fn duplicated_read_keys_quarantine_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    let ok = |id: &str, i: u32| event(id, &t(i), "user_login", "a");
    let lines = [
        // Two times.
        ok("d1", 1).replace("\"time\":", &format!("\"time\":\"{}\",\"time\":", t(40))),
        // Two actors.
        ok("d2", 2).replace("\"actor\":", "\"actor\":{\"id\":\"admin\"},\"actor\":"),
        // Two ids, at the top.
        ok("d3", 3).replace("\"id\":\"d3\"", "\"id\":\"d3\",\"id\":\"other\""),
        // Two actor ids, inside `attributes.actor`.
        ok("d4", 4).replace("\"id\":\"a\"", "\"id\":\"admin\",\"id\":\"a\""),
        // Inside an array, the element is refused and its neighbours are not.
        format!(
            "[{},{}]",
            ok("d5", 5),
            ok("d6", 6).replace(
                "\"action\":",
                "\"action\":\"user_logged_in_as_user\",\"action\":"
            )
        ),
        // An unknown field's duplicate is kept last-wins as before.
        ok("d7", 7).replace(
            "\"type\":\"events\"",
            "\"type\":\"events\",\"note\":1,\"note\":2",
        ),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let data = dir.path().join("data");
    let out = vigil(&data, &["ingest", file.to_str().unwrap()]);
    assert_eq!(
        last_line(&out),
        "ingested=2 duplicates=0 quarantined=5 alerts=0",
        "{}",
        stderr(&out)
    );
    let listing = stdout(&vigil(&data, &["quarantine", "list", "--format", "json"]));
    for key in [
        "line 1: attributes.time: duplicated key",
        "line 2: attributes.actor: duplicated key",
        "line 3: id: duplicated key",
        "line 4: attributes.actor.id: duplicated key",
        "line 5: element 1: attributes.action: duplicated key",
    ] {
        assert!(listing.contains(key), "{key} in {listing}");
    }
}

/// A flood of refused records — a JSON array of a million tiny bad objects, 8 MB — is counted in full but
/// kept only up to the quarantine's cap per source: the store stays small (it took 614 MB before the cap).
#[test]
fn quarantine_is_capped_and_the_rest_counted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flood.json");
    let n = 1_000_000;
    let mut text = String::with_capacity(8 * n + 2);
    text.push('[');
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push_str("{\"a\":1}");
    }
    text.push(']');
    assert!(text.len() >= 8_000_000);
    std::fs::write(&file, text).unwrap();
    let data = dir.path().join("data");
    let out = vigil(&data, &["ingest", file.to_str().unwrap()]);
    assert_eq!(
        last_line(&out),
        format!("ingested=0 duplicates=0 quarantined={n} alerts=0"),
        "{}",
        stderr(&out)
    );
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&vigil(&data, &["status", "--format", "json"]))).unwrap();
    let kept = status["quarantined"].as_u64().unwrap();
    let dropped = status["quarantine_dropped"].as_u64().unwrap();
    let bytes = status["quarantine_bytes"].as_u64().unwrap();
    assert_eq!(kept + dropped, n as u64, "{status}");
    assert!(kept > 1000 && dropped > 0, "{status}");
    assert!(bytes <= vigil::store::QUARANTINE_SOURCE_CAP, "{status}");
    let listed = stdout(&vigil(
        &data,
        &["quarantine", "list", "--format", "json", "--limit", "2"],
    ));
    assert!(
        listed.contains("attributes: required field is missing"),
        "{listed}"
    );
    let on_disk: u64 = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| disk_size(&e.path()))
        .sum();
    eprintln!("flood: {kept} kept ({bytes} bytes), {dropped} dropped, {on_disk} bytes on disk");
    assert!(on_disk < 100 * 1024 * 1024, "{on_disk} bytes on disk");
}

fn disk_size(p: &std::path::Path) -> u64 {
    if p.is_dir() {
        std::fs::read_dir(p)
            .unwrap()
            .flatten()
            .map(|e| disk_size(&e.path()))
            .sum()
    } else {
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }
}

/// An ingest that leaves sled's file mostly garbage compacts the store before it ends (the same
/// `[retention]` threshold as `serve`), says so on stderr, and every event is still there; with the threshold
/// at 0 it does not.
#[test]
fn an_ingest_that_leaves_the_file_mostly_garbage_compacts_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let input = generated_input(dir.path(), 3000, 4);
    for (percent, compacts) in [(0, false), (1, true)] {
        let config = dir.path().join(format!("vigil-{percent}.toml"));
        std::fs::write(
            &config,
            format!("[retention]\ncompact_garbage_percent = {percent}\ncompact_min_mb = 0\n"),
        )
        .unwrap();
        let data = dir.path().join(format!("data-{percent}"));
        let out = vigil(
            &data,
            &[
                "--config",
                config.to_str().unwrap(),
                "ingest",
                input.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            last_line(&out).starts_with("ingested=3000 duplicates=0 quarantined=0 "),
            "{}",
            last_line(&out)
        );
        assert_eq!(
            stderr(&out).contains("compacted:"),
            compacts,
            "{percent}: {}",
            stderr(&out)
        );
        let again = vigil(&data, &["ingest", input.to_str().unwrap()]);
        assert!(
            last_line(&again).starts_with("ingested=0 duplicates=3000 quarantined=0 "),
            "{percent}: every event is still there: {}",
            last_line(&again)
        );
    }
}

/// sled writes its recovery snapshot only while opening, and an open replays the log written since the last
/// one: the first open after a long ingest replayed all of it (0.74 s after 10M events, 2.7 s after 5M in an
/// older layout) while later opens took tens of ms. `vigil ingest` reopens the store before it ends, so the
/// snapshot it leaves covers everything it wrote and the UI opened next starts at once.
#[test]
fn an_ingest_leaves_a_recovery_snapshot_that_covers_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let input = generated_input(dir.path(), 5000, 5);
    let data = dir.path().join("data");
    let out = vigil(&data, &["ingest", input.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The newest snapshot's log position (sled names it `snap.<LSN in hex>`), and how much log there is.
    let db = data.join("db");
    let snapshot_lsn = std::fs::read_dir(&db)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().ok()?;
            u64::from_str_radix(name.strip_prefix("snap.")?, 16).ok()
        })
        .max()
        .unwrap_or(0);
    let log = std::fs::metadata(db.join("db")).unwrap().len();
    assert!(
        snapshot_lsn * 2 > log,
        "the snapshot is at {snapshot_lsn} of a {log}-byte log: the next open replays the rest"
    );
    // The log says where the time went, step by step, with the events stored.
    let log = std::fs::read_to_string(data.join("vigil.log")).unwrap();
    for step in [
        "read, detect and store",
        "checkpoint",
        "seal small runs and flush",
        "measure live bytes",
        "reopen",
    ] {
        let line = log
            .lines()
            .find(|l| l.contains("vigil ingest: step done") && l.contains(step))
            .unwrap_or_else(|| panic!("no timing of {step:?} in the log:\n{log}"));
        assert!(
            line.contains("events=5000") && line.contains("seconds="),
            "{line}"
        );
    }
}

/// `vigil generate --events N --seed S` written to `events.jsonl` in `dir`; its path.
fn generated_input(dir: &std::path::Path, events: u32, seed: u32) -> std::path::PathBuf {
    let n = events.to_string();
    let s = seed.to_string();
    let out = vigil(dir, &["generate", "--events", &n, "--seed", &s]);
    assert!(out.status.success(), "{}", stderr(&out));
    let input = dir.join("events.jsonl");
    std::fs::write(&input, &out.stdout).unwrap();
    input
}
