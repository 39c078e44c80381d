//! Keys by action name. The same table drives the key handling, the hint bar, the `?` overlay and
//! docs/keys.md, so they cannot disagree.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    MoveDown,
    MoveUp,
    PageDown,
    PageUp,
    Open,
    Back,
    NextPane,
    ColumnLeft,
    ColumnRight,
    ShowBoard,
    ShowPipelines,
    ShowQuality,
    ShowImages,
    ShowDeploy,
    ShowInbox,
    OlderCandidate,
    NewerCandidate,
    OpenEvidence,
    TriggerBuild,
    Deploy,
    Promote,
    Rollback,
    Restart,
    Approve,
    Reject,
    NextEnvironment,
    Filter,
    OpenLog,
    FullLog,
    NextHit,
    PrevHit,
    LogTop,
    LogBottom,
    CopyLine,
    WriteLog,
    RefreshAll,
    Refresh,
    Help,
    Quit,
}

/// (action, config name, default keys, description)
const TABLE: &[(Action, &str, &[&str], &str)] = &[
    (Action::MoveDown, "move_down", &["j", "Down"], "move down"),
    (Action::MoveUp, "move_up", &["k", "Up"], "move up"),
    (Action::PageDown, "page_down", &["PageDown", "ctrl-d"], "page down"),
    (Action::PageUp, "page_up", &["PageUp", "ctrl-u"], "page up"),
    (
        Action::Open,
        "open",
        &["Enter"],
        "explain the selected link / focus the build pane",
    ),
    (
        Action::Back,
        "back",
        &["Esc"],
        "back out, close a popup, clear the filter",
    ),
    (Action::NextPane, "next_pane", &["Tab"], "cycle panes"),
    (
        Action::ColumnLeft,
        "column_left",
        &["Left"],
        "board: the link to the left",
    ),
    (
        Action::ColumnRight,
        "column_right",
        &["Right"],
        "board: the link to the right",
    ),
    (Action::ShowBoard, "show_board", &["1"], "the release board (home)"),
    (
        Action::ShowPipelines,
        "show_pipelines",
        &["2"],
        "pipelines: services and their builds",
    ),
    (
        Action::ShowQuality,
        "show_quality",
        &["3"],
        "quality: Sonar measures against the policy",
    ),
    (
        Action::ShowImages,
        "show_images",
        &["4"],
        "images: tags, environments, scans and base images",
    ),
    (
        Action::ShowDeploy,
        "show_deploy",
        &["5"],
        "deploy: rollouts, pods, events and AWX jobs per environment",
    ),
    (
        Action::ShowInbox,
        "show_inbox",
        &["6"],
        "inbox: everything waiting for a human, with four-eyes",
    ),
    (
        Action::OlderCandidate,
        "older_candidate",
        &["]"],
        "board: select the next older candidate",
    ),
    (
        Action::NewerCandidate,
        "newer_candidate",
        &["["],
        "board: select the next newer candidate",
    ),
    (
        Action::OpenEvidence,
        "open_evidence",
        &["o"],
        "open the evidence in a browser (or show its URL)",
    ),
    (
        Action::TriggerBuild,
        "trigger_build",
        &["b"],
        "trigger a build of the selected service",
    ),
    (
        Action::Promote,
        "promote",
        &["p"],
        "promote the selected candidate to the next environment (shows the plan first)",
    ),
    (
        Action::Rollback,
        "rollback",
        &["r"],
        "roll the environment in focus back to the previous good candidate",
    ),
    (
        Action::Deploy,
        "deploy",
        &["d"],
        "run the deploy job for the environment in focus",
    ),
    (
        Action::Restart,
        "restart",
        &["S"],
        "restart the workload in focus (rolling, like kubectl rollout restart)",
    ),
    (
        Action::Approve,
        "approve",
        &["a"],
        "approve the pending input (inbox: the selected item)",
    ),
    (
        Action::Reject,
        "reject",
        &["x"],
        "reject the pending input, or abort the running build (inbox: the selected item)",
    ),
    (
        Action::NextEnvironment,
        "next_environment",
        &["e"],
        "focus the next environment",
    ),
    (
        Action::Filter,
        "filter",
        &["/"],
        "filter services (prefix ! to invert); in a log, search by regex",
    ),
    (
        Action::OpenLog,
        "open_log",
        &["l"],
        "open the log of the failed stage of the selected build, at its first error",
    ),
    (
        Action::FullLog,
        "full_log",
        &["f"],
        "log: leave the failed step's tail for the whole console",
    ),
    (
        Action::NextHit,
        "next_hit",
        &["n"],
        "log: the next search match, or the next error",
    ),
    (
        Action::PrevHit,
        "prev_hit",
        &["N"],
        "log: the previous search match, or the previous error",
    ),
    (Action::LogTop, "log_top", &["g", "Home"], "log: the first line"),
    (
        Action::LogBottom,
        "log_bottom",
        &["G", "End"],
        "log: the last line (and follow a running build)",
    ),
    (
        Action::CopyLine,
        "copy",
        &["y"],
        "log: copy the current line, or the whole error block, to the clipboard (OSC 52)",
    ),
    (
        Action::WriteLog,
        "write_log",
        &["w"],
        "log: write the whole log to a file",
    ),
    (Action::RefreshAll, "refresh_all", &["R"], "poll every source now"),
    (
        Action::Refresh,
        "refresh",
        &["ctrl-r"],
        "poll the selected service's source now",
    ),
    (Action::Help, "help", &["?"], "show this help"),
    (Action::Quit, "quit", &["q", "ctrl-c"], "quit"),
];

