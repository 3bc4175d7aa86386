//! A component written against the public interface only, as a user's own crate would: a
//! heartbeat service on every host that pings each peer, counts the answers and measures
//! their round trips. It proves the interface end to end: its own timers (`UserEvent`),
//! the message service, node faults from `[[faults]]` with no consensus group, and results
//! rows. Nothing in `src/` knows it exists.

use dwcp_sim::config::LoadedExperiment;
use dwcp_sim::engine::{EventId, Scheduler, SimDuration, SimTime};
use dwcp_sim::metrics::RunRecords;
use dwcp_sim::net::NodeId;
use dwcp_sim::scenario::{self, Component, ComponentRecords, Context, Setup, UserEvent};
use dwcp_sim::transport::datagram::{Delivery, SenderId};
use dwcp_sim::transport::multistream::StreamTransport;
use dwcp_sim::transport::rdma::RdmaConfig;
use dwcp_sim::transport::tcp::{CcKind, TcpConfig};

/// Bytes of a ping and of its answer (a small control message).
const PING_BYTES: u32 = 64;

struct Member {
    node: NodeId,
    name: String,
    sender: SenderId,
    up: bool,
    timer: Option<EventId>,
    sent: u64,
    answered: u64,
    rtt_sum: SimDuration,
    dropped_while_down: u64,
}

/// Every member pings every other member each `interval` while it is up.
struct Heartbeat {
    interval: SimDuration,
    members: Vec<Member>,
}

/// `ping`: kind 0; `pong`: kind 1. Then the pinger, the pinged, and the ping's send time
/// in ps (48 bits: 281 s, enough for a test).
fn tag(kind: u64, from: usize, to: usize, sent: SimTime) -> u64 {
    kind << 63 | (from as u64) << 56 | (to as u64) << 48 | sent.as_ps()
}

fn untag(tag: u64) -> (u64, usize, usize, SimTime) {
    (
        tag >> 63,
        (tag >> 56 & 0x7f) as usize,
        (tag >> 48 & 0xff) as usize,
        SimTime::ZERO + SimDuration::from_ps(tag & ((1 << 48) - 1)),
    )
}

impl Heartbeat {
    fn new(setup: &mut Setup, hosts: &[&str], interval: SimDuration) -> Result<Self, String> {
        let members = hosts
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let node = setup.node(name).ok_or(format!("no node {name}"))?;
                Ok(Member {
                    node,
                    name: name.to_string(),
                    sender: setup.add_sender(node, i as u32),
                    up: true,
                    timer: None,
                    sent: 0,
                    answered: 0,
                    rtt_sum: SimDuration::ZERO,
                    dropped_while_down: 0,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Heartbeat { interval, members })
    }

    fn member_at(&self, node: NodeId) -> Option<usize> {
        self.members.iter().position(|m| m.node == node)
    }

    fn round(&mut self, cx: &mut Context<'_, UserEvent>, i: usize) {
        let now = cx.now();
        for peer in 0..self.members.len() {
            if peer == i {
                continue;
            }
            let to = self.members[peer].node;
            self.members[i].sent += 1;
            let sender = self.members[i].sender;
            // Peers are on other hosts: nothing comes back at once.
            let local = cx.send_message(sender, to, PING_BYTES, tag(0, i, peer, now));
            assert!(local.is_none());
        }
        let next = cx.schedule_in(self.interval, UserEvent(0, i as u32));
        self.members[i].timer = Some(next);
    }
}

impl Component for Heartbeat {
    type Event = UserEvent;

    fn start(&mut self, cx: &mut Context<'_, UserEvent>) {
        for i in 0..self.members.len() {
            let id = cx.schedule_at(SimTime::ZERO, UserEvent(0, i as u32));
            self.members[i].timer = Some(id);
        }
    }

    fn on_event(&mut self, cx: &mut Context<'_, UserEvent>, UserEvent(_, i): UserEvent) {
        self.round(cx, i as usize);
    }

