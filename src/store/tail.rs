//! Reading a JSONL source from a byte offset up to its last complete line, in bounded blocks.
//! A partial last line (a writer mid-append) is left for the next run.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use crate::error::{Error, Result};

/// Bytes covered by a source's fingerprint.
pub const FINGERPRINT_BYTES: u64 = 4096;

/// Hash of the first `len` bytes of a file; `None` when the file is shorter than `len`.
pub fn fingerprint(path: &Path, len: u64) -> Result<Option<u64>> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut buf = vec![0u8; len as usize];
    match f.read_exact(&mut buf) {
        Ok(()) => Ok(Some(fingerprint_of(&buf))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// The [`fingerprint`] of a file's first `head.len()` bytes, from those bytes in memory.
pub fn fingerprint_of(head: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(head)
}

/// What [`TailReader::next_block`] yields.
#[derive(Debug)]
pub enum Block {
    /// Complete lines (each ending in `\n`), starting at file offset `start`.
    Lines {
        /// The bytes.
        data: Vec<u8>,
        /// File offset of `data[0]`.
        start: u64,
    },
    /// One line longer than the block size: only its head is kept, for the quarantine.
    Overlong {
        /// File offset of the line.
        start: u64,
        /// Its length without the newline.
        len: u64,
        /// Its first bytes.
        head: Vec<u8>,
    },
}

impl Block {
    /// File offset just past this block.
    pub fn end(&self) -> u64 {
        match self {
            Block::Lines { data, start } => start + data.len() as u64,
            Block::Overlong { start, len, .. } => start + len + 1,
        }
    }
}

/// Bytes a ramped reader ([`TailReader::ramped`]) reads its first block with; each next block is
/// read with twice as many, up to the block size. Ingest decodes a block while it reads the next,
/// but nothing before the first is read: a first block of the full 16 MiB kept one core idle for
/// its read at the start of every source (read and first-touch page faults: ~20 ms of a 0.6 s
/// ingest of 1M events in 36 files, perf). Ramped: that ingest 0.61 → 0.59 s (medians of 7), of
/// 10M events 4.73 → 4.67 s (medians of 4), store on tmpfs.
pub const FIRST_READ: usize = 1 << 20;

/// Bytes one `pread` asks for at most. A block read with one call of 16 MiB decoded slower
/// after it (tools shape: +5.7 % ingest CPU, 4 alternating pairs); read in pieces of 1 MiB or of
/// 256 KiB it decoded as fast as when `read_to_end` read it in growing pieces (6 rounds each).
const MAX_READ: usize = 1 << 20;

/// Reads `[offset, size at open)` of a file as blocks of whole lines.
pub struct TailReader {
    file: File,
    path: PathBuf,
    pos: u64,
    end: u64,
    block: usize,
    /// Bytes the next block is read with (up to `cap`, see [`FIRST_READ`]).
    ramp: usize,
    /// Bytes a block is read with at most, but for a line longer than that (up to `block`).
    cap: usize,
    /// Buffers handed back by the consumer, reused for the next reads (see [`Self::recycle_from`]).
    recycled: Option<Receiver<Vec<u8>>>,
}

impl TailReader {
    /// Opens `path` at `offset`; the file's current size bounds the read.
    pub fn open(path: &Path, offset: u64, block: usize) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let end = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        Ok(TailReader {
            file,
            path: path.to_path_buf(),
            pos: offset,
            end,
            block: block.max(4096),
            ramp: block,
            cap: block,
            recycled: None,
        })
    }

    /// The reader moved to `offset` (nothing is read until the next block).
    pub fn starting_at(mut self, offset: u64) -> Self {
        self.pos = offset;
        self
    }

    /// Reads the first blocks small ([`FIRST_READ`], doubling up to `cap` bytes): for a caller
    /// that decodes a block while the next is read. One that reads and then decodes (the fresh
    /// tail of a query) wants whole blocks, whose chunks keep every core busy. A line longer
    /// than `cap` is read whole still, up to the block size.
    pub fn ramped(mut self, cap: usize) -> Self {
        self.cap = cap.clamp(FIRST_READ.min(self.block), self.block);
        self.ramp = FIRST_READ;
        self
    }

    /// Reads into the buffers that arrive on `rx` (the blocks' `data`, handed back once decoded)
    /// instead of fresh allocations. Fresh memory costs a page fault and a zeroed page per 4 KiB
    /// on first touch; a reused buffer is already mapped, and often still in cache.
    pub fn recycle_from(&mut self, rx: Receiver<Vec<u8>>) {
        self.recycled = Some(rx);
    }

    /// The recycled buffers not used yet, for the next reader.
    pub fn into_buffers(self) -> Vec<Vec<u8>> {
        self.recycled
            .map(|rx| rx.try_iter().collect())
            .unwrap_or_default()
    }

    /// Bytes left to read (including any partial last line).
    pub fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    fn read_at_most(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut buf = self
            .recycled
            .as_ref()
            .and_then(|rx| rx.try_recv().ok())
            .unwrap_or_default();
        buf.clear();
        self.read_more(&mut buf, n)?;
        Ok(buf)
    }

    /// Appends the next bytes of the file to `buf` (which holds the bytes from `self.pos` on),
    /// up to `n` of them and the size at open.
    fn read_more(&mut self, buf: &mut Vec<u8>, n: usize) -> Result<()> {
        let at = self.pos + buf.len() as u64;
        let want = usize::try_from(self.end.saturating_sub(at).min(n as u64)).unwrap_or(n);
        buf.reserve(want);
        // `pread` at the offset wanted, into the spare capacity without zeroing it first: no
        // seeks, and one call for a small source where `read_to_end` through `Take` made six
        // (8 KiB, 16 KiB, ... for 330 KB) and a seek back (20,000 sources of 5 lines: 1.13 →
        // 0.93 s with the ledger read once, 3 runs each).
        let mut got = 0;
        while got < want {
            let spare = &mut buf.spare_capacity_mut()[..(want - got).min(MAX_READ)];
            let n = match rustix::io::pread(&self.file, spare, at + got as u64) {
                Ok((read, _)) => read.len(),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::io("read", &self.path, e.into())),
            };
            if n == 0 {
                break; // the file is shorter than at open: what is there
            }
            // SAFETY: `pread` initialized the first `n` bytes of the spare capacity.
            unsafe { buf.set_len(buf.len() + n) };
            got += n;
        }
        Ok(())
    }

    /// The next block of complete lines, or `None` when only a partial line (or nothing) is left.
    pub fn next_block(&mut self) -> Result<Option<Block>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let start = self.pos;
        let first = self.ramp.min(self.cap);
        self.ramp = first.saturating_mul(2);
        let mut buf = self.read_at_most(first)?;
        let mut last_newline = memchr::memrchr(b'\n', &buf);
        if last_newline.is_none() && first < self.block {
            // No whole line yet: a line is overlong only when a full block cannot hold it.
            let n = buf.len();
            self.read_more(&mut buf, self.block - first)?;
            last_newline = memchr::memrchr(b'\n', &buf[n..]).map(|i| n + i);
        }
        if let Some(i) = last_newline {
            let keep = i + 1;
            buf.truncate(keep);
            self.pos = start + keep as u64;
            return Ok(Some(Block::Lines { data: buf, start }));
        }
        if start + buf.len() as u64 >= self.end {
            return Ok(None); // a partial last line: wait for its newline
        }
        // A line longer than a whole block: keep its head, skip to its end.
        let head: Vec<u8> = buf[..buf.len().min(64 * 1024)].to_vec();
        let mut len = buf.len() as u64;
        loop {
            self.pos = start + len; // where the next piece is read
            let more = self.read_at_most(self.block)?;
            if more.is_empty() {
                self.pos = start;
                return Ok(None); // still no newline at the end of the file
            }
            if let Some(i) = memchr::memchr(b'\n', &more) {
                len += i as u64;
                self.pos = start + len + 1;
                return Ok(Some(Block::Overlong { start, len, head }));
            }
            len += more.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_end_at_line_boundaries_and_partial_lines_wait() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.jsonl");
        let long = "x".repeat(10_000);
        std::fs::write(&p, format!("a\nbb\n{long}\nccc\npartial")).unwrap();
        let mut r = TailReader::open(&p, 0, 4096).unwrap();
        let Some(Block::Lines { data, start: 0 }) = r.next_block().unwrap() else {
            panic!()
        };
        assert_eq!(data, b"a\nbb\n");
        let Some(Block::Overlong {
            start: 5,
            len: 10_000,
            head,
        }) = r.next_block().unwrap()
        else {
            panic!()
        };
        assert_eq!(head.len(), 4096);
        let Some(b @ Block::Lines { .. }) = r.next_block().unwrap() else {
            panic!()
        };
        assert_eq!(b.end(), 5 + 10_001 + 4);
        assert!(r.next_block().unwrap().is_none());
        assert_eq!(r.remaining(), "partial".len() as u64);
    }

    /// Every block `r` yields as (start, what it holds): its lines, or an overlong line's length
    /// and how much of its head was kept.
    fn blocks_of(r: &mut TailReader) -> Vec<(u64, String)> {
        std::iter::from_fn(|| r.next_block().expect("read a block"))
            .map(|b| match b {
                Block::Lines { data, start } => (start, String::from_utf8(data).expect("utf-8")),
                Block::Overlong { start, len, head } => {
                    (start, format!("overlong {len}, head {}", head.len()))
                }
            })
            .collect()
    }

    /// A reader started at an offset reads from there; a last line longer than a block and
    /// without its newline yet is left whole for the next reader, which finds it overlong once
    /// its newline is written.
    #[test]
    fn a_reader_resumes_at_its_offset_and_an_unfinished_overlong_line_waits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("f.jsonl");
        let long = "z".repeat(10_000);
        std::fs::write(&p, format!("a\nbb\n{long}")).expect("write");
        let mut r = TailReader::open(&p, 0, 4096).expect("open").starting_at(2);
        assert_eq!(blocks_of(&mut r), [(2, "bb\n".to_string())]);
        assert_eq!(r.remaining(), 10_000, "the unfinished line is left whole");

        std::fs::write(&p, format!("a\nbb\n{long}\nc\n")).expect("write");
        let mut r = TailReader::open(&p, 0, 4096).expect("open").starting_at(5);
        let expected = [
            (5, "overlong 10000, head 4096".to_string()),
            (10_006, "c\n".to_string()),
        ];
        assert_eq!(blocks_of(&mut r), expected);
    }

    /// The first blocks are read small and each next one twice as large, up to the block size;
    /// a line longer than a small first read but shorter than a block is a line, not overlong.
    #[test]
    fn first_blocks_are_read_small_yet_hold_any_line_a_block_can() {
        let dir = tempfile::tempdir().unwrap();
        let line = |n: usize| format!("{}\n", "y".repeat(n - 1));
        let blocks_capped = |text: &str, cap: usize| -> Vec<usize> {
            let p = dir.path().join("f.jsonl");
            std::fs::write(&p, text).unwrap();
            let mut r = TailReader::open(&p, 0, 4 * FIRST_READ).unwrap().ramped(cap);
            let mut sizes = Vec::new();
            let mut at = 0u64;
            while let Some(b) = r.next_block().unwrap() {
                let Block::Lines { data, start } = b else {
                    panic!("no line here is longer than a block")
                };
                assert_eq!(start, at);
                assert_eq!(*data.last().unwrap(), b'\n');
                at += data.len() as u64;
                sizes.push(data.len());
            }
            assert_eq!(at, text.len() as u64, "every line read once");
            sizes
        };
        let blocks = |text: &str| blocks_capped(text, usize::MAX);
        let short: String = (0..10 * FIRST_READ / 1000).map(|_| line(1000)).collect();
        let sizes = blocks(&short);
        let limits = [1, 2, 4, 4, 4].map(|n| n * FIRST_READ);
        assert_eq!(sizes.len(), 4, "{sizes:?}");
        for (n, limit) in sizes.iter().zip(limits) {
            assert!(*n <= limit, "{sizes:?}");
        }
        assert!(sizes[0] > FIRST_READ - 1000 && sizes[1] > 2 * FIRST_READ - 1000);

        let big = FIRST_READ + FIRST_READ / 2;
        let sizes = blocks(&(line(big) + &short));
        assert!(sizes[0] > big && sizes[0] <= 4 * FIRST_READ, "{sizes:?}");

        // Capped at 2 MiB: no block is read larger, but for a line that needs it.
        let sizes = blocks_capped(&short, 2 * FIRST_READ);
        assert!(sizes.iter().all(|&n| n <= 2 * FIRST_READ), "{sizes:?}");
        assert!(sizes.len() >= 5, "{sizes:?}");
        let huge = 3 * FIRST_READ;
        let sizes = blocks_capped(&(short.clone() + &line(huge) + &short), 2 * FIRST_READ);
        assert!(
            sizes.iter().any(|&n| n >= huge && n <= 4 * FIRST_READ),
            "{sizes:?}"
        );
    }
}
