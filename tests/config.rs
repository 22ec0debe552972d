//! `vigil.toml` loading: every file in `tests/valid_configs` loads; every file in `tests/invalid_configs` fails
//! with each message its `# expect: ...` comment lines name (file name, line and key included).
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

use std::fs;
use std::path::{Path, PathBuf};

use vigil::config::{self, Config, SecretRef, SourceConfig};
use vigil::detect::tuning::{ExclusionKind, Sensitivity};
use vigil::model::IntegrationKind;
use vigil::model::Severity;

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut out: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

fn load_ok(path: &Path) -> Config {
    match config::load(path) {
        Ok(c) => c,
        Err(e) => panic!("{} should load:\n{e}", path.display()),
    }
}

#[test]
fn valid_configs_load() {
    for path in files("valid_configs") {
        let c = load_ok(&path);
        // The tuning must also build a detector: config validation and the detector agree.
        if let Err(e) = vigil::detect::Detector::new(&c.tuning(), b"key") {
            panic!("{}: detector rejects the tuning: {e}", path.display());
        }
    }
}

#[test]
fn invalid_configs_fail_with_the_expected_messages() {
    for path in files("invalid_configs") {
        let text = fs::read_to_string(&path).unwrap_or_default();
        let expects: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expects.is_empty(),
            "{} has no '# expect:' line",
            path.display()
        );
        let errors = match config::load(&path) {
            Ok(_) => panic!("{} should not load", path.display()),
            Err(e) => e,
        };
        let shown = errors.to_string();
        for expect in &expects {
            assert!(
                shown.lines().any(|l| l.contains(expect.trim_end())),
                "{}: no error contains {expect:?}; got:\n{shown}",
                path.display()
            );
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            shown.lines().all(|l| l.contains(name)),
            "every error names the file:\n{shown}"
        );
        assert_eq!(errors.0.len(), shown.lines().count(), "one error per line");
    }
}

#[test]
fn the_design_example_means_what_it_says() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/valid_configs");
    let c = load_ok(&dir.join("design_example.toml"));
    assert_eq!(c.retention.events_days, 400);
    assert_eq!(c.retention.alerts_days, 0);
    assert_eq!(
        c.engine.data_dir.as_deref(),
        Some(Path::new("/var/lib/vigil"))
    );
    let t = c.tuning();
    let pc = t.settings("page-crawling");
    assert!(pc.enabled);
    assert_eq!(pc.sensitivity, Sensitivity::Default);
    assert_eq!(pc.exclusions.len(), 2);
    assert_eq!(t.custom[0].severity, Severity::High);
    assert_eq!(
        t.actions["page_viewed"],
        vec!["page_viewed", "confluence_page_viewed"]
    );
    assert!(
        matches!(&c.sources[0], SourceConfig::Http { token: SecretRef::Env(n), .. } if n == "VIGIL_INGEST_TOKEN")
    );
    assert!(
        matches!(&c.sources[0], SourceConfig::Http { max_body_bytes: 10_485_760, limits, .. } if *limits == config::HttpLimits::default()),
        "the receiver's limits default when not named"
    );
    assert!(
        matches!(&c.sources[1], SourceConfig::File { path } if path == Path::new("/var/log/atlassian/audit.jsonl"))
    );
    assert_eq!(c.integrations[0].integration.kind, IntegrationKind::Slack);
    assert_eq!(c.integrations[0].integration.min_severity, Severity::Medium);
    assert_eq!(
        c.integrations[1].secret,
        Some(SecretRef::File("/etc/vigil/webhook.secret".into()))
    );
    assert_eq!(c.roles.viewer, vec!["*"]);
    assert!(!c.has_literal_secrets());

    let tuned = load_ok(&dir.join("tuned.toml"));
    let md = tuned.tuning().settings("mass-download");
    assert_eq!(md.sensitivity, Sensitivity::More);
    let dated: Vec<_> = md.exclusions.iter().filter(|x| x.until.is_some()).collect();
    assert_eq!(dated.len(), 2);
    // A bare date means through the end of that day.
    assert_eq!(
        dated[0].until.map(|u| u.to_rfc3339()),
        Some("2027-01-01T00:00:00+00:00".to_string())
    );
    assert_eq!(dated[0].kind, ExclusionKind::Actor);
    assert!(!tuned.tuning().settings("impossible-travel").enabled);
    assert!(tuned.scanners.disabled.contains("jwt"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let src = "[detections.page-crawling]\nsensitivity = \"loud\"\n[detections.nope]\n[retention]\nevents_days = -1\n";
    let errs = config::parse(src, Path::new("vigil.toml"))
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
    let lines: Vec<Option<usize>> = errs.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![Some(2), Some(3), Some(5)], "{errs:#?}");
    assert_eq!(errs[0].key, "detections.page-crawling.sensitivity");
}

