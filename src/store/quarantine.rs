//! Quarantine files: rejected lines streamed to a zstd-compressed JSONL staging file as they are
//! found (memory does not grow with the number of bad lines), one file per stream and commit,
//! published and named by the same commit record as the data. Each line is
//! `{source, line_no, byte_offset, reason, raw, raw_bytes[, raw_truncated]}`; `raw` is sanitized.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::sanitize::sanitize_text;
use crate::model::timefmt::{day_of_ms, now_ms};

use super::decode::Rejected;
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

/// A quarantine file being written in staging.
pub struct QuarantineWriter {
    stream: Stream,
    staging: String,
    /// serde_json writes a line in many small pieces, and each write into zstd's stream costs
    /// a call through its streaming API: with half of the lines bad, those calls were ~20 % of
    /// a backfill's CPU (perf). Lines are gathered here first.
    out: BufWriter<zstd::Encoder<'static, BufWriter<File>>>,
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
        let out = zstd::Encoder::new(BufWriter::with_capacity(256 << 10, f), 3)
            .map_err(|e| Error::io("compress", &local, e))?;
        let out = BufWriter::with_capacity(128 << 10, out);
        Ok(QuarantineWriter {
            stream,
            staging,
            out,
            lines: 0,
            by_source: BTreeMap::new(),
        })
    }

    /// Appends one rejected line of `source`.
    pub fn write(&mut self, source: &str, r: &Rejected) -> Result<()> {
        let raw = String::from_utf8_lossy(&r.raw);
        let line = QuarantineLine {
            source: source.to_string(),
            line_no: r.line_no,
            byte_offset: r.byte_offset,
            reason: r.reason.clone(),
            raw: sanitize_text(&raw).into_owned(),
            raw_bytes: r.raw_len,
            raw_truncated: r.raw_len > r.raw.len() as u64,
        };
        let e = |e| Error::io("write", Path::new(&self.staging).to_path_buf(), e);
        serde_json::to_writer(&mut self.out, &line).map_err(|x| e(x.into()))?;
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
