//! Word wrap with a hanging indent, by display width. ratatui's `Paragraph` wrap starts every continuation
//! line at column 0, so a long description under `  1. ` lost its indent; and a pane that wraps for itself
//! knows how many lines it holds, so its scroll can stop at the end instead of running into blank space.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// `line` cut into lines of at most `width` columns, breaking after spaces where it can (inside a word
/// only when the word alone is wider than a line). Continuation lines start with `hang` spaces. Wide
/// characters count two columns and are never split; zero-width ones stay with the character before.
pub fn wrap(line: Line<'static>, width: usize, hang: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let hang = if hang + 8 > width { 0 } else { hang };
    let line_style = line.style;
    // Pieces of (text, style): each word with the spaces that follow it.
    let mut pieces: Vec<(String, Style)> = Vec::new();
    for span in &line.spans {
        let mut cur = String::new();
        let mut in_space = false;
        for c in span.content.chars() {
            if c == ' ' {
                in_space = true;
            } else if in_space {
                pieces.push((std::mem::take(&mut cur), span.style));
                in_space = false;
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            pieces.push((cur, span.style));
        }
    }
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    let flush = |spans: &mut Vec<Span<'static>>, out: &mut Vec<Line<'static>>| {
        out.push(Line::from(std::mem::take(spans)).style(line_style));
    };
    for (text, style) in pieces {
        let w = str_width(&text);
        let w_trimmed = str_width(text.trim_end_matches(' '));
        if used > 0 && used + w_trimmed > width && used > hang {
            flush(&mut spans, &mut out);
            spans.push(Span::raw(" ".repeat(hang)));
            used = hang;
            let text = text.trim_start_matches(' ').to_string();
            place(
                &text, style, width, hang, &mut used, &mut spans, &mut out, line_style,
            );
            continue;
        }
        if used + w <= width || used + w_trimmed <= width {
            spans.push(Span::styled(text, style));
            used += w;
        } else {
            place(
                &text, style, width, hang, &mut used, &mut spans, &mut out, line_style,
            );
        }
    }
    if !spans.is_empty() || out.is_empty() {
        flush(&mut spans, &mut out);
    }
    out
}

/// Put `text` on the current line, breaking it by character where it does not fit.
#[allow(clippy::too_many_arguments)]
fn place(
    text: &str,
    style: Style,
    width: usize,
    hang: usize,
    used: &mut usize,
    spans: &mut Vec<Span<'static>>,
    out: &mut Vec<Line<'static>>,
    line_style: Style,
) {
    let mut cur = String::new();
    for c in text.chars() {
        let cw = c.width().unwrap_or(0);
        if *used + cw > width && *used > hang {
            if !cur.is_empty() {
                spans.push(Span::styled(std::mem::take(&mut cur), style));
            }
            out.push(Line::from(std::mem::take(spans)).style(line_style));
            if hang > 0 {
                spans.push(Span::raw(" ".repeat(hang)));
            }
            *used = hang;
            if c == ' ' {
                continue;
            }
        }
        cur.push(c);
        *used += cw;
    }
    if !cur.is_empty() {
        spans.push(Span::styled(cur, style));
    }
}

/// Display width of `s` in terminal columns.
pub fn str_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `s` cut to at most `max` columns, ending in `…` when cut (never splitting a wide character).
pub fn fit(s: &str, max: usize) -> String {
    if str_width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    if max > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn continuation_lines_keep_the_indent() {
        let l = Line::from("  1. Review the pages the actor viewed and who owns them");
        let out = text(&wrap(l, 24, 5));
        assert_eq!(out[0], "  1. Review the pages ");
        for l in &out[1..] {
            assert!(l.starts_with("     ") && !l.starts_with("      "), "{l:?}");
            assert!(str_width(l) <= 24, "{l:?}");
        }
        assert_eq!(out.concat().split_whitespace().count(), 11);
    }

    #[test]
    fn wide_characters_count_two_and_long_words_break() {
        let out = text(&wrap(Line::from("李小龍李小龍李小龍"), 7, 0));
        assert!(out.iter().all(|l| str_width(l) <= 7), "{out:?}");
        assert_eq!(out.concat(), "李小龍李小龍李小龍");
        let out = text(&wrap(Line::from(format!("  x {}", "y".repeat(30))), 10, 4));
        assert!(out.iter().all(|l| str_width(l) <= 10), "{out:?}");
        assert_eq!(
            out.concat().replace(' ', ""),
            format!("x{}", "y".repeat(30))
        );
    }

    #[test]
    fn fit_cuts_with_an_ellipsis_by_columns() {
        assert_eq!(fit("abcdef", 6), "abcdef");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("李小龍", 4), "李…");
        assert_eq!(str_width(&fit("🦊🦊🦊", 5)), 5);
    }
}
