//! The dashboard: CUJ summaries for 1h/24h/7d/30d, skill metrics for 1h/24h/7d (true windows,
//! not the original's whole-day file selection), top skills, highlights, provider health from the
//! provider stream, storage health, 7-day trends of the busiest CUJs and the week's failure
//! patterns and what changed since the week before — composed from the canned reports, keyed like the original `metrics-dashboard.json`.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, StringArray};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

use super::{Params, Report, Section, Shape, Value, Window, run};
use crate::error::{Error, Result};
use crate::model::timefmt::iso_ms;

/// CUJ windows (label, ms).
pub const CUJ_WINDOWS: [(&str, i64); 4] = [
    ("1h", 3_600_000),
    ("24h", 86_400_000),
    ("7d", 604_800_000),
    ("30d", 2_592_000_000),
];

/// Skill windows (label, ms).
pub const SKILL_WINDOWS: [(&str, i64); 3] =
    [("1h", 3_600_000), ("24h", 86_400_000), ("7d", 604_800_000)];

/// The window of the provider and highlight sections.
const DAY_MS: i64 = 86_400_000;

/// Computes every section of the dashboard at `now_ms`.
pub async fn dashboard(ctx: &SessionContext, now_ms: i64) -> Result<Vec<Section>> {
    let window = |ms| Params::new(now_ms, Window::Ms(ms));
    let mut jobs: Vec<(Vec<String>, Report, Params)> = Vec::new();
    for (label, ms) in CUJ_WINDOWS {
        jobs.push((
            path(&["summary", "cujs", label]),
            Report::CujAll,
            window(ms),
        ));
        let key = format!("{label}_summary");
        jobs.push((
            path(&["summary", "cujs", &key]),
            Report::CujSummary,
            window(ms),
        ));
    }
    for (label, ms) in SKILL_WINDOWS {
        jobs.push((
            path(&["summary", "skills", label]),
            Report::SkillsStats,
            window(ms),
        ));
        let key = format!("{label}_top_skills");
        jobs.push((
            path(&["summary", "skills", &key]),
            Report::SkillsTop,
            window(ms),
        ));
    }
    jobs.push((
        path(&["summary", "providers"]),
        Report::ProviderOverall,
        window(DAY_MS),
    ));
    jobs.push((
        path(&["summary", "storage"]),
        Report::StorageHealth,
        window(DAY_MS),
    ));
    jobs.push((path(&["highlights"]), Report::CujHighlights, window(DAY_MS)));
    let mut trend = window(7 * DAY_MS);
    trend.set_trend(7, DAY_MS).set("top", Value::Int(6));
    jobs.push((path(&["trends"]), Report::CujTrends, trend));
    let mut failures = window(7 * DAY_MS);
    failures.set("top", Value::Int(8));
    jobs.push((path(&["failures"]), Report::CujFailures, failures));
    // What changed: this week against the week before, per CUJ and per provider.
    for (key, stream, by) in [
        ("cujs", "cuj", "cuj_id"),
        ("providers", "provider", "provider"),
    ] {
        let mut p = window(7 * DAY_MS);
        p.set("stream", Value::Text(stream.into()));
        p.set("by", Value::Text(by.into()));
        jobs.push((path(&["what_changed", key]), Report::Compare, p));
    }

    let runs = jobs.iter().map(|(prefix, report, params)| async move {
        let sections = run(ctx, *report, params).await?;
        Ok::<_, Error>(sections.into_iter().map(move |mut s| {
            let mut p = prefix.clone();
            p.append(&mut s.path);
            s.path = p;
            s
        }))
    });
    let mut out = vec![header(now_ms)?];
    for sections in futures::future::try_join_all(runs).await? {
        out.extend(sections);
    }
    out.push(metadata()?);
    Ok(out)
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn one_row(path: &[&str], fields: Vec<(&str, ArrayRef)>) -> Result<Section> {
    let schema = Schema::new(
        fields
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        fields.into_iter().map(|(_, a)| a).collect(),
    )
    .map_err(|e| Error::arrow("building the dashboard header", e))?;
    Ok(Section {
        path: path.iter().map(|s| s.to_string()).collect(),
        shape: Shape::Merge,
        json_columns: Vec::new(),
        batches: vec![batch],
    })
}

fn text(v: &str) -> ArrayRef {
    Arc::new(StringArray::from(vec![v]))
}

fn header(now_ms: i64) -> Result<Section> {
    one_row(&[], vec![("generated_at", text(&iso_ms(now_ms)))])
}

fn metadata() -> Result<Section> {
    let yes: ArrayRef = Arc::new(BooleanArray::from(vec![true]));
    one_row(
        &["metadata"],
        vec![
            ("dashboard_version", text("1.0.0")),
            ("monitoring_enabled", yes),
            ("obsq_version", text(env!("CARGO_PKG_VERSION"))),
        ],
    )
}
