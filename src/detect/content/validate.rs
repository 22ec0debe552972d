//! Validators run on the rare candidates the prefilters let through: checksums (Luhn, IBAN mod-97), number
//! rules (SSN), structure (JWT) and Shannon entropy. Each is a pure function of bytes and never panics.

/// Shannon entropy of `s` in bits per byte. Random base64 sits near 5.5–6, random hex near 3.7–4, English
/// words near 2.5–3.2: a threshold between those separates keys from prose and placeholders.
pub(crate) fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let len = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// Luhn checksum over ASCII digits (other bytes must have been removed by the caller).
pub(crate) fn luhn(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// The card brand a PAN's prefix and length belong to, or `None` when no issuer uses that combination.
/// A number with no issuer is an id, a timestamp or a counter, whatever its checksum says.
pub(crate) fn card_brand(digits: &[u8]) -> Option<&'static str> {
    let len = digits.len();
    let prefix = |n: usize| -> u32 {
        digits
            .iter()
            .take(n)
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d.wrapping_sub(b'0')))
    };
    let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));
    if p1 == 4 && matches!(len, 13 | 16 | 19) {
        return Some("visa");
    }
    if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16 {
        return Some("mastercard");
    }
    if matches!(p2, 34 | 37) && len == 15 {
        return Some("amex");
    }
    if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622_126..=622_925).contains(&p6))
        && (16..=19).contains(&len)
    {
        return Some("discover");
    }
    if (3528..=3589).contains(&p4) && (16..=19).contains(&len) {
        return Some("jcb");
    }
    if ((300..=305).contains(&p3) || matches!(p2, 36 | 38 | 39)) && (14..=19).contains(&len) {
        return Some("diners");
    }
    if p2 == 62 && (16..=19).contains(&len) {
        return Some("unionpay");
    }
    None
}

/// Published test PANs (card networks' and payment processors' documentation): not anyone's card.
const TEST_CARDS: &[&str] = &[
    "4111111111111111",
    "4242424242424242",
    "4012888888881881",
    "4000056655665556",
    "4222222222222",
    "5555555555554444",
    "5105105105105100",
    "5200828282828210",
    "2223003122003222",
    "378282246310005",
    "371449635398431",
    "378734493671000",
    "6011111111111117",
    "6011000990139424",
    "3530111333300000",
    "3566002020360505",
    "30569309025904",
    "38520000023237",
    "36227206271667",
    "6200000000000005",
];

/// True when the digits are one of the documented test card numbers.
pub(crate) fn is_test_card(digits: &[u8]) -> bool {
    TEST_CARDS.iter().any(|t| t.as_bytes() == digits)
}

/// IBAN length per country (SWIFT IBAN registry); a country missing here is not validated as IBAN.
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// The registered IBAN length of a country code.
pub(crate) fn iban_length(country: &[u8]) -> Option<usize> {
    IBAN_LENGTHS
        .iter()
        .find(|(c, _)| c.as_slice() == country)
        .map(|&(_, n)| n)
}

/// IBANs printed in standards, bank documentation and Wikipedia: examples, not accounts.
const EXAMPLE_IBANS: &[&str] = &[
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "GB29NWBK60161331926819",
    "GB33BUKB20201555555555",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
    "BE68539007547034",
];

/// True when the compact IBAN is a well-known documentation example.
pub(crate) fn is_example_iban(compact: &[u8]) -> bool {
    EXAMPLE_IBANS.iter().any(|e| e.as_bytes() == compact)
}

/// ISO 13616 check: move the first four characters to the end, letters become 10..35, the number mod 97 is 1.
/// `compact` is upper-case alphanumerics without spaces.
pub(crate) fn iban_mod97(compact: &[u8]) -> bool {
    if compact.len() < 5 {
        return false;
    }
    let check = &compact[2..4];
    if !check.iter().all(u8::is_ascii_digit) || check == b"00" || check == b"01" || check == b"99" {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in compact[4..].iter().chain(&compact[..4]) {
        match c {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return false,
        }
    }
    rem == 1
}

/// US SSN issuance rules: area not 000, 666 or 900–999; group not 00; serial not 0000. Numbers the SSA
/// published or that circulate as examples (078-05-1120 from a wallet insert, 219-09-9999 from an SSA ad,
/// 123-45-6789) are rejected too, as are nine identical digits.
pub(crate) fn ssn_valid(area: &[u8], group: &[u8], serial: &[u8]) -> bool {
    let num = |d: &[u8]| -> Option<u32> {
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            d.iter()
                .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0')),
        )
    };
    let (Some(a), Some(g), Some(s)) = (num(area), num(group), num(serial)) else {
        return false;
    };
    if area.len() != 3 || group.len() != 2 || serial.len() != 4 {
        return false;
    }
    if a == 0 || a == 666 || a >= 900 || g == 0 || s == 0 {
        return false;
    }
    let all: Vec<u8> = area.iter().chain(group).chain(serial).copied().collect();
    if all.iter().all(|&c| c == all[0]) {
        return false;
    }
    !matches!(
        &all[..],
        b"078051120" | b"219099999" | b"123456789" | b"987654320"
    )
}

