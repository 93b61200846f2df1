//! Data, quarantine and log files go through the `object_store` crate (DESIGN §8): a local
//! directory or an S3 bucket (any S3-compatible server). Staging files are always local — in the
//! root, or in the machine's cache of an object-store root — and are published by a rename
//! locally, an upload (multipart when large) remotely.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    WriteMultipart,
};
use tokio::runtime::Handle;

use crate::error::{Error, Result};

use super::layout::{Layout, Remote};

/// Objects at least this large are uploaded in parts of this size (S3's minimum part is 5 MiB).
const PART_BYTES: usize = 8 << 20;

/// How long a failing S3 request is retried, with backoff, by default (`OBSQ_S3_RETRY_TIMEOUT`
/// overrides): long enough to ride out a server restart, short enough to fail clearly.
const RETRY_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether [`Objects::create`] created the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// It did.
    Yes,
    /// An object existed at that path already; nothing was written.
    No,
}

/// The object store of a data root, usable from blocking code.
#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// Where `staging/` objects are: the root itself, or the cache of an object-store root.
    staging: Arc<dyn ObjectStore>,
    local_root: PathBuf,
    remote: Option<Remote>,
    rt: Handle,
}

/// The S3 store of `remote`, configured from the standard `AWS_*` variables. A root without
/// credentials is refused here: object_store would otherwise probe a cloud metadata endpoint.
pub fn s3_store(remote: &Remote) -> Result<Arc<dyn ObjectStore>> {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    if !set("AWS_ACCESS_KEY_ID") || !set("AWS_SECRET_ACCESS_KEY") {
        return Err(Error::Usage(format!(
            "the data root {} is on S3 but no credentials are set: export AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL, AWS_REGION, AWS_ALLOW_HTTP=true for an \
             S3-compatible server on http)",
            remote.url
        )));
    }
    let retry_timeout = std::env::var("OBSQ_S3_RETRY_TIMEOUT")
        .ok()
        .and_then(|v| crate::reports::params::parse_duration_ms(&v))
        .map_or(RETRY_TIMEOUT, |ms| Duration::from_millis(ms.max(0) as u64));
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 10,
        retry_timeout,
    };
    let s3 = AmazonS3Builder::from_env()
        .with_bucket_name(&remote.bucket)
        .with_retry(retry)
        .build()
        .map_err(os_err("open", &remote.url))?;
    Ok(match remote.prefix.is_empty() {
        true => Arc::new(s3),
        false => Arc::new(PrefixStore::new(s3, remote.prefix.as_str())),
    })
}

fn os_err<'a>(
    action: &'static str,
    path: &'a str,
) -> impl FnOnce(object_store::Error) -> Error + 'a {
    move |source| Error::ObjectStore {
        action,
        path: path.to_string(),
        source,
    }
}

impl Objects {
    /// Opens the local data root `root` (which must exist); `rt` runs the store's futures.
    pub fn local(root: &Path, rt: Handle) -> Result<Self> {
        let store: Arc<dyn ObjectStore> =
            Arc::new(LocalFileSystem::new_with_prefix(root).map_err(os_err("open", "data root"))?);
        Ok(Objects {
            staging: store.clone(),
            store,
            local_root: root.to_path_buf(),
            remote: None,
            rt,
        })
    }

    /// Opens the data root of `layout`, local or on an object store (its local directory is
    /// created if missing).
    pub fn open(layout: &Layout, rt: Handle) -> Result<Self> {
        layout.create()?;
        let Some(remote) = layout.remote_root() else {
            return Self::local(layout.root(), rt);
        };
        let staging = LocalFileSystem::new_with_prefix(layout.root())
            .map_err(os_err("open", "the root's local cache"))?;
        Ok(Objects {
            store: s3_store(remote)?,
            staging: Arc::new(staging),
            local_root: layout.root().to_path_buf(),
            remote: Some(remote.clone()),
            rt,
        })
    }

    /// Whether the root is on an object store.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The store that holds `path`: staging objects are local even for an object-store root.
    fn target(&self, path: &str) -> &Arc<dyn ObjectStore> {
        match self.remote.is_some() && is_staging(path) {
            true => &self.staging,
            false => &self.store,
        }
    }

