//! Alert rules, SLO rules and notification targets: the `[[alert]]`, `[[slo]]` and `[[notify]]`
//! tables of `<root>/obsq.toml` (or `--rules FILE`), checked key by key so that every error
//! names the file, the line, the rule and the key; and the built-in defaults, which follow the
//! original tools' words.

use std::collections::HashSet;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{Error, Result};
use crate::reports::params::parse_duration_ms;

/// What a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `cuj_runs`.
    Cuj,
    /// `skill_invocations`.
    Skill,
    /// `provider_calls`.
    Provider,
    /// `progress_events`.
    Progress,
    /// Quarantined lines of ingest and backfill commits.
    Quarantine,
}

impl Source {
    /// The rule-file name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Cuj => "cuj",
            Source::Skill => "skill",
            Source::Provider => "provider",
            Source::Progress => "progress",
            Source::Quarantine => "quarantine",
        }
    }

    const ALL: [Source; 5] = [
        Source::Cuj,
        Source::Skill,
        Source::Provider,
        Source::Progress,
        Source::Quarantine,
    ];

    /// The columns a rule on this source may group by.
    pub fn groups(self) -> &'static [&'static str] {
        match self {
            Source::Cuj => &["cuj_id"],
            Source::Skill => &["skill", "agent", "cuj_id"],
            Source::Provider => &["provider", "model"],
            Source::Progress | Source::Quarantine => &[],
        }
    }

    fn metrics(self) -> &'static [Metric] {
        use Metric::*;
        match self {
            Source::Cuj | Source::Skill | Source::Provider => {
                &[SuccessRate, ErrorRate, Count, Failures, P50, P95, P99]
            }
            Source::Progress => &[StalledRuns, Count],
            Source::Quarantine => &[QuarantinedLines],
        }
    }
}

/// What an alert rule measures over its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Successes / judged events (skills: `success` / `success` + `failure`).
    SuccessRate,
    /// Failures / judged events.
    ErrorRate,
    /// Events.
    Count,
    /// Failed events.
    Failures,
    /// Exact nearest-rank p50 of the duration (latency for providers), ms.
    P50,
    /// p95, ms.
    P95,
    /// p99, ms.
    P99,
    /// Runs with an event in the window that are not finished and silent for `stall`.
    StalledRuns,
    /// Lines quarantined by ingest and backfill commits in the window.
    QuarantinedLines,
}

impl Metric {
    const ALL: [Metric; 9] = [
        Metric::SuccessRate,
        Metric::ErrorRate,
        Metric::Count,
        Metric::Failures,
        Metric::P50,
        Metric::P95,
        Metric::P99,
        Metric::StalledRuns,
        Metric::QuarantinedLines,
    ];

    /// The rule-file name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::SuccessRate => "success_rate",
            Metric::ErrorRate => "error_rate",
            Metric::Count => "count",
            Metric::Failures => "failures",
            Metric::P50 => "p50_ms",
            Metric::P95 => "p95_ms",
            Metric::P99 => "p99_ms",
            Metric::StalledRuns => "stalled_runs",
            Metric::QuarantinedLines => "quarantined_lines",
        }
    }
}

/// The threshold of an alert rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// Breached when the value is below this.
    Below(f64),
    /// Breached when the value is above this.
    Above(f64),
}

impl Bound {
    /// Whether `v` breaches the bound.
    pub fn breached(self, v: f64) -> bool {
        match self {
            Bound::Below(t) => v < t,
            Bound::Above(t) => v > t,
        }
    }

    /// The threshold.
    pub fn value(self) -> f64 {
        match self {
            Bound::Below(t) | Bound::Above(t) => t,
        }
    }

    /// `below` or `above`.
    pub fn op(self) -> &'static str {
        match self {
            Bound::Below(_) => "below",
            Bound::Above(_) => "above",
        }
    }
}

