//! `obsq compact`: merge small files per (stream, day) and show what was done on stderr.

use crate::cli::CompactArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::timefmt::parse_day;
use crate::render::{Cell, Format, render, rows_to_batch};
use crate::reports::params::parse_duration_ms;
use crate::store::compact::{CompactOptions, compact};

/// Runs `obsq compact`.
pub fn run(config: &Config, args: &CompactArgs) -> Result<u8> {
    let stream = super::stream_arg(args.stream.as_deref())?;
    let day = match &args.date {
        Some(d) => Some(
            parse_day(d)
                .ok_or_else(|| Error::Usage(format!("invalid --date `{d}`: use YYYY-MM-DD")))?,
        ),
        None => None,
    };
    let grace_ms = grace("--grace", &args.grace)?;
    let orphan_grace_ms = grace("--orphan-grace", &args.orphan_grace)?;
    if args.target_mb == 0 {
        return Err(Error::Usage("--target-mb must be at least 1".into()));
    }
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let opts = CompactOptions {
        stream,
        day,
        target_bytes: args.target_mb << 20,
        min_files: args.min_files,
        grace_ms,
        orphan_grace_ms,
    };
    let r = compact(&config.layout, &objects, &opts)?;
    let batch = rows_to_batch(
        &[
            "partitions",
            "files_in",
            "files_out",
            "rows_in",
            "rows_out",
            "bytes_in",
            "bytes_out",
            "deleted_retired",
            "deleted_orphans",
            "seconds",
        ],
        &[vec![
            r.partitions.into(),
            r.files_in.into(),
            r.files_out.into(),
            r.rows_in.into(),
            r.rows_out.into(),
            r.bytes_in.into(),
            r.bytes_out.into(),
            r.deleted.into(),
            r.orphans.into(),
            Cell::Float((r.seconds * 1000.0).round() / 1000.0),
        ]],
    )?;
    render(&[batch], Format::Table, &mut std::io::stderr().lock())?;
    Ok(0)
}

/// A grace period: `0`/`0s` or a duration such as `10m`, `1h`.
fn grace(flag: &str, value: &str) -> Result<i64> {
    match value.trim() {
        "0" | "0s" | "0m" => Ok(0),
        g => parse_duration_ms(g)
            .ok_or_else(|| Error::Usage(format!("invalid {flag} `{g}`: use e.g. 10m, 1h, 0s"))),
    }
}
