//! `obsq backfill`: bulk import of history files (plain, `.gz`, `.zst`), with the ingest summary.

use crate::cli::BackfillArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::backfill::{backfill, expand};
use crate::store::ingest::{IngestOptions, IngestProgress};

/// Runs `obsq backfill`.
pub fn run(config: &Config, args: &BackfillArgs) -> Result<u8> {
    let stream = super::stream_arg(args.stream.as_deref())?;
    let inputs = expand(&args.paths, stream)?;
    if inputs.is_empty() {
        return Err(Error::Usage(
            "no .jsonl, .jsonl.gz or .jsonl.zst files found in the given paths".into(),
        ));
    }
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let budget = args.memory_mb.max(1) << 20;
    let progress = std::sync::Arc::new(IngestProgress::default());
    let opts = IngestOptions {
        memory_budget: budget,
        block_size: (budget / 4).clamp(64 << 10, 16 << 20),
        progress: Some(progress.clone()),
        compact_after: args.compact_after,
        ..IngestOptions::default()
    };
    let bar = super::progress_bar::follow(&progress, "backfill");
    let report = backfill(&config.layout, &objects, &inputs, &opts);
    drop(bar);
    let report = report?;
    super::ingest::show_summary(&report.ingest, args.format)?;
    crate::notice::push(format!(
        "backfill: {} input files, {} new, {} already backfilled (same content)",
        inputs.len(),
        inputs.len() - report.skipped.len(),
        report.skipped.len()
    ));
    Ok(super::ingest::exit_code(&report.ingest))
}
