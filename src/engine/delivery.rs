//! The delivery worker's place in the engine: the integrations of the config turned into [`Target`]s (their
//! secrets read now, each failure kept as a reason, never fatal), and the thread that runs the worker on a
//! small tokio runtime of its own until the engine stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::workers::{Shared, TICK};
use crate::config::{IntegrationConfig, check_url_scheme};
use crate::deliver::format::Destination;
use crate::deliver::worker::{Deliverer, Target, WorkerOptions};
use crate::store::Store;

/// The config's integrations as the worker needs them. A secret that cannot be read, or a URL the scheme
/// rule refuses, makes that integration wait (its reason shown in the pane), not the engine fail.
pub fn targets(integrations: &[IntegrationConfig]) -> Vec<Target> {
    integrations.iter().map(target).collect()
}

fn target(ic: &IntegrationConfig) -> Target {
    let name = &ic.integration.name;
    let resolve =
        |what: &str, r: &Option<crate::config::SecretRef>| -> Result<Option<String>, String> {
            r.as_ref()
                .map(|r| {
                    r.resolve()
                        .map_err(|e| format!("cannot read its {what}: {e}"))
                })
                .transpose()
        };
    let destination = (|| {
        let url = ic
            .url
            .resolve()
            .map_err(|e| format!("cannot read its url: {e}"))?;
        check_url_scheme(&url, ic.allow_insecure).map_err(|why| format!("its url {why}"))?;
        let mut d = Destination::new(name, ic.integration.kind, &url);
        d.secret = resolve("secret", &ic.secret)?;
        d.token = resolve("token", &ic.token)?;
        d.user.clone_from(&ic.user);
        d.project.clone_from(&ic.project);
        d.issue_type.clone_from(&ic.issue_type);
        Ok(d)
    })();
    if let Err(why) = &destination {
        tracing::warn!(integration = %name, reason = %why, "integration cannot be used until fixed");
    }
    Target {
        integration: ic.integration.clone(),
        destination,
        digest_after: ic.digest_after,
    }
}

/// Run the worker until the engine's sources are told to stop. Deliveries in flight then stay pending and go
/// on the next start (at least once).
pub(super) fn run(
    store: Store,
    targets: Vec<Target>,
    shared: Arc<Shared>,
    wake: Arc<Notify>,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the delivery runtime: {e}"))?;
    runtime.block_on(async move {
        let worker =
            Deliverer::new(store, targets, WorkerOptions::default()).map_err(|e| e.to_string())?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(async move {
            while !shared.stopping() {
                tokio::time::sleep(TICK.min(Duration::from_millis(100))).await;
            }
            let _ = stop_tx.send(true);
        });
        let result = worker
            .run(wake, stop_rx)
            .await
            .map_err(|e| format!("cannot record deliveries: {e}"));
        watcher.abort();
        result
    })
}
