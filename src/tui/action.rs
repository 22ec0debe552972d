//! The keymap vocabulary: every user intent a key can be bound to. Serde names (kebab-case) are what
//! `keymap.toml` uses; each variant's doc comment is its line in the `?` help ([`Action::help`]), so the text is
//! written once, here.

use serde::{Deserialize, Serialize};

/// Declares [`Action`] from its variants as written below, each with exactly one `///` line (a variant without one,
/// or with two, does not match and fails to compile), and derives [`Action::ALL`] and [`Action::help`] from the same
/// list. Further attributes (`#[serde(skip)]` for internal actions) go after the doc line.
macro_rules! actions {
    ($(#[doc = $help:literal] $(#[$attr:meta])* $variant:ident,)*) => {
        /// A user intent, resolved from keys before anything changes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum Action {
            $(#[doc = $help] $(#[$attr])* $variant,)*
        }

        impl Action {
            /// Every action, in declaration order (the order of the `?` help).
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The one-line description `?` shows: the variant's doc comment.
            pub fn help(self) -> &'static str {
                match self {
                    // A `///` line arrives as `#[doc = " text"]`: drop the space after the slashes.
                    $(Action::$variant => $help.trim_ascii(),)*
                }
            }
        }
    };
}

actions! {
    /// Move down one row
    NextRow,
    /// Move up one row
    PrevRow,
    /// Jump to the first row
    FirstRow,
    /// Jump to the last row
    LastRow,
    /// Move down half a page
    HalfPageDown,
    /// Move up half a page
    HalfPageUp,
    /// Next pane
    NextPane,
    /// Previous pane
    PrevPane,
    /// Show the alert queue
    ShowQueue,
    /// Show the selected alert's detail
    ShowDetail,
    /// Show the selected alert's actor timeline
    ShowTimeline,
    /// Show the detections catalogue
    ShowDetections,
    /// Show the integrations
    ShowIntegrations,
    /// Open the selection (an alert's detail; from the timeline, the event's alert)
    Open,
    /// Go back / cancel
    Back,
    /// Select or unselect the row for bulk actions
    ToggleSelect,
    /// Clear the selection
    ClearSelection,
    /// Mark acknowledged
    Acknowledge,
    /// Mark expected (investigated, benign)
    MarkExpected,
    /// Mark true positive
    MarkTruePositive,
    /// Reopen
    Reopen,
    /// Assign to me (your login name)
    AssignToMe,
    /// Assign to someone
    Assign,
    /// Add a note
    AddNote,
    /// Export the selection or the filtered view
    Export,
    /// Copy the alert id
    CopyId,
    /// Filter the queue
    Filter,
    /// Command line
    CommandLine,
    /// Show only the alerts assigned to me (assignee:me), or all again
    ShowMine,
    /// Sort by time or by severity
    ToggleSort,
    /// Widen the timeline window
    WidenTimeline,
    /// Narrow the timeline window
    NarrowTimeline,
    /// Enable or disable the detection
    ToggleDetection,
    /// Cycle the detection's sensitivity
    CycleSensitivity,
    /// Exclude the alert's actor from its detection
    ExcludeActor,
    /// Exclude the alert's page or issue from its detection
    ExcludeObject,
    /// Remove one of the detection's exclusions (asks which)
    RemoveExclusion,
    /// Send a test alert to the integration
    TestIntegration,
    /// Replay the integration's dead letters
    ReplayDeadLetters,
    /// Enable or disable the integration
    ToggleIntegration,
    /// Create a Jira issue for the selection (or the current alert)
    CreateJiraIssue,
    /// Send the selection (or the current alert) to an integration
    SendTo,
    /// Suspend the current alert's actor in the org (asks first; admins)
    SuspendActor,
    /// Restore the current alert's actor's access in the org (asks first; admins)
    RestoreActor,
    /// Reload from the store
    Refresh,
    /// Show this help: keys, filter terms, : commands
    Help,
    /// Quit
    Quit,
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn help_is_the_doc_comment_trimmed() {
        assert_eq!(Action::NextRow.help(), "Move down one row");
        assert_eq!(Action::AssignToMe.help(), "Assign to me (your login name)");
        for a in Action::ALL {
            let h = a.help();
            assert!(!h.is_empty(), "{a:?} has no help");
            assert_eq!(h, h.trim(), "{a:?}");
        }
        let mut all = Action::ALL.to_vec();
        all.dedup();
        assert_eq!(all.len(), Action::ALL.len(), "each variant once");
        assert_eq!(Action::ALL.first(), Some(&Action::NextRow));
        assert_eq!(Action::ALL.last(), Some(&Action::Quit));
    }
}
