//! Key encodings. Every key is fixed-width big-endian so that sled's byte order is the order vigil pages in:
//! event runs by day, actor, then time; alert ULIDs sort by creation.

/// Order-preserving map of a signed time to unsigned bytes (flip the sign bit).
pub fn time_bytes(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`time_bytes`].
pub fn time_from_bytes(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    (u64::from_be_bytes(a) ^ (1 << 63)) as i64
}

/// FNV-1a, 64 bit: stable across builds and platforms (std's hasher is not), cheap on short ids. Collisions are
/// handled where they matter (event ids are compared on a key hit; actor ids are checked when reading).
pub fn hash64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Milliseconds in a UTC day: event runs never span two.
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day (days since the epoch) an event time falls on.
pub fn day_of(ms: i64) -> i32 {
    ms.div_euclid(DAY_MS)
        .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Order-preserving bytes of a day number.
pub fn day_bytes(day: i32) -> [u8; 4] {
    ((day as u32) ^ (1 << 31)).to_be_bytes()
}

/// Inverse of [`day_bytes`].
pub fn day_from_bytes(b: &[u8]) -> Option<i32> {
    let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some((u32::from_be_bytes(a) ^ (1 << 31)) as i32)
}

/// Length of a run key.
pub const RUN_KEY: usize = 24;

/// Key of an event run: day, actor hash, time of its first event, and a sequence number that keeps two runs
/// starting at the same millisecond apart. 24 bytes.
pub fn run_key(day: i32, actor_hash: u64, first_ms: i64, seq: u32) -> [u8; RUN_KEY] {
    let mut k = [0u8; RUN_KEY];
    k[..4].copy_from_slice(&day_bytes(day));
    k[4..12].copy_from_slice(&actor_hash.to_be_bytes());
    k[12..20].copy_from_slice(&time_bytes(first_ms));
    k[20..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The part of a run key shared by one actor's runs of one day.
pub fn run_prefix(day: i32, actor_hash: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&day_bytes(day));
    k[4..].copy_from_slice(&actor_hash.to_be_bytes());
    k
}

/// The first-event time a run key holds.
pub fn run_first_ms(key: &[u8]) -> Option<i64> {
    key.get(12..20).map(time_from_bytes)
}

/// The actor hash a run key holds.
pub fn run_actor(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(4..12)?.try_into().ok()?))
}

/// Primary event key: event time (ms) then the id hash (+ probe on collision). 16 bytes.
pub fn event_key(time_ms: i64, id_hash: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&time_bytes(time_ms));
    k[8..].copy_from_slice(&id_hash.to_be_bytes());
    k
}

/// Actor index key: actor hash, then the primary key it points to. 24 bytes, value empty.
pub fn actor_key(actor_hash: u64, event_key: &[u8; 16]) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&actor_hash.to_be_bytes());
    k[8..].copy_from_slice(event_key);
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn time_encoding_preserves_order(a: i64, b: i64) {
            prop_assert_eq!(a.cmp(&b), time_bytes(a).cmp(&time_bytes(b)));
            prop_assert_eq!(time_from_bytes(&time_bytes(a)), a);
        }

        #[test]
        fn event_keys_order_by_time_first(t1: i64, t2: i64, h1: u64, h2: u64) {
            let (k1, k2) = (event_key(t1, h1), event_key(t2, h2));
            prop_assert_eq!((t1, h1).cmp(&(t2, h2)), k1.cmp(&k2));
        }

        #[test]
        fn run_keys_order_by_day_actor_time(d1 in -100_000i32..100_000, d2 in -100_000i32..100_000, a1: u64, a2: u64, t1: i64, t2: i64) {
            let (k1, k2) = (run_key(d1, a1, t1, 7), run_key(d2, a2, t2, 7));
            prop_assert_eq!((d1, a1, t1).cmp(&(d2, a2, t2)), k1.cmp(&k2));
            prop_assert_eq!(day_from_bytes(&k1), Some(d1));
            prop_assert_eq!(run_first_ms(&k1), Some(t1));
        }

        #[test]
        fn days_split_at_utc_midnight(ms in -10_000_000_000_000i64..10_000_000_000_000) {
            let d = i64::from(day_of(ms));
            prop_assert!(d * DAY_MS <= ms && ms < (d + 1) * DAY_MS);
        }

        #[test]
        fn actor_keys_group_by_actor_then_time(a1: u64, a2: u64, t1: i64, t2: i64) {
            let (k1, k2) = (actor_key(a1, &event_key(t1, 0)), actor_key(a2, &event_key(t2, 0)));
            prop_assert_eq!((a1, t1).cmp(&(a2, t2)), k1.cmp(&k2));
        }
    }
}
