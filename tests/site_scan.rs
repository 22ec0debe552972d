//! `vigil scan --site` against a local fake of Atlassian Cloud (axum on 127.0.0.1:0, on a runtime of its own)
//! that pages the way the real APIs do: Confluence REST v2 pages and blog posts with `_links.next` cursors,
//! spaces by id, Jira's JQL search with `nextPageToken`/`isLast`, an issue's further comments, and the
//! approximate count. It checks HTTP Basic auth, rate-limits once with 429 + `Retry-After: 1`, and misbehaves
//! on request: a `next` link to another host, a cursor that repeats, a page that is not JSON, a request that
//! never answers (the test kills the scan there and resumes it).
//!
//! 10,000 items in all, with planted secrets of several scanners in every place text lives (titles, storage
//! bodies split by `<span>`, escaped with entities or inside CDATA, ADF split over text nodes, comments past
//! the first page of comments) and decoys the scanners must not report.
//!
//! `cargo test --release --test site_scan -- --ignored --nocapture` prints the items/s figure.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

const USER: &str = "scanner@acme.example";
const TOKEN: &str = "ATATT-site-scan-test-token-0123456789";
const TOKEN_ENV: &str = "VIGIL_TEST_SITE_TOKEN";
const KEY_ENV: &str = "VIGIL_TEST_FP_KEY";
/// Comments Jira embeds in a search result; more are read from the issue's comment endpoint.
const EMBEDDED_COMMENTS: usize = 20;

// ------------------------------------------------------------------------------------------ the content

/// xorshift64*: deterministic plants and filler.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const WORDS: &[&str] = &[
    "the",
    "deploy",
    "notes",
    "for",
    "release",
    "service",
    "account",
    "customer",
    "report",
    "review",
    "please",
    "meeting",
    "agenda",
    "roadmap",
    "quarter",
    "budget",
    "team",
    "sprint",
    "backlog",
    "design",
    "draft",
    "approved",
    "migration",
    "database",
    "cluster",
    "runbook",
    "incident",
    "summary",
    "owner",
    "status",
    "update",
    "ticket",
    "support",
    "vendor",
    "contract",
    "plan",
    "launch",
    "metrics",
    "goal",
];

