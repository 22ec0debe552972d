//! `vigil export`: the contract's columns, RFC 4180 quoting, formula neutralising, filters and `-o` safety.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use chrono::{DateTime, Utc};
use common::{stderr, stdout, vigil};
use vigil::model::{Alert, AlertActor, AlertStatus, DetectionId, Severity};
use vigil::store::Store;

fn hostile_alert(i: u64, status: AlertStatus) -> Alert {
    let created: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + chrono::TimeDelta::minutes(i as i64);
    let mut a = common::alert(i, created);
    a.detection = DetectionId("sensitive-content".into());
    a.title = "Sensitive content".into();
    a.severity = Severity::High;
    a.status = status;
    a.assignee = Some("-ana".into());
    a.product = Some("confluence".into());
    a.site = Some("acme".into());
    a.actor = AlertActor {
        id: format!("a{i}"),
        name: Some("=HYPERLINK(\"http://evil\",\"x\")".into()),
        email: Some("@evil.example".into()),
        ip: Some("+1".into()),
        country: Some("Australia".into()),
    };
    a.subject = Some("Deploy, \"notes\"\nline two".into());
    a.count = 3;
    a.description = "d".into();
    a
}

fn seeded(dir: &std::path::Path) {
    let s = Store::open(dir).unwrap();
    s.save_alerts(&[
        hostile_alert(1, AlertStatus::Open),
        hostile_alert(2, AlertStatus::Expected),
    ])
    .unwrap();
    s.flush().unwrap();
}

