//! A ratatui backend that sends fewer bytes: crossterm's backend writes every colour in its 256-colour form
//! (`ESC[38;5;1;49m`, 13 bytes) and each attribute as its own sequence; over SSH every frame pays for that.
//! This one merges a cell's attribute and colour changes into one SGR sequence with the classic 16-colour codes
//! (`ESC[1;31m`), which also suits 16-colour terminals that do not know the 256-colour form, and moves the
//! cursor forward relatively when that is shorter — counting where the cursor really is after a wide (CJK,
//! emoji) symbol. Everything but `draw` is crossterm's.

use std::io::{self, Write};

use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};
use std::sync::{Arc, Mutex};

use unicode_width::UnicodeWidthStr;

use crate::tui::panes::FrameLink;

/// The links of the frame being drawn, shared between the app (which learns them while it renders) and the
/// backend (which writes them): ratatui hands the backend cells, never what they mean.
pub type LinkSlot = Arc<Mutex<Vec<FrameLink>>>;

/// [`CrosstermBackend`] with a compact `draw`, and OSC 8 hyperlinks around the cells of the frame's links.
pub struct CompactBackend<W: Write> {
    inner: CrosstermBackend<W>,
    links: LinkSlot,
}

impl<W: Write> CompactBackend<W> {
    /// Draw into `writer` (stdout for the real terminal, a buffer in benchmarks).
    pub fn new(writer: W) -> Self {
        Self {
            inner: CrosstermBackend::new(writer),
            links: LinkSlot::default(),
        }
    }

    /// Where the app puts the links of the frame it renders (empty: no hyperlink is written). Each URL must
    /// already be safe to write (visible ASCII only; see `state::safe_url`).
    pub fn link_slot(&self) -> LinkSlot {
        self.links.clone()
    }
}

/// Sequences outside the frame (synchronized-update markers) go to the same writer as the frame.
impl<W: Write> Write for CompactBackend<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.inner)
    }
}

/// Append the SGR parameter(s) of a foreground (`base` 30) or background (`base` 40) colour.
fn push_color(out: &mut String, color: Color, base: u8) {
    use std::fmt::Write as _;
    let code = |n: u8| -> u8 { base + n };
    let bright = |n: u8| -> u8 { base + 60 + n };
    let _ = match color {
        Color::Reset => write!(out, "{}", code(9)),
        Color::Black => write!(out, "{}", code(0)),
        Color::Red => write!(out, "{}", code(1)),
        Color::Green => write!(out, "{}", code(2)),
        Color::Yellow => write!(out, "{}", code(3)),
        Color::Blue => write!(out, "{}", code(4)),
        Color::Magenta => write!(out, "{}", code(5)),
        Color::Cyan => write!(out, "{}", code(6)),
        Color::Gray => write!(out, "{}", code(7)),
        Color::DarkGray => write!(out, "{}", bright(0)),
        Color::LightRed => write!(out, "{}", bright(1)),
        Color::LightGreen => write!(out, "{}", bright(2)),
        Color::LightYellow => write!(out, "{}", bright(3)),
        Color::LightBlue => write!(out, "{}", bright(4)),
        Color::LightMagenta => write!(out, "{}", bright(5)),
        Color::LightCyan => write!(out, "{}", bright(6)),
        Color::White => write!(out, "{}", bright(7)),
        Color::Indexed(i) => write!(out, "{};5;{i}", base + 8),
        Color::Rgb(r, g, b) => write!(out, "{};2;{r};{g};{b}", base + 8),
    };
}

/// The SGR parameters that take the terminal from (`from`, colours) to `to`'s style, `None` when nothing
/// changes.
fn sgr(from: (Modifier, Color, Color), to: &Cell) -> Option<String> {
    let (m0, fg0, bg0) = from;
    let mut p: Vec<String> = Vec::new();
    let removed = m0 - to.modifier;
    let added = to.modifier - m0;
    let mut add_back = Modifier::empty();
    if removed.intersects(Modifier::BOLD | Modifier::DIM) {
        p.push("22".into());
        add_back |= to.modifier & (Modifier::BOLD | Modifier::DIM);
    }
    for (m, off) in [
        (Modifier::ITALIC, "23"),
        (Modifier::UNDERLINED, "24"),
        (Modifier::SLOW_BLINK | Modifier::RAPID_BLINK, "25"),
        (Modifier::REVERSED, "27"),
        (Modifier::HIDDEN, "28"),
        (Modifier::CROSSED_OUT, "29"),
    ] {
        if removed.intersects(m) {
            p.push(off.into());
        }
    }
    for (m, on) in [
        (Modifier::BOLD, "1"),
        (Modifier::DIM, "2"),
        (Modifier::ITALIC, "3"),
        (Modifier::UNDERLINED, "4"),
        (Modifier::SLOW_BLINK, "5"),
        (Modifier::RAPID_BLINK, "6"),
        (Modifier::REVERSED, "7"),
        (Modifier::HIDDEN, "8"),
        (Modifier::CROSSED_OUT, "9"),
    ] {
        if (added | add_back).contains(m) {
            p.push(on.into());
        }
    }
    if to.fg != fg0 {
        let mut s = String::new();
        push_color(&mut s, to.fg, 30);
        p.push(s);
    }
    if to.bg != bg0 {
        let mut s = String::new();
        push_color(&mut s, to.bg, 40);
        p.push(s);
    }
    (!p.is_empty()).then(|| format!("\x1b[{}m", p.join(";")))
}

