//! `obsq repair`: retire damaged files and restore their rows from the sources; the summary
//! says, per partition, how many rows came back and how many are lost for good.

use crate::cli::RepairArgs;
use crate::config::Config;
use crate::error::Result;
use crate::render::{Cell, Format, render, rows_to_batch};
use crate::store::repair::repair;

/// Exit code when some rows could not be restored.
pub const EXIT_LOST: u8 = 1;

/// Runs `obsq repair`.
pub fn run(config: &Config, args: &RepairArgs) -> Result<u8> {
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let done = repair(&config.layout, &objects)?;
    let rows: Vec<Vec<Cell>> = done
        .iter()
        .map(|r| {
            vec![
                r.stream.clone().into(),
                r.date.clone().into(),
                (r.files.len() as u64).into(),
                r.problem.clone().into(),
                r.rows.into(),
                r.restored.into(),
                r.lost.into(),
                r.why_lost.clone().into(),
            ]
        })
        .collect();
    let batch = rows_to_batch(
        &[
            "stream", "date", "files", "problem", "rows", "restored", "lost", "why_lost",
        ],
        &rows,
    )?;
    let format = args.format.unwrap_or_else(Format::default_for_stdout);
    render(&[batch], format, &mut std::io::stdout().lock())?;
    let lost: u64 = done.iter().map(|r| r.lost).sum();
    let restored: u64 = done.iter().map(|r| r.restored).sum();
    crate::notice::push(match done.is_empty() {
        true => "repair: every live file is as the commit log records it; nothing to do".into(),
        false => format!(
            "repair: {} damaged partitions or files retired in one commit; {restored} rows restored from the sources, {lost} rows lost for good",
            done.len()
        ),
    });
    Ok(if lost > 0 { EXIT_LOST } else { 0 })
}
