//! Parsing one record's JSON into a `serde_json::Value`, keeping two things serde_json's own `Value` loses:
//!
//! - **Duplicated keys.** A `Map` keeps the last of two equal keys; a parser that keeps the first sees
//!   another event (DESIGN §3: two parsers could read two different events). Every duplicated key is
//!   reported with its path so that [`read_field`] can say whether it is one vigil reads.
//! - **Exact ids.** An integer beyond `u64` reaches serde_json as an `f64`, and `18446744073709551616` and
//!   `…617` become one number. The value of an `id`-like key is therefore read as raw text, and a number
//!   that is not an exact `i64`/`u64` is kept as that text (a string), since ids are compared as text.
//!
//! The path of a value is a chain of borrowed nodes on the stack: nothing is allocated for it unless a
//! duplicate is found.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Dotted path with indexes in brackets: `attributes.context[0].id`.
pub(crate) fn path_text(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A parsed record: its value and the path of every duplicated key in it (usually none).
pub(crate) struct Parsed {
    pub value: Value,
    pub duplicates: Vec<Vec<Seg>>,
}

/// Parse `bytes` as one JSON value (the whole input, as `serde_json::from_slice` does).
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut duplicates = Vec::new();
    let value = Seed {
        at: None,
        duplicates: &mut duplicates,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(Parsed { value, duplicates })
}

/// Keys whose value is an identity, kept as exact text when numeric.
fn is_id_key(k: &str) -> bool {
    matches!(k, "id" | "objectId" | "tokenId")
}

/// Whether a duplicated key at `path` (relative to the event) is one vigil reads, where a first-wins parser
/// and vigil's last-wins would disagree on the event. Unknown fields are kept verbatim and read by no one.
pub(crate) fn read_field(path: &[Seg]) -> bool {
    use Seg::{Index, Key};
    fn key(s: &Seg) -> Option<&str> {
        match s {
            Key(k) => Some(k.as_str()),
            Index(_) => None,
        }
    }
    let keys: Vec<Option<&str>> = path.iter().map(key).collect();
    let entity = |rest: &[Option<&str>]| {
        matches!(
            rest,
            [Some("id" | "type" | "attributes")] | [Some("attributes"), Some(_)]
        )
    };
    match keys.as_slice() {
        [Some("id" | "attributes" | "message")] => true,
        [Some("message"), Some("content" | "format")] => true,
        [Some("attributes"), Some(f)] => matches!(
            *f,
            "time" | "action" | "actor" | "context" | "container" | "location" | "content"
        ),
        [Some("attributes"), Some("actor"), Some(f)] => {
            matches!(*f, "id" | "name" | "email" | "auth" | "onBehalfOf")
        }
        [Some("attributes"), Some("actor"), Some("auth"), ..] => true,
        [
            Some("attributes"),
            Some("actor"),
            Some("onBehalfOf"),
            Some(f),
        ] => {
            matches!(*f, "id" | "name" | "email")
        }
        [
            Some("attributes"),
            Some("context" | "container"),
            None,
            rest @ ..,
        ] => entity(rest),
        // A single entity where a list was expected is accepted, so its keys are read too.
        [Some("attributes"), Some("context" | "container"), rest @ ..] => entity(rest),
        [Some("attributes"), Some("location"), Some(f)] => {
            matches!(*f, "ip" | "geo" | "countryName" | "regionName" | "city")
        }
        [Some("attributes"), Some("content"), Some(f)] => matches!(
            *f,
            "objectType" | "objectId" | "title" | "body" | "containerKey" | "product" | "url"
        ),
        _ => false,
    }
}

/// Where a value sits: a borrowed chain up to the root.
struct Node<'p> {
    parent: Option<&'p Node<'p>>,
    seg: SegRef<'p>,
}

#[derive(Clone, Copy)]
enum SegRef<'p> {
    Key(&'p str),
    Index(usize),
}

