//! Finding and repairing damage (DESIGN §3). [`check`] compares every live file with what the
//! commit log recorded (it exists, has its size; deep: its footer reads, with the recorded row
//! count and its own stream and day). [`repair`] retires the damaged files in one commit and
//! restores their rows from the sources: each data file's record knows which source byte ranges
//! fed it (a compaction's output: its inputs' ranges), so those ranges are read again, decoded
//! by the same code, and the rows of the file's (stream, day) written anew. Rows whose source is
//! gone or changed are reported as lost.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use parquet::file::metadata::ParquetMetaDataReader;

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::timefmt::{day_to_string, parse_day};

use super::catalog::{Catalog, FileEntry};
use super::commit::{Uncommitted, Writer, publish_all_staged};
use super::decode::decode_lines;
use super::fault;
use super::layout::Layout;
use super::log::{self, LedgerChange, Record};
use super::objects::Objects;
use super::tail::fingerprint;
use super::writer::{FileMeta, encode};

/// A live file that is not what the log recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Damage {
    /// Object path.
    pub path: String,
    /// `data` or `quarantine`.
    pub kind: String,
    /// Stream table name.
    pub stream: String,
    /// UTC day of a data file.
    pub date: Option<String>,
    /// Rows (or lines) the log recorded.
    pub rows: u64,
    /// What is wrong.
    pub problem: String,
}

/// Checks every live file: exists with its recorded size; `deep` also reads each data file's
/// footer (row count, `obsq.stream`, `obsq.date`).
pub fn check(objects: &Objects, catalog: &Catalog, deep: bool) -> Result<Vec<Damage>> {
    let mut out = Vec::new();
    for f in catalog.live_files(None)? {
        if let Some(problem) = check_one(objects, &f.path, f.bytes, Some((&f, deep)))? {
            out.push(Damage {
                path: f.path.clone(),
                kind: "data".into(),
                stream: f.stream.table().into(),
                date: Some(day_to_string(f.day)),
                rows: f.rows,
                problem,
            });
        }
    }
    for (path, stream, lines, bytes) in catalog.quarantine_files()? {
        if let Some(problem) = check_one(objects, &path, bytes, None)? {
            out.push(Damage {
                path,
                kind: "quarantine".into(),
                stream,
                date: None,
                rows: lines,
                problem,
            });
        }
    }
    Ok(out)
}

/// What is wrong with one file, if anything.
pub fn check_one(
    objects: &Objects,
    path: &str,
    bytes: u64,
    data: Option<(&FileEntry, bool)>,
) -> Result<Option<String>> {
    let Some((size, _)) = objects.head(path)? else {
        return Ok(Some("it is missing".into()));
    };
    if size != bytes {
        return Ok(Some(format!(
            "it has {size} bytes where the commit log records {bytes}"
        )));
    }
    let Some((f, true)) = data else {
        return Ok(None);
    };
    let file = match objects.open_file(path) {
        Ok(file) => file,
        Err(Error::Io { source, .. }) => {
            return Ok(Some(format!("it cannot be opened ({source})")));
        }
        Err(e) => return Err(e),
    };
    let meta = match ParquetMetaDataReader::new().parse_and_finish(&file) {
        Ok(m) => m,
        Err(e) => return Ok(Some(format!("its Parquet footer is unreadable ({e})"))),
    };
    let rows = meta.file_metadata().num_rows() as u64;
    if rows != f.rows {
        return Ok(Some(format!(
            "it holds {rows} rows where the commit log records {}",
            f.rows
        )));
    }
    let kv = |k: &str| {
        meta.file_metadata()
            .key_value_metadata()
            .and_then(|kvs| kvs.iter().find(|kv| kv.key == k))
            .and_then(|kv| kv.value.clone())
    };
    if let Some(s) = kv("obsq.stream")
        && s != f.stream.table()
    {
        return Ok(Some(format!("its metadata says stream {s}")));
    }
    if let Some(d) = kv("obsq.date")
        && parse_day(&d) != Some(f.day)
    {
        return Ok(Some(format!("its metadata says date {d}")));
    }
    Ok(None)
}

