//! Evaluating the rules: one SQL query per rule over the stream tables (groups, events and the
//! measured value; for an SLO, good and bad events over the period and every burn window), then
//! a small state machine per rule and group — `ok`, `insufficient`, `pending` (breached for less
//! than `for`), `firing`, `resolved` — that also decides which transitions are notified.

use std::collections::{BTreeMap, HashMap};

use arrow::array::Array;
use datafusion::prelude::SessionContext;

use super::cols;
use super::rules::{AlertRule, Metric, Rules, SloRule, Source};
use super::state::{State, Tracked, Transition};
use crate::error::Result;
use crate::reports::{Params, Report, Value, Window};

/// One burn-rate condition of an SLO as measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Burn {
    /// The long window, ms.
    pub long_ms: i64,
    /// The short window, ms.
    pub short_ms: i64,
    /// Error rate over the long window ÷ the error budget (None without events).
    pub long_rate: Option<f64>,
    /// The same over the short window.
    pub short_rate: Option<f64>,
    /// The threshold both must exceed.
    pub threshold: f64,
    /// Its severity.
    pub severity: String,
    /// Both windows exceed the threshold.
    pub triggered: bool,
}

/// One rule and group after a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `alert` or `slo`.
    pub kind: &'static str,
    /// The rule.
    pub rule: String,
    /// The grouping column, if any.
    pub by: Option<&'static str>,
    /// The group's value (empty without `by`).
    pub group: String,
    /// The new state.
    pub state: State,
    /// What was measured (`success_rate`, …; SLOs: `burn_rate`).
    pub metric: String,
    /// The measured value (SLOs: the burn rate over the deciding long window).
    pub value: Option<f64>,
    /// `below` or `above`.
    pub op: &'static str,
    /// The threshold.
    pub threshold: f64,
    /// Events in the window (SLOs: in the period).
    pub events: u64,
    /// The window (SLOs: the period), ms.
    pub window_ms: i64,
    /// When the state began, epoch ms.
    pub since: i64,
    /// The severity label.
    pub severity: String,
    /// SLOs: the share of the period's error budget left (negative when overspent).
    pub budget_remaining: Option<f64>,
    /// SLOs: every burn condition.
    pub burns: Vec<Burn>,
}

impl Row {
    /// `alertname`, `severity` and the group label.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut l = BTreeMap::new();
        l.insert("alertname".to_string(), self.rule.clone());
        l.insert("severity".to_string(), self.severity.clone());
        l.insert("obsq_rule_kind".to_string(), self.kind.to_string());
        if let Some(by) = self.by {
            l.insert(by.to_string(), self.group.clone());
        }
        l
    }
}

/// A notification a check decided to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Notify {
    /// Index into [`Outcome::rows`].
    pub row: usize,
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// A repeat of a still-firing alert.
    pub repeat: bool,
    /// When the breach began, epoch ms.
    pub starts_at: i64,
}

/// The result of one check.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every rule and group, in rule order.
    pub rows: Vec<Row>,
    /// State changes.
    pub transitions: Vec<Transition>,
    /// The state to keep.
    pub tracked: Vec<Tracked>,
    /// What to notify.
    pub notify: Vec<Notify>,
}

/// One group's measurement: `None` value = nothing to judge.
struct Measure {
    group: String,
    events: u64,
    value: Option<f64>,
}

/// The new state and its start time, from the previous state and this check's verdict
/// (`None`: insufficient events; `Some(breached)`).
pub fn step(prev: Option<&Tracked>, verdict: Option<bool>, now: i64, for_ms: i64) -> (State, i64) {
    let was = prev.map(|p| p.state);
    let kept = |s: State| match prev {
        Some(p) if p.state == s => p.since,
        _ => now,
    };
    match verdict {
        None | Some(false) if was == Some(State::Firing) => (State::Resolved, now),
        None => (State::Insufficient, kept(State::Insufficient)),
        Some(false) => (State::Ok, kept(State::Ok)),
        Some(true) => {
            let start = match prev {
                Some(p) if matches!(p.state, State::Pending | State::Firing) => p.since,
                _ => now,
            };
            let state = if now - start >= for_ms {
                State::Firing
            } else {
                State::Pending
            };
            (state, start)
        }
    }
}

