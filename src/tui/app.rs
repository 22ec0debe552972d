//! The app loop: keys → keymap → [`Msg`] → [`AppState::apply`] → [`Effect`]s, which this module performs
//! against the [`EngineHandle`] and feeds back as messages. Tests use the same [`App`] with a `TestBackend`
//! and [`App::settle`], so what they check is what the terminal runs.
//!
//! Entry points: [`run_async`] (await it inside the CLI's tokio runtime) and [`run`] (a blocking wrapper that
//! borrows the current multi-thread runtime, or builds one when there is none).

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use color_eyre::eyre::eyre;
use crossterm::event::{Event, EventStream, KeyEvent, KeyEventKind};
use futures::StreamExt;
use ratatui::{Frame, Terminal};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc};
use tokio::task::{AbortHandle, JoinSet};

use crate::engine::{Change, EngineHandle};
use crate::tui::backend::CompactBackend;
use crate::tui::keymap::{Keymap, Resolved};
use crate::tui::panes::FrameInfo;
use crate::tui::state::{AppState, EVENT_CAP, Effect, Msg, PageKind};
use crate::tui::theme::Theme;
use crate::tui::{panes, terminal};

/// How the CLI configures the UI.
#[derive(Debug, Clone, Default)]
pub struct UiOptions {
    /// Who is at the keyboard ([`crate::tui::user::current_user`]): "assign to me" and the "who" of
    /// every change.
    pub user: String,
    /// A user keymap laid over the defaults.
    pub keymap_path: Option<PathBuf>,
    /// `NO_COLOR` was set.
    pub no_color: bool,
    /// Header title, e.g. `vigil demo`.
    pub title: String,
    /// The organization's id (from an `atlassian_api` source): the detail links the actor's admin page.
    pub org_id: Option<String>,
    /// Write the detail's links as OSC 8 hyperlinks (the terminal supports them; see
    /// [`terminal::hyperlinks_supported`]).
    pub hyperlinks: bool,
}

/// The UI without its terminal: state, keymap and the engine handle. Drive it with [`App::on_key`] /
/// [`App::update`] and perform what they return with [`App::settle`] (tests) or the event loop (terminal).
pub struct App {
    pub state: AppState,
    pub keymap: Keymap,
    pub theme: Theme,
    handle: EngineHandle,
    feed: broadcast::Receiver<Change>,
    /// Set by [`Effect::Quit`].
    pub quit: bool,
    /// Set by [`Effect::Fail`]: the engine hit something it cannot recover from.
    pub failure: Option<String>,
    /// Everything sent to the clipboard (tests read it; the terminal also gets OSC 52).
    pub copied: Vec<String>,
    /// Frames drawn by [`App::draw_if_dirty`] so far.
    pub frames: u64,
    /// Whether links become OSC 8 hyperlinks.
    hyperlinks: bool,
}

impl App {
    /// A new app over `handle`, with the effects that load its first screen. Keymap problems become a
    /// footer error rather than a refusal to start.
    pub fn new(handle: EngineHandle, opts: &UiOptions, now: DateTime<Utc>) -> (Self, Vec<Effect>) {
        let (keymap, errors) = Keymap::load(opts.keymap_path.as_deref());
        let (mut state, effects) = AppState::new(opts.user.clone(), opts.title.clone(), now);
        state.org_id = opts.org_id.clone();
        if let Some(e) = errors.first() {
            state.complain(format!(
                "keymap: {e} ({} problem(s); defaults used)",
                errors.len()
            ));
        }
        let feed = handle.subscribe();
        let app = Self {
            state,
            keymap,
            theme: Theme::new(opts.no_color),
            handle,
            feed,
            quit: false,
            failure: None,
            copied: Vec::new(),
            frames: 0,
            hyperlinks: opts.hyperlinks,
        };
        (app, effects)
    }

