//! Turning one planned event into a JSON line of the DESIGN §3 shape: event ids, actor, location, context,
//! container, content and the human message. The action key is written as planned; what the event is about is
//! rendered from its [`Target`], and the words of a message from the action key itself (`page_exported` →
//! "Exported page …"), so a new catalogue action renders without a change here.
//!
//! Owns the output format only; it decides nothing about detections. Must not import the store, the engine,
//! tokio or `std::fs`.

use std::fmt::Write as _;

use super::event::{Act, Query, Target, WriteKind};
use super::incidents::ai_client_name;
use super::org::{self, CITIES, SITES};
use super::rng::mix;
use super::{Generator, json};

/// The words after an action key's object noun, capitalised: `page_exported` → "Exported".
fn verb(action: &str) -> String {
    let rest = action.split_once('_').map_or(action, |(_, r)| r);
    words(rest)
}

/// An action key as a sentence start: `ip_allowlist_updated` → "Ip allowlist updated".
fn words(key: &str) -> String {
    let mut w = key.replace('_', " ");
    if let Some(first) = w.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    w
}

impl Generator {
    fn event_id(&mut self, buf: &mut String) {
        const M48: u64 = (1 << 48) - 1;
        let c = self.counter;
        self.counter += 1;
        let a = mix(self.id_key ^ c);
        // A bijection on 48 bits of the counter: unique ids that do not look sequential.
        let mut x = (c ^ self.id_key) & M48;
        x = (x ^ (x >> 19)) & M48;
        x = x.wrapping_mul(0x9e37_79b9_7f4b) & M48;
        x = (x ^ (x >> 23)) & M48;
        let _ = write!(
            buf,
            "\"{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}\"",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((a >> 48) & 0x3fff),
            x
        );
    }

