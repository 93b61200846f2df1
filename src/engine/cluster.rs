//! Queries on an Apache DataFusion Ballista cluster (DESIGN §8). The client plans as in-process
//! (same tables, views and functions) and Ballista's planner ships the logical plan to the
//! scheduler; this module's codec carries obsq's tables in it: a stream table as its committed
//! files (at the root's real URL, which executors open) plus its fresh rows, and a `system`
//! table as the rows it has on the client (the catalog index is this machine's). The scheduler
//! and executors that `obsq cluster` starts use the same codec, functions and object stores.

use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result as DfResult, TableReference};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use object_store::ObjectStore;

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::store::catalog::FileEntry;
use crate::store::layout::{Layout, Remote};

use super::table::{FileBase, StreamTable};
use super::udf::EventIdFn;

/// The scheduler port a `df://host` URL without one means (Ballista's default).
pub const DEFAULT_PORT: u16 = 50050;

/// The largest plan or result message of client and cluster processes: plans carry file lists
/// and fresh rows, so Ballista's 16 MiB default is raised.
pub const MAX_MESSAGE_BYTES: u32 = 256 << 20;

/// Checks a `--cluster` value: `df://host[:port]`.
pub fn parse_url(url: &str) -> Result<String> {
    let rest = url.strip_prefix("df://").ok_or_else(|| {
        Error::Usage(format!(
            "`{url}` is not a cluster URL: write it as df://HOST:PORT (the address `obsq cluster scheduler` binds)"
        ))
    })?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err(Error::Usage(format!(
            "`{url}` names no scheduler: write it as df://HOST:PORT"
        )));
    }
    Ok(match rest.contains(':') {
        true => format!("df://{rest}"),
        false => format!("df://{rest}:{DEFAULT_PORT}"),
    })
}

/// The client's session: Ballista's distributed planner, obsq's codec and functions.
pub fn client_context(url: &str, target_partitions: usize) -> Result<SessionContext> {
    use ballista::prelude::SessionContextExt;
    use ballista_core::extension::SessionConfigExt;
    let config = SessionConfig::new_with_ballista()
        .with_information_schema(true)
        .with_target_partitions(target_partitions)
        .with_ballista_logical_extension_codec(Arc::new(ObsqCodec::default()))
        .with_ballista_grpc_client_max_message_size(MAX_MESSAGE_BYTES as usize)
        // Ballista's static distributed planner, not the adaptive one (its default). Two jobs of
        // the canned reports never finish under the adaptive planner, and nothing is reported
        // to the client: `doctor`'s checks (`ORDER BY` over a UNION ALL of one-row branches: the
        // resolved stage's SortPreservingMergeExec fails the sanity check, as its ExchangeExec
        // input declares no order, and the failed status update leaves the job running), and
        // `storage_health` (LEFT JOINs of aggregates over system tables: the job never
        // finishes, and the scheduler logs no error). Found with the cluster processes' log
        // (`RUST_LOG=info`).
        .with_ballista_adaptive_query_planner(false);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    // Creating the context only prepares the planner: the scheduler is asked at the first query.
    let ctx = futures::executor::block_on(SessionContext::remote_with_state(url, state))?;
    Ok(ctx)
}

/// Where a stream table's files are for executors: the local root as `file://` paths (a
/// loopback cluster, or a directory mounted at the same path everywhere), an S3 root as its
/// bucket URL.
pub fn file_base(layout: &Layout) -> FileBase {
    match layout.remote_root() {
        Some(r) => FileBase {
            url: format!("s3://{}/", r.bucket),
            prefix: match r.prefix.is_empty() {
                true => String::new(),
                false => format!("{}/", r.prefix),
            },
        },
        None => FileBase {
            url: "file:///".into(),
            prefix: format!(
                "{}/",
                layout
                    .root()
                    .to_string_lossy()
                    .trim_start_matches('/')
                    .trim_end_matches('/')
            ),
        },
    }
}

