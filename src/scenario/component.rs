//! The component interface: how a model lives in the world of a run.
//!
//! A component (a consensus group, a migration, a heartbeat service, a user's own protocol)
//! is a state machine driven by the world through [`Component`]: its own timers, messages
//! and bulk transfers that reach it, and faults of the nodes it runs on. It sees the world
//! only through a [`Context`]: the clock and a scheduler for its own event type, the
//! network, the run's named random streams, and two services the world provides to every
//! component:
//! - **messages** ([`Context::send_message`]): datagrams of a message's real size, cut to
//!   the MTU, lost if any fragment is (see [`crate::transport::datagram`]);
//! - **bulk transfers** ([`Context::open_transfer`]): AMST streams over TCP or RoCE, opened
//!   when the handler returns, their completion reported to
//!   [`Component::on_transfer_done`];
//! - **channels** ([`Context::open_channel`], [`Context::channel_send`]): persistent
//!   streams that carry messages queued over time, each delivery reported to
//!   [`Component::on_channel_delivered`] (see [`crate::transport::channel`]).
//!
//! Invariants: a component's events reach only that component; handlers run one at a time
//! in event order; transfers a handler opens start after it returns, in the order asked.

#![warn(missing_docs)]

use super::event::{ComponentEvent, ComponentId, Event};
use crate::engine::{Engine, EventId, RngStreams, Scheduler, SimRng, SimTime};
use crate::metrics::{MeasureRow, TimeSeries};
use crate::net::{Network, NodeId, Packet};
use crate::transport::datagram::{Delivery, MessageCarrier, SenderId};
use crate::transport::multistream::StreamTransport;

/// One entry of the run's event log (`events.csv`): when, what kind, and a description.
pub type LogEntry = (SimTime, &'static str, String);

/// A bulk transfer a component asked the world to carry, by index in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TransferId(pub u32);

/// How a bulk transfer travels: AMST with `streams` connections of one transport.
#[derive(Clone, Debug)]
pub struct TransferSettings {
    /// Parallel connections.
    pub streams: u32,
    /// Chunk size, bytes (capped at the transfer's size).
    pub chunk: u64,
    /// What each stream runs on (TCP with its congestion control, or RoCE).
    pub transport: StreamTransport,
}

/// A bulk transfer to open.
#[derive(Clone, Debug)]
pub struct TransferSpec {
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// Bytes to move (at least 1 is sent).
    pub bytes: u64,
    /// Name prefix of its flows in the results; the world appends a number.
    pub name: String,
    /// The component's own token, returned with the completion.
    pub tag: u64,
    /// How it travels.
    pub settings: TransferSettings,
}

/// A persistent message channel a component opened, by index in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

/// A channel to open: `settings.streams` persistent streams from `from` to `to`, each
/// holding up to `settings.chunk` bytes unsent (its send buffer). See
/// [`crate::transport::channel`].
#[derive(Clone, Debug)]
pub struct ChannelSpec {
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// Name prefix of its flows in the results; the world appends a number.
    pub name: String,
    /// Streams, per-stream send buffer and transport.
    pub settings: TransferSettings,
}

/// A request on a channel, carried out when the handler returns, in order.
#[derive(Clone, Debug)]
pub(crate) enum ChannelRequest {
    Open(ComponentId, ChannelId, ChannelSpec),
    Send(ChannelId, u64, u64),
}

/// A bulk transfer finished.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransferDone {
    /// The id [`Context::open_transfer`] returned.
    pub id: TransferId,
    /// The tag of its [`TransferSpec`].
    pub tag: u64,
    /// False if it was given up.
    pub delivered: bool,
    /// From opening to the last byte.
    pub took: crate::engine::SimDuration,
}

/// What a component adds to the run's results.
#[derive(Default)]
pub struct ComponentRecords {
    /// `(scope, entity, metric, value, unit)` rows of `results.csv`.
    pub rows: Vec<MeasureRow>,
    /// Time series of `timeseries.csv`.
    pub series: Vec<TimeSeries>,
}

/// The world's services shared by all components.
pub struct Services {
    pub(crate) carrier: MessageCarrier,
    /// Transfers asked for during the current handler, opened when it returns.
    pub(crate) transfer_requests: Vec<(ComponentId, TransferId, TransferSpec)>,
    pub(crate) transfers_opened: u32,
    /// Channel opens and sends asked for during the current handler, in order.
    pub(crate) channel_requests: Vec<ChannelRequest>,
    /// The transport slot of each channel opened, by [`ChannelId`].
    pub(crate) channel_slots: Vec<u32>,
    pub(crate) channels_asked: u32,
    pub(crate) log: Vec<LogEntry>,
}

impl Services {
    pub(crate) fn new(min_mtu: u32) -> Self {
        Services {
            carrier: MessageCarrier::new(min_mtu),
            transfer_requests: Vec::new(),
            transfers_opened: 0,
            channel_requests: Vec::new(),
            channel_slots: Vec::new(),
            channels_asked: 0,
            log: Vec::new(),
        }
    }
}

