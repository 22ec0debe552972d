//! Jira Cloud: work items through the JQL search (`/rest/api/3/search/jql`, paged by `nextPageToken` until
//! `isLast`), oldest first, with summary, description, comments and project; the comments past those the
//! search embeds from the issue's comment list; the approximate count for the progress line's ETA.

use std::collections::HashSet;

use reqwest::Url;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::http::{Client, Site, Wait};
use super::{Field, Id, Item, PageOut, SiteScanError, malformed, text};

/// Every work item, oldest first: new items created during the scan come last instead of shifting pages.
/// The enhanced search refuses an unbounded query (`ORDER BY created ASC` alone: HTTP 400 "Unbounded JQL
/// queries are not allowed here"), so the query carries a restriction every work item meets.
pub(super) const JQL: &str = "created >= \"1970-01-01\" ORDER BY created ASC";

const FIELDS: &str = "summary,description,comment,project";

/// Comments read per work item at most; past it a work item is plainly a dump, and the scan goes on.
pub(super) const MAX_COMMENTS: usize = 5_000;

/// Comments asked for per request of an issue's comment list.
const COMMENTS_PER_REQUEST: usize = 100;

/// Longest `nextPageToken` accepted.
const MAX_TOKEN: usize = 4096;

#[derive(Deserialize)]
struct SearchPage {
    issues: Vec<Issue>,
    #[serde(rename = "nextPageToken", default)]
    next: Option<String>,
    #[serde(rename = "isLast", default)]
    is_last: Option<bool>,
}

#[derive(Deserialize)]
struct Issue {
    id: Id,
    key: String,
    #[serde(default)]
    fields: Option<Fields>,
}

#[derive(Deserialize, Default)]
struct Fields {
    #[serde(default)]
    summary: Option<String>,
    /// ADF kept as raw JSON: read by `text::adf_text`, whatever its depth.
    #[serde(default)]
    description: Option<Box<RawValue>>,
    #[serde(default)]
    comment: Option<CommentList>,
    #[serde(default)]
    project: Option<Project>,
}

#[derive(Deserialize, Default)]
struct CommentList {
    #[serde(default)]
    comments: Vec<Comment>,
    #[serde(default)]
    total: Option<u64>,
}

#[derive(Deserialize)]
struct Comment {
    id: Id,
    #[serde(default)]
    body: Option<Box<RawValue>>,
    #[serde(default)]
    author: Option<Author>,
}

#[derive(Deserialize)]
struct Author {
    #[serde(rename = "accountId", default)]
    account_id: Option<String>,
    #[serde(rename = "displayName", default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct Project {
    #[serde(default)]
    key: Option<String>,
}

#[derive(Deserialize)]
struct Count {
    count: u64,
}

/// The request for the page at `token`.
pub(super) fn page_url(site: &Site, token: Option<&str>, limit: u32) -> Url {
    let limit = limit.clamp(1, 100).to_string();
    let mut q = vec![
        ("jql", JQL),
        ("fields", FIELDS),
        ("maxResults", limit.as_str()),
    ];
    if let Some(t) = token {
        q.push(("nextPageToken", t));
    }
    site.endpoint("/rest/api/3/search/jql", &q)
}

/// How many work items the search will go through, when the site says (for the ETA); `None` otherwise.
pub(super) async fn approximate_count(
    client: &mut Client,
    site: &Site,
    on_wait: &mut dyn FnMut(&Wait),
) -> Option<u64> {
    let url = site.endpoint("/rest/api/3/search/approximate-count", &[]);
    let body = serde_json::json!({ "jql": JQL });
    match client.post_json(&url, &body, on_wait).await {
        Ok(b) => serde_json::from_slice::<Count>(&b).ok().map(|c| c.count),
        Err(e) => {
            tracing::info!(problem = %e, "no approximate count of work items; ETA unknown");
            None
        }
    }
}

