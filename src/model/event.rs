//! The normalised audit event: the Atlassian organizations audit-log shape, flattened to what vigil reads,
//! with every field it does not know kept in `extra` so that nothing an organization sends is lost.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One audit-log event after validation. Times are UTC with millisecond precision because the store keys
/// events by event-time milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Event identity (`id`); the same id twice is stored once. Synthesised from the raw bytes when absent.
    pub id: String,
    /// `attributes.time`: event time, the only clock detections ever see.
    pub time: DateTime<Utc>,
    /// `attributes.action`: the audit action key, before alias mapping.
    pub action: String,
    /// `attributes.actor`: who did it.
    pub actor: Actor,
    /// `attributes.context`: the objects acted upon (users, groups, search queries…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<Entity>,
    /// `attributes.container`: where it happened (sites, orgs, spaces, projects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container: Vec<Entity>,
    /// `attributes.location`: network origin, with coordinates parsed when `geo` is numeric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// `attributes.content`: vigil's extension carrying text for content scanning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// `message`: the human-readable summary the source gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// Fields vigil does not model, keyed by their JSON path (`type`, `attributes.foo`…), kept verbatim.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// Secrets the content scanners found in this event before its text was redacted for storage: their
    /// redacted form and keyed fingerprint only. Stored with the event so that re-detection from the store
    /// (after out-of-order arrival or a crash) raises the same content alerts without the secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<crate::model::ContentMatch>,
}

/// The person or token behind an event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// Atlassian account id; required, the key of every per-actor window and index.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `auth` object as sent (authType, tokenId, tokenLabel…): kept as JSON because its keys vary by auth kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Value>,
    /// Set when an admin or app acted on behalf of someone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<Party>,
}

/// A named account referenced by an event (on-behalf-of).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Party {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A JSON:API style `{id, type, attributes}` reference, used for both context and container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

impl Entity {
    /// A string attribute, if present; used to read site names, space keys and search queries.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }
}

/// Where the request came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// `geo` exactly as sent ("lat,long" when numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<String>,
    /// Parsed from `geo` when it holds two numbers in range; impossible-travel needs them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
}

/// Text written into a product (page, blogpost, issue, comment, AI prompt) that content scanning reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Space or project key; exclusions by container match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `message` of the event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// Where a string of an event sits, for content scanning: `title` and `body` for the content's text, else a
/// dotted path naming the field (`message`, `actor.name`, `location.city`, `context`, `extra`) with `key`, the
/// innermost JSON key, for strings inside kept JSON (entity attributes, `actor.auth`, unknown fields).
/// Borrowed and `Copy` so that walking an event's strings allocates nothing; its `Display` builds the name
/// only when something was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextField<'a> {
    /// The modelled field, or the part of the event the JSON lives in.
    pub path: &'static str,
    /// For strings inside JSON: the key they sit under (array items: their array's key).
    pub key: Option<&'a str>,
}

impl TextField<'_> {
    /// Whether this is the content's title or body: the text written into a product, which every scanner
    /// reads (custom terms and e-mail counts included); other fields are searched for secrets only.
    pub fn is_content_text(&self) -> bool {
        self.key.is_none() && matches!(self.path, "title" | "body")
    }
}

impl fmt::Display for TextField<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key {
            Some(k) => write!(f, "{}.{k}", self.path),
            None => f.write_str(self.path),
        }
    }
}

const fn field(path: &'static str) -> TextField<'static> {
    TextField { path, key: None }
}

/// Calls `f` on every string inside `v`, each labelled with `path` and the key it sits under.
fn json_text<'a>(
    v: &'a Value,
    path: &'static str,
    key: Option<&'a str>,
    f: &mut impl FnMut(TextField<'a>, &'a str),
) {
    match v {
        Value::String(s) => f(TextField { path, key }, s),
        Value::Array(items) => items.iter().for_each(|i| json_text(i, path, key, f)),
        Value::Object(m) => m.iter().for_each(|(k, i)| json_text(i, path, Some(k), f)),
        _ => {}
    }
}

