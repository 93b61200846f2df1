//! The one error type of obsq: each variant names the action that failed and carries its context.

use std::path::PathBuf;

/// Every failure obsq reports; `main` prints it as `obsq: <error>: <cause>…` and exits with 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a local file or directory failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What obsq was doing, e.g. "read", "append to", "create directory".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite catalog could not be opened, read or written.
    #[error("catalog {action} failed ({path})")]
    Catalog {
        /// What obsq was doing with the catalog.
        action: &'static str,
        /// The catalog file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Writing a Parquet file failed.
    #[error("cannot write Parquet file {path}")]
    Parquet {
        /// The data file being written.
        path: String,
        /// The Parquet writer's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An object-store operation (put, rename, list, delete) failed.
    #[error("object store: cannot {action} {path}")]
    ObjectStore {
        /// The operation.
        action: &'static str,
        /// The object's path inside the data root.
        path: String,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },
    /// Arrow failed to build or transform a batch.
    #[error("{action}")]
    Arrow {
        /// What obsq was doing.
        action: String,
        /// Arrow's error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A query failed to plan or run.
    #[error("query failed")]
    Query(#[from] datafusion::error::DataFusionError),
    /// A canned report's query failed.
    #[error("report {report} failed{}", if section.is_empty() { String::new() } else { format!(" (section {section})") })]
    Report {
        /// The report's name.
        report: &'static str,
        /// The section's key path (empty for the top level).
        section: String,
        /// DataFusion's error.
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// An event given to `record` is invalid; nothing was written for it.
    #[error("invalid {stream} event: {reason}")]
    InvalidEvent {
        /// The stream's name.
        stream: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// `record --stdin` rejected some lines (the valid ones were written).
    #[error(
        "{rejected} of {total} input lines rejected (the {accepted} valid ones were recorded); first: line {first_line}: {first_reason}"
    )]
    RejectedLines {
        /// Lines rejected.
        rejected: usize,
        /// Lines read.
        total: usize,
        /// Lines recorded.
        accepted: usize,
        /// The first rejected line's number.
        first_line: usize,
        /// Why it was rejected.
        first_reason: String,
    },
    /// The commit log holds something unreadable or inconsistent.
    #[error("commit log {path}: {problem}")]
    Log {
        /// The record or checkpoint.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// Another writer held the data root's lock for longer than the timeout.
    #[error(
        "another writer{} holds the lock of {root}; gave up after {waited_s} s (raise OBSQ_LOCK_TIMEOUT, or wait for it to finish)",
        if holder.is_empty() { String::new() } else { format!(" (pid {holder})") }
    )]
    Locked {
        /// The data root.
        root: PathBuf,
        /// The holder's pid, as it wrote it.
        holder: String,
        /// How long this writer waited.
        waited_s: u64,
    },
    /// Another writer committed a change to the same sources or files first.
    #[error(
        "another writer (pid {pid}) committed a {kind} of the same sources or files as commit {seq} first; nothing of this run was committed — run it again"
    )]
    Conflict {
        /// The other commit.
        seq: u64,
        /// Its kind.
        kind: String,
        /// Its writer.
        pid: u32,
    },
    /// An object store that ignores conditional writes has another live writer.
    #[error(
        "the object store of {root} ignores conditional writes, so it takes one writer at a time, and another writer ({holder}) holds it for up to {until_s} s more; nothing was written — run again when it has finished, or use a store that honours If-None-Match (AWS S3, MinIO, R2)"
    )]
    SingleWriter {
        /// The data root.
        root: String,
        /// Who holds it.
        holder: String,
        /// Seconds left on its lease.
        until_s: u64,
    },
    /// A Ballista cluster process failed (`obsq cluster …`).
    #[error("cluster: cannot {action}: {message}")]
    Cluster {
        /// What obsq was doing.
        action: &'static str,
        /// Ballista's error.
        message: String,
    },
    /// A live data file is missing or damaged.
    #[error(
        "data file {path} is damaged: {problem}; run `obsq repair` to restore its rows from the sources"
    )]
    Damaged {
        /// The object path.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A rules file (`obsq.toml`, `--rules`) is unusable: where, and what is wrong.
    #[error("{file}:{line}: {message}")]
    Rules {
        /// The file.
        file: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong (names the rule and the key).
        message: String,
    },
    /// A command-line value or configuration setting is unusable.
    #[error("{0}")]
    Usage(String),
}

/// obsq's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::Io`] for `action` on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::Arrow`] with a description of the action.
    pub fn arrow(action: impl Into<String>, source: arrow::error::ArrowError) -> Self {
        Error::Arrow {
            action: action.into(),
            source,
        }
    }

    /// The error and its causes as one line, each cause once: a cause whose text the line
    /// already holds (DataFusion repeats its inner errors in its own message) is left out.
    pub fn chain_text(&self) -> String {
        let mut msg = self.to_string();
        if matches!(self, Error::Damaged { .. }) {
            return msg;
        }
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let text = c.to_string();
            let text = text.trim();
            if !text.is_empty() && !msg.contains(text) {
                msg.push_str(": ");
                msg.push_str(text);
            }
            cause = c.source();
        }
        msg
    }

    /// True when the error is a closed output pipe (`obsq … | head`), which is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return true;
            }
            cur = e.source();
        }
        false
    }
}
