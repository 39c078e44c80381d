//! Keys → view changes and intents, per mode. Pure over (`State`, `View`): testable without a terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::intents::{self, Intent};
use crate::actions::Confirm;
use crate::config::{KeyAction as A, KeyCodeSpec, KeySpec, Keymap};
use crate::logview::Command as LogCommand;
use crate::model::LinkKind;
use crate::model::{ParamKind, State};
use crate::ui::{Explain, Mode, Pane, Screen, View, visible_services};

/// A terminal key as the keymap spells it.
pub fn key_spec(key: &KeyEvent) -> Option<KeySpec> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let code = match key.code {
        KeyCode::Char(c) => KeyCodeSpec::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
        KeyCode::Enter => KeyCodeSpec::Named("Enter"),
        KeyCode::Esc => KeyCodeSpec::Named("Esc"),
        KeyCode::Tab => KeyCodeSpec::Named("Tab"),
        KeyCode::BackTab => KeyCodeSpec::Named("BackTab"),
        KeyCode::Backspace => KeyCodeSpec::Named("Backspace"),
        KeyCode::Delete => KeyCodeSpec::Named("Delete"),
        KeyCode::Insert => KeyCodeSpec::Named("Insert"),
        KeyCode::Up => KeyCodeSpec::Named("Up"),
        KeyCode::Down => KeyCodeSpec::Named("Down"),
        KeyCode::Left => KeyCodeSpec::Named("Left"),
        KeyCode::Right => KeyCodeSpec::Named("Right"),
        KeyCode::Home => KeyCodeSpec::Named("Home"),
        KeyCode::End => KeyCodeSpec::Named("End"),
        KeyCode::PageUp => KeyCodeSpec::Named("PageUp"),
        KeyCode::PageDown => KeyCodeSpec::Named("PageDown"),
        KeyCode::F(n) => KeyCodeSpec::F(n),
        _ => return None,
    };
    Some(KeySpec { code, ctrl, alt })
}

