//! A member's clients (the replicated store's sessions), its timers, and
//! what it keeps and loses in a crash.

use super::super::super::ENTRY_BYTES;
use super::super::super::replication::RepMsg;
use super::super::super::rpc::Rpc;
use super::super::{Entry, EntryOp, RaftMsg, ReadMode};
use super::log::Append;
use super::{Leading, PendingRead, RaftMetrics, RaftNode, Role};
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::time::SimTime;

impl RaftNode {
    /// Refuses a client if it does not lead: it names the leader it knows.
    fn redirect(&self, ctx: &mut Context<'_, Rpc>, to: NodeId, call: u64) -> bool {
        if self.role == Role::Leader {
            return false;
        }
        let redirects = self.metrics().redirects;
        ctx.metrics().add(redirects, 1);
        let leader = self.leader;
        ctx.send(
            to,
            RepMsg::Refused {
                call,
                leader,
                maybe_applied: false,
            },
        );
        true
    }

    fn append_own(&mut self, ctx: &mut Context<'_, Rpc>, op: EntryOp, key: u64, id: u64) -> u64 {
        let term = self.term;
        let at = ctx.now();
        self.log.push(Entry {
            term,
            op,
            key,
            id,
            at,
        });
        let index = self.last_index();
        self.send_all(ctx);
        index
    }

    fn on_put(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, call: u64, key: u64, id: u64) {
        if self.redirect(ctx, from, call) {
            return;
        }
        let index = self.append_own(ctx, EntryOp::Write, key, id);
        let at = ctx.now();
        self.leading.writes.insert(index, (from, call, id, at));
        self.advance_commit(ctx);
    }

    fn on_get(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, call: u64, key: u64) {
        if self.redirect(ctx, from, call) {
            return;
        }
        let committed_own = self.applied >= self.leading.first;
        match self.cfg.reads {
            ReadMode::Local => self.answer_read(ctx, from, call, key),
            ReadMode::Log => {
                let index = self.append_own(ctx, EntryOp::Read, key, 0);
                self.leading.log_reads.insert(index, (from, call));
                self.advance_commit(ctx);
            }
            ReadMode::Lease
                if committed_own
                    && self
                        .leading
                        .lease_until
                        .is_some_and(|until| ctx.local_now() < until) =>
            {
                let lease_reads = self.metrics().lease_reads;
                ctx.metrics().add(lease_reads, 1);
                self.answer_read(ctx, from, call, key);
            }
            ReadMode::Lease | ReadMode::ReadIndex => {
                let index = self.commit.max(self.leading.first);
                let round = self.leading.round + 1;
                self.leading.reads.push(PendingRead {
                    from,
                    call,
                    key,
                    round,
                    index,
                });
                self.round(ctx);
            }
        }
    }

    /// A leader's heartbeat: it steps down if a majority has not answered
    /// for an election timeout (by its clock), else sends a round.
    fn heartbeat_due(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.heartbeat = None;
        if self.role != Role::Leader {
            return;
        }
        let now = ctx.local_now();
        let t = self.cfg.election_timeout;
        let l = &self.leading;
        let alive = (0..self.cfg.peers.len())
            .filter(|&i| {
                i == self.cfg.index || l.heard[i].is_some_and(|at| now.saturating_since(at) < t)
            })
            .count();
        if alive < self.majority() && now.saturating_since(l.since) >= t {
            return self.step_down(ctx);
        }
        self.round(ctx);
        self.heartbeat = Some(ctx.set_timer(self.cfg.heartbeat, RaftMsg::HeartbeatDue));
    }

    fn on_raft(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: RaftMsg) {
        match msg {
            RaftMsg::Vote {
                term,
                last_index,
                last_term,
            } => self.on_vote(ctx, from, term, (last_index, last_term)),
            RaftMsg::Voted { term, granted } => self.on_voted(ctx, from, term, granted),
            RaftMsg::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
                round,
            } => {
                let a = Append {
                    term,
                    prev_index,
                    prev_term,
                    entries,
                    commit,
                    round,
                };
                self.on_append(ctx, from, a)
            }
            RaftMsg::Appended {
                term,
                ok,
                index,
                round,
            } => self.on_appended(ctx, from, (term, ok, index, round)),
            RaftMsg::PreVote {
                term,
                last_index,
                last_term,
            } => self.on_pre_vote(ctx, from, term, (last_index, last_term)),
            RaftMsg::PreVoted { term, granted } => self.on_pre_voted(ctx, from, term, granted),
            RaftMsg::ElectionTimeout { .. } | RaftMsg::HeartbeatDue => {}
        }
    }
}

impl Node<Rpc> for RaftNode {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let g = self.cfg.group.clone();
        let m = ctx.metrics();
        self.m = Some(RaftMetrics {
            elections: m.counter(&format!("{g}.elections")),
            redirects: m.counter(&format!("{g}.redirects")),
            lease_reads: m.counter(&format!("{g}.lease_reads")),
            commit_latency: m.histogram(&format!("{g}.commit_latency_ns")),
        });
        if self.cfg.bootstrap {
            self.start_election(ctx);
        } else {
            self.reset_election(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        match msg {
            Rpc::Raft(m) => self.on_raft(ctx, from, m),
            Rpc::Replication(RepMsg::Put { call, key, id }) => {
                self.on_put(ctx, from, call, key, id)
            }
            Rpc::Replication(RepMsg::Get { call, key, .. }) => self.on_get(ctx, from, call, key),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::Raft(RaftMsg::ElectionTimeout { epoch }) if epoch == self.epoch => {
                self.on_election_timeout(ctx)
            }
            Rpc::Raft(RaftMsg::HeartbeatDue) => self.heartbeat_due(ctx),
            _ => {}
        }
    }

    /// What is in memory is lost; term, vote and log stay on disk unless
    /// `fsync` is off.
    fn on_crash(&mut self, now: SimTime) {
        if self.role == Role::Leader {
            self.events.push(super::RaftEvent::Follows { at: now });
        }
        if !self.cfg.fsync {
            self.term = 0;
            self.voted_for = None;
            self.log.clear();
        }
        self.role = Role::Follower;
        self.leader = None;
        self.commit = 0;
        self.applied = 0;
        self.state.clear();
        self.votes.clear();
        self.pre_votes = None;
        self.heard_leader = None;
        self.election = None;
        self.heartbeat = None;
        self.leading = Leading::default();
    }

    fn on_restart(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.reset_election(ctx);
    }

    fn footprint(&self) -> u64 {
        let l = &self.leading;
        let held = self.log.len()
            + self.state.len()
            + self.events.len()
            + l.writes.len()
            + l.log_reads.len()
            + l.reads.len()
            + l.sent.len();
        held as u64 * ENTRY_BYTES
    }
}
