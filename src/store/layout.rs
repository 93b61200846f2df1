//! The data root: where each kind of file lives (DESIGN §2).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::timefmt::day_to_string;

/// Paths inside one data root. For an object-store root, [`Layout::root`] is this machine's
/// local directory for it (DESIGN §8): the catalog index (a cache), the `record` spool
/// (`landing/`), staging files and the writer lock; the data and the log live in the bucket.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    remote: Option<Remote>,
}

/// An object-store root: where it is, and what names this machine's sources in its shared ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The root as the user gave it, `s3://bucket/prefix` (no trailing slash).
    pub url: String,
    /// The bucket.
    pub bucket: String,
    /// The prefix inside the bucket, `""` or without slashes at either end.
    pub prefix: String,
    /// Names this cache's spool in ledger keys (`spool/<id>/landing/…`): many machines' spools
    /// share one ledger, and each machine's `landing/…` paths are alike.
    pub spool_id: String,
    /// This host's name, which qualifies the ledger key of a source outside the cache
    /// (`<host>:/abs/path`): two machines' `/var/log/agent.jsonl` are different files.
    pub host: String,
}

impl Remote {
    /// Parses `s3://bucket[/prefix]`; `None` when `url` is not an object-store URL.
    pub fn parse(url: &str) -> Option<Result<(String, String)>> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err(Error::Usage(format!(
                "`{url}` names no bucket: write the root as s3://BUCKET/PREFIX"
            ))));
        }
        Some(Ok((
            bucket.to_string(),
            prefix.trim_matches('/').to_string(),
        )))
    }

    /// The root's URL with a trailing slash; an object's URL is this followed by its path.
    pub fn base_url(&self) -> String {
        match self.prefix.is_empty() {
            true => format!("s3://{}/", self.bucket),
            false => format!("s3://{}/{}/", self.bucket, self.prefix),
        }
    }
}

impl Layout {
    /// A layout rooted at the local directory `root` (not created yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout {
            root: root.into(),
            remote: None,
        }
    }

    /// The layout of an object-store root whose local directory (cache and spool) is `cache`.
    pub fn remote(cache: impl Into<PathBuf>, remote: Remote) -> Self {
        Layout {
            root: cache.into(),
            remote: Some(remote),
        }
    }

    /// The object-store root, `None` for a local one.
    pub fn remote_root(&self) -> Option<&Remote> {
        self.remote.as_ref()
    }

    /// The root as users name it: its URL or its directory.
    pub fn display(&self) -> String {
        match &self.remote {
            Some(r) => r.url.clone(),
            None => self.root.display().to_string(),
        }
    }

    /// Creates the root directory if needed.
    pub fn create(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| Error::io("create directory", &self.root, e))
    }

    /// The root directory (for an object-store root: this machine's cache and spool for it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `landing/<stream>/`.
    pub fn landing_dir(&self, stream: Stream) -> PathBuf {
        self.root.join("landing").join(stream.table())
    }

    /// `landing/<stream>/<YYYY-MM-DD>.jsonl` for a UTC day number.
    pub fn landing_file(&self, stream: Stream, day: i32) -> PathBuf {
        self.landing_dir(stream)
            .join(format!("{}.jsonl", day_to_string(day)))
    }

    /// The ledger key of a source file: relative to the root for files inside it (landing files,
    /// backfill copies), so a root that is moved or copied keeps its ledger; else absolute.
    /// On an object-store root the ledger is shared by many machines, so keys say whose file it
    /// is: `spool/<spool id>/<relative path>` inside the cache, `<host>:<absolute path>` outside.
    pub fn source_key(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root);
        match (&self.remote, rel) {
            (None, Ok(rel)) => rel.to_string_lossy().into_owned(),
            (None, Err(_)) => path.to_string_lossy().into_owned(),
            (Some(r), Ok(rel)) => format!("spool/{}/{}", r.spool_id, rel.to_string_lossy()),
            (Some(r), Err(_)) => format!("{}:{}", r.host, path.to_string_lossy()),
        }
    }

    /// The file a ledger key names; `None` for another machine's source (object-store roots).
    pub fn source_path(&self, key: &str) -> Option<PathBuf> {
        if let Some(r) = &self.remote {
            if let Some(rel) = key
                .strip_prefix("spool/")
                .and_then(|k| k.strip_prefix(r.spool_id.as_str()))
                .and_then(|k| k.strip_prefix('/'))
            {
                return Some(self.root.join(rel));
            }
            return key
                .strip_prefix(r.host.as_str())
                .and_then(|k| k.strip_prefix(':'))
                .map(PathBuf::from);
        }
        let p = Path::new(key);
        Some(match p.is_absolute() {
            true => p.to_path_buf(),
            false => self.root.join(p),
        })
    }

    /// The key under which a registered source directory is kept: its absolute path, qualified
    /// by the host on an object-store root (each machine registers its own directories).
    pub fn dir_key(&self, dir: &Path) -> String {
        match &self.remote {
            Some(r) => format!("{}:{}", r.host, dir.to_string_lossy()),
            None => dir.to_string_lossy().into_owned(),
        }
    }

    /// This machine's registered directories among `keys` (the catalog's `source_dirs`).
    pub fn own_dirs(&self, keys: Vec<PathBuf>) -> Vec<PathBuf> {
        let Some(r) = &self.remote else { return keys };
        keys.into_iter()
            .filter_map(|k| {
                let k = k.to_string_lossy().into_owned();
                k.strip_prefix(r.host.as_str())
                    .and_then(|p| p.strip_prefix(':'))
                    .map(PathBuf::from)
            })
            .collect()
    }

    /// The SQLite catalog.
    pub fn catalog(&self) -> PathBuf {
        self.root.join("catalog.sqlite")
    }

    /// The lock file that serializes writers (ingest, backfill, compact).
    pub fn writer_lock(&self) -> PathBuf {
        self.root.join(".writer.lock")
    }

    /// Object path of a new data file: `data/<stream>/date=<day>/part-<uuidv7>.parquet`.
    pub fn data_object(stream: Stream, day: i32) -> String {
        format!(
            "data/{}/date={}/part-{}.parquet",
            stream.table(),
            day_to_string(day),
            uuid::Uuid::now_v7()
        )
    }

    /// Object path of a new quarantine file: `quarantine/<stream>/<ingest day>-<uuidv7>.jsonl.zst`.
    pub fn quarantine_object(stream: Stream, day: i32) -> String {
        format!(
            "quarantine/{}/{}-{}.jsonl.zst",
            stream.table(),
            day_to_string(day),
            uuid::Uuid::now_v7()
        )
    }

    /// Object path of a staging file (removed at start-up if a writer died).
    pub fn staging_object(name: &str) -> String {
        format!("staging/{}-{name}", uuid::Uuid::now_v7())
    }
}