/// Evaluates every rule at `now` against the previous states.
pub async fn evaluate(
    ctx: &SessionContext,
    rules: &Rules,
    now: i64,
    prev: &[Tracked],
) -> Result<Outcome> {
    let prev: HashMap<(&str, &str), &Tracked> = prev
        .iter()
        .map(|t| ((t.rule.as_str(), t.group.as_str()), t))
        .collect();
    let mut out = Outcome::default();
    for rule in &rules.alerts {
        let row_of = |m: Measure| {
            let verdict = match m.value {
                Some(v) if m.events >= rule.min_events => Some(rule.bound.breached(v)),
                _ => None,
            };
            let row = Row {
                kind: "alert",
                rule: rule.name.clone(),
                by: rule.by,
                group: m.group,
                state: State::Ok,
                metric: rule.metric.name().to_string(),
                value: m.value,
                op: rule.bound.op(),
                threshold: rule.bound.value(),
                events: m.events,
                window_ms: rule.window_ms,
                since: now,
                severity: rule.severity.clone(),
                budget_remaining: None,
                burns: Vec::new(),
            };
            (row, verdict)
        };
        let measured: Vec<_> = measure_alert(ctx, rule, now)
            .await?
            .into_iter()
            .map(row_of)
            .collect();
        let rows = with_vanished(&prev, &rule.name, measured, |group| {
            row_of(Measure {
                group,
                events: 0,
                value: None,
            })
        });
        decide(&mut out, &prev, rows, now, rule.for_ms, rule.repeat_ms);
    }
    for slo in &rules.slos {
        let measured = measure_slo(ctx, slo, now).await?;
        let zeros = vec![(0.0, 0.0); 1 + 2 * slo.windows.len()];
        let rows = with_vanished(&prev, &slo.name, measured, |group| {
            slo_row(slo, group, &zeros, now)
        });
        decide(&mut out, &prev, rows, now, slo.for_ms, slo.repeat_ms);
    }
    Ok(out)
}

/// The measured rows, plus a row for each group that fired before and has no events now (it
/// resolves). Groups that vanished in any other state are forgotten.
fn with_vanished(
    prev: &HashMap<(&str, &str), &Tracked>,
    rule: &str,
    mut rows: Vec<(Row, Option<bool>)>,
    absent: impl Fn(String) -> (Row, Option<bool>),
) -> Vec<(Row, Option<bool>)> {
    let mut gone: Vec<String> = prev
        .iter()
        .filter(|((r, g), t)| {
            *r == rule && t.state == State::Firing && !rows.iter().any(|(row, _)| row.group == *g)
        })
        .map(|(_, t)| t.group.clone())
        .collect();
    gone.sort();
    rows.extend(gone.into_iter().map(absent));
    rows
}

