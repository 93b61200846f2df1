//! Command-line syntax (clap derive structs only: inert data, no I/O).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::render::Format;

/// obsq: a columnar analytics engine for the monitoring data of AI-agent systems.
#[derive(Debug, Parser)]
#[command(name = "obsq", version, about, long_about = None)]
pub struct Cli {
    /// Data root (default: $OBSQ_HOME, else ./.obsq).
    #[arg(long, global = true, env = "OBSQ_HOME", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append one validated, sanitized event (or NDJSON from stdin) to the landing files.
    #[command(
        after_help = "Example:\n  obsq record cuj --cuj-id CUJ-001 --success true --duration-ms 1234\n  cat events.jsonl | obsq record skill --stdin"
    )]
    Record {
        /// The stream and its fields.
        #[command(subcommand)]
        event: RecordCmd,
    },
    /// Turn new JSONL lines (landing files and registered sources) into Parquet, exactly once.
    #[command(
        after_help = "Example:\n  obsq ingest --source ~/project/.claude/context\n\nExit codes: 0 all lines stored, 3 some lines quarantined, 2 error."
    )]
    Ingest(IngestArgs),
    /// Manage external source directories (the original tools' `.claude/context` folders).
    #[command(
        after_help = "Example:\n  obsq source add ~/project/.claude/context\n  obsq source list"
    )]
    Source {
        /// What to do with sources.
        #[command(subcommand)]
        action: SourceCmd,
    },
    /// Generate deterministic, realistic JSONL in the original tools' layout.
    #[command(
        after_help = "Example:\n  obsq generate --rows 1000000 --seed 42 --out /tmp/ctx --days 30"
    )]
    Generate(GenerateArgs),
    /// Run one SQL query over the four stream tables.
    #[command(
        after_help = "Example:\n  obsq sql \"SELECT cuj_id, avg(CAST(success AS INT)) FROM cuj_runs GROUP BY 1\"\n  obsq sql -f report.sql --format csv"
    )]
    Sql(SqlArgs),
    /// Generate a sample, ingest it, and show what is there.
    #[command(after_help = "Example:\n  obsq demo --rows 200000")]
    Demo(DemoArgs),
}

/// Fields shared by every stream.
#[derive(Debug, Args)]
pub struct CommonEventArgs {
    /// Metadata object as JSON text.
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
    /// Event time, RFC 3339 or epoch milliseconds (default: now).
    #[arg(long, value_name = "TIME")]
    pub timestamp: Option<String>,
    /// Read NDJSON events from standard input instead of flags.
    #[arg(long)]
    pub stdin: bool,
}

/// `obsq record <stream>`.
#[derive(Debug, Subcommand)]
pub enum RecordCmd {
    /// A skill invocation.
    Skill {
        /// Skill name (required).
        #[arg(long)]
        skill: Option<String>,
        /// Agent name.
        #[arg(long)]
        agent: Option<String>,
        /// Result: success, failure, or other text.
        #[arg(long)]
        result: Option<String>,
        /// Duration in milliseconds.
        #[arg(long, value_name = "MS")]
        duration_ms: Option<String>,
        /// Whether the result came from cache (true/false; bare flag means true).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
        cache_hit: Option<String>,
        /// Workflow run id.
        #[arg(long)]
        run_id: Option<String>,
        /// CUJ id.
        #[arg(long)]
        cuj_id: Option<String>,
        /// Parameters as JSON text.
        #[arg(long, value_name = "JSON")]
        params: Option<String>,
        /// Error message.
        #[arg(long)]
        error: Option<String>,
        /// Shared fields.
        #[command(flatten)]
        common: CommonEventArgs,
    },
    /// A CUJ (workflow) run.
    Cuj {
        /// CUJ id (required).
        #[arg(long)]
        cuj_id: Option<String>,
        /// true or false (required).
        #[arg(long, value_name = "BOOL")]
        success: Option<String>,
        /// Duration in milliseconds.
        #[arg(long, value_name = "MS")]
        duration_ms: Option<String>,
        /// Error message.
        #[arg(long)]
        error: Option<String>,
        /// Shared fields.
        #[command(flatten)]
        common: CommonEventArgs,
    },
    /// A progress event of a running workflow.
    Progress {
        /// Workflow run id.
        #[arg(long)]
        run_id: Option<String>,
        /// Step number.
        #[arg(long)]
        step: Option<String>,
        /// Status: pending, running, completed, failed, skipped.
        #[arg(long)]
        status: Option<String>,
        /// Percentage 0–100.
        #[arg(long)]
        percentage: Option<String>,
        /// Message.
        #[arg(long)]
        message: Option<String>,
        /// Shared fields.
        #[command(flatten)]
        common: CommonEventArgs,
    },
    /// An LLM-provider call.
    Provider {
        /// Provider name (required; stored in lower case).
        #[arg(long)]
        provider: Option<String>,
        /// Model name.
        #[arg(long)]
        model: Option<String>,
        /// true or false (required).
        #[arg(long, value_name = "BOOL")]
        success: Option<String>,
        /// Latency in milliseconds.
        #[arg(long, value_name = "MS")]
        latency_ms: Option<String>,
        /// Error message.
        #[arg(long)]
        error: Option<String>,
        /// Shared fields.
        #[command(flatten)]
        common: CommonEventArgs,
    },
}

/// `obsq ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Also read this source directory (and register it for later runs). Repeatable.
    #[arg(long = "source", value_name = "DIR")]
    pub sources: Vec<PathBuf>,
    /// Decoded data held in memory before each commit, in MiB.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub memory_mb: usize,
}

/// `obsq source …`.
#[derive(Debug, Subcommand)]
pub enum SourceCmd {
    /// Register a directory whose JSONL files `ingest` reads.
    Add {
        /// The directory (e.g. a project's `.claude/context`).
        dir: PathBuf,
    },
    /// List registered directories and the files found in them, with their ledger offsets.
    List {
        /// Output format.
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

/// `obsq generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Total lines over all streams.
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Days covered.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Last day covered, YYYY-MM-DD, whole (default: the span ends now).
    #[arg(long, value_name = "DATE")]
    pub end: Option<String>,
    /// Fraction of malformed lines to mix in (0–1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub dirty: f64,
    /// Streams to generate (default: all).
    #[arg(long, value_delimiter = ',', value_name = "STREAM,…")]
    pub streams: Vec<String>,
}

/// `obsq sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query.
    pub query: Option<String>,
    /// Read the query from a file instead.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "query"
    )]
    pub file: Option<PathBuf>,
    /// Output format (default: table on a terminal, else JSON).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Leave out events not yet ingested.
    #[arg(long)]
    pub no_fresh: bool,
}

/// `obsq demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Events to generate.
    #[arg(long, default_value_t = 200_000)]
    pub rows: u64,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
