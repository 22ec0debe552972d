//! The detection catalogue of DESIGN §5, as data: one [`DetectionSpec`] per detection with its default action
//! keys, window, thresholds and severity, and the analyst-facing text (what it means, what to check, what to
//! undo) that alerts copy and the detections pane lists. Keeping it a static table means the detector, the
//! config validator and the UI can never disagree about which detections exist.

use crate::detect::tuning::Sensitivity;
use crate::model::Severity;

/// The catalogue's grouping of detections (Guard Detect's categories plus `content`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionCategory {
    /// Behaviour unusual for one actor: crawling, sensitive searches, mass deletion.
    UnusualActivity,
    /// Data leaving the organization or its protections being lowered.
    Exfiltration,
    /// Logins, admin rights, authentication and API credentials.
    Access,
    /// Apps, AI agents and the audit stream itself.
    Integration,
    /// Secrets and personal data written into content.
    Content,
}

impl DetectionCategory {
    /// The human name the UI shows ("unusual activity").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnusualActivity => "unusual activity",
            Self::Exfiltration => "exfiltration",
            Self::Access => "access",
            Self::Integration => "integration",
            Self::Content => "content",
        }
    }
}

/// How a detection decides to fire; the detector dispatches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectionKind {
    /// Count matching events per actor in a sliding window of event time; fire at the threshold the
    /// sensitivity picks. `distinct` counts distinct objects (pages, issues) instead of events.
    Threshold {
        window_secs: u64,
        fewer: u32,
        default: u32,
        more: u32,
        distinct: bool,
    },
    /// Every matching event is worth an alert on its own.
    Single,
    /// A login from a country the actor has not used for 90 days, once the actor has a login history.
    LoginNewCountry,
    /// Two consecutive logins further apart than anyone can travel in the time between them.
    ImpossibleTravel,
    /// Content scanning of titles and bodies.
    Content,
}

impl DetectionKind {
    /// The threshold in force for `sensitivity`; `None` for detections that do not count.
    pub fn threshold(&self, sensitivity: Sensitivity) -> Option<u32> {
        match *self {
            Self::Threshold {
                fewer,
                default,
                more,
                ..
            } => Some(match sensitivity {
                Sensitivity::Fewer => fewer,
                Sensitivity::Default => default,
                Sensitivity::More => more,
            }),
            _ => None,
        }
    }

    /// Sliding window length in seconds for threshold detections.
    pub fn window_secs(&self) -> Option<u64> {
        match *self {
            Self::Threshold { window_secs, .. } => Some(window_secs),
            _ => None,
        }
    }
}

/// An extra condition an event must meet, beyond its action key, to count for a detection. Data rather than a
/// rule keyed by detection id, so the detector and the synthetic generator read the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventCondition {
    /// Every event of the detection's actions counts.
    Any,
    /// Only searches whose query (a [`SEARCH_QUERY_ATTRS`] context attribute, or the message) names one of
    /// [`SENSITIVE_TERMS`] count.
    SensitiveQuery,
    /// Events of `actions` count only when the client they name looks like an AI agent or MCP client
    /// ([`AI_WORDS`], [`AI_FRAGMENTS`]); the detection's other actions always count.
    AiClient {
        /// The action keys the condition applies to (a subset of the detection's actions).
        actions: &'static [&'static str],
    },
}

/// One catalogue entry. Every string is `'static` so the catalogue costs nothing to hold and can be listed
/// without allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectionSpec {
    /// Stable id, the key of tuning, filters and indexes (`page-crawling`).
    pub id: &'static str,
    /// Where the detections pane files it.
    pub category: DetectionCategory,
    /// Alert title.
    pub title: &'static str,
    /// What the alert means and why it matters.
    pub description: &'static str,
    /// What an analyst should look at next, in order.
    pub investigation_steps: &'static [&'static str],
    /// What to undo or change when the activity was not legitimate.
    pub remediation: &'static [&'static str],
    /// Default catalogue action keys; `[actions]` aliases add the organization's real keys.
    pub actions: &'static [&'static str],
    /// How it decides to fire.
    pub kind: DetectionKind,
    /// What else an event must meet to count.
    pub condition: EventCondition,
    /// Severity of the alerts it raises (content: the nominal severity; each alert takes its findings').
    pub severity: Severity,
}

