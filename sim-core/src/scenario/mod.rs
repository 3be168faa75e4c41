//! Scenario files: the pieces that turn hand-written text into a
//! simulation, with errors a person can act on. This is the door every
//! front end goes through: its modules are private, and what a front end
//! needs is re-exported here.
//!
//! Text becomes a checked `Scenario` (`load`: the format is `spec`, its
//! node kinds are declared in `kinds`, the checks that look at several
//! nodes at once are in `graph` and `checks`, faults in `faults`), then a
//! simulation (`build`, which also reads metrics back and evaluates
//! expectations). `judge` says which expectations apply to a variant and
//! judges a run; `predict` and `challenge` are the learner's questions
//! and goals; `charts` is the chart model both front ends draw;
//! `timeline` the faults as windows of time and the recovery from them;
//! `histories`, `sessions` and `consensus` the checkers fed as a run goes. The
//! format's reference page
//! is `reference`, the shipped stories `library` and their order in
//! chapters `path`. Under those: units
//! (`units`), "did you mean" (`suggest`), located diagnostics
//! (`diagnostic`), the limits on every count a user supplies (`limits`)
//! and errors in the format's own words (`words`).

mod build;
mod challenge;
mod charts;
mod checks;
mod consensus;
mod counters;
mod diagnostic;
mod faults;
mod graph;
mod histories;
mod judge;
pub mod kinds;
mod library;
mod limits;
mod load;
mod messaging;
mod path;
mod predict;
mod reference;
mod search;
mod sessions;
mod share;
mod shrink;
pub mod spec;
mod suggest;
mod timeline;
mod units;
mod watch;
mod words;

pub use crate::models::client::order_number;
pub use crate::models::rpc::Rpc;
pub use crate::models::ties::{Purpose, Tie};
pub use build::{Built, DRAIN_EVERY, Verdict, build, evaluate, metric_value, series_interval};
pub use challenge::{Try, challenges_for, judge_try, solution_sets};
pub use charts::{Charts, Line, Panel, Stat, Window};
pub use diagnostic::Diagnostic;
pub use judge::{
    AS_WRITTEN, Judged, cut_short, expectations_for, judge, judged_variants, measure, number,
    variant_label, verdict,
};
pub use library::STORIES;
pub use limits::{MAX_GRID_POINTS, MAX_SEEDS, MAX_SHARDS, MAX_SWEEP_JOBS, seed_range};
pub use load::{Scenario, load, parse_set_value};
pub use path::{Chapter, LearningPath, Step, learning_path};
pub use predict::{Graded, Moments, grade, grade_one, graded_at, pauses, predictions_for};
pub use reference::{documented_fields, markdown as reference_page, schema_fields};
pub use search::{Bounds, Drawn, FaultKind, MAX_SEARCH_FAULTS, SearchSpec};
pub use share::{
    MAX_LINK, MAX_TEXT as MAX_SCENARIO_BYTES, Shared, decode as read_fragment,
    encode as share_fragment, share_link,
};
pub use shrink::{Case, Outcome, Probe, Progress, shrink};
pub use spec::{NodeKind, ScenarioSpec, instance_name};
pub use suggest::did_you_mean;
pub use timeline::{FaultWindow, Recovery, fault_windows, recovery};
pub use units::{UnitError, parse_probability, parse_rate, parse_size};
pub use watch::{WATCH_POINTS, Watch, When};
pub use words::text as decode_text;
