//! `[[integrations]]`: where alerts are delivered. The routing part (name, kind, severity, detections, enabled)
//! is [`crate::model::Integration`]; this file adds the endpoint and credentials, which only `engine` reads.

use std::collections::BTreeSet;

use super::secret::SecretRef;
use super::walker::{Value, Walker, array_of_tables};
use crate::detect::catalogue;
use crate::model::{Integration, IntegrationKind, Severity, Triggers};

/// `[[integrations]]`: the routing rule the domain sees, plus where and how to send, which only delivery reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationConfig {
    /// Name, kind and routing (severity, detections, enabled): what the store and the UI may see.
    pub integration: Integration,
    /// Endpoint; a secret itself for Slack and Teams webhooks.
    pub url: SecretRef,
    /// Signing key (webhook: Standard Webhooks `whsec_…`).
    pub secret: Option<SecretRef>,
    /// API token (Jira, Splunk HEC).
    pub token: Option<SecretRef>,
    /// Jira account e-mail for Basic auth.
    pub user: Option<String>,
    /// Jira project key.
    pub project: Option<String>,
    /// Jira issue type (default `Task` at delivery).
    pub issue_type: Option<String>,
    /// `allow_insecure = true`: plain `http://` to a host other than loopback is allowed (else refused, here
    /// for a literal URL and at delivery for one read from the environment or a file).
    pub allow_insecure: bool,
    /// A paced destination (Slack, Teams) with more than this many alerts waiting gets one digest message
    /// listing them instead (default 10).
    pub digest_after: usize,
}

/// Default of `digest_after`.
pub const DIGEST_AFTER: usize = 10;

/// Whether `url` may be used: `https://`, or `http://` to a loopback host (or any host with
/// `allow_insecure`). The error says why, without the URL (it may be the credential).
pub fn check_url_scheme(url: &str, allow_insecure: bool) -> Result<(), String> {
    if url.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err("is not an http(s) URL".to_string());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_insecure {
        Ok(())
    } else {
        Err("uses plain http:// to a host that is not loopback; use https://, or set allow_insecure = true".to_string())
    }
}

/// Slack and Teams webhook URLs carry their credential in the URL.
pub(super) fn url_is_secret(kind: IntegrationKind) -> bool {
    matches!(kind, IntegrationKind::Slack | IntegrationKind::Teams)
}

