//! The exactly-once ingest pipeline (DESIGN §1, §3): read each source from its ledger offset to
//! its last complete line, decode in parallel, write Parquet per (stream, day) through staging,
//! and make files, ledger offsets and quarantined lines visible in one catalog transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::sanitize::sanitize_text;
use crate::model::timefmt::{day_of_ms, now_ms};

use super::catalog::{Catalog, Commit, FileEntry, QuarantineEntry, SourceState};
use super::decode::{Decoded, Rejected, decode_lines, overlong};
use super::fault;
use super::layout::Layout;
use super::objects::Objects;
use super::sources::{SourceFile, discover, resume_point};
use super::tail::{Block, FINGERPRINT_BYTES, TailReader, fingerprint};
use super::writer::encode;

/// Tuning of one ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Source directories to read in this run besides the registered ones.
    pub dirs: Vec<PathBuf>,
    /// Decoded rows held in memory before they are written and committed (bytes of Arrow data).
    pub memory_budget: usize,
    /// Bytes read from a source at a time.
    pub block_size: usize,
    /// Counters a caller may watch (e.g. for a progress bar).
    pub progress: Option<Arc<IngestProgress>>,
    /// After the run, compact partitions with more than this many small files (0: never).
    pub compact_after: usize,
    /// Files to read besides the discovered ones (backfill inputs).
    pub files: Vec<SourceFile>,
}

/// Live progress of a run: bytes to read (known once sources are found) and bytes read.
#[derive(Debug, Default)]
pub struct IngestProgress {
    /// Bytes past the ledger offsets of every source found.
    pub total: AtomicU64,
    /// Bytes read so far.
    pub done: AtomicU64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            dirs: Vec::new(),
            memory_budget: 256 << 20,
            block_size: 16 << 20,
            progress: None,
            compact_after: 16,
            files: Vec::new(),
        }
    }
}

/// Counters of one stream in one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    /// Source files with new lines.
    pub sources: u64,
    /// Lines read (blank lines included).
    pub lines: u64,
    /// Rows stored.
    pub rows: u64,
    /// Lines quarantined.
    pub quarantined: u64,
    /// JSONL bytes consumed.
    pub bytes_in: u64,
    /// Parquet files written.
    pub files_out: u64,
    /// Parquet bytes written.
    pub bytes_out: u64,
    /// Sources found replaced or truncated and read again from the start.
    pub restarted: u64,
}

/// What an ingest run did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    /// Per stream.
    pub streams: BTreeMap<Stream, StreamStats>,
    /// Wall time.
    pub seconds: f64,
    /// Commits (flushes) made.
    pub commits: u64,
    /// Small files merged away by the compaction trigger.
    pub compacted_files: u64,
}

impl IngestReport {
    /// Lines quarantined in this run, all streams.
    pub fn quarantined(&self) -> u64 {
        self.streams.values().map(|s| s.quarantined).sum()
    }

    /// JSONL bytes consumed, all streams.
    pub fn bytes_in(&self) -> u64 {
        self.streams.values().map(|s| s.bytes_in).sum()
    }

    /// Rows stored, all streams.
    pub fn rows(&self) -> u64 {
        self.streams.values().map(|s| s.rows).sum()
    }
}

/// The exclusive lock held by a writer (ingest, backfill, compact); readers never take it.
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Blocks until this process is the only writer of the data root.
    pub fn acquire(layout: &Layout) -> Result<Self> {
        let path = layout.writer_lock();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        file.lock().map_err(|e| Error::io("lock", &path, e))?;
        Ok(WriterLock { _file: file })
    }
}

