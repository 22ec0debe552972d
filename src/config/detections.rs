//! `[actions]`, `[[custom_detections]]` and `[detections.<id>]`: the parts of the file that tune the detector.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use toml::de::DeValue;

use super::walker::{Value, Walker, array_of_tables, closest};
use super::{CUSTOM_TERM_CHARS, MAX_CUSTOM_DETECTIONS, MAX_CUSTOM_TERMS};
use crate::detect::catalogue::{self, DetectionKind};
use crate::detect::tuning::{
    CustomDetection, DetectionSettings, Exclusion, ExclusionKind, Sensitivity,
};
use crate::model::Severity;

pub(super) fn parse_actions(w: &mut Walker<'_>, v: &Value<'_>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(t) = w.table(v, "actions") else {
        return out;
    };
    for (k, v) in t.iter() {
        let key = format!("actions.{}", k.get_ref());
        if !catalogue::is_catalogue_action(k.get_ref()) {
            w.err(
                k.span(),
                &key,
                format!(
                    "'{}' is not an action key of the detection catalogue",
                    k.get_ref()
                ),
            );
            continue;
        }
        let Some(list) = w.strings(v, &key) else {
            continue;
        };
        let mut keys = Vec::new();
        for (s, span) in list {
            let bare = s.strip_prefix('!').unwrap_or(&s);
            if bare.is_empty() || bare.contains(char::is_whitespace) {
                w.err(span, &key, format!("'{s}' is not an action key"));
            } else {
                keys.push(s);
            }
        }
        out.insert(k.get_ref().to_string(), keys);
    }
    out
}

pub(super) fn parse_custom(w: &mut Walker<'_>, v: &Value<'_>) -> Vec<CustomDetection> {
    let mut out: Vec<CustomDetection> = Vec::new();
    let tables = array_of_tables(w, v, "custom_detections");
    if tables.len() > MAX_CUSTOM_DETECTIONS
        && let Some((_, item, _)) = tables.get(MAX_CUSTOM_DETECTIONS)
    {
        w.err(
            item.span(),
            "custom_detections",
            format!(
                "at most {MAX_CUSTOM_DETECTIONS} custom detections are allowed, found {}",
                tables.len()
            ),
        );
    }
    let mut slugs = BTreeSet::new();
    for (i, item, t) in tables {
        let mut prefix = format!("custom_detections[{i}]");
        w.unknown(
            t,
            &prefix,
            &["name", "terms", "regex", "severity", "enabled"],
            "a custom detection",
        );
        let name = match t.get("name") {
            Some(v) => w.string(v, &format!("{prefix}.name")),
            None => {
                w.err(item.span(), &prefix, "missing 'name'");
                None
            }
        };
        if let Some(n) = &name {
            let id = catalogue::custom_detection_id(n);
            let span = t.get("name").map_or(item.span(), |v| v.span());
            if id == "custom:" || n.chars().count() > 100 {
                w.err(
                    span,
                    &format!("{prefix}.name"),
                    format!("'{n}' is not a usable name: 1 to 100 characters with at least one ASCII letter or digit"),
                );
            } else if !slugs.insert(id.clone()) {
                w.err(
                    span,
                    &format!("{prefix}.name"),
                    format!("'{n}' has the same id ({id}) as another custom detection; rename one"),
                );
            } else {
                prefix = format!("custom_detections.{}", id.trim_start_matches("custom:"));
            }
        }
        let mut terms = Vec::new();
        if let Some(v) = t.get("terms") {
            let key = format!("{prefix}.terms");
            if let Some(list) = w.strings(v, &key) {
                if list.len() > MAX_CUSTOM_TERMS {
                    w.err(
                        v.span(),
                        &key,
                        format!(
                            "at most {MAX_CUSTOM_TERMS} terms are allowed, found {}",
                            list.len()
                        ),
                    );
                }
                for (s, span) in list {
                    let n = s.chars().count();
                    if !CUSTOM_TERM_CHARS.contains(&n) {
                        w.err(
                            span,
                            &key,
                            format!(
                                "'{}' is {n} characters; terms must be 4 to 255",
                                crate::model::text::truncate(&s, 40)
                            ),
                        );
                    } else {
                        terms.push(s);
                    }
                }
            }
        }
        let regex = t.get("regex").and_then(|v| {
            let key = format!("{prefix}.regex");
            let s = w.string(v, &key)?;
            match regex::RegexBuilder::new(&s)
                .size_limit(1 << 20)
                .dfa_size_limit(1 << 20)
                .build()
            {
                Ok(re) if re.is_match("") => {
                    w.err(
                        v.span(),
                        &key,
                        "the regex matches the empty string, so it would match everywhere",
                    );
                    None
                }
                Ok(_) => Some(s),
                Err(e) => {
                    let msg = e.to_string();
                    let last = msg
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("invalid")
                        .trim();
                    let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
                    w.err(
                        v.span(),
                        &key,
                        format!("the regex does not compile: {last}"),
                    );
                    None
                }
            }
        });
        match (t.contains_key("terms"), t.contains_key("regex")) {
            (true, true) => w.err(
                item.span(),
                &prefix,
                "give either 'terms' or 'regex', not both",
            ),
            (false, false) => w.err(item.span(), &prefix, "give 'terms' or 'regex'"),
            _ => {}
        }
        let severity = match t.get("severity") {
            Some(v) => w.severity(v, &format!("{prefix}.severity")),
            None => Some(Severity::Medium),
        };
        let enabled = match t.get("enabled") {
            Some(v) => w.boolean(v, &format!("{prefix}.enabled")),
            None => Some(true),
        };
        if let (Some(name), Some(severity), Some(enabled)) = (name, severity, enabled) {
            out.push(CustomDetection {
                name,
                terms,
                regex,
                severity,
                enabled,
            });
        }
    }
    out
}

