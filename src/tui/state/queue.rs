//! The alert queue as a window of rows around the selection (gitui's idea): the queue never holds every
//! alert, only up to [`WINDOW_MAX`] rows fetched page by page through `alerts_page` as the selection moves.

use std::collections::BTreeSet;

use ulid::Ulid;

use crate::model::AlertPage;
use crate::model::query;
use crate::model::{Alert, AlertFilter, AssigneeFilter};

/// Rows fetched when the window is (re)loaded.
pub const FIRST_PAGE: usize = 200;
/// Rows fetched per step when the selection nears an edge of the window.
pub const STEP: usize = 100;
/// Most rows kept; beyond it the far end of the window is dropped.
pub const WINDOW_MAX: usize = 300;
/// How close to an edge the selection may come before the next page is asked for.
const MARGIN: usize = 20;

/// Which page a queue query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// Replace the window with the newest rows, keeping the selected alert if it is still there.
    Reset,
    /// Rows older than the window (appended).
    Older,
    /// Rows newer than the window (prepended); the query runs oldest-first from the window's newest id.
    Newer,
}

/// Order of the rows on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Newest first, as the store pages.
    #[default]
    Time,
    /// Most severe first, newest first within a severity, paged in that order from the store's
    /// status+severity index.
    Severity,
}

/// A request for a page, for the app loop to run.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub generation: u64,
    pub kind: PageKind,
    pub filter: AlertFilter,
    pub cursor: Option<Ulid>,
    pub limit: usize,
}

/// The queue's rows, selection and filter.
#[derive(Debug, Default)]
pub struct QueueState {
    /// The loaded window, in [`SortOrder`] order.
    pub rows: Vec<Alert>,
    pub selected: usize,
    /// First row on screen.
    pub offset: usize,
    /// Rows dropped above the window, so positions can be shown as absolute numbers.
    pub window_start: usize,
    pub more_older: bool,
    pub more_newer: bool,
    pub filter: AlertFilter,
    /// What the user typed in `/`, shown in the queue's title.
    pub filter_text: String,
    pub sort: SortOrder,
    /// Space-selected alerts for bulk actions.
    pub marked: BTreeSet<Ulid>,
    /// Alerts raised that the user has not scrolled up to yet ("N new" in the header). Raised alerts add to
    /// it; moving the cursor up lowers it to the number of rows still above the cursor, so it falls as the new
    /// rows are passed and is gone at the first row (`k` on the top row or `gg` clear it; `ctrl-r` too).
    pub unseen: usize,
    /// Newest query wins: results carrying an older generation are dropped.
    pub generation: u64,
    pub pending: Option<PageKind>,
    /// Whether the first page has arrived (the pane says "loading" until then).
    pub loaded: bool,
    pub error: Option<String>,
    /// Who `assignee:me` means: the UI's user. Every query the queue sends carries it (see
    /// [`AlertFilter::me`]).
    pub me: String,
    /// The filter before `M` narrowed the view to the user's alerts, for `M` to go back to.
    pub before_mine: Option<BeforeMine>,
}

/// What the queue showed before the "mine" view, and the text the view was given, so that `M` restores the
/// filter exactly — unless the user has typed another filter meanwhile, then `M` only drops `assignee:me`.
#[derive(Debug, Clone, PartialEq)]
pub struct BeforeMine {
    /// The filter to restore.
    pub filter: AlertFilter,
    /// Its text as the user typed it, for the title and for `/` to reopen with.
    pub text: String,
    /// The filter text `M` set; while it is still the queue's, the view is the one `M` made.
    pub mine_text: String,
}

impl QueueState {
    /// The alert under the cursor.
    pub fn selected_alert(&self) -> Option<&Alert> {
        self.rows.get(self.selected)
    }

    /// The ids a bulk action applies to: the marked rows, else the selected one.
    pub fn target_ids(&self) -> Vec<Ulid> {
        if self.marked.is_empty() {
            self.selected_alert()
                .map(|a| vec![a.id])
                .unwrap_or_default()
        } else {
            self.marked.iter().copied().collect()
        }
    }

