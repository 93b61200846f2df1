//! `obsq metrics`: the store as a Prometheus text exposition (format 0.0.4, which
//! node_exporter's textfile collector and `promtool check metrics` read). Names follow the
//! OpenTelemetry GenAI conventions translated to Prometheus (dots → `_`, base-unit suffix,
//! `_total` on counters) where one exists, `obsq_…` otherwise; durations are histograms with
//! the conventions' bucket boundaries; failures carry `error_type="_OTHER"` (the raw error text
//! would be a label of unbounded cardinality). Counters and histograms cover every event in the
//! store; the `obsq_window_*` gauges cover the `--window`.

use std::fmt::Write as _;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;

use super::cols;
use crate::error::{Error, Result};
use crate::reports::{Params, Report, Value, Window};

/// `gen_ai.workflow.duration` buckets, seconds.
const WORKFLOW_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
];

/// `gen_ai.client.operation.duration` and `gen_ai.execute_tool.duration` buckets: 0.01 s
/// doubling to 81.92 s.
fn client_buckets() -> Vec<f64> {
    (0..14).map(|k| 0.01 * f64::from(1u32 << k)).collect()
}

/// One histogram family: where its events are and how they are labelled.
struct Hist {
    name: &'static str,
    help: &'static str,
    table: &'static str,
    /// (label, SQL expression) pairs.
    labels: &'static [(&'static str, &'static str)],
    /// SQL of a failed event.
    failed: &'static str,
    /// SQL of the duration in ms.
    duration: &'static str,
}

const PROVIDER_NAME: &str =
    "CASE WHEN provider = 'google' THEN 'gcp.gen_ai' ELSE CAST(provider AS VARCHAR) END";

const HISTOGRAMS: &[Hist] = &[
    Hist {
        name: "gen_ai_workflow_duration_seconds",
        help: "Duration of CUJ (workflow) runs (OTel gen_ai.workflow.duration).",
        table: "cuj_runs",
        labels: &[("gen_ai_workflow_name", "CAST(cuj_id AS VARCHAR)")],
        failed: "NOT success",
        duration: "duration_ms",
    },
    Hist {
        name: "gen_ai_execute_tool_duration_seconds",
        help: "Duration of skill (tool) invocations (OTel gen_ai.execute_tool.duration).",
        table: "skill_invocations",
        labels: &[
            ("gen_ai_tool_name", "CAST(skill AS VARCHAR)"),
            ("gen_ai_agent_name", "CAST(agent AS VARCHAR)"),
        ],
        failed: "result = 'failure'",
        duration: "duration_ms",
    },
    Hist {
        name: "gen_ai_client_operation_duration_seconds",
        help: "Latency of LLM-provider calls (OTel gen_ai.client.operation.duration).",
        table: "provider_calls",
        labels: &[
            ("gen_ai_provider_name", PROVIDER_NAME),
            ("gen_ai_request_model", "CAST(model AS VARCHAR)"),
        ],
        failed: "NOT success",
        duration: "latency_ms",
    },
];

/// One counter family: `SELECT <labels…>, <value>` grouped by the labels.
struct Counter {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    sql: String,
}

/// Builds the exposition at `now` with windowed gauges over `window_ms`.
pub async fn exposition(ctx: &SessionContext, now: i64, window_ms: i64) -> Result<String> {
    let mut out = String::new();
    for h in HISTOGRAMS {
        let buckets = if h.table == "cuj_runs" {
            WORKFLOW_BUCKETS.to_vec()
        } else {
            client_buckets()
        };
        histogram(ctx, h, &buckets, &mut out).await?;
    }
    for c in counters(now, window_ms)? {
        counter(ctx, &c, &mut out).await?;
    }
    Ok(out)
}

