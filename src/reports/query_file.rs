//! The format of `queries/*.sql`: a header comment (`-- name:`, `-- description:`, `-- params:`)
//! and statements, each introduced by a directive line:
//!
//! - `-- view: NAME [hold]` — a named subquery the following sections may read (inlined as a
//!   CTE); `hold`: computed once and held in memory for them while it fits (for a view that is a
//!   small part of what it reads and that the sections read many times);
//! - `-- section: PATH SHAPE [json=COL,…]` — a result section: `PATH` is `.` for the report's top
//!   level or a dotted key path; `SHAPE` is `object`, `object?` (left out when empty), `array`,
//!   `map:COLUMN` or `merge` (the first row's columns merged into the object at `PATH`); `json=`
//!   names text columns that hold JSON and are emitted as JSON values.

use crate::error::{Error, Result};

/// How a section's rows become JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// The first row as an object (null when there is none, or left out when `optional`).
    Object {
        /// Leave the key out when there is no row.
        optional: bool,
    },
    /// All rows as an array of objects.
    Array,
    /// All rows as an object keyed by this column's value.
    Map(String),
    /// The first row's columns merged into the object at the section's path.
    Merge,
}

/// One result section of a report.
#[derive(Debug, Clone)]
pub struct SectionSpec {
    /// Key path below the report's top level (empty for the top level).
    pub path: Vec<String>,
    /// JSON shape.
    pub shape: Shape,
    /// Text columns holding JSON.
    pub json_columns: Vec<String>,
    /// The statement.
    pub sql: String,
}

/// A parsed `queries/*.sql` file.
#[derive(Debug, Clone)]
pub struct QueryFile {
    /// The report's name.
    pub name: String,
    /// What it computes.
    pub description: String,
    /// Its parameters.
    pub params: String,
    /// Named subqueries, in order.
    pub views: Vec<(String, String)>,
    /// The views marked `hold`.
    pub held: Vec<String>,
    /// Result sections, in order.
    pub sections: Vec<SectionSpec>,
}

enum Block {
    None,
    View(String),
    Section(SectionSpec),
}

impl QueryFile {
    /// Parses a query file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<QueryFile> {
        let bad = |line: usize, what: &str| {
            Error::Usage(format!("queries/{file}, line {}: {what}", line + 1))
        };
        let mut q = QueryFile {
            name: String::new(),
            description: String::new(),
            params: String::new(),
            views: Vec::new(),
            held: Vec::new(),
            sections: Vec::new(),
        };
        let mut block = Block::None;
        let mut sql = String::new();
        let mut header_key: Option<&str> = None;
        for (i, line) in text.lines().enumerate() {
            let directive = line.strip_prefix("-- ");
            if let Some(d) =
                directive.and_then(|d| d.split_once(": ").or(d.strip_suffix(':').map(|k| (k, ""))))
            {
                let (key, value) = (d.0.trim(), d.1.trim());
                match key {
                    "name" | "description" | "params" => {
                        header_key = Some(match key {
                            "name" => "name",
                            "description" => "description",
                            _ => "params",
                        });
                        q.header_mut(key).push_str(value);
                        continue;
                    }
                    "view" | "section" => {
                        header_key = None;
                        q.finish(std::mem::replace(&mut block, Block::None), &mut sql);
                        block = if key == "view" {
                            let mut words = value.split_whitespace();
                            let name = words.next().unwrap_or_default().to_string();
                            match words.next() {
                                None => {}
                                Some("hold") => q.held.push(name.clone()),
                                Some(w) => {
                                    return Err(bad(
                                        i,
                                        &format!("`{w}` after a view's name (only `hold`)"),
                                    ));
                                }
                            }
                            Block::View(name)
                        } else {
                            Block::Section(parse_section(value).map_err(|m| bad(i, &m))?)
                        };
                        continue;
                    }
                    _ => {}
                }
            }
            if let (Some(k), Some(rest)) = (header_key, line.strip_prefix("--   ")) {
                let h = q.header_mut(k);
                h.push(' ');
                h.push_str(rest.trim());
                continue;
            }
            header_key = None;
            if matches!(block, Block::None) {
                if !line.trim().is_empty() && !line.starts_with("--") {
                    return Err(bad(
                        i,
                        "SQL before the first `-- view:` or `-- section:` line",
                    ));
                }
                continue;
            }
            sql.push_str(line);
            sql.push('\n');
        }
        q.finish(block, &mut sql);
        if q.name.is_empty() || q.sections.is_empty() {
            return Err(Error::Usage(format!(
                "queries/{file}: needs a `-- name:` header and at least one `-- section:`"
            )));
        }
        Ok(q)
    }

    fn header_mut(&mut self, key: &str) -> &mut String {
        match key {
            "name" => &mut self.name,
            "description" => &mut self.description,
            _ => &mut self.params,
        }
    }

    fn finish(&mut self, block: Block, sql: &mut String) {
        let text = std::mem::take(sql);
        let text = text.trim().trim_end_matches(';').trim().to_string();
        match block {
            Block::None => {}
            Block::View(name) => self.views.push((name, text)),
            Block::Section(mut s) => {
                s.sql = text;
                self.sections.push(s);
            }
        }
    }

    /// This file with the SQL of view `name` replaced by `sql`.
    pub fn with_view(mut self, name: &str, sql: String) -> QueryFile {
        for (n, text) in &mut self.views {
            if n == name {
                *text = sql.clone();
            }
        }
        self
    }

    /// The statement of `section` with the views it reads prepended as CTEs.
    pub fn statement(&self, section: &SectionSpec) -> String {
        let used: Vec<&(String, String)> = self
            .views
            .iter()
            .filter(|(name, _)| mentions(&section.sql, name))
            .collect();
        if used.is_empty() {
            return section.sql.clone();
        }
        let ctes: Vec<String> = used
            .iter()
            .map(|(name, sql)| format!("{name} AS (\n{sql}\n)"))
            .collect();
        let body = section.sql.trim_start();
        match body.get(..5) {
            Some(w) if w.eq_ignore_ascii_case("WITH ") => {
                format!("WITH {},\n{}", ctes.join(",\n"), &body[5..])
            }
            _ => format!("WITH {}\n{}", ctes.join(",\n"), body),
        }
    }
}

