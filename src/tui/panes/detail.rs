//! The alert detail: what happened, who, where, the links, the evidence (listed, summarised for crawls,
//! compared with the baseline for logins), then what to do, what was done and where it was sent. Built as
//! lines, wrapped here with a hanging indent (so the scroll knows where the content ends), then scrolled.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{FrameLink, block};
use crate::model::text::plural;
use crate::model::{Alert, AlertStatus, Delivery, DeliveryState, Evidence};
use crate::tui::state::{AppState, alert_links};
use crate::tui::theme::Theme;
use crate::tui::widgets::{attempt_result, clean, full_time, latency, short_time, status_name};
use crate::tui::wrap::{fit, str_width, wrap};

/// Most evidence events listed in the detail; the timeline shows the rest.
pub const EVIDENCE_SHOWN: usize = 200;

/// One line of the detail before wrapping: its text, the indent of its continuation lines, and the URL it
/// shows (a link line is never wrapped: its URL is cut to the pane instead).
pub struct DetailLine {
    pub line: Line<'static>,
    pub hang: usize,
    pub link: Option<String>,
}

impl DetailLine {
    fn new(line: Line<'static>, hang: usize) -> Self {
        Self {
            line,
            hang,
            link: None,
        }
    }
}

impl From<Line<'static>> for DetailLine {
    fn from(line: Line<'static>) -> Self {
        let lead = line
            .spans
            .first()
            .map_or(0, |s| s.content.len() - s.content.trim_start().len());
        Self::new(line, lead + 2)
    }
}

/// What the detail drew: its wrapped height, the rows it had, and where its links landed.
#[derive(Debug, Default)]
pub struct DetailFrame {
    pub rows: usize,
    pub view: usize,
    pub links: Vec<FrameLink>,
}

/// Draw the current alert's detail; returns what the app keeps of the frame (scroll limits, links).
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) -> DetailFrame {
    let Some(a) = s.current_alert() else {
        let b = block(" Detail ".into(), theme, focused);
        f.render_widget(
            Paragraph::new(Line::styled("No alert selected.", theme.dim())).block(b),
            area,
        );
        return DetailFrame::default();
    };
    let title = format!(" Detail · {} ", clean(&a.title, 40));
    let b = block(title, theme, focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let width = usize::from(inner.width).max(1);
    let evidence = s.detail.evidence_of(a.id);
    let source = lines(
        a,
        s.detail.deliveries_of(a.id),
        evidence,
        s.org_id.as_deref(),
        theme,
    );
    // Wrap, remembering which wrapped line shows which link.
    let mut wrapped: Vec<(Line<'static>, Option<String>)> = Vec::new();
    for l in source {
        match l.link {
            Some(url) => {
                let mut line = l.line;
                let used: usize = line.spans.iter().map(|s| str_width(&s.content)).sum();
                let shown = fit(&url, width.saturating_sub(used).max(1));
                line.spans.push(Span::styled(
                    shown,
                    theme.dim().add_modifier(Modifier::UNDERLINED),
                ));
                wrapped.push((line, Some(url)));
            }
            None => wrapped.extend(wrap(l.line, width, l.hang).into_iter().map(|w| (w, None))),
        }
    }
    let view = usize::from(inner.height);
    let max = wrapped.len().saturating_sub(view);
    let scroll = s.detail.scroll.min(max);
    let mut links = Vec::new();
    let shown: Vec<Line> = wrapped
        .iter()
        .skip(scroll)
        .take(view)
        .enumerate()
        .map(|(row, (line, url))| {
            if let Some(url) = url
                && let Some(last) = line.spans.last()
            {
                let x0: usize = line.spans[..line.spans.len() - 1]
                    .iter()
                    .map(|s| str_width(&s.content))
                    .sum();
                let w = str_width(&last.content);
                links.push(FrameLink {
                    x: inner.x + x0.min(width) as u16,
                    y: inner.y + row as u16,
                    width: w.min(width - x0.min(width)) as u16,
                    url: url.clone(),
                });
            }
            line.clone()
        })
        .collect();
    f.render_widget(Paragraph::new(shown), inner);
    // Cells under a link carry its hash as an (unused) underline colour: two links with the same text
    // differ in the buffer, so a changed link is redrawn even where its text is not.
    for l in &links {
        let tag = Color::Indexed(url_tag(&l.url));
        for x in l.x..l.x + l.width {
            f.buffer_mut()[(x, l.y)].underline_color = tag;
        }
    }
    DetailFrame {
        rows: wrapped.len(),
        view,
        links,
    }
}

fn url_tag(url: &str) -> u8 {
    url.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    }) as u8
}

