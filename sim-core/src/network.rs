//! The simulated network: a topology of zones and nodes (petgraph), the link
//! that carries each message, and partitions.
//!
//! A message from `a` to `b` travels over the most specific link defined:
//! an explicit node-to-node link, else a zone-to-zone link, else the default
//! link for "same zone" or "different zones". A link has a latency
//! distribution and probabilities of loss, duplication and reordering (an
//! extra delay that lets later messages overtake). Partitions block messages
//! between two sets of nodes, both ways or one way, from the moment they
//! start until they are healed; a message already in flight when a partition
//! starts is still delivered, as on a real network where it was already past
//! the failed switch.

use crate::dist::Dist;
use crate::ids::NodeId;
pub use crate::ids::ZoneId;
use petgraph::graph::{DiGraph, NodeIndex};

/// How messages travel over one (directed) link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    /// One-way latency in nanoseconds.
    pub latency: Dist,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice (the copy with its own
    /// latency draw).
    pub duplicate: f64,
    /// Probability that a message is held back by `reorder_delay` on top of
    /// its latency, so that later messages overtake it.
    pub reorder: f64,
    /// Extra delay, in nanoseconds, for a reordered message.
    pub reorder_delay: Dist,
}

impl LinkSpec {
    /// A perfect link with a fixed latency.
    pub fn fixed(latency_ns: f64) -> Self {
        LinkSpec {
            latency: Dist::Constant(latency_ns),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Dist::Constant(0.0),
        }
    }

    pub fn with_latency(mut self, latency: Dist) -> Self {
        self.latency = latency;
        self
    }
    pub fn with_loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }
    pub fn with_duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }
    pub fn with_reorder(mut self, p: f64, extra_delay: Dist) -> Self {
        self.reorder = p;
        self.reorder_delay = extra_delay;
        self
    }

    /// Checks that probabilities are probabilities.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "link {name} must be a probability in [0, 1], got {p}"
                ));
            }
        }
        Ok(())
    }
}

/// A set of nodes as a bitset: membership tests on the send path are one
/// shift and one mask.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSet {
    words: Vec<u64>,
}

impl NodeSet {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn insert(&mut self, n: NodeId) {
        let i = n.index();
        if i / 64 >= self.words.len() {
            self.words.resize(i / 64 + 1, 0);
        }
        self.words[i / 64] |= 1 << (i % 64);
    }
    #[inline]
    pub fn contains(&self, n: NodeId) -> bool {
        let i = n.index();
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            (0..64)
                .filter(move |b| w & (1u64 << b) != 0)
                .map(move |b| NodeId::from_index(wi * 64 + b))
        })
    }
}

impl FromIterator<NodeId> for NodeSet {
    fn from_iter<I: IntoIterator<Item = NodeId>>(iter: I) -> Self {
        let mut s = NodeSet::new();
        for n in iter {
            s.insert(n);
        }
        s
    }
}

/// A network partition: messages from `from` to `to` are dropped, and also
/// from `to` to `from` unless it is one-way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub from: NodeSet,
    pub to: NodeSet,
    pub one_way: bool,
}

impl Partition {
    /// Cuts `a` from `b` in both directions.
    pub fn between(name: &str, a: NodeSet, b: NodeSet) -> Self {
        Partition {
            name: name.to_string(),
            from: a,
            to: b,
            one_way: false,
        }
    }
    /// Drops messages from `from` to `to` only.
    pub fn one_way(name: &str, from: NodeSet, to: NodeSet) -> Self {
        Partition {
            name: name.to_string(),
            from,
            to,
            one_way: true,
        }
    }

    #[inline]
    fn blocks(&self, a: NodeId, b: NodeId) -> bool {
        (self.from.contains(a) && self.to.contains(b))
            || (!self.one_way && self.from.contains(b) && self.to.contains(a))
    }
}

/// The topology and the links and partitions in force.
#[derive(Clone, Debug)]
pub struct Network {
    /// One graph node per simulation node (same index), weighted by its
    /// zone; an edge is an explicit link overriding the zone defaults.
    nodes: DiGraph<ZoneId, LinkSpec>,
    /// One graph node per zone; an edge is a zone-to-zone link.
    zones: DiGraph<String, LinkSpec>,
    /// The link within a zone when nothing more specific is set.
    pub default_local: LinkSpec,
    /// The link between zones when nothing more specific is set.
    pub default_remote: LinkSpec,
    active: Vec<Partition>,
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

impl Network {
    /// No zones yet; links default to 100µs within a zone and 1ms across.
    pub fn new() -> Self {
        Network {
            nodes: DiGraph::new(),
            zones: DiGraph::new(),
            default_local: LinkSpec::fixed(100_000.0),
            default_remote: LinkSpec::fixed(1_000_000.0),
            active: Vec::new(),
        }
    }

    /// The zone called `name`, created if new.
    pub fn zone(&mut self, name: &str) -> ZoneId {
        if let Some(i) = self.zones.node_indices().find(|&i| self.zones[i] == name) {
            return ZoneId(i.index() as u32);
        }
        ZoneId(self.zones.add_node(name.to_string()).index() as u32)
    }

    pub fn zone_name(&self, z: ZoneId) -> &str {
        &self.zones[NodeIndex::new(z.0 as usize)]
    }

    pub fn zone_ids(&self) -> impl Iterator<Item = ZoneId> {
        self.zones.node_indices().map(|i| ZoneId(i.index() as u32))
    }

    pub(crate) fn add_node(&mut self, zone: ZoneId) -> NodeId {
        NodeId::from_index(self.nodes.add_node(zone).index())
    }

    pub fn zone_of(&self, n: NodeId) -> ZoneId {
        self.nodes[NodeIndex::new(n.index())]
    }

