//! The transactional outbox (DESIGN §6): deliveries owed to integrations, kept in the alert tree so that an
//! alert change and the deliveries it causes are written in the same sled batch — an alert is never stored
//! without its deliveries, nor a delivery without its alert, whatever the crash.
//!
//! | prefix | key                            | value                                                     |
//! |--------|--------------------------------|-----------------------------------------------------------|
//! | `H`    | alert ULID, delivery ULID      | the [`Delivery`] (JSON): its state and latest attempts    |
//! | `O`    | due (ms), delivery ULID        | alert ULID + integration name: the queue, soonest first   |
//! | `L`    | delivery ULID                  | alert ULID + integration name: dead letters               |
//! | `I`    | integration name               | its [`IntegrationHealth`] (JSON)                          |
//! | `F`    | delivery ULID                  | the redacted audit events of a forwarding batch (JSON)    |
//!
//! Audit-forwarding batches have no alert: they use the nil ULID in `H` and are removed once delivered (the
//! events are in the store already). Routing comes from [`Integration`] (the domain's rule), set by the
//! engine or the command line with [`Store::set_integrations`]; the store never reads the config.

use chrono::{DateTime, Utc};
use ulid::Ulid;

use super::{Store, StoreError};
use crate::model::{
    Alert, AuditEvent, Delivery, DeliveryEvent, DeliveryState, Integration, IntegrationHealth,
    IntegrationKind, OutboxCounts,
};

const HISTORY: u8 = b'H';
const QUEUE: u8 = b'O';
const DEAD: u8 = b'L';
const HEALTH: u8 = b'I';
const FORWARD: u8 = b'F';

const TREE: &str = "alert_book";

/// One write of a batch: insert the value at the key, or remove the key (`None`).
pub(super) type Op = (Vec<u8>, Option<Vec<u8>>);

fn history_key(alert: u128, delivery: u128) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(HISTORY);
    k.extend_from_slice(&alert.to_be_bytes());
    k.extend_from_slice(&delivery.to_be_bytes());
    k
}

fn due_ms(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp_millis()).unwrap_or(0)
}

fn queue_key(due: DateTime<Utc>, delivery: u128) -> Vec<u8> {
    let mut k = Vec::with_capacity(25);
    k.push(QUEUE);
    k.extend_from_slice(&due_ms(due).to_be_bytes());
    k.extend_from_slice(&delivery.to_be_bytes());
    k
}

fn dead_key(delivery: u128) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(DEAD);
    k.extend_from_slice(&delivery.to_be_bytes());
    k
}

fn forward_key(delivery: u128) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(FORWARD);
    k.extend_from_slice(&delivery.to_be_bytes());
    k
}

fn health_key(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(HEALTH);
    k.extend_from_slice(name.as_bytes());
    k
}

/// A queue or dead-letter value: which alert, which integration.
fn pointer(d: &Delivery) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + d.integration.len());
    v.extend_from_slice(&d.alert.map_or(0, u128::from).to_be_bytes());
    v.extend_from_slice(d.integration.as_bytes());
    v
}

fn read_pointer(v: &[u8]) -> Option<(u128, &str)> {
    let alert = u128::from_be_bytes(v.get(..16)?.try_into().ok()?);
    let name = std::str::from_utf8(v.get(16..)?).ok()?;
    Some((alert, name))
}

/// The writes that record `d` as it now is, replacing the queue or dead-letter entry it had at `was`.
fn settle_ops(
    d: &Delivery,
    was: Option<(DeliveryState, DateTime<Utc>)>,
) -> Result<Vec<Op>, String> {
    let id = u128::from(d.id);
    let alert = d.alert.map_or(0, u128::from);
    let mut ops = Vec::with_capacity(4);
    match was {
        Some((DeliveryState::Pending, due)) => ops.push((queue_key(due, id), None)),
        Some((DeliveryState::Dead, _)) => ops.push((dead_key(id), None)),
        _ => {}
    }
    match d.state {
        DeliveryState::Pending => ops.push((queue_key(d.due, id), Some(pointer(d)))),
        DeliveryState::Dead => ops.push((dead_key(id), Some(pointer(d)))),
        DeliveryState::Delivered => {}
    }
    if d.alert.is_none() && d.state == DeliveryState::Delivered {
        // A forwarding batch is done with once delivered: the events are in the store.
        ops.push((history_key(alert, id), None));
        ops.push((forward_key(id), None));
    } else {
        let v = serde_json::to_vec(d).map_err(|e| e.to_string())?;
        ops.push((history_key(alert, id), Some(v)));
    }
    Ok(ops)
}

