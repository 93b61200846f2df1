//! The canned reports as SQL table functions, for `obsq sql` and the REPL:
//! `SELECT * FROM cuj_rate('24h')`, `provider_status('7d')`, `top_failure_patterns('7d', 10)`.
//! Each call binds the report's parameters and returns its SQL as a view, so a report composes
//! with the rest of a query (joins, filters, ORDER BY) and is planned like any other SQL.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue, plan_err};
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;

use super::params::parse_duration_ms;
use super::{Params, Report, Value, Window};

/// A positional argument of a report table function.
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// `'24h'`, `'7d'`, `'all'`, …
    Window,
    /// A CUJ id (NULL or omitted: all).
    Cuj,
    /// How many groups.
    Top,
    /// Number of trending buckets.
    Buckets,
    /// Trending bucket size (`'1h'`).
    Bucket,
    /// A provider name.
    Provider,
    /// Stall threshold (`'10m'`).
    Stall,
    /// `compare`: cuj, skill or provider.
    Stream,
    /// `compare`: a group column or `all`.
    By,
}

impl Arg {
    fn name(self) -> &'static str {
        match self {
            Arg::Window => "window",
            Arg::Cuj => "cuj",
            Arg::Top => "top",
            Arg::Buckets => "buckets",
            Arg::Bucket => "bucket",
            Arg::Provider => "provider",
            Arg::Stall => "stall",
            Arg::Stream => "stream",
            Arg::By => "by",
        }
    }
}

/// A table function: its name, the report and section it returns, its arguments.
#[derive(Debug, Clone, Copy)]
pub struct ReportFunction {
    /// The SQL name.
    pub name: &'static str,
    report: Report,
    section: &'static str,
    args: &'static [Arg],
}

impl ReportFunction {
    /// `name(arg, …)` as shown in help.
    pub fn signature(&self) -> String {
        let args: Vec<&str> = self.args.iter().map(|a| a.name()).collect();
        format!("{}({})", self.name, args.join(", "))
    }

    /// The report's description.
    pub fn description(&self) -> String {
        self.report
            .query()
            .map(|q| q.description)
            .unwrap_or_default()
    }
}

/// Every report table function.
pub const FUNCTIONS: &[ReportFunction] = &[
    f("cuj_rate", Report::CujRate, "", &[Arg::Window, Arg::Cuj]),
    f("cuj_all", Report::CujAll, "", &[Arg::Window]),
    f(
        "cuj_trending",
        Report::CujTrending,
        "",
        &[Arg::Cuj, Arg::Buckets, Arg::Bucket],
    ),
    f(
        "cuj_percentiles",
        Report::CujPercentiles,
        "",
        &[Arg::Window, Arg::Cuj],
    ),
    f(
        "top_failures",
        Report::CujFailures,
        "top_errors",
        &[Arg::Window, Arg::Top, Arg::Cuj],
    ),
    f(
        "top_failure_patterns",
        Report::CujFailures,
        "top_patterns",
        &[Arg::Window, Arg::Top, Arg::Cuj],
    ),
    f(
        "recent_failures",
        Report::CujFailures,
        "recent_failures",
        &[Arg::Window, Arg::Cuj],
    ),
    f(
        "skill_stats",
        Report::SkillsStats,
        "by_skill",
        &[Arg::Window],
    ),
    f(
        "provider_status",
        Report::ProviderStatus,
        "",
        &[Arg::Window, Arg::Provider],
    ),
    f(
        "provider_compare",
        Report::ProviderCompare,
        "",
        &[Arg::Window],
    ),
    f("progress_runs", Report::ProgressRuns, "", &[Arg::Stall]),
    f("storage_health", Report::StorageHealth, "", &[]),
    f(
        "compare",
        Report::Compare,
        "groups",
        &[Arg::Window, Arg::Stream, Arg::By],
    ),
];

const fn f(
    name: &'static str,
    report: Report,
    section: &'static str,
    args: &'static [Arg],
) -> ReportFunction {
    ReportFunction {
        name,
        report,
        section,
        args,
    }
}

/// Registers every report table function; windows end at `now_ms`.
pub fn register(ctx: &SessionContext, now_ms: i64) {
    for func in FUNCTIONS {
        ctx.register_udtf(
            func.name,
            Arc::new(Bound {
                func: *func,
                now_ms,
            }),
        );
    }
}

