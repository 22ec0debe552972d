//! Rendering: lays out header, body, prompt and footer, and asks each pane to draw itself from `&AppState`.
//! Panes never block and never change state; each lives in its own file and knows only its own view.

pub mod detail;
pub mod detections;
pub mod event;
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

/// Where a link landed on screen: the cells from (`x`, `y`) over `width` columns show `url`. The backend
/// wraps those cells in an OSC 8 hyperlink when the terminal supports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameLink {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub url: String,
}

/// What a frame measured that the state and the backend need after it: the detail's height and view (its
/// scroll stops at the end) and the links on screen.
#[derive(Debug, Default)]
pub struct FrameInfo {
    /// `Some((rows, view))` when the detail was drawn.
    pub detail: Option<(usize, usize)>,
    pub links: Vec<FrameLink>,
}

/// Draw one frame.
pub fn draw(f: &mut Frame, s: &AppState, keymap: &Keymap, theme: Theme) -> FrameInfo {
    let prompt_h = u16::from(s.prompt.is_some());
    let [head, body, prompt, foot] = Layout::vertical([
        Constraint::Length(HEADER_LINES),
        Constraint::Fill(1),
        Constraint::Length(prompt_h),
        Constraint::Length(FOOTER_LINES),
    ])
    .areas(f.area());
    widgets::header(f, head, s, theme);
    let mut info = FrameInfo::default();
    if let Some(d) = draw_body(f, body, s, theme) {
        info.detail = Some((d.rows, d.view));
        info.links = d.links;
    }
    if let Some(v) = &s.event_view {
        event::draw(f, body, v, theme);
        info.links.clear();
    }
    if let Some(scroll) = s.help {
        info.links.clear();
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
    if s.note.is_some() {
        info.links.clear();
    }
    widgets::prompt_line(f, prompt, s, theme);
    widgets::footer(f, foot, s, keymap, theme);
    info
}

/// The panes; what the detail measured when it was drawn.
fn draw_body(f: &mut Frame, area: Rect, s: &AppState, theme: Theme) -> Option<detail::DetailFrame> {
    match s.pane {
        Pane::Queue | Pane::Detail if s.wide() => {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(area);
            queue::draw(f, left, s, theme, s.pane == Pane::Queue);
            return Some(detail::draw(f, right, s, theme, s.pane == Pane::Detail));
        }
        Pane::Queue => queue::draw(f, area, s, theme, true),
        Pane::Detail => return Some(detail::draw(f, area, s, theme, true)),
        Pane::Timeline => timeline::draw(f, area, s, theme, true),
        Pane::Detections => detections::draw(f, area, s, theme, true),
        Pane::Integrations => integrations::draw(f, area, s, theme, true),
    }
    None
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
