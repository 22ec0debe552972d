//! UIs attached to a running engine over its control socket (in-process here: the engine started with a
//! socket, two handles attached to it as two UIs would be): each sees the other's changes live, a stale write
//! is refused naming who changed the alert and when, roles decide what a peer may do (and a refusal says
//! why), an attached export is written by the client, and `ingest` streams through the socket.
#![allow(clippy::unwrap_used)] // a test that cannot go on should stop loudly

mod common;
mod tui_support;

use std::path::Path;
use std::time::Duration;

use tokio::sync::broadcast;
use vigil::engine::socket::{Client, Role, SOCKET_NAME};
use vigil::engine::{
    Change, Command, Engine, EngineError, EngineHandle, EngineOptions, EngineTasks,
};
use vigil::export::ExportFormat;
use vigil::model::{AlertFilter, AlertStatus};
use vigil::store::Store;

/// An engine over the seeded test store, serving its socket with `config_text`'s `[roles]`.
fn serve(dir: &Path, config_text: &str) -> (EngineHandle, EngineTasks, std::path::PathBuf) {
    let store = Store::open(dir).unwrap();
    store.insert_events(&tui_support::events()).unwrap();
    store.save_alerts(&tui_support::alerts()).unwrap();
    store.flush().unwrap();
    let config = vigil::config::parse(config_text, Path::new("vigil.toml")).unwrap();
    let sock = dir.join(SOCKET_NAME);
    let opts = EngineOptions {
        config_sources: false,
        socket: Some(sock.clone()),
        ..EngineOptions::default()
    };
    let (handle, tasks) = Engine::start(store, &config, opts).unwrap();
    let t = std::time::Instant::now();
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "socket never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    (handle, tasks, sock)
}

