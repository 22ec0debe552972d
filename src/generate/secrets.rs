//! Valid secrets for planted sensitive-content incidents. Each one passes the validation a real scanner does
//! (Luhn, mod-97, CRC32 checksum, SSA rules, entropy) so that a planted incident fires for the right reason,
//! while the decoys in `org::DECOY_PROSE` are built to fail exactly those checks.
//!
//! Owns secret synthesis only; imports only the generator's `rng` (no store, engine, tokio or `std::fs`).

use super::rng::Rng;

/// The kinds a planted incident rotates through, in order.
pub(crate) const KINDS: &[&str] = &[
    "aws-access-key-id",
    "github-token",
    "private-key",
    "payment-card",
    "iban",
    "ssn",
];

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn chars(rng: &mut Rng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| rng.pick(alphabet) as char).collect()
}

/// Luhn check digit for `digits` (without the check digit).
pub(crate) fn luhn_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// True when a digit string passes the Luhn check; tests use it to prove decoys fail and plants pass.
#[cfg(test)]
pub(crate) fn luhn_valid(s: &str) -> bool {
    let d: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    match d.split_last() {
        Some((&last, rest)) if !rest.is_empty() => luhn_digit(rest) == last,
        _ => false,
    }
}

/// CRC-32 (IEEE), for GitHub's token checksum.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `ghp_` + 30 random base62 characters + the base62 CRC-32 of those 30, padded to 6: GitHub's format.
pub(crate) fn github_token(rng: &mut Rng) -> String {
    let entropy = chars(rng, BASE62, 30);
    let mut c = crc32(entropy.as_bytes());
    let mut tail = [b'0'; 6];
    for slot in tail.iter_mut().rev() {
        *slot = BASE62[(c % 62) as usize];
        c /= 62;
    }
    format!("ghp_{entropy}{}", String::from_utf8_lossy(&tail))
}

/// True when a `ghp_` token's last six characters are the checksum of the thirty before them.
#[cfg(test)]
pub(crate) fn github_checksum_valid(token: &str) -> bool {
    let Some(body) = token.strip_prefix("ghp_") else {
        return false;
    };
    if body.len() != 36 || !body.is_ascii() {
        return false;
    }
    let (entropy, tail) = body.split_at(30);
    let mut c = crc32(entropy.as_bytes());
    let mut want = [b'0'; 6];
    for slot in want.iter_mut().rev() {
        *slot = BASE62[(c % 62) as usize];
        c /= 62;
    }
    tail.as_bytes() == want
}

/// An IBAN (GB, with a sort code starting with 1 so no digit run looks like a card) with valid check digits.
pub(crate) fn iban(rng: &mut Rng) -> String {
    let digits: String = std::iter::once('1')
        .chain((0..13).map(|_| (b'0' + rng.below(10) as u8) as char))
        .collect();
    let bban = format!("WEST{digits}");
    let check = 98 - iban_mod97(&format!("{bban}GB00"));
    format!("GB{check:02}{bban}")
}

fn iban_mod97(s: &str) -> u32 {
    s.bytes().fold(0u32, |acc, b| {
        if b.is_ascii_digit() {
            (acc * 10 + u32::from(b - b'0')) % 97
        } else {
            (acc * 100 + u32::from(b.to_ascii_uppercase() - b'A' + 10)) % 97
        }
    })
}

/// mod-97 validation of an IBAN, for tests.
#[cfg(test)]
pub(crate) fn iban_valid(iban: &str) -> bool {
    iban.len() > 4 && iban_mod97(&format!("{}{}", &iban[4..], &iban[..4])) == 1
}

/// A secret of `kind` embedded in a sentence someone might really paste, plus a short label for the title.
pub(crate) fn sentence(kind: &str, rng: &mut Rng) -> String {
    match kind {
        "aws-access-key-id" => {
            format!(
                "Temporary AWS access key for the migration job: {} (remove after the cut-over).",
                format_args!("AKIA{}", chars(rng, BASE32, 16))
            )
        }
        "github-token" => format!(
            "Deploy bot token until the app is approved: {}",
            github_token(rng)
        ),
        "private-key" => {
            let mut block = String::from(
                "Here is the deploy key for the build box:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA",
            );
            block.push_str(&chars(rng, BASE64, 48));
            for _ in 0..6 {
                block.push('\n');
                block.push_str(&chars(rng, BASE64, 64));
            }
            block.push_str("\n-----END RSA PRIVATE KEY-----");
            block
        }
        "payment-card" => {
            let mut d: Vec<u8> = if rng.chance(0.5) {
                vec![4]
            } else {
                vec![5, 1 + rng.below(5) as u8]
            };
            while d.len() < 15 {
                d.push(rng.below(10) as u8);
            }
            d.push(luhn_digit(&d));
            let s: String = d.iter().map(|x| (b'0' + x) as char).collect();
            let shown = match rng.below(3) {
                0 => format!("{} {} {} {}", &s[..4], &s[4..8], &s[8..12], &s[12..]),
                1 => format!("{}-{}-{}-{}", &s[..4], &s[4..8], &s[8..12], &s[12..]),
                _ => s,
            };
            format!("Corporate card for the vendor payment: {shown}, expiry 09/28.")
        }
        "iban" => format!(
            "Please wire the deposit to IBAN {} before the end of the month.",
            iban(rng)
        ),
        _ => {
            let area = loop {
                let a = 1 + rng.below(899);
                if a != 666 {
                    break a;
                }
            };
            let group = 1 + rng.below(99);
            let serial = 1 + rng.below(9999);
            format!(
                "Employee SSN: {area:03}-{group:02}-{serial:04} for the benefits enrolment form."
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plants_validate_and_decoys_do_not() {
        let mut rng = Rng::new(7, 0);
        for _ in 0..50 {
            assert!(github_checksum_valid(&github_token(&mut rng)));
            assert!(iban_valid(&iban(&mut rng)));
        }
        assert!(iban_valid("GB82WEST12345698765432"));
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(!luhn_valid("4111 1111 1111 1112"));
        let card = sentence("payment-card", &mut rng);
        let digits: String = card
            .split(':')
            .nth(1)
            .unwrap_or("")
            .split(',')
            .next()
            .unwrap_or("")
            .to_string();
        assert!(luhn_valid(&digits), "{card}");
    }
}
