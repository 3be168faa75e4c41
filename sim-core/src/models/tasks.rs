//! What the closed-loop task clients (`counter`, `transfer`) share: the
//! metrics of their tasks, the pause before each task, and the register
//! histories their reads and writes leave for the checkers.
//!
//! Metrics, prefixed with the client's name: `tasks`, `succeeded`,
//! `attempts`, `gave_up`, `users_done`, the histograms `latency_ns` (a
//! task's start to its end) and `finished_ns` (when each task ended: its
//! maximum is when the work was done), and the charts' series
//! `ok_latency_ns` (each success's time).

use super::counter::CounterMsg;
use super::rpc::Rpc;
use crate::checker::linearizability::{Operation, RegisterOp};
use crate::dist::Dist;
use crate::engine::Context;
use crate::metrics::{CounterId, HistogramId, Metrics, SeriesId};
use crate::time::SimTime;

/// The metrics every task client records.
pub struct TaskMetrics {
    pub tasks: CounterId,
    pub succeeded: CounterId,
    pub attempts: CounterId,
    pub gave_up: CounterId,
    users_done: CounterId,
    latency: HistogramId,
    finished: HistogramId,
    ok_series: SeriesId,
}

impl TaskMetrics {
    /// Creates them for the client `name`.
    pub fn new(m: &mut Metrics, name: &str) -> Self {
        let mut c = |what: &str| m.counter(&format!("{name}.{what}"));
        let (tasks, succeeded, attempts, gave_up, users_done) = (
            c("tasks"),
            c("succeeded"),
            c("attempts"),
            c("gave_up"),
            c("users_done"),
        );
        let interval = m.series_interval();
        TaskMetrics {
            tasks,
            succeeded,
            attempts,
            gave_up,
            users_done,
            latency: m.histogram(&format!("{name}.latency_ns")),
            finished: m.histogram(&format!("{name}.finished_ns")),
            ok_series: m.series(&format!("{name}.ok_latency_ns"), interval),
        }
    }

    /// Adds one to `counter`.
    pub fn count(ctx: &mut Context<'_, Rpc>, counter: CounterId) {
        ctx.metrics().add(counter, 1);
    }

    /// A task begun at `started` ended now, a success or not.
    pub fn ended(&self, ctx: &mut Context<'_, Rpc>, started: SimTime, ok: bool) {
        let (now, took) = (ctx.now(), ctx.now().saturating_since(started).as_nanos());
        let m = ctx.metrics();
        if ok {
            m.add(self.succeeded, 1);
            m.record_series(self.ok_series, now, took as f64);
        }
        m.record(self.latency, took);
        m.record(self.finished, now.as_nanos());
    }

    /// A user who has done `done` tasks of at most `limit` thinks for a
    /// time drawn from `think` before the next, or stops.
    pub fn next(
        &self,
        ctx: &mut Context<'_, Rpc>,
        user: u32,
        (done, limit): (u64, Option<u64>),
        think: &Dist,
    ) {
        if limit.is_some_and(|k| done >= k) {
            ctx.metrics().add(self.users_done, 1);
            return;
        }
        let gap = think.sample_duration(ctx.rng());
        ctx.set_timer(gap, CounterMsg::UserReady { user });
    }
}

/// Register histories, one per key, of `counter::state(version, value)`,
/// in the order the operations were invoked.
#[derive(Default)]
pub struct Histories {
    ops: Vec<(u64, Operation)>,
}

impl Histories {
    /// An operation on `key` begins now; its index, for `returned`.
    pub fn begin(&mut self, now: SimTime, key: u64, op: RegisterOp) -> usize {
        let invoke = now.as_nanos();
        self.ops.push((
            key,
            Operation {
                op,
                invoke,
                ret: None,
            },
        ));
        self.ops.len() - 1
    }

    /// The operation at `at` returned now, having done `op`.
    pub fn returned(&mut self, at: usize, now: SimTime, op: RegisterOp) {
        let (_, o) = &mut self.ops[at];
        (o.op, o.ret) = (op, Some(now.as_nanos()));
    }

    pub fn all(&self) -> &[(u64, Operation)] {
        &self.ops
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
