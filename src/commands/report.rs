//! The canned-report commands (`skills`, `cuj`, `progress`, `provider`, `dashboard`): turn the
//! command line into report parameters, run the report on the shared session, render it.

use datafusion::prelude::SessionContext;

use crate::cli::{
    CompareArgs, CujCmd, DashboardArgs, DashboardFormat, DoctorArgs, ProgressCmd, ProviderCmd,
    ReportArgs, SkillFilterArgs, SkillsCmd,
};
use crate::config::Config;
use crate::engine::{EngineOptions, session};
use crate::error::{Error, Result};
use crate::model::timefmt::{now_ms, parse_iso_ms};
use crate::render::report::{render_report, report_json};
use std::io::Write;

use crate::render::html::render_html;
use crate::render::{Format, dashboard::render_text};
use crate::reports::params::parse_duration_ms;
use crate::reports::{Params, Report, Section, Shape, Value, Window, dashboard, run};

/// A report to run: which, with what, and how to show it.
struct Job {
    report: Report,
    params: Params,
    args: ReportArgs,
    /// Replaces the top-level section's shape (e.g. one provider as an object, not a map).
    shape: Option<Shape>,
    /// `system.damaged_files` reads footers too (`doctor --deep`).
    deep: bool,
}

/// Runs `obsq skills …`.
pub fn skills(config: &Config, cmd: SkillsCmd) -> Result<u8> {
    let job = match cmd {
        SkillsCmd::Query {
            filter,
            limit,
            oldest_first,
            report,
        } => {
            let mut params = skill_params(&report, &filter)?;
            params.set("oldest_first", Value::Bool(oldest_first));
            if let Some(n) = limit {
                params.set("limit", Value::Int(to_i64(n)));
            }
            job(Report::SkillsQuery, params, report)
        }
        SkillsCmd::Stats {
            filter,
            approx,
            report,
        } => {
            let mut params = skill_params(&report, &filter)?;
            params.set_approx(approx);
            job(Report::SkillsStats, params, report)
        }
    };
    execute(config, job)
}

/// Runs `obsq cuj …`.
pub fn cuj(config: &Config, cmd: CujCmd) -> Result<u8> {
    let day = Window::Ms(86_400_000);
    let job = match cmd {
        CujCmd::Rate { cuj, report } => {
            let mut p = params(&report, day)?;
            p.set("cuj", Value::opt_text(cuj.as_deref()));
            job(Report::CujRate, p, report)
        }
        CujCmd::All { report } => job(Report::CujAll, params(&report, day)?, report),
        CujCmd::Trending {
            cuj,
            buckets,
            bucket,
            report,
        } => {
            let size = parse_duration_ms(&bucket).ok_or_else(|| {
                Error::Usage(format!(
                    "invalid --bucket `{bucket}`: use e.g. 1h, 6h, 1d or plain milliseconds"
                ))
            })?;
            if buckets == 0 {
                return Err(Error::Usage("--buckets must be at least 1".into()));
            }
            let mut p = params(&report, day)?;
            p.set("cuj", Value::opt_text(cuj.as_deref()));
            p.set_trend(i64::from(buckets), size);
            job(Report::CujTrending, p, report)
        }
        CujCmd::Failures { cuj, top, report } => {
            let mut p = params(&report, day)?;
            p.set("cuj", Value::opt_text(cuj.as_deref()));
            p.set("top", Value::Int(i64::from(top)));
            job(Report::CujFailures, p, report)
        }
        CujCmd::Percentiles {
            cuj,
            approx,
            report,
        } => {
            let mut p = params(&report, day)?;
            p.set("cuj", Value::opt_text(cuj.as_deref()));
            p.set_approx(approx);
            job(Report::CujPercentiles, p, report)
        }
    };
    execute(config, job)
}

