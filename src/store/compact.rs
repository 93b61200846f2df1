//! Compaction: per (stream, day), small files are merged into files of up to a target size as a
//! k-way merge of their sorted rows, streamed from the inputs to the output file (memory holds
//! one batch per input, whatever the partition's size). Every row is kept — compaction never
//! changes an answer. Each merge is one commit (the new file added, the inputs retired), so a
//! reader sees either the old files or the new one. Retired files are deleted only after a grace
//! period, so a query that listed them before the swap still reads them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::time::Instant;

use arrow::array::{ArrayRef, TimestampMillisecondArray, new_null_array};
use arrow::compute::interleave_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::RowGroupMetaData;

use crate::error::{Error, Result};
use crate::model::Stream;

use super::catalog::FileEntry;
use super::commit::{Listing, QUERY_GRACE_MS, Uncommitted, Writer, publish_staged};
use super::fault;
use super::layout::Layout;
use super::log::Record;
use super::objects::Objects;
use super::writer::{FileMeta, writer_properties};

/// Rows per batch read from an input and written to the output, at most.
const BATCH_ROWS: usize = 8192;

/// Bytes of rows (uncompressed) a merge's inputs hold at once, shared among them: an input's
/// batch has fewer than [`BATCH_ROWS`] rows when its rows are long. A file of 0.2–1 MB lines
/// holds a few hundred rows, and a batch of 8192 rows was all of it, for each input at once.
const READ_BYTES: usize = 256 << 20;

/// Inputs one merge reads at once. Each open input holds its current row group's column chunks
/// (measured: 98 inputs of one partition peaked at 448 MiB, 49 at 263 MiB), so the fan-in, not
/// the partition's size, bounds a merge's memory; a crowded partition takes more than one merge.
const MAX_FANIN: usize = 24;

/// What to compact and how.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Only this stream.
    pub stream: Option<Stream>,
    /// Only this UTC day.
    pub day: Option<i32>,
    /// Merged files grow up to about this many bytes.
    pub target_bytes: u64,
    /// A partition is merged when it has at least this many files below the target.
    pub min_files: usize,
    /// Retired files younger than this stay on disk (queries may still read them).
    pub grace_ms: i64,
    /// Files no record names are deleted once older than this (crash orphans).
    pub orphan_grace_ms: i64,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            stream: None,
            day: None,
            target_bytes: 128 << 20,
            min_files: 2,
            grace_ms: QUERY_GRACE_MS,
            orphan_grace_ms: super::commit::ORPHAN_GRACE_MS,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactReport {
    /// Partitions merged.
    pub partitions: u64,
    /// Files merged away.
    pub files_in: u64,
    /// Files written.
    pub files_out: u64,
    /// Rows read.
    pub rows_in: u64,
    /// Rows written (always equal to the rows read).
    pub rows_out: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Retired files deleted after their grace period.
    pub deleted: u64,
    /// Files no record named, deleted after the orphan grace period.
    pub orphans: u64,
    /// Wall time.
    pub seconds: f64,
}

impl CompactReport {
    fn add(&mut self, r: &CompactReport) {
        self.partitions += r.partitions;
        self.files_in += r.files_in;
        self.files_out += r.files_out;
        self.rows_in += r.rows_in;
        self.rows_out += r.rows_out;
        self.bytes_in += r.bytes_in;
        self.bytes_out += r.bytes_out;
    }
}

