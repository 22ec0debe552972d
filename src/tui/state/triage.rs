//! The actions that change alerts and detections (status, assignment, notes, export, exclusions, tuning) and
//! the text prompts that feed them. Each ends in an [`Effect::Execute`]; nothing here talks to the engine.

use chrono::{NaiveDate, TimeZone, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use tui_input::backend::crossterm::EventHandler;

use super::{AppState, Effect, ExportRequest, NoteEditor, Pane, Prompt, PromptKind, SortOrder};
use crate::detect::tuning::{Exclusion, ExclusionKind, Sensitivity};
use crate::engine::{Command, with_exclusion};
use crate::export::ExportFormat;
use crate::model::{AlertStatus, query};
use crate::tui::action::Action;
use crate::tui::cmdline::{self, CmdLine};

/// The command for an export that is ready to write.
pub(super) fn export_command(req: ExportRequest, overwrite: bool) -> Effect {
    Effect::Execute(Command::Export {
        filter: req.filter,
        ids: req.ids,
        format: req.format,
        path: req.path,
        overwrite,
    })
}

impl AppState {
    pub(super) fn on_triage_action(&mut self, a: Action) -> Vec<Effect> {
        // The integrations pane shows no alert: a status key there (one shift away from the pane's own
        // keys) would change an alert out of sight.
        if self.pane == Pane::Integrations
            && matches!(
                a,
                Action::Acknowledge
                    | Action::MarkExpected
                    | Action::MarkTruePositive
                    | Action::Reopen
                    | Action::AssignToMe
                    | Action::Assign
                    | Action::AddNote
            )
        {
            self.say("triage works in the queue or the detail");
            return Vec::new();
        }
        match a {
            Action::Acknowledge => self.set_status(AlertStatus::Acknowledged),
            Action::MarkExpected => self.set_status(AlertStatus::Expected),
            Action::MarkTruePositive => self.set_status(AlertStatus::TruePositive),
            Action::Reopen => self.set_status(AlertStatus::Open),
            Action::AssignToMe => self.assign(Some(self.user.clone())),
            Action::Assign => {
                let ids = self.targets();
                if ids.is_empty() {
                    self.complain("no alert selected");
                } else {
                    let seen = self.seen(&ids);
                    self.prompt = Some(Prompt::new(PromptKind::Assign { ids, seen }, ""));
                }
                Vec::new()
            }
            Action::AddNote => {
                match self.current_alert() {
                    Some(a) => {
                        self.note = Some(NoteEditor::new(
                            a.id,
                            crate::model::text::sanitize(&a.title),
                        ))
                    }
                    None => self.complain("no alert selected"),
                }
                Vec::new()
            }
            Action::Export => {
                let ids = (!self.queue.marked.is_empty())
                    .then(|| self.queue.marked.iter().copied().collect());
                let filter = self.queue.filter.clone();
                self.prompt = Some(Prompt::new(PromptKind::ExportPath { ids, filter }, ""));
                Vec::new()
            }
            Action::CopyId => match self.current_alert().map(|a| a.id.to_string()) {
                Some(id) => {
                    self.say(format!("copied {id} (OSC 52)"));
                    vec![Effect::Copy(id)]
                }
                None => {
                    self.complain("no alert selected");
                    Vec::new()
                }
            },
            Action::ExcludeActor => self.exclude(ExclusionKind::Actor),
            Action::ExcludeObject => self.exclude(ExclusionKind::Object),
            Action::ToggleDetection => self.tune_selected(|s| {
                s.enabled = !s.enabled;
            }),
            Action::CycleSensitivity => {
                if self.pane == Pane::Detections
                    && let Some(d) = self.detections.current()
                    && d.threshold.is_none()
                {
                    let id = crate::model::text::sanitize(&d.id);
                    self.say(format!(
                        "{id} has no threshold to tune: it fires on every matching event (sensitivity \
                         applies to counting detections)"
                    ));
                    return Vec::new();
                }
                self.tune_selected(|s| {
                    s.sensitivity = match s.sensitivity {
                        Sensitivity::Fewer => Sensitivity::Default,
                        Sensitivity::Default => Sensitivity::More,
                        Sensitivity::More => Sensitivity::Fewer,
                    };
                })
            }
            Action::RemoveExclusion => self.ask_remove_exclusion(),
            // Navigation, panes, prompts and the rest: `AppState::on_action` handles them and never sends them here.
            Action::NextRow
            | Action::PrevRow
            | Action::FirstRow
            | Action::LastRow
            | Action::HalfPageDown
            | Action::HalfPageUp
            | Action::NextPane
            | Action::PrevPane
            | Action::ShowQueue
            | Action::ShowDetail
            | Action::ShowTimeline
            | Action::ShowDetections
            | Action::ShowIntegrations
            | Action::Open
            | Action::Back
            | Action::ToggleSelect
            | Action::ClearSelection
            | Action::Filter
            | Action::CommandLine
            | Action::ToggleSort
            | Action::ShowMine
            | Action::WidenTimeline
            | Action::NarrowTimeline
            | Action::TestIntegration
            | Action::ReplayDeadLetters
            | Action::ToggleIntegration
            | Action::CreateJiraIssue
            | Action::SendTo
            | Action::SuspendActor
            | Action::RestoreActor
            | Action::Refresh
            | Action::Help
            | Action::Quit => Vec::new(),
        }
    }

    fn set_status(&mut self, status: AlertStatus) -> Vec<Effect> {
        let ids = self.targets();
        if ids.is_empty() {
            self.complain("no alert selected");
            return Vec::new();
        }
        self.queue.marked.clear();
        let seen = self.seen(&ids);
        vec![Effect::Execute(Command::SetStatus {
            ids,
            status,
            who: self.user.clone(),
            seen,
        })]
    }

    fn assign(&mut self, assignee: Option<String>) -> Vec<Effect> {
        let ids = self.targets();
        if ids.is_empty() {
            self.complain("no alert selected");
            return Vec::new();
        }
        let seen = self.seen(&ids);
        vec![Effect::Execute(Command::Assign {
            ids,
            assignee,
            who: self.user.clone(),
            seen,
        })]
    }

    /// Start the "until" prompt for excluding the current alert's actor or object from its detection.
    fn exclude(&mut self, kind: ExclusionKind) -> Vec<Effect> {
        let Some(alert) = self.current_alert() else {
            self.complain("no alert selected");
            return Vec::new();
        };
        let value = match kind {
            ExclusionKind::Actor => Some(alert.actor.id.clone()),
            // Content alerts group on `detection|actor|object|fingerprint`; other detections name their
            // object only through evidence events, which the timeline has loaded when it shows this actor.
            ExclusionKind::Container | ExclusionKind::Object => object_of(alert).or_else(|| {
                self.timeline
                    .events
                    .iter()
                    .filter(|e| alert.evidence.contains(&e.id))
                    .find_map(|e| e.object_id().map(str::to_string))
            }),
        };
        let Some(value) = value else {
            self.complain("this alert names no page or issue (open its timeline, then try again)");
            return Vec::new();
        };
        let label = match kind {
            ExclusionKind::Actor => actor_label(alert),
            ExclusionKind::Container | ExclusionKind::Object => {
                let title = (alert.subject.as_deref().filter(|s| !s.is_empty()))
                    .map(str::to_string)
                    .or_else(|| {
                        self.timeline
                            .events
                            .iter()
                            .find(|e| e.object_id() == Some(value.as_str()))
                            .and_then(|e| e.content.as_ref()?.title.clone())
                    });
                title.map(|t| format!("'{}' ({value})", crate::model::text::truncate(&t, 60)))
            }
        };
        let detection = alert.detection.0.clone();
        self.prompt = Some(Prompt::new(
            PromptKind::ExcludeUntil {
                detection,
                kind,
                value,
                label,
                error: None,
            },
            "",
        ));
        Vec::new()
    }

    /// `u` in the detections pane: ask which of the selected detection's exclusions to remove, by its
    /// number in the list under the table — never "the last one" unseen.
    fn ask_remove_exclusion(&mut self) -> Vec<Effect> {
        if self.pane != Pane::Detections {
            self.say("tuning works in the detections pane");
            return Vec::new();
        }
        let Some(d) = self.detections.current() else {
            return Vec::new();
        };
        let count = d.settings.exclusions.len();
        let detection = d.id.clone();
        if count == 0 {
            let id = crate::model::text::sanitize(&detection);
            self.say(format!("{id} has no exclusions to remove"));
            return Vec::new();
        }
        // One exclusion: its number is already typed; Enter confirms, Esc keeps it.
        let initial = if count == 1 { "1" } else { "" };
        self.prompt = Some(Prompt::new(
            PromptKind::RemoveExclusion {
                detection,
                count,
                error: None,
            },
            initial,
        ));
        Vec::new()
    }

    fn tune_selected(
        &mut self,
        change: impl FnOnce(&mut crate::detect::tuning::DetectionSettings),
    ) -> Vec<Effect> {
        if self.pane != Pane::Detections {
            self.say("tuning works in the detections pane");
            return Vec::new();
        }
        let Some(d) = self.detections.current() else {
            return Vec::new();
        };
        let mut settings = d.settings.clone();
        change(&mut settings);
        vec![Effect::Execute(Command::SetDetection {
            id: d.id.clone(),
            settings,
            who: self.user.clone(),
        })]
    }

    fn set_detection(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut crate::detect::tuning::DetectionSettings),
    ) -> Vec<Effect> {
        let mut settings = self
            .detections
            .items
            .iter()
            .find(|d| d.id == id)
            .map(|d| d.settings.clone())
            .unwrap_or_default();
        change(&mut settings);
        vec![Effect::Execute(Command::SetDetection {
            id: id.to_string(),
            settings,
            who: self.user.clone(),
        })]
    }

    pub(super) fn on_note_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(editor) = self.note.as_mut() else {
            return Vec::new();
        };
        let save = (key.code == KeyCode::Char('s')
            && key.modifiers.contains(KeyModifiers::CONTROL))
            || (key.code == KeyCode::Enter && key.modifiers.contains(KeyModifiers::ALT));
        if editor.confirm_discard {
            // "discard the note? y/n": only y throws the draft away; any other key goes back to it.
            if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                self.note = None;
                self.say("note discarded");
            } else {
                editor.confirm_discard = false;
                self.say("back to the note");
            }
            return Vec::new();
        }
        if key.code == KeyCode::Esc {
            if editor.text().trim().is_empty() {
                self.note = None;
                self.say("empty note closed");
            } else {
                editor.confirm_discard = true;
            }
            return Vec::new();
        }
        if !save {
            editor.area.input(key);
            return Vec::new();
        }
        let text = editor.text();
        let id = editor.id;
        self.note = None;
        if text.trim().is_empty() {
            self.say("empty note discarded");
            return Vec::new();
        }
        vec![Effect::Execute(Command::AddNote {
            id,
            text,
            who: self.user.clone(),
        })]
    }

    pub(super) fn on_prompt_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if let Some(effects) = self.on_outbound_prompt_key(key) {
            return effects;
        }
        if let Some(effects) = self.on_respond_prompt_key(key) {
            return effects;
        }
        let Some(prompt) = self.prompt.as_mut() else {
            return Vec::new();
        };
        if let PromptKind::ConfirmOverwrite(req) = &prompt.kind {
            let req = req.clone();
            self.prompt = None;
            return if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                vec![export_command(req, true)]
            } else {
                self.say("not exported");
                Vec::new()
            };
        }
        match key.code {
            KeyCode::Esc => {
                self.prompt = None;
                Vec::new()
            }
            KeyCode::Enter => {
                let text = prompt.input.value().to_string();
                self.submit(text)
            }
            _ => {
                prompt.input.handle_event(&Event::Key(key));
                // Validate the filter as it is typed, so the bad token is underlined before Enter.
                if let PromptKind::Filter { .. } = prompt.kind {
                    let typed = prompt.input.value().to_string();
                    let checked = self.check_filter(&typed).err();
                    if let Some(PromptKind::Filter { error }) =
                        self.prompt.as_mut().map(|p| &mut p.kind)
                    {
                        *error = checked;
                    }
                }
                Vec::new()
            }
        }
    }

    fn submit(&mut self, text: String) -> Vec<Effect> {
        let Some(prompt) = self.prompt.take() else {
            return Vec::new();
        };
        match prompt.kind {
            PromptKind::Filter { .. } => match self.apply_filter(&text) {
                Ok(effects) => effects,
                Err((s, e, m)) => {
                    self.prompt = Some(Prompt {
                        kind: PromptKind::Filter {
                            error: Some((s, e, m)),
                        },
                        input: prompt.input,
                    });
                    Vec::new()
                }
            },
            PromptKind::Command { .. } => match cmdline::parse(&text) {
                Ok(cmd) => self.run_cmdline(cmd),
                Err(e) => {
                    self.prompt = Some(Prompt {
                        kind: PromptKind::Command { error: Some(e) },
                        input: prompt.input,
                    });
                    Vec::new()
                }
            },
            PromptKind::Assign { ids, seen } => {
                // The versions read when the prompt opened: a change made meanwhile by someone else wins, and
                // this assignment is refused with their name rather than silently undoing it.
                let who = text.trim();
                vec![Effect::Execute(Command::Assign {
                    ids,
                    assignee: (!who.is_empty()).then(|| who.to_string()),
                    who: self.user.clone(),
                    seen,
                })]
            }
            PromptKind::ExcludeUntil {
                detection,
                kind,
                value,
                label,
                ..
            } => {
                let today = self.now.date_naive();
                let refused = |reason: String| {
                    Some(Prompt {
                        kind: PromptKind::ExcludeUntil {
                            detection: detection.clone(),
                            kind,
                            value: value.clone(),
                            label: label.clone(),
                            error: Some(reason),
                        },
                        input: prompt.input.clone(),
                    })
                };
                let until = match text.trim() {
                    "" => None,
                    d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                        // The exclusion ends at the date's first moment: today's has passed already.
                        Ok(date) if date <= today => {
                            self.prompt = refused(format!(
                                "{date} is not in the future: the exclusion would already be over; \
                                 give a later date, or leave it empty for no end"
                            ));
                            return Vec::new();
                        }
                        Ok(date) => date.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t)),
                        Err(_) => {
                            let shown = crate::model::text::sanitize(d);
                            self.prompt =
                                refused(format!("'{shown}' is not a date like 2026-12-31"));
                            return Vec::new();
                        }
                    },
                };
                let exclusion = Exclusion {
                    kind,
                    value,
                    until,
                    label,
                };
                self.set_detection(&detection, |s| {
                    *s = with_exclusion(s.clone(), exclusion);
                })
            }
            PromptKind::RemoveExclusion {
                detection, count, ..
            } => {
                let current = self
                    .detections
                    .items
                    .iter()
                    .find(|d| d.id == detection)
                    .map_or(0, |d| d.settings.exclusions.len());
                let n = text.trim();
                match n.parse::<usize>() {
                    Ok(i) if (1..=current).contains(&i) && current == count => {
                        self.set_detection(&detection, |s| {
                            s.exclusions.remove(i - 1);
                        })
                    }
                    _ => {
                        let reason = if current != count {
                            "the exclusions changed meanwhile: look at the list again".to_string()
                        } else if n.is_empty() {
                            "type the number of the exclusion to remove (esc keeps them all)".into()
                        } else {
                            format!(
                                "'{}' is not one of the numbers listed (1-{count})",
                                crate::model::text::sanitize(n)
                            )
                        };
                        self.prompt = Some(Prompt {
                            kind: PromptKind::RemoveExclusion {
                                detection,
                                count: current,
                                error: Some(reason),
                            },
                            input: prompt.input,
                        });
                        Vec::new()
                    }
                }
            }
            PromptKind::ExportPath { ids, filter } => {
                let path = text.trim();
                if path.is_empty() {
                    self.say("export cancelled");
                    return Vec::new();
                }
                let format = if path.to_ascii_lowercase().ends_with(".json")
                    || path.to_ascii_lowercase().ends_with(".jsonl")
                {
                    ExportFormat::Json
                } else {
                    ExportFormat::Csv
                };
                vec![Effect::ProbePath(ExportRequest {
                    ids,
                    filter,
                    format,
                    path: path.into(),
                })]
            }
            PromptKind::SendTo {
                ids, names, jira, ..
            } => self.submit_send_to(text, ids, names, jira, prompt.input),
            // Answered key by key (`on_outbound_prompt_key`, `on_prompt_key`), never submitted.
            PromptKind::ConfirmOverwrite(_)
            | PromptKind::ConfirmReplay { .. }
            | PromptKind::ConfirmAccess(_) => Vec::new(),
        }
    }

    /// Parse a filter query and check what the grammar cannot know: that a `det:` value names a detection
    /// of the catalogue this UI has loaded (a typo would otherwise match nothing, silently). On error, the
    /// bad span (byte offsets) and the message, with the closest known id suggested.
    fn check_filter(
        &self,
        text: &str,
    ) -> Result<crate::model::AlertFilter, (usize, usize, String)> {
        let filter = query::parse(text, self.now).map_err(|e| (e.start, e.end, e.message))?;
        if let Some(det) = &filter.detection
            && !self.detections.items.is_empty()
        {
            let ids: Vec<&str> = self
                .detections
                .items
                .iter()
                .map(|d| d.id.as_str())
                .collect();
            if let Err(message) = crate::model::text::known_detection(det, &ids) {
                let (start, end) = det_span(text);
                return Err((start, end, format!("{message} (pane 4 lists them all)")));
            }
        }
        Ok(filter)
    }

    /// Parse and apply a filter query; on error return the bad span (byte offsets) and message.
    fn apply_filter(&mut self, text: &str) -> Result<Vec<Effect>, (usize, usize, String)> {
        let filter = self.check_filter(text)?;
        self.queue.filter = filter;
        self.queue.filter_text = text.trim().to_string();
        self.queue.marked.clear();
        self.queue.selected = 0;
        self.queue.offset = 0;
        self.pane = Pane::Queue;
        self.detail.pinned = None;
        Ok(vec![Effect::Page(
            self.queue.request(super::PageKind::Reset),
        )])
    }

    fn run_cmdline(&mut self, cmd: CmdLine) -> Vec<Effect> {
        match cmd {
            CmdLine::Status(s) => self.set_status(s),
            CmdLine::Assign(Some(who)) if who == "me" => self.assign(Some(self.user.clone())),
            CmdLine::Assign(who) => self.assign(who),
            CmdLine::Note(text) => match self.current_alert() {
                Some(a) => vec![Effect::Execute(Command::AddNote {
                    id: a.id,
                    text,
                    who: self.user.clone(),
                })],
                None => {
                    self.complain("no alert selected");
                    Vec::new()
                }
            },
            CmdLine::Export {
                format,
                path,
                force,
            } => {
                let ids = (!self.queue.marked.is_empty())
                    .then(|| self.queue.marked.iter().copied().collect());
                let req = ExportRequest {
                    ids,
                    filter: self.queue.filter.clone(),
                    format,
                    path,
                };
                if force {
                    vec![export_command(req, true)]
                } else {
                    vec![Effect::ProbePath(req)]
                }
            }
            CmdLine::Sensitivity {
                detection,
                sensitivity,
            } => {
                if let Some(d) = self.detections.items.iter().find(|d| d.id == detection)
                    && d.threshold.is_none()
                {
                    let id = crate::model::text::sanitize(&d.id);
                    self.complain(format!(
                        "{id} has no threshold to tune: it fires on every matching event"
                    ));
                    return Vec::new();
                }
                self.set_detection(&detection, |s| s.sensitivity = sensitivity)
            }
            CmdLine::Enable(d) => self.set_detection(&d, |s| s.enabled = true),
            CmdLine::Disable(d) => self.set_detection(&d, |s| s.enabled = false),
            CmdLine::Filter(q) => match self.apply_filter(&q) {
                Ok(e) => e,
                Err((_, _, m)) => {
                    self.complain(m);
                    Vec::new()
                }
            },
            CmdLine::Sort(key) => {
                let want = if key == "severity" {
                    SortOrder::Severity
                } else {
                    SortOrder::Time
                };
                if self.queue.sort != want {
                    vec![Effect::Page(self.queue.toggle_sort())]
                } else {
                    Vec::new()
                }
            }
            CmdLine::Access { access, org } => self.ask_access(access, org),
            CmdLine::Quit => vec![Effect::Quit],
            CmdLine::Help => {
                self.help = Some(0);
                Vec::new()
            }
        }
    }
}