/// Runs `obsq progress …`.
pub fn progress(config: &Config, cmd: ProgressCmd) -> Result<u8> {
    let job = match cmd {
        ProgressCmd::History { run, limit, report } => {
            let mut p = params(&report, Window::All)?;
            p.set("run", Value::opt_text(run.as_deref()));
            if let Some(n) = limit {
                p.set("limit", Value::Int(to_i64(n)));
            }
            job(Report::ProgressHistory, p, report)
        }
        ProgressCmd::Current { run, report } => {
            // The latest event of the run: its history limited to one, as an object (null if none).
            let mut p = params(&report, Window::All)?;
            p.set("run", Value::Text(run));
            p.set("limit", Value::Int(1));
            let mut j = job(Report::ProgressHistory, p, report);
            j.shape = Some(Shape::Object { optional: false });
            j
        }
        ProgressCmd::Watch { run, until_done } => {
            return super::watch::run(config, run.as_deref(), until_done);
        }
        ProgressCmd::Runs { stall, report } => {
            let ms = parse_duration_ms(&stall).ok_or_else(|| {
                Error::Usage(format!(
                    "invalid --stall `{stall}`: use e.g. 10m, 1h or plain milliseconds"
                ))
            })?;
            let mut p = params(&report, Window::All)?;
            p.set("stall_ms", Value::Int(ms));
            job(Report::ProgressRuns, p, report)
        }
    };
    execute(config, job)
}

/// Runs `obsq provider …`.
pub fn provider(config: &Config, cmd: ProviderCmd) -> Result<u8> {
    let day = Window::Ms(86_400_000);
    let job = match cmd {
        ProviderCmd::Status {
            provider,
            by_model,
            approx,
            report,
        } => {
            let mut p = params(&report, day)?;
            let one = provider.is_some();
            p.set("provider", Value::opt_text(provider.as_deref()));
            p.set("by_model", Value::Bool(by_model));
            p.set_approx(approx);
            let mut j = job(Report::ProviderStatus, p, report);
            if one && !by_model {
                j.shape = Some(Shape::Object { optional: false });
            }
            j
        }
        ProviderCmd::Overall { report } => {
            job(Report::ProviderOverall, params(&report, day)?, report)
        }
        ProviderCmd::Compare { by_model, report } => {
            let mut p = params(&report, day)?;
            p.set("by_model", Value::Bool(by_model));
            job(Report::ProviderCompare, p, report)
        }
    };
    execute(config, job)
}

/// Runs `obsq compare`.
pub fn compare(config: &Config, args: &CompareArgs) -> Result<u8> {
    let (stream, by) = crate::monitor::rules::compare_group(&args.stream, args.by.as_deref())
        .map_err(Error::Usage)?;
    let report = ReportArgs {
        now: args.now.clone(),
        window: Some(args.window.clone()),
        format: args.format,
        no_fresh: args.no_fresh,
    };
    let mut p = params(&report, Window::All)?;
    if p.window() == Window::All {
        return Err(Error::Usage(
            "compare needs a window (e.g. --window 7d): `all` has nothing before it".into(),
        ));
    }
    p.set("stream", Value::Text(stream.into()));
    p.set("by", Value::opt_text(by));
    p.set("min_events", Value::Int(i64::from(args.min_events)));
    execute(config, job(Report::Compare, p, report))
}

/// Runs `obsq doctor`.
pub fn doctor(config: &Config, args: &DoctorArgs) -> Result<u8> {
    let mut p = Params::new(parse_now(args.now.as_deref())?, Window::All);
    p.set("min_small", Value::Int(i64::from(args.min_small.max(1))));
    let report = ReportArgs {
        now: args.now.clone(),
        window: None,
        format: args.format,
        no_fresh: false,
    };
    let mut j = job(Report::Doctor, p, report);
    j.deep = args.deep;
    let code = execute(config, j)?;
    // Damage is an error of the store: the exit code says so (the report above names the files).
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let damaged = match crate::engine::open_index(&config.layout, &objects)? {
        Some(cat) => !crate::store::repair::check(&objects, &cat, args.deep)?.is_empty(),
        None => false,
    };
    Ok(if damaged { 1 } else { code })
}

/// Runs `obsq dashboard`.
pub fn dashboard(config: &Config, args: &DashboardArgs) -> Result<u8> {
    let now = parse_now(args.now.as_deref())?;
    let opts = EngineOptions {
        fresh: !args.no_fresh,
        ..config.engine()
    };
    let sections = with_session(config, &opts, |ctx| async move {
        dashboard::dashboard(&ctx, now).await
    })?;
    let value = report_json(&sections);
    let mut buf = Vec::new();
    match args.format {
        DashboardFormat::Text => render_text(&value, &mut buf),
        DashboardFormat::Json => render_report(&sections, Format::Json, &mut buf),
        DashboardFormat::Html => render_html(&value, &mut buf),
    }?;
    match &args.out {
        Some(path) => write_atomically(path, &buf)?,
        None => std::io::stdout()
            .lock()
            .write_all(&buf)
            .map_err(|e| Error::io("write", "standard output", e))?,
    }
    Ok(0)
}