fn prose(rng: &mut Rng, words: usize) -> String {
    (0..words)
        .map(|_| WORDS[rng.below(WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn luhn_complete(prefix: &str) -> String {
    (0..10)
        .map(|d| format!("{prefix}{d}"))
        .find(|s| {
            let sum: u32 = s
                .bytes()
                .rev()
                .enumerate()
                .map(|(i, c)| {
                    let v = u32::from(c - b'0');
                    if i % 2 == 1 {
                        (v * 2) / 10 + (v * 2) % 10
                    } else {
                        v
                    }
                })
                .sum();
            sum.is_multiple_of(10)
        })
        .unwrap()
}

fn gb_iban(rng: &mut Rng) -> String {
    let bban = format!("WEST1{}", rng.chars(b"0123456789", 13));
    (2..99)
        .map(|cd| format!("GB{cd:02}{bban}"))
        .find(|s| {
            let moved = format!("{}{}", &s[4..], &s[..4]);
            moved.chars().fold(0u32, |r, c| {
                let v = c.to_digit(36).unwrap();
                if v >= 10 {
                    (r * 100 + v) % 97
                } else {
                    (r * 10 + v) % 97
                }
            }) == 1
        })
        .unwrap()
}

/// The scanners planted, with what each plant's text looks like.
const KINDS: &[&str] = &[
    "aws-access-key-id",
    "github-token",
    "private-key",
    "payment-card",
    "iban",
    "us-ssn",
    "stripe-live-key",
    "google-api-key",
    "slack-webhook",
    "custom:project-falcon",
];

/// A secret of `kind` and the sentence around it, split in three: before, the secret, after. Multi-line only
/// for private keys.
fn plant_text(kind: &str, rng: &mut Rng) -> (String, String, String) {
    match kind {
        "aws-access-key-id" => (
            "migration job key ".into(),
            format!("AKIA{}", rng.chars(UPPER32, 16)),
            " remove after cut-over".into(),
        ),
        "github-token" => (
            "deploy bot token ".into(),
            format!("ghp_{}", rng.chars(ALNUM, 36)),
            " until the app is approved".into(),
        ),
        "private-key" => {
            let mut block = String::from("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA");
            block.push_str(&rng.chars(B64, 48));
            for _ in 0..6 {
                block.push('\n');
                block.push_str(&rng.chars(B64, 64));
            }
            block.push_str("\n-----END RSA PRIVATE KEY-----");
            ("the build box key:\n".into(), block, "\nthanks".into())
        }
        "payment-card" => {
            let pan = luhn_complete(&format!("4539{}", rng.chars(b"0123456789", 11)));
            (
                "corporate card ".into(),
                format!(
                    "{} {} {} {}",
                    &pan[..4],
                    &pan[4..8],
                    &pan[8..12],
                    &pan[12..]
                ),
                " expiry 09/28".into(),
            )
        }
        "iban" => (
            "wire the deposit to ".into(),
            gb_iban(rng),
            " this month".into(),
        ),
        "us-ssn" => {
            let area = 100 + rng.below(500);
            let group = 10 + rng.below(80);
            let serial = 1000 + rng.below(8000);
            (
                "Employee SSN: ".into(),
                format!("{area:03}-{group:02}-{serial:04}"),
                " for the benefits form".into(),
            )
        }
        "stripe-live-key" => (
            "STRIPE_KEY=".into(),
            format!("sk_live_{}", rng.chars(ALNUM, 24)),
            " in prod".into(),
        ),
        "google-api-key" => (
            "maps key ".into(),
            format!("AIza{}", rng.chars(ALNUM, 35)),
            " for the store locator".into(),
        ),
        "slack-webhook" => (
            "alerts go to https://".into(),
            format!(
                "hooks.slack.com/services/T{}/B{}/{}",
                rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
                rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
                rng.chars(ALNUM, 24)
            ),
            " now".into(),
        ),
        _ => (
            "see the ".into(),
            format!("falcon roadmap {}", rng.below(1000)),
            " before Friday".into(),
        ),
    }
}

/// Near-misses every scanner must stay quiet on.
const DECOYS: &[&str] = &[
    "card 4539 1488 0343 6468 (Luhn fails)",
    "test cards 4111 1111 1111 1111 and 4242424242424242",
    "AKIAIOSFODNN7EXAMPLE is the documented example id",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "set GITHUB_TOKEN to ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "SLACK_TOKEN=xoxb-your-token-here",
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "SSN: 123-45-6789 is a placeholder",
    "ticket 536-22-8417 has no keyword",
    "SSN: 078-05-1120",
    "IBAN DE89 3704 0044 0532 0130 00 from the docs",
    "password = \"changeme\"",
    "STRIPE_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
    "request id 2508d209-3336-4763-89a0-aceaf1322fcf",
];

/// Where a plant is put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    PageTitle,
    /// Storage body, the secret split by `<span>`/`<strong>` tags.
    PageSpan,
    /// Storage body, the secret's first character written as a numeric entity, `&amp;` around it.
    PageEntity,
    /// Inside a code macro's CDATA.
    PageCdata,
    BlogBody,
    IssueSummary,
    /// ADF description, the secret split over two text nodes (the second one bold).
    IssueDescription,
    IssueComment,
    /// A comment past the ones the search embeds.
    LateComment,
}

const PLACES: &[Place] = &[
    Place::PageTitle,
    Place::PageSpan,
    Place::PageEntity,
    Place::PageCdata,
    Place::BlogBody,
    Place::IssueSummary,
    Place::IssueDescription,
    Place::IssueComment,
    Place::LateComment,
];

#[derive(Clone, Debug)]
struct Doc {
    id: String,
    title: String,
    space: usize,
    body: String,
    webui: String,
}

#[derive(Clone, Debug)]
struct Issue {
    id: String,
    key: String,
    project: String,
    summary: String,
    /// Raw JSON: a test may make it deeper than any JSON library would build or print recursively.
    description: String,
    comments: Vec<(String, Value)>,
}

/// A plant: which scanner must find it, and the item's link as the output must give it (rows are matched
/// to plants on it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Plant {
    link: String,
    detection: String,
    secret: String,
}

const SPACES: &[(&str, &str, &str)] = &[
    ("65537", "ENG", "Engineering"),
    ("65538", "OPS", "Operations"),
    ("65539", "FIN", "Finance"),
    ("65540", "HR", "People"),
];
const PROJECTS: &[&str] = &["SEC", "OPS", "WEB", "APP"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn adf_doc(blocks: Vec<Value>) -> Value {
    json!({"type": "doc", "version": 1, "content": blocks})
}

fn adf_para(nodes: Vec<Value>) -> Value {
    json!({"type": "paragraph", "content": nodes})
}

fn adf_text(t: &str) -> Value {
    json!({"type": "text", "text": t})
}

fn adf_lines(text: &str) -> Value {
    // A multi-line text the way the editor stores it: text nodes with hard breaks between them.
    let mut nodes = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            nodes.push(json!({"type": "hardBreak"}));
        }
        if !line.is_empty() {
            nodes.push(adf_text(line));
        }
    }
    adf_para(nodes)
}

/// Storage body for text that may be multi-line: lines separated by `<br/>` inside a `<p>`.
fn storage_lines(text: &str) -> String {
    format!(
        "<p>{}</p>",
        text.split('\n').map(esc).collect::<Vec<_>>().join("<br/>")
    )
}

struct Site {
    pages: Vec<Doc>,
    blogs: Vec<Doc>,
    issues: Vec<Issue>,
    plants: Vec<Plant>,
}

/// `pages + blogs + issues` items, `n_plants` plants spread over them, decoys every 37th item.
fn make_site(base: &str, pages: usize, blogs: usize, issues: usize, n_plants: usize) -> Site {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut site = Site {
        pages: Vec::new(),
        blogs: Vec::new(),
        issues: Vec::new(),
        plants: Vec::new(),
    };
    for i in 0..pages {
        let id = (1_000_000 + i).to_string();
        let space = i % SPACES.len();
        let mut body = format!("<h1>Notes</h1><p>{}</p>", esc(&prose(&mut rng, 30)));
        if i % 37 == 5 {
            body.push_str(&storage_lines(DECOYS[i % DECOYS.len()]));
        }
        body.push_str(&format!("<ul><li>{}</li></ul>", esc(&prose(&mut rng, 8))));
        site.pages.push(Doc {
            title: format!("Page {id} {}", prose(&mut rng, 3)),
            webui: format!("/spaces/{}/pages/{id}/Page+{id}", SPACES[space].1),
            id,
            space,
            body,
        });
    }
    for i in 0..blogs {
        let id = (2_000_000 + i).to_string();
        let space = (i + 1) % SPACES.len();
        let mut body = format!("<p>{}</p>", esc(&prose(&mut rng, 40)));
        if i % 37 == 11 {
            body.push_str(&storage_lines(DECOYS[(i + 3) % DECOYS.len()]));
        }
        site.blogs.push(Doc {
            title: format!("Post {id}"),
            webui: format!("/spaces/{}/blog/2026/01/05/{id}/Post+{id}", SPACES[space].1),
            id,
            space,
            body,
        });
    }
    let mut descriptions: Vec<Value> = Vec::new();
    for i in 0..issues {
        let project = PROJECTS[i % PROJECTS.len()];
        let key = format!("{project}-{}", i + 1);
        let mut blocks = vec![adf_para(vec![adf_text(&prose(&mut rng, 25))])];
        if i % 37 == 17 {
            blocks.push(adf_lines(DECOYS[(i + 7) % DECOYS.len()]));
        }
        let comments = (0..(i % 3))
            .map(|c| {
                (
                    format!("{}", 50_000_000 + i * 100 + c),
                    adf_doc(vec![adf_para(vec![adf_text(&prose(&mut rng, 12))])]),
                )
            })
            .collect();
        descriptions.push(adf_doc(blocks));
        site.issues.push(Issue {
            id: (3_000_000 + i).to_string(),
            key,
            project: project.to_string(),
            summary: format!("Work item {} {}", i + 1, prose(&mut rng, 4)),
            description: String::new(),
            comments,
        });
    }
    // Plants: kind and place rotate independently; each lands on an item of its own.
    for p in 0..n_plants {
        let kind = KINDS[p % KINDS.len()];
        let mut place = PLACES[(p * 4 + p / KINDS.len()) % PLACES.len()];
        let multiline = kind == "private-key";
        if multiline && place == Place::PageTitle {
            place = Place::PageCdata;
        }
        if multiline && place == Place::IssueSummary {
            place = Place::IssueComment;
        }
        let (before, secret, after) = plant_text(kind, &mut rng);
        let whole = format!("{before}{secret}{after}");
        let slot = 3 + p * 53;
        let detection = kind.to_string();
        let link = match place {
            Place::PageTitle | Place::PageSpan | Place::PageEntity | Place::PageCdata => {
                let d = &mut site.pages[slot % pages];
                match place {
                    Place::PageTitle => d.title = format!("{} {whole}", d.title),
                    Place::PageSpan => {
                        let cut = secret.len() / 2;
                        d.body.push_str(&format!(
                            "<p>{}<span>{}</span><strong>{}</strong>{}</p>",
                            esc(&before),
                            esc(&secret[..cut]),
                            esc(&secret[cut..]),
                            esc(&after)
                        ));
                    }
                    Place::PageEntity => {
                        let first = secret.chars().next().unwrap();
                        let rest = &secret[first.len_utf8()..];
                        let body = if multiline {
                            storage_lines(&format!("{before}{secret}{after}"))
                                .replacen(&esc(&secret[..1]), &format!("&#{};", first as u32), 1)
                        } else {
                            format!(
                                "<p>R&amp;D: {}&#{};{}{}</p>",
                                esc(&before),
                                first as u32,
                                esc(rest),
                                esc(&after)
                            )
                        };
                        d.body.push_str(&body);
                    }
                    _ => d.body.push_str(&format!(
                        "<ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[{whole}]]></ac:plain-text-body></ac:structured-macro>"
                    )),
                }
                format!("{base}/wiki{}", d.webui)
            }
            Place::BlogBody => {
                let d = &mut site.blogs[slot % blogs];
                d.body.push_str(&storage_lines(&whole));
                format!("{base}/wiki{}", d.webui)
            }
            Place::IssueSummary
            | Place::IssueDescription
            | Place::IssueComment
            | Place::LateComment => {
                let idx = slot % issues;
                let is = &mut site.issues[idx];
                match place {
                    Place::IssueSummary => {
                        is.summary = format!("{} {whole}", is.summary);
                        format!("{base}/browse/{}", is.key)
                    }
                    Place::IssueDescription => {
                        let node = if multiline {
                            adf_lines(&whole)
                        } else {
                            let cut = secret.len() / 2;
                            adf_para(vec![
                                adf_text(&format!("{before}{}", &secret[..cut])),
                                json!({"type": "text", "text": format!("{}{after}", &secret[cut..]), "marks": [{"type": "strong"}]}),
                            ])
                        };
                        descriptions[idx]["content"]
                            .as_array_mut()
                            .unwrap()
                            .push(node);
                        format!("{base}/browse/{}", is.key)
                    }
                    Place::IssueComment => {
                        let cid = format!("{}", 60_000_000 + idx * 100);
                        let node = if multiline {
                            json!({"type": "codeBlock", "content": [adf_text(&whole)]})
                        } else {
                            adf_para(vec![adf_text(&whole)])
                        };
                        is.comments.push((cid.clone(), adf_doc(vec![node])));
                        format!("{base}/browse/{}?focusedCommentId={cid}", is.key)
                    }
                    _ => {
                        // Pad to more comments than the search embeds, then plant in a late one.
                        while is.comments.len() < EMBEDDED_COMMENTS + 2 {
                            let n = is.comments.len();
                            is.comments.push((
                                format!("{}", 70_000_000 + idx * 100 + n),
                                adf_doc(vec![adf_para(vec![adf_text("+1 looks good")])]),
                            ));
                        }
                        let cid = format!("{}", 70_000_000 + idx * 100 + 99);
                        is.comments
                            .push((cid.clone(), adf_doc(vec![adf_lines(&whole)])));
                        format!("{base}/browse/{}?focusedCommentId={cid}", is.key)
                    }
                }
            }
        };
        site.plants.push(Plant {
            link,
            detection,
            secret,
        });
    }
    for (is, d) in site.issues.iter_mut().zip(descriptions) {
        is.description = d.to_string();
    }
    site
}

// ------------------------------------------------------------------------------------------ the fake

#[derive(Default)]
struct Tricks {
    /// List request (1-based, counted over every list endpoint) answered 429 `Retry-After: 1`, once.
    too_many_at: Option<usize>,
    /// List request that never answers (the test kills the scan while it waits).
    hang_at: Option<usize>,
    /// Confluence pages request whose `_links.next` is an absolute link to another host.
    foreign_next_at: Option<usize>,
    /// Confluence pages request whose next cursor is the one it was asked with.
    loop_at: Option<usize>,
    /// List request answered 200 with a body that is not JSON.
    bad_json_at: Option<usize>,
    /// Every work item claims this many comments, and the comment list ignores `startAt`.
    comments_lie: Option<usize>,
    /// The last search page says `isLast: false` and gives no token.
    last_not_last: bool,
}

struct Fake {
    base: String,
    site: Site,
    tricks: Tricks,
    list_requests: usize,
    pages_requests: usize,
    unauthorized: usize,
    too_many_sent: Option<Instant>,
    /// When the request after the 429 came.
    after_too_many: Option<Instant>,
    hung: bool,
    comment_requests: usize,
    space_requests: usize,
    /// `limit` of every Confluence list request.
    limits: Vec<usize>,
}

type Shared = Arc<Mutex<Fake>>;

fn authorized(headers: &HeaderMap) -> bool {
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"))
    );
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
}

