//! Parquet encoding of one (stream, day) partition: rows sorted by `ts`, zstd, ~128k-row groups,
//! page-level statistics and the page index, no dictionary for the high-entropy columns.

use std::fs::File;
use std::io::Write;

use arrow::array::{Array, TimestampMillisecondArray};
use arrow::compute::{
    SortOptions, concat, concat_batches, interleave_record_batch, sort_to_indices,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::timefmt::day_to_string;

use super::fault;
use super::layout::Layout;
use super::objects::Objects;

/// Batches with fewer rows are concatenated before they are written (see [`encode`]).
const SMALL_BATCH_ROWS: usize = 1024;

/// Small batches are joined until they hold this much memory (or 8 × [`SMALL_BATCH_ROWS`] rows).
const SMALL_GROUP_BYTES: usize = 8 << 20;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Encoded bytes at which a row group ends before [`ROW_GROUP_ROWS`]: the writer holds a row
/// group's pages until it ends, and 128k rows of long lines are gigabytes.
const ROW_GROUP_BYTES: usize = 64 << 20;

/// Bytes of a data page (before compression) at which the writer starts the next one: a page is
/// built in a growing buffer, copied, then compressed, and at Parquet's default 1 MiB those
/// buffers left the core's cache. Measured on ext4 (medians of 9, alternating): ingest of the
/// long-text skill log 4.09 → 3.98 s (CPU 7.94 → 7.74 s), of the tools log 3.33 → 3.28 s; perf
/// put it in `memmove` (597 → 393 ms) and the kernel's copy of the written file. Smaller pages
/// compress a little worse: stored size +0.2 % (tools) to +0.9 % (long-text, foreign); pages
/// of 128 KiB cost up to +2.9 % (long-text).
const DATA_PAGE_BYTES: usize = 256 << 10;

/// A partition encoded as one Parquet file in staging, with the stats the catalog keeps.
pub struct Encoded {
    /// The staging object that holds the file (written, not yet synced: see
    /// [`crate::store::commit::publish_all_staged`]).
    pub staging: String,
    /// The file's size.
    pub bytes: u64,
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
            bytes: self.bytes,
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
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_data_page_size_limit(DATA_PAGE_BYTES)
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

/// Encodes the batches of one partition, sorted by `ts`, into a new staging file of `objects`
/// (removed again if encoding fails); `path` is where it will be published. Streaming the file
/// out as it is encoded keeps no copy of it in memory: an in-memory file of a flush of long,
/// poorly compressible lines was nearly as large as its rows, and its buffer's doublings left
/// freed blocks the allocator kept (backfill of 2.6 GB of 0.2–1 MB base64 texts: peak RSS
/// 1,086 → 921 MiB).
pub fn encode(
    objects: &Objects,
    stream: Stream,
    batches: &[RecordBatch],
    path: &str,
    meta: &FileMeta,
) -> Result<Encoded> {
    let staging = Layout::staging_object(path.rsplit('/').next().unwrap_or("data.parquet"));
    let local = objects.local_path(&staging);
    if let Some(dir) = local.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    }
    fault::write_point("write").map_err(|e| Error::io("write", &local, e))?;
    let file = File::create(&local).map_err(|e| Error::io("create", &local, e))?;
    let written = encode_into(file, stream, batches, path, meta).and_then(|w| {
        let bytes = w
            .sink
            .metadata()
            .map_err(|e| Error::io("stat", &local, e))?
            .len();
        Ok(Encoded {
            staging: staging.clone(),
            bytes,
            rows: w.rows,
            min_ts: w.min_ts,
            max_ts: w.max_ts,
        })
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&local);
    }
    written
}

/// What [`encode_into`] wrote: its sink back, the rows and their `ts` bounds.
struct Written<W> {
    sink: W,
    rows: u64,
    min_ts: i64,
    max_ts: i64,
}

/// Encodes the batches of one partition sorted by `ts` into `sink`. Appended logs arrive in time
/// order, and then the batches are written as they are; otherwise the rows are put in order one
/// row group at a time, so that sorting costs one row group's copy, not two of the whole
/// partition (concatenated, then taken: 256 MiB of out-of-order multi-KB lines peaked 350 MiB
/// higher).
fn encode_into<W: Write + Send>(
    sink: W,
    stream: Stream,
    batches: &[RecordBatch],
    name_for_errors: &str,
    meta: &FileMeta,
) -> Result<Written<W>> {
    let schema = stream.file_schema();
    let batches: Vec<&RecordBatch> = batches.iter().filter(|b| b.num_rows() > 0).collect();
    let in_order = batches.iter().all(|b| ts_sorted(b))
        && batches
            .windows(2)
            .all(|w| ts_bounds(w[0]).1 <= ts_bounds(w[1]).0);
    let order = if in_order {
        None
    } else {
        Some(ts_order(&batches)?)
    };
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let (min_ts, max_ts) = match &order {
        Some(order) => match (order.first(), order.last()) {
            (Some(&(fb, fr)), Some(&(lb, lr))) => {
                (ts_values(batches[fb])[fr], ts_values(batches[lb])[lr])
            }
            _ => (0, 0),
        },
        None => match (batches.first(), batches.last()) {
            (Some(f), Some(l)) => (ts_bounds(f).0, ts_bounds(l).1),
            _ => (0, 0),
        },
    };
    let perr = |source| Error::Parquet {
        path: name_for_errors.to_string(),
        source,
    };
    let mut w = ArrowWriter::try_new(sink, schema.clone(), Some(writer_properties(stream, meta)))
        .map_err(perr)?;
    match order {
        None => {
            // Small batches (a chunk of lines of many days gives each day a few hundred rows)
            // are written a few thousand rows at a time: each `write` costs a pass of the
            // writer's per-column set-up, which on 200-row batches was more than the copy.
            // A group is also cut at SMALL_GROUP_BYTES: batches of a few long lines each were
            // all joined into one copy of the whole partition.
            let mut small: Vec<&RecordBatch> = Vec::new();
            let (mut small_rows, mut small_bytes) = (0, 0);
            for b in &batches {
                let large = b.num_rows() >= SMALL_BATCH_ROWS;
                if !large {
                    small.push(b);
                    small_rows += b.num_rows();
                    small_bytes += b.get_array_memory_size();
                }
                if large || small_rows >= 8 * SMALL_BATCH_ROWS || small_bytes >= SMALL_GROUP_BYTES {
                    let group = std::mem::take(&mut small);
                    write_together(&mut w, &schema, &group, name_for_errors)?;
                    (small_rows, small_bytes) = (0, 0);
                }
                if large {
                    w.write(b).map_err(perr)?;
                }
            }
            write_together(&mut w, &schema, &small, name_for_errors)?;
        }
        Some(order) => {
            for group in order.chunks(ROW_GROUP_ROWS) {
                let b = interleave_record_batch(&batches, group)
                    .map_err(|e| Error::arrow("sorting by ts", e))?;
                w.write(&b).map_err(perr)?;
            }
        }
    }
    let sink = w.into_inner().map_err(perr)?;
    Ok(Written {
        sink,
        rows: rows as u64,
        min_ts,
        max_ts,
    })
}

/// The rows of `batches` in `ts` order, as (batch, row): the order `sort_to_indices` gives their
/// concatenated `ts` column (only that column is concatenated).
fn ts_order(batches: &[&RecordBatch]) -> Result<Vec<(usize, usize)>> {
    let ts: Vec<&dyn Array> = batches.iter().map(|b| b.column(0).as_ref()).collect();
    let all = concat(&ts).map_err(|e| Error::arrow("sorting by ts", e))?;
    let idx = sort_to_indices(all.as_ref(), Some(SortOptions::default()), None)
        .map_err(|e| Error::arrow("sorting by ts", e))?;
    let at: Vec<(usize, usize)> = batches
        .iter()
        .enumerate()
        .flat_map(|(i, b)| (0..b.num_rows()).map(move |r| (i, r)))
        .collect();
    Ok(idx.values().iter().map(|&i| at[i as usize]).collect())
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

/// Writes `batches` as one: concatenated when there are several.
fn write_together<W: Write + Send>(
    w: &mut ArrowWriter<W>,
    schema: &SchemaRef,
    batches: &[&RecordBatch],
    name_for_errors: &str,
) -> Result<()> {
    let perr = |source| Error::Parquet {
        path: name_for_errors.to_string(),
        source,
    };
    match batches {
        [] => Ok(()),
        [one] => w.write(one).map_err(perr),
        many => {
            let b = concat_batches(schema, many.iter().copied())
                .map_err(|e| Error::arrow("joining small batches", e))?;
            w.write(&b).map_err(perr)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::decode::decode_lines;
    use arrow::array::StringArray;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// One day's CUJ lines whose `cuj_id` names their own millisecond, in shuffled order.
    fn shuffled_batches(rows: usize, parts: usize) -> Vec<RecordBatch> {
        let day = 1_795_824_000_000i64; // 2026-11-28T00:00:00Z
        let mut ms: Vec<i64> = (0..rows as i64).map(|i| (i * 7919) % 86_000_000).collect();
        // Ties in `ts` too: every tenth row repeats its neighbour's millisecond.
        for i in (10..rows).step_by(10) {
            ms[i] = ms[i - 1];
        }
        ms.chunks(rows / parts)
            .flat_map(|chunk| {
                let text: String = chunk
                    .iter()
                    .map(|m| {
                        let ts = crate::model::timefmt::iso_ms(day + m);
                        format!("{{\"timestamp\":\"{ts}\",\"cuj_id\":\"C{m}\",\"success\":true}}\n")
                    })
                    .collect();
                let d = decode_lines(Stream::Cuj, text.as_bytes(), 0, 1);
                assert!(d.rejected.is_empty());
                d.batches.into_iter().map(|(_, b)| b).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn out_of_order_rows_are_written_sorted_one_row_group_at_a_time() {
        let batches = shuffled_batches(300_000, 3);
        let meta = FileMeta::new("c", Stream::Cuj, 20_785);
        let e = encode_into(Vec::new(), Stream::Cuj, &batches, "t", &meta).unwrap();
        assert_eq!(e.rows, 300_000);
        let r = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(e.sink)).unwrap();
        assert_eq!(r.metadata().num_row_groups(), 3);
        let mut last = i64::MIN;
        let mut seen = Vec::new();
        for b in r.build().unwrap() {
            let b = b.unwrap();
            let ids = b.column_by_name("cuj_id").unwrap();
            let ids = ids.as_any().downcast_ref::<StringArray>().unwrap();
            for (i, &ts) in ts_values(&b).iter().enumerate() {
                assert!(ts >= last, "sorted by ts");
                last = ts;
                // Each row keeps its own columns: the id still names its millisecond.
                assert_eq!(ids.value(i), format!("C{}", ts - 1_795_824_000_000));
                seen.push(ts);
            }
        }
        let mut want: Vec<i64> = batches.iter().flat_map(|b| ts_values(b).to_vec()).collect();
        want.sort();
        assert_eq!(seen, want, "every row once");
        assert_eq!((e.min_ts, e.max_ts), (want[0], want[want.len() - 1]));
    }

    /// In-order batches of any sizes (small ones written together) come back as they went in.
    #[test]
    fn small_and_large_batches_in_order_come_back_as_written() {
        let sizes = [150, 90, 2000, 1, 700, 400, 5000, 30, 1023, 1024, 7];
        let mut m = 0i64;
        let batches: Vec<RecordBatch> = sizes
            .iter()
            .map(|&n| {
                let text: String = (0..n)
                    .map(|_| {
                        m += 3;
                        let ts = crate::model::timefmt::iso_ms(1_795_824_000_000 + m);
                        format!("{{\"timestamp\":\"{ts}\",\"cuj_id\":\"C{m}\",\"success\":true}}\n")
                    })
                    .collect();
                let mut d = decode_lines(Stream::Cuj, text.as_bytes(), 0, 1);
                assert_eq!(d.batches.len(), 1);
                d.batches.remove(0).1
            })
            .collect();
        let meta = FileMeta::new("c", Stream::Cuj, 20_785);
        let e = encode_into(Vec::new(), Stream::Cuj, &batches, "t", &meta).unwrap();
        let want = concat_batches(&Stream::Cuj.file_schema(), &batches).unwrap();
        assert_eq!(e.rows as usize, want.num_rows());
        let r = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(e.sink)).unwrap();
        let got: Vec<RecordBatch> = r.build().unwrap().map(Result::unwrap).collect();
        let got = concat_batches(&Stream::Cuj.file_schema(), &got).unwrap();
        assert_eq!(got, want);
    }

    /// `count` skill lines of `n` bytes of error text each, one per batch (as a chunk of long
    /// lines decodes), one millisecond apart. Two distinct lines are decoded (decoding in a
    /// test build is slow) and their batches repeated with their own `ts`: each text is a
    /// page of its own, compressed on its own, so repeats compress no better.
    fn long_line_batches(count: usize, n: usize) -> Vec<RecordBatch> {
        let decoded: Vec<RecordBatch> = (0..2)
            .map(|i| {
                // Pseudo-random letters (xorshift): text that compresses little, as a base64
                // blob or a unique trace does.
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ i as u64;
                let text: String = (0..n)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        char::from(b'a' + (x % 26) as u8)
                    })
                    .collect();
                let ts = crate::model::timefmt::iso_ms(1_795_824_000_000);
                let line = format!(
                    "{{\"timestamp\":\"{ts}\",\"skill\":\"s\",\"result\":\"failure\",\"error\":\"{text}\"}}\n"
                );
                let mut d = decode_lines(Stream::Skill, line.as_bytes(), 0, 1);
                assert!(d.rejected.is_empty());
                d.batches.remove(0).1
            })
            .collect();
        (0..count)
            .map(|i| {
                let b = &decoded[i % 2];
                let ts = arrow::array::TimestampMillisecondArray::from(vec![
                    1_795_824_000_000 + i as i64,
                ])
                .with_timezone("UTC");
                let mut columns = b.columns().to_vec();
                columns[0] = std::sync::Arc::new(ts);
                RecordBatch::try_new(b.schema(), columns).unwrap()
            })
            .collect()
    }

    /// Rows of long texts end a row group at ROW_GROUP_BYTES, long before ROW_GROUP_ROWS: the
    /// writer holds a row group until it ends.
    #[test]
    fn long_rows_end_row_groups_by_their_bytes() {
        // Lines just under the 1 MiB limit; ~95 MB compressed in all.
        let batches = long_line_batches(160, (1 << 20) - 4096);
        let meta = FileMeta::new("c", Stream::Skill, 20_785);
        let e = encode_into(Vec::new(), Stream::Skill, &batches, "t", &meta).unwrap();
        assert_eq!(e.rows, 160);
        let r = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(e.sink)).unwrap();
        let groups = r.metadata().row_groups();
        assert!(groups.len() >= 2, "{} row groups", groups.len());
        for g in groups {
            assert!(
                (g.compressed_size() as usize) < 2 * ROW_GROUP_BYTES,
                "a row group of {} bytes",
                g.compressed_size()
            );
        }
        let got: usize = r.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(got, 160);
    }

    #[test]
    fn encode_streams_the_file_into_staging_and_leaves_nothing_when_it_fails() {
        let (dir, _rt, objects) = crate::store::objects::temp_root();
        let batches = long_line_batches(3, 1000);
        let meta = FileMeta::new("c", Stream::Skill, 20_785);
        let path = Layout::data_object(Stream::Skill, 20_785);
        let e = encode(&objects, Stream::Skill, &batches, &path, &meta).unwrap();
        assert!(e.staging.starts_with("staging/"), "{}", e.staging);
        let bytes = std::fs::read(objects.local_path(&e.staging)).unwrap();
        assert_eq!(bytes.len() as u64, e.bytes);
        let r = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(r.metadata().file_metadata().num_rows(), 3);
        std::fs::remove_file(objects.local_path(&e.staging)).unwrap();

        // Batches of another stream's schema cannot be written: an error, and no staging file.
        let cuj = shuffled_batches(100, 1);
        assert!(encode(&objects, Stream::Skill, &cuj, &path, &meta).is_err());
        let left = std::fs::read_dir(dir.path().join("staging"))
            .unwrap()
            .count();
        assert_eq!(left, 0, "a failed encode removes its staging file");
    }
}
