//! The SQLite catalog (DESIGN §3): which files are live, how far each source was read (the ingest
//! ledger), quarantined lines and schema drift. One transaction per commit is the commit point.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::timefmt::{day_to_string, iso_ms, now_ms};

/// A live data file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// Stream of its rows.
    pub stream: Stream,
    /// UTC day (Date32) of its rows.
    pub day: i32,
    /// Object path inside the data root.
    pub path: String,
    /// Row count.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Smallest `ts`, epoch ms.
    pub min_ts: i64,
    /// Largest `ts`, epoch ms.
    pub max_ts: i64,
}

/// The ledger entry of one source file.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceState {
    /// Absolute path of the JSONL file.
    pub path: String,
    /// Stream its lines belong to.
    pub stream: Stream,
    /// Hash of the first `fp_len` bytes.
    pub fingerprint: u64,
    /// How many leading bytes the fingerprint covers (`min(4096, offset)`).
    pub fp_len: u64,
    /// Bytes consumed: the file is ingested up to here (always a line boundary).
    pub offset: u64,
    /// Lines consumed (line numbers continue from here).
    pub lines: u64,
}

/// One quarantined line, as indexed in the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineEntry {
    /// Stream the source belongs to.
    pub stream: Stream,
    /// Source file path.
    pub source: String,
    /// 1-based line number in the source.
    pub line_no: u64,
    /// Byte offset of the line in the source.
    pub byte_offset: u64,
    /// Why it was rejected.
    pub reason: String,
}

/// Everything one commit makes visible, atomically.
#[derive(Debug, Default)]
pub struct Commit {
    /// New data files.
    pub files: Vec<FileEntry>,
    /// New quarantine files: (stream, object path, lines, bytes).
    pub quarantine_files: Vec<(Stream, String, u64, u64)>,
    /// New ledger positions.
    pub sources: Vec<SourceState>,
    /// Quarantined lines (the raw lines are in the quarantine files).
    pub quarantine: Vec<(QuarantineEntry, String)>,
    /// Unknown fields seen: (stream, field, JSON type, source).
    pub drift: Vec<(Stream, String, String, String)>,
    /// Files retired by this commit (compaction).
    pub retire: Vec<String>,
}

/// What a reader sees of the catalog at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Live data files.
    pub files: Vec<FileEntry>,
    /// The ingest ledger.
    pub sources: Vec<SourceState>,
    /// Registered source directories.
    pub dirs: Vec<PathBuf>,
}

