//! Opening the catalog index (DESIGN §3): caught up with the commit log on every open, and
//! rebuilt from the log — the last checkpoint plus the records after it — when it is missing,
//! stale (its head is not the log's record at that seq) or corrupt (garbage bytes, truncated,
//! fails `PRAGMA quick_check`). A catalog written before the log existed is turned into the log's
//! first record, so a store of an older release keeps every file and its ledger.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::timefmt::now_ms;
use crate::notice;

use super::catalog::Catalog;
use super::layout::Layout;
use super::log::{self, Backfilled, Drift, LedgerChange, QuarantineSummary, Record};
use super::objects::Objects;

/// Opens the index of the data root, caught up with the log (rebuilt when needed).
pub fn open(layout: &Layout, objects: &Objects) -> Result<Catalog> {
    let path = layout.catalog();
    if upgrade_legacy(layout, objects)? {
        return rebuild(layout, objects, None);
    }
    if !path.exists() && log::read_record(objects, 1)?.is_some() {
        return rebuild(layout, objects, Some("it was missing"));
    }
    match try_open(&path, objects) {
        Ok(cat) => Ok(cat),
        Err(Problem::Fatal(e)) => Err(e),
        Err(Problem::Rebuild(why)) => rebuild(layout, objects, Some(&why)),
    }
}

enum Problem {
    /// The index cannot be used; this says why, and it is rebuilt.
    Rebuild(String),
    /// The log itself could not be read: nothing to rebuild from.
    Fatal(Error),
}

fn try_open(path: &Path, objects: &Objects) -> std::result::Result<Catalog, Problem> {
    let mut cat = Catalog::open(path).map_err(|e| Problem::Rebuild(chain(&e)))?;
    if let Err(why) = cat.quick_check() {
        return Err(Problem::Rebuild(format!(
            "it fails SQLite's quick_check: {why}"
        )));
    }
    let (seq, head) = cat.applied().map_err(|e| Problem::Rebuild(chain(&e)))?;
    if seq > 0 {
        match log::read_record(objects, seq) {
            Ok(Some(r)) if r.commit == head => {}
            Ok(_) => {
                return Err(Problem::Rebuild(format!(
                    "it is stale: its last commit ({seq}) is not in this root's log"
                )));
            }
            Err(e) => return Err(Problem::Fatal(e)),
        }
    }
    catch_up(&mut cat, objects).map_err(|e| match e {
        e @ (Error::Log { .. } | Error::ObjectStore { .. }) => Problem::Fatal(e),
        e => Problem::Rebuild(chain(&e)),
    })?;
    Ok(cat)
}

/// Applies every record newer than the index's head; returns how many.
pub fn catch_up(cat: &mut Catalog, objects: &Objects) -> Result<u64> {
    let (mut seq, _) = cat.applied()?;
    let mut n = 0;
    while let Some(rec) = log::read_record(objects, seq + 1)? {
        cat.apply(&rec)?;
        seq += 1;
        n += 1;
    }
    Ok(n)
}

fn chain(e: &Error) -> String {
    e.chain_text()
}

/// Serializes rebuilds of one index (readers and writers may both find it broken).
struct RebuildLock {
    _file: File,
}

impl RebuildLock {
    fn acquire(path: &Path) -> Result<Self> {
        let lock = path.with_extension("sqlite.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|e| Error::io("open", &lock, e))?;
        file.lock().map_err(|e| Error::io("lock", &lock, e))?;
        Ok(RebuildLock { _file: file })
    }
}

/// Builds a new index from the log beside the old one, then puts it in its place; `why`, when
/// given, is said on stderr.
fn rebuild(layout: &Layout, objects: &Objects, why: Option<&str>) -> Result<Catalog> {
    let path = layout.catalog();
    let _lock = RebuildLock::acquire(&path)?;
    // Another process may have rebuilt it while this one waited.
    if path.exists()
        && let Ok(cat) = try_open(&path, objects)
    {
        return Ok(cat);
    }
    let tmp = sibling(&path, &format!("rebuild-{}", std::process::id()));
    remove_db(&tmp);
    let mut cat = Catalog::open(&tmp)?;
    let mut from = 0;
    for seq in log::checkpoints(objects)? {
        match log::read_checkpoint(objects, seq) {
            Ok(cp) => {
                cat.load_checkpoint(&cp)?;
                from = seq;
                break;
            }
            Err(e) => notice::push(format!(
                "checkpoint {seq} is unreadable ({}); using an older one",
                chain(&e)
            )),
        }
    }
    let applied = catch_up(&mut cat, objects)?;
    drop(cat);
    remove_db(&path);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename into", &path, e))?;
    let (seq, _) = Catalog::open(&path)?.applied()?;
    if let Some(why) = why
        && seq > 0
    {
        notice::push(format!(
            "the catalog index {} was rebuilt from the commit log ({}{applied} records, up to commit {seq}) because {why}",
            path.display(),
            if from > 0 {
                format!("checkpoint {from} + ")
            } else {
                String::new()
            },
        ));
    }
    Catalog::open(&path)
}

fn sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{name}.{tag}"))
}

