//! The `vigil` binary: clap commands, config loading, logging set-up, wiring, and error reporting.
//! Start-up order is written out here and nowhere else: cli → config → logging → store → engine → command.

mod cli;

fn main() {
    let code = cli::run();
    std::process::exit(code);
}
