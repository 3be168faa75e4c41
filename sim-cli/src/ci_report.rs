//! `faultline check`'s results for CI systems: a JUnit XML file
//! (`--junit FILE`) and GitHub Actions annotations (`--github`).
//!
//! A test case is one check of one variant of one scenario, judged on
//! every seed: an expectation, a prediction's answer key, or a challenge
//! (not won unchanged, won by its solution). It fails when any seed breaks
//! it, and its failure lists each such seed with the command that replays
//! it. Each variant also has the case "every run finishes within its
//! limits", an error when a run was cut short. The file holds no times and
//! no host name, so the same check writes the same bytes.
//!
//! An annotation points at the line of the scenario file where the broken
//! check is written, so GitHub shows it beside that line of the diff.

use super::check::{Entry, RUN_FINISHES};
use sim_core::scenario::variant_label;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// At most this many failing seeds are listed in one failure's text.
const LISTED: usize = 20;

/// One test case: the same check on every seed it was judged on.
pub struct Case<'a> {
    scenario: &'a str,
    file: &'a str,
    variant: Option<&'a str>,
    name: &'a str,
    line: usize,
    column: usize,
    entries: Vec<&'a Entry>,
}

impl Case<'_> {
    /// Seeds on which no verdict could be reached (a run cut short, a
    /// metric that could not be measured).
    fn errors(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .copied()
            .filter(|e| e.verdict == "error" || e.verdict == "cut short")
    }

    fn passed(&self) -> bool {
        self.entries.iter().all(|e| e.held())
    }

    fn title(&self) -> String {
        format!("[{}] {}", variant_label(self.variant), self.name)
    }

    /// The seeds on which it did not hold.
    fn broken(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().copied().filter(|e| !e.held())
    }

    /// One line about what broke: on how many seeds, and the first.
    fn summary(&self) -> String {
        let bad = self.broken().count();
        let first = self.broken().next().map_or(String::new(), |e| {
            e.problem_line()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string()
        });
        let of = if self.name == RUN_FINISHES {
            format!("{bad} run{} cut short", plural(bad))
        } else {
            format!("broken on {bad} of {} seeds", self.entries.len())
        };
        format!("{of}; first: {first}")
    }

    /// Every broken seed with its replay command, at most [`LISTED`].
    fn details(&self) -> String {
        let mut text = format!("{}:{}:{}\n", self.file, self.line, self.column);
        for e in self.broken().take(LISTED) {
            text.push_str(&e.problem_line());
            text.push('\n');
        }
        let bad = self.broken().count();
        if bad > LISTED {
            let _ = writeln!(text, "... and {} more", bad - LISTED);
        }
        text
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The entries as test cases, in the order check judged them; each
/// scenario × variant starts with its "every run finishes" case.
pub fn cases(entries: &[Entry]) -> Vec<Case<'_>> {
    type Key<'a> = (&'a str, Option<&'a str>, &'a str, usize);
    let mut index: BTreeMap<Key<'_>, usize> = BTreeMap::new();
    let mut cases: Vec<Case<'_>> = Vec::new();
    for e in entries {
        let variant = e.variant.as_deref();
        let finishes = (e.scenario.as_str(), variant, RUN_FINISHES, 1);
        let own = (e.scenario.as_str(), variant, e.case.as_str(), e.line);
        for (key, column) in [(finishes, 1), (own, e.column)] {
            index.entry(key).or_insert_with(|| {
                cases.push(Case {
                    scenario: key.0,
                    file: &e.file,
                    variant,
                    name: key.2,
                    line: key.3,
                    column,
                    entries: Vec::new(),
                });
                cases.len() - 1
            });
        }
        cases[index[&own]].entries.push(e);
    }
    cases
}

/// The JUnit XML document: one `testsuite` per scenario.
pub fn junit(cases: &[Case<'_>], seeds: u64) -> String {
    let count = |cs: &[&Case<'_>]| {
        let errors = cs.iter().filter(|c| c.errors().next().is_some()).count();
        let failures = cs.iter().filter(|c| !c.passed()).count() - errors;
        format!(
            "tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\"",
            cs.len()
        )
    };
    let all: Vec<&Case<'_>> = cases.iter().collect();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(xml, "<testsuites name=\"faultline check\" {}>", count(&all));
    let mut scenarios: Vec<&str> = Vec::new();
    for c in cases {
        if !scenarios.contains(&c.scenario) {
            scenarios.push(c.scenario);
        }
    }
    for scenario in scenarios {
        let own: Vec<&Case<'_>> = all
            .iter()
            .copied()
            .filter(|c| c.scenario == scenario)
            .collect();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" {} skipped=\"0\" file=\"{}\">",
            escape(scenario),
            count(&own),
            escape(own[0].file)
        );
        xml.push_str("    <properties>\n");
        let _ = writeln!(
            xml,
            "      <property name=\"seeds\" value=\"{seeds}\"/>\n    </properties>"
        );
        for c in own {
            xml.push_str(&testcase(c));
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn testcase(c: &Case<'_>) -> String {
    let head = format!(
        "    <testcase name=\"{}\" classname=\"{}\"",
        escape(&c.title()),
        escape(c.scenario)
    );
    if c.passed() {
        return format!("{head}/>\n");
    }
    let (tag, kind) = match c.errors().next() {
        Some(e) if e.verdict == "cut short" => ("error", "cut short"),
        Some(_) => ("error", "no verdict"),
        None => ("failure", "expectation"),
    };
    format!(
        "{head}>\n      <{tag} type=\"{kind}\" message=\"{}\">{}</{tag}>\n    </testcase>\n",
        escape(&c.summary()),
        escape(&c.details()).replace("&#10;", "\n")
    )
}

/// Text for an XML attribute value: markup escaped, line ends and tabs
/// as character references (a parser would turn them into spaces), and
/// characters XML 1.0 cannot hold replaced. Element text may turn the
/// `&#10;`s back into line ends.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// One GitHub Actions `::error` line per broken test case, at the line
/// of the scenario file where the check is written.
pub fn annotations(cases: &[Case<'_>]) -> String {
    let mut out = String::new();
    for c in cases.iter().filter(|c| !c.passed()) {
        let replay = c.broken().next().map_or("", |e| e.replay.as_str());
        let _ = writeln!(
            out,
            "::error file={},line={},col={},title={}::{}",
            property(c.file),
            c.line,
            c.column,
            property(&format!("{} {}", c.scenario, c.title())),
            data(&format!("{}\nreplay: {replay}", c.summary()))
        );
    }
    out
}

/// A workflow command's message: `%`, CR and LF encoded.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,` encoded.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped_and_control_characters_replaced() {
        assert_eq!(
            escape("a<b & \"c\"\n'd'\u{1}"),
            "a&lt;b &amp; &quot;c&quot;&#10;&apos;d&apos;\u{FFFD}"
        );
    }

    #[test]
    fn workflow_commands_encode_what_would_end_a_field() {
        assert_eq!(data("50%\r\nok"), "50%25%0D%0Aok");
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
