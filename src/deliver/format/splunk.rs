//! Splunk HTTP Event Collector (alerts), and audit-event forwarding to a SIEM (HEC batches when a token is
//! set, else a signed webhook).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::webhook::{rfc3339, signed};
use super::{Destination, FormatError, HttpRequest, alert_json, with_default_path};
use crate::model::{Alert, AuditEvent, DeliveryEvent};

/// HEC's event endpoint, put on a collector URL given without a path.
const HEC_PATH: &str = "/services/collector/event";

/// Event time as HEC reads it: Unix seconds with the milliseconds as a fraction.
fn hec_time(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn hec_request(dest: &Destination, token: &str, body: Vec<u8>) -> HttpRequest {
    HttpRequest::post_json(with_default_path(&dest.url, HEC_PATH), body)
        .header("authorization", format!("Splunk {token}"))
}

/// `POST` to the collector (`/services/collector/event` added when `dest.url` has no path) with
/// `Authorization: Splunk <token>` and one HEC event: `time` is the alert's creation (event time, so a
/// search by time finds it beside the activity that raised it), `sourcetype` `vigil:alert`, and the event
/// `{"type": "alert.created", "alert": <alert as stored>}`. Needs `dest.token`.
pub fn splunk_hec(
    alert: &Alert,
    event: DeliveryEvent,
    dest: &Destination,
) -> Result<HttpRequest, FormatError> {
    let token = dest.need(&dest.token, "token")?;
    let body = json!({
        "time": hec_time(alert.created),
        "host": "vigil",
        "source": "vigil",
        "sourcetype": "vigil:alert",
        "event": { "type": event.type_name(), "alert": alert_json(alert)? },
    });
    Ok(hec_request(dest, token, body.to_string().into_bytes()))
}

/// Audit events (already redacted by ingest) forwarded as they are. With `dest.token`: HEC's batch form,
/// one `{"time", "host", "source", "sourcetype": "vigil:audit", "event"}` object per event, newline-joined, to
/// the collector. Without: a Standard Webhooks signed `{"type": "audit.events", "timestamp", "data": [..]}`,
/// which then needs `dest.secret` (never sent unsigned).
pub fn audit_forward(
    events: &[AuditEvent],
    dest: &Destination,
    delivery_id: &str,
    timestamp: i64,
) -> Result<HttpRequest, FormatError> {
    let values = events
        .iter()
        .map(|e| serde_json::to_value(e).map_err(|err| FormatError::Json(err.to_string())))
        .collect::<Result<Vec<Value>, _>>()?;
    if let Some(token) = dest.token.as_deref().filter(|t| !t.is_empty()) {
        let mut body = String::new();
        for (e, v) in events.iter().zip(values) {
            if !body.is_empty() {
                body.push('\n');
            }
            let one = json!({
                "time": hec_time(e.time),
                "host": "vigil",
                "source": "vigil",
                "sourcetype": "vigil:audit",
                "event": v,
            });
            body.push_str(&one.to_string());
        }
        return Ok(hec_request(dest, token, body.into_bytes()));
    }
    let body = json!({
        "type": "audit.events",
        "timestamp": rfc3339(timestamp),
        "data": values,
    });
    signed(dest, body, delivery_id, timestamp).map_err(|e| match e {
        FormatError::Missing {
            integration, kind, ..
        } => FormatError::Missing {
            integration,
            kind,
            field: "token or secret",
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::format::{fixtures, verify_signature};
    use crate::model::IntegrationKind;

    fn hec(url: &str) -> Destination {
        let mut d = Destination::new("splunk", IntegrationKind::SplunkHec, url);
        d.token = Some("11111111-2222-3333-4444-555555555555".into());
        d
    }

    #[test]
    fn an_alert_is_one_hec_event_with_the_splunk_token() {
        let alert = fixtures::alert();
        let r = splunk_hec(
            &alert,
            DeliveryEvent::Created,
            &hec("https://splunk.example.com:8088"),
        )
        .unwrap();
        assert_eq!(
            r.url,
            "https://splunk.example.com:8088/services/collector/event"
        );
        assert_eq!(
            r.header_value("authorization"),
            Some("Splunk 11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["time"].as_f64(), Some(1_793_612_115.89));
        assert_eq!(v["host"], "vigil");
        assert_eq!(v["source"], "vigil");
        assert_eq!(v["sourcetype"], "vigil:alert");
        assert_eq!(v["event"]["type"], "alert.created");
        let back: Alert = serde_json::from_value(v["event"]["alert"].clone()).unwrap();
        assert_eq!(back, alert);
        // A URL with its own path is kept.
        let r = splunk_hec(
            &alert,
            DeliveryEvent::Test,
            &hec("https://proxy.example.com/hec/event"),
        )
        .unwrap();
        assert_eq!(r.url, "https://proxy.example.com/hec/event");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["event"]["type"], "alert.test");
    }

    #[test]
    fn hec_needs_a_token() {
        let mut d = hec("https://splunk:8088");
        d.token = Some(String::new());
        let e = splunk_hec(&fixtures::alert(), DeliveryEvent::Created, &d).unwrap_err();
        assert!(matches!(e, FormatError::Missing { field: "token", .. }));
    }

    #[test]
    fn audit_events_go_as_a_hec_batch_with_a_token() {
        let events = fixtures::events(3);
        let mut d = hec("https://splunk:8088/");
        d.kind = IntegrationKind::AuditForward;
        let r = audit_forward(&events, &d, "dlv", 100).unwrap();
        assert_eq!(r.url, "https://splunk:8088/services/collector/event");
        assert!(
            r.header_value("authorization")
                .is_some_and(|a| a.starts_with("Splunk "))
        );
        assert_eq!(r.header_value("webhook-signature"), None);
        let text = String::from_utf8(r.body).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        for (l, e) in lines.iter().zip(&events) {
            assert_eq!(l["sourcetype"], "vigil:audit");
            assert_eq!(
                l["time"].as_f64(),
                Some(e.time.timestamp_millis() as f64 / 1000.0)
            );
            let back: AuditEvent = serde_json::from_value(l["event"].clone()).unwrap();
            assert_eq!(&back, e);
        }
    }

    #[test]
    fn audit_events_go_signed_without_a_token_and_never_unsigned() {
        let events = fixtures::events(2);
        let mut d = Destination::new(
            "fwd",
            IntegrationKind::AuditForward,
            "https://siem.example.com/in",
        );
        let e = audit_forward(&events, &d, "dlv", 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "integration 'fwd' (audit_forward) has no token or secret"
        );
        d.secret = Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let r = audit_forward(&events, &d, "dlv", 1_614_265_330).unwrap();
        assert_eq!(r.url, "https://siem.example.com/in");
        assert_eq!(r.header_value("authorization"), None);
        let sig = r.header_value("webhook-signature").unwrap();
        assert!(verify_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "dlv",
            1_614_265_330,
            &r.body,
            sig
        ));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["type"], "audit.events");
        assert_eq!(v["timestamp"], "2021-02-25T15:02:10Z");
        assert_eq!(v["data"].as_array().map(Vec::len), Some(2));
    }
}
