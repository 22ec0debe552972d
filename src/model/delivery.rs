//! Deliveries as the domain sees them (DESIGN §6): one alert (or batch of audit events) owed to one
//! integration, its attempts, and each integration's health. The store keeps them (the outbox); the
//! delivery worker moves them on; the UI and `vigil status` show them. No endpoint or secret is here.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// Why a delivery exists: the receiver is told which (`alert.created`, `alert.updated`), and a test is marked
/// as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryEvent {
    /// A new alert.
    Created,
    /// An alert's status changed (sent only to integrations with `on` holding `updated`).
    Updated,
    /// Sent by hand from the UI ("send to …", "create Jira issue"): the alert as it is now.
    Manual,
    /// A test alert (`vigil integrations test`, the pane's test key): marked as a test in every format.
    Test,
}

impl DeliveryEvent {
    /// The event type a receiver sees: `alert.created` or `alert.updated` (a manual send is a creation for a
    /// receiver that never saw the alert; a test is `alert.test`).
    pub fn type_name(self) -> &'static str {
        match self {
            Self::Created | Self::Manual => "alert.created",
            Self::Updated => "alert.updated",
            Self::Test => "alert.test",
        }
    }

    /// The name in the UI and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Manual => "manual",
            Self::Test => "test",
        }
    }
}

impl fmt::Display for DeliveryEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt (the first, or a retry).
    Pending,
    /// The receiver accepted it.
    Delivered,
    /// The receiver refused it for good (a 4xx other than 408/429), or the retry schedule ran out: kept as a
    /// dead letter until replayed.
    Dead,
}

impl DeliveryState {
    /// The name in the UI and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

/// One attempt at a delivery, as the pane and the alert detail show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// What went wrong, in a sentence (never a URL or a secret); empty on success.
    pub error: String,
}

/// Most attempts a delivery keeps (the latest), so a row stays small however long it retries.
pub const ATTEMPTS_KEPT: usize = 5;

/// One alert owed to one integration. The id is the delivery id receivers dedupe on (`webhook-id`): it stays
/// the same across retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: Ulid,
    /// The integration's name.
    pub integration: String,
    /// The alert it carries (`None` for an audit-forwarding batch, which carries `events`).
    pub alert: Option<Ulid>,
    /// Audit event ids of a forwarding batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    pub event: DeliveryEvent,
    pub state: DeliveryState,
    pub created: DateTime<Utc>,
    /// When it is next tried (pending), or was settled (delivered, dead).
    pub due: DateTime<Utc>,
    /// Attempts made so far (all of them; only the last [`ATTEMPTS_KEPT`] are kept in `attempts`).
    pub tries: u32,
    pub attempts: Vec<Attempt>,
    /// What the receiver made of it, when it says (the Jira issue key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<String>,
}

impl Delivery {
    /// A new pending delivery, due at once.
    pub fn new(
        integration: &str,
        alert: Option<Ulid>,
        event: DeliveryEvent,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Ulid::from_datetime(now.into()),
            integration: integration.to_string(),
            alert,
            events: Vec::new(),
            event,
            state: DeliveryState::Pending,
            created: now,
            due: now,
            tries: 0,
            attempts: Vec::new(),
            external: None,
        }
    }

    /// Record an attempt, keeping the latest [`ATTEMPTS_KEPT`].
    pub fn record(&mut self, attempt: Attempt) {
        self.tries = self.tries.saturating_add(1);
        self.attempts.push(attempt);
        if self.attempts.len() > ATTEMPTS_KEPT {
            let cut = self.attempts.len() - ATTEMPTS_KEPT;
            self.attempts.drain(..cut);
        }
    }

    /// The latest attempt, if any.
    pub fn last_attempt(&self) -> Option<&Attempt> {
        self.attempts.last()
    }
}

/// One integration's health as the delivery worker last saw it, kept in the store so that it survives a
/// restart and every attached UI shows the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationHealth {
    /// Since when every attempt has failed (`None` while it works).
    pub failing_since: Option<DateTime<Utc>>,
    /// Disabled by the receiver (`410 Gone`) or by an operator, and why; nothing is sent until re-enabled.
    pub disabled: Option<String>,
    /// The latest attempts to this integration, any alert (newest last).
    pub recent: Vec<Attempt>,
    /// Deliveries accepted, ever.
    pub delivered: u64,
}

/// Most recent attempts kept per integration for the pane.
pub const RECENT_KEPT: usize = 10;

impl IntegrationHealth {
    /// Record an attempt's outcome: a success clears `failing_since`, a failure sets it if unset.
    pub fn record(&mut self, attempt: Attempt, ok: bool) {
        if ok {
            self.failing_since = None;
            self.delivered = self.delivered.saturating_add(1);
        } else if self.failing_since.is_none() {
            self.failing_since = Some(attempt.at);
        }
        self.recent.push(attempt);
        if self.recent.len() > RECENT_KEPT {
            let cut = self.recent.len() - RECENT_KEPT;
            self.recent.drain(..cut);
        }
    }

    /// `ok`, `failing since T` or `disabled: why`, for the pane and `integrations list`.
    pub fn summary(&self) -> String {
        match (&self.disabled, self.failing_since) {
            (Some(why), _) => format!("disabled: {why}"),
            (None, Some(t)) => format!("failing since {}", t.format("%Y-%m-%d %H:%M:%SZ")),
            (None, None) => "ok".to_string(),
        }
    }
}

/// Outbox figures for one integration (or all of them): what `vigil status` and the pane show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxCounts {
    /// Deliveries waiting (first attempt or a retry).
    pub pending: u64,
    /// Dead letters waiting to be replayed.
    pub dead: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(s: i64, status: Option<u16>) -> Attempt {
        Attempt {
            at: DateTime::from_timestamp(s, 0).unwrap_or_default(),
            status,
            latency_ms: 3,
            error: String::new(),
        }
    }

    #[test]
    fn a_delivery_keeps_its_latest_attempts_and_counts_them_all() {
        let mut d = Delivery::new("x", None, DeliveryEvent::Created, DateTime::UNIX_EPOCH);
        for i in 0..8 {
            d.record(attempt(i, Some(500)));
        }
        assert_eq!(d.tries, 8);
        assert_eq!(d.attempts.len(), ATTEMPTS_KEPT);
        assert_eq!(d.last_attempt().map(|a| a.at.timestamp()), Some(7));
    }

    #[test]
    fn health_tracks_failing_since_until_a_success() {
        let mut h = IntegrationHealth::default();
        assert_eq!(h.summary(), "ok");
        h.record(attempt(100, Some(500)), false);
        h.record(attempt(200, None), false);
        assert!(
            h.summary()
                .starts_with("failing since 1970-01-01 00:01:40Z")
        );
        h.record(attempt(300, Some(200)), true);
        assert_eq!(h.summary(), "ok");
        assert_eq!(h.delivered, 1);
        h.disabled = Some("the receiver answered 410 Gone".into());
        assert_eq!(h.summary(), "disabled: the receiver answered 410 Gone");
    }

    #[test]
    fn event_types_are_what_receivers_expect() {
        assert_eq!(DeliveryEvent::Created.type_name(), "alert.created");
        assert_eq!(DeliveryEvent::Updated.type_name(), "alert.updated");
        assert_eq!(DeliveryEvent::Test.type_name(), "alert.test");
    }
}
