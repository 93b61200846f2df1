//! Compaction: per (stream, day), small files are merged into files of up to a target size, rows
//! sorted by `ts` and duplicate `event_id`s dropped. Each merge is one catalog commit (the new
//! file live, the old ones retired), so a reader sees either the old files or the new one, never
//! both. Retired files are deleted only after a grace period, so a query that listed them before
//! the swap still reads them.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::identity::{event_hashes, id_input_arrays};
use crate::model::timefmt::now_ms;

use super::catalog::{Catalog, Commit, FileEntry};
use super::ingest::{WriterLock, publish, recover};
use super::layout::Layout;
use super::objects::Objects;
use super::writer::encode;

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
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            stream: None,
            day: None,
            target_bytes: 128 << 20,
            min_files: 2,
            grace_ms: 10 * 60_000,
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
    /// Rows written (rows read minus duplicate events).
    pub rows_out: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Retired files deleted after their grace period.
    pub deleted: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Compacts under the writer lock, then deletes retired files whose grace period is over.
pub fn compact(layout: &Layout, objects: &Objects, opts: &CompactOptions) -> Result<CompactReport> {
    let started = Instant::now();
    let _lock = WriterLock::acquire(layout)?;
    let mut catalog = Catalog::open(&layout.catalog())?;
    recover(objects, &catalog)?;
    let mut report = compact_locked(objects, &mut catalog, opts)?;
    report.deleted = delete_retired(objects, &catalog, opts.grace_ms)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Compacts; the caller holds the [`WriterLock`].
pub fn compact_locked(
    objects: &Objects,
    catalog: &mut Catalog,
    opts: &CompactOptions,
) -> Result<CompactReport> {
    let mut partitions: BTreeMap<(Stream, i32), Vec<FileEntry>> = BTreeMap::new();
    for f in catalog.live_files(opts.stream)? {
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
            merge(objects, catalog, stream, day, &group, &mut report)?;
        }
    }
    Ok(report)
}

/// Groups of small files to merge: in time order, each group up to `target` bytes; only groups
/// of two or more files, and only in partitions with at least `min_files` small files.
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
        if !cur.is_empty() && size + f.bytes > target {
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

fn merge(
    objects: &Objects,
    catalog: &mut Catalog,
    stream: Stream,
    day: i32,
    group: &[FileEntry],
    report: &mut CompactReport,
) -> Result<()> {
    let schema = stream.file_schema();
    let mut seen: HashSet<u128> = HashSet::new();
    let mut batches = Vec::new();
    for f in group {
        let data = objects.get(&f.path)?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(data)
            .and_then(|b| b.with_batch_size(64 * 1024).build())
            .map_err(|source| Error::Parquet {
                path: f.path.clone(),
                source,
            })?;
        for batch in reader {
            let batch = batch.map_err(|e| Error::arrow(format!("reading {}", f.path), e))?;
            // The stored columns by name, in this stream's exact schema (files written before
            // `event_id` became derived also hold that column; field metadata may differ).
            let batch = schema
                .fields()
                .iter()
                .map(|f| batch.column_by_name(f.name()).cloned())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    arrow::error::ArrowError::SchemaError("a stored column is missing".into())
                })
                .and_then(|cols| RecordBatch::try_new(schema.clone(), cols))
                .map_err(|e| Error::arrow(format!("reading {}", f.path), e))?;
            let ids = id_input_arrays(stream, &batch)
                .and_then(|inputs| event_hashes(stream, &inputs))
                .map_err(|e| Error::arrow("computing event ids", e))?;
            let keep: BooleanArray = ids.into_iter().map(|id| Some(seen.insert(id))).collect();
            report.rows_in += batch.num_rows() as u64;
            let batch = filter_record_batch(&batch, &keep)
                .map_err(|e| Error::arrow("dropping duplicate events", e))?;
            report.rows_out += batch.num_rows() as u64;
            batches.push(batch);
        }
        report.bytes_in += f.bytes;
        report.files_in += 1;
    }
    let path = Layout::data_object(stream, day);
    let encoded = encode(stream, &batches, &path)?;
    let bytes = encoded.bytes.len() as u64;
    publish(objects, &path, encoded.bytes)?;
    catalog.commit(&Commit {
        files: vec![FileEntry {
            stream,
            day,
            path,
            rows: encoded.rows,
            bytes,
            min_ts: encoded.min_ts,
            max_ts: encoded.max_ts,
        }],
        retire: group.iter().map(|f| f.path.clone()).collect(),
        ..Commit::default()
    })?;
    report.files_out += 1;
    report.bytes_out += bytes;
    Ok(())
}

/// Deletes retired files older than the grace period, then forgets them.
pub fn delete_retired(objects: &Objects, catalog: &Catalog, grace_ms: i64) -> Result<u64> {
    let paths = catalog.retired_before(now_ms() - grace_ms.max(0))?;
    for p in &paths {
        objects.delete(p)?;
    }
    catalog.forget_retired(&paths)?;
    Ok(paths.len() as u64)
}

/// Compacts every partition holding more than `more_than` files below the target size (the
/// trigger `ingest` runs after its commits); the caller holds the [`WriterLock`].
pub fn compact_crowded(
    objects: &Objects,
    catalog: &mut Catalog,
    more_than: usize,
) -> Result<CompactReport> {
    let defaults = CompactOptions::default();
    let mut small: BTreeMap<(Stream, i32), usize> = BTreeMap::new();
    for f in catalog.live_files(None)? {
        if f.bytes < defaults.target_bytes {
            *small.entry((f.stream, f.day)).or_default() += 1;
        }
    }
    let mut total = CompactReport::default();
    for ((stream, day), n) in small {
        if n > more_than {
            let opts = CompactOptions {
                stream: Some(stream),
                day: Some(day),
                ..defaults.clone()
            };
            let r = compact_locked(objects, catalog, &opts)?;
            total.partitions += r.partitions;
            total.files_in += r.files_in;
            total.files_out += r.files_out;
            total.rows_in += r.rows_in;
            total.rows_out += r.rows_out;
            total.bytes_in += r.bytes_in;
            total.bytes_out += r.bytes_out;
        }
    }
    total.deleted = delete_retired(objects, catalog, defaults.grace_ms)?;
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
    }
}
