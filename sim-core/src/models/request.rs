//! The request path's messages (client, service, ledger): calls and their
//! replies, and the control messages a scenario injects to change a
//! service's behaviour on schedule.
//!
//! A call carries the *order* it is about (the business entity, such as a
//! payment), an optional idempotency key, and the caller's deadline so that
//! every hop can give up when the caller has. Call ids are unique per
//! caller node and route replies back to the attempt they answer; their low
//! byte names the caller within the node (`caller::caller_of`).

use crate::policy::Outcome;
use crate::time::SimTime;

/// The order of a health probe: a service answers it like any call but
/// calls no dependency for it.
pub const PROBE_ORDER: u64 = u64::MAX;

/// A scheduled change to a service's behaviour: gray failures and flags.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Control {
    /// Work takes `permille` / 1000 times as long.
    Slow { permille: u32 },
    /// This share of calls (parts per million) fails at once, unworked.
    Errors { ppm: u32 },
    /// Calls are accepted and never answered; workers hang on them.
    Hang,
    /// Back to normal: hung calls resume.
    Recover,
    /// Set a feature flag.
    Flag { name: String, on: bool },
}

/// What a caller and its callee say to each other.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Request {
    /// An attempt of a call.
    Call {
        call: u64,
        order: u64,
        key: Option<u64>,
        deadline: Option<SimTime>,
        /// Higher is more important; load shedding drops the lowest first.
        priority: u8,
    },
    /// The outcome of attempt `call`.
    Reply { call: u64, outcome: Outcome },
    /// A scheduled change of behaviour (sent by a node to itself).
    Control(Control),
}
