//! Traces and fingerprints.
//!
//! A trace sink receives one record per thing that happens in a run (a send,
//! a delivery, a drop, a timer, a crash, a partition, a note from a node).
//! Three sinks ship: none, a bounded in-memory ring, and JSON lines to any
//! writer. The engine formats nothing when the sink is disabled, so tracing
//! costs nothing unless asked for.
//!
//! The fingerprint is separate from tracing and always on: a stable 64-bit
//! hash of every processed event (time, target, kind, sender and message).
//! Two runs with the same fingerprint processed the same events in the same
//! order; the hash is the same natively and in WebAssembly because it feeds
//! only fixed-width integers (usize and isize are widened to 64 bits).
//!
//! JSON lines format, one object per line, keys in this order:
//! `{"t_ns":123,"kind":"deliver","node":"server","peer":"client","detail":"Request { id: 1 }"}`
//! where `peer` and `detail` are present only when meaningful.

use crate::time::SimTime;
use core::fmt;
use core::hash::Hasher;
use std::collections::VecDeque;
use std::io::Write;

/// What a trace record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TraceKind {
    /// A node handed a message to the network.
    Send,
    /// A message arrived and its handler ran.
    Deliver,
    /// The network dropped a message (loss), a partition blocked it, or its
    /// destination was down when it arrived. `detail` says which.
    Drop,
    /// A timer fired and its handler ran.
    Timer,
    Crash,
    Restart,
    /// A node stopped for a while (`detail`: how long).
    Pause,
    /// A node's clock began to run at another rate (`detail`: which).
    Clock,
    Partition,
    Heal,
    /// A link's behaviour changed (a scheduled latency spike or loss).
    Link,
    /// A free-form note from a node (`Context::note`).
    Note,
}

impl TraceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceKind::Send => "send",
            TraceKind::Deliver => "deliver",
            TraceKind::Drop => "drop",
            TraceKind::Timer => "timer",
            TraceKind::Crash => "crash",
            TraceKind::Restart => "restart",
            TraceKind::Pause => "pause",
            TraceKind::Clock => "clock",
            TraceKind::Partition => "partition",
            TraceKind::Heal => "heal",
            TraceKind::Link => "link",
            TraceKind::Note => "note",
        }
    }
}

/// One thing that happened, borrowed from the engine for the duration of
/// the sink call.
#[derive(Clone, Copy)]
pub struct TraceRecord<'a> {
    pub time: SimTime,
    pub kind: TraceKind,
    /// The node it happened at: the receiver for deliveries, the sender
    /// for sends and drops (wherever the message was lost).
    pub node: &'a str,
    /// The other end of a message, if any.
    pub peer: Option<&'a str>,
    /// `node` and `peer` as ids, for sinks that index by node.
    pub node_id: crate::ids::NodeId,
    pub peer_id: Option<crate::ids::NodeId>,
    /// The message, the drop reason or the note.
    pub detail: Option<&'a dyn fmt::Debug>,
    /// The message itself for sends, deliveries, drops and timers, so a
    /// sink that knows the message type can downcast it and read its
    /// fields (the CLI's Chrome and Mermaid traces do).
    pub message: Option<&'a dyn std::any::Any>,
}

impl fmt::Debug for TraceRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceRecord")
            .field("time", &self.time)
            .field("kind", &self.kind)
            .field("node", &self.node)
            .field("peer", &self.peer)
            .field("detail", &self.detail.map(|d| format!("{d:?}")))
            .field("message", &self.message.is_some())
            .finish()
    }
}

/// An owned copy of a record, as the memory sink keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedTraceRecord {
    pub time: SimTime,
    pub kind: TraceKind,
    pub node: String,
    pub peer: Option<String>,
    pub detail: Option<String>,
}

impl fmt::Display for OwnedTraceRecord {
    /// `at 2ms deliver server <-> client: Request { id: 1 }`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {} {} {}", self.time, self.kind.as_str(), self.node)?;
        if let Some(p) = &self.peer {
            write!(f, " <-> {p}")?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl From<&TraceRecord<'_>> for OwnedTraceRecord {
    fn from(r: &TraceRecord<'_>) -> Self {
        OwnedTraceRecord {
            time: r.time,
            kind: r.kind,
            node: r.node.to_string(),
            peer: r.peer.map(str::to_string),
            detail: r.detail.map(|d| format!("{d:?}")),
        }
    }
}

/// Where two recorded event streams first differ: the index, and the
/// record each stream has there (None where a stream has already ended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    pub index: usize,
    pub left: Option<OwnedTraceRecord>,
    pub right: Option<OwnedTraceRecord>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |r: &Option<OwnedTraceRecord>| match r {
            None => "(the run had ended)".to_string(),
            Some(r) => r.to_string(),
        };
        write!(
            f,
            "the runs diverge at event {}: first run {}; second run {}",
            self.index,
            show(&self.left),
            show(&self.right)
        )
    }
}