fn counters(now: i64, window_ms: i64) -> Result<Vec<Counter>> {
    let from = format!("to_timestamp_millis({})", now - window_ms);
    let to = format!("to_timestamp_millis({now})");
    let mut stalled = Params::new(now, Window::Ms(86_400_000));
    stalled.set("stall_ms", Value::Int(600_000));
    let q = Report::ProgressRuns.query()?;
    let runs = stalled.bind(&q.statement(&q.sections[0]))?;
    let outcome = |ok: &str| format!("CASE WHEN {ok} THEN 'success' ELSE 'failure' END");
    Ok(vec![
        Counter {
            name: "obsq_cuj_runs_total",
            kind: "counter",
            help: "CUJ (workflow) runs in the store.",
            labels: &["gen_ai_workflow_name", "outcome"],
            sql: format!(
                "SELECT CAST(cuj_id AS VARCHAR), {}, count(*) FROM cuj_runs GROUP BY 1, 2",
                outcome("success")
            ),
        },
        Counter {
            name: "obsq_skill_invocations_total",
            kind: "counter",
            help: "Skill invocations in the store, by result (success, failure, other).",
            labels: &["gen_ai_tool_name", "gen_ai_agent_name", "result"],
            sql: "SELECT CAST(skill AS VARCHAR), CAST(agent AS VARCHAR),
                    CASE WHEN result IN ('success', 'failure') THEN result ELSE 'other' END,
                    count(*) FROM skill_invocations GROUP BY 1, 2, 3"
                .into(),
        },
        Counter {
            name: "obsq_skill_cache_hits_total",
            kind: "counter",
            help: "Skill invocations answered from cache.",
            labels: &["gen_ai_tool_name"],
            sql: "SELECT CAST(skill AS VARCHAR), count(*) FILTER (WHERE cache_hit)
                  FROM skill_invocations GROUP BY 1"
                .into(),
        },
        Counter {
            name: "obsq_provider_calls_total",
            kind: "counter",
            help: "LLM-provider calls in the store.",
            labels: &["gen_ai_provider_name", "gen_ai_request_model", "outcome"],
            sql: format!(
                "SELECT {PROVIDER_NAME}, CAST(model AS VARCHAR), {}, count(*) FROM provider_calls GROUP BY 1, 2, 3",
                outcome("success")
            ),
        },
        Counter {
            name: "obsq_progress_events_total",
            kind: "counter",
            help: "Progress events in the store.",
            labels: &[],
            sql: "SELECT count(*) FROM progress_events".into(),
        },
        Counter {
            name: "obsq_progress_runs_stalled",
            kind: "gauge",
            help: "Runs with progress in the last 24h that are not finished and silent for 10m.",
            labels: &[],
            sql: format!("SELECT count(*) FILTER (WHERE stalled) FROM ({runs})"),
        },
        Counter {
            name: "obsq_last_event_timestamp_seconds",
            kind: "gauge",
            help: "Time of the newest event per stream (epoch seconds).",
            labels: &["stream"],
            sql: ["cuj_runs", "skill_invocations", "provider_calls", "progress_events"]
                .iter()
                .map(|t| {
                    format!(
                        "SELECT '{t}', CAST(to_unixtime(max(ts)) AS DOUBLE) FROM {t} HAVING count(*) > 0"
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL "),
        },
        Counter {
            name: "obsq_window_events",
            kind: "gauge",
            help: "Events per stream in the --window ending now.",
            labels: &["stream"],
            sql: ["cuj_runs", "skill_invocations", "provider_calls", "progress_events"]
                .iter()
                .map(|t| {
                    format!("SELECT '{t}', count(*) FROM {t} WHERE ts BETWEEN {from} AND {to}")
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL "),
        },
        Counter {
            name: "obsq_window_success_ratio",
            kind: "gauge",
            help: "Success ratio per stream in the --window ending now (absent without events).",
            labels: &["stream"],
            sql: format!(
                "SELECT 'cuj_runs', avg(CASE WHEN success THEN 1.0 ELSE 0.0 END) FROM cuj_runs
                   WHERE ts BETWEEN {from} AND {to} HAVING count(*) > 0
                 UNION ALL
                 SELECT 'skill_invocations', avg(CASE WHEN result = 'success' THEN 1.0 ELSE 0.0 END)
                   FROM skill_invocations
                   WHERE ts BETWEEN {from} AND {to} AND result IN ('success', 'failure')
                   HAVING count(*) > 0
                 UNION ALL
                 SELECT 'provider_calls', avg(CASE WHEN success THEN 1.0 ELSE 0.0 END)
                   FROM provider_calls WHERE ts BETWEEN {from} AND {to} HAVING count(*) > 0"
            ),
        },
        Counter {
            name: "obsq_ingest_lag_bytes",
            kind: "gauge",
            help: "Bytes of source files not yet ingested.",
            labels: &["stream"],
            sql: "SELECT stream, sum(lag_bytes) FROM system.ingest_lag GROUP BY 1".into(),
        },
        Counter {
            name: "obsq_quarantined_lines",
            kind: "gauge",
            help: "Lines held in quarantine (rejected by ingest or backfill).",
            labels: &["stream"],
            sql: "SELECT stream, sum(lines) FROM system.quarantine_sources GROUP BY 1".into(),
        },
        Counter {
            name: "obsq_store_bytes",
            kind: "gauge",
            help: "Bytes of live files in the store, by kind (data, quarantine).",
            labels: &["kind"],
            sql: "SELECT kind, sum(bytes) FROM system.files WHERE state = 'live' GROUP BY 1"
                .into(),
        },
    ])
}

async fn histogram(
    ctx: &SessionContext,
    h: &Hist,
    buckets: &[f64],
    out: &mut String,
) -> Result<()> {
    let labels: Vec<String> = h.labels.iter().map(|(_, e)| e.to_string()).collect();
    let mut cols = labels.clone();
    cols.push(format!("{} AS failed", h.failed));
    cols.push(format!("count({})", h.duration));
    cols.push(format!("CAST(sum({}) AS DOUBLE) / 1000.0", h.duration));
    for le in buckets {
        cols.push(format!(
            "count(*) FILTER (WHERE {} <= {})",
            h.duration,
            le * 1000.0
        ));
    }
    let n = labels.len() + 1;
    let group: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    let sql = format!(
        "SELECT {} FROM {} GROUP BY {} ORDER BY {}",
        cols.join(", "),
        h.table,
        group.join(", "),
        group.join(", ")
    );
    let _ = writeln!(out, "# HELP {} {}", h.name, h.help);
    let _ = writeln!(out, "# TYPE {} histogram", h.name);
    for b in cols::collect(ctx, "metrics", h.name, &sql).await? {
        let label_cols: Vec<_> = (0..labels.len())
            .map(|i| cols::text(&b, i))
            .collect::<Result<_>>()?;
        let failed = cast(b.column(labels.len()), &DataType::Boolean)
            .map_err(|e| Error::arrow("reading metric labels", e))?;
        let failed = failed.as_boolean();
        let count = cols::int(&b, n)?;
        let sum = cols::float(&b, n + 1)?;
        let bucket_cols: Vec<_> = (0..buckets.len())
            .map(|k| cols::int(&b, n + 2 + k))
            .collect::<Result<_>>()?;
        for r in 0..b.num_rows() {
            let count_r = count.value(r);
            if count_r == 0 {
                continue; // Events without a duration have no observation.
            }
            let mut l: Vec<(&str, String)> = h
                .labels
                .iter()
                .zip(&label_cols)
                .map(|((name, _), c)| (*name, label_value(c, r)))
                .collect();
            if failed.is_valid(r) && failed.value(r) {
                l.push(("error_type", "_OTHER".into()));
            }
            for (k, le) in buckets.iter().enumerate() {
                let mut lb = l.clone();
                lb.push(("le", number(*le)));
                let _ = writeln!(
                    out,
                    "{}_bucket{} {}",
                    h.name,
                    label_text(&lb),
                    bucket_cols[k].value(r)
                );
            }
            let mut lb = l.clone();
            lb.push(("le", "+Inf".into()));
            let _ = writeln!(out, "{}_bucket{} {count_r}", h.name, label_text(&lb));
            let s = if sum.is_valid(r) { sum.value(r) } else { 0.0 };
            let _ = writeln!(out, "{}_sum{} {}", h.name, label_text(&l), number(s));
            let _ = writeln!(out, "{}_count{} {count_r}", h.name, label_text(&l));
        }
    }
    Ok(())
}

async fn counter(ctx: &SessionContext, c: &Counter, out: &mut String) -> Result<()> {
    let _ = writeln!(out, "# HELP {} {}", c.name, c.help);
    let _ = writeln!(out, "# TYPE {} {}", c.name, c.kind);
    let mut lines = Vec::new();
    for b in cols::collect(ctx, "metrics", c.name, &c.sql).await? {
        let label_cols: Vec<_> = (0..c.labels.len())
            .map(|i| cols::text(&b, i))
            .collect::<Result<_>>()?;
        let v = cols::float(&b, c.labels.len())?;
        for r in 0..b.num_rows() {
            let l: Vec<(&str, String)> = c
                .labels
                .iter()
                .zip(&label_cols)
                .map(|(name, col)| (*name, label_value(col, r)))
                .collect();
            let value = if v.is_valid(r) { v.value(r) } else { 0.0 };
            lines.push(format!("{}{} {}", c.name, label_text(&l), number(value)));
        }
    }
    lines.sort();
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    Ok(())
}

fn label_value(c: &arrow::array::StringArray, r: usize) -> String {
    if c.is_valid(r) {
        c.value(r).to_string()
    } else {
        String::new()
    }
}

/// `{a="x",b="y"}` with values escaped (`\\`, `\"`, `\n`); empty values are left out, as
/// Prometheus treats an empty label as absent.
fn label_text(labels: &[(&str, String)]) -> String {
    let parts: Vec<String> = labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_buckets_double() {
        let l = [("a", "x\"y\\z\nw".to_string()), ("b", String::new())];
        assert_eq!(label_text(&l), r#"{a="x\"y\\z\nw"}"#);
        let b = client_buckets();
        assert_eq!(b.len(), 14);
        assert_eq!(number(b[13]), "81.92");
        assert_eq!(number(b[0]), "0.01");
    }
}
