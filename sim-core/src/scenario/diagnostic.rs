//! Errors located in a file, for people: where (file, line, column, the
//! line itself with the offending part underlined), what (the message and
//! the field), what was expected, and a suggestion.
//!
//! ```text
//! error: unknown field `latncy`
//!   --> scenarios/cap.toml:12:3
//!    |
//! 12 |   latncy = "5ms"
//!    |   ^^^^^^
//!    = field: links.east-west
//!    = expected: one of `latency`, `loss`, `duplicate`, `reorder`
//!    = help: did you mean `latency`?
//! ```

use core::fmt;
use core::ops::Range;

/// An error at a place in a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based line and column (the column counts characters, not bytes).
    pub line: usize,
    pub column: usize,
    /// The text of that line, without its line ending.
    pub line_text: String,
    /// How many characters to underline (at least 1).
    pub width: usize,
    pub message: String,
    /// The dotted path of the field, e.g. `links.east-west.latency`.
    pub field: Option<String>,
    pub expected: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error about `source[span]` in `file`. A span past the end points
    /// at the end of the file.
    pub fn at(file: &str, source: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let end = floor_char_boundary(source, span.end.clamp(start, source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_text = source[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let line = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        // Underline the span, but no further than the end of its line.
        let width = source[start..end.min(line_end)].chars().count().max(1);
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            line_text,
            width,
            message: message.into(),
            field: None,
            expected: None,
            help: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    pub fn with_expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// Adds "did you mean `x`?" if `suggestion` is Some.
    pub fn with_suggestion(self, suggestion: Option<&str>) -> Self {
        match suggestion {
            Some(s) => self.with_help(format!("did you mean `{s}`?")),
            None => self,
        }
    }
}

/// The most characters a caret line underlines.
const MAX_UNDERLINE: usize = 60;

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = self.line.to_string().len();
        let pad = " ".repeat(gutter);
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "{pad}--> {}:{}:{}", self.file, self.line, self.column)?;
        writeln!(f, "{pad} |")?;
        // A very long line is shown from a little before the column, cut
        // after a little past the span, so a huge value appears once.
        let chars: Vec<char> = self.line_text.chars().collect();
        let from = (self.column - 1).saturating_sub(40).min(chars.len());
        let width = self.width.min(MAX_UNDERLINE);
        let to = (self.column - 1 + width + 40).min(chars.len()).max(from);
        let (open, close) = (
            if from > 0 { "…" } else { "" },
            if to < chars.len() { "…" } else { "" },
        );
        let shown: String = chars[from..to].iter().collect();
        writeln!(f, "{} | {open}{shown}{close}", self.line)?;
        // Tabs before the column keep their width so the caret lines up.
        let lead: String = chars[from..(self.column - 1).min(chars.len()).max(from)]
            .iter()
            .map(|&c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let lead = if from > 0 { format!(" {lead}") } else { lead };
        write!(f, "{pad} | {lead}{}", "^".repeat(width))?;
        for (label, value) in [
            ("field", &self.field),
            ("expected", &self.expected),
            ("help", &self.help),
        ] {
            if let Some(v) = value {
                write!(f, "\n{pad} = {label}: {v}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "[links.east-west]\n  latncy = \"5ms\"\nloss = \"1%\"\n";

    #[test]
    fn renders_location_line_caret_and_advice() {
        let start = SOURCE.find("latncy").unwrap();
        let d = Diagnostic::at(
            "scenarios/cap.toml",
            SOURCE,
            start..start + 6,
            "unknown field `latncy`",
        )
        .with_field("links.east-west")
        .with_expected("one of `latency`, `loss`, `duplicate`, `reorder`")
        .with_suggestion(Some("latency"));
        assert_eq!((d.line, d.column, d.width), (2, 3, 6));
        assert_eq!(
            d.to_string(),
            "error: unknown field `latncy`\n \
             --> scenarios/cap.toml:2:3\n  \
             |\n\
             2 |   latncy = \"5ms\"\n  \
             |   ^^^^^^\n  \
             = field: links.east-west\n  \
             = expected: one of `latency`, `loss`, `duplicate`, `reorder`\n  \
             = help: did you mean `latency`?"
        );
    }

    #[test]
    fn columns_count_characters_and_spans_are_clamped() {
        let src = "name = \"café\" # é\r\nx = ";
        let at = src.find('#').unwrap();
        let d = Diagnostic::at("f.toml", src, at..at + 1, "m");
        assert_eq!((d.line, d.column), (1, 15));
        assert_eq!(
            d.line_text, "name = \"café\" # é",
            "CR is not part of the line"
        );
        // A span past the end points at the end of the file, on the last line.
        let d = Diagnostic::at("f.toml", src, 1000..2000, "unexpected end of file");
        assert_eq!((d.line, d.column, d.width), (2, 5, 1));
        // A span across lines underlines to the end of the first.
        let d = Diagnostic::at("f.toml", src, 0..src.len(), "m");
        assert_eq!(d.width, "name = \"café\" # é".chars().count() + 1);
    }
}
