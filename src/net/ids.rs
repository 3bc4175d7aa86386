//! Typed indices into the network's `Vec` arenas: cheap to copy, impossible to mix up.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);
        impl $name {
            /// The id as an index into its arena `Vec`.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A host, switch or router.
    NodeId
);
id_type!(
    /// A full-duplex link; its two directions are ports `2·id` (a→b) and `2·id + 1` (b→a).
    LinkId
);
id_type!(
    /// One direction of a link: the egress queue and transmitter at its `from` node.
    PortId
);
id_type!(
    /// An application flow (source, destination, traffic pattern).
    FlowId
);
id_type!(
    /// A packet slot in the in-flight arena.
    PacketId
);

impl LinkId {
    /// The link's two directions: `[a→b, b→a]`.
    pub fn ports(self) -> [PortId; 2] {
        [PortId(self.0 * 2), PortId(self.0 * 2 + 1)]
    }
}
impl PortId {
    /// The link this direction belongs to.
    pub fn link(self) -> LinkId {
        LinkId(self.0 / 2)
    }
    /// `"ab"` for the a→b direction, `"ba"` for b→a.
    pub fn direction(self) -> &'static str {
        if self.0.is_multiple_of(2) {
            "ab"
        } else {
            "ba"
        }
    }
}
