//! Arrow batch building: normalized events → one [`RecordBatch`] per stream and UTC day, with
//! `error_pattern` derived on the way (`event_id` is derived at query time: see [`super::identity`]).

use std::sync::Arc;

use arrow::array::builder::NullBufferBuilder;
use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringArray,
    TimestampMillisecondBuilder, UInt32Array,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;

use super::parse::Normalized;
use super::pattern::with_error_pattern;
use super::schema::{Col, Stream};
use super::timefmt::day_of_ms;

/// A column other than `ts` and text.
enum ColBuilder {
    F64(Float64Builder),
    I64(Int64Builder),
    Bool(BooleanBuilder),
}

/// Accumulates the rows of one stream (all for one day, or not: the caller decides).
///
/// Builders are grouped by kind (`ts`, text, the rest), so that appending a row dispatches once
/// per column on where its value comes from, not also on the builder's type.
pub struct BatchBuilder {
    stream: Stream,
    /// `ts`, every stream's first column.
    ts: TimestampMillisecondBuilder,
    /// The text columns, in schema order.
    texts: Vec<(Col, TextBuilder)>,
    /// The other columns, in schema order.
    others: Vec<(Col, ColBuilder)>,
    rows: usize,
    /// Bytes of input the batch is built from, when known ([`DayBatches::for_input`]): its text
    /// columns are then sized by what the last such batch on this thread held per input byte.
    input: usize,
}

/// Text columns of a stream whose size [`TEXT_SHARE`] keeps (every stream has fewer).
const TEXT_COLUMNS_MAX: usize = 16;

thread_local! {
    /// Bytes of the text columns' values per 1024 bytes of input, of the last batch of each
    /// stream built on this thread for a known input size (0: none yet), which the next one
    /// reserves (+1/8) when that is more than its guess per row. The guess alone grew the
    /// `metadata` of json.dumps objects twice a chunk and long error texts four times, each
    /// time copying the column (`memmove` under `finish_grow`: 1.7 % of ingesting the python
    /// shape; ingest 0.95-0.96x the wall time, 11 of 12 pairs).
    static TEXT_SHARE: std::cell::Cell<[[u16; TEXT_COLUMNS_MAX]; 4]> =
        const { std::cell::Cell::new([[0; TEXT_COLUMNS_MAX]; 4]) };
    /// Bytes of input per row of the last batch of each stream built on this thread for a
    /// known input size (0: none yet), by which the next one is sized ([`DayBatches::for_input`]).
    /// A guess of 200 bytes per line was 15 % short for the ~170-byte lines of CUJ runs,
    /// progress events and provider calls, so every builder of those grew once, copying itself
    /// into fresh memory (a fifth of the page faults of ingesting 1M events of all streams).
    static ROW_BYTES: std::cell::Cell<[u32; 4]> = const { std::cell::Cell::new([0; 4]) };
}

/// Rows to size a batch of `input` bytes of `stream`'s lines for: a row per 200 bytes (event
/// lines are ~150–600 bytes), or more when the last such batch on this thread had shorter rows
/// (by its row size, +1/8).
fn rows_for_input(stream: Stream, input: usize) -> usize {
    let learned = match ROW_BYTES.with(|r| r.get()[stream as usize]) as usize {
        0 => 0,
        bytes => input / bytes * 9 / 8,
    };
    (input / 200).max(learned) + 16
}

impl BatchBuilder {
    /// An empty builder for `stream`.
    pub fn new(stream: Stream) -> Self {
        Self::with_capacity(stream, 1024)
    }

    /// An empty builder for `stream` sized for about `rows` rows (growing a builder copies it:
    /// that was a visible share of ingest time).
    pub fn with_capacity(stream: Stream, rows: usize) -> Self {
        Self::sized_for(stream, rows, 0)
    }

