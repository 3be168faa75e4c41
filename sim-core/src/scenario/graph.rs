//! Checks on the system's shape that look at several nodes at once.
//!
//! - Call cycles: a node that calls itself, or a ring of calls that comes
//!   back to where it started (A calls B, B calls A). Every request that
//!   enters such a ring circles until a timeout or the event budget stops
//!   it, so a cycle is refused unless the file opts in with
//!   `[run] allow_call_cycles = true`.
//! - Partitions whose sides overlap: a node on both sides of a cut (named
//!   twice, or named once and again through its zone or its group).

use super::spec::{NodeSpec, ScenarioSpec};
use std::collections::BTreeMap;
use std::ops::Range;

/// A cycle found: the names around it, first name again at the end, and
/// the span of the call that closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub path: Vec<String>,
    pub span: Range<usize>,
}

impl Cycle {
    /// `a -> b -> a`.
    pub fn describe(&self) -> String {
        self.path.join(" -> ")
    }
}

/// Whom a node calls, with the span of each call.
fn calls(n: &NodeSpec) -> Vec<(&str, Range<usize>)> {
    let mut out: Vec<(&str, Range<usize>)> = Vec::new();
    for s in n.target.iter().chain(n.calls.iter()) {
        out.push((s.get_ref().as_str(), s.span()));
    }
    for c in n.call_specs.iter().flatten() {
        out.push((c.to.get_ref().as_str(), c.to.span()));
    }
    out
}

/// The first call cycle, in file order, if any.
pub fn find(spec: &ScenarioSpec) -> Option<Cycle> {
    let graph: BTreeMap<&str, Vec<(&str, Range<usize>)>> = spec
        .nodes
        .iter()
        .map(|n| (n.name.get_ref().as_str(), calls(n)))
        .collect();
    // Depth-first, iteratively: 0 unvisited, 1 on the path, 2 done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    for start in spec.nodes.iter().map(|n| n.name.get_ref().as_str()) {
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let edges = graph.get(node).map_or(&[][..], Vec::as_slice);
            let Some((to, span)) = edges.get(*next) else {
                state.insert(node, 2);
                path.pop();
                continue;
            };
            *next += 1;
            match state.get(to).copied().unwrap_or(0) {
                0 if graph.contains_key(to) => {
                    state.insert(to, 1);
                    path.push((to, 0));
                }
                1 => {
                    let from = path.iter().position(|(n, _)| n == to).expect("on the path");
                    let mut names: Vec<String> =
                        path[from..].iter().map(|(n, _)| n.to_string()).collect();
                    names.push(to.to_string());
                    return Some(Cycle {
                        path: names,
                        span: span.clone(),
                    });
                }
                _ => {}
            }
        }
    }
    None
}

/// The node instances a partition member stands for: a zone's, a
/// replicated group's, or one node's or replica's.
fn members(spec: &ScenarioSpec, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for n in &spec.nodes {
        let group = n.name.get_ref();
        match n.replicas.as_ref().map(|r| *r.get_ref()) {
            None => {
                let zone = n.zone.as_deref().unwrap_or(super::load::DEFAULT_ZONE);
                if group == name || zone == name {
                    out.push(group.clone());
                }
            }
            Some(count) => {
                for i in 0..count {
                    let instance = super::spec::instance_name(group, i);
                    let zone = match &n.zones {
                        Some(z) => z.get_ref().get(i as usize).map(String::as_str),
                        None => n.zone.as_deref(),
                    }
                    .unwrap_or(super::load::DEFAULT_ZONE);
                    if group == name || zone == name || instance == name {
                        out.push(instance);
                    }
                }
            }
        }
    }
    out
}

/// A node on two sides of a partition: its instance name and the two
/// members (as written) that put it there.
pub fn partition_overlap(
    spec: &ScenarioSpec,
    sides: &[Vec<toml::Spanned<String>>],
) -> Option<(String, String, String)> {
    let mut seen: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (i, side) in sides.iter().enumerate() {
        for member in side {
            for instance in members(spec, member.get_ref()) {
                match seen.get(&instance) {
                    Some((j, first)) if *j != i => {
                        return Some((instance, first.clone(), member.get_ref().clone()));
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(instance, (i, member.get_ref().clone()));
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(nodes: &str) -> ScenarioSpec {
        let text = format!("title = \"t\"\nsummary = \"s\"\n[run]\nduration = \"1s\"\n{nodes}");
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn a_self_call_and_a_ring_are_found() {
        let s = spec("[[node]]\nname = \"a\"\nkind = \"service\"\ncalls = \"a\"\n");
        assert_eq!(find(&s).unwrap().describe(), "a -> a");
        let s = spec(
            "[[node]]\nname = \"u\"\nkind = \"client\"\ntarget = \"a\"\n\
             [[node]]\nname = \"a\"\nkind = \"service\"\ncalls = \"b\"\n\
             [[node]]\nname = \"b\"\nkind = \"service\"\n[[node.call]]\nto = \"a\"\n",
        );
        assert_eq!(find(&s).unwrap().describe(), "a -> b -> a");
    }

    #[test]
    fn sides_that_share_a_node_overlap() {
        let s = spec(
            "[[node]]\nname = \"a\"\nkind = \"service\"\nzone = \"east\"\n\
             [[node]]\nname = \"b\"\nkind = \"service\"\nzone = \"west\"\n\
             [[node]]\nname = \"db\"\nkind = \"kv\"\nreplicas = 2\nzones = [\"east\", \"west\"]\n",
        );
        let side = |names: &[&str]| -> Vec<toml::Spanned<String>> {
            names
                .iter()
                .map(|n| toml::Spanned::new(0..0, n.to_string()))
                .collect()
        };
        let overlap = |a: &[&str], b: &[&str]| partition_overlap(&s, &[side(a), side(b)]);
        assert_eq!(overlap(&["east"], &["west"]), None);
        assert_eq!(overlap(&["a"], &["b", "db-1"]), None);
        assert_eq!(
            overlap(&["east"], &["a"]),
            Some(("a".into(), "east".into(), "a".into()))
        );
        assert_eq!(
            overlap(&["db"], &["west"]),
            Some(("db-1".into(), "db".into(), "west".into()))
        );
        assert_eq!(
            overlap(&["b"], &["b"]),
            Some(("b".into(), "b".into(), "b".into()))
        );
    }

    #[test]
    fn a_chain_or_a_diamond_is_no_cycle() {
        let s = spec(
            "[[node]]\nname = \"u\"\nkind = \"client\"\ntarget = \"a\"\n\
             [[node]]\nname = \"a\"\nkind = \"service\"\n[[node.call]]\nto = \"b\"\n[[node.call]]\nto = \"c\"\n\
             [[node]]\nname = \"b\"\nkind = \"service\"\ncalls = \"d\"\n\
             [[node]]\nname = \"c\"\nkind = \"service\"\ncalls = \"d\"\n\
             [[node]]\nname = \"d\"\nkind = \"ledger\"\n",
        );
        assert_eq!(find(&s), None);
    }
}
