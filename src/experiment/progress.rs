//! The progress bar of long runs and sweeps: runs done of total, with each running
//! simulation counted by the fraction of its virtual time already simulated, so the ETA
//! moves smoothly even when a sweep is a handful of long runs. Hidden when stderr is not a
//! terminal, when `CI` is set, and with `--quiet`; wall-clock time is used for display only.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Duration;

/// Ticks per run: the bar's resolution within one run.
const PER_RUN: u64 = 1000;

/// Progress bar over the runs of a study, drawn on stderr.
pub struct Bar {
    bar: Option<ProgressBar>,
    runs: usize,
    stop: AtomicBool,
}

impl Bar {
    /// A bar for `runs` runs; hidden when `quiet`, when there are no runs or stderr is not a terminal.
    pub fn new(runs: usize, quiet: bool) -> Bar {
        let visible = !quiet
            && runs > 0
            && std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none();
        let bar = visible.then(|| {
            let b = ProgressBar::with_draw_target(
                Some(runs as u64 * PER_RUN),
                ProgressDrawTarget::stderr(),
            );
            if let Ok(style) =
                ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {msg} (ETA {eta})")
            {
                b.set_style(style);
            }
            b
        });
        Bar {
            bar,
            runs,
            stop: AtomicBool::new(false),
        }
    }

    /// Starts the thread that redraws the bar; `progress[i]` is the virtual time (ps) that
    /// run i has reached and `ends[i]` its end.
    pub fn spawn_ticker<'scope, 'env>(
        &'env self,
        s: &'scope Scope<'scope, 'env>,
        progress: &'env [AtomicU64],
        ends: Vec<u64>,
        finished: &'env AtomicUsize,
    ) -> Option<ScopedJoinHandle<'scope, ()>> {
        let bar = self.bar.clone()?;
        Some(s.spawn(move || loop {
            let pos: u64 = progress
                .iter()
                .zip(&ends)
                .map(|(p, &end)| {
                    let at = p.load(Ordering::Relaxed);
                    if end == 0 {
                        PER_RUN
                    } else {
                        (at as u128 * PER_RUN as u128 / end as u128).min(PER_RUN as u128) as u64
                    }
                })
                .sum();
            bar.set_position(pos);
            bar.set_message(format!(
                "{}/{} runs",
                finished.load(Ordering::Relaxed),
                self.runs
            ));
            if self.stop.load(Ordering::Relaxed) {
                bar.finish_and_clear();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }))
    }

    /// Stops and clears the bar.
    pub fn stop(&self, ticker: Option<ScopedJoinHandle<'_, ()>>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = ticker {
            let _ = t.join();
        }
    }
}

/// Runs one simulation with a bar of its virtual-time progress.
pub fn run_with_bar(
    world: crate::scenario::World,
    end_ps: u64,
    quiet: bool,
) -> crate::metrics::RunRecords {
    let progress = AtomicU64::new(0);
    let finished = AtomicUsize::new(0);
    let bar = Bar::new(1, quiet);
    std::thread::scope(|s| {
        let ticker = bar.spawn_ticker(s, std::slice::from_ref(&progress), vec![end_ps], &finished);
        let records = world.run_observed(Some(&progress));
        bar.stop(ticker);
        records
    })
}
