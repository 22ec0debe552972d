//! Content scanners: find secrets and personal data in the text of pages, issues, comments and AI prompts
//! (DESIGN §5, `sensitive-content`), and in files at rest (`vigil scan`).
//!
//! Three linear passes over the bytes, each cheap where nothing is found:
//! - a literal pass (`tokens`): one Aho-Corasick automaton over token prefixes and context keywords, then a
//!   small anchored regex and a validator on a bounded window at each occurrence;
//! - a numeric pass (`numbers`): payment cards (Luhn + issuer prefix and length) and IBANs (per-country
//!   length + mod-97), which have no literal to prefilter on;
//! - an `@` pass (`email`): many distinct e-mail addresses in one body;
//!
//! plus the organization's custom detections. Work per text is linear in its length: windows are bounded,
//! and candidates and findings are capped ([`MAX_FINDINGS`]).
//!
//! What leaves a scan is a [`Finding`]: scanner id, byte span, a redacted form showing at most four leading
//! characters, and a keyed HMAC fingerprint so the same secret seen twice dedupes. The secret itself never
//! outlives [`ContentScanner::scan`]. Documented example values (AWS's `…EXAMPLE` keys, published test card
//! numbers, the Wikipedia IBANs, the jwt.io token) are not findings: they are not anyone's secret.
//!
//! Must not import tokio, sled, ratatui, crossterm or reqwest (guarded by `tests/layering.rs`).

mod custom;
mod email;
mod numbers;
mod tokens;
mod validate;

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::tuning::Tuning;
use crate::model::Severity;

pub use custom::{MAX_CUSTOM_DETECTIONS, MAX_TERMS, TERM_CHARS, custom_scanner_id};
pub use email::EMAIL_THRESHOLD;

/// Guard's grouping of scanners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Keys, tokens, passwords: something that grants access.
    Credentials,
    /// Card numbers and bank accounts.
    Financial,
    /// Data that identifies people (SSNs, lists of addresses).
    Identity,
    /// The organization's own detections.
    Custom,
}

impl Category {
    /// The lower-case name used in files and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credentials => "credentials",
            Self::Financial => "financial",
            Self::Identity => "identity",
            Self::Custom => "custom",
        }
    }
}

/// One validated hit in a text. Holds the redacted form and the keyed fingerprint only; `start..end` are
/// byte offsets into the scanned text (always on `char` boundaries) so callers can report line and column
/// without keeping the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Scanner id: `aws-access-key-id`, `payment-card`, … or `custom:<slug>` for custom detections.
    pub scanner: String,
    /// The scanner's group, for filtering and the UI.
    pub category: Category,
    /// The scanner's severity (a custom detection's own), which the alert takes.
    pub severity: Severity,
    /// Byte offset of the first byte of the secret (for `email-addresses`: of the first address counted).
    pub start: usize,
    /// Byte offset one past the secret (for `email-addresses`: past the last address counted).
    pub end: usize,
    /// Safe to show and to send: e.g. `AKIA…[aws-access-key-id, 20 chars]`.
    pub redacted: String,
    /// Hex of the first 16 bytes of HMAC-SHA256(fingerprint key, secret): equal secrets, equal fingerprints,
    /// so alerts group and dedupe on it; without the key it reveals nothing about the secret.
    pub fingerprint: String,
}

/// A built-in scanner as the UI and `vigil check` list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScannerInfo {
    /// The id findings carry and `disabled_scanners` names.
    pub id: &'static str,
    /// Guard's group.
    pub category: Category,
    /// Severity of its findings.
    pub severity: Severity,
    /// One line: what it finds and what validates it.
    pub description: &'static str,
}

