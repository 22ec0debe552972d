//! Hand-rolled JSON and time formatting into a reused buffer: the generator writes about a million lines in a
//! few seconds only because it never builds a `serde_json::Value` or allocates per field.
//!
//! Owns the byte format of strings and times only; imports nothing beyond `std`.

use std::fmt::Write as _;

/// Append `s` as a JSON string literal (quotes included).
pub(crate) fn string(buf: &mut String, s: &str) {
    buf.push('"');
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        buf.push_str(&s[last..i]);
        if esc.is_empty() {
            let _ = write!(buf, "\\u{b:04x}");
        } else {
            buf.push_str(esc);
        }
        last = i + 1;
    }
    buf.push_str(&s[last..]);
    buf.push('"');
}

/// Append `"key":` followed by the string value.
pub(crate) fn field(buf: &mut String, key: &str, value: &str) {
    buf.push('"');
    buf.push_str(key);
    buf.push_str("\":");
    string(buf, value);
}

/// Append `"key":` with nothing after it, for nested objects and arrays.
pub(crate) fn key(buf: &mut String, key: &str) {
    buf.push('"');
    buf.push_str(key);
    buf.push_str("\":");
}

fn two(buf: &mut String, v: u32) {
    buf.push((b'0' + (v / 10) as u8) as char);
    buf.push((b'0' + (v % 10) as u8) as char);
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's `civil_from_days`.
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Append Unix milliseconds as RFC 3339 UTC with milliseconds: `2026-10-01T09:35:15.890Z` (quoted).
pub(crate) fn time(buf: &mut String, ms: i64) {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil(days);
    buf.push('"');
    let _ = write!(buf, "{y:04}");
    buf.push('-');
    two(buf, m);
    buf.push('-');
    two(buf, d);
    buf.push('T');
    let secs = (rem / 1000) as u32;
    two(buf, secs / 3600);
    buf.push(':');
    two(buf, secs / 60 % 60);
    buf.push(':');
    two(buf, secs % 60);
    buf.push('.');
    let milli = (rem % 1000) as u32;
    buf.push((b'0' + (milli / 100) as u8) as char);
    two(buf, milli % 100);
    buf.push_str("Z\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn time_matches_chrono() {
        for ms in [
            0i64,
            1_790_812_800_000,
            1_790_812_800_123,
            1_709_251_199_999,
            4_102_444_800_001,
        ] {
            let mut b = String::new();
            time(&mut b, ms);
            let want = Utc
                .timestamp_millis_opt(ms)
                .single()
                .map(|t| t.format("\"%Y-%m-%dT%H:%M:%S%.3fZ\"").to_string());
            assert_eq!(Some(b), want);
        }
    }

    #[test]
    fn escapes_round_trip() {
        let s = "a\"b\\c\nd\u{1}é";
        let mut b = String::new();
        string(&mut b, s);
        assert_eq!(serde_json::from_str::<String>(&b).ok().as_deref(), Some(s));
    }
}