/// True when `sql` contains `name` as a whole word.
fn mentions(sql: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    sql.match_indices(name).any(|(i, _)| {
        let before = sql[..i].chars().next_back();
        let after = sql[i + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

fn parse_section(spec: &str) -> std::result::Result<SectionSpec, String> {
    let mut parts = spec.split_whitespace();
    let path = parts
        .next()
        .ok_or("a section needs a path (`.` for the top level)")?;
    let shape = parts.next().ok_or("a section needs a shape")?;
    let shape = match shape {
        "object" => Shape::Object { optional: false },
        "object?" => Shape::Object { optional: true },
        "array" => Shape::Array,
        "merge" => Shape::Merge,
        s => match s.strip_prefix("map:") {
            Some(col) if !col.is_empty() => Shape::Map(col.to_string()),
            _ => {
                return Err(format!(
                    "unknown shape `{s}` (object, object?, array, map:COL, merge)"
                ));
            }
        },
    };
    let mut json_columns = Vec::new();
    for p in parts {
        match p.strip_prefix("json=") {
            Some(cols) => json_columns.extend(cols.split(',').map(str::to_string)),
            None => return Err(format!("unknown section option `{p}`")),
        }
    }
    let path = match path {
        "." => Vec::new(),
        p => p.split('.').map(str::to_string).collect(),
    };
    Ok(SectionSpec {
        path,
        shape,
        json_columns,
        sql: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "-- name: t\n-- description: first\n--   second\n-- params: $a\n\
        -- view: v\nSELECT 1 AS x\n-- section: . merge\nSELECT x FROM v;\n\
        -- section: a.b map:k json=m\nWITH w AS (SELECT 2 AS k) SELECT * FROM w, v\n\
        -- section: c array\nSELECT 3 AS vv\n";

    #[test]
    fn parses_header_views_and_sections() {
        let q = QueryFile::parse("t.sql", FILE).unwrap();
        assert_eq!(q.name, "t");
        assert_eq!(q.description, "first second");
        assert_eq!(q.sections.len(), 3);
        assert_eq!(q.sections[1].path, vec!["a", "b"]);
        assert_eq!(q.sections[1].shape, Shape::Map("k".into()));
        assert_eq!(q.sections[1].json_columns, vec!["m"]);
        assert_eq!(
            q.statement(&q.sections[0]),
            "WITH v AS (\nSELECT 1 AS x\n)\nSELECT x FROM v"
        );
        assert_eq!(
            q.statement(&q.sections[1]),
            "WITH v AS (\nSELECT 1 AS x\n),\nw AS (SELECT 2 AS k) SELECT * FROM w, v"
        );
        // `vv` is not the view `v`.
        assert_eq!(q.statement(&q.sections[2]), "SELECT 3 AS vv");
    }

    #[test]
    fn views_marked_hold_are_listed_and_other_words_refused() {
        let q = QueryFile::parse("t.sql", "-- name: t\n-- view: f hold\nSELECT 1 AS x\n-- view: g\nSELECT 2 AS y\n-- section: . merge\nSELECT x, y FROM f, g\n").unwrap();
        assert_eq!(q.held, vec!["f"]);
        assert_eq!(q.views.len(), 2);
        let err = QueryFile::parse(
            "t.sql",
            "-- name: t\n-- view: f keep\nSELECT 1\n-- section: . merge\nSELECT 1\n",
        );
        assert!(err.unwrap_err().to_string().contains("line 2: `keep`"));
    }

    #[test]
    fn rejects_unknown_shapes() {
        let err = QueryFile::parse("t.sql", "-- name: t\n-- section: . table\nSELECT 1\n");
        assert!(err.unwrap_err().to_string().contains("line 2"));
    }
}