    fn on_message(&mut self, cx: &mut Context<'_, UserEvent>, m: Delivery) {
        let (kind, from, to, sent) = untag(m.tag);
        let here = if kind == 0 { to } else { from };
        if !self.members[here].up {
            // A crashed host hears nothing.
            self.members[here].dropped_while_down += 1;
            return;
        }
        if kind == 0 {
            let sender = self.members[to].sender;
            let node = self.members[from].node;
            cx.send_message(sender, node, PING_BYTES, tag(1, from, to, sent));
        } else {
            let rtt = cx.now().since(sent);
            let me = &mut self.members[from];
            me.answered += 1;
            me.rtt_sum = me.rtt_sum + rtt;
        }
    }

    fn on_node_down(&mut self, cx: &mut Context<'_, UserEvent>, node: NodeId) {
        if let Some(i) = self.member_at(node) {
            self.members[i].up = false;
            if let Some(t) = self.members[i].timer.take() {
                cx.cancel(t);
            }
        }
    }

    fn on_node_up(&mut self, cx: &mut Context<'_, UserEvent>, node: NodeId) {
        if let Some(i) = self.member_at(node) {
            self.members[i].up = true;
            let id = cx.schedule_in(SimDuration::ZERO, UserEvent(0, i as u32));
            self.members[i].timer = Some(id);
        }
    }

    fn describe(&self, node: NodeId) -> Option<String> {
        self.member_at(node)
            .map(|i| format!("heartbeat on {}", self.members[i].name))
    }

