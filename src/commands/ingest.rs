//! `obsq ingest`: run the pipeline, show the summary on stdout like every report (a table on a
//! terminal, JSON when piped, or `--format`); exit 3 if lines were quarantined, 4 if a source
//! was missing (the others were ingested).

use crate::cli::IngestArgs;
use crate::config::Config;
use crate::error::Result;
use crate::render::{Cell, Format, render, rows_to_batch};
use crate::store::ingest::{IngestOptions, IngestProgress, IngestReport, ingest};

/// Exit code when some lines went to quarantine.
pub const EXIT_QUARANTINED: u8 = 3;

/// Exit code when a registered source (or a file) was missing: everything else was ingested.
pub const EXIT_PARTIAL: u8 = 4;

/// The exit code of a finished ingest or backfill: partial before quarantined before success.
pub fn exit_code(report: &IngestReport) -> u8 {
    if !report.missing.is_empty() {
        EXIT_PARTIAL
    } else if report.quarantined() > 0 {
        EXIT_QUARANTINED
    } else {
        0
    }
}

/// Runs `obsq ingest`.
pub fn run(config: &Config, args: &IngestArgs) -> Result<u8> {
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let mut dirs = Vec::new();
    for dir in &args.sources {
        dirs.push(super::source::checked_dir(dir)?);
    }
    let budget = args.memory_mb.max(1) << 20;
    let progress = std::sync::Arc::new(IngestProgress::default());
    let opts = IngestOptions {
        // Registered by the run's own writer (see `IngestOptions::register`).
        dirs,
        register: true,
        progress: Some(progress.clone()),
        compact_after: args.compact_after,
        memory_budget: budget,
        // Small budgets read small blocks, so they commit often (and hold little).
        block_size: (budget / 4).clamp(64 << 10, 16 << 20),
        ..IngestOptions::default()
    };
    let bar = super::progress_bar::follow(&progress, "ingest");
    let report = ingest(&config.layout, &objects, &opts);
    drop(bar);
    let report = report?;
    show_summary(&report, args.format)?;
    if report.compacted_files > 0 {
        crate::notice::push(format!(
            "compacted: {} small files merged (more than {} in a partition)",
            report.compacted_files, args.compact_after
        ));
    }
    Ok(exit_code(&report))
}

/// Prints the ingest summary on stdout: one row per stream (seconds = decode time of its
/// sources) and a total (seconds = wall time), in `format` or the default for stdout.
pub fn show_summary(report: &IngestReport, format: Option<Format>) -> Result<()> {
    let mb = |b: u64| (b as f64 / 1e6 * 100.0).round() / 100.0;
    let rate = |bytes: u64, secs: f64| {
        if secs > 0.0 {
            Cell::Float((mb(bytes) / secs * 10.0).round() / 10.0)
        } else {
            Cell::Null
        }
    };
    let mut rows: Vec<Vec<Cell>> = report
        .streams
        .iter()
        .map(|(s, st)| {
            vec![
                s.table().into(),
                st.sources.into(),
                st.lines.into(),
                st.rows.into(),
                st.quarantined.into(),
                mb(st.bytes_in).into(),
                st.files_out.into(),
                mb(st.bytes_out).into(),
                ((st.seconds * 1000.0).round() / 1000.0).into(),
                rate(st.bytes_in, st.seconds),
            ]
        })
        .collect();
    let total = |f: fn(&crate::store::ingest::StreamStats) -> u64| {
        report.streams.values().map(f).sum::<u64>()
    };
    let secs = (report.seconds * 1000.0).round() / 1000.0;
    rows.push(vec![
        "total".into(),
        total(|s| s.sources).into(),
        total(|s| s.lines).into(),
        report.rows().into(),
        report.quarantined().into(),
        mb(report.bytes_in()).into(),
        total(|s| s.files_out).into(),
        mb(total(|s| s.bytes_out)).into(),
        secs.into(),
        rate(report.bytes_in(), report.seconds),
    ]);
    let batch = rows_to_batch(
        &[
            "stream",
            "sources",
            "lines",
            "rows",
            "quarantined",
            "mb_in",
            "files_out",
            "mb_out",
            "seconds",
            "mb_per_s",
        ],
        &rows,
    )?;
    let format = format.unwrap_or_else(Format::default_for_stdout);
    render(&[batch], format, &mut std::io::stdout().lock())?;
    if report.quarantined() > 0 {
        crate::notice::push(format!(
            "{} lines quarantined, every valid line stored (reasons: `obsq doctor`, system.quarantine)",
            report.quarantined()
        ));
    }
    Ok(())
}
