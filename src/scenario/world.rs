//! The world of one run: the engine, the network and the traffic sources, and the loop that
//! routes each event to its owner. Wiring only: behaviour lives in `net` and `traffic`.

use crate::engine::{Engine, SimDuration, SimTime, Traced};
use crate::metrics::{FlowRecord, PortRecord, RunRecords, TimeSeries};
use crate::net::{FlowId, NetEvent, Network, Packet, Payload, PortId};
use crate::traffic::Source;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every event of a run. Closed, small and `Copy`: no allocation per event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Net(NetEvent),
    /// Timer of source `i`.
    Source(u32),
    /// Take time-series samples.
    Sample,
}

impl From<NetEvent> for Event {
    fn from(e: NetEvent) -> Self {
        Event::Net(e)
    }
}

impl Traced for Event {
    #[inline]
    fn trace(&self) -> (u32, u64, u64) {
        match *self {
            Event::Net(NetEvent::TxDone(p)) => (1, p.0 as u64, 0),
            Event::Net(NetEvent::Arrive(p, pkt)) => (2, p.0 as u64, pkt.0 as u64),
            Event::Source(i) => (3, i as u64, 0),
            Event::Sample => (4, 0, 0),
        }
    }
}

/// Periodic samples of chosen link directions and flows.
pub(crate) struct Sampler {
    pub interval: SimDuration,
    /// Port, index of its queue series (utilization series follows it).
    pub ports: Vec<(PortId, usize)>,
    pub last_busy: Vec<u64>,
    /// Per flow: index of its throughput series, or none.
    pub flow_series: Vec<Option<usize>>,
    pub rtt_series: Vec<Option<usize>>,
    pub last_delivered: Vec<u64>,
    pub series: Vec<TimeSeries>,
    pub last_sample: SimTime,
}

impl Sampler {
    fn sample(&mut self, now: SimTime, net: &Network) {
        let dt = now.since(self.last_sample).as_ps();
        if dt == 0 {
            return;
        }
        for (k, &(port_id, s)) in self.ports.iter().enumerate() {
            let port = net.port(port_id);
            self.series[s]
                .points
                .push((now, port.queue_packets() as f64));
            let busy = port.busy_until(now);
            let util = (busy - self.last_busy[k]) as f64 / dt as f64;
            self.last_busy[k] = busy;
            self.series[s + 1].points.push((now, util));
        }
        for (f, slot) in self.flow_series.iter().enumerate() {
            if let Some(s) = *slot {
                let delivered = net.flows[f].delivered_bytes;
                let bps = (delivered - self.last_delivered[f]) as f64 * 8.0 / (dt as f64 / 1e12);
                self.last_delivered[f] = delivered;
                self.series[s].points.push((now, bps));
            }
        }
        self.last_sample = now;
    }
}

pub struct World {
    pub(crate) engine: Engine<Event>,
    pub(crate) net: Network,
    pub(crate) sources: Vec<Source>,
    pub(crate) flow_meta: Vec<(String, &'static str, String, String)>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) end: SimTime,
}

impl World {
    /// Runs to the end time and returns what was measured.
    pub fn run(self) -> RunRecords {
        self.run_observed(None)
    }

    /// As [`World::run`], storing the virtual time reached (ps) in `progress` every few
    /// thousand events, for a progress display on another thread.
    pub fn run_observed(mut self, progress: Option<&AtomicU64>) -> RunRecords {
        for (i, s) in self.sources.iter().enumerate() {
            if s.start < self.end {
                self.engine.schedule_at(s.start, Event::Source(i as u32));
            }
        }
        if let Some(s) = &self.sampler {
            self.engine.schedule_in(s.interval, Event::Sample);
        }
        let end = self.end;
        let mut since_report = 0u32;
        while let Some(event) = self.engine.next_event(end) {
            since_report += 1;
            if since_report == 1 << 14 {
                since_report = 0;
                if let Some(p) = progress {
                    p.store(self.engine.now().as_ps(), Ordering::Relaxed);
                }
            }
            match event {
                Event::Net(e) => {
                    if let Some(p) = self.net.on_event(&mut self.engine, e) {
                        self.on_delivered(p);
                    }
                }
                Event::Source(i) => {
                    let now = self.engine.now();
                    let (packet, next) = self.sources[i as usize].on_timer(now);
                    if let Some(t) = next {
                        self.engine.schedule_at(t, Event::Source(i));
                    }
                    if let Some(p) = packet {
                        if let Some(local) = self.net.inject(&mut self.engine, p) {
                            self.on_delivered(local);
                        }
                    }
                }
                Event::Sample => {
                    let now = self.engine.now();
                    if let Some(s) = &mut self.sampler {
                        s.sample(now, &self.net);
                        if now + s.interval <= end {
                            self.engine.schedule_in(s.interval, Event::Sample);
                        }
                    }
                }
            }
        }
        self.net.finish(end);
        if let Err(broken) = self.net.check_conservation() {
            panic!(
                "{broken} at the end of the run ({end}, {} events)",
                self.engine.processed()
            );
        }
        self.records()
    }

    fn on_delivered(&mut self, p: Packet) {
        let now = self.engine.now();
        let flow: FlowId = p.flow;
        if let Payload::PingReply { sent_at } = p.payload {
            let rtt = now.since(sent_at);
            self.net.flows[flow.index()].rtt.record(rtt.as_ps());
            if let Some(s) = self
                .sampler
                .as_mut()
                .and_then(|s| s.rtt_series[flow.index()].map(|i| (s, i)))
            {
                s.0.series[s.1].points.push((now, rtt.as_secs_f64()));
            }
            return;
        }
        if let Some(reply) = self.sources[flow.index()].on_delivery(now, &p) {
            if let Some(local) = self.net.inject(&mut self.engine, reply) {
                self.on_delivered(local);
            }
        }
    }

    fn records(self) -> RunRecords {
        let net = &self.net;
        let end = self.end;
        let flows = self
            .sources
            .iter()
            .zip(&self.flow_meta)
            .map(|(s, (name, app, src, dst))| FlowRecord {
                name: name.clone(),
                app,
                src: src.clone(),
                dst: dst.clone(),
                offered_bps: s.offered_bps(),
                active_s: s.stop.min(end).since(s.start.min(end)).as_secs_f64(),
                stats: net.flows[s.flow.index()].clone(),
            })
            .collect();
        let ports = net
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let id = PortId(i as u32);
                PortRecord {
                    link: net.link_name(id.link()).to_string(),
                    direction: id.direction(),
                    from: net.nodes[p.from.index()].name.clone(),
                    to: net.nodes[p.to.index()].name.clone(),
                    rate_bps: p.rate_bps(),
                    stats: p.stats.clone(),
                }
            })
            .collect();
        RunRecords {
            net: net.stats.clone(),
            in_flight: net.in_flight(),
            flows,
            ports,
            series: self.sampler.map(|s| s.series).unwrap_or_default(),
            events: self.engine.processed(),
            digest: self.engine.digest(),
            end_time: end,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn events_stay_small() {
        // The queue moves events by value on every push and pop; keep them within 16 bytes.
        assert!(std::mem::size_of::<super::Event>() <= 16);
    }
}
