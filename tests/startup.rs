//! The one start-up path, through the real binary: every command that touches the store finds it where the
//! configuration says, and files it writes are owner-only and never written through a planted symlink.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{event, stderr, stdout};

/// Run vigil with `--config` only: no `--data-dir`, no `VIGIL_DATA_DIR`, and a HOME of its own so the XDG
/// data dir (the fallback) is somewhere the test can look.
fn vigil_cfg(home: &Path, config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("VIGIL_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home)
        .output()
        .expect("run vigil")
}

#[test]
fn store_commands_honour_the_configured_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let store = tmp.path().join("configured store");
    let config = tmp.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[engine]\ndata_dir = \"{}\"\n",
            store.display().to_string().replace('\\', "\\\\")
        ),
    )
    .unwrap();
    let input = tmp.path().join("in.jsonl");
    let mut lines = String::new();
    for i in 0..3 {
        lines.push_str(&event(
            &format!("e{i}"),
            &format!("2026-11-02T09:0{i}:00Z"),
            "org_admin_role_granted",
            ["ana", "bo", "cy"][i],
        ));
        lines.push('\n');
    }
    lines.push_str("not json\n");
    std::fs::write(&input, lines).unwrap();

    let out = vigil_cfg(&home, &config, &["ingest", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().last(),
        Some("ingested=3 duplicates=0 quarantined=1 alerts=3")
    );
    assert!(
        store.join("db").exists(),
        "the store is where the config says"
    );
    assert!(
        !home.join(".local/share/vigil").exists(),
        "nothing written to the XDG data dir"
    );

    let out = vigil_cfg(&home, &config, &["export", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 4, "a header and 3 alerts");

    let out = vigil_cfg(&home, &config, &["quarantine", "list", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));

    let out = vigil_cfg(&home, &config, &["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["events"], 3);
    assert_eq!(report["alerts"]["total"], 3);
    assert_eq!(report["data_dir"], store.display().to_string());

    // --data-dir still wins over the file.
    let elsewhere = tmp.path().join("elsewhere");
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&elsewhere)
        .args(["status"])
        .env_remove("VIGIL_DATA_DIR")
        .env("HOME", &home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("no store at {}", elsewhere.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_log_and_a_new_data_dir_are_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fresh");
    let input = tmp.path().join("in.jsonl");
    std::fs::write(
        &input,
        event("e1", "2026-11-02T09:00:00Z", "page_viewed", "ana"),
    )
    .unwrap();
    let out = common::vigil(&dir, &["ingest", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "data dir");
    assert_eq!(mode(&dir.join("vigil.log")), 0o600, "log file");
}

#[test]
fn export_files_are_owner_only_and_never_follow_a_planted_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let input = tmp.path().join("in.jsonl");
    std::fs::write(
        &input,
        event(
            "e1",
            "2026-11-02T09:00:00Z",
            "org_admin_role_granted",
            "ana",
        ),
    )
    .unwrap();
    let out = common::vigil(&dir, &["ingest", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let csv = tmp.path().join("alerts.csv");
    let out = common::vigil(
        &dir,
        &["export", "--format", "csv", "-o", csv.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&csv).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A symlink planted where the export goes: refused without --force; with it, the link itself is
    // replaced by the export. Either way its target is untouched.
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let link = tmp.path().join("link.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for force in [false, true] {
        let mut args = vec!["export", "--format", "csv", "-o", link.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        let out = common::vigil(&dir, &args);
        if force {
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
        } else {
            assert_eq!(out.status.code(), Some(1));
            assert!(
                stderr(&out).contains(&link.display().to_string()),
                "{}",
                stderr(&out)
            );
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    }
}
