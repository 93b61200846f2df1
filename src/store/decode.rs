//! Decoding blocks of JSONL lines into Arrow batches (per UTC day) and rejected lines, in
//! parallel chunks split at line boundaries. Used by ingest and by the query engine's fresh tail.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, LazyLock};

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::model::Stream;
use crate::model::batch::DayBatches;
use crate::model::flex::Fields;
use crate::model::parse::{Normalized, ParseError, parse_line, parse_str_reusing};

use super::drift::{self, DriftKey, Tally};
use super::quarantine::Rejected;

/// Target size of one parallel decoding chunk.
const CHUNK: usize = 1 << 20;

/// Target size of one parallel decoding chunk of a merged log (see [`day_groups`]): each day's
/// rows of a chunk become one slice, which the writer joins with other chunks' slices of that
/// day; eight times larger slices made ingest of a 1.8 GB merged skill log 3.65 → 3.52 s (CPU
/// 7.08 → 6.88 s, medians of 6), where for logs in time order a chunk this large was no faster.
const MERGED_CHUNK: usize = 8 << 20;

/// The chunk size for a block of lines: [`MERGED_CHUNK`] when its first lines mix days.
fn chunk_target(data: &[u8]) -> usize {
    if mixed_days(data) {
        MERGED_CHUNK
    } else {
        CHUNK
    }
}

/// The result of decoding some lines.
#[derive(Default)]
pub struct Decoded {
    /// Rows, as (UTC day, batch).
    pub batches: Vec<(i32, RecordBatch)>,
    /// The memory `batches` hold.
    pub memory: usize,
    /// Rejected lines.
    pub rejected: Vec<Rejected>,
    /// Lines consumed (blank lines included).
    pub lines: u64,
    /// Rows produced.
    pub rows: u64,
    /// Fields that did not fit: (name, `unknown_field` | `type_mismatch`, JSON type) → (first
    /// line, occurrences); see [`drift`] for the limit on names.
    pub drift: BTreeMap<DriftKey, (u64, u64)>,
}

impl Decoded {
    /// Appends another result that follows this one in the file.
    pub fn extend(&mut self, other: Decoded) {
        self.batches.extend(other.batches);
        self.memory += other.memory;
        self.rejected.extend(other.rejected);
        self.lines += other.lines;
        self.rows += other.rows;
        drift::extend(&mut self.drift, other.drift);
    }
}

/// Decodes `data` (complete lines) of `stream`; `start` is the file offset of `data[0]` and
/// `first_line` the line number of its first line.
pub fn decode_lines(stream: Stream, data: &[u8], start: u64, first_line: u64) -> Decoded {
    let parts: Vec<Decoded> = split_chunks(data, chunk_target(data))
        .par_iter()
        .map(|&(a, b)| decode_chunk(stream, &data[a..b], start + a as u64))
        .collect();
    merge(parts, first_line)
}

/// A block of lines whose chunks are being decoded on the thread pool (see [`submit`]).
pub struct InFlight {
    results: Receiver<(usize, std::thread::Result<Decoded>)>,
    chunks: usize,
    data: Arc<Vec<u8>>,
}

/// Starts decoding `data` (complete lines of `stream`, `start` its file offset) on the thread
/// pool and returns at once. A caller that submits the next block before it waits for this one
/// keeps every core busy: with [`decode_lines`], one core idled at each block's last chunk and
/// while the caller handled the result. Measured on 2 cores: CPU use 93 % → 97 % of the wall
/// time, ingest 0–5 % faster across the generator's shapes, ~50 MiB more peak RSS.
pub fn submit(stream: Stream, data: Vec<u8>, start: u64) -> InFlight {
    let data = Arc::new(data);
    let chunks = split_chunks(&data, chunk_target(&data));
    let (tx, results) = mpsc::channel();
    for (i, &(a, b)) in chunks.iter().enumerate() {
        let (tx, data) = (tx.clone(), Arc::clone(&data));
        // FIFO: chunks run in the order blocks were submitted, so the oldest block ends first.
        rayon::spawn_fifo(move || {
            let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
                decode_chunk(stream, &data[a..b], start + a as u64)
            }));
            drop(data); // before the send, so that the waiter gets the buffer back
            let _ = tx.send((i, decoded));
        });
    }
    InFlight {
        results,
        chunks: chunks.len(),
        data,
    }
}

