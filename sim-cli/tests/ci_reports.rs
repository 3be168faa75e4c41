//! `faultline check --junit FILE` and `--github`, end to end: the JUnit
//! file has what the usual JUnit schema (Jenkins' junit-10, which GitHub,
//! GitLab and Jenkins readers accept) requires, one test case per
//! scenario, variant and check, and failures that say which seed to
//! replay; the annotations point at the broken expectation's line.

mod common;

use common::{faultline, story_text, write_temp};
use roxmltree::{Document, Node};

/// What the schema requires of a JUnit document, checked element by
/// element: the names and attributes each element may and must have,
/// counts that are numbers and add up.
fn validate(xml: &str) -> Result<(), String> {
    let doc = Document::parse(xml).map_err(|e| format!("not XML: {e}"))?;
    let root = doc.root_element();
    expect_element(
        root,
        "testsuites",
        &[],
        &["name", "time", "tests", "failures", "errors"],
    )?;
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for suite in elements(root) {
        let (t, f, e) = validate_suite(suite)?;
        (tests, failures, errors) = (tests + t, failures + f, errors + e);
    }
    for (name, sum) in [("tests", tests), ("failures", failures), ("errors", errors)] {
        if let Some(v) = root.attribute(name)
            && count(root, name)? != sum
        {
            return Err(format!(
                "testsuites {name}={v}, but its suites add up to {sum}"
            ));
        }
    }
    Ok(())
}

fn validate_suite(suite: Node<'_, '_>) -> Result<(usize, usize, usize), String> {
    let optional = [
        "group",
        "time",
        "skipped",
        "timestamp",
        "hostname",
        "id",
        "package",
        "file",
        "log",
        "url",
    ];
    expect_element(
        suite,
        "testsuite",
        &["name", "tests", "failures", "errors"],
        &optional,
    )?;
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for child in elements(suite) {
        match child.tag_name().name() {
            "properties" => {
                for p in elements(child) {
                    expect_element(p, "property", &["name", "value"], &[])?;
                }
            }
            "testcase" => {
                tests += 1;
                let results = validate_case(child)?;
                failures += usize::from(results.contains(&"failure"));
                errors += usize::from(results.contains(&"error"));
            }
            "system-out" | "system-err" => {}
            other => return Err(format!("a testsuite cannot hold <{other}>")),
        }
    }
    for (name, n) in [("tests", tests), ("failures", failures), ("errors", errors)] {
        if count(suite, name)? != n {
            return Err(format!("testsuite {name} is not the {n} it holds"));
        }
    }
    Ok((tests, failures, errors))
}

/// A test case's result elements' names.
fn validate_case(case: Node<'_, '_>) -> Result<Vec<&'static str>, String> {
    expect_element(case, "testcase", &["name"], &["time", "classname", "group"])?;
    let mut results = Vec::new();
    for r in elements(case) {
        let name = match r.tag_name().name() {
            "failure" => "failure",
            "error" => "error",
            "skipped" => "skipped",
            "system-out" | "system-err" => "output",
            other => return Err(format!("a testcase cannot hold <{other}>")),
        };
        if name != "output" {
            expect_element(r, name, &[], &["type", "message"])?;
        }
        results.push(name);
    }
    Ok(results)
}

fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(Node::is_element)
}

fn expect_element(
    n: Node<'_, '_>,
    tag: &str,
    required: &[&str],
    optional: &[&str],
) -> Result<(), String> {
    if n.tag_name().name() != tag {
        return Err(format!("expected <{tag}>, found <{}>", n.tag_name().name()));
    }
    if let Some(missing) = required.iter().find(|a| n.attribute(**a).is_none()) {
        return Err(format!("<{tag}> has no {missing} attribute"));
    }
    match n
        .attributes()
        .find(|a| !required.contains(&a.name()) && !optional.contains(&a.name()))
    {
        Some(a) => Err(format!("<{tag}> cannot have a {} attribute", a.name())),
        None => Ok(()),
    }
}

fn count(n: Node<'_, '_>, attribute: &str) -> Result<usize, String> {
    let v = n.attribute(attribute).unwrap_or_default();
    v.parse()
        .map_err(|_| format!("{attribute}=\"{v}\" is not a count"))
}

/// The validator itself fails on what the schema forbids, so a pass
/// means something.
#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let good = r#"<testsuites><testsuite name="s" tests="1" failures="1" errors="0"><testcase name="c"><failure message="m">x</failure></testcase></testsuite></testsuites>"#;
    assert_eq!(validate(good), Ok(()));
    for (bad, why) in [
        (good.replace(" tests=\"1\"", ""), "has no tests"),
        (
            good.replace("failures=\"1\"", "failures=\"0\""),
            "failures is not",
        ),
        (good.replace("tests=\"1\"", "tests=\"one\""), "not a count"),
        (
            good.replace("<testcase name", "<testcase file=\"f\" name"),
            "cannot have a file",
        ),
        (
            good.replace("<failure", "<broke")
                .replace("</failure>", "</broke>"),
            "cannot hold <broke>",
        ),
        (
            good.replace("<testsuites>", "<suites>")
                .replace("</testsuites>", "</suites>"),
            "expected <testsuites>",
        ),
        (good.replace("</testsuites>", ""), "not XML"),
    ] {
        let e = validate(&bad).expect_err(&bad);
        assert!(e.contains(why), "{e}");
    }
}

