//! Your own model in the world, end to end: a checkpoint service written outside the crate,
//! as a researcher's own crate would write it, using only the public interface.
//!
//! A primary host checkpoints its state to a backup every `every`: it sends a small
//! *prepare* message; the backup, if it is up, answers *ready*; the primary then ships the
//! checkpoint as a bulk transfer (AMST over TCP streams) and records how long it took. A
//! crashed backup answers nothing, so checkpoints due while it is down are missed. The
//! experiment (topology, faults, duration) is an ordinary TOML file; the component is
//! added with `scenario::prepare_with`.
//!
//! `cargo run --release --example custom_component` prints the component's results;
//! `tests/components.rs` runs the same code and checks them.

use dwcp_sim::config::LoadedExperiment;
use dwcp_sim::engine::{EventId, Scheduler, SimDuration, SimTime};
use dwcp_sim::metrics::RunRecords;
use dwcp_sim::net::NodeId;
use dwcp_sim::scenario::component::{TransferDone, TransferSettings, TransferSpec};
use dwcp_sim::scenario::{self, Component, ComponentRecords, Context, Setup, UserEvent};
use dwcp_sim::transport::datagram::{Delivery, SenderId};
use dwcp_sim::transport::multistream::StreamTransport;
use dwcp_sim::transport::tcp::{CcKind, TcpConfig};

/// The experiment: three hosts on a 1 Gbit/s star (1 ms per link), the backup h1 down from
/// 0.9 s to 1.3 s.
pub const EXPERIMENT: &str = r#"
name = "checkpoints"
seed = 7
duration = "3s"

[topology.generate]
kind = "star"
hosts = 3
link = { rate = "1Gbps", delay = "1ms", queue_packets = 1000 }

[[faults]]
at = "900ms"
kind = "crash"
node = "h1"
duration = "400ms"
"#;

/// Bytes of a prepare or ready message.
const CONTROL_BYTES: u32 = 128;
/// The only timer: the next checkpoint is due.
const TICK: UserEvent = UserEvent(0, 0);
/// Message tags.
const PREPARE: u64 = 1;
const READY: u64 = 2;

/// Periodic checkpoints from `primary` to `backup`.
pub struct Checkpointer {
    primary: NodeId,
    backup: NodeId,
    from_primary: SenderId,
    from_backup: SenderId,
    every: SimDuration,
    bytes: u64,
    settings: TransferSettings,
    backup_up: bool,
    /// When the current checkpoint's prepare left, and whether its transfer is open.
    current: Option<(SimTime, bool)>,
    timer: Option<EventId>,
    /// Durations of finished checkpoints, prepare to last byte.
    done: Vec<SimDuration>,
    missed: u64,
}

impl Checkpointer {
    /// Checkpoints of `bytes` from `primary` to `backup` every `every`, over 4 CUBIC streams.
    pub fn new(
        setup: &mut Setup,
        primary: &str,
        backup: &str,
        every: SimDuration,
        bytes: u64,
    ) -> Result<Self, String> {
        let node = |name: &str| setup.node(name).ok_or(format!("no host {name}"));
        let (primary, backup) = (node(primary)?, node(backup)?);
        let mut tcp = TcpConfig::for_mtu(1500, CcKind::Cubic);
        tcp.bytes = None;
        Ok(Checkpointer {
            primary,
            backup,
            from_primary: setup.add_sender(primary, 11),
            from_backup: setup.add_sender(backup, 12),
            every,
            bytes,
            settings: TransferSettings {
                streams: 4,
                chunk: 256 << 10,
                transport: StreamTransport::Tcp(tcp),
            },
            backup_up: true,
            current: None,
            timer: None,
            done: Vec::new(),
            missed: 0,
        })
    }
}

impl Component for Checkpointer {
    type Event = UserEvent;

    fn start(&mut self, cx: &mut Context<'_, UserEvent>) {
        self.timer = Some(cx.schedule_at(SimTime::ZERO + self.every, TICK));
    }

    fn on_event(&mut self, cx: &mut Context<'_, UserEvent>, _tick: UserEvent) {
        match self.current {
            // The last transfer is still running: let it finish.
            Some((_, true)) => {}
            // The last prepare was never answered.
            Some((_, false)) | None => {
                if self.current.is_some() {
                    self.missed += 1;
                }
                self.current = Some((cx.now(), false));
                cx.send_message(self.from_primary, self.backup, CONTROL_BYTES, PREPARE);
            }
        }
        self.timer = Some(cx.schedule_in(self.every, TICK));
    }

    fn on_message(&mut self, cx: &mut Context<'_, UserEvent>, m: Delivery) {
        match m.tag {
            PREPARE if self.backup_up => {
                cx.send_message(self.from_backup, self.primary, CONTROL_BYTES, READY);
            }
            READY => {
                if let Some((began, false)) = self.current {
                    self.current = Some((began, true));
                    cx.open_transfer(TransferSpec {
                        from: self.primary,
                        to: self.backup,
                        bytes: self.bytes,
                        name: "checkpoint".into(),
                        tag: 0,
                        settings: self.settings.clone(),
                    });
                }
            }
            _ => {}
        }
    }

    fn on_transfer_done(&mut self, cx: &mut Context<'_, UserEvent>, _done: TransferDone) {
        if let Some((began, true)) = self.current.take() {
            self.done.push(cx.now().since(began));
        }
    }

    fn on_node_down(&mut self, _cx: &mut Context<'_, UserEvent>, node: NodeId) {
        if node == self.backup {
            self.backup_up = false;
        }
    }

    fn on_node_up(&mut self, _cx: &mut Context<'_, UserEvent>, node: NodeId) {
        if node == self.backup {
            self.backup_up = true;
        }
    }

    fn describe(&self, node: NodeId) -> Option<String> {
        (node == self.backup).then(|| "checkpoint backup".to_string())
    }

    fn records(&self, _end: SimTime, out: &mut ComponentRecords) {
        let mut row = |metric, value: f64, unit| {
            out.rows
                .push(("checkpoint", "h0->h1".to_string(), metric, value, unit));
        };
        row("checkpoints_done", self.done.len() as f64, "checkpoints");
        row("checkpoints_missed", self.missed as f64, "checkpoints");
        if let Some(max) = self.done.iter().max() {
            let mean =
                self.done.iter().map(|d| d.as_secs_f64()).sum::<f64>() / self.done.len() as f64;
            row("checkpoint_time_mean", mean, "s");
            row("checkpoint_time_max", max.as_secs_f64(), "s");
            row(
                "checkpoint_goodput",
                self.bytes as f64 * 8.0 / mean,
                "bit/s",
            );
        }
    }
}

/// Runs the experiment with 8 MB checkpoints every 500 ms from h0 to h1.
pub fn run() -> RunRecords {
    let exp =
        LoadedExperiment::from_text(EXPERIMENT, std::path::Path::new("checkpoints.toml"), &[])
            .expect("the example's experiment is valid");
    let world = scenario::prepare_with(&exp, |world| {
        world.add_component(|setup| {
            Checkpointer::new(setup, "h0", "h1", SimDuration::from_millis(500), 8_000_000)
        })?;
        Ok(())
    })
    .expect("the example's world builds");
    world.run()
}

#[allow(dead_code)] // tests/components.rs includes this file and calls `run` instead
fn main() {
    let r = run();
    for (_, entity, metric, value, unit) in r.measures.iter().filter(|m| m.0 == "checkpoint") {
        println!("{entity:8} {metric:22} {value:>14.6} {unit}");
    }
    for (at, kind, what) in &r.log {
        println!("{at} {kind} {what}");
    }
}
