//! The query engine: one function builds the DataFusion session that every command uses. Each
//! stream table is the catalog's live Parquet files ∪ the fresh tail (JSONL lines past each
//! source's ledger offset), read from one catalog snapshot so every event counts exactly once.

pub mod cluster;
pub mod fresh;
pub mod system;
pub mod table;
mod table_prune;
pub mod udf;

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::store::catalog::Catalog;
use crate::store::layout::Layout;
use crate::store::objects::Objects;

pub use table::StreamTable;

/// The URL under which the data root's object store is registered.
pub const ROOT_URL: &str = "obsq://root/";

/// How the session is built.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Include the fresh tail (events not yet ingested).
    pub fresh: bool,
    /// `system.damaged_files` reads every data file's footer, not just its size.
    pub deep_check: bool,
    /// Run queries on this Ballista cluster (`df://host:port`) instead of in-process.
    pub cluster: Option<String>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            fresh: true,
            deep_check: false,
            cluster: None,
        }
    }
}

/// Builds the session: the four stream tables, registered with their explicit schemas. With
/// `opts.cluster` the same tables and functions run on that Ballista cluster (its executors read
/// the committed files from the root; fresh rows and `system` tables travel with the plan).
pub fn session(layout: &Layout, objects: &Objects, opts: &EngineOptions) -> Result<SessionContext> {
    let partitions = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (ctx, base) = match &opts.cluster {
        Some(url) => (
            cluster::client_context(url, partitions)?,
            cluster::file_base(layout),
        ),
        None => {
            let config = SessionConfig::new()
                .with_information_schema(true)
                .with_target_partitions(partitions);
            (
                SessionContext::new_with_config(config),
                table::FileBase::default(),
            )
        }
    };
    udf::register(&ctx);
    let url = ObjectStoreUrl::parse(ROOT_URL)?;
    ctx.register_object_store(url.as_ref(), objects.store());

    let catalog = open_index(layout, objects)?;
    let snapshot = match &catalog {
        Some(c) => c.snapshot()?,
        None => Default::default(),
    };
    let (mut fresh, lag): (fresh::Fresh, system::LagSource) = if opts.fresh {
        let mut fresh = fresh::read_fresh(layout, &snapshot.sources, &snapshot.dirs, true)?;
        let lag = Arc::new(std::mem::take(&mut fresh.lag));
        (fresh, Arc::new(move || Ok(lag.as_ref().clone())))
    } else {
        // Without the fresh tail no source is touched unless `system.ingest_lag` is read (a
        // `stat` and a fingerprint read of every source: 1,460 of them took ~10 ms).
        let (layout, sources) = (layout.clone(), snapshot.sources.clone());
        let dirs = snapshot.dirs.clone();
        let lag = move || Ok(fresh::read_fresh(&layout, &sources, &dirs, false)?.lag);
        (fresh::Fresh::default(), Arc::new(lag))
    };
    system::register(
        &ctx,
        system::SystemSources {
            catalog: catalog.as_ref().map(|c| c.path().to_path_buf()),
            objects: objects.clone(),
            lag,
            deep: opts.deep_check,
        },
    )?;
    for stream in Stream::ALL {
        let files = snapshot
            .files
            .iter()
            .filter(|f| f.stream == stream)
            .cloned()
            .collect();
        let batches = fresh.batches.remove(&stream).unwrap_or_default();
        let table = StreamTable::with_base(stream, files, batches, base.clone());
        ctx.register_table(stream.table(), Arc::new(table))?;
    }
    Ok(ctx)
}

/// The catalog index, caught up with the log; `None` for a root nothing was committed to yet
/// (a query never creates one).
pub fn open_index(layout: &Layout, objects: &Objects) -> Result<Option<Catalog>> {
    if !layout.catalog().exists() && crate::store::log::read_record(objects, 1)?.is_none() {
        return Ok(None);
    }
    crate::store::index::open(layout, objects).map(Some)
}

/// Turns a failed query into one line naming the damaged file, when a live file is missing or
/// damaged (checked only after a failure, so healthy queries pay nothing).
pub fn diagnose(layout: &Layout, objects: &Objects, err: Error) -> Error {
    if !matches!(err, Error::Query(_) | Error::Report { .. }) {
        return err;
    }
    let Ok(Some(cat)) = open_index(layout, objects) else {
        return err;
    };
    let text = format!("{err:?}").to_lowercase();
    let deep = [
        "parquet",
        "eof",
        "footer",
        "not found",
        "no such file",
        "object",
    ]
    .iter()
    .any(|w| text.contains(w));
    match crate::store::repair::check(objects, &cat, deep) {
        Ok(damage) if !damage.is_empty() => {
            let more = match damage.len() {
                1 => String::new(),
                n => format!(" (and {} more damaged files: see `obsq doctor`)", n - 1),
            };
            Error::Damaged {
                path: damage[0].path.clone(),
                problem: format!("{}{more}", damage[0].problem),
            }
        }
        _ => err,
    }
}

/// What user SQL may do: read. DDL (`CREATE EXTERNAL TABLE`, `DROP`, views), DML (`INSERT`,
/// `COPY … TO`) and other statements (`SET`, transactions) are refused, so no query can change
/// the store, write files or the session's settings.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Plans one statement of user SQL under [`read_only`] rules.
pub async fn plan_user_sql(ctx: &SessionContext, sql: &str) -> Result<DataFrame> {
    ctx.sql_with_options(sql, read_only())
        .await
        .map_err(|e| match e {
            datafusion::error::DataFusionError::Plan(m)
                if m.starts_with("DDL not supported")
                    || m.starts_with("DML not supported")
                    || m.starts_with("Statement not supported") =>
            {
                Error::Usage(format!(
                    "refused: obsq's SQL is read-only ({m}); events are added with `obsq record` and `obsq ingest`"
                ))
            }
            e => Error::Query(e),
        })
}

/// Whether `ctx` plans its queries for a Ballista cluster (whose executors can read only the
/// tables obsq's codec carries, not tables held in this process's memory).
pub fn is_cluster(ctx: &SessionContext) -> bool {
    ctx.state()
        .config()
        .options()
        .extensions
        .get::<ballista_core::config::BallistaConfig>()
        .is_some()
}

/// Runs one statement of user SQL under [`read_only`] rules.
pub async fn run_user_sql(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(plan_user_sql(ctx, sql).await?.collect().await?)
}
