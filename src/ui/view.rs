//! What the screen looks at besides the model: selection, focus, mode, popups. Plain data owned by
//! the app loop; the panes only read it.

use crate::actions::{ActionRequest, Plan};
use crate::model::{LinkKind, ParamDef};

/// The cockpit's screens; the board is home.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Screen {
    /// One row per service, one column per link of its newest candidate's chain.
    #[default]
    Board,
    /// Services with their newest build, and the build pane.
    Pipelines,
    /// Sonar measures against the policy, with the recent analyses as sparklines.
    Quality,
    /// The selected service's image tags, which tag each environment runs, the candidate's scan
    /// findings, and the build host's base images.
    Images,
    /// Where each service runs: rollouts, pods, events and AWX jobs per environment.
    Deploy,
    /// Everything waiting for a human: Jenkins inputs, AWX approvals, paused rollouts.
    Inbox,
}

impl Screen {
    pub const ALL: [Screen; 6] = [
        Screen::Board,
        Screen::Pipelines,
        Screen::Quality,
        Screen::Images,
        Screen::Deploy,
        Screen::Inbox,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Board => "Board",
            Screen::Pipelines => "Pipelines",
            Screen::Quality => "Quality",
            Screen::Images => "Images",
            Screen::Deploy => "Deploy",
            Screen::Inbox => "Inbox",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Services,
    Build,
}

#[derive(Clone, Debug, Default)]
pub struct View {
    pub screen: Screen,
    /// The board's selected column (an index into the chain's links).
    pub column: usize,
    pub focus: Pane,
    /// Index into the visible (filtered) services.
    pub selected: usize,
    /// Which of the selected service's recent builds the build pane shows (0 = newest).
    pub build_index: usize,
    /// Which of the selected service's candidates the board details and promotes (0 = newest).
    pub candidate: usize,
    /// The selected item of the approvals inbox.
    pub inbox_selected: usize,
    pub filter: String,
    pub environment: usize,
    pub read_only: bool,
    pub mode: Mode,
    /// A one-line message for the operator (why a key did nothing, where a file went).
    pub flash: Option<String>,
    /// When the flash was said: a newer notice replaces it, and it fades after a while.
    pub flash_at: Option<chrono::DateTime<chrono::Utc>>,
    pub in_flight: Vec<String>,
    pub show_clock: bool,
    /// The open log, drawn over the screen until closed.
    pub log: Option<std::sync::Arc<crate::logview::LogSession>>,
}

impl View {
    /// Tell the operator something in the status line.
    pub fn say(&mut self, text: impl Into<String>) {
        self.flash = Some(text.into());
        self.flash_at = Some(chrono::Utc::now());
    }
}

#[derive(Clone, Debug, Default)]
pub enum Mode {
    #[default]
    Normal,
    Filter {
        input: String,
    },
    /// Typing a regex to search the open log.
    LogSearch {
        input: String,
    },
    Help,
    Form(Form),
    Confirm(ConfirmState),
    /// Why a link of a candidate's chain stands where it stands.
    Explain(Explain),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Explain {
    pub service: String,
    pub kind: LinkKind,
    /// The evidence could not be opened here (over SSH): show its URL prominently to copy.
    pub show_url: bool,
}

/// Parameters to fill in before an action is planned.
#[derive(Clone, Debug)]
pub struct Form {
    pub title: String,
    pub request: ActionRequest,
    pub fields: Vec<FormField>,
    pub cursor: usize,
}

#[derive(Clone, Debug)]
pub struct FormField {
    pub def: ParamDef,
    pub value: String,
}

#[derive(Clone, Debug)]
pub struct ConfirmState {
    pub plan: Plan,
    /// Set when policy refused the action: the popup shows why and cannot be confirmed.
    pub refused: Option<String>,
    /// What the operator typed, for protected environments.
    pub typed: String,
}
