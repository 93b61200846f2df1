//! Finding the JSONL files to ingest: obsq's landing files and, in registered source
//! directories, the original tools' files in either layout (`.claude/context/{logs,analytics}` or
//! `.claude/context/runtime/{logs,analytics}`), recognised by file name.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::schema::is_iso_date;

use super::commit::Writer;
use super::layout::Layout;
use super::log::Record;

/// A JSONL file and the stream of its lines.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Stream.
    pub stream: Stream,
}

/// Registers source directories in one commit of `writer` (those registered already are left as
/// they are; nothing is committed when all are).
pub fn register(writer: &mut Writer, layout: &Layout, dirs: &[PathBuf]) -> Result<()> {
    let known = layout.own_dirs(writer.catalog().source_dirs()?);
    let mut rec = Record::new("source", &uuid::Uuid::now_v7().to_string());
    for d in dirs {
        if !known.contains(d) {
            rec.dirs_add.push(layout.dir_key(d));
        }
    }
    if !rec.dirs_add.is_empty() {
        writer.commit(rec)?;
    }
    Ok(())
}

/// How deep below a registered directory files are looked for.
const MAX_DEPTH: usize = 6;

/// Directories never searched.
const SKIP_DIRS: &[&str] = &[
    "node_modules",
    ".git",
    "target",
    "data",
    "quarantine",
    "staging",
];

/// Every source file: landing files first, then those found in `dirs`; sorted, no duplicates.
pub fn discover(layout: &Layout, dirs: &[PathBuf]) -> Result<Vec<SourceFile>> {
    let mut out = landing_files(layout)?;
    let obsq_root = layout.root().canonicalize().ok();
    for dir in dirs {
        let dir = absolute(dir)?;
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "source directory {} does not exist (remove it with `obsq source remove` or create it)",
                dir.display()
            )));
        }
        // Canonical once here, not per directory below (`realpath` reads every component: six
        // `readlink` calls per directory, 60,000 for 10,000 session folders). A child of a
        // canonical directory is canonical by its name, as symlinked directories are not walked.
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        walk(&dir, &canonical, obsq_root.as_deref(), 0, &mut out)?;
    }
    out.sort();
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

/// obsq's own landing files: `landing/<stream>/<YYYY-MM-DD>.jsonl`.
pub fn landing_files(layout: &Layout) -> Result<Vec<SourceFile>> {
    let mut out = Vec::new();
    for stream in Stream::ALL {
        let dir = layout.landing_dir(stream);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.strip_suffix(".jsonl").is_some_and(is_iso_date) {
                out.push(SourceFile {
                    path: absolute(&entry.path())?,
                    stream,
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The source files below `dir`, whose canonical path is `canonical`; the data root is skipped.
///
/// Subdirectories are walked on the thread pool, which is idle until the first source is read:
/// a walk of 11,040 session folders took ~0.1 s of one core before the first line was decoded
/// (the other core idle). Each directory's entries are taken in name order, so that `out` comes
/// out in path order whatever the threads do, and the caller's sort finds it sorted.
fn walk(
    dir: &Path,
    canonical: &Path,
    obsq_root: Option<&Path>,
    depth: usize,
    out: &mut Vec<SourceFile>,
) -> Result<()> {
    use rayon::prelude::*;
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))? {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let ty = entry
            .file_type()
            .map_err(|e| Error::io("stat", entry.path(), e))?;
        entries.push((entry.file_name(), ty.is_dir()));
    }
    entries.sort_unstable();
    /// An entry of the listing, in name order: a source file, or the index of a subdirectory
    /// to walk (its files go where it stands).
    enum Part {
        File(SourceFile),
        Dir(usize),
    }
    let mut subdirs = Vec::new();
    let mut parts = Vec::new();
    for (file_name, is_dir) in entries {
        let name = file_name.to_string_lossy();
        if is_dir {
            let child = canonical.join(&file_name);
            let is_obsq_root = obsq_root == Some(child.as_path());
            if depth < MAX_DEPTH && !SKIP_DIRS.contains(&name.as_ref()) && !is_obsq_root {
                parts.push(Part::Dir(subdirs.len()));
                subdirs.push((dir.join(&file_name), child));
            }
        } else if let Some(stream) = Stream::from_file_name(&name) {
            parts.push(Part::File(SourceFile {
                path: absolute(&dir.join(&file_name))?,
                stream,
            }));
        }
    }
    let mut below: Vec<Vec<SourceFile>> = subdirs
        .par_iter()
        .map(|(path, child)| {
            let mut found = Vec::new();
            walk(path, child, obsq_root, depth + 1, &mut found).map(|()| found)
        })
        .collect::<Result<_>>()?;
    for part in parts {
        match part {
            Part::File(file) => out.push(file),
            Part::Dir(i) => out.append(&mut below[i]),
        }
    }
    Ok(())
}

/// True for the names of JSONL files, plain or compressed (`.jsonl`, `.ndjson`, `.gz`, `.zst`).
pub fn is_jsonl_name(name: &str) -> bool {
    [
        ".jsonl",
        ".ndjson",
        ".jsonl.gz",
        ".ndjson.gz",
        ".jsonl.zst",
        ".ndjson.zst",
    ]
    .iter()
    .any(|s| name.ends_with(s))
}

/// Warns when `dir` (a source directory in which no source file was found) holds JSONL files of
/// other names: ingest reads only the original tools' names, and without a word a user saw a
/// run of zero sources succeed.
pub fn warn_if_unread(dir: &Path) {
    let mut others = Vec::new();
    other_jsonl(dir, 0, &mut others);
    let Some(first) = others.first() else {
        return;
    };
    crate::notice::push(format!(
        "source directory {} has no file named as the original tools name theirs \
         (skill-invocations-YYYY-MM-DD.jsonl, cuj-metrics.jsonl, progress.jsonl, \
         provider-health.jsonl) but holds {} other JSONL file{} (such as {}): not read; \
         `obsq backfill {}` imports JSONL files of any name",
        dir.display(),
        others.len(),
        if others.len() == 1 { "" } else { "s" },
        first.display(),
        dir.display()
    ));
}

/// JSONL files below `dir` that are not source files, as [`walk`] searches (unreadable
/// directories are passed over: this only words a warning).
fn other_jsonl(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        match entry.file_type() {
            Ok(t) if t.is_dir() && depth < MAX_DEPTH && !SKIP_DIRS.contains(&name.as_ref()) => {
                other_jsonl(&entry.path(), depth + 1, out);
            }
            Ok(t)
                if t.is_file()
                    && is_jsonl_name(&name)
                    && Stream::from_file_name(&name).is_none() =>
            {
                out.push(entry.path());
            }
            _ => {}
        }
    }
}

/// An absolute form of `p` (without resolving symlinks of the file itself).
pub fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io("resolve", p, e))
}

