//! The progress line on stderr: items scanned, findings, items/s and an ETA when the site gave a total,
//! redrawn at most four times a second, and only when stderr is a terminal (a log file gets the final
//! summary line alone). Notes (a resumed scan, a wait after a 429) go on lines of their own.

use std::io::Write;
use std::time::{Duration, Instant};

/// Least time between two redraws.
const REDRAW: Duration = Duration::from_millis(250);

/// What the line shows.
pub(super) struct Snapshot<'a> {
    /// The stream being read, e.g. `jira work items`.
    pub stream: &'a str,
    /// Items of the current stream, and its total when the site said.
    pub stream_items: u64,
    pub stream_total: Option<u64>,
    pub findings: u64,
    /// Items read by this run, and for how long it has run: the rate.
    pub run_items: u64,
    pub elapsed: Duration,
    /// A wait in progress, e.g. `HTTP 429 Too Many Requests; retrying in 1.0 s`.
    pub waiting: Option<&'a str>,
}

/// Draws the line (or does nothing when not on a terminal).
pub struct Progress {
    out: Option<Box<dyn Write + Send>>,
    tty: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl Progress {
    /// On stderr: a live line when `tty`, notes only otherwise.
    pub fn stderr(tty: bool) -> Self {
        Self {
            out: Some(Box::new(std::io::stderr())),
            tty,
            last: None,
            drawn: false,
        }
    }

    /// Nothing at all (tests, benches).
    pub fn silent() -> Self {
        Self {
            out: None,
            tty: false,
            last: None,
            drawn: false,
        }
    }

    /// A line of its own, above the progress line.
    pub(super) fn note(&mut self, text: &str) {
        self.clear();
        if let Some(out) = &mut self.out {
            let _ = writeln!(out, "vigil: {}", crate::model::text::sanitize(text));
        }
    }

    /// Redraw when the last redraw is old enough, or when `force`.
    pub(super) fn update(&mut self, s: &Snapshot<'_>, force: bool) {
        if !self.tty {
            return;
        }
        let now = Instant::now();
        if !force && self.last.is_some_and(|t| now.duration_since(t) < REDRAW) {
            return;
        }
        self.last = Some(now);
        let line = line(s);
        if let Some(out) = &mut self.out {
            let _ = write!(out, "\r\x1b[2K{line}");
            let _ = out.flush();
            self.drawn = true;
        }
    }

    /// Take the line away (before the summary).
    pub(super) fn clear(&mut self) {
        if self.drawn
            && let Some(out) = &mut self.out
        {
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
            self.drawn = false;
        }
    }
}

/// Columns the line may take: it must never wrap (a wrapped line cannot be redrawn in place), and the
/// smallest terminal vigil supports is 80 columns wide.
const WIDTH: usize = 79;

/// The line's text: `jira work items 500/2000 · 3 findings · 100 items/s · ETA 15 s`, or what is being
/// waited for in place of the rate and ETA.
pub(super) fn line(s: &Snapshot<'_>) -> String {
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        s.run_items as f64 / secs
    } else {
        0.0
    };
    let of = s.stream_total.map(|t| format!("/{t}")).unwrap_or_default();
    let head = format!(
        "{} {}{of} · {} findings",
        s.stream, s.stream_items, s.findings
    );
    let tail = match (s.waiting, s.stream_total) {
        (Some(w), _) => w.to_string(),
        (None, Some(total)) if rate > 0.0 => {
            let left = total.saturating_sub(s.stream_items) as f64 / rate;
            format!(
                "{rate:.0} items/s · ETA {}",
                duration(Duration::from_secs_f64(left.min(1e9)))
            )
        }
        (None, _) => format!("{rate:.0} items/s · ETA unknown"),
    };
    crate::model::text::truncate(&format!("{head} · {tail}"), WIDTH)
}

/// `42 s`, `3 m 05 s`, `2 h 10 m`.
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} m {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(total: Option<u64>) -> Snapshot<'static> {
        Snapshot {
            stream: "jira work items",
            stream_items: 500,
            stream_total: total,
            findings: 3,
            run_items: 1000,
            elapsed: Duration::from_secs(10),
            waiting: None,
        }
    }

    #[test]
    fn eta_when_a_total_is_known() {
        let l = line(&snap(Some(2000)));
        assert!(
            l.contains("500/2000") && l.contains("100 items/s") && l.contains("ETA 15 s"),
            "{l}"
        );
        assert!(line(&snap(None)).contains("ETA unknown"));
        assert_eq!(duration(Duration::from_secs(185)), "3 m 05 s");
        assert_eq!(duration(Duration::from_secs(7800)), "2 h 10 m");
    }
}