impl Store {
    /// The integrations alert writes are routed to from now on. Set by the engine at start (and by `ingest`),
    /// from the config; deliveries already queued stay queued whatever changes here.
    pub fn set_integrations(&self, list: Vec<Integration>) {
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        *routes = list;
    }

    /// The integrations alert writes are routed to.
    pub fn integrations(&self) -> Vec<Integration> {
        self.routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The deliveries an alert write causes: a new alert to each integration it routes to (with `created` in
    /// `on`), a status change to each with `updated`. Used by the alert stage, so they join the same batch.
    pub(super) fn route(&self, old: Option<&Alert>, new: &Alert) -> Vec<Delivery> {
        let event = match old {
            None => DeliveryEvent::Created,
            Some(old) if old.status != new.status => DeliveryEvent::Updated,
            Some(_) => return Vec::new(),
        };
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        if routes.is_empty() {
            return Vec::new();
        }
        let now = Utc::now();
        routes
            .iter()
            .filter(|i| match event {
                DeliveryEvent::Created => i.on.created,
                _ => i.on.updated,
            })
            .filter(|i| i.routes(new))
            .map(|i| Delivery::new(&i.name, Some(new.id), event, now))
            .collect()
    }

    /// The writes that put `deliveries` in the outbox (for the alert stage's batch).
    pub(super) fn enqueue_ops(&self, deliveries: &[Delivery]) -> Result<Vec<Op>, StoreError> {
        let mut ops = Vec::new();
        for d in deliveries {
            ops.extend(settle_ops(d, None).map_err(|e| self.corrupt(TREE, e))?);
        }
        Ok(ops)
    }

    /// Put deliveries in the outbox by hand (a manual "send to …", a test alert, a replay), durably.
    pub fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let ops = self.enqueue_ops(deliveries)?;
        self.apply_outbox(ops)?;
        self.flush()
    }

    /// Whether any enabled integration forwards audit events (the pipeline then queues each batch).
    pub fn forwards_events(&self) -> bool {
        self.routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|i| i.kind == IntegrationKind::AuditForward && i.enabled)
    }