impl<W: Write> Backend for CompactBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut state = (Modifier::empty(), Color::Reset, Color::Reset);
        // Where the terminal's cursor is after the last symbol written, when that is certain.
        let mut cursor: Option<Position> = None;
        let mut out = String::with_capacity(4096);
        let mut styled = false;
        let links = self.links.lock().map(|l| l.clone()).unwrap_or_default();
        // The hyperlink the terminal is writing under, if any (OSC 8 is a state like the SGR attributes).
        let mut open: Option<&str> = None;
        for (x, y, cell) in content {
            if !links.is_empty() {
                let want = links
                    .iter()
                    .find(|l| l.y == y && x >= l.x && x < l.x.saturating_add(l.width))
                    .map(|l| l.url.as_str());
                if want != open {
                    if open.is_some() {
                        out.push_str("\x1b]8;;\x1b\\");
                    }
                    if let Some(url) = want {
                        out.push_str("\x1b]8;;");
                        out.push_str(url);
                        out.push_str("\x1b\\");
                    }
                    open = want;
                }
            }
            match cursor {
                Some(c) if y == c.y && x == c.x => {}
                // Same row, further right: "cursor forward" is shorter than an absolute move.
                Some(c) if y == c.y && x > c.x => out.push_str(&format!("\x1b[{}C", x - c.x)),
                _ => out.push_str(&format!("\x1b[{};{}H", y + 1, x + 1)),
            }
            if let Some(seq) = sgr(state, cell) {
                out.push_str(&seq);
                state = (cell.modifier, cell.fg, cell.bg);
                styled = true;
            }
            let symbol = cell.symbol();
            out.push_str(symbol);
            // A CJK character or an emoji moves the cursor two columns. A symbol of no width or of a width
            // terminals disagree on leaves the cursor uncertain: the next symbol is placed absolutely.
            cursor = match UnicodeWidthStr::width(symbol) {
                w @ 1..=2 => Some(Position {
                    x: x.saturating_add(w as u16),
                    y,
                }),
                _ => None,
            };
        }
        if open.is_some() {
            out.push_str("\x1b]8;;\x1b\\");
        }
        if styled {
            out.push_str("\x1b[0m");
        }
        self.inner.write_all(out.as_bytes())
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    fn cell(sym: &'static str, style: Style) -> Cell {
        let mut c = Cell::new(sym);
        c.set_style(style);
        c
    }

    #[test]
    fn classic_codes_merged_into_one_sequence() {
        let c = cell(
            "x",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        );
        assert_eq!(
            sgr((Modifier::empty(), Color::Reset, Color::Reset), &c).as_deref(),
            Some("\x1b[1;31m")
        );
        let c = cell(
            "x",
            Style::default()
                .fg(Color::LightCyan)
                .bg(Color::Indexed(236)),
        );
        assert_eq!(
            sgr((Modifier::empty(), Color::Reset, Color::Reset), &c).as_deref(),
            Some("\x1b[96;48;5;236m")
        );
        // Dropping bold but keeping dim re-adds dim after the shared reset (22).
        let c = cell("x", Style::default().add_modifier(Modifier::DIM));
        assert_eq!(
            sgr(
                (Modifier::BOLD | Modifier::DIM, Color::Reset, Color::Reset),
                &c
            )
            .as_deref(),
            Some("\x1b[22;2m")
        );
        let c = cell("x", Style::default());
        assert_eq!(
            sgr((Modifier::empty(), Color::Reset, Color::Reset), &c),
            None
        );
    }

    /// Collects what the backend writes, for the test to read back.
    struct Sink(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn draws_with_relative_moves_and_one_reset() {
        let sink = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut b = CompactBackend::new(Sink(sink.clone()));
        let a = cell("a", Style::default().fg(Color::Red));
        let z = cell("z", Style::default().fg(Color::Red));
        b.draw([(0u16, 0u16, &a), (1, 0, &z), (5, 0, &a), (0, 2, &z)].into_iter())
            .unwrap();
        let out = String::from_utf8(sink.borrow().clone()).unwrap();
        assert_eq!(out, "\x1b[1;1H\x1b[31maz\x1b[3Ca\x1b[3;1Hz\x1b[0m");
    }

    #[test]
    fn links_are_written_as_osc8_around_their_cells_only() {
        let sink = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut b = CompactBackend::new(Sink(sink.clone()));
        let url = "https://acme.atlassian.net/wiki/x";
        *b.link_slot().lock().unwrap() = vec![FrameLink {
            x: 2,
            y: 0,
            width: 2,
            url: url.into(),
        }];
        let c = cell("c", Style::default());
        b.draw([(0u16, 0u16, &c), (2, 0, &c), (3, 0, &c), (4, 0, &c)].into_iter())
            .unwrap();
        let out = String::from_utf8(sink.borrow().clone()).unwrap();
        assert_eq!(
            out,
            format!("\x1b[1;1Hc\x1b]8;;{url}\x1b\\\x1b[1Ccc\x1b]8;;\x1b\\c")
        );
        // A link that ends at the frame's last cell is closed before the frame ends.
        sink.borrow_mut().clear();
        b.draw([(2u16, 0u16, &c)].into_iter()).unwrap();
        let out = String::from_utf8(sink.borrow().clone()).unwrap();
        assert!(out.ends_with("c\x1b]8;;\x1b\\"), "{out:?}");
        // No links: no OSC 8 at all.
        b.link_slot().lock().unwrap().clear();
        sink.borrow_mut().clear();
        b.draw([(2u16, 0u16, &c)].into_iter()).unwrap();
        assert!(
            !String::from_utf8(sink.borrow().clone())
                .unwrap()
                .contains("]8;")
        );
    }

    /// Replays the bytes on a minimal terminal model: where each printed symbol lands, by column.
    fn landing(out: &str) -> Vec<(u16, u16, String)> {
        use unicode_width::UnicodeWidthStr;
        let (mut x, mut y) = (0u16, 0u16);
        let mut placed = Vec::new();
        let mut rest = out;
        while let Some(c) = rest.chars().next() {
            if c == '\x1b' {
                let end = rest[1..]
                    .find(|ch: char| ch.is_ascii_alphabetic())
                    .map_or(rest.len(), |i| i + 2);
                let seq = &rest[2..end - 1];
                match rest[..end].chars().last() {
                    Some('H') => {
                        let (r, col) = seq.split_once(';').unwrap();
                        y = r.parse::<u16>().unwrap() - 1;
                        x = col.parse::<u16>().unwrap() - 1;
                    }
                    Some('C') => x += seq.parse::<u16>().unwrap(),
                    _ => {}
                }
                rest = &rest[end..];
                continue;
            }
            let s = c.to_string();
            placed.push((x, y, s.clone()));
            x += s.width() as u16;
            rest = &rest[c.len_utf8()..];
        }
        placed
    }

    #[test]
    fn wide_symbols_move_the_cursor_by_their_width() {
        let sink = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut b = CompactBackend::new(Sink(sink.clone()));
        let plain = Style::default();
        // What ratatui's diff hands over for "李🦊ab│" from column 0: a wide symbol's second column is skipped.
        let (li, fox, a, bee, bar) = (
            cell("李", plain),
            cell("🦊", plain),
            cell("a", plain),
            cell("b", plain),
            cell("│", plain),
        );
        b.draw(
            [
                (0u16, 0u16, &li),
                (2, 0, &fox),
                (4, 0, &a),
                (5, 0, &bee),
                (9, 0, &bar),
            ]
            .into_iter(),
        )
        .unwrap();
        let out = String::from_utf8(sink.borrow().clone()).unwrap();
        let got: Vec<(u16, String)> = landing(&out).into_iter().map(|(x, _, s)| (x, s)).collect();
        assert_eq!(
            got,
            vec![
                (0, "李".to_string()),
                (2, "🦊".to_string()),
                (4, "a".to_string()),
                (5, "b".to_string()),
                (9, "│".to_string())
            ],
            "{out:?}"
        );
    }
}