/// An `[[alert]]` rule.
#[derive(Debug, Clone)]
pub struct AlertRule {
    /// Unique name.
    pub name: String,
    /// What it reads.
    pub source: Source,
    /// What it measures.
    pub metric: Metric,
    /// The window, ms: `[now − window, now]`.
    pub window_ms: i64,
    /// One alert per value of this column.
    pub by: Option<&'static str>,
    /// When it is breached.
    pub bound: Bound,
    /// Fewer events in the window: `insufficient`, never firing.
    pub min_events: u64,
    /// How long a breach must hold before `firing` (before that: `pending`), ms.
    pub for_ms: i64,
    /// Passed on as a label.
    pub severity: String,
    /// Re-notify a still-firing alert after this long, ms.
    pub repeat_ms: Option<i64>,
    /// `stalled_runs`: silence that makes a run stalled, ms.
    pub stall_ms: i64,
}

/// One multi-window burn-rate condition of an SLO: fires when the error budget burns faster
/// than `burn` over both the long and the short window.
#[derive(Debug, Clone)]
pub struct BurnWindow {
    /// The long window, ms.
    pub long_ms: i64,
    /// The short window, ms.
    pub short_ms: i64,
    /// The burn-rate threshold (1 = the budget lasts exactly the period).
    pub burn: f64,
    /// Passed on as a label (`page`, `ticket`).
    pub severity: String,
}

/// An `[[slo]]` rule.
#[derive(Debug, Clone)]
pub struct SloRule {
    /// Unique name.
    pub name: String,
    /// `cuj`, `provider` or `skill`.
    pub source: Source,
    /// The success objective, e.g. 0.99.
    pub objective: f64,
    /// The budget period, ms.
    pub period_ms: i64,
    /// One SLO per value of this column.
    pub by: Option<&'static str>,
    /// The burn-rate conditions, most urgent first.
    pub windows: Vec<BurnWindow>,
    /// Fewer events in the period: `insufficient`.
    pub min_events: u64,
    /// How long a burn must hold before `firing`, ms.
    pub for_ms: i64,
    /// Re-notify a still-firing SLO after this long, ms.
    pub repeat_ms: Option<i64>,
}

/// Where notifications go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyKind {
    /// A JSON POST (with a `text` field Slack accepts).
    Webhook,
    /// Alertmanager's API v2 (`POST /api/v2/alerts`).
    Alertmanager,
}

/// A `[[notify]]` target.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// The kind.
    pub kind: NotifyKind,
    /// The URL (for Alertmanager: its base, e.g. `http://127.0.0.1:9093`).
    pub url: String,
    /// Per attempt, ms.
    pub timeout_ms: i64,
    /// Attempts per check before the notification waits for the next check.
    pub attempts: u32,
    /// Alertmanager: how long a firing alert stays active without a newer check, ms.
    pub hold_ms: i64,
}

impl Notifier {
    /// A stable identity for the outbox (kind and URL).
    pub fn id(&self) -> String {
        let kind = match self.kind {
            NotifyKind::Webhook => "webhook",
            NotifyKind::Alertmanager => "alertmanager",
        };
        format!("{kind} {}", self.url)
    }
}

/// Every rule and target in force.
#[derive(Debug, Clone)]
pub struct Rules {
    /// `[[alert]]` rules.
    pub alerts: Vec<AlertRule>,
    /// `[[slo]]` rules.
    pub slos: Vec<SloRule>,
    /// `[[notify]]` targets.
    pub notify: Vec<Notifier>,
    /// Where they came from (a path, or "built-in defaults").
    pub origin: String,
}

const ALERT_KEYS: &[&str] = &[
    "name",
    "stream",
    "metric",
    "window",
    "by",
    "below",
    "above",
    "min_events",
    "for",
    "severity",
    "repeat",
    "stall",
];
const SLO_KEYS: &[&str] = &[
    "name",
    "stream",
    "objective",
    "period",
    "by",
    "windows",
    "min_events",
    "for",
    "repeat",
];
const WINDOW_KEYS: &[&str] = &["long", "short", "burn", "severity"];
const NOTIFY_KEYS: &[&str] = &["kind", "url", "timeout", "attempts", "hold"];