fn decide(
    out: &mut Outcome,
    prev: &HashMap<(&str, &str), &Tracked>,
    rows: Vec<(Row, Option<bool>)>,
    now: i64,
    for_ms: i64,
    repeat_ms: Option<i64>,
) {
    for (mut row, verdict) in rows {
        let before = prev.get(&(row.rule.as_str(), row.group.as_str())).copied();
        let (state, since) = step(before, verdict, now, for_ms);
        row.state = state;
        row.since = since;
        let was = before.map(|t| t.state);
        let mut last_notified = before.and_then(|t| t.last_notified);
        let mut severity = row.severity.clone();
        let notify = match state {
            State::Firing if was != Some(State::Firing) => Some(false),
            State::Firing if before.is_some_and(|t| t.severity != row.severity) => Some(false),
            State::Firing => repeat_ms
                .filter(|r| last_notified.is_some_and(|n| now - n >= *r))
                .map(|_| true),
            State::Resolved => {
                // The resolution goes out with the labels it fired with.
                severity = before.map_or(severity, |t| t.severity.clone());
                row.severity = severity.clone();
                Some(false)
            }
            _ => None,
        };
        if let Some(repeat) = notify {
            last_notified = Some(now);
            out.notify.push(Notify {
                row: out.rows.len(),
                status: if state == State::Resolved {
                    "resolved"
                } else {
                    "firing"
                },
                repeat,
                starts_at: if state == State::Resolved {
                    before.map_or(now, |t| t.since)
                } else {
                    since
                },
            });
        }
        let changed = match was {
            Some(w) => w != state,
            None => !matches!(state, State::Ok | State::Insufficient),
        };
        if changed {
            out.transitions.push(Transition {
                at: now,
                kind: row.kind.to_string(),
                rule: row.rule.clone(),
                group: row.group.clone(),
                from: was.unwrap_or(State::Ok),
                to: state,
                value: row.value,
                threshold: row.threshold,
                events: row.events,
                severity: row.severity.clone(),
            });
        }
        out.tracked.push(Tracked {
            rule: row.rule.clone(),
            group: row.group.clone(),
            state,
            since,
            last_notified,
            severity,
        });
        out.rows.push(row);
    }
}

/// The table and the SQL of "judged", "good", "bad" and "duration" for a stream source.
struct StreamSql {
    table: &'static str,
    judged: &'static str,
    good: &'static str,
    bad: &'static str,
    duration: &'static str,
}

fn stream_sql(source: Source) -> Option<StreamSql> {
    Some(match source {
        Source::Cuj => StreamSql {
            table: "cuj_runs",
            judged: "true",
            good: "success",
            bad: "NOT success",
            duration: "duration_ms",
        },
        Source::Skill => StreamSql {
            table: "skill_invocations",
            judged: "result IN ('success', 'failure')",
            good: "result = 'success'",
            bad: "result = 'failure'",
            duration: "duration_ms",
        },
        Source::Provider => StreamSql {
            table: "provider_calls",
            judged: "true",
            good: "success",
            bad: "NOT success",
            duration: "latency_ms",
        },
        Source::Progress | Source::Quarantine => return None,
    })
}

fn ts(ms: i64) -> String {
    format!("to_timestamp_millis({ms})")
}

/// `coalesce(CAST(col AS VARCHAR), '(none)')`, or `''` without a group (all names come from
/// fixed lists, never from the rules file's text).
fn group_expr(by: Option<&str>) -> String {
    by.map_or("''".to_string(), |c| {
        format!("coalesce(CAST({c} AS VARCHAR), '(none)')")
    })
}

