//! Validation of one JSON value into an [`AuditEvent`], with reasons that name the field and the bad value.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::model::{Actor, AuditEvent, Content, Entity, Location, Message, Party};

/// Why a value is not an acceptable event: the JSON path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct Rejection {
    pub path: String,
    pub problem: String,
}

fn reject(path: &str, problem: impl Into<String>) -> Rejection {
    Rejection {
        path: path.to_string(),
        problem: problem.into(),
    }
}

/// Longest string field accepted; longer text is cut rather than rejecting the event (bodies are capped by
/// the record limit already, this bounds names, ids and titles).
const MAX_ID: usize = 512;

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value quoted for a reason, whole (up to `text::QUOTE_KEPT`): the pipeline redacts the reason and only
/// then cuts the value to `text::QUOTE_SHOWN`, so a secret is never cut to a prefix no scanner recognises.
fn quoted(v: &Value) -> String {
    match v {
        Value::String(s) => crate::model::text::quote(s),
        other => crate::model::text::quote(&other.to_string()),
    }
}

/// Take `key` out of `obj` as text: the string itself is moved, not copied (the map is the parser's and is
/// dropped after this).
fn opt_str(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, Rejection> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        // Numbers are common for ids (`objectId: 98231`): accept them as text.
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(reject(
            &format!("{path}.{key}"),
            format!("expected a string, found {}", kind(&other)),
        )),
    }
}

fn req_str(obj: &mut Map<String, Value>, key: &str, path: &str) -> Result<String, Rejection> {
    match obj.remove(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(reject(&format!("{path}.{key}"), "must not be empty")),
        None | Some(Value::Null) => Err(reject(
            &format!("{path}.{key}"),
            "required field is missing",
        )),
        Some(other) => Err(reject(
            &format!("{path}.{key}"),
            format!("expected a string, found {}", kind(&other)),
        )),
    }
}

fn obj<'a>(v: &'a mut Value, path: &str) -> Result<&'a mut Map<String, Value>, Rejection> {
    let found = kind(v);
    v.as_object_mut()
        .ok_or_else(|| reject(path, format!("expected an object, found {found}")))
}

/// Validate and normalise one event in the §3 shape. Unknown fields are kept in `extra`. Takes the parsed
/// value and moves its strings and maps into the event: copying them (and then dropping the tree) was a
/// large share of the parse threads' time, every field of every event allocated twice.
pub fn normalise(mut value: Value) -> Result<AuditEvent, Rejection> {
    // No id: one is derived from the event as it came, before anything is taken out of it.
    let synthetic = match value.get("id") {
        Some(Value::String(s)) if s.trim().is_empty() => Some(synthetic_id(&value)),
        None | Some(Value::Null) if value.is_object() => Some(synthetic_id(&value)),
        _ => None,
    };
    let top = obj(&mut value, "event")?;
    let mut attrs_v = top
        .remove("attributes")
        .ok_or_else(|| reject("attributes", "required field is missing"))?;
    let attrs = obj(&mut attrs_v, "attributes")?;

    let time_v = attrs
        .remove("time")
        .ok_or_else(|| reject("attributes.time", "required field is missing"))?;
    let time = match &time_v {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                reject(
                    "attributes.time",
                    format!("{} is not an RFC 3339 time", quoted(&time_v)),
                )
            })?,
        other => {
            return Err(reject(
                "attributes.time",
                format!("expected an RFC 3339 time string, found {}", kind(other)),
            ));
        }
    };
    // Millisecond precision: the store keys by event-time milliseconds.
    let time = DateTime::from_timestamp_millis(time.timestamp_millis()).ok_or_else(|| {
        reject(
            "attributes.time",
            format!("{} is out of range", quoted(&time_v)),
        )
    })?;

    let action = req_str(attrs, "action", "attributes")?;
    if action.len() > MAX_ID {
        return Err(reject(
            "attributes.action",
            format!("longer than {MAX_ID} bytes"),
        ));
    }
    let mut actor_v = attrs
        .remove("actor")
        .ok_or_else(|| reject("attributes.actor", "required field is missing"))?;
    let actor = parse_actor(obj(&mut actor_v, "attributes.actor")?)?;

    let context = entities(attrs.remove("context"), "attributes.context")?;
    let container = entities(attrs.remove("container"), "attributes.container")?;
    let location = match attrs.remove("location") {
        None | Some(Value::Null) => None,
        Some(mut v) => Some(parse_location(obj(&mut v, "attributes.location")?)?),
    };
    let content = match attrs.remove("content") {
        None | Some(Value::Null) => None,
        Some(mut v) => Some(parse_content(obj(&mut v, "attributes.content")?)?),
    };
    let message = match top.remove("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Message {
            content: Some(s),
            format: None,
        }),
        Some(mut v) => {
            let m = obj(&mut v, "message")?;
            Some(Message {
                content: opt_str(m, "content", "message")?,
                format: opt_str(m, "format", "message")?,
            })
        }
    };

    let id = match opt_str(top, "id", "event")? {
        Some(id) if !id.trim().is_empty() => {
            if id.len() > MAX_ID {
                return Err(reject("id", format!("longer than {MAX_ID} bytes")));
            }
            id
        }
        // No id: derived from the content (above) so a re-sent copy still dedupes.
        _ => synthetic.ok_or_else(|| reject("id", "no id, and none could be derived"))?,
    };

    // What is left of both objects is what vigil does not model: every field it reads was taken out above.
    let mut extra = std::mem::take(top);
    for (k, v) in std::mem::take(attrs) {
        extra.insert(format!("attributes.{k}"), v);
    }

    Ok(AuditEvent {
        id,
        time,
        action,
        actor,
        context,
        container,
        location,
        content,
        message,
        extra,
        secrets: Vec::new(),
    })
}