/// How long a country stays "seen" for a [`DetectionKind::LoginNewCountry`] detection.
pub const COUNTRY_MEMORY_MS: i64 = 90 * 86_400_000;
/// Prior logins an actor needs before a new country is unusual ([`DetectionKind::LoginNewCountry`]).
pub const MIN_PRIOR_LOGINS: u32 = 5;
/// Great-circle speed above which two consecutive logins are impossible travel
/// ([`DetectionKind::ImpossibleTravel`]).
pub const MAX_TRAVEL_KMH: f64 = 900.0;
/// Logins closer than this never count as impossible travel: geolocation of one city varies this much.
pub const MIN_TRAVEL_KM: f64 = 100.0;

/// Words that make a search query count for an [`EventCondition::SensitiveQuery`] detection (case-insensitive,
/// matched at the start of a word so plurals count: "passwords", "tokens"; `ssn` only as a whole word). The
/// synthetic generator builds its suspicious searches from this list, so the two cannot drift apart.
pub const SENSITIVE_TERMS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "salary",
    "salaries",
    "confidential",
    "credential",
    "api key",
    "api_key",
    "api-key",
    "apikey",
    "access key",
    "private key",
    "token",
    "ssn",
    "social security",
    "payroll",
    "bank account",
    "credit card",
    "compensation",
];

pub use crate::model::SEARCH_QUERY_ATTRS;

/// Words naming AI or MCP clients, for [`EventCondition::AiClient`] (whole words, case-insensitive).
pub const AI_WORDS: &[&str] = &[
    "ai",
    "mcp",
    "llm",
    "gpt",
    "chatgpt",
    "claude",
    "openai",
    "copilot",
    "gemini",
    "anthropic",
];
/// Fragments distinctive enough to count inside a longer word ("ClaudeDesktop", "openai-connector").
pub const AI_FRAGMENTS: &[&str] = &[
    "claude",
    "openai",
    "copilot",
    "chatgpt",
    "anthropic",
    "gemini",
];

const MIN10: u64 = 600;
const HOUR: u64 = 3600;