/// The built-in scanners, in `Kind` order.
pub const SCANNERS: &[ScannerInfo] = &[
    info(
        "aws-access-key-id",
        Category::Credentials,
        Severity::High,
        "AWS access key id: AKIA/ASIA/ABIA/ACCA + 16 upper-case characters; AWS's EXAMPLE ids excluded",
    ),
    info(
        "aws-secret-access-key",
        Category::Credentials,
        Severity::Critical,
        "AWS secret access key: 40 mixed-case base64 characters within 200 bytes after an AWS keyword, entropy ≥ 4",
    ),
    info(
        "github-token",
        Category::Credentials,
        Severity::High,
        "GitHub token: ghp_/gho_/ghu_/ghs_/ghr_ + 36, or github_pat_ fine-grained token",
    ),
    info(
        "gitlab-token",
        Category::Credentials,
        Severity::High,
        "GitLab personal access token: glpat-…",
    ),
    info(
        "slack-token",
        Category::Credentials,
        Severity::High,
        "Slack token: xoxa-/xoxb-/xoxe-/xoxp-/xoxr-/xoxs- + numeric team id + secret",
    ),
    info(
        "slack-webhook",
        Category::Credentials,
        Severity::Medium,
        "Slack incoming-webhook URL: hooks.slack.com/services/T…/B…/…",
    ),
    info(
        "atlassian-api-token",
        Category::Credentials,
        Severity::Critical,
        "Atlassian API token: ATATT3…",
    ),
    info(
        "google-api-key",
        Category::Credentials,
        Severity::High,
        "Google API key: AIza + 35 characters",
    ),
    info(
        "stripe-live-key",
        Category::Credentials,
        Severity::Critical,
        "Stripe live secret or restricted key: sk_live_/rk_live_ (test keys are not reported)",
    ),
    info(
        "openai-api-key",
        Category::Credentials,
        Severity::High,
        "OpenAI API key: sk-… (incl. sk-proj-, sk-svcacct-) carrying the T3BlbkFJ marker",
    ),
    info(
        "private-key",
        Category::Credentials,
        Severity::Critical,
        "Private-key block: -----BEGIN … PRIVATE KEY----- with a real base64 body",
    ),
    info(
        "jwt",
        Category::Credentials,
        Severity::Medium,
        "Signed JSON Web Token: header decodes to JSON with \"alg\", payload to a JSON object",
    ),
    info(
        "password-assignment",
        Category::Credentials,
        Severity::High,
        "password = \"…\", pwd: … and the like, with a value that is not a placeholder and has entropy",
    ),
    info(
        "generic-secret",
        Category::Credentials,
        Severity::Medium,
        "secret/token/api_key = high-entropy value of 16+ characters mixing letters and digits",
    ),
    info(
        "payment-card",
        Category::Financial,
        Severity::High,
        "Payment card number: issuer prefix and length (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay) and Luhn; grouped 4-4-4-4 / 4-6-5, or bare next to a card word",
    ),
    info(
        "iban",
        Category::Financial,
        Severity::Medium,
        "IBAN: registered country length and mod-97 check",
    ),
    info(
        "us-ssn",
        Category::Identity,
        Severity::High,
        "US SSN next to an 'SSN'/'social security' keyword, passing area/group/serial rules",
    ),
    info(
        "email-addresses",
        Category::Identity,
        Severity::Medium,
        "Ten or more distinct e-mail addresses in one body (reserved example domains not counted)",
    ),
];

const fn info(
    id: &'static str,
    category: Category,
    severity: Severity,
    description: &'static str,
) -> ScannerInfo {
    ScannerInfo {
        id,
        category,
        severity,
        description,
    }
}

/// The built-in scanner with this id, if there is one.
pub fn scanner_info(id: &str) -> Option<&'static ScannerInfo> {
    SCANNERS.iter().find(|s| s.id == id)
}

/// Ids of the built-in scanners, for `disabled_scanners` validation and the UI.
pub fn scanner_ids() -> impl Iterator<Item = &'static str> {
    SCANNERS.iter().map(|s| s.id)
}

/// Findings per scanned text at most; beyond it a text is plainly a dump and the count is what matters.
pub const MAX_FINDINGS: usize = 10_000;

/// Internal scanner identity, index into [`SCANNERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    AwsAccessKeyId,
    AwsSecretAccessKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    SlackWebhook,
    AtlassianApiToken,
    GoogleApiKey,
    StripeLiveKey,
    OpenaiApiKey,
    PrivateKey,
    Jwt,
    PasswordAssignment,
    GenericSecret,
    PaymentCard,
    Iban,
    UsSsn,
    EmailAddresses,
}