fn section(name: String, theme: Theme) -> DetailLine {
    DetailLine::new(Line::styled(name, theme.heading()), 2)
}

fn field(label: &str, value: String, theme: Theme) -> DetailLine {
    DetailLine::new(
        Line::from(vec![
            Span::styled(format!("  {label:<10}"), theme.dim()),
            Span::raw(value),
        ]),
        12,
    )
}

/// A status in words: `true positive`, not `true_positive`.
pub fn status_words(s: AlertStatus) -> &'static str {
    match s {
        AlertStatus::Expected => "expected (benign)",
        s => status_name(s),
    }
}

/// A duration in words for the detail: `10 min`, `1 h`, `2 h 5 min`, `3 days`.
fn duration_words(secs: u64) -> String {
    let mins = secs / 60;
    match (mins / 1440, (mins % 1440) / 60, mins % 60) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, _, _) => plural(d as usize, "day", "days"),
    }
}

/// The detail's lines, in reading order: what happened, who, where, links, evidence, what to do, what was
/// done, where it was sent. `deliveries` and `evidence` are `None` while they load.
pub fn lines(
    a: &Alert,
    deliveries: Option<&[Delivery]>,
    evidence: Option<&Result<Evidence, String>>,
    org_id: Option<&str>,
    theme: Theme,
) -> Vec<DetailLine> {
    let mut out: Vec<DetailLine> = Vec::new();
    out.push(DetailLine::new(
        Line::styled(clean(&a.title, 200), theme.bold()),
        2,
    ));
    let assignee = match &a.assignee {
        Some(who) => format!("assigned to {}", clean(who, 60)),
        None => "unassigned".to_string(),
    };
    out.push(DetailLine::new(
        Line::from(vec![
            Span::styled(a.severity.as_str().to_string(), theme.severity(a.severity)),
            Span::raw(" · "),
            Span::styled(status_words(a.status), theme.status(a.status)),
            Span::raw(format!(
                " · {assignee} · {}",
                clean(a.detection.as_str(), 60)
            )),
        ]),
        2,
    ));
    let ok_evidence = evidence.and_then(|r| r.as_ref().ok());

    out.push(section("What happened".into(), theme));
    let trigger = ok_evidence.and_then(|e| e.trigger(a.created));
    if let Some(e) = trigger {
        out.push(Line::raw(format!("  {}", clean(&e.describe(), 300))).into());
    } else if let Some(subject) = &a.subject {
        out.push(Line::raw(format!("  on {}", clean(subject, 300))).into());
    }
    match (a.window_secs, a.threshold) {
        (Some(w), Some(t)) => out.push(
            Line::raw(format!(
                "  {} counted; it fires at {} within {}",
                plural(a.count as usize, "activity", "activities"),
                t,
                duration_words(w)
            ))
            .into(),
        ),
        _ if a.count > 1 => out.push(
            Line::raw(format!(
                "  {} grouped into this alert",
                plural(a.count as usize, "activity", "activities")
            ))
            .into(),
        ),
        _ => {}
    }
    out.push(Line::raw(format!("  {}", clean(&a.description, 2000))).into());

    out.push(section("When".into(), theme));
    out.push(field("started", full_time(a.time_start), theme));
    if let Some(end) = a.time_end {
        out.push(field("last seen", full_time(end), theme));
    }
    out.push(field("raised", full_time(a.created), theme));

    out.push(section("Who".into(), theme));
    if let Some(n) = &a.actor.name {
        out.push(field("name", clean(n, 80), theme));
    }
    if let Some(e) = &a.actor.email {
        out.push(field("email", clean(e, 80), theme));
    }
    out.push(field("account", clean(&a.actor.id, 80), theme));
    let from: Vec<String> = [a.actor.country.as_deref(), a.actor.ip.as_deref()]
        .into_iter()
        .flatten()
        .map(|s| clean(s, 60))
        .collect();
    if !from.is_empty() {
        out.push(field("from", from.join(" · "), theme));
    }

    let place: Vec<String> = [a.product.as_deref(), a.site.as_deref()]
        .into_iter()
        .flatten()
        .map(|s| clean(s, 60))
        .collect();
    if !place.is_empty() || a.subject.is_some() {
        out.push(section("Where".into(), theme));
        if !place.is_empty() {
            out.push(field("site", place.join(" · "), theme));
        }
        if let Some(subject) = &a.subject {
            out.push(field("subject", clean(subject, 300), theme));
        }
    }

    let links = alert_links(a, ok_evidence, org_id);
    out.push(section("Links (y copies)".into(), theme));
    for (i, l) in links.iter().enumerate() {
        out.push(DetailLine {
            line: Line::from(vec![Span::styled(
                format!("  {} {:<11}", i + 1, l.label),
                theme.dim(),
            )]),
            hang: 0,
            link: Some(l.url.clone()),
        });
    }
    if org_id.is_none() {
        out.push(
            Line::styled(
                "  (admin page: needs the org_id of an atlassian_api source)",
                theme.dim(),
            )
            .into(),
        );
    } else if links.is_empty() {
        out.push(Line::styled("  (none known)", theme.dim()).into());
    }

    evidence_section(&mut out, a, evidence, theme);

    if !a.matches.is_empty() {
        out.push(section("Found (redacted)".into(), theme));
        for m in &a.matches {
            let place = if m.field.is_empty() {
                String::new()
            } else {
                format!(" in the {}", clean(&m.field, 20))
            };
            out.push(
                Line::raw(format!(
                    "  {}{place}: {}  fingerprint {}",
                    clean(&m.kind, 30),
                    clean(&m.redacted, 60),
                    clean(&m.fingerprint, 16)
                ))
                .into(),
            );
        }
    }
    list(&mut out, "Investigate", &a.investigation_steps, theme);
    list(&mut out, "Remediate", &a.remediation, theme);
    out.push(section(format!("Notes ({})", a.notes.len()), theme));
    for n in &a.notes {
        out.push(
            Line::styled(
                format!("  {} {}", full_time(n.time), clean(&n.author, 30)),
                theme.dim(),
            )
            .into(),
        );
        for l in n.text.lines() {
            out.push(DetailLine::new(
                Line::raw(format!("    {}", clean(l, 500))),
                4,
            ));
        }
    }
    out.push(section("History".into(), theme));
    if a.history.is_empty() {
        out.push(Line::styled("  (no changes yet)", theme.dim()).into());
    }
    for h in &a.history {
        out.push(DetailLine::new(
            Line::raw(format!(
                "  {} {}: {}",
                full_time(h.time),
                clean(&h.who, 30),
                clean(&h.what, 200)
            )),
            4,
        ));
    }
    if !a.external.is_empty() {
        let ext: Vec<String> = a
            .external
            .iter()
            .map(|(k, v)| format!("{} {}", clean(k, 20), clean(v, 40)))
            .collect();
        out.push(field("tickets", ext.join(", "), theme));
    }
    deliveries_section(&mut out, deliveries, theme);
    out
}

