//! The actor timeline: the actor's events around the alert with the actor's alerts interleaved.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::block;
use super::queue::visible_offset;
use crate::tui::state::{AppState, TimelineRow};
use crate::tui::theme::Theme;
use crate::tui::widgets::{clean, clean_opt, sev_label, short_time};

/// Draw the timeline.
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) {
    let t = &s.timeline;
    let who = if t.actor.is_some() {
        clean(&t.actor_label, 30)
    } else {
        "no actor".into()
    };
    let mut title = format!(" Timeline · {who} · ±{} ", t.span_label());
    if t.truncated {
        title.push_str("(capped) ");
    }
    let b = block(title, theme, focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let rows = t.rows();
    let msg = if let Some(e) = &t.error {
        Some(Line::styled(
            format!("could not load: {}", clean(e, 200)),
            theme.error(),
        ))
    } else if t.actor.is_none() {
        Some(Line::styled(
            "Pick an alert, then open its timeline.",
            theme.dim(),
        ))
    } else if t.loading && rows.is_empty() {
        Some(Line::styled("loading…", theme.dim()))
    } else if rows.is_empty() {
        Some(Line::styled(
            "No events for this actor in the window.",
            theme.dim(),
        ))
    } else {
        None
    };
    if let Some(m) = msg {
        f.render_widget(Paragraph::new(m), inner);
        return;
    }
    let height = usize::from(inner.height).max(1);
    let offset = visible_offset(t.selected, t.offset, height);
    let around = t.around;
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, row)| {
            let mut line = match *row {
                TimelineRow::Event(k) => {
                    let e = &t.events[k];
                    let evidence = t.alert_for(*row).is_some();
                    // What it was about in words: a search's query, a granted admin's name, a page's title.
                    let mut spans = vec![
                        Span::styled(short_time(e.time), theme.dim()),
                        Span::raw(if evidence { " ◆ " } else { "   " }),
                        Span::raw(clean(&e.action, 32)),
                    ];
                    if let Some(what) = e.what() {
                        spans.push(Span::raw(format!(" '{}'", clean(what, 50))));
                    }
                    if let Some(c) = e.container_key() {
                        spans.push(Span::styled(format!(" {}", clean(c, 20)), theme.dim()));
                    }
                    spans.push(Span::raw(" "));
                    spans.push(Span::styled(
                        clean_opt(e.location.as_ref().and_then(|l| l.ip.as_deref()), 45),
                        theme.dim(),
                    ));
                    Line::from(spans)
                }
                TimelineRow::Alert(k) => {
                    let a = &t.alerts[k];
                    Line::from(vec![
                        Span::styled(short_time(a.created), theme.dim()),
                        Span::styled(" ▶ ALERT ", theme.highlight()),
                        Span::styled(sev_label(a.severity), theme.severity(a.severity)),
                        Span::raw(" "),
                        Span::styled(clean(&a.title, 60), theme.highlight()),
                    ])
                }
            };
            if around.is_some_and(|t0| t.row_time(*row) == t0)
                && matches!(row, TimelineRow::Event(_))
            {
                line = line.patch_style(theme.bold());
            }
            if i == t.selected {
                line = line.patch_style(theme.cursor());
            }
            line
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}
