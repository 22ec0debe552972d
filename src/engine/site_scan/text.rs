//! The text a site scan reads out of what the APIs return: Confluence's storage format (XHTML with `ac:`/`ri:`
//! elements) and Jira's Atlassian Document Format (ADF, JSON). Pure and linear: one pass over the input, no
//! backtracking, output never much longer than the input, and a hostile input (unclosed tags, bogus entities,
//! ADF nested thousands deep) gives some text, never a panic or a hang.

use serde_json::Value;

/// Deepest ADF node read; real documents nest a few levels (a table in a panel in a list), and the JSON
/// parser refuses more than 128 levels of arrays and objects anyway.
pub const MAX_ADF_DEPTH: usize = 100;

/// Bytes of one tag kept to read its name and attributes; the rest of a longer tag is skipped unread.
const MAX_TAG: usize = 16 << 10;

/// Attributes whose values are text a person wrote (a link's target can carry a token).
const TEXT_ATTRIBUTES: &[&str] = &["href", "src", "ri:value"];

/// Elements that do not break the flow of text: a secret split by `<span>` or `<strong>` is read whole.
/// Every other element (paragraphs, list items, cells, line breaks, macros) ends a line.
fn is_inline(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("ri:")
        || matches!(
            name.as_str(),
            "span"
                | "strong"
                | "b"
                | "em"
                | "i"
                | "u"
                | "s"
                | "sub"
                | "sup"
                | "code"
                | "a"
                | "font"
                | "small"
                | "big"
                | "del"
                | "ins"
                | "mark"
                | "abbr"
                | "cite"
                | "q"
                | "time"
                | "ac:link"
                | "ac:link-body"
                | "ac:plain-text-link-body"
                | "ac:emoticon"
                | "ac:inline-comment-marker"
                | "ac:placeholder"
        )
}

/// The text of a storage-format body: tags removed (inline ones without a trace, others as a line break),
/// entities decoded, CDATA (code macros) kept verbatim, comments dropped, and the values of link attributes
/// kept as words of their own.
pub fn storage_text(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let Some(lt) = memchr::memchr2(b'<', b'&', &b[i..]).map(|o| i + o) else {
            out.push_str(&s[i..]);
            break;
        };
        out.push_str(&s[i..lt]);
        i = lt;
        if b[i] == b'&' {
            i += decode_entity(&s[i..], &mut out);
            continue;
        }
        let rest = &s[i..];
        if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let end = memchr::memmem::find(body.as_bytes(), b"]]>");
            let end = end.unwrap_or(body.len());
            out.push('\n');
            out.push_str(&body[..end]);
            out.push('\n');
            i += "<![CDATA[".len() + (end + 3).min(body.len());
            continue;
        }
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = memchr::memmem::find(body.as_bytes(), b"-->");
            i += 4 + end.map_or(body.len(), |e| e + 3);
            continue;
        }
        // A tag: up to the first `>` outside quotes. An unclosed one swallows the rest, as a browser would.
        let mut j = i + 1;
        let mut quote: Option<u8> = None;
        while j < b.len() {
            match (quote, b[j]) {
                (None, b'>') => break,
                (None, q @ (b'"' | b'\'')) => quote = Some(q),
                (Some(q), c) if c == q => quote = None,
                _ => {}
            }
            j += 1;
        }
        let tag = &s[i + 1..j];
        let tag = &tag[..floor_boundary(tag, MAX_TAG)];
        read_tag(tag, &mut out);
        i = (j + 1).min(b.len());
    }
    out
}

/// The largest char boundary of `s` at or below `max`.
fn floor_boundary(s: &str, max: usize) -> usize {
    let mut at = max.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// One tag's contribution: a line break unless inline, then the values of its text attributes.
fn read_tag(tag: &str, out: &mut String) {
    let tag = tag.trim_start_matches('/');
    let name_end = tag
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(tag.len());
    let name = &tag[..name_end];
    if !is_inline(name) && !out.ends_with('\n') {
        out.push('\n');
    }
    let mut rest = &tag[name_end..];
    // attr="value" pairs; anything malformed ends the reading of this tag.
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let Some(eq) = rest.find('=') else { break };
        // The word before `=`: a bare attribute before it (`disabled`) is skipped over.
        let attr = rest[..eq].split_whitespace().last().unwrap_or("");
        let after = rest[eq + 1..].trim_start();
        let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            break;
        };
        let value_and_more = &after[1..];
        let end = value_and_more.find(q).unwrap_or(value_and_more.len());
        if TEXT_ATTRIBUTES.iter().any(|a| attr.eq_ignore_ascii_case(a)) {
            out.push(' ');
            let value = &value_and_more[..end];
            let mut k = 0;
            while k < value.len() {
                match value[k..].find('&') {
                    Some(amp) => {
                        out.push_str(&value[k..k + amp]);
                        k += amp;
                        k += decode_entity(&value[k..], out);
                    }
                    None => {
                        out.push_str(&value[k..]);
                        break;
                    }
                }
            }
            out.push(' ');
        }
        rest = value_and_more.get(end + 1..).unwrap_or("");
    }
}

