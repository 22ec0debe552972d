//! The delivery worker: takes due deliveries from the outbox, sends them, and records what became of each —
//! delivered, retried on the schedule, dead-lettered, or the integration disabled — in the store, so that a
//! restart (or a `kill -9`) resumes exactly where it stood. At least once: a delivery is only marked done
//! after its receiver answered 2xx; one in flight when the process dies is sent again, with the same
//! delivery id for the receiver to dedupe on.
//!
//! Bounded concurrency over all destinations, pacing per destination (see `pace`), a burst to a paced
//! destination sent as one digest, a 15 s timeout per request, redirects never followed. Nothing logged or
//! recorded holds a URL or a secret.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use ulid::Ulid;

use super::format::{self, Destination, HttpRequest, Method};
use super::pace::{Pacer, interval};
use super::retry::{Outcome, SCHEDULE, classify, next_attempt};
use crate::model::{
    Alert, Attempt, Delivery, DeliveryEvent, DeliveryState, Integration, IntegrationHealth,
    IntegrationKind,
};
use crate::store::{Store, StoreError};

/// Why the worker could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// One configured destination, its secrets resolved by the engine; or why it cannot be used now (a secret
/// that could not be read), in which case its deliveries wait.
#[derive(Debug, Clone)]
pub struct Target {
    pub integration: Integration,
    pub destination: Result<Destination, String>,
    /// Alerts waiting beyond which a paced destination gets one digest.
    pub digest_after: usize,
}

/// The worker's limits.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Requests in flight at once, all destinations together.
    pub concurrency: usize,
    /// Timeout of one request, connection included.
    pub timeout: Duration,
    /// Longest sleep between two looks at the outbox when nothing wakes the worker.
    pub poll: Duration,
    /// Most alerts one digest lists (the rest are counted).
    pub digest_lists: usize,
    /// Delays between attempts: the Standard Webhooks schedule ([`SCHEDULE`]); tests use a faster one.
    pub schedule: Vec<Duration>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 32,
            timeout: Duration::from_secs(15),
            poll: Duration::from_millis(250),
            digest_lists: 25,
            schedule: SCHEDULE.to_vec(),
        }
    }
}

/// How long the deliveries of a destination that cannot be sent to now (disabled, secret unreadable) wait
/// before they are looked at again.
const PARKED: Duration = Duration::from_secs(60);

/// Due deliveries read beyond the free slots, so that a burst to a paced destination is seen as one (a
/// digest needs more than `digest_after` of them in view).
const DIGEST_LOOKAHEAD: usize = 64;

/// Most response bytes read (a Jira answer is a few hundred); the rest is not read.
const MAX_RESPONSE: usize = 64 * 1024;

/// One request's result as the worker records it.
struct Sent {
    status: Option<u16>,
    retry_after: Option<String>,
    body: Vec<u8>,
    latency: Duration,
    error: String,
}

/// What a finished task hands back to be settled.
struct Done {
    /// The deliveries it covered (one, or every alert of a digest), each with its state when read.
    deliveries: Vec<(Delivery, (DeliveryState, DateTime<Utc>))>,
    sent: Sent,
    /// A Jira issue key the receiver gave or a search found.
    external: Option<String>,
}

/// A delivery's jitter in [0, 1), from its id's random bits: retries of different deliveries spread out.
fn jitter(id: Ulid) -> f64 {
    (id.random() & 0xffff) as f64 / 65_536.0
}

/// The HTTP client every delivery uses: rustls, no redirects, the timeout.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, DeliverError> {
    // ring is the provider compiled in; installing it twice is harmless (the second call is refused).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DeliverError::Client(e.without_url().to_string()))
}