    /// Render `act` at event time `t` into `buf` (cleared first). A successful login moves the person.
    pub(super) fn render(&mut self, t: i64, act: &Act, buf: &mut String) {
        buf.clear();
        let u = act.user as usize;
        let action = act.action;
        let success = self.rules.login == Some(action);
        // Logins move the person; everything else happens from where they are.
        if let Target::Login { city } = act.target
            && success
        {
            let s = &mut self.users[u];
            s.city = usize::from(city);
            s.last_login = Some((t, usize::from(city)));
            s.logins += 1;
        }
        let city = match act.target {
            Target::Login { city } => usize::from(city),
            _ => self.users[u].city,
        };
        let mut msg = std::mem::take(&mut self.scratch);
        msg.clear();
        buf.push_str("{\"id\":");
        self.event_id(buf);
        buf.push_str(",\"type\":\"events\",\"attributes\":{\"time\":");
        json::time(buf, t);
        let person = &self.org.users[u];
        buf.push(',');
        json::field(buf, "action", action);
        buf.push(',');
        json::key(buf, "actor");
        buf.push('{');
        json::field(buf, "id", &person.id);
        buf.push(',');
        json::field(buf, "name", &person.name);
        buf.push(',');
        json::field(buf, "email", &person.email);
        let api_token = matches!(
            act.target,
            Target::Write {
                kind: WriteKind::IssueCreated | WriteKind::IssueUpdated,
                secret: None,
                ..
            }
        ) && person.automation
            && self.rng.chance(0.4);
        if api_token {
            let _ = write!(
                buf,
                ",\"auth\":{{\"authType\":\"api-token\",\"tokenId\":\"tok-{}\",\"tokenLabel\":\"jira-automation\"}}",
                &person.id[..8]
            );
        }
        buf.push('}');

        // context, container, content and message, per kind of target.
        let site_of_user =
            usize::from(CITIES[person.home].lon > -30.0 && CITIES[person.home].lon < 60.0);
        match &act.target {
            Target::Page(page) => {
                let p = org::page(*page as usize);
                let kind = if p.blog { "blogpost" } else { "page" };
                entity_context(buf, &p.id.to_string(), kind, &p.title);
                containers_space(buf, p.space);
                self.location(buf, u, city);
                content(
                    buf,
                    kind,
                    &p.id.to_string(),
                    &p.title,
                    None,
                    p.space.key,
                    "confluence",
                    &page_url(&p),
                );
                let _ = write!(
                    msg,
                    "{} {kind} '{}' in {}",
                    verb(action),
                    p.title,
                    p.space.name
                );
            }
            Target::Attachment { page, att } => {
                let p = org::page(*page as usize);
                let file =
                    org::ATTACHMENTS[(p.id as usize + usize::from(*att)) % org::ATTACHMENTS.len()];
                let att_id = format!("att{}{}", p.id, att);
                let _ = write!(
                    buf,
                    ",\"context\":[{{\"id\":\"{att_id}\",\"type\":\"attachments\",\"attributes\":{{\"fileName\":"
                );
                json::string(buf, file);
                buf.push_str("}}]");
                containers_space(buf, p.space);
                self.location(buf, u, city);
                content(
                    buf,
                    "attachment",
                    &att_id,
                    file,
                    None,
                    p.space.key,
                    "confluence",
                    &page_url(&p),
                );
                let _ = write!(
                    msg,
                    "{} attachment '{file}' from '{}'",
                    verb(action),
                    p.title
                );
            }
            Target::Issue(issue) => {
                let i = org::issue(*issue as usize);
                issue_context(buf, &i);
                containers_project(buf, i.project);
                self.location(buf, u, city);
                content(
                    buf,
                    "issue",
                    &i.id.to_string(),
                    &i.summary,
                    None,
                    i.project.key,
                    "jira",
                    &issue_url(&i),
                );
                let _ = write!(msg, "{} issue {} '{}'", verb(action), i.key, i.summary);
            }
            Target::Space(k) => {
                let s = &org::SPACES[*k as usize % org::SPACES.len()];
                let _ = write!(
                    buf,
                    ",\"context\":[{{\"id\":\"{}\",\"type\":\"spaces\",\"attributes\":{{\"key\":\"{}\",\"name\":",
                    s.key, s.key
                );
                json::string(buf, s.name);
                buf.push_str("}}]");
                containers_space(buf, s);
                self.location(buf, u, city);
                let _ = write!(msg, "{} space '{}'", verb(action), s.name);
            }
            Target::Filter(k) => {
                let p = &org::PROJECTS[*k as usize % org::PROJECTS.len()];
                let object = p.objects[(*k as usize / org::PROJECTS.len()) % p.objects.len()];
                let name = format!("{} {object} issues", p.key);
                let _ = write!(
                    buf,
                    ",\"context\":[{{\"id\":\"filter-{}\",\"type\":\"filters\",\"attributes\":{{\"name\":",
                    10_100 + k
                );
                json::string(buf, &name);
                buf.push_str("}}]");
                containers_project(buf, p);
                self.location(buf, u, city);
                let _ = write!(msg, "{} filter '{name}'", verb(action));
            }
            Target::Query(q) => {
                let query: &str = match q {
                    Query::Benign(i) => org::BENIGN_QUERIES
                        .get(usize::from(*i))
                        .copied()
                        .unwrap_or_default(),
                    Query::Sensitive(i) => self
                        .rules
                        .sensitive_queries
                        .get(usize::from(*i))
                        .map_or("", String::as_str),
                };
                buf.push_str(",\"context\":[{\"type\":\"search\",\"attributes\":{\"query\":");
                json::string(buf, query);
                buf.push_str("}}]");
                containers_site(buf, site_of_user);
                self.location(buf, u, city);
                let _ = write!(msg, "Searched for '{query}'");
            }
            Target::Login { .. } => {
                buf.push_str(",\"context\":[]");
                containers_site(buf, site_of_user);
                self.location(buf, u, city);
                if success {
                    let _ = write!(msg, "Logged in as {}", person.email);
                } else {
                    let _ = write!(msg, "{} for {}", words(action), person.email);
                }
            }
            Target::Write {
                kind, obj, secret, ..
            } => self.render_write(buf, &mut msg, u, city, *kind, *obj, secret.as_deref()),
            Target::Setting { target } => {
                let target = &self.org.users[*target as usize % self.org.users.len()];
                let (kind, id, name) = setting_subject(action, target);
                subject_context(
                    buf,
                    kind,
                    &id,
                    &name,
                    (kind == "users").then_some(&target.email),
                );
                containers_site(buf, 0);
                self.location(buf, u, city);
                let _ = write!(msg, "{}: {name}", words(action));
            }
            Target::AiClient(k) => {
                let (id, name) = ai_client_name(*k);
                subject_context(buf, "apps", &id, &name, None);
                containers_site(buf, 0);
                self.location(buf, u, city);
                let _ = write!(msg, "{}: {name}", words(action));
            }
            Target::Item(k) => {
                let noun = super::event::noun(action);
                let name = format!("{} {k}", words(noun));
                subject_context(
                    buf,
                    &format!("{noun}s"),
                    &format!("{noun}-{k}"),
                    &name,
                    None,
                );
                containers_site(buf, site_of_user);
                self.location(buf, u, city);
                let _ = write!(msg, "{}: {name}", words(action));
            }
        }
        buf.push_str("},\"message\":{\"content\":");
        json::string(buf, &msg);
        buf.push_str(",\"format\":\"simple\"}}");
        self.scratch = msg;
    }

