//! Files vigil writes are its owner's alone whatever the caller's umask: the store (it holds the fingerprint
//! key, alerts naming people), the lock, the log and exports. And `vigil export -o` replaces a symlink at the
//! target instead of writing through it.
#![cfg(unix)]
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{stderr, stdout};

/// Run vigil under `umask 000`, the most permissive a caller can hand it.
fn vigil_umask_000(data: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000; exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("VIGIL_DATA_DIR")
        .output()
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every path under `dir`, `dir` included, with its mode.
fn modes(dir: &Path) -> Vec<(PathBuf, u32, bool)> {
    let mut out = vec![(dir.to_path_buf(), mode(dir), true)];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(modes(&p));
        } else {
            out.push((p.clone(), mode(&p), false));
        }
    }
    out
}

fn events_file(dir: &Path) -> PathBuf {
    let mut lines: Vec<String> = (0..60)
        .map(|i| {
            common::event(
                &format!("e{i}"),
                &format!("2026-11-02T09:{i:02}:00Z"),
                if i % 2 == 0 {
                    "org_admin_role_granted"
                } else {
                    "page_viewed"
                },
                "ana",
            )
        })
        .collect();
    lines.push("{\"not\": \"an event\"}".into());
    let p = dir.join("e.jsonl");
    std::fs::write(&p, lines.join("\n")).unwrap();
    p
}

#[test]
fn store_lock_log_and_exports_are_owner_only_under_umask_000() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = events_file(tmp.path());
    let out = vigil_umask_000(&data, &["ingest", input.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("ingested=60"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = vigil_umask_000(&data, &["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let export = tmp.path().join("alerts.csv");
    let out = vigil_umask_000(
        &data,
        &["export", "--format", "csv", "-o", export.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&export).unwrap().lines().count() > 1);

    let all = modes(&data);
    let names: Vec<String> = all
        .iter()
        .map(|(p, _, _)| p.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    for want in ["vigil.lock", "vigil.log", "db/conf", "db/db"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let loose: Vec<_> = all
        .iter()
        .filter(|(_, m, dir)| *m != if *dir { 0o700 } else { 0o600 })
        .map(|(p, m, _)| format!("{} {m:o}", p.display()))
        .collect();
    assert!(loose.is_empty(), "not owner-only: {loose:?}");
    assert_eq!(mode(&export), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn export_replaces_a_symlink_at_the_target_and_never_writes_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = events_file(tmp.path());
    assert!(
        vigil_umask_000(&data, &["ingest", input.to_str().unwrap()])
            .status
            .success()
    );
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = tmp.path().join("q.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();

    // Without --force a symlink there is an existing target like any other.
    let out = vigil_umask_000(
        &data,
        &["export", "--format", "csv", "-o", link.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("exists; use --force"),
        "{}",
        stderr(&out)
    );
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());

    // With --force the link itself is replaced by the export; what it pointed at is untouched.
    let out = vigil_umask_000(
        &data,
        &[
            "export",
            "--format",
            "csv",
            "-o",
            link.to_str().unwrap(),
            "--force",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(mode(&link), 0o600);
    assert!(
        std::fs::read_to_string(&link)
            .unwrap()
            .starts_with("id,created,")
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(mode(&victim), 0o644);
}
