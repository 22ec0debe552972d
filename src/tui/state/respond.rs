//! Responding from an alert: suspend or restore its actor in the org. The key asks the engine for a plan
//! (whom, in which org, or why it cannot be done: no API key configured, not an account id, not an admin),
//! the confirmation names both person and org, and only `y` sends the command. The outcome lands in the
//! footer and, through the engine, in the alert's history.

use crossterm::event::{KeyCode, KeyEvent};

use super::{AppState, Effect, Pane, Prompt, PromptKind};
use crate::engine::Command;
use crate::engine::respond::{Access, AccessPlan};

impl AppState {
    /// `K` / `alt-k` / `:suspend [ORG]` / `:restore [ORG]`: ask the engine what it would do for the current
    /// alert's actor. One person at a time: a selection of several alerts is not a list of people to lock out.
    pub(super) fn ask_access(&mut self, access: Access, org: Option<String>) -> Vec<Effect> {
        if !matches!(self.pane, Pane::Queue | Pane::Detail | Pane::Timeline) {
            self.say("open an alert first: this acts on its actor");
            return Vec::new();
        }
        let Some(id) = self.current_alert().map(|a| a.id) else {
            self.complain("no alert selected");
            return Vec::new();
        };
        vec![Effect::PlanAccess { id, access, org }]
    }

    /// The engine's plan arrived: ask, naming the person and the org; or say why nothing can be done.
    pub(super) fn confirm_access(&mut self, plan: Result<AccessPlan, String>) {
        match plan {
            Ok(plan) => self.prompt = Some(Prompt::new(PromptKind::ConfirmAccess(plan), "")),
            Err(why) => self.complain(why),
        }
    }

    /// Any key answers the question; only `y` sends. `None`: no such question is open.
    pub(super) fn on_respond_prompt_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let PromptKind::ConfirmAccess(plan) = &self.prompt.as_ref()?.kind else {
            return None;
        };
        let plan = plan.clone();
        self.prompt = None;
        Some(if matches!(key.code, KeyCode::Char('y' | 'Y')) {
            self.say(format!(
                "{} {}: asking the API…",
                plan.access.verb(),
                plan.person
            ));
            vec![Effect::Execute(Command::SetActorAccess {
                id: plan.alert,
                access: plan.access,
                org: Some(plan.org_id),
                who: self.user.clone(),
            })]
        } else {
            self.say(format!(
                "nothing sent: {} not {}",
                plan.person,
                plan.access.done()
            ));
            Vec::new()
        })
    }
}
