//! The `/` filter query language (DESIGN §9): text ⇄ [`AlertFilter`].
//!
//! ```text
//! status:open sev:>=high actor:ana det:page-crawling since:7d free text
//! ```
//!
//! Whitespace-separated terms, all of which must hold:
//!
//! | term | meaning |
//! |------|---------|
//! | `status:open`, `status:open,ack` | any of these statuses (`ack`, `tp`, `benign` aliases); repeated terms add up |
//! | `sev:high` | exactly high; `sev:>=high`, `sev:>high`, `sev:<=medium`, `sev:<medium` bound it; terms intersect |
//! | `actor:ana` | part of the actor's name, e-mail or id; a value with `@`, `:` or a digit is taken as an exact e-mail or id (indexed). `actor:=x` forces exact, `actor:~x` forces part |
//! | `assignee:ana`, `assignee:me`, `assignee:none` | owned by that person (case-insensitive), by whoever runs the query, or by nobody; `assignee:=me` is someone called "me" |
//! | `det:page-crawling`, `detection:…` | that detection |
//! | `since:7d`, `since:2026-11-01`, `since:2026-11-01T10:00:00Z` | created at or after (`s m h d w` ago; a date is its midnight UTC; `today`, `yesterday`) |
//! | `until:…` | created before (same forms; exclusive) |
//! | `"bulk export"`, bare words | free text, joined with single spaces: a case-insensitive substring of title, subject, actor or detection |
//!
//! Values may be quoted (`actor:"Ana Lima"`); inside quotes `\"` and `\\` escape. Keys are case-insensitive. A word
//! with a colon whose left side is not a key name (`10:30`) is free text; a key-like one (`foo:bar`) is an error
//! rather than a silent text search.
//!
//! Pure: no I/O and no clock — relative times are resolved against the `now` passed in.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

use super::{AlertFilter, AlertStatus, AssigneeFilter, Severity};

/// A query that cannot be parsed, with the byte span of the bad token so the UI can underline it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// Byte offset of the first byte of the bad part (always on a char boundary).
    pub start: usize,
    /// Byte offset just past the bad part.
    pub end: usize,
    /// What is wrong, quoting the bad value.
    pub message: String,
}

/// The keys the language knows, for error messages (aliases: `severity`, `detection`).
const KEYS: &str = "status, sev, actor, assignee, det, since, until";

fn error(start: usize, end: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        start,
        end,
        message: message.into(),
    }
}

/// One whitespace-separated term: its raw text and byte span in the query.
struct Token<'a> {
    raw: &'a str,
    start: usize,
}

impl Token<'_> {
    fn end(&self) -> usize {
        self.start + self.raw.len()
    }
}

/// Splits on whitespace outside double quotes; an unterminated quote is an error spanning from it to the end.
fn tokenize(q: &str) -> Result<Vec<Token<'_>>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = q.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut end = q.len();
        let mut quote_at = None;
        while let Some((i, c)) = chars.next() {
            match (quote_at, c) {
                (Some(_), '\\') => {
                    chars.next();
                }
                (Some(_), '"') => quote_at = None,
                (None, '"') => quote_at = Some(i),
                (None, c) if c.is_whitespace() => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        if let Some(i) = quote_at {
            return Err(error(i, q.len(), "unterminated quote"));
        }
        tokens.push(Token {
            raw: &q[start..end],
            start,
        });
    }
    Ok(tokens)
}

/// Removes quotes and escapes (the tokenizer already checked the quotes balance).
fn unquote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_quote = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quote = !in_quote,
            '\\' if in_quote => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Quotes a value when it would not survive as a bare word.
fn quote(v: &str) -> String {
    if !v.is_empty() && !v.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        v.to_string()
    } else {
        quote_always(v)
    }
}