impl InFlight {
    /// Waits for the block's chunks and numbers its lines from `first_line`; gives back the
    /// block's buffer for reuse. A panic while decoding is resumed here, on the caller's thread.
    pub fn finish(self, first_line: u64) -> (Decoded, Vec<u8>) {
        let mut parts: Vec<Option<Decoded>> = (0..self.chunks).map(|_| None).collect();
        for (i, decoded) in self.results.iter().take(self.chunks) {
            match decoded {
                Ok(d) => parts[i] = Some(d),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        // A part missing would be lines lost with the ledger moved past them: never go on.
        let parts = parts
            .into_iter()
            .map(|p| p.expect("every chunk job sends its result before it ends"))
            .collect();
        let data = Arc::try_unwrap(self.data).unwrap_or_default();
        (merge(parts, first_line), data)
    }
}

/// Joins the chunks' results, in file order, numbering lines from `first_line`.
fn merge(mut parts: Vec<Decoded>, first_line: u64) -> Decoded {
    let mut out = Decoded::default();
    let mut line = first_line;
    for part in &mut parts {
        for r in &mut part.rejected {
            r.line_no += line;
        }
        for v in part.drift.values_mut() {
            v.0 += line;
        }
        line += part.lines;
    }
    for part in parts {
        out.extend(part);
    }
    out
}

/// A rejected line's entry for a line too long to hold in memory.
pub fn overlong(line_no: u64, byte_offset: u64, len: u64, head: Vec<u8>) -> Rejected {
    let reason = ParseError::TooLong(len as usize).to_string();
    Rejected::new(line_no, byte_offset, reason, &head, len)
}

fn split_chunks(data: &[u8], target: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut a = 0;
    while a < data.len() {
        let mut b = (a + target).min(data.len());
        if b < data.len() {
            b = match memchr::memchr(b'\n', &data[b..]) {
                Some(i) => b + i + 1,
                None => data.len(),
            };
        }
        out.push((a, b));
        a = b;
    }
    out
}

/// Line numbers in the result are relative (0-based within the chunk); the caller shifts them.
fn decode_chunk(stream: Stream, chunk: &[u8], start: u64) -> Decoded {
    let mut days = DayBatches::for_input(stream, chunk.len());
    let mut out = decode_into(stream, chunk, start, &mut days, None);
    out.rows = days.rows() as u64;
    (out.batches, out.memory) = days.finish();
    out
}

/// Decodes `chunk` (complete lines, `start` the file offset of its first byte), appending its
/// rows to `days`; returns its rejected lines, line count and drift, numbered from 0 (the caller
/// shifts them), without rows. With `base`, every row is appended at position `base` + its line
/// number (a group of blocks of which one mixes days, see [`decode_group`]); without, rows come
/// in file order, or by day when the chunk mixes days ([`day_groups`]).
fn decode_into(
    stream: Stream,
    chunk: &[u8],
    start: u64,
    days: &mut DayBatches,
    base: Option<u32>,
) -> Decoded {
    let mut d = ChunkDecoder {
        stream,
        chunk,
        // Valid UTF-8 as a whole (the usual case) means every line is: one check per chunk.
        text: std::str::from_utf8(chunk).ok(),
        start,
        days,
        out: Decoded::default(),
        drift: Tally::default(),
        n: Normalized::default(),
        fields: Fields::new(),
    };
    match day_groups(chunk) {
        None => {
            let mut pos = 0usize;
            let mut line_no = 0;
            while pos < chunk.len() {
                let end = memchr::memchr(b'\n', &chunk[pos..]).map_or(chunk.len(), |i| pos + i);
                line_no += 1;
                // With a base, the group is a few MiB: its line numbers fit u32.
                d.line(pos, end, line_no, base.map(|b| b + line_no as u32));
                pos = end + 1;
            }
            d.out.lines = line_no;
        }
        Some(lines) => {
            d.out.lines = lines.len() as u64;
            let base = base.unwrap_or(0);
            for (k, &(start, end, no)) in lines.iter().enumerate() {
                if let Some(&(a, b, _)) = lines.get(k + PREFETCH_AHEAD) {
                    prefetch(&chunk[a..b]);
                }
                d.line(start, end, no as u64, Some(base + no));
            }
            d.out.rejected.sort_by_key(|r| r.line_no);
        }
    }
    let mut out = d.out;
    out.drift = d.drift.finish();
    // Relative numbering: the caller adds the chunk's first line number minus one.
    for r in &mut out.rejected {
        r.line_no -= 1;
    }
    for v in out.drift.values_mut() {
        v.0 -= 1;
    }
    out
}

/// Bytes of small sources' blocks decoded together as one task ([`submit_group`]): a chunk's.
pub const GROUP_BYTES: usize = CHUNK;

/// Decodes the blocks of several small sources of `stream` (each complete lines, with the file
/// offset of its first byte) into one set of batches: a result per block, numbered from 0, the
/// rows of all of them in the first block's result.
fn decode_group(stream: Stream, blocks: &[(Vec<u8>, u64)]) -> Vec<Decoded> {
    let input = blocks.iter().map(|(data, _)| data.len()).sum();
    let mut days = DayBatches::for_input(stream, input);
    // Rows of a block that mixes days are appended by position; then every block's are.
    let by_position = blocks.iter().any(|(data, _)| mixed_days(data));
    let mut base = 0u32;
    let mut out: Vec<Decoded> = blocks
        .iter()
        .map(|(data, start)| {
            let before = days.rows();
            let mut d = decode_into(stream, data, *start, &mut days, by_position.then_some(base));
            d.rows = (days.rows() - before) as u64;
            base += d.lines as u32;
            d
        })
        .collect();
    if let Some(first) = out.first_mut() {
        (first.batches, first.memory) = days.finish();
    }
    out
}

/// The blocks of several small sources being decoded as one task (see [`submit_group`]).
pub struct GroupInFlight {
    result: Receiver<std::thread::Result<Vec<Decoded>>>,
    blocks: Arc<Vec<(Vec<u8>, u64)>>,
}

/// Starts decoding the blocks of several small sources of `stream` (each complete lines, with
/// the file offset of its first byte) as one task on the thread pool, and returns at once. A
/// task per source of 1,000 lines built batches a third the size of a chunk's, which then had
/// to be joined to be written (5,520 such files took 15 % more CPU than the same lines in 30).
pub fn submit_group(stream: Stream, blocks: Vec<(Vec<u8>, u64)>) -> GroupInFlight {
    let blocks = Arc::new(blocks);
    let (tx, result) = mpsc::channel();
    let job = Arc::clone(&blocks);
    rayon::spawn_fifo(move || {
        let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| decode_group(stream, &job)));
        drop(job); // before the send, so that the waiter gets the buffers back
        let _ = tx.send(decoded);
    });
    GroupInFlight { result, blocks }
}

