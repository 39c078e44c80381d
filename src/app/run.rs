//! The interactive loop.

use std::io;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use super::intents::Intent;
use super::keys::handle_key;
use super::terminal::TerminalGuard;
use crate::actions::{Plan, PolicyContext, check, plan};
use crate::config::{Config, Theme};
use crate::runtime::Runtime;
use crate::ui::{self, ConfirmState, Ctx, Mode, View};

pub struct AppOptions {
    pub read_only: bool,
    pub theme: Theme,
    /// Where `w` writes a log.
    pub log_dir: std::path::PathBuf,
    pub log_rules: crate::logview::rules::ErrorRules,
}

/// Run the cockpit until the operator quits.
pub async fn run(config: Config, mut runtime: Runtime, options: AppOptions) -> color_eyre::Result<()> {
    let _guard = TerminalGuard::enter(config.ui.mouse)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    // Clear without Terminal::clear(), which asks the terminal for the cursor position: over a slow
    // SSH link that query can time out and would end the session.
    crossterm::execute!(
        io::stdout(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )?;

    let mut view = View {
        read_only: options.read_only,
        show_clock: config.ui.clock,
        environment: config
            .ui
            .environment
            .as_ref()
            .and_then(|e| runtime.state.environments.iter().position(|x| &x.name == e))
            .unwrap_or(0),
        ..View::default()
    };
    runtime.spawn_pollers();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    // A `kill` (or a closing SSH session's SIGHUP) ends the loop normally, so the guard restores
    // the terminal instead of leaving it raw.
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;

    // The open log's change counter: a redraw when its text, counts or position move.
    let mut log_watch: Option<(usize, tokio::sync::watch::Receiver<u64>)> = None;
    // The terminal's size is asked once, then only after a resize event.
    let mut log_rows = ui::log::body_rows(terminal.size()?.height);
    let mut resized = false;
    loop {
        let open_log = view.log.as_ref().map(|l| (std::sync::Arc::as_ptr(l) as usize, l));
        match (open_log, &log_watch) {
            (Some((id, session)), Some((watched, _))) if id == *watched => {
                if resized {
                    session.send(crate::logview::Command::Resize(log_rows));
                }
            }
            (Some((id, session)), _) => {
                session.send(crate::logview::Command::Resize(log_rows));
                log_watch = Some((id, session.changed.clone()));
            }
            (None, _) => log_watch = None,
        }
        resized = false;
        if dirty {
            let ctx = Ctx::new(&runtime.state, &view, &options.theme, &config.keymap, Utc::now());
            // Synchronized output: a frame never appears half-drawn over a slow link.
            crossterm::execute!(io::stdout(), crossterm::terminal::BeginSynchronizedUpdate)?;
            terminal.draw(|f| ui::draw(f, &ctx))?;
            crossterm::execute!(io::stdout(), crossterm::terminal::EndSynchronizedUpdate)?;
            dirty = false;
        }
        tokio::select! {
            event = events.next() => {
                match event {
                    Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                        // Below the minimum size nothing readable is on screen: only quitting works,
                        // so nobody confirms a popup they cannot see.
                        let size = terminal.size()?;
                        if size.width < ui::MIN_WIDTH || size.height < ui::MIN_HEIGHT {
                            let quit = super::keys::key_spec(&key)
                                .and_then(|k| config.keymap.action_for(&k))
                                .is_some_and(|a| a == crate::config::KeyAction::Quit);
                            if quit {
                                return Ok(());
                            }
                            continue;
                        }
                        let intent = handle_key(&runtime.state, &mut view, &config.keymap, &key);
                        if !act(intent, &mut runtime, &mut view, &options, &done_tx) {
                            return Ok(());
                        }
                        dirty = true;
                    }
                    Some(Ok(Event::Resize(_, rows))) => {
                        terminal.autoresize()?;
                        log_rows = ui::log::body_rows(rows);
                        resized = true;
                        dirty = true;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => return Ok(()),
                }
            }
            Some(update) = runtime.rx.recv() => {
                runtime.state.apply(update);
                // Coalesce a burst of updates into one frame.
                while let Ok(more) = runtime.rx.try_recv() {
                    runtime.state.apply(more);
                }
                dirty = true;
            }
            Ok(()) = async {
                match &mut log_watch {
                    Some((_, rx)) => rx.changed().await.map_err(|_| ()),
                    None => std::future::pending().await,
                }
            } => {
                dirty = true;
            }
            Some(key) = done_rx.recv() => {
                view.in_flight.retain(|k| k != &key);
                dirty = true;
            }
            _ = term.recv() => return Ok(()),
            _ = hangup.recv() => return Ok(()),
            _ = tick.tick() => {
                // Ages, gauges and the clock move with time.
                dirty = true;
            }
        }
    }
}

/// Carry out an intent. Returns false when the cockpit should quit.
fn act(
    intent: Intent,
    runtime: &mut Runtime,
    view: &mut View,
    options: &AppOptions,
    done_tx: &mpsc::UnboundedSender<String>,
) -> bool {
    match intent {
        Intent::None => {}
        Intent::Quit => return false,
        Intent::Refresh(source) => {
            for (name, notify) in &runtime.refresh {
                if source.as_ref().is_none_or(|s| s == name) {
                    notify.notify_one();
                }
            }
            view.say(match source {
                Some(s) => format!("polling {s} now"),
                None => "polling every source now".to_string(),
            });
        }
        Intent::Plan(request) => {
            let planned = plan::plan(*request, &runtime.state);
            let refused = check(
                &planned,
                &PolicyContext {
                    state: &runtime.state,
                    read_only: options.read_only,
                },
            )
            .err();
            if let Some(reason) = &refused {
                runtime.executor.record_refusal(&planned, reason);
            }
            view.mode = Mode::Confirm(ConfirmState {
                plan: planned,
                refused,
                typed: String::new(),
            });
        }
        Intent::Execute(planned) => execute(*planned, runtime, view, options, done_tx),
        Intent::OpenLog(target) => {
            let Some(client) = runtime.jenkins_clients.get(&target.source) else {
                view.say(format!("no Jenkins source named {}", target.source));
                return true;
            };
            let request = crate::logview::LogRequest {
                title: target.title,
                client: client.clone(),
                build_url: target.build_url,
                stage: target.stage,
                rules: options.log_rules.clone(),
                save_path: options.log_dir.join(format!("{}.log", target.file_stem)),
            };
            view.log = Some(std::sync::Arc::new(crate::logview::LogSession::open(request)));
        }
        Intent::Log(command) => {
            if let Some(log) = &view.log {
                log.send(command);
            }
        }
        Intent::Copy { text, what } => match super::clipboard::osc52(&text) {
            Ok(()) => view.say(format!("copied {what} to the clipboard (OSC 52)")),
            Err(e) => view.say(format!("could not copy: {e}")),
        },
        Intent::OpenUrl(url) => match super::browser::open(&url) {
            super::browser::Opened::Launched(program) => view.say(format!("opened with {program}: {url}")),
            super::browser::Opened::Unavailable(why) => {
                if let Mode::Explain(e) = &mut view.mode {
                    e.show_url = true;
                }
                view.say(format!("{why}: {url}"));
            }
        },
    }
    true
}

fn execute(
    planned: Plan,
    runtime: &mut Runtime,
    view: &mut View,
    options: &AppOptions,
    done_tx: &mpsc::UnboundedSender<String>,
) {
    // The world may have moved while the popup was open: check again right before acting.
    if let Err(reason) = check(
        &planned,
        &PolicyContext {
            state: &runtime.state,
            read_only: options.read_only,
        },
    ) {
        runtime.executor.record_refusal(&planned, &reason);
        view.say(format!("refused: {reason}"));
        return;
    }
    let key = planned.request.key();
    if view.in_flight.contains(&key) {
        view.say("that action is already running; not sending it twice");
        return;
    }
    view.in_flight.push(key.clone());
    view.say(format!("running: {}", planned.title));
    let executor = runtime.executor.clone();
    let done = done_tx.clone();
    tokio::spawn(async move {
        executor.run(planned).await;
        let _ = done.send(key);
    });
}
