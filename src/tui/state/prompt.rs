//! Text the user is typing: the `/` filter, the `:` command line, small one-line prompts (assignee, export
//! path, exclusion expiry, y/N), and the multi-line note editor. Pure data; `state` decides what Enter does.

use std::path::PathBuf;

use ratatui_textarea::TextArea;
use tui_input::Input;
use ulid::Ulid;

use crate::detect::tuning::ExclusionKind;
use crate::engine::respond::{Access, AccessPlan};
use crate::export::ExportFormat;
use crate::model::AlertFilter;
use crate::model::text::plural;

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
    Assign {
        ids: Vec<Ulid>,
        /// The versions of those alerts when the prompt opened.
        seen: crate::engine::Seen,
    },
    /// Until when an exclusion holds (`YYYY-MM-DD`, empty = forever).
    ExcludeUntil {
        detection: String,
        kind: ExclusionKind,
        value: String,
        /// Whom or what `value` names, for people (`Ana Lima (ana@x)`, `page 'Deploy notes'`); stored with
        /// the exclusion so the detections pane can list it by name.
        label: Option<String>,
        error: Option<String>,
    },
    /// Which of a detection's exclusions to remove: their number in the list the detections pane shows
    /// under the table (1 = first).
    RemoveExclusion {
        detection: String,
        /// How many exclusions the detection had when asked (the valid numbers are `1..=count`).
        count: usize,
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
    /// Suspend (or restore) this person in this org? (y/N): the plan names both, from the engine.
    ConfirmAccess(AccessPlan),
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
            PromptKind::ConfirmOverwrite(_)
            | PromptKind::ConfirmReplay { .. }
            | PromptKind::ConfirmAccess(_) => Mode::Confirm,
            PromptKind::Assign { .. }
            | PromptKind::ExcludeUntil { .. }
            | PromptKind::RemoveExclusion { .. }
            | PromptKind::ExportPath { .. }
            | PromptKind::SendTo { .. } => Mode::Input,
        }
    }

    /// The question in front of the text.
    pub fn label(&self) -> String {
        match &self.kind {
            PromptKind::Filter { .. } => "/".into(),
            PromptKind::Command { .. } => ":".into(),
            PromptKind::Assign { ids, .. } => {
                format!(
                    "assign {} to (empty = nobody): ",
                    plural(ids.len(), "alert", "alerts")
                )
            }
            PromptKind::ExcludeUntil {
                detection,
                kind,
                value,
                label,
                ..
            } => {
                let what = match (kind, label) {
                    (_, Some(l)) => l.clone(),
                    (ExclusionKind::Actor, None) => format!("actor {value}"),
                    (ExclusionKind::Container, None) => format!("space or project {value}"),
                    (ExclusionKind::Object, None) => format!("page or issue {value}"),
                };
                format!(
                    "exclude {} from {} until: ",
                    crate::model::text::sanitize(&what),
                    crate::model::text::sanitize(detection)
                )
            }
            PromptKind::RemoveExclusion {
                detection, count, ..
            } => format!(
                "remove which exclusion of {}? (1-{count}): ",
                crate::model::text::sanitize(detection)
            ),
            PromptKind::ExportPath { ids, .. } => match ids {
                Some(ids) => format!(
                    "export {} selected to (.csv or .json): ",
                    plural(ids.len(), "alert", "alerts")
                ),
                None => "export the filtered view to (.csv or .json): ".into(),
            },
            PromptKind::ConfirmOverwrite(req) => {
                format!("{} exists. Overwrite? (y/N) ", req.path.display())
            }
            PromptKind::SendTo { ids, jira, .. } => {
                let n = plural(ids.len(), "alert", "alerts");
                if *jira {
                    format!("create a Jira issue for {n} in: ")
                } else {
                    format!("send {n} to: ")
                }
            }
            PromptKind::ConfirmReplay { name, dead } => format!(
                "replay {} to {}? (y/N) ",
                plural(
                    usize::try_from(*dead).unwrap_or(usize::MAX),
                    "dead letter",
                    "dead letters"
                ),
                crate::model::text::sanitize(name)
            ),
            PromptKind::ConfirmAccess(plan) => plan.question(),
        }
    }

    /// A quiet hint for the footer while the prompt is open: the names Tab completes over, the form a date
    /// takes. Kept out of the prompt line, which at 80 columns has no room to spare for it.
    pub fn hint(&self) -> Option<String> {
        match &self.kind {
            PromptKind::SendTo {
                names, error: None, ..
            } => Some(format!(
                "tab: {}",
                crate::model::text::sanitize(&names.join(", "))
            )),
            PromptKind::ExcludeUntil { error: None, .. } => {
                Some("a date like 2026-12-31, empty = forever · enter apply · esc cancel".into())
            }
            PromptKind::Filter { error: None } => {
                Some("enter apply · esc cancel · ? lists the filter terms".into())
            }
            PromptKind::ConfirmAccess(plan) => Some(format!(
                "{} · account {} · {}",
                plan.org,
                crate::model::text::sanitize(&plan.account_id),
                match plan.access {
                    Access::Suspend => "no access to any of the org's apps until restored",
                    Access::Restore => "their roles and groups come back",
                }
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
            | PromptKind::RemoveExclusion { error, .. }
            | PromptKind::SendTo { error, .. } => error.as_deref(),
            PromptKind::Assign { .. }
            | PromptKind::ExportPath { .. }
            | PromptKind::ConfirmOverwrite(_)
            | PromptKind::ConfirmReplay { .. }
            | PromptKind::ConfirmAccess(_) => None,
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
    /// Esc was pressed on a draft with text: "discard the note? y/n" waits for its answer, so a stray Esc
    /// cannot throw away a paragraph of investigation.
    pub confirm_discard: bool,
}

impl NoteEditor {
    /// An empty editor for a note on alert `id`.
    pub fn new(id: Ulid, title: String) -> Self {
        let mut area = TextArea::default();
        area.set_placeholder_text("Type the note. Ctrl-S or Alt-Enter saves, Esc cancels.");
        Self {
            id,
            title,
            area,
            confirm_discard: false,
        }
    }

    /// The note typed so far.
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }
}
