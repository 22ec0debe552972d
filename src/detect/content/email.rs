//! The e-mail pass: a body that holds many distinct addresses (a pasted customer list, an export) is one
//! finding; a signature or a mention is not. `memchr` jumps from `@` to `@`, and each address is parsed by
//! hand within RFC 5321's length limits, so the pass is linear.

use std::collections::BTreeSet;

use super::{Hit, Kind};

/// Distinct addresses that make a body a finding.
pub const EMAIL_THRESHOLD: usize = 10;

/// Addresses examined per text at most; beyond that the finding already stands and the count says "at least".
const MAX_AT_SIGNS: usize = 200_000;

fn local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

/// RFC 2606 / 6761 reserved names: addresses there are examples by definition.
fn example_domain(d: &[u8]) -> bool {
    let d = d.to_ascii_lowercase();
    ["example.com", "example.org", "example.net"]
        .iter()
        .any(|e| d == e.as_bytes() || d.ends_with(format!(".{e}").as_bytes()))
        || [".example", ".test", ".invalid", ".localhost", ".local"]
            .iter()
            .any(|t| d.ends_with(t.as_bytes()))
}

/// The address around the `@` at `at`, as (start, end), when it is well formed.
fn address_at(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut s = at;
    while s > 0 && at - s < 64 && local_char(b[s - 1]) {
        s -= 1;
    }
    if s == at || (s > 0 && local_char(b[s - 1])) || b[s] == b'.' || b[at - 1] == b'.' {
        return None;
    }
    let mut e = at + 1;
    while e < b.len() && e - at <= 253 && domain_char(b[e]) {
        e += 1;
    }
    while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let domain = &b[at + 1..e];
    let labels: Vec<&[u8]> = domain.split(|&c| c == b'.').collect();
    let tld = labels.last()?;
    if labels.len() < 2
        || labels
            .iter()
            .any(|l| l.is_empty() || l.len() > 63 || l.starts_with(b"-"))
        || tld.len() < 2
        || !tld.iter().all(u8::is_ascii_alphabetic)
        || example_domain(domain)
    {
        return None;
    }
    Some((s, e))
}

/// One `email-addresses` hit when `b` holds at least [`EMAIL_THRESHOLD`] distinct addresses. The hit spans the
/// first to the last address counted; its fingerprint input is the sorted, lower-cased set, so the same list
/// pasted twice dedupes.
pub(super) fn scan(b: &[u8], hits: &mut Vec<Hit>) {
    let mut seen: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut first: Option<usize> = None;
    let mut last = 0usize;
    for at in memchr::memchr_iter(b'@', b).take(MAX_AT_SIGNS) {
        if at == 0 {
            continue;
        }
        let Some((s, e)) = address_at(b, at) else {
            continue;
        };
        seen.insert(b[s..e].to_ascii_lowercase());
        first.get_or_insert(s);
        last = e;
    }
    if seen.len() < EMAIL_THRESHOLD {
        return;
    }
    let Some(start) = first else { return };
    let joined: Vec<u8> = seen
        .iter()
        .flat_map(|a| a.iter().copied().chain([b'\n']))
        .collect();
    let mut hit = Hit::new(Kind::EmailAddresses, start, last)
        .with_norm(String::from_utf8_lossy(&joined).into_owned());
    hit.distinct = seen.len();
    hits.push(hit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let b = b"mail ana.b+x@acme-corp.io, bob@mail.acme.co.uk. x@y z@example.com @foo a@b.c1";
        let found: Vec<&[u8]> = memchr::memchr_iter(b'@', b)
            .filter_map(|at| address_at(b, at))
            .map(|(s, e)| &b[s..e])
            .collect();
        assert_eq!(
            found,
            vec![&b"ana.b+x@acme-corp.io"[..], b"bob@mail.acme.co.uk"]
        );
    }
}
