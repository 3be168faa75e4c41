//! Resilience policies on the request path. Each lives in its own file with
//! the same shape: its configuration, its state, the decision it makes, the
//! metrics it keeps, its tests, and the classic reference it follows.
//!
//! Policies are pure decision logic: they take the current time and a
//! random stream as arguments and never touch the engine, so models (the
//! client, the service) call them and tests can check them exactly.

pub mod bulkhead;
pub mod circuit_breaker;
pub mod codel;
pub mod detector;
pub mod fallback;
pub mod flags;
pub mod hedge;
pub mod idempotency;
pub mod load_balance;
pub mod rate_limit;
pub mod retry;
pub mod shedding;
pub mod throttle;
pub mod timeout;

/// Why a call failed, as a caller sees it. Retry policies decide by kind.
/// Scenario files name them in snake case (`circuit_open`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No reply before the caller's timeout.
    Timeout,
    /// The callee could not be reached or was down.
    Unavailable,
    /// The callee refused the work: a full queue, load shedding, a rate limit.
    Overloaded,
    /// A circuit breaker refused the call without trying.
    CircuitOpen,
    /// The callee tried and failed (a 5xx).
    Internal,
    /// The request itself was wrong (a 4xx); retrying cannot help.
    Invalid,
    /// A request with the same idempotency key is still being processed
    /// (Stripe's 409); trying again later gets the stored result.
    Conflict,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Timeout,
        ErrorKind::Unavailable,
        ErrorKind::Overloaded,
        ErrorKind::CircuitOpen,
        ErrorKind::Internal,
        ErrorKind::Invalid,
        ErrorKind::Conflict,
    ];

    /// The name used in metrics and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::Internal => "internal",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Conflict => "conflict",
        }
    }
}

/// What an attempt came to. It sits with the error kinds, below the
/// policies, because they judge outcomes (a fallback turns a failure into
/// a degraded success); the request-path messages carry it.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// Success, with a value (the ledger's charge id, say).
    Ok(u64),
    Err(ErrorKind),
}
