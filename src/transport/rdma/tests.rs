//! End-to-end tests of one queue pair over a tiny in-test wire: a fixed one-way delay and a
//! bottleneck of fixed rate in each direction (FIFO, unbounded queue), which may drop or
//! CE-mark chosen packets.

use super::*;
use crate::engine::SimDuration;
use crate::net::{FlowId, NodeId};
use qp::tx_time;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

const DATA: FlowId = FlowId(0);
const ACKS: FlowId = FlowId(1);

fn ends() -> Ends {
    Ends {
        src: NodeId(0),
        dst: NodeId(1),
        data_flow: DATA,
        ack_flow: ACKS,
        ecmp_hash: 7,
    }
}

fn seg(p: &Packet) -> Segment {
    match p.payload {
        Payload::Segment(s) => s,
        _ => unreachable!(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Deliver,
    Drop,
    Mark,
}

/// What the wire does to a packet, given the time it finishes serializing and the data
/// direction's queue (bytes still waiting) at that moment.
type Policy<'a> = Box<dyn FnMut(SimTime, &Packet, u64) -> Verdict + 'a>;

struct Wire<'a> {
    delay: SimDuration,
    rate_bps: u64,
    /// When each direction's transmitter is free: [data, feedback].
    free_at: [SimTime; 2],
    /// Packets on their way, ordered by (arrival, injection counter): FIFO among ties.
    in_flight: BTreeMap<(SimTime, u64), Packet>,
    counter: u64,
    policy: Policy<'a>,
    dropped: u64,
    max_queue_bytes: u64,
}

impl<'a> Wire<'a> {
    fn new(rate_bps: u64, delay: SimDuration) -> Wire<'a> {
        Wire {
            delay,
            rate_bps,
            free_at: [SimTime::ZERO; 2],
            in_flight: BTreeMap::new(),
            counter: 0,
            policy: Box::new(|_, _, _| Verdict::Deliver),
            dropped: 0,
            max_queue_bytes: 0,
        }
    }

    fn with_policy(mut self, policy: impl FnMut(SimTime, &Packet, u64) -> Verdict + 'a) -> Self {
        self.policy = Box::new(policy);
        self
    }

    fn inject(&mut self, now: SimTime, out: &mut Outbox) {
        for mut p in out.drain(..) {
            let dir = usize::from(p.flow == ACKS);
            let begin = self.free_at[dir].max(now);
            // Bytes queued ahead of this packet, at the data rate.
            let backlog_ps = begin.since(now).as_ps() as u128;
            let queued = (backlog_ps * self.rate_bps as u128 / 8_000_000_000_000) as u64;
            if dir == 0 {
                self.max_queue_bytes = self.max_queue_bytes.max(queued);
            }
            let done = begin + tx_time(p.size as u64 * 8, self.rate_bps);
            self.free_at[dir] = done;
            match (self.policy)(done, &p, queued) {
                Verdict::Drop => {
                    self.dropped += 1;
                    continue;
                }
                Verdict::Mark => p.ecn_ce = true,
                Verdict::Deliver => {}
            }
            self.in_flight.insert((done + self.delay, self.counter), p);
            self.counter += 1;
        }
    }
}

/// Runs the connection from `start` until nothing is left to do or `until`, delivering
/// packets before timers at equal times. `watch` sees each packet just before delivery.
fn run(
    conn: &mut RdmaConnection,
    wire: &mut Wire,
    start: SimTime,
    until: SimTime,
    mut watch: impl FnMut(SimTime, &RdmaConnection, &Packet),
) -> u64 {
    let mut out = Outbox::new();
    conn.on_start(start, &mut out);
    wire.inject(start, &mut out);
    let mut events = 0u64;
    loop {
        let next_packet = wire.in_flight.keys().next().map(|k| k.0);
        let next_timer = conn.poll_at();
        let t = match (next_packet, next_timer) {
            (None, None) => break,
            (Some(a), None) | (None, Some(a)) => a,
            (Some(a), Some(b)) => a.min(b),
        };
        if t > until {
            break;
        }
        if next_packet == Some(t) {
            let (_, p) = wire.in_flight.pop_first().unwrap();
            watch(t, conn, &p);
            conn.on_packet(t, &p, &mut out);
        } else {
            conn.on_timer(t, &mut out);
            assert!(
                conn.poll_at().is_none_or(|next| next > t),
                "on_timer at {t} left a deadline that is not in the future"
            );
        }
        wire.inject(t, &mut out);
        events += 1;
        assert!(events < 50_000_000, "runaway simulation at {t}");
    }
    events
}

