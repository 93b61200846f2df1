//! The one way anything is committed (DESIGN §3): the writer lock, files published under fresh
//! names, one commit record created if absent in `log/`, then applied to the catalog index; and
//! the clean-up that may follow — staging left by dead writers, retired files past the query grace
//! period, and crash orphans that no record names and that are older than the orphan grace
//! period. Ingest, backfill, compact, repair and `source add|remove` all commit through here.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::time::{Duration, Instant};

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

/// How often a [`Listing::Throttled`] sweep lists an object-store root for orphans. A listing
/// costs a request per 1,000 objects (a tiny ingest into a store of 5,840 files on loopback
/// Garage took 3.48 s listing, 3.11–3.15 s not), and orphans are kept for [`ORPHAN_GRACE_MS`]
/// anyway: an ingest that lists only every few minutes deletes one at most that much later.
pub const REMOTE_LISTING_EVERY_MS: i64 = 10 * 60_000;

/// Whether [`Writer::sweep`] lists the root for orphans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Every time (`compact`).
    Always,
    /// On an object-store root at most every [`REMOTE_LISTING_EVERY_MS`], as this machine's
    /// index remembers it (`ingest`); on a local root every time (one walk of its folders).
    Throttled,
}

impl Listing {
    /// Whether a sweep lists now, on a remote root or not, the index having last listed at
    /// `last` (ms since the epoch). A clock set back lists: no time is trusted that is ahead.
    fn due(self, remote: bool, last: Option<i64>, now: i64) -> bool {
        match (self, remote, last) {
            (Listing::Throttled, true, Some(at)) => {
                !(at..at + REMOTE_LISTING_EVERY_MS).contains(&now)
            }
            _ => true,
        }
    }
}

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
    /// What other writers committed since this one opened (its plans were made against the
    /// log as it was then, and a commit that touches what they touched is refused).
    others: OthersSince,
    /// On an object store that ignores conditional writes: this writer's exclusive lease.
    lease: Option<Lease>,
    _lock: WriterLock,
}