#[test]
fn custom_detection_limits() {
    let mut src = String::new();
    for i in 0..101 {
        src.push_str(&format!(
            "[[custom_detections]]\nname = \"d{i}\"\nterms = [\"term{i}\"]\n"
        ));
    }
    let err = config::parse(&src, Path::new("v.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("v.toml line 301: custom_detections: at most 100 custom detections"),
        "{err}"
    );

    let terms: Vec<String> = (0..51).map(|i| format!("\"term number {i}\"")).collect();
    let src = format!(
        "[[custom_detections]]\nname = \"many\"\nterms = [{}]\n",
        terms.join(", ")
    );
    let err = config::parse(&src, Path::new("v.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("line 3: custom_detections.many.terms: at most 50 terms"),
        "{err}"
    );

    let src = format!(
        "[[custom_detections]]\nname = \"long\"\nterms = [\"{}\"]\n",
        "x".repeat(256)
    );
    assert!(config::parse(&src, Path::new("v.toml")).is_err());
}

#[cfg(unix)]
#[test]
fn literal_secrets_must_be_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vigil.toml");
    let src = "[[integrations]]\nname = \"s\"\nkind = \"splunk_hec\"\nurl = \"https://splunk:8088\"\ntoken = \"abcd-1234-literal\"\n";
    fs::write(&path, src).expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = config::load(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(
            "line 5: integrations.s.token: a literal secret in a file readable by group or others (mode 0644)"
        ),
        "{err}"
    );
    assert!(!err.contains("abcd-1234"), "the secret is never shown");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    let c = load_ok(&path);
    assert!(c.has_literal_secrets());
    let debug = format!("{c:?}");
    assert!(!debug.contains("abcd-1234"), "{debug}");
    // Same rule for a literal Slack webhook URL, which is itself the credential.
    fs::write(&path, "[[integrations]]\nname = \"s\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/x\"\n").expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o604)).expect("chmod");
    assert!(config::load(&path).is_err());
    // Readable by the group is readable by others than the owner too.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
    let err = config::load(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("readable by group or others (mode 0640); run chmod 600"),
        "{err}"
    );
}

#[test]
fn missing_file_and_default() {
    let err = config::load(Path::new("/nonexistent/vigil.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("/nonexistent/vigil.toml: cannot read"),
        "{err}"
    );
    let d = Config::default();
    assert_eq!(d.retention.events_days, 400);
    assert!(d.tuning().detections.is_empty());
}

#[test]
fn the_api_source_starts_from_a_time_or_days_back_and_defaults_to_a_week() {
    use vigil::config::ApiFrom;
    let from_of = |extra: &str| -> ApiFrom {
        let src = format!(
            "[[sources]]\nkind = \"atlassian_api\"\norg_id = \"o\"\ntoken = \"env:K\"\n{extra}\n"
        );
        match config::parse(&src, Path::new("vigil.toml"))
            .unwrap()
            .sources[0]
        {
            SourceConfig::AtlassianApi { from, .. } => from,
            ref other => panic!("{other:?}"),
        }
    };
    assert_eq!(from_of(""), ApiFrom::DaysBack(7));
    assert_eq!(from_of("from_days = 30"), ApiFrom::DaysBack(30));
    assert_eq!(
        from_of("from = \"2026-01-01T01:00:00+01:00\""),
        ApiFrom::At("2026-01-01T00:00:00Z".parse().unwrap())
    );
}

#[test]
fn http_receiver_keys_are_read() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/valid_configs/http_receiver.toml");
    let c = load_ok(&path);
    let SourceConfig::Http {
        listen,
        max_body_bytes,
        limits,
        ..
    } = &c.sources[0]
    else {
        panic!("not an http source: {:?}", c.sources[0]);
    };
    assert_eq!(listen.to_string(), "0.0.0.0:8717");
    assert_eq!(*max_body_bytes, 1_048_576);
    assert_eq!(
        *limits,
        config::HttpLimits {
            max_connections: 2000,
            rate_per_sec: 0,
            header_timeout_secs: 3,
            body_timeout_secs: 10,
        }
    );
}