    /// A key press: text fields take it raw, otherwise the keymap resolves it to an action first.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if self.state.captures_keys() {
            return self.state.apply(Msg::Key(key));
        }
        match self.keymap.resolve(key) {
            Resolved::Action(a) => {
                self.state.apply(Msg::Pending(None));
                self.state.apply(Msg::Action(a))
            }
            Resolved::Pending => self.state.apply(Msg::Pending(self.keymap.pending())),
            Resolved::Unbound => self.state.apply(Msg::Pending(None)),
        }
    }

    /// Any other message.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        self.state.apply(msg)
    }

    /// Draw the current state.
    pub fn draw(&self, f: &mut Frame) {
        self.draw_measured(f);
    }

    /// Draw the current state; returns what the frame measured (the detail's height, the links on screen).
    pub fn draw_measured(&self, f: &mut Frame) -> FrameInfo {
        panes::draw(f, &self.state, &self.keymap, self.theme)
    }

    /// Draw one frame (a synchronized update, see [`terminal::draw`]) if the state changed on screen since the
    /// last one; otherwise send nothing. Returns whether it drew. The event loop calls it once per turn.
    pub fn draw_if_dirty<W: Write>(
        &mut self,
        term: &mut Terminal<CompactBackend<W>>,
    ) -> io::Result<bool> {
        if !self.state.take_dirty() {
            return Ok(false);
        }
        let slot = term.backend().link_slot();
        let mut info = FrameInfo::default();
        terminal::draw(term, |f| {
            info = self.draw_measured(f);
            if let Ok(mut links) = slot.lock() {
                *links = if self.hyperlinks {
                    std::mem::take(&mut info.links)
                } else {
                    Vec::new()
                };
            }
        })?;
        if let Some((rows, view)) = info.detail {
            self.state.set_detail_layout(rows, view);
        }
        self.frames += 1;
        Ok(true)
    }

    /// Handle the effects that need no engine (quit, fail, copy). Returns the effect back when it does.
    fn local(&mut self, effect: Effect) -> Option<Effect> {
        match effect {
            Effect::Quit => self.quit = true,
            Effect::Fail(e) => {
                self.failure = Some(e);
                self.quit = true;
            }
            Effect::Copy(text) => self.copied.push(text),
            other => return Some(other),
        }
        None
    }

    /// Perform effects one after another, feeding results and pending change-feed messages back in, until
    /// nothing is left. The terminal loop runs the same [`perform`] concurrently; tests use this.
    pub async fn settle(&mut self, effects: Vec<Effect>) {
        let mut todo: VecDeque<Effect> = effects.into();
        loop {
            while let Some(e) = todo.pop_front() {
                if let Some(e) = self.local(e)
                    && let Some(msg) = perform(&self.handle, e).await
                {
                    todo.extend(self.update(msg));
                }
            }
            match self.feed.try_recv() {
                Ok(c) => todo.extend(self.update(Msg::Change(c))),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    todo.extend(self.update(Msg::Lagged))
                }
                Err(_) => break,
            }
        }
    }

    /// Press a key and settle everything it caused (a test convenience).
    pub async fn press(&mut self, key: KeyEvent) {
        let effects = self.on_key(key);
        self.settle(effects).await;
    }
}

/// Which single-job slot an effect occupies: a newer query for the same view aborts the older (gitui's
/// AsyncSingleJob); the generation check in the state drops any answer that still slips through.
fn slot(effect: &Effect) -> Option<&'static str> {
    match effect {
        Effect::Page(r) if r.kind == PageKind::Reset => Some("queue"),
        Effect::Timeline(_) => Some("timeline"),
        Effect::Alert(_) => Some("detail"),
        // Polled each second while shown: a slow answer is replaced by the next rather than piling up.
        Effect::Integrations => Some("integrations"),
        Effect::Deliveries(_) => Some("deliveries"),
        Effect::Evidence { .. } => Some("evidence"),
        // Older/newer pages extend the window rather than replace it; the rest are not view queries.
        Effect::Page(_)
        | Effect::Alerts(_)
        | Effect::Detections
        | Effect::Stats
        | Effect::Execute(_)
        | Effect::PlanAccess { .. }
        | Effect::ProbePath(_)
        | Effect::Copy(_)
        | Effect::Quit
        | Effect::Fail(_) => None,
    }
}

