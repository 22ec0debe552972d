//! Sliding windows over event time for threshold detections, one per (detection, actor).
//!
//! A window keeps at most `cap` entries (the threshold in force): the count only matters up to the threshold,
//! and keeping the newest `cap` entries is enough to know exactly whether `cap` of them fall inside the window.
//! Entries are 32-bit millisecond offsets from a per-window base (rebased before they could overflow), so a
//! plain-count window costs 4 bytes per entry and a distinct-count window 8 (offset + 32-bit item hash).
//!
//! Memory bound per live window: about 80 bytes of struct plus at most `threshold × 4` bytes (plain counts) or
//! `threshold × 8` bytes (distinct counts) of heap — capacity is grown with `reserve_exact` and never past the
//! cap. With the catalogue's thresholds that is ≤ 400 B for plain counts at `default` (≤ 800 B at `fewer`),
//! and for the crawling detections 800 B at `more`, 1.6 KB at `default`, 3.2 KB at `fewer`: an exact distinct
//! count needs the identity of every item that could still be counted, and fewer than 8 bytes per item would
//! mean either a coarser clock or hash collisions merging pages.
//!
//! Each entry also carries a "reported" bit (the offset's top bit) so that a burst that dips below the threshold
//! and comes back reports only the activity not yet reported: alerts grow by what is new, never twice.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Top bit of an offset: the entry has already been reported in a draft.
const REPORTED: u32 = 1 << 31;
const OFFSET: u32 = !REPORTED;
/// Rebase once offsets pass about 12 days, far below the 24.8 days the 31-bit offset can hold.
const REBASE_AT: i64 = 1 << 30;

/// A span of activity not yet reported: what a draft will stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Burst {
    pub count: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Whether entries reported earlier are still in the window (so this continues an earlier draft).
    pub continuation: bool,
}

/// One (detection, actor) sliding window. Entries are sorted by time; in a distinct window each item appears
/// once, at the newest time it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SlidingWindow {
    base: i64,
    times: VecDeque<u32>,
    /// Item hashes, parallel to `times`; empty for plain counts.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    items: VecDeque<u32>,
    distinct: bool,
    unreported: u32,
}

impl SlidingWindow {
    /// An empty window whose first entry will be at `t`.
    pub fn new(t: i64, window_ms: i64, distinct: bool) -> Self {
        Self {
            base: t.saturating_sub(window_ms),
            times: VecDeque::new(),
            items: VecDeque::new(),
            distinct,
            unreported: 0,
        }
    }

    /// Entries inside the window (never more than the cap).
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Event time of the newest entry.
    pub fn newest_ms(&self) -> Option<i64> {
        self.times.back().map(|&o| self.at(o))
    }

    /// Whether nothing left in this window can ever count again: its newest entry is older than the window
    /// plus the lateness the detector still accepts, relative to `watermark`.
    pub fn is_idle(&self, watermark: i64, window_ms: i64, late_ms: i64) -> bool {
        self.newest_ms()
            .is_none_or(|n| n <= watermark.saturating_sub(window_ms).saturating_sub(late_ms))
    }

    fn at(&self, off: u32) -> i64 {
        self.base.saturating_add(i64::from(off & OFFSET))
    }

    /// Count an event at `t` (`item` is the object hash for distinct windows). Returns whether it added to
    /// the count: `false` when it falls outside the window or, in a distinct window, the item was already in.
    pub fn observe(&mut self, t: i64, item: u32, window_ms: i64, cap: usize) -> bool {
        let reference = self.newest_ms().map_or(t, |n| n.max(t));
        let horizon = reference.saturating_sub(window_ms);
        if t <= horizon {
            return false;
        }
        self.expire(horizon);
        if reference.saturating_sub(self.base) >= REBASE_AT {
            self.rebase(horizon);
        }
        if t < self.base {
            return false;
        }
        let Ok(off) = u32::try_from(t - self.base) else {
            return false;
        };
        if off & REPORTED != 0 {
            return false;
        }
        if self.distinct
            && let Some(i) = self.items.iter().position(|&h| h == item)
        {
            let old = self.times[i];
            if old & OFFSET < off {
                self.times.remove(i);
                self.items.remove(i);
                let pos = self.position(off);
                self.times.insert(pos, off | (old & REPORTED));
                self.items.insert(pos, item);
            }
            return false;
        }
        let cap = cap.max(1);
        self.trim(cap);
        let mut pos = self.position(off);
        if self.times.len() >= cap {
            // Full: only the newest `cap` entries matter, and this one would not be among them.
            if pos == 0 {
                return false;
            }
            self.pop_front();
            pos -= 1;
        }
        if self.times.len() == self.times.capacity() && self.times.len() < cap {
            let grow = (self.times.len().max(2) * 2).min(cap) - self.times.len();
            self.times.reserve_exact(grow);
            if self.distinct {
                self.items.reserve_exact(grow);
            }
        }
        self.times.insert(pos, off);
        if self.distinct {
            self.items.insert(pos, item);
        }
        self.unreported = self.unreported.saturating_add(1);
        true
    }