/// Apply one key press. Returns what the loop must do beyond redrawing.
pub fn handle_key(state: &State, view: &mut View, keymap: &Keymap, key: &KeyEvent) -> Intent {
    // Esc followed quickly by a key arrives as Alt+key (tmux, slow SSH). Unless the operator bound
    // that Alt chord, it is what they typed: Esc, then the key.
    if key.modifiers.contains(KeyModifiers::ALT)
        && let KeyCode::Char(c) = key.code
        && key_spec(key).and_then(|k| keymap.action_for(&k)).is_none()
    {
        let _ = handle_key(state, view, keymap, &KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        let plain = KeyEvent::new(KeyCode::Char(c), key.modifiers - KeyModifiers::ALT);
        return handle_key(state, view, keymap, &plain);
    }
    let mode = std::mem::take(&mut view.mode);
    let (mode, intent) = match mode {
        Mode::Normal if view.log.is_some() => (Mode::Normal, log_key(view, keymap, key)),
        Mode::Normal => (Mode::Normal, normal(state, view, keymap, key)),
        Mode::LogSearch { mut input } => match key.code {
            KeyCode::Esc => (Mode::Normal, Intent::None),
            KeyCode::Enter if input.is_empty() => (Mode::Normal, Intent::Log(LogCommand::ClearSearch)),
            KeyCode::Enter => (Mode::Normal, Intent::Log(LogCommand::Search(input))),
            KeyCode::Backspace => {
                input.pop();
                (Mode::LogSearch { input }, Intent::None)
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                input.push(c);
                (Mode::LogSearch { input }, Intent::None)
            }
            _ => (Mode::LogSearch { input }, Intent::None),
        },
        Mode::Explain(e) => explain_key(state, view, keymap, key, e),
        Mode::Help => match key.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter => (Mode::Normal, Intent::None),
            _ => (Mode::Help, Intent::None),
        },
        Mode::Filter { mut input } => match key.code {
            KeyCode::Esc => {
                view.filter.clear();
                view.selected = 0;
                (Mode::Normal, Intent::None)
            }
            KeyCode::Enter => (Mode::Normal, Intent::None),
            KeyCode::Backspace => {
                input.pop();
                view.filter = input.clone();
                view.selected = 0;
                (Mode::Filter { input }, Intent::None)
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                input.push(c);
                view.filter = input.clone();
                view.selected = 0;
                (Mode::Filter { input }, Intent::None)
            }
            _ => (Mode::Filter { input }, Intent::None),
        },
        Mode::Form(mut form) => match key.code {
            KeyCode::Esc => (Mode::Normal, Intent::None),
            KeyCode::Tab | KeyCode::Down => {
                form.cursor = (form.cursor + 1) % form.fields.len().max(1);
                (Mode::Form(form), Intent::None)
            }
            KeyCode::BackTab | KeyCode::Up => {
                form.cursor = (form.cursor + form.fields.len().max(1) - 1) % form.fields.len().max(1);
                (Mode::Form(form), Intent::None)
            }
            KeyCode::Enter => {
                let request = intents::request_from_form(&form);
                (Mode::Normal, Intent::Plan(Box::new(request)))
            }
            code => {
                if let Some(field) = form.fields.get_mut(form.cursor) {
                    match (&field.def.kind, code) {
                        (ParamKind::Choice { choices }, KeyCode::Left | KeyCode::Right | KeyCode::Char(' '))
                            if !choices.is_empty() =>
                        {
                            let i = choices.iter().position(|c| c == &field.value).unwrap_or(0);
                            let next = if code == KeyCode::Left {
                                i + choices.len() - 1
                            } else {
                                i + 1
                            };
                            field.value = choices[next % choices.len()].clone();
                        }
                        (ParamKind::Boolean, KeyCode::Left | KeyCode::Right | KeyCode::Char(' ')) => {
                            field.value = if field.value == "true" {
                                "false".into()
                            } else {
                                "true".into()
                            };
                        }
                        (ParamKind::Choice { .. } | ParamKind::Boolean, _) => {}
                        (_, KeyCode::Backspace) => {
                            field.value.pop();
                        }
                        (_, KeyCode::Char(c)) if !key.modifiers.contains(KeyModifiers::CONTROL) => field.value.push(c),
                        _ => {}
                    }
                }
                (Mode::Form(form), Intent::None)
            }
        },
        Mode::Confirm(mut c) => {
            if c.refused.is_some() {
                match key.code {
                    KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('n') => {
                        (Mode::Normal, Intent::None)
                    }
                    _ => (Mode::Confirm(c), Intent::None),
                }
            } else {
                match (&c.plan.confirm, key.code) {
                    (_, KeyCode::Esc) => {
                        view.say("cancelled: nothing was done");
                        (Mode::Normal, Intent::None)
                    }
                    (Confirm::Yes, KeyCode::Enter | KeyCode::Char('y')) => {
                        (Mode::Normal, Intent::Execute(Box::new(c.plan)))
                    }
                    (Confirm::Yes, KeyCode::Char('n')) => {
                        view.say("cancelled: nothing was done");
                        (Mode::Normal, Intent::None)
                    }
                    (Confirm::TypeName(name), KeyCode::Enter) => {
                        if &c.typed == name {
                            (Mode::Normal, Intent::Execute(Box::new(c.plan)))
                        } else {
                            view.say(format!("type {name} exactly to confirm, or Esc to cancel"));
                            (Mode::Confirm(c), Intent::None)
                        }
                    }
                    (Confirm::TypeName(_), KeyCode::Backspace) => {
                        c.typed.pop();
                        (Mode::Confirm(c), Intent::None)
                    }
                    (Confirm::TypeName(_), KeyCode::Char(ch)) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                        c.typed.push(ch);
                        (Mode::Confirm(c), Intent::None)
                    }
                    _ => (Mode::Confirm(c), Intent::None),
                }
            }
        }
    };
    // An intent may already have opened a mode (a form, a popup); otherwise take the one computed.
    if matches!(view.mode, Mode::Normal) {
        view.mode = mode;
    }
    intent
}

