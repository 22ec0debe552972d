//! Retention sweeps: events older than `retention.events_days` are deleted, once at start and then every
//! sweep interval. Alert retention (archive, then delete) is not implemented yet: alerts are kept.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::runtime::Shared;
use crate::config::RetentionConfig;
use crate::store::Store;

/// Health-note name of the sweeps.
const NAME: &str = "retention";

/// Sweep now and then every `every` until the engine stops. A failed sweep is a health note and is tried
/// again next time, never fatal: keeping data a little longer harms nobody.
pub(crate) fn run(
    store: Store,
    policy: RetentionConfig,
    shared: Arc<Shared>,
    every: Duration,
) -> Result<(), String> {
    loop {
        if policy.events_days > 0 {
            sweep_events(&store, policy.events_days, &shared);
        }
        if shared.sleep(every) {
            return Ok(());
        }
    }
}

fn sweep_events(store: &Store, days: u32, shared: &Shared) {
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
    match store
        .delete_events_before(cutoff)
        .and_then(|n| store.flush().map(|_| n))
    {
        Ok(n) => {
            if n > 0 {
                tracing::info!(deleted = n, %cutoff, "retention: old events deleted");
                shared.touch();
            }
            shared.set_health(NAME, None);
        }
        Err(e) => {
            tracing::warn!(error = %e, "retention sweep failed; trying again next time");
            shared.set_health(NAME, Some(format!("sweep failed: {e}")));
        }
    }
}
