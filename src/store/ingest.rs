//! The exactly-once ingest pipeline (DESIGN §1, §3): read each source from its ledger offset to
//! its last complete line, decode in parallel, write Parquet per (stream, day) through staging,
//! stream rejected lines to quarantine files, and make files, ledger ranges and quarantine visible
//! in one commit record.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::notice;

use super::catalog::SourceState;
use super::commit::{
    Listing, QUERY_GRACE_MS, Uncommitted, Writer, publish_all_staged, publish_staged,
};
use super::decode::{
    Decoded, GROUP_BYTES, GroupInFlight, InFlight, overlong, submit, submit_group,
};
use super::drift::{self, DriftKey};
use super::fault;
use super::heap;
use super::layout::Layout;
use super::log::{Drift, LedgerChange, Record};
use super::objects::Objects;
use super::quarantine::{QuarantineWriter, StagedQuarantine};
use super::sources::{SourceFile, discover, resume_point};
use super::tail::{Block, FINGERPRINT_BYTES, FIRST_READ, TailReader, fingerprint, fingerprint_of};
use super::writer::{FileMeta, encode};

/// Tuning of one ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Source directories to read in this run besides the registered ones.
    pub dirs: Vec<PathBuf>,
    /// Register `dirs` first, with this run's writer (a commit of their own before the run's
    /// data), those not registered yet: `ingest --source`. A writer of its own for that made two
    /// per run, and on an object store that ignores conditional writes each waits 1.5 s for its
    /// lease.
    pub register: bool,
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
    /// The kind of the commit records (`ingest` or `backfill`).
    pub kind: &'static str,
    /// Files no record names are deleted once older than this (crash orphans).
    pub orphan_grace_ms: i64,
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
            register: false,
            memory_budget: 256 << 20,
            block_size: 16 << 20,
            progress: None,
            compact_after: 16,
            files: Vec::new(),
            kind: "ingest",
            orphan_grace_ms: super::commit::ORPHAN_GRACE_MS,
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
    /// Seconds spent decoding this stream's sources (writing overlaps, on another thread).
    pub seconds: f64,
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
    /// Registered source directories and files that were missing (the run is partial).
    pub missing: Vec<String>,
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

/// Runs one ingest over the landing files, the registered source directories and `opts.dirs`.
/// On an object-store root another machine may commit a source this run read first: the run
/// then starts again from the ledger, which takes only what is left (at most [`RACE_RETRIES`]).
pub fn ingest(layout: &Layout, objects: &Objects, opts: &IngestOptions) -> Result<IngestReport> {
    let mut tries = 0;
    loop {
        let mut writer = Writer::open(layout, objects)?;
        match ingest_with(&mut writer, layout, opts) {
            Err(Error::Conflict { seq, pid, .. })
                if objects.is_remote() && tries < RACE_RETRIES =>
            {
                tries += 1;
                notice::push(format!(
                    "another writer (pid {pid}, commit {seq}) committed a source of this run first; ingesting what is left"
                ));
            }
            r => return r,
        }
    }
}

/// How often [`ingest`] starts again after losing a race for a source.
pub const RACE_RETRIES: usize = 3;

