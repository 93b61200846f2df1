//! The fresh tail: lines appended to sources after their ledger offset, decoded by the same
//! model code as ingest, so an event is visible as soon as `record` returns.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array};
use arrow::compute::cast;
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::store::catalog::Snapshot;
use crate::store::decode::decode_lines;
use crate::store::layout::Layout;
use crate::store::sources::{discover, resume_point};
use crate::store::tail::{Block, TailReader};

/// How far ingest is behind on one source file.
#[derive(Debug, Clone)]
pub struct SourceLag {
    /// The file.
    pub path: String,
    /// Its stream.
    pub stream: Stream,
    /// Its size now.
    pub bytes: u64,
    /// Bytes already ingested (the ledger offset; 0 when the file is new or was replaced).
    pub ingested: u64,
}

/// The fresh tail and the ingest lag of every source.
#[derive(Debug, Default)]
pub struct Fresh {
    /// Fresh rows per stream, with the `date` column added ([`Stream::scan_schema`]).
    pub batches: BTreeMap<Stream, Vec<RecordBatch>>,
    /// Every source file found, with its lag.
    pub lag: Vec<SourceLag>,
}

/// Finds every source and, when `decode`, reads its lines past the ledger offset.
pub fn read_fresh(layout: &Layout, snap: &Snapshot, decode: bool) -> Result<Fresh> {
    let ledger: HashMap<&str, _> = snap.sources.iter().map(|s| (s.path.as_str(), s)).collect();
    let mut fresh = Fresh::default();
    let out = &mut fresh.batches;
    // A registered directory that vanished must not make every query fail.
    let dirs: Vec<_> = layout
        .own_dirs(snap.dirs.clone())
        .into_iter()
        .filter(|d| d.is_dir())
        .collect();
    for src in discover(layout, &dirs)? {
        let key = layout.source_key(&src.path);
        let Ok(meta) = std::fs::metadata(&src.path) else {
            continue;
        };
        let (offset, lines, _) = resume_point(ledger.get(key.as_str()).copied(), &src, meta.len())?;
        fresh.lag.push(SourceLag {
            path: key.clone(),
            stream: src.stream,
            bytes: meta.len(),
            ingested: offset.min(meta.len()),
        });
        if !decode || offset >= meta.len() {
            continue;
        }
        let mut reader = TailReader::open(&src.path, offset, 16 << 20)?;
        let mut line = lines + 1;
        while let Some(block) = reader.next_block()? {
            let Block::Lines { data, start } = block else {
                line += 1;
                continue;
            };
            let decoded = decode_lines(src.stream, &data, start, line);
            line += decoded.lines;
            for (day, batch) in decoded.batches {
                out.entry(src.stream)
                    .or_default()
                    .push(with_date(src.stream, batch, day)?);
            }
        }
    }
    Ok(fresh)
}

/// Adds the `date` partition column to a file-schema batch and gives its columns the types
/// queries read ([`Stream::scan_schema`]: text as views of the same buffers, no copy).
pub fn with_date(stream: Stream, batch: RecordBatch, day: i32) -> Result<RecordBatch> {
    let schema = stream.scan_schema();
    let mut cols = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| match c.data_type() == f.data_type() {
            true => Ok(c.clone()),
            false => cast(c, f.data_type()),
        })
        .collect::<std::result::Result<Vec<ArrayRef>, _>>()
        .map_err(|e| Error::arrow("reading fresh rows as table columns", e))?;
    cols.push(Arc::new(Date32Array::from(vec![day; batch.num_rows()])));
    RecordBatch::try_new(schema, cols).map_err(|e| Error::arrow("adding the date column", e))
}