/// The evidence: a summary fitted to the detection (spaces and pages of a crawl, the baseline of a login,
/// the journey of impossible travel), then the events, those that made the threshold marked `●`.
fn evidence_section(
    out: &mut Vec<DetailLine>,
    a: &Alert,
    evidence: Option<&Result<Evidence, String>>,
    theme: Theme,
) {
    let ev = match evidence {
        None => {
            out.push(section(
                format!("Evidence ({})", plural(a.evidence.len(), "event", "events")),
                theme,
            ));
            out.push(Line::styled("  loading…", theme.dim()).into());
            return;
        }
        Some(Err(e)) => {
            out.push(section("Evidence".into(), theme));
            out.push(
                Line::styled(
                    format!("  could not load: {}", clean(e, 200)),
                    theme.error(),
                )
                .into(),
            );
            return;
        }
        Some(Ok(ev)) => ev,
    };
    let mut head = format!("Evidence ({}", plural(ev.events.len(), "event", "events"));
    if ev.missing > 0 {
        head.push_str(&format!(", {} no longer stored", ev.missing));
    }
    if a.count > a.evidence.len() as u64 {
        head.push_str(&format!(", of {} counted", a.count));
    }
    head.push(')');
    out.push(section(head, theme));

    let det = a.detection.as_str();
    if det == "login-new-country" || det == "impossible-travel" {
        let mut line = String::from("  seen before (90 days): ");
        if !ev.baseline_read {
            line.push_str("Enter opens the detail with the logins of the last 90 days");
        } else if ev.baseline.is_empty() {
            line.push_str("no earlier login with a country");
        } else {
            let seen: Vec<String> = ev
                .baseline
                .iter()
                .take(8)
                .map(|c| {
                    format!(
                        "{} ({}, last {})",
                        clean(&c.country, 40),
                        plural(c.logins as usize, "login", "logins"),
                        c.last.format("%Y-%m-%d")
                    )
                })
                .collect();
            line.push_str(&seen.join(" · "));
            if ev.baseline.len() > 8 {
                line.push_str(&format!(" · {} more", ev.baseline.len() - 8));
            }
        }
        if ev.baseline_capped {
            line.push_str(" (from the earliest logins only: the actor has very many events)");
        }
        out.push(DetailLine::new(Line::raw(line), 4));
        if let Some(country) = &a.actor.country {
            let known = ev
                .baseline
                .iter()
                .any(|c| c.country.eq_ignore_ascii_case(country));
            out.push(DetailLine::new(
                Line::from(vec![
                    Span::raw("  this login: "),
                    Span::styled(
                        format!(
                            "{}{}",
                            clean(country, 40),
                            if known { "" } else { " — new" }
                        ),
                        if known { theme.bold() } else { theme.error() },
                    ),
                ]),
                4,
            ));
        }
    }
    if det == "impossible-travel"
        && let Some(t) = ev.travel()
    {
        let speed = t.kmh.map_or_else(
            || "at the same instant".to_string(),
            |v| format!("{v:.0} km/h"),
        );
        out.push(DetailLine::new(
            Line::raw(format!(
                "  {} {} → {} {}: {:.0} km in {} = {speed}",
                short_time(t.from_time),
                clean(&t.from, 80),
                short_time(t.to_time),
                clean(&t.to, 80),
                t.km,
                duration_words((t.to_time - t.from_time).num_seconds().unsigned_abs())
            )),
            4,
        ));
    }
    if a.threshold.is_some() {
        let spaces = ev.containers(6);
        if !spaces.is_empty() {
            let s: Vec<String> = spaces
                .iter()
                .map(|t| format!("{} ({})", clean(&t.name, 40), t.count))
                .collect();
            out.push(DetailLine::new(
                Line::raw(format!("  where: {}", s.join(" · "))),
                4,
            ));
        }
        let distinct = ev.top_objects(usize::MAX).len();
        if distinct > 0 {
            out.push(DetailLine::new(
                Line::raw(format!(
                    "  touched: {}",
                    plural(distinct, "distinct object", "distinct objects")
                )),
                4,
            ));
        }
        let top = ev.top_objects(5);
        if top.first().is_some_and(|t| t.count > 1) {
            let s: Vec<String> = top
                .iter()
                .map(|t| format!("'{}' ({})", clean(&t.name, 50), t.count))
                .collect();
            out.push(DetailLine::new(
                Line::raw(format!("  most: {}", s.join(" · "))),
                4,
            ));
        }
        out.push(Line::styled("  ● made the threshold", theme.dim()).into());
    }
    let multi_day = match (ev.events.first(), ev.events.last()) {
        (Some(f), Some(l)) => f.time.date_naive() != l.time.date_naive(),
        _ => false,
    };
    for e in ev.events.iter().take(EVIDENCE_SHOWN) {
        let mark = if Evidence::made_threshold(a, e) {
            "●"
        } else {
            " "
        };
        // The day is in "When" unless the evidence spans days; the actor's usual IP is in "Who".
        let time = if multi_day {
            e.time.format("%m-%d %H:%M:%S ")
        } else {
            e.time.format("%H:%M:%S ")
        };
        let mut spans = vec![
            Span::styled(format!("  {mark} "), theme.marked()),
            Span::styled(time.to_string(), theme.dim()),
            Span::raw(clean(&e.action, 40)),
        ];
        if let Some(w) = e.what() {
            spans.push(Span::raw(format!(" '{}'", clean(w, 80))));
        }
        if let Some(c) = e.container_key() {
            spans.push(Span::styled(format!(" {}", clean(c, 40)), theme.dim()));
        }
        if let Some(ip) = e
            .location
            .as_ref()
            .and_then(|l| l.ip.as_deref())
            .filter(|ip| a.actor.ip.as_deref() != Some(*ip))
        {
            spans.push(Span::styled(format!(" {}", clean(ip, 45)), theme.dim()));
        }
        out.push(DetailLine::new(Line::from(spans), 6));
    }
    if ev.events.len() > EVIDENCE_SHOWN {
        out.push(
            Line::styled(
                format!(
                    "  … {} more in the timeline (3)",
                    ev.events.len() - EVIDENCE_SHOWN
                ),
                theme.dim(),
            )
            .into(),
        );
    }
}