/// Decode the entity at the start of `s` (which starts with `&`) into `out`; returns the bytes consumed. Not an
/// entity (no `;` within a short reach, an unknown name): the `&` alone, as text.
fn decode_entity(s: &str, out: &mut String) -> usize {
    let reach = &s.as_bytes()[1..s.len().min(34)];
    let Some(semi) = memchr::memchr(b';', reach) else {
        out.push('&');
        return 1;
    };
    let name = &s[1..1 + semi];
    let c = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) if !hex.is_empty() => u32::from_str_radix(hex, 16).ok(),
            None if !num.is_empty() => num.parse::<u32>().ok(),
            _ => None,
        };
        // A number that is no character (NUL, a surrogate, past U+10FFFF) reads as the replacement.
        code.map(|n| {
            char::from_u32(n)
                .filter(|c| *c != '\0')
                .unwrap_or('\u{fffd}')
        })
    } else {
        named_entity(name)
    };
    match c {
        Some(c) => {
            out.push(c);
            semi + 2
        }
        None => {
            out.push('&');
            1
        }
    }
}

/// The XML entities and the HTML ones Confluence writes in storage format.
fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "deg" => '°',
        "times" => '×',
        "divide" => '÷',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        "zwj" => '\u{200d}',
        "zwnj" => '\u{200c}',
        "shy" => '\u{ad}',
        _ => return None,
    })
}

/// ADF inline nodes: their text runs on with their neighbours' (a secret split over two text nodes, one of
/// them bold, is read whole). Every other node with content ends a line.
fn adf_inline(kind: &str) -> bool {
    matches!(
        kind,
        "text"
            | "hardBreak"
            | "mention"
            | "emoji"
            | "inlineCard"
            | "date"
            | "status"
            | "placeholder"
            | "mediaInline"
            | "inlineExtension"
    )
}

/// The text of an ADF document given as raw JSON: text nodes in order, hard breaks and blocks as line
/// breaks, mention names and link targets as words of their own, at most [`MAX_ADF_DEPTH`] levels deep. A
/// plain JSON string is its own text. JSON the parser refuses (nested past its limit) is read as it is: the
/// strings inside are still there to scan, with the structure around them.
pub fn adf_text(raw: &str) -> String {
    match serde_json::from_str::<Value>(raw) {
        Ok(v) => {
            let mut out = String::with_capacity(raw.len() / 2);
            adf_walk(&v, 0, &mut out);
            out
        }
        Err(_) => raw.to_string(),
    }
}

