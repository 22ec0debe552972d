//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): `v1,` then the base64 HMAC-SHA256 of
//! `id.timestamp.body`, so a receiver can tell the payload is ours, unaltered, and (from the timestamp it
//! checks against its clock) not replayed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The signing key a secret stands for: the base64 after `whsec_` decoded, as the spec and its libraries
/// (Svix and the others) read it; a secret without the prefix is used as its raw bytes, so an operator may
/// paste a plain shared secret (the receiver must then be told to use it the same way). `None` when the
/// part after `whsec_` is not base64, which would give a key no receiver shares.
fn key(secret: &str) -> Option<Vec<u8>> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => STANDARD.decode(b64.trim()).ok(),
        None => Some(secret.as_bytes().to_vec()),
    }
}

/// The MAC over `id.timestamp.body`. HMAC takes keys of every length, so the `None` is never seen.
fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The `webhook-signature` header value for `body` sent as message `id` at `timestamp` (Unix seconds):
/// `v1,<base64>`. `None` when the secret is `whsec_` followed by something that is not base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = key(secret)?;
    let tag = mac(&key, id, timestamp, body)?.finalize().into_bytes();
    Some(format!("v1,{}", STANDARD.encode(tag)))
}

/// Whether `header` (a `webhook-signature` value: one or more space-separated `v1,<base64>` signatures, as
/// sent while a secret is being rotated) holds a valid signature of `body` for `id` and `timestamp`. The
/// comparison is constant-time. The caller checks that `timestamp` is recent; this function has no clock.
/// For receivers (tests, the bench); vigil itself only signs.
pub fn verify_signature(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(key) = key(secret) else {
        return false;
    };
    header.split_whitespace().any(|sig| {
        let Some(b64) = sig.strip_prefix("v1,") else {
            return false;
        };
        let Ok(tag) = STANDARD.decode(b64) else {
            return false;
        };
        mac(&key, id, timestamp, body).is_some_and(|m| m.verify_slice(&tag).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_standard_webhooks_example_signs_as_the_spec_says() {
        assert_eq!(sign(SECRET, ID, TS, BODY).as_deref(), Some(EXPECTED));
        assert!(verify_signature(SECRET, ID, TS, BODY, EXPECTED));
    }

    #[test]
    fn verification_accepts_any_listed_signature_and_nothing_altered() {
        let other = "v1,bm9wZQ==";
        assert!(verify_signature(
            SECRET,
            ID,
            TS,
            BODY,
            &format!("{other} {EXPECTED}")
        ));
        assert!(verify_signature(
            SECRET,
            ID,
            TS,
            BODY,
            &format!("{EXPECTED} v2,xyz")
        ));
        assert!(!verify_signature(SECRET, ID, TS, BODY, other));
        assert!(!verify_signature(SECRET, ID, TS + 1, BODY, EXPECTED));
        assert!(!verify_signature(SECRET, "msg_other", TS, BODY, EXPECTED));
        assert!(!verify_signature(
            SECRET,
            ID,
            TS,
            br#"{"test": 2432232315}"#,
            EXPECTED
        ));
        assert!(!verify_signature(
            SECRET,
            ID,
            TS,
            BODY,
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        ));
        assert!(!verify_signature(SECRET, ID, TS, BODY, ""));
        assert!(!verify_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx",
            ID,
            TS,
            BODY,
            EXPECTED
        ));
    }

    #[test]
    fn a_plain_secret_is_its_bytes_and_a_broken_whsec_is_refused() {
        let sig = sign("plain shared secret", ID, TS, BODY);
        assert!(sig.as_deref().is_some_and(|s| s.starts_with("v1,")));
        assert!(verify_signature(
            "plain shared secret",
            ID,
            TS,
            BODY,
            sig.as_deref().unwrap_or("")
        ));
        assert_eq!(sign("whsec_not base64!", ID, TS, BODY), None);
        assert!(!verify_signature(
            "whsec_not base64!",
            ID,
            TS,
            BODY,
            EXPECTED
        ));
    }
}
