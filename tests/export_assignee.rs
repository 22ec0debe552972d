//! `vigil export --filter`: the UI's query language on the command line, with `assignee:` (a name, `me`,
//! `none`) and clear refusals when a flag says the same thing again.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use common::{stderr, stdout};
use vigil::store::Store;

/// Who runs the tests, as the UI's "assign to me" names them, in capitals (matching ignores case).
fn me() -> String {
    vigil::tui::user::current_user().to_uppercase()
}

/// Five alerts: owned by "Ana", by "李小龍 🦊", by "bob", by nobody, and by whoever runs the tests.
fn seeded(dir: &std::path::Path) {
    let created: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let me = me();
    let alerts: Vec<_> = [
        Some("Ana"),
        Some("李小龍 🦊"),
        Some("bob"),
        None,
        Some(me.as_str()),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, who)| {
        let mut a = common::alert(i as u64 + 1, created + chrono::TimeDelta::minutes(i as i64));
        a.assignee = who.map(Into::into);
        a
    })
    .collect();
    let s = Store::open(dir).unwrap();
    s.save_alerts(&alerts).unwrap();
    s.flush().unwrap();
}

/// `vigil export --format json ARGS` as user `user` (or with no user in the environment).
fn export(dir: &std::path::Path, user: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(["export", "--format", "json"])
        .args(args)
        .env_remove("VIGIL_DATA_DIR")
        .env_remove("USER")
        .env_remove("LOGNAME");
    if let Some(u) = user {
        cmd.env("USER", u);
    }
    cmd.output().expect("run vigil")
}

/// The assignees of the exported alerts, oldest first.
fn owners(out: &Output) -> Vec<Option<String>> {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    stdout(out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["assignee"].as_str().map(Into::into)
        })
        .collect()
}

#[test]
fn filter_by_assignee_name_me_and_none() {
    let dir = tempfile::tempdir().unwrap();
    seeded(dir.path());
    let d = dir.path();
    let ana = || Some("Ana".to_string());
    assert_eq!(
        owners(&export(d, None, &["--filter", "assignee:ANA"])),
        [ana()]
    );
    assert_eq!(
        owners(&export(d, None, &["--filter", "assignee:none"])),
        [None]
    );
    assert_eq!(
        owners(&export(d, None, &["--filter", "assignee:\"李小龍 🦊\""])),
        [Some("李小龍 🦊".to_string())]
    );
    // `me` is the name the UI's "assign to me" writes (the passwd name, whatever $USER says), in any case.
    assert_eq!(
        owners(&export(d, Some("ana"), &["--filter", "assignee:me"])),
        [Some(me())]
    );
    assert_eq!(
        owners(&export(d, None, &["--filter", "assignee:me status:open"])),
        [Some(me())]
    );
    // Flags still combine with the query.
    assert_eq!(
        owners(&export(
            d,
            None,
            &["--filter", "assignee:bob", "--status", "open"]
        )),
        [Some("bob".to_string())]
    );
}

#[test]
fn bad_queries_and_clashing_flags_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    seeded(dir.path());
    let d = dir.path();
    let out = export(d, None, &["--filter", "owner:ana"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--filter: unknown filter key 'owner'"),
        "{}",
        stderr(&out)
    );
    let out = export(
        d,
        None,
        &["--filter", "status:open", "--status", "expected"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--status and --filter"),
        "{}",
        stderr(&out)
    );
}