    #[allow(clippy::too_many_arguments)]
    fn render_write(
        &mut self,
        buf: &mut String,
        msg: &mut String,
        u: usize,
        city: usize,
        kind: WriteKind,
        obj: u32,
        secret: Option<&str>,
    ) {
        let mut body = String::with_capacity(320);
        let sentences = 2 + self.rng.below(3);
        for s in 0..sentences {
            if s > 0 {
                body.push(' ');
            }
            body.push_str(self.rng.pick(org::PROSE));
        }
        if secret.is_none() && self.rng.chance(0.06) {
            body.push(' ');
            body.push_str(self.rng.pick(org::DECOY_PROSE));
        }
        if let Some(secret) = secret {
            body.push_str("\n\n");
            body.push_str(secret);
        }
        match kind {
            WriteKind::IssueCreated | WriteKind::IssueUpdated => {
                let i = org::issue(obj as usize);
                issue_context(buf, &i);
                containers_project(buf, i.project);
                self.location(buf, u, city);
                let id = i.id.to_string();
                content(
                    buf,
                    "issue",
                    &id,
                    &i.summary,
                    Some(&body),
                    i.project.key,
                    "jira",
                    &issue_url(&i),
                );
                let verb = if kind == WriteKind::IssueCreated {
                    "Created"
                } else {
                    "Updated"
                };
                let _ = write!(msg, "{verb} issue {} '{}'", i.key, i.summary);
            }
            _ => {
                let p = org::page(obj as usize);
                let parent = if p.blog { "blogpost" } else { "page" };
                let n = self.counter;
                // (object type, id, title) of what was written, and the entity it hangs off.
                let (object, id, title) = match kind {
                    WriteKind::Comment => (
                        "comment",
                        format!("{}{:04}", p.id, n % 10_000),
                        format!("Re: {}", p.title),
                    ),
                    WriteKind::AiPrompt => (
                        "ai_prompt",
                        format!("prompt-{:x}", mix(n ^ self.id_key) >> 16),
                        format!("Summarise '{}'", p.title),
                    ),
                    WriteKind::BlogCreated => (
                        "blogpost",
                        (p.id + 5).to_string(),
                        format!("{} weekly update", p.space.name),
                    ),
                    WriteKind::PageCreated => (
                        "page",
                        (p.id + 3).to_string(),
                        format!("{} (draft)", p.title),
                    ),
                    _ => (parent, p.id.to_string(), p.title.clone()),
                };
                match kind {
                    WriteKind::Comment | WriteKind::AiPrompt => {
                        entity_context(buf, &p.id.to_string(), parent, &p.title)
                    }
                    _ => entity_context(buf, &id, object, &title),
                }
                containers_space(buf, p.space);
                self.location(buf, u, city);
                let product = if kind == WriteKind::AiPrompt {
                    "rovo"
                } else {
                    "confluence"
                };
                content(
                    buf,
                    object,
                    &id,
                    &title,
                    Some(&body),
                    p.space.key,
                    product,
                    &page_url(&p),
                );
                let _ = match kind {
                    WriteKind::Comment => write!(
                        msg,
                        "Commented on {parent} '{}' in {}",
                        p.title, p.space.name
                    ),
                    WriteKind::AiPrompt => {
                        write!(msg, "Asked Rovo to summarise '{}'", p.title)
                    }
                    WriteKind::BlogCreated => {
                        write!(msg, "Published blog post '{title}' in {}", p.space.name)
                    }
                    WriteKind::PageCreated => {
                        write!(msg, "Created page '{title}' in {}", p.space.name)
                    }
                    _ => write!(msg, "Updated {parent} '{title}' in {}", p.space.name),
                };
            }
        }
    }

