//! Confluence Cloud REST v2: pages and blog posts with their storage-format bodies, paged by the cursor in
//! `_links.next`; space keys for the container column, asked for by id and kept for the run.

use std::collections::HashMap;

use reqwest::Url;
use serde::Deserialize;

use super::http::{Client, Site, Wait};
use super::{Field, Id, Item, PageOut, SiteScanError, malformed, text};

/// Longest cursor accepted from a `next` link.
const MAX_CURSOR: usize = 4096;

/// Space ids asked for in one request.
const SPACES_PER_REQUEST: usize = 100;

#[derive(Deserialize)]
struct ListPage {
    results: Vec<Doc>,
    #[serde(rename = "_links", default)]
    links: Option<Links>,
}

#[derive(Deserialize, Default)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Doc {
    id: Id,
    #[serde(default)]
    title: Option<String>,
    #[serde(rename = "spaceId", default)]
    space_id: Option<Id>,
    #[serde(rename = "authorId", default)]
    author_id: Option<String>,
    #[serde(default)]
    body: Option<DocBody>,
    #[serde(rename = "_links", default)]
    links: Option<DocLinks>,
}

#[derive(Deserialize, Default)]
struct DocBody {
    #[serde(default)]
    storage: Option<Storage>,
}

#[derive(Deserialize, Default)]
struct Storage {
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize, Default)]
struct DocLinks {
    #[serde(default)]
    webui: Option<String>,
}

#[derive(Deserialize)]
struct SpacesPage {
    #[serde(default)]
    results: Vec<Space>,
}

#[derive(Deserialize)]
struct Space {
    id: Id,
    #[serde(default)]
    key: Option<String>,
}

/// Pages or blog posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Pages,
    Blogposts,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Self::Pages => "/wiki/api/v2/pages",
            Self::Blogposts => "/wiki/api/v2/blogposts",
        }
    }
}

/// Space keys by id, for the run.
#[derive(Default)]
pub(super) struct Spaces {
    keys: HashMap<String, String>,
}

/// The request for a page of `kind`.
pub(super) fn page_url(site: &Site, kind: Kind, cursor: Option<&str>, limit: u32) -> Url {
    let limit = limit.clamp(1, 250).to_string();
    let mut q = vec![("body-format", "storage"), ("limit", limit.as_str())];
    if let Some(c) = cursor {
        q.push(("cursor", c));
    }
    site.endpoint(kind.path(), &q)
}

/// Read one page of `kind` at `cursor`, its items with their space keys resolved.
pub(super) async fn page(
    client: &mut Client,
    site: &Site,
    spaces: &mut Spaces,
    kind: Kind,
    cursor: Option<&str>,
    limit: u32,
    on_wait: &mut dyn FnMut(&Wait),
) -> Result<PageOut, SiteScanError> {
    let url = page_url(site, kind, cursor, limit);
    let body = client.get(&url, on_wait).await?;
    let page: ListPage = serde_json::from_slice(&body).map_err(|e| malformed(&url, &e))?;
    drop(body);
    let next = match page.links.and_then(|l| l.next).filter(|n| !n.is_empty()) {
        None => None,
        Some(link) => {
            let next = site.same_origin(&link, &url)?;
            let cursor = next
                .query_pairs()
                .find(|(k, _)| k == "cursor")
                .map(|(_, v)| v.into_owned())
                .filter(|c| !c.is_empty())
                .ok_or_else(|| SiteScanError::Malformed {
                    url: url.to_string(),
                    why: "the next link holds no cursor".into(),
                })?;
            if cursor.len() > MAX_CURSOR {
                return Err(SiteScanError::Malformed {
                    url: url.to_string(),
                    why: format!("the next cursor is longer than {MAX_CURSOR} bytes"),
                });
            }
            Some(cursor)
        }
    };
    let wanted: Vec<String> = page
        .results
        .iter()
        .filter_map(|d| d.space_id.as_ref().map(Id::text))
        .filter(|id| !spaces.keys.contains_key(id))
        .collect();
    spaces.resolve(client, site, wanted, on_wait).await?;
    let items = page
        .results
        .into_iter()
        .map(|d| item(site, spaces, d))
        .collect();
    Ok(PageOut { items, next })
}

fn item(site: &Site, spaces: &Spaces, d: Doc) -> Item {
    let id = d.id.text();
    let container = match d.space_id.as_ref().map(Id::text) {
        Some(sid) => spaces.keys.get(&sid).cloned().unwrap_or(sid),
        None => "-".to_string(),
    };
    let link = match d.links.and_then(|l| l.webui) {
        Some(w) if w.starts_with('/') && !w.starts_with("//") => format!("{}/wiki{w}", site.base),
        // Confluence opens pages and blog posts alike by content id.
        _ => format!("{}/wiki/pages/viewpage.action?pageId={id}", site.base),
    };
    let title = d.title.unwrap_or_default();
    let body = d
        .body
        .and_then(|b| b.storage)
        .and_then(|s| s.value)
        .unwrap_or_default();
    let author = d.author_id.map(|a| (a, None));
    Item {
        app: "confluence",
        id,
        container,
        link,
        fields: vec![
            Field {
                name: "title".into(),
                text: title.clone(),
                link: None,
                author: author.clone(),
            },
            Field {
                name: "body".into(),
                text: text::storage_text(&body),
                link: None,
                author: author.clone(),
            },
        ],
        title,
        author,
    }
}

impl Spaces {
    /// Ask for the keys of `ids` not known yet; ids the site does not return are shown as they are.
    async fn resolve(
        &mut self,
        client: &mut Client,
        site: &Site,
        mut ids: Vec<String>,
        on_wait: &mut dyn FnMut(&Wait),
    ) -> Result<(), SiteScanError> {
        ids.sort();
        ids.dedup();
        // Only plain ids go into a query; anything else is shown as given.
        let (plain, odd): (Vec<String>, Vec<String>) = ids.into_iter().partition(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        for id in odd {
            self.keys.insert(id.clone(), id);
        }
        for chunk in plain.chunks(SPACES_PER_REQUEST) {
            let joined = chunk.join(",");
            let url = site.endpoint("/wiki/api/v2/spaces", &[("ids", &joined), ("limit", "250")]);
            let body = client.get(&url, on_wait).await?;
            let page: SpacesPage =
                serde_json::from_slice(&body).map_err(|e| malformed(&url, &e))?;
            for s in page.results {
                if let Some(key) = s.key.filter(|k| !k.is_empty()) {
                    self.keys
                        .insert(s.id.text(), crate::model::text::truncate(&key, 100));
                }
            }
            for id in chunk {
                self.keys.entry(id.clone()).or_insert_with(|| id.clone());
            }
        }
        Ok(())
    }
}
