//! Canned reports: [`Report`] names a `queries/<name>.sql` file (compiled into the binary); its
//! statements run with bound [`Params`] on the shared session and come back as [`Section`]s of
//! Arrow batches, each with the JSON shape the original tools printed. Rendering is elsewhere.

pub mod dashboard;
pub mod params;
pub mod query_file;
pub mod table_fn;

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

pub use params::{Params, Value, Window};
pub use query_file::{QueryFile, SectionSpec, Shape};

/// Every canned report (one `queries/*.sql` file each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Report {
    /// `skills query`.
    SkillsQuery,
    /// `skills stats`.
    SkillsStats,
    /// The dashboard's top skills.
    SkillsTop,
    /// `cuj rate`.
    CujRate,
    /// `cuj all`.
    CujAll,
    /// `cuj trending`.
    CujTrending,
    /// `cuj failures`.
    CujFailures,
    /// `cuj percentiles`.
    CujPercentiles,
    /// The dashboard's per-window CUJ summary.
    CujSummary,
    /// The dashboard's highlights.
    CujHighlights,
    /// The dashboard's per-CUJ trend lines.
    CujTrends,
    /// `progress history` (and `progress current`: the latest one).
    ProgressHistory,
    /// `progress runs`.
    ProgressRuns,
    /// `provider status`.
    ProviderStatus,
    /// `provider overall`.
    ProviderOverall,
    /// `provider compare`.
    ProviderCompare,
    /// Storage health (dashboard).
    StorageHealth,
    /// `doctor`: findings with suggested actions.
    Doctor,
    /// `compare`: this window against the one before it.
    Compare,
}

impl Report {
    /// Every report.
    pub const ALL: [Report; 19] = [
        Report::SkillsQuery,
        Report::SkillsStats,
        Report::SkillsTop,
        Report::CujRate,
        Report::CujAll,
        Report::CujTrending,
        Report::CujFailures,
        Report::CujPercentiles,
        Report::CujSummary,
        Report::CujHighlights,
        Report::CujTrends,
        Report::ProgressHistory,
        Report::ProgressRuns,
        Report::ProviderStatus,
        Report::ProviderOverall,
        Report::ProviderCompare,
        Report::StorageHealth,
        Report::Doctor,
        Report::Compare,
    ];

