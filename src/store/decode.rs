//! Decoding blocks of JSONL lines into Arrow batches (per UTC day) and rejected lines, in
//! parallel chunks split at line boundaries. Used by ingest and by the query engine's fresh tail.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::model::Stream;
use crate::model::batch::DayBatches;
use crate::model::parse::{Normalized, ParseError, parse_line, parse_str_into};

/// How much of a rejected line the quarantine keeps (the source keeps the rest).
pub const RAW_KEEP: usize = 64 * 1024;

/// Target size of one parallel decoding chunk.
const CHUNK: usize = 1 << 20;

/// A line that could not be stored, with where it was and why.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// 1-based line number in the source.
    pub line_no: u64,
    /// Byte offset of the line in the source.
    pub byte_offset: u64,
    /// Why.
    pub reason: String,
    /// Its first [`RAW_KEEP`] bytes.
    pub raw: Vec<u8>,
    /// Its full length in bytes.
    pub raw_len: u64,
}

/// A schema-drift key: (field, `unknown_field` | `type_mismatch`, JSON type seen).
pub type DriftKey = (String, &'static str, &'static str);

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
    /// line, occurrences).
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
        for (k, (line, n)) in other.drift {
            self.drift
                .entry(k)
                .and_modify(|e| e.1 += n)
                .or_insert((line, n));
        }
    }
}

/// Decodes `data` (complete lines) of `stream`; `start` is the file offset of `data[0]` and
/// `first_line` the line number of its first line.
pub fn decode_lines(stream: Stream, data: &[u8], start: u64, first_line: u64) -> Decoded {
    let parts: Vec<Decoded> = split_chunks(data, CHUNK)
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
    let chunks = split_chunks(&data, CHUNK);
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
    Rejected {
        line_no,
        byte_offset,
        reason: ParseError::TooLong(len as usize).to_string(),
        raw: head,
        raw_len: len,
    }
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
    // Event lines are ~150–400 bytes: enough room for most chunks without regrowing.
    let mut days = DayBatches::with_capacity(stream, chunk.len() / 200 + 16);
    let mut out = Decoded::default();
    // Valid UTF-8 as a whole (the usual case) means every line is: one check per chunk.
    let text = std::str::from_utf8(chunk).ok();
    let mut pos = 0usize;
    let mut n = Normalized::default();
    while pos < chunk.len() {
        let end = memchr::memchr(b'\n', &chunk[pos..]).map_or(chunk.len(), |i| pos + i);
        let line = &chunk[pos..end];
        let line_no = out.lines + 1;
        out.lines += 1;
        if !line.iter().all(u8::is_ascii_whitespace) {
            let parsed = match text {
                Some(t) => parse_str_into(stream, &t[pos..end], &mut n),
                None => parse_line(stream, line).map(|m| n = m),
            };
            match parsed {
                Ok(()) => {
                    for (k, t) in &n.unknown {
                        note_drift(&mut out.drift, k, "unknown_field", t, line_no);
                    }
                    for (k, t) in &n.mismatched {
                        note_drift(&mut out.drift, k, "type_mismatch", t, line_no);
                    }
                    days.append(&n);
                }
                Err(e) => out.rejected.push(Rejected {
                    line_no,
                    byte_offset: start + pos as u64,
                    reason: e.to_string(),
                    raw: line[..line.len().min(RAW_KEEP)].to_vec(),
                    raw_len: line.len() as u64,
                }),
            }
        }
        pos = end + 1;
    }
    out.rows = days.rows() as u64;
    (out.batches, out.memory) = days.finish();
    // Relative numbering: the caller adds the chunk's first line number minus one.
    for r in &mut out.rejected {
        r.line_no -= 1;
    }
    for v in out.drift.values_mut() {
        v.0 -= 1;
    }
    out
}

fn note_drift(
    drift: &mut BTreeMap<DriftKey, (u64, u64)>,
    field: &str,
    kind: &'static str,
    ty: &'static str,
    line_no: u64,
) {
    // Few distinct keys, many hits: look up by reference before allocating the key.
    if let Some(e) = drift
        .iter_mut()
        .find(|((f, k, t), _)| f == field && *k == kind && *t == ty)
    {
        e.1.1 += 1;
    } else {
        drift.insert((field.to_string(), kind, ty), (line_no, 1));
    }
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
        let key = |d: &Decoded| {
            d.rejected
                .iter()
                .map(|r| (r.line_no, r.byte_offset, r.reason.clone(), r.raw.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&got), key(&whole));
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
}