/// Removes what a writer that died left behind: staging files, and data or quarantine files the
/// catalog does not list. Must be called with the [`WriterLock`] held.
pub fn recover(objects: &Objects, catalog: &Catalog) -> Result<usize> {
    let known = catalog.known_paths()?;
    let mut removed = 0;
    for (path, _) in objects.list("staging")? {
        objects.delete(&path)?;
        removed += 1;
    }
    for prefix in ["data", "quarantine"] {
        for (path, _) in objects.list(prefix)? {
            if !known.contains(&path) {
                objects.delete(&path)?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Runs one ingest over the landing files, the registered source directories and `opts.dirs`.
pub fn ingest(layout: &Layout, objects: &Objects, opts: &IngestOptions) -> Result<IngestReport> {
    let started = Instant::now();
    let _lock = WriterLock::acquire(layout)?;
    let mut catalog = Catalog::open(&layout.catalog())?;
    recover(objects, &catalog)?;
    let mut dirs = catalog.source_dirs()?;
    dirs.extend(opts.dirs.iter().cloned());
    let mut sources = discover(layout, &dirs)?;
    sources.extend(opts.files.iter().cloned());
    sources.sort();
    sources.dedup_by(|a, b| a.path == b.path);
    if let Some(p) = &opts.progress {
        p.total
            .store(pending_bytes(&catalog, &sources), Ordering::Relaxed);
    }
    // Decoding (this thread) and writing + committing (the flusher thread) overlap; at most one
    // batch of pending rows waits between them, so memory stays within twice the budget.
    let reader = Catalog::open(&layout.catalog())?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Pending>(1);
    let mut report = std::thread::scope(|scope| {
        let flusher = scope.spawn(|| {
            let mut f = Flusher {
                objects,
                catalog: &mut catalog,
                out: IngestReport::default(),
            };
            for pending in rx {
                f.flush(pending)?;
            }
            Ok::<_, Error>(f.out)
        });
        let mut run = Run {
            catalog: &reader,
            opts,
            pending: Pending::default(),
            report: IngestReport::default(),
            tx,
            buffers: Vec::new(),
        };
        let decoded = sources
            .iter()
            .try_for_each(|src| run.ingest_source(src))
            .and_then(|()| run.flush());
        let mut report = run.report;
        drop(run.tx);
        let written = flusher
            .join()
            .map_err(|_| Error::Usage("the ingest writer thread panicked".into()))??;
        decoded?;
        for (stream, w) in written.streams {
            let st = report.streams.entry(stream).or_default();
            st.files_out += w.files_out;
            st.bytes_out += w.bytes_out;
        }
        report.commits = written.commits;
        Ok::<_, Error>(report)
    })?;
    if opts.compact_after > 0 {
        report.compacted_files =
            super::compact::compact_crowded(objects, &mut catalog, opts.compact_after)?.files_in;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Staging → fsync → rename into place. Not visible to anyone until the catalog commit.
pub(crate) fn publish(objects: &Objects, path: &str, bytes: Bytes) -> Result<()> {
    let staging = Layout::staging_object(path.rsplit('/').next().unwrap_or("file"));
    objects.put(&staging, bytes)?;
    fault::point("staged");
    objects.rename(&staging, path)?;
    fault::point("renamed");
    Ok(())
}

/// Bytes not yet ingested over `sources` (a file the ledger does not know counts whole).
fn pending_bytes(catalog: &Catalog, sources: &[SourceFile]) -> u64 {
    sources
        .iter()
        .filter_map(|src| {
            let size = std::fs::metadata(&src.path).ok()?.len();
            let offset = catalog
                .source(&src.path.to_string_lossy())
                .ok()
                .flatten()
                .map_or(0, |s| s.offset);
            Some(size.saturating_sub(offset.min(size)))
        })
        .sum()
}

#[derive(Default)]
struct Pending {
    parts: BTreeMap<(Stream, i32), Vec<RecordBatch>>,
    mem: usize,
    ledger: BTreeMap<String, SourceState>,
    rejected: Vec<(Stream, String, Rejected)>,
    drift: BTreeSet<(Stream, String, String, String)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.ledger.is_empty() && self.rejected.is_empty()
    }
}

/// The decoding side of a run.
struct Run<'a> {
    catalog: &'a Catalog,
    opts: &'a IngestOptions,
    pending: Pending,
    report: IngestReport,
    tx: std::sync::mpsc::SyncSender<Pending>,
    /// Read buffers kept from source to source.
    buffers: Vec<Vec<u8>>,
}

/// The writing side of a run: Parquet and quarantine files, then the catalog commit.
struct Flusher<'a> {
    objects: &'a Objects,
    catalog: &'a mut Catalog,
    out: IngestReport,
}

impl Run<'_> {
    fn ingest_source(&mut self, src: &SourceFile) -> Result<()> {
        let key = src.path.to_string_lossy().into_owned();
        let size = std::fs::metadata(&src.path)
            .map_err(|e| Error::io("stat", &src.path, e))?
            .len();
        let (mut offset, mut lines, restarted) = self.start_position(&key, src, size)?;
        if offset >= size {
            return Ok(());
        }
        let mut reader = TailReader::open(&src.path, offset, self.opts.block_size)?;
        // Decoded blocks' buffers go back to the reader (and from source to source).
        let (give_back, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
        for buf in self.buffers.drain(..) {
            let _ = give_back.send(buf);
        }
        reader.recycle_from(recycled);
        // The next block is read while this one is decoded (one block ahead, bounded memory).
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Block>>(1);
        std::thread::scope(|scope| {
            let read = scope.spawn(move || {
                loop {
                    let next = reader.next_block().transpose();
                    let stop = !matches!(next, Some(Ok(_)));
                    if let Some(item) = next
                        && tx.send(item).is_err()
                    {
                        break;
                    }
                    if stop {
                        break;
                    }
                }
                reader
            });
            let mut touched = false;
            for block in rx {
                let block = block?;
                let end = block.end();
                let decoded = match block {
                    Block::Lines { data, start } => {
                        let decoded = decode_lines(src.stream, &data, start, lines + 1);
                        let _ = give_back.send(data);
                        decoded
                    }
                    Block::Overlong { start, len, head } => Decoded {
                        rejected: vec![overlong(lines + 1, start, len, head)],
                        lines: 1,
                        ..Decoded::default()
                    },
                };
                fault::point("decoded");
                let stats = self.report.streams.entry(src.stream).or_default();
                if !touched {
                    stats.sources += 1;
                    stats.restarted += restarted as u64;
                    touched = true;
                }
                stats.lines += decoded.lines;
                stats.rows += decoded.rows;
                stats.quarantined += decoded.rejected.len() as u64;
                stats.bytes_in += end - offset;
                if let Some(p) = &self.opts.progress {
                    p.done.fetch_add(end - offset, Ordering::Relaxed);
                }
                offset = end;
                lines += decoded.lines;
                self.add(src, &key, decoded, offset, lines);
                if self.pending.mem >= self.opts.memory_budget {
                    self.flush()?;
                }
            }
            if let Ok(reader) = read.join() {
                self.buffers.extend(reader.into_buffers());
            }
            Ok(())
        })
    }

    /// Where to resume a source: its ledger offset if the file is still the one the ledger saw.
    fn start_position(&self, key: &str, src: &SourceFile, size: u64) -> Result<(u64, u64, bool)> {
        if let Some(s) = self.pending.ledger.get(key) {
            return Ok((s.offset, s.lines, false));
        }
        resume_point(self.catalog.source(key)?.as_ref(), src, size)
    }

    fn add(&mut self, src: &SourceFile, key: &str, decoded: Decoded, offset: u64, lines: u64) {
        let p = &mut self.pending;
        for (day, batch) in decoded.batches {
            p.mem += batch.get_array_memory_size();
            p.parts.entry((src.stream, day)).or_default().push(batch);
        }
        for r in decoded.rejected {
            p.mem += r.raw.len();
            p.rejected.push((src.stream, key.to_string(), r));
        }
        for (field, ty) in decoded.drift {
            p.drift
                .insert((src.stream, field, ty.to_string(), key.to_string()));
        }
        p.ledger.insert(
            key.to_string(),
            SourceState {
                path: key.to_string(),
                stream: src.stream,
                fingerprint: 0,
                fp_len: offset.min(FINGERPRINT_BYTES),
                offset,
                lines,
            },
        );
    }

    /// Hands everything pending to the flusher thread.
    fn flush(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Ok(());
        }
        self.tx
            .send(pending)
            .map_err(|_| Error::Usage("the ingest writer thread stopped".into()))
    }
}

impl Flusher<'_> {
    /// Writes everything pending and commits it in one catalog transaction.
    fn flush(&mut self, pending: Pending) -> Result<()> {
        let mut commit = Commit::default();
        let parts: Vec<_> = pending.parts.into_iter().collect();
        let encoded: Vec<_> = parts
            .par_iter()
            .map(|((stream, day), batches)| {
                let path = Layout::data_object(*stream, *day);
                encode(*stream, batches, &path).map(|e| (*stream, *day, path, e))
            })
            .collect::<Result<_>>()?;
        for (stream, day, path, e) in encoded {
            let bytes = e.bytes.len() as u64;
            self.publish(&path, e.bytes)?;
            let stats = self.out.streams.entry(stream).or_default();
            stats.files_out += 1;
            stats.bytes_out += bytes;
            commit.files.push(FileEntry {
                stream,
                day,
                path,
                rows: e.rows,
                bytes,
                min_ts: e.min_ts,
                max_ts: e.max_ts,
            });
        }
        self.write_quarantine(pending.rejected, &mut commit)?;
        for (_, mut state) in pending.ledger {
            state.fingerprint = fingerprint(Path::new(&state.path), state.fp_len)?.unwrap_or(0);
            commit.sources.push(state);
        }
        commit.drift = pending.drift.into_iter().collect();
        fault::point("before-commit");
        self.catalog.commit(&commit)?;
        fault::point("committed");
        self.out.commits += 1;
        Ok(())
    }

    fn publish(&self, path: &str, bytes: Bytes) -> Result<()> {
        publish(self.objects, path, bytes)
    }

    fn write_quarantine(
        &self,
        rejected: Vec<(Stream, String, Rejected)>,
        commit: &mut Commit,
    ) -> Result<()> {
        let mut by_stream: BTreeMap<Stream, Vec<(String, Rejected)>> = BTreeMap::new();
        for (stream, source, r) in rejected {
            by_stream.entry(stream).or_default().push((source, r));
        }
        for (stream, entries) in by_stream {
            let path = Layout::quarantine_object(stream, day_of_ms(now_ms()));
            let mut out = String::new();
            for (source, r) in &entries {
                out.push_str(&quarantine_line(source, r));
                out.push('\n');
            }
            let bytes = out.len() as u64;
            self.publish(&path, Bytes::from(out))?;
            commit
                .quarantine_files
                .push((stream, path.clone(), entries.len() as u64, bytes));
            for (source, r) in entries {
                commit.quarantine.push((
                    QuarantineEntry {
                        stream,
                        source,
                        line_no: r.line_no,
                        byte_offset: r.byte_offset,
                        reason: r.reason,
                    },
                    path.clone(),
                ));
            }
        }
        Ok(())
    }
}

/// One line of a quarantine file: where the line was, why it was rejected, and the line itself
/// (sanitized; cut at 64 KiB, with its full length, for longer lines).
fn quarantine_line(source: &str, r: &Rejected) -> String {
    let raw = String::from_utf8_lossy(&r.raw);
    let mut obj = serde_json::Map::new();
    obj.insert("source".into(), source.into());
    obj.insert("line_no".into(), r.line_no.into());
    obj.insert("byte_offset".into(), r.byte_offset.into());
    obj.insert("reason".into(), r.reason.clone().into());
    obj.insert("raw".into(), sanitize_text(&raw).into_owned().into());
    obj.insert("raw_bytes".into(), r.raw_len.into());
    if r.raw_len > r.raw.len() as u64 {
        obj.insert("raw_truncated".into(), true.into());
    }
    serde_json::Value::Object(obj).to_string()
}
