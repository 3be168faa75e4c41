//! Errors in the format's own words. The TOML parser and serde speak of
//! Rust types ("invalid type: floating point `NaN`, expected u32", "data
//! did not match any variant of untagged enum FanoutSpec"); a person
//! writing a scenario should read what the field accepts and what it got
//! instead. Values are shown once and shortened, however long they are.

/// The longest value shown in a message before it is cut.
pub const MAX_SHOWN: usize = 60;

/// `text` with every backticked or quoted run longer than [`MAX_SHOWN`]
/// characters cut to its first characters and a count of the rest.
pub fn shorten(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4 * MAX_SHOWN));
    let mut rest = text;
    while let Some(i) = rest.find(['`', '"']) {
        let quote = rest[i..].chars().next().expect("found");
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let Some(end) = rest.find(quote) else {
            break;
        };
        out.push_str(&cut(&rest[..end]));
        out.push(quote);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `s` cut to [`MAX_SHOWN`] characters, saying how many were left out.
pub fn cut(s: &str) -> String {
    let n = s.chars().count();
    if n <= MAX_SHOWN || s.ends_with(" more characters)") {
        return s.to_string();
    }
    let head: String = s.chars().take(MAX_SHOWN).collect();
    format!("{head}… ({} more characters)", n - MAX_SHOWN)
}

/// What a Rust type in a serde message means in the format.
fn type_words(rust: &str) -> String {
    let t = rust.trim();
    match t {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u32" => "a whole number from 0 to 4294967295".into(),
        "u64" | "usize" => "a whole number of 0 or more".into(),
        "i64" | "i32" | "isize" => "a whole number".into(),
        "f64" | "f32" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a string" | "a borrowed string" => "text in quotes".into(),
        "a sequence" => "a list".into(),
        "a map" => "a table".into(),
        _ if t.starts_with("struct ") => "a table".into(),
        _ => t.to_string(),
    }
}

/// What serde says a value was, in the format's words.
fn value_words(got: &str) -> String {
    let g = got.trim();
    for prefix in ["floating point ", "integer ", "boolean ", "string "] {
        if let Some(v) = g.strip_prefix(prefix) {
            let v = v.trim_matches('`');
            return match v {
                "NaN" => "nan".into(),
                "inf" => "inf".into(),
                "-inf" => "-inf".into(),
                _ => v.to_string(),
            };
        }
    }
    match g {
        "sequence" => "a list".into(),
        "map" => "a table".into(),
        "unit value" => "nothing".into(),
        other => other.to_string(),
    }
}

use super::reference::accepts;

/// A parser's or serde's message in the format's words, with what the
/// field (`key`, when known) accepts.
pub fn humanise(message: &str, key: Option<&str>) -> (String, Option<String>) {
    let m = message.trim();
    let expected = key.and_then(accepts).map(str::to_string);
    let field = key.map_or("this field".to_string(), |k| format!("`{k}`"));
    if let Some(rest) = m
        .strip_prefix("invalid type: ")
        .or_else(|| m.strip_prefix("invalid value: "))
        && let Some((got, want)) = rest.rsplit_once(", expected ")
    {
        let message = format!(
            "{field} takes {}, not {}",
            type_words(want),
            value_words(got)
        );
        return (shorten(&message), expected);
    }
    if m.starts_with("data did not match any variant of untagged enum") {
        return (
            format!("this value is none of the forms {field} takes"),
            expected,
        );
    }
    if m.ends_with("value was too large") || m.contains("out of range") {
        return (
            format!("this number is too large for {field}"),
            expected.or_else(|| Some("a whole number up to 9223372036854775807".into())),
        );
    }
    if let Some(rest) = m.strip_prefix("unknown variant `") {
        return (shorten(&format!("unknown value `{rest}")), expected);
    }
    (shorten(m), expected)
}

/// The key a span sits at on its line: the last `name =` before `column`
/// (1-based, in characters).
pub fn key_at(line: &str, column: usize) -> Option<String> {
    let before: String = line.chars().take(column.saturating_sub(1)).collect();
    let eq = before.rfind('=')?;
    let key = before[..eq]
        .trim_end()
        .rsplit(|c: char| c == '{' || c == ',' || c.is_whitespace())
        .next()?
        .trim_matches('"');
    (!key.is_empty()).then(|| key.to_string())
}

/// Text from bytes, or where the first byte that is not UTF-8 is: "line
/// 3, column 14 (byte 0xff)".
pub fn text(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let good = std::str::from_utf8(&bytes[..at]).expect("valid up to here");
        let line = good.matches('\n').count() + 1;
        let column = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!(
            "it is not UTF-8 text: line {line}, column {column} has the byte 0x{:02x}; save the file as UTF-8",
            bytes[at]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_phrases_become_the_format_s_words() {
        let (m, e) = humanise(
            "invalid type: floating point `NaN`, expected u32",
            Some("workers"),
        );
        assert_eq!(
            m,
            "`workers` takes a whole number from 0 to 4294967295, not nan"
        );
        assert!(e.unwrap().contains("integer"));
        let (m, _) = humanise(
            "data did not match any variant of untagged enum FanoutSpec",
            Some("fanout"),
        );
        assert_eq!(m, "this value is none of the forms `fanout` takes");
        let (m, _) = humanise("invalid type: string \"x\", expected a boolean", None);
        assert_eq!(m, "this field takes true or false, not \"x\"");
        for rust in [
            "u32",
            "FanoutSpec",
            "untagged",
            "floating point",
            "invalid type",
        ] {
            assert!(!m.contains(rust));
        }
    }

    #[test]
    fn long_values_are_shown_once_and_cut() {
        let long = "9".repeat(5000);
        let s = shorten(&format!(
            "invalid rate `{long}/s`: `{long}` is not a number"
        ));
        assert!(s.len() < 300, "{}", s.len());
        assert!(s.contains("(4942 more characters)"), "{s}");
        assert_eq!(shorten("a `short` one"), "a `short` one");
    }

    #[test]
    fn the_first_byte_that_is_not_utf8_is_located() {
        let e = text(b"title = \"x\"\nsummary = \"caf\xe9\"\n".to_vec()).unwrap_err();
        assert!(e.contains("line 2, column 15 has the byte 0xe9"), "{e}");
        assert_eq!(text(b"ok".to_vec()).unwrap(), "ok");
    }

    #[test]
    fn the_key_of_a_value() {
        assert_eq!(key_at("workers = nan", 11).as_deref(), Some("workers"));
        assert_eq!(
            key_at("keys = { dist = \"zipf\", n = 0, s = 1 }", 29).as_deref(),
            Some("n")
        );
        assert_eq!(key_at("no equals here", 5), None);
    }
}
