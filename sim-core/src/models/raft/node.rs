//! One member of a Raft group: elections, the log and its replication,
//! commits, the key-value state, and the clients' reads and writes.

mod clients;
mod log;

use super::super::replication::{Item, RepMsg};
use super::super::rpc::Rpc;
use super::{Entry, EntryOp, RaftConfig, RaftEvent, RaftMsg};
use crate::engine::{Context, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// A member's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// A client's read waiting for the leader to confirm it still leads.
#[derive(Clone, Copy, Debug)]
struct PendingRead {
    from: NodeId,
    call: u64,
    key: u64,
    /// A majority must acknowledge this heartbeat round...
    round: u64,
    /// ...and the leader must have applied this far.
    index: u64,
}

/// What only a leader keeps.
#[derive(Clone, Debug, Default)]
struct Leading {
    /// Per member: the next index to send, and how far its log is known
    /// to match.
    next: Vec<u64>,
    matched: Vec<u64>,
    /// Per member: the newest heartbeat round it acknowledged, and when
    /// (by this member's clock) it last answered.
    acked: Vec<u64>,
    heard: Vec<Option<SimTime>>,
    /// The current heartbeat round, and when each unconfirmed round was
    /// sent (by this member's clock).
    round: u64,
    sent: BTreeMap<u64, SimTime>,
    /// Reads may be answered at once until then (by this member's clock).
    lease_until: Option<SimTime>,
    /// The index of its own no-op: nothing of its term commits before.
    first: u64,
    /// When it began to lead (by its clock).
    since: SimTime,
    /// Writes waiting to commit: index → (client, call, id, appended at).
    writes: BTreeMap<u64, (NodeId, u64, u64, SimTime)>,
    /// Reads through the log waiting to be applied: index → (client, call).
    log_reads: BTreeMap<u64, (NodeId, u64)>,
    reads: Vec<PendingRead>,
}

struct RaftMetrics {
    elections: CounterId,
    redirects: CounterId,
    lease_reads: CounterId,
    commit_latency: HistogramId,
}

/// One member of a Raft group.
pub struct RaftNode {
    cfg: RaftConfig,
    // On disk (unless `fsync` is off).
    term: u64,
    voted_for: Option<NodeId>,
    log: Vec<Entry>,
    // In memory.
    role: Role,
    leader: Option<NodeId>,
    commit: u64,
    applied: u64,
    state: BTreeMap<u64, Item>,
    votes: BTreeSet<NodeId>,
    /// While it asks for pre-votes (`pre_vote`): who said they would.
    pre_votes: Option<BTreeSet<NodeId>>,
    /// When it last heard a leader of its term (by its clock).
    heard_leader: Option<SimTime>,
    election: Option<TimerId>,
    heartbeat: Option<TimerId>,
    epoch: u64,
    leading: Leading,
    events: Vec<RaftEvent>,
    m: Option<RaftMetrics>,
}

impl RaftNode {
    pub fn new(cfg: RaftConfig) -> Self {
        RaftNode {
            cfg,
            term: 0,
            voted_for: None,
            log: Vec::new(),
            role: Role::Follower,
            leader: None,
            commit: 0,
            applied: 0,
            state: BTreeMap::new(),
            votes: BTreeSet::new(),
            pre_votes: None,
            heard_leader: None,
            election: None,
            heartbeat: None,
            epoch: 0,
            leading: Leading::default(),
            events: Vec::new(),
            m: None,
        }
    }

    pub fn group(&self) -> &str {
        &self.cfg.group
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn term(&self) -> u64 {
        self.term
    }
    /// The newest index it knows to be committed.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }
    /// Its log, from index 1.
    pub fn log(&self) -> &[Entry] {
        &self.log
    }
    /// Takes what it did since the last call, for the checkers.
    pub fn take_events(&mut self) -> Vec<RaftEvent> {
        std::mem::take(&mut self.events)
    }

    fn me(&self) -> NodeId {
        self.cfg.peers[self.cfg.index]
    }
    fn majority(&self) -> usize {
        self.cfg.peers.len() / 2 + 1
    }
    fn last_index(&self) -> u64 {
        self.log.len() as u64
    }
    fn term_at(&self, index: u64) -> u64 {
        match index {
            0 => 0,
            i => self.log.get(i as usize - 1).map_or(0, |e| e.term),
        }
    }
    fn metrics(&self) -> &RaftMetrics {
        self.m.as_ref().expect("started")
    }

    /// Its election timeout, drawn anew: T plus up to `jitter`·T.
    fn reset_election(&mut self, ctx: &mut Context<'_, Rpc>) {
        if let Some(t) = self.election.take() {
            ctx.cancel_timer(t);
        }
        self.epoch += 1;
        let t = self.cfg.election_timeout.as_nanos() as f64;
        let extra = if self.cfg.jitter > 0.0 {
            ctx.rng().uniform() * self.cfg.jitter * t
        } else {
            0.0
        };
        let wait = SimDuration::from_nanos((t + extra) as u64);
        let epoch = self.epoch;
        self.election = Some(ctx.set_timer(wait, RaftMsg::ElectionTimeout { epoch }));
    }

    /// Whether it heard a leader less than an election timeout ago.
    fn leader_is_alive(&self, ctx: &Context<'_, Rpc>) -> bool {
        self.heard_leader
            .is_some_and(|at| ctx.local_now().saturating_since(at) < self.cfg.election_timeout)
    }

    /// Follows in `term` (a newer term forgets the vote).
    fn follow(&mut self, ctx: &mut Context<'_, Rpc>, term: u64) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.leader = None;
        }
        if self.role == Role::Leader {
            self.step_down(ctx);
        }
        self.role = Role::Follower;
        self.votes.clear();
        self.pre_votes = None;
    }

    /// Stops leading: what clients wait for is refused.
    fn step_down(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.events.push(RaftEvent::Follows { at: ctx.now() });
        ctx.note(&format_args!("stops leading (term {})", self.term));
        if let Some(t) = self.heartbeat.take() {
            ctx.cancel_timer(t);
        }
        let l = std::mem::take(&mut self.leading);
        let refuse = |call, maybe_applied| RepMsg::Refused {
            call,
            leader: None,
            maybe_applied,
        };
        for (from, call, _, _) in l.writes.into_values() {
            ctx.send(from, refuse(call, true));
        }
        let reads = l
            .log_reads
            .into_values()
            .chain(l.reads.iter().map(|r| (r.from, r.call)));
        for (from, call) in reads {
            ctx.send(from, refuse(call, false));
        }
        self.role = Role::Follower;
        self.leader = None;
        self.reset_election(ctx);
    }

    /// Its election timeout ran out: it stands, or with `pre_vote` first
    /// asks whether it could win.
    fn on_election_timeout(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.election = None;
        match self.role {
            Role::Leader => {}
            _ if self.cfg.pre_vote => self.start_pre_vote(ctx),
            _ => self.start_election(ctx),
        }
    }

    /// Asks every member whether it would vote for this one in the next
    /// term, changing nobody's term; stands once a majority would.
    fn start_pre_vote(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.reset_election(ctx);
        self.pre_votes = Some(BTreeSet::from([self.me()]));
        if self.majority() == 1 {
            return self.start_election(ctx);
        }
        let msg = RaftMsg::PreVote {
            term: self.term + 1,
            last_index: self.last_index(),
            last_term: self.term_at(self.last_index()),
        };
        for &p in &self.cfg.peers {
            if p != self.me() {
                ctx.send(p, msg.clone());
            }
        }
    }

    /// It would vote for the asker if it asked: a newer term, a log at
    /// least as new, and no leader heard within an election timeout.
    fn on_pre_vote(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        from: NodeId,
        term: u64,
        last: (u64, u64),
    ) {
        let granted = term > self.term
            && self.role != Role::Leader
            && !self.leader_is_alive(ctx)
            && self.up_to_date(last);
        ctx.send(from, RaftMsg::PreVoted { term, granted });
    }

    fn on_pre_voted(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, term: u64, granted: bool) {
        let majority = self.majority();
        let Some(yes) = self.pre_votes.as_mut() else {
            return;
        };
        if granted && term == self.term + 1 {
            yes.insert(from);
            if yes.len() >= majority {
                self.start_election(ctx);
            }
        }
    }

    /// Is a log ending at `last` (index, term) at least as new as its own?
    fn up_to_date(&self, (last_index, last_term): (u64, u64)) -> bool {
        (last_term, last_index) >= (self.term_at(self.last_index()), self.last_index())
    }

    pub(super) fn start_election(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.pre_votes = None;
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.me());
        self.votes = BTreeSet::from([self.me()]);
        self.leader = None;
        let elections = self.metrics().elections;
        ctx.metrics().add(elections, 1);
        self.reset_election(ctx);
        if self.votes.len() >= self.majority() {
            return self.lead(ctx);
        }
        let msg = RaftMsg::Vote {
            term: self.term,
            last_index: self.last_index(),
            last_term: self.term_at(self.last_index()),
        };
        for &p in &self.cfg.peers {
            if p != self.me() {
                ctx.send(p, msg.clone());
            }
        }
    }

    fn on_vote(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, term: u64, last: (u64, u64)) {
        if term > self.term && self.role != Role::Leader && self.leader_is_alive(ctx) {
            return; // A leader is alive: the candidate was cut off.
        }
        if term > self.term {
            self.follow(ctx, term);
        }
        let up_to_date = self.up_to_date(last);
        let free = self.voted_for.is_none_or(|v| v == from);
        let granted = term == self.term && free && up_to_date;
        if granted {
            self.voted_for = Some(from);
            self.reset_election(ctx);
        }
        let term = self.term;
        ctx.send(from, RaftMsg::Voted { term, granted });
    }

    fn on_voted(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, term: u64, granted: bool) {
        if term > self.term {
            return self.follow(ctx, term);
        }
        if self.role == Role::Candidate && term == self.term && granted {
            self.votes.insert(from);
            if self.votes.len() >= self.majority() {
                self.lead(ctx);
            }
        }
    }

    /// Becomes the leader of its term.
    fn lead(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.role = Role::Leader;
        self.leader = Some(self.me());
        self.votes.clear();
        if let Some(t) = self.election.take() {
            ctx.cancel_timer(t);
        }
        let n = self.cfg.peers.len();
        let now = ctx.now();
        self.events.push(RaftEvent::Leads {
            term: self.term,
            at: now,
        });
        ctx.note(&format_args!("elected leader of term {}", self.term));
        self.log.push(Entry {
            term: self.term,
            op: EntryOp::Noop,
            key: 0,
            id: 0,
            at: now,
        });
        self.leading = Leading {
            next: vec![self.last_index(); n],
            matched: vec![0; n],
            acked: vec![0; n],
            heard: vec![None; n],
            first: self.last_index(),
            since: ctx.local_now(),
            ..Leading::default()
        };
        self.leading.matched[self.cfg.index] = self.last_index();
        self.round(ctx);
        self.advance_commit(ctx);
        self.heartbeat = Some(ctx.set_timer(self.cfg.heartbeat, RaftMsg::HeartbeatDue));
    }

    /// A new heartbeat round: every follower is sent what it lacks.
    fn round(&mut self, ctx: &mut Context<'_, Rpc>) {
        let l = &mut self.leading;
        l.round += 1;
        l.acked[self.cfg.index] = l.round;
        l.sent.insert(l.round, ctx.local_now());
        self.send_all(ctx);
        self.confirm(ctx);
    }

    fn send_all(&mut self, ctx: &mut Context<'_, Rpc>) {
        for i in 0..self.cfg.peers.len() {
            if i != self.cfg.index {
                self.send_append(ctx, i);
            }
        }
    }

    /// Sends member `i` the entries from its next index (at most a
    /// batch), and counts them as sent.
    fn send_append(&mut self, ctx: &mut Context<'_, Rpc>, i: usize) {
        let next = self.leading.next[i].clamp(1, self.last_index() + 1);
        let prev_index = next - 1;
        let end = (prev_index as usize + self.cfg.batch).min(self.log.len());
        let entries = self.log[prev_index as usize..end].to_vec();
        self.leading.next[i] = end as u64 + 1;
        let msg = RaftMsg::Append {
            term: self.term,
            prev_index,
            prev_term: self.term_at(prev_index),
            entries,
            commit: self.commit,
            round: self.leading.round,
        };
        ctx.send(self.cfg.peers[i], msg);
    }
}
