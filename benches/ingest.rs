//! Ingest bench: 1M generated events — end-to-end (parse → store → detect → flush) in time order, reversed
//! and shuffled (out-of-order events make their actors re-detected from the store), parse-only, and bare sled
//! inserting the same events packed as the store packs them (every actor-day's runs built at once, the floor
//! under incremental appends and merges) with nothing else to do, in events/s; bytes on disk; peak RSS.
//!
//! `cargo bench --bench ingest` (set `VIGIL_BENCH_EVENTS` for another size, `VIGIL_BENCH_DAYS` for the span
//! the events cover, 30 by default, and `VIGIL_BENCH_PHASES` to a
//! comma-separated list to run only those phases: `VIGIL_BENCH_EVENTS=10000000 VIGIL_BENCH_PHASES=e2e` is the
//! 10M bar, ~10 GB of input in a temporary directory; `VIGIL_BENCH_EVENTS=1000000,10000000` runs the end-to-end
//! phase at 1M, 10M and 1M again and prints the 10M rate against the mean of the two 1M runs, the flat-rate
//! bar measured so that a drift in the machine's speed moves both sides). Each phase runs in a child process
//! so its peak RSS (VmHWM) is its own. The end-to-end phases print the store's live bytes next to its bytes on disk, and the
//! time to open it again.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use vigil::detect::tuning::Tuning;
use vigil::engine::Pipeline;
use vigil::generate::{GenerateOptions, write_jsonl};
use vigil::ingest::{Reader, Record};
use vigil::store::{Store, StoreOptions, event_runs};

/// sled allocates on every insert; glibc's allocator spent ~40% of ingest time in malloc/free here, mimalloc
/// a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Start a new peak: what VmHWM reads from now on is the peak since this call (Linux 4.0+), so each step
/// after the ingest gets a figure of its own. Returns the peak until now.
fn next_peak(peaks: &mut Vec<(&'static str, f64)>, step: &'static str) -> f64 {
    let peak = peak_rss_mb();
    peaks.push((step, peak));
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    peak
}

/// The highest peak of every step so far (the whole process's, as VmHWM without resets would read).
static PROCESS_PEAK: std::sync::Mutex<f64> = std::sync::Mutex::new(0.0);

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e.metadata().unwrap();
            n += if m.is_dir() {
                dir_size(&e.path())
            } else {
                m.len()
            };
        }
    }
    n
}

/// User plus system CPU seconds of this process so far (every thread), from `/proc/self/stat`: with the wall
/// time it says whether a slower run did more work or waited, which on a shared machine whose speed varies
/// from run to run is the difference between a cost that grows and a noisy neighbour.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th, stime 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Clock ticks: 100 a second on every Linux this runs on (sysconf would say, without a libc crate here).
    (ticks(11) + ticks(12)) / 100.0
}

/// Events stored against time during an ingest, sampled from the store's counter by a thread of its own: the
/// rate over each tenth of the events shows whether it falls as the store grows, within one run, where two
/// runs minutes apart also differ by what else the machine is doing.
struct Progress {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(f64, u64)>>,
}

impl Progress {
    fn start(store: Store, start: Instant) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = vec![(0.0, 0)];
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(200));
                samples.push((start.elapsed().as_secs_f64(), store.event_count()));
            }
            samples
        });
        Self { stop, thread }
    }

    fn stop(self) -> Vec<(f64, u64)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// The rate over each tenth of `total` events, from (seconds, events stored) samples: the time each tenth
/// was reached is interpolated between the samples around it. The counter moves as held events are written,
/// so a tenth is a few batches off the input's, which evens out over a tenth of a million events.
fn rate_by_tenth(samples: &[(f64, u64)], total: u64) -> String {
    let at = |n: u64| -> Option<f64> {
        let i = samples.iter().position(|s| s.1 >= n)?;
        if i == 0 {
            return Some(samples[0].0);
        }
        let ((t0, n0), (t1, n1)) = (samples[i - 1], samples[i]);
        Some(t0 + (t1 - t0) * (n - n0) as f64 / (n1 - n0).max(1) as f64)
    };
    let mut out = Vec::new();
    for k in 0..10u64 {
        let (lo, hi) = (total * k / 10, total * (k + 1) / 10);
        match (at(lo), at(hi)) {
            (Some(a), Some(b)) if b > a => {
                out.push(format!("{:.1}k", (hi - lo) as f64 / (b - a) / 1e3))
            }
            _ => out.push("?".into()),
        }
    }
    out.join(" ")
}