/// An open catalog.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,            -- data | quarantine
    stream TEXT NOT NULL,
    date TEXT,
    path TEXT NOT NULL UNIQUE,
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    min_ts INTEGER,
    max_ts INTEGER,
    state TEXT NOT NULL,           -- live | retired
    created_at TEXT NOT NULL,
    retired_at INTEGER             -- epoch ms; retired files are deleted after a grace period
);
CREATE INDEX IF NOT EXISTS files_by_stream ON files(kind, state, stream, date);
CREATE TABLE IF NOT EXISTS sources(
    path TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    fp_len INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS backfilled(
    content_id TEXT PRIMARY KEY,   -- xxh3-128 of the decompressed content
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS source_dirs(
    path TEXT PRIMARY KEY,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine(
    id INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    source TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL,
    reason TEXT NOT NULL,
    file TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_drift(
    stream TEXT NOT NULL,
    field TEXT NOT NULL,
    seen_type TEXT NOT NULL,
    source TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY(stream, field, seen_type)
);
";

impl Catalog {
    /// Opens (creating if needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let err = |action| {
            let path = path.to_path_buf();
            move |source| Error::Catalog {
                action,
                path,
                source,
            }
        };
        let conn = Connection::open(path).map_err(err("open"))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err("configure"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err("configure"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err("configure"))?;
        conn.execute_batch(SCHEMA).map_err(err("create tables"))?;
        // Catalogs created before compaction existed lack `retired_at`.
        let has_retired_at: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM pragma_table_info('files') WHERE name = 'retired_at'",
                [],
                |r| r.get(0),
            )
            .map_err(err("read the catalog schema"))?;
        if !has_retired_at {
            conn.execute_batch("ALTER TABLE files ADD COLUMN retired_at INTEGER")
                .map_err(err("upgrade the catalog schema"))?;
        }
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
        move |source| Error::Catalog {
            action,
            path: self.path.clone(),
            source,
        }
    }

    /// Live data files, of one stream or all.
    pub fn live_files(&self, stream: Option<Stream>) -> Result<Vec<FileEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT stream, date, path, rows, bytes, min_ts, max_ts FROM files
                 WHERE kind = 'data' AND state = 'live' AND (?1 IS NULL OR stream = ?1)
                 ORDER BY stream, date, path",
            )
            .map_err(self.err("read files"))?;
        let rows = stmt
            .query_map(params![stream.map(Stream::table)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(self.err("read files"))?;
        let mut out = Vec::new();
        for row in rows {
            let (s, d, path, rows, bytes, min_ts, max_ts) = row.map_err(self.err("read files"))?;
            let (Some(stream), Some(day)) =
                (Stream::from_name(&s), crate::model::timefmt::parse_day(&d))
            else {
                continue;
            };
            out.push(FileEntry {
                stream,
                day,
                path,
                rows: rows as u64,
                bytes: bytes as u64,
                min_ts,
                max_ts,
            });
        }
        Ok(out)
    }

    /// True when an input with this content hash was backfilled completely.
    pub fn is_backfilled(&self, content_id: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) > 0 FROM backfilled WHERE content_id = ?1",
                params![content_id],
                |r| r.get(0),
            )
            .map_err(self.err("read backfilled"))
    }

    /// Records backfilled inputs: (content hash, path, decompressed bytes).
    pub fn mark_backfilled(&self, done: &[(String, String, u64)]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO backfilled(content_id, path, bytes, at) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(self.err("record backfilled"))?;
        let at = iso_ms(now_ms());
        for (id, path, bytes) in done {
            stmt.execute(params![id, path, *bytes as i64, at])
                .map_err(self.err("record backfilled"))?;
        }
        Ok(())
    }

    /// Paths of files retired before `before_ms` (their grace period is over).
    pub fn retired_before(&self, before_ms: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path FROM files WHERE state = 'retired' AND retired_at <= ?1 ORDER BY path",
            )
            .map_err(self.err("read files"))?;
        let paths = stmt
            .query_map(params![before_ms], |r| r.get::<_, String>(0))
            .map_err(self.err("read files"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read files"))?;
        Ok(paths)
    }

    /// Forgets retired files whose objects were deleted.
    pub fn forget_retired(&self, paths: &[String]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM files WHERE path = ?1 AND state = 'retired'")
            .map_err(self.err("forget retired files"))?;
        for p in paths {
            stmt.execute(params![p])
                .map_err(self.err("forget retired files"))?;
        }
        Ok(())
    }

    /// Every object path the catalog knows (any kind, any state): the rest are orphans.
    pub fn known_paths(&self) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM files")
            .map_err(self.err("read files"))?;
        let paths = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.err("read files"))?
            .collect::<Result<HashSet<_>, _>>()
            .map_err(self.err("read files"))?;
        Ok(paths)
    }

    /// The ledger entry of a source file.
    pub fn source(&self, path: &str) -> Result<Option<SourceState>> {
        self.conn
            .prepare_cached("SELECT path, stream, fingerprint, fp_len, offset, lines FROM sources WHERE path = ?1")
            .map_err(self.err("read sources"))?
            .query_row(params![path], source_row)
            .optional()
            .map_err(self.err("read sources"))
            .map(Option::flatten)
    }

    /// The whole ledger.
    pub fn sources(&self) -> Result<Vec<SourceState>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, stream, fingerprint, fp_len, offset, lines FROM sources ORDER BY path")
            .map_err(self.err("read sources"))?;
        let rows = stmt
            .query_map([], source_row)
            .map_err(self.err("read sources"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read sources"))?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// Registered source directories.
    pub fn source_dirs(&self) -> Result<Vec<PathBuf>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM source_dirs ORDER BY path")
            .map_err(self.err("read source_dirs"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.err("read source_dirs"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read source_dirs"))?;
        Ok(rows.into_iter().map(PathBuf::from).collect())
    }

    /// Registers a source directory; true if it was new.
    pub fn add_source_dir(&self, dir: &Path) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO source_dirs(path, added_at) VALUES (?1, ?2)",
                params![dir.to_string_lossy(), iso_ms(now_ms())],
            )
            .map_err(self.err("add source"))?;
        Ok(n > 0)
    }

    /// Quarantine entries, newest first.
    pub fn quarantine(&self, limit: usize) -> Result<Vec<QuarantineEntry>> {
        let mut stmt = self
            .conn
            .prepare("SELECT stream, source, line_no, byte_offset, reason FROM quarantine ORDER BY id DESC LIMIT ?1")
            .map_err(self.err("read quarantine"))?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.err("read quarantine"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read quarantine"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, source, line_no, byte_offset, reason)| {
                Some(QuarantineEntry {
                    stream: Stream::from_name(&s)?,
                    source,
                    line_no: line_no as u64,
                    byte_offset: byte_offset as u64,
                    reason,
                })
            })
            .collect())
    }

    /// Applies a commit in one transaction: after it returns, all of it is visible; if the
    /// process dies before, none of it is.
    pub fn commit(&mut self, c: &Commit) -> Result<()> {
        let now = iso_ms(now_ms());
        let path = self.path.clone();
        let err = |action| {
            let path = path.clone();
            move |source| Error::Catalog {
                action,
                path,
                source,
            }
        };
        let tx = self.conn.transaction().map_err(err("begin"))?;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO files(kind, stream, date, path, rows, bytes, min_ts, max_ts, state, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'live', ?9)",
                )
                .map_err(err("insert files"))?;
            for f in &c.files {
                ins.execute(params![
                    "data",
                    f.stream.table(),
                    day_to_string(f.day),
                    f.path,
                    f.rows as i64,
                    f.bytes as i64,
                    f.min_ts,
                    f.max_ts,
                    now
                ])
                .map_err(err("insert files"))?;
            }
            for (stream, p, lines, bytes) in &c.quarantine_files {
                ins.execute(params![
                    "quarantine",
                    stream.table(),
                    Option::<String>::None,
                    p,
                    *lines as i64,
                    *bytes as i64,
                    Option::<i64>::None,
                    Option::<i64>::None,
                    now
                ])
                .map_err(err("insert files"))?;
            }
            let mut retire = tx
                .prepare_cached(
                    "UPDATE files SET state = 'retired', retired_at = ?2 WHERE path = ?1 AND state = 'live'",
                )
                .map_err(err("retire files"))?;
            let now = now_ms();
            for p in &c.retire {
                let n = retire
                    .execute(params![p, now])
                    .map_err(err("retire files"))?;
                if n != 1 {
                    // Another writer changed the file meanwhile: nothing of this commit may land.
                    return Err(rusqlite::Error::QueryReturnedNoRows).map_err(err("retire files"));
                }
            }
            let mut src = tx
                .prepare_cached(
                    "INSERT INTO sources(path, stream, fingerprint, fp_len, offset, lines, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(path) DO UPDATE SET stream = excluded.stream, fingerprint = excluded.fingerprint,
                       fp_len = excluded.fp_len, offset = excluded.offset, lines = excluded.lines,
                       updated_at = excluded.updated_at",
                )
                .map_err(err("update sources"))?;
            for s in &c.sources {
                src.execute(params![
                    s.path,
                    s.stream.table(),
                    format!("{:016x}", s.fingerprint),
                    s.fp_len as i64,
                    s.offset as i64,
                    s.lines as i64,
                    now
                ])
                .map_err(err("update sources"))?;
            }
            let mut q = tx
                .prepare_cached(
                    "INSERT INTO quarantine(stream, source, line_no, byte_offset, reason, file, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(err("insert quarantine"))?;
            for (e, file) in &c.quarantine {
                q.execute(params![
                    e.stream.table(),
                    e.source,
                    e.line_no as i64,
                    e.byte_offset as i64,
                    e.reason,
                    file,
                    now
                ])
                .map_err(err("insert quarantine"))?;
            }
            let mut d = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO schema_drift(stream, field, seen_type, source, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(err("insert schema_drift"))?;
            for (stream, field, ty, source) in &c.drift {
                d.execute(params![stream.table(), field, ty, source, now])
                    .map_err(err("insert schema_drift"))?;
            }
        }
        tx.commit().map_err(err("commit"))
    }

    /// A consistent view for readers: live files, the ledger and the source directories, read
    /// in one transaction so that no commit falls between them.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.err("begin"))?;
        let snap = Snapshot {
            files: self.live_files(None)?,
            sources: self.sources()?,
            dirs: self.source_dirs()?,
        };
        tx.commit().map_err(self.err("end read"))?;
        Ok(snap)
    }

    /// The SQLite connection, for read-only queries (the `system.*` tables).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn source_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<SourceState>> {
    let stream: String = r.get(1)?;
    let fp: String = r.get(2)?;
    Ok(Stream::from_name(&stream).map(|stream| SourceState {
        path: r.get(0).unwrap_or_default(),
        stream,
        fingerprint: u64::from_str_radix(&fp, 16).unwrap_or(0),
        fp_len: r.get::<_, i64>(3).unwrap_or(0) as u64,
        offset: r.get::<_, i64>(4).unwrap_or(0) as u64,
        lines: r.get::<_, i64>(5).unwrap_or(0) as u64,
    }))
}