pub(super) fn parse_integrations(
    w: &mut Walker<'_>,
    v: &Value<'_>,
    custom: &BTreeSet<String>,
) -> Vec<IntegrationConfig> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    let kinds: Vec<(&str, IntegrationKind)> = IntegrationKind::ALL
        .iter()
        .map(|k| (k.as_str(), *k))
        .collect();
    for (i, item, t) in array_of_tables(w, v, "integrations") {
        let mut prefix = format!("integrations[{i}]");
        w.unknown(
            t,
            &prefix,
            &[
                "name",
                "kind",
                "url",
                "secret",
                "token",
                "user",
                "project",
                "issue_type",
                "min_severity",
                "detections",
                "enabled",
                "on",
                "allow_insecure",
                "digest_after",
            ],
            "an integration",
        );
        let name = match t.get("name") {
            Some(v) => w.string(v, &format!("{prefix}.name")).filter(|n| {
                let ok = !n.trim().is_empty();
                if !ok {
                    w.err(v.span(), &format!("{prefix}.name"), "is empty");
                } else if !names.insert(n.clone()) {
                    w.err(
                        v.span(),
                        &format!("{prefix}.name"),
                        format!("'{n}' is already the name of another integration"),
                    );
                }
                ok
            }),
            None => {
                w.err(item.span(), &prefix, "missing 'name'");
                None
            }
        };
        if let Some(n) = &name {
            prefix = format!("integrations.{n}");
        }
        let kind = match t.get("kind") {
            Some(v) => w.enum_value(v, &format!("{prefix}.kind"), "an integration kind", &kinds),
            None => {
                w.err(item.span(), &prefix, "missing 'kind'");
                None
            }
        };
        let url = match t.get("url") {
            Some(v) => w
                .secret_ref(v, &format!("{prefix}.url"), false)
                .filter(|u| match u {
                    SecretRef::Literal(s)
                        if !(s.starts_with("https://") || s.starts_with("http://")) =>
                    {
                        w.err(
                            v.span(),
                            &format!("{prefix}.url"),
                            "is not an http(s) URL, env:NAME or file:PATH",
                        );
                        false
                    }
                    _ => true,
                }),
            None => {
                w.err(item.span(), &prefix, "missing 'url'");
                None
            }
        };
        // A literal Slack/Teams URL only counts as a secret once we know the kind.
        if let (Some(SecretRef::Literal(_)), Some(k)) = (&url, kind)
            && url_is_secret(k)
            && w.first_literal.is_none()
            && let Some(v) = t.get("url")
        {
            w.first_literal = Some((format!("{prefix}.url"), w.line(&v.span())));
        }
        let secret = t
            .get("secret")
            .and_then(|v| w.secret(v, &format!("{prefix}.secret")));
        let token = t
            .get("token")
            .and_then(|v| w.secret(v, &format!("{prefix}.token")));
        let text = |w: &mut Walker<'_>, f: &str| {
            t.get(f).and_then(|v| w.string(v, &format!("{prefix}.{f}")))
        };
        let user = text(w, "user");
        let project = text(w, "project");
        let issue_type = text(w, "issue_type");
        let min_severity = match t.get("min_severity") {
            Some(v) => w.severity(v, &format!("{prefix}.min_severity")),
            None => Some(Severity::Low),
        };
        let enabled = match t.get("enabled") {
            Some(v) => w.boolean(v, &format!("{prefix}.enabled")),
            None => Some(true),
        };
        let allow_insecure = t
            .get("allow_insecure")
            .and_then(|v| w.boolean(v, &format!("{prefix}.allow_insecure")))
            .unwrap_or(false);
        if let (Some(SecretRef::Literal(u)), Some(v)) = (&url, t.get("url"))
            && let Err(why) = check_url_scheme(u, allow_insecure)
        {
            w.err(v.span(), &format!("{prefix}.url"), why);
        }
        let digest_after = t
            .get("digest_after")
            .and_then(|v| w.uint(v, &format!("{prefix}.digest_after"), 100_000))
            .map_or(DIGEST_AFTER, |n| n as usize);
        let mut on = Triggers {
            created: false,
            updated: false,
        };
        match t.get("on") {
            None => on = Triggers::default(),
            Some(v) => {
                let key = format!("{prefix}.on");
                for (trigger, span) in w.strings(v, &key).unwrap_or_default() {
                    match trigger.as_str() {
                        "created" => on.created = true,
                        "updated" => on.updated = true,
                        _ => w.err(
                            span,
                            &key,
                            format!("'{trigger}' is not a trigger; expected created or updated"),
                        ),
                    }
                }
            }
        }
        let mut detections = Vec::new();
        if let Some(v) = t.get("detections") {
            let key = format!("{prefix}.detections");
            for (d, span) in w.strings(v, &key).unwrap_or_default() {
                if catalogue::spec(&d).is_some() || custom.contains(&d) {
                    detections.push(d);
                } else {
                    w.err(span, &key, format!("'{d}' is not a detection id"));
                }
            }
        }
        if let Some(k) = kind {
            let needs: &[(&str, bool)] = match k {
                IntegrationKind::Webhook => &[("secret", secret.is_some())],
                IntegrationKind::SplunkHec => &[("token", token.is_some())],
                IntegrationKind::Jira => &[
                    ("token", token.is_some()),
                    ("user", user.is_some()),
                    ("project", project.is_some()),
                ],
                _ => &[],
            };
            for (field, present) in needs {
                if !present && !t.contains_key(*field) {
                    w.err(
                        item.span(),
                        &prefix,
                        format!("a {} integration needs '{field}'", k.as_str()),
                    );
                }
            }
        }
        if let (Some(name), Some(kind), Some(url), Some(min_severity), Some(enabled)) =
            (name, kind, url, min_severity, enabled)
        {
            out.push(IntegrationConfig {
                integration: Integration {
                    name,
                    kind,
                    min_severity,
                    detections,
                    enabled,
                    on,
                },
                url,
                secret,
                token,
                user,
                project,
                issue_type,
                allow_insecure,
                digest_after,
            });
        }
    }
    out
}

#[cfg(test)]
mod scheme_tests {
    use super::check_url_scheme;

    #[test]
    fn plain_http_is_for_loopback_unless_allowed() {
        assert!(check_url_scheme("https://hooks.slack.com/x", false).is_ok());
        for ok in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]:80/",
            "http://u:p@127.0.0.2/",
        ] {
            assert!(check_url_scheme(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://siem.example.com/x",
            "http://127.0.0.1.evil.com/",
            "http://10.0.0.1/",
            "http://localhost@evil.com/",
        ] {
            assert!(check_url_scheme(bad, false).is_err(), "{bad}");
            assert!(check_url_scheme(bad, true).is_ok(), "{bad}");
        }
        assert!(check_url_scheme("ftp://x", true).is_err());
    }
}
