//! `vigil scan --site`: the content scan of an Atlassian Cloud site at rest. The scan itself is
//! [`vigil::engine::site_scan`]; this resolves the token, the fingerprint key, the tuning and (for
//! `--alerts`) the store, and reports.

use std::io::{BufWriter, IsTerminal, Write};

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use vigil::config::SecretRef;
use vigil::engine::site_scan::{
    self, AlertSink, Progress, SiteScan, SiteScanError, SiteScanOptions, Token,
};
use vigil::store::{Store, StoreError};

use super::args::{Format, ScanArgs};
use super::setup::{Globals, Setup, create_private_dir};

/// Exit status of a command line that is wrong (clap's own for its errors).
const USAGE: i32 = 2;

/// Run `vigil scan --site …`.
pub fn scan_site(globals: Globals, args: ScanArgs) -> Result<i32> {
    let (Some(site), Some(user), Some(token)) = (args.site, args.user, args.token) else {
        let _ = writeln!(
            std::io::stderr(),
            "vigil: --site needs --user EMAIL and --token env:NAME|file:PATH"
        );
        return Ok(USAGE);
    };
    // Never echo the value: it may be the token itself.
    let token_ref = match SecretRef::parse(&token) {
        Ok(r) if !r.is_literal() => r,
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "vigil: --token takes env:NAME or file:PATH, not the token itself (a token on the command line shows in ps and shell history)"
            );
            return Ok(USAGE);
        }
    };
    if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
        let _ = writeln!(
            std::io::stderr(),
            "vigil: --user must be the account's e-mail address (no ':' and no control characters)"
        );
        return Ok(USAGE);
    }
    site_scan::check_site(&site)?;
    let mut setup = Setup::load(globals)?;
    let token = token_ref
        .resolve()
        .wrap_err_with(|| format!("--token {token_ref}"))?;
    if token.trim().is_empty() {
        bail!("--token {token_ref} is empty");
    }
    let dir = setup.data_dir()?;
    create_private_dir(&dir)?;
    setup.start_logging(&dir);

    // The store when alerts go into it, or when its key is the fingerprint key (none configured). A running
    // `vigil serve` holds it: then serve gives the key and the tuning in force, and raises the alerts.
    let configured_key = setup.fingerprint_key()?;
    let needs_store = args.alerts || configured_key.is_none();
    let served = if needs_store { setup.attach()? } else { None };
    let (key, tuning, sink): (Vec<u8>, _, Option<Box<dyn AlertSink>>) = if let Some((
        mut client,
        at,
    )) = served
    {
        let (serve_key, tuning) = client
            .scan_context()
            .wrap_err_with(|| format!("asking {at} for the fingerprint key and the tuning"))?;
        let sink: Option<Box<dyn AlertSink>> = if args.alerts {
            Some(Box::new(ServeSink {
                socket: dir.join(vigil::engine::socket::SOCKET_NAME),
            }))
        } else {
            None
        };
        (configured_key.unwrap_or(serve_key), tuning, sink)
    } else {
        let store = if needs_store {
            match Store::open(&dir) {
                Ok(s) => Some(s),
                Err(StoreError::InUse { dir, pid }) => {
                    return Err(eyre!(
                        "the store at {} is in use by another vigil process (pid {pid}) that does not answer on its socket as `vigil serve` does; stop it, or set [engine] fingerprint_key and scan without --alerts",
                        dir.display()
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        let key = match (configured_key, &store) {
            (Some(k), _) => k,
            (None, Some(s)) => s.fingerprint_key()?,
            (None, None) => bail!("no fingerprint key"),
        };
        let tuning = match &store {
            Some(s) => setup.tuning(s)?,
            None => setup.config.tuning(),
        };
        let sink: Option<Box<dyn AlertSink>> = match store {
            Some(s) if args.alerts => Some(Box::new(s)),
            _ => None,
        };
        (key, tuning, sink)
    };
    let format = match args.format {
        Format::Csv => site_scan::OutputFormat::Csv,
        Format::Json => site_scan::OutputFormat::Json,
    };
    let scan = SiteScan {
        site,
        user,
        token: Token::new(token),
        confluence: args.confluence,
        jira: args.jira,
        format,
        state_dir: dir.join("site-scan"),
        restart: args.restart,
        fingerprint_key: key,
        tuning,
        alerts: sink,
        options: SiteScanOptions {
            page_size: args.page_size,
            ..SiteScanOptions::default()
        },
    };
    let mut progress = Progress::stderr(std::io::stderr().is_terminal());
    let mut out = BufWriter::new(std::io::stdout().lock());
    let summary = match site_scan::run(scan, &mut out, &mut progress) {
        Ok(s) => s,
        Err(e) if e.is_broken_pipe() => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
        r => r.wrap_err("cannot write the findings to stdout")?,
    }
    tracing::info!(summary = %summary, "site scan finished");
    let _ = writeln!(
        std::io::stderr(),
        "vigil: {}",
        vigil::model::text::sanitize(&summary.to_string())
    );
    Ok(0)
}

/// `--alerts` beside a running `vigil serve`: each page's alerts go to it over the control socket (an
/// admin's right), which raises those whose finding no earlier scan raised. A connection per page: a scan can
/// wait on the site's rate limits longer than serve keeps an idle client.
struct ServeSink {
    socket: std::path::PathBuf,
}

impl AlertSink for ServeSink {
    fn has_group(&mut self, _key: &str) -> Result<bool, SiteScanError> {
        // serve checks, as it raises.
        Ok(false)
    }

    fn raise(&mut self, alerts: Vec<vigil::model::Alert>) -> Result<u64, SiteScanError> {
        let at = self.socket.display();
        let fail = |e: String| SiteScanError::Alerts(format!("vigil serve at {at}: {e}"));
        let mut client = vigil::engine::socket::Client::connect(&self.socket)
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| fail("no longer answers".into()))?;
        client.raise_alerts(alerts).map_err(|e| fail(e.to_string()))
    }
}