/// The object id of a content alert, from its grouping key `detection|actor|object|fingerprint`.
fn object_of(alert: &crate::model::Alert) -> Option<String> {
    let parts: Vec<&str> = alert.group_key.split('|').collect();
    match parts.as_slice() {
        [_, _, object, _] if !object.is_empty() => Some((*object).to_string()),
        _ => None,
    }
}

/// An alert's actor as people know them: `Ana Lima (ana@x)`, the name or e-mail alone, or `None` when the
/// alert has only the account id.
pub(super) fn actor_label(alert: &crate::model::Alert) -> Option<String> {
    let a = &alert.actor;
    match (a.name.as_deref(), a.email.as_deref()) {
        (Some(n), Some(e)) if !n.is_empty() && !e.is_empty() => Some(format!("{n} ({e})")),
        (Some(n), _) if !n.is_empty() => Some(n.to_string()),
        (_, Some(e)) if !e.is_empty() => Some(e.to_string()),
        _ => None,
    }
}

/// The byte span of the `det:`/`detection:` term in a query (case-insensitive key), for the underline;
/// the whole query when it cannot be found.
fn det_span(text: &str) -> (usize, usize) {
    let lower = text.to_ascii_lowercase();
    let mut at = 0;
    for word in lower.split_inclusive(char::is_whitespace) {
        let w = word.trim_end();
        if w.starts_with("det:") || w.starts_with("detection:") {
            return (at, at + w.len());
        }
        at += word.len();
    }
    (0, text.len())
}