/// `"…"` with `"` and `\` escaped.
fn quote_always(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The key of a `key:value` term, when the part before the first colon (outside quotes) looks like a key name.
fn split_key(raw: &str) -> Option<(&str, &str)> {
    let colon = raw.find(':')?;
    if raw[..colon].contains('"') {
        return None;
    }
    let key = &raw[..colon];
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_'))
    .then(|| (key, &raw[colon + 1..]))
}

/// Whether an actor value is an exact e-mail or account id (indexed lookup) rather than part of a name.
fn looks_exact(actor: &str) -> bool {
    actor.contains(['@', ':']) || actor.chars().any(|c| c.is_ascii_digit())
}

/// Parses a filter query into an [`AlertFilter`]; `now` anchors relative times such as `since:7d`. An empty query
/// is `AlertFilter::default()`. `ascending` is never set: sort order is not part of the query.
pub fn parse(q: &str, now: DateTime<Utc>) -> Result<AlertFilter, QueryError> {
    let mut f = AlertFilter::default();
    let mut words: Vec<String> = Vec::new();
    for tok in tokenize(q)? {
        let Some((key, raw_value)) = split_key(tok.raw) else {
            let word = unquote(tok.raw);
            if !word.is_empty() {
                words.push(word);
            }
            continue;
        };
        let key_end = tok.start + key.len();
        // The value's span: after the colon to the end of the token.
        let (vs, ve) = (key_end + 1, tok.end());
        let need_value = |v: &str| {
            if v.is_empty() {
                Err(error(tok.start, ve, format!("'{key}:' needs a value")))
            } else {
                Ok(())
            }
        };
        match key.to_ascii_lowercase().as_str() {
            "status" => {
                let value = unquote(raw_value);
                need_value(&value)?;
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let s = part
                        .parse::<AlertStatus>()
                        .map_err(|e| error(vs, ve, e.to_string()))?;
                    if !f.statuses.contains(&s) {
                        f.statuses.push(s);
                    }
                }
            }
            "sev" | "severity" => {
                let value = unquote(raw_value);
                need_value(&value)?;
                let (min, max) = severity_bounds(&value).map_err(|m| error(vs, ve, m))?;
                if let Some(min) = min {
                    f.min_severity = Some(f.min_severity.map_or(min, |old| old.max(min)));
                }
                if let Some(max) = max {
                    f.max_severity = Some(f.max_severity.map_or(max, |old| old.min(max)));
                }
                if let (Some(lo), Some(hi)) = (f.min_severity, f.max_severity)
                    && lo > hi
                {
                    return Err(error(
                        tok.start,
                        ve,
                        format!(
                            "'{}' leaves no severity (at least {lo} and at most {hi})",
                            tok.raw
                        ),
                    ));
                }
            }
            "actor" => {
                let (mode, rest) = match raw_value.chars().next() {
                    Some('=') => (Some(true), &raw_value[1..]),
                    Some('~') => (Some(false), &raw_value[1..]),
                    _ => (None, raw_value),
                };
                let value = unquote(rest);
                need_value(&value)?;
                // One exact actor and one partial name may both be given (`describe` writes such filters).
                let slot = if mode.unwrap_or_else(|| looks_exact(&value)) {
                    &mut f.actor
                } else {
                    &mut f.actor_text
                };
                if slot.is_some() {
                    return Err(error(
                        tok.start,
                        ve,
                        "'actor:' given twice; a filter names one actor",
                    ));
                }
                *slot = Some(value);
            }
            "assignee" => {
                // `=` takes the value as a name even when it reads `me` or `none`.
                let (literal, rest) = match raw_value.strip_prefix('=') {
                    Some(rest) => (true, rest),
                    None => (false, raw_value),
                };
                let value = unquote(rest);
                need_value(&value)?;
                if f.assignee.is_some() {
                    return Err(error(
                        tok.start,
                        ve,
                        "'assignee:' given twice; a filter names one assignee",
                    ));
                }
                f.assignee = Some(match value.to_lowercase().as_str() {
                    "me" if !literal => AssigneeFilter::Me,
                    "none" if !literal => AssigneeFilter::Nobody,
                    _ => AssigneeFilter::Named(value),
                });
            }
            "det" | "detection" => {
                let value = unquote(raw_value);
                need_value(&value)?;
                if f.detection.is_some() {
                    return Err(error(
                        tok.start,
                        ve,
                        "'det:' given twice; a filter names one detection",
                    ));
                }
                f.detection = Some(value);
            }
            k @ ("since" | "until") => {
                let value = unquote(raw_value);
                need_value(&value)?;
                let t = parse_time(&value, now).map_err(|m| error(vs, ve, m))?;
                let slot = if k == "since" {
                    &mut f.since
                } else {
                    &mut f.until
                };
                if slot.is_some() {
                    return Err(error(tok.start, ve, format!("'{k}:' given twice")));
                }
                *slot = Some(t);
            }
            _ => {
                return Err(error(
                    tok.start,
                    key_end,
                    format!(
                        "unknown filter key '{key}'; expected one of {KEYS} (quote text that contains a colon: \"{}\")",
                        tok.raw.replace('"', "")
                    ),
                ));
            }
        }
    }
    if !words.is_empty() {
        f.text = Some(words.join(" "));
    }
    Ok(f)
}

/// `high` (exactly), `>=high`, `>high`, `<=high`, `<high`, `=high` → (minimum, maximum).
fn severity_bounds(v: &str) -> Result<(Option<Severity>, Option<Severity>), String> {
    let (op, name) = [">=", "<=", ">", "<", "="]
        .into_iter()
        .find_map(|op| v.strip_prefix(op).map(|rest| (op, rest)))
        .unwrap_or(("=", v));
    let s: Severity = name
        .parse()
        .map_err(|e: super::ParseEnumError| e.to_string())?;
    let idx = Severity::ALL.iter().position(|x| *x == s).unwrap_or(0);
    let above = Severity::ALL.get(idx + 1).copied();
    let below = idx
        .checked_sub(1)
        .and_then(|i| Severity::ALL.get(i).copied());
    Ok(match op {
        ">=" => (Some(s), None),
        "<=" => (None, Some(s)),
        ">" => (
            Some(above.ok_or_else(|| format!("nothing is more severe than {s}"))?),
            None,
        ),
        "<" => (
            None,
            Some(below.ok_or_else(|| format!("nothing is less severe than {s}"))?),
        ),
        _ => (Some(s), Some(s)),
    })
}

