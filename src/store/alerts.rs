//! Alerts by ULID plus one index tree holding every secondary order, so a page is always a bounded range scan:
//!
//! | prefix | key                                   | serves                          |
//! |--------|---------------------------------------|---------------------------------|
//! | `S`    | status, severity, ULID                | `status:` and `sev:` filters    |
//! | `A`    | hash(actor id / e-mail / name), ULID  | `actor:`                        |
//! | `D`    | hash(detection), ULID                 | `det:`                          |
//! | `G`    | hash(group key) → ULID of newest      | grouping a continuing burst     |
//!
//! ULIDs carry the alert's `created` time, so every index is also time-ordered and `since`/`until` bound
//! the ULID part of the range.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use ulid::Ulid;

use super::keys::hash64;
use super::{Store, StoreError};
use crate::model::{Alert, AlertFilter, AlertStatus, Severity};

/// One page of alerts and the cursor for the next (`None` at the end).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    pub next: Option<Ulid>,
}

/// Alerts per status, kept as counters so the header never counts a million rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatusCounts {
    pub open: u64,
    pub acknowledged: u64,
    pub expected: u64,
    pub true_positive: u64,
}

impl StatusCounts {
    /// All alerts.
    pub fn total(&self) -> u64 {
        self.open + self.acknowledged + self.expected + self.true_positive
    }

    /// The counter for one status.
    pub fn get(&self, s: AlertStatus) -> u64 {
        match s {
            AlertStatus::Open => self.open,
            AlertStatus::Acknowledged => self.acknowledged,
            AlertStatus::Expected => self.expected,
            AlertStatus::TruePositive => self.true_positive,
        }
    }
}

fn counter_key(s: AlertStatus) -> String {
    format!("alerts.{}", s.as_str())
}

fn status_key(status: AlertStatus, sev: Severity, id: Ulid) -> Vec<u8> {
    let mut k = Vec::with_capacity(19);
    k.push(b'S');
    k.push(status.code());
    k.push(sev.code());
    k.extend_from_slice(&id.to_bytes());
    k
}

fn hashed_key(tag: u8, h: u64, id: Ulid) -> Vec<u8> {
    let mut k = Vec::with_capacity(25);
    k.push(tag);
    k.extend_from_slice(&h.to_be_bytes());
    k.extend_from_slice(&id.to_bytes());
    k
}

fn group_key(group: &str) -> Vec<u8> {
    let mut k = vec![b'G'];
    k.extend_from_slice(&hash64(group).to_be_bytes());
    k
}

