//! Canned reports: [`Report`] names a `queries/<name>.sql` file (compiled into the binary); its
//! statements run with bound [`Params`] on the shared session and come back as [`Section`]s of
//! Arrow batches, each with the JSON shape the original tools printed. Rendering is elsewhere.

pub mod dashboard;
pub mod params;
pub mod query_file;
pub mod table_fn;

use arrow::record_batch::RecordBatch;
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

async fn run_file(ctx: &SessionContext, report: Report, params: &Params) -> Result<Vec<Section>> {
    let file = report.query()?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