/// What `repair` did for one (stream, day) partition or quarantine file.
#[derive(Debug, Clone, PartialEq)]
pub struct Repaired {
    /// Stream table name.
    pub stream: String,
    /// UTC day (data), empty for quarantine files.
    pub date: String,
    /// The damaged files retired.
    pub files: Vec<String>,
    /// What was wrong (of the first file).
    pub problem: String,
    /// Rows the log recorded in them.
    pub rows: u64,
    /// Rows restored from the sources.
    pub restored: u64,
    /// Rows that could not be restored (their source is gone or changed).
    pub lost: u64,
    /// Why rows were lost, if they were.
    pub why_lost: String,
}

/// Retires every damaged file in one commit and restores what the sources still hold.
pub fn repair(layout: &Layout, objects: &Objects) -> Result<Vec<Repaired>> {
    let mut writer = Writer::open(layout, objects)?;
    let damage = check(objects, writer.catalog(), true)?;
    if damage.is_empty() {
        return Ok(Vec::new());
    }
    let commit_id = uuid::Uuid::now_v7().to_string();
    let mut rec = Record::new("repair", &commit_id);
    let mut out = Vec::new();
    let mut guard = Uncommitted::new(objects);
    let mut partitions: BTreeMap<(String, String), Vec<Damage>> = BTreeMap::new();
    for d in damage {
        if d.kind == "quarantine" {
            // The lines themselves are still in their sources; only the copy is gone.
            rec.retire.push(d.path.clone());
            out.push(Repaired {
                stream: d.stream.clone(),
                date: String::new(),
                files: vec![d.path.clone()],
                problem: d.problem.clone(),
                rows: d.rows,
                restored: 0,
                lost: 0,
                why_lost: format!(
                    "quarantine file retired: its {} lines are still in their sources",
                    d.rows
                ),
            });
            continue;
        }
        let key = (d.stream.clone(), d.date.clone().unwrap_or_default());
        partitions.entry(key).or_default().push(d);
    }
    for ((stream_name, date), files) in partitions {
        let (Some(stream), Some(day)) = (Stream::from_name(&stream_name), parse_day(&date)) else {
            continue;
        };
        let rows: u64 = files.iter().map(|d| d.rows).sum();
        let mut ranges = BTreeSet::new();
        let mut unknown = Vec::new();
        for d in &files {
            if !lineage(objects, writer.catalog(), &d.path, stream, day, &mut ranges)? {
                unknown.push(d.path.clone());
            }
        }
        let (batches, missing) = restore(layout, writer.catalog(), stream, day, &ranges)?;
        let restored: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        if restored > rows {
            return Err(Error::Usage(format!(
                "repair of {stream_name} {date} found {restored} rows in the sources where the log records {rows}: nothing was committed (the sources changed since; restore the store from a backup)"
            )));
        }
        let mut why = Vec::new();
        if !unknown.is_empty() {
            why.push(format!(
                "{} files predate the commit log's lineage",
                unknown.len()
            ));
        }
        why.extend(missing);
        if restored > 0 {
            let path = Layout::data_object(stream, day);
            let meta = FileMeta::new(&commit_id, stream, day);
            let e = encode(objects, stream, &batches, &path, &meta)?;
            let added = e.to_added(stream, day, &path);
            guard.push(&e.staging);
            guard.push(&path);
            publish_all_staged(objects, &[(e.staging, path)])?;
            rec.add.push(added);
        }
        for d in &files {
            rec.retire.push(d.path.clone());
        }
        let lost = rows - restored;
        if lost > 0 {
            rec.lost.push((format!("{stream_name}/{date}"), lost));
        }
        out.push(Repaired {
            stream: stream_name,
            date,
            files: files.iter().map(|d| d.path.clone()).collect(),
            problem: files.first().map(|d| d.problem.clone()).unwrap_or_default(),
            rows,
            restored,
            lost,
            why_lost: if lost > 0 {
                why.join("; ")
            } else {
                String::new()
            },
        });
    }
    fault::point("repair-written");
    writer.commit_files(rec, Some(&mut guard))?;
    Ok(out)
}

/// Adds the source ranges that fed `path` (a data file of `stream`, `day`) to `ranges`; false
/// when the log cannot tell (a file from before the commit log).
fn lineage(
    objects: &Objects,
    catalog: &Catalog,
    path: &str,
    stream: Stream,
    day: i32,
    ranges: &mut BTreeSet<RangeKey>,
) -> Result<bool> {
    let Some(seq) = catalog.added_by(path)? else {
        return Ok(false);
    };
    let Some(rec) = log::read_record(objects, seq)? else {
        return Ok(false);
    };
    match rec.kind.as_str() {
        "ingest" | "backfill" => {
            for s in rec.sources.iter().filter(|s| s.stream == stream.table()) {
                ranges.insert(RangeKey::from(s));
            }
            Ok(true)
        }
        "compact" | "repair" => {
            let mut all = true;
            let date = day_to_string(day);
            let inputs: Vec<String> = rec
                .retire
                .iter()
                .filter(|r| r.contains(&format!("/{}/date={date}/", stream.table())))
                .cloned()
                .collect();
            for r in inputs {
                all &= lineage(objects, catalog, &r, stream, day, ranges)?;
            }
            Ok(all)
        }
        _ => Ok(false),
    }
}