fn phase(name: &str, file: &Path, work: &Path) -> (f64, u64) {
    let start = Instant::now();
    let n_events = match name {
        "parse" => {
            let mut r = Reader::new(std::fs::File::open(file).unwrap());
            let mut n = 0u64;
            while let Some(rec) = r.next_record().unwrap() {
                if let Record::Event(_) = rec {
                    n += 1;
                }
            }
            n
        }
        "e2e" | "e2e-reversed" | "e2e-shuffled" => {
            let store = Store::open_with(work, StoreOptions::default()).unwrap();
            let mut p = Pipeline::new(store.clone(), &Tuning::default(), None).unwrap();
            let cpu_before = cpu_seconds();
            let progress = Progress::start(store.clone(), start);
            p.ingest_file("bench", std::fs::File::open(file).unwrap())
                .unwrap();
            let samples = progress.stop();
            let mut peaks = Vec::new();
            next_peak(&mut peaks, "ingest");
            let stats = p.finish().unwrap();
            next_peak(&mut peaks, "finish");
            let writes = store.run_writes();
            let per_k = |n: u64| n as f64 * 1000.0 / stats.ingested.max(1) as f64;
            eprintln!(
                "  {name} runs written per 1,000 events: {:.0} small, {:.0} final",
                per_k(writes.small),
                per_k(writes.final_runs)
            );
            eprintln!(
                "  {name} detector state: {} bytes saved",
                store
                    .meta_get("detector_state")
                    .unwrap()
                    .map_or(0, |v| v.len())
            );
            // As `vigil ingest` ends: the small runs left are compressed too.
            store.seal_small_runs(None).unwrap();
            store.flush().unwrap();
            next_peak(&mut peaks, "seal");
            // The clock stops here: what follows measures the store, it is not ingest.
            let secs = start.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu_before;
            let n_events = stats.ingested;
            eprintln!(
                "  {name} CPU: {:.1} s user+system = {:.1} µs per event, {:.2} cores busy on average",
                cpu,
                cpu * 1e6 / n_events.max(1) as f64,
                cpu / secs
            );
            eprintln!(
                "  {name} rate by tenth of the events stored (events/s): {}",
                rate_by_tenth(&samples, n_events)
            );
            let input = std::fs::metadata(file).map(|m| m.len()).unwrap_or(1) as f64;
            let (live, disk) = (
                store.live_bytes().unwrap() as f64,
                store.size_on_disk() as f64,
            );
            eprintln!(
                "  {name} summary: {stats} (late {}, actors re-detected {})\n  {name} store: {:.1} MB live, {:.1} MB on disk = {:.3}x the {:.1} MB input (live {:.3}x)",
                stats.late,
                stats.redetected,
                live / 1e6,
                disk / 1e6,
                disk / input,
                input / 1e6,
                live / input
            );
            next_peak(&mut peaks, "live-bytes scan");
            // As `vigil ingest` ends: a file mostly garbage is rebuilt (timed on its own, not in the rate).
            let policy = vigil::config::RetentionConfig::default();
            let compact = vigil::engine::retention::needs_compaction(&store, &policy);
            next_peak(&mut peaks, "compaction check");
            let store = if compact {
                let t = Instant::now();
                let (store, before, after) = store.compact(StoreOptions::default()).unwrap();
                eprintln!(
                    "  {name} compacted as vigil ingest ends: {:.1} MB → {:.1} MB on disk = {:.3}x the input, in {:.1} s",
                    before as f64 / 1e6,
                    after as f64 / 1e6,
                    after as f64 / input,
                    t.elapsed().as_secs_f64()
                );
                next_peak(&mut peaks, "compaction");
                store
            } else {
                // As `vigil ingest` ends otherwise: opened once more, so sled's recovery snapshot covers the
                // ingest (timed on its own too).
                let t = Instant::now();
                let store = store.reopen(StoreOptions::default()).unwrap();
                eprintln!(
                    "  {name} reopened as vigil ingest ends (sled's snapshot): {:.0} ms",
                    t.elapsed().as_secs_f64() * 1e3
                );
                next_peak(&mut peaks, "snapshot");
                store
            };
            // Reopened as the next command or UI would open it (page cache warm): the open bar.
            drop(store);
            let t = Instant::now();
            let store = Store::open_with(work, StoreOptions::default()).unwrap();
            let counts = store.status_counts();
            eprintln!(
                "  {name} reopen: {:.0} ms to open the store and count its {} alerts",
                t.elapsed().as_secs_f64() * 1e3,
                counts.total()
            );
            next_peak(&mut peaks, "reopen");
            eprintln!(
                "  {name} peak RSS by step: {}",
                peaks
                    .iter()
                    .map(|(s, mb)| format!("{s} {mb:.0} MB"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut top = PROCESS_PEAK.lock().unwrap();
            *top = peaks.iter().map(|p| p.1).fold(*top, f64::max);
            return (secs, n_events);
        }
        "sled" => {
            // Prepare the runs first (not timed): every actor-day packed as if it arrived at once, the fewest
            // and fullest runs the store could hold. Then time sled alone writing them in arrival order
            // (by first event time), about 1,000 events per batch like the pipeline.
            let mut r = Reader::new(std::fs::File::open(file).unwrap());
            let mut events = Vec::new();
            while let Some(rec) = r.next_record().unwrap() {
                if let Record::Event(ev) = rec {
                    events.push(*ev);
                }
            }
            let n_events = events.len() as u64;
            let mut runs = event_runs(&events);
            drop(events);
            runs.sort_by_key(|(k, _)| (k[12..20].to_vec(), k[..12].to_vec()));
            eprintln!(
                "  {} runs for {n_events} events, all built in memory before the clock starts (so this phase's peak RSS is not the store's)",
                runs.len()
            );
            let db = sled::Config::new()
                .path(work.join("db"))
                .cache_capacity(StoreOptions::default().cache_bytes)
                .mode(sled::Mode::HighThroughput)
                .flush_every_ms(Some(1000))
                .open()
                .unwrap();
            let tree = db.open_tree("event_runs").unwrap();
            let start = Instant::now();
            let mut batch = sled::Batch::default();
            let mut in_batch = 0;
            for (k, v) in &runs {
                batch.insert(&k[..], v.as_slice());
                in_batch += u16::from_be_bytes([v[1], v[2]]) as usize;
                if in_batch >= 1000 {
                    tree.apply_batch(std::mem::take(&mut batch)).unwrap();
                    in_batch = 0;
                }
            }
            tree.apply_batch(batch).unwrap();
            db.flush().unwrap();
            let secs = start.elapsed().as_secs_f64();
            return (secs, n_events);
        }
        _ => panic!("unknown phase {name}"),
    };
    (start.elapsed().as_secs_f64(), n_events)
}

/// Generate `n` events over `days` into a file under `dir`, on disk before it returns (10 GB still being
/// written back would compete with the store's writes, and 1 GB far less, which timed the writeback).
fn generate(n: u64, days: u32, dir: &Path) -> PathBuf {
    let file = dir.join(format!("events-{n}.jsonl"));
    let t = Instant::now();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    // Ending where the default span ends: events in the future would be quarantined as implausible.
    let start = vigil::generate::default_start() - chrono::TimeDelta::days(i64::from(days) - 30);
    let opts = GenerateOptions {
        events: n,
        seed: 1,
        incidents: 50,
        days,
        start,
    };
    write_jsonl(&opts, &mut out).unwrap();
    out.into_inner().unwrap().sync_all().unwrap();
    let bytes = std::fs::metadata(&file).unwrap().len();
    println!(
        "generated {n} events over {days} days ({:.0} MB, {:.0} B/event) in {:.1?}",
        bytes as f64 / 1e6,
        bytes as f64 / n as f64,
        t.elapsed()
    );
    file
}

/// Run one phase in a child process (its peak RSS is its own) over `input`, print its line and return its
/// seconds and events.
fn run_phase(exe: &Path, name: &str, input: &Path, tmp: &Path) -> (f64, f64) {
    // Let the previous phase's dirty pages reach the disk first, so no phase pays for another's writeback.
    let _ = Command::new("sync").status();
    let work = tmp.join(name);
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new(exe)
        .args(["--phase", name])
        .arg(input)
        .arg(&work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let (secs, events, rss, disk) = (f[0], f[1], f[2], f[3]);
    println!(
        "{name:<12} {events:>9} events in {secs:>7.2} s = {:>9.0} events/s   peak RSS {rss:>6.1} MB   on disk {:>6.0} MB ({:.0} MB per million)",
        events / secs,
        disk / 1e6,
        disk / 1e6 / (events / 1e6)
    );
    let _ = std::fs::remove_dir_all(&work);
    (secs, events)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench binaries without it: skip the work.
    if !std::env::args().any(|a| a == "--bench" || a == "--phase") {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--phase") {
        let (name, file, work) = (
            &args[i + 1],
            PathBuf::from(&args[i + 2]),
            PathBuf::from(&args[i + 3]),
        );
        let (secs, n) = phase(name, &file, &work);
        let peak = peak_rss_mb().max(*PROCESS_PEAK.lock().unwrap());
        println!("{secs} {n} {peak} {}", dir_size(&work));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // One size, or several (`VIGIL_BENCH_EVENTS=1000000,10000000`): then the end-to-end phase runs at each
    // size in turn and once more at the first, and each later size's rate is set against the mean of the
    // first size's runs before and after it, so that a machine whose speed drifts over minutes (a shared VM)
    // moves both sides of the ratio.
    let sizes: Vec<u64> = std::env::var("VIGIL_BENCH_EVENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| vec![1_000_000]);
    // The span the events cover: with the generator's organization capped at 2,000 people, 10M events over
    // the default 30 days are 10 times as many per actor-day as 1M; over 300 days, as many.
    let days: u32 = std::env::var("VIGIL_BENCH_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let tmp = tempfile::tempdir().unwrap();
    let inputs: Vec<(u64, PathBuf)> = sizes
        .iter()
        .map(|&n| (n, generate(n, days, tmp.path())))
        .collect();
    let exe = std::env::current_exe().unwrap();
    if inputs.len() > 1 {
        let mut rates = Vec::new();
        for (n, file) in inputs.iter().chain(inputs.first()) {
            let (secs, events) = run_phase(&exe, "e2e", file, tmp.path());
            rates.push((*n, events / secs));
        }
        let first = (rates[0].1 + rates[rates.len() - 1].1) / 2.0;
        for (n, rate) in &rates[1..rates.len() - 1] {
            println!(
                "flat rate: {n} events at {rate:.0} events/s = {:.2}x the {} events' {first:.0} events/s (mean of the runs before and after)",
                rate / first,
                rates[0].0
            );
        }
        return;
    }
    let file = inputs[0].1.clone();

    let only = std::env::var("VIGIL_BENCH_PHASES").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|p| p.trim() == name))
    };
    // The same events reversed (an API export read newest first) and shuffled (a merge of unordered sources),
    // held in memory while they are written: only when those phases run.
    if wanted("e2e-reversed") || wanted("e2e-shuffled") {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.reverse();
        std::fs::write(
            tmp.path().join("events-reversed.jsonl"),
            lines.join("\n") + "\n",
        )
        .unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in (1..lines.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            lines.swap(i, (x % (i as u64 + 1)) as usize);
        }
        std::fs::write(
            tmp.path().join("events-shuffled.jsonl"),
            lines.join("\n") + "\n",
        )
        .unwrap();
        for name in ["events-reversed.jsonl", "events-shuffled.jsonl"] {
            std::fs::File::open(tmp.path().join(name))
                .unwrap()
                .sync_all()
                .unwrap();
        }
    }

    let mut results = std::collections::BTreeMap::new();
    for name in ["parse", "sled", "e2e", "e2e-reversed", "e2e-shuffled"]
        .into_iter()
        .filter(|n| wanted(n))
    {
        let input = match name {
            "e2e-reversed" => tmp.path().join("events-reversed.jsonl"),
            "e2e-shuffled" => tmp.path().join("events-shuffled.jsonl"),
            _ => file.clone(),
        };
        let (secs, _) = run_phase(&exe, name, &input, tmp.path());
        results.insert(name, secs);
    }
    // Since schema 3 the bare-sled phase writes the fullest runs the events could make (each actor-day at
    // once); the pipeline writes them as they arrive and merges, and the prepare thread's parsing is the
    // longer of its two stages.
    if let (Some(e2e), Some(sled), Some(parse)) = (
        results.get("e2e"),
        results.get("sled"),
        results.get("parse"),
    ) {
        println!(
            "end-to-end / bare sled (ideal runs) time ratio: {:.2}; end-to-end / parse-only: {:.2}",
            e2e / sled,
            e2e / parse
        );
    }
}
