//! obsq's SQL functions: `error_pattern(text)` and the exact nearest-rank `percentile_disc(x, p)`
//! (`sorted[ceil(p·n) − 1]`, nulls ignored; DataFusion 55 has no `percentile_disc`); the
//! statistics of `obsq compare` (`wilson_low(k, n)`, `wilson_high(k, n)`,
//! `prop_test_p(k1, n1, k2, n2)`); and [`EventIdFn`], which derives the `event_id` column in
//! table scans.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility, create_udaf, create_udf,
};
use datafusion::prelude::SessionContext;

use crate::model::Stream;
use crate::model::identity::{event_id_column, id_inputs};
use crate::model::pattern::error_pattern_cached;

/// Registers every obsq function on a session.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(error_pattern_udf());
    ctx.register_udaf(percentile_disc_udaf());
    for f in stats_udfs() {
        ctx.register_udf(f);
    }
}

/// `wilson_low(k, n)` and `wilson_high(k, n)`: the Wilson 95 % interval of `k` successes in `n`;
/// `prop_test_p(k1, n1, k2, n2)`: the two-sided p-value of the pooled two-proportion z-test.
/// NULL where a count is NULL or a window is empty.
pub fn stats_udfs() -> Vec<ScalarUDF> {
    use crate::monitor::stats::{Z95, two_proportion, wilson};
    type Stat = fn(&[Option<f64>]) -> Option<f64>;
    let make = |name: &str, arity: usize, f: Stat| {
        create_udf(
            name,
            vec![DataType::Float64; arity],
            DataType::Float64,
            Volatility::Immutable,
            Arc::new(move |args: &[ColumnarValue]| {
                let arrays = ColumnarValue::values_to_arrays(args)?;
                let cols: Vec<&Float64Array> = arrays
                    .iter()
                    .map(|a| a.as_primitive::<Float64Type>())
                    .collect();
                let len = arrays.first().map_or(0, |a| a.len());
                let mut vals = vec![None; arity];
                let out: Float64Array = (0..len)
                    .map(|r| {
                        for (v, c) in vals.iter_mut().zip(&cols) {
                            *v = c.is_valid(r).then(|| c.value(r));
                        }
                        f(&vals)
                    })
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(out)))
            }),
        )
    };
    vec![
        make("wilson_low", 2, |v| {
            wilson(v[0]?, v[1]?, Z95).map(|(lo, _)| lo)
        }),
        make("wilson_high", 2, |v| {
            wilson(v[0]?, v[1]?, Z95).map(|(_, hi)| hi)
        }),
        make("prop_test_p", 4, |v| {
            two_proportion(v[0]?, v[1]?, v[2]?, v[3]?).map(|(_, p)| p)
        }),
    ]
}