/// Compacts under the writer lock, then deletes retired files whose grace period is over.
pub fn compact(layout: &Layout, objects: &Objects, opts: &CompactOptions) -> Result<CompactReport> {
    let started = Instant::now();
    let mut writer = Writer::open(layout, objects)?;
    let mut report = compact_locked(&mut writer, opts)?;
    let swept = writer.sweep(opts.grace_ms, opts.orphan_grace_ms, Listing::Always)?;
    report.deleted = swept.retired;
    report.orphans = swept.orphans;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Compacts; the caller holds the writer.
pub fn compact_locked(writer: &mut Writer, opts: &CompactOptions) -> Result<CompactReport> {
    let mut partitions: BTreeMap<(Stream, i32), Vec<FileEntry>> = BTreeMap::new();
    for f in writer.catalog().live_files(opts.stream)? {
        if opts.day.is_none_or(|d| d == f.day) {
            partitions.entry((f.stream, f.day)).or_default().push(f);
        }
    }
    let mut report = CompactReport::default();
    for ((stream, day), files) in partitions {
        let groups = plan(files, opts.target_bytes, opts.min_files.max(2));
        if !groups.is_empty() {
            report.partitions += 1;
        }
        for group in groups {
            merge(writer, stream, day, &group, &mut report)?;
        }
    }
    Ok(report)
}

/// Groups of small files to merge: in time order, each group up to `target` bytes and
/// [`MAX_FANIN`] files; only groups of two or more files, and only in partitions with at least
/// `min_files` small files.
fn plan(mut files: Vec<FileEntry>, target: u64, min_files: usize) -> Vec<Vec<FileEntry>> {
    files.retain(|f| f.bytes < target);
    if files.len() < min_files {
        return Vec::new();
    }
    files.sort_by_key(|f| (f.min_ts, f.max_ts));
    let mut groups: Vec<Vec<FileEntry>> = Vec::new();
    let mut cur: Vec<FileEntry> = Vec::new();
    let mut size = 0;
    for f in files {
        if !cur.is_empty() && (size + f.bytes > target || cur.len() == MAX_FANIN) {
            groups.push(std::mem::take(&mut cur));
            size = 0;
        }
        size += f.bytes;
        cur.push(f);
    }
    groups.push(cur);
    groups.retain(|g| g.len() >= 2);
    groups
}

/// Opens a data file for streaming reads of its rows in `schema` (by column name; a column the
/// file lacks — it was written before the column existed — reads as nulls), in batches of about
/// `batch_bytes` (uncompressed, as its row groups average) and at most [`BATCH_ROWS`] rows.
pub fn open_rows(
    objects: &Objects,
    f: &FileEntry,
    schema: SchemaRef,
    batch_bytes: usize,
) -> Result<StoredRows> {
    let damaged = |problem: String| Error::Damaged {
        path: f.path.clone(),
        problem,
    };
    // A local file that cannot be opened is damaged; an object store that cannot be reached is not.
    let file = objects.open_file(&f.path).map_err(|e| match e {
        Error::Io { source, .. } => damaged(format!("cannot open it ({source})")),
        e => e,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| {
            let groups = b.metadata().row_groups();
            let rows = groups.iter().map(RowGroupMetaData::num_rows).sum();
            let size = groups.iter().map(RowGroupMetaData::total_byte_size).sum();
            b.with_batch_size(batch_rows(rows, size, batch_bytes))
                .build()
        })
        .map_err(|e| damaged(format!("unreadable ({e})")))?;
    Ok(StoredRows {
        reader,
        schema,
        path: f.path.clone(),
    })
}

/// Rows per batch for about `bytes` of a file of `rows` rows taking `size` bytes uncompressed:
/// at least one, at most [`BATCH_ROWS`].
fn batch_rows(rows: i64, size: i64, bytes: usize) -> usize {
    match usize::try_from(size / rows.max(1)) {
        Ok(row) if row > 0 => (bytes / row).clamp(1, BATCH_ROWS),
        _ => BATCH_ROWS,
    }
}

/// The rows of one data file, batch by batch, in the stream's current file schema.
pub struct StoredRows {
    reader: ParquetRecordBatchReader,
    schema: SchemaRef,
    path: String,
}

impl Iterator for StoredRows {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.reader.next()? {
            Ok(b) => b,
            Err(e) => {
                return Some(Err(Error::Damaged {
                    path: self.path.clone(),
                    problem: format!("unreadable ({e})"),
                }));
            }
        };
        let n = batch.num_rows();
        let cols: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|field| match batch.column_by_name(field.name()) {
                Some(c) if c.data_type() == field.data_type() => c.clone(),
                Some(c) => arrow::compute::cast(c, field.data_type())
                    .unwrap_or_else(|_| new_null_array(field.data_type(), n)),
                None => new_null_array(field.data_type(), n),
            })
            .collect();
        Some(
            RecordBatch::try_new(self.schema.clone(), cols)
                .map_err(|e| Error::arrow(format!("reading {}", self.path), e)),
        )
    }
}

