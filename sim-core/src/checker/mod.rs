//! Checkers over recorded histories: properties of what a run did, as
//! opposed to metrics of how fast. So far the linearizability of a
//! single register's history (`linearizability`).

pub mod linearizability;