/// Every index key an alert occupies (the `G` entry is handled apart: it points at the newest of a group).
fn index_keys(a: &Alert) -> Vec<Vec<u8>> {
    let mut keys = vec![
        status_key(a.status, a.severity, a.id),
        hashed_key(b'D', hash64(a.detection.as_str()), a.id),
    ];
    let mut who = vec![a.actor.id.to_lowercase()];
    who.extend(a.actor.email.iter().map(|e| e.to_lowercase()));
    who.extend(a.actor.name.iter().map(|n| n.to_lowercase()));
    who.sort();
    who.dedup();
    keys.extend(who.iter().map(|w| hashed_key(b'A', hash64(w), a.id)));
    keys
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

impl Store {
    /// Write alerts (new or changed) with their index entries and status counters in one transaction, so an
    /// index never points at a missing alert and counters never drift.
    pub fn save_alerts(&self, alerts: &[Alert]) -> Result<(), StoreError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let encoded: Vec<(Alert, Vec<u8>)> = alerts
            .iter()
            .map(|a| encode_alert(a).map(|v| (a.clone(), v)))
            .collect::<Result<_, _>>()
            .map_err(|e| self.corrupt("alerts", format!("cannot encode alert: {e}")))?;
        let res = (&self.alerts, &self.alert_idx, &self.meta).transaction(
            |(at, it, mt)| -> TxResult<()> {
                for (a, bytes) in &encoded {
                    let id = a.id.to_bytes();
                    let old = match at.insert(&id[..], bytes.as_slice())? {
                        Some(v) => decode_alert(&v).ok(),
                        None => None,
                    };
                    if let Some(old) = &old {
                        for k in index_keys(old) {
                            it.remove(k)?;
                        }
                    }
                    for k in index_keys(a) {
                        it.insert(k, &[][..])?;
                    }
                    it.insert(group_key(&a.group_key), &id[..])?;
                    let old_status = old.as_ref().map(|o| o.status);
                    if old_status != Some(a.status) {
                        if let Some(s) = old_status {
                            add(mt, &counter_key(s), -1)?;
                        }
                        add(mt, &counter_key(a.status), 1)?;
                    }
                }
                Ok(())
            },
        );
        res.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.sled(e),
        })
    }

    /// One alert by id.
    pub fn alert(&self, id: Ulid) -> Result<Option<Alert>, StoreError> {
        match self.alerts.get(id.to_bytes()).map_err(|e| self.sled(e))? {
            Some(v) => decode_alert(&v)
                .map(Some)
                .map_err(|e| self.corrupt("alerts", e)),
            None => Ok(None),
        }
    }

    /// The newest alert of a group, if any: the candidate a continuing burst grows.
    pub fn latest_in_group(&self, group: &str) -> Result<Option<Alert>, StoreError> {
        let Some(v) = self
            .alert_idx
            .get(group_key(group))
            .map_err(|e| self.sled(e))?
        else {
            return Ok(None);
        };
        let Ok(bytes): Result<[u8; 16], _> = v.as_ref().try_into() else {
            return Ok(None);
        };
        let alert = self.alert(Ulid::from_bytes(bytes))?;
        Ok(alert.filter(|a| a.group_key == group))
    }

    /// Change one alert under optimistic concurrency: `expected_version` must match what is stored, else
    /// [`StoreError::Conflict`] (another analyst changed it first). The change bumps `version`.
    pub fn update_alert(
        &self,
        id: Ulid,
        expected_version: Option<u64>,
        change: impl FnOnce(&mut Alert),
    ) -> Result<Alert, StoreError> {
        let mut alert = self
            .alert(id)?
            .ok_or_else(|| StoreError::NoSuchAlert(id.to_string()))?;
        if let Some(v) = expected_version
            && v != alert.version
        {
            return Err(StoreError::Conflict {
                id: id.to_string(),
                found: alert.version,
                expected: v,
            });
        }
        change(&mut alert);
        alert.version += 1;
        self.save_alerts(std::slice::from_ref(&alert))?;
        Ok(alert)
    }

    /// Alerts created before `before`, oldest first, at most `limit`: what alert retention archives next.
    pub fn alerts_created_before(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        let filter = AlertFilter {
            until: Some(before),
            ascending: true,
            ..AlertFilter::default()
        };
        Ok(self.alerts_page(&filter, None, limit)?.alerts)
    }

    /// Delete alerts with their index entries and status counters (retention, after archiving). Returns how
    /// many existed. Ids that are not stored are skipped.
    pub fn delete_alerts(&self, ids: &[Ulid]) -> Result<u64, StoreError> {
        let res = (&self.alerts, &self.alert_idx, &self.meta).transaction(
            |(at, it, mt)| -> TxResult<u64> {
                let mut n = 0;
                for id in ids {
                    let Some(v) = at.remove(&id.to_bytes()[..])? else {
                        continue;
                    };
                    n += 1;
                    let Ok(old) = decode_alert(&v) else {
                        continue;
                    };
                    for k in index_keys(&old) {
                        it.remove(k)?;
                    }
                    let g = group_key(&old.group_key);
                    if it.get(&g)?.as_deref() == Some(&id.to_bytes()[..]) {
                        it.remove(g)?;
                    }
                    add(mt, &counter_key(old.status), -1)?;
                }
                Ok(n)
            },
        );
        res.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.sled(e),
        })
    }

    /// Alerts per status.
    pub fn status_counts(&self) -> StatusCounts {
        let c = |s| self.counter(&counter_key(s));
        StatusCounts {
            open: c(AlertStatus::Open),
            acknowledged: c(AlertStatus::Acknowledged),
            expected: c(AlertStatus::Expected),
            true_positive: c(AlertStatus::TruePositive),
        }
    }

    /// A page of alerts matching `filter`, newest first (oldest first with `filter.ascending`; most severe first
    /// with `filter.by_severity`), starting after `cursor` (the last alert of the previous page). Served from
    /// the most selective index the filter allows; never a full scan unless the filter has nothing an index
    /// can use.
    pub fn alerts_page(
        &self,
        filter: &AlertFilter,
        cursor: Option<Ulid>,
        limit: usize,
    ) -> Result<AlertPage, StoreError> {
        if filter.by_severity {
            return self.alerts_page_by_severity(filter, cursor, limit);
        }
        let (lo_id, hi_id) = id_bounds(filter);
        let (lo_id, hi_id) = match (cursor, filter.ascending) {
            (Some(c), false) => (lo_id, hi_id.min(u128::from(c).saturating_sub(1))),
            (Some(c), true) => (lo_id.max(u128::from(c).saturating_add(1)), hi_id),
            (None, _) => (lo_id, hi_id),
        };
        let mut page = AlertPage::default();
        self.merge_into(
            self.scan_prefixes(filter),
            lo_id,
            hi_id,
            filter,
            limit,
            &mut page,
        )?;
        Ok(page)
    }

    /// Most severe first, then newest first within a severity (reversed with `ascending`), from the
    /// status+severity index one severity at a time. The cursor's own severity says where to resume.
    fn alerts_page_by_severity(
        &self,
        filter: &AlertFilter,
        cursor: Option<Ulid>,
        limit: usize,
    ) -> Result<AlertPage, StoreError> {
        let at = match cursor {
            Some(c) => self.alert(c)?.map(|a| (a.severity, u128::from(c))),
            None => None,
        };
        let statuses: Vec<AlertStatus> = if filter.statuses.is_empty() {
            AlertStatus::ALL.to_vec()
        } else {
            filter.statuses.clone()
        };
        let mut severities: Vec<Severity> = Severity::ALL
            .into_iter()
            .filter(|s| {
                filter.min_severity.is_none_or(|m| *s >= m)
                    && filter.max_severity.is_none_or(|m| *s <= m)
            })
            .collect();
        if !filter.ascending {
            severities.reverse();
        }
        let (lo_all, hi_all) = id_bounds(filter);
        let mut page = AlertPage::default();
        for sev in severities {
            let (mut lo, mut hi) = (lo_all, hi_all);
            if let Some((cs, cu)) = at {
                let passed = if filter.ascending { sev < cs } else { sev > cs };
                if passed {
                    continue;
                }
                if sev == cs {
                    if filter.ascending {
                        lo = lo.max(cu.saturating_add(1));
                    } else {
                        hi = hi.min(cu.saturating_sub(1));
                    }
                }
            }
            let prefixes = statuses
                .iter()
                .map(|st| vec![b'S', st.code(), sev.code()])
                .collect();
            if self.merge_into(prefixes, lo, hi, filter, limit, &mut page)? {
                return Ok(page);
            }
        }
        Ok(page)
    }

    /// Merge the ULID-ordered ranges `prefix + [lo, hi]` (newest first, or oldest first with `ascending`),
    /// appending alerts that pass the filter to `page` until it holds `limit`. Returns whether it filled (then
    /// `page.next` is set).
    fn merge_into(
        &self,
        prefixes: Vec<Vec<u8>>,
        lo_id: u128,
        hi_id: u128,
        filter: &AlertFilter,
        limit: usize,
        page: &mut AlertPage,
    ) -> Result<bool, StoreError> {
        page.next = None;
        if lo_id > hi_id || page.alerts.len() >= limit {
            return Ok(page.alerts.len() >= limit && limit > 0);
        }
        let mut scans: Vec<Scan> = prefixes
            .into_iter()
            .map(|p| {
                let tree = if p.is_empty() {
                    &self.alerts
                } else {
                    &self.alert_idx
                };
                let mut lo = p.clone();
                lo.extend_from_slice(&lo_id.to_be_bytes());
                let mut hi = p.clone();
                hi.extend_from_slice(&hi_id.to_be_bytes());
                let iter = tree.range(lo..=hi);
                let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
                    if filter.ascending {
                        Box::new(iter)
                    } else {
                        Box::new(iter.rev())
                    };
                Scan {
                    iter,
                    head: None,
                    prefix_len: p.len(),
                }
            })
            .collect();
        for s in &mut scans {
            s.advance().map_err(|e| self.sled(e))?;
        }
        loop {
            // Merge the scans by ULID (max for newest first, min for oldest first).
            let pick = scans
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.head.map(|h| (i, h)))
                .reduce(|a, b| {
                    if (b.1 > a.1) != filter.ascending {
                        b
                    } else {
                        a
                    }
                });
            let Some((i, id)) = pick else {
                return Ok(false);
            };
            scans[i].advance().map_err(|e| self.sled(e))?;
            let Some(alert) = self.alert(Ulid(id))? else {
                continue;
            };
            if filter.matches(&alert) {
                page.alerts.push(alert);
                if page.alerts.len() == limit {
                    page.next = Some(Ulid(id));
                    return Ok(true);
                }
            }
        }
    }

    /// Key prefixes to merge for a filter, most selective first choice: actor, detection, status/severity,
    /// else the alerts tree itself (empty prefix).
    fn scan_prefixes(&self, f: &AlertFilter) -> Vec<Vec<u8>> {
        if let Some(who) = &f.actor {
            let mut p = vec![b'A'];
            p.extend_from_slice(&hash64(&who.to_lowercase()).to_be_bytes());
            return vec![p];
        }
        if let Some(d) = &f.detection {
            let mut p = vec![b'D'];
            p.extend_from_slice(&hash64(d).to_be_bytes());
            return vec![p];
        }
        if !f.statuses.is_empty() || f.min_severity.is_some() {
            let statuses: Vec<AlertStatus> = if f.statuses.is_empty() {
                AlertStatus::ALL.to_vec()
            } else {
                f.statuses.clone()
            };
            let min = f.min_severity.unwrap_or(Severity::Low);
            let mut out = Vec::new();
            for s in statuses {
                for sev in Severity::ALL.into_iter().filter(|v| *v >= min) {
                    out.push(vec![b'S', s.code(), sev.code()]);
                }
            }
            return out;
        }
        vec![Vec::new()]
    }
}

