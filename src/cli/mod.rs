//! Command-line contract of DESIGN §8. Exit status: 0 success, 1 failure with a one-line reason on stderr,
//! 2 usage (clap's own).
//!
//! Start-up order, the same for every command: parse arguments → install the error hooks → [`setup::Setup`]
//! (configuration → data dir → logging → store or engine) → the command. The commands live by what they need:
//! `tool_cmds` (no store: generate, scan, check), `site_cmd` (`scan --site`: the network, and the store for
//! its key and alerts), `store_cmds` (the store: ingest, export, quarantine, status), `engine_cmds` (the
//! running engine: the UI, demo, serve). None of them imports another.

mod args;
mod engine_cmds;
mod integration_cmds;
mod logfile;
mod setup;
mod site_cmd;
mod store_cmds;
mod time_arg;
mod tool_cmds;

use std::io::Write;

use clap::Parser;
use color_eyre::eyre::Result;

use args::{Cli, Command, IntegrationsCmd, QuarantineCmd};
use setup::{Globals, Setup};

/// Parse arguments, run, and turn the outcome into an exit status.
pub fn run() -> i32 {
    owner_only_files();
    let cli = Cli::parse();
    vigil::tui::terminal::install_error_hooks();
    match dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            // One line: the chain of causes joined, as scripts expect; a cause whose text its parent already
            // quotes is not said twice.
            let mut msg = String::new();
            for cause in err.chain().map(|c| c.to_string()) {
                if msg.contains(&cause) {
                    continue;
                }
                if !msg.is_empty() {
                    msg.push_str(": ");
                }
                msg.push_str(&cause);
            }
            // Never `eprintln!`: a terminal that hung up fails the write, and the macro would panic.
            let _ = writeln!(
                std::io::stderr(),
                "vigil: {}",
                vigil::model::text::sanitize(&msg)
            );
            1
        }
    }
}

/// Every file and directory this process creates is its owner's alone, whatever umask the caller left: the
/// store holds the fingerprint key and alerts naming people, and most of its files are created by sled,
/// which takes no mode. Set once, before anything is opened; files that must be shared (none yet) would
/// say so with an explicit `chmod`.
fn owner_only_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Run the parsed command line: the one place commands are chosen and their start-up begins.
fn dispatch(cli: Cli) -> Result<i32> {
    let globals = Globals {
        data_dir: cli.data_dir,
        config: cli.config,
    };
    let Some(command) = cli.command else {
        return engine_cmds::ui(Setup::load(globals)?);
    };
    match command {
        // No configuration needed: the generator's output depends on its options alone.
        Command::Generate {
            events,
            seed,
            incidents,
            manifest,
        } => tool_cmds::generate(events, seed, incidents, manifest.as_deref()),
        // `check` reports a broken configuration instead of failing on it.
        Command::Check => tool_cmds::check(&globals),
        Command::Scan(args) if args.site.is_some() => site_cmd::scan_site(globals, args),
        Command::Scan(args) => tool_cmds::scan(&Setup::load(globals)?, args.format, &args.paths),
        Command::Ingest { files } => store_cmds::ingest(Setup::load(globals)?, &files),
        Command::Export(args) => store_cmds::export(Setup::load(globals)?, args),
        Command::Quarantine {
            action: QuarantineCmd::List { format, limit },
        } => store_cmds::quarantine_list(Setup::load(globals)?, format, limit),
        Command::Status { format } => store_cmds::status(Setup::load(globals)?, format),
        Command::Compact => store_cmds::compact(Setup::load(globals)?),
        Command::Integrations { action } => match action {
            IntegrationsCmd::List { format } => {
                integration_cmds::list(Setup::load(globals)?, format)
            }
            IntegrationsCmd::Test { name } => integration_cmds::test(Setup::load(globals)?, &name),
        },
        Command::Serve { stdin } => engine_cmds::serve(Setup::load(globals)?, stdin),
        Command::Demo { seed } => {
            // Only an explicit --data-dir: a VIGIL_DATA_DIR (or a configured data_dir) meant for real data must
            // not get the demo's synthetic events.
            let explicit = std::env::args_os()
                .any(|a| a == "--data-dir" || a.to_string_lossy().starts_with("--data-dir="));
            let dir = if explicit {
                globals.data_dir.clone()
            } else {
                None
            };
            engine_cmds::demo(Setup::load(globals)?, dir, seed)
        }
    }
}
