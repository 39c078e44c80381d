//! Rendering cost must follow what is visible, not the estate's size; the reducer must absorb
//! bursts; the release chain must stay cheap at 500 services × 20 candidates.
//! Run: `cargo bench --bench render`.

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flightdeck::config::{Keymap, Theme};
use flightdeck::model::chain::{ChainInputs, candidates};
use flightdeck::model::{Update, sample};
use flightdeck::ui::{self, Ctx, Screen, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap();
    let theme = Theme::load("dark", None, false).unwrap();
    let keymap = Keymap::default();
    for screen in [Screen::Board, Screen::Pipelines] {
        let mut group = c.benchmark_group(format!("render_{}_200x60", screen.title().to_lowercase()));
        for n in [50usize, 500, 5_000] {
            let state = sample::estate(n, now);
            // Select a service deep in the list so scrolling is part of the cost.
            let view = View {
                screen,
                selected: n / 2,
                ..View::default()
            };
            let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    let ctx = Ctx::new(&state, &view, &theme, &keymap, now);
                    terminal.draw(|f| ui::draw(f, &ctx)).unwrap();
                })
            });
        }
        group.finish();
    }
}

/// 500 services with 20 candidates each: every chain evaluated, and the board drawn.
fn chain(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap();
    let state = sample::estate_with_builds(500, 20, now);
    assert_eq!(state.chains.values().map(Vec::len).sum::<usize>(), 10_000);
    c.bench_function("chain_evaluate_500x20", |b| {
        b.iter(|| {
            state
                .services
                .iter()
                .map(|s| candidates(&ChainInputs::from_state(&state, s), 20).len())
                .sum::<usize>()
        })
    });
    let theme = Theme::load("dark", None, false).unwrap();
    let keymap = Keymap::default();
    let view = View {
        selected: 250,
        ..View::default()
    };
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    c.bench_function("board_render_500x20_200x60", |b| {
        b.iter(|| {
            let ctx = Ctx::new(&state, &view, &theme, &keymap, now);
            terminal.draw(|f| ui::draw(f, &ctx)).unwrap();
        })
    });
}

fn reduce(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap();
    let base = sample::estate(5_000, now);
    let updates: Vec<Update> = base
        .jobs
        .values()
        .map(|job| {
            let mut build = job.builds[0].clone();
            build.number += 1;
            Update::Build {
                job: job.full_name.clone(),
                at: now,
                build: Box::new(build),
            }
        })
        .collect();
    c.bench_function("reduce_5000_build_updates", |b| {
        b.iter_batched(
            || (base.clone(), updates.clone()),
            |(mut state, updates)| {
                for u in updates {
                    state.apply(u);
                }
                state
            },
            criterion::BatchSize::LargeInput,
        )
    });
}

criterion_group!(benches, render, reduce, chain);
criterion_main!(benches);
