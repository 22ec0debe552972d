//! Responding from an alert: suspend and restore the actor through the organizations API, against a local
//! fake of that API started by the test. What each answer (204, 401, 403, 404, 429) leaves in the footer
//! text and in the alert's history, what is never sent (a forged actor id, no org configured), and the whole
//! flow in the real binary in tmux: K, the confirmation naming person and org, y, the history entry.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command as Proc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::tmux::{Session, tmux, tmux_available, wait_for};
use vigil::config::SecretRef;
use vigil::engine::respond::{Access, AccessOptions, OrgAdmin};
use vigil::engine::{Command, EngineError, EngineHandle};
use vigil::model::{Alert, AlertActor};
use vigil::store::Store;

const ORG: &str = "org-1";
const TOKEN: &str = "org-admin-key";

/// One call the fake answered: org, account, last path segment, status.
type Call = (String, String, String, u16);

#[derive(Default)]
struct Fake {
    calls: Vec<Call>,
    /// Accounts answered 429 once (with `Retry-After: 1`) before a 204.
    blipped: Vec<String>,
}

type Shared = Arc<Mutex<Fake>>;

/// `POST /admin/v1/orgs/{org}/directory/users/{account}/{op}`: the account id decides the answer.
async fn access(
    State(fake): State<Shared>,
    headers: HeaderMap,
    UrlPath((org, account, op)): UrlPath<(String, String, String)>,
) -> Response {
    let mut f = fake.lock().unwrap();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let answer: Response = if auth != format!("Bearer {TOKEN}") {
        (
            StatusCode::UNAUTHORIZED,
            r#"{"code":401,"message":"Unauthorized"}"#,
        )
            .into_response()
    } else if !matches!(op.as_str(), "suspend-access" | "restore-access") {
        StatusCode::NOT_FOUND.into_response()
    } else {
        match account.as_str() {
            "acc-forbidden" => (
                StatusCode::FORBIDDEN,
                r#"{"code":403,"message":"You cannot manage a user outside your managed domains \u001b[31m"}"#,
            )
                .into_response(),
            "acc-missing" => (
                StatusCode::NOT_FOUND,
                r#"{"errors":[{"status":"404","title":"Not Found","detail":"User acc-missing was not found in the directory"}]}"#,
            )
                .into_response(),
            "acc-busy" => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "120")],
                "",
            )
                .into_response(),
            "acc-blip" if !f.blipped.contains(&account) => {
                f.blipped.push(account.clone());
                (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "").into_response()
            }
            _ => StatusCode::NO_CONTENT.into_response(),
        }
    };
    f.calls.push((org, account, op, answer.status().as_u16()));
    answer
}

/// The events API the `atlassian_api` source polls: always caught up.
async fn events() -> Response {
    (
        [("content-type", "application/json")],
        r#"{"data":[],"links":{},"meta":{"next":null}}"#,
    )
        .into_response()
}

/// Start the fake on a thread of its own (so a plain test and a tmux test can both use it); its base URL.
fn start_fake() -> (String, Shared) {
    let fake: Shared = Arc::default();
    let state = fake.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr: SocketAddr = listener.local_addr().unwrap();
            let app = axum::Router::new()
                .route(
                    "/admin/v1/orgs/{org}/directory/users/{account}/{op}",
                    axum::routing::post(access),
                )
                .route("/admin/v1/orgs/{org}/events", axum::routing::get(events))
                .with_state(state);
            tx.send(format!("http://{addr}")).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), fake)
}

fn org(url: &str, token: &str) -> OrgAdmin {
    OrgAdmin {
        org_id: ORG.into(),
        org_name: Some("Acme".into()),
        url: url.into(),
        token: SecretRef::Literal(token.into()),
    }
}

fn person(seq: u64, account: &str) -> Alert {
    let mut a = common::alert(seq, "2026-11-02T09:00:00Z".parse().unwrap());
    a.actor = AlertActor {
        id: account.into(),
        name: Some("Ana Lima".into()),
        email: Some("ana@acme.test".into()),
        ..Default::default()
    };
    a
}

fn fast() -> AccessOptions {
    AccessOptions {
        timeout: Duration::from_secs(5),
        wait_at_most: Duration::from_secs(2),
        ..AccessOptions::default()
    }
}

/// A store holding `alerts` and an in-process engine over it that acts in `orgs`.
fn engine(alerts: &[Alert], orgs: Vec<OrgAdmin>) -> (tempfile::TempDir, EngineHandle, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.save_alerts(alerts).unwrap();
    let handle = EngineHandle::new(store.clone(), Default::default(), vec![], None)
        .unwrap()
        .with_org_admins(orgs, fast());
    (dir, handle, store)
}

fn act(id: ulid::Ulid, access: Access) -> Command {
    Command::SetActorAccess {
        id,
        access,
        org: None,
        who: "alice".into(),
    }
}

