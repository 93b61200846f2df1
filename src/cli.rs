//! Command-line syntax (clap derive structs only: inert data, no I/O).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::render::Format;

/// obsq: a columnar analytics engine for the monitoring data of AI-agent systems.
#[derive(Debug, Parser)]
#[command(name = "obsq", version, about, long_about = None)]
pub struct Cli {
    /// Data root: a directory or `s3://bucket/prefix` (default: $OBSQ_HOME, else the nearest
    /// `.obsq` in this directory or a parent, as git finds `.git`, else ./.obsq).
    #[arg(long, global = true, env = "OBSQ_HOME", value_name = "DIR|URL")]
    pub root: Option<PathBuf>,
    /// Run queries (reports, `sql`, the REPL) on this Ballista cluster, `df://host:port`
    /// (started with `obsq cluster scheduler` and `obsq cluster executor`).
    #[arg(long, global = true, env = "OBSQ_CLUSTER", value_name = "URL")]
    pub cluster: Option<String>,
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
        after_help = "Example:\n  obsq ingest --source ~/project/.claude/context\n\nExit codes: 0 all lines stored, 3 some lines quarantined, 4 partial (a source was missing; the others were ingested), 2 error."
    )]
    Ingest(IngestArgs),
    /// Import history: files, directories and globs of .jsonl, .jsonl.gz, .jsonl.zst; resumable, idempotent.
    #[command(
        after_help = "Example:\n  obsq backfill ~/archive/2026/ 'old/**/*.jsonl.gz'\n  obsq backfill dump.jsonl.zst --stream cuj --memory-mb 128\n\nExit codes: 0 all lines stored, 3 some lines quarantined, 4 partial (an input vanished during the run), 2 error."
    )]
    Backfill(BackfillArgs),
    /// Merge small Parquet files per stream and day (every row kept), swap atomically.
    #[command(
        after_help = "Example:\n  obsq compact\n  obsq compact --stream cuj --date 2026-11-28 --target-mb 64"
    )]
    Compact(CompactArgs),
    /// Storage health: damaged files, small-file debt, quarantined lines, ingest lag, schema drift — with actions.
    #[command(
        after_help = "Example:\n  obsq doctor\n  obsq doctor --deep --format json\n\nExit codes: 0 no damage, 1 a live file is missing or damaged (run `obsq repair`), 2 error."
    )]
    Doctor(DoctorArgs),
    /// Retire missing or damaged files in one commit and restore their rows from the sources.
    #[command(
        after_help = "Example:\n  obsq repair\n\nExit codes: 0 nothing lost (or nothing to repair), 1 some rows could not be restored, 2 error."
    )]
    Repair(RepairArgs),
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
    /// Skill invocations: list them or summarize them.
    #[command(
        after_help = "Example:\n  obsq skills stats --window 7d\n  obsq skills query --skill scaffolder --result failure --limit 20"
    )]
    Skills {
        /// The report.
        #[command(subcommand)]
        report: SkillsCmd,
    },
    /// CUJ (workflow) runs: success rates, trends, failures, percentiles.
    #[command(
        after_help = "Example:\n  obsq cuj all --window 7d\n  obsq cuj failures CUJ-001 --window 30d"
    )]
    Cuj {
        /// The report.
        #[command(subcommand)]
        report: CujCmd,
    },
    /// Progress events of running workflows.
    #[command(
        after_help = "Example:\n  obsq progress runs\n  obsq progress history run-001 --limit 5"
    )]
    Progress {
        /// The report.
        #[command(subcommand)]
        report: ProgressCmd,
    },
    /// LLM-provider health: per provider (or model), overall, ranked.
    #[command(
        after_help = "Example:\n  obsq provider status --window 24h\n  obsq provider compare --by-model"
    )]
    Provider {
        /// The report.
        #[command(subcommand)]
        report: ProviderCmd,
    },
    /// The dashboard: CUJ and skill metrics over several windows, highlights, provider and storage health.
    #[command(
        after_help = "Example:\n  obsq dashboard\n  obsq dashboard --format json --now 2026-11-28T09:51:50Z\n  obsq dashboard --format html --out dashboard.html"
    )]
    Dashboard(DashboardArgs),
    /// Interactive, read-only SQL shell (completion, history, backslash commands); also runs piped SQL.
    #[command(
        after_help = "Example:\n  obsq repl\n  echo \"SELECT * FROM cuj_rate('7d');\" | obsq repl --format json"
    )]
    Repl(ReplArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  obsq completions bash > ~/.local/share/bash-completion/completions/obsq"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Generate a sample, ingest it, and show what is there.
    #[command(after_help = "Example:\n  obsq demo --rows 200000")]
    Demo(DemoArgs),
    /// Alert and SLO rules: evaluate them (state kept between runs, notifications on transitions).
    #[command(
        after_help = "Example:\n  obsq alerts check\n  obsq alerts check --rules ops/obsq.toml --now 2026-11-28T10:00:00Z\n  obsq alerts history\n\nExit codes (check): 0 nothing fires, 1 something fires, 2 error."
    )]
    Alerts {
        /// What to do.
        #[command(subcommand)]
        action: AlertsCmd,
    },
    /// This window against the one before it: counts, success rates with 95 % intervals, significance, latency.
    #[command(
        after_help = "Example:\n  obsq compare --window 7d\n  obsq compare --window 24h --stream provider --by model"
    )]
    Compare(CompareArgs),
    /// Prometheus text exposition of the store (counters, latency histograms, gauges).
    #[command(
        after_help = "Example:\n  obsq metrics\n  obsq metrics --out /var/lib/node_exporter/textfile/obsq.prom"
    )]
    Metrics(MetricsArgs),
    /// Run a process of a Ballista cluster that `--cluster` queries run on.
    #[command(
        after_help = "Example (three terminals, on loopback):\n  obsq cluster scheduler --bind 127.0.0.1:50050\n  obsq cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50051\n  obsq --cluster df://127.0.0.1:50050 cuj all"
    )]
    Cluster {
        /// Which process.
        #[command(subcommand)]
        process: ClusterCmd,
    },
}

