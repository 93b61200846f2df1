//! Bulk import of history: files, directories and globs of `.jsonl`, `.jsonl.gz` and `.jsonl.zst`.
//! Each input is identified by the hash of its (decompressed) content: an input already
//! backfilled — the same file again, or a copy of it anywhere — is skipped. Compressed inputs are
//! decompressed once into `<root>/backfill/<content-hash>.jsonl`; then the inputs go through the
//! ingest pipeline (parallel decode, bounded memory, the per-file ledger), so a killed backfill
//! resumes where its last commit ended when run again.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use crate::error::{Error, Result};
use crate::model::Stream;

use super::commit::Writer;
use super::ingest::{IngestOptions, IngestReport, ingest_with};
use super::layout::Layout;
use super::log::{Backfilled, Record};
use super::objects::Objects;
use super::sources::{SourceFile, absolute};

/// How an input file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain JSONL.
    None,
    /// `.gz`.
    Gzip,
    /// `.zst`.
    Zstd,
}

/// One input file and the stream of its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillInput {
    /// The file.
    pub path: PathBuf,
    /// Its stream.
    pub stream: Stream,
    /// Its compression.
    pub compression: Compression,
}

/// What a backfill did.
#[derive(Debug, Default)]
pub struct BackfillReport {
    /// The ingest run over the new inputs.
    pub ingest: IngestReport,
    /// Inputs skipped because their content was backfilled before.
    pub skipped: Vec<PathBuf>,
}

/// Expands files, directories (recursively) and glob patterns into inputs; `stream` overrides
/// the detection by file name (original tools' names, obsq's landing layout) or by content.
pub fn expand(args: &[String], stream: Option<Stream>) -> Result<Vec<BackfillInput>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in args {
        if arg.contains(['*', '?', '[']) {
            let matches = glob::glob(arg)
                .map_err(|e| Error::Usage(format!("invalid glob pattern `{arg}`: {e}")))?;
            let before = files.len();
            for m in matches.flatten() {
                collect(&m, &mut files)?;
            }
            if files.len() == before {
                return Err(Error::Usage(format!("`{arg}` matches no JSONL file")));
            }
        } else {
            let p = Path::new(arg);
            if !p.exists() {
                return Err(Error::Usage(format!("{arg} does not exist")));
            }
            collect(p, &mut files)?;
        }
    }
    files.sort();
    files.dedup();
    files
        .into_iter()
        .map(|path| {
            let compression = compression_of(&path);
            let stream = match stream {
                Some(s) => s,
                None => detect(&path, compression)?,
            };
            Ok(BackfillInput {
                path: absolute(&path)?,
                stream,
                compression,
            })
        })
        .collect()
}

fn is_input(name: &str) -> bool {
    super::sources::is_jsonl_name(name)
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if p.is_dir() {
        let entries = std::fs::read_dir(p).map_err(|e| Error::io("list", p, e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io("list", p, e))?;
            collect(&e.path(), out)?;
        }
    } else if p
        .file_name()
        .is_some_and(|n| is_input(&n.to_string_lossy()))
    {
        out.push(p.to_path_buf());
    }
    Ok(())
}

fn compression_of(p: &Path) -> Compression {
    match p.extension().and_then(|e| e.to_str()) {
        Some("gz") => Compression::Gzip,
        Some("zst") => Compression::Zstd,
        _ => Compression::None,
    }
}

/// The stream of a file: by name, by its landing folder, else by the keys of its first record.
fn detect(path: &Path, compression: Compression) -> Result<Stream> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let plain = name
        .trim_end_matches(".gz")
        .trim_end_matches(".zst")
        .replace(".ndjson", ".jsonl");
    if let Some(s) = Stream::from_file_name(&plain) {
        return Ok(s);
    }
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    if let Some(s) = parent.as_deref().and_then(Stream::from_name) {
        return Ok(s);
    }
    let first = first_record(path, compression)?;
    let keys: Vec<&str> = first
        .as_ref()
        .and_then(|v| v.as_object())
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let has = |k: &str| keys.contains(&k);
    if has("skill") {
        Ok(Stream::Skill)
    } else if has("provider") {
        Ok(Stream::Provider)
    } else if has("cuj_id") && has("success") {
        Ok(Stream::Cuj)
    } else if has("percentage") || has("step") || (has("run_id") && has("status")) {
        Ok(Stream::Progress)
    } else {
        Err(Error::Usage(format!(
            "cannot tell the stream of {}: name it with --stream skill|cuj|progress|provider",
            path.display()
        )))
    }
}

