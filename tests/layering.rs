//! Module boundaries of DESIGN §2, enforced on the parsed paths of the source, not on its text: every `use`
//! tree is expanded (`use crate::{store::Store, model::*}` names `crate::store` and `crate::model`), every
//! path in code counts (`::tokio::spawn`, `sled::Db`, `super::super::store::Store`), and comments and string
//! literals do not. Each file's paths are resolved against its own module (`super` climbs from there), then
//! checked against the table of what each top-level module may name.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules of `src/` (the library's and the binary's).
const MODULES: &[&str] = &[
    "model", "detect", "ingest", "generate", "store", "export", "scan", "config", "engine", "tui",
    "cli", "main", "lib",
];

/// Which of our modules each module may name (itself always).
fn allowed_modules(top: &str) -> &'static [&'static str] {
    match top {
        "model" => &[],
        "detect" => &["model"],
        "ingest" => &["model"],
        "generate" => &["model", "detect"],
        // The UI's detection overrides are stored as `detect::tuning::DetectionSettings`.
        "store" => &["model", "detect"],
        "export" => &["model", "store"],
        "scan" => &["model", "detect"],
        "config" => &["model", "detect"],
        "deliver" => &["model", "store"],
        "engine" => &[
            "model", "detect", "ingest", "generate", "store", "export", "config", "deliver",
        ],
        // The UI talks to the engine's client handle; never to the store, never to the config file.
        "tui" => &["model", "detect", "engine", "export"],
        _ => MODULES,
    }
}

/// External crates each module must not name.
fn forbidden_crates(top: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if matches!(top, "model" | "detect" | "ingest" | "generate") {
        out.extend(["tokio", "reqwest", "axum", "futures"]);
    }
    if top != "store" {
        out.push("sled");
    }
    if top != "tui" {
        out.extend(["ratatui", "crossterm", "tui_input", "ratatui_textarea"]);
    }
    out
}

/// Modules whose output must depend on their input alone.
fn is_pure(top: &str) -> bool {
    matches!(top, "model" | "detect" | "generate")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
}