/// One input of the merge: its current batch and the next row to take.
struct Cursor {
    rows: StoredRows,
    /// Index of the current batch in the arena.
    batch: usize,
    row: usize,
    len: usize,
}

fn ts_at(b: &RecordBatch, row: usize) -> i64 {
    b.column(0)
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .map_or(0, |a| a.value(row))
}

fn merge(
    writer: &mut Writer,
    stream: Stream,
    day: i32,
    group: &[FileEntry],
    report: &mut CompactReport,
) -> Result<()> {
    let objects = writer.objects().clone();
    let schema = stream.file_schema();
    let commit_id = uuid::Uuid::now_v7().to_string();
    let path = Layout::data_object(stream, day);
    let staging = Layout::staging_object("compact.parquet");
    let local = objects.local_path(&staging);
    if let Some(dir) = local.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    }
    let out = File::create(&local).map_err(|e| Error::io("create", &local, e))?;
    let perr = |source| Error::Parquet {
        path: path.clone(),
        source,
    };
    let props = writer_properties(stream, &FileMeta::new(&commit_id, stream, day));
    let mut w = ArrowWriter::try_new(out, schema.clone(), Some(props)).map_err(perr)?;

    // The k-way merge: a heap of (ts, input) heads; rows are gathered by (batch, row) indices
    // into output batches. `arena` holds the batches that pending indices refer to.
    let mut arena: Vec<RecordBatch> = Vec::new();
    let mut cursors: Vec<Cursor> = Vec::new();
    let mut heap = BinaryHeap::new();
    for f in group {
        let mut rows = open_rows(&objects, f, schema.clone(), READ_BYTES / group.len())?;
        if let Some(b) = next_nonempty(&mut rows)? {
            let i = cursors.len();
            heap.push(Reverse((ts_at(&b, 0), i)));
            cursors.push(Cursor {
                rows,
                batch: arena.len(),
                row: 0,
                len: b.num_rows(),
            });
            arena.push(b);
        }
        report.bytes_in += f.bytes;
        report.files_in += 1;
    }
    let (mut rows_out, mut min_ts, mut max_ts) = (0u64, i64::MAX, i64::MIN);
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(BATCH_ROWS);
    let mut flush = |arena: &mut Vec<RecordBatch>,
                     cursors: &mut Vec<Cursor>,
                     picks: &mut Vec<(usize, usize)>,
                     w: &mut ArrowWriter<File>|
     -> Result<()> {
        if !picks.is_empty() {
            let refs: Vec<&RecordBatch> = arena.iter().collect();
            let b = interleave_record_batch(&refs, picks)
                .map_err(|e| Error::arrow("merging sorted files", e))?;
            min_ts = min_ts.min(ts_at(&b, 0));
            max_ts = max_ts.max(ts_at(&b, b.num_rows() - 1));
            rows_out += b.num_rows() as u64;
            w.write(&b).map_err(|source| Error::Parquet {
                path: path.clone(),
                source,
            })?;
            picks.clear();
        }
        // Keep only the batches the cursors still read.
        let mut kept = Vec::with_capacity(cursors.len());
        for c in cursors.iter_mut() {
            kept.push(arena[c.batch].clone());
            c.batch = kept.len() - 1;
        }
        *arena = kept;
        Ok(())
    };
    while let Some(Reverse((_, i))) = heap.pop() {
        let c = &mut cursors[i];
        picks.push((c.batch, c.row));
        c.row += 1;
        if c.row == c.len {
            // The batch is used up: flush what refers to it, then load the next one.
            flush(&mut arena, &mut cursors, &mut picks, &mut w)?;
            let c = &mut cursors[i];
            if let Some(b) = next_nonempty(&mut c.rows)? {
                c.row = 0;
                c.len = b.num_rows();
                heap.push(Reverse((ts_at(&b, 0), i)));
                arena[c.batch] = b;
            }
        } else {
            let ts = ts_at(&arena[c.batch], c.row);
            heap.push(Reverse((ts, i)));
        }
        if picks.len() >= BATCH_ROWS {
            flush(&mut arena, &mut cursors, &mut picks, &mut w)?;
        }
    }
    flush(&mut arena, &mut cursors, &mut picks, &mut w)?;
    let file = w.into_inner().map_err(perr)?;
    file.sync_all().map_err(|e| Error::io("fsync", &local, e))?;
    let bytes = file
        .metadata()
        .map_err(|e| Error::io("stat", &local, e))?
        .len();
    drop(file);
    fault::point("compact-written");
    let rows_in: u64 = group.iter().map(|f| f.rows).sum();
    if rows_out != rows_in {
        objects.delete(&staging)?;
        return Err(Error::Usage(format!(
            "compaction of {} {} read {rows_out} rows where the log records {rows_in}: nothing was committed; run `obsq doctor --deep`",
            stream.table(),
            crate::model::timefmt::day_to_string(day)
        )));
    }
    let mut guard = Uncommitted::new(&objects);
    guard.push(&path);
    publish_staged(&objects, &staging, &path)?;
    let mut rec = Record::new("compact", &commit_id);
    rec.add.push(
        FileEntry {
            stream,
            day,
            path,
            rows: rows_out,
            bytes,
            min_ts,
            max_ts,
        }
        .to_added(),
    );
    rec.retire = group.iter().map(|f| f.path.clone()).collect();
    writer.commit_files(rec, Some(&mut guard))?;
    report.rows_in += rows_in;
    report.rows_out += rows_out;
    report.files_out += 1;
    report.bytes_out += bytes;
    Ok(())
}