/// Where to resume reading a source: the ledger's offset and line count if the file is still the
/// one the ledger saw (same stream, not shorter, same fingerprint), else the start (and `true`).
pub fn resume_point(
    state: Option<&super::catalog::SourceState>,
    src: &SourceFile,
    size: u64,
) -> Result<(u64, u64, bool)> {
    let Some(state) = state else {
        return Ok((0, 0, false));
    };
    if state.stream == src.stream
        && size >= state.offset
        && super::tail::fingerprint(&src.path, state.fp_len)? == Some(state.fingerprint)
    {
        return Ok((state.offset, state.lines, false));
    }
    Ok((0, 0, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Source files are found below a directory reached through a symlink and keep the path they
    /// were found by (the ledger's key); the data root inside a source directory is not searched.
    #[cfg(unix)]
    #[test]
    fn walks_sources_by_their_given_path_and_skips_the_data_root() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("project");
        let logs = real.join("logs");
        let inside_root = real.join(".obsq").join("copy");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(&inside_root).unwrap();
        std::fs::write(logs.join("skill-invocations-2026-11-01.jsonl"), "").unwrap();
        std::fs::write(inside_root.join("skill-invocations-2026-11-02.jsonl"), "").unwrap();
        std::fs::write(logs.join("notes.jsonl"), "").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();

        // The root named by its real path, the sources by the link: compared canonically.
        let layout = Layout::new(real.join(".obsq"));
        let found = discover(&layout, std::slice::from_ref(&link)).unwrap();
        let want = link.join("logs").join("skill-invocations-2026-11-01.jsonl");
        assert_eq!(
            found,
            vec![SourceFile {
                path: want,
                stream: Stream::Skill
            }]
        );
    }

    /// The walk (subdirectories on the pool) finds every source file of a tree whatever its depth,
    /// files beside folders among them, in path order; skipped folders and other names are not.
    #[test]
    fn the_walk_finds_every_source_of_a_deep_tree_in_path_order() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let top = tmp.path().join("sessions");
        let mut want = Vec::new();
        let mut put = |dir: &Path, name: &str, wanted: bool| {
            std::fs::create_dir_all(dir).expect("create dir");
            std::fs::write(dir.join(name), "").expect("write file");
            if wanted {
                want.push(dir.join(name));
            }
        };
        // Sessions made in reverse order (a listing's order is not the path order); "a" holds a
        // file beside a folder, and the folder's files sort before the file.
        for i in (0..40).rev() {
            let session = top.join(format!("s{i:03}"));
            put(
                &session.join("logs"),
                "skill-invocations-2026-11-01.jsonl",
                true,
            );
            if i % 3 == 0 {
                put(&session.join("analytics"), "cuj-metrics.jsonl", true);
            }
            if i % 7 == 0 {
                let deep = session.join("a").join("b").join("c");
                put(&deep.join("logs"), "progress.jsonl", true);
                put(&session.join("a"), "provider-health.jsonl", true);
                put(
                    &session.join("node_modules").join("logs"),
                    "progress.jsonl",
                    false,
                );
            }
            put(&session, "notes.jsonl", false);
        }
        want.sort();
        // The walk itself yields path order (the caller's sort then finds one run)...
        let mut walked = Vec::new();
        walk(&top, &top, None, 0, &mut walked).expect("walk");
        let paths: Vec<PathBuf> = walked.iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths, want);
        // ...and discovery returns the same.
        let layout = Layout::new(tmp.path().join("root"));
        assert_eq!(
            discover(&layout, std::slice::from_ref(&top)).expect("discover"),
            walked
        );
    }
}