fn owned_path(at: Option<&Node<'_>>, last: &str) -> Vec<Seg> {
    let mut path = vec![Seg::Key(last.to_string())];
    let mut cur = at;
    while let Some(n) = cur {
        path.push(match n.seg {
            SegRef::Key(k) => Seg::Key(k.to_string()),
            SegRef::Index(i) => Seg::Index(i),
        });
        cur = n.parent;
    }
    path.reverse();
    path
}

struct Seed<'a, 'p> {
    at: Option<&'p Node<'p>>,
    duplicates: &'a mut Vec<Vec<Seg>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            let node = Node {
                parent: self.at,
                seg: SegRef::Index(items.len()),
            };
            let seed = Seed {
                at: Some(&node),
                duplicates: &mut *self.duplicates,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => break,
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = if is_id_key(&key) {
                exact_id(map.next_value::<&RawValue>()?).map_err(serde::de::Error::custom)?
            } else {
                let node = Node {
                    parent: self.at,
                    seg: SegRef::Key(&key),
                };
                map.next_value_seed(Seed {
                    at: Some(&node),
                    duplicates: &mut *self.duplicates,
                })?
            };
            if out.contains_key(&key) {
                self.duplicates.push(owned_path(self.at, &key));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// An id's value: a number that is not an exact `i64`/`u64` as its exact text, anything else as parsed.
fn exact_id(raw: &RawValue) -> Result<Value, serde_json::Error> {
    let text = raw.get();
    let numeric = text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    if numeric && text.parse::<i64>().is_err() && text.parse::<u64>().is_err() {
        return Ok(Value::String(text.to_string()));
    }
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dups(s: &str) -> Vec<String> {
        parse(s.as_bytes())
            .map(|p| p.duplicates.iter().map(|d| path_text(d)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn same_value_as_serde_json() {
        let s = r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":"é\n","id":"e1","n":{"id":7}}"#;
        let p = parse(s.as_bytes()).expect("valid");
        assert_eq!(p.value, serde_json::from_str::<Value>(s).expect("valid"));
        assert!(p.duplicates.is_empty());
        assert!(parse(b"{\"a\":1} x").is_err());
        assert!(parse(b"{\"id\":01}").is_err());
    }

    #[test]
    fn duplicates_are_reported_with_their_path() {
        assert_eq!(
            dups(r#"{"attributes":{"time":"a","time":"b","context":[{},{"id":"x","id":"y"}]}}"#),
            ["attributes.time", "attributes.context[1].id"]
        );
        assert!(dups(r#"{"a":1,"b":2}"#).is_empty());
    }

    #[test]
    fn big_integer_ids_keep_their_text() {
        let p =
            parse(br#"{"id":18446744073709551617,"n":18446744073709551617,"o":{"objectId":5}}"#)
                .expect("valid");
        assert_eq!(p.value["id"], "18446744073709551617");
        assert_eq!(p.value["o"]["objectId"], 5);
        assert!(
            p.value["n"].is_f64(),
            "other numbers are left as serde_json reads them"
        );
    }

    #[test]
    fn read_fields() {
        let path = |s: &[&str]| -> Vec<Seg> {
            s.iter()
                .map(|x| match x.parse::<usize>() {
                    Ok(i) => Seg::Index(i),
                    Err(_) => Seg::Key((*x).to_string()),
                })
                .collect()
        };
        for read in [
            &["id"][..],
            &["attributes", "time"],
            &["attributes", "actor", "id"],
            &["attributes", "actor", "auth", "tokenLabel"],
            &["attributes", "context", "0", "attributes", "query"],
            &["attributes", "container", "id"],
            &["attributes", "content", "body"],
            &["message", "content"],
        ] {
            assert!(read_field(&path(read)), "{read:?}");
        }
        for unread in [
            &["type"][..],
            &["attributes", "note"],
            &["attributes", "context", "0", "attributes", "x", "y"],
            &["attributes", "actor", "nickname"],
            &["meta", "id"],
        ] {
            assert!(!read_field(&path(unread)), "{unread:?}");
        }
    }
}