fn metric(conn: &RdmaConnection, name: &str) -> Option<f64> {
    let mut m = Vec::new();
    conn.report(SimTime::ZERO, &mut m);
    m.iter().find(|x| x.0 == name).map(|x| x.1)
}

fn us(n: u64) -> SimDuration {
    SimDuration::from_micros(n)
}

#[test]
fn no_loss_transfer_completes_in_closed_form_time() {
    let cfg = RdmaConfig {
        line_rate_bps: 10_000_000_000,
        message_bytes: 65_536,
        total_bytes: Some(1_000_000),
        ..RdmaConfig::default()
    };
    let start = SimTime::ZERO + us(3);
    let mut conn = RdmaConnection::new(cfg, ends(), start);
    let mut wire = Wire::new(10_000_000_000, us(10));
    let mut next_psn = 0;
    run(&mut conn, &mut wire, start, SimTime::MAX, |_, _, p| {
        if p.flow == DATA {
            assert_eq!(seg(p).seq, next_psn, "the wire is FIFO and lossless");
            next_psn += 1;
        }
    });
    // 1 000 000 B = 15 messages of 65 536 B + 16 960 B: 15·64 + 17 = 977 packets, so
    // 1 000 000 + 977·62 = 1 060 574 wire bytes = 8 484 592 bits = 848.4592 µs at 10 Gb/s
    // (exactly 100 ps per bit, no rounding). The sender paces at the bottleneck rate, so
    // nothing queues; the 16 messages each add 0.5 µs of NIC work, and the last bit then
    // needs the 10 µs one-way delay:
    //   848.4592 + 16·0.5 + 10 = 866.4592 µs.
    let expected = SimDuration::from_ps(848_459_200 + 16 * 500_000 + 10_000_000);
    let done = conn.completed_at().expect("transfer completes");
    assert_eq!(done.since(start), expected);
    let secs = metric(&conn, "completion_time").unwrap();
    // Against the header-free estimate bytes·8/rate + delay = 800 + 10 = 810 µs, the
    // 62-byte headers (6.1%) and the message costs (1.0%) make it 6.97% longer.
    let naive = 1_000_000.0 * 8.0 / 1e10 + 10e-6;
    assert!((secs / naive - 1.0697).abs() < 1e-3, "{secs} vs {naive}");
    assert_eq!(metric(&conn, "goodput_bytes"), Some(1_000_000.0));
    for zero in [
        "retransmitted_packets",
        "nacks",
        "timeouts",
        "out_of_order_dropped",
    ] {
        assert_eq!(metric(&conn, zero), Some(0.0), "{zero}");
    }
    // ACKs: every 16 packets within a message and at each message's end: 15·4 full
    // messages, and the 17-packet tail acks at 16 and 17.
    assert_eq!(conn.responder_stats().acks_sent, 15 * 4 + 2);
    assert_eq!(conn.poll_at(), None, "nothing left to do");
}