fn parse_actor(a: &mut Map<String, Value>) -> Result<Actor, Rejection> {
    let p = "attributes.actor";
    let id = req_str(a, "id", p)?;
    if id.len() > MAX_ID {
        return Err(reject(
            "attributes.actor.id",
            format!("longer than {MAX_ID} bytes"),
        ));
    }
    let on_behalf_of = match a.remove("onBehalfOf") {
        None | Some(Value::Null) => None,
        Some(mut v) => {
            let q = "attributes.actor.onBehalfOf";
            let o = obj(&mut v, q)?;
            Some(Party {
                id: opt_str(o, "id", q)?,
                name: opt_str(o, "name", q)?,
                email: opt_str(o, "email", q)?,
            })
        }
    };
    let auth = match a.remove("auth") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(other) => {
            return Err(reject(
                "attributes.actor.auth",
                format!("expected an object, found {}", kind(&other)),
            ));
        }
    };
    Ok(Actor {
        id,
        name: opt_str(a, "name", p)?,
        email: opt_str(a, "email", p)?,
        auth,
        on_behalf_of,
    })
}

fn entities(v: Option<Value>, path: &str) -> Result<Vec<Entity>, Rejection> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        // A single object where a list was expected is common enough to accept.
        Some(v @ Value::Object(_)) => vec![v],
        Some(other) => {
            return Err(reject(
                path,
                format!("expected an array, found {}", kind(&other)),
            ));
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            let at = format!("{path}[{i}]");
            let o = obj(&mut item, &at)?;
            let attributes = match o.remove("attributes") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(m)) => m,
                Some(other) => {
                    return Err(reject(
                        &format!("{at}.attributes"),
                        format!("expected an object, found {}", kind(&other)),
                    ));
                }
            };
            Ok(Entity {
                id: opt_str(o, "id", &at)?,
                kind: opt_str(o, "type", &at)?,
                attributes,
            })
        })
        .collect()
}

fn parse_location(l: &mut Map<String, Value>) -> Result<Location, Rejection> {
    let p = "attributes.location";
    let geo = opt_str(l, "geo", p)?;
    let (latitude, longitude) = geo.as_deref().and_then(parse_geo).unzip();
    Ok(Location {
        ip: opt_str(l, "ip", p)?,
        geo,
        latitude,
        longitude,
        country_name: opt_str(l, "countryName", p)?,
        region_name: opt_str(l, "regionName", p)?,
        city: opt_str(l, "city", p)?,
    })
}

