//! The literal pass: one Aho-Corasick automaton over every token prefix (`AKIA`, `ghp_`, `-----BEGIN `…) and
//! every context keyword (`password`, `aws`, `ssn`…). Only where a literal occurs does a small anchored regex
//! or a hand-written parser run, on a bounded window, followed by the scanner's validator. Keywords are listed
//! in lower, upper and title case instead of asking the automaton for case folding, because a case-sensitive
//! automaton keeps its vectorised (Teddy) prefilter and runs several times faster.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

use super::validate::{distinct, entropy, is_uuid, jwt_valid, ssn_valid};
use super::{Hit, Kind};

/// What to do where a literal occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    AwsId,
    AwsSecret,
    Github,
    GithubPat,
    Gitlab,
    SlackToken,
    SlackWebhook,
    Atlassian,
    Google,
    Stripe,
    OpenAi,
    PrivateKey,
    Jwt,
    Password,
    Generic,
    Ssn,
}

impl Rule {
    fn kind(self) -> Kind {
        match self {
            Rule::AwsId => Kind::AwsAccessKeyId,
            Rule::AwsSecret => Kind::AwsSecretAccessKey,
            Rule::Github | Rule::GithubPat => Kind::GithubToken,
            Rule::Gitlab => Kind::GitlabToken,
            Rule::SlackToken => Kind::SlackToken,
            Rule::SlackWebhook => Kind::SlackWebhook,
            Rule::Atlassian => Kind::AtlassianApiToken,
            Rule::Google => Kind::GoogleApiKey,
            Rule::Stripe => Kind::StripeLiveKey,
            Rule::OpenAi => Kind::OpenaiApiKey,
            Rule::PrivateKey => Kind::PrivateKey,
            Rule::Jwt => Kind::Jwt,
            Rule::Password => Kind::PasswordAssignment,
            Rule::Generic => Kind::GenericSecret,
            Rule::Ssn => Kind::UsSsn,
        }
    }
}

/// Literals that start a token, matched case-sensitively as the issuers spell them.
const TOKEN_LITERALS: &[(&str, Rule)] = &[
    ("AKIA", Rule::AwsId),
    ("ASIA", Rule::AwsId),
    ("ABIA", Rule::AwsId),
    ("ACCA", Rule::AwsId),
    ("ghp_", Rule::Github),
    ("gho_", Rule::Github),
    ("ghu_", Rule::Github),
    ("ghs_", Rule::Github),
    ("ghr_", Rule::Github),
    ("github_pat_", Rule::GithubPat),
    ("glpat-", Rule::Gitlab),
    ("xox", Rule::SlackToken),
    ("hooks.slack.com/services/", Rule::SlackWebhook),
    ("ATATT3", Rule::Atlassian),
    ("AIza", Rule::Google),
    ("sk_live_", Rule::Stripe),
    ("rk_live_", Rule::Stripe),
    ("T3BlbkFJ", Rule::OpenAi),
    ("-----BEGIN ", Rule::PrivateKey),
    ("eyJ", Rule::Jwt),
];

/// Context keywords, in the spellings that occur (`assword` covers `password` and `Password`). The list is
/// kept under 64 entries in all, the most the automaton's vectorised prefilter takes.
const KEYWORDS: &[(&str, &[Rule])] = &[
    ("assword", &[Rule::Password]),
    ("ASSWORD", &[Rule::Password]),
    ("asswd", &[Rule::Password]),
    ("ASSWD", &[Rule::Password]),
    ("assphrase", &[Rule::Password]),
    ("ASSPHRASE", &[Rule::Password]),
    ("pwd", &[Rule::Password]),
    ("PWD", &[Rule::Password]),
    ("ecret", &[Rule::Generic, Rule::AwsSecret]),
    ("ECRET", &[Rule::Generic, Rule::AwsSecret]),
    ("token", &[Rule::Generic]),
    ("Token", &[Rule::Generic]),
    ("TOKEN", &[Rule::Generic]),
    ("api_key", &[Rule::Generic]),
    ("API_KEY", &[Rule::Generic]),
    ("apikey", &[Rule::Generic]),
    ("APIKEY", &[Rule::Generic]),
    ("piKey", &[Rule::Generic]),
    ("api-key", &[Rule::Generic]),
    ("access_key", &[Rule::Generic]),
    ("ACCESS_KEY", &[Rule::Generic]),
    ("ccessKey", &[Rule::Generic]),
    ("aws", &[Rule::AwsSecret]),
    ("AWS", &[Rule::AwsSecret]),
    ("Aws", &[Rule::AwsSecret]),
    ("ssn", &[Rule::Ssn]),
    ("SSN", &[Rule::Ssn]),
    ("Ssn", &[Rule::Ssn]),
    ("ocial security", &[Rule::Ssn]),
    ("ocial Security", &[Rule::Ssn]),
    ("OCIAL SECURITY", &[Rule::Ssn]),
];