/// obsq's functions, as the scheduler and the executors need them: the SQL functions and the
/// per-stream `event_id` derivations that table scans put into physical plans.
fn functions() -> (Vec<Arc<ScalarUDF>>, Vec<Arc<AggregateUDF>>) {
    let mut scalar: Vec<Arc<ScalarUDF>> = vec![Arc::new(super::udf::error_pattern_udf())];
    scalar.extend(super::udf::stats_udfs().into_iter().map(Arc::new));
    scalar.extend(
        Stream::ALL
            .iter()
            .map(|&s| Arc::new(ScalarUDF::new_from_impl(EventIdFn::new(s)))),
    );
    (scalar, vec![Arc::new(super::udf::percentile_disc_udaf())])
}

/// The scheduler's session state: DataFusion's and Ballista's defaults plus obsq's functions
/// and the object stores of [`runtime_env`].
pub fn scheduler_state(config: SessionConfig) -> DfResult<SessionState> {
    use ballista_core::extension::{
        ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions,
    };
    let (scalar, aggregate) = functions();
    let mut scalar_all = ballista_scalar_functions();
    scalar_all.extend(scalar);
    let mut aggregate_all = ballista_aggregate_functions();
    aggregate_all.extend(aggregate);
    Ok(SessionStateBuilder::new()
        .with_runtime_env(runtime_env(&config)?)
        .with_config(config)
        .with_default_features()
        .with_scalar_functions(scalar_all)
        .with_aggregate_functions(aggregate_all)
        .with_window_functions(ballista_window_functions())
        .build())
}

/// The executors' function registry: DataFusion's functions (the nested ones too, which
/// Ballista's default registry leaves out: `array_sort`) and obsq's.
pub fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    let (scalar, aggregate) = functions();
    let builtin = ballista_core::extension::ballista_scalar_functions();
    for f in builtin.into_iter().chain(scalar) {
        registry.scalar_functions.insert(f.name().to_string(), f);
    }
    for f in aggregate {
        registry.aggregate_functions.insert(f.name().to_string(), f);
    }
    registry
}

/// A runtime whose object stores include any `s3://bucket`, opened with the process's `AWS_*`
/// variables when first named (executors serve whatever roots their clients query).
pub fn runtime_env(_config: &SessionConfig) -> DfResult<Arc<RuntimeEnv>> {
    Ok(Arc::new(
        RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::new(EnvObjectStores::default()))
            .build()?,
    ))
}

/// [`ObjectStoreRegistry`] that opens S3 buckets on demand from the environment.
#[derive(Debug, Default)]
struct EnvObjectStores {
    known: DefaultObjectStoreRegistry,
    /// Serializes the opening of a bucket, so each is opened once.
    opening: Mutex<()>,
}

impl ObjectStoreRegistry for EnvObjectStores {
    fn register_store(
        &self,
        url: &url::Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &url::Url) -> DfResult<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &url::Url) -> DfResult<Arc<dyn ObjectStore>> {
        if let Ok(s) = self.known.get_store(url) {
            return Ok(s);
        }
        let bucket = match (url.scheme(), url.host_str()) {
            ("s3", Some(b)) => b.to_string(),
            _ => return self.known.get_store(url),
        };
        let _one = self.opening.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(s) = self.known.get_store(url) {
            return Ok(s);
        }
        let remote = Remote {
            url: format!("s3://{bucket}"),
            bucket,
            prefix: String::new(),
            spool_id: String::new(),
            host: String::new(),
        };
        let store = crate::store::objects::s3_store(&remote)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        self.known.register_store(url, store.clone());
        Ok(store)
    }
}

/// Marks obsq's own table encodings (anything else goes to Ballista's codec).
const MAGIC: &[u8; 4] = b"OBSQ";

/// The logical codec of client, scheduler and executors: obsq's tables, else Ballista's.
#[derive(Debug, Default)]
pub struct ObsqCodec {
    inner: BallistaLogicalExtensionCodec,
}

/// A stream table's description on the wire (its fresh rows follow as Arrow IPC).
#[derive(serde::Serialize, serde::Deserialize)]
struct StreamWire {
    stream: String,
    url: String,
    prefix: String,
    /// `(path, bytes, day, rows, min_ts, max_ts)` per live file.
    files: Vec<(String, u64, i32, u64, i64, i64)>,
}

fn ext(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("obsq cluster codec: {e}"))
}

