//! Alerts leaving the terminal: the integrations pane's actions (test alert, dead-letter replay, enable or
//! disable) and sending alerts by hand ("create Jira issue", "send to …") with its name prompt. Each ends in
//! an [`Effect::Execute`] of an engine command; the engine writes through the store, where the delivery
//! worker picks the work up. Nothing here talks to the engine.

use crossterm::event::{KeyCode, KeyEvent};
use tui_input::Input;
use ulid::Ulid;

use super::{AppState, Effect, Pane, Prompt, PromptKind};
use crate::engine::{Command, IntegrationView};
use crate::model::IntegrationKind;
use crate::model::text::sanitize;
use crate::tui::action::Action;

impl AppState {
    pub(super) fn on_outbound_action(&mut self, a: Action) -> Vec<Effect> {
        match a {
            Action::TestIntegration => {
                let Some(v) = self.selected_integration() else {
                    return Vec::new();
                };
                vec![Effect::Execute(Command::TestIntegration {
                    name: v.integration.name.clone(),
                    who: self.user.clone(),
                })]
            }
            Action::ReplayDeadLetters => {
                let Some(v) = self.selected_integration() else {
                    return Vec::new();
                };
                let name = v.integration.name.clone();
                if v.dead == 0 {
                    self.say(format!("no dead letters for {}", sanitize(&name)));
                } else {
                    let dead = v.dead;
                    self.prompt = Some(Prompt::new(PromptKind::ConfirmReplay { name, dead }, ""));
                }
                Vec::new()
            }
            Action::ToggleIntegration => {
                let Some(v) = self.selected_integration() else {
                    return Vec::new();
                };
                if !v.integration.enabled {
                    let name = sanitize(&v.integration.name);
                    self.complain(format!(
                        "{name} is disabled in the config (enabled = false); enable it there"
                    ));
                    return Vec::new();
                }
                vec![Effect::Execute(Command::SetIntegrationEnabled {
                    name: v.integration.name.clone(),
                    enabled: !v.enabled,
                    who: self.user.clone(),
                })]
            }
            Action::CreateJiraIssue => self.ask_send_to(true),
            Action::SendTo => self.ask_send_to(false),
            // Everything else: `AppState::on_action` handles it and never sends it here.
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
            | Action::Acknowledge
            | Action::MarkExpected
            | Action::MarkTruePositive
            | Action::Reopen
            | Action::AssignToMe
            | Action::Assign
            | Action::AddNote
            | Action::Export
            | Action::CopyId
            | Action::Filter
            | Action::CommandLine
            | Action::ToggleSort
            | Action::ShowMine
            | Action::WidenTimeline
            | Action::NarrowTimeline
            | Action::ToggleDetection
            | Action::CycleSensitivity
            | Action::ExcludeActor
            | Action::ExcludeObject
            | Action::RemoveExclusion
            | Action::SuspendActor
            | Action::RestoreActor
            | Action::Refresh
            | Action::Help
            | Action::Quit => Vec::new(),
        }
    }

    /// The integration under the cursor when the integrations pane is shown; otherwise says why there is none
    /// (these keys act on what the operator sees, never on a row out of sight).
    fn selected_integration(&mut self) -> Option<IntegrationView> {
        if self.pane != Pane::Integrations {
            self.say("this works in the integrations pane");
            return None;
        }
        let v = self.integrations.current().cloned();
        if v.is_none() {
            self.complain("no integration configured");
        }
        v
    }

    /// Open the prompt that asks where the target alerts go: Jira integrations only for `jira` (prefilled
    /// with the first), else every integration that takes alerts (prefilled when there is one).
    fn ask_send_to(&mut self, jira: bool) -> Vec<Effect> {
        if !matches!(self.pane, Pane::Queue | Pane::Detail) {
            self.say("select alerts in the queue or open one first");
            return Vec::new();
        }
        let ids = self.targets();
        if ids.is_empty() {
            self.complain("no alert selected");
            return Vec::new();
        }
        let names: Vec<String> = self
            .integrations
            .items
            .iter()
            .map(|v| &v.integration)
            .filter(|i| i.kind != IntegrationKind::AuditForward)
            .filter(|i| !jira || i.kind == IntegrationKind::Jira)
            .map(|i| i.name.clone())
            .collect();
        if names.is_empty() {
            self.complain(if jira {
                "no Jira integration configured"
            } else {
                "no integration takes alerts ([[integrations]] in the config)"
            });
            return Vec::new();
        }
        let initial = if jira || names.len() == 1 {
            names[0].clone()
        } else {
            String::new()
        };
        self.prompt = Some(Prompt::new(
            PromptKind::SendTo {
                ids,
                names,
                jira,
                error: None,
            },
            &initial,
        ));
        Vec::new()
    }

