//! Tab completion for the REPL: SQL keywords, table names (with `system.`), column names and
//! function names (scalar, aggregate, window and table functions) of the live session.

use std::collections::BTreeSet;

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::split::is_complete;

/// The names the REPL completes, read once from the session.
#[derive(Debug, Default)]
pub struct Names {
    /// Column names.
    pub columns: BTreeSet<String>,
    /// Table names, `system.` ones qualified.
    pub tables: BTreeSet<String>,
    /// Function names.
    pub functions: BTreeSet<String>,
}

impl Names {
    /// Collects the names of `ctx`'s tables, their columns and its functions.
    pub async fn of(ctx: &SessionContext) -> Names {
        let mut n = Names::default();
        if let Some(catalog) = ctx.catalog("datafusion") {
            for schema_name in catalog.schema_names() {
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                if schema_name == "information_schema" {
                    continue;
                }
                for t in schema.table_names() {
                    if let Ok(Some(table)) = schema.table(&t).await {
                        n.columns
                            .extend(table.schema().fields().iter().map(|f| f.name().clone()));
                    }
                    n.tables.insert(match schema_name.as_str() {
                        "public" => t,
                        s => format!("{s}.{t}"),
                    });
                }
            }
        }
        let state = ctx.state();
        n.functions.extend(state.scalar_functions().keys().cloned());
        n.functions
            .extend(state.aggregate_functions().keys().cloned());
        n.functions.extend(state.window_functions().keys().cloned());
        n.functions.extend(state.table_functions().keys().cloned());
        n
    }

    /// Completions of the word `prefix` (case-insensitive): columns, tables, functions, then
    /// keywords in the case the user typed.
    pub fn complete(&self, prefix: &str) -> Vec<String> {
        if prefix.is_empty() {
            return Vec::new();
        }
        let lower = prefix.to_ascii_lowercase();
        let mut out: Vec<String> = Vec::new();
        for set in [&self.columns, &self.tables, &self.functions] {
            for w in set {
                if w.to_ascii_lowercase().starts_with(&lower) && !out.contains(w) {
                    out.push(w.clone());
                }
            }
        }
        let upper = prefix
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase());
        for k in ALL_KEYWORDS {
            if k.to_ascii_lowercase().starts_with(&lower) {
                let k = if upper {
                    k.to_string()
                } else {
                    k.to_ascii_lowercase()
                };
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        out
    }
}

/// The rustyline helper: completion plus multi-line input until `;`.
pub struct ReplHelper {
    /// What to complete.
    pub names: Names,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.')
            .last()
            .map_or(pos, |(i, _)| i);
        let words = self.names.complete(&line[start..pos]);
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.clone(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_columns_tables_functions_and_keywords() {
        let mut n = Names::default();
        n.columns.insert("success".into());
        n.tables.insert("cuj_runs".into());
        n.tables.insert("system.files".into());
        n.functions.insert("error_pattern".into());
        // Columns come first; keywords (SUCCEEDS) after.
        assert_eq!(n.complete("succ")[0], "success");
        assert_eq!(n.complete("cuj_r"), vec!["cuj_runs"]);
        assert_eq!(n.complete("system.f"), vec!["system.files"]);
        assert_eq!(n.complete("error_p"), vec!["error_pattern"]);
        assert!(n.complete("SELE").contains(&"SELECT".to_string()));
        assert!(n.complete("sele").contains(&"select".to_string()));
        assert!(n.complete("").is_empty());
    }
}
