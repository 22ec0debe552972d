//! Alerts and audit events for the format tests: a realistic content alert, and builders for many.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use ulid::Ulid;

use crate::model::{
    Actor, Alert, AlertActor, AlertStatus, AuditEvent, Content, ContentMatch, DetectionId, Severity,
};

pub(super) fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-02T09:35:15.890Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A content alert as the detector raises it: the secret itself appears nowhere, only its redacted form.
pub(super) fn alert() -> Alert {
    let created = t0();
    Alert {
        id: Ulid::from_parts(created.timestamp_millis() as u64, 42),
        detection: DetectionId::from("content-secret"),
        title: "Possible AWS key in page".into(),
        severity: Severity::High,
        status: AlertStatus::Open,
        assignee: None,
        created,
        time_start: created,
        time_end: Some(
            DateTime::parse_from_rfc3339("2026-11-02T09:41:02Z")
                .unwrap()
                .into(),
        ),
        product: None,
        site: None,
        actor: AlertActor {
            id: "5b10ac8d82e05b22cc7d4ef5".into(),
            name: Some("Ana Admin".into()),
            email: Some("ana@example.com".into()),
            ip: Some("203.0.113.7".into()),
            country: Some("Australia".into()),
        },
        subject: Some("Deploy notes".into()),
        count: 3,
        description: "A secret was written into a page.\nAnyone who can read the page can use it."
            .into(),
        investigation_steps: vec!["Open the page and check who can see it.".into()],
        remediation: vec![
            "Rotate the key.".into(),
            "Remove it from the page history.".into(),
        ],
        evidence: vec!["e1".into(), "e2".into(), "e3".into()],
        matches: vec![ContentMatch {
            kind: "aws-access-key-id".into(),
            redacted: "AKIA…[aws-access-key-id, 20 chars]".into(),
            fingerprint: "fp:7d0b9c41a2e3f5d8".into(),
            field: "body".into(),
        }],
        notes: Vec::new(),
        history: Vec::new(),
        version: 1,
        external: BTreeMap::new(),
        window_secs: None,
        threshold: None,
        group_key: "content-secret|5b10ac8d82e05b22cc7d4ef5".into(),
    }
}

/// The `i`th of several alerts (distinct ids).
pub(super) fn alert_n(i: usize) -> Alert {
    let mut a = alert();
    a.id = Ulid::from_parts(t0().timestamp_millis() as u64 + i as u64, i as u128);
    a
}

/// `n` distinct redacted matches.
pub(super) fn matches(n: usize) -> Vec<ContentMatch> {
    (0..n)
        .map(|i| ContentMatch {
            kind: "github-token".into(),
            redacted: format!("ghp_…[github-token, 40 chars] #{i}"),
            fingerprint: format!("fp:{i:016x}"),
            field: if i % 2 == 0 { "body" } else { "title" }.into(),
        })
        .collect()
}

/// `n` audit events, one second apart.
pub(super) fn events(n: usize) -> Vec<AuditEvent> {
    (0..n)
        .map(|i| AuditEvent {
            id: format!("ev-{i}"),
            time: t0() + Duration::seconds(i as i64),
            action: "page_updated".into(),
            actor: Actor {
                id: "5b10ac8d82e05b22cc7d4ef5".into(),
                name: Some("Ana Admin".into()),
                ..Actor::default()
            },
            context: Vec::new(),
            container: Vec::new(),
            location: None,
            content: Some(Content {
                title: Some("Deploy notes".into()),
                body: Some("key: AKIA…[aws-access-key-id, 20 chars]".into()),
                ..Content::default()
            }),
            message: None,
            extra: Default::default(),
            secrets: Vec::new(),
        })
        .collect()
}