fn normal(state: &State, view: &mut View, keymap: &Keymap, key: &KeyEvent) -> Intent {
    let Some(spec) = key_spec(key) else {
        return Intent::None;
    };
    let Some(action) = keymap.action_for(&spec) else {
        return Intent::None;
    };
    view.flash = None;
    let count = visible_services(state, &view.filter).len();
    let builds = intents::selected_job_builds(state, view);
    match action {
        A::MoveDown | A::MoveUp | A::PageDown | A::PageUp => {
            let step: isize = match action {
                A::MoveDown => 1,
                A::MoveUp => -1,
                A::PageDown => 10,
                _ => -10,
            };
            let focus = if view.screen == Screen::Pipelines {
                view.focus
            } else {
                Pane::Services
            };
            if view.screen == Screen::Inbox {
                let n = crate::model::inbox::inbox(state).len();
                view.inbox_selected = clamp_add(view.inbox_selected, step, n);
                return Intent::None;
            }
            match focus {
                Pane::Services => {
                    view.selected = clamp_add(view.selected, step, count);
                    view.build_index = 0;
                    view.candidate = 0;
                }
                Pane::Build => view.build_index = clamp_add(view.build_index, step, builds),
            }
            Intent::None
        }
        A::OpenLog => intents::open_log(state, view),
        A::FullLog | A::NextHit | A::PrevHit | A::LogTop | A::LogBottom | A::CopyLine | A::WriteLog => {
            view.say(format!("{} opens a log first", keymap.hint(A::OpenLog)));
            Intent::None
        }
        // Enter on the build pane of a red build is the way to its failed stage's log.
        A::Open
            if view.screen == Screen::Pipelines
                && view.focus == Pane::Build
                && crate::ui::selected_build(state, view).is_some_and(|(_, _, b)| {
                    b.stages
                        .iter()
                        .any(|s| matches!(s.status, crate::model::Status::Failed | crate::model::Status::Unstable))
                }) =>
        {
            intents::open_log(state, view)
        }
        A::Open => {
            match view.screen {
                Screen::Pipelines => view.focus = Pane::Build,
                Screen::Inbox => {}
                Screen::Board | Screen::Quality | Screen::Images | Screen::Deploy => {
                    let kind = match view.screen {
                        Screen::Quality => LinkKind::Quality,
                        Screen::Images => LinkKind::Scan,
                        Screen::Deploy => LinkKind::Deployed,
                        _ => column_kind(view),
                    };
                    match intents::selected_service_name(state, view) {
                        Some(service) => {
                            view.mode = Mode::Explain(Explain {
                                service,
                                kind,
                                show_url: false,
                            })
                        }
                        None => view.say("no service selected"),
                    }
                }
            }
            Intent::None
        }
        A::ColumnLeft | A::ColumnRight => {
            if view.screen == Screen::Board {
                let n = LinkKind::ALL.len();
                let c = view.column.min(n - 1);
                view.column = if action == A::ColumnLeft {
                    c.saturating_sub(1)
                } else {
                    (c + 1).min(n - 1)
                };
            }
            Intent::None
        }
        A::OlderCandidate | A::NewerCandidate => {
            let n = intents::selected_service_name(state, view)
                .and_then(|s| state.chains.get(&s))
                .map(Vec::len)
                .unwrap_or(0);
            view.candidate = clamp_add(view.candidate, if action == A::OlderCandidate { 1 } else { -1 }, n);
            Intent::None
        }
        A::ShowBoard | A::ShowPipelines | A::ShowQuality | A::ShowImages | A::ShowDeploy | A::ShowInbox => {
            view.screen = match action {
                A::ShowBoard => Screen::Board,
                A::ShowPipelines => Screen::Pipelines,
                A::ShowImages => Screen::Images,
                A::ShowDeploy => Screen::Deploy,
                A::ShowInbox => Screen::Inbox,
                _ => Screen::Quality,
            };
            view.focus = Pane::Services;
            Intent::None
        }
        A::OpenEvidence => intents::evidence(state, view),
        A::Back => {
            if view.focus == Pane::Build {
                view.focus = Pane::Services;
                view.build_index = 0;
            } else if !view.filter.is_empty() {
                view.filter.clear();
                view.selected = 0;
            }
            Intent::None
        }
        A::NextPane => {
            view.focus = if view.focus == Pane::Services {
                Pane::Build
            } else {
                Pane::Services
            };
            Intent::None
        }
        A::NextEnvironment => {
            if !state.environments.is_empty() {
                view.environment = (view.environment + 1) % state.environments.len();
            }
            Intent::None
        }
        A::Filter => {
            view.mode = Mode::Filter {
                input: view.filter.clone(),
            };
            Intent::None
        }
        A::Help => {
            view.mode = Mode::Help;
            Intent::None
        }
        A::RefreshAll => Intent::Refresh(None),
        A::Refresh => Intent::Refresh(intents::selected_source(state, view)),
        A::Quit => Intent::Quit,
        A::TriggerBuild => intents::trigger_build(state, view),
        A::Deploy => intents::deploy(state, view),
        A::Promote => intents::promote(state, view),
        A::Rollback => intents::rollback(state, view),
        A::Approve if view.screen == Screen::Inbox => intents::inbox_decide(state, view, true),
        A::Reject if view.screen == Screen::Inbox => intents::inbox_decide(state, view, false),
        A::Approve => intents::approve(state, view),
        A::Reject => intents::reject_or_abort(state, view),
        A::Restart => intents::restart(state, view),
    }
}

