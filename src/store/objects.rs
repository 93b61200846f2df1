//! Data and quarantine files go through the `object_store` crate, so that a remote data root is
//! a matter of configuration (DESIGN §8). Today the root is a local directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use tokio::runtime::Handle;

use crate::error::{Error, Result};

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
    local_root: PathBuf,
    rt: Handle,
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
        let store = LocalFileSystem::new_with_prefix(root).map_err(os_err("open", "data root"))?;
        Ok(Objects {
            store: Arc::new(store),
            local_root: root.to_path_buf(),
            rt,
        })
    }

    /// Runs an object-store future to completion from blocking code — also from inside an async
    /// task of the (multi-threaded) runtime, as a query's lazy system table does.
    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::task::block_in_place(|| self.rt.block_on(f))
    }

    /// The underlying store, for DataFusion's object-store registry.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The local path of an object (for fsync and for readers that want a file path).
    pub fn local_path(&self, path: &str) -> PathBuf {
        self.local_root.join(path)
    }

    /// Writes a whole object, durably (fsync on a local root).
    pub fn put(&self, path: &str, data: Bytes) -> Result<()> {
        let p = ObjPath::from(path);
        self.block(self.store.put(&p, PutPayload::from(data)))
            .map_err(os_err("put", path))?;
        let local = self.local_path(path);
        let f = std::fs::File::open(&local).map_err(|e| Error::io("open for fsync", &local, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &local, e))
    }

    /// Moves an object (atomic rename on a local root), then syncs the target directory.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (ObjPath::from(from), ObjPath::from(to));
        self.block(self.store.rename(&f, &t))
            .map_err(os_err("rename", from))?;
        if let Some(dir) = self.local_path(to).parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            d.sync_all()
                .map_err(|e| Error::io("fsync directory", dir, e))?;
        }
        Ok(())
    }

    /// Creates an object only if none exists at `path` (`link(2)` on a local root, a
    /// conditional create on an object store): the commit log's commit point.
    pub fn create(&self, path: &str, data: Bytes) -> Result<Created> {
        let p = ObjPath::from(path);
        let opts = PutOptions::from(PutMode::Create);
        match self.block(self.store.put_opts(&p, PutPayload::from(data), opts)) {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(Created::No),
            Err(e) => return Err(os_err("create", path)(e)),
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

    /// Reads a whole object, `None` when it does not exist.
    pub fn get_opt(&self, path: &str) -> Result<Option<Bytes>> {
        let p = ObjPath::from(path);
        match self.block(async { self.store.get(&p).await?.bytes().await }) {
            Ok(b) => Ok(Some(b)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(os_err("read", path)(e)),
        }
    }

    /// Size and last modification (epoch ms) of an object, `None` when it does not exist.
    /// Answered by the file system directly: it is called from inside queries (the lazy
    /// `system.damaged_files`), where re-entering the runtime for a local stat stalled them.
    pub fn head(&self, path: &str) -> Result<Option<(u64, i64)>> {
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
        self.block(async { self.store.get(&p).await?.bytes().await })
            .map_err(os_err("read", path))
    }

    /// Deletes an object; a missing one is not an error.
    pub fn delete(&self, path: &str) -> Result<()> {
        match self.block(self.store.delete(&ObjPath::from(path))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(os_err("delete", path)(e)),
        }
    }

    /// Lists every object under `prefix` as `(path, size, last modified epoch ms)`.
    pub fn list_meta(&self, prefix: &str) -> Result<Vec<(String, u64, i64)>> {
        let p = ObjPath::from(prefix);
        let metas: Vec<_> = self
            .block(self.store.list(Some(&p)).try_collect())
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

    /// Lists every object under `prefix` as `(path, size)`.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        Ok(self
            .list_meta(prefix)?
            .into_iter()
            .map(|(p, size, _)| (p, size))
            .collect())
    }
}
