//! Plausible event time (DESIGN §3): an event dated far in the future or before 2000 is almost always a
//! bug or an attack, and letting it through would move the detector's notion of "now". Such events are
//! refused with a reason, like any other bad record. The check is pure: the caller passes the wall clock.

use chrono::{DateTime, SecondsFormat, TimeDelta, TimeZone, Utc};

/// The accepted span of event times, relative to the host's clock. `[engine] max_future_hours` and
/// `[engine] earliest_event_time` set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimits {
    /// How far ahead of the wall clock an event may be (clock skew between the source and this host).
    pub max_ahead: TimeDelta,
    /// The earliest event time accepted.
    pub earliest: DateTime<Utc>,
}

impl Default for TimeLimits {
    fn default() -> Self {
        Self {
            max_ahead: TimeDelta::hours(24),
            earliest: Utc
                .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or(DateTime::UNIX_EPOCH),
        }
    }
}

impl TimeLimits {
    /// The latest event time accepted at `now`.
    pub fn latest(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_add_signed(self.max_ahead)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// `Err` with the reason (naming the field, the value and the setting) when `time` is implausible at `now`.
    pub fn check(&self, time: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
        let shown = time.to_rfc3339_opts(SecondsFormat::Millis, true);
        if time > self.latest(now) {
            return Err(format!(
                "attributes.time: '{shown}' is more than {} h ahead of this host's clock ({}); \
                 [engine] max_future_hours sets the limit",
                self.max_ahead.num_hours(),
                now.to_rfc3339_opts(SecondsFormat::Secs, true)
            ));
        }
        if time < self.earliest {
            return Err(format!(
                "attributes.time: '{shown}' is before {}; [engine] earliest_event_time sets the limit",
                self.earliest.format("%Y-%m-%d")
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_future_and_pre_2000_are_refused_with_reasons() {
        let l = TimeLimits::default();
        let now = Utc
            .with_ymd_and_hms(2026, 12, 2, 0, 0, 0)
            .single()
            .unwrap_or_default();
        assert!(l.check(now, now).is_ok());
        assert!(l.check(now + TimeDelta::hours(23), now).is_ok());
        let far = Utc
            .with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let e = l.check(far, now).unwrap_err();
        assert!(
            e.contains("'9999-12-31T00:00:00.000Z' is more than 24 h ahead"),
            "{e}"
        );
        for old in [
            Utc.with_ymd_and_hms(1969, 12, 31, 0, 0, 0),
            Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0),
            Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59),
        ] {
            let t = old.single().unwrap_or_default();
            assert!(
                l.check(t, now)
                    .unwrap_err()
                    .contains("is before 2000-01-01")
            );
        }
    }
}
