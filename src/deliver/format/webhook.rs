//! The generic webhook: the alert as JSON, signed per Standard Webhooks so that any receiver with the secret
//! can check it came from vigil, unaltered, and dedupe retries on `webhook-id`.

use chrono::{DateTime, SecondsFormat};
use serde_json::{Value, json};

use super::signing::sign;
use super::{Destination, FormatError, HttpRequest, alert_json};
use crate::model::{Alert, DeliveryEvent};

/// `POST dest.url` with `{"type": "alert.created", "timestamp": RFC 3339, "data": <alert>}` and the
/// `webhook-id` (the delivery id, stable across retries), `webhook-timestamp` and `webhook-signature`
/// headers. The alert is carried as stored (its matches are redacted forms and fingerprints only), so the
/// receiver sees exactly what vigil's JSON export gives. Needs `dest.secret` (see [`super::sign`] for how it
/// is read).
pub fn webhook(
    alert: &Alert,
    event: DeliveryEvent,
    dest: &Destination,
    delivery_id: &str,
    timestamp: i64,
) -> Result<HttpRequest, FormatError> {
    let body = json!({
        "type": event.type_name(),
        "timestamp": rfc3339(timestamp),
        "data": alert_json(alert)?,
    });
    signed(dest, body, delivery_id, timestamp)
}

/// `body` posted to `dest.url` with the Standard Webhooks headers (also audit forwarding's).
pub(super) fn signed(
    dest: &Destination,
    body: Value,
    delivery_id: &str,
    timestamp: i64,
) -> Result<HttpRequest, FormatError> {
    let secret = dest.need(&dest.secret, "secret")?;
    let body = body.to_string().into_bytes();
    let signature =
        sign(secret, delivery_id, timestamp, &body).ok_or_else(|| FormatError::BadSecret {
            integration: dest.name.clone(),
        })?;
    Ok(HttpRequest::post_json(dest.url.clone(), body)
        .header("webhook-id", delivery_id.to_string())
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature))
}

/// Unix seconds as RFC 3339 UTC (`2026-11-02T09:35:15Z`); a time beyond chrono's range (never a real
/// clock's) as the epoch, so the payload stays well-formed.
pub(super) fn rfc3339(timestamp: i64) -> String {
    DateTime::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::format::{fixtures, verify_signature};
    use crate::model::IntegrationKind;

    fn dest() -> Destination {
        let mut d = Destination::new(
            "siem",
            IntegrationKind::Webhook,
            "https://siem.example.com/hooks/vigil",
        );
        d.secret = Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        d
    }

    #[test]
    fn the_body_carries_the_alert_and_the_headers_sign_it() {
        let alert = fixtures::alert();
        let r = webhook(
            &alert,
            DeliveryEvent::Created,
            &dest(),
            "01JDELIVERY",
            1_793_612_115,
        )
        .unwrap();
        assert_eq!(r.method, super::super::Method::Post);
        assert_eq!(r.url, "https://siem.example.com/hooks/vigil");
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        assert_eq!(r.header_value("webhook-id"), Some("01JDELIVERY"));
        assert_eq!(r.header_value("webhook-timestamp"), Some("1793612115"));
        let sig = r.header_value("webhook-signature").unwrap();
        assert!(verify_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "01JDELIVERY",
            1_793_612_115,
            &r.body,
            sig
        ));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["type"], "alert.created");
        assert_eq!(v["timestamp"], "2026-11-02T09:35:15Z");
        let back: Alert = serde_json::from_value(v["data"].clone()).unwrap();
        assert_eq!(back, alert);
    }

    #[test]
    fn updates_and_tests_say_so_and_the_same_delivery_signs_the_same() {
        let alert = fixtures::alert();
        let u = webhook(&alert, DeliveryEvent::Updated, &dest(), "d1", 5).unwrap();
        let v: Value = serde_json::from_slice(&u.body).unwrap();
        assert_eq!(v["type"], "alert.updated");
        let t = webhook(&alert, DeliveryEvent::Test, &dest(), "d1", 5).unwrap();
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(v["type"], "alert.test");
        assert_eq!(
            u,
            webhook(&alert, DeliveryEvent::Updated, &dest(), "d1", 5).unwrap()
        );
    }

    #[test]
    fn no_secret_or_a_broken_one_is_an_error_not_an_unsigned_send() {
        let alert = fixtures::alert();
        let mut d = dest();
        d.secret = None;
        let e = webhook(&alert, DeliveryEvent::Created, &d, "d", 0).unwrap_err();
        assert!(matches!(
            e,
            FormatError::Missing {
                field: "secret",
                ..
            }
        ));
        assert_eq!(e.to_string(), "integration 'siem' (webhook) has no secret");
        d.secret = Some("whsec_***not-base64***".into());
        let e = webhook(&alert, DeliveryEvent::Created, &d, "d", 0).unwrap_err();
        assert!(matches!(e, FormatError::BadSecret { .. }));
        assert!(!e.to_string().contains("not-base64"));
    }

    #[test]
    fn out_of_range_timestamps_stay_well_formed() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MAX), "1970-01-01T00:00:00Z");
    }
}