/// Alert values from schema 2 on: a format byte, then postcard (compact binary, no field names: a third of
/// the JSON's size, which is what sled's open time and page table grow with).
const POSTCARD: u8 = 1;

/// Encode an alert for the alerts tree.
pub(super) fn encode_alert(a: &Alert) -> Result<Vec<u8>, String> {
    let mut v = vec![POSTCARD];
    v.extend(postcard::to_stdvec(a).map_err(|e| e.to_string())?);
    Ok(v)
}

/// Decode an alert value: postcard (schema 2) or the JSON of schema 1, which the migration rewrites.
pub(super) fn decode_alert(v: &[u8]) -> Result<Alert, String> {
    match v.first() {
        Some(&POSTCARD) => {
            postcard::from_bytes(&v[1..]).map_err(|e| format!("undecodable alert: {e}"))
        }
        Some(b'{') => serde_json::from_slice(v).map_err(|e| format!("undecodable alert: {e}")),
        _ => Err("unknown alert encoding".to_string()),
    }
}

impl Store {
    /// Schema 1 → 2: rewrite every alert from JSON to postcard, a batch at a time (index keys do not change).
    pub(super) fn migrate_alerts_to_postcard(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        for kv in self.alerts.iter() {
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            if v.first() != Some(&b'{') {
                continue;
            }
            let alert = decode_alert(&v).map_err(|e| self.corrupt("alerts", e))?;
            batch.insert(
                k,
                encode_alert(&alert).map_err(|e| self.corrupt("alerts", e))?,
            );
            in_batch += 1;
            n += 1;
            if in_batch == 1000 {
                self.alerts
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(|e| self.sled(e))?;
                in_batch = 0;
            }
        }
        self.alerts.apply_batch(batch).map_err(|e| self.sled(e))?;
        Ok(n)
    }