/// Auth and the tricks every list request is subject to; `Some` is the answer to give instead.
async fn list_gate(fake: &Shared, headers: &HeaderMap) -> Option<Response> {
    let hang = {
        let mut f = fake.lock().unwrap();
        if !authorized(headers) {
            f.unauthorized += 1;
            return Some(
                (StatusCode::UNAUTHORIZED, "{\"message\":\"Unauthorized\"}").into_response(),
            );
        }
        f.list_requests += 1;
        let n = f.list_requests;
        if f.too_many_sent.is_some() && f.after_too_many.is_none() {
            f.after_too_many = Some(Instant::now());
        }
        if f.tricks.too_many_at == Some(n) {
            f.too_many_sent = Some(Instant::now());
            return Some(
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "1")],
                    "rate limited",
                )
                    .into_response(),
            );
        }
        if f.tricks.bad_json_at == Some(n) {
            return Some(
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    "<html>oops</html>",
                )
                    .into_response(),
            );
        }
        let hang = f.tricks.hang_at == Some(n);
        if hang {
            f.hung = true;
        }
        hang
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    None
}

fn offset(cursor: Option<&String>, prefix: char) -> Option<usize> {
    match cursor {
        None => Some(0),
        Some(c) => c.strip_prefix(prefix)?.parse().ok(),
    }
}

