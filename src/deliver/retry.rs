//! What a delivery attempt's result *means* ([`classify`]) kept apart from *when* to try again
//! ([`next_attempt`]), as vector keeps its `RetryLogic` apart from its retry policy: a receiver's answer is
//! classified once, and the schedule can change without touching what a 410 means.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What one attempt's result means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the receiver has it.
    Delivered,
    /// 408, 429, 5xx or no answer (refused, reset, timed out): try again later, no sooner than `after` when
    /// the receiver said (`Retry-After` on 429, 502, 503, 504).
    Retry { after: Option<Duration> },
    /// Any other 4xx (and a redirect, which is not followed): the request itself is wrong; retrying sends the
    /// same thing again, so it goes to the dead letters at once.
    Failed,
    /// 410 Gone: the receiver is no more; the integration is disabled until an operator enables it again.
    Gone,
}

/// Classify an attempt: `status` is `None` when no response came. `retry_after` is the header's value.
pub fn classify(status: Option<u16>, retry_after: Option<&str>, now: DateTime<Utc>) -> Outcome {
    let Some(status) = status else {
        return Outcome::Retry { after: None };
    };
    match status {
        200..=299 => Outcome::Delivered,
        410 => Outcome::Gone,
        408 => Outcome::Retry { after: None },
        429 | 502 | 503 | 504 => Outcome::Retry {
            after: retry_after.and_then(|v| parse_retry_after(v, now)),
        },
        500..=599 => Outcome::Retry { after: None },
        _ => Outcome::Failed,
    }
}

/// The Standard Webhooks retry schedule: the delay before attempt n+1 after n attempts (the first attempt
/// is immediate). After the last, a delivery is dead.
pub const SCHEDULE: [Duration; 10] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The longest `Retry-After` honoured: a receiver cannot park a delivery for longer than the schedule's
/// longest step.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How long to wait before the next attempt after `tries` attempts (≥ 1) on `schedule` ([`SCHEDULE`] but in
/// tests), or `None` when the schedule is
/// spent (dead letter). `jitter` in [0, 1) spreads retries by ±20% so that a receiver coming back is not hit
/// by every delivery in the same second; a receiver's `Retry-After` is a floor.
pub fn next_attempt(
    schedule: &[Duration],
    tries: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let step = schedule.get(usize::try_from(tries).ok()?)?;
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    let jittered = step.mul_f64(factor);
    Some(match retry_after {
        Some(after) => jittered.max(after.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}

/// The `Retry-After` of an answer, read against the clock now; `None` when absent or neither form. The
/// one reading every HTTP client of vigil (delivery, the events poller, the site scan, suspend) shares.
pub fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()))
}

/// `Retry-After` as delay-seconds or an HTTP date; `None` when it is neither.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn answers_are_classified_by_what_they_mean() {
        assert_eq!(classify(Some(200), None, now()), Outcome::Delivered);
        assert_eq!(classify(Some(204), None, now()), Outcome::Delivered);
        assert_eq!(classify(Some(410), None, now()), Outcome::Gone);
        assert_eq!(classify(Some(400), None, now()), Outcome::Failed);
        assert_eq!(classify(Some(401), None, now()), Outcome::Failed);
        assert_eq!(classify(Some(302), None, now()), Outcome::Failed);
        for s in [408, 500, 503] {
            assert!(matches!(
                classify(Some(s), None, now()),
                Outcome::Retry { .. }
            ));
        }
        assert_eq!(classify(None, None, now()), Outcome::Retry { after: None });
        assert_eq!(
            classify(Some(429), Some("7"), now()),
            Outcome::Retry {
                after: Some(Duration::from_secs(7))
            }
        );
        let date = (now() + chrono::Duration::seconds(10)).to_rfc2822();
        assert_eq!(
            classify(Some(503), Some(&date), now()),
            Outcome::Retry {
                after: Some(Duration::from_secs(10))
            }
        );
        // A Retry-After on a plain 500 is not a promise the schedule follows.
        assert_eq!(
            classify(Some(500), Some("60"), now()),
            Outcome::Retry { after: None }
        );
    }

    #[test]
    fn the_schedule_is_standard_webhooks_with_jitter_and_retry_after_as_a_floor() {
        assert_eq!(
            next_attempt(&SCHEDULE, 1, None, 0.5),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            next_attempt(&SCHEDULE, 2, None, 0.5),
            Some(Duration::from_secs(300))
        );
        let low = next_attempt(&SCHEDULE, 3, None, 0.0).unwrap_or_default();
        let high = next_attempt(&SCHEDULE, 3, None, 0.999).unwrap_or_default();
        assert!(low >= Duration::from_secs(1440) && high <= Duration::from_secs(2160));
        assert_eq!(
            next_attempt(&SCHEDULE, 9, None, 0.5),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            next_attempt(&SCHEDULE, 10, None, 0.5),
            None,
            "dead after ten attempts"
        );
        assert_eq!(
            next_attempt(&SCHEDULE, 1, Some(Duration::from_secs(30)), 0.5),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            next_attempt(&SCHEDULE, 1, Some(Duration::from_secs(10 * 86_400)), 0.5),
            Some(MAX_RETRY_AFTER),
            "a receiver cannot park a delivery for days"
        );
    }
}