    /// [`Self::with_capacity`], and when `input` (bytes of input lines) is not 0, the text
    /// columns sized at least as the last such batch of the stream on this thread held (+1/8).
    fn sized_for(stream: Stream, rows: usize, input: usize) -> Self {
        let shares = match input {
            0 => [0; TEXT_COLUMNS_MAX],
            _ => TEXT_SHARE.with(|s| s.get()[stream as usize]),
        };
        let learned = |k: usize, guess: usize| match shares.get(k) {
            Some(&share) => guess.max((input / 1024 + 1) * (share as usize * 9 / 8)),
            _ => guess,
        };
        let mut texts = Vec::new();
        let mut others = Vec::new();
        for c in stream.stored_columns() {
            match c {
                Col::Ts => {}
                Col::DurationMs | Col::Percentage | Col::LatencyMs => {
                    others.push((c, ColBuilder::F64(Float64Builder::with_capacity(rows))))
                }
                Col::CacheHit | Col::Success => {
                    others.push((c, ColBuilder::Bool(BooleanBuilder::with_capacity(rows))))
                }
                Col::Step => others.push((c, ColBuilder::I64(Int64Builder::with_capacity(rows)))),
                // Typical value sizes: JSON documents and messages ~50 bytes, names ~16,
                // error texts and unknown fields mostly null.
                Col::Params | Col::Metadata | Col::Message => {
                    let bytes = learned(texts.len(), rows * 48);
                    texts.push((c, TextBuilder::with_capacity(rows, bytes)))
                }
                Col::Error | Col::ErrorPattern | Col::Extra => {
                    let bytes = learned(texts.len(), rows * 4);
                    texts.push((c, TextBuilder::with_capacity(rows, bytes)))
                }
                _ => {
                    let bytes = learned(texts.len(), rows * 16);
                    texts.push((c, TextBuilder::with_capacity(rows, bytes)))
                }
            }
        }
        BatchBuilder {
            stream,
            ts: TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
            texts,
            others,
            rows: 0,
            input,
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row was appended.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one event.
    pub fn append(&mut self, n: &Normalized<'_>) {
        match n.error.as_deref() {
            // The pattern is read where the per-thread cache holds it, not copied out.
            Some(error) => with_error_pattern(error, |p| self.append_with(n, Some(p))),
            None => self.append_with(n, None),
        }
    }

    /// [`Self::append`], given the error's pattern.
    fn append_with(&mut self, n: &Normalized<'_>, pattern: Option<&str>) {
        self.ts.append_value(n.ts);
        for (col, b) in &mut self.texts {
            b.append_option(match col {
                Col::Skill => n.skill.as_deref(),
                Col::Agent => n.agent.as_deref(),
                Col::Result => n.result.as_deref(),
                Col::RunId => n.run_id.as_deref(),
                Col::CujId => n.cuj_id.as_deref(),
                Col::Status => n.status.as_deref(),
                Col::Message => n.message.as_deref(),
                Col::Error => n.error.as_deref(),
                Col::Provider => n.provider.as_deref(),
                Col::Model => n.model.as_deref(),
                Col::Params => n.params(),
                Col::ErrorPattern => pattern,
                Col::Extra => n.extra.as_deref(),
                Col::Metadata => Some(&n.metadata),
                _ => None,
            });
        }
        for (col, b) in &mut self.others {
            match b {
                ColBuilder::F64(b) => b.append_option(match col {
                    Col::DurationMs => n.duration_ms,
                    Col::Percentage => n.percentage,
                    _ => n.latency_ms,
                }),
                ColBuilder::Bool(b) => b.append_option(match col {
                    Col::CacheHit => n.cache_hit,
                    _ => n.success,
                }),
                ColBuilder::I64(b) => b.append_option(n.step),
            }
        }
        self.rows += 1;
    }

    /// Finishes the batch (the builder is left empty and reusable).
    pub fn finish(&mut self) -> RecordBatch {
        if self.input > 0 {
            let input = self.input;
            if let Some(per_row) = input.checked_div(self.rows) {
                let bytes = u32::try_from(per_row).unwrap_or(u32::MAX).max(1);
                ROW_BYTES.with(|r| {
                    let mut all = r.get();
                    all[self.stream as usize] = bytes;
                    r.set(all);
                });
            }
            TEXT_SHARE.with(|s| {
                let mut all = s.get();
                let shares = &mut all[self.stream as usize];
                for ((_, t), share) in self.texts.iter().zip(shares.iter_mut()) {
                    *share = (t.bytes.len() * 1024 / input).min(u16::MAX as usize) as u16;
                }
                s.set(all);
            });
        }
        let mut texts = self.texts.iter_mut();
        let mut others = self.others.iter_mut();
        // Each group is in schema order: taking the next of the column's group follows it.
        let arrays: Vec<ArrayRef> = self
            .stream
            .stored_columns()
            .filter_map(|c| -> Option<ArrayRef> {
                Some(match c {
                    Col::Ts => Arc::new(self.ts.finish()),
                    Col::DurationMs
                    | Col::Percentage
                    | Col::LatencyMs
                    | Col::CacheHit
                    | Col::Success
                    | Col::Step => match &mut others.next()?.1 {
                        ColBuilder::F64(b) => Arc::new(b.finish()),
                        ColBuilder::I64(b) => Arc::new(b.finish()),
                        ColBuilder::Bool(b) => Arc::new(b.finish()),
                    },
                    _ => Arc::new(texts.next()?.1.finish()),
                })
            })
            .collect();
        self.rows = 0;
        // The builders follow the schema column by column, so this cannot fail.
        RecordBatch::try_new(self.stream.file_schema(), arrays)
            .expect("builders match the stream schema")
    }
}

/// A `Utf8` column under construction. Arrow's `StringBuilder` calls `memcpy` for every value
/// and has an out-of-line `append_null`: together ~5 % of ingest CPU (perf) for values that
/// are mostly 4–50 bytes. Here values up to 64 bytes are copied inline.
struct TextBuilder {
    offsets: Vec<i32>,
    bytes: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl TextBuilder {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        TextBuilder {
            offsets,
            bytes: Vec::with_capacity(bytes),
            nulls: NullBufferBuilder::new(rows),
        }
    }

    #[inline(always)]
    fn append_option(&mut self, v: Option<&str>) {
        match v {
            Some(s) => {
                push_bytes(&mut self.bytes, s.as_bytes());
                self.nulls.append_non_null();
            }
            None => self.nulls.append_null(),
        }
        // Offsets are i32 (Utf8): a batch holds far less than 2 GiB of text, since a chunk of
        // input is at most a few MiB.
        self.offsets.push(self.bytes.len() as i32);
    }

    /// The column so far; the builder is left empty.
    fn finish(&mut self) -> StringArray {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let bytes = std::mem::take(&mut self.bytes);
        // Offsets start at 0 and never decrease (validated here, O(rows)).
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let nulls = self.nulls.finish();
        // SAFETY: every value appended was a whole `&str` (UTF-8) and each offset marks where
        // one ends, so the bytes are UTF-8 and every offset is a char boundary; the offsets
        // count is rows + 1, the nulls' length is rows.
        unsafe { StringArray::new_unchecked(offsets, Buffer::from_vec(bytes), nulls) }
    }
}

/// Appends `s` to `dst`, inline for up to 64 bytes (two overlapping loads and stores of the
/// widest size that fits, as `memcpy` does after its call and size dispatch): names and ids,
/// and most `params` and `metadata` documents.
#[inline(always)]
fn push_bytes(dst: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n > 64 {
        dst.extend_from_slice(s);
        return;
    }
    dst.reserve(64);
    let len = dst.len();
    // SAFETY: `reserve(64)` leaves at least 64 >= n writable bytes after `len`; every read is
    // inside `s` (each pair of loads covers s[0..w] and s[n-w..n] with w <= n); `set_len`
    // covers exactly the n bytes just written.
    unsafe {
        let (p, q) = (dst.as_mut_ptr().add(len), s.as_ptr());
        macro_rules! pair {
            ($t:ty) => {{
                let w = std::mem::size_of::<$t>();
                let (a, b) = (
                    q.cast::<$t>().read_unaligned(),
                    q.add(n - w).cast::<$t>().read_unaligned(),
                );
                p.cast::<$t>().write_unaligned(a);
                p.add(n - w).cast::<$t>().write_unaligned(b);
            }};
        }
        match n {
            33..=64 => pair!([u128; 2]),
            16..=32 => pair!(u128),
            8..=15 => pair!(u64),
            4..=7 => pair!(u32),
            1..=3 => {
                *p = *q;
                *p.add(n / 2) = *q.add(n / 2);
                *p.add(n - 1) = *q.add(n - 1);
            }
            _ => {}
        }
        dst.set_len(len + n);
    }
}

/// Rows of one stream, split by UTC day when finished.
///
/// All rows go into one builder, with each row's day noted. Rows whose days come in runs, one
/// run per day, become a slice per run (no copy): a chunk that holds one day (lines in time
/// order: nearly every chunk), or a merged log's chunk whose lines the decoder appended grouped
/// by day (`store::decode`). Otherwise the rows are put in day order with one `take` and split
/// into a slice per day. A builder per day, as this was first, cost a file interleaving 30 days
/// 30 small allocations and a map lookup per row, and every builder sized for the whole chunk
/// held 30× the memory of its rows (1540 small files on 910 MB of such lines); a `take` per
/// day, as it was next, made 30 small arrays per column and chunk (0.45 s of allocation and
/// drops on 10M lines of `generate --shape merged`, perf); gathering each day's rows from many
/// chunks with `interleave` when writing, which copies once instead of twice, was slower still
/// (one small copy per value, from ~70 batches in turn: +0.5 s wall).
pub struct DayBatches {
    rows: BatchBuilder,
    /// The day of each row appended.
    days: Vec<i32>,
    /// The position in the input of each row appended, when rows are appended out of input
    /// order ([`Self::append_at`]); empty otherwise.
    positions: Vec<u32>,
}

impl DayBatches {
    /// Empty, for `stream`.
    pub fn new(stream: Stream) -> Self {
        Self::with_capacity(stream, 1024)
    }

    /// Empty, for `stream`, sized for about `rows` rows.
    pub fn with_capacity(stream: Stream, rows: usize) -> Self {
        DayBatches {
            rows: BatchBuilder::with_capacity(stream, rows),
            days: Vec::with_capacity(rows),
            positions: Vec::new(),
        }
    }

    /// Empty, for `stream`, sized for the rows of `input` bytes of input lines.
    pub fn for_input(stream: Stream, input: usize) -> Self {
        let rows = rows_for_input(stream, input);
        DayBatches {
            rows: BatchBuilder::sized_for(stream, rows, input),
            days: Vec::with_capacity(rows),
            positions: Vec::new(),
        }
    }

    /// Appends one event.
    pub fn append(&mut self, n: &Normalized<'_>) {
        self.days.push(day_of_ms(n.ts));
        self.rows.append(n);
    }

    /// Appends one event that came at `position` in the input, when events are appended out of
    /// input order: each day's rows still come out in input order. Use for every row or none.
    pub fn append_at(&mut self, n: &Normalized<'_>, position: u32) {
        self.positions.push(position);
        self.append(n);
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Finishes every day's batch: `(day, batch)` in day order, each day's rows in input order
    /// (the order appended, unless given by [`Self::append_at`]), and the memory they hold
    /// together (the batches of a chunk of several days are slices of one batch, whose buffers
    /// each slice's `get_array_memory_size` would count again).
    pub fn finish(mut self) -> (Vec<(i32, RecordBatch)>, usize) {
        if self.days.is_empty() {
            return (Vec::new(), 0);
        }
        let batch = self.rows.finish();
        // Runs of one day: (day, first row, rows).
        let runs: Vec<(i32, usize, usize)> = self
            .days
            .chunk_by(|a, b| a == b)
            .scan(0, |at, run| {
                let r = (run[0], *at, run.len());
                *at += run.len();
                Some(r)
            })
            .collect();
        let one_run_per_day = {
            let mut seen: Vec<i32> = runs.iter().map(|r| r.0).collect();
            seen.sort_unstable();
            seen.windows(2).all(|w| w[0] != w[1])
        };
        // Each run is in input order when rows came in input order, or when every position in
        // it is larger than the one before.
        let in_order = |&(_, at, len): &(i32, usize, usize)| {
            self.positions.is_empty() || self.positions[at..at + len].is_sorted()
        };
        if one_run_per_day && runs.iter().all(in_order) {
            let memory = batch.get_array_memory_size();
            let mut parts: Vec<(i32, RecordBatch)> = runs
                .into_iter()
                .map(|(day, at, len)| (day, batch.slice(at, len)))
                .collect();
            parts.sort_unstable_by_key(|p| p.0);
            return (parts, memory);
        }
        // Rows in (day, input position) order.
        let mut order: Vec<u32> = (0..self.days.len() as u32).collect();
        if self.positions.is_empty() {
            order.sort_by_key(|&row| self.days[row as usize]);
        } else {
            order.sort_by_key(|&row| (self.days[row as usize], self.positions[row as usize]));
        }
        let days: Vec<i32> = order.iter().map(|&row| self.days[row as usize]).collect();
        // A batch holds the rows of one chunk of input (a few MiB at most): u32 suffices.
        // Indices are in bounds and the schema is the batch's own: `take` cannot fail.
        let sorted = take_record_batch(&batch, &UInt32Array::from(order))
            .expect("row indices are in bounds");
        let parts = days
            .chunk_by(|a, b| a == b)
            .scan(0, |at, run| {
                let part = (run[0], sorted.slice(*at, run.len()));
                *at += run.len();
                Some(part)
            })
            .collect();
        (parts, sorted.get_array_memory_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_line;

    #[test]
    fn text_columns_equal_arrows_own_builder() {
        let texts: Vec<String> = (0..80)
            .map(|n| "é".repeat(n % 3) + &"x".repeat(n))
            .collect();
        let mut ours = TextBuilder::with_capacity(2, 1);
        let mut want = arrow::array::StringBuilder::new();
        for round in 0..2 {
            for (i, t) in texts.iter().enumerate() {
                let v = (i % 7 != round).then_some(t.as_str());
                ours.append_option(v);
                want.append_option(v);
            }
            assert_eq!(ours.finish(), want.finish(), "round {round}");
        }
        assert_eq!(arrow::array::Array::len(&ours.finish()), 0);
    }

    /// Lines of many days interleaved (a merged log) hold about the memory of the same lines of
    /// one day, not a chunk-sized builder per day.
    #[test]
    fn interleaved_days_hold_the_memory_of_their_rows_not_of_a_builder_each() {
        let line = |day: usize, i: usize| {
            format!(
                r#"{{"timestamp":"2026-11-{:02}T10:00:00Z","skill":"s{i}","params":"{{\"q\":\"{i}\"}}","error":"e{i}"}}"#,
                day + 1
            )
        };
        let memory = |days: usize| {
            let mut b = DayBatches::with_capacity(Stream::Skill, 5000);
            for i in 0..2800 {
                b.append(&parse_line(Stream::Skill, line(i % days, i).as_bytes()).unwrap());
            }
            let (out, memory) = b.finish();
            assert_eq!(out.len(), days);
            assert_eq!(out.iter().map(|(_, b)| b.num_rows()).sum::<usize>(), 2800);
            memory
        };
        let (one, many) = (memory(1), memory(28));
        assert!(many <= 2 * one, "28 days: {many} bytes, one day: {one}");
    }

    /// After one batch of short lines (shorter than the first guess of 200 bytes a row), the
    /// next batch of such lines on the thread is sized for all its rows; long lines keep at
    /// least the first guess.
    #[test]
    fn batches_of_short_lines_are_sized_by_the_last_one() {
        let line = |i: usize| {
            format!(r#"{{"timestamp":"2026-11-03T10:00:00Z","cuj_id":"C{i}","success":true}}"#)
        };
        let lines: Vec<String> = (0..3000).map(line).collect();
        let input: usize = lines.iter().map(|l| l.len() + 1).sum();
        assert!(input / lines.len() < 200, "the lines are short");
        // A thread of its own: the row size is learned per thread.
        let capacities = std::thread::spawn(move || {
            let mut capacities = Vec::new();
            for _ in 0..2 {
                let mut b = DayBatches::for_input(Stream::Cuj, input);
                capacities.push(b.rows.texts[0].1.offsets.capacity());
                for l in &lines {
                    b.append(&parse_line(Stream::Cuj, l.as_bytes()).expect("a valid line"));
                }
                assert_eq!(b.finish().0[0].1.num_rows(), 3000);
            }
            capacities
        })
        .join()
        .expect("the batch thread panicked");
        assert!(capacities[0] < 3000, "first guess: {capacities:?}");
        assert!(capacities[1] > 3000, "learned: {capacities:?}");
        assert!(rows_for_input(Stream::Skill, 200_000) >= 1000);
    }

    /// Rows of interleaved days come out grouped by day, each day's in the order appended.
    #[test]
    fn interleaved_days_keep_their_order_within_each_day() {
        let mut b = DayBatches::new(Stream::Skill);
        for i in 0..100 {
            let line = format!(
                r#"{{"timestamp":"2026-11-{:02}T10:00:{:02}Z","skill":"s{i}"}}"#,
                [3, 1, 2][i % 3],
                i % 60
            );
            b.append(&parse_line(Stream::Skill, line.as_bytes()).unwrap());
        }
        assert_eq!(b.rows(), 100);
        let (out, _) = b.finish();
        let days: Vec<i32> = out.iter().map(|(d, _)| *d).collect();
        assert_eq!(days.len(), 3);
        assert!(days.windows(2).all(|w| w[0] < w[1]), "{days:?}");
        for (k, (_, batch)) in out.iter().enumerate() {
            let skills = batch.column_by_name("skill").unwrap();
            let skills = skills.as_any().downcast_ref::<StringArray>().unwrap();
            // 2026-11-01 holds lines 1, 4, 7…; 11-02 lines 2, 5…; 11-03 lines 0, 3…
            let want: Vec<String> = (0..100)
                .filter(|i| (i + 2) % 3 == k)
                .map(|i| format!("s{i}"))
                .collect();
            let got: Vec<&str> = skills.iter().map(Option::unwrap).collect();
            assert_eq!(got, want);
        }
    }

    /// Rows appended out of input order (`append_at`) come out per day in input order, whether
    /// they came grouped by day (slices) or not (a `take`).
    #[test]
    fn rows_appended_out_of_order_come_out_in_input_order() {
        let cases: [&[(u32, u32)]; 4] = [
            // (day of November, position): grouped by day, each group in input order.
            &[(2, 1), (2, 3), (1, 0), (1, 2)],
            // Grouped, but a group out of input order.
            &[(1, 2), (1, 0), (2, 1)],
            // A day in two runs.
            &[(1, 0), (1, 2), (2, 1), (1, 3)],
            // In input order, days mixed.
            &[(3, 0), (1, 1), (3, 2), (2, 3), (1, 4)],
        ];
        for rows in cases {
            let mut b = DayBatches::new(Stream::Skill);
            for &(day, position) in rows {
                let line = format!(
                    r#"{{"timestamp":"2026-11-{day:02}T10:00:00Z","skill":"p{position}"}}"#
                );
                b.append_at(
                    &parse_line(Stream::Skill, line.as_bytes()).unwrap(),
                    position,
                );
            }
            let (out, _) = b.finish();
            let mut want: Vec<(u32, u32)> = rows.to_vec();
            want.sort();
            let got: Vec<(u32, u32)> = out
                .iter()
                .flat_map(|(day, batch)| {
                    let skills = batch.column_by_name("skill").unwrap();
                    let skills = skills.as_any().downcast_ref::<StringArray>().unwrap();
                    let day =
                        (*day - crate::model::timefmt::days_from_civil(2026, 11, 0) as i32) as u32;
                    skills
                        .iter()
                        .map(|s| (day, s.unwrap()[1..].parse().unwrap()))
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(got, want, "{rows:?}");
        }
    }

    #[test]
    fn batches_follow_the_schema_and_split_by_day() {
        let a = r#"{"timestamp":"2026-11-27T23:59:59.999Z","cuj_id":"C","success":false,"error":"Timeout after 30000ms"}"#;
        let b = r#"{"timestamp":"2026-11-28T00:00:00.000Z","cuj_id":"C","success":true,"duration_ms":5}"#;
        let mut days = DayBatches::new(Stream::Cuj);
        for l in [a, b, a] {
            days.append(&parse_line(Stream::Cuj, l.as_bytes()).unwrap());
        }
        let (out, _) = days.finish();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1.num_rows(), 2);
        assert_eq!(out[0].1.schema(), Stream::Cuj.file_schema());
        assert!(
            out[0].1.column_by_name("event_id").is_none(),
            "derived, not stored"
        );
        let pat = out[0].1.column_by_name("error_pattern").unwrap();
        let pat = pat
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        assert_eq!(pat.value(0), "Timeout after <duration>");
    }
}