impl Rules {
    /// The built-in rules (no file): CUJ success rate below 0.8 over 24h per CUJ (at least 10
    /// runs), provider p95 latency above 5000 ms over 1h per provider (at least 10 calls), and
    /// provider success rate below 0.7 over 1h per provider (at least 10 calls).
    pub fn defaults() -> Rules {
        let rule = |name: &str, source, metric, window_ms, by, bound| AlertRule {
            name: name.into(),
            source,
            metric,
            window_ms,
            by: Some(by),
            bound,
            min_events: 10,
            for_ms: 0,
            severity: "warning".into(),
            repeat_ms: None,
            stall_ms: 600_000,
        };
        Rules {
            alerts: vec![
                rule(
                    "cuj-success-rate",
                    Source::Cuj,
                    Metric::SuccessRate,
                    86_400_000,
                    "cuj_id",
                    Bound::Below(0.8),
                ),
                rule(
                    "provider-p95-latency",
                    Source::Provider,
                    Metric::P95,
                    3_600_000,
                    "provider",
                    Bound::Above(5000.0),
                ),
                rule(
                    "provider-success-rate",
                    Source::Provider,
                    Metric::SuccessRate,
                    3_600_000,
                    "provider",
                    Bound::Below(0.7),
                ),
            ],
            slos: Vec::new(),
            notify: Vec::new(),
            origin: "built-in defaults".into(),
        }
    }

    /// Parses a rules file; `file` names it in errors. A file without `[[alert]]` or `[[slo]]`
    /// tables keeps the built-in rules (and adds its `[[notify]]` targets).
    pub fn parse(file: &str, text: &str) -> Result<Rules> {
        let at = |span: std::ops::Range<usize>, message: String| Error::Rules {
            file: file.to_string(),
            line: line_of(text, span.start),
            message,
        };
        let doc = DeTable::parse(text).map_err(|e| {
            at(
                e.span().unwrap_or(0..0),
                format!("not valid TOML: {}", e.message()),
            )
        })?;
        let mut rules = Rules {
            alerts: Vec::new(),
            slos: Vec::new(),
            notify: Vec::new(),
            origin: file.to_string(),
        };
        for (key, value) in doc.get_ref() {
            let key_name: &str = key.get_ref();
            match key_name {
                "alert" => {
                    for t in tables(value, "alert", &at)? {
                        rules.alerts.push(Entry::new(t, "alert", &at)?.alert()?);
                    }
                }
                "slo" => {
                    for t in tables(value, "slo", &at)? {
                        rules.slos.push(Entry::new(t, "slo", &at)?.slo()?);
                    }
                }
                "notify" => {
                    for t in tables(value, "notify", &at)? {
                        rules.notify.push(Entry::new(t, "notify", &at)?.notifier()?);
                    }
                }
                other => {
                    return Err(at(
                        key.span(),
                        format!(
                            "unknown table `{other}`{}: a rules file has [[alert]], [[slo]] and [[notify]]",
                            suggest(other, &["alert", "slo", "notify"])
                        ),
                    ));
                }
            }
        }
        let mut names = HashSet::new();
        for name in rules
            .alerts
            .iter()
            .map(|r| &r.name)
            .chain(rules.slos.iter().map(|r| &r.name))
        {
            if !names.insert(name.clone()) {
                let pos = text.rfind(&format!("\"{name}\"")).unwrap_or(0);
                return Err(at(
                    pos..pos,
                    format!("rule `{name}`: the name is used twice; names must be unique"),
                ));
            }
        }
        if rules.alerts.is_empty() && rules.slos.is_empty() {
            let d = Rules::defaults();
            rules.alerts = d.alerts;
        }
        Ok(rules)
    }
}

type At<'a> = &'a dyn Fn(std::ops::Range<usize>, String) -> Error;

/// The tables of a `[[what]]` array.
fn tables<'a, 'i>(
    value: &'a Spanned<DeValue<'i>>,
    what: &str,
    at: At<'_>,
) -> Result<Vec<&'a Spanned<DeValue<'i>>>> {
    match value.get_ref() {
        DeValue::Array(items) if items.iter().all(|v| v.get_ref().is_table()) => {
            Ok(items.iter().collect())
        }
        _ => Err(at(
            value.span(),
            format!("`{what}` must be an array of tables: write `[[{what}]]`"),
        )),
    }
}