    /// Keys the outbound prompts answer themselves: any key answers the replay question (only `y` replays),
    /// Tab completes an integration name. `None` leaves the key to the common prompt handling.
    pub(super) fn on_outbound_prompt_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let prompt = self.prompt.as_mut()?;
        match &mut prompt.kind {
            PromptKind::ConfirmReplay { name, .. } => {
                let name = name.clone();
                self.prompt = None;
                Some(if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                    vec![Effect::Execute(Command::ReplayDead {
                        name,
                        who: self.user.clone(),
                    })]
                } else {
                    self.say("not replayed");
                    Vec::new()
                })
            }
            PromptKind::SendTo { names, error, .. } if key.code == KeyCode::Tab => {
                if let Some(next) = complete(names, prompt.input.value()) {
                    prompt.input = Input::new(next);
                    *error = None;
                }
                Some(Vec::new())
            }
            // Editing the name retracts the complaint about the last one.
            PromptKind::SendTo { error, .. } if key.code != KeyCode::Enter => {
                *error = None;
                None
            }
            _ => None,
        }
    }

    /// Enter in the "send to" prompt: a configured name sends (and clears the selection, as the other bulk
    /// actions do); an empty one cancels; anything else keeps the prompt open with the reason.
    pub(super) fn submit_send_to(
        &mut self,
        text: String,
        ids: Vec<Ulid>,
        names: Vec<String>,
        jira: bool,
        input: Input,
    ) -> Vec<Effect> {
        let name = text.trim();
        if name.is_empty() {
            self.say("not sent");
            return Vec::new();
        }
        if !names.iter().any(|n| n == name) {
            let error = Some(format!(
                "no {}integration '{}' here; tab completes",
                if jira { "Jira " } else { "" },
                sanitize(name)
            ));
            self.prompt = Some(Prompt {
                kind: PromptKind::SendTo {
                    ids,
                    names,
                    jira,
                    error,
                },
                input,
            });
            return Vec::new();
        }
        self.queue.marked.clear();
        vec![Effect::Execute(Command::SendAlerts {
            ids,
            integration: name.to_string(),
            who: self.user.clone(),
        })]
    }
}

/// The name Tab puts in the prompt: after a complete name, the next one (cycling through all); else the
/// first that starts with what was typed, or failing that contains it (ignoring case).
fn complete(names: &[String], typed: &str) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    if let Some(i) = names.iter().position(|n| n == typed) {
        return names.get((i + 1) % names.len()).cloned();
    }
    let lower = typed.to_lowercase();
    names
        .iter()
        .find(|n| n.starts_with(typed))
        .or_else(|| names.iter().find(|n| n.to_lowercase().contains(&lower)))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::complete;

    #[test]
    fn tab_completes_a_prefix_then_cycles() {
        let names: Vec<String> = ["secops-slack", "jira-sec", "secops-teams"]
            .map(String::from)
            .to_vec();
        assert_eq!(complete(&names, "").as_deref(), Some("secops-slack"));
        assert_eq!(complete(&names, "j").as_deref(), Some("jira-sec"));
        assert_eq!(complete(&names, "TEAMS").as_deref(), Some("secops-teams"));
        assert_eq!(
            complete(&names, "secops-slack").as_deref(),
            Some("jira-sec")
        );
        assert_eq!(
            complete(&names, "secops-teams").as_deref(),
            Some("secops-slack")
        );
        assert_eq!(complete(&names, "nothing"), None);
        assert_eq!(complete(&[], "x"), None);
    }
}