impl Kind {
    const ALL: [Kind; 18] = [
        Kind::AwsAccessKeyId,
        Kind::AwsSecretAccessKey,
        Kind::GithubToken,
        Kind::GitlabToken,
        Kind::SlackToken,
        Kind::SlackWebhook,
        Kind::AtlassianApiToken,
        Kind::GoogleApiKey,
        Kind::StripeLiveKey,
        Kind::OpenaiApiKey,
        Kind::PrivateKey,
        Kind::Jwt,
        Kind::PasswordAssignment,
        Kind::GenericSecret,
        Kind::PaymentCard,
        Kind::Iban,
        Kind::UsSsn,
        Kind::EmailAddresses,
    ];

    fn info(self) -> &'static ScannerInfo {
        &SCANNERS[self as usize]
    }

    /// How many leading characters the redacted form may show. None for values whose every character is
    /// secret (passwords, generic values, SSNs) and for private keys (whose first characters are the dashes of
    /// the header); for tokens with a public prefix the prefix shows what it is.
    fn shows_lead(self) -> bool {
        !matches!(
            self,
            Kind::PrivateKey
                | Kind::PasswordAssignment
                | Kind::GenericSecret
                | Kind::UsSsn
                | Kind::EmailAddresses
        )
    }
}

/// A candidate that passed validation, alive only inside [`ContentScanner::scan`].
pub(crate) struct Hit {
    kind: Kind,
    /// Index of the custom detection, for custom hits.
    custom: Option<usize>,
    start: usize,
    end: usize,
    /// Normalised secret for fingerprinting (card digits without separators, the address set); else the span.
    norm: Option<String>,
    /// Distinct addresses, for `email-addresses`.
    distinct: usize,
}

impl Hit {
    fn new(kind: Kind, start: usize, end: usize) -> Self {
        Self {
            kind,
            custom: None,
            start,
            end,
            norm: None,
            distinct: 0,
        }
    }

    fn custom(idx: usize, start: usize, end: usize) -> Self {
        Self {
            kind: Kind::GenericSecret,
            custom: Some(idx),
            start,
            end,
            norm: None,
            distinct: 0,
        }
    }

    fn with_norm(mut self, norm: String) -> Self {
        self.norm = Some(norm);
        self
    }
}

/// Keyed fingerprint of a secret: hex of the first 16 bytes of HMAC-SHA256(key, secret).
pub fn fingerprint(key: &[u8], secret: &[u8]) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => fingerprint_with(&mac, secret),
        // HMAC takes keys of any length; this arm exists only because the API is fallible.
        Err(_) => String::new(),
    }
}

fn fingerprint_with(mac: &Hmac<Sha256>, secret: &[u8]) -> String {
    let mut mac = mac.clone();
    mac.update(secret);
    let tag = mac.finalize().into_bytes();
    tag.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// `AKIA…[aws-access-key-id, 20 chars]`: at most four leading characters (fewer for short secrets: a fifth of
/// the length), then the kind and the length.
fn redact(secret: &str, id: &str, shows_lead: bool) -> String {
    let n = secret.chars().count();
    let lead = if shows_lead { (n / 5).min(4) } else { 0 };
    if lead == 0 {
        format!("[{id}, {n} chars]")
    } else {
        let head: String = secret.chars().take(lead).collect();
        format!("{head}…[{id}, {n} chars]")
    }
}

/// Every enabled scanner plus the custom detections, compiled once and shared read-only.
pub struct ContentScanner {
    enabled: [bool; Kind::ALL.len()],
    tokens: tokens::TokenScanner,
    custom: custom::CustomScanner,
    mac: Hmac<Sha256>,
}

impl fmt::Debug for ContentScanner {
    /// Lists what is enabled; never prints the fingerprint key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on: Vec<&str> = Kind::ALL
            .iter()
            .filter(|k| self.enabled[**k as usize])
            .map(|k| k.info().id)
            .collect();
        let custom: Vec<&str> = self.custom.ids().collect();
        f.debug_struct("ContentScanner")
            .field("scanners", &on)
            .field("custom", &custom)
            .finish_non_exhaustive()
    }
}

