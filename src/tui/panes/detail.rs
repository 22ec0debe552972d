//! The alert detail: every field of DESIGN §4 and where the alert was sent, scrollable. Built as lines from
//! the alert and its deliveries, then scrolled.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::block;
use crate::model::{Alert, Delivery, DeliveryState};
use crate::tui::state::AppState;
use crate::tui::theme::Theme;
use crate::tui::widgets::{
    attempt_result, clean, clean_opt, field, full_time, latency, short_time, span,
};

/// Draw the current alert's detail.
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) {
    let Some(a) = s.current_alert() else {
        let b = block(" Detail ".into(), theme, focused);
        f.render_widget(
            Paragraph::new(Line::styled("No alert selected.", theme.dim())).block(b),
            area,
        );
        return;
    };
    let title = format!(" Detail · {} ", a.id);
    let lines = lines(a, s.detail.deliveries_of(a.id), theme);
    let p = Paragraph::new(lines)
        .block(block(title, theme, focused))
        .wrap(Wrap { trim: false })
        .scroll((s.detail.scroll, 0));
    f.render_widget(p, area);
}

fn section(name: &str, theme: Theme) -> Line<'static> {
    Line::styled(name.to_string(), theme.heading())
}

/// The detail's lines, in reading order: what, who, why, what to do, what was done, where it was sent.
/// `deliveries` is `None` while they load.
pub fn lines(a: &Alert, deliveries: Option<&[Delivery]>, theme: Theme) -> Vec<Line<'static>> {
    let mut out: Vec<Line<'static>> = Vec::new();
    out.push(Line::styled(clean(&a.title, 200), theme.bold()));
    out.push(Line::from(vec![
        Span::styled(a.severity.as_str().to_string(), theme.severity(a.severity)),
        Span::raw(" · "),
        Span::styled(a.status.as_str().to_string(), theme.status(a.status)),
        Span::raw(format!(" · v{}", a.version)),
    ]));
    let f = |l: &'static str, v: String| field(l, v, theme);
    out.push(f("assignee", clean_opt(a.assignee.as_deref(), 60)));
    out.push(f("detection", clean(a.detection.as_str(), 60)));
    out.push(f("created", full_time(a.created)));
    out.push(f("started", full_time(a.time_start)));
    out.push(f("ended", a.time_end.map_or_else(|| "-".into(), full_time)));
    out.push(f("product", clean_opt(a.product.as_deref(), 60)));
    out.push(f("site", clean_opt(a.site.as_deref(), 60)));
    out.push(f("subject", clean_opt(a.subject.as_deref(), 120)));
    out.push(f("count", a.count.to_string()));
    out.push(section("Actor", theme));
    out.push(f("  name", clean_opt(a.actor.name.as_deref(), 60)));
    out.push(f("  email", clean_opt(a.actor.email.as_deref(), 60)));
    out.push(f("  id", clean(&a.actor.id, 60)));
    out.push(f("  ip", clean_opt(a.actor.ip.as_deref(), 60)));
    out.push(f("  country", clean_opt(a.actor.country.as_deref(), 60)));
    out.push(section("Why it fired", theme));
    match (a.window_secs, a.threshold) {
        (Some(w), Some(t)) => out.push(Line::raw(format!(
            "  {} activities in {} (threshold {} per {})",
            a.count,
            span(w),
            t,
            span(w)
        ))),
        _ => out.push(Line::raw(format!(
            "  single activity rule; {} grouped",
            a.count
        ))),
    }
    out.push(Line::raw(format!("  {}", clean(&a.description, 2000))));
    if !a.matches.is_empty() {
        out.push(section("Matches (redacted)", theme));
        for m in &a.matches {
            out.push(Line::raw(format!(
                "  {}  {}  fp {}",
                clean(&m.kind, 30),
                clean(&m.redacted, 60),
                clean(&m.fingerprint, 16)
            )));
        }
    }
    list(&mut out, "Investigation", &a.investigation_steps, theme);
    list(&mut out, "Remediation", &a.remediation, theme);
    out.push(section(&format!("Notes ({})", a.notes.len()), theme));
    for n in &a.notes {
        out.push(Line::styled(
            format!("  {} {}", full_time(n.time), clean(&n.author, 30)),
            theme.dim(),
        ));
        for l in n.text.lines() {
            out.push(Line::raw(format!("    {}", clean(l, 500))));
        }
    }
    out.push(section("History", theme));
    if a.history.is_empty() {
        out.push(Line::styled("  (no changes yet)", theme.dim()));
    }
    for h in &a.history {
        out.push(Line::raw(format!(
            "  {} {}: {}",
            full_time(h.time),
            clean(&h.who, 30),
            clean(&h.what, 200)
        )));
    }
    out.push(f("evidence", format!("{} event(s)", a.evidence.len())));
    if !a.external.is_empty() {
        let ext: Vec<String> = a
            .external
            .iter()
            .map(|(k, v)| format!("{}={}", clean(k, 20), clean(v, 40)))
            .collect();
        out.push(f("external", ext.join(", ")));
    }
    deliveries_section(&mut out, deliveries, theme);
    out
}

/// Where the alert was sent: per delivery its integration, why it was sent, where it stands and the issue
/// it became, then its latest attempt.
fn deliveries_section(out: &mut Vec<Line<'static>>, deliveries: Option<&[Delivery]>, theme: Theme) {
    let Some(list) = deliveries else {
        out.push(section("Deliveries", theme));
        out.push(Line::styled("  loading…", theme.dim()));
        return;
    };
    out.push(section(&format!("Deliveries ({})", list.len()), theme));
    if list.is_empty() {
        out.push(Line::styled("  (not sent anywhere)", theme.dim()));
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
        out.push(Line::from(head));
        let tries = if d.tries == 1 {
            "1 try".to_string()
        } else {
            format!("{} tries", d.tries)
        };
        let mut detail = format!("    {tries}");
        if let Some(a) = d.last_attempt() {
            detail.push_str(&format!(
                " · last {} {} · {}",
                short_time(a.at),
                attempt_result(a),
                latency(a.latency_ms)
            ));
        }
        out.push(Line::styled(detail, theme.dim()));
    }
}

fn list(out: &mut Vec<Line<'static>>, name: &str, items: &[String], theme: Theme) {
    if items.is_empty() {
        return;
    }
    out.push(section(name, theme));
    for (i, s) in items.iter().enumerate() {
        out.push(Line::raw(format!("  {}. {}", i + 1, clean(s, 500))));
    }
}
