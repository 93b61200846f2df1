//! Rendering canned reports: each [`Section`] becomes JSON of the shape the original tools
//! printed (object, array, map keyed by a column, or merged into its parent), or a titled table.

use std::io::Write;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float32Type, Float64Type};
use serde_json::{Map, Value};

use super::{Format, cell_text, out_err};
use crate::error::Result;
use crate::reports::{Section, Shape};

/// Writes a report's sections in `format`.
pub fn render_report(sections: &[Section], format: Format, out: &mut dyn Write) -> Result<()> {
    super::buffered(out, |out| report_in(sections, format, out))
}

/// [`render_report`], unbuffered.
fn report_in(sections: &[Section], format: Format, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Json => {
            let v = report_json(sections);
            serde_json::to_writer_pretty(&mut *out, &v)
                .map_err(|e| out_err(std::io::Error::from(e)))?;
            writeln!(out).map_err(out_err)
        }
        Format::Ndjson => ndjson(sections, out),
        Format::Csv => {
            for (i, s) in sections.iter().enumerate() {
                if sections.len() > 1 {
                    let sep = if i == 0 { "" } else { "\n" };
                    writeln!(out, "{sep}# {}", title(s)).map_err(out_err)?;
                }
                super::render(&s.batches, Format::Csv, out)?;
            }
            Ok(())
        }
        Format::Table | Format::Markdown => {
            for (i, s) in sections.iter().enumerate() {
                if i > 0 {
                    writeln!(out).map_err(out_err)?;
                }
                if sections.len() > 1 {
                    let t = title(s);
                    match format {
                        Format::Markdown => writeln!(out, "### {t}\n"),
                        _ => writeln!(out, "{t}"),
                    }
                    .map_err(out_err)?;
                }
                if s.rows() == 0 {
                    writeln!(out, "(none)").map_err(out_err)?;
                } else if is_single_row(s) && s.rows() == 1 {
                    // A one-row section reads better as `field | value` lines, with no row count.
                    super::table_without_count(&transpose(s)?, format == Format::Markdown, out)?;
                } else {
                    super::render(&s.batches, format, out)?;
                }
            }
            Ok(())
        }
    }
}

fn title(s: &Section) -> String {
    match s.title() {
        t if t.is_empty() => "summary".into(),
        t => t,
    }
}

fn is_single_row(s: &Section) -> bool {
    matches!(s.shape, Shape::Object { .. } | Shape::Merge)
}

/// A one-row section as a `field | value` table.
fn transpose(s: &Section) -> Result<Vec<arrow::record_batch::RecordBatch>> {
    let Some(b) = s.batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(Vec::new());
    };
    let rows: Vec<Vec<super::Cell>> = b
        .schema()
        .fields()
        .iter()
        .zip(b.columns())
        .map(|(f, c)| vec![f.name().as_str().into(), cell_text(c.as_ref(), 0).into()])
        .collect();
    Ok(vec![super::rows_to_batch(&["field", "value"], &rows)?])
}

fn ndjson(sections: &[Section], out: &mut dyn Write) -> Result<()> {
    for s in sections {
        for obj in rows_json(s) {
            let mut line = Map::new();
            if sections.len() > 1 {
                line.insert("section".into(), Value::String(title(s)));
            }
            line.extend(obj);
            writeln!(out, "{}", Value::Object(line)).map_err(out_err)?;
        }
    }
    Ok(())
}

/// The report as one JSON value: a lone top-level section is the value itself; otherwise an
/// object with each section at its path.
pub fn report_json(sections: &[Section]) -> Value {
    if let [s] = sections
        && s.path.is_empty()
        && s.shape != Shape::Merge
    {
        return section_json(s).unwrap_or(Value::Null);
    }
    let mut root = Map::new();
    for s in sections {
        let parent = object_at(&mut root, &s.path[..s.path.len().saturating_sub(1)]);
        match (&s.shape, s.path.last()) {
            (Shape::Merge, _) => {
                let target = match s.path.last() {
                    Some(k) => object_at(parent, std::slice::from_ref(k)),
                    None => parent,
                };
                if let Some(row) = rows_json(s).into_iter().next() {
                    target.extend(row);
                }
            }
            (_, Some(key)) => {
                if let Some(v) = section_json(s) {
                    parent.insert(key.clone(), v);
                }
            }
            (_, None) => {
                if let Some(Value::Object(m)) = section_json(s) {
                    parent.extend(m);
                }
            }
        }
    }
    Value::Object(root)
}