/// [`json_text`] for editing in place.
fn json_text_mut(
    v: &mut Value,
    path: &'static str,
    key: Option<&str>,
    f: &mut impl FnMut(TextField<'_>, &mut String),
) {
    match v {
        Value::String(s) => f(TextField { path, key }, s),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| json_text_mut(i, path, key, f)),
        Value::Object(m) => m
            .iter_mut()
            .for_each(|(k, i)| json_text_mut(i, path, Some(k), f)),
        _ => {}
    }
}

impl AuditEvent {
    /// Every string of the event that is stored, each with where it sits: content, message, actor (name,
    /// e-mail, auth, on-behalf-of), context and container entities, location and the unknown fields kept in
    /// `extra`, recursively. Not the identity fields the store keys and indexes on (event id, actor id,
    /// action): content scanning reads and redacts what this yields, and must not change an event's identity.
    pub fn visit_text<'a>(&'a self, mut f: impl FnMut(TextField<'a>, &'a str)) {
        let mut opt = |label: TextField<'a>, s: &'a Option<String>| {
            if let Some(s) = s {
                f(label, s);
            }
        };
        if let Some(c) = &self.content {
            opt(field("title"), &c.title);
            opt(field("body"), &c.body);
            opt(field("content.objectType"), &c.object_type);
            opt(field("content.objectId"), &c.object_id);
            opt(field("content.containerKey"), &c.container_key);
            opt(field("content.product"), &c.product);
            opt(field("content.url"), &c.url);
        }
        if let Some(m) = &self.message {
            opt(field("message"), &m.content);
            opt(field("message.format"), &m.format);
        }
        let a = &self.actor;
        opt(field("actor.name"), &a.name);
        opt(field("actor.email"), &a.email);
        if let Some(p) = &a.on_behalf_of {
            opt(field("actor.onBehalfOf.id"), &p.id);
            opt(field("actor.onBehalfOf.name"), &p.name);
            opt(field("actor.onBehalfOf.email"), &p.email);
        }
        for (path, list) in [("context", &self.context), ("container", &self.container)] {
            for e in list {
                opt(
                    TextField {
                        path,
                        key: Some("id"),
                    },
                    &e.id,
                );
                opt(
                    TextField {
                        path,
                        key: Some("type"),
                    },
                    &e.kind,
                );
            }
        }
        if let Some(l) = &self.location {
            opt(field("location.ip"), &l.ip);
            opt(field("location.geo"), &l.geo);
            opt(field("location.countryName"), &l.country_name);
            opt(field("location.regionName"), &l.region_name);
            opt(field("location.city"), &l.city);
        }
        if let Some(auth) = &a.auth {
            json_text(auth, "actor.auth", None, &mut f);
        }
        for (path, list) in [("context", &self.context), ("container", &self.container)] {
            for e in list {
                e.attributes
                    .iter()
                    .for_each(|(k, v)| json_text(v, path, Some(k), &mut f));
            }
        }
        self.extra
            .iter()
            .for_each(|(k, v)| json_text(v, "extra", Some(k), &mut f));
    }

    /// [`AuditEvent::visit_text`] for editing in place (redaction), over the same strings in the same order.
    pub fn visit_text_mut(&mut self, mut f: impl FnMut(TextField<'_>, &mut String)) {
        let mut opt = |label: TextField<'_>, s: &mut Option<String>| {
            if let Some(s) = s {
                f(label, s);
            }
        };
        if let Some(c) = &mut self.content {
            opt(field("title"), &mut c.title);
            opt(field("body"), &mut c.body);
            opt(field("content.objectType"), &mut c.object_type);
            opt(field("content.objectId"), &mut c.object_id);
            opt(field("content.containerKey"), &mut c.container_key);
            opt(field("content.product"), &mut c.product);
            opt(field("content.url"), &mut c.url);
        }
        if let Some(m) = &mut self.message {
            opt(field("message"), &mut m.content);
            opt(field("message.format"), &mut m.format);
        }
        let a = &mut self.actor;
        opt(field("actor.name"), &mut a.name);
        opt(field("actor.email"), &mut a.email);
        if let Some(p) = &mut a.on_behalf_of {
            opt(field("actor.onBehalfOf.id"), &mut p.id);
            opt(field("actor.onBehalfOf.name"), &mut p.name);
            opt(field("actor.onBehalfOf.email"), &mut p.email);
        }
        for (path, list) in [
            ("context", &mut self.context),
            ("container", &mut self.container),
        ] {
            for e in list.iter_mut() {
                opt(
                    TextField {
                        path,
                        key: Some("id"),
                    },
                    &mut e.id,
                );
                opt(
                    TextField {
                        path,
                        key: Some("type"),
                    },
                    &mut e.kind,
                );
            }
        }
        if let Some(l) = &mut self.location {
            opt(field("location.ip"), &mut l.ip);
            opt(field("location.geo"), &mut l.geo);
            opt(field("location.countryName"), &mut l.country_name);
            opt(field("location.regionName"), &mut l.region_name);
            opt(field("location.city"), &mut l.city);
        }
        if let Some(auth) = &mut self.actor.auth {
            json_text_mut(auth, "actor.auth", None, &mut f);
        }
        for (path, list) in [
            ("context", &mut self.context),
            ("container", &mut self.container),
        ] {
            for e in list.iter_mut() {
                e.attributes
                    .iter_mut()
                    .for_each(|(k, v)| json_text_mut(v, path, Some(k), &mut f));
            }
        }
        self.extra
            .iter_mut()
            .for_each(|(k, v)| json_text_mut(v, "extra", Some(k), &mut f));
    }

    /// Event time in Unix milliseconds, the unit of every window and store key.
    pub fn time_ms(&self) -> i64 {
        self.time.timestamp_millis()
    }

    /// The site the event happened on (first `sites` container's name or host), for alert context.
    pub fn site(&self) -> Option<&str> {
        self.container
            .iter()
            .find(|c| c.kind.as_deref() == Some("sites"))
            .and_then(|c| c.attr("siteName").or_else(|| c.attr("siteHostName")))
    }

    /// The product the event belongs to (from `content.product`, else a `product` container attribute).
    pub fn product(&self) -> Option<&str> {
        self.content
            .as_ref()
            .and_then(|c| c.product.as_deref())
            .or_else(|| self.container.iter().find_map(|c| c.attr("product")))
    }

    /// Space or project key the event touched: `content.containerKey`, else a space/project container's key.
    pub fn container_key(&self) -> Option<&str> {
        self.content
            .as_ref()
            .and_then(|c| c.container_key.as_deref())
            .or_else(|| {
                self.container
                    .iter()
                    .filter(|c| matches!(c.kind.as_deref(), Some("spaces" | "projects")))
                    .find_map(|c| c.attr("key").or(c.id.as_deref()))
            })
    }

    /// The object acted on: `content.objectId`, else the first context entity's id.
    pub fn object_id(&self) -> Option<&str> {
        self.content
            .as_ref()
            .and_then(|c| c.object_id.as_deref())
            .or_else(|| self.context.iter().find_map(|c| c.id.as_deref()))
    }

    /// Country the request came from, when the source resolved it.
    pub fn country(&self) -> Option<&str> {
        self.location
            .as_ref()
            .and_then(|l| l.country_name.as_deref())
    }

    /// Where the request came from as (latitude, longitude): `latitude`/`longitude`, else `geo` as
    /// "lat,long"; `None` when absent or outside the globe (a hostile `geo` cannot make a distance).
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        let l = self.location.as_ref()?;
        let (lat, lon) = match (l.latitude, l.longitude) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                let (a, b) = l.geo.as_deref()?.split_once(',')?;
                (a.trim().parse().ok()?, b.trim().parse().ok()?)
            }
        };
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
    }

    /// What the event was about, in the words an analyst reads: the content's title, else a search's query,
    /// else the name of the user, app or setting concerned (a granted admin's name, not their id), else the
    /// message, else the object's id. The timeline and the detail show it instead of a bare id.
    pub fn what(&self) -> Option<&str> {
        let nonempty = |s: &&str| !s.trim().is_empty();
        self.content
            .as_ref()
            .and_then(|c| c.title.as_deref())
            .filter(nonempty)
            .or_else(|| {
                SEARCH_QUERY_ATTRS
                    .iter()
                    .chain(NAME_ATTRS)
                    .find_map(|k| self.context.iter().find_map(|c| c.attr(k)).filter(nonempty))
            })
            .or_else(|| {
                self.message
                    .as_ref()
                    .and_then(|m| m.content.as_deref())
                    .filter(nonempty)
            })
            .or_else(|| self.object_id())
    }

    /// `Sydney, Australia`: the city and country the request came from, those that are known.
    pub fn city_and_country(&self) -> Option<String> {
        let l = self.location.as_ref()?;
        let parts: Vec<&str> = [l.city.as_deref(), l.country_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// The space (Confluence) or project (Jira) the event touched, with its word: `space OPS`.
    pub fn container_label(&self) -> Option<String> {
        let key = self.container_key()?;
        let word = match self.product().map(str::to_ascii_lowercase).as_deref() {
            Some(p) if p.contains("jira") => "project",
            Some(p) if p.contains("confluence") => "space",
            _ => match self.content.as_ref().and_then(|c| c.object_type.as_deref()) {
                Some("issue" | "comment_issue") => "project",
                _ => "space",
            },
        };
        Some(format!("{word} {key}"))
    }

    /// The event in one line of words: `ai_prompt_submitted on 'SLA design doc' in space OPS`. Raw outside
    /// text: a screen must sanitise it.
    pub fn describe(&self) -> String {
        let mut s = self.action.clone();
        if let Some(what) = self.what() {
            s.push_str(" on '");
            s.push_str(what);
            s.push('\'');
        }
        if let Some(c) = self.container_label() {
            s.push_str(" in ");
            s.push_str(&c);
        }
        s
    }

    /// The event's own link: the content URL when it has one.
    pub fn url(&self) -> Option<&str> {
        self.content
            .as_ref()
            .and_then(|c| c.url.as_deref())
            .filter(|u| !u.trim().is_empty())
    }

    /// The site's address (`https://acme.atlassian.net`) from a `sites` container's host name.
    pub fn site_url(&self) -> Option<String> {
        let host = self
            .container
            .iter()
            .find(|c| c.kind.as_deref() == Some("sites"))
            .and_then(|c| c.attr("siteHostName"))?
            .trim();
        if host.is_empty() {
            return None;
        }
        Some(if host.contains("://") {
            host.to_string()
        } else {
            format!("https://{host}")
        })
    }
}

/// Context attributes that may hold a search query, in the order they are read (the first is where the
/// Atlassian shape puts it). The sensitive-search detection reads them too.
pub const SEARCH_QUERY_ATTRS: &[&str] = &[
    "query",
    "searchQuery",
    "search_query",
    "cql",
    "jql",
    "text",
    "name",
];

/// Context attributes that name the user, app or setting an event was about, read after a search's query
/// by [`AuditEvent::what`].
pub const NAME_ATTRS: &[&str] = &["displayName", "email", "appName", "domain", "title"];

/// Great-circle distance on a spherical Earth (mean radius 6371 km): within 0.5% of the ellipsoid, plenty
/// for a 900 km/h threshold and for the detail's "km in h".
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().clamp(0.0, 1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(v: Value) -> AuditEvent {
        serde_json::from_value(v).expect("event")
    }

    #[test]
    fn what_an_event_was_about_in_words() {
        let base = serde_json::json!({"id": "e", "time": "2026-11-02T09:00:00Z", "action": "x",
            "actor": {"id": "a"}});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            parsed(b)
        };
        // A search: its query, not `-`.
        let search = with(
            "context",
            serde_json::json!([{"id": "q1", "type": "search", "attributes": {"query": "salary export"}}]),
        );
        assert_eq!(search.what(), Some("salary export"));
        // A granted admin: their name, not their id.
        let grant = with(
            "context",
            serde_json::json!([{"id": "5b10ac8d", "type": "users", "attributes": {"name": "Ana Lima", "email": "ana@x"}}]),
        );
        assert_eq!(grant.what(), Some("Ana Lima"));
        // A page: its title and space.
        let page = with(
            "content",
            serde_json::json!({"title": "SLA design doc", "container_key": "OPS", "product": "confluence", "object_id": "1"}),
        );
        assert_eq!(page.describe(), "x on 'SLA design doc' in space OPS");
        let issue = with(
            "content",
            serde_json::json!({"title": "Rotate keys", "container_key": "SEC", "product": "jira"}),
        );
        assert_eq!(issue.describe(), "x on 'Rotate keys' in project SEC");
        // Only an id: the id; nothing at all: just the action.
        let bare = with("context", serde_json::json!([{"id": "only-id"}]));
        assert_eq!(bare.what(), Some("only-id"));
        assert_eq!(parsed(base).describe(), "x");
    }

    /// Strings in a serialized event, but the identity fields and the time.
    fn stored_strings(v: &Value, top: bool, out: &mut usize) {
        match v {
            Value::String(_) => *out += 1,
            Value::Array(items) => items.iter().for_each(|i| stored_strings(i, false, out)),
            Value::Object(m) => {
                for (k, i) in m {
                    if top && matches!(k.as_str(), "id" | "time" | "action") {
                        continue;
                    }
                    stored_strings(i, k == "actor", out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn text_walks_cover_every_stored_string_but_identity() {
        let s = || Some("text".to_string());
        let entity = || Entity {
            id: s(),
            kind: s(),
            attributes: serde_json::json!({"name": "n", "deep": {"list": ["a", 1, "b"]}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let mut e = AuditEvent {
            id: "e1".into(),
            time: DateTime::from_timestamp_millis(0).unwrap_or_default(),
            action: "page_created".into(),
            actor: Actor {
                id: "u1".into(),
                name: s(),
                email: s(),
                auth: Some(serde_json::json!({"authType": "api-token", "n": [{"x": "y"}]})),
                on_behalf_of: Some(Party {
                    id: s(),
                    name: s(),
                    email: s(),
                }),
            },
            context: vec![entity(), entity()],
            container: vec![entity()],
            location: Some(Location {
                ip: s(),
                geo: s(),
                latitude: Some(1.0),
                longitude: Some(2.0),
                country_name: s(),
                region_name: s(),
                city: s(),
            }),
            content: Some(Content {
                object_type: s(),
                object_id: s(),
                title: s(),
                body: s(),
                container_key: s(),
                product: s(),
                url: s(),
            }),
            message: Some(Message {
                content: s(),
                format: s(),
            }),
            extra: serde_json::json!({"type": "events", "attributes.x": {"y": ["z", {"w": "v"}]}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            secrets: Vec::new(),
        };
        let mut expected = 0;
        stored_strings(
            &serde_json::to_value(&e).unwrap_or_default(),
            true,
            &mut expected,
        );
        let mut seen = Vec::new();
        e.visit_text(|f, _| seen.push(f.to_string()));
        assert_eq!(seen.len(), expected, "{seen:?}");
        assert!(seen.contains(&"title".to_string()) && seen.contains(&"extra.w".to_string()));
        let mut seen_mut = Vec::new();
        e.visit_text_mut(|f, t| {
            seen_mut.push(f.to_string());
            t.push('!');
        });
        assert_eq!(
            seen, seen_mut,
            "both walks visit the same strings in the same order"
        );
        assert_eq!(e.id, "e1");
        assert_eq!(e.actor.id, "u1");
        assert_eq!(e.message.and_then(|m| m.content).as_deref(), Some("text!"));
    }
}