async fn confluence_list(
    fake: Shared,
    headers: HeaderMap,
    q: HashMap<String, String>,
    blog: bool,
) -> Response {
    if let Some(r) = list_gate(&fake, &headers).await {
        return r;
    }
    let mut f = fake.lock().unwrap();
    if q.get("body-format").map(String::as_str) != Some("storage") {
        return (StatusCode::BAD_REQUEST, "body-format=storage expected").into_response();
    }
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25)
        .clamp(1, 250);
    let prefix = if blog { 'b' } else { 'p' };
    let Some(start) = offset(q.get("cursor"), prefix) else {
        return (StatusCode::BAD_REQUEST, "bad cursor").into_response();
    };
    f.limits.push(limit);
    let request_no = if blog {
        0
    } else {
        f.pages_requests += 1;
        f.pages_requests
    };
    let docs = if blog { &f.site.blogs } else { &f.site.pages };
    let end = (start + limit).min(docs.len());
    let results: Vec<Value> = docs[start.min(end)..end]
        .iter()
        .map(|d| {
            json!({
                "id": d.id, "status": "current", "title": d.title, "spaceId": SPACES[d.space].0,
                "authorId": "557058:author", "createdAt": "2026-01-05T10:00:00.000Z",
                "version": {"number": 3},
                "body": {"storage": {"representation": "storage", "value": d.body}},
                "_links": {"webui": d.webui, "editui": format!("/pages/resumedraft.action?draftId={}", d.id), "tinyui": "/x/AbC"}
            })
        })
        .collect();
    let path = if blog { "blogposts" } else { "pages" };
    let mut links = json!({"base": format!("{}/wiki", f.base)});
    if end < docs.len() {
        let next_cursor = if !blog && f.tricks.loop_at == Some(request_no) {
            q.get("cursor").cloned().unwrap_or_else(|| "p0".into())
        } else {
            format!("{prefix}{end}")
        };
        let origin = if !blog && f.tricks.foreign_next_at == Some(request_no) {
            "https://evil.example.net".to_string()
        } else {
            String::new()
        };
        links["next"] = json!(format!(
            "{origin}/wiki/api/v2/{path}?cursor={next_cursor}&limit={limit}&body-format=storage"
        ));
    }
    drop(f);
    axum::Json(json!({"results": results, "_links": links})).into_response()
}

async fn pages(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    confluence_list(fake, headers, q, false).await
}

async fn blogposts(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    confluence_list(fake, headers, q, true).await
}

async fn spaces(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut f = fake.lock().unwrap();
    if !authorized(&headers) {
        f.unauthorized += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    f.space_requests += 1;
    let ids: BTreeSet<&str> = q
        .get("ids")
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    let results: Vec<Value> = SPACES
        .iter()
        .filter(|(id, _, _)| ids.is_empty() || ids.contains(id))
        .map(|(id, key, name)| json!({"id": id, "key": key, "name": name, "type": "global"}))
        .collect();
    axum::Json(json!({"results": results, "_links": {}})).into_response()
}

fn comment_json(id: &str, body: &Value) -> Value {
    json!({"id": id, "author": {"accountId": "557058:commenter", "displayName": "Cora Commenter"},
           "body": body, "created": "2026-01-05T10:00:00.000+0000"})
}

async fn search(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = list_gate(&fake, &headers).await {
        return r;
    }
    let f = fake.lock().unwrap();
    // As Jira Cloud's enhanced search does: a query without a restriction is refused.
    let jql = q.get("jql").map(String::as_str).unwrap_or("");
    if jql
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("ORDER BY")
    {
        return (
            StatusCode::BAD_REQUEST,
            "{\"errorMessages\":[\"Unbounded JQL queries are not allowed here. Please add a search restriction to your query.\"],\"errors\":{}}",
        )
            .into_response();
    }
    assert_eq!(jql, "created >= \"1970-01-01\" ORDER BY created ASC");
    let fields: BTreeSet<&str> = q
        .get("fields")
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    for want in ["summary", "description", "comment", "project"] {
        assert!(fields.contains(want), "fields {fields:?}");
    }
    let limit: usize = q
        .get("maxResults")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let Some(start) = offset(q.get("nextPageToken"), 't') else {
        return (StatusCode::BAD_REQUEST, "bad token").into_response();
    };
    let all = &f.site.issues;
    let end = (start + limit).min(all.len());
    let issues: Vec<String> = all[start.min(end)..end]
        .iter()
        .map(|is| {
            let embedded: Vec<Value> = is
                .comments
                .iter()
                .take(EMBEDDED_COMMENTS)
                .map(|(id, b)| comment_json(id, b))
                .collect();
            json!({
                "id": is.id, "key": is.key, "self": format!("{}/rest/api/3/issue/{}", f.base, is.id),
                "fields": {
                    "summary": is.summary,
                    "description": "@@DESCRIPTION@@",
                    "project": {"id": "10000", "key": is.project, "name": format!("Project {}", is.project)},
                    "comment": {"comments": embedded, "maxResults": EMBEDDED_COMMENTS,
                                "total": f.tricks.comments_lie.unwrap_or(is.comments.len()), "startAt": 0}
                }
            })
            .to_string()
            .replacen("\"@@DESCRIPTION@@\"", &is.description, 1)
        })
        .collect();
    let next = if end < all.len() {
        format!(",\"nextPageToken\":\"t{end}\"")
    } else {
        String::new()
    };
    let body = format!(
        "{{\"issues\":[{}],\"isLast\":{}{next}}}",
        issues.join(","),
        end >= all.len() && !f.tricks.last_not_last
    );
    drop(f);
    ([("content-type", "application/json")], body).into_response()
}

async fn comments(
    State(fake): State<Shared>,
    headers: HeaderMap,
    UrlPath(issue): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut f = fake.lock().unwrap();
    if !authorized(&headers) {
        f.unauthorized += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    f.comment_requests += 1;
    let Some(is) = f
        .site
        .issues
        .iter()
        .find(|i| i.id == issue || i.key == issue)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let start: usize = if f.tricks.comments_lie.is_some() {
        0
    } else {
        q.get("startAt").and_then(|s| s.parse().ok()).unwrap_or(0)
    };
    let max: usize = q
        .get("maxResults")
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let end = (start + max).min(is.comments.len());
    let list: Vec<Value> = is.comments[start.min(end)..end]
        .iter()
        .map(|(id, b)| comment_json(id, b))
        .collect();
    axum::Json(
        json!({"comments": list, "startAt": start, "maxResults": max, "total": is.comments.len()}),
    )
    .into_response()
}

async fn approximate_count(State(fake): State<Shared>, headers: HeaderMap) -> Response {
    let f = fake.lock().unwrap();
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(json!({"count": f.site.issues.len()})).into_response()
}

/// The fake on a runtime of its own thread, serving until the test process ends.
struct Server {
    base: String,
    fake: Shared,
}

fn start_server(
    pages_n: usize,
    blogs_n: usize,
    issues_n: usize,
    plants_n: usize,
    tricks: Tricks,
) -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr: SocketAddr = listener.local_addr().unwrap();
            let base = format!("http://{addr}");
            let site = make_site(&base, pages_n, blogs_n, issues_n, plants_n);
            let fake = Arc::new(Mutex::new(Fake {
                base: base.clone(),
                site,
                tricks,
                list_requests: 0,
                pages_requests: 0,
                unauthorized: 0,
                too_many_sent: None,
                after_too_many: None,
                hung: false,
                comment_requests: 0,
                space_requests: 0,
                limits: Vec::new(),
            }));
            let app = axum::Router::new()
                .route("/wiki/api/v2/pages", axum::routing::get(pages))
                .route("/wiki/api/v2/blogposts", axum::routing::get(blogposts))
                .route("/wiki/api/v2/spaces", axum::routing::get(spaces))
                .route("/rest/api/3/search/jql", axum::routing::get(search))
                .route(
                    "/rest/api/3/search/approximate-count",
                    axum::routing::post(approximate_count),
                )
                .route(
                    "/rest/api/3/issue/{issue}/comment",
                    axum::routing::get(comments),
                )
                .with_state(fake.clone());
            tx.send(Server {
                base,
                fake: fake.clone(),
            })
            .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(30)).unwrap()
}

