//! `obsq demo`: generate a sample (~200k events over 30 days, in the original tools' layout) into
//! the data root's `sample/` folder, ingest it with a progress bar, print the text dashboard and
//! the next commands to try.

use crate::cli::{DashboardArgs, DashboardFormat, DemoArgs, GenerateArgs, IngestArgs};
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
            shape: "tools".into(),
            json: None,
            cardinality: None,
            long_text: None,
            absent: None,
            named_steps: false,
            bare: false,
            merged: false,
            python: false,
        })?;
    }
    super::ingest::run(
        config,
        &IngestArgs {
            sources: vec![sample],
            memory_mb: 256,
            compact_after: 16,
            format: Some(crate::render::Format::Table),
        },
    )?;
    super::report::dashboard(
        config,
        &DashboardArgs {
            now: None,
            format: DashboardFormat::Text,
            out: None,
            no_fresh: false,
        },
    )?;
    let default_root = std::env::current_dir().map(|d| d.join(".obsq")).ok();
    let root = match std::env::var_os("OBSQ_HOME") {
        Some(_) => String::new(),
        None if default_root.as_deref() == Some(config.layout.root()) => String::new(),
        None => format!(" --root {}", config.layout.root().display()),
    };
    println!(
        "\nNext, try:\n  obsq{root} cuj all --window 7d          # success rate of every CUJ\n  \
         obsq{root} cuj failures --window 30d    # what fails, grouped by error pattern\n  \
         obsq{root} repl                         # SQL with completion: SELECT * FROM provider_status('24h');"
    );
    Ok(0)
}
