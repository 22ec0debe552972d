//! Rendering: lays out header, body, prompt and footer, and asks each pane to draw itself from `&AppState`.
//! Panes never block and never change state; each lives in its own file and knows only its own view.

pub mod detail;
pub mod detections;
pub mod help;
pub mod integrations;
pub mod queue;
pub mod timeline;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, BorderType, Borders, Clear};

use crate::tui::keymap::Keymap;
use crate::tui::state::{AppState, FOOTER_LINES, HEADER_LINES, Pane};
use crate::tui::theme::Theme;
use crate::tui::widgets;

/// A pane's frame; the focused pane gets a heavier border and a coloured title.
pub fn block(title: String, theme: Theme, focused: bool) -> Block<'static> {
    let b = Block::default().borders(Borders::ALL).title(title);
    if focused {
        b.border_type(BorderType::Thick)
            .title_style(theme.heading())
    } else {
        b.border_style(theme.dim())
    }
}

/// Draw one frame.
pub fn draw(f: &mut Frame, s: &AppState, keymap: &Keymap, theme: Theme) {
    let prompt_h = u16::from(s.prompt.is_some());
    let [head, body, prompt, foot] = Layout::vertical([
        Constraint::Length(HEADER_LINES),
        Constraint::Fill(1),
        Constraint::Length(prompt_h),
        Constraint::Length(FOOTER_LINES),
    ])
    .areas(f.area());
    widgets::header(f, head, s, theme);
    draw_body(f, body, s, theme);
    if let Some(scroll) = s.help {
        help::draw(f, body, keymap, theme, scroll);
    }
    if let Some(editor) = &s.note {
        let area = centered(body, 70, 12);
        f.render_widget(Clear, area);
        let b = block(
            format!(" Note on: {} ", widgets::clean(&editor.title, 50)),
            theme,
            true,
        );
        let inner = b.inner(area);
        f.render_widget(b, area);
        f.render_widget(&editor.area, inner);
    }
    widgets::prompt_line(f, prompt, s, theme);
    widgets::footer(f, foot, s, keymap, theme);
}

fn draw_body(f: &mut Frame, area: Rect, s: &AppState, theme: Theme) {
    match s.pane {
        Pane::Queue | Pane::Detail if s.wide() => {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(area);
            queue::draw(f, left, s, theme, s.pane == Pane::Queue);
            detail::draw(f, right, s, theme, s.pane == Pane::Detail);
        }
        Pane::Queue => queue::draw(f, area, s, theme, true),
        Pane::Detail => detail::draw(f, area, s, theme, true),
        Pane::Timeline => timeline::draw(f, area, s, theme, true),
        Pane::Detections => detections::draw(f, area, s, theme, true),
        Pane::Integrations => integrations::draw(f, area, s, theme, true),
    }
}

/// A rectangle of at most `w` x `h` in the middle of `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