/// Removes an index file and its WAL companions (a stale WAL must never meet a new file).
fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// A catalog written before the commit log existed (user_version 0 with a `files` table) and a
/// root without a log: its state becomes the log's first record; the old file is kept beside.
fn upgrade_legacy(layout: &Layout, objects: &Objects) -> Result<bool> {
    let path = layout.catalog();
    if !path.exists() || log::read_record(objects, 1)?.is_some() {
        return Ok(false);
    }
    let Ok(conn) = Catalog::open_raw(&path) else {
        return Ok(false);
    };
    let legacy: bool = conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version) = 0
               AND EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files')",
            [],
            |r| r.get(0),
        )
        .unwrap_or(false);
    if !legacy {
        return Ok(false);
    }
    let _lock = RebuildLock::acquire(&path)?;
    if log::read_record(objects, 1)?.is_some() {
        return Ok(false);
    }
    let rec = legacy_record(&conn, layout).map_err(|source| Error::Catalog {
        action: "read the catalog of an older release",
        path: path.clone(),
        source,
    })?;
    drop(conn);
    let files = rec.add.len();
    if log::create_record(objects, &rec)? {
        let keep = sibling(&path, "pre-log");
        remove_db(&keep);
        let _ = std::fs::remove_file(path.with_extension("sqlite-shm"));
        std::fs::rename(&path, &keep).map_err(|e| Error::io("rename", &path, e))?;
        for s in ["-wal", "-shm"] {
            let mut from = path.as_os_str().to_owned();
            from.push(s);
            let mut to = keep.as_os_str().to_owned();
            to.push(s);
            let _ = std::fs::rename(PathBuf::from(from), PathBuf::from(to));
        }
        notice::push(format!(
            "upgraded the data root {} to the commit log: {files} files and {} sources are in log/{:020}.json; the old catalog is kept as {}",
            layout.root().display(),
            rec.sources.len(),
            1,
            keep.display()
        ));
    }
    Ok(true)
}

fn legacy_record(conn: &rusqlite::Connection, layout: &Layout) -> rusqlite::Result<Record> {
    let mut rec = Record::new("upgrade", &uuid::Uuid::now_v7().to_string());
    rec.seq = 1;
    rec.at_ms = now_ms();
    let mut stmt = conn.prepare(
        "SELECT path, kind, stream, date, rows, bytes, min_ts, max_ts, state FROM files ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((super::catalog::added_file(r)?, r.get::<_, String>(8)?))
    })?;
    for row in rows {
        let (f, state) = row?;
        if state != "live" {
            rec.retire.push(f.path.clone());
        }
        rec.add.push(f);
    }
    let mut stmt =
        conn.prepare("SELECT path, stream, fingerprint, fp_len, offset, lines FROM sources")?;
    let rows = stmt.query_map([], |r| {
        Ok(LedgerChange {
            path: r.get(0)?,
            stream: r.get(1)?,
            fingerprint: r.get(2)?,
            fp_len: r.get::<_, i64>(3)? as u64,
            from: 0,
            to: r.get::<_, i64>(4)? as u64,
            lines_from: 0,
            lines_to: r.get::<_, i64>(5)? as u64,
        })
    })?;
    for row in rows {
        let mut s = row?;
        s.path = relative_key(layout, &s.path);
        rec.sources.push(s);
    }
    let mut stmt = conn.prepare(
        "SELECT file, stream, source, count(*), min(line_no), min(reason) FROM quarantine
         GROUP BY file, stream, source ORDER BY file, source",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(QuarantineSummary {
            file: r.get(0)?,
            stream: r.get(1)?,
            source: r.get(2)?,
            lines: r.get::<_, i64>(3)? as u64,
            first_line: r.get::<_, i64>(4)? as u64,
            first_reason: r.get(5)?,
        })
    })?;
    for row in rows {
        rec.quarantine.push(row?);
    }
    let mut stmt = conn.prepare("SELECT stream, field, seen_type, source FROM schema_drift")?;
    let rows = stmt.query_map([], |r| {
        Ok(Drift {
            stream: r.get(0)?,
            field: r.get(1)?,
            kind: "unknown_field".into(),
            seen_type: r.get(2)?,
            source: r.get(3)?,
            line: 0,
            count: 1,
        })
    })?;
    for row in rows {
        rec.drift.push(row?);
    }
    let mut stmt = conn.prepare("SELECT content_id, path, bytes FROM backfilled")?;
    let rows = stmt.query_map([], |r| {
        Ok(Backfilled {
            content_id: r.get(0)?,
            path: r.get(1)?,
            bytes: r.get::<_, i64>(2)? as u64,
        })
    })?;
    for row in rows {
        rec.backfilled.push(row?);
    }
    let mut stmt = conn.prepare("SELECT path FROM source_dirs")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    for row in rows {
        rec.dirs_add.push(row?);
    }
    Ok(rec)
}

/// Older releases keyed landing files and backfill copies by absolute path: the key of such a
/// file that is in this root now becomes relative to it (the root may have moved since).
fn relative_key(layout: &Layout, key: &str) -> String {
    let p = Path::new(key);
    if let Ok(rel) = p.strip_prefix(layout.root()) {
        return rel.to_string_lossy().into_owned();
    }
    for marker in ["/landing/", "/backfill/"] {
        if let Some(i) = key.rfind(marker) {
            let rel = &key[i + 1..];
            if layout.root().join(rel).is_file() {
                return rel.to_string();
            }
        }
    }
    key.to_string()
}
