//! `[[integrations]]`: where alerts are delivered. The routing part (name, kind, severity, detections, enabled)
//! is [`crate::model::Integration`]; this file adds the endpoint and credentials, which only `engine` reads.

use std::collections::BTreeSet;

use super::secret::SecretRef;
use super::walker::{Value, Walker, array_of_tables};
use crate::detect::catalogue;
use crate::model::{Integration, IntegrationKind, Severity};

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
                },
                url,
                secret,
                token,
                user,
                project,
                issue_type,
            });
        }
    }
    out
}
