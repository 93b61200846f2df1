//! The one way anything is committed (DESIGN §3): the writer lock, files published under fresh
//! names, one commit record created if absent in `log/`, then applied to the catalog index; and
//! the clean-up that may follow — staging left by dead writers, retired files past the query grace
//! period, and crash orphans that no record names and that are older than the orphan grace
//! period. Ingest, backfill, compact, repair and `source add|remove` all commit through here.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::model::timefmt::now_ms;
use crate::notice;

use super::catalog::Catalog;
use super::fault;
use super::index;
use super::layout::Layout;
use super::log::{self, CHECKPOINT_EVERY, Record};
use super::objects::Objects;

/// How long a writer waits for another one by default (`OBSQ_LOCK_TIMEOUT` overrides).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// Retired files stay this long by default: a query that listed them may still read them.
pub const QUERY_GRACE_MS: i64 = 10 * 60_000;

/// Unnamed files (a writer died between writing and committing) stay this long by default: on a
/// shared object store another machine's writer may be about to commit them.
pub const ORPHAN_GRACE_MS: i64 = 60 * 60_000;

/// The exclusive lock held by a writer; readers never take it.
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Waits up to `timeout` until this process is the only writer of the data root; the lock
    /// file holds the holder's pid so that a waiting writer can say whom it waits for.
    pub fn acquire(layout: &Layout, timeout: Duration) -> Result<Self> {
        Self::acquire_at(&layout.writer_lock(), layout.root(), timeout)
    }

    /// The same for another lock file of the root (`alerts/.lock` serializes alert checks).
    pub fn acquire_at(
        path: &std::path::Path,
        root: &std::path::Path,
        timeout: Duration,
    ) -> Result<Self> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if started.elapsed() >= timeout {
                        let mut holder = String::new();
                        let _ = file.rewind();
                        let _ = file.read_to_string(&mut holder);
                        return Err(Error::Locked {
                            root: root.to_path_buf(),
                            holder: holder.trim().to_string(),
                            waited_s: timeout.as_secs(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
            }
        }
        // The holder's pid, for the message above (best effort: the lock itself is what counts).
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(WriterLock { _file: file })
    }
}

/// The lock timeout in force (`OBSQ_LOCK_TIMEOUT`, e.g. `30s`, `5m`, else [`LOCK_TIMEOUT`]).
pub fn lock_timeout() -> Duration {
    std::env::var("OBSQ_LOCK_TIMEOUT")
        .ok()
        .and_then(|v| crate::reports::params::parse_duration_ms(&v))
        .map_or(LOCK_TIMEOUT, |ms| Duration::from_millis(ms.max(0) as u64))
}

/// A writer of the data root: holds the lock and the index, and commits records.
pub struct Writer {
    objects: Objects,
    catalog: Catalog,
    _lock: WriterLock,
}

/// What [`Writer::sweep`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Swept {
    /// Staging files of writers that died.
    pub staging: u64,
    /// Retired files past the query grace period.
    pub retired: u64,
    /// Files no record names, older than the orphan grace period.
    pub orphans: u64,
}

impl Writer {
    /// Takes the writer lock and opens the index (caught up with the log).
    pub fn open(layout: &Layout, objects: &Objects) -> Result<Self> {
        layout.create()?;
        let lock = WriterLock::acquire(layout, lock_timeout())?;
        let catalog = index::open(layout, objects)?;
        let w = Writer {
            objects: objects.clone(),
            catalog,
            _lock: lock,
        };
        // Staging files belong to writers that died: no other writer runs while we hold the lock.
        for (path, _) in w.objects.list("staging")? {
            w.objects.delete(&path)?;
        }
        Ok(w)
    }

    /// The index.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The data root's objects.
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// Commits `rec`: creates the next record of the log if absent (the commit point), then
    /// applies it to the index. If another writer took that seq, its record is applied first;
    /// when it touched the same sources or retired the same files this commit is refused.
    pub fn commit(&mut self, rec: Record) -> Result<u64> {
        self.commit_files(rec, None)
    }