/// One `[[alert]]`, `[[slo]]`, `[[notify]]` or `windows` table, read key by key.
struct Entry<'t, 'i> {
    table: &'t DeTable<'i>,
    span: std::ops::Range<usize>,
    /// `alert "cuj-success"`, for messages.
    what: String,
    at: At<'t>,
}

impl<'t, 'i> Entry<'t, 'i> {
    fn new(v: &'t Spanned<DeValue<'i>>, kind: &str, at: At<'t>) -> Result<Self> {
        let table = v.get_ref().as_table().expect("checked to be a table");
        let name = table
            .get("name")
            .and_then(|n| n.get_ref().as_str())
            .map(|n| format!("{kind} `{n}`"));
        let what = match (kind, name) {
            (_, Some(n)) => n,
            ("notify", None) => "notify".to_string(),
            (_, None) => {
                return Err(at(
                    v.span(),
                    format!("{kind} without a name: add `name = \"…\"` (unique)"),
                ));
            }
        };
        Ok(Entry {
            table,
            span: v.span(),
            what,
            at,
        })
    }

    fn err(&self, key: &str, message: impl std::fmt::Display) -> Error {
        let span = self
            .table
            .iter()
            .find(|(k, _)| &**k.get_ref() == key)
            .map_or(self.span.clone(), |(_, v)| v.span());
        (self.at)(span, format!("{}: `{key}` {message}", self.what))
    }