    /// Whether the view is narrowed to the user's alerts (`M`, or `assignee:me` typed in `/`).
    pub fn is_mine(&self) -> bool {
        self.filter.assignee == Some(AssigneeFilter::Me)
    }

    /// `M`: narrow the filter to `assignee:me` (in place of another `assignee:` term), or back to what it
    /// was. The cursor goes to the top, as with any new filter; returns the reload.
    pub fn toggle_mine(&mut self) -> PageRequest {
        if self.is_mine() {
            match self.before_mine.take() {
                Some(before) if before.mine_text == self.filter_text => {
                    self.filter = before.filter;
                    self.filter_text = before.text;
                }
                _ => {
                    self.filter.assignee = None;
                    self.filter_text = query::without_key(&self.filter_text, "assignee");
                }
            }
        } else {
            let rest = query::without_key(&self.filter_text, "assignee");
            let mine_text = if rest.is_empty() {
                "assignee:me".to_string()
            } else {
                format!("assignee:me {rest}")
            };
            self.before_mine = Some(BeforeMine {
                filter: self.filter.clone(),
                text: std::mem::replace(&mut self.filter_text, mine_text.clone()),
                mine_text,
            });
            self.filter.assignee = Some(AssigneeFilter::Me);
        }
        self.marked.clear();
        self.selected = 0;
        self.offset = 0;
        self.request(PageKind::Reset)
    }

    /// Ask for a page; the previous pending one becomes stale.
    pub fn request(&mut self, kind: PageKind) -> PageRequest {
        // Whatever set the filter (`/`, `M`), `assignee:me` is this user; kept on the filter, so an export
        // of the filtered view means the same.
        self.filter.me = Some(self.me.clone());
        self.generation += 1;
        self.pending = Some(kind);
        let by_severity = self.sort == SortOrder::Severity;
        // The window is in the store's order, so its ends are the cursors (for time order also its min and max).
        let (cursor, limit, ascending) = match kind {
            PageKind::Reset => (None, FIRST_PAGE, false),
            PageKind::Older => (self.rows.last().map(|a| a.id), STEP, false),
            PageKind::Newer => (self.rows.first().map(|a| a.id), STEP, true),
        };
        PageRequest {
            generation: self.generation,
            kind,
            filter: AlertFilter {
                ascending,
                by_severity,
                ..self.filter.clone()
            },
            cursor,
            limit,
        }
    }

    /// Take a page in. Returns false when the result was stale and ignored.
    pub fn accept(
        &mut self,
        generation: u64,
        kind: PageKind,
        result: Result<AlertPage, String>,
    ) -> bool {
        if generation != self.generation {
            return false;
        }
        self.pending = None;
        let page = match result {
            Ok(p) => p,
            Err(e) => {
                self.error = Some(e);
                return true;
            }
        };
        self.error = None;
        self.loaded = true;
        let keep = self.selected_alert().map(|a| a.id);
        match kind {
            PageKind::Reset => {
                let old_sel = self.selected;
                self.rows = page.alerts;
                self.more_older = page.next.is_some();
                self.more_newer = false;
                self.window_start = 0;
                self.sort_rows();
                let found = keep.and_then(|id| self.rows.iter().position(|a| a.id == id));
                match found {
                    // The view is at the top: it stays there, so rows arriving above the selected alert are seen
                    // (the caller's `scroll_into_view` scrolls only if the selected alert would leave the screen).
                    Some(i) if self.offset == 0 => self.selected = i,
                    Some(i) => {
                        // Scrolled down: keep the selected alert on the same screen line while rows arrive above.
                        self.offset = (self.offset + i).saturating_sub(old_sel);
                        self.selected = i;
                    }
                    None => self.selected = old_sel.min(self.rows.len().saturating_sub(1)),
                }
                let present: BTreeSet<Ulid> = self.rows.iter().map(|a| a.id).collect();
                self.marked.retain(|id| present.contains(id));
            }
            PageKind::Older => {
                self.more_older = page.next.is_some();
                self.rows.extend(page.alerts);
                self.sort_rows_keeping(keep);
                let excess = self.rows.len().saturating_sub(WINDOW_MAX);
                if excess > 0 {
                    self.rows.drain(..excess);
                    self.window_start += excess;
                    self.selected = self.selected.saturating_sub(excess);
                    self.offset = self.offset.saturating_sub(excess);
                    self.more_newer = true;
                }
            }
            PageKind::Newer => {
                self.more_newer = page.next.is_some();
                let mut fresh = page.alerts;
                fresh.reverse();
                let n = fresh.len();
                self.window_start = self.window_start.saturating_sub(n);
                fresh.append(&mut self.rows);
                self.rows = fresh;
                self.selected += n;
                self.offset += n;
                self.sort_rows_keeping(keep);
                if self.rows.len() > WINDOW_MAX {
                    self.rows.truncate(WINDOW_MAX);
                    self.more_older = true;
                }
            }
        }
        true
    }

