//! The keymap vocabulary: every user intent a key can be bound to. Serde names (kebab-case) are what
//! `keymap.toml` uses; each variant's doc comment is its line in the `?` help.

use serde::{Deserialize, Serialize};

/// A user intent, resolved from keys before anything changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
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
    /// Assign to me ($USER)
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
    /// Remove the detection's last exclusion
    RemoveExclusion,
    /// Reload from the store
    Refresh,
    /// Show the key bindings
    Help,
    /// Quit
    Quit,
}
