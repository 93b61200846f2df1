//! The query engine: one function builds the DataFusion session that every command uses. Each
//! stream table is the catalog's live Parquet files ∪ the fresh tail (JSONL lines past each
//! source's ledger offset), read from one catalog snapshot so every event counts exactly once.

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
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { fresh: true }
    }
}

/// Builds the session: the four stream tables, registered with their explicit schemas.
pub fn session(layout: &Layout, objects: &Objects, opts: &EngineOptions) -> Result<SessionContext> {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
    let ctx = SessionContext::new_with_config(config);
    udf::register(&ctx);
    let url = ObjectStoreUrl::parse(ROOT_URL)?;
    ctx.register_object_store(url.as_ref(), objects.store());

    let catalog = match layout.catalog().exists() {
        true => Some(Catalog::open(&layout.catalog())?),
        false => None,
    };
    let snapshot = match &catalog {
        Some(c) => c.snapshot()?,
        None => Default::default(),
    };
    let mut fresh = fresh::read_fresh(layout, &snapshot, opts.fresh)?;
    system::register(&ctx, catalog.as_ref(), &fresh.lag)?;
    for stream in Stream::ALL {
        let files = snapshot
            .files
            .iter()
            .filter(|f| f.stream == stream)
            .cloned()
            .collect();
        let batches = fresh.batches.remove(&stream).unwrap_or_default();
        let table = StreamTable::new(stream, files, batches);
        ctx.register_table(stream.table(), Arc::new(table))?;
    }
    Ok(ctx)
}

/// What user SQL may do: read. DDL (`CREATE EXTERNAL TABLE`, `DROP`, views) and DML (`INSERT`,
/// `COPY … TO`) are refused, so no query can change the store or write files.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
}

/// Plans one statement of user SQL under [`read_only`] rules.
pub async fn plan_user_sql(ctx: &SessionContext, sql: &str) -> Result<DataFrame> {
    ctx.sql_with_options(sql, read_only())
        .await
        .map_err(|e| match e {
            datafusion::error::DataFusionError::Plan(m)
                if m.starts_with("DDL not supported") || m.starts_with("DML not supported") =>
            {
                Error::Usage(format!(
                    "refused: obsq's SQL is read-only ({m}); events are added with `obsq record` and `obsq ingest`"
                ))
            }
            e => Error::Query(e),
        })
}

/// Runs one statement of user SQL under [`read_only`] rules.
pub async fn run_user_sql(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(plan_user_sql(ctx, sql).await?.collect().await?)
}