/// The object at `path` below `root`, created as needed.
fn object_at<'a>(root: &'a mut Map<String, Value>, path: &[String]) -> &'a mut Map<String, Value> {
    let mut cur = root;
    for key in path {
        let slot = cur
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        cur = match slot {
            Value::Object(m) => m,
            _ => unreachable!("made an object above"),
        };
    }
    cur
}

/// A section's JSON value; `None` when an optional object has no row.
fn section_json(s: &Section) -> Option<Value> {
    let rows = rows_json(s);
    Some(match &s.shape {
        Shape::Object { optional } => match rows.into_iter().next() {
            Some(r) => Value::Object(r),
            None if *optional => return None,
            None => Value::Null,
        },
        Shape::Array => Value::Array(rows.into_iter().map(Value::Object).collect()),
        Shape::Map(key) => {
            let mut m = Map::new();
            for r in rows {
                let k = match r.get(key) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => "null".into(),
                    Some(v) => v.to_string(),
                };
                m.insert(k, Value::Object(r));
            }
            Value::Object(m)
        }
        Shape::Merge => Value::Object(rows.into_iter().next().unwrap_or_default()),
    })
}

fn rows_json(s: &Section) -> Vec<Map<String, Value>> {
    let mut out = Vec::with_capacity(s.rows());
    for b in &s.batches {
        let schema = b.schema();
        let raw: Vec<bool> = schema
            .fields()
            .iter()
            .map(|f| s.json_columns.iter().any(|c| c == f.name()))
            .collect();
        for r in 0..b.num_rows() {
            let mut obj = Map::new();
            for (i, f) in schema.fields().iter().enumerate() {
                let col = b.column(i).as_ref();
                let v = if raw[i] && col.is_valid(r) {
                    let text = cell_text(col, r);
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                } else {
                    json_value(col, r)
                };
                obj.insert(f.name().clone(), v);
            }
            out.push(obj);
        }
    }
    out
}

/// One cell as a JSON value: integral doubles as integers (JavaScript prints `1000`, not
/// `1000.0`), NaN and infinities as null, times as ISO-8601 text, lists and structs nested.
pub fn json_value(a: &dyn Array, r: usize) -> Value {
    if a.is_null(r) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Boolean => Value::Bool(a.as_boolean().value(r)),
        DataType::Float64 => js_number(a.as_primitive::<Float64Type>().value(r)),
        DataType::Float32 => js_number(a.as_primitive::<Float32Type>().value(r) as f64),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => cell_text(a, r)
            .parse::<i64>()
            .map_or(Value::Null, Value::from),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => cell_text(a, r)
            .parse::<u64>()
            .map_or(Value::Null, Value::from),
        DataType::List(_) => {
            let v = a.as_list::<i32>().value(r);
            Value::Array((0..v.len()).map(|i| json_value(v.as_ref(), i)).collect())
        }
        DataType::LargeList(_) => {
            let v = a.as_list::<i64>().value(r);
            Value::Array((0..v.len()).map(|i| json_value(v.as_ref(), i)).collect())
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            let mut m = Map::new();
            for (i, f) in fields.iter().enumerate() {
                m.insert(f.name().clone(), json_value(s.column(i).as_ref(), r));
            }
            Value::Object(m)
        }
        _ => Value::String(cell_text(a, r)),
    }
}

/// A double as JavaScript's `JSON.stringify` would write it.
fn js_number(v: f64) -> Value {
    if !v.is_finite() {
        Value::Null
    } else if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}
