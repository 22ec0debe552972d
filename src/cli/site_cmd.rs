//! `vigil scan --site`: the content scan of an Atlassian Cloud site at rest. The scan itself is
//! [`vigil::engine::site_scan`]; this resolves the token, the fingerprint key, the tuning and (for
//! `--alerts`) the store, and reports.

use std::io::{BufWriter, IsTerminal, Write};

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use vigil::config::SecretRef;
use vigil::engine::site_scan::{self, Progress, SiteScan, SiteScanOptions, Token};
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

    // The store when alerts go into it, or when its key is the fingerprint key (none configured).
    let configured_key = setup.fingerprint_key()?;
    let store = if args.alerts || configured_key.is_none() {
        match Store::open(&dir) {
            Ok(s) => Some(s),
            Err(StoreError::InUse { dir, pid }) => {
                return Err(if args.alerts {
                    eyre!(
                        "the store at {} is in use by another vigil process (pid {pid}), probably `vigil serve`: --alerts writes into the store and cannot run beside it yet; stop it, or scan without --alerts",
                        dir.display()
                    )
                } else {
                    eyre!(
                        "the store at {} is in use by another vigil process (pid {pid}), probably `vigil serve`: the scan needs the store's fingerprint key; set [engine] fingerprint_key (env:NAME or file:PATH) to scan beside it",
                        dir.display()
                    )
                });
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
    let store = if args.alerts { store } else { None };
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
        alerts: store,
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