/// [`ingest`] with the writer lock held by the caller.
pub fn ingest_with(
    writer: &mut Writer,
    layout: &Layout,
    opts: &IngestOptions,
) -> Result<IngestReport> {
    let started = Instant::now();
    if opts.register {
        super::sources::register(writer, layout, &opts.dirs)?;
    }
    let mut dirs = layout.own_dirs(writer.catalog().source_dirs()?);
    dirs.extend(opts.dirs.iter().cloned());
    dirs.sort();
    dirs.dedup();
    let (mut sources, missing) = discover_present(layout, &dirs)?;
    sources.extend(opts.files.iter().cloned());
    sources.sort();
    sources.dedup_by(|a, b| a.path == b.path);
    fault::point("sources-found");
    // The ledger as the run starts, read once: a query per source (two: for the bytes to read,
    // then where to start), each with its lock calls, cost 5,520 small files 11,040 queries. A
    // source is read once per run (its path, so its key, is unique in `sources`).
    let known: HashMap<String, SourceState> = writer
        .catalog()
        .sources()?
        .into_iter()
        .map(|s| (s.path.clone(), s))
        .collect();
    let to_read = pending_bytes(layout, &known, &sources);
    if let Some(p) = &opts.progress {
        p.total.store(to_read, Ordering::Relaxed);
    }
    // Decoding (this thread) and writing + committing (the flusher thread) overlap. The channel
    // is a rendezvous: a full batch of pending rows is handed over only when the flusher is done
    // with the last one, so two batches are alive at most (with a slot of one, a third waited in
    // it: 256 MiB of multi-KB lines peaked ~250 MiB higher).
    let objects = writer.objects().clone();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Pending>(0);
    let mut report = std::thread::scope(|scope| {
        let flusher = scope.spawn(|| {
            let mut f = Flusher {
                writer: &mut *writer,
                kind: opts.kind,
                out: IngestReport::default(),
                trim_at: trim_limit(opts.memory_budget),
            };
            for pending in rx {
                f.flush(pending)?;
            }
            Ok::<_, Error>(f.out)
        });
        let mut run = Run {
            layout,
            known,
            objects: &objects,
            opts,
            pending: Pending::default(),
            quarantine: BTreeMap::new(),
            report: IngestReport::default(),
            tx,
            buffers: Vec::new(),
            flush_at: flush_threshold(opts.memory_budget, to_read),
            read_cap: usize::try_from(to_read / 64).unwrap_or(usize::MAX),
            tail_seconds: 0.0,
        };
        let mut queue = Queue::default();
        let decoded = sources
            .iter()
            .try_for_each(|src| {
                let t = Instant::now();
                let r = run.ingest_source(src, &mut queue);
                // Less the waits for earlier sources' last blocks, counted under their streams.
                let spent = t.elapsed().as_secs_f64() - std::mem::take(&mut run.tail_seconds);
                let st = run.report.streams.entry(src.stream).or_default();
                st.seconds += spent;
                r
            })
            .and_then(|()| run.drain(&mut queue))
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
    report.missing.extend(missing);
    if opts.compact_after > 0 {
        report.compacted_files =
            super::compact::compact_crowded(writer, opts.compact_after)?.files_in;
    }
    writer.sweep(QUERY_GRACE_MS, opts.orphan_grace_ms, Listing::Throttled)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Every source file of the landing folders and of the directories that exist; the directories
/// that do not are returned too (a warning and a partial run, never a failed one).
fn discover_present(layout: &Layout, dirs: &[PathBuf]) -> Result<(Vec<SourceFile>, Vec<String>)> {
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for d in dirs {
        if d.is_dir() {
            present.push(d.clone());
        } else {
            notice::push(format!(
                "source directory {} is missing: skipped (the other sources were ingested; `obsq source remove {}` forgets it)",
                d.display(),
                d.display()
            ));
            missing.push(d.to_string_lossy().into_owned());
        }
    }
    let found = discover(layout, &present)?;
    for d in &present {
        let d = super::sources::absolute(d)?;
        if !found.iter().any(|f| f.path.starts_with(&d)) {
            super::sources::warn_if_unread(&d);
        }
    }
    Ok((found, missing))
}

/// Bytes not yet ingested over `sources` (a file the ledger, `known`, does not know counts whole).
/// On the thread pool, idle until the first source is read (a `stat` per source: 5,520 took
/// ~16 ms of one core).
fn pending_bytes(
    layout: &Layout,
    known: &HashMap<String, SourceState>,
    sources: &[SourceFile],
) -> u64 {
    sources
        .par_iter()
        .filter_map(|src| {
            let size = std::fs::metadata(&src.path).ok()?.len();
            let offset = known
                .get(&layout.source_key(&src.path))
                .map_or(0, |s| s.offset);
            Some(size.saturating_sub(offset.min(size)))
        })
        .sum()
}

/// A source's consumption in one pending commit.
struct Consumed {
    file: PathBuf,
    state: SourceState,
    from: u64,
    lines_from: u64,
    /// The fingerprint of the file's first bytes as read ([`Cursor::head`]).
    head: Option<(u64, u64)>,
}

#[derive(Default)]
struct Pending {
    parts: BTreeMap<(Stream, i32), Vec<RecordBatch>>,
    mem: usize,
    ledger: BTreeMap<String, Consumed>,
    quarantine: Vec<StagedQuarantine>,
    /// Schema drift per stream.
    drift: BTreeMap<Stream, BTreeMap<DriftKey, PendingDrift>>,
    /// Drift keys added so far (their order).
    drift_keys: u64,
}

/// A schema-drift key of a pending commit.
struct PendingDrift {
    /// How many keys were added before it: the commit record lists keys in this order.
    order: u64,
    /// The first source it was seen in.
    source: String,
    /// Its first line there.
    line: u64,
    /// Occurrences.
    count: u64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.ledger.is_empty() && self.quarantine.is_empty()
    }
}

/// The decoding side of a run.
struct Run<'a> {
    layout: &'a Layout,
    /// The ledger as the run started, by key.
    known: HashMap<String, SourceState>,
    objects: &'a Objects,
    opts: &'a IngestOptions,
    pending: Pending,
    /// Rejected lines stream to these staging files as they are found (bounded memory).
    quarantine: BTreeMap<Stream, QuarantineWriter>,
    report: IngestReport,
    tx: std::sync::mpsc::SyncSender<Pending>,
    /// Read buffers kept from source to source.
    buffers: Vec<Vec<u8>>,
    /// Pending rows' memory at which they are handed to the flusher ([`flush_threshold`]).
    flush_at: usize,
    /// Seconds spent finishing a [`Tail`] since the caller last looked.
    tail_seconds: f64,
    /// Bytes a block is read with at most ([`TailReader::ramped`]): a 64th of the input, so
    /// that a small input does not fault in 16 MiB buffers (1M events: peak RSS 206 → 176 MiB,
    /// 0.59 → 0.58 s, medians of 8, store on tmpfs).
    read_cap: usize,
}

/// The pending memory at which a run flushes: its budget, or less when the input is small.
///
/// The last flush is written after the last line is decoded, with nothing left to overlap it;
/// a run whose input fits the budget once or twice wrote nearly all of it that way (ingest of
/// 1M events took 0.72 s per million, of 10M and 30M 0.50). Flushing at an eighth of the input
/// (not under 32 MiB, where a flush costs more than it overlaps) leaves an eighth unoverlapped.
fn flush_threshold(budget: usize, to_read: u64) -> usize {
    const MIN_FLUSH: usize = 32 << 20;
    let eighth = usize::try_from(to_read / 8).unwrap_or(usize::MAX);
    budget.min(eighth.max(MIN_FLUSH))
}

/// Where the decoding of one source is: the file offset and line count consumed so far.
struct Cursor {
    offset: u64,
    lines: u64,
    /// Whether this run's counters know the source yet.
    touched: bool,
    /// Whether the source was found replaced and is read from the start.
    restarted: bool,
    /// (length, [`fingerprint_of`]) of the file's first bytes as this run read them, when it read
    /// the file from its start: the ledger's fingerprint then needs no second read of the file
    /// (at commit, once per source: 5,520 opens of small files).
    head: Option<(u64, u64)>,
}

impl Cursor {
    /// Takes the fingerprint from `data`, a block read at file offset `start`, when it is the
    /// file's first.
    fn note_head(&mut self, data: &[u8], start: u64) {
        if start == 0 && self.head.is_none() {
            let head = &data[..data.len().min(FINGERPRINT_BYTES as usize)];
            self.head = Some((head.len() as u64, fingerprint_of(head)));
        }
    }
}

/// A block read from a source, on its way through decoding.
struct Submitted {
    /// File offset just past the block.
    end: u64,
    /// The block's bytes in memory.
    len: usize,
    job: Job,
}

enum Job {
    /// Complete lines, being decoded on the thread pool.
    Lines(InFlight),
    /// A line too long to hold: quarantined by its head.
    Overlong { start: u64, len: u64, head: Vec<u8> },
}

impl Submitted {
    /// Starts decoding `block` (returns at once).
    fn new(stream: Stream, block: Block) -> Self {
        let end = block.end();
        let (len, job) = match block {
            Block::Lines { data, start } => (data.len(), Job::Lines(submit(stream, data, start))),
            Block::Overlong { start, len, head } => {
                (head.len(), Job::Overlong { start, len, head })
            }
        };
        Submitted { end, len, job }
    }
}

/// Bytes of earlier sources' last blocks ([`Tail`]) left decoding while the next sources are
/// read: a few chunks of work for the pool.
const QUEUED_BYTES: usize = 4 << 20;

/// A source's last block, left decoding while the next source is opened and its first block
/// read and submitted ([`Run::ingest_source`]). Waiting for it first left a core idle at the end
/// of every source (its last chunk) and at the start of the next (the first read): ingest of 1M
/// events in 36 files 0.58 → 0.54 s (medians of 7, store on tmpfs), of 10M 4.88 → 4.57 s.
/// Behind a source of one block (a chunk: one task on the pool), up to [`QUEUED_BYTES`] of them
/// wait, oldest first, so that many small sources keep every core busy too (5,520 files of
/// 1,000 lines: 0.97x the wall time, 4/4 pairs). Small sources' blocks are decoded in groups
/// ([`Gathered`]).
enum Tail<'s> {
    /// A source's last block.
    Last {
        src: &'s SourceFile,
        key: String,
        done: Submitted,
        at: Cursor,
    },
    /// Blocks of small sources decoded as one task.
    Group {
        members: Vec<Member<'s>>,
        job: GroupInFlight,
        /// The blocks' bytes.
        len: usize,
    },
}

