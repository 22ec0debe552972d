//! Scan bench: `vigil::scan::run` over a deterministic ~200 MB corpus of prose and source-like text with
//! planted secrets and decoys, in MB/s, next to ripgrep with the scanners' regexes when `rg` is on PATH.
//!
//! `cargo bench --bench scan` — the synthetic corpus (`VIGIL_BENCH_MB` sets its size).
//! `cargo bench --bench scan -- docs` (or `VIGIL_BENCH_DOCS=1`) — scan the Rust docs under
//! `$(rustc --print sysroot)/share/doc/rust/html/{book,reference,std}` and print every finding: the
//! false-positive check (the target is zero). `VIGIL_BENCH_PATHS=dir:dir` scans other trees the same way.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use vigil::detect::tuning::Tuning;
use vigil::scan::{ScanFormat, ScanOptions, run_with};

/// xorshift64*: deterministic across platforms and versions, which `rand`'s small RNG does not promise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

/// Prose vocabulary: mostly neutral words, with the security vocabulary (password, token, secret, key, ssn,
/// AKIA, Asia…) at about one word in twenty — far denser than real pages, so keyword handling is exercised.
const WORDS: &[&str] = &[
    "the",
    "deploy",
    "notes",
    "for",
    "release",
    "service",
    "account",
    "customer",
    "report",
    "quarterly",
    "review",
    "please",
    "reset",
    "your",
    "password",
    "in",
    "settings",
    "token",
    "budget",
    "roadmap",
    "incident",
    "runbook",
    "database",
    "migration",
    "rollback",
    "owner",
    "team",
    "meeting",
    "agenda",
    "action",
    "items",
    "security",
    "secret",
    "sharing",
    "policy",
    "access",
    "request",
    "approved",
    "pending",
    "with",
    "and",
    "to",
    "of",
    "a",
    "ssn",
    "AKIA",
    "card",
    "number",
    "invoice",
    "payment",
    "bank",
    "transfer",
    "key",
    "rotation",
    "schedule",
    "Asia",
    "Pacific",
    "region",
    "latency",
    "dashboard",
    "alert",
    "on-call",
    "handover",
    "summary",
    "draft",
    "we",
    "will",
    "should",
    "could",
    "after",
    "before",
    "during",
    "week",
    "month",
    "year",
    "today",
    "tomorrow",
    "product",
    "design",
    "feedback",
    "customer",
    "support",
    "ticket",
    "priority",
    "milestone",
    "sprint",
    "goal",
    "engineering",
    "platform",
    "cluster",
    "node",
    "pipeline",
    "build",
    "test",
    "staging",
    "production",
    "traffic",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "has",
    "have",
    "had",
    "not",
    "but",
    "or",
    "if",
    "then",
    "when",
    "this",
    "that",
    "these",
    "those",
    "it",
    "its",
    "our",
    "their",
    "from",
    "into",
    "over",
    "under",
    "about",
    "between",
    "metrics",
    "error",
    "rate",
    "budget",
    "capacity",
    "forecast",
    "hiring",
    "onboarding",
    "documentation",
    "page",
    "space",
    "project",
    "issue",
    "comment",
    "status",
    "update",
    "owner",
    "decision",
    "risk",
    "mitigation",
    "plan",
    "users",
    "login",
    "audit",
    "log",
    "event",
    "export",
    "import",
    "backup",
    "restore",
    "archive",
    "retention",
];

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_NUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8] = b"0123456789abcdef";

fn luhn_complete(prefix: &str) -> String {
    for d in 0..10 {
        let s = format!("{prefix}{d}");
        let sum: u32 = s
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, c)| {
                let v = u32::from(c - b'0');
                if i % 2 == 1 {
                    if v * 2 > 9 { v * 2 - 9 } else { v * 2 }
                } else {
                    v
                }
            })
            .sum();
        if sum.is_multiple_of(10) {
            return s;
        }
    }
    prefix.to_string()
}