/// Tokens of Rust source with comments, string/char literals and lifetimes dropped.
fn tokens(src: &str) -> Vec<Tok> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            let mut depth = 1;
            i += 2;
            while i < b.len() && depth > 0 {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(b.get(i + 1), Some('"' | '#')) && raw_string_start(&b, i) {
            // r"..." or r#"..."#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1; // the quote
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\'') or a lifetime ('a): skip either.
            if b.get(i + 1) == Some(&'\\') {
                // Past the backslash and the escaped character (which may itself be a quote).
                i += 3;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            // b"..." byte strings: the `b` prefix is not an identifier of interest.
            let word: String = b[start..i].iter().collect();
            out.push(Tok::Ident(word));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push(Tok::Sep);
            i += 2;
        } else if c.is_whitespace() || c.is_ascii_digit() {
            i += 1;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

fn raw_string_start(b: &[char], i: usize) -> bool {
    // `r` must start a token (not the end of an identifier such as `for`).
    let prev_ok = i == 0 || !(b[i - 1].is_alphanumeric() || b[i - 1] == '_');
    let mut j = i + 1;
    while b.get(j) == Some(&'#') {
        j += 1;
    }
    prev_ok && b.get(j) == Some(&'"')
}

/// Every path the tokens name, as segment lists; a leading `::` is kept as an empty first segment. `use`
/// trees are expanded into one path per leaf.
fn paths(toks: &[Tok]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] == Tok::Ident("use".into()) {
            i += 1;
            let (mut leaves, next) = use_tree(toks, i, &[]);
            out.append(&mut leaves);
            i = next;
            continue;
        }
        if toks[i] == Tok::Ident("extern".into())
            && toks.get(i + 1) == Some(&Tok::Ident("crate".into()))
        {
            if let Some(Tok::Ident(name)) = toks.get(i + 2) {
                out.push(vec![name.clone()]);
            }
            i += 3;
            continue;
        }
        // A path in code: [::] ident (:: ident)*
        let leading = toks[i] == Tok::Sep;
        let start = if leading { i + 1 } else { i };
        if let Some(Tok::Ident(first)) = toks.get(start) {
            let prev_is_sep_or_ident = i > 0 && matches!(toks[i - 1], Tok::Sep);
            let mut segs = Vec::new();
            if leading {
                segs.push(String::new());
            }
            segs.push(first.clone());
            let mut j = start + 1;
            while toks.get(j) == Some(&Tok::Sep) {
                match toks.get(j + 1) {
                    Some(Tok::Ident(s)) => {
                        segs.push(s.clone());
                        j += 2;
                    }
                    _ => break,
                }
            }
            if !prev_is_sep_or_ident && (segs.len() > 1 || leading) {
                out.push(segs);
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// Parse one `use` tree starting at `i` under `prefix`; returns its leaves and the index after it.
fn use_tree(toks: &[Tok], mut i: usize, prefix: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut path: Vec<String> = prefix.to_vec();
    if toks.get(i) == Some(&Tok::Sep) {
        if path.is_empty() {
            path.push(String::new());
        }
        i += 1;
    }
    let mut leaves = Vec::new();
    loop {
        match toks.get(i) {
            Some(Tok::Ident(s)) if s == "as" => {
                // `as name`: the alias does not change what is named.
                i += 2;
            }
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                i += 1;
                if toks.get(i) == Some(&Tok::Sep) {
                    i += 1;
                    continue;
                }
            }
            Some(Tok::Punct('*')) => {
                i += 1;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i) {
                        Some(Tok::Punct('}')) => {
                            i += 1;
                            break;
                        }
                        Some(Tok::Punct(',')) => i += 1,
                        None => break,
                        _ => {
                            let (mut sub, next) = use_tree(toks, i, &path);
                            leaves.append(&mut sub);
                            i = next;
                        }
                    }
                }
                return (leaves, i);
            }
            _ => break,
        }
        if !matches!(toks.get(i), Some(Tok::Ident(s)) if s == "as") {
            break;
        }
    }
    if !path.is_empty() {
        leaves.push(path);
    }
    (leaves, i)
}

/// The module a file is (`src/tui/state/triage.rs` → `tui::state::triage`), as segments. The binary's
/// `main.rs` and `cli/` are their own crate root, where `crate` is the binary and `vigil` the library.
fn module_of(rel: &str) -> Vec<String> {
    let trimmed = rel.trim_end_matches(".rs");
    let mut segs: Vec<String> = trimmed.split('/').map(str::to_string).collect();
    if segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    if segs == ["lib"] || segs == ["main"] {
        segs.clear();
    }
    segs
}

/// Resolve a path named in module `here` to (`Some(top-level module)` of this crate, or the external crate).
enum Named {
    Ours(String),
    External(String),
    Local,
}

fn resolve(path: &[String], here: &[String], binary: bool, locals: &BTreeSet<String>) -> Named {
    let Some(first) = path.first() else {
        return Named::Local;
    };
    let mut module: Vec<String> = here.to_vec();
    match first.as_str() {
        "" => {
            // `::name`: always an external crate (or the library, from the binary).
            let name = path.get(1).cloned().unwrap_or_default();
            if binary && name == "vigil" {
                return path.get(2).map_or(Named::Local, |m| Named::Ours(m.clone()));
            }
            return Named::External(name);
        }
        "crate" => {
            if binary {
                // The binary's own modules: cli.
                return path
                    .get(1)
                    .map_or(Named::Local, |_| Named::Ours("cli".into()));
            }
            return path.get(1).map_or(Named::Local, |m| Named::Ours(m.clone()));
        }
        "vigil" if binary => {
            return path.get(1).map_or(Named::Local, |m| Named::Ours(m.clone()));
        }
        "self" => {}
        "super" => {
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super") {
                module.pop();
                k += 1;
            }
            if module.is_empty() {
                return path.get(k).map_or(Named::Local, |m| {
                    if binary {
                        Named::Ours("cli".into())
                    } else {
                        Named::Ours(m.clone())
                    }
                });
            }
        }
        name if locals.contains(name) => return Named::Local,
        name if name.chars().next().is_some_and(char::is_uppercase) => return Named::Local,
        name => return Named::External(name.to_string()),
    }
    match module.first() {
        Some(m) if !binary => Named::Ours(m.clone()),
        _ => Named::Ours("cli".into()),
    }
}

/// Names a file may use as the first segment of a path without it being a crate: its own modules, items it
/// defines or imports, generic parameters… Anything lower-case not defined here counts as a crate name, so
/// a local shadowing a crate's name cannot hide that crate.
fn local_names(toks: &[Tok]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = ["std", "core", "alloc", "Self", "self", "super", "crate"]
        .into_iter()
        .map(String::from)
        .collect();
    for w in toks.windows(2) {
        if let [Tok::Ident(kw), Tok::Ident(name)] = w
            && matches!(
                kw.as_str(),
                "mod"
                    | "fn"
                    | "struct"
                    | "enum"
                    | "trait"
                    | "type"
                    | "const"
                    | "static"
                    | "let"
                    | "macro_rules"
            )
        {
            out.insert(name.clone());
        }
    }
    // Names brought in by `use` (the last segment of each leaf, or its alias).
    for (i, t) in toks.iter().enumerate() {
        if *t == Tok::Ident("as".into())
            && let Some(Tok::Ident(alias)) = toks.get(i + 1)
        {
            out.insert(alias.clone());
        }
    }
    for leaf in paths(toks) {
        if let Some(last) = leaf.last() {
            out.insert(last.clone());
        }
    }
    out
}

/// The violations in one file's source.
fn check(rel: &str, src: &str) -> Vec<String> {
    let top = rel
        .split('/')
        .next()
        .unwrap_or("")
        .trim_end_matches(".rs")
        .to_string();
    let binary = top == "cli" || top == "main";
    let here = module_of(rel);
    let toks = tokens(src);
    let locals = local_names(&toks);
    let allowed = allowed_modules(&top);
    let forbidden = forbidden_crates(&top);
    let mut out = BTreeSet::new();
    for path in paths(&toks) {
        match resolve(&path, &here, binary, &locals) {
            Named::Ours(m) => {
                if m != top && MODULES.contains(&m.as_str()) && !allowed.contains(&m.as_str()) {
                    out.insert(format!("src/{rel} names crate::{m} ({})", path.join("::")));
                }
            }
            Named::External(c) => {
                if forbidden.contains(&c.as_str()) {
                    out.insert(format!("src/{rel} names {c} ({})", path.join("::")));
                }
            }
            Named::Local => {}
        }
        if is_pure(&top) {
            let joined = path.join("::");
            if ["Utc::now", "SystemTime::now", "Instant::now", "Local::now"]
                .iter()
                .any(|c| joined.ends_with(c))
            {
                out.insert(format!(
                    "src/{rel} reads the wall clock ({joined}); detections use event time only"
                ));
            }
            if joined.starts_with("std::fs") || joined.starts_with("std::net") {
                out.insert(format!("src/{rel} does I/O ({joined})"));
            }
        }
    }
    out.into_iter().collect()
}

#[test]
fn modules_stay_inside_their_boundaries() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for file in rust_files(&src) {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let code = std::fs::read_to_string(&file).unwrap();
        violations.extend(check(&rel, &code));
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn a_grouped_import_of_store_from_detect_is_caught() {
    let v = check(
        "detect/engine.rs",
        "use crate::{model::Alert, store::{Store, StoreError}};\nfn f() {}",
    );
    assert!(!v.is_empty(), "{v:?}");
    assert!(v.iter().all(|m| m.contains("names crate::store")), "{v:?}");
    // Also through `super`, from a nested module.
    let v = check("detect/content/mod.rs", "use super::super::store::Store;");
    assert!(v.iter().any(|m| m.contains("crate::store")), "{v:?}");
    // And a path in code, not only a `use`.
    let v = check(
        "detect/window.rs",
        "fn f() { let _ = crate::store::Store::open(p); }",
    );
    assert!(v.iter().any(|m| m.contains("crate::store")), "{v:?}");
}

#[test]
fn a_leading_colon_tokio_path_in_model_is_caught() {
    let v = check("model/alert.rs", "fn f() { ::tokio::spawn(async {}); }");
    assert!(v.iter().any(|m| m.contains("names tokio")), "{v:?}");
    let v = check("model/alert.rs", "use ::tokio as rt;");
    assert!(v.iter().any(|m| m.contains("names tokio")), "{v:?}");
}

#[test]
fn the_ui_may_not_name_the_store_or_the_config() {
    let v = check(
        "tui/state.rs",
        "use crate::{engine::Change, store::AlertPage};",
    );
    assert!(v.iter().any(|m| m.contains("crate::store")), "{v:?}");
    let v = check("tui/app.rs", "fn f(c: &crate::config::Config) {}");
    assert!(v.iter().any(|m| m.contains("crate::config")), "{v:?}");
    let v = check("store/mod.rs", "use crate::config::Config;");
    assert!(v.iter().any(|m| m.contains("crate::config")), "{v:?}");
}

#[test]
fn comments_strings_and_lookalikes_are_not_paths() {
    let src = r##"
        // use sled::Db;
        /* tokio::spawn */
        /// crate::store::Store in a doc comment
        fn f() -> &'static str { let s = "sled::Db"; let r = r#"tokio::spawn"#; 'x'; s }
        struct Sled; impl Sled { fn open() {} }
        fn g() { Sled::open(); }
    "##;
    assert!(check("model/alert.rs", src).is_empty());
}

#[test]
fn only_the_store_names_sled_and_only_the_ui_names_ratatui() {
    assert!(!check("engine/api.rs", "use sled::Tree;").is_empty());
    assert!(check("store/mod.rs", "use sled::Tree;").is_empty());
    assert!(!check("engine/api.rs", "use ratatui::Frame;").is_empty());
    assert!(check("tui/app.rs", "use ratatui::Frame;").is_empty());
    assert!(!check("detect/engine.rs", "fn f() { let t = chrono::Utc::now(); }").is_empty());
}