impl Tail<'_> {
    /// Bytes of input in flight.
    fn len(&self) -> usize {
        match self {
            Tail::Last { done, .. } => done.len,
            Tail::Group { len, .. } => *len,
        }
    }
}

/// A small source whose one block of lines is gathered to be decoded with others ([`Gathered`]).
struct Member<'s> {
    src: &'s SourceFile,
    key: String,
    at: Cursor,
    /// File offset just past the block.
    end: u64,
}

/// Blocks of small sources (one read each, see [`FIRST_READ`]) of one stream, gathered until
/// they hold [`GROUP_BYTES`] and then decoded as one task ([`submit_group`]); all their rows go
/// into one commit, with their ledger ranges.
#[derive(Default)]
struct Gathered<'s> {
    members: Vec<Member<'s>>,
    /// Each member's block and the file offset of its first byte.
    blocks: Vec<(Vec<u8>, u64)>,
    bytes: usize,
}

/// Where decoding stands between sources: earlier sources' last blocks in flight, oldest
/// first, and small sources' blocks gathered by stream.
#[derive(Default)]
struct Queue<'s> {
    tails: VecDeque<Tail<'s>>,
    gathered: BTreeMap<Stream, Gathered<'s>>,
}

/// The writing side of a run: Parquet and quarantine files, then the commit.
struct Flusher<'a> {
    writer: &'a mut Writer,
    kind: &'static str,
    out: IngestReport,
    /// Resident bytes above which freed memory is given back after a commit ([`trim_limit`]).
    trim_at: u64,
}