    fn location(&self, buf: &mut String, u: usize, city: usize) {
        let c = &CITIES[city];
        let host = self.org.users[u].host;
        let _ = write!(
            buf,
            ",\"location\":{{\"ip\":\"{}.{}.{}.{}\",\"geo\":\"{}\",\"countryName\":",
            c.net[0], c.net[1], host[0], host[1], self.geo[city]
        );
        json::string(buf, c.country);
        buf.push_str(",\"regionName\":");
        json::string(buf, c.region);
        buf.push_str(",\"city\":");
        json::string(buf, c.name);
        buf.push('}');
    }
}

fn page_url(p: &org::PageRef) -> String {
    format!(
        "{}/wiki/spaces/{}/pages/{}",
        SITES[p.space.site].host, p.space.key, p.id
    )
}

fn issue_url(i: &org::IssueRef) -> String {
    format!("{}/browse/{}", SITES[i.project.site].host, i.key)
}

fn entity_context(buf: &mut String, id: &str, kind: &str, title: &str) {
    let _ = write!(
        buf,
        ",\"context\":[{{\"id\":\"{id}\",\"type\":\"{kind}s\",\"attributes\":{{\"title\":"
    );
    json::string(buf, title);
    buf.push_str("}}]");
}

/// A one-entity context `{id, type, attributes: {name[, email]}}` for settings, apps and users.
fn subject_context(buf: &mut String, kind: &str, id: &str, name: &str, email: Option<&String>) {
    buf.push_str(",\"context\":[{\"id\":");
    json::string(buf, id);
    buf.push_str(",\"type\":");
    json::string(buf, kind);
    buf.push_str(",\"attributes\":{\"name\":");
    json::string(buf, name);
    if let Some(email) = email {
        buf.push(',');
        json::field(buf, "email", email);
    }
    buf.push_str("}}]");
}

fn issue_context(buf: &mut String, i: &org::IssueRef) {
    let _ = write!(
        buf,
        ",\"context\":[{{\"id\":\"{}\",\"type\":\"issues\",\"attributes\":{{\"key\":\"{}\",\"summary\":",
        i.id, i.key
    );
    json::string(buf, &i.summary);
    buf.push_str("}}]");
}

fn site_entity(buf: &mut String, site: usize) {
    let s = &SITES[site];
    let _ = write!(
        buf,
        "{{\"id\":\"{}\",\"type\":\"sites\",\"attributes\":{{\"siteHostName\":\"{}\",\"siteName\":\"{}\"}}}}",
        s.id, s.host, s.name
    );
}

fn containers_site(buf: &mut String, site: usize) {
    buf.push_str(",\"container\":[");
    site_entity(buf, site);
    buf.push(']');
}