/// The double-charge story with one expectation made false: the naive
/// design "never" double charges. Returns the file and the 1-based line
/// of that expectation's metric.
fn broken_story() -> (std::path::PathBuf, usize) {
    let text = story_text().replacen("op = \">\"\nvalue = 0", "op = \"==\"\nvalue = 0", 1);
    let at = text.find("op = \"==\"\nvalue = 0").unwrap();
    let line = text[..at].lines().count(); // the metric is the line above
    (write_temp("broken-ci.toml", &text), line)
}

#[test]
fn junit_has_a_case_per_check_and_a_failure_that_names_the_seeds() {
    let (path, line) = broken_story();
    let file = path.to_str().unwrap();
    let junit = path.with_extension("xml");
    let args = [
        "check",
        "double-charge",
        file,
        "--seeds",
        "2",
        "--junit",
        junit.to_str().unwrap(),
    ];
    let (ok, out, _) = faultline(&args);
    assert!(!ok, "a broken expectation fails the check: {out}");
    let xml = std::fs::read_to_string(&junit).expect("written although the check failed");
    assert_eq!(validate(&xml), Ok(()), "{xml}");

    let doc = Document::parse(&xml).unwrap();
    let suites: Vec<Node<'_, '_>> = elements(doc.root_element()).collect();
    let names: Vec<&str> = suites
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(names, ["double-charge", "broken-ci"], "{xml}");
    // Per variant: its runs finish, two expectations or one, one answer key.
    for s in &suites {
        assert_eq!(s.attribute("tests"), Some("7"), "{xml}");
    }
    assert_eq!(suites[0].attribute("failures"), Some("0"));
    assert_eq!(suites[1].attribute("failures"), Some("1"));
    assert_eq!(doc.root_element().attribute("tests"), Some("14"));
    let failing: Vec<Node<'_, '_>> = suites[1]
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    let [failure] = failing[..] else {
        panic!("{xml}")
    };
    let case = failure.parent_element().unwrap();
    assert_eq!(
        case.attribute("name"),
        Some("[no-idempotency] ledger.duplicate_charges == 0")
    );
    assert_eq!(case.attribute("classname"), Some("broken-ci"));
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .starts_with("broken on 2 of 2 seeds"),
        "{xml}"
    );
    let text = failure.text().unwrap();
    assert!(text.starts_with(&format!("{file}:{line}:")), "{text}");
    for seed in [1, 2] {
        let replay = format!("replay: faultline run {file} --variant no-idempotency --seed {seed}");
        assert!(text.contains(&replay), "{text}");
    }

    // The same check writes the same bytes.
    faultline(&args);
    assert_eq!(std::fs::read_to_string(&junit).unwrap(), xml);
}

#[test]
fn github_annotations_point_at_the_broken_expectations_line() {
    let (path, line) = broken_story();
    let file = path.to_str().unwrap();
    let (ok, out, _) = faultline(&["check", file, "--seeds", "2", "--github"]);
    assert!(!ok);
    let annotations: Vec<&str> = out.lines().filter(|l| l.starts_with("::")).collect();
    let [one] = annotations[..] else {
        panic!("one broken check, one annotation: {out}")
    };
    let head = format!(
        "::error file={},line={line},col=10,title=",
        file.replace(':', "%3A")
    );
    assert!(one.starts_with(&head), "{one}");
    let (_, message) = one.split_once("::broken").unwrap();
    assert!(message.contains("%0Areplay: faultline run"), "{one}");
    assert!(!message.contains('\n'));
    // A passing check annotates nothing, and --json keeps its output JSON.
    let (ok, out, _) = faultline(&["check", "double-charge", "--seeds", "1", "--github"]);
    assert!(ok && !out.contains("::error"), "{out}");
    let (ok, _, err) = faultline(&["check", "double-charge", "--json", "--github"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}

#[test]
fn a_run_cut_short_is_an_error_case_not_a_pass() {
    let text = story_text().replacen(
        "duration = \"60s\"",
        "duration = \"60s\"\nevent_budget = 2000",
        1,
    );
    let path = write_temp("cut-ci.toml", &text);
    let junit = path.with_extension("xml");
    let (ok, _, _) = faultline(&[
        "check",
        path.to_str().unwrap(),
        "--seeds",
        "1",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert!(!ok);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(validate(&xml), Ok(()), "{xml}");
    let doc = Document::parse(&xml).unwrap();
    let errors: Vec<Node<'_, '_>> = doc
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .collect();
    assert_eq!(errors.len(), 2, "one per variant: {xml}");
    for e in errors {
        assert_eq!(e.attribute("type"), Some("cut short"));
        let case = e.parent_element().unwrap().attribute("name").unwrap();
        assert!(
            case.ends_with("] every run finishes within its limits"),
            "{case}"
        );
        assert!(
            e.text()
                .unwrap()
                .contains("event budget of 2000 events ran out"),
            "{xml}"
        );
    }
    assert_eq!(doc.root_element().attribute("errors"), Some("2"));
}
