//! The REPL's backslash commands: one enum, from which parsing and help derive.

use crate::render::Format;

/// A backslash command.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    /// `\d`: list tables; `\d NAME`: describe one.
    Describe(Option<String>),
    /// `\format FMT`: switch the output format.
    Format(Format),
    /// `\timing`: toggle timing.
    Timing,
    /// `\i FILE`: run the statements in a file.
    Include(String),
    /// `\reports`: list the canned reports (table functions).
    Reports,
    /// `\?`: help.
    Help,
    /// `\q`: quit.
    Quit,
}

/// (syntax, description) of every command, in help order.
pub const HELP: &[(&str, &str)] = &[
    ("\\d", "list tables"),
    ("\\d NAME", "describe a table (columns and types)"),
    (
        "\\format table|json|ndjson|csv|markdown",
        "switch the output format",
    ),
    ("\\timing", "toggle printing each query's time"),
    ("\\i FILE", "run the SQL statements in FILE"),
    (
        "\\reports",
        "list the canned reports, callable as table functions",
    ),
    ("\\?", "this help"),
    ("\\q", "quit (or Ctrl-D)"),
];

impl Meta {
    /// Parses a line starting with `\`.
    pub fn parse(line: &str) -> Result<Meta, String> {
        let line = line.trim().trim_end_matches(';');
        let mut parts = line.splitn(2, char::is_whitespace);
        let cmd = parts.next().unwrap_or("");
        let arg = parts.next().map(str::trim).filter(|a| !a.is_empty());
        Ok(match (cmd, arg) {
            ("\\d" | "\\dt", None) => Meta::Describe(None),
            ("\\d", Some(t)) => Meta::Describe(Some(t.to_string())),
            ("\\format" | "\\pset", Some(f)) => {
                Meta::Format(<Format as clap::ValueEnum>::from_str(f, true).map_err(|_| {
                    format!("unknown format `{f}`: table, json, ndjson, csv or markdown")
                })?)
            }
            ("\\timing", None) => Meta::Timing,
            ("\\i", Some(f)) => Meta::Include(f.to_string()),
            ("\\reports", None) => Meta::Reports,
            ("\\?" | "\\h" | "\\help", _) => Meta::Help,
            ("\\q" | "\\quit", None) => Meta::Quit,
            _ => return Err(format!("unknown command `{line}` (\\? lists the commands)")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_help_entry() {
        for (syntax, _) in HELP {
            let example = syntax
                .replace("NAME", "cuj_runs")
                .replace("table|json|ndjson|csv|markdown", "csv")
                .replace("FILE", "x.sql");
            assert!(Meta::parse(&example).is_ok(), "{example}");
        }
        assert_eq!(Meta::parse("\\format JSON"), Ok(Meta::Format(Format::Json)));
        assert!(Meta::parse("\\nope").is_err());
    }
}
