//! obsq's SQL functions: `error_pattern(text)` and the exact nearest-rank `percentile_disc(x, p)`
//! (`sorted[ceil(p·n) − 1]`, nulls ignored; DataFusion 55 has no `percentile_disc`); the
//! statistics of `obsq compare` (`wilson_low(k, n)`, `wilson_high(k, n)`,
//! `prop_test_p(k1, n1, k2, n2)`); and [`EventIdFn`], which derives the `event_id` column in
//! table scans.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator,
    ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
    create_udf,
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
        vec![DataType::Utf8View],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let input = arrays[0].as_string_view();
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
    AggregateUDF::from(PercentileDisc {
        signature: Signature::exact(
            vec![DataType::Float64, DataType::Float64],
            Volatility::Immutable,
        ),
    })
}

/// Index of the nearest-rank percentile `p` in a sorted sample of `n` values.
pub fn nearest_rank_index(p: f64, n: usize) -> usize {
    let k = (p * n as f64).ceil() as i64 - 1;
    k.clamp(0, n as i64 - 1) as usize
}

/// The nearest-rank percentile `p` of `values` (reordered), NULL when empty or `p` unknown.
fn nearest_rank(p: Option<f64>, values: &mut [f64]) -> Option<f64> {
    let p = p.filter(|_| !values.is_empty())?;
    let k = nearest_rank_index(p, values.len());
    Some(*values.select_nth_unstable_by(k, f64::total_cmp).1)
}

/// Appends the non-null values of `v`: as one copy when there are no nulls (an iterator over
/// the nulls gives no size hint, so the vector grew, and was copied, many times: page faults
/// and `memmove` were a third of a grouped percentile's time).
fn extend_non_null(dst: &mut Vec<f64>, v: &arrow::array::PrimitiveArray<Float64Type>) {
    match v.null_count() {
        0 => dst.extend_from_slice(v.values()),
        _ => dst.extend(v.iter().flatten()),
    }
}

/// Takes `p` from the first non-null value of the `p` argument (a constant).
fn first_p(current: &mut Option<f64>, p: &ArrayRef) -> DfResult<()> {
    let p = p.as_primitive::<Float64Type>();
    if current.is_none()
        && let Some(v) = p.iter().flatten().next()
    {
        if !(0.0..=1.0).contains(&v) {
            return exec_err!("percentile_disc: p must be between 0 and 1, got {v}");
        }
        *current = Some(v);
    }
    Ok(())
}

/// `percentile_disc` with a per-group accumulator as well: DataFusion's adapter for a plain
/// [`Accumulator`] slices every batch once per group, which made `GROUP BY skill` with three
/// percentiles most of `skills stats`' time.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PercentileDisc {
    signature: Signature,
}

impl AggregateUDFImpl for PercentileDisc {
    fn name(&self) -> &str {
        "percentile_disc"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(NearestRank::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "values"),
                list_type(),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "p"),
                DataType::Float64,
                true,
            )),
        ])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> DfResult<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(NearestRankGroups::default()))
    }
}

#[derive(Debug, Default)]
struct NearestRank {
    values: Vec<f64>,
    p: Option<f64>,
}

impl Accumulator for NearestRank {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        first_p(&mut self.p, &values[1])?;
        extend_non_null(&mut self.values, values[0].as_primitive::<Float64Type>());
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        first_p(&mut self.p, &states[1])?;
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                extend_non_null(
                    &mut self.values,
                    lists.value(i).as_primitive::<Float64Type>(),
                );
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
        Ok(ScalarValue::Float64(nearest_rank(self.p, &mut self.values)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * 8
    }
}

/// [`NearestRank`] for many groups at once: each group's values, appended row by row.
#[derive(Debug, Default)]
struct NearestRankGroups {
    groups: Vec<Vec<f64>>,
    p: Option<f64>,
    /// Values held in all groups (for [`GroupsAccumulator::size`], called after every batch).
    held: usize,
}

impl NearestRankGroups {
    /// Whether row `i` passes the aggregate's `FILTER` (if any).
    fn passes(filter: Option<&BooleanArray>, i: usize) -> bool {
        filter.is_none_or(|f| f.is_valid(i) && f.value(i))
    }

