//! The terminal's life: enter the alternate screen with a panic hook that restores it, draw each frame as one
//! synchronized update (DEC 2026), copy to the clipboard with OSC 52, and leave cleanly on every exit path.

use std::io::{self, Write};

use crossterm::execute;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use ratatui::{Frame, Terminal};

use super::backend::CompactBackend;

/// The terminal the UI draws on: stdout through the byte-saving [`CompactBackend`].
pub type Tty = Terminal<CompactBackend<io::Stdout>>;

/// Take over the terminal: raw mode and the alternate screen. Installs color-eyre's hooks first, then a panic
/// hook that restores the terminal before the report prints — in that order, so a panic leaves a usable shell
/// and a readable report.
/// color-eyre is installed once per process: a second `install` fails, and building that error's report
/// resolved a backtrace — it read the binary's debug info and cost ~100 MB of resident memory.
pub fn enter() -> io::Result<Tty> {
    install_error_hooks();
    install_restoring_hook();
    crossterm::terminal::enable_raw_mode()?;
    // Bracketed paste: a paste arrives as one text event, never as keys.
    if let Err(e) = execute!(
        io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableBracketedPaste
    ) {
        leave();
        return Err(e);
    }
    Terminal::new(CompactBackend::new(io::stdout()))
}

/// Set once the terminal is known to be gone (SIGHUP: the SSH connection or the tmux session closed): from
/// then on nothing is written to it — not the restore sequence, not a report — since a write to a dead pty
/// fails, and a failing write in a panic hook aborts the process before the engine stops and cleans up.
static GONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The terminal has hung up: write nothing more to it.
pub fn mark_gone() {
    GONE.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether the terminal has hung up.
pub fn is_gone() -> bool {
    GONE.load(std::sync::atomic::Ordering::SeqCst)
}

/// A panic hook that gives the terminal back before the report (color-eyre's hook, installed before it)
/// prints; once the terminal is gone it logs the panic instead and prints nothing. Replaces ratatui's hook,
/// whose restore prints to stderr on failure — on a dead pty that print panics inside the hook, and the
/// process aborts.
fn install_restoring_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if is_gone() {
                tracing::error!(panic = %info, "panic after the terminal hung up");
                return;
            }
            leave();
            previous(info);
        }));
    });
}

/// Install color-eyre's panic and error hooks, once per process (the CLI calls it first; tests and benches
/// may not).
pub fn install_error_hooks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = color_eyre::install();
    });
}

/// Give the terminal back (main screen, cooked mode, cursor shown). Safe to call more than once, and silent:
/// a terminal that cannot be restored (it hung up) is left alone, never reported on, since the report would
/// go to the same dead terminal. Raw mode is a setting of the tty, so it is reset even then.
pub fn leave() {
    let _ = crossterm::terminal::disable_raw_mode();
    if is_gone() {
        return;
    }
    let _ = execute!(
        io::stdout(),
        crossterm::event::DisableBracketedPaste,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Draw one frame inside a synchronized update, so a slow SSH link never shows half a frame.
///
/// The real loop passes its [`Tty`]; `benches/tui.rs` passes the same backend over a byte-counting writer, so
/// it measures exactly what the terminal is sent. The synchronized-update markers go through the backend's
/// writer, i.e. to the same place as the frame.
pub fn draw<W: Write>(
    term: &mut Terminal<CompactBackend<W>>,
    render: impl FnOnce(&mut Frame),
) -> io::Result<()> {
    execute!(term.backend_mut(), BeginSynchronizedUpdate)?;
    let drawn = term.draw(render).map(|_| ());
    execute!(term.backend_mut(), EndSynchronizedUpdate)?;
    drawn
}

/// Whether the terminal shows OSC 8 hyperlinks. `VIGIL_HYPERLINKS=1` or `0` decides; otherwise only
/// terminals known to support them get them (a terminal that does not may print the sequence), recognised
/// by what they put in the environment. Over SSH most of these are not forwarded: set the variable there.
pub fn hyperlinks_supported() -> bool {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    hyperlinks_from(&var)
}

/// [`hyperlinks_supported`] over any environment (tests pass a map).
pub fn hyperlinks_from(var: &dyn Fn(&str) -> String) -> bool {
    match var("VIGIL_HYPERLINKS").trim() {
        "1" | "yes" | "true" | "always" => return true,
        "0" | "no" | "false" | "never" => return false,
        _ => {}
    }
    if !var("NO_HYPERLINKS").is_empty() {
        return false;
    }
    let program = var("TERM_PROGRAM");
    let term = var("TERM");
    matches!(
        program.as_str(),
        "iTerm.app" | "WezTerm" | "vscode" | "ghostty" | "Hyper" | "Tabby" | "rio" | "zed"
    ) || matches!(
        term.as_str(),
        "xterm-kitty" | "xterm-ghostty" | "alacritty" | "foot" | "foot-extra" | "wezterm"
    ) || var("VTE_VERSION").parse::<u32>().is_ok_and(|v| v >= 5000)
        || !var("KONSOLE_VERSION").is_empty()
        || !var("WT_SESSION").is_empty()
        || !var("DOMTERM").is_empty()
}

/// Put `text` on the clipboard of the terminal the user sits at (OSC 52 travels over SSH).
pub fn copy_osc52(text: &str) -> io::Result<()> {
    let mut out = io::stdout();
    write!(out, "\x1b]52;c;{}\x07", base64(text.as_bytes()))?;
    out.flush()
}

/// Standard base64 with padding (all OSC 52 needs; not worth a dependency).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> String {
        let m: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |k: &str| m.get(k).cloned().unwrap_or_default()
    }

    #[test]
    fn hyperlinks_only_where_known_or_asked_for() {
        assert!(!hyperlinks_from(&env(&[("TERM", "xterm")])));
        assert!(!hyperlinks_from(&env(&[
            ("TERM", "tmux-256color"),
            ("TERM_PROGRAM", "tmux")
        ])));
        assert!(hyperlinks_from(&env(&[("TERM_PROGRAM", "WezTerm")])));
        assert!(hyperlinks_from(&env(&[("VTE_VERSION", "7600")])));
        assert!(!hyperlinks_from(&env(&[("VTE_VERSION", "4000")])));
        assert!(hyperlinks_from(&env(&[
            ("TERM", "xterm"),
            ("VIGIL_HYPERLINKS", "1")
        ])));
        assert!(!hyperlinks_from(&env(&[
            ("TERM", "xterm-kitty"),
            ("VIGIL_HYPERLINKS", "0")
        ])));
    }
}
