//! The integrations: one row per destination with its switch, state, outbox and last attempt; below, the
//! selected one's endpoint, routing and recent attempts. The pane's keys (test, replay, enable) act on the
//! selected row.
//!
//! Every name, endpoint and error is outside text: it goes through [`clean`] and into table cells, which
//! ratatui cuts by display width, so wide (CJK, emoji) characters cannot push a border out of place.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::block;
use super::queue::visible_offset;
use crate::engine::{IntegrationCondition, IntegrationView};
use crate::model::Attempt;
use crate::tui::state::AppState;
use crate::tui::theme::Theme;
use crate::tui::widgets::{attempt_result, clean, full_time, latency, short_time};

/// Inner width from which the table has room for the endpoint and the time a failure started.
const WIDE_TABLE: u16 = 100;

/// Draw the integrations table and the selected integration's details.
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) {
    let list = &s.integrations;
    let b = block(
        format!(" Integrations ({}) ", list.items.len()),
        theme,
        focused,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    if list.items.is_empty() {
        f.render_widget(
            Paragraph::new(vec![
                Line::styled(
                    "No integrations: alerts stay in vigil. To send them to Slack, Teams, Jira,",
                    theme.bold(),
                ),
                Line::styled(
                    "a webhook or Splunk, add one to the config file (~/.config/vigil/vigil.toml,",
                    theme.bold(),
                ),
                Line::styled(
                    "or the file given with --config), for example:",
                    theme.bold(),
                ),
                Line::raw(""),
                Line::raw("  [[integrations]]"),
                Line::raw("  name = \"secops-slack\""),
                Line::from(vec![
                    Span::raw("  kind = \"slack\"   "),
                    Span::styled(
                        "# slack teams jira webhook splunk_hec audit_forward",
                        theme.dim(),
                    ),
                ]),
                Line::from(vec![
                    Span::raw("  url = \"env:VIGIL_SLACK_URL\"   "),
                    Span::styled("# or file:PATH; a secret is never shown", theme.dim()),
                ]),
                Line::raw("  min_severity = \"medium\""),
                Line::raw(""),
                Line::styled(
                    "Then `vigil check` validates it; restart vigil to start sending.",
                    theme.dim(),
                ),
                Line::styled(
                    "Here you will then see each one's state, test it (T) and replay failures (R).",
                    theme.dim(),
                ),
            ]),
            inner,
        );
        return;
    }
    // The table takes its rows (up to half the pane, then scrolls); the selected integration the rest.
    let wanted = u16::try_from(list.items.len() + 1).unwrap_or(u16::MAX);
    let table_h = wanted.min((inner.height / 2).max(3));
    let [table_area, _, detail_area] = Layout::vertical([
        Constraint::Length(table_h),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(inner);
    draw_table(f, table_area, s, theme, focused);
    if let Some(v) = list.current() {
        draw_selected(f, detail_area, v, theme);
    }
}

/// The state's colour: green when delivering, red when failing, dim when nothing is sent. The word is always
/// there too, so `NO_COLOR` and 16-colour terminals lose nothing.
fn state_style(c: IntegrationCondition, theme: Theme) -> Style {
    match c {
        IntegrationCondition::Ok => theme.ok(),
        IntegrationCondition::Failing | IntegrationCondition::Unusable => theme.error(),
        IntegrationCondition::Disabled | IntegrationCondition::Unknown => theme.dim(),
    }
}

/// The state in a table cell: a word, plus since when it fails if the column is wide.
fn state_cell(v: &IntegrationView, wide: bool) -> String {
    match v.condition {
        IntegrationCondition::Ok => "ok".into(),
        IntegrationCondition::Failing => match v.failing_since {
            Some(t) if wide => format!("failing {}", short_time(t)),
            _ => "failing".into(),
        },
        IntegrationCondition::Disabled => "disabled".into(),
        IntegrationCondition::Unusable => "unusable".into(),
        IntegrationCondition::Unknown => "unknown".into(),
    }
}

/// The host of a masked endpoint (`https://hooks.slack.com/…` → `hooks.slack.com`), for the table; the
/// lower half shows the endpoint whole. A reference (`env:NAME`) stays as it is.
fn host(endpoint: &str) -> &str {
    match endpoint.split_once("://") {
        Some((_, rest)) => rest.strip_suffix("/…").unwrap_or(rest),
        None => endpoint,
    }
}

/// An attempt in a table cell: when, how long it took, what came of it (last, as it is the part a narrow
/// column may cut). A narrow table shows today's attempts by time and older ones by date.
fn attempt_line(a: &Attempt, wide: bool, now: DateTime<Utc>) -> String {
    let when = if wide {
        short_time(a.at)
    } else if a.at.date_naive() == now.date_naive() {
        a.at.format("%H:%M").to_string()
    } else {
        a.at.format("%m-%d").to_string()
    };
    format!("{when} {} {}", latency(a.latency_ms), attempt_result(a))
}

fn attempt_style(a: &Attempt, theme: Theme) -> Style {
    if a.error.is_empty() {
        theme.ok()
    } else {
        theme.error()
    }
}

fn draw_table(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) {
    let list = &s.integrations;
    let wide = area.width >= WIDE_TABLE;
    let height = usize::from(area.height.saturating_sub(1)).max(1);
    let offset = visible_offset(list.selected, list.offset, height);
    let rows = list
        .items
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, v)| {
            let kind = v.integration.kind.as_str();
            let mut cells = vec![
                Cell::from(if v.enabled { "on" } else { "off" }).style(if v.enabled {
                    theme.ok()
                } else {
                    theme.dim()
                }),
                Cell::from(clean(&v.integration.name, 40)),
                Cell::from(if wide {
                    kind.to_string()
                } else {
                    clean(kind, 10)
                }),
            ];
            if wide {
                cells.push(Cell::from(clean(host(&v.endpoint), 60)));
            }
            cells.extend([
                Cell::from(state_cell(v, wide)).style(state_style(v.condition, theme)),
                Cell::from(Line::from(v.pending.to_string()).right_aligned()),
                Cell::from(Line::from(v.dead.to_string()).right_aligned()).style(if v.dead > 0 {
                    theme.error()
                } else {
                    Style::default()
                }),
                match v.recent.last() {
                    Some(a) => {
                        Cell::from(attempt_line(a, wide, s.now)).style(attempt_style(a, theme))
                    }
                    None => Cell::from(Span::styled("-", theme.dim())),
                },
            ]);
            let row = Row::new(cells);
            if i == list.selected && focused {
                row.style(theme.cursor())
            } else {
                row
            }
        });
    let mut widths = vec![
        Constraint::Length(3),
        Constraint::Fill(2),
        Constraint::Length(if wide { 13 } else { 10 }),
    ];
    let mut head = vec!["ON", "NAME", "KIND"];
    if wide {
        widths.push(Constraint::Fill(2));
        head.push("HOST");
    }
    widths.extend([
        Constraint::Length(if wide { 19 } else { 8 }),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Fill(if wide { 4 } else { 3 }),
    ]);
    head.extend(["STATE", "PEND", "DEAD", "LAST ATTEMPT (UTC)"]);
    let header = Row::new(
        head.into_iter()
            .map(|h| Cell::from(Span::styled(h, theme.dim()))),
    );
    f.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        area,
    );
}