    /// Whether `path` is a file on this machine (so it can be fsynced).
    fn is_local(&self, path: &str) -> bool {
        self.remote.is_none() || is_staging(path)
    }

    /// Runs an object-store future to completion from blocking code — also from inside an async
    /// task of the (multi-threaded) runtime, as a query's lazy system table does.
    /// An object-store root's requests run on a runtime of their own, from a helper thread:
    /// they are also made from inside queries (`system.damaged_files` heads every file), where
    /// blocking the query's runtime on its own network I/O stalled it.
    fn block<F>(&self, f: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        if self.remote.is_none() {
            return tokio::task::block_in_place(|| self.rt.block_on(f));
        }
        std::thread::scope(|s| {
            s.spawn(|| io_runtime().block_on(f))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// The underlying store, for DataFusion's object-store registry.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The local path of a `staging/` object (written in place by streaming writers); on a local
    /// root also of any object.
    pub fn local_path(&self, path: &str) -> PathBuf {
        self.local_root.join(path)
    }

    /// Writes a whole object, durably (fsync on a local root).
    pub fn put(&self, path: &str, data: Bytes) -> Result<()> {
        let p = ObjPath::from(path);
        self.block(self.target(path).put(&p, PutPayload::from(data)))
            .map_err(os_err("put", path))?;
        if !self.is_local(path) {
            return Ok(());
        }
        let local = self.local_path(path);
        let f = std::fs::File::open(&local).map_err(|e| Error::io("open for fsync", &local, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &local, e))
    }

    /// Moves an object into place: an atomic rename (then a sync of the directory) on a local
    /// root; on an object store, an upload of the local staging file, in parts when large, then
    /// its removal. A failed upload leaves nothing at `to`.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        if self.remote.is_some() && is_staging(from) {
            self.upload(&self.local_path(from), to)?;
            return self.delete(from);
        }
        let (f, t) = (ObjPath::from(from), ObjPath::from(to));
        self.block(self.store.rename(&f, &t))
            .map_err(os_err("rename", from))?;
        if self.remote.is_none()
            && let Some(dir) = self.local_path(to).parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            d.sync_all()
                .map_err(|e| Error::io("fsync directory", dir, e))?;
        }
        Ok(())
    }

    /// Uploads the local file `local` to `to`: one PUT when small, else a multipart upload
    /// (aborted on failure, so no object appears).
    fn upload(&self, local: &Path, to: &str) -> Result<()> {
        let mut f = std::fs::File::open(local).map_err(|e| Error::io("open", local, e))?;
        let len = f.metadata().map_err(|e| Error::io("stat", local, e))?.len();
        let p = ObjPath::from(to);
        if len < PART_BYTES as u64 {
            let mut buf = Vec::with_capacity(len as usize);
            f.read_to_end(&mut buf)
                .map_err(|e| Error::io("read", local, e))?;
            return self
                .block(self.store.put(&p, PutPayload::from(buf)))
                .map(|_| ())
                .map_err(os_err("upload", to));
        }
        let upload = self
            .block(self.store.put_multipart(&p))
            .map_err(os_err("start the upload of", to))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut buf = vec![0u8; PART_BYTES];
        let sent: Result<()> = self.block(async {
            loop {
                let n = f.read(&mut buf).map_err(|e| Error::io("read", local, e))?;
                if n == 0 {
                    return Ok(());
                }
                w.wait_for_capacity(4).await.map_err(os_err("upload", to))?;
                w.write(&buf[..n]);
            }
        });
        match sent {
            Ok(()) => self
                .block(w.finish())
                .map(|_| ())
                .map_err(os_err("finish the upload of", to)),
            Err(e) => {
                let _ = self.block(w.abort());
                Err(e)
            }
        }
    }