    /// Takes the groups `emit_to` names, and what they held off the count.
    fn take(&mut self, emit_to: EmitTo) -> Vec<Vec<f64>> {
        let taken = emit_to.take_needed(&mut self.groups);
        self.held -= taken.iter().map(Vec::len).sum::<usize>();
        taken
    }
}

impl GroupsAccumulator for NearestRankGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> DfResult<()> {
        first_p(&mut self.p, &values[1])?;
        self.groups.resize_with(total_num_groups, Vec::new);
        let v = values[0].as_primitive::<Float64Type>();
        for (i, &g) in group_indices.iter().enumerate() {
            if v.is_valid(i) && Self::passes(opt_filter, i) {
                self.groups[g].push(v.value(i));
                self.held += 1;
            }
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DfResult<()> {
        first_p(&mut self.p, &values[1])?;
        self.groups.resize_with(total_num_groups, Vec::new);
        let lists = values[0].as_list::<i32>();
        for (i, &g) in group_indices.iter().enumerate() {
            if lists.is_valid(i) {
                let list = lists.value(i);
                let before = self.groups[g].len();
                extend_non_null(&mut self.groups[g], list.as_primitive::<Float64Type>());
                self.held += self.groups[g].len() - before;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> DfResult<ArrayRef> {
        let p = self.p;
        let out: Float64Array = self
            .take(emit_to)
            .into_iter()
            .map(|mut v| nearest_rank(p, &mut v))
            .collect();
        Ok(Arc::new(out))
    }

    fn state(&mut self, emit_to: EmitTo) -> DfResult<Vec<ArrayRef>> {
        let groups = self.take(emit_to);
        let n = groups.len();
        let offsets = arrow::buffer::OffsetBuffer::from_lengths(groups.iter().map(Vec::len));
        let flat = Float64Array::from(groups.concat());
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            offsets,
            Arc::new(flat),
            None,
        );
        let p = Float64Array::from(vec![self.p; n]);
        Ok(vec![Arc::new(list), Arc::new(p)])
    }

    /// Each row as the state of a group of its own: a list of its value (empty when the value
    /// is NULL or filtered out).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DfResult<Vec<ArrayRef>> {
        let v = values[0].as_primitive::<Float64Type>();
        let keep = |i: usize| v.is_valid(i) && Self::passes(opt_filter, i);
        let offsets =
            arrow::buffer::OffsetBuffer::from_lengths((0..v.len()).map(|i| keep(i) as usize));
        let flat: Float64Array = (0..v.len())
            .filter(|&i| keep(i))
            .map(|i| v.value(i))
            .collect();
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            offsets,
            Arc::new(flat),
            None,
        );
        Ok(vec![Arc::new(list), values[1].clone()])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.groups.capacity() * std::mem::size_of::<Vec<f64>>()
            + self.held * 8
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

#[cfg(test)]
mod grouped_tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, Float64Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
    use arrow::record_batch::RecordBatch;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use rand::{Rng, SeedableRng};

    /// Grouped percentiles (the per-group accumulator, its partial states merged across
    /// partitions, with a `FILTER`) equal sorting each group's values.
    #[tokio::test]
    async fn grouped_percentiles_equal_sorting_each_group() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Int64, false),
            Field::new("x", DataType::Float64, true),
        ]));
        let mut rows: Vec<(i64, Option<f64>)> = Vec::new();
        let mut partitions = vec![Vec::new(); 4];
        for b in 0..24 {
            let n = rng.random_range(1..3000);
            let g: Vec<i64> = (0..n).map(|_| rng.random_range(0..40)).collect();
            let x: Vec<Option<f64>> = (0..n)
                .map(|_| {
                    rng.random_bool(0.9)
                        .then(|| rng.random_range(0..500) as f64)
                })
                .collect();
            rows.extend(g.iter().copied().zip(x.iter().copied()));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(g)),
                    Arc::new(Float64Array::from(x)),
                ],
            )
            .unwrap();
            partitions[b % 4].push(batch);
        }
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
        super::register(&ctx);
        let table = MemTable::try_new(schema, partitions).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        for p in [0.0, 0.5, 0.95, 0.99, 1.0] {
            let sql = format!(
                "SELECT g, percentile_disc(x, {p:?}), percentile_disc(x, {p:?}) FILTER (WHERE x > 250) \
                 FROM t GROUP BY g ORDER BY g"
            );
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let mut seen = 0;
            for b in &batches {
                let g = b.column(0).as_primitive::<Int64Type>();
                let (all, high) = (
                    b.column(1).as_primitive::<Float64Type>(),
                    b.column(2).as_primitive::<Float64Type>(),
                );
                for i in 0..b.num_rows() {
                    let want = |keep: &dyn Fn(f64) -> bool| {
                        let mut v: Vec<f64> = rows
                            .iter()
                            .filter(|(k, _)| *k == g.value(i))
                            .filter_map(|(_, x)| x.filter(|x| keep(*x)))
                            .collect();
                        v.sort_by(f64::total_cmp);
                        (!v.is_empty()).then(|| v[super::nearest_rank_index(p, v.len())])
                    };
                    let got = |a: &arrow::array::Float64Array| a.is_valid(i).then(|| a.value(i));
                    assert_eq!(got(all), want(&|_| true), "group {} p {p}", g.value(i));
                    assert_eq!(
                        got(high),
                        want(&|x| x > 250.0),
                        "group {} p {p}",
                        g.value(i)
                    );
                    seen += 1;
                }
            }
            assert_eq!(seen, 40);
        }
    }
}
