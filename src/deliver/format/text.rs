//! Outside text made fit for a payload. Titles, names and descriptions come from audit events anyone can
//! write: they may hold escape sequences, bidi overrides or megabytes. Here they lose their control
//! characters, are cut on character boundaries to a receiver's limit (marked with `…`) and escaped for the
//! receiver's markup, in one pass that stops at the limit, so a 10 MB description costs what its kept prefix
//! costs.

/// The ellipsis that marks a cut.
pub(super) const ELLIPSIS: char = '…';

/// How a receiver counts a length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// UTF-16 code units: what JavaScript's and Java's `length` count, so what Slack and Jira enforce. Never
    /// fewer than characters, so also a safe stand-in where a receiver says "characters".
    Utf16,
    /// Bytes of UTF-8 (Teams' card size).
    Bytes,
}

impl Unit {
    fn of(self, s: &str) -> usize {
        match self {
            Self::Utf16 => s.chars().map(char::len_utf16).sum(),
            Self::Bytes => s.len(),
        }
    }
}

/// The markup a text is written into, and so what must be escaped for it to stay text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Escape {
    /// Plain text (JSON string values, Slack `plain_text`, ADF text nodes): nothing is markup.
    None,
    /// Slack `mrkdwn`: `&`, `<` and `>` are its control characters (`<!channel>` is a mention,
    /// `<https://x|y>` a link), so each becomes its HTML entity, as Slack asks.
    Slack,
    /// Slack `mrkdwn` inside a code span: as [`Escape::Slack`], and a backquote, which would end the span,
    /// becomes a plain quote.
    SlackCode,
    /// The CommonMark subset of Adaptive Cards: a backslash escapes `[` and `]` so that `[Reset your
    /// password](https://evil)` shows as text, not as a link with a lying label. The backslash itself is
    /// escaped too, else a `\` in the text would cancel the escape that follows it. Emphasis (`*`, `_`) is
    /// left alone: Teams clients disagree on escapes, and bold text deceives no one.
    Markdown,
}

impl Escape {
    fn piece(self, c: char, buf: &mut [u8; 4]) -> &str {
        match (self, c) {
            (Self::Slack | Self::SlackCode, '&') => "&amp;",
            (Self::Slack | Self::SlackCode, '<') => "&lt;",
            (Self::Slack | Self::SlackCode, '>') => "&gt;",
            (Self::SlackCode, '`') => "'",
            (Self::Markdown, '\\') => "\\\\",
            (Self::Markdown, '[') => "\\[",
            (Self::Markdown, ']') => "\\]",
            _ => c.encode_utf8(buf),
        }
    }
}

/// Characters removed outright: C0 and C1 controls (ESC starts terminal sequences), DEL, the bidi
/// embeddings, overrides, isolates and marks that reorder what a reader sees (`\u{202e}` turns `exe.txt`
/// into `txt.exe`), and the byte-order mark. Line breaks are handled before this is asked.
fn removed(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{feff}'
        )
}

/// The characters of `s` without controls. With `newlines`, every line break (`\r\n`, `\r`, `\n`, U+2028,
/// U+2029) becomes one `\n`; without, a space. Tabs become spaces.
fn clean(s: &str, newlines: bool) -> impl Iterator<Item = char> + '_ {
    let brk = if newlines { '\n' } else { ' ' };
    let mut prev_cr = false;
    s.chars().filter_map(move |c| {
        let after_cr = std::mem::replace(&mut prev_cr, c == '\r');
        match c {
            '\n' if after_cr => None,
            '\r' | '\n' | '\u{2028}' | '\u{2029}' => Some(brk),
            '\t' => Some(' '),
            c if removed(c) => None,
            c => Some(c),
        }
    })
}

/// A piece of outside text, cleaned and capped once, then fitted to each receiver's limits with
/// [`Clip::fit`]. `cut` remembers that something was left out, so that a receiver can say the payload is
/// shortened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Clip {
    /// The cleaned text, ending with `…` when cut.
    pub text: String,
    /// Whether any of the original was left out.
    pub cut: bool,
}

impl Clip {
    /// One line of text: line breaks become spaces, the ends are trimmed, at most `max` characters kept.
    pub fn line(s: &str, max: usize) -> Self {
        Self::capped(clean(s, false), max)
    }

    /// Text whose line breaks a receiver can show (a description), at most `max` characters kept.
    pub fn block(s: &str, max: usize) -> Self {
        Self::capped(clean(s, true), max)
    }

