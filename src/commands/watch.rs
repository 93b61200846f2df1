//! `obsq progress watch`: follows the progress events other processes append (obsq's landing
//! files and the registered sources' `progress.jsonl`), printing each as it arrives. It starts
//! at the current end of every file; files that appear later are read from their start.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::parse::parse_line;
use crate::render::progress_line;
use crate::store::sources::discover;

/// How often the files are checked.
const POLL: Duration = Duration::from_millis(100);

/// Runs `obsq progress watch`.
pub fn run(config: &Config, run_id: Option<&str>, until_done: bool) -> Result<u8> {
    let mut offsets: HashMap<PathBuf, u64> = HashMap::new();
    for path in progress_files(config)? {
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        offsets.insert(path, len);
    }
    match run_id {
        Some(r) => eprintln!("Watching progress for run {r}... (Ctrl-C to stop)"),
        None => eprintln!("Watching progress... (Ctrl-C to stop)"),
    }
    let mut partial: HashMap<PathBuf, Vec<u8>> = HashMap::new();
    let mut out = std::io::stdout().lock();
    loop {
        for path in progress_files(config)? {
            let offset = offsets.entry(path.clone()).or_insert(0);
            let data = read_from(&path, offset)?;
            if data.is_empty() {
                continue;
            }
            let buf = partial.entry(path.clone()).or_default();
            buf.extend_from_slice(&data);
            let Some(last_nl) = buf.iter().rposition(|b| *b == b'\n') else {
                continue;
            };
            let complete: Vec<u8> = buf.drain(..=last_nl).collect();
            for line in complete.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let Ok(e) = parse_line(Stream::Progress, line) else {
                    continue;
                };
                if run_id.is_some_and(|r| e.run_id.as_deref() != Some(r)) {
                    continue;
                }
                let status = e.status.as_deref().unwrap_or("");
                let pct = e.percentage.unwrap_or(0.0);
                let text = progress_line(
                    e.ts,
                    e.run_id.as_deref(),
                    e.step,
                    status,
                    pct,
                    e.message.as_deref().unwrap_or(""),
                );
                writeln!(out, "{text}")
                    .and_then(|_| out.flush())
                    .map_err(|e| Error::io("write", "standard output", e))?;
                let done = status == "failed" || (status == "completed" && pct >= 100.0);
                if until_done && done {
                    return Ok(0);
                }
            }
        }
        std::thread::sleep(POLL);
    }
}

/// obsq's progress landing files and every registered source's progress files.
fn progress_files(config: &Config) -> Result<Vec<PathBuf>> {
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let dirs = match crate::engine::open_index(&config.layout, &objects)? {
        Some(c) => config.layout.own_dirs(c.source_dirs()?),
        None => Vec::new(),
    };
    let dirs: Vec<PathBuf> = dirs.into_iter().filter(|d| d.is_dir()).collect();
    Ok(discover(&config.layout, &dirs)?
        .into_iter()
        .filter(|s| s.stream == Stream::Progress)
        .map(|s| s.path)
        .collect())
}

/// The bytes appended to `path` since `offset` (which moves to the end); a truncated file is
/// read again from its start.
fn read_from(path: &PathBuf, offset: &mut u64) -> Result<Vec<u8>> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Ok(Vec::new());
    };
    let len = f.metadata().map_err(|e| Error::io("stat", path, e))?.len();
    if len < *offset {
        *offset = 0;
    }
    if len == *offset {
        return Ok(Vec::new());
    }
    f.seek(SeekFrom::Start(*offset))
        .map_err(|e| Error::io("seek", path, e))?;
    let mut data = Vec::with_capacity((len - *offset) as usize);
    f.take(len - *offset)
        .read_to_end(&mut data)
        .map_err(|e| Error::io("read", path, e))?;
    *offset += data.len() as u64;
    Ok(data)
}