/// `obsq alerts …`.
#[derive(Debug, Subcommand)]
pub enum AlertsCmd {
    /// Evaluate every rule; one row per rule and group; notify transitions.
    #[command(
        after_help = "Example:\n  obsq alerts check\n  obsq alerts check --rules obsq.toml --now 2026-11-28T10:00:00Z --format json\n\nExit codes: 0 nothing fires, 1 something fires, 2 error."
    )]
    Check(AlertsCheckArgs),
    /// The transitions so far (also `system.alerts`).
    #[command(after_help = "Example:\n  obsq alerts history --rule cuj-success --format csv")]
    History {
        /// Only this rule.
        #[arg(long)]
        rule: Option<String>,
        /// Output format (default: table on a terminal, else JSON).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The rules and notification targets in force.
    #[command(
        after_help = "Example:\n  obsq alerts list\n  obsq alerts list --rules ops/obsq.toml"
    )]
    List {
        /// Rules file (default: <root>/obsq.toml, else the built-in rules).
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Output format (default: table on a terminal, else JSON).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

/// `obsq alerts check`.
#[derive(Debug, Args)]
pub struct AlertsCheckArgs {
    /// The clock, RFC 3339 or epoch ms (default: now); checks must move forward in time.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Rules file (default: <root>/obsq.toml, else the built-in rules).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Output format (default: table on a terminal, else JSON).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Evaluate and show, but keep no state and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Leave out events not yet ingested.
    #[arg(long)]
    pub no_fresh: bool,
}

/// `obsq compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The window: [now − w, now] against [now − 2w, now − w).
    #[arg(long, default_value = "7d", value_name = "WINDOW")]
    pub window: String,
    /// cuj, skill or provider.
    #[arg(long, default_value = "cuj")]
    pub stream: String,
    /// Group by (cuj: cuj_id; skill: skill, agent, cuj_id; provider: provider, model; or all).
    /// Default: cuj_id, skill or provider.
    #[arg(long)]
    pub by: Option<String>,
    /// `significant` needs at least this many judged events in each window.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub min_events: u32,
    /// The clock, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Output format (default: table on a terminal, else JSON).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Leave out events not yet ingested.
    #[arg(long)]
    pub no_fresh: bool,
}

