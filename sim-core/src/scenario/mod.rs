//! Scenario files: the pieces that turn hand-written text into a
//! simulation, with errors a person can act on.
//!
//! The format (`spec`), loading and checking it (`load`), building a
//! simulation from it and reading metrics back (`build`), which
//! checks look at several nodes at once (`graph`: call cycles, partitions
//! whose sides overlap), which
//! expectations apply to a variant and their verdicts on a run (`judge`), its reference
//! page (`reference`), the shipped stories (`library`), the faults as windows of time and recovery from
//! them (`timeline`), stale reads judged as a run goes (`stale`); under those, units (`units`), "did you mean"
//! suggestions (`suggest`), located diagnostics (`diagnostic`) the
//! limits on every count a user supplies (`limits`) and errors in the
//! format's own words (`words`).

pub mod build;
pub mod charts;
mod checks;
pub mod diagnostic;
pub mod faults;
pub mod graph;
pub mod judge;
pub mod kinds;
pub mod library;
pub mod limits;
pub mod load;
pub mod reference;
pub mod spec;
pub mod stale;
pub mod suggest;
pub mod timeline;
pub mod units;
pub mod words;