/// The first place where two recorded streams differ, if any.
pub fn first_divergence<'a>(
    left: impl IntoIterator<Item = &'a OwnedTraceRecord>,
    right: impl IntoIterator<Item = &'a OwnedTraceRecord>,
) -> Option<Divergence> {
    let (mut l, mut r) = (left.into_iter(), right.into_iter());
    let mut index = 0;
    loop {
        match (l.next(), r.next()) {
            (None, None) => return None,
            (a, b) if a == b => index += 1,
            (a, b) => {
                return Some(Divergence {
                    index,
                    left: a.cloned(),
                    right: b.cloned(),
                });
            }
        }
    }
}

/// Where trace records go.
pub trait TraceSink {
    /// False if records would be thrown away: the engine then skips building
    /// them altogether.
    fn enabled(&self) -> bool {
        true
    }
    fn record(&mut self, record: &TraceRecord<'_>);
    /// Called once when a run stops, so buffered writers can flush. Errors
    /// are reported here rather than at every record.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// Lets callers read back a concrete sink (the memory sink's records).
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Discards everything; tracing costs nothing.
#[derive(Debug, Default)]
pub struct NoTrace;

impl TraceSink for NoTrace {
    fn enabled(&self) -> bool {
        false
    }
    fn record(&mut self, _: &TraceRecord<'_>) {}
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Keeps the most recent `capacity` records in memory.
#[derive(Debug)]
pub struct MemoryTrace {
    capacity: usize,
    records: VecDeque<OwnedTraceRecord>,
    /// Records pushed out of the ring because it was full.
    pub dropped: u64,
}

impl MemoryTrace {
    pub fn new(capacity: usize) -> Self {
        MemoryTrace {
            capacity,
            records: VecDeque::new(),
            dropped: 0,
        }
    }
    pub fn records(&self) -> impl Iterator<Item = &OwnedTraceRecord> {
        self.records.iter()
    }
    pub fn len(&self) -> usize {
        self.records.len()
    }
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl TraceSink for MemoryTrace {
    fn enabled(&self) -> bool {
        self.capacity > 0
    }
    fn record(&mut self, record: &TraceRecord<'_>) {
        if self.records.len() == self.capacity {
            self.records.pop_front();
            self.dropped += 1;
        }
        self.records.push_back(record.into());
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Writes one JSON object per line to `W` (a file, stdout, a buffer).
pub struct JsonLinesTrace<W: Write> {
    out: W,
    line: String,
    error: Option<std::io::Error>,
}

impl<W: Write> JsonLinesTrace<W> {
    pub fn new(out: W) -> Self {
        JsonLinesTrace {
            out,
            line: String::new(),
            error: None,
        }
    }
    pub fn into_inner(self) -> W {
        self.out
    }
    /// What has been written so far (for an in-memory writer, read back
    /// after the run through `Simulation::trace_sink`).
    pub fn get_ref(&self) -> &W {
        &self.out
    }
}

impl<W: Write + 'static> TraceSink for JsonLinesTrace<W> {
    fn record(&mut self, r: &TraceRecord<'_>) {
        if self.error.is_some() {
            return;
        }
        use fmt::Write as _;
        self.line.clear();
        let _ = write!(
            self.line,
            "{{\"t_ns\":{},\"kind\":\"{}\",\"node\":",
            r.time.as_nanos(),
            r.kind.as_str()
        );
        json_string(&mut self.line, r.node);
        if let Some(peer) = r.peer {
            self.line.push_str(",\"peer\":");
            json_string(&mut self.line, peer);
        }
        if let Some(detail) = r.detail {
            self.line.push_str(",\"detail\":");
            json_string(&mut self.line, &format!("{detail:?}"));
        }
        self.line.push_str("}\n");
        if let Err(e) = self.out.write_all(self.line.as_bytes()) {
            self.error = Some(e);
        }
    }
    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Appends `s` as a JSON string literal.
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use fmt::Write as _;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The stable hasher behind fingerprints.
///
/// Each 64-bit word is folded in as `h = (rotl(h, 5) ^ w) * K` with K odd:
/// a bijection in both `h` and `w`, so two streams that differ in a single
/// word always end with different hashes. The result passes through a
/// SplitMix64 finaliser. usize/isize are widened to 64 bits so 32-bit
/// WebAssembly and 64-bit native builds hash identically.
#[derive(Clone, Debug)]
pub struct StableHasher {
    h: u64,
}

const FOLD: u64 = 0x517c_c1b7_2722_0a95;

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher {
            h: 0x6a09_e667_f3bc_c908,
        }
    }
}

impl StableHasher {
    #[inline]
    fn fold(&mut self, w: u64) {
        self.h = (self.h.rotate_left(5) ^ w).wrapping_mul(FOLD);
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        crate::rng::splitmix64_mix(self.h)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.fold(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            // Mark the length so "a" and "a\0" differ.
            self.fold(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.fold(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.fold(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.fold(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.fold(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.fold(i as u64);
        self.fold((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.fold(i as u64);
    }
    #[inline]
    fn write_i8(&mut self, i: i8) {
        self.fold(i as i64 as u64);
    }
    #[inline]
    fn write_i16(&mut self, i: i16) {
        self.fold(i as i64 as u64);
    }
    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.fold(i as i64 as u64);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.fold(i as u64);
    }
    #[inline]
    fn write_isize(&mut self, i: isize) {
        self.fold(i as i64 as u64);
    }
}

/// A run's fingerprint: the stable hash of its event stream, printed as 16
/// hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl core::str::FromStr for Fingerprint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() != 16 {
            return Err(format!("a fingerprint is 16 hex digits, got `{s}`"));
        }
        u64::from_str_radix(s, 16)
            .map(Fingerprint)
            .map_err(|_| format!("a fingerprint is 16 hex digits, got `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::Hash;

    fn hash_of<T: Hash>(v: &T) -> u64 {
        let mut h = StableHasher::default();
        v.hash(&mut h);
        h.finish()
    }

    #[derive(Hash)]
    enum Sample {
        A { id: u64, name: String },
        B(u32),
    }

    /// Pinned values: if these change, every recorded fingerprint changes,
    /// which must be a deliberate, versioned decision.
    #[test]
    fn hashes_are_pinned() {
        let a = hash_of(&Sample::A {
            id: 7,
            name: "x".into(),
        });
        let b = hash_of(&Sample::B(7));
        assert_ne!(a, b);
        assert_eq!(hash_of(&Sample::B(7)), b);
        assert_eq!(
            format!("{}", Fingerprint(hash_of(&(1u64, "client")))),
            PINNED
        );
    }
    const PINNED: &str = "71c715dbcae17ddc";

    #[test]
    fn a_single_differing_word_always_shows() {
        let base: Vec<u64> = (0..100).collect();
        for i in 0..100 {
            let mut other = base.clone();
            other[i] ^= 1 << (i % 64);
            assert_ne!(hash_of(&base), hash_of(&other));
        }
        assert_ne!(hash_of(&"a"), hash_of(&"a\0"));
    }

    #[test]
    fn json_lines_are_valid_and_escaped() {
        let mut sink = JsonLinesTrace::new(Vec::new());
        let detail = "say \"hi\"\n";
        sink.record(&TraceRecord {
            time: SimTime::from_nanos(5),
            kind: TraceKind::Note,
            node: "a\\b",
            peer: None,
            node_id: crate::ids::NodeId::from_index(0),
            peer_id: None,
            detail: Some(&detail),
            message: None,
        });
        let text = String::from_utf8(sink.into_inner()).unwrap();
        assert_eq!(
            text,
            "{\"t_ns\":5,\"kind\":\"note\",\"node\":\"a\\\\b\",\"detail\":\"\\\"say \\\\\\\"hi\\\\\\\"\\\\n\\\"\"}\n"
        );
    }

    #[test]
    fn memory_trace_is_bounded() {
        let mut sink = MemoryTrace::new(3);
        for t in 0..10 {
            sink.record(&TraceRecord {
                time: SimTime::from_nanos(t),
                kind: TraceKind::Note,
                node: "n",
                peer: None,
                node_id: crate::ids::NodeId::from_index(0),
                peer_id: None,
                detail: None,
                message: None,
            });
        }
        assert_eq!(sink.len(), 3);
        assert_eq!(sink.dropped, 7);
        assert_eq!(sink.records().next().unwrap().time, SimTime::from_nanos(7));
    }

    #[test]
    fn first_divergence_names_the_event() {
        let rec = |t: u64, detail: &str| OwnedTraceRecord {
            time: SimTime::from_nanos(t),
            kind: TraceKind::Deliver,
            node: "server".into(),
            peer: Some("client".into()),
            detail: Some(detail.into()),
        };
        let a = vec![rec(1, "x"), rec(2, "y"), rec(3, "z")];
        let mut b = a.clone();
        assert_eq!(first_divergence(&a, &b), None);
        b[1] = rec(2, "w");
        let d = first_divergence(&a, &b).unwrap();
        assert_eq!(d.index, 1);
        assert_eq!(
            d.to_string(),
            "the runs diverge at event 1: first run at 2ns deliver server <-> client: y; \
             second run at 2ns deliver server <-> client: w"
        );
        let d = first_divergence(&a, &a[..2]).unwrap();
        assert_eq!((d.index, d.right), (2, None));
    }

    #[test]
    fn fingerprint_round_trips_as_hex() {
        let f = Fingerprint(0x00ab_cdef_0123_4567);
        assert_eq!(f.to_string(), "00abcdef01234567");
        assert_eq!(f.to_string().parse::<Fingerprint>(), Ok(f));
        assert!("xyz".parse::<Fingerprint>().is_err());
    }
}
