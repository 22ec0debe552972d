//! The numeric pass: payment card numbers and IBANs. A card is 13–19 digits with an issuer's prefix and length
//! and a valid Luhn digit, written either in the usual groups (4-4-4-4, 4-6-5…, one separator kind) or as a
//! bare run next to a card word ("card", "visa", "cvv"…): bare 16–19 digit runs in code and data are mostly
//! constants and ids, one in ten of which passes Luhn by chance.
//!
//! Neither cards nor IBANs have a literal to prefilter on, so one linear walk jumps from digit to digit (eight bytes at a time through text without digits) and validates the
//! few numeric runs shaped like a PAN or an IBAN. Every byte is visited a bounded number of times.

use super::validate::{card_brand, iban_length, iban_mod97, is_example_iban, is_test_card, luhn};
use super::{Hit, Kind};

/// Index of the first ASCII digit at or after `i`, or `b.len()`.
fn next_digit(b: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // Digits become bytes < 10 after the xor; the classic "has a byte less than n" test finds them.
        let x = u64::from_le_bytes(word) ^ (0x30 * LO);
        if x.wrapping_sub(10 * LO) & !x & HI != 0 {
            break;
        }
        i += 8;
    }
    while i < b.len() && !b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Bytes that, right before a digit run, mean the run is part of something else: a word, a version, a path,
/// a decimal fraction, a signed number, an anchor or a hash.
fn glued_before(p: u8) -> bool {
    p.is_ascii_alphanumeric()
        || matches!(
            p,
            b'_' | b'.' | b'/' | b'#' | b'\\' | b'$' | b'%' | b'-' | b'+' | b'&'
        )
}

/// Bytes that, right after a digit run, mean the same.
fn glued_after(b: &[u8], i: usize) -> bool {
    match b.get(i) {
        None => false,
        Some(&c) if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'/' | b'%') => true,
        Some(&(b'.' | b',' | b'-')) => b.get(i + 1).is_some_and(u8::is_ascii_digit),
        _ => false,
    }
}

/// Card and IBAN candidates in `b`, validated, appended to `hits`.
pub(super) fn scan(b: &[u8], cards: bool, iban: bool, hits: &mut Vec<Hit>, max_hits: usize) {
    let n = b.len();
    let mut i = 0;
    let mut found = 0usize;
    while i < n && found < max_hits {
        i = next_digit(b, i);
        if i >= n {
            break;
        }
        let d = i;
        if iban
            && d >= 2
            && b[d - 1].is_ascii_uppercase()
            && b[d - 2].is_ascii_uppercase()
            && (d < 3 || !b[d - 3].is_ascii_alphanumeric())
            && let Some(end) = try_iban(b, d - 2, hits)
        {
            found += 1;
            i = end;
            continue;
        }
        // Consume the whole run of digit groups joined by single spaces or dashes, so that no suffix of a
        // long number is ever looked at as a number of its own.
        let mut groups = [0u8; 6];
        let mut ngroups = 0usize;
        let mut digits = 0usize;
        let mut sep: Option<u8> = None;
        let mut mixed = false;
        loop {
            let gs = i;
            while i < n && b[i].is_ascii_digit() {
                i += 1;
            }
            let glen = i - gs;
            digits += glen;
            if ngroups < groups.len() {
                groups[ngroups] = glen.min(255) as u8;
            }
            ngroups += 1;
            if i + 1 < n && matches!(b[i], b' ' | b'-') && b[i + 1].is_ascii_digit() {
                match sep {
                    None => sep = Some(b[i]),
                    Some(s) if s != b[i] => mixed = true,
                    Some(_) => {}
                }
                i += 1;
                continue;
            }
            break;
        }
        if !cards || mixed || ngroups > 5 || !(13..=19).contains(&digits) {
            continue;
        }
        if d > 0 && glued_before(b[d - 1]) || glued_after(b, i) {
            continue;
        }
        let shape = &groups[..ngroups];
        let shape_ok = ngroups == 1
            || (shape[..ngroups - 1].iter().all(|&g| g == 4)
                && (1..=4).contains(&shape[ngroups - 1]))
            || shape == [4, 6, 5]
            || shape == [4, 6, 4];
        if !shape_ok {
            continue;
        }
        let pan: Vec<u8> = b[d..i].iter().copied().filter(u8::is_ascii_digit).collect();
        if card_brand(&pan).is_none()
            || !luhn(&pan)
            || is_test_card(&pan)
            || pan.iter().all(|&c| c == pan[0])
        {
            continue;
        }
        // A bare digit run is as often a u64 constant or an id as a card: it needs a card word nearby.
        // Formatted numbers (4-4-4-4, 4-6-5) are how people write cards and need no keyword.
        if ngroups == 1 && !card_context(b, d, i) {
            continue;
        }
        found += 1;
        hits.push(
            Hit::new(Kind::PaymentCard, d, i).with_norm(String::from_utf8_lossy(&pan).into_owned()),
        );
    }
}