    fn records(&self, _end: SimTime, out: &mut ComponentRecords) {
        for m in &self.members {
            let mut row = |metric, value: f64, unit| {
                out.rows
                    .push(("heartbeat", m.name.clone(), metric, value, unit));
            };
            row("pings_sent", m.sent as f64, "messages");
            row("answers", m.answered as f64, "messages");
            row(
                "dropped_while_down",
                m.dropped_while_down as f64,
                "messages",
            );
            if m.answered > 0 {
                let mean = m.rtt_sum.as_secs_f64() / m.answered as f64;
                row("rtt_mean", mean, "s");
            }
        }
    }
}

/// Four hosts on a star, every link 1 ms and 10 Gbit/s, 1 s of virtual time, plus `extra`.
fn world(extra: &str) -> scenario::World {
    let text = format!(
        r#"name = "heartbeat"
seed = 3
duration = "1s"
[topology.generate]
kind = "star"
hosts = 4
link = {{ rate = "10Gbps", delay = "1ms" }}
{extra}
"#
    );
    let exp = LoadedExperiment::from_text(&text, std::path::Path::new("heartbeat.toml"), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    scenario::prepare_with(&exp, |world| {
        world.add_component(|setup| {
            Heartbeat::new(
                setup,
                &["h0", "h1", "h2", "h3"],
                SimDuration::from_millis(10),
            )
        })?;
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn get(r: &RunRecords, host: &str, metric: &str) -> f64 {
    r.measures
        .iter()
        .find(|m| m.0 == "heartbeat" && m.1 == host && m.2 == metric)
        .map(|m| m.3)
        .unwrap_or_else(|| panic!("no heartbeat/{host}/{metric}"))
}

/// Quiet network: rounds at 0, 10, …, 1000 ms (the engine runs what is due at the end time
/// too) are 101 rounds × 3 peers = 303 pings per host. The round at 1000 ms gets no answer
/// before the end; the other 300 do (answers arrive one RTT, about 4 ms, after the ping).
/// RTT = 4 links × 1 ms + 4 serializations of a 104-byte datagram (64 + 40 header bytes:
/// 832 bits at 10 Gbit/s = 83.2 ns) = 4.000333 ms; ±1% covers rounding.
#[test]
fn heartbeats_on_a_quiet_network_are_all_answered_in_one_rtt() {
    let r = world("").run();
    for h in ["h0", "h1", "h2", "h3"] {
        assert_eq!(get(&r, h, "pings_sent"), 303.0, "{h}");
        assert_eq!(get(&r, h, "answers"), 300.0, "{h}");
        let rtt = get(&r, h, "rtt_mean");
        assert!((rtt - 4.000333e-3).abs() < 4e-5, "{h}: rtt {rtt}");
    }
    // Every datagram is accounted for: 4 × 300 answered pings and their answers delivered,
    // the 4 × 3 pings of the last round still in flight.
    assert_eq!(r.net.delivered, 2 * 1200);
    assert_eq!(r.in_flight, 12);
}

/// h1 crashes at 300 ms and restarts 200 ms later; no consensus group exists. h1 pings in
/// rounds 0..290 ms (30) and from its restart at 500 ms to 1000 ms (51): 81 rounds × 3 =
/// 243, of which the last round's 3 are unanswered at the end. Its peers' pings sent at
/// 300..490 ms (20 rounds) reach it while down (2 ms later, before 500 ms): each peer gets
/// 303 − 3 (last round) − 20 = 280 answers; h1 drops those 3 × 20 = 60 pings.
#[test]
fn a_crashed_host_neither_pings_nor_answers_until_it_restarts() {
    let faults = r#"
[[faults]]
at = "300ms"
kind = "crash"
node = "h1"
duration = "200ms"
"#;
    let r = world(faults).run();
    assert_eq!(get(&r, "h1", "pings_sent"), 243.0);
    assert_eq!(get(&r, "h1", "answers"), 240.0);
    assert_eq!(get(&r, "h1", "dropped_while_down"), 60.0);
    for h in ["h0", "h2", "h3"] {
        assert_eq!(get(&r, h, "pings_sent"), 303.0, "{h}");
        assert_eq!(get(&r, h, "answers"), 280.0, "{h}");
    }
    // The event log names what ran on the node, as the component describes it.
    let kinds: Vec<(&str, &str)> = r.log.iter().map(|e| (e.1, e.2.as_str())).collect();
    assert_eq!(
        kinds,
        [("crash", "heartbeat on h1"), ("restart", "heartbeat on h1")]
    );
}

#[test]
fn a_component_run_is_deterministic() {
    let faults = r#"
[[faults]]
at = "250ms"
kind = "crash"
node = "h2"
duration = "100ms"
"#;
    let a = world(faults).run();
    let b = world(faults).run();
    assert_eq!((a.events, a.digest), (b.events, b.digest));
    assert_eq!(a.measures, b.measures);
}

/// A role only a consensus group has cannot be crashed in a run without one.
#[test]
fn a_crash_of_a_role_no_component_has_is_an_error() {
    let text = r#"name = "x"
duration = "1s"
[topology.generate]
kind = "star"
hosts = 2
link = { rate = "10Gbps", delay = "1ms" }
[[faults]]
at = "1ms"
kind = "crash"
node = "leader"
"#;
    let exp = LoadedExperiment::from_text(text, std::path::Path::new("x.toml"), &[]).unwrap();
    let err = scenario::prepare(&exp).err().expect("an error").to_string();
    assert!(err.contains("\"leader\", which no component"), "{err}");
}

#[path = "../examples/custom_component.rs"]
mod custom_component;

/// The example runs in CI. Checkpoints are due at 0.5, 1, …, 3 s. The one at 1 s finds the
/// backup down (0.9–1.3 s) and is missed when the next is due; the one at 3 s is the end of
/// the run: 4 done (0.5, 1.5, 2, 2.5 s), 1 missed. An 8 MB checkpoint cannot beat the link:
/// 8e6 B × 8 / 1 Gbit/s × 1500/1460 (headers) = 65.8 ms at least.
#[test]
fn the_custom_component_example_runs() {
    let r = custom_component::run();
    let get = |metric: &str| {
        r.measures
            .iter()
            .find(|m| m.0 == "checkpoint" && m.2 == metric)
            .map(|m| m.3)
            .unwrap_or_else(|| panic!("no checkpoint/{metric}"))
    };
    assert_eq!(get("checkpoints_done"), 4.0);
    assert_eq!(get("checkpoints_missed"), 1.0);
    assert!(
        get("checkpoint_time_mean") >= 0.0658,
        "{}",
        get("checkpoint_time_mean")
    );
    assert!(get("checkpoint_goodput") <= 1e9 * 1460.0 / 1500.0);
    let kinds: Vec<&str> = r.log.iter().map(|e| e.1).collect();
    assert_eq!(kinds, ["crash", "restart"]);
}

/// A component with its own network flow: it injects raw packets and is handed them back
/// through `on_packet` (the path `Setup::add_flow` opens), not through the carrier.
struct Prober {
    flow: dwcp_sim::net::FlowId,
    from: NodeId,
    to: NodeId,
    sent: u64,
    arrived: Vec<SimDuration>,
}

impl Component for Prober {
    type Event = UserEvent;

    fn start(&mut self, cx: &mut Context<'_, UserEvent>) {
        cx.schedule_at(SimTime::ZERO, UserEvent(0, 0));
    }

    fn on_event(&mut self, cx: &mut Context<'_, UserEvent>, _: UserEvent) {
        let now = cx.now();
        let p = dwcp_sim::net::Packet {
            flow: self.flow,
            src: self.from,
            dst: self.to,
            size: 1000,
            seq: self.sent,
            created: now,
            ecmp_hash: 0,
            ecn_ce: false,
            payload: dwcp_sim::net::Payload::Data,
        };
        self.sent += 1;
        assert!(cx.inject(p).is_none(), "h0 to h1 is not local");
        if self.sent < 10 {
            cx.schedule_in(SimDuration::from_millis(1), UserEvent(0, 0));
        }
    }

    fn on_packet(&mut self, cx: &mut Context<'_, UserEvent>, p: dwcp_sim::net::Packet) {
        assert_eq!(p.flow, self.flow);
        self.arrived.push(cx.now().since(p.created));
    }

    fn records(&self, _end: SimTime, out: &mut ComponentRecords) {
        out.rows
            .push(("prober", "h0".into(), "sent", self.sent as f64, "packets"));
        let n = self.arrived.len() as f64;
        out.rows
            .push(("prober", "h0".into(), "arrived", n, "packets"));
        let mean = self.arrived.iter().map(|d| d.as_secs_f64()).sum::<f64>() / n;
        out.rows
            .push(("prober", "h0".into(), "delay_mean", mean, "s"));
    }
}

/// Ten 1000-byte packets 1 ms apart over two 1 ms, 10 Gbit/s links: each arrives after
/// 2 × (1 ms + 8000 bit / 10 Gbit/s = 0.8 µs) = 2.0016 ms, and the network counts them in
/// the component's flow.
#[test]
fn a_component_owns_a_flow_and_gets_its_packets() {
    let text = r#"name = "prober"
duration = "1s"
[topology.generate]
kind = "star"
hosts = 2
link = { rate = "10Gbps", delay = "1ms" }
"#;
    let exp = LoadedExperiment::from_text(text, std::path::Path::new("p.toml"), &[]).unwrap();
    let r = scenario::prepare_with(&exp, |world| {
        world.add_component(|setup| {
            Ok(Prober {
                flow: setup.add_flow(),
                from: setup.node("h0").ok_or("no h0")?,
                to: setup.node("h1").ok_or("no h1")?,
                sent: 0,
                arrived: Vec::new(),
            })
        })?;
        Ok(())
    })
    .unwrap()
    .run();
    let get = |metric: &str| r.measures.iter().find(|m| m.2 == metric).unwrap().3;
    assert_eq!((get("sent"), get("arrived")), (10.0, 10.0));
    assert!(
        (get("delay_mean") - 2.0016e-3).abs() < 1e-9,
        "{}",
        get("delay_mean")
    );
    assert_eq!(r.net.delivered, 10);
}

/// A component that streams two batches of `per_batch` messages of `bytes` each over one
/// persistent channel of `streams` connections of `transport`, each taking messages while
/// it holds less than `chunk` bytes unsent: at 0 s, and the second as soon as the first has
/// arrived.
struct Streamer {
    from: NodeId,
    to: NodeId,
    transport: dwcp_sim::transport::multistream::StreamTransport,
    streams: u32,
    chunk: u64,
    bytes: u64,
    per_batch: u64,
    second_at: Option<SimTime>,
    channel: Option<dwcp_sim::scenario::component::ChannelId>,
    /// Delivery time per tag, and how often each tag was delivered.
    delivered: Vec<(Option<SimTime>, u32)>,
}

impl Component for Streamer {
    type Event = UserEvent;

    fn start(&mut self, cx: &mut Context<'_, UserEvent>) {
        use dwcp_sim::scenario::component::{ChannelSpec, TransferSettings};
        let ch = cx.open_channel(ChannelSpec {
            from: self.from,
            to: self.to,
            name: "stream".into(),
            settings: TransferSettings {
                streams: self.streams,
                chunk: self.chunk,
                transport: self.transport.clone(),
            },
        });
        self.channel = Some(ch);
        self.delivered = vec![(None, 0); 2 * self.per_batch as usize];
        for tag in 0..self.per_batch {
            cx.channel_send(ch, self.bytes, tag);
        }
    }

    fn on_event(&mut self, _cx: &mut Context<'_, UserEvent>, _: UserEvent) {}

    fn on_channel_delivered(
        &mut self,
        cx: &mut Context<'_, UserEvent>,
        channel: dwcp_sim::scenario::component::ChannelId,
        tag: u64,
    ) {
        assert_eq!(Some(channel), self.channel);
        let d = &mut self.delivered[tag as usize];
        d.0 = Some(cx.now());
        d.1 += 1;
        let n = self.per_batch as usize;
        if self.second_at.is_none() && self.delivered[..n].iter().all(|d| d.1 > 0) {
            self.second_at = Some(cx.now());
            for tag in self.per_batch..2 * self.per_batch {
                cx.channel_send(channel, self.bytes, tag);
            }
        }
    }

    fn records(&self, _end: SimTime, out: &mut ComponentRecords) {
        let mut row = |metric: &'static str, value: f64| {
            out.rows.push(("streamer", "h0".into(), metric, value, "x"));
        };
        let counts = self.delivered.iter().map(|d| d.1);
        row("min_deliveries", counts.clone().min().unwrap_or(0) as f64);
        row("max_deliveries", counts.max().unwrap_or(0) as f64);
        let last = |tags: std::ops::Range<usize>| {
            self.delivered[tags]
                .iter()
                .filter_map(|d| d.0)
                .max()
                .map_or(f64::NAN, |t| t.as_secs_f64())
        };
        let n = self.per_batch as usize;
        row("first_batch_s", last(0..n));
        let second_at = self.second_at.map_or(f64::NAN, |t| t.as_secs_f64());
        row("second_batch_s", last(n..2 * n) - second_at);
    }
}

/// Two batches of 100 × 256 KiB (26.2 MB each) over one channel of 4 TCP streams on two
/// 10 Gbit/s, 1 ms links with 10 000-packet queues (above the 3 333-packet BDP of 5 MB, so
/// slow start overshoots without loss). Every message arrives exactly once. A batch cannot
/// beat the payload rate: 26 214 400 B × 8 / (10 Gbit/s × 1448/1500 payload share) =
/// 21.5 ms, plus the 2 ms one-way delay. The second batch, sent the moment the first has
/// arrived, finds the same connections' windows open and takes less time than the first,
/// which started in slow start: a channel's connections persist, as a migration's do.
#[test]
fn a_channel_carries_messages_over_persistent_streams() {
    let text = r#"name = "channel"
duration = "1s"
[topology.generate]
kind = "star"
hosts = 2
link = { rate = "10Gbps", delay = "1ms", queue_packets = 10000 }
"#;
    let exp = LoadedExperiment::from_text(text, std::path::Path::new("c.toml"), &[]).unwrap();
    let per_batch = 100u64;
    let mut tcp = TcpConfig::for_mtu(1500, CcKind::Cubic);
    tcp.bytes = None;
    let world = scenario::prepare_with(&exp, |world| {
        world.add_component(|setup| {
            Ok(Streamer {
                from: setup.node("h0").ok_or("no h0")?,
                to: setup.node("h1").ok_or("no h1")?,
                transport: StreamTransport::Tcp(tcp.clone()),
                streams: 4,
                chunk: 256 << 10,
                bytes: 256 << 10,
                per_batch,
                second_at: None,
                channel: None,
                delivered: Vec::new(),
            })
        })?;
        Ok(())
    })
    .unwrap();
    let r = world.run();
    let get = |metric: &str| {
        r.measures
            .iter()
            .find(|m| m.0 == "streamer" && m.2 == metric)
            .unwrap_or_else(|| panic!("no {metric}"))
            .3
    };
    assert_eq!((get("min_deliveries"), get("max_deliveries")), (1.0, 1.0));
    let floor = 26_214_400.0 * 8.0 / (10e9 * 1448.0 / 1500.0) + 2e-3;
    let (first, second) = (get("first_batch_s"), get("second_batch_s"));
    assert!(
        first > floor && second > floor,
        "{first} {second} ≥ {floor}"
    );
    assert!(second < first, "warm connections: {second} < {first}");
    assert!(first < 3.0 * floor, "{first} within 3× the floor {floor}");
}

/// The same two batches' shape over RoCE, as a DWCP v3 datacenter migration's channel is:
/// 64 queue pairs from h0 to h1 over two 1 Gbit/s, 100 µs links made lossless by PFC, each
/// queue pair paced at 1/64 of the port (15.625 Mbit/s) and fed up to 1 MiB. A batch is 64
/// messages of 256 KiB, one per queue pair, each 4 RoCE messages of 64 KiB = 256 packets.
///
/// Nothing is dropped, so nothing may be resent, and every message arrives exactly once.
/// A batch cannot beat the payload rate: 16 777 216 B in 16 384 packets of 1024 + 62 B is
/// 142 344 192 wire bits = 142.344192 ms at 1 Gbit/s, plus 2 × 100 µs of propagation:
/// 142.544192 ms. The queue pairs pace in step, one packet each every 1086 · 8 / 15.625e6
/// = 556.032 µs, and the NIC drains each round of 64 in 64 × 8.688 µs = 556.032 µs, just
/// in time for the next; so the first batch's last packet leaves h0 after 256 × 556.032 µs
/// plus 4 × 0.5 µs of per-message NIC work, and arrives 8.688 µs (the switch's
/// serialization) + 2 × 100 µs later: 142.554880 ms, 10.7 µs above the bound. Both batches
/// are held to 0.1% above it. Before the local ACK timer ran from the packet that asks for
/// an ACK, it expired every 1.05 ms while the 16 packets of an ACK took 8.9 ms to send:
/// each packet went about seven times and the second batch did not finish in 2 s.
#[test]
fn a_channel_carries_messages_over_roce_queue_pairs_without_resending() {
    let text = r#"name = "channel-roce"
duration = "2s"
[topology.generate]
kind = "star"
hosts = 2
link = { rate = "1Gbps", delay = "100us", queue_packets = 1000, pfc_xoff = "200KB" }
"#;
    let exp = LoadedExperiment::from_text(text, std::path::Path::new("r.toml"), &[]).unwrap();
    let per_batch = 64u64;
    // As the migration host builds it from `[rdma]`: defaults, at the host link's rate.
    let rdma = RdmaConfig {
        line_rate_bps: 1_000_000_000,
        ..RdmaConfig::default()
    };
    let world = scenario::prepare_with(&exp, |world| {
        world.add_component(|setup| {
            Ok(Streamer {
                from: setup.node("h0").ok_or("no h0")?,
                to: setup.node("h1").ok_or("no h1")?,
                transport: StreamTransport::Rdma(rdma),
                streams: 64,
                chunk: 1 << 20,
                bytes: 256 << 10,
                per_batch,
                second_at: None,
                channel: None,
                delivered: Vec::new(),
            })
        })?;
        Ok(())
    })
    .unwrap();
    let r = world.run();
    let get = |metric: &str| {
        r.measures
            .iter()
            .find(|m| m.0 == "streamer" && m.2 == metric)
            .unwrap_or_else(|| panic!("no {metric}"))
            .3
    };
    assert_eq!(r.net.dropped_total(), 0, "PFC: no loss");
    let channel = r
        .flows
        .iter()
        .find(|f| f.name == "stream0")
        .expect("the channel's flow record");
    let extra = |metric: &str| {
        channel
            .extra
            .iter()
            .find(|m| m.0 == metric)
            .unwrap_or_else(|| panic!("no {metric}"))
            .1
    };
    // Nothing lost, so any resend is a spurious timeout.
    assert_eq!(extra("retransmitted_packets"), 0.0);
    // Exactly once: every message delivered within the run, none twice.
    assert_eq!((get("min_deliveries"), get("max_deliveries")), (1.0, 1.0));
    // Whole 64 KiB units only: no Nagle filler.
    assert_eq!(extra("padding_bytes"), 0.0);
    assert_eq!(extra("goodput_bytes"), (2 * per_batch * (256 << 10)) as f64);
    let floor = 16_384.0 * 1086.0 * 8.0 / 1e9 + 2.0 * 100e-6;
    for batch in ["first_batch_s", "second_batch_s"] {
        let t = get(batch);
        assert!(
            t > floor && t < 1.001 * floor,
            "{batch}: {t} s, payload-rate bound {floor} s"
        );
    }
    let first = get("first_batch_s");
    assert!((first - 0.142_554_880).abs() < 1e-9, "{first}");
}
