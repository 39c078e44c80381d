//! The panes rendered into ratatui's TestBackend and snapshotted; colours asserted where a status
//! colour carries meaning.

use chrono::{TimeZone, Utc};
use flightdeck::config::{Keymap, Theme};
use flightdeck::model::LinkKind;
use flightdeck::model::sample;
use flightdeck::ui::{self, Ctx, Explain, Mode, Pane, Screen, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap()
}

fn render(view: &View, theme: &str, w: u16, h: u16) -> (String, ratatui::buffer::Buffer) {
    let state = sample::estate(6, now());
    let theme = Theme::load(theme, None, false).unwrap();
    let keymap = Keymap::default();
    let ctx = Ctx::new(&state, view, &theme, &keymap, now());
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::draw(f, &ctx)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (ui::buffer_text(&buffer), buffer)
}

/// The pipelines screen (services and the build pane).
fn pipelines() -> View {
    View {
        screen: Screen::Pipelines,
        ..View::default()
    }
}

#[test]
fn cockpit_120x40() {
    let (text, _) = render(&pipelines(), "dark", 120, 40);
    insta::assert_snapshot!(text);
}

#[test]
fn cockpit_80x24_stacks_panes() {
    let (text, _) = render(&pipelines(), "dark", 80, 24);
    insta::assert_snapshot!(text);
}

#[test]
fn failed_build_pane_shows_the_stage_error() {
    let view = View {
        selected: 1,
        focus: Pane::Build,
        ..pipelines()
    };
    let (text, _) = render(&view, "dark", 120, 40);
    assert!(text.contains("script returned exit code 1"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn read_only_shows_the_lock_and_greys_actions() {
    let view = View {
        read_only: true,
        ..pipelines()
    };
    let (text, _) = render(&view, "dark", 120, 40);
    assert!(text.contains("READ-ONLY"));
    assert!(text.contains("read-only: approval disabled"));
}

#[test]
fn too_small_says_so() {
    let (text, _) = render(&View::default(), "dark", 50, 10);
    assert!(text.contains("Terminal too small"), "{text}");
}

#[test]
fn status_colours_and_glyphs() {
    let (text, buffer) = render(&pipelines(), "dark", 120, 40);
    // Row of ledger-service (failed): its glyph is ✖ in bold light red.
    let y = text.lines().position(|l| l.contains("ledger-service")).unwrap() as u16;
    let x = text
        .lines()
        .nth(y as usize)
        .unwrap()
        .chars()
        .position(|c| c == '✖')
        .unwrap() as u16;
    let cell = &buffer[(x, y)];
    assert_eq!(cell.symbol(), "✖");
    assert_eq!(cell.fg, Color::LightRed);
    // payments-api waits for input: ⏸ in magenta.
    let y = text
        .lines()
        .position(|l| l.contains("payments-api") && l.contains('⏸'))
        .unwrap() as u16;
    let x = text
        .lines()
        .nth(y as usize)
        .unwrap()
        .chars()
        .position(|c| c == '⏸')
        .unwrap() as u16;
    assert_eq!(buffer[(x, y)].fg, Color::LightMagenta);
}

#[test]
fn mono_reads_without_colour() {
    let (text, buffer) = render(&pipelines(), "mono", 120, 40);
    assert!(text.contains('✖') && text.contains('⏸') && text.contains('✔'));
    for cell in buffer.content() {
        assert!(matches!(cell.fg, Color::Reset), "mono theme used colour {:?}", cell.fg);
    }
}

#[test]
fn help_overlay_lists_the_keymap() {
    let view = View {
        mode: ui::Mode::Help,
        ..View::default()
    };
    let (text, _) = render(&view, "dark", 120, 40);
    assert!(text.contains("trigger_build") && text.contains("approve"));
    insta::assert_snapshot!(text);
}

#[test]
fn board_120x40_is_home() {
    let (text, _) = render(&View::default(), "dark", 120, 40);
    assert!(text.contains("Release board"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn board_80x24_keeps_every_column() {
    let (text, _) = render(&View::default(), "dark", 80, 24);
    for kind in LinkKind::ALL {
        // A narrow column shows the first letters and an ellipsis.
        let head = kind.short().get(..2).unwrap_or(kind.short());
        assert!(text.contains(head), "{kind:?} column missing:\n{text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn board_cells_are_coloured_by_status() {
    // catalog-service's newest commit reached master without a pull request: a red ✖ under "PR".
    let (text, buffer) = render(&View::default(), "dark", 120, 40);
    let header = text.lines().find(|l| l.contains("Nexus")).unwrap();
    let col = header[..header.find(" PR ").unwrap()].chars().count() as u16;
    let y = text.lines().position(|l| l.contains("catalog-service")).unwrap() as u16;
    // The glyph sits within the column's width.
    let cell = (col..col + 5)
        .map(|x| &buffer[(x, y)])
        .find(|c| c.symbol() != " ")
        .unwrap();
    assert_eq!(cell.symbol(), "✖", "{text}");
    assert_eq!(cell.fg, Color::LightRed);
}

#[test]
fn explain_shows_thresholds_against_actuals() {
    let view = View {
        column: 3,
        mode: Mode::Explain(Explain {
            service: "payments-api".into(),
            kind: LinkKind::Quality,
            show_url: false,
        }),
        ..View::default()
    };
    let (text, _) = render(&view, "dark", 120, 40);
    assert!(
        text.contains("new coverage") && text.contains("≥ 90 %") && text.contains("84.2 %"),
        "{text}"
    );
    assert!(text.contains("https://sonar.example.com/dashboard"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn explain_over_ssh_prints_the_url_to_copy() {
    let view = View {
        column: 4,
        mode: Mode::Explain(Explain {
            service: "fraud-scoring".into(),
            kind: LinkKind::Artifact,
            show_url: true,
        }),
        ..View::default()
    };
    let (text, _) = render(&view, "dark", 80, 24);
    assert!(text.contains("select and copy"), "{text}");
    assert!(text.contains("not in maven-releases"), "{text}");
}

#[test]
fn quality_pane_shows_sonar_beside_the_policy() {
    let view = View {
        screen: Screen::Quality,
        ..View::default()
    };
    let (text, _) = render(&view, "dark", 120, 40);
    assert!(text.contains("they disagree"), "{text}");
    insta::assert_snapshot!(text);
}
