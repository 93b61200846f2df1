//! The render layer: Arrow batches → bytes in one of the output formats. Nothing else in obsq
//! formats results; each renderer writes to `&mut dyn Write`.

pub mod dashboard;
pub mod html;
pub mod log;
pub mod report;

use std::io::Write;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float32Type, Float64Type, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use comfy_table::{ContentArrangement, Table, presets};

use crate::error::{Error, Result};
use crate::model::canonical::js_number;
use crate::model::timefmt::{day_to_string, iso_ms};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A boxed table for people.
    Table,
    /// A JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header line.
    Csv,
    /// A Markdown table.
    Markdown,
}

impl Format {
    /// The default: a table on a terminal, JSON when piped.
    pub fn default_for_stdout() -> Format {
        use std::io::IsTerminal;
        if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        }
    }
}

pub(crate) fn out_err(e: std::io::Error) -> Error {
    Error::io("write", "standard output", e)
}

/// One status line on stderr, for long-running processes (`obsq cluster …`).
pub fn status(line: &str) {
    eprintln!("{line}");
}

/// Writes `batches` in `format`.
pub fn render(batches: &[RecordBatch], format: Format, out: &mut dyn Write) -> Result<()> {
    buffered(out, |out| match format {
        Format::Table => table(batches, out, false),
        Format::Markdown => table(batches, out, true),
        Format::Json => json(batches, out, false),
        Format::Ndjson => json(batches, out, true),
        Format::Csv => csv(batches, out),
    })
}

/// Bytes the renderers gather before they write.
const OUT_BUFFER: usize = 64 << 10;

/// Runs `write` with a buffer in front of `out`, flushed at the end. The standard output writes
/// each line with a system call of its own: `obsq sql` of 300,000 rows as CSV or JSON made
/// 300,016 `write` calls.
pub(crate) fn buffered(
    out: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let mut buf = std::io::BufWriter::with_capacity(OUT_BUFFER, out);
    write(&mut buf)?;
    buf.flush().map_err(out_err)
}

fn columns(batches: &[RecordBatch]) -> Vec<String> {
    batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default()
}

fn table(batches: &[RecordBatch], out: &mut dyn Write, markdown: bool) -> Result<()> {
    let rows = table_without_count(batches, markdown, out)?;
    if !markdown {
        writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" }).map_err(out_err)?;
    }
    Ok(())
}

/// Writes a boxed (or Markdown) table with no row count; returns the number of rows.
pub(crate) fn table_without_count(
    batches: &[RecordBatch],
    markdown: bool,
    out: &mut dyn Write,
) -> Result<usize> {
    let header = columns(batches);
    let mut t = Table::new();
    t.load_preset(if markdown {
        presets::ASCII_MARKDOWN
    } else {
        presets::UTF8_FULL_CONDENSED
    });
    t.set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(header);
    let mut rows = 0;
    for b in batches {
        for r in 0..b.num_rows() {
            t.add_row(
                b.columns()
                    .iter()
                    .map(|c| cell_text(c.as_ref(), r))
                    .collect::<Vec<_>>(),
            );
            rows += 1;
        }
    }
    writeln!(out, "{t}").map_err(out_err)?;
    Ok(rows)
}

/// A cell as text for tables: ISO times, JS-style numbers, empty for null.
pub fn cell_text(a: &dyn Array, r: usize) -> String {
    if a.is_null(r) {
        return String::new();
    }
    match a.data_type() {
        DataType::Float64 => js_number(a.as_primitive::<Float64Type>().value(r)),
        DataType::Float32 => js_number(a.as_primitive::<Float32Type>().value(r) as f64),
        DataType::Timestamp(unit, _) => iso_ms(ts_ms(a, *unit, r)),
        DataType::Date32 => {
            day_to_string(a.as_primitive::<arrow::datatypes::Date32Type>().value(r))
        }
        _ => ArrayFormatter::try_new(a, &FormatOptions::default())
            .map(|f| f.value(r).to_string())
            .unwrap_or_default(),
    }
}

fn ts_ms(a: &dyn Array, unit: TimeUnit, r: usize) -> i64 {
    use arrow::datatypes::*;
    match unit {
        TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(r) * 1000,
        TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(r),
        TimeUnit::Microsecond => a
            .as_primitive::<TimestampMicrosecondType>()
            .value(r)
            .div_euclid(1000),
        TimeUnit::Nanosecond => a
            .as_primitive::<TimestampNanosecondType>()
            .value(r)
            .div_euclid(1_000_000),
    }
}

/// A cell as a JSON value text: integral floats print without `.0`, as JavaScript does.
pub fn cell_json(a: &dyn Array, r: usize) -> String {
    if a.is_null(r) {
        return "null".into();
    }
    match a.data_type() {
        DataType::Boolean => a.as_boolean().value(r).to_string(),
        DataType::Float64 | DataType::Float32 => cell_text(a, r),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => cell_text(a, r),
        DataType::Decimal128(..) | DataType::Decimal256(..) => cell_text(a, r),
        _ => serde_json::Value::String(cell_text(a, r)).to_string(),
    }
}

