//! The detections catalogue with the settings in force; tuning keys act on the selected row. Under the
//! table, the selected detection's exclusions, numbered: whom or what each excludes (by name when known)
//! and until when — the numbers `u` asks for.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::block;
use super::queue::visible_offset;
use crate::detect::tuning::{Exclusion, ExclusionKind, Sensitivity};
use crate::engine::DetectionView;
use crate::tui::state::AppState;
use crate::tui::theme::Theme;
use crate::tui::widgets::{clean, sev_label, span};

/// Draw the detections table.
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, theme: Theme, focused: bool) {
    let d = &s.detections;
    let b = block(format!(" Detections ({}) ", d.items.len()), theme, focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    // The exclusions of the selected detection: a heading and up to 5 rows (more scroll into "…and N more").
    let shown = d
        .current()
        .map_or(0, |v| v.settings.exclusions.len().min(EXCLUSIONS_SHOWN));
    let below = u16::try_from(shown + 2).unwrap_or(u16::MAX);
    let (inner, excl_area) = if inner.height > below + 4 && d.current().is_some() {
        let [table, _, rest] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(below - 1),
        ])
        .areas(inner);
        (table, Some(rest))
    } else {
        (inner, None)
    };
    if let (Some(rect), Some(v)) = (excl_area, d.current()) {
        draw_exclusions(f, rect, s, v, theme);
    }
    let wide = inner.width >= 100;
    let height = usize::from(inner.height.saturating_sub(1)).max(1);
    let offset = visible_offset(d.selected, d.offset, height);
    let rows = d
        .items
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, v)| {
            let sens = match v.settings.sensitivity {
                Sensitivity::Default => "default",
                other => other.as_str(),
            };
            let threshold = v
                .threshold
                .map_or_else(|| "-".to_string(), |(w, t)| format!("{t}/{}", span(w)));
            let mut cells = vec![
                Cell::from(if v.settings.enabled { "on" } else { "off" }).style(
                    if v.settings.enabled {
                        theme.ok()
                    } else {
                        theme.dim()
                    },
                ),
                Cell::from(clean(&v.id, 30)),
            ];
            if wide {
                cells.push(Cell::from(clean(&v.title, 40)));
            }
            cells.extend([
                Cell::from(clean(&v.category, 18)),
                Cell::from(sev_label(v.severity)).style(theme.severity(v.severity)),
                Cell::from(if v.threshold.is_some() { sens } else { "-" }),
                Cell::from(threshold),
                Cell::from(v.settings.exclusions.len().to_string()),
            ]);
            let row = Row::new(cells);
            if i == d.selected {
                row.style(theme.cursor())
            } else {
                row
            }
        });
    let mut widths = vec![Constraint::Length(3), Constraint::Fill(2)];
    let mut head = vec!["ON", "ID"];
    if wide {
        widths.push(Constraint::Fill(2));
        head.push("TITLE");
    }
    widths.extend([
        Constraint::Length(17),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(4),
    ]);
    head.extend(["CATEGORY", "SEV", "SENS", "THRESH", "EXCL"]);
    let header = Row::new(
        head.into_iter()
            .map(|h| Cell::from(Span::styled(h, theme.dim()))),
    );
    f.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        inner,
    );
}

/// Most exclusions listed under the table; the rest are counted.
const EXCLUSIONS_SHOWN: usize = 5;

/// The selected detection's exclusions, numbered from 1 in stored order.
fn draw_exclusions(f: &mut Frame, area: Rect, s: &AppState, v: &DetectionView, theme: Theme) {
    let list = &v.settings.exclusions;
    let id = clean(&v.id, 40);
    let mut lines = vec![if list.is_empty() {
        Line::styled(
            format!("{id}: no exclusions (X or O on one of its alerts adds one)"),
            theme.dim(),
        )
    } else {
        Line::styled(
            format!("Exclusions of {id} (u removes one by its number)"),
            theme.dim(),
        )
    }];
    let room = usize::from(area.height.saturating_sub(1));
    let more = list.len().saturating_sub(room);
    for (i, x) in list.iter().enumerate().take(if more > 0 {
        room.saturating_sub(1)
    } else {
        room
    }) {
        let ended = x.until.is_some_and(|u| u <= s.now);
        let until = match x.until {
            Some(u) if ended => format!("ended {}", u.format("%Y-%m-%d")),
            Some(u) => format!("until {}", u.format("%Y-%m-%d")),
            None => "no end".into(),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:>2}. ", i + 1), theme.bold()),
            Span::raw(clean(&excluded(x, s), 80)),
            Span::styled(
                format!("  {until}"),
                if ended { theme.dim() } else { theme.ok() },
            ),
        ]));
    }
    if more > 0 {
        lines.push(Line::styled(
            format!("    …and {} more", more + 1),
            theme.dim(),
        ));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// Whom or what an exclusion excludes, in words: the name it was made with, else a name the loaded alerts
/// give the actor, else the raw id with its kind.
fn excluded(x: &Exclusion, s: &AppState) -> String {
    let kind = match x.kind {
        ExclusionKind::Actor => "actor",
        ExclusionKind::Container => "space or project",
        ExclusionKind::Object => "page or issue",
    };
    if let Some(l) = &x.label {
        return format!("{kind} {l}");
    }
    if x.kind == ExclusionKind::Actor
        && let Some(a) = s.queue.rows.iter().find(|a| a.actor.id == x.value)
        && let Some(name) = a.actor.name.as_deref().or(a.actor.email.as_deref())
    {
        return format!("{kind} {name} ({})", x.value);
    }
    format!("{kind} {}", x.value)
}