/// The link under the board's column cursor.
fn column_kind(view: &View) -> LinkKind {
    LinkKind::ALL[view.column.min(LinkKind::ALL.len() - 1)]
}

/// Keys while a link is explained: move between links and services without closing, open the
/// evidence, or close.
fn explain_key(state: &State, view: &mut View, keymap: &Keymap, key: &KeyEvent, mut e: Explain) -> (Mode, Intent) {
    let action = key_spec(key).and_then(|k| keymap.action_for(&k));
    match action {
        Some(A::Back | A::Open | A::Quit) => (Mode::Normal, Intent::None),
        Some(A::OpenEvidence) => {
            let intent = intents::evidence_of(state, &e.service, e.kind, view.candidate);
            (Mode::Explain(e), intent)
        }
        Some(A::ColumnLeft | A::ColumnRight) if view.screen == Screen::Board => {
            let _ = normal(state, view, keymap, key);
            e.kind = column_kind(view);
            e.show_url = false;
            (Mode::Explain(e), Intent::None)
        }
        Some(A::MoveDown | A::MoveUp) => {
            let _ = normal(state, view, keymap, key);
            if let Some(name) = intents::selected_service_name(state, view) {
                e.service = name;
                e.show_url = false;
            }
            (Mode::Explain(e), Intent::None)
        }
        Some(A::Help) => (Mode::Help, Intent::None),
        Some(A::OpenLog) => (Mode::Normal, intents::open_log(state, view)),
        _ => (Mode::Explain(e), Intent::None),
    }
}