/// What a component's handler may use: its own scheduler, the network, the random streams
/// and the world's services. Implements [`Scheduler`] for the component's event type only.
pub struct Context<'a, E> {
    id: ComponentId,
    engine: &'a mut Engine<Event>,
    /// The packet network: inject packets, read links and nodes.
    pub net: &'a mut Network,
    streams: &'a RngStreams,
    services: &'a mut Services,
    _events: std::marker::PhantomData<E>,
}

impl<E: ComponentEvent> Scheduler<E> for Context<'_, E> {
    #[inline]
    fn now(&self) -> SimTime {
        self.engine.now()
    }
    #[inline]
    fn schedule_at(&mut self, at: SimTime, event: E) -> EventId {
        self.engine.schedule_at(at, event.wrap(self.id))
    }
    fn cancel(&mut self, id: EventId) -> bool {
        self.engine.cancel(id)
    }
}

impl<E> Context<'_, E> {
    /// The current virtual time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.engine.now()
    }

    /// This component's id.
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// A named random stream of this run (the same name gives the same stream).
    pub fn stream(&self, name: &str) -> SimRng {
        self.streams.stream(name)
    }

    /// Sends a message of `bytes` from `sender` to node `to` as datagrams. A message that
    /// stays on its node comes back at once, for the caller to handle when it is ready;
    /// others reach [`Component::on_message`] of the sender's owner.
    pub fn send_message(
        &mut self,
        sender: SenderId,
        to: NodeId,
        bytes: u32,
        tag: u64,
    ) -> Option<Delivery> {
        self.services
            .carrier
            .send(self.engine, self.net, sender, to, bytes, tag)
    }

    /// Asks for a bulk transfer; it opens when this handler returns, and its completion
    /// reaches [`Component::on_transfer_done`].
    pub fn open_transfer(&mut self, spec: TransferSpec) -> TransferId {
        let id = TransferId(self.services.transfers_opened);
        self.services.transfers_opened += 1;
        self.services.transfer_requests.push((self.id, id, spec));
        id
    }

    /// Asks for a persistent channel; it opens when this handler returns. Messages sent on
    /// it reach [`Component::on_channel_delivered`] as they arrive whole.
    pub fn open_channel(&mut self, spec: ChannelSpec) -> ChannelId {
        let id = ChannelId(self.services.channels_asked);
        self.services.channels_asked += 1;
        self.services
            .channel_requests
            .push(ChannelRequest::Open(self.id, id, spec));
        id
    }

    /// Queues a message of `bytes` on channel `channel` (sent when this handler returns);
    /// `tag` comes back with its delivery.
    pub fn channel_send(&mut self, channel: ChannelId, bytes: u64, tag: u64) {
        self.services
            .channel_requests
            .push(ChannelRequest::Send(channel, bytes, tag));
    }

    /// Appends to the run's event log.
    pub fn log(&mut self, kind: &'static str, detail: String) {
        let now = self.engine.now();
        self.services.log.push((now, kind, detail));
    }

    /// Injects a packet of one of this component's own flows; a packet addressed to its
    /// own node comes straight back.
    pub fn inject(&mut self, packet: Packet) -> Option<Packet> {
        self.net.inject(self.engine, packet)
    }
}

/// What the world needs of a component. Every handler but [`Component::on_event`] and
/// [`Component::records`] has a default that ignores the call.
pub trait Component {
    /// The component's own events (its timers).
    type Event: ComponentEvent;