/// One planted secret the scanners must find.
fn planted(rng: &mut Rng, kind: usize) -> String {
    match kind {
        0 => format!("aws key AKIA{} in the env", rng.chars(UPPER_NUM, 16)),
        1 => format!("export GITHUB_TOKEN=ghp_{}", rng.chars(ALNUM, 36)),
        2 => {
            let mut p = String::from("4");
            p.push_str(&rng.chars(b"0123456789", 14));
            format!("card on file {}", luhn_complete(&p))
        }
        3 => format!(
            "slack: xoxb-{}-{}-{}",
            rng.chars(b"0123456789", 12),
            rng.chars(b"0123456789", 13),
            rng.chars(ALNUM, 24)
        ),
        4 => format!(
            "db_password = \"{}!{}\"",
            rng.chars(ALNUM, 10),
            rng.chars(ALNUM, 4)
        ),
        5 => format!("stripe = sk_live_{}", rng.chars(ALNUM, 24)),
        6 => format!("google AIza{}", rng.chars(ALNUM, 35)),
        _ => format!("glpat-{}", rng.chars(ALNUM, 20)),
    }
}

/// Decoys: look like secrets to a naive pattern, must not be findings.
fn decoy(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => "Please reset your password in settings.".to_string(),
        1 => "The AKIA prefix marks long-term keys; see AKIAIOSFODNN7EXAMPLE in the docs."
            .to_string(),
        2 => format!("test key sk_test_{}", rng.chars(ALNUM, 24)),
        3 => format!(
            "id {}-{}-4{}-a{}-{}",
            rng.chars(HEX, 8),
            rng.chars(HEX, 4),
            rng.chars(HEX, 3),
            rng.chars(HEX, 3),
            rng.chars(HEX, 12)
        ),
        4 => format!("commit {}", rng.chars(HEX, 40)),
        5 => format!(
            "version {}.{}.{}",
            rng.below(20),
            rng.below(100),
            rng.below(1000)
        ),
        6 => format!(
            "call +1 555-{:03}-{:04}",
            rng.below(1000),
            rng.below(10_000)
        ),
        7 => format!(
            "order {}",
            40_000_000_000_000_000u64 + rng.next() % 1_000_000_000_000
        ),
        8 => "SSN format is xxx-xx-xxxx, e.g. 000-12-3456 is invalid".to_string(),
        _ => format!("blob {}", rng.chars(B64, 24)),
    }
}

fn source_line(rng: &mut Rng, out: &mut String) {
    let id = rng.pick(&[
        "count", "total", "offset", "buffer", "config", "handler", "request", "session",
    ]);
    match rng.below(6) {
        0 => writeln!(
            out,
            "    let {id} = compute_{id}(&input, {});",
            rng.below(10_000)
        ),
        1 => writeln!(
            out,
            "    if {id}.len() > {} {{ return Err(Error::TooLong({id}.len())); }}",
            rng.below(4096)
        ),
        2 => writeln!(out, "{id}_timeout_ms = {}", rng.below(60_000)),
        3 => writeln!(
            out,
            "    // TODO: {} {} {}",
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS)
        ),
        4 => writeln!(
            out,
            "    \"{id}\": {{ \"enabled\": true, \"limit\": {} }},",
            rng.below(1000)
        ),
        _ => writeln!(
            out,
            "fn {id}_{}(x: u64) -> u64 {{ x.wrapping_mul(0x{}) }}",
            rng.below(100),
            rng.chars(HEX, 16)
        ),
    }
    .ok();
}

static PLANTED_BY_KIND: [std::sync::atomic::AtomicU64; 8] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 8];
const PLANTED_KINDS: [&str; 8] = [
    "aws-access-key-id",
    "github-token",
    "payment-card",
    "slack-token",
    "password-assignment",
    "stripe-live-key",
    "google-api-key",
    "gitlab-token",
];