#[derive(Debug)]
struct Bound {
    func: ReportFunction,
    now_ms: i64,
}

impl TableFunctionImpl for Bound {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let f = &self.func;
        let exprs = args.exprs();
        if exprs.len() > f.args.len() {
            return plan_err!(
                "{} takes at most {} arguments: {}",
                f.name,
                f.args.len(),
                f.signature()
            );
        }
        let bad = |arg: Arg, v: &str| {
            DataFusionError::Plan(format!(
                "{}: invalid {} `{v}` in {}",
                f.name,
                arg.name(),
                f.signature()
            ))
        };
        let given: Vec<(Arg, String)> = f
            .args
            .iter()
            .zip(exprs)
            .filter_map(|(a, e)| literal(e).map(|v| (*a, v)))
            .collect();
        let window = match given.iter().find(|(a, _)| matches!(a, Arg::Window)) {
            Some((a, v)) => v.parse().map_err(|_| bad(*a, v))?,
            None => Window::Ms(86_400_000),
        };
        let mut params = Params::new(self.now_ms, window);
        let (mut buckets, mut bucket) = (24, 3_600_000);
        let (mut stream, mut by) = (None, None);
        for (arg, v) in given {
            let duration = || parse_duration_ms(&v).ok_or_else(|| bad(arg, &v));
            match arg {
                Arg::Window => {}
                Arg::Cuj => {
                    params.set("cuj", Value::Text(v));
                }
                Arg::Provider => {
                    params.set("provider", Value::Text(v));
                }
                Arg::Top => {
                    params.set("top", Value::Int(v.parse().map_err(|_| bad(arg, &v))?));
                }
                Arg::Buckets => buckets = v.parse().map_err(|_| bad(arg, &v))?,
                Arg::Bucket => bucket = duration()?,
                Arg::Stall => {
                    params.set("stall_ms", Value::Int(duration()?));
                }
                Arg::Stream => stream = Some(v),
                Arg::By => by = Some(v),
            }
        }
        if f.args.iter().any(|a| matches!(a, Arg::Stream)) {
            let (s, b) = crate::monitor::rules::compare_group(
                stream.as_deref().unwrap_or("cuj"),
                by.as_deref(),
            )
            .map_err(|e| DataFusionError::Plan(format!("{}: {e}", f.name)))?;
            params.set("stream", Value::Text(s.into()));
            params.set("by", Value::opt_text(b));
        }
        params.set_trend(buckets, bucket);
        let query = f
            .report
            .query()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let path: Vec<&str> = f.section.split('.').filter(|s| !s.is_empty()).collect();
        let Some(spec) = query.sections.iter().find(|s| s.path == path) else {
            return plan_err!(
                "{}: report {} has no section {}",
                f.name,
                f.report.name(),
                f.section
            );
        };
        let sql = params
            .bind(&query.statement(spec))
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{}: unsupported session type", f.name);
        };
        let ctx = SessionContext::new_with_state(state.clone());
        // Planning only reads registered schemas (no I/O), so it is safe to drive it here.
        let df = futures::executor::block_on(ctx.sql(&sql))?;
        Ok(df.into_view())
    }
}

/// Registers the doctor's findings as read-only views: `system.health` (one row per check, with
/// a suggested action) and `system.partitions` (files, bytes, rows, small files per stream and day).
pub async fn register_views(ctx: &SessionContext, now_ms: i64) -> crate::error::Result<()> {
    let query = Report::Doctor.query()?;
    let params = Params::new(now_ms, Window::All);
    for (section, name) in [
        ("checks", "system.health"),
        ("partitions", "system.partitions"),
    ] {
        let Some(spec) = query.sections.iter().find(|s| s.path == [section]) else {
            continue;
        };
        let sql = params.bind(&query.statement(spec))?;
        let view = ctx.sql(&sql).await?.into_view();
        ctx.register_table(name, view)?;
    }
    Ok(())
}

/// A literal argument as text (`NULL` → None).
fn literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Literal(v, _) if !v.is_null() => Some(match v {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => s.clone(),
            v => v.to_string(),
        }),
        _ => None,
    }
}