async fn measure_alert(ctx: &SessionContext, rule: &AlertRule, now: i64) -> Result<Vec<Measure>> {
    let (start, end) = (ts(now - rule.window_ms), ts(now));
    let sql = match (rule.source, stream_sql(rule.source)) {
        (_, Some(s)) => {
            let (events, value) = match rule.metric {
                Metric::SuccessRate | Metric::ErrorRate => {
                    let hit = if rule.metric == Metric::SuccessRate {
                        s.good
                    } else {
                        s.bad
                    };
                    (
                        format!("count(*) FILTER (WHERE {})", s.judged),
                        format!(
                            "CAST(count(*) FILTER (WHERE {hit}) AS DOUBLE) / nullif(count(*) FILTER (WHERE {}), 0)",
                            s.judged
                        ),
                    )
                }
                Metric::Count => ("count(*)".into(), "count(*)".into()),
                Metric::Failures => (
                    "count(*)".into(),
                    format!("count(*) FILTER (WHERE {})", s.bad),
                ),
                Metric::P50 | Metric::P95 | Metric::P99 => {
                    let p = match rule.metric {
                        Metric::P50 => 0.5,
                        Metric::P95 => 0.95,
                        _ => 0.99,
                    };
                    (
                        format!("count({})", s.duration),
                        format!("percentile_disc({}, {p})", s.duration),
                    )
                }
                Metric::StalledRuns | Metric::QuarantinedLines => {
                    unreachable!("checked by the rules parser")
                }
            };
            aggregate_sql(&group_expr(rule.by), &events, &value, s.table, &start, &end)
        }
        (Source::Progress, None) if rule.metric == Metric::Count => aggregate_sql(
            "''",
            "count(*)",
            "count(*)",
            "progress_events",
            &start,
            &end,
        ),
        (Source::Progress, None) => {
            let mut p = Params::new(now, Window::Ms(rule.window_ms));
            p.set("stall_ms", Value::Int(rule.stall_ms));
            let q = Report::ProgressRuns.query()?;
            let runs = p.bind(&q.statement(&q.sections[0]))?;
            format!(
                "SELECT '' AS grp, count(*) AS events, CAST(count(*) FILTER (WHERE stalled) AS DOUBLE) AS value FROM ({runs})"
            )
        }
        (Source::Quarantine, None) => format!(
            "SELECT '' AS grp, CAST(coalesce(sum(rows_added + quarantined), 0) AS BIGINT) AS events,
                    CAST(coalesce(sum(quarantined), 0) AS DOUBLE) AS value
             FROM system.commits
             WHERE kind IN ('ingest', 'backfill')
               AND to_timestamp(at) BETWEEN {start} AND {end}"
        ),
        (_, None) => unreachable!("every stream source has SQL"),
    };
    let batches = cols::collect(ctx, "alerts", &rule.name, &sql).await?;
    let mut out = Vec::new();
    for b in &batches {
        let g = cols::text(b, 0)?;
        let n = cols::int(b, 1)?;
        let v = cols::float(b, 2)?;
        for r in 0..b.num_rows() {
            out.push(Measure {
                group: g.value(r).to_string(),
                events: n.value(r).max(0) as u64,
                value: v.is_valid(r).then(|| v.value(r)),
            });
        }
    }
    out.sort_by(|a, b| a.group.cmp(&b.group));
    Ok(out)
}

fn aggregate_sql(
    grp: &str,
    events: &str,
    value: &str,
    table: &str,
    start: &str,
    end: &str,
) -> String {
    let group_by = if grp == "''" { "" } else { "GROUP BY 1" };
    format!(
        "SELECT {grp} AS grp, {events} AS events, CAST({value} AS DOUBLE) AS value
         FROM {table} WHERE ts BETWEEN {start} AND {end} {group_by}"
    )
}

/// Good and bad events per group over the period and every burn window, in one scan.
async fn measure_slo(
    ctx: &SessionContext,
    slo: &SloRule,
    now: i64,
) -> Result<Vec<(Row, Option<bool>)>> {
    let s = stream_sql(slo.source).expect("SLO sources are streams");
    let mut spans = vec![slo.period_ms];
    for w in &slo.windows {
        spans.push(w.long_ms);
        spans.push(w.short_ms);
    }
    let oldest = spans.iter().copied().max().unwrap_or(slo.period_ms);
    let mut cols = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        let from = ts(now - span);
        cols.push(format!("count(*) FILTER (WHERE ts >= {from}) AS n{i}"));
        cols.push(format!(
            "count(*) FILTER (WHERE ts >= {from} AND {}) AS b{i}",
            s.bad
        ));
    }
    let grp = group_expr(slo.by);
    let group_by = if slo.by.is_some() { "GROUP BY 1" } else { "" };
    let sql = format!(
        "SELECT {grp} AS grp, {} FROM {} WHERE ts BETWEEN {} AND {} AND {} {group_by}",
        cols.join(", "),
        s.table,
        ts(now - oldest),
        ts(now),
        s.judged
    );
    let mut out = Vec::new();
    for b in &cols::collect(ctx, "alerts", &slo.name, &sql).await? {
        let g = cols::text(b, 0)?;
        let counts: Vec<_> = (1..b.num_columns())
            .map(|i| cols::int(b, i))
            .collect::<Result<_>>()?;
        for r in 0..b.num_rows() {
            let pairs: Vec<(f64, f64)> = (0..counts.len() / 2)
                .map(|i| {
                    (
                        counts[2 * i].value(r).max(0) as f64,
                        counts[2 * i + 1].value(r).max(0) as f64,
                    )
                })
                .collect();
            out.push(slo_row(slo, g.value(r).to_string(), &pairs, now));
        }
    }
    out.sort_by(|a, b| a.0.group.cmp(&b.0.group));
    Ok(out)
}

