//! [`StreamTable`]: a DataFusion table over a stream's live Parquet files (listed by the catalog,
//! never by listing directories) and its fresh in-memory rows. `event_id` is not stored: a scan
//! that needs it computes it from the stored columns.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::catalog::TableProvider;
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::ScalarUDF;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::union::UnionExec;

use crate::model::Stream;
use crate::model::identity::id_inputs;
use crate::model::schema::DATE_COL;
use crate::store::catalog::FileEntry;

use super::ROOT_URL;
use super::udf::EventIdFn;

/// One stream's table.
#[derive(Debug)]
pub struct StreamTable {
    stream: Stream,
    files: Vec<FileEntry>,
    fresh: Vec<RecordBatch>,
    base: FileBase,
}

/// Where a table's files are: the URL of their object store, and the prefix of their paths in
/// it. In-process that is the session's root store (`obsq://root/`, no prefix); on a cluster
/// it is the root's real location (`file:///`, `s3://bucket/`), which every executor can open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBase {
    /// The object store's URL, e.g. `s3://bucket/`.
    pub url: String,
    /// Prepended to each file's path inside the root, e.g. `prefix/`.
    pub prefix: String,
}

impl Default for FileBase {
    fn default() -> Self {
        FileBase {
            url: ROOT_URL.into(),
            prefix: String::new(),
        }
    }
}

impl StreamTable {
    /// A table over `files` (live Parquet) and `fresh` (table-schema batches).
    pub fn new(stream: Stream, files: Vec<FileEntry>, fresh: Vec<RecordBatch>) -> Self {
        Self::with_base(stream, files, fresh, FileBase::default())
    }

    /// The same, with its files at `base`.
    pub fn with_base(
        stream: Stream,
        files: Vec<FileEntry>,
        fresh: Vec<RecordBatch>,
        base: FileBase,
    ) -> Self {
        StreamTable {
            stream,
            files,
            fresh,
            base,
        }
    }

    /// The stream.
    pub fn stream(&self) -> Stream {
        self.stream
    }

    /// The live files.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The fresh rows.
    pub fn fresh(&self) -> &[RecordBatch] {
        &self.fresh
    }

    /// Where the files are.
    pub fn base(&self) -> &FileBase {
        &self.base
    }

    fn file_groups(&self, files: &[&FileEntry], n: usize) -> Vec<FileGroup> {
        // Largest first onto the least loaded group: even work per core.
        let mut sorted: Vec<&FileEntry> = files.to_vec();
        sorted.sort_by_key(|f| std::cmp::Reverse(f.bytes));
        let n = n.max(1).min(sorted.len().max(1));
        let mut groups: Vec<(u64, Vec<PartitionedFile>)> =
            (0..n).map(|_| (0, Vec::new())).collect();
        for f in sorted {
            let g = groups
                .iter_mut()
                .min_by_key(|g| g.0)
                .expect("at least one group");
            g.0 += f.bytes;
            g.1.push(
                PartitionedFile::new(format!("{}{}", self.base.prefix, f.path), f.bytes)
                    .with_partition_values(vec![ScalarValue::Date32(Some(f.day))]),
            );
        }
        groups
            .into_iter()
            .filter(|g| !g.1.is_empty())
            .map(|g| FileGroup::new(g.1))
            .collect()
    }
}

#[async_trait]
impl TableProvider for StreamTable {
    fn schema(&self) -> SchemaRef {
        self.stream.table_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Used for pruning only; DataFusion still applies every filter above the scan.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let table = self.schema();
        let stored = self.stream.scan_schema();
        let wanted: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..table.fields().len()).collect(),
        };
        let to_stored = |i: usize| stored.index_of(table.field(i).name());
        let id_col = table.index_of("event_id")?;
        if !wanted.contains(&id_col) {
            let inner = wanted
                .iter()
                .map(|&i| to_stored(i))
                .collect::<Result<Vec<_>, _>>()?;
            return self.scan_stored(state, inner, filters, limit).await;
        }
        // `event_id` is derived (model::identity): scan its inputs too, then compute it.
        let mut inner = Vec::new();
        for i in wanted.iter().filter(|&&i| i != id_col) {
            inner.push(to_stored(*i)?);
        }
        for c in id_inputs(self.stream) {
            let i = stored.index_of(c.name())?;
            if !inner.contains(&i) {
                inner.push(i);
            }
        }
        let input = self
            .scan_stored(state, inner.clone(), filters, limit)
            .await?;
        // Every stored column used below was put into `inner` above.
        let column = |i: usize| -> DfResult<Arc<dyn PhysicalExpr>> {
            let pos = inner.iter().position(|&j| j == i).ok_or_else(|| {
                DataFusionError::Internal(format!("{} is not scanned", stored.field(i).name()))
            })?;
            Ok(Arc::new(Column::new(stored.field(i).name(), pos)))
        };
        let args = id_inputs(self.stream)
            .map(|c| column(stored.index_of(c.name())?))
            .collect::<DfResult<Vec<_>>>()?;
        let id: Arc<dyn PhysicalExpr> = Arc::new(ScalarFunctionExpr::try_new(
            Arc::new(ScalarUDF::new_from_impl(EventIdFn::new(self.stream))),
            args,
            &input.schema(),
            Arc::new(state.config_options().clone()),
        )?);
        let exprs = wanted
            .iter()
            .map(|&i| {
                let name = table.field(i).name().clone();
                match i == id_col {
                    true => Ok(ProjectionExpr::new(id.clone(), name)),
                    false => Ok(ProjectionExpr::new(column(to_stored(i)?)?, name)),
                }
            })
            .collect::<DfResult<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
    }
}

impl StreamTable {
    /// Scans the stored columns `projection` (indices into [`Stream::scan_schema`]) of the live
    /// files that may hold rows matching `filters`, and of the fresh rows.
    async fn scan_stored(
        &self,
        state: &dyn Session,
        projection: Vec<usize>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let stored = self.stream.scan_schema();
        let bounds = super::table_prune::Bounds::from_filters(filters);
        let files: Vec<&FileEntry> = self
            .files
            .iter()
            .filter(|f| bounds.may_contain(f))
            .collect();
        let mut inputs: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        if !files.is_empty() {
            let format =
                ParquetFormat::default().with_options(state.table_options().parquet.clone());
            let table_schema = TableSchema::builder(self.stream.read_schema())
                .with_table_partition_cols(vec![Arc::new(
                    stored.field_with_name(DATE_COL)?.clone(),
                )])
                .build();
            let source = format.file_source(table_schema);
            let groups = self.file_groups(&files, state.config().target_partitions());
            let config = FileScanConfigBuilder::new(ObjectStoreUrl::parse(&self.base.url)?, source)
                .with_file_groups(groups)
                .with_projection_indices(Some(projection.clone()))?
                .with_limit(limit)
                .build();
            inputs.push(format.create_physical_plan(state, config).await?);
        }
        if !self.fresh.is_empty() {
            inputs.push(MemorySourceConfig::try_new_exec(
                std::slice::from_ref(&self.fresh),
                stored.clone(),
                Some(projection.clone()),
            )?);
        }
        if inputs.is_empty() {
            return Ok(Arc::new(EmptyExec::new(Arc::new(
                stored.project(&projection)?,
            ))));
        }
        UnionExec::try_new(inputs)
    }
}
