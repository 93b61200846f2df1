//! Parquet encoding of one (stream, day) partition: rows sorted by `ts`, zstd, ~128k-row groups,
//! page-level statistics and the page index, no dictionary for the high-entropy columns.

use arrow::array::{Array, TimestampMillisecondArray};
use arrow::compute::{SortOptions, concat_batches, sort_to_indices, take_record_batch};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::timefmt::day_to_string;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// A partition encoded as one Parquet file, with the stats the catalog keeps.
pub struct Encoded {
    /// The file's bytes.
    pub bytes: Bytes,
    /// Row count.
    pub rows: u64,
    /// Smallest `ts`.
    pub min_ts: i64,
    /// Largest `ts`.
    pub max_ts: i64,
}

/// What every data file says about itself in its key-value metadata: the commit that named it,
/// its stream and its day, so that a file found on its own can be placed.
#[derive(Debug, Clone)]
pub struct FileMeta {
    /// `obsq.commit`.
    pub commit: String,
    /// `obsq.stream`.
    pub stream: Stream,
    /// `obsq.date` (UTC day).
    pub day: i32,
}

impl FileMeta {
    /// The metadata of a file of `stream` and `day` written for commit `commit`.
    pub fn new(commit: &str, stream: Stream, day: i32) -> Self {
        FileMeta {
            commit: commit.to_string(),
            stream,
            day,
        }
    }

    fn key_values(&self) -> Vec<KeyValue> {
        vec![
            KeyValue::new("obsq.commit".into(), self.commit.clone()),
            KeyValue::new("obsq.stream".into(), self.stream.table().to_string()),
            KeyValue::new("obsq.date".into(), day_to_string(self.day)),
        ]
    }
}

impl Encoded {
    /// The file as a commit record names it, once published at `path`.
    pub fn to_added(&self, stream: Stream, day: i32, path: &str) -> crate::store::log::AddedFile {
        crate::store::log::AddedFile {
            path: path.to_string(),
            kind: "data".into(),
            stream: stream.table().into(),
            date: Some(day_to_string(day)),
            rows: self.rows,
            bytes: self.bytes.len() as u64,
            min_ts: Some(self.min_ts),
            max_ts: Some(self.max_ts),
        }
    }
}

/// The writer settings of a data file of `stream`.
pub fn writer_properties(stream: Stream, meta: &FileMeta) -> WriterProperties {
    let zstd = ZstdLevel::try_new(1)
        .map(Compression::ZSTD)
        .unwrap_or(Compression::SNAPPY);
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(meta.key_values()))
        .set_compression(zstd)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .set_column_dictionary_enabled(ColumnPath::from("ts"), false)
        .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
        // Per-event JSON is nearly unique: building a dictionary only to drop it costs time.
        .set_column_dictionary_enabled(ColumnPath::from("metadata"), false)
        .set_column_dictionary_enabled(ColumnPath::from("extra"), false)
        // Measured values (durations, latencies) rarely repeat either; run ids repeat a few times
        // each, and plain + zstd stores them smaller than a dictionary of tens of thousands
        // (1.82 GB skill benchmark: 93.1 → 92.1 MB, and ~2 % less ingest CPU).
        .set_column_dictionary_enabled(ColumnPath::from("duration_ms"), false)
        .set_column_dictionary_enabled(ColumnPath::from("latency_ms"), false)
        .set_column_dictionary_enabled(ColumnPath::from("run_id"), false);
    // Min/max prune row groups and pages only for a column the rows are sorted by (`ts`) or
    // clustered by: a progress run's events are close in time, so its `run_id` may prune. Any
    // page of the other text columns (names, ids, JSON, messages) spans nearly all of their
    // values, and min/max cost two string compares per value (with the dictionary interner,
    // most of the `memcmp` time in ingest profiles): those keep none.
    let run_id = (stream != Stream::Progress).then_some("run_id");
    let no_stats = [
        "skill",
        "agent",
        "result",
        "cuj_id",
        "params",
        "error",
        "error_pattern",
        "status",
        "message",
        "provider",
        "model",
        "metadata",
        "extra",
    ];
    no_stats
        .into_iter()
        .chain(run_id)
        .fold(props, |p, c| {
            p.set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::None)
        })
        .build()
}

/// Concatenates the batches of one partition, sorts them by `ts` and encodes them.
pub fn encode(
    stream: Stream,
    batches: &[RecordBatch],
    name_for_errors: &str,
    meta: &FileMeta,
) -> Result<Encoded> {
    let schema = stream.file_schema();
    // Appended logs arrive in time order: then the batches are written as they are, without
    // concatenating (copying) them first.
    let batches: Vec<RecordBatch> = batches
        .iter()
        .filter(|b| b.num_rows() > 0)
        .cloned()
        .collect();
    let in_order = batches.iter().all(ts_sorted)
        && batches
            .windows(2)
            .all(|w| ts_bounds(&w[0]).1 <= ts_bounds(&w[1]).0);
    let sorted: Vec<RecordBatch> = if in_order {
        batches
    } else {
        let all = concat_batches(&schema, &batches)
            .map_err(|e| Error::arrow("concatenating batches", e))?;
        vec![sort_by_ts(all)?]
    };
    let rows: usize = sorted.iter().map(RecordBatch::num_rows).sum();
    let (min_ts, max_ts) = match (sorted.first(), sorted.last()) {
        (Some(f), Some(l)) => (ts_bounds(f).0, ts_bounds(l).1),
        _ => (0, 0),
    };
    let perr = |source| Error::Parquet {
        path: name_for_errors.to_string(),
        source,
    };
    let size: usize = sorted.iter().map(RecordBatch::get_array_memory_size).sum();
    let mut buf = Vec::with_capacity(size / 6);
    let mut w = ArrowWriter::try_new(&mut buf, schema, Some(writer_properties(stream, meta)))
        .map_err(perr)?;
    for b in &sorted {
        w.write(b).map_err(perr)?;
    }
    w.close().map_err(perr)?;
    Ok(Encoded {
        bytes: Bytes::from(buf),
        rows: rows as u64,
        min_ts,
        max_ts,
    })
}

/// (first, last) `ts` of a batch sorted by `ts` (`i64::MAX`, `i64::MIN` when empty).
pub fn sorted_ts_bounds(b: &RecordBatch) -> (i64, i64) {
    ts_bounds(b)
}

fn ts_values(b: &RecordBatch) -> &[i64] {
    b.column(0)
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .map(|a| a.values().as_ref())
        .unwrap_or(&[])
}

fn ts_sorted(b: &RecordBatch) -> bool {
    ts_values(b).windows(2).all(|w| w[0] <= w[1])
}

/// (first, last) `ts` of a sorted batch; an empty batch fits anywhere.
fn ts_bounds(b: &RecordBatch) -> (i64, i64) {
    let v = ts_values(b);
    (
        v.first().copied().unwrap_or(i64::MAX),
        v.last().copied().unwrap_or(i64::MIN),
    )
}

fn sort_by_ts(batch: RecordBatch) -> Result<RecordBatch> {
    let ts = batch.column(0);
    let idx = sort_to_indices(ts.as_ref(), Some(SortOptions::default()), None)
        .map_err(|e| Error::arrow("sorting by ts", e))?;
    take_record_batch(&batch, &idx).map_err(|e| Error::arrow("sorting by ts", e))
}