static CATALOGUE: &[DetectionSpec] = &[
    DetectionSpec {
        id: "page-crawling",
        category: DetectionCategory::UnusualActivity,
        title: "Page crawling",
        description: "The user viewed an unusually large number of distinct Confluence pages or blog posts in a \
                      short time. Scripts and compromised accounts crawl content this way to copy it out; people \
                      reading normally do not open hundreds of different pages in minutes.",
        investigation_steps: &[
            "Check whether the actor authenticated with an API token or an app (actor auth type and token label): automation explains bulk reads.",
            "Look at which spaces the pages belong to and whether they hold sensitive material the actor does not usually read.",
            "Compare the actor's IP address and country with their recent logins.",
            "Look for exports, attachment downloads or searches by the same actor around the same time.",
            "Ask the actor or their manager whether the activity was expected (migration, audit, indexing tool).",
        ],
        remediation: &[
            "If the account is compromised: suspend it, revoke its API tokens and sessions, and reset its password.",
            "Restrict the affected spaces while you investigate.",
            "If the crawler is a known tool, exclude its account from this detection instead of raising the threshold for everyone.",
        ],
        actions: &["page_viewed", "blogpost_viewed"],
        kind: DetectionKind::Threshold {
            window_secs: MIN10,
            fewer: 400,
            default: 200,
            more: 100,
            distinct: true,
        },
        condition: EventCondition::Any,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "issue-crawling",
        category: DetectionCategory::UnusualActivity,
        title: "Issue crawling",
        description: "The user viewed an unusually large number of distinct Jira issues in a short time, as a \
                      scraper or a compromised account copying project data would.",
        investigation_steps: &[
            "Check the actor's auth type and token label: integrations and reporting tools read many issues.",
            "See which projects the issues belong to (security, HR, customer data).",
            "Compare the IP address and country with the actor's recent logins.",
            "Look for filter exports or attachment downloads by the same actor in the same period.",
        ],
        remediation: &[
            "If not legitimate: suspend the account, revoke its API tokens and sessions.",
            "Review project permissions for the affected projects.",
            "Exclude known integration accounts from this detection.",
        ],
        actions: &["issue_viewed"],
        kind: DetectionKind::Threshold {
            window_secs: MIN10,
            fewer: 400,
            default: 200,
            more: 100,
            distinct: true,
        },
        condition: EventCondition::Any,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "suspicious-search",
        category: DetectionCategory::UnusualActivity,
        title: "Searches for sensitive terms",
        description: "The user ran several searches for terms such as password, secret, token, salary or \
                      confidential within an hour. Attackers who gain access search for credentials and \
                      valuable data before anything else.",
        investigation_steps: &[
            "Read the search queries in the evidence events.",
            "Check which results the actor opened afterwards (page and issue views right after the searches).",
            "Compare the IP address and country with the actor's usual logins.",
            "Check whether the actor's role explains the searches (security team, HR, finance).",
        ],
        remediation: &[
            "If not legitimate: suspend the account and revoke its sessions and tokens.",
            "Rotate any credential the actor could have found, and remove secrets stored in pages or issues.",
        ],
        actions: &["search_performed"],
        kind: DetectionKind::Threshold {
            window_secs: HOUR,
            fewer: 20,
            default: 10,
            more: 3,
            distinct: false,
        },
        condition: EventCondition::SensitiveQuery,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "bulk-export",
        category: DetectionCategory::Exfiltration,
        title: "Bulk export",
        description: "The user exported many pages, spaces, issues or filters within an hour. Exports take data \
                      out of the product where its permissions no longer protect it.",
        investigation_steps: &[
            "List what was exported (spaces, issues, filters) from the evidence events.",
            "Check whether the actor owns the exported content or normally works with it.",
            "Check the actor's IP address, country and auth type.",
            "Look for a recent resignation, role change or access request by the actor.",
        ],
        remediation: &[
            "If not legitimate: suspend the account, revoke sessions and tokens.",
            "Restrict export permissions for the affected spaces or projects.",
            "Assess what left the organization and start your data-loss process.",
        ],
        actions: &[
            "page_exported",
            "space_exported",
            "issue_exported",
            "filter_exported",
        ],
        kind: DetectionKind::Threshold {
            window_secs: HOUR,
            fewer: 20,
            default: 10,
            more: 5,
            distinct: false,
        },
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "mass-download",
        category: DetectionCategory::Exfiltration,
        title: "Mass attachment download",
        description: "The user downloaded an unusually large number of attachments in ten minutes.",
        investigation_steps: &[
            "See which pages and issues the attachments belong to.",
            "Check the actor's auth type (API token, app) and IP address.",
            "Look for exports or crawling by the same actor around the same time.",
        ],
        remediation: &[
            "If not legitimate: suspend the account and revoke its tokens and sessions.",
            "Review who can see the affected attachments.",
        ],
        actions: &["attachment_downloaded"],
        kind: DetectionKind::Threshold {
            window_secs: MIN10,
            fewer: 200,
            default: 100,
            more: 50,
            distinct: false,
        },
        condition: EventCondition::Any,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "mass-deletion",
        category: DetectionCategory::UnusualActivity,
        title: "Mass deletion",
        description: "The user deleted many pages, issues or spaces in ten minutes, which destroys work and can \
                      hide other activity.",
        investigation_steps: &[
            "List what was deleted from the evidence events and who owned it.",
            "Check whether a clean-up or archive was planned.",
            "Check the actor's IP address, country and auth type.",
        ],
        remediation: &[
            "Restore deleted pages and spaces from the trash, and issues from backup, while they are recoverable.",
            "If not legitimate: suspend the account and revoke its tokens and sessions.",
        ],
        actions: &["page_deleted", "issue_deleted", "space_deleted"],
        kind: DetectionKind::Threshold {
            window_secs: MIN10,
            fewer: 50,
            default: 25,
            more: 10,
            distinct: false,
        },
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "failed-login-burst",
        category: DetectionCategory::Access,
        title: "Burst of failed logins",
        description: "Many failed logins for one account in ten minutes: password guessing or credential \
                      stuffing, or a user locked out by a stale saved password.",
        investigation_steps: &[
            "Check the source IP addresses and countries of the failures.",
            "Check whether a successful login followed the failures, and from where.",
            "Ask the user whether they were having trouble logging in.",
        ],
        remediation: &[
            "If a successful login followed from an unknown place: reset the password and revoke sessions.",
            "Make sure two-step verification or SSO is enforced for the account.",
            "Block the source IP addresses at your identity provider or IP allowlist.",
        ],
        actions: &["user_login_failed"],
        kind: DetectionKind::Threshold {
            window_secs: MIN10,
            fewer: 20,
            default: 10,
            more: 5,
            distinct: false,
        },
        condition: EventCondition::Any,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "login-new-country",
        category: DetectionCategory::Access,
        title: "Login from a new country",
        description: "The user logged in from a country they have not logged in from in the last 90 days. \
                      Travel explains most of these; a stolen session or password explains the rest.",
        investigation_steps: &[
            "Ask the user whether they are travelling or using a VPN.",
            "Compare the IP address with the user's recent logins and known corporate egress ranges.",
            "Look at what the user did after the login (exports, admin changes, token creation).",
        ],
        remediation: &[
            "If not the user: revoke all sessions, reset the password and review two-step verification devices.",
            "Revoke API tokens created since the login.",
        ],
        actions: &["user_login"],
        kind: DetectionKind::LoginNewCountry,
        condition: EventCondition::Any,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "impossible-travel",
        category: DetectionCategory::Access,
        title: "Impossible travel",
        description: "Two consecutive logins by the same user came from places too far apart to travel between \
                      in the time between them (faster than 900 km/h). One of them is likely not the user, or \
                      the user connects through a VPN or proxy.",
        investigation_steps: &[
            "Compare both logins' IP addresses and locations with the user's usual ones.",
            "Check whether either IP belongs to a VPN, proxy or cloud provider the organization uses.",
            "Look at what happened in the session from the unfamiliar location.",
        ],
        remediation: &[
            "If not the user: revoke all sessions, reset the password, review two-step verification devices.",
            "Revoke API tokens created since the suspicious login.",
        ],
        actions: &["user_login"],
        kind: DetectionKind::ImpossibleTravel,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "admin-impersonation",
        category: DetectionCategory::Access,
        title: "Admin logged in as another user",
        description: "An administrator used 'log in as user' to act as someone else. Support work needs it \
                      occasionally; it also lets an admin read and change anything the user can, under their name.",
        investigation_steps: &[
            "Check which user was impersonated and whether a support ticket asked for it.",
            "Review what was done during the impersonated session.",
            "Confirm the administrator's own login came from a known place.",
        ],
        remediation: &[
            "If unauthorised: remove the administrator's admin role, revoke their sessions and review the actions taken as the user.",
            "Tell the impersonated user.",
        ],
        actions: &["user_logged_in_as_user"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "org-admin-granted",
        category: DetectionCategory::Access,
        title: "Admin role granted",
        description: "Someone was made an organization or site administrator. Admin rights control users, \
                      security policy and data; attackers grant them to keep access.",
        investigation_steps: &[
            "Check who granted the role and to whom.",
            "Confirm the change with an approved access request.",
            "Check whether the new admin made further changes (policies, API keys, users).",
        ],
        remediation: &[
            "If unapproved: revoke the role, then review changes made with it.",
            "Investigate how the granting admin's account was used.",
        ],
        actions: &["org_admin_role_granted", "site_admin_role_granted"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "org-admin-removed",
        category: DetectionCategory::Access,
        title: "Admin role removed",
        description: "Someone lost their organization or site admin role. An intruder who has taken an \
                      admin account removes the other admins so that nobody can undo what they do next.",
        investigation_steps: &[
            "Check who removed the role, from whom, and whether it was part of an approved change (a leaver, a \
             role review).",
            "Check whether other admins lost their role around the same time.",
            "Check the remover's recent logins and other admin changes.",
        ],
        remediation: &[
            "If unapproved: restore the role, then revoke the remover's sessions and admin role.",
            "Make sure at least two people you trust hold the organization admin role.",
        ],
        actions: &["org_admin_role_revoked", "site_admin_role_revoked"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "org-admin-password-reset",
        category: DetectionCategory::Access,
        title: "Admin's password reset",
        description: "An organization admin's password was reset. Whoever controls the reset controls the \
                      admin account, and every setting it can change.",
        investigation_steps: &[
            "Check who started the reset (the admin, another admin, the identity provider) and from where.",
            "Ask the admin, through a channel other than their e-mail, whether they asked for it.",
            "Review the account's logins and admin changes since the reset.",
        ],
        remediation: &[
            "If not the admin: suspend the account, revoke its sessions and API tokens, then reset the password \
             and two-step verification with the admin present.",
            "Review every change the account made since the reset.",
        ],
        actions: &["org_admin_password_reset"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "user-provisioning-changed",
        category: DetectionCategory::Access,
        title: "External user management changed",
        description: "User provisioning from an identity provider (SCIM), Google Workspace sync or SAML single \
                      sign-on was turned on, changed or removed. Whoever controls that connection controls \
                      which accounts exist and how they log in.",
        investigation_steps: &[
            "Check which directory or identity provider the change points at, and whether it is yours.",
            "Check who made the change and whether a change request exists.",
            "Look for accounts created, reactivated or given groups through the connection since.",
        ],
        remediation: &[
            "If unapproved: remove the connection or restore its previous settings, and rotate its SCIM token.",
            "Review the accounts and group memberships it changed.",
        ],
        actions: &[
            "scim_provisioning_enabled",
            "scim_provisioning_updated",
            "scim_provisioning_disabled",
            "google_workspace_sync_enabled",
            "google_workspace_sync_updated",
            "saml_configuration_created",
            "saml_configuration_updated",
            "saml_configuration_deleted",
        ],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "auth-policy-weakened",
        category: DetectionCategory::Access,
        title: "Authentication policy weakened",
        description: "An authentication policy was created, changed or removed, two-step enforcement was \
                      turned off or SSO was disabled. A new policy can take users out of a stricter one, and a \
                      removed one sends its users to the default: weaker login requirements make stolen \
                      passwords enough to get in.",
        investigation_steps: &[
            "Read the change in the event: which policy, which setting, which users it covers.",
            "Check who made it and whether a change request exists.",
            "Look for logins from new places for the affected users after the change.",
        ],
        remediation: &[
            "Restore the previous policy (re-enable enforcement or SSO).",
            "If unapproved: revoke the admin's sessions and review their other changes.",
        ],
        actions: &[
            "authentication_policy_updated",
            "authentication_policy_created",
            "authentication_policy_deleted",
            "two_step_enforcement_disabled",
            "sso_disabled",
        ],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "two-step-disabled",
        category: DetectionCategory::Access,
        title: "Two-step verification disabled",
        description: "Two-step verification was turned off for a user, leaving the password as the only factor.",
        investigation_steps: &[
            "Check whether the user or an admin did it, and from where.",
            "Ask the user whether they reset their device.",
            "Look at the user's logins after the change.",
        ],
        remediation: &[
            "Ask the user to re-enrol, or enforce two-step verification through an authentication policy.",
            "If not the user: reset the password and revoke sessions.",
        ],
        actions: &["user_two_step_disabled"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "two-step-changed",
        category: DetectionCategory::Access,
        title: "Two-step verification changed",
        description: "A user's two-step verification was reset or given a new method, or the organization's \
                      two-step enforcement was turned on or changed. A reset second factor is how an attacker \
                      who has the password completes a takeover; an enforcement change decides who needs one.",
        investigation_steps: &[
            "Check whether the user or an admin made the change, and from where.",
            "For a user: ask them, through another channel, whether they changed their device.",
            "Look at the user's logins after the change, and at which users an enforcement change covers.",
        ],
        remediation: &[
            "If not the user: revoke their sessions, reset the password and the second factor with them present.",
            "Restore the previous enforcement if the change was not approved.",
        ],
        actions: &[
            "user_two_step_reset",
            "user_two_step_method_changed",
            "two_step_enforcement_enabled",
            "two_step_enforcement_updated",
        ],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "ip-allowlist-changed",
        category: DetectionCategory::Access,
        title: "IP allowlist changed",
        description: "An IP allowlist of the organization was created, changed or removed, which changes where \
                      people can reach your products from.",
        investigation_steps: &[
            "Compare the new allowlist with the previous one: which ranges were added or removed.",
            "Check who made the change and whether it was approved.",
        ],
        remediation: &[
            "Restore the previous allowlist if the change was not approved.",
            "Review logins from the newly allowed ranges.",
        ],
        actions: &[
            "ip_allowlist_created",
            "ip_allowlist_updated",
            "ip_allowlist_removed",
        ],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "verified-domain-changed",
        category: DetectionCategory::Access,
        title: "Verified domain changed",
        description: "A domain was verified or removed. Verified domains decide which accounts the \
                      organization manages; adding a domain can claim accounts, removing one releases them.",
        investigation_steps: &[
            "Check which domain changed and who did it.",
            "Confirm the domain belongs to the organization.",
        ],
        remediation: &[
            "Remove a domain that is not yours; re-verify a domain removed by mistake.",
            "Review the managed accounts affected by the change.",
        ],
        actions: &["domain_verified", "domain_removed"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "admin-api-key-created",
        category: DetectionCategory::Access,
        title: "Organization API key created",
        description: "An organization admin API key was created. It grants admin-level API access without a \
                      login, so it outlives password resets.",
        investigation_steps: &[
            "Check who created the key, its name and expiry.",
            "Confirm an integration needs it.",
            "Watch the key's use in the audit log.",
        ],
        remediation: &[
            "Revoke the key if it is not needed or not approved.",
            "Give keys the shortest expiry possible.",
        ],
        actions: &["admin_api_key_created"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "user-api-token-created",
        category: DetectionCategory::Access,
        title: "API token created",
        description: "A user created an API token. Tokens keep working after the session ends and are a \
                      common way to keep access after an account is taken over.",
        investigation_steps: &[
            "Check the token label and whether the user normally creates tokens.",
            "Check the login that preceded the creation: place and auth type.",
        ],
        remediation: &[
            "If the user did not create it: revoke the token, reset the password and revoke sessions.",
        ],
        actions: &["api_token_created"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::Low,
    },
    DetectionSpec {
        id: "data-security-policy-changed",
        category: DetectionCategory::Exfiltration,
        title: "Data security policy changed",
        description: "A data security policy was changed, deactivated or deleted. These policies block exports, \
                      public links and app access to sensitive content.",
        investigation_steps: &[
            "See which policy changed and what it covered.",
            "Check who changed it and whether it was approved.",
            "Look for exports or public links on covered content after the change.",
        ],
        remediation: &[
            "Restore or re-activate the policy.",
            "Review data that left while it was off.",
        ],
        actions: &[
            "data_security_policy_updated",
            "data_security_policy_deactivated",
            "data_security_policy_deleted",
        ],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "classification-lowered",
        category: DetectionCategory::Exfiltration,
        title: "Classification level lowered",
        description: "Content was given a lower data classification, which can remove the protections its \
                      previous level had.",
        investigation_steps: &[
            "Check which page or space changed, and its old and new level.",
            "Ask the owner whether the content really is less sensitive.",
        ],
        remediation: &["Restore the previous classification if the change was a mistake."],
        actions: &["classification_level_decreased"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "public-link-enabled",
        category: DetectionCategory::Exfiltration,
        title: "Public access enabled",
        description: "A public link or anonymous access was turned on: anyone with the link, or anyone at all, \
                      can now read the content.",
        investigation_steps: &[
            "See which page, space or project is now public.",
            "Check whether its content may be public.",
        ],
        remediation: &[
            "Turn the public link or anonymous access off if the content is not meant to be public.",
        ],
        actions: &["public_link_enabled", "anonymous_access_enabled"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "site-export",
        category: DetectionCategory::Exfiltration,
        title: "Site export or backup",
        description: "A full site export or backup was started. It contains every page, issue and attachment \
                      of the site.",
        investigation_steps: &[
            "Check who started it and whether a migration or backup was planned.",
            "Find out where the export file was downloaded to.",
        ],
        remediation: &[
            "Cancel the export and delete the file if unapproved.",
            "Review the admin's other activity.",
        ],
        actions: &["site_export_started", "site_backup_created"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
    DetectionSpec {
        id: "app-installed",
        category: DetectionCategory::Integration,
        title: "App installed or removed",
        description: "A Marketplace or custom app was installed or removed. Apps can read and write content \
                      with their own permissions.",
        investigation_steps: &[
            "Check which app, who installed it, and the scopes it requested.",
            "Confirm it was approved.",
        ],
        remediation: &[
            "Uninstall apps that were not approved.",
            "Review what an unapproved app accessed.",
        ],
        actions: &["app_installed", "app_removed"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::Low,
    },
    DetectionSpec {
        id: "ai-agent-connected",
        category: DetectionCategory::Integration,
        title: "AI agent connected",
        description: "An AI agent or MCP client was connected to the organization's data. It reads content with \
                      the user's permissions and may send it to an outside model provider.",
        investigation_steps: &[
            "Check which client (MCP server, AI app) was authorized and by whom.",
            "Check the scopes granted and whether the client is approved.",
        ],
        remediation: &["Revoke the client's authorization if it is not approved."],
        actions: &["mcp_server_connected", "oauth_app_authorized"],
        kind: DetectionKind::Single,
        condition: EventCondition::AiClient {
            actions: &["oauth_app_authorized"],
        },
        severity: Severity::Medium,
    },
    DetectionSpec {
        id: "audit-stream-changed",
        category: DetectionCategory::Integration,
        title: "Audit log stream changed",
        description: "The audit-log webhook that feeds this tool was changed or deleted. Attackers blind \
                      monitoring before they act; vigil may stop receiving events.",
        investigation_steps: &[
            "Check who changed the webhook and what the new destination is.",
            "Check that events are still arriving in vigil.",
        ],
        remediation: &[
            "Restore the webhook configuration.",
            "If unapproved: revoke the admin's sessions and review their other changes.",
        ],
        actions: &["audit_log_webhook_updated", "audit_log_webhook_deleted"],
        kind: DetectionKind::Single,
        condition: EventCondition::Any,
        severity: Severity::Critical,
    },
    DetectionSpec {
        id: "sensitive-content",
        category: DetectionCategory::Content,
        title: "Sensitive content",
        description: "A page, issue, comment or AI prompt contains a credential, payment card, bank account or \
                      identity number. Anyone who can read it can use it.",
        investigation_steps: &[
            "Open the content (the subject) and find the match from the redacted excerpt.",
            "Check who can read the content and whether it is published or shared.",
            "For credentials: check whether the secret is live and where it was used.",
        ],
        remediation: &[
            "Rotate or revoke the credential first, then remove it from the content and its history.",
            "Store secrets in a secret manager, not in pages or issues.",
        ],
        actions: &[],
        kind: DetectionKind::Content,
        condition: EventCondition::Any,
        severity: Severity::High,
    },
];

/// The whole catalogue, in display order.
pub fn catalogue() -> &'static [DetectionSpec] {
    CATALOGUE
}

/// A catalogue entry by id; `None` for custom detections and unknown ids.
pub fn spec(id: &str) -> Option<&'static DetectionSpec> {
    CATALOGUE.iter().find(|s| s.id == id)
}

/// Whether `key` is one of the catalogue's default action keys (what `[actions]` may alias).
pub fn is_catalogue_action(key: &str) -> bool {
    CATALOGUE.iter().any(|s| s.actions.contains(&key))
}

/// The detection id of a custom detection: `custom:` and its name in lower-case kebab form (the id its
/// content findings carry, so tuning, filters and findings agree). `"custom:"` alone means the name is unusable.
pub fn custom_detection_id(name: &str) -> String {
    crate::detect::content::custom_scanner_id(name.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_text_is_complete() {
        let mut ids: Vec<_> = catalogue().iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), catalogue().len());
        for s in catalogue() {
            assert!(!s.title.is_empty() && !s.description.is_empty(), "{}", s.id);
            assert!(
                !s.investigation_steps.is_empty() && !s.remediation.is_empty(),
                "{}",
                s.id
            );
            assert!(s.description.len() < 600, "{}", s.id);
            if !matches!(s.kind, DetectionKind::Content) {
                assert!(!s.actions.is_empty(), "{}", s.id);
            }
            if let EventCondition::AiClient { actions } = s.condition {
                assert!(actions.iter().all(|a| s.actions.contains(a)), "{}", s.id);
            }
        }
        assert_eq!(catalogue().len(), 29);
    }

    #[test]
    fn thresholds_follow_sensitivity() {
        let s = spec("page-crawling").map(|s| s.kind);
        assert_eq!(s.and_then(|k| k.threshold(Sensitivity::Fewer)), Some(400));
        assert_eq!(s.and_then(|k| k.threshold(Sensitivity::More)), Some(100));
        assert_eq!(
            spec("admin-impersonation").and_then(|s| s.kind.threshold(Sensitivity::Default)),
            None
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(
            custom_detection_id("Project Falcon leak"),
            "custom:project-falcon-leak"
        );
        assert_eq!(custom_detection_id(" !! "), "custom:");
    }
}