    fn capped(chars: impl Iterator<Item = char>, max: usize) -> Self {
        let mut chars = chars.skip_while(|c| c.is_whitespace());
        let text: String = chars.by_ref().take(max).collect();
        let cut = chars.next().is_some();
        let mut text = text.trim_end().to_string();
        if cut {
            text.push(ELLIPSIS);
        }
        Self { text, cut }
    }

    /// Whether nothing visible is left.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The text escaped for `escape` and cut to at most `max` `unit`s (escapes included); the flag says
    /// whether this or the first cap left something out.
    pub fn fit(&self, max: usize, unit: Unit, escape: Escape) -> (String, bool) {
        let (s, cut) = fit(&self.text, max, unit, escape);
        (s, cut || self.cut)
    }

    /// [`Clip::fit`] without the flag.
    pub fn get(&self, max: usize, unit: Unit, escape: Escape) -> String {
        fit(&self.text, max, unit, escape).0
    }
}

/// `text` escaped for `escape` and cut to at most `max` `unit`s, the cut marked with `…` (counted within
/// `max`). An escape is never split, and the cut falls on a character boundary. The flag says whether it was
/// cut.
pub(super) fn fit(text: &str, max: usize, unit: Unit, escape: Escape) -> (String, bool) {
    let mut buf = [0u8; 4];
    let ellipsis = unit.of(ELLIPSIS.encode_utf8(&mut buf));
    let mut out = String::new();
    let mut used = 0;
    let mut keep = 0;
    for c in text.chars() {
        let piece = escape.piece(c, &mut buf);
        let cost = unit.of(piece);
        if used + cost > max {
            out.truncate(keep);
            let trimmed = out.trim_end().len();
            out.truncate(trimmed);
            if ellipsis <= max {
                out.push(ELLIPSIS);
            }
            return (out, true);
        }
        used += cost;
        out.push_str(piece);
        if used + ellipsis <= max {
            keep = out.len();
        }
    }
    (out, false)
}

/// `s` percent-encoded for a URL query value: everything but RFC 3986's unreserved characters is encoded,
/// so a value can never end its parameter or start another.
pub(super) fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_go_and_line_breaks_follow_the_format() {
        let s = "Deploy\x1b]0;pwned\x07 notes\u{9b}2J\u{202e}gnp.exe\r\nnext\rthird\u{2028}x\ty";
        let line = Clip::line(s, 1000).text;
        assert_eq!(line, "Deploy]0;pwned notes2Jgnp.exe next third x y");
        let block = Clip::block(s, 1000).text;
        assert_eq!(block, "Deploy]0;pwned notes2Jgnp.exe\nnext\nthird\nx y");
        assert!(!block.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn caps_count_characters_and_mark_the_cut() {
        let c = Clip::line("  Zürich 東京 🙂 done  ", 9);
        assert_eq!(c.text, "Zürich 東京…");
        assert!(c.cut);
        let c = Clip::line("short", 9);
        assert_eq!((c.text.as_str(), c.cut), ("short", false));
        // A huge value is cleaned only as far as the cap.
        let big = "é".repeat(5_000_000);
        let c = Clip::block(&big, 10);
        assert_eq!(c.text.chars().count(), 11);
    }

    #[test]
    fn fitting_never_splits_an_escape_or_a_character() {
        let (s, cut) = fit("a&b<c>d", 100, Unit::Utf16, Escape::Slack);
        assert_eq!((s.as_str(), cut), ("a&amp;b&lt;c&gt;d", false));
        // "a&amp;" is 6 units; with the ellipsis, 7 fit "a" + "…" only if "&amp;" does not.
        let (s, cut) = fit("a&b", 6, Unit::Utf16, Escape::Slack);
        assert_eq!((s.as_str(), cut), ("a…", true));
        let (s, _) = fit("🙂🙂🙂", 5, Unit::Utf16, Escape::None);
        assert_eq!(s, "🙂🙂…");
        let (s, _) = fit("🙂🙂🙂", 9, Unit::Bytes, Escape::None);
        assert_eq!(s, "🙂…");
        let (s, _) = fit("abc", 0, Unit::Bytes, Escape::None);
        assert_eq!(s, "");
        let (s, _) = fit("[x](y) \\", 100, Unit::Bytes, Escape::Markdown);
        assert_eq!(s, "\\[x\\](y) \\\\");
        let (s, _) = fit("`<!here>`", 100, Unit::Bytes, Escape::SlackCode);
        assert_eq!(s, "'&lt;!here&gt;'");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            query_value("labels=\"vigil-01J\""),
            "labels%3D%22vigil-01J%22"
        );
        assert_eq!(query_value("a b&c/é"), "a%20b%26c%2F%C3%A9");
    }
}