    /// Queue `events` (new, redacted) for every enabled audit-forwarding integration: one delivery per
    /// integration carrying the events. Written before the events themselves, so a crash between the two
    /// forwards them again rather than never (receivers dedupe on the event id). Returns deliveries queued.
    pub fn enqueue_forward(&self, events: &[AuditEvent]) -> Result<usize, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let targets: Vec<String> = self
            .routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|i| i.kind == IntegrationKind::AuditForward && i.enabled)
            .map(|i| i.name.clone())
            .collect();
        if targets.is_empty() {
            return Ok(0);
        }
        let body = serde_json::to_vec(events).map_err(|e| self.corrupt(TREE, e.to_string()))?;
        let now = Utc::now();
        let mut ops = Vec::new();
        for name in &targets {
            let mut d = Delivery::new(name, None, DeliveryEvent::Created, now);
            d.events = events.iter().map(|e| e.id.clone()).collect();
            ops.push((forward_key(u128::from(d.id)), Some(body.clone())));
            ops.extend(settle_ops(&d, None).map_err(|e| self.corrupt(TREE, e))?);
        }
        self.apply_outbox(ops)?;
        Ok(targets.len())
    }

    /// The redacted events a forwarding delivery carries (a JSON array), if it still has them.
    pub fn forwarded_events(&self, delivery: Ulid) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .book
            .get(forward_key(u128::from(delivery)))
            .map_err(|e| self.sled(e))?
            .map(|v| v.to_vec()))
    }

    fn apply_outbox(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let _guard = self.alert_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = sled::Batch::default();
        for (k, v) in ops {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        self.book.apply_batch(batch).map_err(|e| self.sled(e))
    }

    fn load(&self, alert: u128, delivery: u128) -> Result<Option<Delivery>, StoreError> {
        match self
            .book
            .get(history_key(alert, delivery))
            .map_err(|e| self.sled(e))?
        {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| self.corrupt(TREE, format!("undecodable delivery: {e}"))),
            None => Ok(None),
        }
    }

    /// Pending deliveries due at `now` or before, soonest first, at most `limit`. A queue entry whose record
    /// is gone (its alert was deleted by retention) is dropped on the way.
    pub fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.due_deliveries_except(now, limit, |_| false)
    }

    /// [`Store::due_deliveries`] without those `skip` names (the worker's in-flight ones), which are
    /// passed over without being read: the worker looks at the queue after every answer, and reading the
    /// deliveries it already holds each time cost it nine tenths of its time.
    pub fn due_deliveries_except(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        skip: impl Fn(Ulid) -> bool,
    ) -> Result<Vec<Delivery>, StoreError> {
        let hi = queue_key(now, u128::MAX);
        let mut out = Vec::new();
        let mut stale = Vec::new();
        for kv in self.book.range(vec![QUEUE]..=hi) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            let id = k
                .get(9..25)
                .and_then(|b| b.try_into().ok())
                .map(u128::from_be_bytes)
                .ok_or_else(|| self.corrupt(TREE, "malformed outbox key"))?;
            if skip(Ulid(id)) {
                continue;
            }
            let (alert, _) =
                read_pointer(&v).ok_or_else(|| self.corrupt(TREE, "malformed outbox entry"))?;
            match self.load(alert, id)? {
                Some(d) if d.state == DeliveryState::Pending => out.push(d),
                _ => stale.push((k.to_vec(), None)),
            }
        }
        if !stale.is_empty() {
            self.apply_outbox(stale)?;
        }
        Ok(out)
    }

    /// When the soonest pending delivery is due, if any is pending.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(kv) = self.book.scan_prefix([QUEUE]).next() else {
            return Ok(None);
        };
        let (k, _) = kv.map_err(|e| self.sled(e))?;
        let ms = k
            .get(1..9)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| self.corrupt(TREE, "malformed outbox key"))?;
        Ok(DateTime::from_timestamp_millis(
            i64::try_from(ms).unwrap_or(i64::MAX),
        ))
    }

    /// The pending deliveries of one integration, soonest first, at most `limit`: what a digest lists.
    pub fn pending_for(
        &self,
        integration: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.pointed(QUEUE, 9, Some(integration), limit)
    }

    /// The deliveries a queue (`O`) or dead-letter (`L`) entry points at, in key order, of one integration
    /// or all, at most `limit`; `id_at` is where the delivery id starts in the key.
    fn pointed(
        &self,
        tag: u8,
        id_at: usize,
        integration: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut out = Vec::new();
        for kv in self.book.scan_prefix([tag]) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv.map_err(|e| self.sled(e))?;
            let Some((alert, name)) = read_pointer(&v) else {
                continue;
            };
            if integration.is_some_and(|i| i != name) {
                continue;
            }
            let Some(id) = k
                .get(id_at..id_at + 16)
                .and_then(|b| b.try_into().ok())
                .map(u128::from_be_bytes)
            else {
                continue;
            };
            if let Some(d) = self.load(alert, id)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Record what became of a delivery (an attempt made, delivered, retry scheduled, dead), replacing its
    /// queue entry as it was when read (`was`: its state and due time then), and the integration's health
    /// with it, in one batch. The record is only replaced if it is still as read: a replay or a change from
    /// another client in between wins, and this returns `false`.
    pub fn settle(
        &self,
        d: &Delivery,
        was: (DeliveryState, DateTime<Utc>),
        health: Option<&dyn Fn(&mut IntegrationHealth)>,
    ) -> Result<bool, StoreError> {
        let _guard = self.alert_lock.lock().unwrap_or_else(|p| p.into_inner());
        let alert = d.alert.map_or(0, u128::from);
        let current = self.load(alert, u128::from(d.id))?;
        let moved = current.as_ref().is_none_or(|c| (c.state, c.due) != was);
        let mut batch = sled::Batch::default();
        if !moved {
            for (k, v) in settle_ops(d, Some(was)).map_err(|e| self.corrupt(TREE, e))? {
                match v {
                    Some(v) => batch.insert(k, v),
                    None => batch.remove(k),
                }
            }
        }
        // The attempt counts for the integration's health even when the delivery itself was moved meanwhile;
        // read and written under the lock, so an operator's enable or disable in between is kept.
        if let Some(update) = health {
            let mut h = self.integration_health(&d.integration)?;
            update(&mut h);
            let v = serde_json::to_vec(&h).map_err(|e| self.corrupt(TREE, e.to_string()))?;
            batch.insert(health_key(&d.integration), v);
        }
        self.book.apply_batch(batch).map_err(|e| self.sled(e))?;
        Ok(!moved)
    }

    /// Every delivery of one alert, oldest first: what the alert detail shows.
    pub fn deliveries_of(&self, alert: Ulid) -> Result<Vec<Delivery>, StoreError> {
        let mut prefix = vec![HISTORY];
        prefix.extend_from_slice(&u128::from(alert).to_be_bytes());
        let mut out = Vec::new();
        for kv in self.book.scan_prefix(prefix) {
            let (_, v) = kv.map_err(|e| self.sled(e))?;
            out.push(
                serde_json::from_slice(&v)
                    .map_err(|e| self.corrupt(TREE, format!("undecodable delivery: {e}")))?,
            );
        }
        Ok(out)
    }

    /// The writes that forget every delivery of `alert` (the alert is being deleted): its queue and
    /// dead-letter entries go with it.
    pub(super) fn forget_deliveries_ops(&self, alert: u128) -> Result<Vec<Op>, StoreError> {
        let mut ops = Vec::new();
        for d in self.deliveries_of(Ulid(alert))? {
            let id = u128::from(d.id);
            ops.push((history_key(alert, id), None));
            match d.state {
                DeliveryState::Pending => ops.push((queue_key(d.due, id), None)),
                DeliveryState::Dead => ops.push((dead_key(id), None)),
                DeliveryState::Delivered => {}
            }
        }
        Ok(ops)
    }

    /// Dead letters, oldest first, of one integration or all, at most `limit`.
    pub fn dead_letters(
        &self,
        integration: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.pointed(DEAD, 1, integration, limit)
    }

    /// Put the dead letters of `integration` back in the queue, due now, their retry schedule restarted (their
    /// attempts so far are kept). Returns how many.
    pub fn replay_dead(&self, integration: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let dead = self.dead_letters(Some(integration), usize::MAX)?;
        let mut ops = Vec::new();
        for mut d in dead.iter().cloned() {
            let was = (d.state, d.due);
            d.state = DeliveryState::Pending;
            d.due = now;
            d.tries = 0;
            ops.extend(settle_ops(&d, Some(was)).map_err(|e| self.corrupt(TREE, e))?);
        }
        self.apply_outbox(ops)?;
        self.flush()?;
        Ok(dead.len() as u64)
    }

    /// Pending deliveries and dead letters, of one integration or all.
    pub fn outbox_counts(&self, integration: Option<&str>) -> Result<OutboxCounts, StoreError> {
        let mut c = OutboxCounts::default();
        for (tag, slot) in [(QUEUE, &mut c.pending), (DEAD, &mut c.dead)] {
            for kv in self.book.scan_prefix([tag]) {
                let (_, v) = kv.map_err(|e| self.sled(e))?;
                let Some((_, name)) = read_pointer(&v) else {
                    continue;
                };
                if integration.is_none_or(|i| i == name) {
                    *slot += 1;
                }
            }
        }
        Ok(c)
    }

    /// An integration's health as last recorded (healthy when never recorded).
    pub fn integration_health(&self, name: &str) -> Result<IntegrationHealth, StoreError> {
        match self.book.get(health_key(name)).map_err(|e| self.sled(e))? {
            Some(v) => serde_json::from_slice(&v)
                .map_err(|e| self.corrupt(TREE, format!("undecodable integration health: {e}"))),
            None => Ok(IntegrationHealth::default()),
        }
    }

    /// Replace an integration's health (tests; a running worker's attempts go through [`Store::settle`], an
    /// operator's switch through [`Store::update_integration_health`]).
    pub fn put_integration_health(
        &self,
        name: &str,
        health: &IntegrationHealth,
    ) -> Result<(), StoreError> {
        let v = serde_json::to_vec(health).map_err(|e| self.corrupt(TREE, e.to_string()))?;
        self.apply_outbox(vec![(health_key(name), Some(v))])?;
        self.flush()
    }

    /// Change an integration's health as one step under the outbox lock (an operator enabling or disabling
    /// it while the worker records attempts): neither change is lost. Returns the health as written.
    pub fn update_integration_health(
        &self,
        name: &str,
        change: impl FnOnce(&mut IntegrationHealth),
    ) -> Result<IntegrationHealth, StoreError> {
        let guard = self.alert_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut h = self.integration_health(name)?;
        change(&mut h);
        let v = serde_json::to_vec(&h).map_err(|e| self.corrupt(TREE, e.to_string()))?;
        self.book
            .insert(health_key(name), v)
            .map_err(|e| self.sled(e))?;
        drop(guard);
        self.flush()?;
        Ok(h)
    }

    /// Make every pending delivery of `integration` due now (an operator enabled it again: what waited while
    /// it was off, and its scheduled retries, go at once). Returns how many.
    pub fn retry_now(&self, integration: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let waiting = self.pending_for(integration, usize::MAX)?;
        let mut ops = Vec::new();
        let mut n = 0;
        for mut d in waiting.into_iter().filter(|d| d.due > now) {
            let was = (d.state, d.due);
            d.due = now;
            ops.extend(settle_ops(&d, Some(was)).map_err(|e| self.corrupt(TREE, e))?);
            n += 1;
        }
        self.apply_outbox(ops)?;
        Ok(n)
    }

    /// Pending deliveries and dead letters of every integration, in one pass over the queue (the pane shows
    /// them all each second).
    pub fn outbox_counts_by_integration(
        &self,
    ) -> Result<std::collections::HashMap<String, OutboxCounts>, StoreError> {
        let mut out: std::collections::HashMap<String, OutboxCounts> = Default::default();
        for tag in [QUEUE, DEAD] {
            for kv in self.book.scan_prefix([tag]) {
                let (_, v) = kv.map_err(|e| self.sled(e))?;
                let Some((_, name)) = read_pointer(&v) else {
                    continue;
                };
                let c = out.entry(name.to_string()).or_default();
                if tag == QUEUE {
                    c.pending += 1;
                } else {
                    c.dead += 1;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{AlertActor, AlertStatus, Attempt, DetectionId, Severity, Triggers};

    fn alert(id: u128, severity: Severity) -> Alert {
        let t = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        Alert {
            id: Ulid(id),
            detection: DetectionId("admin-granted".into()),
            title: "t".into(),
            severity,
            status: AlertStatus::Open,
            assignee: None,
            created: t,
            time_start: t,
            time_end: None,
            product: None,
            site: None,
            actor: AlertActor {
                id: "u1".into(),
                ..AlertActor::default()
            },
            subject: None,
            count: 1,
            description: String::new(),
            investigation_steps: Vec::new(),
            remediation: Vec::new(),
            evidence: Vec::new(),
            matches: Vec::new(),
            notes: Vec::new(),
            history: Vec::new(),
            version: 0,
            external: Default::default(),
            window_secs: None,
            threshold: None,
            group_key: format!("g{id}"),
        }
    }

    fn integration(name: &str, min: Severity, updated: bool) -> Integration {
        Integration {
            name: name.into(),
            kind: IntegrationKind::Webhook,
            min_severity: min,
            detections: Vec::new(),
            enabled: true,
            on: Triggers {
                created: true,
                updated,
            },
        }
    }

    #[test]
    fn an_alert_write_queues_its_deliveries_in_the_same_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.set_integrations(vec![
            integration("all", Severity::Low, true),
            integration("high", Severity::High, false),
        ]);
        store
            .save_alerts(&[alert(1, Severity::Medium), alert(2, Severity::Critical)])
            .unwrap();
        assert_eq!(store.outbox_counts(None).unwrap().pending, 3);
        assert_eq!(store.outbox_counts(Some("high")).unwrap().pending, 1);
        // Growing an alert sends nothing; a status change goes to integrations that asked for updates.
        let mut grown = alert(1, Severity::Medium);
        grown.count = 7;
        store.save_alerts(&[grown]).unwrap();
        assert_eq!(store.outbox_counts(None).unwrap().pending, 3);
        store
            .update_alert(Ulid(1), None, |a| a.status = AlertStatus::Acknowledged)
            .unwrap();
        let of1 = store.deliveries_of(Ulid(1)).unwrap();
        assert_eq!(of1.len(), 2);
        let updated: Vec<&Delivery> = of1
            .iter()
            .filter(|d| d.event == DeliveryEvent::Updated)
            .collect();
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0].integration, "all");
        // Everything survives a reopen.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let due = store.due_deliveries(Utc::now(), 100).unwrap();
        assert_eq!(due.len(), 4);
        assert!(store.next_due().unwrap().is_some());
    }

    #[test]
    fn settling_moves_a_delivery_between_queue_dead_letters_and_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.set_integrations(vec![integration("x", Severity::Low, false)]);
        store.save_alerts(&[alert(9, Severity::High)]).unwrap();
        let mut d = store.due_deliveries(Utc::now(), 10).unwrap().remove(0);
        let was = (d.state, d.due);
        let later = Utc::now() + chrono::Duration::seconds(60);
        d.due = later;
        d.record(Attempt {
            at: Utc::now(),
            status: Some(500),
            latency_ms: 4,
            error: "500 Internal Server Error".into(),
        });
        let attempt = d.attempts[0].clone();
        let failed = move |h: &mut IntegrationHealth| h.record(attempt.clone(), false);
        assert!(store.settle(&d, was, Some(&failed)).unwrap());
        // Settling again from the old state is refused: someone else moved it.
        assert!(!store.settle(&d, was, None).unwrap());
        assert!(store.due_deliveries(Utc::now(), 10).unwrap().is_empty());
        assert_eq!(store.due_deliveries(later, 10).unwrap().len(), 1);
        assert!(
            store
                .integration_health("x")
                .unwrap()
                .failing_since
                .is_some()
        );

        let was = (d.state, d.due);
        d.state = DeliveryState::Dead;
        assert!(store.settle(&d, was, None).unwrap());
        assert_eq!(
            store.outbox_counts(Some("x")).unwrap(),
            OutboxCounts {
                pending: 0,
                dead: 1
            }
        );
        assert_eq!(store.dead_letters(None, 10).unwrap()[0].id, d.id);
        assert_eq!(store.replay_dead("x", Utc::now()).unwrap(), 1);
        let mut d = store.due_deliveries(Utc::now(), 10).unwrap().remove(0);
        assert_eq!(d.tries, 0);
        assert_eq!(d.attempts.len(), 1, "the attempts so far are kept");
        let was = (d.state, d.due);
        d.state = DeliveryState::Delivered;
        assert!(store.settle(&d, was, None).unwrap());
        assert_eq!(store.outbox_counts(None).unwrap(), OutboxCounts::default());
        assert_eq!(
            store.deliveries_of(Ulid(9)).unwrap()[0].state,
            DeliveryState::Delivered
        );
    }

    #[test]
    fn deleting_an_alert_forgets_its_deliveries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.set_integrations(vec![integration("x", Severity::Low, false)]);
        store.save_alerts(&[alert(5, Severity::High)]).unwrap();
        assert_eq!(store.outbox_counts(None).unwrap().pending, 1);
        store.delete_alerts(&[Ulid(5)]).unwrap();
        assert_eq!(store.outbox_counts(None).unwrap().pending, 0);
        assert!(store.deliveries_of(Ulid(5)).unwrap().is_empty());
    }

    #[test]
    fn forwarding_batches_carry_their_events_and_go_once_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut fwd = integration("siem", Severity::Low, false);
        fwd.kind = IntegrationKind::AuditForward;
        store.set_integrations(vec![fwd]);
        // An audit forwarder is not sent alerts.
        store.save_alerts(&[alert(3, Severity::Critical)]).unwrap();
        assert_eq!(store.outbox_counts(None).unwrap().pending, 0);
        let ev: AuditEvent = serde_json::from_value(serde_json::json!({
            "id": "e1", "time": "2026-11-02T09:00:00Z", "action": "user_login", "actor": {"id": "u1"}
        }))
        .unwrap();
        assert_eq!(store.enqueue_forward(&[ev]).unwrap(), 1);
        let mut d = store.due_deliveries(Utc::now(), 10).unwrap().remove(0);
        assert_eq!(d.events, vec!["e1".to_string()]);
        let body = store.forwarded_events(d.id).unwrap().unwrap();
        assert!(String::from_utf8_lossy(&body).contains("user_login"));
        let was = (d.state, d.due);
        d.state = DeliveryState::Delivered;
        assert!(store.settle(&d, was, None).unwrap());
        assert!(store.forwarded_events(d.id).unwrap().is_none());
        assert_eq!(store.outbox_counts(None).unwrap(), OutboxCounts::default());
    }
}
