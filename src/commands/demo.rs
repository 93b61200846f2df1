//! `obsq demo`: generate a sample into a fresh data root's `sample/` folder, ingest it, and show
//! per-stream counts.

use crate::cli::{DemoArgs, GenerateArgs, IngestArgs, SqlArgs};
use crate::config::Config;
use crate::error::Result;

/// Runs `obsq demo`.
pub fn run(config: &Config, args: &DemoArgs) -> Result<u8> {
    let sample = config
        .layout
        .root()
        .join("sample")
        .join(".claude")
        .join("context");
    if !sample.exists() {
        super::generate::run(&GenerateArgs {
            rows: args.rows,
            seed: args.seed,
            out: sample.clone(),
            days: 30,
            end: None,
            dirty: 0.001,
            streams: vec![],
        })?;
    }
    super::ingest::run(
        config,
        &IngestArgs {
            sources: vec![sample],
            memory_mb: 256,
        },
    )?;
    super::sql::run(
        config,
        &SqlArgs {
            query: Some(COUNTS.into()),
            file: None,
            format: Some(crate::render::Format::Table),
            no_fresh: false,
        },
    )
}

const COUNTS: &str = "
SELECT 'skill_invocations' AS stream, count(*) AS events, min(ts) AS first, max(ts) AS last FROM skill_invocations
UNION ALL SELECT 'cuj_runs', count(*), min(ts), max(ts) FROM cuj_runs
UNION ALL SELECT 'progress_events', count(*), min(ts), max(ts) FROM progress_events
UNION ALL SELECT 'provider_calls', count(*), min(ts), max(ts) FROM provider_calls
ORDER BY stream";