/// `error_pattern(text) -> text`.
pub fn error_pattern_udf() -> ScalarUDF {
    create_udf(
        "error_pattern",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let input = arrays[0].as_string::<i32>();
            let out: StringArray = input.iter().map(|v| v.map(error_pattern_cached)).collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// Derives a stream's `event_id` (never null) from its id-input columns, in
/// [`id_inputs`] order. Built by table scans; not a SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EventIdFn {
    stream: Stream,
    signature: Signature,
}

impl EventIdFn {
    /// The function for `stream`.
    pub fn new(stream: Stream) -> Self {
        EventIdFn {
            stream,
            signature: Signature::any(id_inputs(stream).count(), Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for EventIdFn {
    /// One name per stream, so that a plan shipped to a cluster's executors names the right one.
    fn name(&self) -> &str {
        match self.stream {
            Stream::Skill => "obsq_event_id_skill",
            Stream::Cuj => "obsq_event_id_cuj",
            Stream::Progress => "obsq_event_id_progress",
            Stream::Provider => "obsq_event_id_provider",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> DfResult<FieldRef> {
        Ok(Arc::new(Field::new("event_id", DataType::Utf8, false)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let ids = event_id_column(self.stream, &arrays)?;
        Ok(ColumnarValue::Array(Arc::new(ids)))
    }
}

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// `percentile_disc(value, p) -> double`: the exact nearest-rank percentile.
pub fn percentile_disc_udaf() -> AggregateUDF {
    create_udaf(
        "percentile_disc",
        vec![DataType::Float64, DataType::Float64],
        Arc::new(DataType::Float64),
        Volatility::Immutable,
        Arc::new(|_| Ok(Box::new(NearestRank::default()))),
        Arc::new(vec![list_type(), DataType::Float64]),
    )
}

/// Index of the nearest-rank percentile `p` in a sorted sample of `n` values.
pub fn nearest_rank_index(p: f64, n: usize) -> usize {
    let k = (p * n as f64).ceil() as i64 - 1;
    k.clamp(0, n as i64 - 1) as usize
}

#[derive(Debug, Default)]
struct NearestRank {
    values: Vec<f64>,
    p: Option<f64>,
}

impl NearestRank {
    fn set_p(&mut self, p: &ArrayRef) -> DfResult<()> {
        let p = p.as_primitive::<Float64Type>();
        if self.p.is_none()
            && let Some(v) = p.iter().flatten().next()
        {
            if !(0.0..=1.0).contains(&v) {
                return exec_err!("percentile_disc: p must be between 0 and 1, got {v}");
            }
            self.p = Some(v);
        }
        Ok(())
    }
}

impl Accumulator for NearestRank {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.set_p(&values[1])?;
        let v = values[0].as_primitive::<Float64Type>();
        self.values.extend(v.iter().flatten());
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        self.set_p(&states[1])?;
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                let v = lists.value(i);
                self.values
                    .extend(v.as_primitive::<Float64Type>().iter().flatten());
            }
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        let values = Float64Array::from(std::mem::take(&mut self.values));
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            arrow::buffer::OffsetBuffer::from_lengths([values.len()]),
            Arc::new(values),
            None,
        );
        Ok(vec![
            ScalarValue::List(Arc::new(list)),
            ScalarValue::Float64(self.p),
        ])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let (Some(p), false) = (self.p, self.values.is_empty()) else {
            return Ok(ScalarValue::Float64(None));
        };
        let k = nearest_rank_index(p, self.values.len());
        let (_, v, _) = self.values.select_nth_unstable_by(k, f64::total_cmp);
        Ok(ScalarValue::Float64(Some(*v)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::nearest_rank_index as idx;

    #[test]
    fn nearest_rank_matches_the_original_formula() {
        // sorted[max(0, ceil(p/100*n) - 1)]
        assert_eq!(idx(0.5, 1), 0);
        assert_eq!(idx(0.99, 1), 0);
        assert_eq!(idx(0.5, 2), 0);
        assert_eq!(idx(0.95, 2), 1);
        assert_eq!(idx(0.5, 100), 49);
        assert_eq!(idx(0.99, 100), 98);
        assert_eq!(idx(0.99, 101), 99);
        assert_eq!(idx(0.5, 99), 49);
        assert_eq!(idx(0.0, 10), 0);
        assert_eq!(idx(1.0, 10), 9);
    }
}

#[cfg(test)]
mod sql_tests {
    use datafusion::prelude::SessionContext;

    /// `percentile_disc(x, p)` over `values` (NULL for None), through SQL.
    async fn pct(values: &[Option<f64>], p: f64) -> Option<f64> {
        let ctx = SessionContext::new();
        super::register(&ctx);
        let rows: Vec<String> = values
            .iter()
            .map(|v| v.map_or("(CAST(NULL AS DOUBLE))".into(), |x| format!("({x:?})")))
            .collect();
        let sql = format!(
            "SELECT percentile_disc(x, {p:?}) FROM (VALUES {}) AS t(x)",
            rows.join(",")
        );
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let col = batches[0].column(0);
        use arrow::array::AsArray;
        let a = col.as_primitive::<arrow::datatypes::Float64Type>();
        (!arrow::array::Array::is_null(a, 0)).then(|| a.value(0))
    }

    fn seq(n: usize) -> Vec<Option<f64>> {
        // Shuffled so the UDAF has to sort: 1..=n in a scrambled order.
        let mut v: Vec<Option<f64>> = (1..=n).map(|i| Some(i as f64)).collect();
        v.reverse();
        v.rotate_left(n / 3);
        v
    }

    #[tokio::test]
    async fn nearest_rank_edge_cases() {
        assert_eq!(pct(&[Some(7.0)], 0.5).await, Some(7.0));
        assert_eq!(pct(&[Some(7.0)], 0.99).await, Some(7.0));
        assert_eq!(pct(&[Some(9.0), Some(3.0)], 0.5).await, Some(3.0));
        assert_eq!(pct(&[Some(9.0), Some(3.0)], 0.51).await, Some(9.0));
        // sorted[ceil(p*n) - 1] on 1..=n.
        for (n, p, want) in [
            (99, 0.5, 50.0),
            (99, 0.99, 99.0),
            (100, 0.5, 50.0),
            (100, 0.95, 95.0),
            (100, 0.99, 99.0),
            (101, 0.5, 51.0),
            (101, 0.99, 100.0),
            (101, 0.75, 76.0),
        ] {
            assert_eq!(pct(&seq(n), p).await, Some(want), "n={n} p={p}");
        }
        // Duplicates count once each; nulls are ignored.
        let dup = [
            Some(5.0),
            Some(5.0),
            Some(5.0),
            Some(1.0),
            None,
            Some(9.0),
            None,
        ];
        assert_eq!(pct(&dup, 0.2).await, Some(1.0));
        assert_eq!(pct(&dup, 0.5).await, Some(5.0));
        assert_eq!(pct(&dup, 0.8).await, Some(5.0));
        assert_eq!(pct(&dup, 0.81).await, Some(9.0));
        assert_eq!(pct(&[None, None], 0.5).await, None);
    }
}
