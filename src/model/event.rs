//! The normalised audit event: the Atlassian organizations audit-log shape, flattened to what vigil reads,
//! with every field it does not know kept in `extra` so that nothing an organization sends is lost.

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

impl AuditEvent {
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
}