/// Words that say a number is a card, in the 64 bytes before it or the 32 after it.
const CARD_WORDS: &[&[u8]] = &[
    b"card",
    b"visa",
    b"amex",
    b"american express",
    b"discover",
    b"jcb",
    b"diners",
    b"unionpay",
    b"credit",
    b"debit",
    b"cc#",
    b"ccn",
    b"cc:",
    b"cc no",
    b"pan:",
    b"payment",
    b"cvv",
    b"cvc",
    b"expir",
    b"exp:",
    b"karte",
    b"carte",
    b"tarjeta",
    b"carta",
];

fn card_context(b: &[u8], start: usize, end: usize) -> bool {
    let before = &b[start.saturating_sub(64)..start];
    let after = &b[end..end.saturating_add(32).min(b.len())];
    [before, after].iter().any(|w| {
        let lower = w.to_ascii_lowercase();
        CARD_WORDS
            .iter()
            .any(|k| memchr::memmem::find(&lower, k).is_some())
    })
}

/// An IBAN starting at `s` (two upper-case letters), in electronic form or printed in groups of four; on
/// success the hit is pushed and the end offset returned.
fn try_iban(b: &[u8], s: usize, hits: &mut Vec<Hit>) -> Option<usize> {
    let want = iban_length(&b[s..s + 2])?;
    let mut compact: Vec<u8> = Vec::with_capacity(want);
    let mut j = s;
    while compact.len() < want && j < b.len() {
        let c = b[j];
        if c.is_ascii_digit() || c.is_ascii_uppercase() {
            compact.push(c);
            j += 1;
        } else if c == b' '
            && compact.len().is_multiple_of(4)
            && b.get(j + 1)
                .is_some_and(|&c| c.is_ascii_digit() || c.is_ascii_uppercase())
        {
            j += 1;
        } else {
            break;
        }
    }
    if compact.len() != want || b.get(j).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    if !compact[2..4].iter().all(u8::is_ascii_digit)
        || !iban_mod97(&compact)
        || is_example_iban(&compact)
    {
        return None;
    }
    hits.push(Hit::new(Kind::Iban, s, j).with_norm(String::from_utf8_lossy(&compact).into_owned()));
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Vec<(Kind, usize, usize)> {
        let mut hits = Vec::new();
        scan(s.as_bytes(), true, true, &mut hits, 100);
        hits.iter().map(|h| (h.kind, h.start, h.end)).collect()
    }

    #[test]
    fn next_digit_finds_every_position() {
        let s = b"abcdefghijklmnopqrstuvwxyz0";
        assert_eq!(next_digit(s, 0), 26);
        assert_eq!(next_digit(b"\xff\xfe\x80\x7f abc9", 0), 8);
        assert_eq!(next_digit(b"abc", 0), 3);
    }

    #[test]
    fn cards_in_their_usual_shapes() {
        assert_eq!(
            run("card 4539148803436467 ok"),
            vec![(Kind::PaymentCard, 5, 21)]
        );
        assert_eq!(run("4539 1488 0343 6467").len(), 1);
        assert_eq!(run("4539-1488-0343-6467").len(), 1);
        assert!(run("4539-1488 0343-6467").is_empty(), "mixed separators");
        assert!(
            run("45391488034364671").is_empty(),
            "17 digits: no issuer uses it for visa"
        );
        assert!(run("v1.4539148803436467").is_empty());
        assert!(run("4539148803436468").is_empty(), "Luhn");
        assert!(run("4111111111111111").is_empty(), "published test card");
    }

    #[test]
    fn ibans() {
        assert_eq!(run("IBAN DE44500105175407324931 x").len(), 1);
        assert_eq!(run("DE44 5001 0517 5407 3249 31").len(), 1);
        assert!(
            run("DE89 3704 0044 0532 0130 00").is_empty(),
            "the Wikipedia example"
        );
        assert!(run("DE44500105175407324932").is_empty(), "mod 97");
    }
}