    /// Called once, at time zero, before any event: schedule the first timers.
    fn start(&mut self, cx: &mut Context<'_, Self::Event>);
    /// One of this component's events is due.
    fn on_event(&mut self, cx: &mut Context<'_, Self::Event>, event: Self::Event);
    /// A message of one of this component's senders arrived whole.
    fn on_message(&mut self, _cx: &mut Context<'_, Self::Event>, _message: Delivery) {}
    /// A packet of one of this component's own flows (see [`Setup::add_flow`]) arrived.
    fn on_packet(&mut self, _cx: &mut Context<'_, Self::Event>, _packet: Packet) {}
    /// A bulk transfer this component opened finished.
    fn on_transfer_done(&mut self, _cx: &mut Context<'_, Self::Event>, _done: TransferDone) {}
    /// A message this component sent on one of its channels arrived whole.
    fn on_channel_delivered(
        &mut self,
        _cx: &mut Context<'_, Self::Event>,
        _channel: ChannelId,
        _tag: u64,
    ) {
    }
    /// `node` crashed: what ran there loses its volatile state.
    fn on_node_down(&mut self, _cx: &mut Context<'_, Self::Event>, _node: NodeId) {}
    /// `node` restarted.
    fn on_node_up(&mut self, _cx: &mut Context<'_, Self::Event>, _node: NodeId) {}
    /// What of this component runs on `node`, for the event log ("acp r1 (n1)").
    fn describe(&self, _node: NodeId) -> Option<String> {
        None
    }
    /// Roles a fault may name instead of a node (e.g. "leader").
    fn roles(&self) -> &[&'static str] {
        &[]
    }
    /// The node holding `role` now, if any.
    fn node_in_role(&self, _role: &str) -> Option<NodeId> {
        None
    }
    /// Results at the end of the run.
    fn records(&self, end: SimTime, out: &mut ComponentRecords);
}

/// What building a component may use: the network (to add flows), the carrier (to add
/// message senders), the random streams, the run's end time.
pub struct Setup<'a> {
    pub(crate) id: ComponentId,
    /// The network being built (flows are added through [`Setup::add_flow`]).
    pub net: &'a mut Network,
    pub(crate) services: &'a mut Services,
    pub(crate) owners: &'a mut Vec<super::world::Owner>,
    /// The run's named random streams: take a component's own streams here.
    pub streams: &'a RngStreams,
    /// When the run ends.
    pub end: SimTime,
}

impl Setup<'_> {
    /// The id the component being built will have.
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// A message sender at `node` whose messages are delivered to this component; `ecmp_hash`
    /// keeps its datagrams on one path.
    pub fn add_sender(&mut self, node: NodeId, ecmp_hash: u32) -> SenderId {
        let flow = self.net.add_flow();
        self.owners.push(super::world::Owner::Carrier);
        self.services
            .carrier
            .add_sender(self.id.0 as u32, node, flow, ecmp_hash)
    }

    /// A network flow whose packets are delivered to [`Component::on_packet`].
    pub fn add_flow(&mut self) -> crate::net::FlowId {
        let flow = self.net.add_flow();
        self.owners.push(super::world::Owner::Component(self.id));
        flow
    }

    /// Largest message fragment on this network, bytes.
    pub fn mtu_payload(&self) -> u32 {
        self.services.carrier.mtu_payload()
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.net
            .nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| NodeId(i as u32))
    }
}

/// The world's parts a handler is called with.
pub(crate) struct Parts<'a> {
    pub engine: &'a mut Engine<Event>,
    pub net: &'a mut Network,
    pub streams: &'a RngStreams,
    pub services: &'a mut Services,
}

/// [`Component`] with its event type erased, as the world stores it.
pub(crate) trait AnyComponent {
    fn start(&mut self, id: ComponentId, w: Parts);
    fn on_event(&mut self, id: ComponentId, w: Parts, event: Event);
    fn on_message(&mut self, id: ComponentId, w: Parts, message: Delivery);
    fn on_packet(&mut self, id: ComponentId, w: Parts, packet: Packet);
    fn on_transfer_done(&mut self, id: ComponentId, w: Parts, done: TransferDone);
    fn on_channel_delivered(&mut self, id: ComponentId, w: Parts, channel: ChannelId, tag: u64);
    fn on_node_down(&mut self, id: ComponentId, w: Parts, node: NodeId);
    fn on_node_up(&mut self, id: ComponentId, w: Parts, node: NodeId);
    fn describe(&self, node: NodeId) -> Option<String>;
    fn roles(&self) -> &[&'static str];
    fn node_in_role(&self, role: &str) -> Option<NodeId>;
    fn records(&self, end: SimTime, out: &mut ComponentRecords);
}

fn context<E>(id: ComponentId, w: Parts<'_>) -> Context<'_, E> {
    Context {
        id,
        engine: w.engine,
        net: w.net,
        streams: w.streams,
        services: w.services,
        _events: std::marker::PhantomData,
    }
}

impl<C: Component> AnyComponent for C {
    fn start(&mut self, id: ComponentId, w: Parts) {
        Component::start(self, &mut context(id, w))
    }
    fn on_event(&mut self, id: ComponentId, w: Parts, event: Event) {
        if let Some(e) = C::Event::unwrap(event) {
            Component::on_event(self, &mut context(id, w), e)
        }
    }
    fn on_message(&mut self, id: ComponentId, w: Parts, message: Delivery) {
        Component::on_message(self, &mut context(id, w), message)
    }
    fn on_packet(&mut self, id: ComponentId, w: Parts, packet: Packet) {
        Component::on_packet(self, &mut context(id, w), packet)
    }
    fn on_transfer_done(&mut self, id: ComponentId, w: Parts, done: TransferDone) {
        Component::on_transfer_done(self, &mut context(id, w), done)
    }
    fn on_channel_delivered(&mut self, id: ComponentId, w: Parts, channel: ChannelId, tag: u64) {
        Component::on_channel_delivered(self, &mut context(id, w), channel, tag)
    }
    fn on_node_down(&mut self, id: ComponentId, w: Parts, node: NodeId) {
        Component::on_node_down(self, &mut context(id, w), node)
    }
    fn on_node_up(&mut self, id: ComponentId, w: Parts, node: NodeId) {
        Component::on_node_up(self, &mut context(id, w), node)
    }
    fn describe(&self, node: NodeId) -> Option<String> {
        Component::describe(self, node)
    }
    fn roles(&self) -> &[&'static str] {
        Component::roles(self)
    }
    fn node_in_role(&self, role: &str) -> Option<NodeId> {
        Component::node_in_role(self, role)
    }
    fn records(&self, end: SimTime, out: &mut ComponentRecords) {
        Component::records(self, end, out)
    }
}