/// Run one engine effect and say what came of it.
pub async fn perform(handle: &EngineHandle, effect: Effect) -> Option<Msg> {
    let err = |e: crate::engine::EngineError| e.to_string();
    Some(match effect {
        Effect::Page(req) => Msg::Page {
            generation: req.generation,
            kind: req.kind,
            result: handle
                .alerts_page(req.filter, req.cursor, req.limit)
                .await
                .map_err(err),
        },
        Effect::Alerts(ids) => {
            let mut fresh = Vec::with_capacity(ids.len());
            for id in ids {
                if let Ok(Some(a)) = handle.alert(id).await {
                    fresh.push(a);
                }
            }
            Msg::Alerts(fresh)
        }
        Effect::Alert(id) => {
            Msg::Alert(handle.alert(id).await.map(|a| a.map(Box::new)).map_err(err))
        }
        Effect::Timeline(req) => {
            let events = handle
                .timeline(req.actor.clone(), req.around, EVENT_CAP, EVENT_CAP)
                .await;
            let alerts = handle
                .actor_alerts(req.actor, req.around - req.span, req.around + req.span, 500)
                .await;
            let result = match (events, alerts) {
                (Ok(ev), Ok(al)) => {
                    let (from, to) = (req.around - req.span, req.around + req.span);
                    let truncated = ev.len() >= 2 * EVENT_CAP;
                    let ev = ev
                        .into_iter()
                        .filter(|e| e.time >= from && e.time <= to)
                        .collect();
                    Ok((ev, al, truncated))
                }
                (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
            };
            Msg::Timeline {
                generation: req.generation,
                result,
            }
        }
        Effect::Detections => Msg::Detections(handle.detections()),
        Effect::Integrations => match handle.integrations().await {
            Ok(list) => Msg::Integrations(list),
            // Keep the list shown rather than replace it with nothing.
            Err(e) => Msg::Executed(Err(format!("loading integrations failed: {e}"))),
        },
        Effect::Deliveries(alert) => Msg::Deliveries {
            alert,
            result: handle.deliveries(alert).await.map_err(err),
        },
        Effect::Evidence { alert, baseline } => Msg::Evidence {
            alert,
            result: handle.evidence(alert, baseline).await.map_err(err),
        },
        Effect::Stats => Msg::Stats(handle.stats()),
        Effect::Execute(cmd) => {
            let ids = cmd.alert_ids();
            match handle.execute(cmd).await {
                Err(e @ crate::engine::EngineError::Conflict { .. }) => Msg::Conflicted {
                    ids,
                    text: e.to_string(),
                },
                r => Msg::Executed(r.map_err(err)),
            }
        }
        Effect::PlanAccess { id, access, org } => {
            Msg::AccessPlanned(handle.access_plan(id, access, org).await.map_err(err))
        }
        Effect::ProbePath(mut request) => {
            request.path = expand_home(&request.path);
            let exists = tokio::fs::try_exists(&request.path).await.unwrap_or(false);
            Msg::PathProbed { request, exists }
        }
        Effect::Quit | Effect::Fail(_) | Effect::Copy(_) => return None,
    })
}

/// `~/x` → `$HOME/x`, as a shell would; the command line and the export prompt both accept it.
fn expand_home(p: &std::path::Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

/// Run the UI until the user quits, a signal arrives, or something fatal happens. Await it inside the
/// CLI's tokio runtime (the engine's tasks may already run there). The terminal is restored on every path.
pub async fn run_async(handle: EngineHandle, opts: UiOptions) -> color_eyre::Result<()> {
    let (app, effects) = App::new(handle.clone(), &opts, Utc::now());
    let mut term = terminal::enter()?;
    let result = event_loop(&mut term, app, effects).await;
    // ratatui's Terminal shows the cursor when dropped and prints to stderr when it cannot, which on a dead pty
    // panics: show it here, and if that fails the terminal is gone and is not dropped (the process is ending).
    if terminal::is_gone() || term.show_cursor().is_err() {
        if !terminal::is_gone() {
            // It went away as the loop ended for another reason (a SIGTERM that came with the hangup).
            tracing::info!("terminal gone: stopping");
        }
        terminal::mark_gone();
        std::mem::forget(term);
    }
    terminal::leave();
    result
}

/// Blocking wrapper around [`run_async`]: inside a multi-thread tokio runtime it blocks in place on it,
/// otherwise it builds a runtime of its own.
pub fn run(handle: EngineHandle, opts: UiOptions) -> color_eyre::Result<()> {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| rt.block_on(run_async(handle, opts)))
        }
        Ok(_) => Err(eyre!(
            "vigil::tui::run needs a multi-thread tokio runtime; await run_async instead"
        )),
        Err(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run_async(handle, opts)),
    }
}