/// The resident memory above which a run gives the memory its allocator holds freed back to
/// the OS after each commit: what the budget accounts for (the batches being written and the
/// next ones being decoded, a budget each) and 128 MiB for the rest. Ingest of generated logs
/// stays under it; backfill of 2.6 GB of 0.2–1 MB lines peaked at 735 MiB (921 without), and
/// trimming after every commit instead cost long-text ingest ~3 % more CPU (8 pairs).
fn trim_limit(budget: usize) -> u64 {
    2 * budget as u64 + (128 << 20)
}

impl Run<'_> {
    /// Decodes what is new in `src`. Earlier sources' last blocks (`queue.tails`) are finished,
    /// oldest first, as this source's blocks are submitted; this source's own last block is left
    /// in the queue, or gathered with other small sources' there.
    fn ingest_source<'s>(&mut self, src: &'s SourceFile, queue: &mut Queue<'s>) -> Result<()> {
        let key = self.layout.source_key(&src.path);
        // Opened first: its size is the open file's (one `fstat`, no second `stat` by path).
        let reader = match TailReader::open(&src.path, 0, self.opts.block_size) {
            Ok(r) => r.ramped(self.read_cap),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                self.vanished(src);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let size = reader.remaining();
        let (offset, lines, restarted) = self.start_position(&key, src, size)?;
        if offset >= size {
            return Ok(());
        }
        let mut reader = reader.starting_at(offset);
        // Decoded blocks' buffers go back to the reader (and from source to source).
        let (give_back, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
        for buf in self.buffers.drain(..) {
            let _ = give_back.send(buf);
        }
        reader.recycle_from(recycled);
        let at = Cursor {
            offset,
            lines,
            touched: false,
            restarted,
            head: None,
        };
        if reader.remaining() <= FIRST_READ as u64 {
            // A source one read covers is read here: a reader thread of its own (spawned,
            // handed the block, joined) cost more than the read, and left this thread waiting
            // between sources (10,000 files of 100 lines: 1.67 s against 0.76 s for the same
            // lines in one file, 1.35 cores busy).
            let mut blocks = Vec::new();
            let read = std::iter::from_fn(|| reader.next_block().transpose())
                .try_for_each(|b| b.map(|b| blocks.push(b)));
            if let (Ok(()), [Block::Lines { .. }]) = (&read, blocks.as_slice())
                && let Some(Block::Lines { data, start }) = blocks.pop()
            {
                self.buffers.extend(reader.into_buffers());
                return self.gather(src, key, at, (data, start), queue);
            }
            let blocks = blocks.into_iter().map(Ok).chain(read.err().map(Err));
            self.consume(src, key, blocks, at, queue, QUEUED_BYTES, &give_back)?;
            self.buffers.extend(reader.into_buffers());
            return Ok(());
        }
        // Small sources' blocks gathered so far are decoded beside this source's first blocks,
        // not after its last.
        self.submit_all_gathered(queue)?;
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
            let consumed = self.consume(src, key, rx, at, queue, 0, &give_back);
            if let Ok(reader) = read.join() {
                self.buffers.extend(reader.into_buffers());
            }
            consumed
        })
    }

    /// Decodes a source's blocks as they come; its last block is left in `queue`. Earlier
    /// sources' blocks are finished as each block is submitted, until those left and the block
    /// hold at most `queue` bytes.
    #[allow(clippy::too_many_arguments)]
    fn consume<'s>(
        &mut self,
        src: &'s SourceFile,
        key: String,
        blocks: impl IntoIterator<Item = Result<Block>>,
        mut at: Cursor,
        queue: &mut Queue<'s>,
        room: usize,
        give_back: &std::sync::mpsc::Sender<Vec<u8>>,
    ) -> Result<()> {
        // Block n + 1 is submitted before block n is waited for (see `decode::submit`).
        let mut in_flight: Option<Submitted> = None;
        for block in blocks {
            let next = match block {
                Ok(block) => {
                    if let Block::Lines { data, start } = &block {
                        at.note_head(data, *start);
                    }
                    Submitted::new(src.stream, block)
                }
                Err(e) => {
                    self.finish_tails(&mut queue.tails, 0)?;
                    if let Some(done) = in_flight.take() {
                        self.decoded(src, &key, done, &mut at, give_back)?;
                    }
                    return Err(e);
                }
            };
            // Earlier sources' last blocks, once this one's block is on the pool.
            self.finish_tails(&mut queue.tails, room.saturating_sub(next.len))?;
            if let Some(done) = in_flight.replace(next) {
                self.decoded(src, &key, done, &mut at, give_back)?;
            }
        }
        if let Some(done) = in_flight.take() {
            queue.tails.push_back(Tail::Last { src, key, done, at });
        }
        Ok(())
    }

    /// Gathers a small source's one block of lines (and the file offset of its first byte) to be
    /// decoded with others of its stream, as one task once they hold [`GROUP_BYTES`].
    fn gather<'s>(
        &mut self,
        src: &'s SourceFile,
        key: String,
        mut at: Cursor,
        (data, start): (Vec<u8>, u64),
        queue: &mut Queue<'s>,
    ) -> Result<()> {
        at.note_head(&data, start);
        let g = queue.gathered.entry(src.stream).or_default();
        g.bytes += data.len();
        let end = start + data.len() as u64;
        g.members.push(Member { src, key, at, end });
        g.blocks.push((data, start));
        if g.bytes >= GROUP_BYTES {
            self.submit_gathered(src.stream, queue)?;
        }
        Ok(())
    }

    /// Starts decoding the blocks gathered of `stream`, then finishes the oldest tails until those
    /// in flight hold at most [`QUEUED_BYTES`].
    fn submit_gathered(&mut self, stream: Stream, queue: &mut Queue<'_>) -> Result<()> {
        let Some(g) = queue.gathered.remove(&stream) else {
            return Ok(());
        };
        let job = submit_group(stream, g.blocks);
        queue.tails.push_back(Tail::Group {
            members: g.members,
            job,
            len: g.bytes,
        });
        self.finish_tails(&mut queue.tails, QUEUED_BYTES)
    }

    /// Starts decoding the blocks gathered of every stream.
    fn submit_all_gathered(&mut self, queue: &mut Queue<'_>) -> Result<()> {
        let streams: Vec<Stream> = queue.gathered.keys().copied().collect();
        for stream in streams {
            self.submit_gathered(stream, queue)?;
        }
        Ok(())
    }

    /// Decodes everything gathered and waits for everything in flight.
    fn drain(&mut self, queue: &mut Queue<'_>) -> Result<()> {
        self.submit_all_gathered(queue)?;
        self.finish_tails(&mut queue.tails, 0)
    }

    /// Waits for the oldest sources' last blocks ([`Tail`]) and adds them, until those left
    /// hold at most `room` bytes.
    fn finish_tails(&mut self, tails: &mut VecDeque<Tail<'_>>, room: usize) -> Result<()> {
        let mut queued: usize = tails.iter().map(Tail::len).sum();
        while queued > room {
            let Some(t) = tails.pop_front() else {
                break;
            };
            queued -= t.len();
            self.finish_tail(t)?;
        }
        Ok(())
    }

    /// Waits for a source's last block, or a group of small sources' blocks, and adds it.
    fn finish_tail(&mut self, t: Tail<'_>) -> Result<()> {
        let started = Instant::now();
        let stream = match t {
            Tail::Last {
                src,
                key,
                done,
                mut at,
            } => {
                let (give_back, returned) = std::sync::mpsc::channel();
                self.decoded(src, &key, done, &mut at, &give_back)?;
                self.buffers.extend(returned.try_iter());
                src.stream
            }
            Tail::Group { members, job, .. } => {
                let first_lines: Vec<u64> = members.iter().map(|m| m.at.lines + 1).collect();
                let (results, buffers) = job.finish(&first_lines);
                self.buffers.extend(buffers);
                let stream = members.first().map(|m| m.src.stream);
                // Every member before a flush: the group's rows are in its first result.
                for (mut m, decoded) in members.into_iter().zip(results) {
                    self.accept(m.src, &m.key, decoded, m.end, &mut m.at)?;
                }
                self.flush_if_full()?;
                match stream {
                    Some(stream) => stream,
                    None => return Ok(()),
                }
            }
        };
        let spent = started.elapsed().as_secs_f64();
        self.tail_seconds += spent;
        self.report.streams.entry(stream).or_default().seconds += spent;
        Ok(())
    }

    /// Waits for a submitted block and adds it ([`Self::accept`]); flushes when the memory budget
    /// is reached.
    fn decoded(
        &mut self,
        src: &SourceFile,
        key: &str,
        done: Submitted,
        at: &mut Cursor,
        give_back: &std::sync::mpsc::Sender<Vec<u8>>,
    ) -> Result<()> {
        let decoded = match done.job {
            Job::Lines(job) => {
                let (decoded, data) = job.finish(at.lines + 1);
                let _ = give_back.send(data);
                decoded
            }
            Job::Overlong { start, len, head } => Decoded {
                rejected: vec![overlong(at.lines + 1, start, len, head)],
                lines: 1,
                ..Decoded::default()
            },
        };
        self.accept(src, key, decoded, done.end, at)?;
        self.flush_if_full()
    }

    /// Adds a decoded block's rows, rejected lines and ledger range (up to `end`, the file offset
    /// just past it) to what is pending.
    fn accept(
        &mut self,
        src: &SourceFile,
        key: &str,
        decoded: Decoded,
        end: u64,
        at: &mut Cursor,
    ) -> Result<()> {
        fault::point("decoded");
        let stats = self.report.streams.entry(src.stream).or_default();
        if !at.touched {
            stats.sources += 1;
            stats.restarted += at.restarted as u64;
            at.touched = true;
        }
        stats.lines += decoded.lines;
        stats.rows += decoded.rows;
        stats.quarantined += decoded.rejected.len() as u64;
        stats.bytes_in += end - at.offset;
        if let Some(p) = &self.opts.progress {
            p.done.fetch_add(end - at.offset, Ordering::Relaxed);
        }
        let from = (at.offset, at.lines);
        at.offset = end;
        at.lines += decoded.lines;
        self.add(src, key, decoded, from, at)
    }

    /// Hands what is pending to the flusher once it holds the memory of a flush ([`flush_threshold`]).
    fn flush_if_full(&mut self) -> Result<()> {
        if self.pending.mem >= self.flush_at {
            self.flush()?;
        }
        Ok(())
    }

    /// A file that was found but is gone by the time it is read: skipped with a warning.
    fn vanished(&mut self, src: &SourceFile) {
        notice::push(format!(
            "source file {} disappeared during the run: skipped",
            src.path.display()
        ));
        self.report
            .missing
            .push(src.path.to_string_lossy().into_owned());
    }

    /// Where to resume a source: its ledger offset if the file is still the one the ledger saw.
    fn start_position(&self, key: &str, src: &SourceFile, size: u64) -> Result<(u64, u64, bool)> {
        if let Some(c) = self.pending.ledger.get(key) {
            return Ok((c.state.offset, c.state.lines, false));
        }
        resume_point(self.known.get(key), src, size)
    }

    fn add(
        &mut self,
        src: &SourceFile,
        key: &str,
        decoded: Decoded,
        (from, lines_from): (u64, u64),
        at: &Cursor,
    ) -> Result<()> {
        let (offset, lines) = (at.offset, at.lines);
        if !decoded.rejected.is_empty() {
            let w = match self.quarantine.entry(src.stream) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(QuarantineWriter::new(self.objects, src.stream)?)
                }
            };
            for r in &decoded.rejected {
                w.write(key, r)?;
            }
        }
        let p = &mut self.pending;
        p.mem += decoded.memory;
        for (day, batch) in decoded.batches {
            p.parts.entry((src.stream, day)).or_default().push(batch);
        }
        // In the order first seen, so that the keys named are the first in file order.
        let mut seen: Vec<_> = decoded.drift.into_iter().collect();
        seen.sort_by_key(|(_, (line, _))| *line);
        let stream_drift = p.drift.entry(src.stream).or_default();
        for (k, (line, count)) in seen {
            let order = p.drift_keys;
            p.drift_keys += 1;
            let v = PendingDrift {
                order,
                source: key.to_string(),
                line,
                count,
            };
            drift::add(stream_drift, k, v, |e, v| e.count += v.count);
        }
        let entry = p.ledger.entry(key.to_string()).or_insert(Consumed {
            file: src.path.clone(),
            state: SourceState {
                path: key.to_string(),
                stream: src.stream,
                fingerprint: 0,
                fp_len: 0,
                offset,
                lines,
            },
            from,
            lines_from,
            head: None,
        });
        entry.head = entry.head.or(at.head);
        entry.state.offset = offset;
        entry.state.lines = lines;
        entry.state.fp_len = offset.min(FINGERPRINT_BYTES);
        Ok(())
    }

    /// Hands everything pending to the flusher thread.
    fn flush(&mut self) -> Result<()> {
        let mut pending = std::mem::take(&mut self.pending);
        for (_, w) in std::mem::take(&mut self.quarantine) {
            pending.quarantine.push(w.finish(self.objects)?);
        }
        if pending.is_empty() {
            return Ok(());
        }
        self.tx
            .send(pending)
            .map_err(|_| Error::Usage("the ingest writer thread stopped".into()))
    }
}

