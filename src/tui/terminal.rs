//! The terminal's life: enter the alternate screen with a panic hook that restores it, draw each frame as one
//! synchronized update (DEC 2026), copy to the clipboard with OSC 52, and leave cleanly on every exit path.

use std::io::{self, Write};

use crossterm::execute;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use ratatui::{Frame, Terminal};

use super::backend::CompactBackend;

/// The terminal the UI draws on: stdout through the byte-saving [`CompactBackend`].
pub type Tty = Terminal<CompactBackend<io::Stdout>>;

/// Take over the terminal. Installs color-eyre's hooks first, then ratatui's panic hook (which restores the
/// terminal before the report prints) — in that order, so a panic leaves a usable shell and a readable report.
/// color-eyre is installed once per process: a second `install` fails, and building that error's report
/// resolved a backtrace — it read the binary's debug info and cost ~100 MB of resident memory.
pub fn enter() -> io::Result<Tty> {
    install_error_hooks();
    // ratatui's init does the raw mode, the alternate screen and the restoring panic hook; the frames then go
    // through the compact backend.
    drop(ratatui::try_init()?);
    Terminal::new(CompactBackend::new(io::stdout()))
}

/// Install color-eyre's panic and error hooks, once per process (the CLI calls it first; tests and benches
/// may not).
pub fn install_error_hooks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = color_eyre::install();
    });
}

/// Give the terminal back (main screen, cooked mode, cursor shown). Safe to call more than once.
pub fn leave() {
    ratatui::restore();
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
}
