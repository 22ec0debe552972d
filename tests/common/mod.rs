//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod tmux;

use std::path::Path;
use std::process::{Command, Output};

/// One valid event line in the §3 shape.
pub fn event(id: &str, time: &str, action: &str, actor: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"events","attributes":{{"time":"{time}","action":"{action}","actor":{{"id":"{actor}","name":"User {actor}","email":"{actor}@example.com"}},"location":{{"ip":"203.0.113.7","geo":"-33.87,151.21","countryName":"Australia"}}}},"message":{{"content":"did {action}","format":"simple"}}}}"#
    )
}

/// Run the vigil binary with a data dir and arguments.
pub fn vigil(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("VIGIL_DATA_DIR")
        .output()
        .expect("run vigil")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last line of stdout.
pub fn last_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_string()
}

/// A plain open alert created `minutes` after 2026-11-02T09:00:00Z, with a ULID carrying that time and
/// `seq` as its random part; tests change the fields they care about.
pub fn alert(seq: u64, created: chrono::DateTime<chrono::Utc>) -> vigil::model::Alert {
    use vigil::model::{Alert, AlertActor, AlertStatus, DetectionId, Severity};
    Alert {
        id: ulid::Ulid::from_parts(created.timestamp_millis() as u64, u128::from(seq)),
        detection: DetectionId("page-crawling".into()),
        title: format!("alert {seq}"),
        severity: Severity::Medium,
        status: AlertStatus::Open,
        assignee: None,
        created,
        time_start: created,
        time_end: None,
        product: None,
        site: None,
        actor: AlertActor {
            id: format!("a{seq}"),
            ..Default::default()
        },
        subject: None,
        count: 1,
        description: String::new(),
        investigation_steps: vec![],
        remediation: vec![],
        evidence: vec![],
        matches: vec![],
        notes: vec![],
        history: vec![],
        version: 1,
        external: Default::default(),
        window_secs: None,
        threshold: None,
        group_key: format!("g{seq}"),
    }
}

/// A bare `page_viewed` event of `actor` at `time`; tests change the fields they care about.
pub fn audit_event(
    id: &str,
    time: chrono::DateTime<chrono::Utc>,
    actor: &str,
) -> vigil::model::AuditEvent {
    vigil::model::AuditEvent {
        id: id.to_string(),
        time,
        action: "page_viewed".to_string(),
        actor: vigil::model::Actor {
            id: actor.to_string(),
            ..Default::default()
        },
        context: vec![],
        container: vec![],
        location: None,
        content: None,
        message: None,
        extra: Default::default(),
        secrets: Vec::new(),
    }
}