// ------------------------------------------------------------------------------------------ running vigil

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vigil.toml");
        std::fs::write(
            &config,
            format!(
                "[engine]\nfingerprint_key = \"env:{KEY_ENV}\"\n\n[[custom_detections]]\nname = \"Project Falcon\"\nterms = [\"falcon roadmap\"]\nseverity = \"high\"\n"
            ),
        )
        .unwrap();
        Self { dir, config }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
        c.arg("--data-dir")
            .arg(self.data())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("VIGIL_DATA_DIR")
            .env(TOKEN_ENV, TOKEN)
            .env(KEY_ENV, "site-scan-test-fingerprint-key")
            .env("VIGIL_LOG", "debug");
        c
    }

    fn scan(&self, site: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "scan",
            "--site",
            site,
            "--user",
            USER,
            "--token",
            "env:VIGIL_TEST_SITE_TOKEN",
            "--page-size",
            "100",
        ];
        args.extend_from_slice(extra);
        self.command(&args).output().unwrap()
    }

    /// Everything vigil wrote in the data dir, as text (the log included), to look for the token.
    fn files_text(&self) -> String {
        let mut out = String::new();
        fn walk(p: &Path, out: &mut String) {
            let Ok(rd) = std::fs::read_dir(p) else { return };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if let Ok(b) = std::fs::read(&p) {
                    out.push_str(&String::from_utf8_lossy(&b));
                }
            }
        }
        walk(&self.data(), &mut out);
        out
    }
}

fn stdout(o: &Output) -> String {
    common::stdout(o)
}

fn stderr(o: &Output) -> String {
    common::stderr(o)
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    finding_id: String,
    detection: String,
    app: String,
    container: String,
    title: String,
    link: String,
    redacted: String,
    fingerprint: String,
}

fn rows(csv_text: &str) -> Vec<Row> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header,
        [
            "finding_id",
            "detection",
            "app",
            "container",
            "title",
            "link",
            "redacted",
            "fingerprint"
        ]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let g = |i: usize| rec.get(i).unwrap().to_string();
            Row {
                finding_id: g(0),
                detection: g(1),
                app: g(2),
                container: g(3),
                title: g(4),
                link: g(5),
                redacted: g(6),
                fingerprint: g(7),
            }
        })
        .collect()
}

fn assert_token_absent(env: &Env, outputs: &[&Output]) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"));
    for o in outputs {
        for text in [stdout(o), stderr(o)] {
            assert!(
                !text.contains(TOKEN) && !text.contains(&b64),
                "token leaked: {text}"
            );
        }
    }
    let files = env.files_text();
    assert!(
        !files.contains(TOKEN) && !files.contains(&b64),
        "token in the data dir"
    );
}

fn state_files(env: &Env) -> Vec<PathBuf> {
    let dir = env.data().join("site-scan");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_none_or(|x| x != "lock"))
        .collect();
    v.sort();
    v
}

// ------------------------------------------------------------------------------------------ the tests

/// 4,000 pages, 1,000 blog posts, 5,000 work items: 10,000 items.
const FULL: (usize, usize, usize) = (4_000, 1_000, 5_000);
const PLANTS: usize = 40;

/// The plant generators give what the scanners find: each plant's text alone is exactly one finding of its
/// kind, each decoy none (else the test below would prove nothing).
#[test]
fn plants_and_decoys_are_what_the_scanners_say() {
    use vigil::detect::tuning::{CustomDetection, Tuning};
    let tuning = Tuning {
        custom: vec![CustomDetection {
            name: "Project Falcon".into(),
            terms: vec!["falcon roadmap".into()],
            regex: None,
            severity: vigil::model::Severity::High,
            enabled: true,
        }],
        ..Tuning::default()
    };
    let scanner = vigil::detect::content::ContentScanner::new(&tuning, b"k").unwrap();
    let mut rng = Rng(7);
    for _ in 0..5 {
        for kind in KINDS {
            let (b, s, a) = plant_text(kind, &mut rng);
            let found = scanner.scan(&format!("{b}{s}{a}"));
            assert_eq!(found.len(), 1, "{kind}: {found:?}");
            assert_eq!(found[0].scanner, *kind);
        }
    }
    for d in DECOYS {
        assert!(scanner.scan(d).is_empty(), "decoy {d:?} is found");
    }
}

