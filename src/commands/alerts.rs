//! `obsq alerts check|history|list`: load the rules, evaluate them on the shared session with
//! the state kept in the data root, record the transitions, notify, render one row per rule
//! and group.

use std::path::Path;

use crate::cli::{AlertsCheckArgs, AlertsCmd};
use crate::config::Config;
use crate::engine::{EngineOptions, session};
use crate::error::{Error, Result};
use crate::model::timefmt::{iso_ms, now_ms, parse_iso_ms};
use crate::monitor::eval::{Outcome, evaluate};
use crate::monitor::notify::{self, duration_text};
use crate::monitor::rules::Rules;
use crate::monitor::state::{self, State};
use crate::render::report::render_report;
use crate::render::{Cell, Format, render, rows_to_batch};
use crate::reports::{Section, Shape};
use crate::store::commit::{WriterLock, lock_timeout};

/// Runs `obsq alerts …`.
pub fn run(config: &Config, cmd: AlertsCmd) -> Result<u8> {
    match cmd {
        AlertsCmd::Check(args) => check(config, &args),
        AlertsCmd::History { rule, format } => history(config, rule.as_deref(), format),
        AlertsCmd::List { rules, format } => list(config, rules.as_deref(), format),
    }
}

/// The rules in force: `--rules FILE`, else `<root>/obsq.toml`, else the built-in rules.
pub fn load_rules(config: &Config, file: Option<&Path>) -> Result<Rules> {
    let default = config.layout.root().join("obsq.toml");
    let path = match file {
        Some(f) => f.to_path_buf(),
        None if default.is_file() => default,
        None => return Ok(Rules::defaults()),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
    Rules::parse(&path.display().to_string(), &text)
}

fn check(config: &Config, args: &AlertsCheckArgs) -> Result<u8> {
    let rules = load_rules(config, args.rules.as_deref())?;
    let now = match &args.now {
        None => now_ms(),
        Some(s) => parse_iso_ms(s.trim())
            .or_else(|| s.trim().parse().ok())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "invalid --now `{s}`: use RFC 3339 (2026-11-28T09:51:50Z) or epoch milliseconds"
                ))
            })?,
    };
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    // One check at a time per root: each reads the states the previous one wrote.
    let lock_path = config.layout.root().join("alerts").join(".lock");
    std::fs::create_dir_all(config.layout.root().join("alerts"))
        .map_err(|e| Error::io("create directory", config.layout.root().join("alerts"), e))?;
    let _lock = if args.dry_run {
        None
    } else {
        Some(WriterLock::acquire_at(
            &lock_path,
            config.layout.root(),
            lock_timeout(),
        )?)
    };
    let mut st = state::load(&objects)?;
    if !args.dry_run
        && let Some(last) = st.evaluated_at
        && now < last
    {
        return Err(Error::Usage(format!(
            "the last check ran at {}; a check at the earlier {} would rewrite its transitions — \
             use --dry-run to look at the past",
            iso_ms(last),
            iso_ms(now)
        )));
    }
    let opts = EngineOptions {
        fresh: !args.no_fresh,
        ..config.engine()
    };
    let outcome = rt.block_on(async {
        let ctx = session(&config.layout, &objects, &opts)?;
        evaluate(&ctx, &rules, now, &st.tracked).await
    })?;
    if !args.dry_run {
        // The transitions and the outbox are durable before anything is sent: a crash after a
        // send repeats it at the next check rather than losing it.
        state::append_history(&objects, &outcome.transitions)?;
        st.outbox
            .extend(notify::build(&outcome, &rules.notify, now));
        st.tracked = outcome.tracked.clone();
        st.evaluated_at = Some(now);
        state::save(&objects, &st)?;
        let deliveries = rt.block_on(notify::deliver(
            &mut st.outbox,
            &rules.notify,
            &outcome,
            now,
        ));
        for d in &deliveries {
            let what = format!("{} {}{}", d.status, d.rule, group_suffix(&d.group));
            match (&d.error, d.sent) {
                (_, true) => crate::notice::push(format!("notified {}: {what}", d.target)),
                (Some(e), false) => crate::notice::push(format!(
                    "notification {what} to {} failed after {} attempt(s): {e}; kept for the next check",
                    d.target, d.attempts
                )),
                (None, false) => {}
            }
        }
        state::save(&objects, &st)?;
    }
    let format = args.format.unwrap_or_else(Format::default_for_stdout);
    render_report(
        &[rows_section(&outcome)?],
        format,
        &mut std::io::stdout().lock(),
    )?;
    let firing = outcome.rows.iter().any(|r| r.state == State::Firing);
    Ok(u8::from(firing))
}

fn group_suffix(g: &str) -> String {
    if g.is_empty() {
        String::new()
    } else {
        format!(" [{g}]")
    }
}

