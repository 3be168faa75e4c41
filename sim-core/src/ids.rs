//! The ids the engine hands out: nodes, zones and timers. They live
//! apart so that the engine, the network and the trace can all name them
//! without importing one another.

/// A node's index in its simulation; stable for the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    pub fn from_index(i: usize) -> Self {
        NodeId(u32::try_from(i).expect("more than 2^32 nodes"))
    }
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A zone: a data centre, region or rack. Nodes in one zone share defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneId(pub u32);

/// A timer set by a node; cancel it with `Context::cancel_timer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
    /// Carried here rather than in the slab, so the slab stays at 8 bytes
    /// a timer; a node cannot cancel another node's timer.
    pub(crate) owner: NodeId,
}
