//! The messages of the request-path models (client, service, ledger): calls
//! and their replies, and the timers those nodes set.
//!
//! A call carries the *order* it is about (the business entity, such as a
//! payment), an optional idempotency key, and the caller's deadline so that
//! every hop can give up when the caller has. Call ids are unique per
//! caller and route replies back to the attempt they answer.

use crate::engine::NodeId;
use crate::policy::ErrorKind;
use crate::time::SimTime;

/// What an attempt came to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// Success, with a value (the ledger's charge id, say).
    Ok(u64),
    Err(ErrorKind),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Rpc {
    /// An attempt of a call.
    Call {
        call: u64,
        order: u64,
        key: Option<u64>,
        deadline: Option<SimTime>,
    },
    /// The outcome of attempt `call`.
    Reply { call: u64, outcome: Outcome },

    // Timers.
    /// Client: time for the next logical request.
    NextRequest,
    /// Client: the user submits order `order` again (a double click).
    Resubmit { order: u64 },
    /// Client: attempt `call` of request `request` has waited too long.
    AttemptTimeout { request: u64, call: u64 },
    /// Client: the arrival rate changes to `rate_changes[index]`.
    RateChange { index: usize },
    /// Client: time to retry request `request`.
    Retry { request: u64 },
    /// Service: `worker` finished its own work on a job.
    WorkDone { worker: u32 },
    /// Service: the downstream call `call` has waited too long.
    DownstreamTimeout { call: u64 },
    /// Ledger: apply the charge for `order` and answer `caller`'s `call`.
    Charge {
        caller: NodeId,
        call: u64,
        order: u64,
    },
}
