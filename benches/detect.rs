//! Detection bench: `Detector::observe` alone over 1M events of the synthetic organization
//! (`vigil::generate`), parsed into memory first so that only detection is timed.
//!
//! `cargo bench --bench detect` (set `VIGIL_BENCH_EVENTS` for another size). Prints events/s, drafts raised
//! and the windows left live. The bar is 1,000,000 events/s on one core.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

use std::time::Instant;

use vigil::detect::Detector;
use vigil::detect::tuning::Tuning;
use vigil::generate::{GenerateOptions, write_jsonl};
use vigil::ingest::{Reader, Record};
use vigil::model::AuditEvent;

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench binaries without it: skip the work.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("VIGIL_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t = Instant::now();
    let mut bytes = Vec::new();
    let opts = GenerateOptions {
        events: n,
        seed: 7,
        incidents: 50,
        ..GenerateOptions::default()
    };
    if let Err(e) = write_jsonl(&opts, &mut bytes) {
        eprintln!("generate failed: {e}");
        std::process::exit(1);
    }
    let mut events: Vec<AuditEvent> = Vec::with_capacity(n as usize);
    let mut reader = Reader::new(bytes.as_slice());
    while let Ok(Some(rec)) = reader.next_record() {
        if let Record::Event(e) = rec {
            events.push(*e);
        }
    }
    drop(bytes);
    println!("prepared {} events in {:.1?}", events.len(), t.elapsed());

    for tuning_name in ["default", "all-more"] {
        let mut tuning = Tuning::default();
        if tuning_name == "all-more" {
            for s in vigil::detect::catalogue::catalogue() {
                tuning.detections.insert(
                    s.id.to_string(),
                    vigil::detect::tuning::DetectionSettings {
                        sensitivity: vigil::detect::tuning::Sensitivity::More,
                        ..Default::default()
                    },
                );
            }
        }
        let Ok(mut detector) = Detector::new(&tuning, b"bench fingerprint key") else {
            eprintln!("detector did not build");
            std::process::exit(1);
        };
        let t = Instant::now();
        let mut drafts = 0usize;
        for e in &events {
            drafts += detector.observe(e).len();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "observe [{tuning_name:>8}] {} events in {secs:.3} s = {:>10.0} events/s   drafts {drafts}   live windows {}   late {}",
            events.len(),
            events.len() as f64 / secs,
            detector.live_windows(),
            detector.stats().late_events,
        );
    }
}