/// Compiled regexes, one per rule that needs one. All are ASCII-only (`(?-u)`): Unicode classes and word
/// boundaries cost up to 100x in the regex engine and no token contains non-ASCII bytes.
struct Patterns {
    aws_id: Regex,
    github: Regex,
    github_pat: Regex,
    gitlab: Regex,
    slack_token: Regex,
    slack_webhook: Regex,
    atlassian: Regex,
    google: Regex,
    stripe: Regex,
    openai: Regex,
    pk_header: Regex,
    jwt: Regex,
    assignment: Regex,
    aws_secret: Regex,
    ssn: Regex,
}

impl Patterns {
    fn new() -> Result<Self, String> {
        let re =
            |p: &str| Regex::new(p).map_err(|e| format!("internal scanner pattern {p:?}: {e}"));
        Ok(Self {
            aws_id: re(r"(?-u)\A(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}")?,
            github: re(r"(?-u)\Agh[pousr]_[A-Za-z0-9]{36}")?,
            github_pat: re(r"(?-u)\Agithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}")?,
            gitlab: re(r"(?-u)\Aglpat-[A-Za-z0-9_\-]{20,64}(?:\.[A-Za-z0-9]{2}\.[A-Za-z0-9]{9})?")?,
            slack_token: re(r"(?-u)\Axox[abeprs]-[0-9]{6,15}-[A-Za-z0-9\-]{8,250}")?,
            slack_webhook: re(
                r"(?-u)\Ahooks\.slack\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/([A-Za-z0-9]{20,32})",
            )?,
            atlassian: re(r"(?-u)\AATATT3[A-Za-z0-9_\-=]{50,400}")?,
            google: re(r"(?-u)\AAIza[0-9A-Za-z_\-]{35}")?,
            stripe: re(r"(?-u)\A[sr]k_live_[0-9A-Za-z]{24,247}")?,
            openai: re(r"(?-u)sk-[A-Za-z0-9_\-]{10,250}T3BlbkFJ[A-Za-z0-9_\-]{10,250}")?,
            pk_header: re(r"(?-u)\A-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")?,
            jwt: re(
                r"(?-u)\AeyJ[A-Za-z0-9_\-]{10,4096}\.[A-Za-z0-9_\-]{4,8192}\.[A-Za-z0-9_\-]{16,1024}",
            )?,
            // After the keyword: the rest of an identifier (`_hash`, `Confirm`), a closing quote, an assignment
            // operator, then a quoted value or a bare one.
            assignment: re(
                r#"(?-u)\A[A-Za-z0-9_\-]{0,30}["']?[ \t]{0,8}(?::=|=>|=|:)[ \t]{0,8}(?:"([^"\r\n]{1,256})"|'([^'\r\n]{1,256})'|([^\s"'=,;<>`][^\s"',;<>`]{0,255}))"#,
            )?,
            aws_secret: re(r"(?-u)[A-Za-z0-9/+]{40}")?,
            ssn: re(r"(?-u)[0-9]{3}[\- ]?[0-9]{2}[\- ]?[0-9]{4}")?,
        })
    }
}

/// The literal-prefiltered scanners, restricted to the enabled ones.
pub(super) struct TokenScanner {
    ac: Option<AhoCorasick>,
    /// Rules to try for each automaton pattern.
    pattern_rules: Vec<Vec<Rule>>,
    pats: Patterns,
}