impl ContentScanner {
    /// Compile the scanners the tuning leaves enabled; errors name the custom detection at fault, or the
    /// unknown id in `disabled_scanners` (built-in ids, or `custom:<slug>` to switch off a custom detection).
    pub fn new(tuning: &Tuning, fingerprint_key: &[u8]) -> Result<Self, String> {
        let custom = custom::CustomScanner::new(&tuning.custom, &tuning.disabled_scanners)?;
        let custom_ids: Vec<String> = tuning
            .custom
            .iter()
            .map(|c| custom_scanner_id(&c.name))
            .collect();
        for id in &tuning.disabled_scanners {
            if !scanner_ids().any(|k| k == id) && !custom_ids.contains(id) {
                return Err(format!(
                    "disabled_scanners: '{id}' is not a scanner; known: {}",
                    scanner_ids().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        let mut enabled = [true; Kind::ALL.len()];
        for k in Kind::ALL {
            enabled[k as usize] = !tuning.disabled_scanners.contains(k.info().id);
        }
        let tokens = tokens::TokenScanner::new(|k| enabled[k as usize])?;
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(fingerprint_key)
            .map_err(|e| format!("fingerprint key: {e}"))?;
        Ok(Self {
            enabled,
            tokens,
            custom,
            mac,
        })
    }

    fn on(&self, k: Kind) -> bool {
        self.enabled[k as usize]
    }

    /// Whether the built-in scanner `id` is switched on (re-detection honours today's switches for secrets
    /// found earlier).
    pub fn is_enabled(&self, id: &str) -> bool {
        Kind::ALL
            .iter()
            .find(|k| k.info().id == id)
            .is_some_and(|k| self.on(*k))
    }

    /// Validated findings in `text`, in order of position. Where a built-in scanner's findings overlap (an
    /// `AKIA…` inside a private-key body, a token that is also a `secret = …` value) the longer, then the more
    /// specific one is kept. Never panics; linear in `text.len()`; at most [`MAX_FINDINGS`] findings.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let b = text.as_bytes();
        let mut hits: Vec<Hit> = Vec::new();
        let max_candidates = 1_000 + b.len() / 16;
        self.tokens.scan(b, &mut hits, max_candidates, MAX_FINDINGS);
        let (cards, iban) = (self.on(Kind::PaymentCard), self.on(Kind::Iban));
        if cards || iban {
            numbers::scan(b, cards, iban, &mut hits, MAX_FINDINGS);
        }
        let mut other: Vec<Hit> = Vec::new();
        if self.on(Kind::EmailAddresses) {
            email::scan(b, &mut other);
        }
        self.custom.scan(text, &mut other, MAX_FINDINGS);

        // Overlap resolution among built-in hits: earlier first, then longer, then more specific.
        hits.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(b.end.cmp(&a.end))
                .then(a.kind.cmp(&b.kind))
        });
        let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
        let mut reach = 0usize;
        for h in hits {
            if h.start < reach && !kept.is_empty() {
                continue;
            }
            reach = reach.max(h.end);
            kept.push(h);
        }
        kept.extend(other);
        kept.sort_by_key(|h| (h.start, h.end));
        kept.truncate(MAX_FINDINGS);
        kept.into_iter()
            .filter_map(|h| self.finding(text, h))
            .collect()
    }

    fn finding(&self, text: &str, h: Hit) -> Option<Finding> {
        let (mut start, mut end) = (h.start.min(text.len()), h.end.min(text.len()));
        while start < end && !text.is_char_boundary(start) {
            start += 1;
        }
        while end > start && !text.is_char_boundary(end) {
            end -= 1;
        }
        let span = text.get(start..end).filter(|s| !s.is_empty())?;
        let secret = h.norm.as_deref().unwrap_or(span);
        let fingerprint = fingerprint_with(&self.mac, secret.as_bytes());
        let (scanner, category, severity, redacted) = match h.custom {
            Some(idx) => {
                let meta = self.custom.meta.get(idx)?;
                let redacted = redact(secret, &meta.id, true);
                (meta.id.clone(), Category::Custom, meta.severity, redacted)
            }
            None => {
                let info = h.kind.info();
                let redacted = if h.kind == Kind::EmailAddresses {
                    format!("[{}, {} distinct]", info.id, h.distinct)
                } else {
                    redact(secret, info.id, h.kind.shows_lead())
                };
                (info.id.to_string(), info.category, info.severity, redacted)
            }
        };
        Some(Finding {
            scanner,
            category,
            severity,
            start,
            end,
            redacted,
            fingerprint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner() -> ContentScanner {
        ContentScanner::new(&Tuning::default(), b"test-key").expect("default tuning compiles")
    }

    fn ids(text: &str) -> Vec<String> {
        scanner()
            .scan(text)
            .into_iter()
            .map(|f| f.scanner)
            .collect()
    }

    #[test]
    fn catalogue_matches_kinds() {
        assert_eq!(SCANNERS.len(), Kind::ALL.len());
        for (i, k) in Kind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    #[test]
    fn redaction_shape() {
        assert_eq!(
            redact("AKIAZ3MSJV4WWNKWW5FP", "aws-access-key-id", true),
            "AKIA…[aws-access-key-id, 20 chars]"
        );
        assert_eq!(
            redact("hunter2hunter", "password-assignment", false),
            "[password-assignment, 13 chars]"
        );
        assert_eq!(redact("abcdefgh", "x", true), "a…[x, 8 chars]");
    }

    #[test]
    fn fingerprint_is_keyed_and_stable() {
        let a = fingerprint(b"k1", b"secret");
        assert_eq!(a.len(), 32);
        assert_eq!(a, fingerprint(b"k1", b"secret"));
        assert_ne!(a, fingerprint(b"k2", b"secret"));
    }

    #[test]
    fn key_inside_private_key_is_one_finding() {
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7AKIAZ3MSJV4WWNKWW5FPxk2\nqN8vGm3Tz9Lr4Yp1Wd6Hc0Ue5Kb7Jf2Sa9Xg3Vt8Rn1Mq4Pl6Oh0Iw2Ey5Cu7Ds9Bz1Ar3Qx5\n";
        let text = format!("-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n");
        assert_eq!(ids(&text), vec!["private-key"]);
        let f = &scanner().scan(&text)[0];
        assert!(text[f.end..].trim().is_empty(), "span covers the END line");
    }

    #[test]
    fn debug_hides_the_key() {
        let s = format!(
            "{:?}",
            ContentScanner::new(&Tuning::default(), b"topsecretkey").expect("compiles")
        );
        assert!(!s.contains("topsecretkey"));
        assert!(s.contains("payment-card"));
    }

    #[test]
    fn disabled_and_unknown_ids() {
        let mut t = Tuning::default();
        t.disabled_scanners.insert("payment-card".into());
        let s = ContentScanner::new(&t, b"k").expect("valid");
        assert!(s.scan("card 4539148803436467").is_empty());
        t.disabled_scanners.insert("no-such-scanner".into());
        let err = ContentScanner::new(&t, b"k").expect_err("unknown id");
        assert!(err.contains("'no-such-scanner'"), "{err}");
    }

    #[test]
    fn private_key_scan_stops_at_its_window_edge() {
        // The body search is capped at 64 KiB; an escaped newline straddling the cap must not overrun it.
        for pad in [65_534, 65_535, 65_536] {
            let text = format!(
                "-----BEGIN PRIVATE KEY-----{}\\n{}",
                " ".repeat(pad),
                "A".repeat(100)
            );
            let _ = scanner().scan(&text);
        }
    }

    #[test]
    fn weird_offsets_stay_on_char_boundaries() {
        let text = "password=é€𝄞é€𝄞é€𝄞1 ssn 536-22-8417 ééé";
        for f in scanner().scan(text) {
            assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
    }
}
