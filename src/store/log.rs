//! The commit log (DESIGN §3): `log/<seq>.json`, one immutable record per commit, created only if
//! absent — that creation is the commit point — and `log/<seq>.checkpoint.json`, the whole state
//! at `<seq>`, so that rebuilding the catalog index replays only the records after it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use super::fault;
use super::objects::{Created, Objects};

/// The log's folder inside the data root.
pub const LOG_DIR: &str = "log";

/// A checkpoint is written after every this many commits.
pub const CHECKPOINT_EVERY: u64 = 50;

/// A data or quarantine file a record adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedFile {
    /// Object path inside the data root.
    pub path: String,
    /// `data` or `quarantine`.
    pub kind: String,
    /// Stream table name.
    pub stream: String,
    /// UTC day `YYYY-MM-DD` of its rows (data files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Rows (data) or lines (quarantine).
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Smallest `ts`, epoch ms (data files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ts: Option<i64>,
    /// Largest `ts`, epoch ms (data files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ts: Option<i64>,
}

/// How far a source was consumed by a commit: the byte range `[from, to)` and its lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerChange {
    /// Absolute path of the source file.
    pub path: String,
    /// Stream table name.
    pub stream: String,
    /// Hash (hex) of the first `fp_len` bytes.
    pub fingerprint: String,
    /// Bytes the fingerprint covers.
    pub fp_len: u64,
    /// First byte consumed by this commit.
    pub from: u64,
    /// Offset after this commit (always a line boundary).
    pub to: u64,
    /// Lines consumed before `from`.
    pub lines_from: u64,
    /// Lines consumed up to `to`.
    pub lines_to: u64,
}

/// Quarantined lines of one source in one quarantine file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineSummary {
    /// The quarantine file.
    pub file: String,
    /// Stream table name.
    pub stream: String,
    /// The source the lines came from.
    pub source: String,
    /// How many lines.
    pub lines: u64,
    /// The first one's line number.
    pub first_line: u64,
    /// The first one's reason.
    pub first_reason: String,
}

/// A field that did not fit the schema: unknown, or of a type the column cannot hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// Stream table name.
    pub stream: String,
    /// Field name.
    pub field: String,
    /// `unknown_field` or `type_mismatch`.
    pub kind: String,
    /// JSON type seen.
    pub seen_type: String,
    /// First source it was seen in (in this commit).
    pub source: String,
    /// Its line there.
    pub line: u64,
    /// Occurrences in this commit.
    pub count: u64,
}

/// An input of `backfill`, identified by its content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backfilled {
    /// xxh3-128 of the decompressed content.
    pub content_id: String,
    /// The input's path.
    pub path: String,
    /// Decompressed bytes.
    pub bytes: u64,
}

/// One commit: everything it makes visible at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the log (1, 2, …).
    pub seq: u64,
    /// Id chosen before the commit's files were written (in their Parquet metadata).
    pub commit: String,
    /// `ingest`, `backfill`, `compact`, `repair`, `source`, `upgrade`.
    pub kind: String,
    /// When it was made, epoch ms.
    pub at_ms: i64,
    /// Process that made it.
    #[serde(default)]
    pub pid: u32,
    /// Files added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<AddedFile>,
    /// Files retired (object paths).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retire: Vec<String>,
    /// Source ledger changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<LedgerChange>,
    /// Quarantined lines per file and source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantine: Vec<QuarantineSummary>,
    /// Fields that did not fit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
    /// Backfill inputs completed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backfilled: Vec<Backfilled>,
    /// Source directories registered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs_add: Vec<String>,
    /// Source directories unregistered (their ledger entries are dropped too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs_remove: Vec<String>,
    /// Rows that `repair` could not restore, per retired file (path, rows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<(String, u64)>,
}

impl Record {
    /// A record of `kind` for the commit id `commit` (the seq is set when it is committed).
    pub fn new(kind: &str, commit: &str) -> Self {
        Record {
            kind: kind.to_string(),
            commit: commit.to_string(),
            pid: std::process::id(),
            ..Record::default()
        }
    }

    /// True when the record changes nothing.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty()
            && self.retire.is_empty()
            && self.sources.is_empty()
            && self.backfilled.is_empty()
            && self.dirs_add.is_empty()
            && self.dirs_remove.is_empty()
    }

    /// True when this record and `other` may not both commit: they consume a byte range of the
    /// same source, retire the same file, or one retires what the other relies on.
    pub fn conflicts_with(&self, other: &Record) -> bool {
        let same_source = self
            .sources
            .iter()
            .any(|a| other.sources.iter().any(|b| a.path == b.path));
        let same_retire = self
            .retire
            .iter()
            .any(|a| other.retire.iter().any(|b| a == b));
        same_source || same_retire
    }
}

/// A file's state in a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointFile {
    /// The file as added.
    #[serde(flatten)]
    pub file: AddedFile,
    /// The seq of the record that added it.
    pub seq: u64,
    /// `live` or `retired`.
    pub state: String,
    /// When it was retired, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at_ms: Option<i64>,
}