/// What the original printed for a provider without data.
fn unknown_provider(name: &str) -> Result<Section> {
    use crate::render::{Cell, rows_to_batch};
    let batch = rows_to_batch(
        &["provider", "available", "reason"],
        &[vec![
            name.into(),
            Cell::Bool(false),
            "No data available".into(),
        ]],
    )?;
    Ok(Section {
        path: Vec::new(),
        shape: Shape::Object { optional: false },
        json_columns: Vec::new(),
        batches: vec![batch],
    })
}

/// Writes `data` to a temporary file beside `path`, then renames it into place, so a reader
/// never sees half a file (the original tool's save was not atomic).
pub(super) fn write_atomically(path: &std::path::Path, data: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map_or("obsq".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    std::fs::write(&tmp, data).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename into", path, e))
}

fn job(report: Report, params: Params, args: ReportArgs) -> Job {
    Job {
        report,
        params,
        args,
        shape: None,
        deep: false,
    }
}

fn execute(config: &Config, job: Job) -> Result<u8> {
    let Job {
        report,
        params,
        args,
        shape,
        deep,
    } = job;
    let opts = EngineOptions {
        fresh: !args.no_fresh,
        deep_check: deep,
        ..config.engine()
    };
    let mut sections = with_session(config, &opts, |ctx| {
        let params = params.clone();
        async move { run(&ctx, report, &params).await }
    })?;
    if let (Some(shape), Some(top)) = (shape, sections.first_mut()) {
        top.shape = shape;
    }
    if report == Report::ProviderStatus
        && let (Shape::Object { .. }, Some(Value::Text(name))) =
            (&sections[0].shape, params.get("provider"))
        && sections[0].rows() == 0
    {
        sections[0] = unknown_provider(name)?;
    }
    let format = args.format.unwrap_or_else(Format::default_for_stdout);
    render_report(&sections, format, &mut std::io::stdout().lock())?;
    Ok(0)
}

fn with_session<F, Fut>(config: &Config, opts: &EngineOptions, f: F) -> Result<Vec<Section>>
where
    F: FnOnce(SessionContext) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Section>>>,
{
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    rt.block_on(async {
        let ctx = session(&config.layout, &objects, opts)?;
        f(ctx).await
    })
}

fn params(args: &ReportArgs, default_window: Window) -> Result<Params> {
    let now = parse_now(args.now.as_deref())?;
    let window = match &args.window {
        Some(w) => w.parse()?,
        None => default_window,
    };
    Ok(Params::new(now, window))
}

fn skill_params(args: &ReportArgs, f: &SkillFilterArgs) -> Result<Params> {
    let mut p = params(args, Window::All)?;
    let since = f
        .since
        .as_deref()
        .map(|s| parse_time("--since", s))
        .transpose()?;
    let until = f
        .until
        .as_deref()
        .map(|s| parse_time("--until", s))
        .transpose()?;
    p.set_bounds(since, until);
    p.set("skill", Value::opt_text(f.skill.as_deref()));
    p.set("agent", Value::opt_text(f.agent.as_deref()));
    p.set("run_id", Value::opt_text(f.run_id.as_deref()));
    p.set("cuj_id", Value::opt_text(f.cuj_id.as_deref()));
    p.set("result", Value::opt_text(f.result.as_deref()));
    Ok(p)
}

fn parse_now(now: Option<&str>) -> Result<i64> {
    now.map_or_else(|| Ok(now_ms()), |s| parse_time("--now", s))
}

fn parse_time(flag: &str, s: &str) -> Result<i64> {
    parse_iso_ms(s.trim())
        .or_else(|| s.trim().parse::<i64>().ok())
        .ok_or_else(|| {
            Error::Usage(format!(
                "invalid {flag} `{s}`: use RFC 3339 (2026-11-28T09:51:50Z) or epoch milliseconds"
            ))
        })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