impl TokenScanner {
    /// Build the automaton over the literals of the scanners `enabled` accepts.
    pub(super) fn new(enabled: impl Fn(Kind) -> bool) -> Result<Self, String> {
        let mut literals: Vec<String> = Vec::new();
        let mut pattern_rules: Vec<Vec<Rule>> = Vec::new();
        let mut add = |lit: String, rules: &[Rule]| {
            let rules: Vec<Rule> = rules
                .iter()
                .copied()
                .filter(|r| enabled(r.kind()))
                .collect();
            if rules.is_empty() || literals.contains(&lit) {
                return;
            }
            literals.push(lit);
            pattern_rules.push(rules);
        };
        for &(lit, rule) in TOKEN_LITERALS {
            add(lit.to_string(), &[rule]);
        }
        for &(kw, rules) in KEYWORDS {
            add(kw.to_string(), rules);
        }
        let ac = if literals.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&literals)
                    .map_err(|e| format!("internal scanner automaton: {e}"))?,
            )
        };
        Ok(Self {
            ac,
            pattern_rules,
            pats: Patterns::new()?,
        })
    }

    /// Append validated hits in `b`. At most `max_candidates` literal occurrences are examined, which bounds
    /// the work on hostile text made of nothing but keywords.
    pub(super) fn scan(
        &self,
        b: &[u8],
        hits: &mut Vec<Hit>,
        max_candidates: usize,
        max_hits: usize,
    ) {
        let Some(ac) = &self.ac else { return };
        let mut skip_until = 0usize;
        let mut found = 0usize;
        for (seen, m) in ac.find_iter(b).enumerate() {
            if seen >= max_candidates || found >= max_hits {
                break;
            }
            if m.start() < skip_until {
                continue;
            }
            let Some(rules) = self.pattern_rules.get(m.pattern().as_usize()) else {
                continue;
            };
            for &rule in rules {
                let before = hits.len();
                self.try_rule(rule, b, m.start(), m.end(), hits);
                if hits.len() > before {
                    found += hits.len() - before;
                    if let Some(h) = hits.last()
                        && h.start <= m.start()
                    {
                        // A token was consumed from here: literals inside it (an `AKIA` in a key body) are
                        // part of it, not candidates of their own.
                        skip_until = skip_until.max(h.end);
                    }
                }
            }
        }
    }

    fn try_rule(&self, rule: Rule, b: &[u8], s: usize, e: usize, hits: &mut Vec<Hit>) {
        let p = &self.pats;
        let alnum = |c: u8| c.is_ascii_alphanumeric();
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let word_dash = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        let k = rule.kind();
        let hit = match rule {
            Rule::AwsId => anchored(k, b, s, 20, &p.aws_id, alnum, alnum, |t| {
                distinct(&t[4..]) >= 8 && !contains(t, b"EXAMPLE")
            }),
            Rule::Github => anchored(k, b, s, 40, &p.github, word, word, |t| {
                entropy(&t[4..]) >= 3.5
            }),
            Rule::GithubPat => anchored(k, b, s, 93, &p.github_pat, word, word, |t| {
                entropy(&t[11..]) >= 3.5
            }),
            Rule::Gitlab => anchored(k, b, s, 90, &p.gitlab, word_dash, word_dash, |t| {
                entropy(&t[6..]) >= 3.0 && !contains(t, b"xxxx")
            }),
            Rule::SlackToken => anchored(k, b, s, 280, &p.slack_token, word_dash, word_dash, |t| {
                let tail = t.iter().skip(5).skip_while(|c| **c != b'-').count();
                tail >= 8 && distinct(t) >= 12 && !contains(t, b"xxxx") && !contains(t, b"XXXX")
            }),
            Rule::SlackWebhook => {
                let win = window(b, s, 120);
                p.slack_webhook.captures(win).and_then(|c| {
                    let (all, secret) = (c.get(0)?, c.get(1)?);
                    let end = s + all.end();
                    let ok = !b.get(end).copied().is_some_and(alnum)
                        && distinct(secret.as_bytes()) >= 8
                        && entropy(secret.as_bytes()) >= 3.0
                        && !contains(all.as_bytes(), b"T00000000");
                    ok.then(|| Hit::new(Kind::SlackWebhook, s, end))
                })
            }
            Rule::Atlassian => anchored(
                k,
                b,
                s,
                410,
                &p.atlassian,
                alnum,
                |c| word_dash(c) || c == b'=',
                |t| entropy(t) >= 4.0,
            ),
            Rule::Google => anchored(k, b, s, 39, &p.google, word_dash, word_dash, |t| {
                entropy(&t[4..]) >= 3.5
            }),
            Rule::Stripe => anchored(k, b, s, 260, &p.stripe, word, alnum, |t| {
                entropy(&t[8..]) >= 3.5
            }),
            Rule::OpenAi => openai(b, s, e, &p.openai),
            Rule::PrivateKey => private_key(b, s, &p.pk_header),
            Rule::Jwt => anchored(k, b, s, 13_400, &p.jwt, word_dash, word_dash, jwt_valid),
            Rule::Password => assignment(
                b,
                s,
                e,
                &p.assignment,
                Kind::PasswordAssignment,
                password_ok,
            ),
            Rule::Generic => assignment(b, s, e, &p.assignment, Kind::GenericSecret, generic_ok),
            Rule::AwsSecret => aws_secret(b, s, e, &p.aws_secret),
            Rule::Ssn => {
                ssn(b, s, e, &p.ssn, hits);
                None
            }
        };
        if let Some(h) = hit {
            debug_assert_eq!(h.kind, rule.kind());
            hits.push(h);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// `b[s..s+len]`, clipped to the text.
fn window(b: &[u8], s: usize, len: usize) -> &[u8] {
    &b[s.min(b.len())..s.saturating_add(len).min(b.len())]
}

/// A token that starts with the literal at `s`: the byte before must not continue a word, the anchored
/// pattern must match, the byte after must not continue the token (else it is a longer, different string),
/// and the validator must accept it.
#[allow(clippy::too_many_arguments)]
fn anchored(
    kind: Kind,
    b: &[u8],
    s: usize,
    max_len: usize,
    re: &Regex,
    glued_before: impl Fn(u8) -> bool,
    continues: impl Fn(u8) -> bool,
    check: impl Fn(&[u8]) -> bool,
) -> Option<Hit> {
    if s > 0 && glued_before(b[s - 1]) {
        return None;
    }
    let m = re.find(window(b, s, max_len + 1))?;
    let end = s + m.end();
    if b.get(end).copied().is_some_and(continues) || !check(m.as_bytes()) {
        return None;
    }
    Some(Hit::new(kind, s, end))
}

/// OpenAI keys carry `T3BlbkFJ` ("OpenAI" in base64) in the middle: find the `sk-…` token around the marker.
fn openai(b: &[u8], s: usize, e: usize, re: &Regex) -> Option<Hit> {
    let ws = s.saturating_sub(270);
    let we = e.saturating_add(270).min(b.len());
    let win = &b[ws..we];
    let tok = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    for m in re.find_iter(win) {
        let (ms, me) = (ws + m.start(), ws + m.end());
        if ms > s || me < e {
            continue;
        }
        if ms > 0 && tok(b[ms - 1]) || b.get(me).copied().is_some_and(tok) {
            return None;
        }
        return (entropy(m.as_bytes()) >= 4.0).then(|| Hit::new(Kind::OpenaiApiKey, ms, me));
    }
    None
}

/// A PEM / OpenSSH / PGP private-key block: the header, optional `Name: value` header lines, then at least
/// 64 characters of high-entropy base64 (documentation shows `...` or a short stub instead). Literal `\n`
/// escapes count as line breaks so keys embedded in JSON (service-account files) are found. The span runs to
/// the end of the `-----END …-----` line when present.
fn private_key(b: &[u8], s: usize, header: &Regex) -> Option<Hit> {
    let m = header.find(window(b, s, 80))?;
    let mut i = s + m.end();
    let n = b.len();
    let limit = i.saturating_add(64 * 1024).min(n);
    let skip_space = |mut i: usize| {
        loop {
            match b.get(i) {
                Some(b' ' | b'\t' | b'\r' | b'\n') if i < limit => i += 1,
                Some(b'\\') if b.get(i + 1) == Some(&b'n') && i + 2 <= limit => i += 2,
                _ => return i,
            }
        }
    };
    i = skip_space(i);
    // RFC 1421 / PGP armour headers ("Proc-Type: 4,ENCRYPTED", "Version: …") before the base64 body.
    for _ in 0..8 {
        let line_end = b[i..limit]
            .iter()
            .position(|&c| c == b'\n' || c == b'\\')
            .map_or(limit, |p| i + p);
        let line = &b[i..line_end];
        if line.len() < 200 && line.contains(&b':') && !line.starts_with(b"-----") {
            i = skip_space(line_end);
        } else {
            break;
        }
    }
    let mut body: Vec<u8> = Vec::with_capacity(2048);
    let mut count = 0usize;
    let mut last = i;
    while i < limit {
        let c = b[i];
        if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=') {
            if body.len() < 4096 {
                body.push(c);
            }
            count += 1;
            i += 1;
            last = i;
        } else {
            let j = skip_space(i);
            if j == i {
                break;
            }
            i = j;
        }
    }
    if count < 64 || entropy(&body) < 4.5 {
        return None;
    }
    let mut end = last;
    let after = skip_space(last);
    if b[after..].starts_with(b"-----END ")
        && let Some(p) = memchr::memmem::find(&b[after + 9..(after + 80).min(n)], b"-----")
    {
        end = after + 9 + p + 5;
    }
    Some(Hit::new(Kind::PrivateKey, s, end))
}

/// `keyword[suffix] [=|:|:=|=>] value`, the value checked by `ok`; the hit covers the value only.
fn assignment(
    b: &[u8],
    s: usize,
    e: usize,
    re: &Regex,
    kind: Kind,
    ok: fn(&[u8], bool) -> bool,
) -> Option<Hit> {
    // Short keywords (`pwd`) must start a word; long ones may end an identifier (`db_password`, `userToken`).
    if e - s <= 3 && s > 0 && b[s - 1].is_ascii_alphanumeric() {
        return None;
    }
    if !has_operator(b, e) {
        return None; // prose: "reset your password in settings" — no regex needed to say no
    }
    let caps = re.captures(window(b, e, 330))?;
    let (v, quoted) = match (caps.get(1), caps.get(2), caps.get(3)) {
        (Some(v), _, _) | (_, Some(v), _) => (v, true),
        (_, _, Some(v)) => (v, false),
        _ => return None,
    };
    let (vs, ve) = (e + v.start(), e + v.end());
    if !quoted
        && b.get(ve).is_some_and(|&c| {
            !c.is_ascii_whitespace()
                && !matches!(c, b'"' | b'\'' | b',' | b';' | b'<' | b'>' | b'`')
        })
    {
        return None; // longer than any value we take: not an assignment we understand
    }
    // `NAME: Type = value` is a typed declaration in code, not a value after a colon.
    if !quoted && followed_by_assignment(b, ve) {
        return None;
    }
    ok(v.as_bytes(), quoted).then(|| Hit::new(kind, vs, ve))
}

/// The cheap half of the assignment pattern, by hand: identifier rest, optional quote, blanks, then `:` or `=`.
fn has_operator(b: &[u8], e: usize) -> bool {
    let mut i = e;
    let end = e.saturating_add(30).min(b.len());
    while i < end && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
        i += 1;
    }
    if matches!(b.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    let end = i.saturating_add(8).min(b.len());
    while i < end && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    // `::` is a Rust / C++ path separator, `==` a comparison.
    match b.get(i) {
        Some(b':') => b.get(i + 1) != Some(&b':'),
        Some(b'=') => b.get(i + 1) != Some(&b'='),
        _ => false,
    }
}

/// Values that stand in for a password in templates, docs and examples.
const PLACEHOLDERS: &[&[u8]] = &[
    b"changeme",
    b"change_me",
    b"change-me",
    b"changeit",
    b"example",
    b"placeholder",
    b"redacted",
    b"your_",
    b"your-",
    b"yourpass",
    b"mypass",
    b"my_pass",
    b"xxxx",
    b"****",
    b"....",
    b"dummy",
    b"sample",
    b"secret",
    b"password",
    b"passwd",
    b"p@ssw0rd",
    b"passw0rd",
    b"enter",
    b"insert",
    b"replace",
    b"todo",
    b"fixme",
    b"hunter2",
    b"letmein",
    b"qwerty",
    b"123456",
    b"abcdef",
    b"foobar",
    b"test",
    b"fake",
    b"default",
    b"not_set",
    b"notset",
    b"undefined",
    b"null",
    b"none",
];

/// Exact values that are code, booleans or types, never a password.
const NON_VALUES: &[&[u8]] = &[
    b"true",
    b"false",
    b"string",
    b"str",
    b"bool",
    b"required",
    b"optional",
    b"env",
];

fn is_placeholder(v: &[u8]) -> bool {
    let lower = v.to_ascii_lowercase();
    if NON_VALUES.contains(&lower.as_slice()) || PLACEHOLDERS.iter().any(|p| contains(&lower, p)) {
        return true;
    }
    // Templating and references: <password>, ${PASSWORD}, {{ pw }}, %(pw)s, $PW, @Value, %s.
    matches!(
        v.first(),
        Some(b'$' | b'%' | b'@' | b'{' | b'<' | b'&' | b'*' | b'#' | b'/' | b'.' | b'!' | b'?')
    ) || contains(v, b"${")
        || contains(v, b"{{")
        || contains(v, b"%(")
        || contains(v, b"://")
        || v.iter().all(|&c| c == v[0])
}

/// A dotted or `::` path made of identifiers (`self.password`, `config::PASSWORD`, `os.environ.get`): code
/// reading a value from somewhere else.
fn is_code_path(v: &[u8]) -> bool {
    let ident = |seg: &[u8]| {
        !seg.is_empty()
            && !seg[0].is_ascii_digit()
            && seg.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
    };
    let norm: Vec<u8> = v
        .iter()
        .map(|&c| if c == b':' { b'.' } else { c })
        .collect();
    norm.split(|&c| c == b'.')
        .filter(|s| !s.is_empty())
        .all(ident)
        && (contains(v, b".") || contains(v, b"::"))
}

/// Blanks then `=` (not `==`) after `i`.
fn followed_by_assignment(b: &[u8], mut i: usize) -> bool {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    b.get(i) == Some(&b'=') && b.get(i + 1) != Some(&b'=')
}

/// An identifier as code writes it (`WIN32_ERROR`, `token_type`, `MSV1_0_PROTOCOL`): word characters whose
/// `_`-separated parts are each in one case. Generated secrets mix cases within their parts.
fn is_identifier(v: &[u8]) -> bool {
    v.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
        && v.split(|&c| c == b'_').all(|part| {
            !(part.iter().any(u8::is_ascii_uppercase) && part.iter().any(u8::is_ascii_lowercase))
        })
}

/// A password value: 8..=128 bytes, no spaces, not a placeholder or a code reference, entropy ≥ 2.75 bits per
/// character with ≥ 5 distinct characters. A bare (unquoted) value must also contain a letter and a digit or
/// symbol and not be an identifier, since bare words after `password:` are far more often prose, YAML keys or
/// code (`ERROR_INVALID_PASSWORD: WIN32_ERROR = 86`) than passwords.
fn password_ok(v: &[u8], quoted: bool) -> bool {
    if !(8..=128).contains(&v.len()) || v.iter().any(|c| c.is_ascii_whitespace()) {
        return false;
    }
    if is_placeholder(v) || is_code_path(v) || v.iter().any(|c| b"()[]{}<>\\".contains(c)) {
        return false;
    }
    if entropy(v) < 2.75 || distinct(v) < 5 {
        return false;
    }
    if !quoted
        && v.iter()
            .all(|c| c.is_ascii_alphabetic() || *c == b'_' || *c == b'-')
    {
        return false;
    }
    if !quoted && (!v.iter().any(u8::is_ascii_alphabetic) || is_identifier(v) || contains(v, b"::"))
    {
        return false;
    }
    true
}

/// A generic secret value (after `secret`, `token`, `api_key`…): 16..=256 bytes of token characters with
/// letters and digits mixed and ≥ 3.5 bits per character of entropy (random strings reach 4–6, identifiers
/// and words stay below); UUIDs, code paths, `CONSTANT_CASE` / `snake_case` identifiers and placeholders are
/// not secrets. Hex strings of 32+ characters are (API keys are often hex).
fn generic_ok(v: &[u8], _quoted: bool) -> bool {
    if !(16..=256).contains(&v.len())
        || !v
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"+/=_-.~".contains(&c))
        || !v.iter().any(u8::is_ascii_digit)
        || !v.iter().any(u8::is_ascii_alphabetic)
    {
        return false;
    }
    let hex = v.len() >= 32 && v.iter().all(u8::is_ascii_hexdigit);
    !is_uuid(v)
        && !is_placeholder(v)
        && !is_code_path(v)
        && (hex || !is_identifier(v))
        && entropy(v) >= 3.5
        && distinct(v) >= 10
}

