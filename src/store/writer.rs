//! Parquet encoding of one (stream, day) partition: rows sorted by `ts`, zstd, ~128k-row groups,
//! page-level statistics and the page index, no dictionary for the high-entropy columns.

use arrow::array::{Array, TimestampMillisecondArray};
use arrow::compute::{SortOptions, concat_batches, sort_to_indices, take_record_batch};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::model::Stream;

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

/// The writer settings of every data file.
pub fn writer_properties() -> WriterProperties {
    let zstd = ZstdLevel::try_new(3)
        .map(Compression::ZSTD)
        .unwrap_or(Compression::SNAPPY);
    WriterProperties::builder()
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
        .set_column_dictionary_enabled(ColumnPath::from("event_id"), false)
        .build()
}

/// Concatenates the batches of one partition, sorts them by `ts` and encodes them.
pub fn encode(stream: Stream, batches: &[RecordBatch], name_for_errors: &str) -> Result<Encoded> {
    let schema = stream.file_schema();
    let all =
        concat_batches(&schema, batches).map_err(|e| Error::arrow("concatenating batches", e))?;
    let sorted = sort_by_ts(all)?;
    let ts = sorted
        .column(0)
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .ok_or_else(|| Error::Usage("ts column has the wrong type".into()))?;
    let (min_ts, max_ts) = if ts.is_empty() {
        (0, 0)
    } else {
        (ts.value(0), ts.value(ts.len() - 1))
    };
    let perr = |source| Error::Parquet {
        path: name_for_errors.to_string(),
        source,
    };
    let mut buf = Vec::with_capacity(sorted.get_array_memory_size() / 6);
    let mut w = ArrowWriter::try_new(&mut buf, schema, Some(writer_properties())).map_err(perr)?;
    w.write(&sorted).map_err(perr)?;
    w.close().map_err(perr)?;
    Ok(Encoded {
        bytes: Bytes::from(buf),
        rows: sorted.num_rows() as u64,
        min_ts,
        max_ts,
    })
}

fn sort_by_ts(batch: RecordBatch) -> Result<RecordBatch> {
    let ts = batch.column(0);
    let ts_arr = ts
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .ok_or_else(|| Error::Usage("ts column has the wrong type".into()))?;
    // Appended logs are nearly always in order already: skip the sort then.
    if ts_arr.values().windows(2).all(|w| w[0] <= w[1]) {
        return Ok(batch);
    }
    let idx = sort_to_indices(ts.as_ref(), Some(SortOptions::default()), None)
        .map_err(|e| Error::arrow("sorting by ts", e))?;
    take_record_batch(&batch, &idx).map_err(|e| Error::arrow("sorting by ts", e))
}