/// Keys while a log is open. `q` and Esc close the log, not the cockpit.
fn log_key(view: &mut View, keymap: &Keymap, key: &KeyEvent) -> Intent {
    let Some(action) = key_spec(key).and_then(|k| keymap.action_for(&k)) else {
        return Intent::None;
    };
    view.flash = None;
    let searching = view
        .log
        .as_ref()
        .is_some_and(|l| l.doc.lock().map(|d| d.search.is_some()).unwrap_or(false));
    match action {
        A::MoveDown => Intent::Log(LogCommand::Move(1)),
        A::MoveUp => Intent::Log(LogCommand::Move(-1)),
        A::PageDown => Intent::Log(LogCommand::Page(1)),
        A::PageUp => Intent::Log(LogCommand::Page(-1)),
        A::LogTop => Intent::Log(LogCommand::Top),
        A::LogBottom => Intent::Log(LogCommand::Bottom),
        A::NextHit => Intent::Log(LogCommand::Next),
        A::PrevHit => Intent::Log(LogCommand::Prev),
        A::FullLog => Intent::Log(LogCommand::FullConsole),
        A::WriteLog => Intent::Log(LogCommand::Write),
        A::Filter => {
            let input = view
                .log
                .as_ref()
                .and_then(|l| {
                    l.doc
                        .lock()
                        .ok()
                        .and_then(|d| d.search.as_ref().map(|s| s.pattern.clone()))
                })
                .unwrap_or_default();
            view.mode = Mode::LogSearch { input };
            Intent::None
        }
        A::CopyLine => {
            let copied = view
                .log
                .as_ref()
                .and_then(|l| l.doc.lock().ok().and_then(|d| d.copy_text()));
            match copied {
                Some((text, 1)) => Intent::Copy {
                    text,
                    what: "the line".into(),
                },
                Some((text, n)) => Intent::Copy {
                    text,
                    what: format!("the error block ({n} lines)"),
                },
                None => {
                    view.say("nothing to copy yet");
                    Intent::None
                }
            }
        }
        A::Back if searching => Intent::Log(LogCommand::ClearSearch),
        A::Back | A::Quit => {
            view.log = None;
            Intent::None
        }
        A::Help => {
            view.mode = Mode::Help;
            Intent::None
        }
        _ => Intent::None,
    }
}

fn clamp_add(value: usize, step: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (value as isize + step).clamp(0, len as isize - 1) as usize
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::sample;

    fn press(state: &State, view: &mut View, code: KeyCode, mods: KeyModifiers) -> Intent {
        handle_key(state, view, &Keymap::default(), &KeyEvent::new(code, mods))
    }

    #[test]
    fn esc_then_key_read_as_alt_is_split() {
        let state = sample::estate(6, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let mut view = View::default();
        let _ = press(&state, &mut view, KeyCode::Char('/'), KeyModifiers::NONE);
        let _ = press(&state, &mut view, KeyCode::Char('x'), KeyModifiers::NONE);
        assert!(matches!(view.mode, Mode::Filter { .. }));
        // "Esc j" arriving as Alt-j: leaves the filter, then moves down.
        let _ = press(&state, &mut view, KeyCode::Char('j'), KeyModifiers::ALT);
        assert!(matches!(view.mode, Mode::Normal));
        assert_eq!(view.filter, "");
        assert_eq!(view.selected, 1);
    }

    #[test]
    fn a_protected_confirm_needs_the_exact_name() {
        let state = sample::estate(6, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let mut view = View::default();
        let Intent::Plan(request) = press(&state, &mut view, KeyCode::Char('a'), KeyModifiers::NONE) else {
            panic!("approve should plan");
        };
        assert_eq!(request.environment.as_deref(), Some("production"));
        let plan = crate::actions::plan::plan(*request, &state);
        view.mode = Mode::Confirm(crate::ui::ConfirmState {
            plan,
            refused: None,
            typed: String::new(),
        });
        for c in "payments".chars() {
            let _ = press(&state, &mut view, KeyCode::Char(c), KeyModifiers::NONE);
        }
        assert!(matches!(
            press(&state, &mut view, KeyCode::Enter, KeyModifiers::NONE),
            Intent::None
        ));
        for c in "-api".chars() {
            let _ = press(&state, &mut view, KeyCode::Char(c), KeyModifiers::NONE);
        }
        assert!(matches!(
            press(&state, &mut view, KeyCode::Enter, KeyModifiers::NONE),
            Intent::Execute(_)
        ));
        // The popup is gone: a second Enter cannot execute again.
        assert!(matches!(
            press(&state, &mut view, KeyCode::Enter, KeyModifiers::NONE),
            Intent::None
        ));
    }
}