    fn check_keys(&self, allowed: &[&str]) -> Result<()> {
        for (k, _) in self.table {
            let k_name: &str = k.get_ref();
            if !allowed.contains(&k_name) {
                return Err((self.at)(
                    k.span(),
                    format!(
                        "{}: unknown key `{k_name}`{}",
                        self.what,
                        suggest(k_name, allowed)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn value(&self, key: &str) -> Option<&'t DeValue<'i>> {
        self.table.get(key).map(|v| v.get_ref())
    }

    fn text(&self, key: &str) -> Result<Option<String>> {
        match self.value(key) {
            None => Ok(None),
            Some(DeValue::String(s)) => Ok(Some(s.to_string())),
            Some(v) => Err(self.err(key, format!("must be a string, not {}", v.type_str()))),
        }
    }

    fn required_text(&self, key: &str) -> Result<String> {
        self.text(key)?.ok_or_else(|| self.err(key, "is missing"))
    }

    fn number(&self, key: &str) -> Result<Option<f64>> {
        let parsed = match self.value(key) {
            None => return Ok(None),
            Some(DeValue::Integer(i)) => i64::from_str_radix(i.as_str(), i.radix())
                .map(|v| v as f64)
                .ok(),
            Some(DeValue::Float(f)) => f.as_str().replace('_', "").parse::<f64>().ok(),
            Some(v) => {
                return Err(self.err(key, format!("must be a number, not {}", v.type_str())));
            }
        };
        match parsed {
            Some(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(self.err(key, "must be a finite number")),
        }
    }

    fn count(&self, key: &str, default: u64) -> Result<u64> {
        match self.number(key)? {
            None => Ok(default),
            Some(v) if v >= 0.0 && v.fract() == 0.0 => Ok(v as u64),
            Some(_) => Err(self.err(key, "must be a whole number of at least 0")),
        }
    }

    /// `"90m"`, `"24h"`, `"7d"`, or an integer of milliseconds.
    fn duration(&self, key: &str) -> Result<Option<i64>> {
        let ms = match self.value(key) {
            None => return Ok(None),
            Some(DeValue::String(s)) => parse_duration_ms(s.trim()),
            Some(DeValue::Integer(i)) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .filter(|v| *v > 0),
            Some(v) => {
                return Err(self.err(
                    key,
                    format!("must be a duration like \"10m\", not {}", v.type_str()),
                ));
            }
        };
        ms.map(Some).ok_or_else(|| {
            self.err(
                key,
                "is not a duration: use e.g. \"5m\", \"1h\", \"7d\" or milliseconds",
            )
        })
    }

    fn required_duration(&self, key: &str) -> Result<i64> {
        self.duration(key)?
            .ok_or_else(|| self.err(key, "is missing"))
    }

    fn source(&self, allowed: &[Source]) -> Result<Source> {
        let s = self.required_text("stream")?;
        allowed
            .iter()
            .copied()
            .find(|src| src.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|s| s.name()).collect();
                self.err(
                    "stream",
                    format!(
                        "`{s}` is not one of {}{}",
                        names.join(", "),
                        suggest(&s, &names)
                    ),
                )
            })
    }

    fn by(&self, source: Source) -> Result<Option<&'static str>> {
        let Some(by) = self.text("by")? else {
            return Ok(None);
        };
        let allowed = source.groups();
        allowed
            .iter()
            .copied()
            .find(|g| *g == by)
            .map(Some)
            .ok_or_else(|| {
                if allowed.is_empty() {
                    self.err(
                        "by",
                        format!("`{by}`: a {} rule has no groups", source.name()),
                    )
                } else {
                    self.err(
                        "by",
                        format!(
                            "`{by}` is not a group of stream {}: use {}{}",
                            source.name(),
                            allowed.join(", "),
                            suggest(&by, allowed)
                        ),
                    )
                }
            })
    }

    fn name(&self) -> Result<String> {
        let name = self.required_text("name")?;
        if name.trim().is_empty() {
            return Err(self.err("name", "must not be empty"));
        }
        Ok(name)
    }

    fn alert(&self) -> Result<AlertRule> {
        self.check_keys(ALERT_KEYS)?;
        let name = self.name()?;
        let source = self.source(&Source::ALL)?;
        let m = self.required_text("metric")?;
        let metric = Metric::ALL
            .into_iter()
            .find(|x| x.name() == m)
            .ok_or_else(|| {
                let names: Vec<&str> = Metric::ALL.iter().map(|x| x.name()).collect();
                self.err(
                    "metric",
                    format!(
                        "`{m}` is not a metric{}: use {}",
                        suggest(&m, &names),
                        names.join(", ")
                    ),
                )
            })?;
        if !source.metrics().contains(&metric) {
            let names: Vec<&str> = source.metrics().iter().map(|x| x.name()).collect();
            return Err(self.err(
                "metric",
                format!(
                    "`{m}` does not apply to stream {}: use {}",
                    source.name(),
                    names.join(", ")
                ),
            ));
        }
        let bound = match (self.number("below")?, self.number("above")?) {
            (Some(t), None) => Bound::Below(t),
            (None, Some(t)) => Bound::Above(t),
            (Some(_), Some(_)) => {
                return Err(self.err("above", "and `below` are both set: give one threshold"));
            }
            (None, None) => {
                return Err((self.at)(
                    self.span.clone(),
                    format!(
                        "{}: no threshold: add `below = …` or `above = …`",
                        self.what
                    ),
                ));
            }
        };
        Ok(AlertRule {
            name,
            source,
            metric,
            window_ms: self.required_duration("window")?,
            by: self.by(source)?,
            bound,
            min_events: self.count("min_events", 1)?,
            for_ms: self.duration("for")?.unwrap_or(0),
            severity: self.text("severity")?.unwrap_or_else(|| "warning".into()),
            repeat_ms: self.duration("repeat")?,
            stall_ms: self.duration("stall")?.unwrap_or(600_000),
        })
    }

    fn slo(&self) -> Result<SloRule> {
        self.check_keys(SLO_KEYS)?;
        let name = self.name()?;
        let source = self.source(&[Source::Cuj, Source::Provider, Source::Skill])?;
        let objective = self
            .number("objective")?
            .ok_or_else(|| self.err("objective", "is missing (e.g. 0.99)"))?;
        if !(objective > 0.0 && objective < 1.0) {
            return Err(self.err("objective", "must be between 0 and 1 (e.g. 0.99)"));
        }
        let windows = match self.table.get("windows") {
            None => default_burn_windows(),
            Some(v) => {
                let items = match v.get_ref() {
                    DeValue::Array(items) if !items.is_empty() => items,
                    _ => return Err(self.err("windows", "must be a non-empty array of tables")),
                };
                let mut out = Vec::new();
                for item in items.iter() {
                    let Some(table) = item.get_ref().as_table() else {
                        return Err(self.err(
                            "windows",
                            "must hold tables like { long = \"1h\", short = \"5m\", burn = 14.4 }",
                        ));
                    };
                    let w = Entry {
                        table,
                        span: item.span(),
                        what: format!("{} windows", self.what),
                        at: self.at,
                    };
                    w.check_keys(WINDOW_KEYS)?;
                    let burn = w
                        .number("burn")?
                        .ok_or_else(|| w.err("burn", "is missing"))?;
                    if burn <= 0.0 {
                        return Err(w.err("burn", "must be above 0"));
                    }
                    out.push(BurnWindow {
                        long_ms: w.required_duration("long")?,
                        short_ms: w.required_duration("short")?,
                        burn,
                        severity: w.text("severity")?.unwrap_or_else(|| "page".into()),
                    });
                }
                out
            }
        };
        Ok(SloRule {
            name,
            source,
            objective,
            period_ms: self.duration("period")?.unwrap_or(30 * 86_400_000),
            by: self.by(source)?,
            windows,
            min_events: self.count("min_events", 1)?,
            for_ms: self.duration("for")?.unwrap_or(0),
            repeat_ms: self.duration("repeat")?,
        })
    }

    fn notifier(&self) -> Result<Notifier> {
        self.check_keys(NOTIFY_KEYS)?;
        let kind = match self.required_text("kind")?.as_str() {
            "webhook" => NotifyKind::Webhook,
            "alertmanager" => NotifyKind::Alertmanager,
            other => {
                return Err(self.err(
                    "kind",
                    format!(
                        "`{other}` is not a notifier{}: use webhook or alertmanager",
                        suggest(other, &["webhook", "alertmanager"])
                    ),
                ));
            }
        };
        let url = self.required_text("url")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(self.err(
                "url",
                format!("`{url}` must start with http:// or https://"),
            ));
        }
        let attempts = self.count("attempts", 3)?;
        if attempts == 0 || attempts > 10 {
            return Err(self.err("attempts", "must be between 1 and 10"));
        }
        Ok(Notifier {
            kind,
            url: url.trim_end_matches('/').to_string(),
            timeout_ms: self.duration("timeout")?.unwrap_or(5_000),
            attempts: attempts as u32,
            hold_ms: self.duration("hold")?.unwrap_or(3_600_000),
        })
    }
}

/// The stream and grouping of `compare`: `cuj`, `skill` or `provider`, grouped by one of the
/// stream's groups, by `all` (one group; `None` here), or by default by its first group
/// (cuj_id, skill, provider). The error says what is allowed.
pub fn compare_group(
    stream: &str,
    by: Option<&str>,
) -> std::result::Result<(&'static str, Option<&'static str>), String> {
    let source = [Source::Cuj, Source::Skill, Source::Provider]
        .into_iter()
        .find(|s| {
            s.name() == stream
                || Some(*s) == crate::model::Stream::from_name(stream).and_then(source_of)
        })
        .ok_or_else(|| {
            format!("unknown stream `{stream}` for compare: use cuj, skill or provider")
        })?;
    let groups = source.groups();
    let by = match by {
        None => Some(groups[0]),
        Some("all") => None,
        Some(b) => Some(*groups.iter().find(|g| **g == b).ok_or_else(|| {
            format!(
                "`{b}` is not a group of stream {}: use {} or all",
                source.name(),
                groups.join(", ")
            )
        })?),
    };
    Ok((source.name(), by))
}

fn source_of(s: crate::model::Stream) -> Option<Source> {
    match s {
        crate::model::Stream::Cuj => Some(Source::Cuj),
        crate::model::Stream::Skill => Some(Source::Skill),
        crate::model::Stream::Provider => Some(Source::Provider),
        crate::model::Stream::Progress => None,
    }
}

/// The SRE workbook's multi-window, multi-burn-rate conditions: page at 14.4× over 1h and 5m,
/// page at 6× over 6h and 30m, ticket at 1× over 3d and 6h.
pub fn default_burn_windows() -> Vec<BurnWindow> {
    let w = |long_ms, short_ms, burn, severity: &str| BurnWindow {
        long_ms,
        short_ms,
        burn,
        severity: severity.into(),
    };
    vec![
        w(3_600_000, 300_000, 14.4, "page"),
        w(21_600_000, 1_800_000, 6.0, "page"),
        w(259_200_000, 21_600_000, 1.0, "ticket"),
    ]
}

/// The 1-based line of byte offset `pos`.
fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// ` (did you mean `x`?)` for the closest allowed name within two edits, else nothing.
fn suggest(given: &str, allowed: &[&str]) -> String {
    allowed
        .iter()
        .map(|a| (edit_distance(given, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map_or(String::new(), |(_, a)| format!(" (did you mean `{a}`?)"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[alert]]
name = "cuj-success"
stream = "cuj"
metric = "success_rate"
window = "1h"
by = "cuj_id"
below = 0.8
min_events = 20
for = "10m"
severity = "page"
repeat = "4h"

[[slo]]
name = "cuj-availability"
stream = "cuj"
objective = 0.99
period = "30d"
by = "cuj_id"

[[notify]]
kind = "webhook"
url = "http://127.0.0.1:9/hook"
"#;

    #[test]
    fn the_issue_example_parses() {
        let r = Rules::parse("obsq.toml", GOOD).unwrap();
        let a = &r.alerts[0];
        assert_eq!(a.metric, Metric::SuccessRate);
        assert_eq!(
            (a.window_ms, a.for_ms, a.repeat_ms),
            (3_600_000, 600_000, Some(14_400_000))
        );
        assert_eq!(a.bound, Bound::Below(0.8));
        assert_eq!(r.slos[0].windows.len(), 3);
        assert_eq!(r.notify[0].kind, NotifyKind::Webhook);
    }

    fn error(text: &str) -> String {
        Rules::parse("r.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_line_the_rule_and_the_key() {
        let typo = GOOD.replace("window = \"1h\"", "windw = \"1h\"");
        let e = error(&typo);
        assert!(
            e.starts_with(
                "r.toml:6: alert `cuj-success`: unknown key `windw` (did you mean `window`?)"
            ),
            "{e}"
        );
        let e = error(&GOOD.replace("success_rate", "sucess_rate"));
        assert!(e.starts_with("r.toml:5: alert `cuj-success`: `metric` `sucess_rate` is not a metric (did you mean `success_rate`?)"), "{e}");
        let e = error(&GOOD.replace("below = 0.8\n", ""));
        assert!(
            e.contains("r.toml:2: alert `cuj-success`: no threshold"),
            "{e}"
        );
        let e = error(&GOOD.replace("window = \"1h\"", "window = \"1 hour\""));
        assert!(
            e.contains("r.toml:6: alert `cuj-success`: `window` is not a duration"),
            "{e}"
        );
        let e = error(&GOOD.replace("by = \"cuj_id\"\nbelow", "by = \"provider\"\nbelow"));
        assert!(
            e.contains("`by` `provider` is not a group of stream cuj"),
            "{e}"
        );
        let e = error("[[alert]\nname = 1");
        assert!(e.starts_with("r.toml:1: not valid TOML"), "{e}");
        let e = error(&format!(
            "{GOOD}\n[[alert]]\nname = \"cuj-success\"\nstream = \"cuj\"\nmetric = \"count\"\nwindow = \"1h\"\nabove = 1\n"
        ));
        assert!(e.contains("`cuj-success`: the name is used twice"), "{e}");
        let e = error("[[alerts]]\nname = \"x\"");
        assert!(
            e.contains("unknown table `alerts` (did you mean `alert`?)"),
            "{e}"
        );
    }

    #[test]
    fn a_file_with_only_targets_keeps_the_default_rules() {
        let r = Rules::parse(
            "r.toml",
            "[[notify]]\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:9093/\"\n",
        )
        .unwrap();
        assert_eq!(r.alerts.len(), 3);
        assert_eq!(r.notify[0].url, "http://127.0.0.1:9093");
    }
}
