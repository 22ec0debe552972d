//! One event's fields, opened from the timeline with Enter: every field by its path, sanitised and cut, over
//! the body until Esc. Enter goes on to the alert the event is evidence of.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::block;
use crate::tui::state::{EventView, event_fields};
use crate::tui::theme::Theme;
use crate::tui::widgets::clean;
use crate::tui::wrap::wrap;

/// Draw the event view over `area`.
pub fn draw(f: &mut Frame, area: Rect, v: &EventView, theme: Theme) {
    let e = &v.event;
    let title = format!(" Event · {} ", clean(&e.describe(), 60));
    let b = block(title, theme, true);
    let inner = b.inner(area);
    f.render_widget(Clear, area);
    f.render_widget(b, area);
    let width = usize::from(inner.width).max(1);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let hint = match &v.alert {
        Some(a) => format!(
            "evidence of '{}' — enter opens it · esc closes",
            clean(&a.title, 60)
        ),
        None => "not evidence of an alert in the timeline's window · esc closes".to_string(),
    };
    lines.extend(wrap(Line::styled(hint, theme.dim()), width, 2));
    let fields = event_fields(e);
    let key_w = fields
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        .min(36);
    for (k, val) in fields.iter().skip(v.scroll) {
        let key = clean(k, key_w);
        let line = Line::from(vec![
            Span::styled(format!("{key:<key_w$} "), theme.dim()),
            Span::raw(val.clone()),
        ]);
        lines.extend(wrap(line, width, key_w + 1));
        if lines.len() >= usize::from(inner.height) {
            break;
        }
    }
    f.render_widget(Paragraph::new(lines), inner);
}