    /// The file name in `queries/` without `.sql` (also the report's name).
    pub fn name(self) -> &'static str {
        self.file().0
    }

    /// (name, SQL text) of the report's query file.
    fn file(self) -> (&'static str, &'static str) {
        macro_rules! q {
            ($name:literal) => {
                (
                    $name,
                    include_str!(concat!("../../queries/", $name, ".sql")),
                )
            };
        }
        match self {
            Report::SkillsQuery => q!("skills_query"),
            Report::SkillsStats => q!("skills_stats"),
            Report::SkillsTop => q!("skills_top"),
            Report::CujRate => q!("cuj_rate"),
            Report::CujAll => q!("cuj_all"),
            Report::CujTrending => q!("cuj_trending"),
            Report::CujFailures => q!("cuj_failures"),
            Report::CujPercentiles => q!("cuj_percentiles"),
            Report::CujSummary => q!("cuj_summary"),
            Report::CujHighlights => q!("cuj_highlights"),
            Report::CujTrends => q!("cuj_trends"),
            Report::ProgressHistory => q!("progress_history"),
            Report::ProgressRuns => q!("progress_runs"),
            Report::ProviderStatus => q!("provider_status"),
            Report::ProviderOverall => q!("provider_overall"),
            Report::ProviderCompare => q!("provider_compare"),
            Report::StorageHealth => q!("storage_health"),
            Report::Doctor => q!("doctor"),
            Report::Compare => q!("compare"),
        }
    }

    /// The parsed query file.
    pub fn query(self) -> Result<QueryFile> {
        let (name, text) = self.file();
        QueryFile::parse(&format!("{name}.sql"), text)
    }

    /// Other reports whose sections this one includes, under a key.
    fn includes(self) -> &'static [(&'static str, Report)] {
        match self {
            Report::ProviderOverall => &[("providers", Report::ProviderStatus)],
            _ => &[],
        }
    }

    /// Looks a report up by name (`cuj_rate`).
    pub fn from_name(name: &str) -> Option<Report> {
        Report::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// One computed section of a report.
#[derive(Debug, Clone)]
pub struct Section {
    /// Key path below the report's top level (empty for the top level).
    pub path: Vec<String>,
    /// JSON shape.
    pub shape: Shape,
    /// Text columns holding JSON.
    pub json_columns: Vec<String>,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

impl Section {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// The path as `a.b` (empty at the top level).
    pub fn title(&self) -> String {
        self.path.join(".")
    }
}

/// Runs a report: its own sections, then the sections of the reports it includes.
pub async fn run(ctx: &SessionContext, report: Report, params: &Params) -> Result<Vec<Section>> {
    let mut out = run_file(ctx, report, params).await?;
    for (key, included) in report.includes() {
        for mut s in run_file(ctx, *included, params).await? {
            s.path.insert(0, key.to_string());
            out.push(s);
        }
    }
    Ok(out)
}

/// The most memory (MiB) a view may take to be computed once for all the sections that read
/// it; a larger one is left inlined (read again by each section, in bounded memory).
/// `OBSQ_VIEW_MEMORY_MB` overrides it; `0` inlines every view.
const VIEW_MEMORY_MB: usize = 256;

/// [`VIEW_MEMORY_MB`] or `OBSQ_VIEW_MEMORY_MB`, in bytes.
fn view_memory_bytes() -> Result<usize> {
    match std::env::var("OBSQ_VIEW_MEMORY_MB") {
        Err(_) => Ok(VIEW_MEMORY_MB << 20),
        Ok(v) if v.trim().is_empty() => Ok(VIEW_MEMORY_MB << 20),
        Ok(v) => v.trim().parse::<usize>().map(|mb| mb << 20).map_err(|_| {
            Error::Usage(format!(
                "OBSQ_VIEW_MEMORY_MB={v:?} is not a whole number of MiB (e.g. 256; 0 computes \
                 report views again for each section)"
            ))
        }),
    }
}

async fn run_file(ctx: &SessionContext, report: Report, params: &Params) -> Result<Vec<Section>> {
    let mut file = report.query()?;
    let mut held = HeldViews {
        ctx,
        names: Vec::new(),
    };
    // A view marked `hold` is computed once, into memory (DuckDB does the same with a CTE read
    // twice): `cuj failures` read its view seven times, each a scan of the window. Not on a
    // cluster: its executors cannot read this process's memory.
    let limit = view_memory_bytes()?;
    if limit > 0 && !crate::engine::is_cluster(ctx) {
        for (name, sql) in file.views.clone() {
            if !file.held.contains(&name) {
                continue;
            }
            let sql = params.bind(&sql)?;
            if let Some(table) = hold_view(ctx, report, &name, &sql, limit).await? {
                file = file.with_view(&name, format!("SELECT * FROM {table}"));
                held.names.push(table);
            }
        }
    }
    let jobs = file.sections.iter().map(|spec| async {
        let sql = params.bind(&file.statement(spec))?;
        let fail = |source| Error::Report {
            report: report.name(),
            section: spec.path.join("."),
            source,
        };
        let df = ctx.sql(&sql).await.map_err(fail)?;
        let batches = df.collect().await.map_err(fail)?;
        Ok::<_, Error>(Section {
            path: spec.path.clone(),
            shape: spec.shape.clone(),
            json_columns: spec.json_columns.clone(),
            batches,
        })
    });
    futures::future::try_join_all(jobs).await
}

/// Computes a view and registers its rows as a table of its own (a unique name); `None` when it
/// outgrows `limit` bytes.
async fn hold_view(
    ctx: &SessionContext,
    report: Report,
    name: &str,
    sql: &str,
    limit: usize,
) -> Result<Option<String>> {
    use futures::StreamExt;
    let fail = |source| Error::Report {
        report: report.name(),
        section: format!("view {name}"),
        source,
    };
    let mut stream = ctx
        .sql(sql)
        .await
        .map_err(fail)?
        .execute_stream()
        .await
        .map_err(fail)?;
    let schema = stream.schema();
    let (mut batches, mut bytes) = (Vec::new(), 0);
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(fail)?;
        bytes += batch.get_array_memory_size();
        if bytes > limit {
            return Ok(None);
        }
        batches.push(batch);
    }
    // One partition per target partition, so the sections still run in parallel.
    let n = ctx.state().config().target_partitions().max(1);
    let mut partitions = vec![Vec::new(); n];
    for (i, b) in batches.into_iter().enumerate() {
        partitions[i % n].push(b);
    }
    let table = MemTable::try_new(schema, partitions).map_err(fail)?;
    let unique = format!("obsq_view_{name}_{}", uuid::Uuid::now_v7().simple());
    ctx.register_table(unique.as_str(), Arc::new(table))
        .map_err(fail)?;
    Ok(Some(unique))
}

/// The tables of held views, deregistered when the report is done (or dropped half-way).
struct HeldViews<'a> {
    ctx: &'a SessionContext,
    names: Vec<String>,
}

impl Drop for HeldViews<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = self.ctx.deregister_table(name.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A held view is a table of its own until the report is done; one over the limit is not
    /// held at all.
    #[tokio::test]
    async fn a_held_view_is_registered_until_dropped_and_a_large_one_is_not_held() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t AS SELECT * FROM (VALUES (1), (2), (3)) AS v(x)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let sql = "SELECT x FROM t WHERE x > 1";
        let too_small = hold_view(&ctx, Report::CujFailures, "f", sql, 1)
            .await
            .unwrap();
        assert_eq!(too_small, None);
        let name = hold_view(&ctx, Report::CujFailures, "f", sql, 1 << 20)
            .await
            .unwrap()
            .unwrap();
        let held = HeldViews {
            ctx: &ctx,
            names: vec![name.clone()],
        };
        let rows = ctx
            .sql(&format!("SELECT sum(x) FROM {name}"))
            .await
            .unwrap();
        let batches = rows.collect().await.unwrap();
        let sum = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(sum.contains("| 5 "), "{sum}");
        drop(held);
        assert!(!ctx.table_exist(name.as_str()).unwrap());
    }

    #[test]
    fn every_query_file_parses_and_binds() {
        let p = Params::new(0, Window::All);
        for r in Report::ALL {
            let q = r.query().unwrap();
            assert_eq!(q.name, r.name());
            assert!(!q.description.is_empty(), "{}", r.name());
            assert!(!q.params.is_empty(), "{}", r.name());
            for s in &q.sections {
                p.bind(&q.statement(s)).unwrap();
            }
        }
    }
}