/// Writes the corpus; returns (bytes, planted secrets).
fn build_corpus(dir: &Path, total_mb: usize) -> (u64, u64) {
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let mut bytes = 0u64;
    let mut planted_n = 0u64;
    let file_size = 1 << 20;
    for f in 0..total_mb {
        let sub = dir.join(format!("d{:02}", f % 16));
        std::fs::create_dir_all(&sub).expect("create corpus dir");
        let mut text = String::with_capacity(file_size + 4096);
        while text.len() < file_size {
            match rng.below(100) {
                0 => {
                    let kind = rng.below(8);
                    PLANTED_BY_KIND[kind].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    text.push_str(&planted(&mut rng, kind));
                    text.push('\n');
                    planted_n += 1;
                }
                1..=3 => {
                    text.push_str(&decoy(&mut rng));
                    text.push('\n');
                }
                4..=50 => source_line(&mut rng, &mut text),
                _ => {
                    for _ in 0..(8 + rng.below(12)) {
                        text.push_str(rng.pick(WORDS));
                        text.push(' ');
                    }
                    text.push_str(".\n");
                }
            }
        }
        let path = sub.join(format!("f{f:04}.{}", if f % 2 == 0 { "md" } else { "rs" }));
        std::fs::write(&path, &text).expect("write corpus file");
        bytes += text.len() as u64;
    }
    (bytes, planted_n)
}

/// The scanners' patterns for ripgrep (no validators: rg cannot run Luhn or entropy checks).
const RG_PATTERNS: &[&str] = &[
    r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{36}\b",
    r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
    r"glpat-[A-Za-z0-9_\-]{20,64}",
    r"xox[abprs]-[0-9]{6,15}-[A-Za-z0-9\-]{8,250}",
    r"hooks\.slack\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}",
    r"ATATT3[A-Za-z0-9_\-=]{50,400}",
    r"AIza[0-9A-Za-z_\-]{35}",
    r"[sr]k_live_[0-9A-Za-z]{24,247}",
    r"sk-[A-Za-z0-9_\-]{10,250}T3BlbkFJ[A-Za-z0-9_\-]{10,250}",
    r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----",
    r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{16,}",
    r#"(?i:password|passwd|passphrase|pwd)[A-Za-z0-9_\-]{0,30}["']?[ \t]{0,8}(?::=|=>|=|:)[ \t]{0,8}["']?[^\s"']{8,}"#,
    r#"(?i:secret|token|api_key|apikey|api-key|access_key)[A-Za-z0-9_\-]{0,30}["']?[ \t]{0,8}(?::=|=>|=|:)[ \t]{0,8}["']?[A-Za-z0-9+/=_\-.~]{16,}"#,
    r"(?i:aws|secret_access_key)[^\n]{0,200}[A-Za-z0-9/+]{40}",
    r"\b[0-9]{4}[ \-]?[0-9]{4}[ \-]?[0-9]{4}[ \-]?[0-9]{1,7}\b",
    r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b",
    r"(?i:\bssn\b|social security)[^\n]{0,100}[0-9]{3}[\- ]?[0-9]{2}[\- ]?[0-9]{4}",
    r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]{1,253}\.[A-Za-z]{2,}",
];