/// Read one page of work items at `token`, with every comment (up to [`MAX_COMMENTS`]).
pub(super) async fn page(
    client: &mut Client,
    site: &Site,
    token: Option<&str>,
    limit: u32,
    on_wait: &mut dyn FnMut(&Wait),
) -> Result<PageOut, SiteScanError> {
    let url = page_url(site, token, limit);
    let body = client.get(&url, on_wait).await?;
    let page: SearchPage = serde_json::from_slice(&body).map_err(|e| malformed(&url, &e))?;
    drop(body);
    let next = if page.is_last == Some(true) {
        None
    } else {
        page.next.filter(|t| !t.is_empty())
    };
    if page.is_last == Some(false) && next.is_none() {
        // Taking this for the end could skip every work item after it.
        return Err(SiteScanError::Malformed {
            url: url.to_string(),
            why: "isLast is false but no nextPageToken came with it".into(),
        });
    }
    if next.as_ref().is_some_and(|t| t.len() > MAX_TOKEN) {
        return Err(SiteScanError::Malformed {
            url: url.to_string(),
            why: format!("the nextPageToken is longer than {MAX_TOKEN} bytes"),
        });
    }
    let mut items = Vec::with_capacity(page.issues.len());
    for issue in page.issues {
        items.push(item(client, site, issue, on_wait).await?);
    }
    Ok(PageOut { items, next })
}

async fn item(
    client: &mut Client,
    site: &Site,
    issue: Issue,
    on_wait: &mut dyn FnMut(&Wait),
) -> Result<Item, SiteScanError> {
    let id = issue.id.text();
    let fields = issue.fields.unwrap_or_default();
    let mut link_url = site.url.clone();
    if let Ok(mut segs) = link_url.path_segments_mut() {
        segs.clear().extend(["browse", issue.key.as_str()]);
    }
    let link = link_url.to_string();
    let title = fields.summary.unwrap_or_default();
    let container = fields
        .project
        .and_then(|p| p.key)
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| "-".to_string());
    let mut out = vec![
        Field {
            name: "summary".into(),
            text: title.clone(),
            link: None,
            author: None,
        },
        Field {
            name: "description".into(),
            text: fields
                .description
                .map(|d| text::adf_text(d.get()))
                .unwrap_or_default(),
            link: None,
            author: None,
        },
    ];
    let list = fields.comment.unwrap_or_default();
    let total = list.total.unwrap_or(0);
    let mut comments = list.comments;
    let mut seen: HashSet<String> = comments.iter().map(|c| c.id.text()).collect();
    if total > comments.len() as u64 && comments.len() < MAX_COMMENTS {
        more_comments(client, site, &id, total, &mut comments, &mut seen, on_wait).await?;
    }
    for c in comments.into_iter().take(MAX_COMMENTS) {
        let cid = c.id.text();
        let mut curl = link_url.clone();
        curl.query_pairs_mut().append_pair("focusedCommentId", &cid);
        let author = c
            .author
            .and_then(|a| a.account_id.map(|id| (id, a.display_name)));
        out.push(Field {
            name: format!("comment:{cid}"),
            text: c.body.map(|b| text::adf_text(b.get())).unwrap_or_default(),
            link: Some(curl.to_string()),
            author,
        });
    }
    Ok(Item {
        app: "jira",
        id,
        container,
        title,
        link,
        author: None,
        fields: out,
    })
}

#[derive(Deserialize)]
struct CommentPage {
    #[serde(default)]
    comments: Vec<Comment>,
}

/// The comments past the ones the search embedded, from the issue's comment list, until `total`, an empty
/// page, or [`MAX_COMMENTS`].
async fn more_comments(
    client: &mut Client,
    site: &Site,
    issue_id: &str,
    total: u64,
    comments: &mut Vec<Comment>,
    seen: &mut HashSet<String>,
    on_wait: &mut dyn FnMut(&Wait),
) -> Result<(), SiteScanError> {
    let mut start = comments.len();
    // A server that ignores startAt (or claims a total it never gives) ends the reading: a page that adds no
    // comment, or more requests than MAX_COMMENTS could need.
    let mut requests = 0;
    while (start as u64) < total
        && comments.len() < MAX_COMMENTS
        && requests <= MAX_COMMENTS / COMMENTS_PER_REQUEST
    {
        requests += 1;
        let mut url = site.url.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.clear()
                .extend(["rest", "api", "3", "issue", issue_id, "comment"]);
        }
        url.query_pairs_mut()
            .append_pair("startAt", &start.to_string())
            .append_pair("maxResults", &COMMENTS_PER_REQUEST.to_string());
        let body = client.get(&url, on_wait).await?;
        let page: CommentPage = serde_json::from_slice(&body).map_err(|e| malformed(&url, &e))?;
        if page.comments.is_empty() {
            break;
        }
        start += page.comments.len();
        let before = comments.len();
        for c in page.comments {
            if seen.insert(c.id.text()) {
                comments.push(c);
            }
        }
        if comments.len() == before {
            break;
        }
    }
    Ok(())
}