#[test]
fn csv_has_contract_columns_quoting_and_no_formulas() {
    let dir = tempfile::tempdir().unwrap();
    seeded(dir.path());
    let out = vigil(dir.path(), &["export", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers.join(","), vigil::export::CSV_COLUMNS.join(","));
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(&r[8], "'-ana");
    assert_eq!(&r[12], "'=HYPERLINK(\"http://evil\",\"x\")");
    assert_eq!(&r[13], "'@evil.example");
    assert_eq!(&r[14], "'+1");
    assert_eq!(
        &r[16], "Deploy, \"notes\"\u{fffd}line two",
        "RFC 4180 quoting keeps commas and quotes; a newline is a control like any other and is replaced"
    );
    assert_eq!(&r[1], "2026-11-02T09:01:00.000Z");
    assert!(text.contains("\"Deploy, \"\"notes\"\"\u{fffd}line two\""));
}

/// A title written by an attacker: terminal escapes (`cat` of the export retitled the terminal), a NUL, a
/// right-to-left override, and formulas hidden behind a space, an NBSP, a zero-width space or in fullwidth.
#[test]
fn hostile_text_reaches_the_csv_inert() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut a = hostile_alert(1, AlertStatus::Open);
    a.title = "\x1b]0;pwned\x07Deploy\0 notes\u{202e}txt.exe".into();
    a.assignee = Some(" =1+1".into());
    a.product = Some("\u{a0}=HYPERLINK(\"http://evil\")".into());
    a.site = Some("\u{200b}@SUM(A1)".into());
    a.subject = Some("\u{ff1d}HYPERLINK(\"http://evil\")".into());
    s.save_alerts(&[a]).unwrap();
    s.flush().unwrap();
    drop(s);
    let target = dir.path().join("q.csv");
    let out = vigil(
        dir.path(),
        &["export", "--format", "csv", "-o", target.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&target).unwrap();
    let body = text.replace("\r\n", "");
    for c in body.chars() {
        assert!(
            !(c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')),
            "{c:?} reached the export: {text:?}"
        );
    }
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let r = rdr.records().next().unwrap().unwrap();
    assert_eq!(
        &r[5],
        "\u{fffd}]0;pwned\u{fffd}Deploy\u{fffd} notes⟨RLO⟩txt.exe"
    );
    assert_eq!(&r[8], "' =1+1");
    assert_eq!(&r[9], "'\u{a0}=HYPERLINK(\"http://evil\")");
    assert_eq!(&r[10], "'\u{fffd}@SUM(A1)");
    assert_eq!(&r[16], "'\u{ff1d}HYPERLINK(\"http://evil\")");
}

#[test]
fn filters_and_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    seeded(dir.path());
    let out = vigil(
        dir.path(),
        &["export", "--format", "json", "--status", "expected"],
    );
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["status"], "expected");
    assert_eq!(
        lines[0]["actor"]["name"], "=HYPERLINK(\"http://evil\",\"x\")",
        "JSON keeps values exact"
    );
    let out = vigil(
        dir.path(),
        &[
            "export",
            "--format",
            "json",
            "--since",
            "2026-11-02T09:01:30Z",
        ],
    );
    assert_eq!(stdout(&out).lines().count(), 1);
    let out = vigil(
        dir.path(),
        &["export", "--format", "json", "--status", "nonsense"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("'nonsense' is not a status"));
}

#[test]
fn output_file_is_not_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    seeded(dir.path());
    let target = dir.path().join("q.csv");
    std::fs::write(&target, "keep me").unwrap();
    let out = vigil(
        dir.path(),
        &["export", "--format", "csv", "-o", target.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("exists; use --force"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    let out = vigil(
        dir.path(),
        &[
            "export",
            "--format",
            "csv",
            "-o",
            target.to_str().unwrap(),
            "--force",
        ],
    );
    assert!(out.status.success());
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .starts_with("id,created,")
    );
}

/// The four columns after the contract's: notes (hostile ones: newlines, a formula, CJK, 10k characters),
/// redacted matches, the evidence count and a link — and no formula or control gets through any of them.
#[test]
fn csv_appends_notes_matches_evidence_and_link_after_the_contract_columns() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut a = hostile_alert(1, AlertStatus::Open);
    let at = |m: i64| {
        DateTime::parse_from_rfc3339("2026-11-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::TimeDelta::minutes(m)
    };
    a.notes = vec![
        vigil::model::Note {
            author: "ana".into(),
            time: at(0),
            text: "=cmd|' /C calc'!A0".into(),
        },
        vigil::model::Note {
            author: "李小龍".into(),
            time: at(1),
            text: "line one\r\nline two\n\n東京 \x1b]0;pwned\x07".into(),
        },
    ];
    a.matches = vec![vigil::model::ContentMatch {
        kind: "aws-access-key-id".into(),
        redacted: "AKIA…[aws-access-key-id, 20 chars]".into(),
        fingerprint: "3f9a0c1d2e".into(),
        field: "body".into(),
    }];
    a.evidence = vec!["ev-1".into(), "ev-2".into(), "ev-3".into()];
    a.subject = Some("https://acme.atlassian.net/wiki/spaces/OPS/pages/98231".into());
    let mut b = hostile_alert(2, AlertStatus::Open);
    b.notes = vec![vigil::model::Note {
        author: "bob".into(),
        time: at(2),
        text: "x".repeat(10_000),
    }];
    b.site = Some("acme".into());
    b.subject = Some("=HYPERLINK(\"http://evil\")".into());
    let mut c = hostile_alert(3, AlertStatus::Open);
    c.site = Some("-acme.example.com".into());
    c.subject = None;
    s.save_alerts(&[a, b, c]).unwrap();
    s.flush().unwrap();
    drop(s);

    let out = vigil(dir.path(), &["export", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let contract = "id,created,time_start,time_end,detection,title,severity,status,assignee,product,site,actor_id,actor_name,actor_email,actor_ip,actor_country,subject,count,summary";
    assert_eq!(
        headers.join(","),
        format!("{contract},notes,matches,evidence_count,link"),
        "DESIGN §4's columns first, in order; the new ones after"
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let by_id = |n: u64| {
        rows.iter()
            .find(|r| r[col("actor_id")] == *format!("a{n}"))
            .unwrap()
    };
    let a = by_id(1);
    assert_eq!(
        &a[col("notes")],
        "2026-11-02T10:00:00Z ana: =cmd|' /C calc'!A0 | 2026-11-02T10:01:00Z 李小龍: line one line two 東京 \u{fffd}]0;pwned\u{fffd}",
        "oldest first, newlines flattened, controls replaced; the formula is not at the cell's start"
    );
    assert_eq!(
        &a[col("matches")],
        "AKIA…[aws-access-key-id, 20 chars] (aws-access-key-id)"
    );
    assert!(!text.contains("3f9a0c1d2e"), "no fingerprint");
    assert_eq!(&a[col("evidence_count")], "3");
    assert_eq!(
        &a[col("link")],
        "https://acme.atlassian.net/wiki/spaces/OPS/pages/98231",
        "a URL subject is the link"
    );
    let b = by_id(2);
    let notes = &b[col("notes")];
    assert!(
        notes.starts_with("2026-11-02T10:02:00Z bob: xxx"),
        "{}",
        &notes[..40]
    );
    assert_eq!(
        notes.chars().filter(|c| *c == 'x').count(),
        10_000,
        "10k characters kept whole"
    );
    assert_eq!(&b[col("matches")], "");
    assert_eq!(
        &b[col("link")],
        "https://acme.atlassian.net",
        "no URL subject: the site's"
    );
    let c = by_id(3);
    assert_eq!(
        &c[col("link")],
        "https://-acme.example.com",
        "a host name becomes https://HOST"
    );
    // A note starting with a formula, alone in its cell, is neutralised like every other cell.
    let dir2 = tempfile::tempdir().unwrap();
    let s = Store::open(dir2.path()).unwrap();
    let mut d = hostile_alert(4, AlertStatus::Open);
    d.matches = vec![vigil::model::ContentMatch {
        kind: "custom:x".into(),
        redacted: "=1+1…[custom:x, 9 chars]".into(),
        fingerprint: "f".into(),
        field: "body".into(),
    }];
    d.site = Some("@evil".into());
    d.subject = None;
    s.save_alerts(&[d]).unwrap();
    s.flush().unwrap();
    drop(s);
    let out = vigil(dir2.path(), &["export", "--format", "csv"]);
    let text = stdout(&out);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let r = rdr.records().next().unwrap().unwrap();
    assert_eq!(&r[col("matches")], "'=1+1…[custom:x, 9 chars] (custom:x)");
    assert_eq!(
        &r[col("link")],
        "",
        "a site that is not a host gives no link"
    );
    // JSON is unchanged: the alert as stored, no added fields.
    let out = vigil(dir2.path(), &["export", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    for added in ["link", "evidence_count"] {
        assert!(v.get(added).is_none(), "{added} in JSON");
    }
    assert!(v.get("matches").unwrap().is_array());
}

#[test]
fn an_unknown_detection_is_refused_with_the_closest_id() {
    let dir = tempfile::tempdir().unwrap();
    seeded(dir.path());
    let out = vigil(
        dir.path(),
        &[
            "export",
            "--format",
            "csv",
            "--detection",
            "sensitive-contnet",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("did you mean det:sensitive-content?"), "{err}");
    let out = vigil(
        dir.path(),
        &[
            "export",
            "--format",
            "csv",
            "--detection",
            "sensitive-content",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 3);
}