pub(super) fn parse_detections(
    w: &mut Walker<'_>,
    v: &Value<'_>,
    custom: &BTreeSet<String>,
) -> BTreeMap<String, DetectionSettings> {
    let mut out = BTreeMap::new();
    let Some(t) = w.table(v, "detections") else {
        return out;
    };
    for (k, v) in t.iter() {
        let id = k.get_ref().to_string();
        let prefix = format!("detections.{id}");
        let spec = catalogue::spec(&id);
        if spec.is_none() && !custom.contains(&id) {
            let hint = if id.starts_with("custom:") {
                "no custom detection has this id (custom: and its name in lower-case kebab form)"
                    .to_string()
            } else {
                match closest(&id, catalogue::catalogue().iter().map(|s| s.id)) {
                    Some(near) => format!("'{id}' is not a detection id; did you mean '{near}'?"),
                    None => format!("'{id}' is not a detection id; the detections pane lists them"),
                }
            };
            w.err(k.span(), &prefix, hint);
            continue;
        }
        let Some(t) = w.table(v, &prefix) else {
            continue;
        };
        w.unknown(
            t,
            &prefix,
            &[
                "enabled",
                "sensitivity",
                "exclude_actors",
                "exclude_containers",
                "exclude_objects",
            ],
            "a detection's settings",
        );
        let mut s = DetectionSettings::default();
        if let Some(v) = t.get("enabled")
            && let Some(b) = w.boolean(v, &format!("{prefix}.enabled"))
        {
            s.enabled = b;
        }
        if let Some(v) = t.get("sensitivity") {
            let key = format!("{prefix}.sensitivity");
            if let Some(text) = w.string(v, &key) {
                match text.as_str() {
                    "fewer" => s.sensitivity = Sensitivity::Fewer,
                    "default" => s.sensitivity = Sensitivity::Default,
                    "more" => s.sensitivity = Sensitivity::More,
                    _ => w.err(
                        v.span(),
                        &key,
                        format!("'{text}' is not a sensitivity; expected fewer, default or more"),
                    ),
                }
                if !matches!(spec.map(|s| s.kind), Some(DetectionKind::Threshold { .. }))
                    && text != "default"
                {
                    w.err(v.span(), &key, format!("{id} has no threshold; sensitivity applies to threshold detections only"));
                }
            }
        }
        for (field, kind) in [
            ("exclude_actors", ExclusionKind::Actor),
            ("exclude_containers", ExclusionKind::Container),
            ("exclude_objects", ExclusionKind::Object),
        ] {
            let key = format!("{prefix}.{field}");
            let Some(v) = t.get(field) else { continue };
            let DeValue::Array(items) = v.get_ref() else {
                w.type_err(v, &key, "an array");
                continue;
            };
            for item in items.iter() {
                if let Some(x) = parse_exclusion(w, item, &key, kind) {
                    s.exclusions.push(x);
                }
            }
        }
        out.insert(id, s);
    }
    out
}

pub(super) fn parse_exclusion(
    w: &mut Walker<'_>,
    item: &Value<'_>,
    key: &str,
    kind: ExclusionKind,
) -> Option<Exclusion> {
    match item.get_ref() {
        DeValue::String(s) if !s.trim().is_empty() => Some(Exclusion {
            kind,
            value: s.to_string(),
            until: None,
            label: None,
        }),
        DeValue::Table(t) => {
            w.unknown(t, key, &["value", "until"], "an exclusion");
            let value = match t.get("value") {
                Some(v) => w.string(v, &format!("{key}.value"))?,
                None => {
                    w.err(item.span(), key, "an exclusion table needs 'value'");
                    return None;
                }
            };
            let until = match t.get("until") {
                Some(v) => Some(until(w, v, &format!("{key}.until"))?),
                None => None,
            };
            Some(Exclusion {
                kind,
                value,
                until,
                label: None,
            })
        }
        _ => {
            w.type_err(
                item,
                key,
                "a non-empty string or { value = \"...\", until = \"...\" }",
            );
            None
        }
    }
}

/// An RFC 3339 date-time, or a date meaning through the end of that day (UTC).
pub(super) fn until(w: &mut Walker<'_>, v: &Value<'_>, key: &str) -> Option<DateTime<Utc>> {
    instant(w, v, key, true)
}

/// An RFC 3339 date-time, or a date: its start, or with `end_of_day` the start of the next day.
pub(super) fn instant(
    w: &mut Walker<'_>,
    v: &Value<'_>,
    key: &str,
    end_of_day: bool,
) -> Option<DateTime<Utc>> {
    let text = match v.get_ref() {
        DeValue::String(s) => s.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        _ => {
            w.type_err(v, key, "an RFC 3339 date or date-time");
            return None;
        }
    };
    let parsed = DateTime::parse_from_rfc3339(&text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .ok()
                .and_then(|d| if end_of_day { d.succ_opt() } else { Some(d) })
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|d| d.and_utc())
        });
    if parsed.is_none() {
        w.err(
            v.span(),
            key,
            format!("'{text}' is not a date; expected e.g. 2026-12-31 or 2026-12-31T18:00:00Z"),
        );
    }
    parsed
}
