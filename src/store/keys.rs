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

/// First byte of a tail key: the key space of the small runs an actor-day's writer has not sealed yet.
///
/// Why a key space of their own: sled rewrites a whole leaf for every change to it. With small runs keyed
/// beside final ones, an actor's hot leaf held its final runs (KiBs each) and was rewritten every tenth write
/// of ~250-byte small runs, and sled keeps every rewrite on disk until its cleaner reuses the segment: a 10M
/// event ingest left a file of 0.69x its input for 0.094x of live data. Keyed apart, small runs share leaves
/// with small runs only, and final runs' leaves are only ever appended to (0.20x for the same ingest). One
/// tree, not two, so that a batch moving runs from one space to the other stays atomic. No day's key starts
/// with this byte: days of any time chrono can hold are within ±10^8 of the epoch, far from `0x7F00_0000`.
pub const TAIL: u8 = 0xFF;

/// Length of a tail key.
pub const TAIL_KEY: usize = RUN_KEY + 1;

/// The tail-space key of a run: [`TAIL`] and then the run key.
pub fn tail_key(run_key: &[u8; RUN_KEY]) -> [u8; TAIL_KEY] {
    let mut k = [TAIL; TAIL_KEY];
    k[1..].copy_from_slice(run_key);
    k
}

/// Whether a key of the runs tree is in the tail space.
pub fn is_tail(key: &[u8]) -> bool {
    key.len() == TAIL_KEY && key[0] == TAIL
}

/// The run key under a key of either space (a tail key without its prefix).
pub fn run_key_of(key: &[u8]) -> &[u8] {
    if is_tail(key) { &key[1..] } else { key }
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
        fn no_day_of_a_representable_time_starts_the_tail_space(ms in chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp_millis()..=chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_millis(), a: u64, t: i64) {
            let k = run_key(day_of(ms), a, t, 0);
            prop_assert_ne!(k[0], TAIL);
            prop_assert!(!is_tail(&k));
            let tk = tail_key(&k);
            prop_assert!(is_tail(&tk));
            prop_assert_eq!(run_key_of(&tk), &k[..]);
            prop_assert_eq!(run_key_of(&k), &k[..]);
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
