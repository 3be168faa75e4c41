//! Checks of the fields several kinds share (`rate`, `keys`, `replicas`,
//! `workers`), so each is written once whichever kind has it.

use super::Check;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::limits::{MAX_REPLICAS, MAX_WORKERS, MAX_ZIPF_KEYS};
use crate::scenario::spec::{KeysName, NodeSpec};

/// The shared fields of `n` hold values that make sense.
pub fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    if let Some(spanned) = &n.keys
        && let Some(problem) = keys_problem(spanned.get_ref())
    {
        return Err(ctx.field(n, "keys", spanned.span(), problem));
    }
    if let Some(r) = &n.replicas
        && !(1..=MAX_REPLICAS).contains(r.get_ref())
    {
        return Err(ctx.field(
            n,
            "replicas",
            r.span(),
            format!(
                "a replica group needs from 1 to {MAX_REPLICAS} replicas, got {}",
                r.get_ref()
            ),
        ));
    }
    if let Some(w) = &n.workers {
        let problem = match *w.get_ref() {
            0 => Some("a service needs at least 1 worker, got 0".to_string()),
            count if count > MAX_WORKERS => Some(format!(
                "at most {MAX_WORKERS} workers per service, got {count}"
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(ctx.field(n, "workers", w.span(), problem));
        }
    }
    if let Some(r) = &n.rate
        && !(r.get_ref().0.is_finite() && r.get_ref().0 > 0.0)
    {
        return Err(ctx.field(n, "rate", r.span(), "a client's rate must be above zero"));
    }
    Ok(())
}

/// What is wrong with a `keys` table, if anything.
fn keys_problem(k: &crate::scenario::spec::KeysSpec) -> Option<String> {
    match k.dist {
        _ if k.n == 0 => Some("`keys` needs n of at least 1".to_string()),
        KeysName::Zipf if !k.s.is_some_and(|s| s.is_finite() && s >= 0.0) => {
            Some("a zipf key distribution needs an exponent `s` of 0 or more".into())
        }
        KeysName::Hot if k.share.is_none() || k.n < 2 => {
            Some("a hot-key distribution needs a `share` and n of at least 2".into())
        }
        KeysName::Zipf if k.n > MAX_ZIPF_KEYS => Some(format!(
            "a zipf key space may have at most {MAX_ZIPF_KEYS} keys (its sampler keeps a table of one number per key), got {}",
            k.n
        )),
        _ => None,
    }
}
