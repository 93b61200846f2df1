//! Quarantine files: rejected lines streamed to a zstd-compressed JSONL staging file as they are
//! found (memory does not grow with the number of bad lines), one file per stream and commit,
//! published and named by the same commit record as the data. Each line is
//! `{source, line_no, byte_offset, reason, raw, raw_bytes[, raw_truncated]}`; `raw` is sanitized.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::sanitize::sanitize_text;
use crate::model::timefmt::{day_of_ms, now_ms};

use super::layout::Layout;
use super::log::{AddedFile, QuarantineSummary};
use super::objects::Objects;

/// One line of a quarantine file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantineLine {
    /// The source file.
    pub source: String,
    /// 1-based line number in the source.
    pub line_no: u64,
    /// Byte offset of the line in the source.
    pub byte_offset: u64,
    /// Why it was rejected.
    pub reason: String,
    /// The line (sanitized; its first 64 KiB).
    pub raw: String,
    /// The line's full length.
    pub raw_bytes: u64,
    /// Present (true) when `raw` was cut.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub raw_truncated: bool,
}

/// How much of a rejected line the quarantine keeps (the source keeps the rest).
pub const RAW_KEEP: usize = 64 * 1024;

/// A line that could not be stored, with where it was and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// 1-based line number in the source.
    pub line_no: u64,
    /// Byte offset of the line in the source.
    pub byte_offset: u64,
    /// Why.
    pub reason: String,
    /// Its [`QuarantineLine`] from `byte_offset` on (`,"byte_offset":…}`), serialized where the
    /// line was decoded: the text's repair, sanitizing and escaping are most of the cost of a bad
    /// line, and the decoding chunks run in parallel, where the quarantine file is written by one
    /// thread. The line number is added when written: a chunk knows its lines' numbers only
    /// relative to its first.
    rest: Vec<u8>,
}

/// The fields of a [`QuarantineLine`] after `line_no`, in its order.
#[derive(Serialize)]
struct Rest<'a> {
    byte_offset: u64,
    reason: &'a str,
    raw: &'a str,
    raw_bytes: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    raw_truncated: bool,
}

impl Rejected {
    /// Line `line_no` at `byte_offset`, of `len` bytes, rejected for `reason`; `head` is the line
    /// or its start (its first [`RAW_KEEP`] bytes are kept, sanitized).
    pub fn new(line_no: u64, byte_offset: u64, reason: String, head: &[u8], len: u64) -> Self {
        let head = &head[..head.len().min(RAW_KEEP)];
        // `from_utf8` checks many bytes at a time where the lossy conversion steps through them.
        let raw = match std::str::from_utf8(head) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(head),
        };
        let fields = Rest {
            byte_offset,
            reason: &reason,
            raw: &sanitize_text(&raw),
            raw_bytes: len,
            raw_truncated: len > head.len() as u64,
        };
        let mut rest = Vec::with_capacity(head.len() + head.len() / 8 + 128);
        match serde_json::to_writer(&mut rest, &fields) {
            Ok(()) => rest[0] = b',',
            // Numbers, texts and a flag written to memory: serde_json has no error to give here.
            Err(_) => {
                rest = format!(
                    r#","byte_offset":{byte_offset},"reason":"","raw":"","raw_bytes":{len}}}"#
                )
                .into_bytes()
            }
        }
        Rejected {
            line_no,
            byte_offset,
            reason,
            rest,
        }
    }
}

/// The zstd level of quarantine files. Rejected lines are JSON much like the data's lines, which
/// level 1 compresses as well as 3 does, nearly twice as fast (`zstd -b1 -e3` on a 151 MB
/// quarantine of generated bad lines: 548 → 294 MB/s, x9.14 → x9.01).
const ZSTD_LEVEL: i32 = 1;