    /// Replace rows in place with fresher copies; rows that no longer match the filter leave the window.
    pub fn refresh_rows(&mut self, fresh: Vec<Alert>) {
        let keep = self.selected_alert().map(|a| a.id);
        for a in fresh {
            if let Some(i) = self.rows.iter().position(|r| r.id == a.id) {
                if self.filter.matches(&a) {
                    self.rows[i] = a;
                } else {
                    self.rows.remove(i);
                    self.marked.remove(&a.id);
                }
            }
        }
        self.sort_rows_keeping(keep);
        self.clamp();
    }

    /// A page to ask for when the selection came near an edge of the window.
    pub fn page_if_needed(&mut self) -> Option<PageRequest> {
        if self.pending.is_some() {
            return None;
        }
        if self.more_older && self.selected + MARGIN >= self.rows.len() {
            return Some(self.request(PageKind::Older));
        }
        if self.more_newer && self.selected < MARGIN {
            return Some(self.request(PageKind::Newer));
        }
        None
    }

    /// Move the cursor by `delta` rows (clamped), keeping it inside `view` rows on screen. Moving up past new
    /// rows counts them as seen (see [`QueueState::unseen`]); moving down never does.
    pub fn move_by(&mut self, delta: isize, view: usize) {
        super::move_cursor(
            &mut self.selected,
            &mut self.offset,
            self.rows.len(),
            delta,
            view,
        );
        if delta < 0 {
            self.saw_up_to_cursor();
        }
    }

    /// The new alerts arrive at the top (newest first): the cursor at absolute row `r` has passed every new
    /// row but the `r` above it, so "N new" never exceeds `r` and reaches 0 at the top — the way a mail
    /// reader's unread count falls as one reads upwards, and what a k9s/htop user expects of a list whose
    /// head is the news.
    fn saw_up_to_cursor(&mut self) {
        self.unseen = self.unseen.min(self.window_start + self.selected);
    }

    /// Keep the cursor on screen.
    pub fn scroll_into_view(&mut self, view: usize) {
        super::scroll_into_view(self.selected, &mut self.offset, view);
    }

    /// Flip the sort order: the loaded rows reorder at once (the selected alert stays selected) and the
    /// returned request reloads the window from the store in the new order.
    pub fn toggle_sort(&mut self) -> PageRequest {
        self.sort = match self.sort {
            SortOrder::Time => SortOrder::Severity,
            SortOrder::Severity => SortOrder::Time,
        };
        let keep = self.selected_alert().map(|a| a.id);
        self.sort_rows_keeping(keep);
        self.request(PageKind::Reset)
    }

    fn sort_rows(&mut self) {
        match self.sort {
            SortOrder::Time => self.rows.sort_by_key(|a| std::cmp::Reverse(a.id)),
            SortOrder::Severity => self
                .rows
                .sort_by(|a, b| b.severity.cmp(&a.severity).then(b.id.cmp(&a.id))),
        }
    }

    fn sort_rows_keeping(&mut self, keep: Option<Ulid>) {
        self.sort_rows();
        if let Some(i) = keep.and_then(|id| self.rows.iter().position(|a| a.id == id)) {
            self.selected = i;
        }
        self.clamp();
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
        self.offset = self.offset.min(self.selected);
    }
}
