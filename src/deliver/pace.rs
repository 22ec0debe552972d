//! Per-destination pacing: Slack takes about one message a second per webhook, Teams at most four requests a
//! second; going faster gets 429s and, on Slack, dropped messages. Every other receiver is bounded by the
//! worker's concurrency only.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::model::IntegrationKind;

/// The least time between two requests to one destination of `kind`, if it is paced.
pub fn interval(kind: IntegrationKind) -> Option<Duration> {
    match kind {
        IntegrationKind::Slack => Some(Duration::from_secs(1)),
        IntegrationKind::Teams => Some(Duration::from_millis(250)),
        _ => None,
    }
}

/// When each paced destination may next be sent to.
#[derive(Debug, Default)]
pub struct Pacer {
    next: HashMap<String, Instant>,
}

impl Pacer {
    /// Take the next slot of `name` if it is free at `now` (always, when `every` is `None`); `false` means
    /// wait until [`Pacer::free_at`].
    pub fn try_take(&mut self, name: &str, every: Option<Duration>, now: Instant) -> bool {
        let Some(every) = every else {
            return true;
        };
        match self.next.get(name) {
            Some(at) if *at > now => false,
            _ => {
                self.next.insert(name.to_string(), now + every);
                true
            }
        }
    }

    /// When `name` may next be sent to (now, when it is not waiting).
    pub fn free_at(&self, name: &str, now: Instant) -> Instant {
        self.next.get(name).copied().unwrap_or(now).max(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paced_destination_gets_one_slot_per_interval() {
        let mut p = Pacer::default();
        let t = Instant::now();
        let every = interval(IntegrationKind::Slack);
        assert!(p.try_take("s", every, t));
        assert!(!p.try_take("s", every, t + Duration::from_millis(500)));
        assert_eq!(p.free_at("s", t), t + Duration::from_secs(1));
        assert!(p.try_take("s", every, t + Duration::from_secs(1)));
        // Another destination, and an unpaced one, are not held up.
        assert!(p.try_take("t", interval(IntegrationKind::Teams), t));
        for _ in 0..100 {
            assert!(p.try_take("w", interval(IntegrationKind::Webhook), t));
        }
    }
}
