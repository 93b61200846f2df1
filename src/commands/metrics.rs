//! `obsq metrics`: the Prometheus text exposition of the store, to stdout or atomically to a
//! file (for node_exporter's textfile collector).

use std::io::Write;

use crate::cli::MetricsArgs;
use crate::config::Config;
use crate::engine::{EngineOptions, session};
use crate::error::{Error, Result};
use crate::model::timefmt::{now_ms, parse_iso_ms};
use crate::reports::params::parse_duration_ms;

/// Runs `obsq metrics`.
pub fn run(config: &Config, args: &MetricsArgs) -> Result<u8> {
    let window = parse_duration_ms(args.window.trim()).ok_or_else(|| {
        Error::Usage(format!(
            "invalid --window `{}`: use e.g. 5m, 1h or plain milliseconds",
            args.window
        ))
    })?;
    let now = match &args.now {
        None => now_ms(),
        Some(s) => parse_iso_ms(s.trim()).ok_or_else(|| {
            Error::Usage(format!(
                "invalid --now `{s}`: use RFC 3339 (2026-11-28T09:51:50Z)"
            ))
        })?,
    };
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let opts = EngineOptions {
        fresh: !args.no_fresh,
        ..config.engine()
    };
    let text = rt.block_on(async {
        let ctx = session(&config.layout, &objects, &opts)?;
        crate::monitor::metrics::exposition(&ctx, now, window).await
    })?;
    match &args.out {
        Some(path) => super::report::write_atomically(path, text.as_bytes())?,
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("write", "standard output", e))?,
    }
    Ok(0)
}
