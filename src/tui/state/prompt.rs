//! Text the user is typing: the `/` filter, the `:` command line, small one-line prompts (assignee, export
//! path, exclusion expiry, y/N), and the multi-line note editor. Pure data; `state` decides what Enter does.

use std::path::PathBuf;

use ratatui_textarea::TextArea;
use tui_input::Input;
use ulid::Ulid;

use crate::detect::tuning::ExclusionKind;
use crate::export::ExportFormat;
use crate::model::AlertFilter;

/// What the footer says the keyboard is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Filter,
    Command,
    Note,
    Confirm,
    /// A one-line question (assignee, path, expiry).
    Input,
}

impl Mode {
    /// The footer badge.
    pub fn label(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Filter => "FILTER",
            Self::Command => "COMMAND",
            Self::Note => "NOTE",
            Self::Confirm => "CONFIRM",
            Self::Input => "INPUT",
        }
    }
}

/// An export waiting for its path or for overwrite consent.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    /// Marked alerts, or `None` for everything the filter matches.
    pub ids: Option<Vec<Ulid>>,
    pub filter: AlertFilter,
    pub format: ExportFormat,
    pub path: PathBuf,
}

/// What a one-line prompt is asking for.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptKind {
    /// `/`: a query; the error span (char offsets) is highlighted inline.
    Filter {
        error: Option<(usize, usize, String)>,
    },
    /// `:`: a command line.
    Command { error: Option<String> },
    /// Whom to assign these alerts to (empty = unassign).
    Assign { ids: Vec<Ulid> },
    /// Until when an exclusion holds (`YYYY-MM-DD`, empty = forever).
    ExcludeUntil {
        detection: String,
        kind: ExclusionKind,
        value: String,
        error: Option<String>,
    },
    /// Where to export to; the extension picks CSV or JSON.
    ExportPath {
        ids: Option<Vec<Ulid>>,
        filter: AlertFilter,
    },
    /// The export's file exists: overwrite? (y/N)
    ConfirmOverwrite(ExportRequest),
    /// Which integration to send these alerts to ("send to …", or "create Jira issue" with `jira`); Tab
    /// completes over `names`, the integrations that take alerts (Jira ones only for `jira`).
    SendTo {
        ids: Vec<Ulid>,
        names: Vec<String>,
        jira: bool,
        error: Option<String>,
    },
    /// Put this many dead letters back in the queue? (y/N): each may reach a receiver that already
    /// refused it, or post again to a channel.
    ConfirmReplay { name: String, dead: u64 },
}

/// A one-line prompt and its text.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: Input,
}

impl Prompt {
    /// A prompt with `initial` text and the cursor at its end.
    pub fn new(kind: PromptKind, initial: &str) -> Self {
        Self {
            kind,
            input: Input::new(initial.to_string()),
        }
    }

    /// The footer mode this prompt puts the UI in.
    pub fn mode(&self) -> Mode {
        match self.kind {
            PromptKind::Filter { .. } => Mode::Filter,
            PromptKind::Command { .. } => Mode::Command,
            PromptKind::ConfirmOverwrite(_) | PromptKind::ConfirmReplay { .. } => Mode::Confirm,
            PromptKind::Assign { .. }
            | PromptKind::ExcludeUntil { .. }
            | PromptKind::ExportPath { .. }
            | PromptKind::SendTo { .. } => Mode::Input,
        }
    }

    /// The question in front of the text.
    pub fn label(&self) -> String {
        match &self.kind {
            PromptKind::Filter { .. } => "/".into(),
            PromptKind::Command { .. } => ":".into(),
            PromptKind::Assign { ids } => {
                format!("assign {} alert(s) to (empty = nobody): ", ids.len())
            }
            PromptKind::ExcludeUntil { kind, value, .. } => format!(
                "exclude {} {} until (YYYY-MM-DD, empty = forever): ",
                match kind {
                    ExclusionKind::Actor => "actor",
                    ExclusionKind::Container => "container",
                    ExclusionKind::Object => "object",
                },
                crate::model::text::sanitize(value)
            ),
            PromptKind::ExportPath { ids, .. } => match ids {
                Some(ids) => format!(
                    "export {} selected alert(s) to (.csv or .json): ",
                    ids.len()
                ),
                None => "export the filtered view to (.csv or .json): ".into(),
            },
            PromptKind::ConfirmOverwrite(req) => {
                format!("{} exists. Overwrite? (y/N) ", req.path.display())
            }
            PromptKind::SendTo { ids, jira, .. } => {
                if *jira {
                    format!("create Jira issue(s) for {} alert(s) in: ", ids.len())
                } else {
                    format!("send {} alert(s) to: ", ids.len())
                }
            }
            PromptKind::ConfirmReplay { name, dead } => format!(
                "replay {dead} dead letter(s) to {}? (y/N) ",
                crate::model::text::sanitize(name)
            ),
        }
    }

    /// A quiet hint after the text: the names Tab completes over.
    pub fn hint(&self) -> Option<String> {
        match &self.kind {
            PromptKind::SendTo {
                names, error: None, ..
            } => Some(format!(
                "tab: {}",
                crate::model::text::sanitize(&names.join(", "))
            )),
            _ => None,
        }
    }

    /// An error to show under or beside the text.
    pub fn error(&self) -> Option<&str> {
        match &self.kind {
            PromptKind::Filter { error } => error.as_ref().map(|e| e.2.as_str()),
            PromptKind::Command { error }
            | PromptKind::ExcludeUntil { error, .. }
            | PromptKind::SendTo { error, .. } => error.as_deref(),
            PromptKind::Assign { .. }
            | PromptKind::ExportPath { .. }
            | PromptKind::ConfirmOverwrite(_)
            | PromptKind::ConfirmReplay { .. } => None,
        }
    }
}

/// The multi-line note editor (Ctrl-S or Alt-Enter saves, Esc cancels).
#[derive(Debug)]
pub struct NoteEditor {
    pub id: Ulid,
    /// The alert's title, for the editor's frame.
    pub title: String,
    pub area: TextArea<'static>,
}

impl NoteEditor {
    /// An empty editor for a note on alert `id`.
    pub fn new(id: Ulid, title: String) -> Self {
        let mut area = TextArea::default();
        area.set_placeholder_text("Type the note. Ctrl-S or Alt-Enter saves, Esc cancels.");
        Self { id, title, area }
    }

    /// The note typed so far.
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }
}