fn containers_space(buf: &mut String, s: &org::Space) {
    buf.push_str(",\"container\":[");
    site_entity(buf, s.site);
    let _ = write!(
        buf,
        ",{{\"id\":\"{}\",\"type\":\"spaces\",\"attributes\":{{\"key\":\"{}\",\"name\":\"{}\"}}}}]",
        s.key, s.key, s.name
    );
}

fn containers_project(buf: &mut String, p: &org::Project) {
    buf.push_str(",\"container\":[");
    site_entity(buf, p.site);
    let _ = write!(
        buf,
        ",{{\"id\":\"{}\",\"type\":\"projects\",\"attributes\":{{\"key\":\"{}\",\"name\":\"{}\"}}}}]",
        p.key, p.key, p.name
    );
}

#[allow(clippy::too_many_arguments)]
fn content(
    buf: &mut String,
    object_type: &str,
    id: &str,
    title: &str,
    body: Option<&str>,
    container_key: &str,
    product: &str,
    url: &str,
) {
    buf.push_str(",\"content\":{");
    json::field(buf, "objectType", object_type);
    buf.push(',');
    json::field(buf, "objectId", id);
    buf.push(',');
    json::field(buf, "title", title);
    if let Some(body) = body {
        buf.push(',');
        json::field(buf, "body", body);
    }
    buf.push(',');
    json::field(buf, "containerKey", container_key);
    buf.push(',');
    json::field(buf, "product", product);
    buf.push(',');
    json::field(buf, "url", url);
    buf.push('}');
}

/// The entity an organization-setting action is about, (type, id, name), recognised from the words of its key
/// (`…policy…`, `ip_allowlist…`, `…api_key…`); any other action is about the target user.
fn setting_subject(action: &str, target: &org::User) -> (&'static str, String, String) {
    let s = |x: &str| x.to_string();
    let has = |w: &str| action.split('_').any(|p| p == w);
    if action.starts_with("data_security") {
        (
            "policies",
            s("policy-dsp-1"),
            s("Block export of Restricted pages"),
        )
    } else if has("policy") || has("enforcement") || action.starts_with("sso") {
        (
            "policies",
            s("policy-auth-default"),
            s("Default authentication policy"),
        )
    } else if action.starts_with("scim") || action.starts_with("google_workspace") {
        (
            "directories",
            s("directory-okta-1"),
            s("Okta (SCIM provisioning)"),
        )
    } else if action.starts_with("saml") {
        (
            "identity-providers",
            s("idp-saml-1"),
            s("Okta SAML single sign-on"),
        )
    } else if action.starts_with("ip_allowlist") {
        (
            "ip-allowlists",
            s("allowlist-1"),
            s("Office and VPN ranges"),
        )
    } else if action.starts_with("domain") {
        ("domains", s("domain-2"), s("acme-partners.example"))
    } else if action.contains("api_key") {
        ("api-keys", s("key-org-admin-2"), s("automation"))
    } else if action.contains("api_token") {
        ("api-tokens", s("tok-new"), s("personal script"))
    } else if action.starts_with("classification") {
        (
            "pages",
            s("98003"),
            s("Confidential → Internal: Payments API overview"),
        )
    } else if action.starts_with("public_link") || action.starts_with("anonymous") {
        ("pages", s("98010"), s("Payments API FAQ"))
    } else if action.starts_with("site") {
        ("sites", s(SITES[0].id), s(SITES[0].name))
    } else if action.starts_with("app") {
        ("apps", s("app-timesheet-pro"), s("Timesheet Pro"))
    } else if action.starts_with("audit_log_webhook") {
        (
            "webhooks",
            s("webhook-1"),
            s("https://siem.acme-corp.example/hooks/atlassian"),
        )
    } else if action.starts_with("group") {
        ("groups", s("group-contractors"), s("contractors"))
    } else {
        ("users", target.id.clone(), target.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_come_from_the_key() {
        assert_eq!(verb("thing_exported"), "Exported");
        assert_eq!(words("thing_list_updated"), "Thing list updated");
    }
}
