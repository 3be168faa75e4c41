//! What the members of a Raft group say to each other, and their timers.
//! Clients speak the replicated store's protocol (`replication::RepMsg`):
//! a Raft group is a store its sessions can use unchanged.

use super::Entry;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum RaftMsg {
    /// A candidate asks for a vote in `term`; its log ends at
    /// (`last_index`, `last_term`).
    Vote {
        term: u64,
        last_index: u64,
        last_term: u64,
    },
    /// The answer to a vote request.
    Voted { term: u64, granted: bool },
    /// The leader's entries after `prev_index` (whose term was
    /// `prev_term`), its commit index, and the number of the heartbeat
    /// round this belongs to (acknowledged rounds prove it still leads).
    Append {
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
        round: u64,
    },
    /// The answer to an append: on success the follower's log matches the
    /// leader's up to `index`; on failure, `index` is where to try next.
    Appended {
        term: u64,
        ok: bool,
        index: u64,
        round: u64,
    },
    /// A member's timer: its election timeout ran out (if `epoch` is
    /// still the current one).
    ElectionTimeout { epoch: u64 },
    /// A leader's timer: time for the next heartbeat round.
    HeartbeatDue,
    /// Before standing (with `pre_vote`): would the member vote for this
    /// one in `term` (one past the asker's own), whose log ends at
    /// (`last_index`, `last_term`)? Nobody's term changes.
    PreVote {
        term: u64,
        last_index: u64,
        last_term: u64,
    },
    /// The answer to a pre-vote, for `term`.
    PreVoted { term: u64, granted: bool },
}