fn write_ipc(buf: &mut Vec<u8>, schema: &SchemaRef, batches: &[RecordBatch]) -> DfResult<()> {
    let mut w = StreamWriter::try_new(buf, schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    Ok(())
}

fn read_ipc(bytes: &[u8]) -> DfResult<(SchemaRef, Vec<RecordBatch>)> {
    let r = StreamReader::try_new(bytes, None)?;
    let schema = r.schema();
    let batches = r.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

/// Every row of a table provider, scanned in a session of its own.
fn rows_of(node: Arc<dyn TableProvider>) -> DfResult<(SchemaRef, Vec<RecordBatch>)> {
    let ctx = SessionContext::new();
    let state = ctx.state();
    let batches = futures::executor::block_on(async {
        let plan = node.scan(&state, None, &[], None).await?;
        datafusion::physical_plan::collect(plan, ctx.task_ctx()).await
    })?;
    Ok((node.schema(), batches))
}

impl LogicalExtensionCodec for ObsqCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> DfResult<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn TableProvider>> {
        let Some(rest) = buf.strip_prefix(&MAGIC[..]) else {
            return self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        match rest.split_first() {
            Some((b'S', rest)) => {
                let len = u32::from_le_bytes(
                    rest.get(..4)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| ext("truncated stream table"))?,
                ) as usize;
                let wire: StreamWire =
                    serde_json::from_slice(rest.get(4..4 + len).ok_or_else(|| ext("truncated"))?)
                        .map_err(ext)?;
                let stream = Stream::from_name(&wire.stream)
                    .ok_or_else(|| ext(format!("unknown stream {}", wire.stream)))?;
                let (_, fresh) = read_ipc(&rest[4 + len..])?;
                let files = wire
                    .files
                    .into_iter()
                    .map(|(path, bytes, day, rows, min_ts, max_ts)| FileEntry {
                        stream,
                        day,
                        path,
                        rows,
                        bytes,
                        min_ts,
                        max_ts,
                    })
                    .collect();
                let base = FileBase {
                    url: wire.url,
                    prefix: wire.prefix,
                };
                Ok(Arc::new(StreamTable::with_base(stream, files, fresh, base)))
            }
            Some((b'M', rest)) => {
                let (schema, batches) = read_ipc(rest)?;
                Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
            }
            _ => Err(ext("unknown table encoding")),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        if let Some(t) = node.downcast_ref::<StreamTable>() {
            let wire = StreamWire {
                stream: t.stream().table().to_string(),
                url: t.base().url.clone(),
                prefix: t.base().prefix.clone(),
                files: t
                    .files()
                    .iter()
                    .map(|f| (f.path.clone(), f.bytes, f.day, f.rows, f.min_ts, f.max_ts))
                    .collect(),
            };
            let json = serde_json::to_vec(&wire).map_err(ext)?;
            buf.extend_from_slice(MAGIC);
            buf.push(b'S');
            buf.extend_from_slice(&(json.len() as u32).to_le_bytes());
            buf.extend_from_slice(&json);
            return write_ipc(buf, &t.stream().scan_schema(), t.fresh());
        }
        if let Some(batch) = super::system::materialize(node.as_ref()) {
            let batch = batch.map_err(|e| DataFusionError::External(Box::new(e)))?;
            buf.extend_from_slice(MAGIC);
            buf.push(b'M');
            return write_ipc(buf, &batch.schema(), &[batch]);
        }
        let mut theirs = Vec::new();
        match self
            .inner
            .try_encode_table_provider(table_ref, node.clone(), &mut theirs)
        {
            Ok(()) => {
                buf.extend_from_slice(&theirs);
                Ok(())
            }
            // A provider no codec knows (a table function such as `range(0, 7)`): its rows,
            // computed here, travel instead.
            Err(_) => {
                let (schema, batches) = rows_of(node)?;
                buf.extend_from_slice(MAGIC);
                buf.push(b'M');
                write_ipc(buf, &schema, &batches)
            }
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> DfResult<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_are_checked_and_get_the_default_port() {
        assert_eq!(
            parse_url("df://127.0.0.1:50099").unwrap(),
            "df://127.0.0.1:50099"
        );
        assert_eq!(parse_url("df://sched/").unwrap(), "df://sched:50050");
        assert!(parse_url("http://x:1").is_err());
        assert!(parse_url("df://").is_err());
        assert!(parse_url("df://a/b").is_err());
    }
}