/// Send one request; never fails: what went wrong is in [`Sent::error`], without the URL.
async fn send(client: &reqwest::Client, req: HttpRequest) -> Sent {
    let start = Instant::now();
    let mut builder = match req.method {
        Method::Get => client.get(&req.url),
        Method::Post => client.post(&req.url).body(req.body),
    };
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    match builder.send().await {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut body = Vec::new();
            while body.len() < MAX_RESPONSE {
                match resp.chunk().await {
                    Ok(Some(c)) => body.extend_from_slice(&c),
                    _ => break,
                }
            }
            body.truncate(MAX_RESPONSE);
            let error = if (200..300).contains(&status) {
                String::new()
            } else {
                format!(
                    "HTTP {status}{}",
                    resp.status()
                        .canonical_reason()
                        .map(|r| format!(" {r}"))
                        .unwrap_or_default()
                )
            };
            Sent {
                status: Some(status),
                retry_after,
                body,
                latency: start.elapsed(),
                error,
            }
        }
        Err(e) => Sent {
            status: None,
            retry_after: None,
            body: Vec::new(),
            latency: start.elapsed(),
            error: describe(&e),
        },
    }
}

/// A transport error as a sentence, never with the URL (it may be the credential). The API poller says
/// its errors the same way.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        let mut text = format!(
            "request failed: {}",
            e.to_string().replace(['\n', '\r'], " ")
        );
        if let Some(url) = e.url() {
            text = text.replace(url.as_str(), "[url]");
        }
        text
    }
}

/// The worker: see the module doc.
pub struct Deliverer {
    store: Store,
    targets: HashMap<String, Target>,
    client: reqwest::Client,
    opts: WorkerOptions,
    pacer: Pacer,
    in_flight: HashSet<Ulid>,
    tasks: JoinSet<Done>,
    /// Destinations already reported unusable (logged once, not every pass).
    reported: HashSet<String>,
}

impl Deliverer {
    /// A worker over `store` sending to `targets`.
    pub fn new(
        store: Store,
        targets: Vec<Target>,
        opts: WorkerOptions,
    ) -> Result<Self, DeliverError> {
        Ok(Self {
            client: http_client(opts.timeout)?,
            store,
            targets: targets
                .into_iter()
                .map(|t| (t.integration.name.clone(), t))
                .collect(),
            opts,
            pacer: Pacer::default(),
            in_flight: HashSet::new(),
            tasks: JoinSet::new(),
            reported: HashSet::new(),
        })
    }