fn rows_section(outcome: &Outcome) -> Result<Section> {
    let rows: Vec<Vec<Cell>> = outcome
        .rows
        .iter()
        .map(|r| {
            let burns = serde_json::Value::Array(
                r.burns
                    .iter()
                    .map(|b| {
                        serde_json::json!({
                            "long": duration_text(b.long_ms),
                            "short": duration_text(b.short_ms),
                            "long_burn_rate": b.long_rate,
                            "short_burn_rate": b.short_rate,
                            "threshold": b.threshold,
                            "severity": b.severity,
                            "triggered": b.triggered,
                        })
                    })
                    .collect(),
            );
            vec![
                r.kind.into(),
                r.rule.clone().into(),
                r.group.clone().into(),
                r.state.name().into(),
                r.metric.clone().into(),
                r.value.map_or(Cell::Null, Cell::Float),
                r.op.into(),
                Cell::Float(r.threshold),
                Cell::Int(r.events as i64),
                duration_text(r.window_ms).into(),
                iso_ms(r.since).into(),
                r.severity.clone().into(),
                r.budget_remaining.map_or(Cell::Null, Cell::Float),
                if r.kind == "slo" {
                    burns.to_string().into()
                } else {
                    Cell::Null
                },
            ]
        })
        .collect();
    let batch = rows_to_batch(
        &[
            "kind",
            "rule",
            "group",
            "state",
            "metric",
            "value",
            "op",
            "threshold",
            "events",
            "window",
            "since",
            "severity",
            "budget_remaining",
            "burn_rates",
        ],
        &rows,
    )?;
    Ok(Section {
        path: Vec::new(),
        shape: Shape::Array,
        json_columns: vec!["burn_rates".into()],
        batches: vec![batch],
    })
}

fn history(config: &Config, rule: Option<&str>, format: Option<Format>) -> Result<u8> {
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let filter = rule.map_or(String::new(), |r| {
        format!(" WHERE rule = '{}'", r.replace('\'', "''"))
    });
    let batches = rt.block_on(async {
        let ctx = session(&config.layout, &objects, &config.engine())?;
        let df = ctx
            .sql(&format!("SELECT * FROM system.alerts{filter} ORDER BY at"))
            .await?;
        Ok::<_, Error>(df.collect().await?)
    })?;
    let format = format.unwrap_or_else(Format::default_for_stdout);
    render(&batches, format, &mut std::io::stdout().lock())?;
    Ok(0)
}

fn list(config: &Config, file: Option<&Path>, format: Option<Format>) -> Result<u8> {
    let rules = load_rules(config, file)?;
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let opt = |ms: Option<i64>| ms.map_or(Cell::Null, |m| duration_text(m).into());
    for a in &rules.alerts {
        rows.push(vec![
            "alert".into(),
            a.name.clone().into(),
            a.source.name().into(),
            format!(
                "{} {} {} over {}",
                a.metric.name(),
                a.bound.op(),
                a.bound.value(),
                duration_text(a.window_ms)
            )
            .into(),
            a.by.map_or(Cell::Null, |b| b.into()),
            Cell::Int(a.min_events as i64),
            opt(Some(a.for_ms)),
            opt(a.repeat_ms),
            a.severity.clone().into(),
            rules.origin.clone().into(),
        ]);
    }
    for s in &rules.slos {
        let windows: Vec<String> = s
            .windows
            .iter()
            .map(|w| {
                format!(
                    "{}x over {} and {} ({})",
                    w.burn,
                    duration_text(w.long_ms),
                    duration_text(w.short_ms),
                    w.severity
                )
            })
            .collect();
        rows.push(vec![
            "slo".into(),
            s.name.clone().into(),
            s.source.name().into(),
            format!(
                "success {} over {}; burn {}",
                s.objective,
                duration_text(s.period_ms),
                windows.join(", ")
            )
            .into(),
            s.by.map_or(Cell::Null, |b| b.into()),
            Cell::Int(s.min_events as i64),
            opt(Some(s.for_ms)),
            opt(s.repeat_ms),
            Cell::Null,
            rules.origin.clone().into(),
        ]);
    }
    for n in &rules.notify {
        rows.push(vec![
            "notify".into(),
            n.id().into(),
            Cell::Null,
            format!(
                "timeout {}, {} attempt(s)",
                duration_text(n.timeout_ms),
                n.attempts
            )
            .into(),
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            rules.origin.clone().into(),
        ]);
    }
    let batch = rows_to_batch(
        &[
            "kind",
            "name",
            "stream",
            "rule",
            "by",
            "min_events",
            "for",
            "repeat",
            "severity",
            "from",
        ],
        &rows,
    )?;
    let format = format.unwrap_or_else(Format::default_for_stdout);
    render(&[batch], format, &mut std::io::stdout().lock())?;
    Ok(0)
}
