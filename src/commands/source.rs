//! `obsq source add|remove|list`. Registering and forgetting a directory are commits of the log,
//! so a rebuilt catalog still knows them.

use std::path::{Path, PathBuf};

use crate::cli::SourceCmd;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::render::{Cell, Format, render, rows_to_batch};
use crate::store::commit::Writer;
use crate::store::log::Record;
use crate::store::objects::Objects;
use crate::store::sources::{self, absolute, discover, warn_if_unread};

/// Runs `obsq source`.
pub fn run(config: &Config, action: SourceCmd) -> Result<u8> {
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    match action {
        SourceCmd::Add { dir, format } => {
            let dir = checked_dir(&dir)?;
            let found = discover(&config.layout, std::slice::from_ref(&dir))?;
            if !found.iter().any(|f| f.path.starts_with(&dir)) {
                warn_if_unread(&dir);
            }
            register(config, &objects, std::slice::from_ref(&dir))?;
            let rows: Vec<Vec<Cell>> = found
                .iter()
                .filter(|f| f.path.starts_with(&dir))
                .map(|f| vec![f.stream.table().into(), f.path.display().to_string().into()])
                .collect();
            let batch = rows_to_batch(&["stream", "file"], &rows)?;
            let format = format.unwrap_or_else(Format::default_for_stdout);
            render(&[batch], format, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        SourceCmd::Remove { dir } => {
            let dir = absolute(&dir)?;
            let mut writer = Writer::open(&config.layout, &objects)?;
            let key = config.layout.dir_key(&dir);
            let registered = config.layout.own_dirs(writer.catalog().source_dirs()?);
            if !registered.iter().any(|d| d == &dir) {
                return Err(Error::Usage(format!(
                    "{} is not a registered source directory (see `obsq source list`)",
                    dir.display()
                )));
            }
            let mut rec = Record::new("source", &uuid::Uuid::now_v7().to_string());
            rec.dirs_remove.push(key);
            writer.commit(rec)?;
            crate::notice::push(format!(
                "source directory {} forgotten; the rows already ingested from it stay",
                dir.display()
            ));
            Ok(0)
        }
        SourceCmd::List { format } => {
            let catalog = crate::engine::open_index(&config.layout, &objects)?;
            let (ledger, dirs) = match &catalog {
                Some(c) => (c.sources()?, config.layout.own_dirs(c.source_dirs()?)),
                None => (Vec::new(), Vec::new()),
            };
            let present: Vec<PathBuf> = dirs.iter().filter(|d| d.is_dir()).cloned().collect();
            let files = discover(&config.layout, &present)?;
            let mut rows: Vec<Vec<Cell>> = files
                .iter()
                .map(|f| {
                    let key = config.layout.source_key(&f.path);
                    let st = ledger.iter().find(|s| s.path == key);
                    let size = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
                    vec![
                        f.stream.table().into(),
                        f.path.display().to_string().into(),
                        size.into(),
                        st.map_or(0, |s| s.offset).into(),
                        st.map_or(0, |s| s.lines).into(),
                        "ok".into(),
                    ]
                })
                .collect();
            for d in dirs.iter().filter(|d| !d.is_dir()) {
                rows.push(vec![
                    Cell::Null,
                    d.display().to_string().into(),
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    format!("missing: `obsq source remove {}` forgets it", d.display()).into(),
                ]);
            }
            let batch = rows_to_batch(
                &[
                    "stream",
                    "path",
                    "bytes",
                    "ingested_bytes",
                    "ingested_lines",
                    "status",
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

/// The absolute form of a directory given to `source add` or `ingest --source`, which must
/// exist: a typo is refused before it is registered.
pub fn checked_dir(dir: &Path) -> Result<PathBuf> {
    let abs = absolute(dir)?;
    if !abs.is_dir() {
        return Err(Error::Usage(format!(
            "source directory {} does not exist or is not a directory: nothing was registered (check the path)",
            abs.display()
        )));
    }
    Ok(abs)
}

/// Registers source directories in one commit (those registered already are left as they are).
fn register(config: &Config, objects: &Objects, dirs: &[PathBuf]) -> Result<()> {
    let mut writer = Writer::open(&config.layout, objects)?;
    sources::register(&mut writer, &config.layout, dirs)
}
