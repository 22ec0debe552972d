//! `vigil scan`, `vigil check` and `vigil generate` through the real binary.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use common::{stderr, stdout, vigil};

#[test]
fn scan_finds_planted_secrets_and_skips_binaries_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(
        root.join("notes.md"),
        "deploy notes\nkey: AKIAQWERTYUIOPASDF23\n",
    )
    .unwrap();
    std::fs::write(
        root.join("sub/pay.txt"),
        "Customer card 4539 1488 0343 6467 exp 09/29\n",
    )
    .unwrap();
    std::fs::write(root.join("sub/blob.bin"), b"\0\0AKIAQWERTYUIOPASDF23\0").unwrap();
    std::fs::write(
        root.join("prose.txt"),
        "Please reset your password. AKIA is a prefix. sk_test_4eC39HqLyjWDarjtT1zdp7dc\n",
    )
    .unwrap();
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, "AKIAZXCVBNMASDFGHJ45\n").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link.txt")).unwrap();

    let out = vigil(dir.path(), &["scan", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let mut rows: Vec<&str> = text.lines().skip(1).collect();
    rows.sort();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0].ends_with("notes.md,2,6,aws-access-key-id,\"AKIA…[aws-access-key-id, 20 chars]\""),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("pay.txt,1,15,payment-card,"),
        "{}",
        rows[1]
    );
    assert!(
        !text.contains("AKIAQWERTYUIOPASDF23") && !text.contains("4539 1488 0343 6467"),
        "secrets never printed"
    );
    assert!(
        !text.contains("outside"),
        "symlinks inside the tree are not followed"
    );
}

#[test]
fn check_names_every_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("vigil.toml");
    std::fs::write(&bad, "[detections.page-crawling]\nsensitivity = \"loud\"\n\n[detections.no-such-detection]\nenabled = true\n").unwrap();
    let out = vigil(dir.path(), &["--config", bad.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("line 2: detections.page-crawling.sensitivity: 'loud' is not a sensitivity"),
        "{err}"
    );
    assert!(
        err.contains("line 4") && err.contains("no-such-detection"),
        "{err}"
    );
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[detections.page-crawling]\nsensitivity = \"fewer\"\n",
    )
    .unwrap();
    let out = vigil(dir.path(), &["--config", good.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn generate_is_deterministic_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let a = vigil(
        dir.path(),
        &[
            "generate",
            "--events",
            "2000",
            "--seed",
            "5",
            "--incidents",
            "3",
        ],
    );
    let b = vigil(
        dir.path(),
        &[
            "generate",
            "--events",
            "2000",
            "--seed",
            "5",
            "--incidents",
            "3",
        ],
    );
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(stdout(&a).lines().count(), 2000);
    let c = vigil(dir.path(), &["generate", "--events", "2000", "--seed", "6"]);
    assert_ne!(a.stdout, c.stdout);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(vigil(dir.path(), &["export"]).status.code(), Some(2));
    assert_eq!(vigil(dir.path(), &["frobnicate"]).status.code(), Some(2));
}

#[test]
fn check_reports_keymap_errors_beside_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "").unwrap();
    std::fs::write(
        dir.path().join("keymap.toml"),
        "[normal]\n\"j\" = \"next-row\"\n\"ctrl-nope\" = \"quit\"\n\"k\" = \"fly-away\"\n",
    )
    .unwrap();
    let out = vigil(dir.path(), &["--config", config.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("keymap.toml line 3") && err.contains("ctrl-nope"),
        "{err}"
    );
    assert!(
        err.contains("keymap.toml line 4") && err.contains("fly-away"),
        "{err}"
    );
}

/// The prose and code shipped with the toolchain (the Book, the Reference, std's docs: ~155 MB) hold no
/// secrets: every finding there would be a false positive.
#[test]
fn scan_finds_nothing_in_the_rust_docs() {
    let sysroot = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let root = std::path::PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim())
        .join("share/doc/rust/html");
    let trees: Vec<String> = ["book", "reference", "std"]
        .iter()
        .map(|t| root.join(t))
        .filter(|p| p.is_dir())
        .map(|p| p.display().to_string())
        .collect();
    if trees.len() < 3 {
        eprintln!("NOTE: the rust-docs component is not installed here; nothing to scan");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["scan"];
    args.extend(trees.iter().map(String::as_str));
    let out = vigil(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.lines().count(),
        1,
        "findings in the Rust docs:\n{text}"
    );
    assert!(stderr(&out).contains("findings=0"), "{}", stderr(&out));
}

/// A FIFO in the tree is skipped with a note on stderr; the scan neither hangs on it nor stops.
#[cfg(unix)]
#[test]
fn scan_skips_a_fifo_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(tree.join("pipe"))
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(tree.join("a.txt"), "ssn: 536-22-8417").unwrap();
    let out = vigil(dir.path(), &["scan", tree.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "vigil: skipped {}: not a regular file (a FIFO)",
            tree.join("pipe").display()
        )),
        "{err}"
    );
    assert!(err.contains("scanned=1 skipped=1"), "{err}");
}

#[test]
fn compact_rebuilds_the_store_and_says_the_bytes_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = dir.path().join("events.ndjson");
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["generate", "--events", "3000", "--incidents", "5"])
        .output()
        .unwrap();
    std::fs::write(&input, &generated.stdout).unwrap();
    let ing = vigil(&data, &["ingest", input.to_str().unwrap()]);
    assert_eq!(ing.status.code(), Some(0), "{}", stderr(&ing));
    let out = vigil(&data, &["compact"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("compacted") && said.contains(" MiB → "),
        "{said}"
    );
    let status = vigil(&data, &["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&status).trim()).unwrap();
    assert_eq!(v["events"], 3000, "{v}");
    assert!(v["live_bytes"].as_u64().unwrap() > 0, "{v}");
    assert!(v["live_bytes"].as_u64() <= v["store_bytes"].as_u64(), "{v}");
    // Nothing to compact where there is no store: said, not created.
    let none = vigil(&dir.path().join("nowhere"), &["compact"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("no store at"), "{}", stderr(&none));
}

#[test]
fn ingest_counts_quarantined_records_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let good = common::event("e1", "2026-11-02T09:00:00Z", "page_viewed", "ana");
    std::fs::write(&input, format!("{good}\n{{\"not an event\n")).unwrap();
    let out = common::vigil(
        &dir.path().join("data"),
        &["ingest", input.to_str().unwrap()],
    );
    let err = common::stderr(&out);
    assert!(
        err.contains("vigil: 1 record quarantined; see `vigil quarantine list`"),
        "{err}"
    );
}