async fn event_loop(
    term: &mut terminal::Tty,
    mut app: App,
    first: Vec<Effect>,
) -> color_eyre::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut jobs: JoinSet<()> = JoinSet::new();
    let mut slots: HashMap<&'static str, AbortHandle> = HashMap::new();
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut feed = app.feed.resubscribe();

    let size = term.size()?;
    let mut pending = app.update(Msg::Resize(size.width, size.height));
    pending.extend(first);
    loop {
        for e in pending.drain(..) {
            let Some(e) = app.local(e) else { continue };
            let key = slot(&e);
            let (handle, tx) = (app.handle.clone(), tx.clone());
            let job = jobs.spawn(async move {
                if let Some(msg) = perform(&handle, e).await {
                    let _ = tx.send(msg);
                }
            });
            if let Some(k) = key
                && let Some(old) = slots.insert(k, job)
            {
                old.abort();
            }
        }
        for text in app.copied.drain(..) {
            terminal::copy_osc52(&text)?;
        }
        if let Some(f) = app.failure.take() {
            return Err(eyre!("the engine stopped: {f}"));
        }
        if app.quit {
            return Ok(());
        }
        // Draws only when a message changed the screen: a key that did something, a query answer or feed change
        // that differs from what is shown, a resize, or changed figures from the 1 Hz tick.
        app.draw_if_dirty(term)?;

        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) => { pending = app.on_key(k); continue; }
                Some(Ok(Event::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(Event::Paste(text))) => Msg::Paste(text),
                Some(Ok(_)) => continue,
                // The input ended: the tty is gone (a hangup whose signal has not arrived yet).
                None => {
                    terminal::mark_gone();
                    tracing::info!("terminal input ended: stopping");
                    return Ok(());
                }
                Some(Err(e)) => {
                    // The tty went away under the reader (a hangup whose signal has not arrived yet).
                    if matches!(e.raw_os_error(), Some(libc::EIO | libc::ENXIO)) {
                        terminal::mark_gone();
                        tracing::info!(error = %e, "terminal gone: stopping");
                        return Ok(());
                    }
                    return Err(e.into());
                }
            },
            change = feed.recv() => match change {
                Ok(c) => Msg::Change(c),
                Err(broadcast::error::RecvError::Lagged(_)) => Msg::Lagged,
                Err(broadcast::error::RecvError::Closed) => return Err(eyre!("the engine's change feed closed")),
            },
            Some(msg) = rx.recv() => msg,
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                match done {
                    // A panicking task already ran the panic hook, which reset the terminal: drawing on would
                    // scribble over the user's shell, so leave with the report.
                    Err(e) if e.is_panic() => return Err(eyre!("a background task panicked: {e}")),
                    _ => continue,
                }
            }
            _ = tick.tick() => {
                pending = vec![Effect::Stats];
                Msg::Tick(Utc::now())
            }
            _ = sigterm.recv() => {
                tracing::info!("SIGTERM: stopping");
                return Ok(());
            }
            _ = sighup.recv() => {
                terminal::mark_gone();
                tracing::info!("terminal hung up: stopping");
                return Ok(());
            }
        };
        pending.extend(app.update(msg));
    }
}