fn json(batches: &[RecordBatch], out: &mut dyn Write, lines: bool) -> Result<()> {
    let header: Vec<String> = columns(batches)
        .iter()
        .map(|c| serde_json::Value::String(c.clone()).to_string())
        .collect();
    let mut first = true;
    if !lines {
        write!(out, "[").map_err(out_err)?;
    }
    for b in batches {
        for r in 0..b.num_rows() {
            let mut obj = String::from("{");
            for (i, c) in b.columns().iter().enumerate() {
                if i > 0 {
                    obj.push(',');
                }
                obj.push_str(&header[i]);
                obj.push(':');
                obj.push_str(&cell_json(c.as_ref(), r));
            }
            obj.push('}');
            if lines {
                writeln!(out, "{obj}").map_err(out_err)?;
            } else {
                write!(out, "{}\n  {obj}", if first { "" } else { "," }).map_err(out_err)?;
            }
            first = false;
        }
    }
    if !lines {
        writeln!(out, "{}]", if first { "" } else { "\n" }).map_err(out_err)?;
    }
    Ok(())
}

fn csv(batches: &[RecordBatch], out: &mut dyn Write) -> Result<()> {
    let header = columns(batches);
    writeln!(
        out,
        "{}",
        header
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(",")
    )
    .map_err(out_err)?;
    for b in batches {
        for r in 0..b.num_rows() {
            let row: Vec<String> = b
                .columns()
                .iter()
                .map(|c| csv_field(&cell_text(c.as_ref(), r)))
                .collect();
            writeln!(out, "{}", row.join(",")).map_err(out_err)?;
        }
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A value of a small result table built by a command (summaries, listings).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Str(String),
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Nothing.
    Null,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Str(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Str(s)
    }
}
impl From<u64> for Cell {
    fn from(v: u64) -> Self {
        Cell::Int(v as i64)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Cell::Float(v)
    }
}

/// Builds a batch from rows of cells; each column's type is that of its first non-null cell.
pub fn rows_to_batch(columns: &[&str], rows: &[Vec<Cell>]) -> Result<RecordBatch> {
    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (i, name) in columns.iter().enumerate() {
        let cells: Vec<&Cell> = rows
            .iter()
            .map(|r| r.get(i).unwrap_or(&Cell::Null))
            .collect();
        let kind = cells.iter().find(|c| !matches!(c, Cell::Null));
        let (dt, arr): (DataType, ArrayRef) = match kind {
            Some(Cell::Int(_)) => (
                DataType::Int64,
                Arc::new(Int64Array::from_iter(cells.iter().map(|c| match c {
                    Cell::Int(v) => Some(*v),
                    _ => None,
                }))),
            ),
            Some(Cell::Float(_)) => (
                DataType::Float64,
                Arc::new(Float64Array::from_iter(cells.iter().map(|c| match c {
                    Cell::Float(v) => Some(*v),
                    Cell::Int(v) => Some(*v as f64),
                    _ => None,
                }))),
            ),
            Some(Cell::Bool(_)) => (
                DataType::Boolean,
                Arc::new(arrow::array::BooleanArray::from_iter(cells.iter().map(
                    |c| match c {
                        Cell::Bool(v) => Some(*v),
                        _ => None,
                    },
                ))),
            ),
            _ => (
                DataType::Utf8,
                Arc::new(StringArray::from_iter(cells.iter().map(|c| match c {
                    Cell::Str(s) => Some(s.clone()),
                    Cell::Int(v) => Some(v.to_string()),
                    Cell::Float(v) => Some(js_number(*v)),
                    Cell::Bool(v) => Some(v.to_string()),
                    Cell::Null => None,
                }))),
            ),
        };
        fields.push(Field::new(*name, dt, true));
        arrays.push(arr);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| Error::arrow("building a result table", e))
}

/// One progress event as the original `watch` printed it (times in UTC):
/// `09:12:58Z [run-001] Step 2 RUNNING    40%   Planning`.
pub fn progress_line(
    ts: i64,
    run_id: Option<&str>,
    step: Option<i64>,
    status: &str,
    percentage: f64,
    message: &str,
) -> String {
    let time = iso_ms(ts);
    let clock = time.get(11..19).unwrap_or("");
    let run = run_id.map(|r| format!("[{r}]")).unwrap_or_default();
    let step = step.map(|s| format!("Step {s}")).unwrap_or_default();
    let pct = format!("{}%", js_number(percentage));
    format!(
        "{clock}Z {run} {step} {:<10} {pct:<5} {message}",
        status.to_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    /// A sink that counts the writes it is handed, as the standard output makes a system call
    /// of each.
    #[derive(Default)]
    struct Counting {
        bytes: Vec<u8>,
        writes: usize,
    }

    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Rows reach the sink in a few large writes, not one per line, and the bytes are the
    /// same as rendered into memory.
    #[test]
    fn rows_are_written_in_large_pieces() {
        let n = 5_000;
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(StringArray::from_iter(
                    (0..n).map(|i| Some(format!("skill-{i}"))),
                )),
            ],
        )
        .expect("batch");
        for format in [Format::Csv, Format::Json, Format::Ndjson, Format::Table] {
            let mut sink = Counting::default();
            render(std::slice::from_ref(&batch), format, &mut sink).expect("render");
            let mut plain = Vec::new();
            render(std::slice::from_ref(&batch), format, &mut plain).expect("render");
            assert_eq!(sink.bytes, plain, "{format:?}");
            assert!(sink.bytes.len() > 5 * n as usize, "{format:?}");
            let most = sink.bytes.len() / OUT_BUFFER + 2;
            assert!(sink.writes <= most, "{format:?}: {} writes", sink.writes);
        }
    }
}
