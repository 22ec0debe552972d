//! `assets/vigil.service`: a unit systemd accepts, hardened, running `vigil serve` over its state directory.
//! Checked with `systemd-analyze verify` (and its offline security score) when systemd is installed.
#![allow(clippy::unwrap_used)] // a test that cannot go on should stop loudly

use std::path::Path;
use std::process::Command;

const UNIT: &str = include_str!("../assets/vigil.service");

fn has(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The unit with `ExecStart` pointing at the binary under test (verify wants an executable that exists).
fn unit_here(dir: &Path) -> std::path::PathBuf {
    let unit = UNIT.replace("/usr/local/bin/vigil", env!("CARGO_BIN_EXE_vigil"));
    let path = dir.join("vigil.service");
    std::fs::write(&path, unit).unwrap();
    path
}

#[test]
fn the_unit_runs_serve_hardened_over_its_state_directory() {
    let keys: Vec<(&str, &str)> = UNIT
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect();
    let get = |k: &str| {
        keys.iter()
            .filter(|(key, _)| *key == k)
            .map(|(_, v)| *v)
            .collect::<Vec<_>>()
    };
    assert!(get("ExecStart")[0].contains(" serve --data-dir /var/lib/vigil "));
    for (k, v) in [
        ("StateDirectory", "vigil"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("CapabilityBoundingSet", ""),
        ("KillSignal", "SIGTERM"),
        ("User", "vigil"),
    ] {
        assert_eq!(get(k), vec![v], "{k}");
    }
}

#[test]
fn systemd_accepts_the_unit_and_rates_it_well_hardened() {
    if !has("systemd-analyze") {
        eprintln!("systemd-analyze not installed: the unit's syntax is not checked here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = unit_here(dir.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "systemd-analyze verify:\n{said}");
    assert!(!said.contains("Unknown key"), "{said}");

    // A broken unit is refused (the check can fail).
    let broken = dir.path().join("broken.service");
    std::fs::write(
        &broken,
        UNIT.replace("ExecStart=/usr/local/bin/vigil", "ExecStart=relative/vigil"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&broken)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a relative ExecStart must be refused"
    );

    // The offline security score (0 best, 10 worst), where this systemd can give it.
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(line) = text.lines().find(|l| l.contains("Overall exposure level")) {
        let score: f64 = line
            .split(':')
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        println!("systemd-analyze security: {score}");
        assert!(score <= 2.0, "{line}");
    }
}
