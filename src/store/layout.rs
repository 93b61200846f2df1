//! The data root: where each kind of file lives (DESIGN §2).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::timefmt::day_to_string;

/// Paths inside one data root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root` (not created yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// Creates the root directory if needed.
    pub fn create(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| Error::io("create directory", &self.root, e))
    }

    /// The root directory.
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
    pub fn source_key(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => path.to_string_lossy().into_owned(),
        }
    }

    /// The file a ledger key names.
    pub fn source_path(&self, key: &str) -> PathBuf {
        let p = Path::new(key);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
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