/// "lat,long" with both numbers finite and in range; anything else is kept as text without coordinates.
pub(crate) fn parse_geo(s: &str) -> Option<(f64, f64)> {
    let (a, b) = s.split_once(',')?;
    let lat: f64 = a.trim().parse().ok()?;
    let lon: f64 = b.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

fn parse_content(c: &mut Map<String, Value>) -> Result<Content, Rejection> {
    let p = "attributes.content";
    Ok(Content {
        object_type: opt_str(c, "objectType", p)?,
        object_id: opt_str(c, "objectId", p)?,
        title: opt_str(c, "title", p)?,
        body: opt_str(c, "body", p)?,
        container_key: opt_str(c, "containerKey", p)?,
        product: opt_str(c, "product", p)?,
        url: opt_str(c, "url", p)?,
    })
}

fn synthetic_id(value: &Value) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev() -> Value {
        json!({"id":"e1","type":"events","attributes":{"time":"2026-11-02T09:35:15.890Z","action":"user_login",
            "actor":{"id":"a1","name":"Ana"},"location":{"geo":"-33.87,151.21","countryName":"Australia"},
            "custom":{"x":1}},"message":{"content":"hi","format":"simple"},"links":{"self":"u"}})
    }

    #[test]
    fn good_event_keeps_unknown_fields_and_parses_geo() {
        let e = normalise(ev()).unwrap();
        assert_eq!(e.location.as_ref().unwrap().latitude, Some(-33.87));
        assert!(e.extra.contains_key("attributes.custom"));
        assert!(e.extra.contains_key("links"));
        assert!(e.extra.contains_key("type"));
    }

    #[test]
    fn reasons_name_the_field_and_value() {
        let mut v = ev();
        v["attributes"]["time"] = json!("yesterday");
        assert_eq!(
            normalise(v.clone()).unwrap_err().to_string(),
            "attributes.time: 'yesterday' is not an RFC 3339 time"
        );
        let mut v = ev();
        v["attributes"]["actor"] = json!({"name": "x"});
        assert_eq!(
            normalise(v.clone()).unwrap_err().to_string(),
            "attributes.actor.id: required field is missing"
        );
        let mut v = ev();
        v["attributes"]["action"] = json!(5);
        assert_eq!(
            normalise(v.clone()).unwrap_err().to_string(),
            "attributes.action: expected a string, found a number"
        );
        assert_eq!(
            normalise(json!(5)).unwrap_err().to_string(),
            "event: expected an object, found a number"
        );
    }

    /// Fields are moved out of the parsed value: what vigil does not model must still be kept whole, and an
    /// id-less event's derived id must come from the event as it arrived, not from what was left of it.
    #[test]
    fn unknown_fields_stay_whole_and_a_derived_id_covers_the_whole_event() {
        let e = normalise(ev()).unwrap();
        let keys: Vec<&str> = e.extra.keys().map(String::as_str).collect();
        assert_eq!(keys, ["attributes.custom", "links", "type"]);
        assert_eq!(e.extra["attributes.custom"], json!({"x": 1}));
        assert_eq!(e.extra["links"], json!({"self": "u"}));
        assert_eq!(e.actor.name.as_deref(), Some("Ana"));
        assert_eq!(e.message.and_then(|m| m.content).as_deref(), Some("hi"));

        let mut v = ev();
        v.as_object_mut().unwrap().remove("id");
        let e = normalise(v.clone()).unwrap();
        assert_eq!(e.id, synthetic_id(&v));
        let mut other = v.clone();
        other["attributes"]["custom"]["x"] = json!(2);
        assert_ne!(normalise(other).unwrap().id, e.id);
        let mut blank = v.clone();
        blank["id"] = json!("  ");
        assert_eq!(normalise(blank.clone()).unwrap().id, synthetic_id(&blank));
    }

    #[test]
    fn geo_must_be_numeric_and_in_range() {
        assert_eq!(parse_geo("1.5, 2"), Some((1.5, 2.0)));
        assert_eq!(parse_geo("91,0"), None);
        assert_eq!(parse_geo("NaN,0"), None);
        assert_eq!(parse_geo("Sydney"), None);
    }
}
