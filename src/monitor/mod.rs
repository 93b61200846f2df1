//! Monitoring from the same Parquet: alert and SLO rules ([`rules`]) evaluated with state kept
//! in the data root ([`eval`], [`state`]), notifications on transitions ([`notify`]), the
//! statistics of period-over-period comparison ([`stats`]) and an OpenMetrics exposition of
//! the store ([`metrics`]).

pub mod eval;
pub mod metrics;
pub mod notify;
pub mod rules;
pub mod state;
pub mod stats;

/// Running the queries of rules and metrics, and reading their columns as one type (cast when
/// needed).
pub(crate) mod cols {
    use datafusion::prelude::SessionContext;

    use arrow::array::{AsArray, Float64Array, Int64Array, StringArray};
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, Float64Type, Int64Type};
    use arrow::record_batch::RecordBatch;

    use crate::error::{Error, Result};

    /// Runs `sql`; a failure names the command (`alerts`, `metrics`) and the rule or metric.
    pub async fn collect(
        ctx: &SessionContext,
        command: &'static str,
        what: &str,
        sql: &str,
    ) -> Result<Vec<RecordBatch>> {
        let fail = |source| Error::Report {
            report: command,
            section: what.to_string(),
            source,
        };
        ctx.sql(sql)
            .await
            .map_err(fail)?
            .collect()
            .await
            .map_err(fail)
    }

    /// Column `i` as text.
    pub fn text(b: &RecordBatch, i: usize) -> Result<StringArray> {
        let a =
            cast(b.column(i), &DataType::Utf8).map_err(|e| Error::arrow("reading labels", e))?;
        Ok(a.as_string::<i32>().clone())
    }

    /// Column `i` as 64-bit integers.
    pub fn int(b: &RecordBatch, i: usize) -> Result<Int64Array> {
        let a =
            cast(b.column(i), &DataType::Int64).map_err(|e| Error::arrow("reading counts", e))?;
        Ok(a.as_primitive::<Int64Type>().clone())
    }

    /// Column `i` as doubles.
    pub fn float(b: &RecordBatch, i: usize) -> Result<Float64Array> {
        let a =
            cast(b.column(i), &DataType::Float64).map_err(|e| Error::arrow("reading values", e))?;
        Ok(a.as_primitive::<Float64Type>().clone())
    }
}
