//! One module per subcommand; [`run`] dispatches. Commands compute results and hand them to the
//! render layer; they return the process exit code.

pub mod alerts;
pub mod backfill;
pub mod cluster;
pub mod compact;
pub mod demo;
pub mod generate;
pub mod ingest;
pub mod metrics;
pub mod progress_bar;
pub mod record;
pub mod repair;
pub mod repl;
pub mod report;
pub mod source;
pub mod sql;
pub mod watch;

use tokio::runtime::Runtime;

use crate::cli::Command;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::objects::Objects;

/// Runs one command; returns the exit code.
pub fn run(config: &Config, command: Command) -> Result<u8> {
    let queries = matches!(
        command,
        Command::Sql(_)
            | Command::Skills { .. }
            | Command::Cuj { .. }
            | Command::Progress { .. }
            | Command::Provider { .. }
            | Command::Dashboard(_)
            | Command::Repl(_)
            | Command::Doctor(_)
            | Command::Alerts { .. }
            | Command::Compare(_)
            | Command::Metrics(_)
    );
    let result = dispatch(config, command);
    match result {
        Err(e) if queries => Err(diagnose(config, e)),
        r => r,
    }
}

/// A failed query that met a damaged file says which file and what to do, in one line; one
/// that could not reach its cluster says so.
fn diagnose(config: &Config, e: Error) -> Error {
    if let Some(url) = &config.cluster {
        let text = format!("{e:?}");
        if text.contains("tcp connect error") || text.contains("ConnectionRefused") {
            return Error::Usage(format!(
                "cannot reach the cluster scheduler at {url}: start it with `obsq cluster scheduler --bind HOST:PORT` (and executors), or run without --cluster / OBSQ_CLUSTER"
            ));
        }
    }
    let Ok(rt) = runtime() else { return e };
    let Ok(objects) = Objects::open(&config.layout, rt.handle().clone()) else {
        return e;
    };
    crate::engine::diagnose(&config.layout, &objects, e)
}

fn dispatch(config: &Config, command: Command) -> Result<u8> {
    match command {
        Command::Record { event } => record::run(config, event),
        Command::Ingest(args) => ingest::run(config, &args),
        Command::Backfill(args) => backfill::run(config, &args),
        Command::Compact(args) => compact::run(config, &args),
        Command::Doctor(args) => report::doctor(config, &args),
        Command::Repair(args) => repair::run(config, &args),
        Command::Source { action } => source::run(config, action),
        Command::Generate(args) => generate::run(&args),
        Command::Sql(args) => sql::run(config, &args),
        Command::Skills { report } => report::skills(config, report),
        Command::Cuj { report } => report::cuj(config, report),
        Command::Progress { report } => report::progress(config, report),
        Command::Provider { report } => report::provider(config, report),
        Command::Dashboard(args) => report::dashboard(config, &args),
        Command::Repl(args) => repl::run(config, &args),
        Command::Completions { shell } => completions(shell),
        Command::Demo(args) => demo::run(config, &args),
        Command::Alerts { action } => alerts::run(config, action),
        Command::Compare(args) => report::compare(config, &args),
        Command::Metrics(args) => metrics::run(config, &args),
        Command::Cluster { process } => cluster::run(process),
    }
}

/// A multi-threaded runtime for DataFusion and the object store.
pub fn runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start", "async runtime", e))
}

/// The data root's object store (a local root, or an object-store root's cache, is created if
/// missing).
pub fn objects(config: &Config, rt: &Runtime) -> Result<Objects> {
    Objects::open(&config.layout, rt.handle().clone())
}

/// Prints the completion script for `shell`.
fn completions(shell: clap_complete::Shell) -> Result<u8> {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut cmd, "obsq", &mut std::io::stdout());
    Ok(0)
}

/// A `--stream` value: a stream's short or table name.
fn stream_arg(name: Option<&str>) -> Result<Option<crate::model::Stream>> {
    name.map(|s| {
        crate::model::Stream::from_name(s).ok_or_else(|| {
            Error::Usage(format!(
                "unknown stream `{s}`: use skill, cuj, progress, provider (or their table names)"
            ))
        })
    })
    .transpose()
}