/// The selected integration: where it points and how it routes, its state in words, and its latest
/// attempts (newest first).
fn draw_selected(f: &mut Frame, area: Rect, v: &IntegrationView, theme: Theme) {
    let i = &v.integration;
    let detections = if i.detections.is_empty() {
        "all".to_string()
    } else {
        clean(&i.detections.join(","), 60)
    };
    let mut on = Vec::new();
    if i.on.created {
        on.push("created");
    }
    if i.on.updated {
        on.push("updated");
    }
    let dim = |t: &str| Span::styled(t.to_string(), theme.dim());
    let lines = vec![
        Line::from(vec![
            Span::styled(clean(&i.name, 60), theme.heading()),
            dim(" · "),
            Span::raw(i.kind.as_str()),
            dim(" · "),
            Span::raw(clean(&v.endpoint, 80)),
        ]),
        Line::styled(clean(&v.state, 160), state_style(v.condition, theme)),
        Line::from(vec![
            Span::raw(format!("{} delivered", v.delivered)),
            dim(" · "),
            Span::raw(format!("min {}", i.min_severity)),
            dim(" · "),
            Span::raw(format!("detections {detections}")),
            dim(" · "),
            Span::raw(format!("on {}", on.join(","))),
        ]),
        Line::styled(
            if v.recent.is_empty() {
                "No attempts yet."
            } else {
                "Recent attempts, newest first"
            },
            theme.dim(),
        ),
    ];
    let [info, attempts] =
        Layout::vertical([Constraint::Length(4), Constraint::Fill(1)]).areas(area);
    f.render_widget(Paragraph::new(lines), info);
    let rows = v
        .recent
        .iter()
        .rev()
        .take(usize::from(attempts.height))
        .map(|a| {
            Row::new(vec![
                Cell::from(full_time(a.at)),
                Cell::from(Line::from(latency(a.latency_ms)).right_aligned()),
                Cell::from(attempt_result(a)).style(attempt_style(a, theme)),
            ])
        });
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(20),
                Constraint::Length(9),
                Constraint::Fill(1),
            ],
        )
        .column_spacing(2),
        attempts,
    );
}