/// `7d` / `12h` / `30m` / `90s` / `2w` ago, `today`, `yesterday`, `2026-11-01` (midnight UTC), RFC 3339, or
/// `2026-11-01T10:00[:00]` (UTC).
fn parse_time(v: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let bad = || {
        format!(
            "'{v}' is not a time; use 7d, 12h, 30m, 2w, today, 2026-11-01 or 2026-11-01T10:00:00Z"
        )
    };
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    match v.to_ascii_lowercase().as_str() {
        "now" => return Ok(now),
        "today" => return midnight(now.date_naive()).ok_or_else(bad),
        "yesterday" => {
            return now
                .date_naive()
                .pred_opt()
                .and_then(midnight)
                .ok_or_else(bad);
        }
        _ => {}
    }
    if let Some(unit) = v.chars().last()
        && let digits = &v[..v.len() - unit.len_utf8()]
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("'{v}' is too far back"))?;
        let d = match unit {
            's' => Duration::try_seconds(n),
            'm' => Duration::try_minutes(n),
            'h' => Duration::try_hours(n),
            'd' => Duration::try_days(n),
            'w' => Duration::try_weeks(n),
            _ => return Err(format!("'{v}': unknown unit '{unit}'; use s, m, h, d or w")),
        };
        return d
            .and_then(|d| now.checked_sub_signed(d))
            .ok_or_else(|| format!("'{v}' is too far back"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return midnight(d).ok_or_else(bad);
    }
    Err(bad())
}

/// The query as typed less every `key:` term (key case-insensitive, aliases not followed), the other terms
/// kept as they were written and joined by single spaces. The UI's "mine" view swaps the `assignee:` term
/// this way without rewriting the rest of the user's text (as [`describe`] would: `since:7d` becomes a
/// date). A query that does not tokenize is returned unchanged.
pub fn without_key(q: &str, key: &str) -> String {
    let Ok(tokens) = tokenize(q) else {
        return q.to_string();
    };
    tokens
        .iter()
        .filter(|t| split_key(t.raw).is_none_or(|(k, _)| !k.eq_ignore_ascii_case(key)))
        .map(|t| t.raw)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The canonical query text of a filter (shown in the header); [`parse`] reads it back to the same filter (times
/// absolute, in RFC 3339). `ascending` is not part of a query and is left out.
pub fn describe(f: &AlertFilter) -> String {
    let mut terms: Vec<String> = Vec::new();
    if !f.statuses.is_empty() {
        let names: Vec<&str> = f.statuses.iter().map(|s| s.as_str()).collect();
        terms.push(format!("status:{}", names.join(",")));
    }
    match (f.min_severity, f.max_severity) {
        (Some(lo), Some(hi)) if lo == hi => terms.push(format!("sev:{lo}")),
        (lo, hi) => {
            if let Some(lo) = lo {
                terms.push(format!("sev:>={lo}"));
            }
            if let Some(hi) = hi {
                terms.push(format!("sev:<={hi}"));
            }
        }
    }
    let actor = |v: &str, exact: bool| {
        let implicit = looks_exact(v) == exact && !v.starts_with(['=', '~']);
        let op = match (implicit, exact) {
            (true, _) => "",
            (false, true) => "=",
            (false, false) => "~",
        };
        format!("actor:{op}{}", quote(v))
    };
    if let Some(a) = &f.actor {
        terms.push(actor(a, true));
    }
    if let Some(a) = &f.actor_text {
        terms.push(actor(a, false));
    }
    match &f.assignee {
        None => {}
        Some(AssigneeFilter::Me) => terms.push("assignee:me".into()),
        Some(AssigneeFilter::Nobody) => terms.push("assignee:none".into()),
        Some(AssigneeFilter::Named(name)) => {
            let reads_as_keyword = ["me", "none"].contains(&name.to_lowercase().as_str());
            let op = if reads_as_keyword || name.starts_with('=') {
                "="
            } else {
                ""
            };
            terms.push(format!("assignee:{op}{}", quote(name)));
        }
    }
    if let Some(d) = &f.detection {
        terms.push(format!("det:{}", quote(d)));
    }
    for (key, t) in [("since", f.since), ("until", f.until)] {
        if let Some(t) = t {
            terms.push(format!(
                "{key}:{}",
                t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            ));
        }
    }
    if let Some(text) = f.text.as_ref().filter(|t| !t.is_empty()) {
        let plain = text.split_whitespace().collect::<Vec<_>>().join(" ") == *text
            && !text.contains([':', '"', '\\']);
        terms.push(if plain {
            text.clone()
        } else {
            quote_always(text)
        });
    }
    terms.join(" ")
}