fn last_history(store: &Store, id: ulid::Ulid) -> (String, String) {
    let a = store.alert(id).unwrap().unwrap();
    let h = a.history.last().expect("a history entry");
    (h.who.clone(), h.what.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_restore_call_the_api_and_go_into_the_history() {
    let (url, fake) = start_fake();
    let a = person(1, "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077");
    let (_dir, handle, store) = engine(std::slice::from_ref(&a), vec![org(&url, TOKEN)]);

    let plan = handle
        .access_plan(a.id, Access::Suspend, None)
        .await
        .unwrap();
    assert_eq!(
        plan.question(),
        "suspend Ana Lima <ana@acme.test> in Acme? (y/N) "
    );
    assert!(
        fake.lock().unwrap().calls.is_empty(),
        "a plan sends nothing"
    );

    let said = handle.execute(act(a.id, Access::Suspend)).await.unwrap();
    assert_eq!(
        said,
        "suspended the access of Ana Lima <ana@acme.test> in Acme (org org-1)"
    );
    let (who, what) = last_history(&store, a.id);
    assert_eq!(who, "alice");
    assert!(
        what.starts_with("suspended the access of Ana Lima"),
        "{what}"
    );
    assert!(what.contains("HTTP 204"), "{what}");

    handle.execute(act(a.id, Access::Restore)).await.unwrap();
    let (_, what) = last_history(&store, a.id);
    assert!(
        what.starts_with("restored the access of Ana Lima"),
        "{what}"
    );
    let calls = fake.lock().unwrap().calls.clone();
    assert_eq!(
        calls,
        vec![
            (ORG.into(), a.actor.id.clone(), "suspend-access".into(), 204),
            (ORG.into(), a.actor.id.clone(), "restore-access".into(), 204),
        ]
    );
    let version = store.alert(a.id).unwrap().unwrap().version;
    assert_eq!(
        version,
        a.version + 2,
        "each outcome is a change other UIs reload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_say_what_the_api_answered_and_are_recorded_too() {
    let (url, fake) = start_fake();
    let forbidden = person(1, "acc-forbidden");
    let missing = person(2, "acc-missing");
    let busy = person(3, "acc-busy");
    let (_dir, handle, store) = engine(
        &[forbidden.clone(), missing.clone(), busy.clone()],
        vec![org(&url, TOKEN)],
    );

    let e = handle
        .execute(act(forbidden.id, Access::Suspend))
        .await
        .unwrap_err();
    let EngineError::Upstream(text) = &e else {
        panic!("{e:?}")
    };
    assert!(
        text.starts_with("suspend Ana Lima <ana@acme.test> in Acme (org org-1) failed: HTTP 403 Forbidden: You cannot manage a user outside your managed domains"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "the answer's control bytes are stripped: {text:?}"
    );
    assert_eq!(last_history(&store, forbidden.id).1, *text);

    let e = handle
        .execute(act(missing.id, Access::Restore))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 404 Not Found: User acc-missing was not found in the directory"),
        "{e}"
    );
    assert!(last_history(&store, missing.id).1.contains("HTTP 404"));

    // A long Retry-After is reported, not waited out with a person at the keyboard.
    let t = Instant::now();
    let e = handle
        .execute(act(busy.id, Access::Suspend))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 429 Too Many Requests: rate limited; try again in 120 s"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(60));
    assert!(last_history(&store, busy.id).1.contains("HTTP 429"));
    assert_eq!(
        fake.lock().unwrap().calls.len(),
        3,
        "one call each, no retry loop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_retry_after_is_waited_out_once() {
    let (url, fake) = start_fake();
    let a = person(1, "acc-blip");
    let (_dir, handle, store) = engine(std::slice::from_ref(&a), vec![org(&url, TOKEN)]);
    handle.execute(act(a.id, Access::Suspend)).await.unwrap();
    let statuses: Vec<u16> = fake.lock().unwrap().calls.iter().map(|c| c.3).collect();
    assert_eq!(statuses, vec![429, 204]);
    assert!(last_history(&store, a.id).1.starts_with("suspended"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_named_and_the_key_never_shows() {
    let (url, _fake) = start_fake();
    let a = person(1, "acc-ok");
    let (_dir, handle, store) = engine(std::slice::from_ref(&a), vec![org(&url, "stale-key-XYZ")]);
    let e = handle
        .execute(act(a.id, Access::Suspend))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 401 Unauthorized"), "{e}");
    assert!(e.contains("the org admin API key was refused"), "{e}");
    assert!(!e.contains("stale-key-XYZ"));
    let alert = store.alert(a.id).unwrap().unwrap();
    assert!(
        !serde_json::to_string(&alert)
            .unwrap()
            .contains("stale-key-XYZ"),
        "the key is not in the history"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_without_an_org_or_for_a_forged_actor_id() {
    let (url, fake) = start_fake();
    let forged = person(1, "../../orgs/other/directory/users/x");
    let ok = person(2, "acc-ok");

    // No atlassian_api source: the plan says what is missing.
    let (_d1, handle, store) = engine(&[forged.clone(), ok.clone()], vec![]);
    let e = handle
        .access_plan(ok.id, Access::Suspend, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no atlassian_api source is configured"), "{e}");
    assert!(handle.execute(act(ok.id, Access::Suspend)).await.is_err());
    assert!(store.alert(ok.id).unwrap().unwrap().history.is_empty());

    // A forged actor id never reaches a URL.
    let (_d2, handle, store) = engine(std::slice::from_ref(&forged), vec![org(&url, TOKEN)]);
    let e = handle
        .execute(act(forged.id, Access::Suspend))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not an Atlassian account id"), "{e}");
    assert!(store.alert(forged.id).unwrap().unwrap().history.is_empty());

    // Two orgs: one must be named, and the named one is used.
    let mut second = org(&url, TOKEN);
    second.org_id = "org-2".into();
    second.org_name = None;
    let (_d3, handle, _store) = engine(std::slice::from_ref(&ok), vec![org(&url, TOKEN), second]);
    let e = handle
        .access_plan(ok.id, Access::Suspend, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("several organizations are configured (Acme (org org-1), org org-2)"),
        "{e}"
    );
    let plan = handle
        .access_plan(ok.id, Access::Suspend, Some("org-2".into()))
        .await
        .unwrap();
    assert_eq!(plan.org, "org org-2");
    handle
        .execute(Command::SetActorAccess {
            id: ok.id,
            access: Access::Suspend,
            org: Some("org-2".into()),
            who: "alice".into(),
        })
        .await
        .unwrap();
    let calls = fake.lock().unwrap().calls.clone();
    assert_eq!(
        calls,
        vec![(
            "org-2".into(),
            "acc-ok".into(),
            "suspend-access".into(),
            204
        )],
        "only the call to the named org was made"
    );
}

// ---- the real binary in tmux ----

fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("vigil.toml");
    std::fs::write(
        &path,
        format!(
            "[[sources]]\nkind = \"atlassian_api\"\norg_id = \"{ORG}\"\norg_name = \"Acme\"\ntoken = \"env:VIGIL_TEST_ORG_KEY\"\nurl = \"{url}\"\npoll_secs = 3600\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn suspend_from_the_detail_in_tmux_asks_names_and_records() {
    if !tmux_available() {
        return;
    }
    let (url, fake) = start_fake();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let store = Store::open(&data).unwrap();
        let mut a = person(1, "acc-ok");
        a.title = "Two-step verification disabled".into();
        store.save_alerts(&[a]).unwrap();
        store.flush().unwrap();
    }
    let cfg = config(dir.path(), &url);
    let name = format!("vigil-respond-{}", std::process::id());
    let cmd = format!(
        "env -u VIGIL_DATA_DIR -u XDG_STATE_HOME HOME='{home}' XDG_CONFIG_HOME='{home}' VIGIL_TEST_ORG_KEY='{TOKEN}' '{bin}' --data-dir '{data}' --config '{cfg}'; echo EXITED $?; sleep 30",
        home = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_vigil"),
        data = data.display(),
        cfg = cfg.display(),
    );
    let ok = Proc::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "99",
            "-y",
            "30",
            &cmd,
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok, "tmux new-session failed");
    let _session = Session(name.clone());
    wait_for(&name, "the queue", |s| s.contains("Ana Lima"));
    tmux(&["send-keys", "-t", &name, "Enter"]);
    wait_for(&name, "the detail", |s| s.contains("History"));

    // K asks first, naming the person and the org; n sends nothing.
    tmux(&["send-keys", "-t", &name, "K"]);
    let screen = wait_for(&name, "the confirmation", |s| s.contains("(y/N)"));
    assert!(
        screen.contains("suspend Ana Lima <ana@acme.test> in Acme? (y/N)")
            && screen
                .contains("Acme (org org-1) · account acc-ok · no access to any of the org's apps"),
        "{screen}"
    );
    tmux(&["send-keys", "-t", &name, "n"]);
    wait_for(&name, "the cancel", |s| s.contains("nothing sent"));
    assert!(fake.lock().unwrap().calls.is_empty());

    // K, y: the call is made, the footer says so, the history shows who and what.
    let user =
        vigil::engine::users::name_of(rustix::process::getuid().as_raw()).unwrap_or_default();
    tmux(&["send-keys", "-t", &name, "K"]);
    wait_for(&name, "the confirmation", |s| s.contains("(y/N)"));
    tmux(&["send-keys", "-t", &name, "y"]);
    wait_for(&name, "the history entry", |s| {
        s.contains(&format!("{user}: suspended the access of"))
    });
    let calls = fake.lock().unwrap().calls.clone();
    assert_eq!(
        calls,
        vec![(ORG.into(), "acc-ok".into(), "suspend-access".into(), 204)]
    );
    tmux(&["send-keys", "-t", &name, "q"]);
    wait_for(&name, "the exit", |s| s.contains("EXITED 0"));
    let store = Store::open(&data).unwrap();
    let id = store
        .alerts_page(&Default::default(), None, 10)
        .unwrap()
        .alerts[0]
        .id;
    let (who, what) = last_history(&store, id);
    assert_eq!(who, user);
    assert_eq!(
        what,
        "suspended the access of Ana Lima <ana@acme.test> in Acme (org org-1) (HTTP 204 No Content)"
    );
}
