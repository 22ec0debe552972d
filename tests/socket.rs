//! The control socket of `vigil serve`: `vigil status` answered by the running engine, the socket owner-and-
//! group only, a client of another protocol refused with both versions named, and the socket gone after
//! a clean stop (then `status` reads the store itself).
#![allow(clippy::unwrap_used)] // a test that cannot go on should stop loudly

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vigil::engine::socket::{self, Request, Response, SOCKET_NAME};

/// Start `vigil serve` over `data` with `config_text`; wait for its socket.
fn serve(dir: &std::path::Path, config_text: &str) -> (std::process::Child, std::path::PathBuf) {
    let data = dir.join("data");
    let config = dir.join("vigil.toml");
    std::fs::write(&config, config_text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("VIGIL_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sock = data.join(SOCKET_NAME);
    wait_until("the socket", || UnixStream::connect(&sock).is_ok());
    (child, data)
}

fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn status_goes_through_the_socket_of_a_running_serve() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, data) = serve(dir.path(), "");
    let sock = data.join(SOCKET_NAME);
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "owner and group only");

    let out = common::vigil(&data, &["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let v: serde_json::Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(v["engine"], "running", "{v}");
    assert_eq!(v["schema_version"], vigil::store::SCHEMA_VERSION);
    let text = common::vigil(&data, &["status"]);
    assert!(
        common::stdout(&text).contains("running"),
        "{}",
        common::stdout(&text)
    );

    // Another protocol version: refused, both versions named.
    let mut s = UnixStream::connect(&sock).unwrap();
    socket::write_frame(
        &mut s,
        &Request::Hello {
            protocol: 99,
            client: "vigil 9.9\u{1b}[2J".into(),
        },
    )
    .unwrap();
    match socket::read_frame::<Response>(&mut s).unwrap() {
        Some(Response::Refused { reason }) => {
            assert!(
                reason.contains(&format!("protocol {}", socket::PROTOCOL)) && reason.contains("99"),
                "{reason}"
            );
            assert!(!reason.contains('\u{1b}'), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // A client that skips the handshake is refused too; garbage never stops the server.
    let mut s = UnixStream::connect(&sock).unwrap();
    socket::write_frame(&mut s, &Request::Status).unwrap();
    assert!(matches!(
        socket::read_frame::<Response>(&mut s).unwrap(),
        Some(Response::Refused { .. })
    ));
    let mut s = UnixStream::connect(&sock).unwrap();
    use std::io::Write;
    s.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]).unwrap();
    drop(s);
    let again = common::vigil(&data, &["status", "--format", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", common::stderr(&again));

    // A clean stop removes the socket; status then reads the store.
    Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(!sock.exists(), "the socket is removed on a clean stop");
    let out = common::vigil(&data, &["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(v["engine"], "stopped", "{v}");
}

#[test]
fn export_goes_through_the_socket_for_an_admin_and_is_refused_to_a_viewer() {
    let dir = tempfile::tempdir().unwrap();
    // Events with an impersonation in them, so the export has an alert.
    let events = dir.path().join("events.jsonl");
    let generated = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "generate",
            "--events",
            "3000",
            "--seed",
            "7",
            "--incidents",
            "8",
        ])
        .output()
        .unwrap();
    let mut lines = generated.stdout.clone();
    lines.extend_from_slice(b"{\"not\": \"an event\"\n");
    std::fs::write(&events, &lines).unwrap();
    let seeded = dir.path().join("data");
    let out = common::vigil(&seeded, &["ingest", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let direct = common::vigil(&seeded, &["export", "--format", "csv"]);
    let direct = common::stdout(&direct);

    // With no [roles], the user running serve is an admin: the export is the store's, byte for byte.
    let (child, data) = serve(dir.path(), "");
    let through = common::vigil(&data, &["export", "--format", "csv"]);
    assert_eq!(
        through.status.code(),
        Some(0),
        "{}",
        common::stderr(&through)
    );
    assert_eq!(common::stdout(&through), direct);
    assert!(
        direct.lines().count() > 1,
        "the export has alerts:\n{direct}"
    );
    let file = dir.path().join("out.csv");
    let to_file = common::vigil(
        &data,
        &["export", "--format", "json", "-o", file.to_str().unwrap()],
    );
    assert_eq!(
        to_file.status.code(),
        Some(0),
        "{}",
        common::stderr(&to_file)
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The quarantine too, as the store would list it.
    let q = common::vigil(&data, &["quarantine", "list", "--format", "json"]);
    assert_eq!(q.status.code(), Some(0), "{}", common::stderr(&q));
    assert!(common::stdout(&q).contains("not"), "{}", common::stdout(&q));
    stop(child);
    let direct_q = common::vigil(&data, &["quarantine", "list", "--format", "json"]);
    assert_eq!(common::stdout(&q), common::stdout(&direct_q));

    // Only a viewer by [roles]: the export is refused, and says why.
    let (child, data) = serve(dir.path(), "[roles]\nviewer = [\"*\"]\n");
    let denied = common::vigil(&data, &["export", "--format", "csv"]);
    assert_eq!(denied.status.code(), Some(1));
    let msg = common::stderr(&denied);
    assert!(
        msg.contains("export is an admin's right") && msg.contains("viewer"),
        "{msg}"
    );
    let status = common::vigil(&data, &["status"]);
    assert_eq!(status.status.code(), Some(0), "a viewer reads");
    let q = common::vigil(&data, &["quarantine", "list"]);
    assert_eq!(q.status.code(), Some(1));
    assert!(
        common::stderr(&q).contains("for responders and admins"),
        "{}",
        common::stderr(&q)
    );
    stop(child);

    // Named in no list: refused at the door.
    let (child, data) = serve(dir.path(), "[roles]\nadmin = [\"nobody-here\"]\n");
    let refused = common::vigil(&data, &["status"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        common::stderr(&refused).contains("has no role in [roles]"),
        "{}",
        common::stderr(&refused)
    );
    stop(child);
}

#[test]
fn integrations_list_asks_the_running_serve_for_health_and_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[[integrations]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n";
    // A literal secret is accepted from an owner-only file only (rewriting the file keeps its mode).
    let path = dir.path().join("vigil.toml");
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (child, data) = serve(dir.path(), config);
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(dir.path().join("vigil.toml"))
        .args(["integrations", "list", "--format", "json"])
        .env_remove("VIGIL_DATA_DIR")
        .env("HOME", dir.path())
        .env_remove("XDG_STATE_HOME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(
        !common::stderr(&out).contains("unavailable"),
        "{}",
        common::stderr(&out)
    );
    let row: serde_json::Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(row["name"], "hook", "{row}");
    assert!(row["pending"].is_u64() && row["dead"].is_u64(), "{row}");
    assert!(
        !row["endpoint"].as_str().unwrap().contains("/hook"),
        "masked: {row}"
    );
    stop(child);
}