impl Action {
    pub fn all() -> impl Iterator<Item = Action> {
        TABLE.iter().map(|row| row.0)
    }

    pub fn name(self) -> &'static str {
        TABLE.iter().find(|r| r.0 == self).map(|r| r.1).unwrap_or("?")
    }

    pub fn description(self) -> &'static str {
        TABLE.iter().find(|r| r.0 == self).map(|r| r.3).unwrap_or("")
    }

    pub fn from_name(name: &str) -> Option<Action> {
        TABLE.iter().find(|r| r.1 == name).map(|r| r.0)
    }

    fn defaults(self) -> &'static [&'static str] {
        TABLE.iter().find(|r| r.0 == self).map(|r| r.2).unwrap_or(&[])
    }
}

/// A key as written in the config: `b`, `R`, `?`, `Enter`, `ctrl-r`, `F5`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct KeySpec {
    pub code: KeyCodeSpec,
    pub ctrl: bool,
    pub alt: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum KeyCodeSpec {
    Char(char),
    Named(&'static str),
    F(u8),
}

const NAMED: &[&str] = &[
    "Enter",
    "Esc",
    "Tab",
    "BackTab",
    "Backspace",
    "Delete",
    "Insert",
    "Up",
    "Down",
    "Left",
    "Right",
    "Home",
    "End",
    "PageUp",
    "PageDown",
    "Space",
];

impl KeySpec {
    pub fn parse(text: &str) -> Result<KeySpec, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-").or_else(|| lower.strip_prefix("c-")) {
                ctrl = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-").or_else(|| lower.strip_prefix("m-")) {
                alt = true;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCodeSpec::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            _ => {
                if let Some(n) = NAMED.iter().find(|n| n.eq_ignore_ascii_case(rest)) {
                    if *n == "Space" {
                        KeyCodeSpec::Char(' ')
                    } else {
                        KeyCodeSpec::Named(n)
                    }
                } else if let Some(n) = rest.strip_prefix(['F', 'f']).and_then(|n| n.parse::<u8>().ok()) {
                    if (1..=12).contains(&n) {
                        KeyCodeSpec::F(n)
                    } else {
                        return Err(format!("unknown key `{text}`"));
                    }
                } else {
                    return Err(format!(
                        "unknown key `{text}` (use one character, ctrl-x, alt-x, F1..F12 or one of {})",
                        NAMED.join(", ")
                    ));
                }
            }
        };
        Ok(KeySpec { code, ctrl, alt })
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match &self.code {
            KeyCodeSpec::Char(' ') => f.write_str("Space"),
            KeyCodeSpec::Char(c) => write!(f, "{c}"),
            KeyCodeSpec::Named(n) => match *n {
                "Down" => f.write_str("↓"),
                "Up" => f.write_str("↑"),
                other => f.write_str(other),
            },
            KeyCodeSpec::F(n) => write!(f, "F{n}"),
        }
    }
}

/// The live keymap: which keys fire which action.
#[derive(Clone, Debug, Serialize)]
pub struct Keymap {
    bindings: BTreeMap<Action, Vec<KeySpec>>,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = Action::all()
            .map(|a| {
                let keys = a
                    .defaults()
                    .iter()
                    .map(|k| KeySpec::parse(k).expect("default keys parse"))
                    .collect();
                (a, keys)
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// Replace an action's keys.
    pub fn bind(&mut self, action: Action, keys: Vec<KeySpec>) {
        self.bindings.insert(action, keys);
    }

    pub fn keys(&self, action: Action) -> &[KeySpec] {
        self.bindings.get(&action).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// The first key of an action, for hints.
    pub fn hint(&self, action: Action) -> String {
        self.keys(action)
            .first()
            .map(|k| k.to_string())
            .unwrap_or_else(|| "unbound".into())
    }

    pub fn action_for(&self, key: &KeySpec) -> Option<Action> {
        self.bindings
            .iter()
            .find(|(_, keys)| keys.contains(key))
            .map(|(a, _)| *a)
    }

    /// Two actions on one key: the first pair found, for a load-time error.
    pub fn conflict(&self) -> Option<(KeySpec, Action, Action)> {
        let mut seen: BTreeMap<&KeySpec, Action> = BTreeMap::new();
        for (action, keys) in &self.bindings {
            for key in keys {
                if let Some(other) = seen.insert(key, *action) {
                    return Some((key.clone(), other, *action));
                }
            }
        }
        None
    }

    pub fn iter(&self) -> impl Iterator<Item = (Action, &[KeySpec])> {
        self.bindings.iter().map(|(a, k)| (*a, k.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_keys() {
        assert_eq!(KeySpec::parse("b").unwrap().code, KeyCodeSpec::Char('b'));
        let k = KeySpec::parse("ctrl-r").unwrap();
        assert!(k.ctrl && k.code == KeyCodeSpec::Char('r'));
        assert_eq!(KeySpec::parse("enter").unwrap().code, KeyCodeSpec::Named("Enter"));
        assert_eq!(KeySpec::parse("F5").unwrap().code, KeyCodeSpec::F(5));
        assert!(KeySpec::parse("Hyper-Q").is_err());
    }

    #[test]
    fn defaults_do_not_conflict() {
        assert_eq!(Keymap::default().conflict(), None);
    }
}
