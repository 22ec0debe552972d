//! Time arguments: RFC 3339, a bare date (midnight UTC), or a span back from now (`7d`, `12h`, `30m`).

use chrono::{DateTime, NaiveDate, Utc};

/// Parse a `--since`/`--until` value; the error says which forms are accepted.
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("'{s}' is out of range"));
    }
    if let Some(unit) = s.chars().last()
        && let Ok(n) = s[..s.len() - unit.len_utf8()].parse::<i64>()
    {
        let secs = match unit {
            'd' => n.checked_mul(86_400),
            'h' => n.checked_mul(3_600),
            'm' => n.checked_mul(60),
            's' => Some(n),
            _ => None,
        };
        if let Some(d) = secs.and_then(chrono::TimeDelta::try_seconds) {
            return now
                .checked_sub_signed(d)
                .ok_or_else(|| format!("'{s}' is out of range"));
        }
    }
    Err(format!(
        "'{s}' is not a time: use RFC 3339 (2026-11-02T09:35:15Z), a date (2026-11-02), or a span such as 7d, 12h, 30m"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-10T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_time("2026-11-02", now).unwrap().to_rfc3339(),
            "2026-11-02T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("7d", now).unwrap().to_rfc3339(),
            "2026-11-03T00:00:00+00:00"
        );
        assert!(
            parse_time("yesterday", now)
                .unwrap_err()
                .contains("'yesterday'")
        );
        assert!(parse_time("99999999999999d", now).is_err());
    }
}
