//! Making outside text safe to show: audit events carry names and titles written by anyone.

/// Replace every control character (C0, DEL, C1) with U+FFFD, so escape sequences such as
/// `\x1b]0;pwned\x07` reach a terminal inert. Tabs and newlines become spaces: callers lay text out in cells,
/// one line each.
///
/// The Unicode bidi controls (embeddings, overrides, isolates and the two marks) are not merely blanked: they
/// are how a name like `\u{202e}nimda` is made to read "admin", so each becomes a visible marker naming it
/// (`⟨RLO⟩`, see [`bidi_marker`]) and the analyst sees that a spoof was attempted. The markers are plain
/// one-column characters, so the width of what is drawn is the width of what is counted.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(needs_cleaning) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(' '),
            c => match bidi_marker(c) {
                Some(m) => out.push_str(m),
                None if needs_cleaning(c) => out.push('\u{fffd}'),
                None => out.push(c),
            },
        }
    }
    out
}

/// The visible stand-in for a bidi control character, or `None` for any other character. The names are
/// Unicode's abbreviations (UAX #9), which is what an analyst would search for.
pub fn bidi_marker(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{202a}' => "⟨LRE⟩",
        '\u{202b}' => "⟨RLE⟩",
        '\u{202c}' => "⟨PDF⟩",
        '\u{202d}' => "⟨LRO⟩",
        '\u{202e}' => "⟨RLO⟩",
        '\u{2066}' => "⟨LRI⟩",
        '\u{2067}' => "⟨RLI⟩",
        '\u{2068}' => "⟨FSI⟩",
        '\u{2069}' => "⟨PDI⟩",
        '\u{200e}' => "⟨LRM⟩",
        '\u{200f}' => "⟨RLM⟩",
        _ => return None,
    })
}

fn needs_cleaning(c: char) -> bool {
    c.is_control() || bidi_marker(c).is_some()
}

/// A count with its noun in the right number: `1 alert`, `2 alerts`, `0 alerts` — never `1 alert(s)`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `Ok` when `det` is one of `known` (case-insensitive), else the refusal with the closest id suggested:
/// a filter on a mistyped detection would match nothing and look like "no alerts". The UI's filter and
/// `vigil export --detection` both check with it.
pub fn known_detection(det: &str, known: &[&str]) -> Result<(), String> {
    if known.iter().any(|k| k.eq_ignore_ascii_case(det)) {
        return Ok(());
    }
    let shown = sanitize(det);
    let lower = det.to_ascii_lowercase();
    let closest = known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .min();
    Err(match closest {
        Some((d, k)) if d <= (k.len() / 2).max(3) => {
            format!("no detection '{shown}'; did you mean det:{k}?")
        }
        _ => format!("no detection '{shown}'"),
    })
}

/// Levenshtein distance in characters: how many edits turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
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

/// Characters of a value a refusal reason shows, once redacted: enough to recognise it.
pub const QUOTE_SHOWN: usize = 60;

/// Characters of a value a refusal reason holds until it is redacted: enough for any secret to be whole
/// (a value cut before redaction would keep all but the cut-off end of a token, which no scanner
/// recognises any more).
pub const QUOTE_KEPT: usize = 4096;

/// A value quoted for a refusal reason: sanitized, between single quotes, at most [`QUOTE_KEPT`]
/// characters. A reason quotes at most one value; [`cut_quoted`] shortens it once the reason is redacted.
pub fn quote(s: &str) -> String {
    let s: String = s.chars().take(QUOTE_KEPT).collect();
    format!("'{}'", sanitize(&s))
}

/// The reason with its quoted value (from the first `'` to the last) cut to `max` characters, for showing
/// and storing after redaction. A reason without a quoted value is returned as it is.
pub fn cut_quoted(reason: &str, max: usize) -> String {
    let (Some(open), Some(close)) = (reason.find('\''), reason.rfind('\'')) else {
        return reason.to_string();
    };
    if close <= open {
        return reason.to_string();
    }
    let inner = &reason[open + 1..close];
    if inner.chars().count() <= max {
        return reason.to_string();
    }
    let cut: String = inner.chars().take(max).collect();
    format!("{}{cut}{}", &reason[..=open], &reason[close..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_inert() {
        let s = sanitize("Deploy\x1b]0;pwned\x07 notes\x1b[31m\u{9b}2J\u{202e}");
        assert!(!s.chars().any(|c| c.is_control()));
        assert!(s.starts_with("Deploy\u{fffd}]0;pwned\u{fffd} notes"));
        assert!(s.ends_with("\u{fffd}2J⟨RLO⟩"), "{s}");
    }

    #[test]
    fn bidi_controls_are_named_not_obeyed() {
        let s = sanitize("\u{202e}nimda\u{202c} Mallory \u{2066}x\u{2069}\u{200f}");
        assert_eq!(s, "⟨RLO⟩nimda⟨PDF⟩ Mallory ⟨LRI⟩x⟨PDI⟩⟨RLM⟩");
        // Every bidi control, and nothing else, has a marker; the markers are one column a character.
        for c in ('\u{2000}'..='\u{2070}').chain(['\u{61c}', '\u{feff}', 'a']) {
            let expected = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
            assert_eq!(bidi_marker(c).is_some(), expected, "{c:?}");
        }
        for c in ['\u{202a}', '\u{202e}', '\u{2069}', '\u{200e}'] {
            let m = sanitize(&c.to_string());
            assert_eq!(
                unicode_width::UnicodeWidthStr::width(m.as_str()),
                m.chars().count(),
                "{m}"
            );
            assert!(
                !m.chars()
                    .any(|c| c.is_control() || bidi_marker(c).is_some())
            );
        }
        // Other controls stay neutralised: C0, DEL, C1.
        assert_eq!(
            sanitize("a\u{0}b\u{7f}c\u{85}d"),
            "a\u{fffd}b\u{fffd}c\u{fffd}d"
        );
    }

    #[test]
    fn unknown_detections_get_the_closest_known_id() {
        let known = ["page-crawling", "issue-crawling", "bulk-export"];
        assert_eq!(known_detection("Page-Crawling", &known), Ok(()));
        let e = known_detection("page-crawl", &known).unwrap_err();
        assert!(e.contains("did you mean det:page-crawling?"), "{e}");
        let e = known_detection("bulk_exports", &known).unwrap_err();
        assert!(e.contains("det:bulk-export"), "{e}");
        let e = known_detection("\u{1b}[2Jzzzzzzzzzzzzzz", &known).unwrap_err();
        assert!(!e.contains("did you mean") && !e.contains('\u{1b}'), "{e}");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn clean_text_is_unchanged() {
        assert_eq!(sanitize("Ana Admin — Zürich"), "Ana Admin — Zürich");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn quoted_values_are_cut_only_on_request() {
        let long = "x".repeat(100);
        let reason = format!("line 1: attributes.time: {} is not a time", quote(&long));
        assert!(reason.contains(&long));
        let cut = cut_quoted(&reason, 60);
        assert_eq!(
            cut,
            format!(
                "line 1: attributes.time: '{}' is not a time",
                "x".repeat(60)
            )
        );
        assert_eq!(cut_quoted("no value here", 5), "no value here");
        assert_eq!(cut_quoted("it's one", 1), "it's one");
    }
}