#[test]
fn every_plant_is_found_once_no_decoy_and_a_429_is_waited_out() {
    let (p, b, i) = FULL;
    let server = start_server(
        p,
        b,
        i,
        PLANTS,
        Tricks {
            too_many_at: Some(3),
            ..Tricks::default()
        },
    );
    let env = Env::new();
    let out = env.scan(&server.base, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let found = rows(&stdout(&out));

    let f = server.fake.lock().unwrap();
    let want: BTreeSet<(String, String)> = f
        .site
        .plants
        .iter()
        .map(|p| (p.link.clone(), p.detection.clone()))
        .collect();
    assert_eq!(want.len(), PLANTS);
    let mut got: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &found {
        *got.entry((r.link.clone(), r.detection.clone()))
            .or_default() += 1;
    }
    let extra: Vec<_> = got.keys().filter(|k| !want.contains(*k)).collect();
    let missing: Vec<_> = want.iter().filter(|k| !got.contains_key(*k)).collect();
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        extra.is_empty() && missing.is_empty() && twice.is_empty(),
        "extra (decoys found?) {extra:#?}\nmissing {missing:#?}\ntwice {twice:#?}"
    );
    assert_eq!(found.len(), PLANTS);

    // Never a secret in full: not in the redacted column, not in a title that held one.
    for p in &f.site.plants {
        assert!(
            !stdout(&out).contains(&p.secret),
            "secret printed: {}",
            p.detection
        );
    }
    for r in &found {
        assert_eq!(r.fingerprint.len(), 32, "{r:?}");
        assert_eq!(r.finding_id.len(), 32, "{r:?}");
        match r.app.as_str() {
            "confluence" => assert!(
                SPACES.iter().any(|s| s.1 == r.container),
                "space key resolved: {r:?}"
            ),
            "jira" => assert!(PROJECTS.contains(&r.container.as_str()), "{r:?}"),
            other => panic!("app {other}"),
        }
    }
    let ids: BTreeSet<&str> = found.iter().map(|r| r.finding_id.as_str()).collect();
    assert_eq!(ids.len(), found.len(), "finding ids are unique");

    // Basic auth was right every time; the 429 was waited out for its Retry-After.
    assert_eq!(f.unauthorized, 0);
    let (sent, next) = (f.too_many_sent.unwrap(), f.after_too_many.unwrap());
    assert!(
        next.duration_since(sent) >= Duration::from_millis(950),
        "retried after {:?}",
        next.duration_since(sent)
    );
    assert!(f.comment_requests >= 1, "late comments were read");
    assert!(f.space_requests >= 1);
    drop(f);

    // The summary names what was scanned; a finished scan leaves no state behind.
    let err = stderr(&out);
    assert!(err.contains("items=10000"), "{err}");
    assert!(err.contains(&format!("findings={PLANTS}")), "{err}");
    assert!(state_files(&env).is_empty(), "{:?}", state_files(&env));
    assert_token_absent(&env, &[&out]);

    // The same scan again gives the same rows (finding ids are stable across runs).
    let again = env.scan(&server.base, &["--format", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let json_ids: BTreeSet<String> = stdout(&again)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 8, "{l}");
            v["finding_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        json_ids,
        ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>()
    );
}

#[test]
fn a_killed_scan_resumes_where_it_stopped_and_gives_the_same_rows() {
    let (p, b, i) = FULL;
    // One site for every run: rows name it (links, finding ids).
    let server = start_server(p, b, i, PLANTS, Tricks::default());
    let spawn = |env: &Env| {
        env.command(&[
            "scan",
            "--site",
            &server.base,
            "--user",
            USER,
            "--token",
            "env:VIGIL_TEST_SITE_TOKEN",
            "--page-size",
            "100",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let hang_at = |n: usize| {
        let mut f = server.fake.lock().unwrap();
        f.hung = false;
        f.tricks.hang_at = Some(f.list_requests + n);
    };
    let requests = || server.fake.lock().unwrap().list_requests;

    // Reference: uninterrupted.
    let reference_env = Env::new();
    let reference = reference_env.scan(&server.base, &[]);
    assert_eq!(reference.status.code(), Some(0), "{}", stderr(&reference));
    assert_eq!(rows(&stdout(&reference)).len(), PLANTS);

    // Killed while waiting for the 75th page (past Confluence's 50, inside Jira), then resumed.
    let env = Env::new();
    hang_at(75);
    let mut child = spawn(&env);
    let until = Instant::now() + Duration::from_secs(300);
    while !server.fake.lock().unwrap().hung {
        assert!(Instant::now() < until, "the scan never reached the hang");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the scan ended early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let killed = child.wait_with_output().unwrap();
    assert!(
        stdout(&killed).is_empty(),
        "an unfinished scan prints no rows"
    );
    assert!(!state_files(&env).is_empty(), "the position was kept");

    // A kill between writing a page's findings and saving the position leaves rows past the saved
    // position in the findings file: they must not come out twice.
    let log = state_files(&env)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".findings.jsonl"))
        .expect("findings file");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut f, b"{\"finding_id\":\"half-written\",\"detec").unwrap();
    drop(f);

    server.fake.lock().unwrap().tricks.hang_at = None;
    let before = requests();
    let resumed = env.scan(&server.base, &[]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    // 50 Confluence pages and 50 Jira pages in all: the resumed run asks for the 75th to the 100th only.
    assert_eq!(requests() - before, 26, "the resumed run re-read pages");
    assert!(
        stderr(&resumed).contains("resuming"),
        "{}",
        stderr(&resumed)
    );
    assert_eq!(
        stdout(&resumed),
        stdout(&reference),
        "same rows, same order"
    );
    assert!(state_files(&env).is_empty());
    assert_token_absent(&env, &[&killed, &resumed]);

    // --restart discards a saved position.
    let env2 = Env::new();
    hang_at(3);
    let mut child = spawn(&env2);
    while !server.fake.lock().unwrap().hung {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    server.fake.lock().unwrap().tricks.hang_at = None;
    let before = requests();
    let restarted = env2.scan(&server.base, &["--restart"]);
    assert_eq!(restarted.status.code(), Some(0), "{}", stderr(&restarted));
    assert_eq!(requests() - before, 100);
    assert!(!stderr(&restarted).contains("resuming"));
    assert_eq!(stdout(&restarted), stdout(&reference));
}

#[test]
fn alerts_are_raised_once_across_scans() {
    let server = start_server(300, 100, 300, 20, Tricks::default());
    let env = Env::new();
    let first = env.scan(&server.base, &["--alerts"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let found = rows(&stdout(&first));
    assert_eq!(found.len(), 20);
    let count = |env: &Env| -> u64 {
        let o = env
            .command(&["status", "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["alerts"]["total"].as_u64().unwrap()
    };
    let n = count(&env);
    assert_eq!(
        n, 20,
        "one alert per finding here (each plant is alone on its item)"
    );
    assert!(stderr(&first).contains("alerts=20"), "{}", stderr(&first));

    let second = env.scan(&server.base, &["--alerts"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(count(&env), n, "a second scan raises nothing new");
    assert!(stderr(&second).contains("alerts=0"), "{}", stderr(&second));

    // The alerts say what and where, never the secret.
    let export = env
        .command(&["export", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    let text = stdout(&export);
    for p in &server.fake.lock().unwrap().site.plants {
        assert!(!text.contains(&p.secret));
    }
    let first_alert: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(
        ["sensitive-content", "custom:project-falcon"]
            .contains(&first_alert["detection"].as_str().unwrap()),
        "{first_alert}"
    );
    assert!(
        text.contains(&server.base),
        "the alert names where the finding is"
    );

    // A store held by another process (as `vigil serve` holds it): a clear refusal, nothing scanned.
    let store = vigil::store::Store::open(&env.data()).unwrap();
    let held = env.scan(&server.base, &["--alerts"]);
    drop(store);
    assert_eq!(held.status.code(), Some(1));
    let err = stderr(&held);
    assert!(
        err.contains("vigil serve") && err.contains("--alerts"),
        "{err}"
    );
    assert!(stdout(&held).is_empty());
}

#[test]
fn alerts_go_through_a_running_serve_once_across_scans() {
    let server = start_server(300, 100, 300, 20, Tricks::default());
    let env = Env::new();
    // `vigil serve` holds the store: the scan asks it for the key and tuning, and it raises the alerts.
    let mut serve = env
        .command(&["serve"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let socket = env.data().join(vigil::engine::socket::SOCKET_NAME);
    let t = std::time::Instant::now();
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "serve's socket never came"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let first = env.scan(&server.base, &["--alerts"]);
    let second = env.scan(&server.base, &["--alerts"]);
    let status = env
        .command(&["status", "--format", "json"])
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let ended = serve.wait().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(rows(&stdout(&first)).len(), 20);
    assert!(stderr(&first).contains("alerts=20"), "{}", stderr(&first));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(stderr(&second).contains("alerts=0"), "{}", stderr(&second));
    assert_eq!(
        stdout(&first),
        stdout(&second),
        "the same rows, fingerprinted with serve's key"
    );
    let v: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(v["engine"], "running", "{v}");
    assert_eq!(v["alerts"]["total"].as_u64(), Some(20), "{v}");
    assert!(ended.success(), "serve ends cleanly: {ended:?}");
    // Once serve is gone the store is the scan's again: a third scan raises nothing either.
    let third = env.scan(&server.base, &["--alerts"]);
    assert!(stderr(&third).contains("alerts=0"), "{}", stderr(&third));
}

#[test]
fn a_next_link_to_another_origin_is_refused_and_the_token_never_shows() {
    let server = start_server(
        500,
        10,
        10,
        5,
        Tricks {
            foreign_next_at: Some(2),
            ..Tricks::default()
        },
    );
    let env = Env::new();
    let out = env.scan(&server.base, &["--confluence"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("another origin") && err.contains("evil.example.net"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(stdout(&out).is_empty());
    assert_eq!(server.fake.lock().unwrap().pages_requests, 2);
    assert_token_absent(&env, &[&out]);
}

#[test]
fn refused_credentials_stop_the_scan_naming_the_status() {
    let server = start_server(10, 10, 10, 0, Tricks::default());
    let env = Env::new();
    let out = env
        .command(&[
            "scan",
            "--site",
            &server.base,
            "--user",
            USER,
            "--token",
            "env:WRONG_TOKEN",
        ])
        .env("WRONG_TOKEN", "not-the-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("401"), "{err}");
    assert!(!err.contains("not-the-token"), "{err}");
}

#[test]
fn the_command_line_refuses_a_literal_token_and_mixed_targets() {
    let env = Env::new();
    let literal = env
        .command(&[
            "scan",
            "--site",
            "https://acme.atlassian.net",
            "--user",
            USER,
            "--token",
            TOKEN,
        ])
        .output()
        .unwrap();
    assert_eq!(literal.status.code(), Some(2));
    assert!(
        stderr(&literal).contains("env:NAME"),
        "{}",
        stderr(&literal)
    );
    assert!(!stderr(&literal).contains(TOKEN), "{}", stderr(&literal));

    let both = env
        .command(&[
            "scan",
            "--site",
            "https://acme.atlassian.net",
            "--user",
            USER,
            "--token",
            "env:X",
            "some/path",
        ])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    let neither = env.command(&["scan"]).output().unwrap();
    assert_eq!(neither.status.code(), Some(2), "{}", stderr(&neither));
    let no_user = env
        .command(&[
            "scan",
            "--site",
            "https://acme.atlassian.net",
            "--token",
            "env:X",
        ])
        .output()
        .unwrap();
    assert_eq!(no_user.status.code(), Some(2), "{}", stderr(&no_user));
    // Basic auth in clear text to a remote host would give the token away.
    let plain = env
        .command(&[
            "scan",
            "--site",
            "http://acme.atlassian.net",
            "--user",
            USER,
            "--token",
            "env:X",
        ])
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(1), "{}", stderr(&plain));
    assert!(stderr(&plain).contains("https"), "{}", stderr(&plain));
}

/// A fake whose one page holds hostile items: control bytes and bidi overrides in titles, a 10 MB body, ADF
/// nested far deeper than any parser's recursion limit, a description that is not ADF at all.
#[test]
fn hostile_items_neither_panic_nor_hang_nor_reach_the_terminal() {
    let server = start_server(20, 5, 20, 0, Tricks::default());
    {
        let mut f = server.fake.lock().unwrap();
        let aws = "AKIAZ3MSJV4WWNKWW5FP";
        let p = &mut f.site.pages[0];
        p.title = format!("\u{1b}]0;pwned\u{7}\u{202e}nimda\u{1b}[2J {aws}");
        let p = &mut f.site.pages[1];
        let mut big = String::with_capacity(10 << 20);
        while big.len() < 10 << 20 {
            big.push_str("<p>lorem <span>ipsum</span> &amp; dolor &#x3C;sit&#x3e; amet</p>");
        }
        big.push_str("<p>key ghp_aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5 end</p>");
        p.body = big;
        f.site.pages[2].body =
            "<p>unclosed <span <<<< &#99999999999; &bogus; <![CDATA[ never ends".into();
        // Built as text: a JSON value this deep would overflow the stack of whoever printed or dropped it.
        let levels = 20_000;
        f.site.issues[0].description = format!(
            "{{\"type\":\"doc\",\"version\":1,\"content\":[{}{{\"type\":\"text\",\"text\":\"SSN: 536-22-8417\"}}{}]}}",
            "{\"type\":\"paragraph\",\"content\":[".repeat(levels),
            "]}".repeat(levels)
        );
        f.site.issues[1].description = json!("plain string card 4539 1488 0343 6467").to_string();
        f.site.issues[2].description = json!({"content": 42, "type": ["odd"]}).to_string();
        f.site.issues[3].summary = "\u{202e}gnp.exe \u{7} summary".into();
    }
    let env = Env::new();
    let out = env.scan(&server.base, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'));
    let found = rows(&text);
    let kinds: BTreeSet<(String, String)> = found
        .iter()
        .map(|r| {
            (
                r.link.rsplit('/').next().unwrap_or("").to_string(),
                r.detection.clone(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("Page+1000000".into(), "aws-access-key-id".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("Page+1000001".into(), "github-token".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("SEC-1".into(), "us-ssn".into())),
        "deep ADF still read: {kinds:?}"
    );
    assert!(
        kinds.contains(&("OPS-2".into(), "payment-card".into())),
        "{kinds:?}"
    );
    let title = &found
        .iter()
        .find(|r| r.detection == "aws-access-key-id")
        .unwrap()
        .title;
    assert!(!title.contains("AKIAZ3MSJV4WWNKWW5FP"), "{title}");
    assert!(title.contains("⟨RLO⟩"), "{title}");
}

#[test]
fn a_page_that_is_not_json_or_a_repeating_cursor_is_a_clear_error() {
    let server = start_server(
        500,
        10,
        10,
        0,
        Tricks {
            bad_json_at: Some(2),
            ..Tricks::default()
        },
    );
    let env = Env::new();
    let out = env.scan(&server.base, &["--confluence"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("not valid JSON") && err.contains("/wiki/api/v2/pages"),
        "{err}"
    );

    let server = start_server(
        800,
        10,
        10,
        0,
        Tricks {
            loop_at: Some(3),
            ..Tricks::default()
        },
    );
    let env = Env::new();
    let out = env.scan(&server.base, &["--confluence"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cursor") && err.contains("again"), "{err}");
    assert!(server.fake.lock().unwrap().pages_requests < 10);
}

/// A server that claims a million comments per work item and ignores `startAt`, or says a last page is not
/// the last without a token for the next: neither hangs the scan.
#[test]
fn lying_comment_counts_and_a_last_page_without_a_token_do_not_hang() {
    let server = start_server(
        10,
        10,
        200,
        12,
        Tricks {
            comments_lie: Some(1_000_000),
            ..Tricks::default()
        },
    );
    let env = Env::new();
    let out = env.scan(&server.base, &["--jira"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = server.fake.lock().unwrap().comment_requests;
    assert!(requests <= 2 * 200, "{requests} comment requests");

    let server = start_server(
        10,
        10,
        250,
        0,
        Tricks {
            last_not_last: true,
            ..Tricks::default()
        },
    );
    let out = Env::new().scan(&server.base, &["--jira"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("isLast is false"), "{}", stderr(&out));
}

/// In process, through the library: a page body over the cap is asked for again with fewer items, and the
/// scan still reads everything.
#[test]
fn a_page_over_the_size_cap_is_asked_for_with_fewer_items() {
    use vigil::engine::site_scan::{OutputFormat, Progress, SiteScan, SiteScanOptions, Token};
    let server = start_server(300, 20, 20, 6, Tricks::default());
    {
        let mut f = server.fake.lock().unwrap();
        f.site.pages[150]
            .body
            .push_str(&format!("<p>{}</p>", "padding ".repeat(4_000)));
    }
    let dir = tempfile::tempdir().unwrap();
    let scan = SiteScan {
        site: server.base.clone(),
        user: USER.into(),
        token: Token::new(TOKEN.into()),
        confluence: true,
        jira: true,
        format: OutputFormat::Json,
        state_dir: dir.path().join("site-scan"),
        restart: false,
        fingerprint_key: b"in-process-key".to_vec(),
        tuning: vigil::detect::tuning::Tuning::default(),
        alerts: None,
        options: SiteScanOptions {
            page_size: 100,
            max_page_bytes: 48 << 10,
            ..SiteScanOptions::default()
        },
    };
    let mut out: Vec<u8> = Vec::new();
    let summary = vigil::engine::site_scan::run(scan, &mut out, &mut Progress::silent()).unwrap();
    assert_eq!(summary.items(), 340);
    let limits = server.fake.lock().unwrap().limits.clone();
    assert!(limits.iter().any(|l| *l < 100), "{limits:?}");
    // Custom detections are not configured here: the custom plant is not a finding.
    let plants = server.fake.lock().unwrap().site.plants.clone();
    let want = plants
        .iter()
        .filter(|p| !p.detection.starts_with("custom:"))
        .count() as u64;
    assert_eq!(summary.findings, want);
    assert_eq!(String::from_utf8(out).unwrap().lines().count() as u64, want);
}

/// `cargo test --release --test site_scan -- --ignored --nocapture`: items/s of the whole scan (HTTP, JSON,
/// text extraction, scanners, the findings file and the position saved per page) over 10,000 items.
#[test]
#[ignore]
fn items_per_second() {
    let (p, b, i) = FULL;
    let server = start_server(p, b, i, PLANTS, Tricks::default());
    let env = Env::new();
    for page_size in ["100", "250"] {
        let started = Instant::now();
        let out = env
            .command(&[
                "scan",
                "--site",
                &server.base,
                "--user",
                USER,
                "--token",
                "env:VIGIL_TEST_SITE_TOKEN",
                "--page-size",
                page_size,
            ])
            .output()
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(rows(&stdout(&out)).len(), PLANTS);
        println!(
            "site scan, page size {page_size}: 10000 items in {secs:.2} s = {:.0} items/s (whole process)",
            10_000.0 / secs
        );
    }
}