fn adf_walk(v: &Value, depth: usize, out: &mut String) {
    if depth > MAX_ADF_DEPTH {
        return;
    }
    match v {
        Value::String(s) if depth == 0 => out.push_str(s),
        Value::Array(items) => {
            for item in items {
                adf_walk(item, depth + 1, out);
            }
        }
        Value::Object(node) => {
            let kind = node.get("type").and_then(Value::as_str).unwrap_or("");
            if kind == "hardBreak" {
                out.push('\n');
            }
            if let Some(t) = node.get("text").and_then(Value::as_str) {
                out.push_str(t);
            }
            let attrs = node.get("attrs").and_then(Value::as_object);
            for key in ["text", "url", "href", "shortName"] {
                if let Some(a) = attrs.and_then(|a| a.get(key)).and_then(Value::as_str) {
                    out.push(' ');
                    out.push_str(a);
                    out.push(' ');
                }
            }
            if let Some(marks) = node.get("marks").and_then(Value::as_array) {
                for m in marks {
                    let href = m
                        .get("attrs")
                        .and_then(|a| a.get("href"))
                        .and_then(Value::as_str);
                    if let Some(h) = href {
                        out.push(' ');
                        out.push_str(h);
                        out.push(' ');
                    }
                }
            }
            if let Some(content) = node.get("content") {
                adf_walk(content, depth + 1, out);
            }
            if !adf_inline(kind) && !out.ends_with('\n') {
                out.push('\n');
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_tags_join_block_tags_break_entities_decode() {
        assert_eq!(
            storage_text(
                "<p>key <span>AKIAZ3MS</span><strong>JV4WWNKWW5FP</strong> end</p><p>next</p>"
            ),
            "\nkey AKIAZ3MSJV4WWNKWW5FP end\nnext\n"
        );
        assert_eq!(
            storage_text("R&amp;D &#52;539 &#x41;&lt;b&gt;"),
            "R&D 4539 A<b>"
        );
        assert_eq!(storage_text("a<br/>b"), "a\nb");
        assert_eq!(
            storage_text("&bogus; &amp &#; &#xZZ; &#0; &#99999999999;"),
            "&bogus; &amp &#; &#xZZ; \u{fffd} &#99999999999;"
        );
    }

    #[test]
    fn cdata_is_verbatim_and_comments_vanish() {
        let s = "<ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[a &amp; <b>\nline]]></ac:plain-text-body></ac:structured-macro><!-- hidden -->x";
        let t = storage_text(s);
        assert!(t.contains("a &amp; <b>\nline"), "{t:?}");
        assert!(!t.contains("hidden") && t.ends_with('x'), "{t:?}");
    }

    #[test]
    fn link_targets_are_text_other_attributes_are_not() {
        let t = storage_text(
            "<p><a href=\"https://x.example/?token=abc&amp;q=1\" data-x=\"no\">here</a></p>",
        );
        assert!(
            t.contains(" https://x.example/?token=abc&q=1 here"),
            "{t:?}"
        );
        assert!(!t.contains("no"), "{t:?}");
        let t = storage_text("<ri:url ri:value=\"https://y.example/k\" />");
        assert!(t.contains("https://y.example/k"), "{t:?}");
    }

    #[test]
    fn hostile_storage_ends_without_panic_in_linear_time() {
        for s in [
            "unclosed <span <<<< &#99999999999; &bogus; <![CDATA[ never ends",
            "<",
            "&",
            "<!--",
            "<a href=\"",
            "<a href='x",
            "é<é>é&é;",
        ] {
            let _ = storage_text(s);
        }
        let many = "<".repeat(2_000_000) + &"&".repeat(2_000_000) + &"<a \"".repeat(500_000);
        let started = std::time::Instant::now();
        let _ = storage_text(&many);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn adf_text_nodes_join_blocks_break() {
        let raw = r#"{"type":"doc","version":1,"content":[
            {"type":"paragraph","content":[{"type":"text","text":"key AKIAZ3MS"},{"type":"text","text":"JV4WWNKWW5FP","marks":[{"type":"strong"}]}]},
            {"type":"paragraph","content":[{"type":"text","text":"a"},{"type":"hardBreak"},{"type":"text","text":"b","marks":[{"type":"link","attrs":{"href":"https://h.example/t"}}]},
              {"type":"mention","attrs":{"id":"1","text":"@Ana"}}]},
            {"type":"codeBlock","content":[{"type":"text","text":"line1\nline2"}]}]}"#;
        let t = adf_text(raw);
        assert!(t.starts_with("key AKIAZ3MSJV4WWNKWW5FP\n"), "{t:?}");
        assert!(
            t.contains("a\nb https://h.example/t  @Ana \nline1\nline2\n"),
            "{t:?}"
        );
    }

    #[test]
    fn odd_adf_is_read_as_far_as_it_goes() {
        assert_eq!(adf_text("\"plain card\""), "plain card");
        assert_eq!(adf_text(r#"{"content":42,"type":["odd"]}"#), "\n");
        assert_eq!(adf_text("null"), "");
        assert_eq!(adf_text("not json"), "not json");
        // Deeper than the parser's limit: the raw text, secrets included, is what is scanned.
        let levels = 50_000;
        let deep = format!(
            "{}{{\"type\":\"text\",\"text\":\"SSN: 536-22-8417\"}}{}",
            "{\"type\":\"paragraph\",\"content\":[".repeat(levels),
            "]}".repeat(levels)
        );
        assert!(adf_text(&deep).contains("SSN: 536-22-8417"));
        // Deeper than MAX_ADF_DEPTH but within the parser's limit: no panic, bounded.
        let mid = format!(
            "{}{{\"type\":\"text\",\"text\":\"x\"}}{}",
            "{\"type\":\"paragraph\",\"content\":[".repeat(60),
            "]}".repeat(60)
        );
        let _ = adf_text(&mid);
    }

    #[test]
    fn raw_json_values_skip_deep_nesting_without_recursing() {
        // The page parser keeps ADF as raw JSON; serde_json skips a raw value iteratively, so a page holding
        // an ADF nested far past the recursion limit still parses.
        #[derive(serde::Deserialize)]
        struct Holder {
            #[allow(dead_code)]
            d: Box<serde_json::value::RawValue>,
        }
        let levels = 100_000;
        let deep = format!("{{\"d\":{}1{}}}", "[".repeat(levels), "]".repeat(levels));
        assert!(serde_json::from_str::<Holder>(&deep).is_ok());
    }
}
