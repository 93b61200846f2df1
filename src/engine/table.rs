//! [`StreamTable`]: a DataFusion table over a stream's live Parquet files (listed by the catalog,
//! never by listing directories) and its fresh in-memory rows.

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
use datafusion::error::Result as DfResult;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;

use crate::model::Stream;
use crate::model::schema::DATE_COL;
use crate::store::catalog::FileEntry;

use super::ROOT_URL;

/// One stream's table.
#[derive(Debug)]
pub struct StreamTable {
    stream: Stream,
    files: Vec<FileEntry>,
    fresh: Vec<RecordBatch>,
}

impl StreamTable {
    /// A table over `files` (live Parquet) and `fresh` (table-schema batches).
    pub fn new(stream: Stream, files: Vec<FileEntry>, fresh: Vec<RecordBatch>) -> Self {
        StreamTable {
            stream,
            files,
            fresh,
        }
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
                PartitionedFile::new(f.path.clone(), f.bytes)
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
            let table_schema = TableSchema::builder(self.stream.file_schema())
                .with_table_partition_cols(vec![Arc::new(
                    self.stream
                        .table_schema()
                        .field_with_name(DATE_COL)?
                        .clone(),
                )])
                .build();
            let source = format.file_source(table_schema);
            let groups = self.file_groups(&files, state.config().target_partitions());
            let config = FileScanConfigBuilder::new(ObjectStoreUrl::parse(ROOT_URL)?, source)
                .with_file_groups(groups)
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .build();
            inputs.push(format.create_physical_plan(state, config).await?);
        }
        if !self.fresh.is_empty() {
            inputs.push(MemorySourceConfig::try_new_exec(
                std::slice::from_ref(&self.fresh),
                self.schema(),
                projection.cloned(),
            )?);
        }
        if inputs.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema().project(p)?),
                None => self.schema(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        UnionExec::try_new(inputs)
    }
}