fn open(path: &Path, compression: Compression) -> Result<Box<dyn Read>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    Ok(match compression {
        Compression::None => Box::new(f),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(f)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(f).map_err(|e| Error::io("decompress", path, e))?,
        ),
    })
}

fn first_record(path: &Path, compression: Compression) -> Result<Option<serde_json::Value>> {
    let reader = BufReader::new(open(path, compression)?);
    for line in reader.lines().take(100) {
        let line = line.map_err(|e| Error::io("read", path, e))?;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v.is_object()
        {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The input's content hash and the plain JSONL file to ingest (the input itself, or its
/// decompressed copy under `<root>/backfill/`).
fn prepare(layout: &Layout, input: &BackfillInput) -> Result<(String, PathBuf)> {
    let mut hasher = Xxh3::new();
    let mut reader = open(&input.path, input.compression)?;
    let mut buf = vec![0u8; 1 << 20];
    let dir = layout.root().join("backfill");
    let mut copy = match input.compression {
        Compression::None => None,
        _ => {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
            let tmp = dir.join(format!("tmp-{}.jsonl", std::process::id()));
            let f = std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
            Some((tmp, std::io::BufWriter::with_capacity(1 << 20, f)))
        }
    };
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| Error::io("read", &input.path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some((tmp, w)) = copy.as_mut() {
            w.write_all(&buf[..n])
                .map_err(|e| Error::io("write", tmp.as_path(), e))?;
        }
    }
    let id = format!("{:032x}", hasher.digest128());
    let source = match copy {
        None => input.path.clone(),
        Some((tmp, w)) => {
            let f = w
                .into_inner()
                .map_err(|e| Error::io("write", &tmp, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
            let target = dir.join(format!("{id}.jsonl"));
            std::fs::rename(&tmp, &target).map_err(|e| Error::io("rename into", &target, e))?;
            target
        }
    };
    Ok((id, source))
}

/// Decompresses `input` (by its extension) into `out`; returns its content hash and size.
pub fn decompress_to(input: &Path, out: &Path) -> Result<(String, u64)> {
    let mut reader = open(input, compression_of(input))?;
    let f = std::fs::File::create(out).map_err(|e| Error::io("create", out, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut hasher = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| Error::io("read", input, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
        w.write_all(&buf[..n])
            .map_err(|e| Error::io("write", out, e))?;
    }
    w.flush().map_err(|e| Error::io("write", out, e))?;
    Ok((format!("{:032x}", hasher.digest128()), total))
}

/// Backfills `inputs`; `opts` tunes the ingest run (memory budget, progress). The inputs' content
/// hashes are committed after their rows, so a killed backfill is resumed by the ledger and a
/// finished one is never imported again.
pub fn backfill(
    layout: &Layout,
    objects: &Objects,
    inputs: &[BackfillInput],
    opts: &IngestOptions,
) -> Result<BackfillReport> {
    let mut writer = Writer::open(layout, objects)?;
    let mut report = BackfillReport::default();
    let mut todo: Vec<(String, PathBuf, PathBuf, u64, Stream)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for input in inputs {
        let (id, source) = prepare(layout, input)?;
        if writer.catalog().is_backfilled(&id)? || !seen.insert(id.clone()) {
            report.skipped.push(input.path.clone());
            if source != input.path {
                let _ = std::fs::remove_file(&source);
            }
            continue;
        }
        let bytes = std::fs::metadata(&source).map(|m| m.len()).unwrap_or(0);
        todo.push((id, input.path.clone(), source, bytes, input.stream));
    }
    let files: Vec<SourceFile> = todo
        .iter()
        .map(|(_, _, source, _, stream)| SourceFile {
            path: source.clone(),
            stream: *stream,
        })
        .collect();
    let run = IngestOptions {
        files,
        kind: "backfill",
        ..opts.clone()
    };
    let ingested = ingest_with(&mut writer, layout, &run);
    let remove_copies = || {
        for (_, path, source, _, _) in &todo {
            if source != path {
                let _ = std::fs::remove_file(source);
            }
        }
    };
    report.ingest = match ingested {
        Ok(r) => r,
        Err(e) => {
            // A rerun decompresses them again; nothing of theirs is left half-committed.
            remove_copies();
            return Err(e);
        }
    };
    if !todo.is_empty() {
        let mut rec = Record::new("backfill", &uuid::Uuid::now_v7().to_string());
        rec.backfilled = todo
            .iter()
            .map(|(id, path, _, bytes, _)| Backfilled {
                content_id: id.clone(),
                path: path.to_string_lossy().into_owned(),
                bytes: *bytes,
            })
            .collect();
        writer.commit(rec)?;
    }
    remove_copies();
    Ok(report)
}