/// A source byte range, ordered so that ranges of one file are read in order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RangeKey {
    path: String,
    from: u64,
    to: u64,
    lines_from: u64,
    fingerprint: String,
    fp_len: u64,
}

impl From<&LedgerChange> for RangeKey {
    fn from(s: &LedgerChange) -> Self {
        RangeKey {
            path: s.path.clone(),
            from: s.from,
            to: s.to,
            lines_from: s.lines_from,
            fingerprint: s.fingerprint.clone(),
            fp_len: s.fp_len,
        }
    }
}

/// Decodes the ranges again and keeps the rows of `day`; also says which ranges were unreadable.
fn restore(
    layout: &Layout,
    catalog: &Catalog,
    stream: Stream,
    day: i32,
    ranges: &BTreeSet<RangeKey>,
) -> Result<(Vec<RecordBatch>, Vec<String>)> {
    let mut batches = Vec::new();
    let mut missing = Vec::new();
    let mut copies: BTreeMap<String, Option<PathBuf>> = BTreeMap::new();
    for r in ranges {
        let path = match copies.get(&r.path) {
            Some(p) => p.clone(),
            None => {
                let p = locate(layout, catalog, &r.path)?;
                copies.insert(r.path.clone(), p.clone());
                p
            }
        };
        let Some(path) = path else {
            missing.push(format!("source {} is gone", r.path));
            continue;
        };
        let expected = u64::from_str_radix(&r.fingerprint, 16).unwrap_or(0);
        if fingerprint(&path, r.fp_len)? != Some(expected) {
            missing.push(format!("source {} changed since it was ingested", r.path));
            continue;
        }
        let data = read_range(&path, r.from, r.to)?;
        let Some(data) = data else {
            missing.push(format!("source {} is shorter than it was", r.path));
            continue;
        };
        let decoded = decode_lines(stream, &data, r.from, r.lines_from + 1);
        for (d, b) in decoded.batches {
            if d == day {
                batches.push(b);
            }
        }
    }
    for p in copies.values().flatten() {
        if p.starts_with(layout.root().join("repair")) {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok((batches, missing))
}

/// The file holding a source's bytes: the source itself, or — for a compressed backfill input
/// whose decompressed copy was removed — a fresh copy decompressed from the original.
fn locate(layout: &Layout, catalog: &Catalog, source: &str) -> Result<Option<PathBuf>> {
    let Some(p) = layout.source_path(source) else {
        return Ok(None); // another machine's source (object-store root): not readable here
    };
    if p.exists() {
        return Ok(Some(p));
    }
    let p = p.as_path();
    let backfill_dir = layout.root().join("backfill");
    let Some(id) = p
        .strip_prefix(&backfill_dir)
        .ok()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".jsonl"))
    else {
        return Ok(None);
    };
    let Some(original) = catalog.backfilled_path(id)? else {
        return Ok(None);
    };
    let original = PathBuf::from(original);
    if !original.exists() {
        return Ok(None);
    }
    let dir = layout.root().join("repair");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
    let copy = dir.join(format!("{id}.jsonl"));
    let (got, _) = super::backfill::decompress_to(&original, &copy)?;
    if got != id {
        let _ = std::fs::remove_file(&copy);
        return Ok(None);
    }
    Ok(Some(copy))
}

/// Bytes `[from, to)` of a file; `None` when the file is shorter.
fn read_range(path: &Path, from: u64, to: u64) -> Result<Option<Vec<u8>>> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let len = f.metadata().map_err(|e| Error::io("stat", path, e))?.len();
    if len < to {
        return Ok(None);
    }
    f.seek(SeekFrom::Start(from))
        .map_err(|e| Error::io("seek", path, e))?;
    let mut buf = vec![0u8; (to - from) as usize];
    f.read_exact(&mut buf)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(Some(buf))
}