/// A quarantine file being written in staging.
pub struct QuarantineWriter {
    stream: Stream,
    staging: String,
    /// serde_json writes a line in many small pieces, and each write into zstd's stream costs
    /// a call through its streaming API: with half of the lines bad, those calls were ~20 % of
    /// a backfill's CPU (perf). Lines are gathered here first.
    out: BufWriter<zstd::Encoder<'static, BufWriter<File>>>,
    /// The last source written and its lines' start (`{"source":…,"line_no":`).
    head: (String, Vec<u8>),
    lines: u64,
    by_source: BTreeMap<String, (u64, u64, String)>,
}

/// A finished quarantine file, ready to publish.
pub struct StagedQuarantine {
    /// The staging object.
    pub staging: String,
    /// Where it goes.
    pub file: AddedFile,
    /// Lines per source.
    pub summaries: Vec<QuarantineSummary>,
}

impl QuarantineWriter {
    /// Starts a quarantine file of `stream` in staging.
    pub fn new(objects: &Objects, stream: Stream) -> Result<Self> {
        let staging = Layout::staging_object("quarantine.jsonl.zst");
        let local = objects.local_path(&staging);
        if let Some(dir) = local.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        }
        let f = File::create(&local).map_err(|e| Error::io("create", &local, e))?;
        let out = zstd::Encoder::new(BufWriter::with_capacity(256 << 10, f), ZSTD_LEVEL)
            .map_err(|e| Error::io("compress", &local, e))?;
        let out = BufWriter::with_capacity(128 << 10, out);
        Ok(QuarantineWriter {
            stream,
            staging,
            out,
            head: (String::new(), Vec::new()),
            lines: 0,
            by_source: BTreeMap::new(),
        })
    }

    /// Appends one rejected line of `source`.
    pub fn write(&mut self, source: &str, r: &Rejected) -> Result<()> {
        if self.head.0 != source || self.head.1.is_empty() {
            let quoted = serde_json::to_string(source).map_err(|e| Error::Log {
                path: self.staging.clone(),
                problem: format!("source path not writable as JSON: {e}"),
            })?;
            self.head = (
                source.to_string(),
                format!("{{\"source\":{quoted},\"line_no\":").into_bytes(),
            );
        }
        let e = |e| Error::io("write", Path::new(&self.staging).to_path_buf(), e);
        let mut no = itoa::Buffer::new();
        self.out.write_all(&self.head.1).map_err(e)?;
        self.out
            .write_all(no.format(r.line_no).as_bytes())
            .map_err(e)?;
        self.out.write_all(&r.rest).map_err(e)?;
        self.out.write_all(b"\n").map_err(e)?;
        self.lines += 1;
        let entry = self
            .by_source
            .entry(source.to_string())
            .or_insert_with(|| (0, r.line_no, r.reason.clone()));
        entry.0 += 1;
        if r.line_no < entry.1 {
            entry.1 = r.line_no;
            entry.2 = r.reason.clone();
        }
        Ok(())
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Closes and fsyncs the staging file.
    pub fn finish(self, objects: &Objects) -> Result<StagedQuarantine> {
        let local = objects.local_path(&self.staging);
        let w = self
            .out
            .into_inner()
            .map_err(|e| Error::io("compress", &local, e.into_error()))?
            .finish()
            .map_err(|e| Error::io("compress", &local, e))?;
        let f = w
            .into_inner()
            .map_err(|e| Error::io("write", &local, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io("fsync", &local, e))?;
        let bytes = f
            .metadata()
            .map_err(|e| Error::io("stat", &local, e))?
            .len();
        let path = Layout::quarantine_object(self.stream, day_of_ms(now_ms()));
        let summaries = self
            .by_source
            .into_iter()
            .map(
                |(source, (lines, first_line, first_reason))| QuarantineSummary {
                    file: path.clone(),
                    stream: self.stream.table().into(),
                    source,
                    lines,
                    first_line,
                    first_reason,
                },
            )
            .collect();
        Ok(StagedQuarantine {
            staging: self.staging,
            file: AddedFile {
                path,
                kind: "quarantine".into(),
                stream: self.stream.table().into(),
                date: None,
                rows: self.lines,
                bytes,
                min_ts: None,
                max_ts: None,
            },
            summaries,
        })
    }
}

/// Reads every line of a quarantine file (zstd JSONL, or plain JSONL from older releases).
pub fn read_lines(objects: &Objects, path: &str) -> Result<Vec<QuarantineLine>> {
    let local = objects.local_path(path);
    let f = objects.open_file(path)?;
    let reader: Box<dyn BufRead> = if path.ends_with(".zst") {
        Box::new(BufReader::new(
            zstd::Decoder::new(f).map_err(|e| Error::io("decompress", &local, e))?,
        ))
    } else {
        Box::new(BufReader::new(f))
    };
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line.map_err(|e| Error::io("read", &local, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let q: QuarantineLine = serde_json::from_str(&line).map_err(|e| Error::Log {
            path: path.to_string(),
            problem: format!("unreadable quarantine line: {e}"),
        })?;
        out.push(q);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line the quarantine held for `raw` before lines were serialized while decoding.
    fn whole_line(source: &str, line_no: u64, at: u64, reason: &str, raw: &[u8]) -> QuarantineLine {
        let kept = &raw[..raw.len().min(RAW_KEEP)];
        QuarantineLine {
            source: source.to_string(),
            line_no,
            byte_offset: at,
            reason: reason.to_string(),
            raw: sanitize_text(&String::from_utf8_lossy(kept)).into_owned(),
            raw_bytes: raw.len() as u64,
            raw_truncated: raw.len() > RAW_KEEP,
        }
    }

    /// A rejected line serialized on its decoding thread, with its number and source added by
    /// the writer, is byte for byte the line serde writes of the whole [`QuarantineLine`], and
    /// reads back as it: plain, escaped, invalid UTF-8 (also cut inside a character), too long,
    /// holding a secret; sources that need escaping, and a change of source.
    #[test]
    fn lines_written_in_two_parts_are_the_whole_line() {
        let mut long = b"{\"error\":\"".to_vec();
        long.extend(std::iter::repeat_n(b'x', RAW_KEEP - 11));
        long.extend("é and more".as_bytes());
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("a.jsonl", br#"{"ok":tru"#.to_vec(), "bad value"),
            ("a.jsonl", b"{\"q\":\"\\\"\t\x01\"".to_vec(), "unterminated"),
            (
                "dir/\"odd\"\\name.jsonl",
                b"{\"x\":\"\xff\xfe\"}".to_vec(),
                "not UTF-8",
            ),
            ("dir/\"odd\"\\name.jsonl", long, "too long"),
            (
                "b.jsonl",
                br#"{"auth":"Bearer abc.def.ghi","password=hunter2"}"#.to_vec(),
                "a secret",
            ),
            ("a.jsonl", Vec::new(), "empty"),
        ];
        let (_dir, _rt, objects) = crate::store::objects::temp_root();
        let mut w = QuarantineWriter::new(&objects, Stream::Skill).expect("writer");
        let mut want = Vec::new();
        for (k, (source, raw, reason)) in cases.iter().enumerate() {
            let (no, at) = (k as u64 * 1000 + 1, k as u64 * 77_777);
            let r = Rejected::new(no, at, reason.to_string(), raw, raw.len() as u64);
            w.write(source, &r).expect("write");
            want.push(whole_line(source, no, at, reason, raw));
        }
        let staged = w.finish(&objects).expect("finish");
        let bytes = std::fs::read(objects.local_path(&staged.staging)).expect("read");
        let text = String::from_utf8(zstd::decode_all(&bytes[..]).expect("zstd")).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), want.len());
        for (got, want) in lines.iter().zip(&want) {
            assert_eq!(*got, serde_json::to_string(want).expect("json"));
        }
        let back = read_lines(&objects, &staged.staging).expect("read back");
        assert!(back[3].raw_truncated && back[3].raw.ends_with('\u{fffd}'));
        assert!(back[2].raw.contains('\u{fffd}'));
        assert!(!back[4].raw.contains("hunter2") && !back[4].raw.contains("abc.def"));
        assert_eq!(staged.file.rows, want.len() as u64);
    }
}
