//! Arrow batch building: normalized events → one [`RecordBatch`] per stream and UTC day, with
//! `error_pattern` derived on the way (`event_id` is derived at query time: see [`super::identity`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::record_batch::RecordBatch;

use super::parse::Normalized;
use super::pattern::error_pattern_cached;
use super::schema::{Col, Stream};
use super::timefmt::day_of_ms;

enum ColBuilder {
    Ts(TimestampMillisecondBuilder),
    Str(StringBuilder),
    F64(Float64Builder),
    I64(Int64Builder),
    Bool(BooleanBuilder),
}

/// Accumulates the rows of one stream (all for one day, or not: the caller decides).
pub struct BatchBuilder {
    stream: Stream,
    cols: Vec<(Col, ColBuilder)>,
    rows: usize,
}

impl BatchBuilder {
    /// An empty builder for `stream`.
    pub fn new(stream: Stream) -> Self {
        Self::with_capacity(stream, 1024)
    }

    /// An empty builder for `stream` sized for about `rows` rows (growing a builder copies it:
    /// that was a visible share of ingest time).
    pub fn with_capacity(stream: Stream, rows: usize) -> Self {
        let cols = stream
            .stored_columns()
            .map(|c| {
                let b = match c {
                    Col::Ts => ColBuilder::Ts(
                        TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
                    ),
                    Col::DurationMs | Col::Percentage | Col::LatencyMs => {
                        ColBuilder::F64(Float64Builder::with_capacity(rows))
                    }
                    Col::CacheHit | Col::Success => {
                        ColBuilder::Bool(BooleanBuilder::with_capacity(rows))
                    }
                    Col::Step => ColBuilder::I64(Int64Builder::with_capacity(rows)),
                    // Typical value sizes: JSON documents and messages ~50 bytes, names ~16,
                    // error texts and unknown fields mostly null.
                    Col::Params | Col::Metadata | Col::Message => {
                        ColBuilder::Str(StringBuilder::with_capacity(rows, rows * 48))
                    }
                    Col::Error | Col::ErrorPattern | Col::Extra => {
                        ColBuilder::Str(StringBuilder::with_capacity(rows, rows * 4))
                    }
                    _ => ColBuilder::Str(StringBuilder::with_capacity(rows, rows * 16)),
                };
                (c, b)
            })
            .collect();
        BatchBuilder {
            stream,
            cols,
            rows: 0,
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row was appended.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one event.
    pub fn append(&mut self, n: &Normalized<'_>) {
        let pattern = n.error.as_deref().map(error_pattern_cached);
        for (col, b) in &mut self.cols {
            match b {
                ColBuilder::Ts(b) => b.append_value(n.ts),
                ColBuilder::F64(b) => b.append_option(match col {
                    Col::DurationMs => n.duration_ms,
                    Col::Percentage => n.percentage,
                    _ => n.latency_ms,
                }),
                ColBuilder::Bool(b) => b.append_option(match col {
                    Col::CacheHit => n.cache_hit,
                    _ => n.success,
                }),
                ColBuilder::I64(b) => b.append_option(n.step),
                ColBuilder::Str(b) => match col {
                    Col::ErrorPattern => b.append_option(pattern.as_deref()),
                    Col::Extra => b.append_option(n.extra.as_deref()),
                    Col::Metadata => b.append_value(&n.metadata),
                    _ => b.append_option(text_of(n, *col)),
                },
            }
        }
        self.rows += 1;
    }

    /// Finishes the batch (the builder is left empty and reusable).
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .cols
            .iter_mut()
            .map(|(_, b)| -> ArrayRef {
                match b {
                    ColBuilder::Ts(b) => Arc::new(b.finish()),
                    ColBuilder::Str(b) => Arc::new(b.finish()),
                    ColBuilder::F64(b) => Arc::new(b.finish()),
                    ColBuilder::I64(b) => Arc::new(b.finish()),
                    ColBuilder::Bool(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        // The builders follow the schema column by column, so this cannot fail.
        RecordBatch::try_new(self.stream.file_schema(), arrays)
            .expect("builders match the stream schema")
    }
}

fn text_of<'n>(n: &'n Normalized<'_>, col: Col) -> Option<&'n str> {
    match col {
        Col::Skill => n.skill.as_deref(),
        Col::Agent => n.agent.as_deref(),
        Col::Result => n.result.as_deref(),
        Col::RunId => n.run_id.as_deref(),
        Col::CujId => n.cuj_id.as_deref(),
        Col::Params => n.params.as_deref(),
        Col::Error => n.error.as_deref(),
        Col::Status => n.status.as_deref(),
        Col::Message => n.message.as_deref(),
        Col::Provider => n.provider.as_deref(),
        Col::Model => n.model.as_deref(),
        _ => None,
    }
}

/// Rows of one stream split by UTC day as they are appended.
pub struct DayBatches {
    stream: Stream,
    days: BTreeMap<i32, BatchBuilder>,
    rows_hint: usize,
}

impl DayBatches {
    /// Empty, for `stream`.
    pub fn new(stream: Stream) -> Self {
        Self::with_capacity(stream, 1024)
    }

    /// Empty, for `stream`, each day's builder sized for about `rows` rows.
    pub fn with_capacity(stream: Stream, rows: usize) -> Self {
        DayBatches {
            stream,
            days: BTreeMap::new(),
            rows_hint: rows,
        }
    }

    /// Appends one event to its day's builder.
    pub fn append(&mut self, n: &Normalized<'_>) {
        let (stream, rows) = (self.stream, self.rows_hint);
        self.days
            .entry(day_of_ms(n.ts))
            .or_insert_with(|| BatchBuilder::with_capacity(stream, rows))
            .append(n);
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.days.values().map(BatchBuilder::len).sum()
    }

    /// Finishes every day's batch: `(day, batch)` in day order.
    pub fn finish(mut self) -> Vec<(i32, RecordBatch)> {
        self.days
            .iter_mut()
            .filter(|(_, b)| !b.is_empty())
            .map(|(d, b)| (*d, b.finish()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_line;

    #[test]
    fn batches_follow_the_schema_and_split_by_day() {
        let a = r#"{"timestamp":"2026-11-27T23:59:59.999Z","cuj_id":"C","success":false,"error":"Timeout after 30000ms"}"#;
        let b = r#"{"timestamp":"2026-11-28T00:00:00.000Z","cuj_id":"C","success":true,"duration_ms":5}"#;
        let mut days = DayBatches::new(Stream::Cuj);
        for l in [a, b, a] {
            days.append(&parse_line(Stream::Cuj, l.as_bytes()).unwrap());
        }
        let out = days.finish();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1.num_rows(), 2);
        assert_eq!(out[0].1.schema(), Stream::Cuj.file_schema());
        assert!(
            out[0].1.column_by_name("event_id").is_none(),
            "derived, not stored"
        );
        let pat = out[0].1.column_by_name("error_pattern").unwrap();
        let pat = pat
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        assert_eq!(pat.value(0), "Timeout after <duration>");
    }
}