fn time_rg(dirs: &[PathBuf], threads: usize) -> Option<(f64, u64)> {
    let mut cmd = Command::new("rg");
    cmd.args([
        "--no-config",
        "--no-unicode",
        "-uuu",
        "--count-matches",
        "--no-filename",
        "-j",
    ])
    .arg(threads.to_string());
    for p in RG_PATTERNS {
        cmd.arg("-e").arg(p);
    }
    cmd.args(dirs).stdout(Stdio::piped()).stderr(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().ok()?;
    let secs = start.elapsed().as_secs_f64();
    let lines: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .sum();
    Some((secs, lines))
}

/// CPU seconds (user + system) of this process so far, from /proc: on a shared machine wall time measures the
/// neighbours too, CPU time measures the scanner.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn time_vigil(dirs: &[PathBuf]) -> (f64, vigil::scan::ScanSummary, Vec<u8>) {
    let mut out = Vec::new();
    let cpu = cpu_secs();
    let start = Instant::now();
    let threads = std::env::var("VIGIL_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let opts = ScanOptions {
        threads,
        ..ScanOptions::default()
    };
    let summary =
        run_with(dirs, ScanFormat::Csv, &mut out, &Tuning::default(), &opts).expect("scan runs");
    let wall = start.elapsed().as_secs_f64();
    println!("  run: wall {:.3} s, cpu {:.2} s", wall, cpu_secs() - cpu);
    (wall, summary, out)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn docs() {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc on PATH");
    let root =
        PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim()).join("share/doc/rust/html");
    let dirs: Vec<PathBuf> = match std::env::var_os("VIGIL_BENCH_PATHS") {
        Some(paths) => std::env::split_paths(&paths).collect(),
        None => ["book", "reference", "std"]
            .iter()
            .map(|d| root.join(d))
            .collect(),
    };
    let _warm = time_vigil(&dirs);
    let (secs, summary, out) = time_vigil(&dirs);
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    lock.write_all(&out).ok();
    writeln!(lock, "scanned trees: {summary}").ok();
    writeln!(
        lock,
        "vigil: {:.2} s, {:.0} MB/s, {} findings",
        secs,
        mb(summary.bytes_scanned) / secs,
        summary.findings
    )
    .ok();
    if let Some((rs, hits)) = time_rg(&dirs, 1) {
        writeln!(
            lock,
            "rg -j1 (patterns only, no validation): {:.2} s, {:.0} MB/s, {hits} raw matches",
            rs,
            mb(summary.bytes_scanned) / rs
        )
        .ok();
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench binaries without it: skip the work.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let want_docs =
        std::env::args().any(|a| a == "docs") || std::env::var_os("VIGIL_BENCH_DOCS").is_some();
    if want_docs {
        docs();
        return;
    }
    let total_mb: usize = std::env::var("VIGIL_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    let (bytes, planted) = build_corpus(dir.path(), total_mb);
    println!(
        "corpus: {:.0} MB in {} files, {planted} planted secrets, built in {:.1} s",
        mb(bytes),
        total_mb,
        t.elapsed().as_secs_f64()
    );
    let dirs = vec![dir.path().to_path_buf()];
    let (_, _, warm_out) = time_vigil(&dirs);
    if std::env::var_os("VIGIL_BENCH_PRINT").is_some() {
        std::io::stdout().write_all(&warm_out).ok();
    }
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..3 {
        let (secs, summary, _) = time_vigil(&dirs);
        best = best.min(secs);
        last = Some(summary);
    }
    if let Some(s) = last {
        println!(
            "vigil::scan::run: best of 3 {:.3} s = {:.0} MB/s ({s})",
            best,
            mb(s.bytes_scanned) / best
        );
        println!("planted {planted}, found {}", s.findings);
        let csv = String::from_utf8_lossy(&warm_out);
        for (i, kind) in PLANTED_KINDS.iter().enumerate() {
            let found = csv
                .lines()
                .filter(|l| l.contains(&format!(",{kind},")))
                .count();
            let want = PLANTED_BY_KIND[i].load(std::sync::atomic::Ordering::Relaxed);
            println!("  {kind}: planted {want}, found {found}");
        }
        let others = csv
            .lines()
            .skip(1)
            .filter(|l| !PLANTED_KINDS.iter().any(|k| l.contains(&format!(",{k},"))))
            .count();
        println!("  other scanners: found {others}");
    }
    for threads in [1, 2] {
        match (time_rg(&dirs, threads), time_rg(&dirs, threads)) {
            (Some((a, hits)), Some((b, _))) => {
                let secs = a.min(b);
                println!(
                    "rg -j{threads} (same patterns, no validation): {:.3} s = {:.0} MB/s, {hits} raw matches",
                    secs,
                    mb(bytes) / secs
                );
            }
            _ => {
                println!("rg not on PATH: no comparison");
                break;
            }
        }
    }
}
