//! Module boundaries of DESIGN §2, enforced on the source text: the domain core (model, detect) names no
//! runtime, store or terminal crate; only `store` names sled; only `tui` names ratatui or crossterm.

use std::path::{Path, PathBuf};

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
    out
}

/// Code lines only (comments and doc comments may name crates when they explain a boundary).
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn uses(code: &str, krate: &str) -> bool {
    code.contains(&format!("{krate}::"))
        || code.contains(&format!("use {krate}"))
        || code.contains(&format!("extern crate {krate}"))
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
        let code = code_of(&file);
        let in_core = rel.starts_with("model") || rel.starts_with("detect");
        // The generator may use model and detect only (DESIGN §2).
        let in_generate = rel.starts_with("generate");
        let forbidden: Vec<&str> = [
            (in_core || in_generate, "tokio"),
            (in_core, "reqwest"),
            (in_core, "axum"),
            (
                in_core || in_generate || rel.starts_with("ingest"),
                "std::fs",
            ),
            (!rel.starts_with("store"), "sled"),
            (!rel.starts_with("tui"), "ratatui"),
            (!rel.starts_with("tui"), "crossterm"),
            (
                in_core || in_generate || rel.starts_with("ingest"),
                "crate::store",
            ),
            (in_generate, "crate::engine"),
            (in_generate, "crate::ingest"),
            (in_generate, "crate::deliver"),
            (in_generate, "reqwest"),
            (rel.starts_with("model"), "crate::detect"),
            (
                !rel.starts_with("tui") && !rel.starts_with("cli") && rel != "main.rs",
                "crate::tui",
            ),
        ]
        .into_iter()
        .filter(|(applies, krate)| *applies && uses(&code, krate))
        .map(|(_, k)| k)
        .collect();
        for k in forbidden {
            violations.push(format!("src/{rel} uses {k}"));
        }
        if (in_core || in_generate)
            && (code.contains("Utc::now")
                || code.contains("SystemTime::now")
                || code.contains("Instant::now"))
        {
            violations.push(format!(
                "src/{rel} reads the wall clock; detections and the generator use event time only"
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_guard_itself_catches_a_violation() {
    assert!(uses("use sled::Tree;", "sled"));
    assert!(uses("let x = tokio::spawn(f);", "tokio"));
    assert!(!uses("// sled is fine in a comment", "tokio"));
}
