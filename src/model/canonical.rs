//! The JSONL line obsq writes for an event: the original tools' key names and order, so the
//! landing files stay readable by the original tools and by anyone's `jq`.

use std::fmt::Write as _;

use super::parse::Normalized;
use super::schema::Stream;
use super::timefmt::iso_ms;

/// Serializes a normalized event as one JSON line, with its trailing newline.
pub fn to_line(stream: Stream, n: &Normalized<'_>) -> String {
    let mut w = Obj::new();
    w.raw("timestamp", &format!("\"{}\"", iso_ms(n.ts)));
    match stream {
        Stream::Skill => {
            w.raw("type", "\"skill_invocation\"");
            w.str("skill", n.skill.as_deref());
            // The original logger stores params as JSON text; keep that shape.
            w.str("params", n.params());
            w.str("result", n.result.as_deref());
            w.num("duration_ms", n.duration_ms);
            w.bool("cache_hit", n.cache_hit);
            w.str("agent", n.agent.as_deref());
            w.str("run_id", n.run_id.as_deref());
            w.str("cuj_id", n.cuj_id.as_deref());
            w.str("error", n.error.as_deref());
        }
        Stream::Cuj => {
            w.str("cuj_id", n.cuj_id.as_deref());
            w.bool("success", n.success);
            w.num_opt("duration_ms", n.duration_ms);
            w.str("error", n.error.as_deref());
        }
        Stream::Progress => {
            w.str("run_id", n.run_id.as_deref());
            match n.step {
                Some(s) => w.raw("step", &s.to_string()),
                None => w.raw("step", "null"),
            }
            w.str("status", n.status.as_deref());
            w.num("percentage", n.percentage);
            w.str("message", n.message.as_deref());
        }
        Stream::Provider => {
            w.str("provider", n.provider.as_deref());
            if n.model.is_some() {
                w.str("model", n.model.as_deref());
            }
            w.bool("success", n.success);
            w.num_opt("latency_ms", n.latency_ms);
            w.str("error", n.error.as_deref());
        }
    }
    w.raw("metadata", &n.metadata);
    if let Some(extra) = &n.extra {
        w.splice_object(extra);
    }
    w.finish()
}

/// Formats a number as JavaScript prints it: integral values without `.0`.
pub fn js_number(x: f64) -> String {
    if !x.is_finite() {
        return "null".into();
    }
    if x.fract() == 0.0 && x.abs() < 1e21 {
        return format!("{}", x as i128);
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(x);
    // ryu writes 1e-7 as "1e-7"; JavaScript too. Exponents ≥ 21 are integral (handled above).
    s.to_string()
}

struct Obj {
    out: String,
    first: bool,
}

impl Obj {
    fn new() -> Self {
        Obj {
            out: String::with_capacity(256),
            first: true,
        }
    }

    fn key(&mut self, k: &str) {
        self.out.push(if self.first { '{' } else { ',' });
        self.first = false;
        let _ = write!(self.out, "\"{k}\":");
    }

    fn raw(&mut self, k: &str, json: &str) {
        self.key(k);
        self.out.push_str(json);
    }

    fn str(&mut self, k: &str, v: Option<&str>) {
        self.key(k);
        match v {
            Some(s) => self
                .out
                .push_str(&serde_json::Value::String(s.to_string()).to_string()),
            None => self.out.push_str("null"),
        }
    }

    fn num(&mut self, k: &str, v: Option<f64>) {
        self.key(k);
        self.out
            .push_str(&v.map(js_number).unwrap_or_else(|| "null".into()));
    }

    fn num_opt(&mut self, k: &str, v: Option<f64>) {
        if v.is_some() {
            self.num(k, v);
        }
    }

    fn bool(&mut self, k: &str, v: Option<bool>) {
        self.key(k);
        self.out.push_str(match v {
            Some(true) => "true",
            Some(false) => "false",
            None => "null",
        });
    }

    /// Appends the members of a JSON object text (`{"a":1}`) to this object.
    fn splice_object(&mut self, obj: &str) {
        let inner = obj.trim().trim_start_matches('{').trim_end_matches('}');
        if !inner.trim().is_empty() {
            self.out.push(',');
            self.out.push_str(inner);
        }
    }

    fn finish(mut self) -> String {
        if self.first {
            self.out.push('{');
        }
        self.out.push_str("}\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_line;

    #[test]
    fn canonical_line_parses_back_to_the_same_event() {
        let lines = [
            (
                Stream::Skill,
                r#"{"timestamp":"2026-11-28T00:32:27.895Z","type":"skill_invocation","skill":"s","params":"{\"a\":1}","result":"success","duration_ms":12.5,"cache_hit":true,"agent":"a","run_id":null,"cuj_id":"C","error":null,"metadata":{},"zone":"eu"}"#,
            ),
            (
                Stream::Cuj,
                r#"{"timestamp":"2026-11-28T00:00:00.000Z","cuj_id":"C","success":false,"error":"boom","metadata":{"k":[1,2]}}"#,
            ),
            (
                Stream::Progress,
                r#"{"timestamp":1795857777000,"iso_timestamp":"2026-11-28T09:22:57.000Z","run_id":"r","step":1,"status":"failed","percentage":33.33333333333333,"message":"m","metadata":{}}"#,
            ),
            (
                Stream::Provider,
                r#"{"timestamp":1795849434128,"provider":"openai","model":"gpt-4o","success":true,"latency_ms":1000,"error":null,"metadata":{}}"#,
            ),
        ];
        for (stream, line) in lines {
            let n = parse_line(stream, line.as_bytes()).unwrap();
            let out = to_line(stream, &n);
            let back = parse_line(stream, out.trim_end().as_bytes()).unwrap();
            assert_eq!(back, n, "{out}");
        }
    }

    #[test]
    fn numbers_print_like_javascript() {
        assert_eq!(js_number(1000.0), "1000");
        assert_eq!(js_number(12.5), "12.5");
        assert_eq!(js_number(33.33333333333333), "33.33333333333333");
        assert_eq!(js_number(-0.0), "0");
    }
}