/// Decode unpadded (or padded) base64url; `None` on any other byte. Used only on JWT segments, which are
/// bounded in length by the scanner's pattern.
pub(crate) fn base64url_decode(s: &[u8]) -> Option<Vec<u8>> {
    let s = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The jwt.io sample token's signature: it appears in countless tutorials and signs nothing real.
const JWT_IO_SAMPLE_SIG: &[u8] = b"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

/// A JWT: three base64url parts whose header is a JSON object with a string `alg` and whose payload is a
/// JSON object, signed (an unsigned `alg: none` token is no credential), and not the jwt.io sample.
pub(crate) fn jwt_valid(token: &[u8]) -> bool {
    let mut parts = token.split(|&b| b == b'.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if sig.len() < 16 || sig == JWT_IO_SAMPLE_SIG {
        return false;
    }
    let Some(header) = base64url_decode(h) else {
        return false;
    };
    let Ok(serde_json::Value::Object(hdr)) = serde_json::from_slice::<serde_json::Value>(&header)
    else {
        return false;
    };
    match hdr.get("alg") {
        Some(serde_json::Value::String(alg)) if !alg.eq_ignore_ascii_case("none") => {}
        _ => return false,
    }
    let Some(payload) = base64url_decode(p) else {
        return false;
    };
    matches!(
        serde_json::from_slice::<serde_json::Value>(&payload),
        Ok(serde_json::Value::Object(_))
    )
}

/// True for the canonical 8-4-4-4-12 hex UUID form: an identifier, not a secret, wherever it appears.
pub(crate) fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Number of distinct bytes: a cheap guard against `XXXXXXXX` and `00000000` fillers.
pub(crate) fn distinct(s: &[u8]) -> usize {
    let mut seen = [false; 256];
    s.iter()
        .filter(|&&b| !std::mem::replace(&mut seen[b as usize], true))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_brands() {
        assert!(luhn(b"4539148803436467"));
        assert!(!luhn(b"4539148803436468"));
        assert_eq!(card_brand(b"4539148803436467"), Some("visa"));
        assert_eq!(card_brand(b"2221000000000009"), Some("mastercard"));
        assert_eq!(card_brand(b"378282246310005"), Some("amex"));
        assert_eq!(card_brand(b"9223372036854775807"), None);
        assert_eq!(card_brand(b"1700000000000000"), None);
    }

    #[test]
    fn iban() {
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"DE89370400440532013001"));
        assert_eq!(iban_length(b"DE"), Some(22));
        assert_eq!(iban_length(b"ZZ"), None);
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn_valid(b"536", b"22", b"8417"));
        assert!(!ssn_valid(b"000", b"12", b"3456"));
        assert!(!ssn_valid(b"666", b"12", b"3456"));
        assert!(!ssn_valid(b"912", b"12", b"3456"));
        assert!(!ssn_valid(b"536", b"00", b"3456"));
        assert!(!ssn_valid(b"536", b"12", b"0000"));
        assert!(!ssn_valid(b"078", b"05", b"1120"));
        assert!(!ssn_valid(b"123", b"45", b"6789"));
    }

    #[test]
    fn entropy_orders_text() {
        assert!(entropy(b"aaaaaaaa") < 0.1);
        assert!(entropy(b"password") < 3.0);
        assert!(entropy(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ3kL9pW2m") > 4.0);
    }

    #[test]
    fn base64url_and_jwt() {
        assert_eq!(
            base64url_decode(b"eyJhbGciOiJIUzI1NiJ9").as_deref(),
            Some(&b"{\"alg\":\"HS256\"}"[..])
        );
        assert!(base64url_decode(b"e*").is_none());
        assert!(!jwt_valid(b"a.b"));
        assert!(!jwt_valid(b"eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ"));
    }

    #[test]
    fn uuid_shape() {
        assert!(is_uuid(b"2508d209-3336-4763-89a0-aceaf1322fcf"));
        assert!(!is_uuid(b"2508d209333647638 9a0aceaf1322fcf00"));
    }
}