/// `obsq cluster …`.
#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// The scheduler: plans queries and hands their tasks to executors (runs until stopped).
    #[command(after_help = "Example:\n  obsq cluster scheduler --bind 127.0.0.1:50050")]
    Scheduler {
        /// Address of its gRPC service, which clients (`--cluster df://…`) and executors use.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        bind: String,
    },
    /// An executor: runs tasks and serves their results (runs until stopped).
    #[command(
        after_help = "Example:\n  AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… obsq cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50051\n\nThe executor opens S3 roots with its own AWS_* variables; a local root is read by path."
    )]
    Executor {
        /// The scheduler's address.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        scheduler: String,
        /// Address of its Arrow Flight service; its gRPC service takes the next port.
        #[arg(long, default_value = "127.0.0.1:50051", value_name = "HOST:PORT")]
        bind: String,
        /// Directory for shuffle files (default: a new temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Tasks it runs at once (default: the machine's cores).
        #[arg(long, value_name = "N")]
        slots: Option<usize>,
    },
}

/// `obsq metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The window of the windowed gauges (success ratios, events).
    #[arg(long, default_value = "5m", value_name = "WINDOW")]
    pub window: String,
    /// Write to this file atomically (node_exporter's textfile collector) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The clock, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Leave out events not yet ingested.
    #[arg(long)]
    pub no_fresh: bool,
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
    #[command(
        after_help = "Example:\n  obsq record skill --skill code-review --agent dev --result success --duration-ms 80 --cache-hit"
    )]
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
    #[command(
        after_help = "Example:\n  obsq record cuj --cuj-id CUJ-001 --success false --duration-ms 5400 --error \"Timeout after 5000ms\""
    )]
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
    #[command(
        after_help = "Example:\n  obsq record progress --run-id run-7 --step 2 --status running --percentage 50 --message Testing"
    )]
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
    #[command(
        after_help = "Example:\n  obsq record provider --provider anthropic --model claude-sonnet-4 --success true --latency-ms 1200"
    )]
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
    /// Decoded data held in memory before each commit, in MiB (at most: a smaller input commits
    /// every eighth of it, at least 32 MiB).
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub memory_mb: usize,
    /// Afterwards, compact partitions holding more than N small files (0: never).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub compact_after: usize,
    /// Output format of the summary (default: table on a terminal, else JSON).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// `obsq backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Files, directories (searched recursively) and glob patterns.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// The stream of every input (default: from the file name, else from the first record).
    #[arg(long)]
    pub stream: Option<String>,
    /// Decoded data held in memory before each commit, in MiB (at most: a smaller input commits
    /// every eighth of it, at least 32 MiB; peak RSS stays near twice this plus 50-250 MiB, the
    /// most with lines near the 1 MiB limit).
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub memory_mb: usize,
    /// Afterwards, compact partitions holding more than N small files (0: never).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub compact_after: usize,
    /// Output format of the summary (default: table on a terminal, else JSON).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// `obsq compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Only this stream (skill, cuj, progress, provider, or a table name).
    #[arg(long)]
    pub stream: Option<String>,
    /// Only this UTC day, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Merged files grow up to about this size, in MiB.
    #[arg(long, default_value_t = 128, value_name = "MIB")]
    pub target_mb: u64,
    /// Merge a partition only when it has at least this many small files.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub min_files: usize,
    /// Keep replaced files this long, for queries that started before the swap (e.g. 10m, 0s).
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub grace: String,
    /// Delete files that no commit names (left by a writer that died) once this old.
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub orphan_grace: String,
}