/// An AWS secret access key near an AWS keyword: 40 characters of base64 alphabet with upper, lower and
/// digits (a 40-hex git SHA has no upper case) and ≥ 4 bits per character, within 200 bytes after it. The
/// keyword is `aws` (`aws_secret_access_key`, `AWS_SECRET…`) or `secret access key` in any spelling.
fn aws_secret(b: &[u8], s: usize, e: usize, re: &Regex) -> Option<Hit> {
    if e - s <= 3 && s > 0 && b[s - 1].is_ascii_alphabetic() {
        return None;
    }
    // Reached through `secret`: only as part of `secret_access_key`, `SecretAccessKey`, `secret access key`.
    if e - s > 3 {
        let rest: Vec<u8> = window(b, e, 12)
            .iter()
            .filter(|c| !matches!(c, b'_' | b' ' | b'-'))
            .map(u8::to_ascii_lowercase)
            .collect();
        if !rest.starts_with(b"accesskey") {
            return None;
        }
    }
    let set = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'+' | b'=');
    let win = window(b, e, 200);
    for m in re.find_iter(win) {
        let (ms, me) = (e + m.start(), e + m.end());
        if ms > 0 && set(b[ms - 1]) || b.get(me).copied().is_some_and(set) {
            continue;
        }
        let t = m.as_bytes();
        if t.iter().any(u8::is_ascii_uppercase)
            && t.iter().any(u8::is_ascii_lowercase)
            && t.iter().any(u8::is_ascii_digit)
            && entropy(t) >= 4.0
            && !contains(t, b"EXAMPLE")
        {
            return Some(Hit::new(Kind::AwsSecretAccessKey, ms, me));
        }
    }
    None
}