/// Where the alert was sent: per delivery its integration, why it was sent, where it stands and the issue
/// it became, then its latest attempt.
fn deliveries_section(out: &mut Vec<DetailLine>, deliveries: Option<&[Delivery]>, theme: Theme) {
    let Some(list) = deliveries else {
        out.push(section("Deliveries".into(), theme));
        out.push(Line::styled("  loading…", theme.dim()).into());
        return;
    };
    out.push(section(format!("Deliveries ({})", list.len()), theme));
    if list.is_empty() {
        out.push(Line::styled("  (not sent anywhere)", theme.dim()).into());
    }
    for d in list {
        let state = match d.state {
            DeliveryState::Delivered => theme.ok(),
            DeliveryState::Dead => theme.error(),
            DeliveryState::Pending => theme.marked(),
        };
        let mut head = vec![
            Span::raw("  "),
            Span::styled(clean(&d.integration, 40), theme.bold()),
            Span::styled(format!(" {} ", d.event), theme.dim()),
            Span::styled(d.state.as_str(), state),
        ];
        if d.state == DeliveryState::Pending {
            head.push(Span::styled(
                format!(" (next {})", short_time(d.due)),
                theme.dim(),
            ));
        }
        if let Some(key) = &d.external {
            head.push(Span::raw(format!(" {}", clean(key, 40))));
        }
        out.push(DetailLine::new(Line::from(head), 4));
        let tries = plural(d.tries as usize, "try", "tries");
        let mut detail = format!("    {tries}");
        if let Some(a) = d.last_attempt() {
            detail.push_str(&format!(
                " · last {} {} · {}",
                short_time(a.at),
                attempt_result(a),
                latency(a.latency_ms)
            ));
        }
        out.push(DetailLine::new(Line::styled(detail, theme.dim()), 4));
    }
}

fn list(out: &mut Vec<DetailLine>, name: &str, items: &[String], theme: Theme) {
    if items.is_empty() {
        return;
    }
    out.push(section(name.to_string(), theme));
    for (i, s) in items.iter().enumerate() {
        let prefix = format!("  {}. ", i + 1);
        out.push(DetailLine::new(
            Line::raw(format!("{prefix}{}", clean(s, 500))),
            prefix.len(),
        ));
    }
}