impl GroupInFlight {
    /// Waits for the task: a result per block, its lines numbered from `first_lines`' entry, the
    /// rows of every block in the first result (add them all to one commit); gives back the
    /// blocks' buffers for reuse. A panic while decoding is resumed here.
    pub fn finish(self, first_lines: &[u64]) -> (Vec<Decoded>, Vec<Vec<u8>>) {
        // No result would be lines lost with the ledger moved past them: never go on.
        let decoded = match self
            .result
            .recv()
            .expect("the group's task sends its result before it ends")
        {
            Ok(d) => d,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let decoded = decoded
            .into_iter()
            .zip(first_lines)
            .map(|(d, &first)| merge(vec![d], first))
            .collect();
        let buffers = Arc::try_unwrap(self.blocks)
            .map(|blocks| blocks.into_iter().map(|(data, _)| data).collect())
            .unwrap_or_default();
        (decoded, buffers)
    }
}

/// How many lines ahead of the one being decoded [`decode_chunk`] prefetches a merged log's
/// lines: taken by day, each line is a jump of some kilobytes from the last one, which the
/// hardware prefetcher cannot guess, and their first bytes missed the core's cache. On a 1.8 GB
/// merged skill log (perf, tmpfs): `decode_chunk`'s own CPU 328 → 177 ms six lines ahead, less
/// again twelve ahead (2.7 → 2.0 % of the CPU); ingest 3.53 → 3.48 s (medians of 7).
const PREFETCH_AHEAD: usize = 12;

/// Asks the CPU to bring `line` (its first 512 bytes) into its cache ahead of use.
#[inline(always)]
fn prefetch(line: &[u8]) {
    /// Bytes of a line prefetched: an event line's usual length.
    const PREFETCH_BYTES: usize = 512;
    #[cfg(target_arch = "x86_64")]
    for at in (0..line.len().min(PREFETCH_BYTES)).step_by(64) {
        // SAFETY: a prefetch is a hint: it cannot fault, and `at` is inside `line` anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().add(at).cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = line;
}

/// The state of decoding one chunk, line by line.
struct ChunkDecoder<'a, 'd> {
    stream: Stream,
    chunk: &'a [u8],
    text: Option<&'a str>,
    start: u64,
    days: &'d mut DayBatches,
    out: Decoded,
    /// The schema drift of the chunk's lines.
    drift: Tally,
    /// Reused from line to line (its buffers).
    n: Normalized<'a>,
    /// Reused from line to line ([`parse_str_reusing`]).
    fields: Fields<'a>,
}

impl<'a> ChunkDecoder<'a, '_> {
    /// Decodes `chunk[pos..end]`, line `line_no` of the chunk (1-based); `position` when lines
    /// are decoded out of order (then `line_no`).
    #[inline(always)]
    fn line(&mut self, pos: usize, end: usize, line_no: u64, position: Option<u32>) {
        let line = &self.chunk[pos..end];
        // A line of only a byte-order mark (an empty file a Windows tool saved) is blank too.
        let body = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        if body.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let parsed = match self.text {
            Some(t) => parse_str_reusing(self.stream, &t[pos..end], &mut self.n, &mut self.fields),
            None => parse_line(self.stream, line).map(|m| self.n = m),
        };
        let out = &mut self.out;
        match parsed {
            Ok(()) => {
                for (k, t) in &self.n.unknown {
                    self.drift.note(k, "unknown_field", t, line_no);
                }
                for (k, t) in &self.n.mismatched {
                    self.drift.note(k, "type_mismatch", t, line_no);
                }
                match position {
                    None => self.days.append(&self.n),
                    Some(p) => self.days.append_at(&self.n, p),
                }
            }
            Err(e) => out.rejected.push(Rejected::new(
                line_no,
                self.start + pos as u64,
                e.to_string(),
                line,
                line.len() as u64,
            )),
        }
    }
}

/// Lines of a chunk whose first lines name several days (a merged log: each line's day differs
/// from its neighbour's), as `(start, end, line number)`, grouped by the day each line's
/// timestamp names ([`day_hint`]), each group in file order; `None` when the first lines name one
/// day (logs in time order: nearly every chunk). Decoded in this order, each day's rows are
/// adjacent and become a slice of the chunk's batch, where rows in file order had to be gathered
/// by day with a `take` (with its sort, 4.5 % of the CPU of ingesting a merged log, perf; lines
/// decoded out of order give part of it back, being farther apart in memory: 1.8 GB merged skill
/// log 3.60 → 3.53 s, peak RSS 770 → 660 MiB, medians of 7). The day read here only orders lines:
/// rows take their day from the parser, and a wrong guess costs the `take` again, never a
/// misplaced row.
fn day_groups(chunk: &[u8]) -> Option<Vec<(usize, usize, u32)>> {
    if !mixed_days(chunk) {
        return None;
    }
    // (start, end, day hint) of each line, in file order.
    let mut lines: Vec<(usize, usize, u32)> = Vec::with_capacity(chunk.len() / 200 + 16);
    let mut pos = 0usize;
    while pos < chunk.len() {
        let end = memchr::memchr(b'\n', &chunk[pos..]).map_or(chunk.len(), |i| pos + i);
        // Hints are non-negative; lines without one go last.
        let day = day_hint(&chunk[pos..end]).map_or(u32::MAX, |d| d as u32);
        lines.push((pos, end, day));
        pos = end + 1;
    }
    // Line numbers are u32: a chunk of more lines is decoded in file order instead.
    u32::try_from(lines.len()).ok()?;
    let hinted = || lines.iter().map(|l| l.2).filter(|&d| d != u32::MAX);
    let (lo, hi) = (hinted().min().unwrap_or(0), hinted().max().unwrap_or(0));
    if hi - lo >= MAX_DAY_SPAN {
        // Days far apart (a log of several years in one chunk): sort the keys.
        let mut order: Vec<u64> = (0..lines.len() as u64)
            .map(|i| (lines[i as usize].2 as u64) << 32 | i)
            .collect();
        order.sort_unstable();
        return Some(
            order
                .into_iter()
                .map(|k| {
                    let (start, end, _) = lines[k as u32 as usize];
                    (start, end, k as u32 + 1)
                })
                .collect(),
        );
    }
    // A counting sort by day (stable: each day's lines stay in file order), the lines without
    // a hint in the last bucket: `sort_unstable` of the keys was ~1 % of the CPU of ingesting a
    // merged log (perf).
    let bucket = |day: u32| {
        if day == u32::MAX {
            (hi - lo + 1) as usize
        } else {
            (day - lo) as usize
        }
    };
    let mut next = vec![0usize; (hi - lo + 3) as usize];
    for l in &lines {
        next[bucket(l.2) + 1] += 1;
    }
    for b in 1..next.len() {
        next[b] += next[b - 1];
    }
    let mut out = vec![(0, 0, 0); lines.len()];
    for (i, &(start, end, day)) in lines.iter().enumerate() {
        let b = bucket(day);
        out[next[b]] = (start, end, i as u32 + 1);
        next[b] += 1;
    }
    Some(out)
}

/// Day hints in one chunk spanning at least this many days are sorted, not counted into buckets.
const MAX_DAY_SPAN: u32 = 1 << 16;

/// Whether the first lines of `data` name more than one day ([`day_hint`]): a merged log.
fn mixed_days(data: &[u8]) -> bool {
    /// Lines looked at to tell a merged log from one in time order.
    const SAMPLE: usize = 16;
    let mut first = None;
    data.split(|&c| c == b'\n')
        .take(SAMPLE)
        .filter_map(day_hint)
        .any(|day| *first.get_or_insert(day) != day)
}

/// The date a line's `"timestamp"` starts with, `YYYY-MM-DD` as a number that sorts as the dates
/// do, read without parsing the line: from its first occurrence of the key, wherever it is, and
/// without checking the digits or the time zone (a guess that orders lines, see [`day_groups`];
/// a full parse of the time here cost 3 % of the CPU of ingesting a merged log).
fn day_hint(line: &[u8]) -> Option<i32> {
    const KEY: &[u8] = b"\"timestamp\"";
    static FINDER: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(KEY));
    // The loggers write the timestamp first: `{"timestamp":"2026-…`.
    let rest = match line.strip_prefix(b"{\"timestamp\":\"") {
        Some(rest) => rest,
        None => {
            let rest = &line[FINDER.find(line)? + KEY.len()..];
            let rest = rest.trim_ascii_start().strip_prefix(b":")?;
            rest.trim_ascii_start().strip_prefix(b"\"")?
        }
    };
    let date = rest.get(..10)?;
    let digits = |r: std::ops::Range<usize>| {
        date[r]
            .iter()
            .fold(0i32, |n, &c| n * 10 + (c.wrapping_sub(b'0') as i32 & 0xf))
    };
    Some(digits(0..4) * 512 + digits(5..7) * 32 + digits(8..10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_and_offsets_survive_chunking() {
        let good = r#"{"timestamp":"2026-11-28T00:00:00Z","cuj_id":"C","success":true}"#;
        let mut data = String::new();
        for i in 0..50_000 {
            if i % 1000 == 7 {
                data.push_str("{bad\n");
            } else if i % 1000 == 9 {
                data.push('\n');
            } else {
                data.push_str(good);
                data.push('\n');
            }
        }
        let d = decode_lines(Stream::Cuj, data.as_bytes(), 100, 11);
        assert_eq!(d.lines, 50_000);
        assert_eq!(d.rows, 50_000 - 100);
        assert_eq!(d.rejected.len(), 50);
        let r = &d.rejected[3];
        assert_eq!(r.line_no, 11 + 3007);
        let off = (r.byte_offset - 100) as usize;
        assert_eq!(&data[off..off + 5], "{bad\n");
    }

    /// Blocks submitted ahead of the one waited for (as ingest does) decode to what one call of
    /// `decode_lines` over all of them gives: the same rows, line numbers, offsets and drift.
    #[test]
    fn blocks_in_flight_together_decode_as_one() {
        let mut data = String::new();
        for i in 0..60_000 {
            match i % 997 {
                5 => data.push_str("{bad\n"),
                6 => data.push('\n'),
                7 => data.push_str("{\"timestamp\":\"2026-11-28T00:00:00Z\",\"cuj_id\":\"C\",\"odd\":1}\n"),
                _ => data.push_str(&format!(
                    "{{\"timestamp\":\"2026-11-{:02}T00:00:00Z\",\"cuj_id\":\"C{i}\",\"success\":true}}\n",
                    1 + i % 28
                )),
            }
        }
        let whole = decode_lines(Stream::Cuj, data.as_bytes(), 7, 1);
        // Three blocks of unequal size, cut at line ends; two in flight at any time.
        let cut = |c: usize| data[c..].find('\n').map_or(data.len(), |i| c + i + 1);
        let bounds = [0, cut(data.len() / 3), cut(data.len() * 4 / 5), data.len()];
        let (mut line, mut got) = (1, Decoded::default());
        let mut in_flight: Option<InFlight> = None;
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1]);
            let next = submit(Stream::Cuj, data.as_bytes()[a..b].to_vec(), 7 + a as u64);
            if let Some(done) = in_flight.replace(next) {
                let (d, _) = done.finish(line);
                line += d.lines;
                got.extend(d);
            }
        }
        let (d, buffer) = in_flight.take().expect("the last block").finish(line);
        assert!(!buffer.is_empty(), "the buffer comes back for reuse");
        got.extend(d);
        assert_eq!((got.lines, got.rows), (whole.lines, whole.rows));
        assert_eq!(got.lines, 60_000);
        assert_eq!(got.rejected, whole.rejected);
        assert_eq!(got.drift, whole.drift);
        let rows = |d: &Decoded| {
            let mut days: BTreeMap<i32, usize> = BTreeMap::new();
            for (day, b) in &d.batches {
                *days.entry(*day).or_default() += b.num_rows();
            }
            days
        };
        assert_eq!(rows(&got), rows(&whole));
    }

    /// Small sources' blocks decoded as one group give each block what decoding it alone gives
    /// (lines, rows, rejected lines, drift), and together the same rows per day in file order,
    /// whether or not one of the blocks mixes days.
    #[test]
    fn a_group_of_blocks_decodes_as_each_block_alone() {
        let line = |day: u32, id: usize| {
            format!(
                "{{\"timestamp\":\"2026-11-{day:02}T00:00:00Z\",\"cuj_id\":\"C{id}\",\"success\":true}}\n"
            )
        };
        let ordered = |first: usize, day: u32| {
            let mut b = String::new();
            for i in 0..40 {
                match i {
                    3 => b.push_str("{bad\n"),
                    4 => b.push('\n'),
                    5 => b.push_str(
                        "{\"timestamp\":\"2026-11-05T00:00:00Z\",\"cuj_id\":\"C\",\"odd\":1}\n",
                    ),
                    _ => b.push_str(&line(day, first + i)),
                }
            }
            b
        };
        let mut mixed = String::new();
        for i in 0..40 {
            mixed.push_str(&line(1 + (i % 3) as u32, 1000 + i));
        }
        mixed.push_str("{bad\n");
        for with_mixed in [false, true] {
            let mut texts = vec![ordered(0, 1), ordered(100, 1), ordered(200, 2)];
            if with_mixed {
                texts.insert(1, mixed.clone());
            }
            let blocks: Vec<(Vec<u8>, u64)> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone().into_bytes(), 10 * i as u64))
                .collect();
            let first_lines: Vec<u64> = (0..blocks.len() as u64).map(|i| 1 + 100 * i).collect();
            let (got, buffers) = submit_group(Stream::Cuj, blocks.clone()).finish(&first_lines);
            assert_eq!(
                buffers.len(),
                blocks.len(),
                "the buffers come back for reuse"
            );
            let alone: Vec<Decoded> = blocks
                .iter()
                .zip(&first_lines)
                .map(|((data, start), &first)| decode_lines(Stream::Cuj, data, *start, first))
                .collect();
            for (g, a) in got.iter().zip(&alone) {
                assert_eq!((g.lines, g.rows), (a.lines, a.rows));
                assert_eq!(g.rejected, a.rejected);
                assert_eq!(g.drift, a.drift);
            }
            assert!(
                got[1..].iter().all(|d| d.batches.is_empty()),
                "rows come in the first"
            );
            // Each day's ids, in file order, as the blocks decoded alone give them.
            let ids = |parts: Vec<&(i32, RecordBatch)>| {
                let mut days: BTreeMap<i32, Vec<String>> = BTreeMap::new();
                for (day, b) in parts {
                    let col = b.column_by_name("cuj_id").expect("cuj_id");
                    let col = (col.as_any().downcast_ref::<arrow::array::StringArray>())
                        .expect("a text column");
                    let v = days.entry(*day).or_default();
                    v.extend((0..b.num_rows()).map(|r| col.value(r).to_string()));
                }
                days
            };
            let want = ids(alone.iter().flat_map(|d| &d.batches).collect());
            assert_eq!(ids(got.iter().flat_map(|d| &d.batches).collect()), want);
        }
    }

    /// A merged chunk's lines come grouped by day, each day's in file order, lines with no day
    /// last: counted into buckets, or sorted when the days span more than the buckets.
    #[test]
    fn day_groups_keep_each_days_lines_in_file_order() {
        for far in ["2026", "2226"] {
            let days = [
                "2026-11-03",
                "2026-11-01",
                "n",
                "2026-11-03",
                &format!("{far}-11-02"),
            ];
            let lines: Vec<String> = (0..40)
                .map(|i| match days[i % days.len()] {
                    "n" => format!(r#"{{"cuj_id":"C{i}","success":true}}"#),
                    d => format!(r#"{{"timestamp":"{d}T00:00:00Z","cuj_id":"C{i}"}}"#),
                })
                .collect();
            let data: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let got: Vec<u32> = day_groups(data.as_bytes())
                .expect("mixed days")
                .iter()
                .map(|g| g.2)
                .collect();
            let mut want: Vec<u32> = (1..=40).collect();
            // Days in order, lines without one last (`~` sorts after digits).
            let key = |no: &u32| match days[(*no as usize - 1) % days.len()] {
                "n" => "~".to_string(),
                d => d.to_string(),
            };
            want.sort_by_key(key);
            assert_eq!(got, want, "{far}");
            for g in day_groups(data.as_bytes()).unwrap() {
                assert_eq!(&data[g.0..g.1], lines[g.2 as usize - 1]);
            }
        }
    }

    /// A merged log (lines of many days interleaved) decodes, line for line, to what each of its
    /// lines decodes to alone: each day's rows in file order, rejected lines in order with their
    /// line numbers and offsets, drift with its first line. Among its lines, some whose first
    /// `"timestamp"` is not theirs, some without an ISO time, some whose date is not their UTC
    /// day, so that the day its lines are grouped by is sometimes wrong.
    #[test]
    fn a_merged_log_decodes_as_its_lines_do_one_by_one() {
        use arrow::array::{Array, StringArray};
        let epoch_ms =
            |day: i64| crate::model::timefmt::days_from_civil(2026, 11, day) * 86_400_000;
        let mut lines = Vec::new();
        for i in 0..4000i64 {
            let day = 1 + (i * 7) % 9;
            lines.push(match i % 101 {
                3 => "{bad".to_string(),
                4 => String::new(),
                5 => format!(
                    r#"{{"extra":{{"timestamp":"2026-11-20T00:00:00Z"}},"timestamp":"2026-11-{day:02}T01:00:00Z","cuj_id":"C{i}","success":true}}"#
                ),
                6 => format!(
                    r#"{{"timestamp":{},"cuj_id":"C{i}","success":true}}"#,
                    epoch_ms(day) + 3_600_000
                ),
                7 => format!(
                    r#"{{"timestamp":"2026-11-{day:02}T23:30:00-05:00","cuj_id":"C{i}","success":true}}"#
                ),
                8 => format!(
                    r#"{{"timestamp":"2026-11-{day:02}T10:00:00Z","cuj_id":"C{i}","success":true,"duration_ms":"slow","odd":{i}}}"#
                ),
                _ => format!(
                    r#"{{"timestamp":"2026-11-{day:02}T{:02}:00:00Z","cuj_id":"C{i}","success":true}}"#,
                    i % 24
                ),
            });
        }
        let data: String = lines.iter().map(|l| format!("{l}\n")).collect();
        assert!(
            day_groups(data.as_bytes()).is_some(),
            "decoded grouped by day"
        );
        let got = decode_chunk(Stream::Cuj, data.as_bytes(), 5);

        let mut want = Decoded::default();
        let mut at = 5u64;
        for (k, line) in lines.iter().enumerate() {
            let mut one = decode_chunk(Stream::Cuj, line.as_bytes(), at);
            assert!(day_groups(line.as_bytes()).is_none());
            for r in &mut one.rejected {
                r.line_no += k as u64;
            }
            for v in one.drift.values_mut() {
                v.0 += k as u64;
            }
            want.extend(one);
            at += line.len() as u64 + 1;
        }
        assert_eq!((got.lines, got.rows), (4000, want.rows));
        assert_eq!(got.rejected, want.rejected);
        assert_eq!(got.drift, want.drift);
        let per_day = |d: &Decoded| {
            let mut days: BTreeMap<i32, Vec<String>> = BTreeMap::new();
            for (day, b) in &d.batches {
                let ids = b.column_by_name("cuj_id").unwrap();
                let ids = ids.as_any().downcast_ref::<StringArray>().unwrap();
                let out = days.entry(*day).or_default();
                out.extend((0..ids.len()).map(|r| ids.value(r).to_string()));
            }
            days
        };
        assert_eq!(per_day(&got), per_day(&want));
        assert_eq!(
            per_day(&got).len(),
            10,
            "nine days and the day after the last"
        );
    }

    /// A block whose first lines mix days is cut into the larger chunks of a merged log; one in
    /// time order (or without ISO timestamps) into the usual ones.
    #[test]
    fn merged_logs_are_decoded_in_larger_chunks() {
        let line = |day: usize| format!("{{\"timestamp\":\"2026-11-{day:02}T10:00:00Z\"}}\n");
        let merged: String = (0..40).map(|i| line(1 + i % 3)).collect();
        let ordered: String = (0..40).map(|i| line(1 + i / 20)).collect();
        let epochs: String = (0..40)
            .map(|i| format!("{{\"timestamp\":{i}}}\n"))
            .collect();
        assert_eq!(chunk_target(merged.as_bytes()), MERGED_CHUNK);
        assert_eq!(chunk_target(ordered.as_bytes()), CHUNK);
        assert_eq!(chunk_target(epochs.as_bytes()), CHUNK);
    }
}
