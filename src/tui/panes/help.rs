//! The `?` help: one line per action from the live keymap, so remapped keys show as they are.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::block;
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;

/// Draw the help over `area` (the whole body), scrolled by `scroll` lines.
pub fn draw(f: &mut Frame, area: Rect, keymap: &Keymap, theme: Theme, scroll: usize) {
    let lines: Vec<Line> = keymap
        .bindings()
        .into_iter()
        .map(|(action, keys)| {
            let keys = if keys.is_empty() {
                "(unbound)".to_string()
            } else {
                keys.join(", ")
            };
            Line::from(vec![
                Span::styled(format!("{keys:<22}"), theme.bold()),
                Span::raw(action.help()),
            ])
        })
        .collect();
    let max = lines
        .len()
        .saturating_sub(usize::from(area.height.saturating_sub(2)));
    let scroll = u16::try_from(scroll.min(max)).unwrap_or(0);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .block(block(" Keys (? or esc closes) ".into(), theme, true))
            .scroll((scroll, 0)),
        area,
    );
}
