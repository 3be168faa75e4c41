//! A member's log: appends from the leader, acknowledgements, the commit
//! index, the heartbeat rounds that confirm leadership, and applying.

use super::super::super::replication::{Item, RepMsg};
use super::super::super::rpc::Rpc;
use super::super::{Entry, EntryOp, RaftEvent, RaftMsg};
use super::{RaftNode, Role};
use crate::engine::{Context, NodeId};

/// An append, as it arrived.
pub(super) struct Append {
    pub term: u64,
    pub prev_index: u64,
    pub prev_term: u64,
    pub entries: Vec<Entry>,
    pub commit: u64,
    pub round: u64,
}

impl RaftNode {
    pub(super) fn on_append(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, a: Append) {
        let reply = |term, ok, index| RaftMsg::Appended {
            term,
            ok,
            index,
            round: a.round,
        };
        if a.term < self.term {
            return ctx.send(from, reply(self.term, false, 0));
        }
        if a.term > self.term || self.role != Role::Follower {
            self.follow(ctx, a.term);
        }
        self.leader = Some(from);
        self.heard_leader = Some(ctx.local_now());
        self.reset_election(ctx);
        let last = self.last_index();
        if a.prev_index > last {
            return ctx.send(from, reply(self.term, false, last + 1));
        }
        if self.term_at(a.prev_index) != a.prev_term {
            return ctx.send(from, reply(self.term, false, a.prev_index.max(1)));
        }
        let matched = a.prev_index + a.entries.len() as u64;
        for (k, e) in a.entries.into_iter().enumerate() {
            let index = a.prev_index + 1 + k as u64;
            if index <= self.last_index() {
                if self.term_at(index) == e.term {
                    continue;
                }
                self.log.truncate(index as usize - 1);
            }
            self.log.push(e);
        }
        if a.commit > self.commit {
            self.commit = a.commit.min(matched).max(self.commit);
            self.apply(ctx);
        }
        ctx.send(from, reply(self.term, true, matched));
    }

    pub(super) fn on_appended(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        from: NodeId,
        (term, ok, index, round): (u64, bool, u64, u64),
    ) {
        if term > self.term {
            return self.follow(ctx, term);
        }
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let Some(i) = self.cfg.peers.iter().position(|&p| p == from) else {
            return;
        };
        let l = &mut self.leading;
        l.heard[i] = Some(ctx.local_now());
        l.acked[i] = l.acked[i].max(round);
        if ok {
            l.matched[i] = l.matched[i].max(index);
            l.next[i] = l.next[i].max(index + 1);
            self.advance_commit(ctx);
            if self.leading.matched[i] < self.last_index()
                && self.leading.next[i] <= self.leading.matched[i] + 1
            {
                self.send_append(ctx, i);
            }
        } else {
            self.leading.next[i] = index.max(1);
            self.send_append(ctx, i);
        }
        self.confirm(ctx);
    }

    /// The k-th largest of `values`, k a majority.
    fn majority_value(&self, values: &[u64]) -> u64 {
        let mut v = values.to_vec();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v[self.majority() - 1]
    }

    /// Commits what a majority holds, if it is of the leader's term.
    pub(super) fn advance_commit(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.leading.matched[self.cfg.index] = self.last_index();
        let n = self.majority_value(&self.leading.matched);
        if n > self.commit && self.term_at(n) == self.term {
            self.commit = n;
            self.apply(ctx);
        }
    }

    /// The newest heartbeat round a majority acknowledged: it proves the
    /// leader still led when that round was sent, and starts its lease.
    pub(super) fn confirm(&mut self, ctx: &mut Context<'_, Rpc>) {
        if self.role != Role::Leader {
            return;
        }
        let r = self.majority_value(&self.leading.acked);
        let l = &mut self.leading;
        if let Some(&sent) = l.sent.get(&r) {
            l.lease_until = Some(sent + self.cfg.election_timeout);
        }
        l.sent = l.sent.split_off(&r);
        self.serve_reads(ctx, r);
    }

    /// Answers the reads waiting for a confirmed round `r`, once applied
    /// far enough.
    fn serve_reads(&mut self, ctx: &mut Context<'_, Rpc>, r: u64) {
        let applied = self.applied;
        let (ready, waiting) = std::mem::take(&mut self.leading.reads)
            .into_iter()
            .partition(|p| p.round <= r && p.index <= applied);
        self.leading.reads = waiting;
        for p in ready {
            self.answer_read(ctx, p.from, p.call, p.key);
        }
    }

    pub(super) fn answer_read(&self, ctx: &mut Context<'_, Rpc>, to: NodeId, call: u64, key: u64) {
        let items = self.state.get(&key).cloned().into_iter().collect();
        ctx.send(to, RepMsg::GetOk { call, items });
    }

    /// Applies the committed entries not yet applied; the leader answers
    /// the clients whose entries they were.
    pub(super) fn apply(&mut self, ctx: &mut Context<'_, Rpc>) {
        while self.applied < self.commit {
            self.applied += 1;
            let index = self.applied;
            let e = self.log[index as usize - 1].clone();
            self.events.push(RaftEvent::Applied {
                index,
                term: e.term,
                id: e.id,
            });
            if e.op == EntryOp::Write {
                let item = Item {
                    id: e.id,
                    stamp: index,
                    vv: Vec::new(),
                    at: e.at,
                };
                self.state.insert(e.key, item);
            }
            if self.role != Role::Leader {
                continue;
            }
            if let Some((to, call, id, at)) = self.leading.writes.remove(&index) {
                let latency = self.metrics().commit_latency;
                let took = ctx.now().saturating_since(at).as_nanos();
                ctx.metrics().record(latency, took);
                ctx.send(
                    to,
                    RepMsg::PutOk {
                        call,
                        id,
                        stamp: index,
                    },
                );
            }
            if let Some((to, call)) = self.leading.log_reads.remove(&index) {
                self.answer_read(ctx, to, call, e.key);
            }
        }
        if self.role == Role::Leader {
            let r = self.majority_value(&self.leading.acked);
            self.serve_reads(ctx, r);
        }
    }
}