/// An SLO's row from (events, bad events) over the period and each window's long and short
/// span, in [`measure_slo`]'s order.
fn slo_row(slo: &SloRule, group: String, counts: &[(f64, f64)], now: i64) -> (Row, Option<bool>) {
    let budget = 1.0 - slo.objective;
    let n = |i: usize| counts[i].0;
    let bad = |i: usize| counts[i].1;
    let rate = |i: usize| (n(i) > 0.0).then(|| bad(i) / n(i) / budget);
    let burns: Vec<Burn> = slo
        .windows
        .iter()
        .enumerate()
        .map(|(k, w)| {
            let (long, short) = (rate(1 + 2 * k), rate(2 + 2 * k));
            Burn {
                long_ms: w.long_ms,
                short_ms: w.short_ms,
                long_rate: long,
                short_rate: short,
                threshold: w.burn,
                severity: w.severity.clone(),
                triggered: long.is_some_and(|l| l > w.burn) && short.is_some_and(|s| s > w.burn),
            }
        })
        .collect();
    let events = n(0) as u64;
    let deciding = burns
        .iter()
        .find(|b| b.triggered)
        .or(burns.first())
        .cloned();
    let verdict = (events >= slo.min_events.max(1)).then(|| burns.iter().any(|b| b.triggered));
    let row = Row {
        kind: "slo",
        rule: slo.name.clone(),
        by: slo.by,
        group,
        state: State::Ok,
        metric: "burn_rate".into(),
        value: deciding.as_ref().and_then(|d| d.long_rate),
        op: "above",
        threshold: deciding.as_ref().map_or(0.0, |d| d.threshold),
        events,
        window_ms: slo.period_ms,
        since: now,
        severity: deciding.map_or_else(|| "page".into(), |d| d.severity),
        budget_remaining: (n(0) > 0.0).then(|| 1.0 - bad(0) / n(0) / budget),
        burns,
    };
    (row, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(state: State, since: i64) -> Tracked {
        Tracked {
            rule: "r".into(),
            group: String::new(),
            state,
            since,
            last_notified: None,
            severity: String::new(),
        }
    }

    #[test]
    fn a_breach_is_pending_until_it_has_held_for_long_enough() {
        assert_eq!(step(None, Some(true), 100, 50), (State::Pending, 100));
        let p = tracked(State::Pending, 100);
        assert_eq!(step(Some(&p), Some(true), 140, 50), (State::Pending, 100));
        assert_eq!(step(Some(&p), Some(true), 150, 50), (State::Firing, 100));
        assert_eq!(step(Some(&p), Some(false), 150, 50), (State::Ok, 150));
        let f = tracked(State::Firing, 100);
        assert_eq!(step(Some(&f), Some(true), 900, 50), (State::Firing, 100));
        assert_eq!(step(Some(&f), Some(false), 900, 50), (State::Resolved, 900));
        assert_eq!(step(Some(&f), None, 900, 50), (State::Resolved, 900));
        let r = tracked(State::Resolved, 900);
        assert_eq!(step(Some(&r), Some(false), 950, 50), (State::Ok, 950));
        assert_eq!(step(Some(&r), Some(true), 950, 0), (State::Firing, 950));
        let i = tracked(State::Insufficient, 10);
        assert_eq!(step(Some(&i), None, 950, 0), (State::Insufficient, 10));
    }
}