fn next_nonempty(rows: &mut StoredRows) -> Result<Option<RecordBatch>> {
    for b in rows.by_ref() {
        let b = b?;
        if b.num_rows() > 0 {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

/// Compacts every partition holding more than `more_than` files below the target size (the
/// trigger `ingest` runs after its commits); the caller holds the writer.
pub fn compact_crowded(writer: &mut Writer, more_than: usize) -> Result<CompactReport> {
    let defaults = CompactOptions::default();
    let crowded = writer
        .catalog()
        .crowded_partitions(defaults.target_bytes, more_than)?;
    let mut total = CompactReport::default();
    for (stream, day) in crowded {
        let opts = CompactOptions {
            stream: Some(stream),
            day: Some(day),
            ..defaults.clone()
        };
        total.add(&compact_locked(writer, &opts)?);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(min_ts: i64, bytes: u64) -> FileEntry {
        FileEntry {
            stream: Stream::Cuj,
            day: 0,
            path: format!("f{min_ts}"),
            rows: 1,
            bytes,
            min_ts,
            max_ts: min_ts,
        }
    }

    #[test]
    fn batches_hold_about_their_bytes_of_rows() {
        // 300-byte rows: all 8192 fit in 16 MiB; 600 KB rows: 27 of them.
        assert_eq!(batch_rows(100_000, 30_000_000, 16 << 20), BATCH_ROWS);
        assert_eq!(batch_rows(400, 240_000_000, 16 << 20), 27);
        // A row larger than the budget is still read, one at a time.
        assert_eq!(batch_rows(10, 100 << 20, 1 << 20), 1);
        // A file without rows or sizes reads as before.
        assert_eq!(batch_rows(0, 0, 1 << 20), BATCH_ROWS);
        assert_eq!(batch_rows(5, 0, 1 << 20), BATCH_ROWS);
    }

    #[test]
    fn plans_groups_up_to_the_target_in_time_order() {
        let files = vec![
            file(3, 40),
            file(1, 40),
            file(2, 40),
            file(4, 200),
            file(5, 10),
        ];
        let groups = plan(files, 100, 2);
        let names: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|f| f.path.as_str()).collect())
            .collect();
        // f4 is at the target already; f1+f2 fill one group, f3+f5 the next.
        assert_eq!(names, vec![vec!["f1", "f2"], vec!["f3", "f5"]]);
        assert!(plan(vec![file(1, 10)], 100, 2).is_empty());
        assert!(plan(vec![file(1, 10), file(2, 10)], 100, 3).is_empty());
        // Many tiny files: groups of at most MAX_FANIN.
        let many: Vec<FileEntry> = (0..60).map(|i| file(i, 1)).collect();
        let sizes: Vec<usize> = plan(many, 1 << 30, 2).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![MAX_FANIN, MAX_FANIN, 60 - 2 * MAX_FANIN]);
    }
}