/// `obsq repair`.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// Output format of the summary (default: table on a terminal, else JSON).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// `obsq source …`.
#[derive(Debug, Subcommand)]
pub enum SourceCmd {
    /// Register a directory whose JSONL files `ingest` reads.
    #[command(after_help = "Example:\n  obsq source add ~/project/.claude/context")]
    Add {
        /// The directory (e.g. a project's `.claude/context`).
        dir: PathBuf,
        /// Output format of the file list (default: table on a terminal, else JSON).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Forget a registered directory (its ingested rows stay; its files are no longer read).
    #[command(after_help = "Example:\n  obsq source remove ~/old-project/.claude/context")]
    Remove {
        /// The directory, as registered (it need not exist any more).
        dir: PathBuf,
    },
    /// List registered directories and the files found in them, with their ledger offsets.
    #[command(after_help = "Example:\n  obsq source list --format csv")]
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
    /// The lines' shape: tools (the original tools'), objects, unique, long-text, sparse,
    /// named-steps, foreign, merged, python (see the README); the flags below adjust it.
    #[arg(long, default_value = "tools", value_name = "NAME")]
    pub shape: String,
    /// params and metadata: tools (params text, metadata an object), text, object.
    #[arg(long, value_enum, value_name = "FORM")]
    pub json: Option<crate::generate::JsonForm>,
    /// Distinct params and metadata values: low, high (paths, queries, ids; ~40 % empty), unique.
    #[arg(long, value_enum)]
    pub cardinality: Option<crate::generate::Cardinality>,
    /// Share of failures with a multi-KB stack trace or a non-ASCII, \u-escaped message (0–1).
    #[arg(long, value_name = "RATE")]
    pub long_text: Option<f64>,
    /// Share of lines in which each optional field is left out (0–1).
    #[arg(long, value_name = "RATE")]
    pub absent: Option<f64>,
    /// Progress steps by name (`step`, `step_index`, `total_steps`, `percent`).
    #[arg(long)]
    pub named_steps: bool,
    /// Skill lines without `type` and `metadata`; three-decimal durations.
    #[arg(long)]
    pub bare: bool,
    /// Each stream in one file, the days interleaved line by line.
    #[arg(long)]
    pub merged: bool,
    /// Lines as Python's json.dumps writes them: `, ` and `: ` separators, non-ASCII as \u escapes.
    #[arg(long)]
    pub python: bool,
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

/// Options every report takes.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The clock, RFC 3339 (default: now); windows end here.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Time window ending at --now: 90m, 24h, 7d, 30d, plain milliseconds, or all.
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
    /// Output format (default: table on a terminal, else JSON).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Leave out events not yet ingested.
    #[arg(long)]
    pub no_fresh: bool,
}

/// Filters of the skill reports.
#[derive(Debug, Clone, Args)]
pub struct SkillFilterArgs {
    /// Only this skill.
    #[arg(long)]
    pub skill: Option<String>,
    /// Only this agent.
    #[arg(long)]
    pub agent: Option<String>,
    /// Only this workflow run.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Only this CUJ.
    #[arg(long)]
    pub cuj_id: Option<String>,
    /// Only this result (success, failure, …).
    #[arg(long)]
    pub result: Option<String>,
    /// Only events at or after this time (RFC 3339 or epoch ms).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events at or before this time (RFC 3339 or epoch ms).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

/// `obsq skills …`.
#[derive(Debug, Subcommand)]
pub enum SkillsCmd {
    /// Invocations matching the filters, newest first (window default: all).
    #[command(
        after_help = "Example:\n  obsq skills query --agent developer --result failure --limit 10"
    )]
    Query {
        /// Filters.
        #[command(flatten)]
        filter: SkillFilterArgs,
        /// At most this many.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Oldest first (the original tool's order).
        #[arg(long)]
        oldest_first: bool,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Totals and per-skill, per-agent, per-CUJ statistics (window default: all).
    #[command(after_help = "Example:\n  obsq skills stats --window 24h --format json")]
    Stats {
        /// Filters.
        #[command(flatten)]
        filter: SkillFilterArgs,
        /// Approximate percentiles (t-digest) instead of exact ones.
        #[arg(long)]
        approx: bool,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
}

/// `obsq cuj …` (window default: 24h).
#[derive(Debug, Subcommand)]
pub enum CujCmd {
    /// Success rate of one CUJ, or of all together.
    #[command(after_help = "Example:\n  obsq cuj rate CUJ-001 --window 7d")]
    Rate {
        /// CUJ id (default: all CUJs together).
        cuj: Option<String>,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Success rate of every CUJ.
    #[command(after_help = "Example:\n  obsq cuj all --window 30d --format csv")]
    All {
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Success rate in consecutive buckets ending at --now, oldest first.
    #[command(after_help = "Example:\n  obsq cuj trending CUJ-001 --buckets 7 --bucket 1d")]
    Trending {
        /// CUJ id (default: all CUJs together).
        cuj: Option<String>,
        /// Number of buckets.
        #[arg(long, default_value_t = 24)]
        buckets: u32,
        /// Bucket size: 90m, 1h, 6h, 1d, or plain milliseconds.
        #[arg(long, default_value = "1h", value_name = "SIZE")]
        bucket: String,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Failures grouped by exact message and by error pattern, and the latest failures.
    #[command(after_help = "Example:\n  obsq cuj failures CUJ-001 --window 7d --top 5")]
    Failures {
        /// CUJ id (default: all CUJs).
        cuj: Option<String>,
        /// Groups shown.
        #[arg(long, default_value_t = 10)]
        top: u32,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Duration percentiles (p50–p99, min, max, count).
    #[command(after_help = "Example:\n  obsq cuj percentiles CUJ-001 --window 30d")]
    Percentiles {
        /// CUJ id (default: all CUJs together).
        cuj: Option<String>,
        /// Approximate percentiles (t-digest) instead of exact ones.
        #[arg(long)]
        approx: bool,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
}

/// `obsq progress …` (window default: all).
#[derive(Debug, Subcommand)]
pub enum ProgressCmd {
    /// The latest events of one run (or all), oldest first.
    #[command(after_help = "Example:\n  obsq progress history run-001 --limit 10")]
    History {
        /// Run id (default: all runs).
        run: Option<String>,
        /// Only the latest N events.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
    /// The latest event of a run.
    #[command(after_help = "Example:\n  obsq progress current run-001")]
    Current {
        /// Run id.
        run: String,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Follow progress events as other processes write them.
    #[command(after_help = "Example:\n  obsq progress watch run-001 --until-done")]
    Watch {
        /// Run id (default: every run).
        run: Option<String>,
        /// Exit after the run's completing event (completed at 100 %, or failed).
        #[arg(long)]
        until_done: bool,
    },
    /// One row per run: last status, percentage, first/last event, stalled or not.
    #[command(after_help = "Example:\n  obsq progress runs --stall 5m")]
    Runs {
        /// A run is stalled after this long without events (unless finished).
        #[arg(long, default_value = "10m", value_name = "DURATION")]
        stall: String,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
}

/// `obsq provider …` (window default: 24h).
#[derive(Debug, Subcommand)]
pub enum ProviderCmd {
    /// Health of one provider, or of each.
    #[command(
        after_help = "Example:\n  obsq provider status anthropic --window 7d\n  obsq provider status --by-model"
    )]
    Status {
        /// Provider name (default: every provider).
        provider: Option<String>,
        /// One entry per provider/model instead of per provider.
        #[arg(long)]
        by_model: bool,
        /// Approximate percentiles (t-digest) instead of exact ones.
        #[arg(long)]
        approx: bool,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Overall status over all providers, with each provider's health.
    #[command(after_help = "Example:\n  obsq provider overall --window 1h")]
    Overall {
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Providers ranked by success rate and latency.
    #[command(after_help = "Example:\n  obsq provider compare --window 7d --by-model")]
    Compare {
        /// One entry per provider/model instead of per provider.
        #[arg(long)]
        by_model: bool,
        /// Report options.
        #[command(flatten)]
        report: ReportArgs,
    },
}

/// Output formats of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DashboardFormat {
    /// The text layout of the original tool.
    Text,
    /// JSON keyed like the original `metrics-dashboard.json`.
    Json,
    /// One self-contained HTML page with inline SVG charts.
    Html,
}

/// `obsq dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The clock, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: DashboardFormat,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Leave out events not yet ingested.
    #[arg(long)]
    pub no_fresh: bool,
}

/// `obsq repl`.
#[derive(Debug, Args)]
pub struct ReplArgs {
    /// The clock of the report table functions, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Output format (default: table on a terminal, else CSV).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Leave out events not yet ingested.
    #[arg(long)]
    pub no_fresh: bool,
}

/// `obsq doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The clock, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// A partition with this many files under 16 MiB is worth compacting.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub min_small: u32,
    /// Also read every data file's footer (row count, stream, day), not just its size.
    #[arg(long)]
    pub deep: bool,
    /// Output format (default: table on a terminal, else JSON).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}
