//! The planned-event vocabulary shared by planning, benign traffic, incidents and rendering: one event is an
//! actor, an action key and a target, all by index into the organization, so thousands can be queued cheaply.
//! Action keys are never spelled here: they come from `detect`'s catalogue, except the few unwatched activities
//! ([`WriteKind`], [`CHORES`]) that no detection counts.
//!
//! Owns how an action key's name maps to the kind of object it acts on ([`Family`]). Must not import the store,
//! the engine, tokio or `std::fs`.

/// What a Confluence or Jira write is; none of these actions is watched by a detection, and the content scan
/// reads their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteKind {
    PageCreated,
    PageUpdated,
    BlogCreated,
    Comment,
    IssueCreated,
    IssueUpdated,
    AiPrompt,
}

impl WriteKind {
    /// The audit action key of the write.
    pub(super) fn action(self) -> &'static str {
        match self {
            WriteKind::PageCreated => "page_created",
            WriteKind::PageUpdated => "page_updated",
            WriteKind::BlogCreated => "blogpost_created",
            WriteKind::Comment => "comment_created",
            WriteKind::IssueCreated => "issue_created",
            WriteKind::IssueUpdated => "issue_updated",
            WriteKind::AiPrompt => "ai_prompt_submitted",
        }
    }
}

/// Benign organization chores: admin actions no detection watches (a test checks them against the catalogue).
pub(super) const CHORES: &[&str] = &[
    "user_invited",
    "group_created",
    "user_added_to_group",
    "product_access_granted",
];

/// Which search query an event carries: an index into the benign list or into the sensitive queries built from
/// the catalogue's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Query {
    Benign(u16),
    Sensitive(u16),
}

/// What an event acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// A Confluence page or blog post (`org::page`).
    Page(u32),
    /// A Jira issue (`org::issue`).
    Issue(u32),
    /// Attachment `att` of page `page`.
    Attachment { page: u32, att: u8 },
    /// A Confluence space (index into `org::SPACES`, wrapped).
    Space(u32),
    /// A saved Jira filter of a project (wrapped over the projects).
    Filter(u32),
    /// A search.
    Query(Query),
    /// A login attempt from `city`; successful logins move the person there.
    Login { city: u8 },
    /// An organization setting, named by the action's words, or else user `target`.
    Setting { target: u32 },
    /// An AI agent or MCP client, named from the catalogue's AI vocabulary (index rotates through it).
    AiClient(u8),
    /// An object of a kind the generator has no table for: a numbered entity named after the action's noun.
    Item(u32),
    /// A content write; `secret` is appended to the body of planted sensitive-content incidents.
    Write {
        kind: WriteKind,
        obj: u32,
        secret: Option<Box<str>>,
    },
}

/// One event to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Act {
    pub(super) user: u32,
    pub(super) action: &'static str,
    pub(super) target: Target,
}

/// The kind of object an action key acts on, read from the key as Atlassian writes it: `<object>_<verb>`
/// (`page_viewed`, `attachment_downloaded`), and logins as the login action or an extension of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Page,
    Issue,
    Attachment,
    Space,
    Filter,
    Search,
    Login,
    Other,
}

/// The noun actions use for page `page` of the synthetic org: a blog post's own key (`blogpost_viewed`)
/// or a page's.
pub(super) fn page_noun(page: u32) -> &'static str {
    if super::org::page(page as usize).blog {
        "blogpost"
    } else {
        "page"
    }
}

/// The object noun of an action key: what comes before the first `_`.
pub(super) fn noun(action: &str) -> &str {
    action.split_once('_').map_or(action, |(n, _)| n)
}

/// The family of `action`; `login` is the catalogue's login action, if it has one.
pub(super) fn family(action: &str, login: Option<&str>) -> Family {
    if login.is_some_and(|l| action.starts_with(l)) {
        return Family::Login;
    }
    match noun(action) {
        "page" | "blogpost" => Family::Page,
        "issue" => Family::Issue,
        "attachment" => Family::Attachment,
        "space" => Family::Space,
        "filter" => Family::Filter,
        "search" => Family::Search,
        _ => Family::Other,
    }
}

/// The action of `actions` in `family` that names the object's own noun (`blogpost_viewed` for a blog post),
/// else the first one in the family.
pub(super) fn fit_action(
    actions: &[&'static str],
    fam: Family,
    object_noun: &str,
    login: Option<&str>,
) -> Option<&'static str> {
    let mut in_family = actions.iter().copied().filter(|a| family(a, login) == fam);
    let first = in_family.next()?;
    Some(
        std::iter::once(first)
            .chain(in_family)
            .find(|a| noun(a) == object_noun)
            .unwrap_or(first),
    )
}

/// The distinct families of `actions`, in order of first appearance: a burst rotates over them.
pub(super) fn families(actions: &[&'static str], login: Option<&str>) -> Vec<Family> {
    let mut out = Vec::new();
    for a in actions {
        let f = family(a, login);
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}