    /// Mark every unreported entry reported and describe them; `None` when all were reported already.
    pub fn take_unreported(&mut self) -> Option<Burst> {
        if self.unreported == 0 {
            return None;
        }
        let base = self.base;
        let mut burst = Burst {
            count: 0,
            first_ms: i64::MAX,
            last_ms: i64::MIN,
            continuation: false,
        };
        for off in self.times.iter_mut() {
            if *off & REPORTED != 0 {
                burst.continuation = true;
                continue;
            }
            let t = base.saturating_add(i64::from(*off));
            burst.count += 1;
            burst.first_ms = burst.first_ms.min(t);
            burst.last_ms = burst.last_ms.max(t);
            *off |= REPORTED;
        }
        self.unreported = 0;
        (burst.count > 0).then_some(burst)
    }

    /// Drop entries beyond `cap` (the threshold was lowered by tuning).
    pub fn trim(&mut self, cap: usize) {
        while self.times.len() > cap.max(1) {
            self.pop_front();
        }
    }

    fn position(&self, off: u32) -> usize {
        let mut pos = self.times.len();
        while pos > 0 && self.times[pos - 1] & OFFSET > off {
            pos -= 1;
        }
        pos
    }

    fn expire(&mut self, horizon: i64) {
        while let Some(&front) = self.times.front() {
            if self.at(front) > horizon {
                break;
            }
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some(off) = self.times.pop_front()
            && off & REPORTED == 0
        {
            self.unreported = self.unreported.saturating_sub(1);
        }
        if self.distinct {
            self.items.pop_front();
        }
    }

    /// Move the base up to `new_base` (≤ every live entry, which are all after the horizon).
    fn rebase(&mut self, new_base: i64) {
        let Ok(delta) = u32::try_from(new_base.saturating_sub(self.base)) else {
            // Farther than u32 apart: only possible when empty after expiry.
            self.base = new_base;
            return;
        };
        for off in self.times.iter_mut() {
            let flag = *off & REPORTED;
            *off = ((*off & OFFSET).saturating_sub(delta)) | flag;
        }
        self.base = self.base.saturating_add(i64::from(delta));
    }

    /// Heap bytes held, for the documented bound's test.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        (self.times.capacity() + self.items.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = 600_000;

    #[test]
    fn counts_within_window_and_caps() {
        let mut w = SlidingWindow::new(0, W, false);
        for i in 0..10 {
            assert!(w.observe(i * 1000, 0, W, 5));
        }
        assert_eq!(w.len(), 5);
        assert!(w.heap_bytes() <= 5 * 4);
        // Far later: everything before expires.
        assert!(w.observe(10 * W, 0, W, 5));
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn distinct_items_count_once() {
        let mut w = SlidingWindow::new(0, W, true);
        assert!(w.observe(0, 7, W, 100));
        assert!(!w.observe(10, 7, W, 100));
        assert!(w.observe(20, 8, W, 100));
        assert_eq!(w.len(), 2);
        assert!(w.heap_bytes() <= 100 * 8);
    }

    #[test]
    fn reported_bits_survive_rebase_and_dips() {
        let mut w = SlidingWindow::new(0, W, false);
        let day = 86_400_000;
        let mut t = 0;
        for _ in 0..40 {
            t += day / 2;
            w.observe(t, 0, W, 3);
            w.observe(t + 1, 0, W, 3);
            w.observe(t + 2, 0, W, 3);
            let b = w
                .take_unreported()
                .map(|b| (b.count, b.first_ms, b.last_ms, b.continuation));
            assert_eq!(b, Some((3, t, t + 2, false)));
            assert_eq!(w.newest_ms(), Some(t + 2));
        }
        w.observe(t + 3, 0, W, 3);
        let b = w.take_unreported().map(|b| (b.count, b.continuation));
        assert_eq!(b, Some((1, true)));
    }

    #[test]
    fn late_entries_insert_in_order() {
        let mut w = SlidingWindow::new(100_000, W, false);
        w.observe(100_000, 0, W, 10);
        w.observe(50_000, 0, W, 10);
        assert_eq!(w.newest_ms(), Some(100_000));
        assert!(!w.observe(100_000 - W, 0, W, 10), "outside the window");
        assert!(w.is_idle(100_000 + W + 300_000, W, 300_000));
        assert!(!w.is_idle(100_000 + W, W, 300_000));
    }
}
