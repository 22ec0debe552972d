//! Colours and emphasis. Only the 16 named ANSI colours and modifiers are used, so the UI reads the same on a
//! 16-colour terminal; with `NO_COLOR` every style keeps its modifiers (bold, reverse) and drops its colour.

use ratatui::style::{Color, Modifier, Style};

use crate::model::{AlertStatus, Severity};

/// The style book every pane draws with. Cheap to copy; panes never build colours themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Theme {
    /// A theme with colours, or without when the user set `NO_COLOR`.
    pub fn new(no_color: bool) -> Self {
        Self { color: !no_color }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    /// A severity cell: critical stands out even without colour (bold + reverse).
    pub fn severity(self, s: Severity) -> Style {
        match s {
            Severity::Critical => self
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
            Severity::High => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Severity::Medium => self.fg(Color::Yellow),
            Severity::Low => self.fg(Color::Gray),
        }
    }

    /// A status cell: open draws the eye, settled states recede.
    pub fn status(self, s: AlertStatus) -> Style {
        match s {
            AlertStatus::Open => self.fg(Color::LightCyan).add_modifier(Modifier::BOLD),
            AlertStatus::Acknowledged => self.fg(Color::Cyan),
            AlertStatus::Expected => self.fg(Color::DarkGray),
            AlertStatus::TruePositive => self.fg(Color::LightMagenta).add_modifier(Modifier::BOLD),
        }
    }

    /// The row under the cursor.
    pub fn cursor(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// Rows marked with Space for a bulk action.
    pub fn marked(self) -> Style {
        self.fg(Color::LightYellow).add_modifier(Modifier::BOLD)
    }

    /// Field labels and secondary text.
    pub fn dim(self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default().add_modifier(Modifier::DIM)
        }
    }

    /// Section headings and the focused pane's title.
    pub fn heading(self) -> Style {
        self.fg(Color::LightBlue).add_modifier(Modifier::BOLD)
    }

    /// Plain emphasis.
    pub fn bold(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    /// Errors in the footer and inline query errors.
    pub fn error(self) -> Style {
        self.fg(Color::LightRed).add_modifier(Modifier::BOLD)
    }

    /// Confirmations and good news.
    pub fn ok(self) -> Style {
        self.fg(Color::LightGreen)
    }

    /// The mode badge in the footer.
    pub fn badge(self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::Black)
                .bg(Color::LightBlue)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    /// An alert row interleaved in the timeline.
    pub fn highlight(self) -> Style {
        self.fg(Color::LightRed).add_modifier(Modifier::BOLD)
    }
}