/// SSNs within 100 bytes either side of an `ssn` / `social security` keyword: `ddd-dd-dddd`, `ddd dd dddd` or
/// nine digits, separators consistent, passing the SSA's area/group/serial rules. Requiring the keyword keeps
/// phone numbers, order ids and dates out.
fn ssn(b: &[u8], s: usize, e: usize, re: &Regex, hits: &mut Vec<Hit>) {
    // `ssn` must be a word of its own (not `classname`); `ocial security` is matched mid-word by design.
    if e - s <= 3
        && (s > 0 && b[s - 1].is_ascii_alphanumeric()
            || b.get(e)
                .is_some_and(|c| c.is_ascii_alphabetic() && *c != b's'))
    {
        return;
    }
    let ws = s.saturating_sub(100);
    let we = e.saturating_add(100).min(b.len());
    let glued = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'/';
    if b[ws..we].iter().filter(|c| c.is_ascii_digit()).count() < 9 {
        return;
    }
    for m in re.find_iter(&b[ws..we]) {
        let (ms, me) = (ws + m.start(), ws + m.end());
        if ms > 0 && glued(b[ms - 1]) || b.get(me).copied().is_some_and(glued) {
            continue;
        }
        let t = m.as_bytes();
        let (area, group, serial, seps): (&[u8], &[u8], &[u8], (u8, u8)) = match t.len() {
            9 => (&t[0..3], &t[3..5], &t[5..9], (0, 0)),
            11 => (&t[0..3], &t[4..6], &t[7..11], (t[3], t[6])),
            _ => continue,
        };
        if seps.0 != seps.1 || !ssn_valid(area, group, serial) {
            continue;
        }
        let digits: String = t
            .iter()
            .filter(|c| c.is_ascii_digit())
            .map(|&c| char::from(c))
            .collect();
        hits.push(Hit::new(Kind::UsSsn, ms, me).with_norm(digits));
    }
}
