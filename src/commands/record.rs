//! `obsq record`: flags (or stdin NDJSON) → one event object → [`Recorder`].

use serde_json::{Map, Value};

use crate::cli::{CommonEventArgs, RecordCmd};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::timefmt::{iso_ms, now_ms};
use crate::store::Recorder;

/// Runs `obsq record`.
pub fn run(config: &Config, cmd: RecordCmd) -> Result<u8> {
    let (stream, fields, common) = event_fields(cmd);
    let recorder = Recorder::new(config.layout.clone());
    if common.stdin {
        let stdin = std::io::stdin();
        let outcome = recorder.record_lines(stream, stdin.lock())?;
        if let Some((line, reason)) = outcome.rejected.first() {
            return Err(Error::RejectedLines {
                rejected: outcome.rejected.len(),
                total: outcome.accepted + outcome.rejected.len(),
                accepted: outcome.accepted,
                first_line: *line,
                first_reason: reason.clone(),
            });
        }
        return Ok(0);
    }
    let mut obj = Map::new();
    let ts = common.timestamp.clone().unwrap_or_else(|| iso_ms(now_ms()));
    let ts_value = ts
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or(Value::String(ts));
    obj.insert("timestamp".into(), ts_value);
    for (name, value) in fields {
        let Some(v) = value else { continue };
        let v = match name {
            "params" => json_flag("--params", &v)?,
            _ => Value::String(v),
        };
        obj.insert(name.into(), v);
    }
    if let Some(m) = &common.metadata {
        obj.insert("metadata".into(), json_flag("--metadata", m)?);
    }
    recorder.record_value(stream, &Value::Object(obj))?;
    Ok(0)
}

fn json_flag(flag: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        Error::Usage(format!(
            "{flag} is not valid JSON ({e}); quote it, e.g. {flag} '{{\"key\":\"value\"}}'"
        ))
    })
}

type Fields = Vec<(&'static str, Option<String>)>;

fn event_fields(cmd: RecordCmd) -> (Stream, Fields, CommonEventArgs) {
    match cmd {
        RecordCmd::Skill {
            skill,
            agent,
            result,
            duration_ms,
            cache_hit,
            run_id,
            cuj_id,
            params,
            error,
            common,
        } => (
            Stream::Skill,
            vec![
                ("skill", skill),
                ("params", params),
                ("result", result),
                ("duration_ms", duration_ms),
                ("cache_hit", cache_hit),
                ("agent", agent),
                ("run_id", run_id),
                ("cuj_id", cuj_id),
                ("error", error),
            ],
            common,
        ),
        RecordCmd::Cuj {
            cuj_id,
            success,
            duration_ms,
            error,
            common,
        } => (
            Stream::Cuj,
            vec![
                ("cuj_id", cuj_id),
                ("success", success),
                ("duration_ms", duration_ms),
                ("error", error),
            ],
            common,
        ),
        RecordCmd::Progress {
            run_id,
            step,
            status,
            percentage,
            message,
            common,
        } => (
            Stream::Progress,
            vec![
                ("run_id", run_id),
                ("step", step),
                ("status", status),
                ("percentage", percentage),
                ("message", message),
            ],
            common,
        ),
        RecordCmd::Provider {
            provider,
            model,
            success,
            latency_ms,
            error,
            common,
        } => (
            Stream::Provider,
            vec![
                ("provider", provider),
                ("model", model),
                ("success", success),
                ("latency_ms", latency_ms),
                ("error", error),
            ],
            common,
        ),
    }
}
