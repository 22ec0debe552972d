//! Making outside text safe to show: audit events carry names and titles written by anyone.

/// Replace every control character (C0, DEL, C1, and the Unicode bidi overrides that reorder what a reader
/// sees) with a visible stand-in, so escape sequences such as `\x1b]0;pwned\x07` reach a terminal inert.
/// Tabs and newlines become spaces: callers lay text out in cells, one line each.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(needs_cleaning) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => ' ',
            c if needs_cleaning(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

fn needs_cleaning(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Cut to at most `max` characters, marking the cut with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_inert() {
        let s = sanitize("Deploy\x1b]0;pwned\x07 notes\x1b[31m\u{9b}2J\u{202e}");
        assert!(!s.chars().any(|c| c.is_control()));
        assert!(s.starts_with("Deploy\u{fffd}]0;pwned\u{fffd} notes"));
    }

    #[test]
    fn clean_text_is_unchanged() {
        assert_eq!(sanitize("Ana Admin — Zürich"), "Ana Admin — Zürich");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