/// What [`Writer::sweep`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Swept {
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
        let lease = match objects.is_remote() && !honours_create(layout, objects)? {
            true => Some(Lease::acquire(layout, objects)?),
            false => None,
        };
        let catalog = index::open(layout, objects)?;
        let others = OthersSince::new(catalog.applied()?.0);
        let w = Writer {
            objects: objects.clone(),
            catalog,
            others,
            lease,
            _lock: lock,
        };
        // Staging files belong to writers that died: no other writer runs while we hold the lock.
        w.objects.clear_staging()?;
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
        mut files: Option<&mut Uncommitted>,
    ) -> Result<u64> {
        fault::point("before-commit");
        loop {
            index::catch_up(&mut self.catalog, &self.objects)?;
            let (applied, _) = self.catalog.applied()?;
            // Other writers' commits since this writer opened (many machines, one root).
            self.others.read_up_to(&self.objects, applied)?;
            if let Some(e) = self.others.conflict(&rec) {
                return Err(e);
            }
            rec.seq = applied + 1;
            rec.at_ms = now_ms();
            if let Some(lease) = &self.lease {
                // Alone by the lease, yet a put would overwrite: never create over a record.
                lease.renew(&self.objects)?;
                if log::read_record(&self.objects, rec.seq)?.is_some() {
                    continue;
                }
            }
            let created = match log::create_record(&self.objects, &rec) {
                Ok(created) => created,
                // The create may have landed though its answer was lost (a timeout after the
                // store wrote it): the record at that seq says which.
                Err(e) => match log::read_record(&self.objects, rec.seq) {
                    Ok(Some(other)) if other.commit == rec.commit => true,
                    _ => {
                        // Still unknown, and the request may land yet: the files are kept, for
                        // the orphan sweep to remove after its grace period if no record names
                        // them. Deleting them now could leave a committed record without its data.
                        if let Some(f) = files.as_mut() {
                            f.disarm();
                        }
                        return Err(e);
                    }
                },
            };
            if created {
                break;
            }
            let other = log::read_record(&self.objects, rec.seq)?.ok_or_else(|| Error::Log {
                path: log::record_path(rec.seq),
                problem: "was taken by another writer but cannot be read".into(),
            })?;
            // Our own record: the create landed, but the answer was lost and a retry of the
            // request found the key (object_store retries a 5xx even of a conditional create,
            // and the retry gets 412). Taking it for another writer's would refuse this commit
            // and delete the files a committed record names.
            if other.commit == rec.commit {
                break;
            }
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
        self.others.own.insert(rec.seq);
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

    /// Deletes retired files older than `grace_ms` and, when `listing` says the root is listed
    /// now, files no commit record names that are older than `orphan_grace_ms`. Nothing is
    /// deleted while the log is empty: data without a log is never garbage.
    /// The index is caught up first: on a shared root another machine may have just committed
    /// files this index has not seen.
    pub fn sweep(
        &mut self,
        grace_ms: i64,
        orphan_grace_ms: i64,
        listing: Listing,
    ) -> Result<Swept> {
        index::catch_up(&mut self.catalog, &self.objects)?;
        let mut swept = Swept::default();
        let now = now_ms();
        let retired = self.catalog.retired_before(now - grace_ms.max(0))?;
        for p in &retired {
            self.objects.delete(p)?;
        }
        self.catalog.mark_deleted(&retired)?;
        swept.retired = retired.len() as u64;
        if self.catalog.applied()?.0 == 0
            || !listing.due(
                self.objects.is_remote(),
                self.catalog.orphans_listed_at()?,
                now,
            )
        {
            return Ok(swept);
        }
        let known = self.catalog.known_paths()?;
        let before = now - orphan_grace_ms.max(0);
        for prefix in ["data", "quarantine"] {
            swept.orphans += self.objects.sweep_unnamed(prefix, Some(&known), before)?;
        }
        // Of the log only half-written files of killed writers, which no listing shows (a
        // record is created from one, so a name with `#N` is never a record).
        swept.orphans += self.objects.sweep_unnamed(log::LOG_DIR, None, before)?;
        self.catalog.set_orphans_listed_at(now)?;
        Ok(swept)
    }
}

/// The sources and retired files of other writers' records since a writer opened. A writer's
/// plans (ledger offsets, files to retire) were made against the log as it was when it opened,
/// so any later record of another writer that touched the same source or retired the same file
/// makes its commit a conflict — however many commits of its own came in between.
struct OthersSince {
    /// The highest seq read so far.
    read: u64,
    /// This writer's own records.
    own: std::collections::HashSet<u64>,
    sources: std::collections::HashMap<String, (u64, String, u32)>,
    retired: std::collections::HashMap<String, (u64, String, u32)>,
}

impl OthersSince {
    fn new(opened_at: u64) -> Self {
        OthersSince {
            read: opened_at,
            own: Default::default(),
            sources: Default::default(),
            retired: Default::default(),
        }
    }

    /// Reads the records after the last one read, up to `seq`.
    fn read_up_to(&mut self, objects: &Objects, seq: u64) -> Result<()> {
        while self.read < seq {
            self.read += 1;
            if self.own.contains(&self.read) {
                continue;
            }
            let Some(r) = log::read_record(objects, self.read)? else {
                continue;
            };
            let who = (r.seq, r.kind.clone(), r.pid);
            for l in &r.sources {
                self.sources
                    .entry(l.path.clone())
                    .or_insert_with(|| who.clone());
            }
            for f in &r.retire {
                self.retired.entry(f.clone()).or_insert_with(|| who.clone());
            }
        }
        Ok(())
    }

    /// The conflict of `rec` with another writer's record, if any.
    fn conflict(&self, rec: &Record) -> Option<Error> {
        let hit = rec
            .sources
            .iter()
            .find_map(|l| self.sources.get(&l.path))
            .or_else(|| rec.retire.iter().find_map(|f| self.retired.get(f)))?;
        Some(Error::Conflict {
            seq: hit.0,
            kind: hit.1.clone(),
            pid: hit.2,
        })
    }
}

/// Whether the object store of `layout` refuses a second conditional create of a key: probed once
/// per cache ([`Objects::honours_create`]), the answer kept in `conditional-writes`.
pub fn honours_create(layout: &Layout, objects: &Objects) -> Result<bool> {
    let file = layout.root().join("conditional-writes");
    match std::fs::read_to_string(&file).as_deref().map(str::trim) {
        Ok("yes") => return Ok(true),
        Ok("no") => return Ok(false),
        _ => {}
    }
    let yes = objects.honours_create()?;
    if !yes {
        notice::push(format!(
            "the object store of {} ignores conditional writes (If-None-Match): it takes one writer at a time",
            layout.display()
        ));
    }
    let answer = if yes { "yes" } else { "no" };
    std::fs::write(&file, answer).map_err(|e| Error::io("write", &file, e))?;
    Ok(yes)
}

/// How long a writer's lease on a store without conditional writes lasts unless renewed (each
/// commit renews it).
const LEASE_MS: i64 = 5 * 60_000;

/// How long a new lease holder waits before it reads its lease back: a writer that read "no
/// lease" just before ours was written has put its own by then, and one of the two sees the
/// other's and gives way.
const LEASE_SETTLE: Duration = Duration::from_millis(1500);

/// The object of the lease.
const LEASE_PATH: &str = "log/.writer-lease";

/// One writer at a time on an object store that ignores conditional writes (Garage 2.5): without
/// them two writers could both "create" one log seq and one commit would be lost. Best effort by
/// design — S3 offers nothing stronger there — so a writer that finds another's live lease is
/// refused with a message rather than risk it.
struct Lease {
    holder: LeaseBody,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct LeaseBody {
    id: String,
    host: String,
    pid: u32,
    expires_ms: i64,
}

impl Lease {
    fn acquire(layout: &Layout, objects: &Objects) -> Result<Self> {
        let host = layout
            .remote_root()
            .map(|r| r.host.clone())
            .unwrap_or_default();
        // A lease of a writer on this host that is no longer running (it was killed, or lost
        // the store before it could give the lease back) is taken over.
        if let Some(other) = Self::read(objects)?
            && other.expires_ms > now_ms()
            && (other.host != host || pid_alive(other.pid))
        {
            return Err(Self::refused(layout, &other));
        }
        let mine = LeaseBody {
            id: uuid::Uuid::now_v7().to_string(),
            host,
            pid: std::process::id(),
            expires_ms: now_ms() + LEASE_MS,
        };
        Self::write(objects, &mine)?;
        std::thread::sleep(LEASE_SETTLE);
        match Self::read(objects)? {
            Some(b) if b.id == mine.id => Ok(Lease { holder: mine }),
            Some(other) => Err(Self::refused(layout, &other)),
            None => Err(Error::Usage(format!(
                "the writer lease of {} vanished while it was taken; run again",
                layout.display()
            ))),
        }
    }

    fn refused(layout: &Layout, other: &LeaseBody) -> Error {
        Error::SingleWriter {
            root: layout.display(),
            holder: format!("pid {} on {}", other.pid, other.host),
            until_s: ((other.expires_ms - now_ms()).max(0) / 1000) as u64,
        }
    }

    fn read(objects: &Objects) -> Result<Option<LeaseBody>> {
        Ok(objects
            .get_opt(LEASE_PATH)?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    fn write(objects: &Objects, body: &LeaseBody) -> Result<()> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Log {
            path: LEASE_PATH.into(),
            problem: e.to_string(),
        })?;
        objects.put(LEASE_PATH, bytes.into())
    }

    /// Checks the lease is still this writer's (it may have expired and been taken), and
    /// extends it.
    fn renew(&self, objects: &Objects) -> Result<()> {
        match Self::read(objects)? {
            Some(b) if b.id == self.holder.id => {}
            other => {
                return Err(Error::Usage(format!(
                    "this writer's lease was taken over{} while it ran (it expires after {} s \
                     without a commit); nothing more was committed — run again",
                    other
                        .map(|o| format!(" by pid {} on {}", o.pid, o.host))
                        .unwrap_or_default(),
                    LEASE_MS / 1000
                )));
            }
        }
        let mut body = self.holder.clone();
        body.expires_ms = now_ms() + LEASE_MS;
        Self::write(objects, &body)
    }

    fn release(&self, objects: &Objects) {
        if let Ok(Some(b)) = Self::read(objects)
            && b.id == self.holder.id
        {
            let _ = objects.delete(LEASE_PATH);
        }
    }
}

/// Whether a process with this pid runs on this host.
fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(lease) = &self.lease {
            lease.release(&self.objects);
        }
        // A run that failed may have left staging files; no other writer runs while we hold
        // the lock, so they are ours to remove (a crash leaves them to the next writer).
        let _ = self.objects.clear_staging();
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

/// Threads [`publish_all_staged`] places files on: each file waits on two fsyncs (its data,
/// then its directory after the rename), and a flush of one day of four streams to 30 days
/// publishes ~120 files.
const PUBLISH_THREADS: usize = 8;

/// Syncs each staging file of `(staging, path)` and moves it to its `path`, several at once: a
/// flush waits for its slowest files, not for the sum of their fsyncs. Stops at the first error
/// (files already placed stay unnamed until a record names them, like a single
/// [`publish_staged`] that failed half-way).
pub fn publish_all_staged(objects: &Objects, files: &[(String, String)]) -> Result<()> {
    let per_thread = files.len().div_ceil(PUBLISH_THREADS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().try_for_each(|(staging, path)| {
                        let local = objects.local_path(staging);
                        std::fs::File::open(&local)
                            .and_then(|f| f.sync_all())
                            .map_err(|e| Error::io("fsync", &local, e))?;
                        publish_staged(objects, staging, path)
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
}

/// Moves a finished staging file (written in place by a streaming writer) to `path`.
pub fn publish_staged(objects: &Objects, staging: &str, path: &str) -> Result<()> {
    fault::point("staged");
    objects.rename(staging, path)?;
    fault::point("renamed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_all_staged_places_every_file_and_fails_when_one_cannot_be_placed() {
        let (dir, _rt, objects) = crate::store::objects::temp_root();
        std::fs::create_dir_all(dir.path().join("staging")).unwrap();
        let stage = |i: usize, bytes: &[u8]| {
            let staging = Layout::staging_object(&format!("part-{i}.parquet"));
            std::fs::write(objects.local_path(&staging), bytes).unwrap();
            staging
        };
        // More files than threads, in several directories, each with its own bytes.
        let files: Vec<(String, String, Vec<u8>)> = (0..3 * PUBLISH_THREADS + 1)
            .map(|i| {
                let path = format!("data/t/date=2026-01-0{}/part-{i}.parquet", i % 3 + 1);
                let bytes = vec![i as u8; 100 + i];
                (stage(i, &bytes), path, bytes)
            })
            .collect();
        let moves: Vec<(String, String)> = files
            .iter()
            .map(|(s, p, _)| (s.clone(), p.clone()))
            .collect();
        publish_all_staged(&objects, &moves).unwrap();
        for (_, path, bytes) in &files {
            assert_eq!(&std::fs::read(dir.path().join(path)).unwrap(), bytes);
        }
        let staged = std::fs::read_dir(dir.path().join("staging"))
            .unwrap()
            .count();
        assert_eq!(staged, 0, "every staging file was renamed into place");

        // A file whose directory is taken by a file cannot be placed: the call fails.
        std::fs::write(dir.path().join("taken"), b"x").unwrap();
        let more = vec![
            (
                stage(100, b"a"),
                "data/t/date=2026-01-01/part-a.parquet".to_string(),
            ),
            (stage(101, b"y"), "taken/part-x.parquet".to_string()),
        ];
        assert!(publish_all_staged(&objects, &more).is_err());
        // So does a staging file that is not there.
        let gone = vec![(
            Layout::staging_object("gone"),
            "data/t/gone.parquet".to_string(),
        )];
        assert!(publish_all_staged(&objects, &gone).is_err());
    }

    /// An ingest lists a remote root for orphans when it never has, or last did at least
    /// [`REMOTE_LISTING_EVERY_MS`] ago, or at a time ahead of now; a local root and `compact`
    /// always list.
    #[test]
    fn a_throttled_sweep_lists_a_remote_root_at_most_every_few_minutes() {
        let (at, every) = (1_800_000_000_000, REMOTE_LISTING_EVERY_MS);
        let remote = |last, now| Listing::Throttled.due(true, last, now);
        assert!(remote(None, at));
        assert!(!remote(Some(at), at));
        assert!(!remote(Some(at), at + every - 1));
        assert!(remote(Some(at), at + every));
        assert!(remote(Some(at), at - 1), "a clock set back lists");
        for last in [None, Some(at)] {
            assert!(Listing::Throttled.due(false, last, at));
            assert!(Listing::Always.due(true, last, at));
            assert!(Listing::Always.due(false, last, at));
        }
    }
}