#[test]
fn go_back_n_resends_everything_after_a_lost_packet() {
    let cfg = RdmaConfig {
        line_rate_bps: 10_000_000_000,
        total_bytes: Some(1_000_000),
        per_message_cost: SimDuration::ZERO,
        ..RdmaConfig::default()
    };
    let mut conn = RdmaConnection::new(cfg, ends(), SimTime::ZERO);
    let mut dropped_once = false;
    let mut wire = Wire::new(10_000_000_000, us(10)).with_policy(|_, p, _| {
        if p.flow == DATA && seg(p).seq == 100 && !dropped_once {
            dropped_once = true;
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let mut sent_at_nack = Vec::new();
    let mut delivered = Vec::new();
    run(
        &mut conn,
        &mut wire,
        SimTime::ZERO,
        SimTime::MAX,
        |t, c, p| {
            if p.flow == ACKS && seg(p).kind == SegmentKind::Nack {
                assert_eq!(seg(p).ack, 100, "the NAK names the lost PSN");
                sent_at_nack.push((t, c.highest_sent()));
            }
            if p.flow == DATA {
                delivered.push(seg(p).seq);
            }
        },
    );
    assert_eq!(sent_at_nack.len(), 1, "one NAK for the one gap");
    let (t_nack, highest) = sent_at_nack[0];
    // Closed form: a packet is 1086 B = 868.8 ns at 10 Gb/s and sending starts at 0. PSN 101
    // reaches the receiver at 102·868.8 ns + 10 µs, the 66 B NAK takes 52.8 ns + 10 µs back:
    // it arrives at 108.6704 µs, when PSNs 0..=125 (125·868.8 = 108.6 µs) have been sent.
    assert_eq!(t_nack, SimTime::from_ps(108_670_400));
    assert_eq!(highest, 126);
    let retx = conn.requester_stats().retransmitted;
    assert_eq!(retx, highest - 100, "go-back-N resends PSNs 100..=125");
    assert_eq!(
        conn.responder_stats().out_of_order_dropped,
        highest - 101,
        "PSNs 101..=125 arrived above the gap and were dropped"
    );
    assert_eq!(metric(&conn, "nacks"), Some(1.0));
    assert_eq!(metric(&conn, "timeouts"), Some(0.0));
    assert_eq!(metric(&conn, "goodput_bytes"), Some(1_000_000.0));
    assert_eq!(conn.responder_stats().duplicates, 0);
    // Every PSN that reached the receiver past the gap came again, in order.
    let accepted: Vec<u64> = {
        let mut expect = 0;
        delivered
            .iter()
            .filter(|&&psn| {
                let ok = psn == expect;
                expect += u64::from(ok);
                ok
            })
            .copied()
            .collect()
    };
    assert_eq!(accepted, (0..977).collect::<Vec<_>>());
}

/// A queue pair paced far below its wire, as each of 64 queue pairs sharing a 1 Gbit/s port
/// is (1 Gbit/s / 64 = 15.625 Mbit/s): a packet leaves every 1086 B · 8 / 15.625 Mbit/s =
/// 556.032 µs, so the 16 packets the responder coalesces into one ACK take 8.9 ms, far
/// longer than the 1.048576 ms local ACK timeout. The timer runs from the packet that asks
/// for the ACK, not from the first packet sent since the last one, so nothing is lost and
/// nothing is resent. (With the timer run from the first packet it expired after two
/// packets, every time: go-back-N without loss, as a migration over 64 RoCE queue pairs
/// showed.)
#[test]
fn a_slowly_paced_queue_pair_waits_for_the_ack_it_asked_for() {
    let cfg = RdmaConfig {
        line_rate_bps: 15_625_000,
        message_bytes: 65_536,
        total_bytes: Some(1 << 20),
        ..RdmaConfig::default()
    };
    let mut conn = RdmaConnection::new(cfg, ends(), SimTime::ZERO);
    let mut wire = Wire::new(1_000_000_000, us(100));
    run(
        &mut conn,
        &mut wire,
        SimTime::ZERO,
        SimTime::MAX,
        |_, _, _| {},
    );
    for zero in [
        "retransmitted_packets",
        "timeouts",
        "nacks",
        "duplicate_packets",
    ] {
        assert_eq!(metric(&conn, zero), Some(0.0), "{zero}");
    }
    // 1 MiB = 16 messages of 64 packets: 1024 packets, an ACK every 16: 64 ACKs.
    assert_eq!(conn.requester_stats().data_packets, 1024);
    assert_eq!(conn.responder_stats().acks_sent, 64);
    // Closed form: packet k leaves at k · 556.032 µs plus 0.5 µs of NIC work for each
    // message begun by then; the last (k = 1023, the 16th message) leaves at
    // 1023 · 556.032 + 16 · 0.5 = 568 828.736 µs, takes 8.688 µs on the 1 Gbit/s wire and
    // 100 µs to arrive: 568 937.424 µs.
    let done = conn.completed_at().expect("transfer completes");
    assert_eq!(done, SimTime::from_ps(568_937_424_000));
}

/// A window smaller than the ACK coalescing: the packet that fills the window asks for an
/// ACK, so the stalled requester still has a timer, and the timeouts' resends make up the
/// responder's count of 16 until it acknowledges. Slow, but it never hangs.
#[test]
fn a_window_below_the_ack_interval_still_completes() {
    let cfg = RdmaConfig {
        window_packets: 4,
        total_bytes: Some(64 << 10),
        ..RdmaConfig::default()
    };
    let mut conn = RdmaConnection::new(cfg, ends(), SimTime::ZERO);
    let mut wire = Wire::new(40_000_000_000, us(1));
    let until = SimTime::ZERO + SimDuration::from_secs(1);
    run(&mut conn, &mut wire, SimTime::ZERO, until, |_, _, _| {});
    assert!(
        conn.completed_at().is_some(),
        "{:?}",
        conn.requester_stats()
    );
    assert!(conn.requester_stats().timeouts > 0);
}

/// Goodput of an endless stream over `dur` at i.i.d. data-packet loss `p`.
fn goodput_under_loss(p: f64, dur: SimDuration) -> (f64, RdmaConnection) {
    let line = 40_000_000_000;
    let cfg = RdmaConfig {
        line_rate_bps: line,
        ..RdmaConfig::default()
    };
    let mut conn = RdmaConnection::new(cfg, ends(), SimTime::ZERO);
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0001);
    let mut wire = Wire::new(line, us(100)).with_policy(|_, pkt, _| {
        if pkt.flow == DATA && rng.random::<f64>() < p {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    run(
        &mut conn,
        &mut wire,
        SimTime::ZERO,
        SimTime::ZERO + dur,
        |_, _, _| {},
    );
    let bits = conn.responder_stats().delivered_bytes as f64 * 8.0;
    (bits / dur.as_secs_f64() / line as f64, conn)
}

#[test]
fn goodput_collapses_with_random_loss_under_go_back_n() {
    // 40 Gb/s, 100 µs one way: BDP = 40e9 · 200e-6 / 8 = 1 MB ≈ 920 packets of 1086 B, so
    // every loss throws away about a round trip of packets. Loss hits data packets only.
    let dur = SimDuration::from_millis(20);
    let mut fractions = Vec::new();
    for p in [0.0, 0.001, 0.01] {
        let (f, conn) = goodput_under_loss(p, dur);
        eprintln!(
            "p = {p}: goodput {:.4} of line rate, retransmitted {}, NAKs {}, timeouts {}",
            f,
            conn.requester_stats().retransmitted,
            conn.responder_stats().nacks_sent,
            conn.requester_stats().timeouts
        );
        fractions.push(f);
    }
    // Lossless: payload share 1024/1086 = 0.94291 of the line, less the first 100.2 µs
    // before anything arrives (· 19 899.8/20 000), less 0.5 µs of NIC work per 1 MiB message
    // (1024 packets = 222.4 µs, · 222.4/222.9): 0.94291 · 0.99499 · 0.99776 = 0.93607.
    assert!((fractions[0] - 0.93607).abs() < 0.0002, "{fractions:?}");
    assert!(
        fractions[0] > fractions[1] && fractions[1] > fractions[2],
        "goodput must fall as loss rises: {fractions:?}"
    );
    // Wang et al. (ICCCN 2019): plain go-back-N on RoCEv2 is "nearly zero" above 1% loss.
    assert!(fractions[2] < 0.2, "{fractions:?}");
}

#[test]
fn runs_are_deterministic() {
    let dur = SimDuration::from_millis(5);
    let (a, ca) = goodput_under_loss(0.01, dur);
    let (b, cb) = goodput_under_loss(0.01, dur);
    assert_eq!(a.to_bits(), b.to_bits());
    let (mut ma, mut mb) = (Vec::new(), Vec::new());
    ca.report(SimTime::ZERO, &mut ma);
    cb.report(SimTime::ZERO, &mut mb);
    assert_eq!(format!("{ma:?}"), format!("{mb:?}"));
}

#[test]
fn ce_marks_make_cnps_at_most_every_50us_and_the_rate_recovers() {
    let line = 40_000_000_000;
    let cfg = RdmaConfig {
        line_rate_bps: line,
        dcqcn: Some(DcqcnConfig::default()),
        ..RdmaConfig::default()
    };
    let mut conn = RdmaConnection::new(cfg, ends(), SimTime::ZERO);
    // Every data packet leaving the wire in [100 µs, 400 µs) is marked.
    let mark_from = SimTime::ZERO + us(100);
    let mark_to = SimTime::ZERO + us(400);
    let mut wire = Wire::new(line, us(5)).with_policy(|t, p, _| {
        if p.flow == DATA && t >= mark_from && t < mark_to {
            Verdict::Mark
        } else {
            Verdict::Deliver
        }
    });
    let mut cnp_times = Vec::new();
    let mut min_rate = u64::MAX;
    run(
        &mut conn,
        &mut wire,
        SimTime::ZERO,
        SimTime::ZERO + SimDuration::from_millis(3),
        |t, c, p| {
            if seg(p).kind == SegmentKind::Cnp {
                cnp_times.push(t);
            }
            min_rate = min_rate.min(c.rate_bps());
        },
    );
    // Marked packets reach the receiver during [105, 405) µs: a CNP at the first mark, then
    // one per 50 µs while marks keep coming: 105, 155, …, 405 (the last deferred one) = 7.
    assert_eq!(cnp_times.len(), 7, "{cnp_times:?}");
    for w in cnp_times.windows(2) {
        assert!(
            w[1].since(w[0]) >= us(50),
            "CNPs closer than 50 µs: {cnp_times:?}"
        );
    }
    let (sent, received) = conn.cnps();
    assert_eq!((sent, received), (7, 7));
    // CNPs come every 50 µs, inside the 55 µs α period and increase timer, so α stays at
    // exactly 1 and nothing rises between cuts: seven halvings, 40 G / 2⁷ = 312.5 Mb/s.
    assert_eq!(min_rate, line >> 7);
    let rp = conn.reaction_point().unwrap();
    assert_eq!(rp.stats().cnps, 7);
    // Then the increase timer alone (BC stays 0: 10 MB would take > 30 ms at these rates)
    // runs T = ⌊(3 ms − last CNP)/55 µs⌋ events: 5 of fast recovery, then additive ones,
    // each raising R_T by R_AI = 40 Mb/s from the 625 Mb/s it had before the last cut.
    let t_last = cnp_times[6];
    let t_events = (SimDuration::from_millis(3).as_ps() - t_last.as_ps()) / us(55).as_ps();
    assert_eq!(rp.counters(), (t_events as u32, 0));
    let s = rp.stats();
    assert_eq!((s.fast_recovery_events, s.hyper_events), (5, 0));
    assert_eq!(s.additive_events, t_events - 5);
    assert_eq!(rp.target_bps(), (line >> 6) + (t_events - 5) * 40_000_000);
    // R_C ← (R_T + R_C)/2 after R_T += R_AI settles the gap R_T − R_C at R_AI.
    let gap = rp.target_bps() - conn.rate_bps();
    assert!(gap.abs_diff(40_000_000) < 1_000, "gap {gap}");
    eprintln!(
        "after 7 CNPs: {t_events} timer events by 3 ms, R_C = {:.3} Gb/s",
        conn.rate_bps() as f64 / 1e9
    );
    let mut samples = Vec::new();
    conn.sample(SimTime::ZERO + SimDuration::from_millis(2), &mut samples);
    samples.clear();
    conn.sample(SimTime::ZERO + SimDuration::from_millis(3), &mut samples);
    let names: Vec<&str> = samples.iter().map(|m| m.0).collect();
    assert_eq!(
        names,
        [
            "rate",
            "goodput",
            "target_rate",
            "alpha",
            "in_flight",
            "delivered_bytes"
        ]
    );
}

#[test]
fn dcqcn_holds_a_slower_bottleneck_with_a_short_queue() {
    // A 40 Gb/s NIC into a 10 Gb/s bottleneck that marks CE above 20 KB of queue (a
    // step-marking switch, DCTCP style). Without rate control the queue would grow by 30
    // Gb/s; DCQCN must hold the sender near 10 Gb/s.
    let line = 40_000_000_000;
    let cfg = RdmaConfig {
        line_rate_bps: line,
        dcqcn: Some(DcqcnConfig::default()),
        ..RdmaConfig::default()
    };
    let mut conn = RdmaConnection::new(cfg, ends(), SimTime::ZERO);
    let mut wire = Wire::new(10_000_000_000, us(5)).with_policy(|_, p, queued| {
        if p.flow == DATA && queued > 20_000 {
            Verdict::Mark
        } else {
            Verdict::Deliver
        }
    });
    // Goodput is measured over [20 ms, 40 ms), after the start-up transient: α starts at 1
    // and the 184 KB queue built while the QP still ran at 40 Gb/s keeps CNPs coming for
    // about 1 ms, so the rate first falls to ~0.3 Gb/s and needs ~14 ms of additive
    // increase (40 Mb/s per 55 µs) to return to 10 Gb/s.
    let mut at_20ms = None;
    let mut min_rate = u64::MAX;
    let t20 = SimTime::ZERO + SimDuration::from_millis(20);
    let end = SimTime::ZERO + SimDuration::from_millis(40);
    run(&mut conn, &mut wire, SimTime::ZERO, end, |t, c, _| {
        min_rate = min_rate.min(c.rate_bps());
        if t >= t20 && at_20ms.is_none() {
            at_20ms = Some(c.responder_stats().delivered_bytes);
        }
    });
    let bytes = conn.responder_stats().delivered_bytes - at_20ms.unwrap();
    let goodput = bytes as f64 * 8.0 / 0.02;
    eprintln!(
        "steady goodput {:.3} Gb/s, max queue {} B, CNPs {}, min rate {:.3} Gb/s, final {:.3} Gb/s",
        goodput / 1e9,
        wire.max_queue_bytes,
        conn.cnps().0,
        min_rate as f64 / 1e9,
        conn.rate_bps() as f64 / 1e9
    );
    // Payload share of the bottleneck: 10 Gb/s · 1024/1086 = 9.43 Gb/s. DCQCN's sawtooth
    // around it (cut on a CNP, then +40 Mb/s per 55 µs) gave 9.07 Gb/s (96%) when written.
    assert!(goodput > 0.93 * 9.43e9, "goodput {goodput}");
    // The queue peaks in the start-up burst (30 Gb/s of excess for the ~50 µs the first
    // marks and CNP take to act, and the drain after); it stays below 250 KB.
    assert!(
        wire.max_queue_bytes < 250_000,
        "queue {}",
        wire.max_queue_bytes
    );
}

#[test]
fn early_and_spurious_timer_calls_are_harmless() {
    let cfg = RdmaConfig {
        total_bytes: Some(100_000),
        dcqcn: Some(DcqcnConfig::default()),
        ..RdmaConfig::default()
    };
    let mut conn = RdmaConnection::new(cfg, ends(), SimTime::ZERO);
    let mut out = Outbox::new();
    conn.on_timer(SimTime::ZERO, &mut out);
    assert!(out.is_empty() && conn.poll_at().is_none(), "not started");
    conn.on_start(SimTime::ZERO, &mut out);
    assert!(out.is_empty(), "the first message waits 500 ns of NIC work");
    let first = conn.poll_at().unwrap();
    assert_eq!(first, SimTime::ZERO + SimDuration::from_nanos(500));
    conn.on_timer(SimTime::ZERO + SimDuration::from_nanos(499), &mut out);
    assert!(out.is_empty(), "early call sends nothing");
    conn.on_timer(first, &mut out);
    conn.on_timer(first, &mut out);
    assert_eq!(out.len(), 1, "a repeated call does not send twice");
    assert_eq!(seg(&out[0]).seq, 0);
    assert_eq!(out[0].size, 1024 + 62);
}