/// The next change of `kind` on `feed` (other changes, like figures, are skipped), within 10 s.
async fn next_alerts_change(feed: &mut broadcast::Receiver<Change>) -> Vec<ulid::Ulid> {
    let wait = async {
        loop {
            if let Ok(Change::AlertsChanged { ids, .. }) = feed.recv().await {
                return ids;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("no AlertsChanged pushed within 10 s")
}

fn me() -> String {
    vigil::tui::user::current_user()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_attached_uis_see_each_other_and_a_stale_write_is_refused_naming_who() {
    let dir = tempfile::tempdir().unwrap();
    let (_local, tasks, sock) = serve(dir.path(), "");
    let one = EngineHandle::attach(&sock).unwrap().expect("serve answers");
    let two = EngineHandle::attach(&sock).unwrap().expect("serve answers");
    // The socket's owner is an admin by default.
    assert_eq!(one.role(), Some(Role::Admin));
    let mut feed_two = two.subscribe();

    // Both read the same alert.
    let id = tui_support::id(1);
    let seen_by_two = two.alert(id).await.unwrap().expect("alert 1");
    let v0 = seen_by_two.version;
    assert_eq!(one.alert(id).await.unwrap().unwrap().version, v0);

    // One acknowledges it, in someone else's name: the server records the peer's own name instead.
    let said = one
        .execute(Command::SetStatus {
            ids: vec![id],
            status: AlertStatus::Acknowledged,
            who: "mallory".into(),
            seen: vec![(id, v0)],
        })
        .await
        .unwrap();
    assert!(said.contains("1 alert marked"), "{said}");
    // Two hears of it, live.
    let ids = next_alerts_change(&mut feed_two).await;
    assert!(ids.contains(&id), "{ids:?}");
    let now_two = two.alert(id).await.unwrap().unwrap();
    assert_eq!(now_two.status, AlertStatus::Acknowledged);
    assert_eq!(now_two.version, v0 + 1);
    let last = now_two.history.last().unwrap();
    assert_eq!(last.who, me(), "the peer's uid decides the name");

    // Two, still holding the version it read first, assigns: refused, naming who and when; nothing changed.
    let stale = two
        .execute(Command::Assign {
            ids: vec![id],
            assignee: Some("bob".into()),
            who: "two".into(),
            seen: vec![(id, v0)],
        })
        .await
        .unwrap_err();
    let text = stale.to_string();
    assert!(matches!(stale, EngineError::Conflict { .. }), "{stale:?}");
    assert!(text.contains(&format!("changed by {}", me())), "{text}");
    assert!(
        text.contains(&last.time.format("%H:%M:%S").to_string()),
        "{text}"
    );
    assert!(text.contains("reloaded"), "{text}");
    let after = one.alert(id).await.unwrap().unwrap();
    assert_eq!(after.assignee, None);
    assert_eq!(after.version, v0 + 1);

    // With the fresh version it goes through, and both end on the same state.
    two.execute(Command::Assign {
        ids: vec![id],
        assignee: Some("bob".into()),
        who: "two".into(),
        seen: vec![(id, after.version)],
    })
    .await
    .unwrap();
    let a = one.alert(id).await.unwrap().unwrap();
    let b = two.alert(id).await.unwrap().unwrap();
    assert_eq!(a, b);
    assert_eq!(a.assignee.as_deref(), Some("bob"));
    assert_eq!(a.status, AlertStatus::Acknowledged);

    // The figures come over the socket too.
    assert!(two.stats().alerts.total() > 0);
    drop((one, two));
    tasks.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_but_is_refused_triage_tuning_export_and_ingest_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (_local, tasks, sock) = serve(dir.path(), "[roles]\nviewer = [\"*\"]\n");
    let ui = EngineHandle::attach(&sock).unwrap().unwrap();
    assert_eq!(ui.role(), Some(Role::Viewer));
    let page = ui
        .alerts_page(AlertFilter::default(), None, 50)
        .await
        .unwrap();
    assert!(!page.alerts.is_empty(), "a viewer reads");
    let id = page.alerts[0].id;
    let before = ui.alert(id).await.unwrap().unwrap();

    let refused = ui
        .execute(Command::SetStatus {
            ids: vec![id],
            status: AlertStatus::Acknowledged,
            who: me(),
            seen: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::Denied(_)), "{refused:?}");
    let why = refused.to_string();
    assert!(
        why.contains("for responders and admins") && why.contains("is a viewer"),
        "{why}"
    );
    assert_eq!(
        ui.alert(id).await.unwrap().unwrap(),
        before,
        "nothing changed"
    );

    let tune = ui
        .execute(Command::SetDetection {
            id: "org-admin-granted".into(),
            settings: Default::default(),
            who: me(),
        })
        .await
        .unwrap_err();
    assert!(tune.to_string().contains("for admins"), "{tune}");

    // An export is the server's to refuse, and the file is not left behind.
    let out = dir.path().join("x.csv");
    let export = ui
        .execute(Command::Export {
            filter: AlertFilter::default(),
            ids: None,
            format: ExportFormat::Csv,
            path: out.clone(),
            overwrite: false,
        })
        .await
        .unwrap_err();
    assert!(export.to_string().contains("admin"), "{export}");
    assert!(!out.exists());

    let mut client = Client::connect(&sock).unwrap().unwrap();
    let ingest = client
        .ingest(
            "x",
            &mut common::event("v-1", "2026-11-02T10:00:00Z", "page_viewed", "u-v").as_bytes(),
        )
        .unwrap_err();
    assert!(ingest.to_string().contains("for admins"), "{ingest}");
    drop(ui);
    tasks.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_admin_exports_to_its_own_file_and_ingests_through_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let (local, tasks, sock) = serve(dir.path(), "");
    let ui = EngineHandle::attach(&sock).unwrap().unwrap();
    let out = dir.path().join("alerts.csv");
    let said = ui
        .execute(Command::Export {
            filter: AlertFilter::default(),
            ids: None,
            format: ExportFormat::Csv,
            path: out.clone(),
            overwrite: false,
        })
        .await
        .unwrap();
    let total = local.stats().alerts.total();
    assert!(said.contains(&format!("exported {total} alerts")), "{said}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        csv.lines().count() as u64,
        total + 1,
        "header + one row each"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o077,
        0,
        "owner-only"
    );

    // Events streamed through the socket: stored once durable, a bad line quarantined, the good ones kept.
    let before = local.stats().events;
    let mut input = String::new();
    for n in 0..2_500u32 {
        let time = format!("2026-11-02T10:{:02}:{:02}Z", (n / 60) % 60, n % 60);
        input.push_str(&common::event(
            &format!("sock-{n}"),
            &time,
            "page_viewed",
            "u-sock",
        ));
        input.push('\n');
        if n == 1_000 {
            input.push_str("{not json\n");
        }
    }
    let mut client = Client::connect(&sock).unwrap().unwrap();
    let (accepted, duplicates, quarantined) = client
        .ingest("events.ndjson", &mut input.as_bytes())
        .unwrap();
    assert_eq!((accepted, duplicates, quarantined), (2_500, 0, 1));
    // Again: every one a duplicate.
    let again = client
        .ingest("events.ndjson", &mut input.as_bytes())
        .unwrap();
    assert_eq!(again, (0, 2_500, 1));
    // Durable and counted by the time the answer came.
    local.refresh_stats(0.0, 0, None);
    assert_eq!(local.stats().events, before + 2_500);
    drop(ui);
    tasks.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_answers_the_same_attached_as_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let (local, tasks, sock) = serve(dir.path(), "");
    let remote = EngineHandle::attach(&sock).unwrap().unwrap();
    let filter = AlertFilter::default();
    let page = local.alerts_page(filter.clone(), None, 3).await.unwrap();
    assert_eq!(
        remote.alerts_page(filter.clone(), None, 3).await.unwrap(),
        page
    );
    let next = page.next.expect("a second page");
    assert_eq!(
        remote.alerts_page(filter, Some(next), 3).await.unwrap(),
        local
            .alerts_page(AlertFilter::default(), Some(next), 3)
            .await
            .unwrap()
    );
    let around = tui_support::t(8, 3);
    assert_eq!(
        remote
            .timeline("acc-Ana".into(), around, 10, 10)
            .await
            .unwrap(),
        local
            .timeline("acc-Ana".into(), around, 10, 10)
            .await
            .unwrap()
    );
    let ids: Vec<ulid::Ulid> = (1..=5).map(tui_support::id).collect();
    for id in ids.iter().copied().chain([ulid::Ulid::nil()]) {
        assert_eq!(
            remote.alert(id).await.unwrap(),
            local.alert(id).await.unwrap()
        );
        for baseline in [false, true] {
            assert_eq!(
                remote.evidence(id, baseline).await.unwrap(),
                local.evidence(id, baseline).await.unwrap()
            );
        }
        assert_eq!(
            remote.deliveries(id).await.unwrap(),
            local.deliveries(id).await.unwrap()
        );
    }
    assert_eq!(
        remote.integrations().await.unwrap(),
        local.integrations().await.unwrap()
    );
    assert_eq!(remote.detections(), local.detections());
    assert_eq!(remote.current_tuning(), local.current_tuning());
    // Not vacuous: some alert's evidence is in the store.
    let mut found = 0;
    for id in &ids {
        if let Some(e) = local.evidence(*id, false).await.unwrap() {
            found += e.events.len();
        }
    }
    assert!(found > 0, "no evidence to compare");

    // A tuning change made attached reaches the other side's detections before its TuningChanged.
    let mut feed = remote.subscribe();
    let settings = vigil::detect::tuning::DetectionSettings {
        enabled: false,
        ..Default::default()
    };
    remote
        .execute(Command::SetDetection {
            id: "page-crawling".into(),
            settings,
            who: me(),
        })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !matches!(feed.recv().await, Ok(Change::TuningChanged)) {}
    })
    .await
    .expect("TuningChanged pushed");
    let off = |h: &EngineHandle| {
        h.detections()
            .into_iter()
            .find(|d| d.id == "page-crawling")
            .map(|d| d.settings.enabled)
    };
    assert_eq!(off(&remote), Some(false));
    assert_eq!(off(&local), Some(false));
    drop(remote);
    tasks.shutdown().await.unwrap();
}
