//! Hold-model benchmark of [`EventQueue`]: the classic steady-state workload where every step
//! pops the earliest event and schedules one successor, so the pending count stays fixed.
//!
//! Run: `cargo test --release --lib hold_bench -- --ignored --nocapture`.

use super::queue::EventQueue;
use super::rng::splitmix64;
use super::time::SimTime;
use std::hint::black_box;
use std::time::Instant;

/// Throughput of one hold-model run.
#[derive(Clone, Copy, Debug)]
pub struct HoldResult {
    /// Events popped (each one schedules a successor).
    pub events: u64,
    /// Wall-clock time the loop took, in seconds.
    pub wall_s: f64,
    /// Throughput, in events per wall-clock second.
    pub events_per_s: f64,
}

/// A 16-byte payload shaped like a simulator event.
#[derive(Clone, Copy, Debug)]
pub enum Payload {
    /// Stands in for a packet delivery.
    Deliver {
        /// Link index.
        link: u32,
        /// Packet number.
        packet: u64,
    },
    /// Stands in for a transport timer.
    Timer {
        /// Flow index.
        flow: u64,
    },
}

const TABLE: usize = 4096;
const MEAN_PS: f64 = 1_000_000.0;

/// Exponential increments with mean 1 µs, rounded down to multiples of `resolution_ps`
/// (1 ns makes equal times common, exercising FIFO). Precomputed so the timed loop measures
/// the queue, not the generator.
pub fn increments(seed: u64, resolution_ps: u64) -> Vec<u64> {
    let mut state = seed;
    (0..TABLE)
        .map(|_| {
            let u = (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
            let x = (-(1.0 - u).ln() * MEAN_PS) as u64;
            x / resolution_ps * resolution_ps
        })
        .collect()
}

/// Hold model with picosecond-resolution increments.
pub fn hold_model(pending: usize, events: u64) -> HoldResult {
    hold_model_with(pending, events, 1)
}

/// Hold model: fill with `pending` events, then `events` times pop the earliest and push one
/// at its time plus a table increment. Only the pop/push loop is timed.
pub fn hold_model_with(pending: usize, events: u64, resolution_ps: u64) -> HoldResult {
    let table = increments(0x005e_ed0f_401d, resolution_ps);
    let mut q = EventQueue::new();
    let mut state = 42u64;
    for i in 0..pending {
        let t = table[(splitmix64(&mut state) as usize) % TABLE];
        let p = if i % 2 == 0 {
            Payload::Deliver {
                link: i as u32,
                packet: i as u64,
            }
        } else {
            Payload::Timer { flow: i as u64 }
        };
        q.push(SimTime(t), p);
    }
    let mut k = (splitmix64(&mut state) as usize) % TABLE;
    let mut check = 0u64;
    let start = Instant::now();
    for _ in 0..events {
        let (t, id, p) = q.pop().expect("hold model never empties");
        let next = match p {
            Payload::Deliver { link, packet } => {
                check = check.wrapping_add(packet ^ link as u64);
                Payload::Timer { flow: id.seq }
            }
            Payload::Timer { flow } => {
                check = check.wrapping_add(flow);
                Payload::Deliver {
                    link: id.seq as u32,
                    packet: t.0,
                }
            }
        };
        k = (k + 1) & (TABLE - 1);
        q.push(SimTime(t.0 + table[k]), next);
    }
    let wall_s = start.elapsed().as_secs_f64();
    black_box(check);
    HoldResult {
        events,
        wall_s,
        events_per_s: events as f64 / wall_s,
    }
}

/// The same hold model on std `BinaryHeap<Reverse<(time, seq, id)>>`, the common baseline,
/// so the queue's speed-up can be read on any machine.
pub fn hold_model_binary_heap(pending: usize, events: u64) -> HoldResult {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let table = increments(0x005e_ed0f_401d, 1);
    let mut q = BinaryHeap::new();
    let mut state = 42u64;
    let mut seq = 0u64;
    for _ in 0..pending {
        let t = table[(splitmix64(&mut state) as usize) % TABLE];
        q.push(Reverse((t, seq, seq)));
        seq += 1;
    }
    let mut k = (splitmix64(&mut state) as usize) % TABLE;
    let mut check = 0u64;
    let start = Instant::now();
    for _ in 0..events {
        let Reverse((t, _, id)) = q.pop().expect("hold model never empties");
        check = check.wrapping_add(id);
        k = (k + 1) & (TABLE - 1);
        q.push(Reverse((t + table[k], seq, seq)));
        seq += 1;
    }
    let wall_s = start.elapsed().as_secs_f64();
    black_box(check);
    HoldResult {
        events,
        wall_s,
        events_per_s: events as f64 / wall_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_model_runs() {
        let r = hold_model(100, 10_000);
        assert_eq!(r.events, 10_000);
        assert!(r.events_per_s > 0.0);
        assert!(hold_model_with(100, 10_000, 1_000).events_per_s > 0.0);
    }

    /// Prints throughput; meaningful only in a release build.
    #[test]
    #[ignore]
    fn hold_model_throughput() {
        for &(pending, res) in &[(1_000, 1), (100_000, 1), (1_000, 1_000), (100_000, 1_000)] {
            let mut rates: Vec<f64> = (0..3)
                .map(|_| hold_model_with(pending, 20_000_000, res).events_per_s)
                .collect();
            rates.sort_by(|a, b| a.total_cmp(b));
            println!(
                "hold pending={pending:>7} resolution={res:>4}ps: median {:.1} M events/s (runs {:.1} {:.1} {:.1})",
                rates[1] / 1e6,
                rates[0] / 1e6,
                rates[1] / 1e6,
                rates[2] / 1e6
            );
        }
    }
}