    /// A local file with the object's bytes, for readers that want a `File`: the object itself
    /// on a local root, else a download into the cache (unlinked at once: it goes when closed).
    pub fn open_file(&self, path: &str) -> Result<std::fs::File> {
        if self.is_local(path) {
            let local = self.local_path(path);
            return std::fs::File::open(&local).map_err(|e| Error::io("open", &local, e));
        }
        let dir = self.local_root.join("tmp");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        let tmp = dir.join(uuid::Uuid::now_v7().to_string());
        let mut out = std::fs::OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        let _ = std::fs::remove_file(&tmp);
        let p = ObjPath::from(path);
        let copied: Result<()> = self.block(async {
            let mut stream = self
                .store
                .get(&p)
                .await
                .map_err(os_err("read", path))?
                .into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(os_err("read", path))?;
                out.write_all(&chunk)
                    .map_err(|e| Error::io("write", &tmp, e))?;
            }
            Ok(())
        });
        copied?;
        use std::io::Seek;
        out.rewind().map_err(|e| Error::io("rewind", &tmp, e))?;
        Ok(out)
    }

    /// Creates an object only if none exists at `path` (`link(2)` on a local root, a
    /// conditional create on an object store): the commit log's commit point.
    /// An object store that ignores conditional writes (see [`Self::honours_create`]) must be
    /// written by one writer at a time (the commit module's lease).
    pub fn create(&self, path: &str, data: Bytes) -> Result<Created> {
        let p = ObjPath::from(path);
        let opts = PutOptions::from(PutMode::Create);
        match self.block(self.store.put_opts(&p, PutPayload::from(data), opts)) {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => return Ok(Created::No),
            Err(e) => return Err(os_err("create", path)(e)),
        }
        if self.remote.is_some() {
            return Ok(Created::Yes);
        }
        let local = self.local_path(path);
        let f = std::fs::File::open(&local).map_err(|e| Error::io("open for fsync", &local, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &local, e))?;
        if let Some(dir) = local.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            d.sync_all()
                .map_err(|e| Error::io("fsync directory", dir, e))?;
        }
        Ok(Created::Yes)
    }

    /// Whether the store refuses a second conditional create of one key (S3 servers that ignore
    /// `If-None-Match: *`, as Garage 2.5 does, overwrite instead). Asked of the store itself,
    /// with a scratch object under `log/`; a local root always honours it.
    pub fn honours_create(&self) -> Result<bool> {
        if self.remote.is_none() {
            return Ok(true);
        }
        let probe = format!("log/.probe-{}", uuid::Uuid::now_v7());
        let first = self.create(&probe, Bytes::from_static(b"1"))?;
        let second = self.create(&probe, Bytes::from_static(b"2"));
        let kept = self.get_opt(&probe);
        self.delete(&probe)?;
        Ok(first == Created::Yes
            && matches!(second?, Created::No)
            && kept?.as_deref() == Some(&b"1"[..]))
    }

    /// Reads a whole object, `None` when it does not exist.
    pub fn get_opt(&self, path: &str) -> Result<Option<Bytes>> {
        let p = ObjPath::from(path);
        let store = self.target(path);
        match self.block(async { store.get(&p).await?.bytes().await }) {
            Ok(b) => Ok(Some(b)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(os_err("read", path)(e)),
        }
    }

    /// Size and last modification (epoch ms) of an object, `None` when it does not exist.
    /// Answered by the file system directly: it is called from inside queries (the lazy
    /// `system.damaged_files`), where re-entering the runtime for a local stat stalled them.
    pub fn head(&self, path: &str) -> Result<Option<(u64, i64)>> {
        if !self.is_local(path) {
            let p = ObjPath::from(path);
            return match self.block(self.store.head(&p)) {
                Ok(m) => Ok(Some((m.size, m.last_modified.timestamp_millis()))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(os_err("stat", path)(e)),
            };
        }
        let local = self.local_path(path);
        match std::fs::metadata(&local) {
            Ok(m) => {
                let modified = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as i64);
                Ok(Some((m.len(), modified)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("stat", local, e)),
        }
    }

    /// Reads a whole object.
    pub fn get(&self, path: &str) -> Result<Bytes> {
        let p = ObjPath::from(path);
        let store = self.target(path);
        self.block(async { store.get(&p).await?.bytes().await })
            .map_err(os_err("read", path))
    }

    /// Deletes an object; a missing one is not an error.
    pub fn delete(&self, path: &str) -> Result<()> {
        match self.block(self.target(path).delete(&ObjPath::from(path))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(os_err("delete", path)(e)),
        }
    }

    /// Lists every object under `prefix` as `(path, size, last modified epoch ms)`.
    pub fn list_meta(&self, prefix: &str) -> Result<Vec<(String, u64, i64)>> {
        let p = ObjPath::from(prefix);
        let metas: Vec<_> = self
            .block(self.target(prefix).list(Some(&p)).try_collect())
            .map_err(os_err("list", prefix))?;
        Ok(metas
            .into_iter()
            .map(|m| {
                (
                    m.location.to_string(),
                    m.size,
                    m.last_modified.timestamp_millis(),
                )
            })
            .collect())
    }

    /// Removes every file in `staging/`, the temporary files (`name#N`) of an interrupted local
    /// put among them: object_store's listing never shows those names, so deleting what
    /// [`Self::list`] shows left them behind. Staging is always on this machine.
    pub fn clear_staging(&self) -> Result<u64> {
        let dir = self.local_path("staging");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        let mut removed = 0;
        for entry in entries {
            let path = entry.map_err(|e| Error::io("list", &dir, e))?.path();
            if path.is_file() && remove_file(&path)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Deletes what interrupted writers left under `prefix` and last modified at or before
    /// `before_ms`: the objects `named` does not hold (when given) and, on a local root, the
    /// temporary files (`name#N`) object_store writes a local object to before it renames it
    /// into place, which its listing hides. Returns how many it deleted.
    ///
    /// On a local root that is one walk of the directories, and only the files `named` does not
    /// hold are stat'ed: object_store's listing stats every file twice, and a walk for the
    /// temporary files listed them all again (a store of 5,840 files: ~100 ms on every ingest).
    /// Names that are not UTF-8 are never deleted (no object path holds them), nor anything
    /// behind a link to a folder.
    pub fn sweep_unnamed(
        &self,
        prefix: &str,
        named: Option<&HashSet<String>>,
        before_ms: i64,
    ) -> Result<u64> {
        if self.remote.is_some() {
            let Some(named) = named else {
                return Ok(0);
            };
            let mut removed = 0;
            for (path, _, modified) in self.list_meta(prefix)? {
                if !named.contains(&path) && modified <= before_ms {
                    self.delete(&path)?;
                    removed += 1;
                }
            }
            return Ok(removed);
        }
        let mut removed = 0;
        let mut dirs = vec![(self.local_path(prefix), prefix.to_string())];
        while let Some((dir, object)) = dirs.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("list", &dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else {
                    continue;
                };
                let path = entry.path();
                let kind = entry.file_type().map_err(|e| Error::io("stat", &path, e))?;
                let object = format!("{object}/{name}");
                if kind.is_dir() {
                    dirs.push((path, object));
                    continue;
                }
                // A link to a folder is not followed (object_store's listing followed it): a
                // sweep deletes nothing behind one, and a loop of links cannot trap the walk.
                if kind.is_symlink() && path.is_dir() {
                    continue;
                }
                let unnamed = if is_temp_name(name) {
                    true
                } else {
                    named.is_some_and(|named| !named.contains(&object))
                };
                if unnamed
                    && modified_ms(&path)?.is_some_and(|m| m <= before_ms)
                    && remove_file(&path)?
                {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Lists every object under `prefix` as `(path, size)`.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        Ok(self
            .list_meta(prefix)?
            .into_iter()
            .map(|(p, size, _)| (p, size))
            .collect())
    }
}

/// The runtime of object-store requests (see [`Objects::block`]): one per process, so that the
/// HTTP connections it opens outlive every `Objects` and the sessions that share its store.
fn io_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("obsq-s3")
            .enable_all()
            .build()
            .expect("start the object-store runtime")
    })
}

/// A local root in a new temporary directory, with the runtime its store runs on (tests).
#[cfg(test)]
pub(crate) fn temp_root() -> (tempfile::TempDir, tokio::runtime::Runtime, Objects) {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let objects = Objects::local(dir.path(), rt.handle().clone()).expect("local root");
    (dir, rt, objects)
}

/// Whether a file name is one of object_store's local temporary files: `name#N`, N all digits.
fn is_temp_name(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// When a local file (or a link's target) was last modified, in epoch ms; `None` when it is gone
/// (a broken link is never deleted, as object_store's listing never shows one).
fn modified_ms(path: &Path) -> Result<Option<i64>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some(
            meta.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(i64::MAX, |d| d.as_millis() as i64),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("stat", path, e)),
    }
}

/// Removes a local file; whether it was there.
fn remove_file(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("delete", path, e)),
    }
}

