//! `record`: validated, sanitized events appended to `landing/<stream>/<UTC day>.jsonl`, one
//! `write(2)` per line on an `O_APPEND` descriptor, so concurrent writers never tear a line.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::model::canonical::to_line;
use crate::model::parse::MAX_LINE_BYTES;
use crate::model::timefmt::day_of_ms;
use crate::model::{Stream, parse_line};

use super::layout::Layout;

/// Appends events to the landing files of a data root; cheap to call many times.
pub struct Recorder {
    layout: Layout,
    files: Mutex<HashMap<(Stream, i32), File>>,
}

/// What `record --stdin` did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Lines read (blank lines included).
    pub lines: usize,
    /// Events appended.
    pub accepted: usize,
    /// Rejected lines: (line number, reason).
    pub rejected: Vec<(usize, String)>,
}

impl Recorder {
    /// A recorder for the data root of `layout` (directories are created on first use).
    pub fn new(layout: Layout) -> Self {
        Recorder {
            layout,
            files: Mutex::new(HashMap::new()),
        }
    }

    /// Validates, sanitizes and appends one event given as a JSON object text. On error nothing
    /// is written.
    pub fn record_json(&self, stream: Stream, json: &str) -> Result<()> {
        let (day, line) =
            Self::prepare(stream, json.as_bytes()).map_err(|reason| Error::InvalidEvent {
                stream: stream.short(),
                reason,
            })?;
        self.append(stream, day, line.as_bytes())
    }

    /// Records one event given as a JSON value.
    pub fn record_value(&self, stream: Stream, value: &serde_json::Value) -> Result<()> {
        self.record_json(stream, &value.to_string())
    }

    /// Records each line of `input` (NDJSON); invalid lines are reported, valid ones written.
    pub fn record_lines(&self, stream: Stream, input: impl BufRead) -> Result<BatchOutcome> {
        let mut out = BatchOutcome::default();
        // Valid lines of one day are appended together, at most 64 KiB per write.
        let mut batch: Vec<(i32, String)> = Vec::new();
        let mut batch_bytes = 0;
        for (i, line) in input.split(b'\n').enumerate() {
            let line = line.map_err(|e| Error::io("read", "standard input", e))?;
            out.lines += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match Self::prepare(stream, &line) {
                Ok((day, l)) => {
                    batch_bytes += l.len();
                    batch.push((day, l));
                    out.accepted += 1;
                }
                Err(reason) => out.rejected.push((i + 1, reason)),
            }
            if batch_bytes >= 64 * 1024 {
                self.append_batch(stream, std::mem::take(&mut batch))?;
                batch_bytes = 0;
            }
        }
        self.append_batch(stream, batch)?;
        Ok(out)
    }

    fn prepare(stream: Stream, json: &[u8]) -> std::result::Result<(i32, String), String> {
        let n = parse_line(stream, json).map_err(|e| e.to_string())?;
        // Ingest keeps a foreign writer's odd value in `extra`; `record` is obsq's own writer and
        // refuses it, so the mistake is seen where it is made.
        if let Some((field, ty)) = n.mismatched.first() {
            return Err(format!(
                "field `{field}` has a {ty} value its column cannot hold (a number, boolean or text as documented)"
            ));
        }
        let line = to_line(stream, &n);
        // The limit is on the line as written: ingest would quarantine a longer one.
        if line.len() > MAX_LINE_BYTES {
            return Err(format!(
                "the event is {} bytes as written, over the {MAX_LINE_BYTES}-byte limit for one event",
                line.len()
            ));
        }
        Ok((day_of_ms(n.ts), line))
    }

    fn append_batch(&self, stream: Stream, batch: Vec<(i32, String)>) -> Result<()> {
        let mut by_day: HashMap<i32, String> = HashMap::new();
        for (day, line) in batch {
            by_day.entry(day).or_default().push_str(&line);
        }
        for (day, lines) in by_day {
            self.append(stream, day, lines.as_bytes())?;
        }
        Ok(())
    }

    fn append(&self, stream: Stream, day: i32, bytes: &[u8]) -> Result<()> {
        let path = self.layout.landing_file(stream, day);
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let file = match files.entry((stream, day)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let dir = self.layout.landing_dir(stream);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io("create directory", &dir, e))?;
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| Error::io("open for append", &path, e))?;
                e.insert(f)
            }
        };
        // One write(2): on O_APPEND the kernel places it whole at the end of the file.
        let n = file
            .write(bytes)
            .map_err(|e| Error::io("append to", &path, e))?;
        if n != bytes.len() {
            return Err(Error::io(
                "append to",
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    format!("short write: {n} of {} bytes", bytes.len()),
                ),
            ));
        }
        Ok(())
    }
}