/// One line of `system.commits`, kept in checkpoints so the history survives a rebuild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitSummary {
    /// Seq.
    pub seq: u64,
    /// Commit id.
    pub commit: String,
    /// Kind.
    pub kind: String,
    /// When, ISO-8601.
    pub at: String,
    /// Writer pid.
    pub pid: u32,
    /// Counts: files added, files retired, rows added, bytes added, sources, quarantined, lost.
    pub counts: [u64; 7],
}

/// The whole state at one seq.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last record it includes.
    pub seq: u64,
    /// That record's commit id.
    pub commit: String,
    /// Files not yet deleted.
    pub files: Vec<CheckpointFile>,
    /// The ledger: one change per source, `from` = 0.
    pub sources: Vec<LedgerChange>,
    /// Quarantine summaries of the files above.
    pub quarantine: Vec<QuarantineSummary>,
    /// Schema drift, counts summed.
    pub drift: Vec<Drift>,
    /// Backfill inputs done.
    pub backfilled: Vec<Backfilled>,
    /// Registered source directories.
    pub dirs: Vec<String>,
    /// The commits up to `seq`.
    #[serde(default)]
    pub commits: Vec<CommitSummary>,
}

/// Object path of record `seq`.
pub fn record_path(seq: u64) -> String {
    format!("{LOG_DIR}/{seq:020}.json")
}

/// Object path of the checkpoint at `seq`.
pub fn checkpoint_path(seq: u64) -> String {
    format!("{LOG_DIR}/{seq:020}.checkpoint.json")
}

/// Reads record `seq`; `None` when there is none.
pub fn read_record(objects: &Objects, seq: u64) -> Result<Option<Record>> {
    let path = record_path(seq);
    let Some(bytes) = objects.get_opt(&path)? else {
        return Ok(None);
    };
    let rec: Record = serde_json::from_slice(&bytes).map_err(|e| Error::Log {
        path: path.clone(),
        problem: format!("unreadable record: {e}"),
    })?;
    if rec.seq != seq {
        return Err(Error::Log {
            path,
            problem: format!("holds seq {} instead of {seq}", rec.seq),
        });
    }
    Ok(Some(rec))
}

/// Creates record `rec.seq` if no record has that seq: `Ok(false)` when one exists already (which
/// may be this very record: a create whose answer was lost; see [`super::commit::Writer::commit`]).
pub fn create_record(objects: &Objects, rec: &Record) -> Result<bool> {
    let body = serde_json::to_vec_pretty(rec).map_err(|e| Error::Log {
        path: record_path(rec.seq),
        problem: format!("cannot encode: {e}"),
    })?;
    let path = record_path(rec.seq);
    if objects.create(&path, body.into())? == Created::No {
        return Ok(false);
    }
    match fault::reply("record-created") {
        fault::Reply::Created => Ok(true),
        fault::Reply::Taken => Ok(false),
        fault::Reply::Failed => Err(Error::io(
            "create",
            objects.local_path(&path),
            std::io::Error::from(std::io::ErrorKind::TimedOut),
        )),
    }
}

/// Writes the checkpoint at `cp.seq` (an existing one is the same state and is kept).
pub fn write_checkpoint(objects: &Objects, cp: &Checkpoint) -> Result<()> {
    let body = serde_json::to_vec(cp).map_err(|e| Error::Log {
        path: checkpoint_path(cp.seq),
        problem: format!("cannot encode: {e}"),
    })?;
    objects.create(&checkpoint_path(cp.seq), body.into())?;
    Ok(())
}

/// Seqs of the checkpoints in the log, newest first.
pub fn checkpoints(objects: &Objects) -> Result<Vec<u64>> {
    let mut seqs: Vec<u64> = objects
        .list(LOG_DIR)?
        .into_iter()
        .filter_map(|(p, _)| {
            let name = p.rsplit('/').next()?;
            name.strip_suffix(".checkpoint.json")?.parse().ok()
        })
        .collect();
    seqs.sort_unstable_by(|a, b| b.cmp(a));
    Ok(seqs)
}

/// Reads the checkpoint at `seq`.
pub fn read_checkpoint(objects: &Objects, seq: u64) -> Result<Checkpoint> {
    let path = checkpoint_path(seq);
    let bytes = objects.get(&path)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Log {
        path,
        problem: format!("unreadable checkpoint: {e}"),
    })
}

/// The highest seq in the log (0 for an empty log), found by listing.
pub fn last_seq(objects: &Objects) -> Result<u64> {
    Ok(objects
        .list(LOG_DIR)?
        .into_iter()
        .filter_map(|(p, _)| {
            let name = p.rsplit('/').next()?;
            name.strip_suffix(".json")?.parse::<u64>().ok()
        })
        .max()
        .unwrap_or(0))
}