impl Flusher<'_> {
    /// Writes everything pending and commits it as one record.
    fn flush(&mut self, pending: Pending) -> Result<()> {
        let commit_id = uuid::Uuid::now_v7().to_string();
        let mut rec = Record::new(self.kind, &commit_id);
        let objects = self.writer.objects().clone();
        let mut guard = Uncommitted::new(&objects);
        // Each partition streams into a staging file of its own, and its batches are dropped as
        // soon as it is written.
        // On the pool (`rayon::scope` runs its closure there), not on this thread: a flush of
        // one partition was otherwise encoded here, a third busy thread beside the pool's two
        // decoding ones on a 2-core machine.
        let encoded: Vec<Result<_>> = rayon::scope(|_| {
            pending
                .parts
                .into_par_iter()
                .map(|((stream, day), batches)| {
                    let path = Layout::data_object(stream, day);
                    let meta = FileMeta::new(&commit_id, stream, day);
                    encode(&objects, stream, &batches, &path, &meta).map(|e| (stream, day, path, e))
                })
                .collect()
        });
        // The staging files written are removed with the rest if any step fails.
        let mut done = Vec::with_capacity(encoded.len());
        let mut failed = None;
        for e in encoded {
            match e {
                Ok(e) => {
                    guard.push(&e.3.staging);
                    guard.push(&e.2);
                    done.push(e);
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        for q in &pending.quarantine {
            guard.push(&q.staging);
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let moves: Vec<(String, String)> = done
            .iter()
            .map(|(_, _, path, e)| (e.staging.clone(), path.clone()))
            .collect();
        publish_all_staged(&objects, &moves)?;
        for (stream, day, path, e) in done {
            let added = e.to_added(stream, day, &path);
            let stats = self.out.streams.entry(stream).or_default();
            stats.files_out += 1;
            stats.bytes_out += e.bytes;
            rec.add.push(added);
        }
        for q in pending.quarantine {
            guard.push(&q.file.path);
            publish_staged(&objects, &q.staging, &q.file.path)?;
            rec.add.push(q.file);
            rec.quarantine.extend(q.summaries);
        }
        for (_, c) in pending.ledger {
            let fp = match c.head {
                Some((len, fp)) if len == c.state.fp_len => fp,
                _ => fingerprint(&c.file, c.state.fp_len)?.unwrap_or(0),
            };
            rec.sources.push(LedgerChange {
                path: c.state.path,
                stream: c.state.stream.table().into(),
                fingerprint: format!("{fp:016x}"),
                fp_len: c.state.fp_len,
                from: c.from,
                to: c.state.offset,
                lines_from: c.lines_from,
                lines_to: c.state.lines,
            });
        }
        // In the order first seen: the catalog names a stream's first keys (see `drift`).
        let mut keys: Vec<_> = (pending.drift)
            .into_iter()
            .flat_map(|(stream, keys)| keys.into_iter().map(move |(key, v)| (stream, key, v)))
            .collect();
        keys.sort_by_key(|(_, _, v)| v.order);
        for (stream, (field, kind, ty), v) in keys {
            rec.drift.push(Drift {
                stream: stream.table().into(),
                field,
                kind: kind.into(),
                seen_type: ty.into(),
                source: v.source,
                line: v.line,
                count: v.count,
            });
        }
        self.writer.commit_files(rec, Some(&mut guard))?;
        self.out.commits += 1;
        heap::trim_above(self.trim_at);
        Ok(())
    }
}
