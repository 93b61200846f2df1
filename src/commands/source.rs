//! `obsq source add|list`.

use crate::cli::SourceCmd;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::render::{Cell, Format, render, rows_to_batch};
use crate::store::catalog::Catalog;
use crate::store::sources::{absolute, discover};

/// Runs `obsq source`.
pub fn run(config: &Config, action: SourceCmd) -> Result<u8> {
    config.layout.create()?;
    let catalog = Catalog::open(&config.layout.catalog())?;
    match action {
        SourceCmd::Add { dir } => {
            let dir = absolute(&dir)?;
            if !dir.is_dir() {
                return Err(Error::Usage(format!(
                    "{} is not a directory",
                    dir.display()
                )));
            }
            let found = discover(&config.layout, std::slice::from_ref(&dir))?;
            catalog.add_source_dir(&dir)?;
            let rows: Vec<Vec<Cell>> = found
                .iter()
                .filter(|f| f.path.starts_with(&dir))
                .map(|f| vec![f.stream.table().into(), f.path.display().to_string().into()])
                .collect();
            let batch = rows_to_batch(&["stream", "file"], &rows)?;
            render(&[batch], Format::Table, &mut std::io::stderr().lock())?;
            Ok(0)
        }
        SourceCmd::List { format } => {
            let ledger = catalog.sources()?;
            let dirs = catalog.source_dirs()?;
            let files = discover(
                &config.layout,
                &dirs
                    .iter()
                    .filter(|d| d.is_dir())
                    .cloned()
                    .collect::<Vec<_>>(),
            )?;
            let rows: Vec<Vec<Cell>> = files
                .iter()
                .map(|f| {
                    let key = f.path.to_string_lossy();
                    let st = ledger.iter().find(|s| s.path == key);
                    let size = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
                    vec![
                        f.stream.table().into(),
                        key.to_string().into(),
                        size.into(),
                        st.map_or(0, |s| s.offset).into(),
                        st.map_or(0, |s| s.lines).into(),
                    ]
                })
                .collect();
            let batch = rows_to_batch(
                &[
                    "stream",
                    "path",
                    "bytes",
                    "ingested_bytes",
                    "ingested_lines",
                ],
                &rows,
            )?;
            render(
                &[batch],
                format.unwrap_or_else(Format::default_for_stdout),
                &mut std::io::stdout().lock(),
            )?;
            Ok(0)
        }
    }
}