/// Whether `path` is a staging object (always a local file).
fn is_staging(path: &str) -> bool {
    path.starts_with("staging/") || path == "staging"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_deletes_old_unnamed_objects_and_temp_files_and_nothing_else() {
        let (dir, _rt, objects) = temp_root();
        let put = |path: &str| {
            let local = dir.path().join(path);
            std::fs::create_dir_all(local.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&local, b"x").expect("write");
        };
        let named_file = "data/t/date=2026-01-01/part-a.parquet";
        // `a#b` is an object (not a temporary file): its suffix is not a number.
        let unnamed = [
            "data/t/date=2026-01-01/part-b.parquet",
            "data/t/date=2026-01-02/deep/er/stray.txt",
            "data/t/date=2026-01-01/a#b",
        ];
        let temp = [
            "data/t/date=2026-01-01/part-c.parquet#3",
            "log/00000002.json#1",
        ];
        let kept = [named_file, "log/00000001.json"];
        for p in unnamed.iter().chain(&temp).chain(&kept) {
            put(p);
        }
        // A name no object path can hold.
        use std::os::unix::ffi::OsStrExt;
        let odd = dir
            .path()
            .join("data/t")
            .join(std::ffi::OsStr::from_bytes(b"\xff.parquet"));
        std::fs::write(&odd, b"x").expect("write");
        // A link to a folder elsewhere, which holds an old file no commit names.
        let elsewhere = tempfile::tempdir().expect("temp dir");
        std::fs::write(elsewhere.path().join("part-z.parquet"), b"x").expect("write");
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("data/t/linked"))
            .expect("symlink");
        let named: HashSet<String> = [named_file.to_string()].into();
        let sweep = |prefix: &str, named: Option<&HashSet<String>>, before_ms: i64| {
            objects
                .sweep_unnamed(prefix, named, before_ms)
                .expect("sweep")
        };

        // Nothing is old enough yet.
        assert_eq!(sweep("data", Some(&named), 0), 0);
        assert_eq!(sweep("log", None, 0), 0);
        // Then the unnamed objects and temp files go; of the log only the temp file.
        assert_eq!(sweep("data", Some(&named), i64::MAX), 4);
        assert_eq!(sweep("log", None, i64::MAX), 1);
        assert_eq!(
            sweep("quarantine", Some(&named), i64::MAX),
            0,
            "no such folder"
        );
        for p in unnamed.iter().chain(&temp) {
            assert!(!dir.path().join(p).exists(), "{p} was swept");
        }
        for p in kept {
            assert!(dir.path().join(p).exists(), "{p} was kept");
        }
        assert!(odd.exists(), "a name that is not UTF-8 is never deleted");
        assert!(
            elsewhere.path().join("part-z.parquet").exists(),
            "nothing behind a link to a folder is deleted"
        );
        std::fs::remove_file(dir.path().join("data/t/linked")).expect("remove the link");
        // object_store's listing fails on such a name (so a sweep by it failed).
        assert!(objects.list_meta("data").is_err());
        std::fs::remove_file(&odd).expect("remove");
        // What object_store lists under `data` is named the same way the sweep names it.
        let listed: Vec<String> = objects
            .list_meta("data")
            .expect("list")
            .into_iter()
            .map(|(p, _, _)| p)
            .collect();
        assert_eq!(listed, [named_file.to_string()]);
    }
}