    /// Write an alert the way schema 1 did (JSON), for the migration test.
    #[doc(hidden)]
    pub fn put_alert_as_schema1(&self, a: &Alert) -> Result<(), StoreError> {
        let json = serde_json::to_vec(a).map_err(|e| self.corrupt("alerts", e.to_string()))?;
        self.alerts
            .insert(a.id.to_bytes(), json)
            .map_err(|e| self.sled(e))?;
        Ok(())
    }

    /// The raw stored bytes of an alert (tests check the encoding).
    #[doc(hidden)]
    pub fn raw_alert(&self, id: Ulid) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .alerts
            .get(id.to_bytes())
            .map_err(|e| self.sled(e))?
            .map(|v| v.to_vec()))
    }
}

/// The ULID range a filter's `since`/`until` allow (ULIDs carry `created`).
fn id_bounds(filter: &AlertFilter) -> (u128, u128) {
    let at = |t: &chrono::DateTime<chrono::Utc>| {
        u128::from(Ulid::from_parts(t.timestamp_millis().max(0) as u64, 0))
    };
    let lo = filter.since.as_ref().map_or(0, at);
    let hi = filter
        .until
        .as_ref()
        .map_or(u128::MAX, |t| at(t).saturating_sub(1));
    (lo, hi)
}

struct Scan<'a> {
    iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + 'a>,
    head: Option<u128>,
    prefix_len: usize,
}

impl Scan<'_> {
    fn advance(&mut self) -> sled::Result<()> {
        self.head = None;
        for kv in self.iter.by_ref() {
            let (k, _) = kv?;
            if let Some(b) = k.get(self.prefix_len..self.prefix_len + 16)
                && let Ok(arr) = <[u8; 16]>::try_from(b)
            {
                self.head = Some(u128::from_be_bytes(arr));
                return Ok(());
            }
        }
        Ok(())
    }
}

fn add(mt: &sled::transaction::TransactionalTree, key: &str, delta: i64) -> TxResult<()> {
    let cur = mt
        .get(key.as_bytes())?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    let next = if delta < 0 {
        cur.saturating_sub(delta.unsigned_abs())
    } else {
        cur.saturating_add(delta as u64)
    };
    mt.insert(key.as_bytes(), &next.to_be_bytes())?;
    Ok(())
}