    /// [`Self::commit`] of a record whose new files `files` holds: they are left in place once
    /// the record exists, and deleted by the guard if it never comes to exist.
    pub fn commit_files(
        &mut self,
        mut rec: Record,
        files: Option<&mut Uncommitted>,
    ) -> Result<u64> {
        fault::point("before-commit");
        loop {
            index::catch_up(&mut self.catalog, &self.objects)?;
            let (applied, _) = self.catalog.applied()?;
            rec.seq = applied + 1;
            rec.at_ms = now_ms();
            if log::create_record(&self.objects, &rec)? {
                break;
            }
            let other = log::read_record(&self.objects, rec.seq)?.ok_or_else(|| Error::Log {
                path: log::record_path(rec.seq),
                problem: "was taken by another writer but cannot be read".into(),
            })?;
            if rec.conflicts_with(&other) {
                return Err(Error::Conflict {
                    seq: other.seq,
                    kind: other.kind,
                    pid: other.pid,
                });
            }
        }
        if let Some(f) = files {
            f.disarm();
        }
        fault::point("logged");
        self.catalog.apply(&rec)?;
        fault::point("committed");
        if rec.seq.is_multiple_of(CHECKPOINT_EVERY) {
            let written = self
                .catalog
                .checkpoint()
                .and_then(|cp| log::write_checkpoint(&self.objects, &cp));
            if let Err(e) = written {
                notice::push(format!(
                    "checkpoint {} not written ({e}); the log is whole without it",
                    rec.seq
                ));
            }
        }
        Ok(rec.seq)
    }

    /// Deletes retired files older than `grace_ms` and files no commit record names that are
    /// older than `orphan_grace_ms`. Nothing is deleted while the log is empty: data without a
    /// log is never garbage.
    pub fn sweep(&self, grace_ms: i64, orphan_grace_ms: i64) -> Result<Swept> {
        let mut swept = Swept::default();
        let now = now_ms();
        let retired = self.catalog.retired_before(now - grace_ms.max(0))?;
        for p in &retired {
            self.objects.delete(p)?;
        }
        self.catalog.mark_deleted(&retired)?;
        swept.retired = retired.len() as u64;
        if self.catalog.applied()?.0 == 0 {
            return Ok(swept);
        }
        let known = self.catalog.known_paths()?;
        for prefix in ["data", "quarantine"] {
            for (path, _, modified) in self.objects.list_meta(prefix)? {
                if !known.contains(&path) && modified <= now - orphan_grace_ms.max(0) {
                    self.objects.delete(&path)?;
                    swept.orphans += 1;
                }
            }
        }
        Ok(swept)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // A run that failed may have left staging files; no other writer runs while we hold
        // the lock, so they are ours to remove (a crash leaves them to the next writer).
        if let Ok(list) = self.objects.list("staging") {
            for (path, _) in list {
                let _ = self.objects.delete(&path);
            }
        }
    }
}

/// Files written for a commit that has not happened yet: deleted when the guard is dropped
/// unless the commit's record was created (then they are committed data).
pub struct Uncommitted {
    objects: Objects,
    paths: Vec<String>,
}

impl Uncommitted {
    /// An empty guard.
    pub fn new(objects: &Objects) -> Self {
        Uncommitted {
            objects: objects.clone(),
            paths: Vec::new(),
        }
    }

    /// Guards one more published file.
    pub fn push(&mut self, path: &str) {
        self.paths.push(path.to_string());
    }

    /// The files are committed: keep them.
    pub fn disarm(&mut self) {
        self.paths.clear();
    }
}

impl Drop for Uncommitted {
    fn drop(&mut self) {
        for p in &self.paths {
            let _ = self.objects.delete(p);
        }
    }
}

/// Staging → fsync → rename into place. Not visible to anyone until a record names it.
pub fn publish(objects: &Objects, path: &str, bytes: Bytes) -> Result<()> {
    let staging = Layout::staging_object(path.rsplit('/').next().unwrap_or("file"));
    fault::write_point("write").map_err(|e| Error::io("write", objects.local_path(&staging), e))?;
    objects.put(&staging, bytes)?;
    fault::point("staged");
    objects.rename(&staging, path)?;
    fault::point("renamed");
    Ok(())
}

/// Moves a finished staging file (written in place by a streaming writer) to `path`.
pub fn publish_staged(objects: &Objects, staging: &str, path: &str) -> Result<()> {
    fault::point("staged");
    objects.rename(staging, path)?;
    fault::point("renamed");
    Ok(())
}
