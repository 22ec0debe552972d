//! The `vigil` binary: clap commands, config loading, logging set-up, wiring, and error reporting.
//! Start-up order is written out here and nowhere else: cli → config → logging → store → engine → command.

mod cli;

/// sled allocates on every insert; glibc's allocator spent ~40% of ingest time in malloc/free here, mimalloc
/// a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = cli::run();
    std::process::exit(code);
}