    /// Every node in `zone`, in id order.
    pub fn nodes_in_zone(&self, zone: ZoneId) -> NodeSet {
        self.nodes
            .node_indices()
            .filter(|&i| self.nodes[i] == zone)
            .map(|i| NodeId::from_index(i.index()))
            .collect()
    }

    /// Sets the link from node `a` to node `b` (one direction).
    pub fn set_node_link(&mut self, a: NodeId, b: NodeId, link: LinkSpec) {
        let (ia, ib) = (NodeIndex::new(a.index()), NodeIndex::new(b.index()));
        match self.nodes.find_edge(ia, ib) {
            Some(e) => self.nodes[e] = link,
            None => {
                self.nodes.add_edge(ia, ib, link);
            }
        }
    }

    /// Sets the link from zone `a` to zone `b` (one direction; `a == b` sets
    /// the link inside a zone).
    pub fn set_zone_link(&mut self, a: ZoneId, b: ZoneId, link: LinkSpec) {
        let (ia, ib) = (NodeIndex::new(a.0 as usize), NodeIndex::new(b.0 as usize));
        match self.zones.find_edge(ia, ib) {
            Some(e) => self.zones[e] = link,
            None => {
                self.zones.add_edge(ia, ib, link);
            }
        }
    }

    /// The link a message from `a` to `b` travels over.
    #[inline]
    pub fn link(&self, a: NodeId, b: NodeId) -> &LinkSpec {
        let (ia, ib) = (NodeIndex::new(a.index()), NodeIndex::new(b.index()));
        if let Some(e) = self.nodes.find_edge(ia, ib) {
            return &self.nodes[e];
        }
        let (za, zb) = (self.nodes[ia], self.nodes[ib]);
        if self.zones.edge_count() > 0
            && let Some(e) = self
                .zones
                .find_edge(NodeIndex::new(za.0 as usize), NodeIndex::new(zb.0 as usize))
        {
            return &self.zones[e];
        }
        if za == zb {
            &self.default_local
        } else {
            &self.default_remote
        }
    }

    /// True if a partition in force drops messages from `a` to `b`.
    #[inline]
    pub fn is_blocked(&self, a: NodeId, b: NodeId) -> bool {
        !self.active.is_empty() && self.active.iter().any(|p| p.blocks(a, b))
    }

    /// Puts a partition in force. A partition with the name of one already
    /// in force replaces it.
    pub fn partition(&mut self, p: Partition) {
        self.active.retain(|q| q.name != p.name);
        self.active.push(p);
    }

    /// Heals the partition called `name`; false if none was in force.
    pub fn heal(&mut self, name: &str) -> bool {
        let before = self.active.len();
        self.active.retain(|q| q.name != name);
        self.active.len() != before
    }

    pub fn heal_all(&mut self) {
        self.active.clear();
    }

    pub fn partitions(&self) -> &[Partition] {
        &self.active
    }

    /// The node graph, for drawing the topology.
    pub fn node_graph(&self) -> &DiGraph<ZoneId, LinkSpec> {
        &self.nodes
    }
    /// The zone graph, for drawing the topology.
    pub fn zone_graph(&self) -> &DiGraph<String, LinkSpec> {
        &self.zones
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: usize) -> NodeId {
        NodeId::from_index(i)
    }

    #[test]
    fn links_resolve_from_most_to_least_specific() {
        let mut net = Network::new();
        let (east, west) = (net.zone("east"), net.zone("west"));
        let a = net.add_node(east);
        let b = net.add_node(east);
        let c = net.add_node(west);
        assert_eq!(net.link(a, b), &net.default_local);
        assert_eq!(net.link(a, c), &net.default_remote);
        net.set_zone_link(east, west, LinkSpec::fixed(5e6));
        assert_eq!(net.link(a, c).latency, Dist::Constant(5e6));
        assert_eq!(
            net.link(c, a),
            &net.default_remote,
            "zone links are directed"
        );
        net.set_node_link(a, c, LinkSpec::fixed(7e6));
        assert_eq!(net.link(a, c).latency, Dist::Constant(7e6));
        assert_eq!(net.link(b, c).latency, Dist::Constant(5e6));
    }

    #[test]
    fn partitions_block_and_heal() {
        let mut net = Network::new();
        let z = net.zone("z");
        for _ in 0..4 {
            net.add_node(z);
        }
        let left: NodeSet = [n(0), n(1)].into_iter().collect();
        let right: NodeSet = [n(2), n(3)].into_iter().collect();
        net.partition(Partition::between("split", left.clone(), right.clone()));
        assert!(net.is_blocked(n(0), n(2)) && net.is_blocked(n(3), n(1)));
        assert!(!net.is_blocked(n(0), n(1)));
        assert!(net.heal("split"));
        assert!(!net.is_blocked(n(0), n(2)));
        net.partition(Partition::one_way("oneway", left, right));
        assert!(net.is_blocked(n(0), n(2)));
        assert!(!net.is_blocked(n(2), n(0)), "one-way lets replies through");
        assert!(!net.heal("nonexistent"));
    }

    #[test]
    fn node_sets() {
        let s: NodeSet = [n(1), n(64), n(130)].into_iter().collect();
        assert!(s.contains(n(64)) && !s.contains(n(2)) && !s.contains(n(1000)));
        assert_eq!(s.iter().collect::<Vec<_>>(), [n(1), n(64), n(130)]);
    }

    #[test]
    fn validate_rejects_non_probabilities() {
        assert!(LinkSpec::fixed(1.0).with_loss(1.5).validate().is_err());
        assert!(LinkSpec::fixed(1.0).with_loss(0.5).validate().is_ok());
    }
}