    /// Deliver until `stop` is set: start what is due, settle what finishes, sleep until woken (`wake`: new
    /// deliveries), the next due time or `poll`. Deliveries in flight at the stop are left pending and sent
    /// again on the next start.
    pub async fn run(
        mut self,
        wake: Arc<Notify>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), DeliverError> {
        loop {
            if *stop.borrow() {
                self.tasks.abort_all();
                return Ok(());
            }
            // Refill in bulk: each look at the queue reads what it starts and a little more.
            if self.tasks.len() <= self.opts.concurrency / 2 {
                self.start_due(Utc::now())?;
            }
            let wait = self.next_wait()?;
            tokio::select! {
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    self.finished(done)?;
                    // Settle every answer already in before looking at the queue again.
                    while let Some(done) = self.tasks.try_join_next() {
                        self.finished(done)?;
                    }
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Start and finish everything due now, then return: for tests and `vigil integrations test`.
    pub async fn drain_once(&mut self) -> Result<usize, DeliverError> {
        let started = self.start_due(Utc::now())?;
        while let Some(done) = self.tasks.join_next().await {
            self.finished(done)?;
        }
        Ok(started)
    }

    /// A task ended: settle what it did (a panic in it is the worker's panic).
    fn finished(&mut self, done: Result<Done, tokio::task::JoinError>) -> Result<(), DeliverError> {
        match done {
            Ok(done) => self.settle(done),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Ok(()),
        }
    }

    /// How long to sleep when nothing finishes or wakes the worker.
    fn next_wait(&self) -> Result<Duration, DeliverError> {
        let until_due = match self.store.next_due()? {
            Some(at) => (at - Utc::now()).to_std().unwrap_or(Duration::ZERO),
            None => self.opts.poll,
        };
        // A paced destination frees up within a second; a due delivery waiting for it is looked at then.
        Ok(until_due.clamp(Duration::from_millis(20), self.opts.poll))
    }

    /// Start what is due and may go now. Returns how many requests were started.
    fn start_due(&mut self, now: DateTime<Utc>) -> Result<usize, DeliverError> {
        let room = self.opts.concurrency.saturating_sub(self.tasks.len());
        if room == 0 {
            return Ok(0);
        }
        let in_flight = &self.in_flight;
        let due = self
            .store
            .due_deliveries_except(now, room + DIGEST_LOOKAHEAD, |id| in_flight.contains(&id))?;
        let mut by_target: Vec<(String, Vec<Delivery>)> = Vec::new();
        for d in due {
            match by_target.iter_mut().find(|(n, _)| *n == d.integration) {
                Some((_, list)) => list.push(d),
                None => by_target.push((d.integration.clone(), vec![d])),
            }
        }
        let mut started = 0;
        for (name, list) in by_target {
            if self.tasks.len() >= self.opts.concurrency {
                break;
            }
            started += self.start_target(&name, list, now)?;
        }
        Ok(started)
    }

    fn start_target(
        &mut self,
        name: &str,
        list: Vec<Delivery>,
        now: DateTime<Utc>,
    ) -> Result<usize, DeliverError> {
        let Some(target) = self.targets.get(name).cloned() else {
            for d in list {
                self.bury(d, "the integration is no longer configured")?;
            }
            return Ok(0);
        };
        let health = self.store.integration_health(name)?;
        let destination = match (&target.destination, &health.disabled) {
            (_, Some(why)) => return self.park(name, list, now, why),
            (_, None) if !target.integration.enabled => {
                return self.park(name, list, now, "disabled in the config");
            }
            (Err(why), None) => return self.park(name, list, now, why),
            (Ok(d), None) => d.clone(),
        };
        self.reported.remove(name);
        let every = interval(target.integration.kind);
        let alert_kinds = |d: &Delivery| d.alert.is_some() && d.event != DeliveryEvent::Test;
        if every.is_some() && list.len() > target.digest_after && list.iter().all(alert_kinds) {
            if !self.pacer.try_take(name, every, Instant::now()) {
                return Ok(0);
            }
            // One digest for everything of this destination that is due, not only what was in view.
            let in_flight = &self.in_flight;
            let all: Vec<Delivery> = self
                .store
                .pending_for(name, usize::MAX)?
                .into_iter()
                .filter(|d| d.due <= now && !in_flight.contains(&d.id) && alert_kinds(d))
                .collect();
            self.start_digest(&target, destination, all)?;
            return Ok(1);
        }
        let mut started = 0;
        for d in list {
            if self.tasks.len() >= self.opts.concurrency
                || !self.pacer.try_take(name, every, Instant::now())
            {
                break;
            }
            self.start_one(&target, destination.clone(), d)?;
            started += 1;
        }
        Ok(started)
    }

    /// Push the deliveries of a destination that cannot be sent to now back by [`PARKED`] (no attempt is
    /// counted), logging why once.
    fn park(
        &mut self,
        name: &str,
        list: Vec<Delivery>,
        now: DateTime<Utc>,
        why: &str,
    ) -> Result<usize, DeliverError> {
        if self.reported.insert(name.to_string()) {
            tracing::warn!(
                integration = name,
                reason = why,
                waiting = list.len(),
                "deliveries held"
            );
        }
        let later = now + chrono::Duration::from_std(PARKED).unwrap_or_default();
        for mut d in list {
            let was = (d.state, d.due);
            d.due = later;
            self.store.settle(&d, was, None)?;
        }
        Ok(0)
    }

    /// Dead-letter a delivery that can never be sent, with the reason as its last attempt.
    fn bury(&mut self, mut d: Delivery, why: &str) -> Result<(), DeliverError> {
        let was = (d.state, d.due);
        d.record(Attempt {
            at: Utc::now(),
            status: None,
            latency_ms: 0,
            error: why.to_string(),
        });
        d.state = DeliveryState::Dead;
        d.due = Utc::now();
        tracing::warn!(delivery = %d.id, integration = %d.integration, reason = why, "delivery dead");
        self.store.settle(&d, was, None)?;
        Ok(())
    }

    fn start_one(
        &mut self,
        target: &Target,
        dest: Destination,
        d: Delivery,
    ) -> Result<(), DeliverError> {
        let was = (d.state, d.due);
        let now = Utc::now();
        let delivery_id = d.id.to_string();
        let client = self.client.clone();
        let kind = target.integration.kind;
        if kind == IntegrationKind::AuditForward {
            let Some(body) = self.store.forwarded_events(d.id)? else {
                return self.bury(d, "its events are no longer stored");
            };
            let events: Vec<crate::model::AuditEvent> = match serde_json::from_slice(&body) {
                Ok(e) => e,
                Err(e) => return self.bury(d, &format!("its events are unreadable: {e}")),
            };
            let req = match format::audit_forward(&events, &dest, &delivery_id, now.timestamp()) {
                Ok(r) => r,
                Err(e) => return self.bury(d, &e.to_string()),
            };
            self.spawn_send(d, was, req);
            return Ok(());
        }
        let alert = match d.alert {
            Some(id) => match self.store.alert(id)? {
                Some(a) => a,
                None => return self.bury(d, "the alert no longer exists"),
            },
            None => test_alert(now),
        };
        let adopted = alert.external.get(&d.integration).cloned();
        if kind == IntegrationKind::Jira && d.event == DeliveryEvent::Test {
            // A test checks the credentials and the project with a search: no issue is made.
            let search = match format::jira_search(&alert, &dest) {
                Ok(r) => r,
                Err(e) => return self.bury(d, &e.to_string()),
            };
            self.spawn_send(d, was, search);
            return Ok(());
        }
        if kind == IntegrationKind::Jira {
            // Both requests are built here, so a configuration gap is found before anything is sent.
            let requests = format::jira_search(&alert, &dest).and_then(|search| {
                format::jira_create(&alert, d.event, &dest).map(|create| (search, create))
            });
            let (search, create) = match requests {
                Ok(r) => r,
                Err(e) => return self.bury(d, &e.to_string()),
            };
            self.in_flight.insert(d.id);
            self.tasks.spawn(async move {
                let retry = d.tries > 0;
                let (sent, external) = jira(&client, search, create, retry, adopted).await;
                Done {
                    deliveries: vec![(d, was)],
                    sent,
                    external,
                }
            });
            return Ok(());
        }
        let req = match format::request(&alert, d.event, &dest, &delivery_id, now.timestamp()) {
            Ok(r) => r,
            Err(e) => return self.bury(d, &e.to_string()),
        };
        self.spawn_send(d, was, req);
        Ok(())
    }

    /// Send one delivery's request on the worker's tasks.
    fn spawn_send(&mut self, d: Delivery, was: (DeliveryState, DateTime<Utc>), req: HttpRequest) {
        let client = self.client.clone();
        self.in_flight.insert(d.id);
        self.tasks.spawn(async move {
            let sent = send(&client, req).await;
            Done {
                deliveries: vec![(d, was)],
                sent,
                external: None,
            }
        });
    }

    fn start_digest(
        &mut self,
        target: &Target,
        dest: Destination,
        list: Vec<Delivery>,
    ) -> Result<(), DeliverError> {
        let mut alerts: Vec<Alert> = Vec::new();
        let mut covered = Vec::new();
        for d in list {
            let Some(id) = d.alert else { continue };
            match self.store.alert(id)? {
                Some(a) => {
                    alerts.push(a);
                    let was = (d.state, d.due);
                    self.in_flight.insert(d.id);
                    covered.push((d, was));
                }
                None => self.bury(d, "the alert no longer exists")?,
            }
        }
        if covered.is_empty() {
            return Ok(());
        }
        let listed = alerts.len().min(self.opts.digest_lists);
        let more = alerts.len() - listed;
        alerts.truncate(listed);
        let req = match target.integration.kind {
            IntegrationKind::Teams => format::teams_digest(&alerts, more, &dest),
            _ => format::slack_digest(&alerts, more, &dest),
        };
        tracing::info!(
            integration = %target.integration.name,
            alerts = covered.len(),
            "burst sent as one digest"
        );
        let client = self.client.clone();
        self.tasks.spawn(async move {
            let sent = send(&client, req).await;
            Done {
                deliveries: covered,
                sent,
                external: None,
            }
        });
        Ok(())
    }

    /// Record what a finished request means for each delivery it covered and for the integration.
    fn settle(&mut self, done: Done) -> Result<(), DeliverError> {
        let now = Utc::now();
        let Done {
            deliveries,
            sent,
            external,
        } = done;
        let outcome = classify(sent.status, sent.retry_after.as_deref(), now);
        let Some(name) = deliveries.first().map(|(d, _)| d.integration.clone()) else {
            return Ok(());
        };
        let attempt = Attempt {
            at: now,
            status: sent.status,
            latency_ms: u64::try_from(sent.latency.as_millis()).unwrap_or(u64::MAX),
            error: sent.error.clone(),
        };
        let ok = outcome == Outcome::Delivered;
        let gone = (outcome == Outcome::Gone).then(|| {
            tracing::warn!(integration = %name, "410 Gone: integration disabled until enabled again");
            format!(
                "the receiver answered 410 Gone at {}",
                now.format("%Y-%m-%d %H:%M:%SZ")
            )
        });
        let recorded = attempt.clone();
        let update = move |h: &mut IntegrationHealth| {
            h.record(recorded.clone(), ok);
            if let Some(why) = &gone {
                h.disabled = Some(why.clone());
            }
        };
        if let (Some(key), Some((d, _))) = (&external, deliveries.first())
            && let Some(alert) = d.alert
        {
            self.store_external(alert, &name, key)?;
        }
        let mut health: Option<&dyn Fn(&mut IntegrationHealth)> = Some(&update);
        for (mut d, was) in deliveries {
            self.in_flight.remove(&d.id);
            d.record(attempt.clone());
            match outcome {
                Outcome::Delivered => {
                    d.state = DeliveryState::Delivered;
                    d.due = now;
                    d.external.clone_from(&external);
                }
                Outcome::Retry { after } => {
                    match next_attempt(&self.opts.schedule, d.tries, after, jitter(d.id)) {
                        Some(delay) => {
                            d.due = now + chrono::Duration::from_std(delay).unwrap_or_default();
                        }
                        None => {
                            d.state = DeliveryState::Dead;
                            d.due = now;
                            tracing::warn!(delivery = %d.id, integration = %name, tries = d.tries, "retry schedule spent: dead letter");
                        }
                    }
                }
                Outcome::Failed => {
                    d.state = DeliveryState::Dead;
                    d.due = now;
                    tracing::warn!(delivery = %d.id, integration = %name, error = %attempt.error, "refused by the receiver: dead letter");
                }
                // Kept pending: it goes when the integration is enabled again.
                Outcome::Gone => {
                    d.due = now + chrono::Duration::from_std(PARKED).unwrap_or_default()
                }
            }
            self.store.settle(&d, was, health.take())?;
        }
        Ok(())
    }

    /// Keep the Jira issue key on the alert (shown in the detail; a retry adopts it instead of creating).
    fn store_external(&self, alert: Ulid, name: &str, key: &str) -> Result<(), DeliverError> {
        self.store.modify_alerts(&[alert], |a| {
            if a.external.get(name).map(String::as_str) == Some(key) {
                return Ok(false);
            }
            a.external.insert(name.to_string(), key.to_string());
            a.version += 1;
            Ok(true)
        })?;
        Ok(())
    }
}

/// Jira issue creation is not idempotent: adopt a key already known, search for the alert's label before any
/// retry, and create only when nothing is found.
async fn jira(
    client: &reqwest::Client,
    search: HttpRequest,
    create: HttpRequest,
    retry: bool,
    adopted: Option<String>,
) -> (Sent, Option<String>) {
    if let Some(key) = adopted {
        return (
            Sent {
                status: Some(200),
                retry_after: None,
                body: Vec::new(),
                latency: Duration::ZERO,
                error: String::new(),
            },
            Some(key),
        );
    }
    if retry {
        let found = send(client, search).await;
        if found.status.is_some_and(|s| (200..300).contains(&s)) {
            if let Some(key) = format::jira_found_key(&found.body) {
                return (found, Some(key));
            }
        } else {
            // The search itself failed: retry later rather than risk a second issue.
            return (found, None);
        }
    }
    let sent = send(client, create).await;
    let key = if sent.status.is_some_and(|s| (200..300).contains(&s)) {
        format::jira_created_key(&sent.body)
    } else {
        None
    };
    (sent, key)
}

/// The alert a test delivery carries: marked as a test in its title, detection and description.
pub fn test_alert(now: DateTime<Utc>) -> Alert {
    Alert {
        id: Ulid::from_datetime(now.into()),
        detection: crate::model::DetectionId("vigil-test".into()),
        title: "Test alert from vigil (not a real alert)".into(),
        severity: crate::model::Severity::Low,
        status: crate::model::AlertStatus::Open,
        assignee: None,
        created: now,
        time_start: now,
        time_end: None,
        product: None,
        site: None,
        actor: crate::model::AlertActor {
            id: "vigil".into(),
            name: Some("vigil".into()),
            ..Default::default()
        },
        subject: None,
        count: 1,
        description:
            "This is a test alert sent to check that the integration works. No action is needed."
                .into(),
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
        group_key: String::new(),
    }
}

/// Send a test alert to `dest` now, outside the outbox (`vigil integrations test`), and say what came of it.
/// Jira is checked with a search for the test label, so that no issue is created.
pub async fn send_test(dest: &Destination) -> Result<Attempt, DeliverError> {
    let client = http_client(WorkerOptions::default().timeout)?;
    let now = Utc::now();
    let alert = test_alert(now);
    let id = alert.id.to_string();
    let req = match dest.kind {
        IntegrationKind::Jira => format::jira_search(&alert, dest),
        IntegrationKind::AuditForward => {
            format::audit_forward(&[test_event(now)], dest, &id, now.timestamp())
        }
        _ => format::request(&alert, DeliveryEvent::Test, dest, &id, now.timestamp()),
    };
    let req = match req {
        Ok(r) => r,
        Err(e) => {
            return Ok(Attempt {
                at: now,
                status: None,
                latency_ms: 0,
                error: e.to_string(),
            });
        }
    };
    let sent = send(&client, req).await;
    Ok(Attempt {
        at: now,
        status: sent.status,
        latency_ms: u64::try_from(sent.latency.as_millis()).unwrap_or(u64::MAX),
        error: sent.error,
    })
}

/// The audit event a test of an audit-forwarding integration carries (a batch must not be empty): marked as
/// a test in its id, action and message.
fn test_event(now: DateTime<Utc>) -> crate::model::AuditEvent {
    crate::model::AuditEvent {
        id: format!("vigil-test-{}", Ulid::from_datetime(now.into())),
        time: now,
        action: "vigil_test".into(),
        actor: crate::model::Actor {
            id: "vigil".into(),
            ..Default::default()
        },
        context: Vec::new(),
        container: Vec::new(),
        location: None,
        content: None,
        message: Some(crate::model::Message {
            content: Some("Test event from vigil (not a real audit event)".into()),
            format: Some("simple".into()),
        }),
        extra: Default::default(),
        secrets: Vec::new(),
    }
}
